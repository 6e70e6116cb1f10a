//! Encodes the latest views at scrape time; no Kafka call happens here.
//!
//! Samples are streamed family by family straight from the views into the encoder: no
//! per-sample allocation is kept, so a scrape of a large cluster costs the output buffer
//! and little else (collecting the samples first made RSS grow with every series).

use super::family::{b, family, part, Label, Num, Out};
use crate::config::MetricsConfig;
use crate::snapshot::{GroupSource, GroupState, GroupType};
use crate::state::AppState;
use crate::view::{
    ClusterView, GroupPartitionView, GroupTopicView, GroupView, PartitionView, ShareGroupView,
    Status, TopicView,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use std::fmt::Error;
use std::sync::Arc;

/// Builds the view-derived families from [`AppState`] on every scrape.
#[derive(Debug)]
pub struct ViewCollector {
    state: Arc<AppState>,
    sel: Arc<MetricsConfig>,
}

impl ViewCollector {
    /// A collector over `state` emitting every family at partition granularity.
    pub fn new(state: Arc<AppState>) -> Self {
        Self::with_config(state, Arc::default())
    }

    /// A collector over `state` emitting what `sel` (the `metrics:` section) asks for.
    pub fn with_config(state: Arc<AppState>, sel: Arc<MetricsConfig>) -> Self {
        ViewCollector { state, sel }
    }
}

pub(super) type Views<'v> = [(&'v str, &'v ClusterView)];

pub(super) fn topics<'v>(
    vs: &'v Views<'v>,
) -> impl Iterator<Item = (&'v str, &'v TopicView)> + Clone {
    vs.iter()
        .flat_map(|(c, v)| v.topics.iter().map(move |t| (*c, t)))
}

pub(super) fn partitions<'v>(
    vs: &'v Views<'v>,
) -> impl Iterator<Item = (&'v str, &'v TopicView, &'v PartitionView)> + Clone {
    topics(vs).flat_map(|(c, t)| t.partitions.iter().map(move |p| (c, t, p)))
}

pub(super) fn groups<'v>(
    vs: &'v Views<'v>,
) -> impl Iterator<Item = (&'v str, &'v GroupView)> + Clone {
    vs.iter()
        .flat_map(|(c, v)| v.groups.iter().map(move |g| (*c, g)))
}

pub(super) fn group_topics<'v>(
    vs: &'v Views<'v>,
) -> impl Iterator<Item = (&'v str, &'v GroupView, &'v GroupTopicView)> + Clone {
    groups(vs).flat_map(|(c, g)| g.topics.iter().map(move |t| (c, g, t)))
}

pub(super) type GpRow<'v> = (
    &'v str,
    &'v GroupView,
    &'v GroupTopicView,
    &'v GroupPartitionView,
);

pub(super) fn group_partitions<'v>(vs: &'v Views<'v>) -> impl Iterator<Item = GpRow<'v>> + Clone {
    group_topics(vs).flat_map(|(c, g, t)| t.partitions.iter().map(move |p| (c, g, t, p)))
}

fn c1<'v>((c, _): (&'v str, &'v crate::state::ClusterStatus)) -> [Label<'v>; 1] {
    [("cluster", b(c))]
}

fn pl<'v>((c, t, p): (&'v str, &'v TopicView, &'v PartitionView)) -> [Label<'v>; 3] {
    [
        ("cluster", b(c)),
        ("topic", b(&t.topic)),
        ("partition", part(p.partition)),
    ]
}

fn gl<'v>((c, g): (&'v str, &'v GroupView)) -> [Label<'v>; 2] {
    [("cluster", b(c)), ("group", b(&g.group))]
}

fn gtl<'v>((c, g, t): (&'v str, &'v GroupView, &'v GroupTopicView)) -> [Label<'v>; 3] {
    [
        ("cluster", b(c)),
        ("group", b(&g.group)),
        ("topic", b(&t.topic)),
    ]
}

fn gpl<'v>((c, g, t, p): GpRow<'v>) -> [Label<'v>; 4] {
    [
        ("cluster", b(c)),
        ("group", b(&g.group)),
        ("topic", b(&t.topic)),
        ("partition", part(p.partition)),
    ]
}

fn flag(b: bool) -> Option<Num> {
    Some(Num::I(i64::from(b)))
}

