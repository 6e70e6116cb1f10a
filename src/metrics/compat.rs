//! `metrics.compat`: kafka_exporter's and kafka-lag-exporter's families, with their names
//! and label names, computed from the same views as the native families so both always
//! agree. Only Kafka consumer groups appear (those exporters know no Spark query and no
//! share group); the granularity and `metrics.exclude` apply as to native families.

use super::collector::{group_partitions, group_topics, groups, partitions, topics, GpRow, Views};
use super::family::{b, family, part, Label, Num, Out};
use crate::config::Compat;
use crate::snapshot::{GroupSource, Member};
use crate::state::ClusterStatus;
use crate::view::{GroupView, PartitionView, TopicView};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Error;

/// Each compat family and the native family (or computation) it is read from: the
/// README's mapping table lists the same rows, and tests compare each pair's values.
pub const MAPPINGS: &[(&str, &str)] = &[
    ("kafka_consumergroup_lag", "lagwatch_group_partition_lag"),
    ("kafka_consumergroup_lag_sum", "lagwatch_group_topic_lag"),
    (
        "kafka_consumergroup_current_offset",
        "lagwatch_group_partition_committed_offset",
    ),
    ("kafka_consumergroup_members", "lagwatch_group_members"),
    (
        "kafka_topic_partition_current_offset",
        "lagwatch_partition_log_end_offset",
    ),
    (
        "kafka_topic_partition_oldest_offset",
        "lagwatch_partition_log_start_offset",
    ),
    (
        "kafka_topic_partitions",
        "count by (cluster, topic) (lagwatch_partition_log_end_offset)",
    ),
    (
        "kafka_consumergroup_group_lag",
        "lagwatch_group_partition_lag",
    ),
    (
        "kafka_consumergroup_group_lag_seconds",
        "lagwatch_group_partition_lag_seconds",
    ),
    (
        "kafka_consumergroup_group_max_lag",
        "max by (cluster, group) (lagwatch_group_partition_lag)",
    ),
    (
        "kafka_consumergroup_group_max_lag_seconds",
        "lagwatch_group_max_lag_seconds",
    ),
    ("kafka_consumergroup_group_sum_lag", "lagwatch_group_lag"),
    (
        "kafka_partition_latest_offset",
        "lagwatch_partition_log_end_offset",
    ),
    (
        "kafka_partition_earliest_offset",
        "lagwatch_partition_log_start_offset",
    ),
];

/// Kafka consumer groups only: a Spark query is not a group either exporter would show.
fn kafka(g: &GroupView) -> bool {
    g.source == GroupSource::Kafka
}

/// The largest partition lag of a group (kafka-lag-exporter's max lag); none without
/// partitions, where that exporter shows no series either.
pub fn max_partition_lag(g: &GroupView) -> Option<i64> {
    g.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.lag))
        .max()
}

/// Who a partition is assigned to, by (group, topic, partition), from the members whose
/// assignment the coordinator described (KIP-848 groups; a classic group's is opaque).
pub fn assignments(members: &BTreeMap<String, Vec<Member>>) -> HashMap<(&str, &str, i32), &Member> {
    let mut out = HashMap::new();
    for (group, ms) in members {
        for m in ms {
            for (topic, parts) in m.assignment.iter().flatten() {
                for p in parts {
                    out.insert((group.as_str(), topic.as_str(), *p), m);
                }
            }
        }
    }
    out
}

type Owners<'v> = HashMap<&'v str, HashMap<(&'v str, &'v str, i32), &'v Member>>;

/// Encodes the families of every compat set `metrics.compat` names.
pub(super) fn encode(
    clusters: &BTreeMap<String, ClusterStatus>,
    vs: &Views<'_>,
    e: &mut Out<'_, '_>,
) -> Result<(), Error> {
    if e.sel.compat.contains(&Compat::KafkaExporter) {
        kafka_exporter(vs, e)?;
    }
    if e.sel.compat.contains(&Compat::KafkaLagExporter) {
        let owners: Owners<'_> = clusters
            .iter()
            .filter_map(|(c, s)| s.details.as_deref().map(|d| (c.as_str(), d)))
            .map(|(c, d)| (c, assignments(&d.members)))
            .collect();
        kafka_lag_exporter(vs, &owners, e)?;
    }
    Ok(())
}

fn ke_part<'v>((c, g, t, p): GpRow<'v>) -> [Label<'v>; 4] {
    [
        ("cluster", b(c)),
        ("consumergroup", b(&g.group)),
        ("topic", b(&t.topic)),
        ("partition", part(p.partition)),
    ]
}

type PartRow<'v> = (&'v str, &'v TopicView, &'v PartitionView);

fn ke_topic_part<'v>((c, t, p): PartRow<'v>) -> [Label<'v>; 3] {
    [
        ("cluster", b(c)),
        ("topic", b(&t.topic)),
        ("partition", part(p.partition)),
    ]
}

fn kle_topic_part<'v>((c, t, p): PartRow<'v>) -> [Label<'v>; 3] {
    [
        ("cluster_name", b(c)),
        ("topic", b(&t.topic)),
        ("partition", part(p.partition)),
    ]
}

