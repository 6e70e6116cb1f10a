//! What lagwatch concluded about a cluster after a poll: the one structure that metrics,
//! the JSON API, `check` and notifications all read.

use crate::snapshot::{GroupSource, GroupState, GroupType, PollError, Timestamp};
use serde::{Deserialize, Serialize};

mod details;
pub mod text;
pub use details::{KafkaDetails, ShareGroupView, SharePartitionView};
use std::sync::Arc;

/// Health of a group×topic or group.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Keeping up.
    #[default]
    Ok,
    /// Needs attention.
    Warning,
    /// Acting now is needed.
    Critical,
}

impl Status {
    /// Every status, in order, for StateSet-style series.
    pub const ALL: [Status; 3] = [Status::Ok, Status::Warning, Status::Critical];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

/// Why a group×topic is not ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Lag at or above the warning threshold.
    LagWarning,
    /// Lag at or above the critical threshold.
    LagCritical,
    /// Backlogged and consuming below headroom × produce rate.
    LowHeadroom,
    /// Backlogged and consuming slower than the producer: lag grows without end.
    FallingBehind,
    /// Committed offset unchanged over the window while lag > 0.
    Stalled,
    /// No commits (or no members) for longer than `stopped_after` while lag > 0.
    Stopped,
    /// The committed offset went backwards.
    Rewind,
    /// Committed offset below the log start: messages were deleted before being consumed.
    DataLoss,
    /// A large backlog is being replayed from near the log start (`startingOffsets=earliest`).
    BacklogReplay,
    /// Some watched partitions have no committed offset.
    NoCommit,
    /// The group's own source (a Spark checkpoint) cannot be read: its numbers are stale
    /// or unknown.
    SourceError,
    /// Retention will delete messages the group has not read: little headroom left, or the
    /// drain ETA is longer than the headroom (critical below `retention_risk_critical`).
    RetentionRisk,
    /// A Spark query's batches keep reading the same record count while a backlog waits:
    /// `maxOffsetsPerTrigger` limits its throughput.
    SparkTriggerCapped,
    /// A Spark query's batch in flight has run longer than `spark_batch_slow_factor` × the
    /// median batch duration.
    SparkBatchSlow,
}

impl Reason {
    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 14] = [
        Reason::LagWarning,
        Reason::LagCritical,
        Reason::LowHeadroom,
        Reason::FallingBehind,
        Reason::Stalled,
        Reason::Stopped,
        Reason::Rewind,
        Reason::DataLoss,
        Reason::BacklogReplay,
        Reason::NoCommit,
        Reason::SourceError,
        Reason::RetentionRisk,
        Reason::SparkTriggerCapped,
        Reason::SparkBatchSlow,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LagWarning => "lag_warning",
            Reason::LagCritical => "lag_critical",
            Reason::LowHeadroom => "low_headroom",
            Reason::FallingBehind => "falling_behind",
            Reason::Stalled => "stalled",
            Reason::Stopped => "stopped",
            Reason::Rewind => "rewind",
            Reason::DataLoss => "data_loss",
            Reason::BacklogReplay => "backlog_replay",
            Reason::NoCommit => "no_commit",
            Reason::SourceError => "source_error",
            Reason::RetentionRisk => "retention_risk",
            Reason::SparkTriggerCapped => "spark_trigger_capped",
            Reason::SparkBatchSlow => "spark_batch_slow",
        }
    }
}

/// How a time-lag value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLagMethod {
    /// Interpolated in the log-end history.
    Interpolated,
    /// Older than the history: extrapolated with the produce rate.
    Extrapolated,
    /// The timestamp of the first unconsumed record, read from the broker (exact).
    Record,
    /// The partition is caught up.
    CaughtUp,
}

/// Conclusions about one cluster after one poll.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// Cluster name.
    pub cluster: String,
    /// When the data was read (Unix seconds).
    pub taken_at: Timestamp,
    /// Whether the last poll attempt reached the cluster.
    pub up: bool,
    /// Whether the last poll got only part of the answers.
    pub partial: bool,
    /// Problems of the last poll.
    pub errors: Vec<PollError>,
    /// Watched topics by name.
    pub topics: Vec<TopicView>,
    /// Groups by name.
    pub groups: Vec<GroupView>,
}

/// One topic's offsets and produce rate.
#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    /// Topic name.
    pub topic: Arc<str>,
    /// Messages/s over the window, when known.
    pub produce_rate: Option<f64>,
    /// Time retention (seconds) when the topic deletes by time and its settings were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_seconds: Option<f64>,
    /// Size retention per partition (bytes) when limited and read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<i64>,
    /// Per partition.
    pub partitions: Vec<PartitionView>,
}

/// One partition's offsets.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    /// Partition id.
    pub partition: i32,
    /// First retained offset.
    pub log_start: i64,
    /// High watermark.
    pub log_end: i64,
    /// Messages/s over the window, when known.
    pub produce_rate: Option<f64>,
}