impl Collector for ViewCollector {
    fn encode(&self, enc: DescriptorEncoder) -> Result<(), Error> {
        let clusters = self.state.snapshot();
        let e = &mut Out {
            enc,
            sel: &self.sel,
        };
        let cl = || clusters.iter().map(|(n, s)| (n.as_str(), s));
        family(
            e,
            "lagwatch_cluster_up",
            "1 if the last poll reached the cluster",
            cl(),
            c1,
            |(_, s)| flag(s.up),
        )?;
        family(
            e,
            "lagwatch_poll_partial",
            "1 if the last poll got only part of the answers",
            cl(),
            c1,
            |(_, s)| flag(s.view.as_ref().is_some_and(|v| v.partial)),
        )?;
        family(
            e,
            "lagwatch_last_poll_timestamp_seconds",
            "Unix time of the last poll that read the cluster",
            cl(),
            c1,
            |(_, s)| s.last_success.map(Num::F),
        )?;
        let views: Vec<(&str, &ClusterView)> = clusters
            .iter()
            .filter_map(|(n, s)| s.view.as_deref().map(|v| (n.as_str(), v)))
            .collect();
        let shares: Vec<(&str, &ShareGroupView)> = clusters
            .iter()
            .filter_map(|(n, s)| s.details.as_deref().map(|d| (n.as_str(), d)))
            .flat_map(|(n, d)| d.share_groups.iter().map(move |g| (n, g)))
            .collect();
        encode_views(&views, &shares, e)?;
        super::retention::encode(&views, e)?;
        super::spark::encode(&views, e)?;
        super::details::encode(&clusters, e)?;
        super::compat::encode(&clusters, &views, e)
    }
}

/// One row of `lagwatch_group_info`: cluster, group, state, source, type.
type InfoRow<'v> = (&'v str, &'v str, GroupState, GroupSource, GroupType);

/// Every group of every kind, share groups included, so that `lagwatch_group_info` counts
/// them all by `type`.
fn info_rows<'v>(
    vs: &'v Views<'v>,
    shares: &'v [(&'v str, &'v ShareGroupView)],
) -> impl Iterator<Item = InfoRow<'v>> + Clone {
    let groups = groups(vs).map(|(c, g)| (c, g.group.as_str(), g.state, g.source, g.group_type));
    let shares = shares.iter().map(|(c, g)| {
        (
            *c,
            g.group.as_str(),
            g.state,
            GroupSource::Kafka,
            GroupType::Share,
        )
    });
    groups.chain(shares)
}