fn kle_member_labels<'v>(owners: &Owners<'v>, (c, g, t, p): GpRow<'v>) -> [Label<'v>; 7] {
    let topic: &'v str = &t.topic;
    let m = owners
        .get(c)
        .and_then(|o| o.get(&(g.group.as_str(), topic, p.partition)));
    // kafka-lag-exporter leaves these empty for a partition no member holds.
    let (host, id, client) = m.map_or(("", "", ""), |m| {
        (m.host.as_str(), m.member_id.as_str(), m.client_id.as_str())
    });
    [
        ("cluster_name", b(c)),
        ("group", b(&g.group)),
        ("topic", b(topic)),
        ("partition", part(p.partition)),
        ("member_host", b(host)),
        ("consumer_id", b(id)),
        ("client_id", b(client)),
    ]
}

/// lagwatch does not read a group's protocol type, so it cannot tell a simple (assign-only)
/// consumer group: "false" always, rather than a guess that flips with the group's state.
fn kle_simple<'v>((c, g): (&'v str, &'v GroupView)) -> [Label<'v>; 3] {
    [
        ("cluster_name", b(c)),
        ("group", b(&g.group)),
        ("is_simple_consumer", b("false")),
    ]
}

fn kafka_exporter(vs: &Views<'_>, e: &mut Out<'_, '_>) -> Result<(), Error> {
    let gp = || group_partitions(vs).filter(|r| kafka(r.1));
    family(
        e,
        "kafka_consumergroup_current_offset",
        "Current Offset of a ConsumerGroup at Topic/Partition (lagwatch: committed offset)",
        gp(),
        ke_part,
        |r| Some(Num::I(r.3.committed)),
    )?;
    family(
        e,
        "kafka_consumergroup_lag",
        "Current Approximate Lag of a ConsumerGroup at Topic/Partition (lagwatch: log end - committed)",
        gp(),
        ke_part,
        |r| Some(Num::I(r.3.lag)),
    )?;
    family(
        e,
        "kafka_consumergroup_lag_sum",
        "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
        group_topics(vs).filter(|r| kafka(r.1)),
        |(c, g, t)| {
            [
                ("cluster", b(c)),
                ("consumergroup", b(&g.group)),
                ("topic", b(&t.topic)),
            ]
        },
        |r| Some(Num::I(r.2.lag)),
    )?;
    family(
        e,
        "kafka_consumergroup_members",
        "Amount of members in a consumer group",
        groups(vs).filter(|r| kafka(r.1)),
        |(c, g)| [("cluster", b(c)), ("consumergroup", b(&g.group))],
        |(_, g)| g.members.map(|m| Num::I(i64::from(m))),
    )?;
    family(
        e,
        "kafka_topic_partition_current_offset",
        "Current Offset of a Broker at Topic/Partition (lagwatch: high watermark)",
        partitions(vs),
        ke_topic_part,
        |(_, _, p)| Some(Num::I(p.log_end)),
    )?;
    family(
        e,
        "kafka_topic_partition_oldest_offset",
        "Oldest Offset of a Broker at Topic/Partition (lagwatch: log start offset)",
        partitions(vs),
        ke_topic_part,
        |(_, _, p)| Some(Num::I(p.log_start)),
    )?;
    family(
        e,
        "kafka_topic_partitions",
        "Number of partitions for this Topic",
        topics(vs),
        |(c, t)| [("cluster", b(c)), ("topic", b(&t.topic))],
        |(_, t)| Some(Num::I(t.partitions.len() as i64)),
    )
}

fn kafka_lag_exporter<'v>(
    vs: &'v Views<'v>,
    owners: &Owners<'v>,
    e: &mut Out<'_, '_>,
) -> Result<(), Error> {
    let gp = || group_partitions(vs).filter(|r| kafka(r.1));
    let member_labels = |r| kle_member_labels(owners, r);
    family(
        e,
        "kafka_consumergroup_group_lag",
        "Group offset lag of a partition (lagwatch: log end - committed)",
        gp(),
        member_labels,
        |r| Some(Num::I(r.3.lag)),
    )?;
    family(
        e,
        "kafka_consumergroup_group_lag_seconds",
        "Group time lag of a partition, seconds (lagwatch's time lag)",
        gp(),
        member_labels,
        |r| r.3.lag_seconds.map(Num::F),
    )?;
    let kg = || groups(vs).filter(|r| kafka(r.1));
    family(
        e,
        "kafka_consumergroup_group_max_lag",
        "Max group offset lag over the group's partitions",
        kg(),
        kle_simple,
        |(_, g)| max_partition_lag(g).map(Num::I),
    )?;
    family(
        e,
        "kafka_consumergroup_group_max_lag_seconds",
        "Max group time lag over the group's partitions, seconds",
        kg(),
        kle_simple,
        |(_, g)| g.max_lag_seconds.map(Num::F),
    )?;
    family(
        e,
        "kafka_consumergroup_group_sum_lag",
        "Sum of group offset lag over the group's partitions",
        kg(),
        |(c, g)| [("cluster_name", b(c)), ("group", b(&g.group))],
        |(_, g)| g.lag.map(Num::I),
    )?;
    family(
        e,
        "kafka_partition_latest_offset",
        "Latest offset of a partition (lagwatch: high watermark)",
        partitions(vs),
        kle_topic_part,
        |(_, _, p)| Some(Num::I(p.log_end)),
    )?;
    family(
        e,
        "kafka_partition_earliest_offset",
        "Earliest offset of a partition (lagwatch: log start offset)",
        partitions(vs),
        kle_topic_part,
        |(_, _, p)| Some(Num::I(p.log_start)),
    )
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod tests;
