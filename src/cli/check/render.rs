//! What `check` prints, from the clusters' status: the table, the JSON document and the exit
//! code. Pure: no I/O and no clock, so the output is tested exactly.

use crate::state::ClusterStatus;
use crate::view::text::{
    actions, count, duration, eta, rate, reason_list, spark_batches, spark_findings,
};
use crate::view::{GroupTopicView, SparkView, Status};
use std::collections::BTreeMap;

/// Exit code when every group is ok.
pub const EXIT_OK: u8 = 0;
/// Exit code when the worst group is a warning.
pub const EXIT_WARNING: u8 = 1;
/// Exit code when the worst group is critical.
pub const EXIT_CRITICAL: u8 = 2;
/// Exit code when a cluster could not be read (it outranks every status: nothing is known).
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code when a reachable cluster had no group×topic to check: a `--group`/`--topic`
/// typo (or a config filter matching nothing) must not pass a CI gate as "ok".
pub const EXIT_NOTHING_CHECKED: u8 = 5;

/// How the table looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    /// Also print one row per partition, like `kafka-consumer-groups.sh --describe`.
    pub per_partition: bool,
    /// ANSI colors (only on a terminal).
    pub color: bool,
    /// The headroom rule the ratio is judged against (1.2 in the seed).
    pub headroom: f64,
}

/// 0 ok, 1 warning, 2 critical, 3 when any cluster is down or was never read, 5 when a
/// reachable cluster had nothing to check (it outranks the statuses: the check is incomplete).
pub fn exit_code(clusters: &BTreeMap<String, ClusterStatus>) -> u8 {
    if clusters.values().any(|c| !c.up || c.view.is_none()) {
        return EXIT_UNREACHABLE;
    }
    if !nothing_checked(clusters).is_empty() {
        return EXIT_NOTHING_CHECKED;
    }
    let worst = clusters
        .values()
        .filter_map(|c| c.view.as_ref())
        .flat_map(|v| v.groups.iter().map(|g| g.status))
        .max()
        .unwrap_or(Status::Ok);
    match worst {
        Status::Ok => EXIT_OK,
        Status::Warning => EXIT_WARNING,
        Status::Critical => EXIT_CRITICAL,
    }
}

