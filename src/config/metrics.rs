//! The `metrics:` section: which families /metrics emits and at what granularity. The status
//! engine never reads it: alerts, notifications, the API and `check` always see partitions.

use super::reader::{join, Cx, MapView};
use super::yaml::{Node, Pos};
use regex::Regex;
use std::collections::BTreeSet;

/// Every native metric family name lagwatch can emit (dashboards and rules are linted
/// against it, and `metrics.exclude` may name any of these).
pub const METRIC_NAMES: &[&str] = &[
    "lagwatch_build_info",
    "lagwatch_cluster_up",
    "lagwatch_poll_partial",
    "lagwatch_poll_duration_seconds",
    "lagwatch_poll_errors_total",
    "lagwatch_kafka_requests_total",
    "lagwatch_last_poll_timestamp_seconds",
    "lagwatch_partition_log_end_offset",
    "lagwatch_partition_log_start_offset",
    "lagwatch_partition_produce_rate",
    "lagwatch_topic_produce_rate",
    "lagwatch_group_info",
    "lagwatch_group_members",
    "lagwatch_group_partition_committed_offset",
    "lagwatch_group_partition_lag",
    "lagwatch_group_partition_lag_seconds",
    "lagwatch_group_partition_messages_lost",
    "lagwatch_group_partition_inflight_lag",
    "lagwatch_group_topic_lag",
    "lagwatch_group_topic_max_lag_seconds",
    "lagwatch_group_topic_consume_rate",
    "lagwatch_group_topic_throughput_ratio",
    "lagwatch_group_topic_drain_eta_seconds",
    "lagwatch_group_topic_status",
    "lagwatch_group_topic_reason",
    "lagwatch_group_lag",
    "lagwatch_group_max_lag_seconds",
    "lagwatch_group_status",
    "lagwatch_share_group_info",
    "lagwatch_share_group_members",
    "lagwatch_share_group_lag",
    "lagwatch_share_group_partition_lag",
    "lagwatch_share_group_partition_start_offset",
    "lagwatch_spark_last_commit_age_seconds",
    "lagwatch_spark_batch_duration_seconds",
    "lagwatch_spark_records_per_batch",
    "lagwatch_spark_inflight_batch_age_seconds",
    "lagwatch_source_up",
    "lagwatch_unauthorized",
    "lagwatch_kafka_client_info",
    "lagwatch_topic_retention_seconds",
    "lagwatch_topic_retention_bytes",
    "lagwatch_group_topic_retention_headroom_seconds",
    "lagwatch_notifications_total",
    "lagwatch_notifier_queue_length",
    "lagwatch_notifier_oldest_pending_timestamp_seconds",
    "lagwatch_actions_total",
    "lagwatch_coordination_leader",
    "lagwatch_coordination_members",
    "lagwatch_cluster_owned",
];

/// Another exporter whose family names lagwatch can emit as well (`metrics.compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compat {
    /// danielqsj/kafka_exporter.
    KafkaExporter,
    /// seglo/kafka-lag-exporter (archived).
    KafkaLagExporter,
}

impl Compat {
    /// Every compat set, in config spelling order.
    pub const ALL: [Compat; 2] = [Compat::KafkaExporter, Compat::KafkaLagExporter];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compat::KafkaExporter => "kafka_exporter",
            Compat::KafkaLagExporter => "kafka_lag_exporter",
        }
    }

    /// The families this set adds, by their own names.
    pub fn families(self) -> &'static [&'static str] {
        match self {
            Compat::KafkaExporter => &[
                "kafka_consumergroup_lag",
                "kafka_consumergroup_lag_sum",
                "kafka_consumergroup_current_offset",
                "kafka_consumergroup_members",
                "kafka_topic_partition_current_offset",
                "kafka_topic_partition_oldest_offset",
                "kafka_topic_partitions",
            ],
            Compat::KafkaLagExporter => &[
                "kafka_consumergroup_group_lag",
                "kafka_consumergroup_group_lag_seconds",
                "kafka_consumergroup_group_max_lag",
                "kafka_consumergroup_group_max_lag_seconds",
                "kafka_consumergroup_group_sum_lag",
                "kafka_partition_latest_offset",
                "kafka_partition_earliest_offset",
            ],
        }
    }
}

/// How finely the view families are broken down. Ordered coarsest first, so a family that
/// needs `Topic` is kept wherever the granularity is at least `Topic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Granularity {
    /// Per group (and per cluster): no topic or partition label.
    Group,
    /// Per group and topic: no partition label.
    Topic,
    /// Everything, down to partitions.
    #[default]
    Partition,
}

