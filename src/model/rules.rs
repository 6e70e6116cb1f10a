//! The status engine: facts about one group×topic in, status and reasons out. Pure: the
//! model gathers the facts from its history, this module only judges them.

use crate::config::Thresholds;
use crate::model::spark::batch_slow;
use crate::view::{Reason, SparkView, Status};

/// What the model knows about one group on one topic at one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Sum of partition lags (messages).
    pub lag: i64,
    /// Producer rate on the partitions the group consumes (messages/s), when known.
    pub produce_rate: Option<f64>,
    /// Group consume rate on the topic (messages/s), when known.
    pub consume_rate: Option<f64>,
    /// Messages deleted before the group read them.
    pub messages_lost: i64,
    /// Sum over partitions of (committed - log start), clamped at 0: how far into the log.
    pub position: i64,
    /// Sum over partitions of (log end - log start): the retained log.
    pub retained: i64,
    /// Longest time a partition has had lag > 0 with its committed offset unchanged.
    pub stuck_for: Option<f64>,
    /// Time with lag > 0 and no sign of a consumer (no commit, no member, no Spark batch).
    pub idle_for: Option<f64>,
    /// The committed offset went backwards within the rate window.
    pub rewound: bool,
    /// Retention minus the age of the oldest unconsumed record, when both are known.
    pub retention_headroom: Option<f64>,
    /// Seconds until the lag drains at current rates (+Inf: never), when known.
    pub drain_eta: Option<f64>,
    /// Spark only: the query's recent batches.
    pub spark: Option<SparkView>,
}

/// Severity a reason drives the status to.
pub fn severity(r: Reason) -> Status {
    match r {
        Reason::LagCritical
        | Reason::FallingBehind
        | Reason::Stalled
        | Reason::Stopped
        | Reason::DataLoss => Status::Critical,
        Reason::LagWarning
        | Reason::LowHeadroom
        | Reason::Rewind
        | Reason::BacklogReplay
        | Reason::RetentionRisk
        | Reason::SparkTriggerCapped
        | Reason::SparkBatchSlow
        | Reason::SourceError => Status::Warning,
        Reason::NoCommit => Status::Ok,
    }
}

/// Whether the lag is a backlog rather than a caught-up consumer's normal in-flight lag.
///
/// A caught-up consumer consumes exactly the producer rate; its lag is what arrives while
/// it works, a few seconds of production. Only lag above a floor AND above
/// `backlog_min_seconds` of production counts, so the ratio rules never flag it.
pub fn backlogged(f: &Facts, th: &Thresholds) -> bool {
    f.lag >= th.backlog_min_messages
        && f.produce_rate
            .is_none_or(|p| f.lag as f64 >= p * th.backlog_min_seconds)
}

/// The raw (pre-hysteresis) status and reasons, most severe reasons first.
pub fn evaluate(f: &Facts, th: &Thresholds) -> (Status, Vec<Reason>) {
    let mut reasons = Vec::new();
    if f.lag >= th.lag_critical {
        reasons.push(Reason::LagCritical);
    } else if f.lag >= th.lag_warning {
        reasons.push(Reason::LagWarning);
    }
    if backlogged(f, th) {
        if let (Some(c), Some(p)) = (f.consume_rate, f.produce_rate) {
            if c < p {
                // Falling behind implies low headroom; one reason says it.
                reasons.push(Reason::FallingBehind);
            } else if c < th.headroom * p {
                reasons.push(Reason::LowHeadroom);
            }
        }
    }
    let window = th.rate_window.as_secs_f64();
    if f.lag > 0 && f.stuck_for.is_some_and(|s| s >= window) {
        reasons.push(Reason::Stalled);
    }
    if f.lag > 0
        && f.idle_for
            .is_some_and(|s| s > th.stopped_after.as_secs_f64())
    {
        reasons.push(Reason::Stopped);
    }
    if f.messages_lost > 0 {
        reasons.push(Reason::DataLoss);
    }
    if f.rewound {
        reasons.push(Reason::Rewind);
    }
    if f.lag >= th.lag_warning
        && f.retained > 0
        && f.position as f64 <= th.backlog_replay_fraction * f.retained as f64
    {
        reasons.push(Reason::BacklogReplay);
    }
    if let Some(s) = &f.spark {
        // A cap limits only while more waits than one batch takes: a caught-up query
        // whose batches happen to be equal is not limited by anything.
        if s.trigger_cap.is_some_and(|cap| f.lag > cap) && backlogged(f, th) {
            reasons.push(Reason::SparkTriggerCapped);
        }
        if batch_slow(s, th.spark_batch_slow_factor) {
            reasons.push(Reason::SparkBatchSlow);
        }
    }
    let retention = retention_risk(f, th);
    if retention.is_some() {
        reasons.push(Reason::RetentionRisk);
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(severity(*r)));
    let status = reasons
        .iter()
        .map(|r| severity(*r))
        .chain(retention)
        .max()
        .unwrap_or(Status::Ok);
    (status, reasons)
}