/// The reachable clusters where no group had a topic to check.
pub fn nothing_checked(clusters: &BTreeMap<String, ClusterStatus>) -> Vec<&str> {
    clusters
        .iter()
        .filter(|(_, c)| c.up)
        .filter(|(_, c)| {
            c.view
                .as_ref()
                .is_some_and(|v| v.groups.iter().all(|g| g.topics.is_empty()))
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The JSON document: exactly `GET /api/v1/status` (report.rs, schema_version 1).
pub fn json(clusters: &BTreeMap<String, ClusterStatus>) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&crate::http::api::status_report(clusters))?;
    s.push('\n');
    Ok(s)
}

/// The human table: per cluster, optional partition rows, group×topic totals, then the
/// status, reasons and recommended action of every group×topic that is not ok.
pub fn table(clusters: &BTreeMap<String, ClusterStatus>, o: TableOptions) -> String {
    let mut out = String::new();
    for (name, c) in clusters {
        let Some(view) = c.view.as_ref().filter(|_| c.up) else {
            let why = c.last_error.as_deref().unwrap_or("not polled");
            out.push_str(&paint(
                o.color,
                RED,
                &format!("cluster {name}: UNREACHABLE ({why})\n"),
            ));
            continue;
        };
        let partial = if view.partial {
            " (partial answers)"
        } else {
            ""
        };
        out.push_str(&format!("cluster {name}{partial}\n"));
        if view.groups.is_empty() {
            out.push_str("  no consumer groups matched\n");
            continue;
        }
        if o.per_partition {
            let mut rows = vec![cells(&[
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
            ])];
            for g in &view.groups {
                for t in &g.topics {
                    for p in &t.partitions {
                        rows.push(vec![
                            g.group.clone(),
                            t.topic.to_string(),
                            p.partition.to_string(),
                            p.committed.to_string(),
                            p.log_end.to_string(),
                            p.lag.to_string(),
                        ]);
                    }
                }
            }
            out.push('\n');
            out.push_str(&columns(&rows, &[]));
        }
        let mut rows = vec![cells(&[
            "GROUP",
            "TOPIC",
            "LAG",
            "PRODUCE/S",
            "CONSUME/S",
            "RATIO",
            "TIME-LAG",
            "ETA",
            "RETENTION-LEFT",
            "STATUS",
        ])];
        let mut colors = vec![None];
        let mut details = String::new();
        for g in &view.groups {
            if g.topics.is_empty() {
                let row = [g.group.as_str(), "-", "-", "-", "-", "-", "-", "-", "-"];
                let mut r = cells(&row);
                r.push(format!("{} (no commits)", g.status.as_str()));
                rows.push(r);
                colors.push(status_color(g.status));
            }
            for t in &g.topics {
                rows.push(topic_row(&g.group, t, o.headroom));
                colors.push(status_color(t.status));
                if t.status != Status::Ok {
                    details.push_str(&detail(&g.group, t, g.spark.as_ref(), o));
                }
            }
        }
        out.push('\n');
        out.push_str(&columns(
            &rows,
            &colors
                .iter()
                .map(|c| c.filter(|_| o.color))
                .collect::<Vec<_>>(),
        ));
        if !details.is_empty() {
            out.push('\n');
            out.push_str(&details);
        }
    }
    out
}

fn topic_row(group: &str, t: &GroupTopicView, headroom: f64) -> Vec<String> {
    let r = |x: Option<f64>| x.map_or("?".to_owned(), rate);
    vec![
        group.to_owned(),
        t.topic.to_string(),
        t.lag.to_string(),
        r(t.produce_rate),
        r(t.consume_rate),
        ratio(t.throughput_ratio, headroom),
        t.max_lag_seconds
            .filter(|s| *s > 0.0)
            .map_or("-".to_owned(), |s| format!("~{}", duration(s))),
        if t.lag > 0 {
            short_eta(t.drain_eta_seconds)
        } else {
            "-".to_owned()
        },
        t.retention_headroom_seconds
            .filter(|_| t.lag > 0)
            .map_or("-".to_owned(), |h| format!("~{}", duration(h))),
        t.status.as_str().to_owned(),
    ]
}

/// `1.50x` with a mark for the headroom rule; `?` while unknown.
fn ratio(r: Option<f64>, headroom: f64) -> String {
    match r {
        None => "?".to_owned(),
        Some(x) if x < 1.0 => format!("{x:.2}x <1.0"),
        Some(x) if x < headroom => format!("{x:.2}x <{headroom}"),
        Some(x) => format!("{x:.2}x"),
    }
}

fn short_eta(s: Option<f64>) -> String {
    match s {
        None => "?".to_owned(),
        Some(s) if !s.is_finite() => "never".to_owned(),
        Some(s) => format!("~{}", duration(s)),
    }
}

/// The lines under the table for one group×topic that is not ok (`spark`: the query's
/// batches, for a Spark query).
fn detail(group: &str, t: &GroupTopicView, spark: Option<&SparkView>, o: TableOptions) -> String {
    let head = format!(
        "{} {group} / {}: {}\n",
        t.status.as_str().to_uppercase(),
        t.topic,
        reason_list(&t.reasons)
    );
    let mut s = match status_color(t.status) {
        Some(c) if o.color => paint(true, c, &head),
        _ => head,
    };
    s.push_str(&format!("  lag: {} messages\n", count(t.lag)));
    s.push_str(&format!("  rates: {}\n", verdict(t, o.headroom)));
    if t.lag > 0 {
        s.push_str(&format!("  drain ETA: {}\n", eta(t.drain_eta_seconds)));
    }
    if let Some(h) = t.retention_headroom_seconds.filter(|_| t.lag > 0) {
        s.push_str(&format!(
            "  retention: deletes unread messages in ~{} (oldest unread is {} old)\n",
            duration(h.max(0.0)),
            t.max_lag_seconds.map_or("?".to_owned(), duration)
        ));
    }
    if let Some(sp) = spark {
        if let Some(line) = spark_batches(sp) {
            s.push_str(&format!("  spark batches: {line}\n"));
        }
        for f in spark_findings(sp, &t.reasons) {
            s.push_str(&format!("  diagnosis: {f}\n"));
        }
    }
    for a in actions(&t.reasons) {
        s.push_str(&format!("  action: {a}\n"));
    }
    s
}

/// Produce and consume rates and what the ratio means for a backlogged consumer.
fn verdict(t: &GroupTopicView, headroom: f64) -> String {
    let r = |x: Option<f64>| x.map_or("unknown".to_owned(), |x| format!("{} msg/s", rate(x)));
    let judged = match t.throughput_ratio {
        None => "ratio unknown".to_owned(),
        Some(x) if x < 1.0 => format!("ratio {x:.2}x: below 1.0x, the lag grows without end"),
        Some(x) if x < headroom => format!("ratio {x:.2}x: below the {headroom}x headroom rule"),
        Some(x) => format!("ratio {x:.2}x: meets the {headroom}x headroom rule"),
    };
    format!(
        "produce {}, consume {}; {judged}",
        r(t.produce_rate),
        r(t.consume_rate)
    )
}

fn cells(s: &[&str]) -> Vec<String> {
    s.iter().map(|c| (*c).to_owned()).collect()
}

/// Left-aligned columns separated by two spaces; `colors[i]` paints row i (after padding,
/// so the escape codes do not break the alignment).
fn columns(rows: &[Vec<String>], colors: &[Option<&str>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (j, c) in r.iter().enumerate() {
            if j + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = width[j]));
            }
        }
        match colors.get(i).copied().flatten() {
            Some(code) => out.push_str(&paint(true, code, &line)),
            None => out.push_str(&line),
        }
        out.push('\n');
    }
    out
}

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";

fn status_color(s: Status) -> Option<&'static str> {
    match s {
        Status::Ok => None,
        Status::Warning => Some(YELLOW),
        Status::Critical => Some(RED),
    }
}

/// Wraps `s` (keeping a trailing newline outside) in an ANSI color when `on`.
fn paint(on: bool, code: &str, s: &str) -> String {
    if !on {
        return s.to_owned();
    }
    match s.strip_suffix('\n') {
        Some(body) => format!("{code}{body}\x1b[0m\n"),
        None => format!("{code}{s}\x1b[0m"),
    }
}

#[cfg(test)]
mod tests;
