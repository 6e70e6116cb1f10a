//! Retention risk: when retention deletes messages a consumer has not read yet.

use super::super::*;
use super::{healthy, th};
use Reason::*;
use Status::*;

#[test]
fn retention_risk_cases() {
    // A seed-sized backlog draining at 1,000 msg/s (~50 min), 7-day retention unless said.
    let draining = |headroom: f64, eta: f64| Facts {
        lag: 50_000,
        produce_rate: Some(100.0),
        consume_rate: Some(1100.0),
        retention_headroom: Some(headroom),
        drain_eta: Some(eta),
        ..healthy()
    };
    // (why, facts) -> retention verdict
    let rows: Vec<(&str, Facts, Option<Status>)> = vec![
        (
            "days of headroom, drains in minutes",
            draining(6.0 * 86_400.0, 3000.0),
            None,
        ),
        (
            "drains after retention deletes: warning before any is lost",
            draining(2.0 * 3600.0, 3.0 * 3600.0),
            Some(Warning),
        ),
        (
            "falling behind (never drains) with a day left: warning",
            draining(86_400.0, f64::INFINITY),
            Some(Warning),
        ),
        (
            "under an hour left: warning",
            draining(3000.0, 60.0),
            Some(Warning),
        ),
        (
            "under 15 minutes left: critical",
            draining(600.0, 60.0),
            Some(Critical),
        ),
        (
            "already deleting: critical",
            draining(-5.0, 60.0),
            Some(Critical),
        ),
        (
            "caught up (lag 0) on an old idle topic: nothing unread to lose",
            Facts {
                lag: 0,
                ..draining(60.0, f64::INFINITY)
            },
            None,
        ),
        (
            "a caught-up consumer's in-flight lag 'never drains' at 0.97x: not judged by ETA",
            Facts {
                lag: 20,
                produce_rate: Some(100.0),
                consume_rate: Some(97.0),
                ..draining(86_400.0, f64::INFINITY)
            },
            None,
        ),
        (
            "caught up and active on a 10-minute topic: reads it in time, not at risk",
            Facts {
                lag: 200,
                produce_rate: Some(100.0),
                consume_rate: Some(100.0),
                ..draining(598.0, 2.0)
            },
            None,
        ),
        (
            "a stalled consumer with a small lag: its messages will be deleted",
            Facts {
                lag: 200,
                produce_rate: Some(0.0),
                consume_rate: Some(0.0),
                stuck_for: Some(3600.0),
                ..draining(600.0, f64::INFINITY)
            },
            Some(Critical),
        ),
        (
            "headroom unknown (no retention read): never judged",
            Facts {
                retention_headroom: None,
                ..draining(0.0, f64::INFINITY)
            },
            None,
        ),
    ];
    for (why, f, want) in rows {
        assert_eq!(retention_risk(&f, &th()), want, "{why}");
        let (status, reasons) = evaluate(&f, &th());
        assert_eq!(reasons.contains(&RetentionRisk), want.is_some(), "{why}");
        if let Some(w) = want {
            assert!(status >= w, "{why}: status {status:?} below {w:?}");
        }
    }
}
