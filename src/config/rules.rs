//! The `rules:` section: the status engine's thresholds, globally and per group/topic.

use super::bounds;
use super::reader::{join, Cx, MapView};
use super::yaml::Node;
use regex::Regex;
use std::time::Duration;

const THRESHOLD_KEYS: &[&str] = &[
    "lag_warning",
    "lag_critical",
    "headroom",
    "backlog_min_messages",
    "backlog_min_seconds",
    "rate_window",
    "stopped_after",
    "for_polls",
    "backlog_replay_fraction",
    "retention_risk_warning",
    "retention_risk_critical",
    "spark_batch_slow_factor",
];

/// Thresholds of the status engine; defaults are the seed incident's.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Lag (messages) at or above which a group/topic is `warning`.
    pub lag_warning: i64,
    /// Lag (messages) at or above which a group/topic is `critical`.
    pub lag_critical: i64,
    /// A backlogged consumer must consume at least this many times the produce rate.
    pub headroom: f64,
    /// Lag below this is never "backlogged" (a caught-up consumer's normal jitter).
    pub backlog_min_messages: i64,
    /// Lag must also exceed this much production time to count as backlogged.
    pub backlog_min_seconds: f64,
    /// Window over which rates are computed and stalls are judged.
    pub rate_window: Duration,
    /// No commit for this long with lag > 0 (or no members) means `stopped`.
    pub stopped_after: Duration,
    /// Consecutive polls a new status must hold before it is reported.
    pub for_polls: u32,
    /// Consumer within this fraction of the retained log from its start = replaying a backlog.
    pub backlog_replay_fraction: f64,
    /// Retention headroom under which `retention_risk` is a warning.
    pub retention_risk_warning: Duration,
    /// Retention headroom under which `retention_risk` is critical.
    pub retention_risk_critical: Duration,
    /// A Spark batch in flight longer than this many times the median batch duration is
    /// `spark_batch_slow`.
    pub spark_batch_slow_factor: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            lag_warning: 100_000,
            lag_critical: 1_000_000,
            headroom: 1.2,
            backlog_min_messages: 10_000,
            backlog_min_seconds: 60.0,
            rate_window: Duration::from_secs(300),
            stopped_after: Duration::from_secs(900),
            for_polls: 2,
            backlog_replay_fraction: 0.1,
            retention_risk_warning: Duration::from_secs(3600),
            retention_risk_critical: Duration::from_secs(900),
            spark_batch_slow_factor: 3.0,
        }
    }
}

/// Global thresholds plus per group/topic overrides (first match wins per field).
#[derive(Debug, Clone, Default)]
pub struct RulesConfig {
    /// Thresholds used where no override matches.
    pub defaults: Thresholds,
    /// Overrides in file order.
    pub overrides: Vec<RuleOverride>,
}

/// Thresholds that apply to groups/topics matching the regexes.
#[derive(Debug, Clone)]
pub struct RuleOverride {
    /// Group regex (any group when absent).
    pub group: Option<Regex>,
    /// Topic regex (any topic when absent).
    pub topic: Option<Regex>,
    /// The complete thresholds for matches (defaults merged with the fields set).
    pub thresholds: Thresholds,
}

impl RulesConfig {
    /// The thresholds for one group×topic: the first matching override, else the defaults.
    pub fn for_group_topic(&self, group: &str, topic: &str) -> &Thresholds {
        self.overrides
            .iter()
            .find(|o| {
                o.group.as_ref().is_none_or(|r| r.is_match(group))
                    && o.topic.as_ref().is_none_or(|r| r.is_match(topic))
            })
            .map(|o| &o.thresholds)
            .unwrap_or(&self.defaults)
    }
}

