//! Case tables of the incident lifecycle: each row is one poll and says why.

use super::*;
use Change::*;
use Status::{Critical as C, Ok as O, Warning as W};

const HOUR: f64 = 3600.0;

fn key(g: &str) -> IncidentKey {
    IncidentKey::new("prod", g, "orders")
}

fn run(
    inc: &mut Incidents,
    statuses: &[(&str, Status)],
    up: bool,
    complete: bool,
    min: Status,
    now: f64,
) -> Vec<(String, Change, Status, Option<Status>)> {
    let m: BTreeMap<IncidentKey, Status> = statuses.iter().map(|(g, s)| (key(g), *s)).collect();
    let obs = Observed {
        cluster: "prod",
        up,
        complete,
        statuses: &m,
        settling: &BTreeSet::new(),
    };
    let policy = Policy {
        min_status: min,
        repeat_interval: HOUR,
    };
    inc.step(obs, policy, now)
        .into_iter()
        .map(|t| (t.key.group, t.change, t.status, t.previous))
        .collect()
}

type Row = (
    &'static str,
    &'static [(&'static str, Status)],
    bool,
    f64,
    &'static [(&'static str, Change, Status, Option<Status>)],
);

/// One scenario: each row is one poll (statuses, complete, now) and the exact messages.
fn scenario(min: Status, rows: &[Row]) {
    let mut inc = Incidents::default();
    for (why, statuses, complete, now, want) in rows {
        let got = run(&mut inc, statuses, true, *complete, min, *now);
        let want: Vec<_> = want
            .iter()
            .map(|(g, c, s, p)| (g.to_string(), *c, *s, *p))
            .collect();
        assert_eq!(got, want, "{why}");
    }
}

#[test]
fn full_lifecycle_one_message_per_change() {
    scenario(
        W,
        &[
            ("healthy run: no message", &[("a", O)], true, 0.0, &[]),
            (
                "ok -> warning opens",
                &[("a", W)],
                true,
                10.0,
                &[("a", Opened, W, None)],
            ),
            ("same status again: quiet", &[("a", W)], true, 20.0, &[]),
            (
                "warning -> critical escalates",
                &[("a", C)],
                true,
                30.0,
                &[("a", Escalated, C, Some(W))],
            ),
            (
                "escalation reset the reminder clock",
                &[("a", C)],
                true,
                30.0 + HOUR - 1.0,
                &[],
            ),
            (
                "an hour without a message: one reminder",
                &[("a", C)],
                true,
                30.0 + HOUR,
                &[("a", Reminder, C, Some(C))],
            ),
            (
                "right after a reminder: quiet",
                &[("a", C)],
                true,
                40.0 + HOUR,
                &[],
            ),
            (
                "critical -> warning de-escalates",
                &[("a", W)],
                true,
                50.0 + HOUR,
                &[("a", Deescalated, W, Some(C))],
            ),
            (
                "back to ok resolves once",
                &[("a", O)],
                true,
                60.0 + HOUR,
                &[("a", Resolved, O, Some(W))],
            ),
            ("stays ok: nothing", &[("a", O)], true, 70.0 + HOUR, &[]),
        ],
    );
}

#[test]
fn disappearing_groups_resolve_only_on_complete_polls() {
    scenario(
        W,
        &[
            (
                "open two",
                &[("a", C), ("b", W)],
                true,
                0.0,
                &[("a", Opened, C, None), ("b", Opened, W, None)],
            ),
            (
                "partial poll without `a`: a may just be unreadable",
                &[("b", W)],
                false,
                10.0,
                &[],
            ),
            (
                "complete poll without `a`: resolved as gone",
                &[("b", W)],
                true,
                20.0,
                &[("a", Gone, O, Some(C))],
            ),
            (
                "ok from the start never opens",
                &[("b", W), ("c", O)],
                true,
                30.0,
                &[],
            ),
        ],
    );
}

