use super::*;
use proptest::prelude::*;
use Reason::*;
use Status::*;

mod retention;
mod spark;

pub(super) fn th() -> Thresholds {
    Thresholds::default()
}

/// A healthy consumer: small lag, equal rates, committing, far into the log.
pub(super) fn healthy() -> Facts {
    Facts {
        lag: 500,
        produce_rate: Some(1000.0),
        consume_rate: Some(1000.0),
        messages_lost: 0,
        position: 9_000_000,
        retained: 10_000_000,
        stuck_for: Some(0.0),
        idle_for: Some(0.0),
        rewound: false,
        retention_headroom: None,
        drain_eta: None,
        spark: None,
    }
}

#[test]
fn rule_cases() {
    // (why, facts) -> (status, reasons), default thresholds (seed numbers).
    let rows: Vec<(&str, Facts, Status, Vec<Reason>)> = vec![
        ("healthy: ok", healthy(), Ok, vec![]),
        (
            "the seed: 3M backlog from earliest at 1,000 msg/s, no new production",
            Facts {
                lag: 3_000_000,
                produce_rate: Some(0.0),
                consume_rate: Some(1000.0),
                position: 0,
                retained: 3_000_000,
                ..healthy()
            },
            Critical,
            vec![LagCritical, BacklogReplay],
        ),
        (
            "lag at the warning threshold exactly: warning",
            Facts {
                lag: 100_000,
                consume_rate: Some(5000.0),
                ..healthy()
            },
            Warning,
            vec![LagWarning],
        ),
        (
            "lag just below warning, consumer fast: ok",
            Facts {
                lag: 99_999,
                consume_rate: Some(5000.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "lag at critical: only lag_critical, not also lag_warning",
            Facts {
                lag: 1_000_000,
                consume_rate: Some(5000.0),
                ..healthy()
            },
            Critical,
            vec![LagCritical],
        ),
        (
            "caught-up consumer at exactly the producer rate with in-flight lag: never flagged",
            Facts {
                lag: 9_999,
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "lag over the floor but under 60 s of production (1,000 msg/s): not backlogged",
            Facts {
                lag: 50_000,
                consume_rate: Some(900.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "backlogged, consumer 1.1x producer: low headroom",
            Facts {
                lag: 70_000,
                consume_rate: Some(1100.0),
                ..healthy()
            },
            Warning,
            vec![LowHeadroom],
        ),
        (
            "backlogged, consumer exactly 1.2x: enough headroom",
            Facts {
                lag: 70_000,
                consume_rate: Some(1200.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "backlogged, consumer slower than producer: falling behind (implies low headroom)",
            Facts {
                lag: 70_000,
                consume_rate: Some(999.0),
                ..healthy()
            },
            Critical,
            vec![FallingBehind],
        ),
        (
            "backlogged, produce rate unknown: ratio rules need both rates",
            Facts {
                lag: 70_000,
                produce_rate: None,
                consume_rate: Some(1.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "backlogged, consume rate unknown: no ratio verdict",
            Facts {
                lag: 70_000,
                consume_rate: None,
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "committed unchanged for the whole 5 min window with lag: stalled",
            Facts {
                lag: 10,
                stuck_for: Some(300.0),
                ..healthy()
            },
            Critical,
            vec![Stalled],
        ),
        (
            "unchanged for less than the window: not yet stalled",
            Facts {
                lag: 10,
                stuck_for: Some(299.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "unchanged but no lag: an idle topic, fine",
            Facts {
                lag: 0,
                stuck_for: Some(3600.0),
                idle_for: Some(3600.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "no consumer for over 15 min with lag: stopped",
            Facts {
                lag: 10,
                idle_for: Some(901.0),
                ..healthy()
            },
            Critical,
            vec![Stopped],
        ),
        (
            "no consumer for exactly 15 min: not yet (strictly longer)",
            Facts {
                lag: 10,
                idle_for: Some(900.0),
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "committed below log start: data loss",
            Facts {
                messages_lost: 1,
                ..healthy()
            },
            Critical,
            vec![DataLoss],
        ),
        (
            "committed went back: rewind",
            Facts {
                rewound: true,
                ..healthy()
            },
            Warning,
            vec![Rewind],
        ),
        (
            "big lag near the log start: backlog replay with the lag reason",
            Facts {
                lag: 150_000,
                consume_rate: Some(5000.0),
                position: 100_000,
                retained: 1_000_000,
                ..healthy()
            },
            Warning,
            vec![LagWarning, BacklogReplay],
        ),
        (
            "near the start but small lag: not a replay worth a reason",
            Facts {
                lag: 5_000,
                position: 0,
                retained: 10_000,
                ..healthy()
            },
            Ok,
            vec![],
        ),
        (
            "empty log (retained 0): no replay verdict",
            Facts {
                lag: 200_000,
                consume_rate: Some(9000.0),
                position: 0,
                retained: 0,
                ..healthy()
            },
            Warning,
            vec![LagWarning],
        ),
        (
            "several at once: criticals listed before warnings",
            Facts {
                lag: 2_000_000,
                produce_rate: Some(1000.0),
                consume_rate: Some(10.0),
                messages_lost: 5,
                position: 0,
                retained: 3_000_000,
                rewound: true,
                ..healthy()
            },
            Critical,
            vec![LagCritical, FallingBehind, DataLoss, Rewind, BacklogReplay],
        ),
    ];
    for (why, f, status, reasons) in rows {
        assert_eq!(evaluate(&f, &th()), (status, reasons), "{why}");
    }
}

#[test]
fn thresholds_come_from_config() {
    // Small test thresholds (as in the integration test) flip the same facts.
    let small = Thresholds {
        lag_warning: 200,
        backlog_min_messages: 20,
        backlog_min_seconds: 0.5,
        ..th()
    };
    let f = Facts {
        lag: 300,
        produce_rate: Some(50.0),
        consume_rate: Some(20.0),
        ..healthy()
    };
    assert_eq!(
        evaluate(&f, &small),
        (Critical, vec![FallingBehind, LagWarning])
    );
    assert_eq!(evaluate(&f, &th()), (Ok, vec![]));
}

#[test]
fn hysteresis_cases() {
    use Reason::*;
    // (why, raw sequence) -> reported sequence, for_polls = 2.
    let w = |r: Reason| (Warning, vec![r]);
    let c = |r: Reason| (Critical, vec![r]);
    let ok = || (Ok, vec![]);
    type Seq = Vec<(Status, Vec<Reason>)>;
    let rows: Vec<(&str, Seq, Seq)> = vec![
        (
            "a status seen at start holds like any change before it is reported",
            vec![c(LagCritical), c(LagCritical)],
            vec![ok(), c(LagCritical)],
        ),
        (
            "a noisy first poll after start flips nothing",
            vec![c(LagCritical), ok(), ok()],
            vec![ok(), ok(), ok()],
        ),
        ("ok at start is reported at once", vec![ok()], vec![ok()]),
        (
            "one noisy poll flips nothing",
            vec![ok(), w(LowHeadroom), ok()],
            vec![ok(), ok(), ok()],
        ),
        (
            "a change that holds 2 polls is reported on the 2nd",
            vec![ok(), w(LowHeadroom), w(LowHeadroom)],
            vec![ok(), ok(), w(LowHeadroom)],
        ),
        (
            "recovery needs 2 polls too; the old reasons stay meanwhile",
            vec![c(Stalled), c(Stalled), ok(), ok()],
            vec![ok(), c(Stalled), c(Stalled), ok()],
        ),
        (
            "same status, new reasons: reported at once",
            vec![c(Stalled), c(Stalled), c(FallingBehind)],
            vec![ok(), c(Stalled), c(FallingBehind)],
        ),
        (
            "never ok for 2 polls (warning then critical): the latest is adopted",
            vec![ok(), w(LowHeadroom), c(FallingBehind)],
            vec![ok(), ok(), c(FallingBehind)],
        ),
        (
            "flapping every poll never reaches the report",
            vec![ok(), w(Rewind), ok(), w(Rewind), ok(), w(Rewind)],
            vec![ok(), ok(), ok(), ok(), ok(), ok()],
        ),
    ];
    for (why, raw, want) in rows {
        let mut h = Hysteresis::default();
        let got: Vec<_> = raw.into_iter().map(|(s, r)| h.step(s, r, 2)).collect();
        assert_eq!(got, want, "{why}");
    }
    // for_polls 1: every change is reported at once, the first one too.
    let mut h = Hysteresis::default();
    assert_eq!(
        h.step(Critical, vec![Stalled], 1),
        (Critical, vec![Stalled])
    );
    assert!(!h.settling());
    h.step(Ok, vec![], 1);
    assert_eq!(h.step(Warning, vec![Rewind], 1), (Warning, vec![Rewind]));
}

proptest! {
    // Whatever the facts, a consumer at exactly the producer rate with lag below the
    // backlog floor gets no ratio reason (the seed's "never flag a healthy one").
    #[test]
    fn caught_up_never_flagged_by_ratio(lag in 0i64..10_000, rate in 0.0f64..1e6) {
        let f = Facts { lag, produce_rate: Some(rate), consume_rate: Some(rate), ..healthy() };
        let (_, reasons) = evaluate(&f, &th());
        prop_assert!(!reasons.contains(&FallingBehind) && !reasons.contains(&LowHeadroom));
    }

    // The reported status is always one of the raw statuses seen, or the ok placeholder
    // while nothing is confirmed.
    #[test]
    fn hysteresis_reports_only_seen_statuses(seq in prop::collection::vec(0u8..3, 1..50), n in 1u32..5) {
        let mut h = Hysteresis::default();
        let mut seen = Vec::new();
        for s in seq {
            let st = Status::ALL[s as usize];
            seen.push(st);
            let (rep, _) = h.step(st, vec![], n);
            prop_assert!(seen.contains(&rep) || (h.settling() && rep == Status::Ok));
        }
    }
}
