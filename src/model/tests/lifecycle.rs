//! Scenarios over time: stalls, stops, rewinds, data loss, time lag, memory and faults.

use super::*;
use crate::snapshot::GroupSource;

#[test]
fn stalled_only_with_lag_over_the_whole_window() {
    let th = Thresholds::default(); // 300 s window
    let mut m = model(th, 10.0);
    let mut statuses = Vec::new();
    for i in 0..40 {
        let t = T0 + 10.0 * i as f64;
        // Idle until t=100, then 10 msg/s arrive; the consumer never moves from 100.
        let end = if i <= 10 { 100 } else { 100 + 100 * (i - 10) };
        let s = snap(
            t,
            &[("e", 0, 0, end)],
            vec![group("app", Some(2), &[("e", 0, 100)])],
        );
        let v = m.update(&s, t);
        statuses.push((i, gt(&v, "app", "e").reasons.contains(&Stalled)));
    }
    // Idle at the log end for 100 s is fine; lag starts at poll 11, 300 s later is poll 41.
    assert!(statuses.iter().all(|&(_, s)| !s), "{statuses:?}");
    for i in 40..43 {
        let t = T0 + 10.0 * i as f64;
        let s = snap(
            t,
            &[("e", 0, 0, 100 + 100 * (i - 10))],
            vec![group("app", Some(2), &[("e", 0, 100)])],
        );
        let x = gt(&m.update(&s, t), "app", "e").clone();
        // Raw at 41 (300 s of lag), reported at 42.
        assert_eq!(x.reasons.contains(&Stalled), i >= 42, "poll {i}: {x:?}");
    }
}

#[test]
fn idle_consumer_without_lag_is_fine_for_hours() {
    let mut m = model(Thresholds::default(), 10.0);
    for i in 0..1000 {
        let t = T0 + 10.0 * i as f64;
        let s = snap(
            t,
            &[("e", 0, 0, 500)],
            vec![group("app", None, &[("e", 0, 500)])],
        );
        let x = gt(&m.update(&s, t), "app", "e").clone();
        assert_eq!((x.status, x.reasons.len()), (Status::Ok, 0), "poll {i}");
        assert_eq!(
            x.partitions[0].lag_seconds_method,
            Some(TimeLagMethod::CaughtUp)
        );
    }
}

#[test]
fn stopped_by_members_commits_or_spark_batches() {
    let th = Thresholds::default(); // stopped_after 900 s
                                    // (why, group builder per poll) -> poll index at which Stopped is first reported.
    type Build = fn(f64) -> GroupSnapshot;
    let rows: Vec<(&str, Build, Option<usize>)> = vec![
        // Stalled made them critical at 300 s, so stopped shows the poll it becomes true.
        (
            "no members with lag: stopped after 900 s",
            |_| group("g", Some(0), &[("e", 0, 0)]),
            Some(91),
        ),
        (
            "members unknown, commits unchanged: stopped after 900 s",
            |_| group("g", None, &[("e", 0, 0)]),
            Some(91),
        ),
        (
            "a live member that does not commit is stalled, not stopped",
            |_| group("g", Some(1), &[("e", 0, 0)]),
            None,
        ),
        (
            "spark: last batch older than 900 s",
            |_| {
                let mut g = group("g", None, &[("e", 0, 0)]);
                g.source = GroupSource::Spark;
                g.last_commit_at = Some(T0 - 5000.0);
                g
            },
            Some(91),
        ),
        (
            "spark committing batches every poll is not stopped",
            |t| {
                let mut g = group("g", None, &[("e", 0, 0)]);
                g.source = GroupSource::Spark;
                g.last_commit_at = Some(t);
                g
            },
            None,
        ),
    ];
    for (why, build, want) in rows {
        let mut m = model(th.clone(), 10.0);
        let mut first = None;
        for i in 0..100 {
            let t = T0 + 10.0 * i as f64;
            let s = snap(t, &[("e", 0, 0, 50)], vec![build(t)]);
            let v = m.update(&s, t);
            if first.is_none() && gt(&v, "g", "e").reasons.contains(&Stopped) {
                first = Some(i);
            }
            if i == 99 && v.groups[0].source == GroupSource::Spark {
                assert!(v.groups[0].last_commit_age_seconds.is_some(), "{why}");
            }
        }
        assert_eq!(first, want, "{why}");
    }
}