/// How close retention is to deleting unread messages: critical under
/// `retention_risk_critical` of headroom; warning under `retention_risk_warning`, or when
/// the backlog will not drain before the headroom runs out. Only a consumer that is not
/// keeping up is judged: a backlog, or a stall. A caught-up consumer reads its oldest unread
/// message within a poll whatever the retention, so it is never at risk (and on a topic
/// kept for less than `retention_risk_warning` it would otherwise always be).
pub fn retention_risk(f: &Facts, th: &Thresholds) -> Option<Status> {
    let headroom = f.retention_headroom.filter(|_| f.lag > 0)?;
    let stalled = f
        .stuck_for
        .is_some_and(|s| s >= th.rate_window.as_secs_f64());
    if !(backlogged(f, th) || stalled) {
        return None;
    }
    if headroom < th.retention_risk_critical.as_secs_f64() {
        Some(Status::Critical)
    } else if headroom < th.retention_risk_warning.as_secs_f64()
        || f.drain_eta.is_some_and(|eta| eta > headroom)
    {
        Some(Status::Warning)
    } else {
        None
    }
}

/// Holds the reported status until a different one has held for `for_polls` polls.
///
/// Before anything is confirmed the report is `ok`, "settling": a status seen on the first
/// poll after a start has to hold like any other change, so one noisy poll at start-up
/// alerts no more than one noisy poll later. Settling is visible so the notifier does not
/// read it as a recovery of an incident it kept across a restart.
#[derive(Debug, Clone, Default)]
pub struct Hysteresis {
    reported: Option<(Status, Vec<Reason>)>,
    differing_polls: u32,
}

impl Hysteresis {
    /// Feeds one poll's raw status; returns the status and reasons to report.
    ///
    /// While the raw status equals the reported one its reasons are reported as they are
    /// now; while it differs, the reasons of the last confirmed status are kept.
    pub fn step(
        &mut self,
        status: Status,
        reasons: Vec<Reason>,
        for_polls: u32,
    ) -> (Status, Vec<Reason>) {
        match &mut self.reported {
            // Nothing confirmed yet and ok now: ok is confirmed, there is nothing to hold.
            None if status == Status::Ok => self.reported = Some((status, reasons)),
            Some((s, r)) if *s == status => {
                *r = reasons;
                self.differing_polls = 0;
            }
            _ => {
                self.differing_polls += 1;
                if self.differing_polls >= for_polls.max(1) {
                    self.reported = Some((status, reasons));
                    self.differing_polls = 0;
                }
            }
        }
        self.current()
    }

    /// The reported status and reasons, without feeding a poll (e.g. the group was unreadable).
    pub fn current(&self) -> (Status, Vec<Reason>) {
        self.reported.clone().unwrap_or_default()
    }

    /// True until a first status has been confirmed: the report is a placeholder `ok`.
    pub fn settling(&self) -> bool {
        self.reported.is_none()
    }
}

#[cfg(test)]
mod tests;
