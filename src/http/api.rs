//! The JSON shape shared by `/api/v1/*` and `check --output json` (schema version 1).

use crate::state::ClusterStatus;
use crate::view::GroupView;
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
    /// Groups with their topics and partitions.
    pub groups: Vec<&'a GroupView>,
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
    pub group: &'a GroupView,
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
                groups: s
                    .view
                    .as_ref()
                    .map(|v| v.groups.iter().collect())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// Builds the report of one group.
pub fn group_report<'a>(cluster: &'a str, s: &ClusterStatus, g: &'a GroupView) -> GroupReport<'a> {
    GroupReport {
        schema_version: SCHEMA_VERSION,
        cluster,
        up: s.up,
        group: g,
    }
}
