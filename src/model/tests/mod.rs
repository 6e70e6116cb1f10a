//! Scenario tests: synthetic snapshot streams with injected time through the whole model.

use super::*;
use crate::config::Thresholds;
use crate::model::history::HARD_CAP;
use crate::snapshot::{GroupSnapshot, PartitionOffsets, PollError, Stage, TopicPartition};
use crate::view::{ClusterView, GroupTopicView, Reason, Status, TimeLagMethod};
use Reason::*;

mod lifecycle;

const T0: f64 = 1_700_000_000.0;

fn model(th: Thresholds, poll: f64) -> Model {
    let rules = RulesConfig {
        defaults: th,
        overrides: Vec::new(),
    };
    Model::new(rules, Duration::from_secs_f64(poll))
}

/// A Kafka group snapshot with commits on `(topic, partition, offset)`.
fn group(name: &str, members: Option<u32>, commits: &[(&str, i32, i64)]) -> GroupSnapshot {
    let state = if members == Some(0) {
        "Empty"
    } else {
        "Stable"
    };
    let mut g = GroupSnapshot::kafka(name, state, members);
    for &(t, p, o) in commits {
        g.committed.insert(TopicPartition::new(t, p), o);
    }
    g
}

/// A snapshot at `t` with `(topic, partition, log_start, log_end)` and groups.
fn snap(t: f64, parts: &[(&str, i32, i64, i64)], groups: Vec<GroupSnapshot>) -> Snapshot {
    let mut s = Snapshot::new("c", t);
    for &(topic, p, start, end) in parts {
        s.partitions.insert(
            TopicPartition::new(topic, p),
            PartitionOffsets {
                log_start: start,
                log_end: end,
            },
        );
    }
    for g in groups {
        s.groups.insert(g.name.clone(), g);
    }
    s
}

fn gt<'a>(v: &'a ClusterView, g: &str, t: &str) -> &'a GroupTopicView {
    v.groups
        .iter()
        .find(|x| x.group == g)
        .and_then(|x| x.topics.iter().find(|x| &*x.topic == t))
        .unwrap_or_else(|| panic!("no {g}/{t} in view"))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6 * b.abs().max(1.0))
}

#[test]
fn seed_backlog_replay_eta_50_minutes() {
    // 3,050,000 messages produced before the job started from earliest; no new production;
    // the job reads 1,000 msg/s. After 50 s the backlog is 3,000,000: ETA 3,000 s.
    let mut m = model(Thresholds::default(), 10.0);
    let mut v = None;
    for i in 0..=5 {
        let t = T0 + 10.0 * i as f64;
        let s = snap(
            t,
            &[("events", 0, 0, 3_050_000)],
            vec![group("spark-job", None, &[("events", 0, 10_000 * i)])],
        );
        v = Some(m.update(&s, t));
    }
    let v = v.expect("view");
    let x = gt(&v, "spark-job", "events");
    assert_eq!(x.lag, 3_000_000);
    assert!(close(x.consume_rate, 1000.0), "{:?}", x.consume_rate);
    assert!(close(x.produce_rate, 0.0), "{:?}", x.produce_rate);
    assert!(
        close(x.drain_eta_seconds, 3000.0),
        "{:?}",
        x.drain_eta_seconds
    );
    assert_eq!(x.throughput_ratio, None, "no production: no ratio");
    assert_eq!(x.status, Status::Critical);
    assert_eq!(x.reasons, vec![LagCritical, BacklogReplay]);
    // The backlog predates lagwatch: its age is at least since lagwatch first saw it.
    let p = &x.partitions[0];
    assert_eq!(p.lag_seconds_method, Some(TimeLagMethod::Extrapolated));
    assert!(close(p.lag_seconds, 50.0), "{:?}", p.lag_seconds);
}

#[test]
fn healthy_consumer_with_jitter_never_flaps() {
    // 1,000 msg/s, consumer caught up with 0..5,000 in flight, 500 polls: ok on every poll.
    let mut m = model(Thresholds::default(), 10.0);
    let mut seed: u64 = 42;
    for i in 0..500 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let jitter = ((seed >> 33) % 5001) as i64;
        let t = T0 + 10.0 * i as f64;
        let end = 10_000 * i as i64 + 5000;
        let s = snap(
            t,
            &[("e", 0, 0, end)],
            vec![group("app", Some(3), &[("e", 0, end - jitter)])],
        );
        let v = m.update(&s, t);
        let x = gt(&v, "app", "e");
        assert_eq!(
            (x.status, &x.reasons),
            (Status::Ok, &vec![]),
            "poll {i}: {x:?}"
        );
        assert_eq!(v.groups[0].status, Status::Ok);
        if i > 2 {
            let r = x.throughput_ratio.unwrap_or(0.0);
            assert!((0.9..1.1).contains(&r), "poll {i}: ratio {r}");
        }
    }
}