#[test]
fn min_severity_critical_sees_warnings_as_ok() {
    scenario(
        C,
        &[
            ("warning is below this channel", &[("a", W)], true, 0.0, &[]),
            (
                "critical opens here",
                &[("a", C)],
                true,
                10.0,
                &[("a", Opened, C, None)],
            ),
            (
                "critical -> warning closes it, saying it is still a warning",
                &[("a", W)],
                true,
                20.0,
                &[("a", BelowMinSeverity, W, Some(C))],
            ),
            (
                "critical again opens a new one",
                &[("a", C)],
                true,
                30.0,
                &[("a", Opened, C, None)],
            ),
        ],
    );
}

#[test]
fn a_down_cluster_neither_resolves_nor_reminds() {
    let mut inc = Incidents::default();
    assert_eq!(run(&mut inc, &[("a", C)], true, true, W, 0.0).len(), 1);
    // Down with no groups: no data is not ok, and stale data is not worth a reminder.
    assert_eq!(run(&mut inc, &[], false, true, W, 2.0 * HOUR), vec![]);
    assert_eq!(
        run(&mut inc, &[("a", O)], false, true, W, 2.0 * HOUR),
        vec![]
    );
    assert_eq!(inc.len(), 1);
    // Back up and still critical: the overdue reminder.
    assert_eq!(
        run(&mut inc, &[("a", C)], true, true, W, 2.0 * HOUR),
        vec![("a".to_string(), Reminder, C, Some(C))]
    );
}

#[test]
fn other_clusters_incidents_are_left_alone() {
    let mut inc = Incidents::default();
    run(&mut inc, &[("a", C)], true, true, W, 0.0);
    let empty = BTreeMap::new();
    let obs = Observed {
        cluster: "staging",
        up: true,
        complete: true,
        statuses: &empty,
        settling: &BTreeSet::new(),
    };
    let policy = Policy {
        min_status: W,
        repeat_interval: HOUR,
    };
    assert!(inc.step(obs, policy, 10.0).is_empty());
    assert_eq!(inc.len(), 1);
}

#[test]
fn persists_as_json_and_back() {
    let mut inc = Incidents::default();
    run(&mut inc, &[("a", C)], true, true, W, 5.0);
    let json = serde_json::to_string(&inc).unwrap_or_default();
    assert_eq!(
        json,
        r#"[{"cluster":"prod","group":"a","topic":"orders","status":"critical","opened_at":5.0,"last_sent_at":5.0}]"#
    );
    let back: Incidents = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, inc);
}

#[test]
fn settling_after_a_restart_neither_resolves_nor_opens() {
    // An incident kept in the state file across a restart; the new process's first poll
    // reports the placeholder ok while hysteresis settles.
    let mut inc = Incidents::default();
    run(&mut inc, &[("a", C)], true, true, W, 0.0);
    let policy = Policy {
        min_status: W,
        repeat_interval: HOUR,
    };
    let step = |inc: &mut Incidents, s: Status, settling: bool, now: f64| {
        let m = BTreeMap::from([(key("a"), s), (key("b"), O)]);
        let set: BTreeSet<IncidentKey> = if settling {
            [key("a"), key("b")].into()
        } else {
            BTreeSet::new()
        };
        let obs = Observed {
            cluster: "prod",
            up: true,
            complete: true,
            statuses: &m,
            settling: &set,
        };
        inc.step(obs, policy, now)
            .into_iter()
            .map(|t| (t.key.group, t.change))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        step(&mut inc, O, true, 60.0),
        vec![],
        "settling: no false resolution"
    );
    assert_eq!(inc.get(&key("a")).map(|i| i.status), Some(C));
    assert_eq!(
        step(&mut inc, C, false, 75.0),
        vec![],
        "confirmed critical: still open, quiet"
    );
    assert_eq!(
        step(&mut inc, O, false, 90.0),
        vec![("a".to_owned(), Resolved)],
        "a real recovery still resolves"
    );
}
