//! Human text shared by every format: numbers, durations, rates against the headroom rule,
//! drain ETA, the action for each reason and the dashboard link. Pure: no I/O, no clock.

pub mod alertmanager;
pub mod console;
pub mod discord;
pub mod msteams;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use super::alert::{Alert, Batch};
use super::incident::Change;
use crate::view::text::{
    actions, count, duration, eta, num, num2, rate, reason_list, spark_batches, spark_findings,
};
use crate::view::Status;

/// One alert as text: a title and labelled lines; each format adds its own markup.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertText {
    /// e.g. `CRITICAL: spark-streaming-group / transactions (opened)`.
    pub title: String,
    /// (label, value) lines in reading order.
    pub lines: Vec<(&'static str, String)>,
    /// The dashboard link, with placeholders filled in.
    pub link: Option<String>,
}

/// Severity marker shared by the formats.
pub fn emoji(a: &Alert) -> &'static str {
    match a.status {
        Status::Critical => "🔴",
        Status::Warning => "🟠",
        Status::Ok => "✅",
    }
}

/// `group / topic`, or just the group when the status is about the whole group.
pub fn subject(a: &Alert) -> String {
    if a.topic.is_empty() {
        a.group.clone()
    } else {
        format!("{} / {}", a.group, a.topic)
    }
}

/// `CRITICAL`, `WARNING` or `RESOLVED`.
pub fn label(a: &Alert) -> &'static str {
    match a.status {
        Status::Critical => "CRITICAL",
        Status::Warning => "WARNING",
        Status::Ok => "RESOLVED",
    }
}

/// What happened, in words; `at` is when (for "open for 1 h").
pub fn change_text(a: &Alert, at: f64) -> String {
    let was = |p: Option<Status>| p.map_or("", |p| p.as_str());
    let age = duration(at - a.opened_at);
    match a.change {
        Change::Opened => "opened".to_owned(),
        Change::Escalated => format!("escalated from {}", was(a.previous)),
        Change::Deescalated => format!("de-escalated from {}", was(a.previous)),
        Change::Reminder => format!("still open after {age}"),
        Change::Resolved => format!("was {} for {age}", was(a.previous)),
        Change::Gone => "no longer reported".to_owned(),
        Change::BelowMinSeverity => format!("no longer {}", was(a.previous)),
    }
}