fn encode_views(
    vs: &Views<'_>,
    shares: &[(&str, &ShareGroupView)],
    e: &mut Out<'_, '_>,
) -> Result<(), Error> {
    family(
        e,
        "lagwatch_partition_log_end_offset",
        "High watermark of the partition",
        partitions(vs),
        pl,
        |(_, _, p)| Some(Num::I(p.log_end)),
    )?;
    family(
        e,
        "lagwatch_partition_log_start_offset",
        "First retained offset of the partition",
        partitions(vs),
        pl,
        |(_, _, p)| Some(Num::I(p.log_start)),
    )?;
    family(
        e,
        "lagwatch_partition_produce_rate",
        "Messages per second produced to the partition",
        partitions(vs),
        pl,
        |(_, _, p)| p.produce_rate.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_topic_produce_rate",
        "Messages per second produced to the topic",
        topics(vs),
        |(c, t)| [("cluster", b(c)), ("topic", b(&t.topic))],
        |(_, t)| t.produce_rate.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_info",
        "Group state, source (kafka or spark) and type (classic, consumer, share, streams, \
         unknown)",
        info_rows(vs, shares),
        |(c, g, state, source, group_type)| {
            let source = match source {
                GroupSource::Kafka => "kafka",
                GroupSource::Spark => "spark",
            };
            [
                ("cluster", b(c)),
                ("group", b(g)),
                ("state", b(state.as_str())),
                ("source", b(source)),
                ("type", b(group_type.as_str())),
            ]
        },
        |_| Some(Num::I(1)),
    )?;
    family(
        e,
        "lagwatch_group_members",
        "Members of the consumer group",
        groups(vs),
        gl,
        |(_, g)| g.members.map(|m| Num::I(i64::from(m))),
    )?;
    family(
        e,
        "lagwatch_group_partition_committed_offset",
        "Committed offset (next to consume)",
        group_partitions(vs),
        gpl,
        |r| Some(Num::I(r.3.committed)),
    )?;
    family(
        e,
        "lagwatch_group_partition_lag",
        "log_end - committed, messages",
        group_partitions(vs),
        gpl,
        |r| Some(Num::I(r.3.lag)),
    )?;
    family(
        e,
        "lagwatch_group_partition_lag_seconds",
        "Time lag of the partition, seconds",
        group_partitions(vs),
        gpl,
        |r| r.3.lag_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_partition_messages_lost",
        "Messages deleted before consumption (committed < log start)",
        group_partitions(vs),
        gpl,
        |r| Some(Num::I(r.3.messages_lost)),
    )?;
    family(
        e,
        "lagwatch_group_partition_inflight_lag",
        "Spark: lag once the in-flight batch commits",
        group_partitions(vs),
        gpl,
        |r| r.3.inflight_lag.map(Num::I),
    )?;
    family(
        e,
        "lagwatch_group_topic_lag",
        "Lag of the group on the topic, messages",
        group_topics(vs),
        gtl,
        |r| Some(Num::I(r.2.lag)),
    )?;
    family(
        e,
        "lagwatch_group_topic_max_lag_seconds",
        "Worst partition time lag on the topic, seconds",
        group_topics(vs),
        gtl,
        |r| r.2.max_lag_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_topic_consume_rate",
        "Messages per second the group consumes from the topic",
        group_topics(vs),
        gtl,
        |r| r.2.consume_rate.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_topic_throughput_ratio",
        "consume rate / produce rate (>= 1.2 wanted when backlogged)",
        group_topics(vs),
        gtl,
        |r| r.2.throughput_ratio.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_topic_drain_eta_seconds",
        "Seconds until the lag drains at current rates (+Inf: never)",
        group_topics(vs),
        gtl,
        |r| r.2.drain_eta_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_topic_status",
        "1 for the current status of the group on the topic",
        group_topics(vs).flat_map(|r| Status::ALL.into_iter().map(move |s| (r, s))),
        |((c, g, t), s)| {
            [
                ("cluster", b(c)),
                ("group", b(&g.group)),
                ("topic", b(&t.topic)),
                ("status", b(s.as_str())),
            ]
        },
        |((_, _, t), s)| flag(t.status == s),
    )?;
    family(
        e,
        "lagwatch_group_topic_reason",
        "1 per active reason of the group on the topic",
        group_topics(vs).flat_map(|r| r.2.reasons.iter().map(move |why| (r, *why))),
        |((c, g, t), why)| {
            [
                ("cluster", b(c)),
                ("group", b(&g.group)),
                ("topic", b(&t.topic)),
                ("reason", b(why.as_str())),
            ]
        },
        |_| Some(Num::I(1)),
    )?;
    family(
        e,
        "lagwatch_group_lag",
        "Total lag of the group, messages",
        groups(vs),
        gl,
        |(_, g)| g.lag.map(Num::I),
    )?;
    family(
        e,
        "lagwatch_group_max_lag_seconds",
        "Worst time lag of the group, seconds",
        groups(vs),
        gl,
        |(_, g)| g.max_lag_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_group_status",
        "1 for the current status of the group",
        groups(vs).flat_map(|r| Status::ALL.into_iter().map(move |s| (r, s))),
        |((c, g), s)| {
            [
                ("cluster", b(c)),
                ("group", b(&g.group)),
                ("status", b(s.as_str())),
            ]
        },
        |((_, g), s)| flag(g.status == s),
    )?;
    family(
        e,
        "lagwatch_spark_last_commit_age_seconds",
        "Seconds since the Spark query committed a batch",
        groups(vs),
        |(c, g)| [("cluster", b(c)), ("query", b(&g.group))],
        |(_, g)| match g.source {
            GroupSource::Spark => g.last_commit_age_seconds.map(Num::F),
            GroupSource::Kafka => None,
        },
    )?;
    family(
        e,
        "lagwatch_source_up",
        "1 if the Spark query's checkpoint was read by the last poll, 0 if it could not be",
        groups(vs),
        |(c, g)| [("cluster", b(c)), ("query", b(&g.group))],
        |(_, g)| match g.source {
            GroupSource::Spark => Some(Num::I(i64::from(g.error.is_none()))),
            GroupSource::Kafka => None,
        },
    )
}
