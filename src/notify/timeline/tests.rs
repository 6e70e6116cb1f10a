use super::*;

fn tr(topic: &str, change: Change, status: Status, previous: Option<Status>) -> Transition {
    Transition {
        key: IncidentKey::new("c", "g", topic),
        change,
        status,
        previous,
        opened_at: 0.0,
    }
}

fn opened(topic: &str) -> Transition {
    tr(topic, Change::Opened, Status::Critical, None)
}

fn reminder(topic: &str) -> Transition {
    tr(
        topic,
        Change::Reminder,
        Status::Critical,
        Some(Status::Critical),
    )
}

fn outcomes(e: &Entry) -> Vec<(&str, Outcome)> {
    e.deliveries
        .iter()
        .map(|d| (&*d.notifier, d.outcome))
        .collect()
}

#[test]
fn a_lifecycle_with_each_notifiers_outcome() {
    let tl = Timeline::default();
    tl.queued("slack", 1, &[opened("t")], 10.0);
    tl.queued("discord", 2, &[opened("t")], 10.0);
    tl.delivered("slack", 1, Ok(()), 11.0);
    let err = DeliveryError::Rejected {
        status: 404,
        body: "no_service".into(),
    };
    tl.delivered("discord", 2, Err(&err), 12.0);
    let resolved = tr("t", Change::Resolved, Status::Ok, Some(Status::Critical));
    tl.queued("slack", 3, std::slice::from_ref(&resolved), 20.0);
    tl.dropped("slack", 3, 21.0);

    let lines = tl.group("c", "g");
    assert_eq!(lines.len(), 1);
    let e = &lines[0].entries;
    assert_eq!(
        e.len(),
        2,
        "one entry per change, whatever the number of notifiers"
    );
    assert_eq!(e[0].change, Change::Opened);
    assert_eq!(
        outcomes(&e[0]),
        vec![("slack", Outcome::Sent), ("discord", Outcome::Failed)]
    );
    assert_eq!(e[0].deliveries[0].at, Some(11.0));
    let why = e[0].deliveries[1].error.as_deref().unwrap_or("");
    assert!(why.contains("404"), "the reason is kept: {why}");
    assert_eq!(e[1].change, Change::Resolved);
    assert_eq!(outcomes(&e[1]), vec![("slack", Outcome::Dropped)]);
}

#[test]
fn one_message_about_several_topics_settles_each() {
    let tl = Timeline::default();
    tl.queued("slack", 7, &[opened("a"), opened("b")], 1.0);
    tl.delivered("slack", 7, Ok(()), 2.0);
    let lines = tl.group("c", "g");
    let topics: Vec<&str> = lines.iter().map(|l| l.topic.as_str()).collect();
    assert_eq!(topics, vec!["a", "b"]);
    for l in &lines {
        assert_eq!(
            outcomes(&l.entries[0]),
            vec![("slack", Outcome::Sent)],
            "{}",
            l.topic
        );
    }
}

#[test]
fn reminders_fold_so_the_opening_survives() {
    let tl = Timeline::default();
    tl.queued("slack", 1, &[opened("t")], 0.0);
    for i in 0..(3 * ENTRIES_PER_INCIDENT as u64) {
        tl.queued("slack", 2 + i, &[reminder("t")], 3600.0 * (i + 1) as f64);
    }
    let e = &tl.group("c", "g")[0].entries;
    assert_eq!(e.len(), 2, "opened + one folded reminder");
    assert_eq!(e[0].change, Change::Opened);
    assert_eq!(e[1].repeats, 3 * ENTRIES_PER_INCIDENT as u32 - 1);
    assert_eq!(
        e[1].deliveries.len(),
        1,
        "only the latest reminder's delivery"
    );
}