/// The one-line headline of a message, e.g. `lagwatch [prod]: 2 critical, 1 resolved`.
pub fn headline(b: &Batch) -> String {
    let count = |f: &dyn Fn(&Alert) -> bool| b.alerts.iter().filter(|a| f(a)).count();
    let closed = |a: &Alert| {
        matches!(
            a.change,
            Change::Resolved | Change::Gone | Change::BelowMinSeverity
        )
    };
    let parts: Vec<String> = [
        (
            count(&|a| a.status == Status::Critical && !closed(a)),
            "critical",
        ),
        (
            count(&|a| a.status == Status::Warning && !closed(a)),
            "warning",
        ),
        (count(&closed), "resolved"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    format!("lagwatch [{}]: {}", b.cluster, parts.join(", "))
}

/// A short one-line summary of an alert (Slack's fallback text, console listings).
pub fn one_line(a: &Alert, at: f64) -> String {
    let mut s = format!(
        "{} {}: {} ({})",
        emoji(a),
        label(a),
        subject(a),
        change_text(a, at)
    );
    if let Some(lag) = a.lag {
        s.push_str(&format!(" · lag {}", count(lag)));
    }
    if !a.reasons.is_empty() {
        s.push_str(&format!(" · {}", reason_list(&a.reasons)));
    }
    s
}

/// The full text of one alert.
pub fn alert_text(a: &Alert, b: &Batch, dashboard: Option<&str>) -> AlertText {
    let cluster = b.cluster.as_str();
    let title = format!(
        "{} {}: {} ({})",
        emoji(a),
        label(a),
        subject(a),
        change_text(a, b.at)
    );
    let mut lines: Vec<(&'static str, String)> = vec![("Cluster", cluster.to_owned())];
    let status = match (a.change, a.previous) {
        (Change::Gone, Some(p)) => format!(
            "resolved (no longer reported: group or topic deleted, or no longer watched); \
             was {}",
            p.as_str()
        ),
        (Change::Resolved, Some(p)) => format!("ok again (was {})", p.as_str()),
        (Change::BelowMinSeverity, Some(p)) => format!(
            "{} (was {}); this channel only gets {}",
            a.status.as_str(),
            p.as_str(),
            p.as_str()
        ),
        (Change::Escalated | Change::Deescalated, Some(p)) => {
            format!("{} (was {})", a.status.as_str(), p.as_str())
        }
        _ => a.status.as_str().to_owned(),
    };
    lines.push(("Status", status));
    if let Some(e) = &a.error {
        lines.push(("Unreadable", e.clone()));
    }
    if !a.reasons.is_empty() {
        lines.push(("Reasons", reason_list(&a.reasons)));
    }
    if let Some(lag) = a.lag {
        let mut s = format!("{} messages", count(lag));
        if let Some((p, l)) = a.worst_partition.filter(|(_, l)| *l > 0) {
            s.push_str(&format!(" (worst partition {p}: {})", count(l)));
        }
        lines.push(("Lag", s));
    }
    if let Some(t) = a.max_lag_seconds.filter(|t| *t > 0.0) {
        lines.push(("Time lag", format!("~{}", duration(t))));
    }
    if a.produce_rate.is_some() || a.consume_rate.is_some() {
        lines.push(("Rates", rates(a)));
    }
    // Closed incidents report the final numbers but need no ETA or action.
    let open = a.status != Status::Ok;
    if let Some(s) = &a.spark {
        if let Some(line) = spark_batches(s) {
            lines.push(("Spark batches", line));
        }
        let found = spark_findings(s, &a.reasons);
        if open && !found.is_empty() {
            lines.push(("Diagnosis", found.join("; ")));
        }
    }
    if open && a.lag.is_some_and(|l| l > 0) {
        lines.push(("Drain ETA", eta(a.drain_eta_seconds)));
    }
    if let Some(h) = a
        .retention_headroom_seconds
        .filter(|_| open && a.lag.is_some_and(|l| l > 0))
    {
        let when = if h <= 0.0 {
            "is deleting unread messages now".to_owned()
        } else {
            format!("deletes unread messages in ~{}", duration(h))
        };
        lines.push((
            "Retention",
            format!("{when}; drain ETA {}", eta(a.drain_eta_seconds)),
        ));
    }
    if a.messages_lost > 0 {
        lines.push((
            "Data lost",
            format!(
                "{} messages deleted before being consumed",
                count(a.messages_lost)
            ),
        ));
    }
    if open {
        let acts = actions(&a.reasons);
        if !acts.is_empty() {
            lines.push(("Action", acts.join(" ")));
        }
    }
    AlertText {
        title,
        lines,
        link: dashboard.map(|d| dashboard_link(d, cluster, &a.group, &a.topic)),
    }
}

/// Produce and consume rates with their ratio against the headroom rule.
pub fn rates(a: &Alert) -> String {
    let r = |x: Option<f64>| x.map_or("unknown".to_owned(), |x| format!("{} msg/s", rate(x)));
    let ratio = match (a.throughput_ratio, a.produce_rate) {
        (Some(x), _) => {
            let verdict = if x < 1.0 {
                "below 1.0x: the lag grows".to_owned()
            } else if x < a.headroom {
                format!(
                    "below the {}x rule for a backlogged consumer",
                    num(a.headroom)
                )
            } else {
                format!("meets the {}x rule", num(a.headroom))
            };
            format!("ratio {}x ({verdict})", num2(x))
        }
        (None, Some(p)) if p <= 0.0 => "ratio n/a (nothing is being produced)".to_owned(),
        _ => "ratio unknown".to_owned(),
    };
    format!(
        "produce {}, consume {}; {ratio}",
        r(a.produce_rate),
        r(a.consume_rate)
    )
}

/// The dashboard URL with `{cluster}`, `{group}` and `{topic}` filled in (percent-encoded).
pub fn dashboard_link(template: &str, cluster: &str, group: &str, topic: &str) -> String {
    template
        .replace("{cluster}", &encode(cluster))
        .replace("{group}", &encode(group))
        .replace("{topic}", &encode(topic))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
