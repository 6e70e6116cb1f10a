//! The JSON shape shared by `/api/v1/*` and `check --output json` (schema version 1).

use crate::snapshot::{KafkaPath, Member, Unauthorized};
use crate::state::ClusterStatus;
use crate::view::{GroupView, KafkaDetails, ShareGroupView};
use serde::Serialize;
use std::collections::BTreeMap;

/// Schema version of the JSON documents; bumped on breaking changes only.
pub const SCHEMA_VERSION: u32 = 1;

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusReport<'a> {
    /// Schema version.
    pub schema_version: u32,
    /// Per cluster.
    pub clusters: Vec<ClusterReport<'a>>,
}

/// One cluster in a report.
#[derive(Debug, Serialize)]
pub struct ClusterReport<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Last poll reached the cluster.
    pub up: bool,
    /// Last poll was partial.
    pub partial: bool,
    /// Unix time of the data.
    pub taken_at: Option<f64>,
    /// Last error, when down.
    pub error: Option<&'a str>,
    /// Groups and topics the principal may not describe (left out when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub unauthorized: &'a [Unauthorized],
    /// Which client read the last poll: `fast` (a few requests per broker), `mixed` (some
    /// step fell back to librdkafka) or `librdkafka` (one request per group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_client: Option<KafkaPath>,
    /// Groups with their topics and partitions.
    pub groups: Vec<GroupEntry<'a>>,
    /// Share groups (KIP-932) with the broker's lag: apart from `groups`, as no status rule
    /// applies to them (left out when there are none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub share_groups: &'a [ShareGroupView],
}

/// One group in a report: its view and, when its coordinator described it, its members.
#[derive(Debug, Serialize)]
pub struct GroupEntry<'a> {
    /// State, lag, status, topics and partitions.
    #[serde(flatten)]
    pub view: &'a GroupView,
    /// Members with client id and host; absent when the group was not described (Spark
    /// queries, a failed describe), empty for a group without members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_details: Option<&'a [Member]>,
}

impl<'a> GroupEntry<'a> {
    fn of(view: &'a GroupView, details: Option<&'a KafkaDetails>) -> Self {
        GroupEntry {
            view,
            member_details: details
                .and_then(|d| d.members.get(&view.group))
                .map(Vec::as_slice),
        }
    }
}

/// `GET /api/v1/clusters/{cluster}/groups/{group}`.
#[derive(Debug, Serialize)]
pub struct GroupReport<'a> {
    /// Schema version.
    pub schema_version: u32,
    /// Cluster name.
    pub cluster: &'a str,
    /// Last poll reached the cluster.
    pub up: bool,
    /// The group.
    pub group: GroupEntry<'a>,
}

/// Builds the status report of all clusters.
pub fn status_report(clusters: &BTreeMap<String, ClusterStatus>) -> StatusReport<'_> {
    StatusReport {
        schema_version: SCHEMA_VERSION,
        clusters: clusters
            .iter()
            .map(|(name, s)| ClusterReport {
                cluster: name,
                up: s.up,
                partial: s.view.as_ref().is_some_and(|v| v.partial),
                taken_at: s.view.as_ref().map(|v| v.taken_at),
                error: s.last_error.as_deref(),
                unauthorized: s
                    .details
                    .as_deref()
                    .map(|d| d.unauthorized.as_slice())
                    .unwrap_or_default(),
                share_groups: s
                    .details
                    .as_deref()
                    .map(|d| d.share_groups.as_slice())
                    .unwrap_or_default(),
                kafka_client: s.details.as_deref().and_then(|d| d.kafka_client),
                groups: s
                    .view
                    .as_ref()
                    .map(|v| {
                        v.groups
                            .iter()
                            .map(|g| GroupEntry::of(g, s.details.as_deref()))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// Builds the report of one group.
pub fn group_report<'a>(
    cluster: &'a str,
    s: &'a ClusterStatus,
    g: &'a GroupView,
) -> GroupReport<'a> {
    GroupReport {
        schema_version: SCHEMA_VERSION,
        cluster,
        up: s.up,
        group: GroupEntry::of(g, s.details.as_deref()),
    }
}
