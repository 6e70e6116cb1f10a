//! The Spark reasons: `spark_trigger_capped` and `spark_batch_slow`.

use super::{healthy, th};
use crate::model::rules::{evaluate, Facts};
use crate::view::Reason::{self, *};
use crate::view::SparkView;
use crate::view::Status::{self, *};

/// The seed's batches: 10 s each, 10,000 records, capped; nothing in flight.
fn seed() -> SparkView {
    SparkView {
        batch_duration_seconds: Some(10.0),
        records_per_batch: Some(10_000),
        inflight_batch_age_seconds: Some(2.0),
        trigger_cap: Some(10_000),
    }
}

#[test]
fn spark_cases() {
    let seed_facts = Facts {
        lag: 3_000_000,
        produce_rate: Some(0.0),
        consume_rate: Some(1000.0),
        position: 0,
        retained: 3_000_000,
        spark: Some(seed()),
        ..healthy()
    };
    // (why, facts) -> (status, reasons), default thresholds.
    let rows: Vec<(&str, Facts, Status, Vec<Reason>)> = vec![
        (
            "the seed: capped batches under a 3M backlog",
            seed_facts.clone(),
            Critical,
            vec![LagCritical, BacklogReplay, SparkTriggerCapped],
        ),
        (
            "capped batches but lag within one batch: the cap limits nothing",
            Facts {
                lag: 9_000,
                spark: Some(seed()),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "lag above the cap but not a backlog (60 s of production): not capped",
            Facts {
                lag: 50_000,
                produce_rate: Some(1_000.0),
                consume_rate: Some(1_000.0),
                spark: Some(seed()),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "a backlog but no cap inferred (batches differ): the trigger is not the limit",
            Facts {
                spark: Some(SparkView {
                    trigger_cap: None,
                    ..seed()
                }),
                ..seed_facts.clone()
            },
            Critical,
            vec![LagCritical, BacklogReplay],
        ),
        (
            "batch in flight for 31 s, batches take 10 s: slow",
            Facts {
                spark: Some(SparkView {
                    inflight_batch_age_seconds: Some(31.0),
                    trigger_cap: None,
                    ..seed()
                }),
                ..healthy()
            },
            Warning,
            vec![SparkBatchSlow],
        ),
        (
            "slow and capped together, both said",
            Facts {
                spark: Some(SparkView {
                    inflight_batch_age_seconds: Some(45.0),
                    ..seed()
                }),
                ..seed_facts.clone()
            },
            Critical,
            vec![
                LagCritical,
                BacklogReplay,
                SparkTriggerCapped,
                SparkBatchSlow,
            ],
        ),
        (
            "a Kafka group (no Spark stats) never gets a Spark reason",
            Facts {
                spark: None,
                ..seed_facts
            },
            Critical,
            vec![LagCritical, BacklogReplay],
        ),
    ];
    for (why, f, status, reasons) in rows {
        assert_eq!(evaluate(&f, &th()), (status, reasons), "{why}");
    }
}

#[test]
fn slow_factor_is_configurable() {
    let f = Facts {
        spark: Some(SparkView {
            inflight_batch_age_seconds: Some(25.0),
            ..seed()
        }),
        ..healthy()
    };
    let mut t = th();
    assert_eq!(evaluate(&f, &t).1, Vec::<Reason>::new(), "25 s < 3 x 10 s");
    t.spark_batch_slow_factor = 2.0;
    assert_eq!(evaluate(&f, &t).1, vec![SparkBatchSlow], "25 s > 2 x 10 s");
}