#[test]
fn rewind_shows_for_a_window_then_clears() {
    let th = Thresholds {
        rate_window: Duration::from_secs(60),
        ..Thresholds::default()
    };
    let mut m = model(th, 10.0);
    let commits = [
        1000, 2000, 3000, 10, 1010, 2010, 3010, 4010, 5010, 6010, 7010, 8010, 9010,
    ];
    let mut seen = Vec::new();
    for (i, c) in commits.iter().enumerate() {
        let t = T0 + 10.0 * i as f64;
        let end = 1000 * (i as i64 + 1) + 500;
        let s = snap(
            t,
            &[("e", 0, 0, end)],
            vec![group("app", Some(1), &[("e", 0, *c)])],
        );
        let x = gt(&m.update(&s, t), "app", "e").clone();
        seen.push(x.reasons.contains(&Rewind));
        if i == 4 {
            // The series restarted at the rewind: the rate is the new one, not a negative slope.
            assert!(close(x.consume_rate, 100.0), "{:?}", x.consume_rate);
        }
    }
    // Rewind at poll 3 (raw), reported from 4; raw until 9 (60 s); ok needs 2 polls: 11.
    assert_eq!(
        seen,
        [false, false, false, false, true, true, true, true, true, true, true, false, false]
    );
}

#[test]
fn data_loss_and_no_commit() {
    let mut m = model(Thresholds::default(), 10.0);
    let s = |t| {
        snap(
            t,
            &[("e", 0, 100, 150), ("e", 1, 0, 10)],
            vec![group("app", Some(1), &[("e", 0, 5)])],
        )
    };
    // The first poll after start is held like any change (for_polls 2): ok, settling.
    let v = m.update(&s(T0), T0);
    let x = gt(&v, "app", "e");
    assert_eq!(x.partitions[0].messages_lost, 95);
    assert_eq!((x.status, x.settling), (Status::Ok, true));
    assert!(v.groups[0].settling);
    let v = m.update(&s(T0 + 10.0), T0 + 10.0);
    let x = gt(&v, "app", "e");
    assert_eq!((x.status, x.settling), (Status::Critical, false));
    // no_commit rides along without changing the status.
    assert_eq!(x.reasons, vec![DataLoss, NoCommit]);
    assert_eq!(v.groups[0].reasons, vec![DataLoss, NoCommit]);
    let s = snap(
        T0,
        &[("e", 0, 0, 150), ("e", 1, 0, 10)],
        vec![group("ok", Some(1), &[("e", 0, 150)])],
    );
    let x = gt(
        &model(Thresholds::default(), 10.0).update(&s, T0),
        "ok",
        "e",
    )
    .clone();
    assert_eq!((x.status, x.reasons), (Status::Ok, vec![NoCommit]));
}

#[test]
fn time_lag_interpolated_and_idle_age_grows() {
    let mut m = model(Thresholds::default(), 10.0);
    let mut last = None;
    // 100 msg/s for 100 s; the consumer stays 500 messages (5 s) behind.
    for i in 0..=10 {
        let t = T0 + 10.0 * i as f64;
        let end = 1000 * i as i64 + 500;
        let s = snap(
            t,
            &[("e", 0, 0, end)],
            vec![group("app", Some(1), &[("e", 0, end - 500)])],
        );
        last = Some(m.update(&s, t));
    }
    let v = last.expect("view");
    let p = &gt(&v, "app", "e").partitions[0];
    assert_eq!(p.lag_seconds_method, Some(TimeLagMethod::Interpolated));
    assert!(close(p.lag_seconds, 5.0), "{:?}", p.lag_seconds);
    // Production stops and the consumer stops at 10,000: the age keeps growing with time,
    // also once the crossing has left the 5 min history.
    for i in 11..=100 {
        let t = T0 + 10.0 * i as f64;
        let s = snap(
            t,
            &[("e", 0, 0, 10_500)],
            vec![group("app", Some(1), &[("e", 0, 10_000)])],
        );
        let v = m.update(&s, t);
        let x = gt(&v, "app", "e");
        let want = t - (T0 + 95.0);
        assert!(
            close(x.partitions[0].lag_seconds, want),
            "poll {i}: {:?} want {want}",
            x.partitions[0].lag_seconds
        );
        assert!(close(x.max_lag_seconds, want));
        assert!(close(v.groups[0].max_lag_seconds, want));
    }
}

