//! Which incidents a notifier hears of beyond groups, topics and severity: routing by
//! reason, and how often open incidents are re-sent. Pure.

use crate::config::NotifierConfig;
use crate::view::{Reason, Status};
use std::time::Duration;

/// Reminders: Alertmanager forgets an alert without news, so it gets one every minute at
/// least (see [`super::sinks::ALERTMANAGER_REPOST`]).
pub(super) fn repeat_interval(n: &NotifierConfig) -> Duration {
    match n.kind {
        crate::config::NotifierKind::Alertmanager => {
            n.repeat_interval.min(super::sinks::ALERTMANAGER_REPOST)
        }
        _ => n.repeat_interval,
    }
}

/// Reason names (validated by the config) as reasons.
pub(super) fn reasons(names: &[String]) -> Vec<Reason> {
    Reason::ALL
        .into_iter()
        .filter(|r| names.iter().any(|n| n == r.as_str()))
        .collect()
}

/// The status a notifier routed by reason sees: ok when none of its reasons is present,
/// so the incident closes for that notifier when its reason goes away.
pub fn routed(status: Status, reasons: &[Reason], wanted: &[Reason]) -> Status {
    if wanted.is_empty() || reasons.iter().any(|r| wanted.contains(r)) {
        status
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_knows_every_reason_by_name() {
        let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, crate::config::REASON_NAMES);
    }

    #[test]
    fn routing_by_reason() {
        use Reason::*;
        for (status, has, wanted, want, why) in [
            (
                Status::Critical,
                &[LagCritical][..],
                &[][..],
                Status::Critical,
                "no reasons configured: everything",
            ),
            (
                Status::Critical,
                &[LagCritical, BacklogReplay][..],
                &[BacklogReplay][..],
                Status::Critical,
                "one wanted reason present",
            ),
            (
                Status::Critical,
                &[LagCritical][..],
                &[BacklogReplay][..],
                Status::Ok,
                "wanted reason absent: not this notifier's incident",
            ),
            (
                Status::Ok,
                &[][..],
                &[BacklogReplay][..],
                Status::Ok,
                "ok stays ok",
            ),
        ] {
            assert_eq!(routed(status, has, wanted), want, "{why}");
        }
    }
}