impl Granularity {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Group => "group",
            Granularity::Topic => "topic",
            Granularity::Partition => "partition",
        }
    }

    fn parse(s: &str) -> Option<Granularity> {
        [
            Granularity::Group,
            Granularity::Topic,
            Granularity::Partition,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// A granularity for the series of the groups/topics matching the regexes.
#[derive(Debug, Clone)]
pub struct GranularityOverride {
    /// Group regex (any group when absent; series without a group never match one).
    pub group: Option<Regex>,
    /// Topic regex (any topic when absent; series without a topic never match one).
    pub topic: Option<Regex>,
    /// The granularity of the matching series.
    pub granularity: Granularity,
}

/// What /metrics emits.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// Granularity where no override matches.
    pub granularity: Granularity,
    /// Overrides in file order; the first match wins.
    pub overrides: Vec<GranularityOverride>,
    /// Families switched off, by name (native or compat).
    pub exclude: BTreeSet<String>,
    /// Other exporters' families emitted too.
    pub compat: BTreeSet<Compat>,
}

impl MetricsConfig {
    /// The granularity of a series with these group and topic labels: the first matching
    /// override, else the global one.
    pub fn granularity_for(&self, group: Option<&str>, topic: Option<&str>) -> Granularity {
        let hit = |re: &Option<Regex>, v: Option<&str>| match re {
            None => true,
            Some(r) => v.is_some_and(|v| r.is_match(v)),
        };
        self.overrides
            .iter()
            .find(|o| hit(&o.group, group) && hit(&o.topic, topic))
            .map_or(self.granularity, |o| o.granularity)
    }

    /// Whether the family `name` is switched off.
    pub fn excluded(&self, name: &str) -> bool {
        self.exclude.contains(name)
    }
}

/// Whether `name` is a family `metrics.exclude` may name.
fn known_family(name: &str) -> bool {
    METRIC_NAMES.contains(&name) || Compat::ALL.iter().any(|c| c.families().contains(&name))
}

pub(super) fn read_metrics(cx: &mut Cx<'_>, node: &Node, path: &str) -> MetricsConfig {
    let Some(m) = cx.map(
        node,
        path,
        &["granularity", "overrides", "exclude", "compat"],
    ) else {
        return MetricsConfig::default();
    };
    let granularity = read_granularity(cx, m, path).unwrap_or_default();
    let mut overrides = Vec::new();
    for (op, on) in cx.opt_list(m, path, "overrides") {
        let Some(om) = cx.map(on, &op, &["group", "topic", "granularity"]) else {
            continue;
        };
        let group = super::rules::one_regex(cx, om, &op, "group");
        let topic = super::rules::one_regex(cx, om, &op, "topic");
        if om.get("group").is_none() && om.get("topic").is_none() {
            cx.error(
                om.pos,
                &op,
                "an override needs `group` and/or `topic` (a regex)",
            );
        }
        let Some(g) = read_granularity(cx, om, &op) else {
            if om.get("granularity").is_none() {
                cx.error(om.pos, &join(&op, "granularity"), "missing `granularity`");
            }
            continue;
        };
        overrides.push(GranularityOverride {
            group,
            topic,
            granularity: g,
        });
    }
    let mut exclude = BTreeSet::new();
    let items = cx.opt_string_list(m, path, "exclude");
    for (i, (name, pos)) in items.into_iter().enumerate() {
        let field = format!("{}[{i}]", join(path, "exclude"));
        if known_family(&name) {
            exclude.insert(name);
        } else {
            unknown(cx, pos, &field, &name);
        }
    }
    let mut compat = BTreeSet::new();
    let items = cx.opt_string_list(m, path, "compat");
    for (i, (name, pos)) in items.into_iter().enumerate() {
        match Compat::ALL.into_iter().find(|c| c.as_str() == name) {
            Some(c) => {
                compat.insert(c);
            }
            None => cx.error(
                pos,
                &format!("{}[{i}]", join(path, "compat")),
                format!("unknown compat set `{name}` (kafka_exporter, kafka_lag_exporter)"),
            ),
        }
    }
    MetricsConfig {
        granularity,
        overrides,
        exclude,
        compat,
    }
}

fn read_granularity(cx: &mut Cx<'_>, m: MapView<'_>, path: &str) -> Option<Granularity> {
    let s = cx.opt_string(m, path, "granularity")?;
    let g = Granularity::parse(&s);
    if g.is_none() {
        let pos = m.get("granularity").map_or(m.pos, |n| n.pos);
        cx.error(
            pos,
            &join(path, "granularity"),
            format!("unknown granularity `{s}` (partition, topic or group)"),
        );
    }
    g
}

fn unknown(cx: &mut Cx<'_>, pos: Pos, field: &str, name: &str) {
    let all: Vec<&str> = METRIC_NAMES
        .iter()
        .chain(Compat::ALL.iter().flat_map(|c| c.families()))
        .copied()
        .collect();
    let hint = super::did_you_mean(name, &all)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    cx.error(pos, field, format!("unknown metric family `{name}`{hint}"));
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