#[test]
fn memory_bounded_and_deleted_things_forgotten() {
    // A 1 s poll against a 300 s window for 3 hours: rings stay at the hard cap.
    let mut m = model(Thresholds::default(), 1.0);
    for i in 0..10_800 {
        let t = T0 + i as f64;
        let s = snap(
            t,
            &[("e", 0, 0, i)],
            vec![group("app", Some(1), &[("e", 0, i)])],
        );
        m.update(&s, t);
    }
    assert!(m.samples_held() <= 2 * HARD_CAP, "{}", m.samples_held());
    // The group is deleted: its history and hysteresis go.
    let t = T0 + 10_800.0;
    m.update(&snap(t, &[("e", 0, 0, 10_800)], vec![]), t);
    assert!(m.tracks.groups.is_empty());
    // The topic is deleted: its partitions go.
    m.update(&snap(t + 1.0, &[], vec![]), t + 1.0);
    assert_eq!(m.samples_held(), 0);
}

#[test]
fn faults_are_not_deletions() {
    let mut m = model(Thresholds::default(), 10.0);
    let g = || group("app", Some(1), &[("e", 0, 5)]);
    m.update(&snap(T0, &[("e", 0, 0, 10)], vec![g()]), T0);
    m.update(&snap(T0 + 10.0, &[("e", 0, 0, 20)], vec![g()]), T0 + 10.0);
    let before = m.samples_held();
    // Offsets unreadable for the group and log offsets failed: nothing is forgotten.
    let mut s = snap(T0 + 20.0, &[], vec![]);
    s.unreadable_groups.push("app".into());
    s.errors.push(PollError {
        stage: Stage::LogOffsets,
        subject: None,
        message: "timeout".into(),
    });
    m.update(&s, T0 + 20.0);
    assert_eq!(m.samples_held(), before);
    assert!(m.tracks.groups.contains_key("app"));
    // A carried-over (stale) committed value is not a new sample: no fake "unchanged".
    let mut s = snap(T0 + 30.0, &[("e", 0, 0, 30)], vec![g()]);
    s.unreadable_groups.push("app".into());
    m.update(&s, T0 + 30.0);
    assert_eq!(m.samples_held(), before + 1, "only the log end was sampled");
}

#[test]
fn partitions_joining_and_leaving_a_group_keep_the_others_history() {
    let mut m = model(Thresholds::default(), 10.0);
    let parts = [("e", 0, 0, 1_000), ("e", 1, 0, 1_000)];
    let at = |i: i64| T0 + 10.0 * i as f64;
    // (commits, consume rate on e): each row says why.
    type Row = (&'static [(&'static str, i32, i64)], Option<f64>);
    let rows: [Row; 5] = [
        (&[("e", 0, 100)], None),
        // Two polls of e/0: 10 msg/s.
        (&[("e", 0, 200)], Some(10.0)),
        // e/1 joins: no rate for it yet, so the topic's is unknown, not understated.
        (&[("e", 0, 300), ("e", 1, 50)], None),
        // Both known.
        (&[("e", 0, 400), ("e", 1, 100)], Some(15.0)),
        // e/0 leaves: e/1 keeps its history and rate.
        (&[("e", 1, 150)], Some(5.0)),
    ];
    for (i, (commits, want)) in rows.into_iter().enumerate() {
        let t = at(i as i64);
        let s = snap(t, &parts, vec![group("app", Some(1), commits)]);
        let view = m.update(&s, t);
        let rate = gt(&view, "app", "e").consume_rate;
        match want {
            Some(w) => assert!(close(rate, w), "poll {i}: {rate:?}, want {w}"),
            None => assert_eq!(rate, None, "poll {i}"),
        }
    }
    assert_eq!(m.tracks.groups["app"].partitions.len(), 1);
}
