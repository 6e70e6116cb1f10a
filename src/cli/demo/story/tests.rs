use super::*;
use std::sync::Arc;

fn gt(status: Status, reasons: &[Reason], lag: i64, rates: Option<(f64, f64)>) -> GroupTopicView {
    GroupTopicView {
        topic: Arc::from("transactions"),
        lag,
        max_lag_seconds: None,
        produce_rate: rates.map(|r| r.0),
        consume_rate: rates.map(|r| r.1),
        throughput_ratio: rates.map(|(p, c)| c / p),
        // As the model: +Inf when the consumer is not faster than the producer.
        drain_eta_seconds: rates.map(|(p, c)| {
            if c > p {
                lag as f64 / (c - p)
            } else {
                f64::INFINITY
            }
        }),
        retention_seconds: None,
        retention_headroom_seconds: None,
        status,
        reasons: reasons.to_vec(),
        settling: false,
        partitions: Vec::new(),
    }
}

#[test]
fn default_plan_is_the_seed() {
    let p = Plan::new(SEED_BACKLOG, 1.0);
    assert!(p.is_seed());
    assert_eq!((p.lag_warning, p.lag_critical), (100_000, 1_000_000));
    assert_eq!((p.produce_rate, p.stream_rate), (100.0, 1_000.0));
    assert_eq!(p.batch_rate, 150_000.0);
    assert_eq!(p.poll_interval, Duration::from_secs(1));
    assert_eq!(p.rate_window, Duration::from_secs(30));
    assert_eq!(p.hold, Duration::from_secs(20));
}

#[test]
fn scaled_plan_keeps_proportions() {
    // A tenth of the backlog at 10x speed: same rates as the seed, thresholds a tenth.
    let p = Plan::new(300_000, 10.0);
    assert!(!p.is_seed());
    assert_eq!((p.lag_warning, p.lag_critical), (10_000, 100_000));
    assert_eq!((p.produce_rate, p.stream_rate), (100.0, 1_000.0));
    assert_eq!(p.batch_rate, 150_000.0);
    assert_eq!(p.hold, Duration::from_secs(2));
    // Waits never drop below a quarter second (lagwatch polls at most 4x/s here).
    assert_eq!(p.poll_interval, Duration::from_millis(250));
    assert_eq!(p.rate_window, Duration::from_secs(3));
}

#[test]
fn acts_advance_on_what_lagwatch_reports() {
    let plan = Plan::new(SEED_BACKLOG, 1.0);
    let full = gt(
        Status::Critical,
        &[Reason::LagCritical, Reason::BacklogReplay],
        2_990_000,
        Some((100.0, 1_000.0)),
    );
    let no_rates = gt(
        Status::Critical,
        &[Reason::LagCritical, Reason::BacklogReplay],
        3_000_000,
        None,
    );
    let ok = gt(Status::Ok, &[], 0, Some((100.0, 100.0)));
    let mut seen = Seen::default();
    // Rows: (act, view, at, expected next act, why)
    let rows: [(Act, &GroupTopicView, f64, Option<Act>, &str); 6] = [
        (
            Act::Replay,
            &no_rates,
            1.0,
            None,
            "critical but rates unknown: not the full story yet",
        ),
        (
            Act::Replay,
            &full,
            3.0,
            None,
            "incident first seen at 3 s: hold it on screen",
        ),
        (Act::Replay, &full, 22.9, None, "held 19.9 s < 20 s"),
        (
            Act::Replay,
            &full,
            23.0,
            Some(Act::Drain),
            "held 20 s: start the batch job",
        ),
        (
            Act::Drain,
            &full,
            30.0,
            None,
            "still critical while draining",
        ),
        (Act::Drain, &ok, 45.0, Some(Act::Done), "ok again: resolved"),
    ];
    for (act, v, at, want, why) in rows {
        assert_eq!(observe(act, &mut seen, v, at, &plan), want, "{why}");
    }
    assert_eq!(seen.incident_at, Some(3.0));
    assert!(seen.resolved);
}

#[test]
fn status_line_shows_rates_verdict_and_eta() {
    let t = gt(
        Status::Critical,
        &[Reason::LagCritical, Reason::BacklogReplay],
        2_970_000,
        Some((100.0, 1_000.0)),
    );
    assert_eq!(
        status_line(12.0, &t, 1.2),
        "[   12s] lag 2,970,000  produce 100 msg/s  consume 1,000 msg/s  ratio 10.00x \
         (meets 1.2x)  ETA ~55 min  CRITICAL [lag_critical, backlog_replay]"
    );
    let slow = gt(
        Status::Critical,
        &[Reason::FallingBehind],
        500_000,
        Some((1_000.0, 900.0)),
    );
    assert!(
        status_line(1.0, &slow, 1.2)
            .contains("ratio 0.90x (< 1.0x: lag grows)  ETA never at current rates"),
        "{}",
        status_line(1.0, &slow, 1.2)
    );
}

#[test]
fn caught_up_consumer_gets_no_verdict_or_eta() {
    // A caught-up consumer's 0.97x is jitter (it consumes exactly what is produced): neither
    // "lag grows" nor an ETA of hours for 40 in-flight messages.
    let t = gt(Status::Ok, &[], 40, Some((100.0, 97.0)));
    assert_eq!(
        status_line(5.0, &t, 1.2),
        "[    5s] lag        40  produce 100 msg/s  consume 97 msg/s  ratio 0.97x (caught up)  \
         ETA -  OK"
    );
}
