//! Families from the details that travel next to each view (see `view::KafkaDetails`).

use super::family::{b, family, Num, Out};
use crate::state::ClusterStatus;
use crate::view::{KafkaDetails, SharePartitionView};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Error;

/// Encodes the detail families of every cluster that has details.
pub(super) fn encode(
    clusters: &BTreeMap<String, ClusterStatus>,
    e: &mut Out<'_, '_>,
) -> Result<(), Error> {
    let details: Vec<(&str, &KafkaDetails)> = clusters
        .iter()
        .filter_map(|(n, s)| s.details.as_deref().map(|d| (n.as_str(), d)))
        .collect();
    family(
        e,
        "lagwatch_unauthorized",
        "1 per group or topic the principal may not describe (its lag is unknown, not 0)",
        details
            .iter()
            .flat_map(|(c, d)| d.unauthorized.iter().map(move |u| (*c, u))),
        |(c, u)| {
            [
                ("cluster", b(c)),
                ("resource_type", b(u.resource_type.as_str())),
                ("name", b(&u.name)),
            ]
        },
        |_| Some(Num::I(1)),
    )?;
    family(
        e,
        "lagwatch_kafka_client_info",
        "1 per cluster, labelled with the client that read its last poll: fast (a few \
         requests per broker), mixed (a step fell back to librdkafka) or librdkafka",
        details
            .iter()
            .filter_map(|(c, d)| d.kafka_client.map(|k| (*c, k))),
        |(c, k)| [("cluster", b(c)), ("client", b(k.as_str()))],
        |_| Some(Num::I(1)),
    )?;
    share_groups(&details, e)
}

/// Labels of one share partition of one group.
fn part_labels<'a>(
    (c, g, p): (&'a str, &'a str, &'a SharePartitionView),
) -> [(&'static str, Cow<'a, str>); 4] {
    [
        ("cluster", b(c)),
        ("group", b(g)),
        ("topic", b(&p.topic)),
        ("partition", Cow::Owned(p.partition.to_string())),
    ]
}

/// Share-group families: their own series, since a share group's lag is the broker's count
/// of unacknowledged records, not a committed position (and no status rule applies).
fn share_groups(details: &[(&str, &KafkaDetails)], e: &mut Out<'_, '_>) -> Result<(), Error> {
    let groups = || {
        details
            .iter()
            .flat_map(|(c, d)| d.share_groups.iter().map(move |g| (*c, g)))
    };
    let parts =
        || groups().flat_map(|(c, g)| g.partitions.iter().map(move |p| (c, g.group.as_str(), p)));
    family(
        e,
        "lagwatch_share_group_info",
        "1 per share group (KIP-932), with its state as listed",
        groups(),
        |(c, g)| {
            [
                ("cluster", b(c)),
                ("group", b(&g.group)),
                ("state", b(g.state.as_str())),
            ]
        },
        |_| Some(Num::I(1)),
    )?;
    family(
        e,
        "lagwatch_share_group_members",
        "Members of a share group (when its coordinator described it)",
        groups(),
        |(c, g)| [("cluster", b(c)), ("group", b(&g.group))],
        |(_, g)| g.members.map(|n| Num::I(i64::from(n))),
    )?;
    family(
        e,
        "lagwatch_share_group_lag",
        "Records not yet acknowledged by a share group, summed over its partitions (broker-computed, Kafka 4.2+)",
        groups(),
        |(c, g)| [("cluster", b(c)), ("group", b(&g.group))],
        |(_, g)| g.lag.map(Num::I),
    )?;
    family(
        e,
        "lagwatch_share_group_partition_lag",
        "Records of a partition not yet acknowledged by a share group (broker-computed, Kafka 4.2+)",
        parts(),
        part_labels,
        |(_, _, p)| p.lag.map(Num::I),
    )?;
    family(
        e,
        "lagwatch_share_group_partition_start_offset",
        "Share-partition start offset: the earliest record a share group still has in flight",
        parts(),
        part_labels,
        |(_, _, p)| Some(Num::I(p.start_offset)),
    )
}