/// One group's conclusions.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// Group name.
    pub group: String,
    /// Kafka group or Spark query.
    pub source: GroupSource,
    /// Broker-reported state.
    pub state: GroupState,
    /// Type as listed (`classic`, `consumer`, ...; `unknown` for Spark queries).
    #[serde(rename = "type")]
    pub group_type: GroupType,
    /// Members, when known.
    pub members: Option<u32>,
    /// Total lag over its topics (messages); None while no position is known (nothing
    /// committed, or a source that never could be read): unknown is not zero.
    pub lag: Option<i64>,
    /// Worst time lag over its partitions (seconds), when known.
    pub max_lag_seconds: Option<f64>,
    /// Worst status of its topics and of reading its source, after hysteresis.
    pub status: Status,
    /// Union of its topics' reasons, and `source_error` while its source fails.
    pub reasons: Vec<Reason>,
    /// Why its own source (a Spark checkpoint) could not be read this poll; None when read.
    pub error: Option<String>,
    /// Status of reading its source alone (warning once `error` held for `for_polls`).
    pub source_status: Status,
    /// True while a status seen since start is not yet confirmed by hysteresis: the
    /// reported status is a placeholder.
    pub settling: bool,
    /// Spark only: seconds since the last committed batch.
    pub last_commit_age_seconds: Option<f64>,
    /// Spark only: what the recent micro-batches say; None for Kafka groups and for a
    /// query with no batch yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark: Option<SparkView>,
    /// Per topic.
    pub topics: Vec<GroupTopicView>,
}

/// A Spark query's recent micro-batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SparkView {
    /// Median duration of the recent complete batches (seconds), when two are known.
    pub batch_duration_seconds: Option<f64>,
    /// Median records per batch over the recent batches, when known.
    pub records_per_batch: Option<i64>,
    /// Age of the batch in flight (seconds); None when every batch is committed.
    pub inflight_batch_age_seconds: Option<f64>,
    /// The inferred `maxOffsetsPerTrigger`, when the latest batches all read this many.
    pub trigger_cap: Option<i64>,
}

/// One group's conclusions for one topic.
#[derive(Debug, Clone, Serialize)]
pub struct GroupTopicView {
    /// Topic name.
    pub topic: Arc<str>,
    /// Sum of partition lags (messages).
    pub lag: i64,
    /// Worst partition time lag (seconds), when known.
    pub max_lag_seconds: Option<f64>,
    /// Produce rate of the partitions the group has commits on (messages/s), when known.
    pub produce_rate: Option<f64>,
    /// Group consume rate on this topic (messages/s), when known.
    pub consume_rate: Option<f64>,
    /// consume / produce, when both known and produce > 0.
    pub throughput_ratio: Option<f64>,
    /// Seconds until the lag drains at current rates; +Inf = never; None = unknown.
    #[serde(with = "eta_serde")]
    pub drain_eta_seconds: Option<f64>,
    /// The topic's time retention (seconds) when it deletes by time and it is known.
    pub retention_seconds: Option<f64>,
    /// Retention minus the age of the oldest unconsumed record (worst partition): how long
    /// until retention deletes a message the group has not read; None when not known.
    pub retention_headroom_seconds: Option<f64>,
    /// Status after hysteresis.
    pub status: Status,
    /// Why, when not ok.
    pub reasons: Vec<Reason>,
    /// True while no status is confirmed yet (see [`GroupView::settling`]).
    pub settling: bool,
    /// Per partition with a commit.
    pub partitions: Vec<GroupPartitionView>,
}

/// One group's position on one partition.
#[derive(Debug, Clone, Serialize)]
pub struct GroupPartitionView {
    /// Partition id.
    pub partition: i32,
    /// Committed offset (next to consume).
    pub committed: i64,
    /// First retained offset.
    pub log_start: i64,
    /// High watermark.
    pub log_end: i64,
    /// log_end - committed, never negative.
    pub lag: i64,
    /// Time lag in seconds, when known.
    pub lag_seconds: Option<f64>,
    /// How lag_seconds was obtained.
    pub lag_seconds_method: Option<TimeLagMethod>,
    /// Messages deleted before they were consumed (committed < log_start).
    pub messages_lost: i64,
    /// Spark only: lag if the in-flight batch completes.
    pub inflight_lag: Option<i64>,
}

/// The drain ETA in JSON (API, state file): JSON has no infinity, so "never drains" is the
/// string "inf". The one place that spelling is written and read.
pub mod eta_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    /// `null`, a number of seconds, or `"inf"`.
    pub fn serialize<S: Serializer>(v: &Option<f64>, ser: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_infinite() => ser.serialize_str("inf"),
            Some(x) => ser.serialize_f64(*x),
            None => ser.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Eta {
        Num(f64),
        Text(String),
    }

    /// The inverse of [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<f64>, D::Error> {
        match Option::<Eta>::deserialize(de)? {
            None => Ok(None),
            Some(Eta::Num(x)) => Ok(Some(x)),
            Some(Eta::Text(s)) if s == "inf" => Ok(Some(f64::INFINITY)),
            Some(Eta::Text(s)) => Err(serde::de::Error::custom(format!("bad drain ETA `{s}`"))),
        }
    }
}
