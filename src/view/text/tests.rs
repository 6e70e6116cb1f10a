//! Human text: durations, numbers, ETA, actions.

use super::*;

#[test]
fn durations_read_like_a_person_would_say_them() {
    for (secs, want, why) in [
        (0.0, "0 s", "caught up"),
        (44.6, "45 s", "rounded to the second"),
        (3000.0, "50 min", "the seed incident: 3M at 1,000 msg/s"),
        (3599.0, "59 min", "minutes floor"),
        (3600.0, "1 h", "no `0 min`"),
        (7500.0, "2 h 5 min", "hours and minutes"),
        (
            86_400.0 * 3.0 + 4.0 * 3600.0,
            "3 d 4 h",
            "days drop minutes",
        ),
        (-5.0, "0 s", "clock skew never prints negative"),
    ] {
        assert_eq!(duration(secs), want, "{why}");
    }
}

#[test]
fn eta_text() {
    for (v, want, why) in [
        (Some(3000.0), "~50 min", "finite"),
        (
            Some(f64::INFINITY),
            "never at current rates",
            "consume <= produce",
        ),
        (None, "unknown (rates not known yet)", "one sample only"),
    ] {
        assert_eq!(eta(v), want, "{why}");
    }
}

#[test]
fn counts_and_rates() {
    for (n, want) in [
        (0, "0"),
        (999, "999"),
        (1000, "1,000"),
        (3_000_000, "3,000,000"),
        (-1234, "-1,234"),
    ] {
        assert_eq!(count(n), want);
    }
    for (x, want, why) in [
        (1000.0, "1,000", "large rates are whole numbers"),
        (0.5, "0.5", "small rates keep one decimal"),
        (12.0, "12", "no trailing .0"),
    ] {
        assert_eq!(rate(x), want, "{why}");
    }
}

#[test]
fn every_reason_but_the_lag_levels_has_its_own_action() {
    for r in Reason::ALL {
        let lag_level = matches!(r, Reason::LagWarning | Reason::LagCritical);
        assert_eq!(action(r).is_empty(), lag_level, "{r:?}");
        assert!(
            !actions(&[r]).is_empty(),
            "{r:?} alone still says what to do"
        );
    }
    assert_eq!(
        actions(&[Reason::Stalled, Reason::Stopped]).len(),
        1,
        "no repeats"
    );
}

fn spark(d: Option<f64>, r: Option<i64>, age: Option<f64>, cap: Option<i64>) -> SparkView {
    SparkView {
        batch_duration_seconds: d,
        records_per_batch: r,
        inflight_batch_age_seconds: age,
        trigger_cap: cap,
    }
}

#[test]
fn spark_batches_line() {
    for (s, want, why) in [
        (
            spark(Some(10.2), Some(10_000), Some(3.0), Some(10_000)),
            Some("~10 s per batch, 10,000 records per batch, batch in flight for 3 s"),
            "the seed, batch in flight",
        ),
        (
            spark(Some(2.4), Some(500), None, None),
            Some("~2.4 s per batch, 500 records per batch"),
            "idle: no in-flight part; tenths below 10 s",
        ),
        (
            spark(None, None, Some(4.0), None),
            Some("batch in flight for 4 s"),
            "the first batch: only its age",
        ),
        (spark(None, None, None, None), None, "nothing known"),
    ] {
        assert_eq!(spark_batches(&s).as_deref(), want, "{why}");
    }
}

#[test]
fn spark_findings_per_reason() {
    let seed = spark(Some(10.0), Some(10_000), Some(45.0), Some(10_000));
    let both = [Reason::SparkTriggerCapped, Reason::SparkBatchSlow];
    for (s, reasons, want, why) in [
        (
            seed,
            &[Reason::SparkTriggerCapped][..],
            vec!["maxOffsetsPerTrigger caps every batch at \u{2248}10,000 records: at ~10 s per batch the query reads at most ~1,000 msg/s"],
            "the seed's cap and the ceiling it puts on throughput",
        ),
        (
            seed,
            &[Reason::SparkBatchSlow][..],
            vec!["the batch in flight has run 45 s, 4.5\u{d7} the median batch (~10 s)"],
            "slow: in-flight age against the median",
        ),
        (
            seed,
            &both[..],
            vec![
                "maxOffsetsPerTrigger caps every batch at \u{2248}10,000 records: at ~10 s per batch the query reads at most ~1,000 msg/s",
                "the batch in flight has run 45 s, 4.5\u{d7} the median batch (~10 s)",
            ],
            "both, in reason order",
        ),
        (
            spark(None, Some(10_000), None, Some(10_000)),
            &[Reason::SparkTriggerCapped][..],
            vec!["maxOffsetsPerTrigger caps every batch at \u{2248}10,000 records"],
            "no duration yet: the cap without a ceiling",
        ),
        (
            seed,
            &[Reason::LagCritical][..],
            vec![],
            "no Spark reason: the batches line says enough",
        ),
    ] {
        assert_eq!(spark_findings(&s, reasons), want, "{why}");
    }
}