/// Runs a steady producer (`produce`/s) and consumer (`consume`/s) from `lag0`, polling
/// every 10 s, and returns every view.
fn steady(
    th: Thresholds,
    lag0: i64,
    produce: i64,
    consume: i64,
    polls: usize,
) -> Vec<GroupTopicView> {
    let mut m = model(th, 10.0);
    (0..polls)
        .map(|i| {
            let t = T0 + 10.0 * i as f64;
            let end = lag0 + produce * 10 * i as i64;
            let committed = (consume * 10 * i as i64).min(end);
            let s = snap(
                t,
                &[("e", 0, 0, end)],
                vec![group("app", Some(1), &[("e", 0, committed)])],
            );
            gt(&m.update(&s, t), "app", "e").clone()
        })
        .collect()
}

#[test]
fn falling_behind_after_backlog_builds_and_hysteresis() {
    // 1,000 msg/s in, 500 out: lag grows 500/s; backlogged once lag >= 60 s of production
    // (60,000) at t=120 s; reported one poll later; ETA never.
    let views = steady(Thresholds::default(), 0, 1000, 500, 30);
    let first_raw = 12; // lag 60,000
    assert_eq!(
        views[first_raw].status,
        Status::Ok,
        "one poll is not enough"
    );
    assert_eq!(views[first_raw + 1].status, Status::Critical);
    assert_eq!(views[first_raw + 1].reasons, vec![FallingBehind]);
    let last = &views[29];
    assert_eq!(last.reasons, vec![FallingBehind, LagWarning]);
    assert_eq!(last.drain_eta_seconds, Some(f64::INFINITY));
    assert!(close(last.throughput_ratio, 0.5));
    // Before rates are known: ETA and ratio absent, never 0.
    assert_eq!(views[0].drain_eta_seconds, Some(0.0), "no lag yet");
    assert_eq!(views[1].consume_rate, Some(500.0));
}

#[test]
fn rate_unknown_until_two_polls() {
    let views = steady(Thresholds::default(), 5000, 1000, 1000, 2);
    assert_eq!(views[0].produce_rate, None);
    assert_eq!(views[0].consume_rate, None);
    assert_eq!(views[0].throughput_ratio, None);
    assert_eq!(
        views[0].drain_eta_seconds, None,
        "lag 5,000 but rates unknown"
    );
    assert!(close(views[1].produce_rate, 1000.0));
    assert_eq!(views[1].drain_eta_seconds, Some(f64::INFINITY));
}

#[test]
fn low_headroom_then_enough() {
    // 80,000 backlog, 1,000 msg/s in, 1,100 out: drains, but too slowly (warning).
    let views = steady(Thresholds::default(), 80_000, 1000, 1100, 6);
    let x = &views[5];
    assert_eq!(
        (x.status, x.reasons.clone()),
        (Status::Warning, vec![LowHeadroom])
    );
    assert!(
        close(x.drain_eta_seconds, x.lag as f64 / 100.0),
        "{:?}",
        x.drain_eta_seconds
    );
    // 1.5x drains with headroom: ok, ETA = 80,000 / 500 at the start.
    let views = steady(Thresholds::default(), 80_000, 1000, 1500, 6);
    assert_eq!(views[5].status, Status::Ok);
    let etas: Vec<f64> = views[1..]
        .iter()
        .filter_map(|v| v.drain_eta_seconds)
        .collect();
    assert!(
        etas.windows(2).all(|w| w[1] < w[0]),
        "ETA decreases: {etas:?}"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Whatever the offsets do (resets, races, retention), the view never shows negative
        // lag or time lag, and the ETA is finite exactly when consume > produce or lag is 0.
        #[test]
        fn view_invariants(steps in prop::collection::vec((0i64..500, -50i64..500, 0i64..50), 1..60)) {
            let mut m = model(Thresholds::default(), 10.0);
            let (mut end, mut committed, mut start) = (0i64, 0i64, 0i64);
            for (i, (de, dc, ds)) in steps.into_iter().enumerate() {
                end += de;
                committed = (committed + dc).max(0);
                start = (start + ds).min(end);
                let t = T0 + 10.0 * i as f64;
                let s = snap(t, &[("e", 0, start, end)], vec![group("g", None, &[("e", 0, committed)])]);
                let v = m.update(&s, t);
                let x = gt(&v, "g", "e");
                prop_assert!(x.lag >= 0);
                prop_assert!(x.partitions[0].lag_seconds.unwrap_or(0.0) >= 0.0);
                if let (Some(eta), Some(c), Some(p)) = (x.drain_eta_seconds, x.consume_rate, x.produce_rate) {
                    prop_assert_eq!(eta.is_finite(), x.lag == 0 || c > p);
                }
            }
        }
    }
}

