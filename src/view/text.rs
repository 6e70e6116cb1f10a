//! Wording shared by everything that talks to people (`check`, the demo, notifications):
//! counts, rates, durations, the drain ETA and the runbook action per reason.

use super::{Reason, SparkView};

/// `lag_critical, backlog_replay`.
pub fn reason_list(r: &[Reason]) -> String {
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// The drain ETA in human terms.
pub fn eta(seconds: Option<f64>) -> String {
    match seconds {
        None => "unknown (rates not known yet)".to_owned(),
        Some(s) if !s.is_finite() => "never at current rates".to_owned(),
        Some(s) => format!("~{}", duration(s)),
    }
}

/// `45 s`, `50 min`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{m} min"),
        3600..86_400 if m == 0 => format!("{h} h"),
        3600..86_400 => format!("{h} h {m} min"),
        _ if h == 0 => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

/// `3,000,000`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: whole messages with separators from 100/s, one decimal below.
pub fn rate(x: f64) -> String {
    if x.abs() >= 100.0 {
        count(x.round() as i64)
    } else {
        num(x)
    }
}

/// One decimal, without a trailing `.0`.
pub fn num(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Two decimals (ratios near the 1.0 / 1.2 lines need them).
pub fn num2(x: f64) -> String {
    format!("{x:.2}")
}

/// A Spark query's recent batches in one line, e.g. `~10 s per batch, 10,000 records per
/// batch, batch in flight for 3 s`; None when nothing is known yet.
pub fn spark_batches(s: &SparkView) -> Option<String> {
    let parts: Vec<String> = [
        s.batch_duration_seconds
            .map(|d| format!("~{} per batch", short_duration(d))),
        s.records_per_batch
            .map(|n| format!("{} records per batch", count(n))),
        s.inflight_batch_age_seconds
            .map(|a| format!("batch in flight for {}", short_duration(a))),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// What the Spark batches show behind the Spark reasons present, one sentence each: the
/// inferred `maxOffsetsPerTrigger` and the most it lets the query read, or how the batch in
/// flight compares with the median batch. Empty when no Spark reason is present.
pub fn spark_findings(s: &SparkView, reasons: &[Reason]) -> Vec<String> {
    let mut out = Vec::new();
    if let (true, Some(cap)) = (reasons.contains(&Reason::SparkTriggerCapped), s.trigger_cap) {
        let ceiling = s
            .batch_duration_seconds
            .filter(|d| *d > 0.0)
            .map(|d| {
                format!(
                    ": at ~{} per batch the query reads at most ~{} msg/s",
                    short_duration(d),
                    rate(cap as f64 / d)
                )
            })
            .unwrap_or_default();
        out.push(format!(
            "maxOffsetsPerTrigger caps every batch at \u{2248}{} records{ceiling}",
            count(cap)
        ));
    }
    if let (true, Some(age), Some(median)) = (
        reasons.contains(&Reason::SparkBatchSlow),
        s.inflight_batch_age_seconds,
        s.batch_duration_seconds,
    ) {
        let times = if median > 0.0 {
            format!("{}\u{d7}", num(age / median))
        } else {
            "far longer than".to_owned()
        };
        out.push(format!(
            "the batch in flight has run {}, {times} the median batch (~{})",
            short_duration(age),
            short_duration(median)
        ));
    }
    out
}

/// A duration that keeps tenths below 10 s: Spark batches are often a few seconds long, and
/// `2 s` for 2.4 s would hide a tenfold slowdown of sub-second batches.
fn short_duration(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{} s", num(seconds.max(0.0)))
    } else {
        duration(seconds)
    }
}

/// What to do about each reason, in the order of the reasons, without repeats.
pub fn actions(reasons: &[Reason]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in reasons {
        let a = action(*r);
        if !a.is_empty() && !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty()
        && reasons
            .iter()
            .any(|r| matches!(r, Reason::LagWarning | Reason::LagCritical))
    {
        out.push(
            "Compare the consume rate with the produce rate above; if the consumer cannot \
             catch up, add consumers/partitions or resources.",
        );
    }
    out
}

/// The runbook line for one reason ("" when the reason needs no action of its own).
pub fn action(r: Reason) -> &'static str {
    match r {
        Reason::BacklogReplay => {
            "Process the backlog with a batch job (spark.read with startingOffsets=earliest, \
             endingOffsets=latest), then restart the stream from latest."
        }
        Reason::FallingBehind | Reason::LowHeadroom => {
            "Add consumers/partitions or resources (more cores, a higher \
             maxOffsetsPerTrigger) so the consumer reads at least the headroom times the \
             produce rate."
        }
        Reason::Stalled | Reason::Stopped => {
            "The consumer is hung or down: check its logs and restart it."
        }
        Reason::DataLoss => {
            "Offsets fell below the log start: messages were deleted by retention. Check \
             retention.ms and reset the group's offsets."
        }
        Reason::Rewind => {
            "Offsets went backwards: someone reset the group. Confirm it was intended."
        }
        Reason::NoCommit => {
            "Some partitions have no committed offset: check the consumer's assignment."
        }
        Reason::SourceError => {
            "lagwatch cannot read this query's checkpoint (see Unreadable): check the path, \
             the credentials and the files; its lag is stale or unknown until it reads again."
        }
        Reason::RetentionRisk => {
            "Retention will delete messages this group has not read: speed the consumer up \
             (or process the backlog in batch now), or raise the topic's retention.ms before \
             the headroom runs out."
        }
        Reason::SparkTriggerCapped => {
            "Every Spark batch reads the same number of records (maxOffsetsPerTrigger, the \
             inferred cap is the records per batch) while a backlog waits: raise \
             maxOffsetsPerTrigger, or process the backlog in batch (spark.read with \
             startingOffsets=earliest, endingOffsets=latest) and restart the stream from latest."
        }
        Reason::SparkBatchSlow => {
            "The Spark batch in flight has run several times longer than the usual batch: \
             look in the Spark UI and the executor logs for a stuck task, skew or a slow sink."
        }
        Reason::LagWarning | Reason::LagCritical => "",
    }
}

#[cfg(test)]
mod tests;