#[test]
fn lines_entries_and_waiting_messages_are_bounded() {
    let tl = Timeline::default();
    // A flapping incident: every change is a new entry.
    for i in 0..100u64 {
        let (s, p) = if i % 2 == 0 {
            (Status::Critical, Status::Warning)
        } else {
            (Status::Warning, Status::Critical)
        };
        let change = if i % 2 == 0 {
            Change::Escalated
        } else {
            Change::Deescalated
        };
        tl.queued("slack", i, &[tr("t", change, s, Some(p))], i as f64);
    }
    let line = &tl.group("c", "g")[0];
    assert_eq!(line.entries.len(), ENTRIES_PER_INCIDENT);
    assert_eq!(line.dropped, 100 - ENTRIES_PER_INCIDENT as u64);
    assert_eq!(line.entries.last().map(|e| e.at), Some(99.0), "newest kept");

    // Many incidents: the least recently active go.
    for i in 0..(MAX_INCIDENTS + 10) {
        let t = Transition {
            key: IncidentKey::new("c", &format!("g{i:05}"), "t"),
            ..opened("t")
        };
        tl.queued("slack", 1000 + i as u64, &[t], 1000.0 + i as f64);
    }
    let book = tl.lock();
    assert_eq!(book.lines.len(), MAX_INCIDENTS);
    assert!(
        !book.lines.contains_key(&IncidentKey::new("c", "g", "t")),
        "the stalest incident went first"
    );
    assert!(book.in_flight.len() <= MAX_IN_FLIGHT);
}

#[test]
fn outcomes_of_unknown_messages_are_ignored() {
    let tl = Timeline::default();
    tl.delivered("slack", 42, Ok(()), 1.0);
    tl.dropped("slack", 43, 1.0);
    assert!(tl.group("c", "g").is_empty());
    assert_eq!(tl.entries_held(), 0);
}

#[test]
fn other_groups_and_clusters_stay_out() {
    let tl = Timeline::default();
    for (c, g) in [("c", "g"), ("c", "g2"), ("c", "f"), ("d", "g")] {
        let t = Transition {
            key: IncidentKey::new(c, g, "t"),
            ..opened("t")
        };
        tl.queued("slack", 1, &[t], 1.0);
    }
    let lines = tl.group("c", "g");
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn one_error_text_is_shared_by_every_incident_of_its_message() {
    let tl = Timeline::default();
    tl.queued("slack", 1, &[opened("a"), opened("b")], 1.0);
    tl.delivered(
        "slack",
        1,
        Err(&DeliveryError::Network("reset".into())),
        2.0,
    );
    let lines = tl.group("c", "g");
    let err = |i: usize| lines[i].entries[0].deliveries[0].error.clone();
    let (a, b) = (err(0).expect("a"), err(1).expect("b"));
    assert!(Arc::ptr_eq(&a, &b), "one allocation, not one per incident");
}

#[test]
fn long_errors_are_cut() {
    let s = "é".repeat(500);
    let c = cut(&s);
    assert_eq!(
        c.chars().count(),
        ERROR_CHARS + 1,
        "200 characters and an ellipsis"
    );
}

#[test]
fn coordinators_sharing_a_timeline_keep_their_outcomes_apart() {
    // With shard_clusters each cluster's coordinator numbers its messages from the same
    // start: message 1 of one cluster must not settle message 1 of another.
    let tl = Arc::new(Timeline::default());
    let (one, two) = (tl.scoped(1), tl.scoped(2));
    let in_cluster = |c: &str| Transition {
        key: IncidentKey::new(c, "g", "t"),
        ..opened("t")
    };
    one.queued("slack", 1, &[in_cluster("c1")], 1.0);
    two.queued("slack", 1, &[in_cluster("c2")], 1.0);
    one.delivered("slack", 1, Ok(()), 2.0);
    two.delivered(
        "slack",
        1,
        Err(&DeliveryError::Network("reset".into())),
        3.0,
    );
    // (cluster, outcome, why)
    for (c, want, why) in [
        ("c1", Outcome::Sent, "its own delivery"),
        ("c2", Outcome::Failed, "not overwritten by c1's message 1"),
    ] {
        let lines = tl.group(c, "g");
        assert_eq!(
            outcomes(&lines[0].entries[0]),
            vec![("slack", want)],
            "{why}"
        );
    }
}