#[test]
fn record_times_replace_the_estimate_and_bound_it() {
    use crate::snapshot::{FirstRecord, RecordStamp, TopicConfig, TopicPartition};
    let found = |offset: i64, at: f64| {
        FirstRecord::Found(RecordStamp {
            offset,
            at,
            log_append: false,
        })
    };
    let tp = || TopicPartition::new("events", 0);
    // A backlog seen for the first time: the estimate alone says "since lagwatch saw it".
    // (why, first records in the snapshot, retention) -> (seconds, method, headroom)
    type Row = (
        &'static str,
        Vec<((TopicPartition, i64), FirstRecord)>,
        Option<i64>,
        (f64, TimeLagMethod, Option<f64>),
    );
    let rows: Vec<Row> = vec![
        (
            "the record at the committed offset: its age, exactly",
            vec![((tp(), 1_000), found(1_000, T0 - 1_800.0))],
            Some(86_400_000),
            (1_800.0, TimeLagMethod::Record, Some(86_400.0 - 1_800.0)),
        ),
        (
            "only markers left: nothing to consume, caught up",
            vec![((tp(), 1_000), FirstRecord::NoData)],
            None,
            (0.0, TimeLagMethod::CaughtUp, None),
        ),
        (
            "record unknown, oldest kept record 20 s old: the estimate is bounded by it",
            vec![((tp(), 0), found(0, T0 - 20.0))],
            Some(86_400_000),
            (0.0, TimeLagMethod::Extrapolated, Some(86_400.0)),
        ),
    ];
    for (why, records, retention_ms, (secs, method, headroom)) in rows {
        let mut m = model(Thresholds::default(), 10.0);
        let mut s = snap(
            T0,
            &[("events", 0, 0, 5_000)],
            vec![group("g", None, &[("events", 0, 1_000)])],
        );
        s.first_records = std::sync::Arc::new(records.into_iter().collect());
        if let Some(ms) = retention_ms {
            let c = TopicConfig {
                retention_ms: Some(ms),
                delete: true,
                ..TopicConfig::default()
            };
            s.topic_configs.insert("events".into(), c);
        }
        let v = m.update(&s, T0);
        let x = gt(&v, "g", "events");
        let p = &x.partitions[0];
        assert!(close(p.lag_seconds, secs), "{why}: {:?}", p.lag_seconds);
        assert_eq!(p.lag_seconds_method, Some(method), "{why}");
        match headroom {
            Some(h) => assert!(
                close(x.retention_headroom_seconds, h),
                "{why}: {:?}",
                x.retention_headroom_seconds
            ),
            None => assert_eq!(x.retention_headroom_seconds, None, "{why}"),
        }
    }
}

/// The oldest record still in the log, written 20 s before T0.
fn oldest_kept_20s_before_t0() -> crate::snapshot::FirstRecord {
    use crate::snapshot::{FirstRecord, RecordStamp};
    FirstRecord::Found(RecordStamp {
        offset: 0,
        at: T0 - 20.0,
        log_append: false,
    })
}

#[test]
fn an_estimate_is_never_older_than_the_oldest_record_kept() {
    use crate::snapshot::TopicPartition;
    // 4,000 messages of backlog and a producer at 1 msg/s: extrapolating says the backlog
    // began more than an hour ago, but the oldest record kept was written 20 s before T0
    // (the seed: a burst produced seconds earlier, then a trickle).
    let mut m = model(Thresholds::default(), 10.0);
    let oldest = oldest_kept_20s_before_t0();
    let mut v = None;
    for (i, end) in [(0, 5_000), (1, 5_010)] {
        let t = T0 + 10.0 * f64::from(i);
        let mut s = snap(
            t,
            &[("events", 0, 0, end)],
            vec![group("g", None, &[("events", 0, 1_000)])],
        );
        std::sync::Arc::make_mut(&mut s.first_records)
            .insert((TopicPartition::new("events", 0), 0), oldest);
        v = Some(m.update(&s, t));
    }
    let v = v.expect("view");
    let p = &gt(&v, "g", "events").partitions[0];
    assert_eq!(p.lag_seconds_method, Some(TimeLagMethod::Extrapolated));
    assert!(close(p.lag_seconds, 30.0), "{:?}", p.lag_seconds);
}

#[test]
fn a_remembered_estimate_is_capped_once_the_oldest_record_is_known() {
    use crate::snapshot::TopicPartition;
    // Two polls without the oldest record's time (its read waits for the budget) leave an
    // extrapolated estimate of more than an hour; the third poll learns that the oldest
    // record kept is 20 s old. The remembered estimate must not outlive that bound.
    let mut m = model(Thresholds::default(), 10.0);
    let oldest = oldest_kept_20s_before_t0();
    let mut v = None;
    for (i, end) in [(0, 5_000), (1, 5_010), (2, 5_020)] {
        let t = T0 + 10.0 * f64::from(i);
        let mut s = snap(
            t,
            &[("events", 0, 0, end)],
            vec![group("g", None, &[("events", 0, 1_000)])],
        );
        if i == 2 {
            std::sync::Arc::make_mut(&mut s.first_records)
                .insert((TopicPartition::new("events", 0), 0), oldest);
        }
        v = Some(m.update(&s, t));
        if i == 1 {
            let before = v.as_ref().expect("view");
            let p = &gt(before, "g", "events").partitions[0];
            assert!(p.lag_seconds > Some(3_600.0), "{:?}", p.lag_seconds);
        }
    }
    let v = v.expect("view");
    let p = &gt(&v, "g", "events").partitions[0];
    assert!(close(p.lag_seconds, 40.0), "{:?}", p.lag_seconds);
}