fn read_thresholds(cx: &mut Cx<'_>, m: MapView<'_>, path: &str, base: &Thresholds) -> Thresholds {
    let mut t = base.clone();
    if let Some(v) = cx.opt_int(m, path, "lag_warning", 1, i64::MAX) {
        t.lag_warning = v;
    }
    if let Some(v) = cx.opt_int(m, path, "lag_critical", 1, i64::MAX) {
        t.lag_critical = v;
    }
    if let Some(v) = cx.opt_float(m, path, "headroom", 0.0, 100.0) {
        if v < 1.0 {
            let pos = m.get("headroom").map(|n| n.pos).unwrap_or(m.pos);
            cx.error(pos, &join(path, "headroom"), format!("headroom {v} is below 1.0: a consumer slower than its producer never catches up"));
        }
        t.headroom = v;
    }
    if let Some(v) = cx.opt_int(m, path, "backlog_min_messages", 0, i64::MAX) {
        t.backlog_min_messages = v;
    }
    if let Some(v) = cx.opt_float(m, path, "backlog_min_seconds", 0.0, 1e9) {
        t.backlog_min_seconds = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "rate_window", bounds::RATE_WINDOW) {
        t.rate_window = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "stopped_after", bounds::STOPPED_AFTER) {
        t.stopped_after = v;
    }
    if let Some(v) = cx.opt_int(m, path, "for_polls", 1, 1000) {
        t.for_polls = v as u32;
    }
    if let Some(v) = cx.opt_float(m, path, "backlog_replay_fraction", 0.0, 1.0) {
        t.backlog_replay_fraction = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "retention_risk_warning", bounds::RETENTION_RISK) {
        t.retention_risk_warning = v;
    }
    if let Some(v) = cx.opt_duration(m, path, "retention_risk_critical", bounds::RETENTION_RISK) {
        t.retention_risk_critical = v;
    }
    if let Some(v) = cx.opt_float(m, path, "spark_batch_slow_factor", 1.0, 1000.0) {
        t.spark_batch_slow_factor = v;
    }
    if t.retention_risk_critical > t.retention_risk_warning {
        let pos = m
            .get("retention_risk_critical")
            .or(m.get("retention_risk_warning"))
            .map_or(m.pos, |n| n.pos);
        cx.error(
            pos,
            &join(path, "retention_risk_critical"),
            format!(
                "retention_risk_critical {} is above retention_risk_warning {}",
                humantime::format_duration(t.retention_risk_critical),
                humantime::format_duration(t.retention_risk_warning)
            ),
        );
    }
    if t.lag_warning > t.lag_critical {
        let pos = m
            .get("lag_warning")
            .or(m.get("lag_critical"))
            .map(|n| n.pos)
            .unwrap_or(m.pos);
        cx.error(
            pos,
            &join(path, "lag_warning"),
            format!(
                "lag_warning {} is above lag_critical {}",
                t.lag_warning, t.lag_critical
            ),
        );
    }
    t
}

pub(super) fn read_rules(cx: &mut Cx<'_>, node: &Node, path: &str) -> RulesConfig {
    let mut keys = THRESHOLD_KEYS.to_vec();
    keys.push("overrides");
    let Some(m) = cx.map(node, path, &keys) else {
        return RulesConfig::default();
    };
    let defaults = read_thresholds(cx, m, path, &Thresholds::default());
    let mut okeys = THRESHOLD_KEYS.to_vec();
    okeys.extend(["group", "topic"]);
    let mut overrides = Vec::new();
    for (op, on) in cx.opt_list(m, path, "overrides") {
        let Some(om) = cx.map(on, &op, &okeys) else {
            continue;
        };
        let group = one_regex(cx, om, &op, "group");
        let topic = one_regex(cx, om, &op, "topic");
        if om.get("group").is_none() && om.get("topic").is_none() {
            cx.error(
                om.pos,
                &op,
                "an override needs `group` and/or `topic` (a regex)",
            );
        }
        let thresholds = read_thresholds(cx, om, &op, &defaults);
        overrides.push(RuleOverride {
            group,
            topic,
            thresholds,
        });
    }
    RulesConfig {
        defaults,
        overrides,
    }
}

pub(super) fn one_regex(cx: &mut Cx<'_>, m: MapView<'_>, path: &str, key: &str) -> Option<Regex> {
    let node = m.get(key)?;
    let field = join(path, key);
    let s = cx.string(node, &field)?;
    match Regex::new(&s) {
        Ok(r) => Some(r),
        Err(e) => {
            let last = e.to_string().lines().last().unwrap_or("").trim().to_owned();
            cx.error(node.pos, &field, format!("invalid regex `{s}`: {last}"));
            None
        }
    }
}
