//! What one poll read from one cluster: raw offsets only, nothing derived.

use std::collections::BTreeMap;
use std::sync::Arc;

mod records;
mod spark;
mod topic_partition;
pub use records::{FirstRecord, RecordStamp, TopicConfig};
pub use spark::SparkBatch;
pub use topic_partition::TopicPartition;

/// Seconds since the Unix epoch; pure logic takes time as a value so tests inject it.
pub type Timestamp = f64;

/// Log start (earliest retained) and log end (high watermark) of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// First offset still retained.
    pub log_start: i64,
    /// Offset the next produced message will get (high watermark, read_uncommitted).
    pub log_end: i64,
}

/// Where a group's positions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSource {
    /// Offsets committed to Kafka by a consumer group.
    Kafka,
    /// Offsets read from a Spark Structured Streaming checkpoint.
    Spark,
}

/// A group's type as ListGroups v5+ reports it (KIP-1043): which protocol its members
/// speak, so which request describes it. `Unknown` before v5, for groups not listed (named
/// in the config but absent from the listing) and for Spark queries, which no broker lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupType {
    /// A classic group (consumer or another classic protocol, e.g. Connect).
    Classic,
    /// A KIP-848 consumer group (`group.protocol=consumer`).
    Consumer,
    /// A KIP-932 share group.
    Share,
    /// A KIP-1071 streams group.
    Streams,
    /// Not reported, or a type this version of lagwatch does not know.
    #[default]
    Unknown,
}

impl GroupType {
    /// Reads the wire's name (`classic`, `consumer`, `share`, `streams`), any case.
    pub fn parse(s: &str) -> Self {
        [
            GroupType::Classic,
            GroupType::Consumer,
            GroupType::Share,
            GroupType::Streams,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
        .unwrap_or(GroupType::Unknown)
    }

    /// The `type` label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Classic => "classic",
            GroupType::Consumer => "consumer",
            GroupType::Share => "share",
            GroupType::Streams => "streams",
            GroupType::Unknown => "unknown",
        }
    }
}

/// A group's state as its coordinator reports it, named as Kafka names it (classic and
/// KIP-848 states); `Unknown` for anything else and for Spark queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum GroupState {
    /// Members are (re)joining (classic).
    PreparingRebalance,
    /// The leader's assignment is awaited (classic).
    CompletingRebalance,
    /// Members consume with a settled assignment.
    Stable,
    /// The group was removed.
    Dead,
    /// No members; commits are kept until they expire.
    Empty,
    /// A new target assignment is being computed (KIP-848).
    Assigning,
    /// Members are moving to the target assignment (KIP-848).
    Reconciling,
    /// Not reported, or a state this version of lagwatch does not know.
    #[default]
    Unknown,
}

impl GroupState {
    /// The name Kafka and librdkafka use (the `state` label and JSON value).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
            GroupState::Empty => "Empty",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
            GroupState::Unknown => "Unknown",
        }
    }

    /// Reads a state name; case-insensitive, since Kafka's tools and the wire protocol
    /// spell them differently (`STABLE`, `Stable`).
    pub fn parse(s: &str) -> Self {
        [
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
            GroupState::Empty,
            GroupState::Assigning,
            GroupState::Reconciling,
        ]
        .into_iter()
        .find(|g| g.as_str().eq_ignore_ascii_case(s))
        .unwrap_or(GroupState::Unknown)
    }
}

impl From<&str> for GroupState {
    fn from(s: &str) -> Self {
        GroupState::parse(s)
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One consumer group's committed positions as read in this poll.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    /// Group id (or the virtual name of a Spark query).
    pub name: String,
    /// Kafka group or Spark checkpoint.
    pub source: GroupSource,
    /// Broker-reported state.
    pub state: GroupState,
    /// Type as listed; `Unknown` when not listed with one.
    pub group_type: GroupType,
    /// Number of members, when the broker told us.
    pub members: Option<u32>,
    /// Committed offset (the next offset to consume) per partition that has a commit.
    pub committed: BTreeMap<TopicPartition, i64>,
    /// Spark only: end offsets of the batch in flight (planned but not committed).
    pub inflight: BTreeMap<TopicPartition, i64>,
    /// Spark only: when the last batch was committed (commit file time).
    pub last_commit_at: Option<Timestamp>,
    /// Spark only: the most recent batches of the offsets log, oldest first.
    pub batches: Vec<SparkBatch>,
}

impl GroupSnapshot {
    /// An empty Kafka group snapshot.
    pub fn kafka(
        name: impl Into<String>,
        state: impl Into<GroupState>,
        members: Option<u32>,
    ) -> Self {
        GroupSnapshot {
            name: name.into(),
            source: GroupSource::Kafka,
            state: state.into(),
            group_type: GroupType::Unknown,
            members,
            committed: BTreeMap::new(),
            inflight: BTreeMap::new(),
            last_commit_at: None,
            batches: Vec::new(),
        }
    }
}

/// One member of a consumer group, as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// The id the coordinator gave the member.
    pub member_id: String,
    /// The static membership id (`group.instance.id`), if the member set one.
    pub group_instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's host as the broker saw it (`/127.0.0.1`).
    pub host: String,
    /// The partitions assigned to the member, topic by topic, when the description says
    /// (ConsumerGroupDescribe); absent for classic groups, whose assignment is opaque bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<BTreeMap<String, Vec<i32>>>,
}

/// The kind of resource an authorization error is about (Kafka's ACL resource types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A consumer or share group.
    Group,
    /// A topic.
    Topic,
    /// The cluster (e.g. ListGroups without Describe on it).
    Cluster,
}

impl ResourceType {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Group => "group",
            ResourceType::Topic => "topic",
            ResourceType::Cluster => "cluster",
        }
    }
}

/// A resource the principal is not allowed to read: reported as such, never as zero lag
/// and never as gone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Unauthorized {
    /// Group, topic or cluster.
    pub resource_type: ResourceType,
    /// Its name.
    pub name: String,
}

/// The stage of a poll that failed, used as the `stage` label of error counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Cluster metadata (brokers, topics, partitions).
    Metadata,
    /// ListConsumerGroups.
    ListGroups,
    /// DescribeConsumerGroups.
    DescribeGroups,
    /// ListConsumerGroupOffsets.
    CommittedOffsets,
    /// ListOffsets earliest/latest.
    LogOffsets,
    /// Listing share groups and reading their share-partition state.
    ShareGroups,
    /// Reading a Spark checkpoint.
    SparkCheckpoint,
    /// The whole poll ran past its timeout.
    Timeout,
}

impl Stage {
    /// Every stage, so per-stage counters exist at 0 before a first error.
    pub const ALL: [Stage; 8] = [
        Stage::Metadata,
        Stage::ListGroups,
        Stage::DescribeGroups,
        Stage::CommittedOffsets,
        Stage::LogOffsets,
        Stage::ShareGroups,
        Stage::SparkCheckpoint,
        Stage::Timeout,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Metadata => "metadata",
            Stage::ListGroups => "list_groups",
            Stage::DescribeGroups => "describe_groups",
            Stage::CommittedOffsets => "committed_offsets",
            Stage::LogOffsets => "log_offsets",
            Stage::ShareGroups => "share_groups",
            Stage::SparkCheckpoint => "spark_checkpoint",
            Stage::Timeout => "timeout",
        }
    }
}

/// One thing that went wrong in a poll; the poll may still have partial results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PollError {
    /// Which stage failed.
    pub stage: Stage,
    /// What the group/topic/broker was, if the error is about one.
    pub subject: Option<String>,
    /// The error text (never a secret).
    pub message: String,
}

/// Everything one poll of one cluster read.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Cluster name from the config.
    pub cluster: String,
    /// When the poll finished reading end offsets.
    pub taken_at: Timestamp,
    /// Log start/end per partition of every watched topic.
    pub partitions: BTreeMap<TopicPartition, PartitionOffsets>,
    /// Groups by name.
    pub groups: BTreeMap<String, GroupSnapshot>,
    /// Problems met; non-empty means the snapshot is partial.
    pub errors: Vec<PollError>,
    /// Groups whose offsets could not be read this poll: their previous values are kept.
    pub unreadable_groups: Vec<String>,
    /// Members of each described group (kept apart from `groups`, which Spark fills too).
    pub members: BTreeMap<String, Vec<Member>>,
    /// Resources the principal may not describe (sorted, no repeats).
    pub unauthorized: Vec<Unauthorized>,
    /// Share groups (KIP-932) by name: apart from `groups`, whose lag rules they do not
    /// follow (records are acknowledged one by one, not committed as a position).
    pub share_groups: BTreeMap<String, ShareGroupSnapshot>,
    /// Requests the batched protocol client got answers to in this poll (and in failed polls since
    /// the last one that read the cluster), by API name; empty on the librdkafka path.
    pub requests: BTreeMap<String, u64>,
    /// Which client read the Kafka side of this poll (`None`: not read from Kafka).
    pub kafka_client: Option<KafkaPath>,
    /// The first record at or after an offset, keyed by partition and offset: the offsets
    /// are the positions of lagging groups (Kafka and Spark), raised to the log start.
    /// Shared: from one poll to the next it rarely changes, and every snapshot kept (the
    /// current and the previous one) then holds the same map.
    pub first_records: Arc<BTreeMap<(TopicPartition, i64), FirstRecord>>,
    /// Settings of watched topics, when they could be described.
    pub topic_configs: BTreeMap<Arc<str>, TopicConfig>,
}

/// Which client a poll's Kafka requests went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaPath {
    /// Every step on the fast path: a few requests per broker.
    Fast,
    /// The fast path, with some step handed to librdkafka (a broker lacking a version).
    Mixed,
    /// librdkafka only: one request per group.
    Librdkafka,
}

impl KafkaPath {
    /// The `client` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaPath::Fast => "fast",
            KafkaPath::Mixed => "mixed",
            KafkaPath::Librdkafka => "librdkafka",
        }
    }
}

/// One share partition of a share group, as its coordinator reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharePartition {
    /// The share-partition start offset: the earliest record still being delivered.
    pub start_offset: i64,
    /// Records not yet acknowledged, counted by the broker (Kafka 4.2+); `None` when the
    /// broker does not say (older brokers, or -1 "unknown").
    pub lag: Option<i64>,
}

/// One share group as read in this poll.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareGroupSnapshot {
    /// Group id.
    pub name: String,
    /// State as described, else as listed (`Empty`, `Stable`, `Dead`).
    pub state: GroupState,
    /// Number of members, when the coordinator described the group.
    pub members: Option<u32>,
    /// Share partitions of watched topics the group has state for.
    pub partitions: BTreeMap<TopicPartition, SharePartition>,
}

impl Snapshot {
    /// An empty snapshot for `cluster` at `taken_at`.
    pub fn new(cluster: impl Into<String>, taken_at: Timestamp) -> Self {
        Snapshot {
            cluster: cluster.into(),
            taken_at,
            partitions: BTreeMap::new(),
            groups: BTreeMap::new(),
            errors: Vec::new(),
            unreadable_groups: Vec::new(),
            members: BTreeMap::new(),
            unauthorized: Vec::new(),
            share_groups: BTreeMap::new(),
            requests: BTreeMap::new(),
            kafka_client: None,
            first_records: Arc::default(),
            topic_configs: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stage;

    #[test]
    fn every_stage_is_in_all() {
        // The match fails to compile when a stage is added, pointing here; ALL must follow.
        let position = |s: Stage| match s {
            Stage::Metadata => 0,
            Stage::ListGroups => 1,
            Stage::DescribeGroups => 2,
            Stage::CommittedOffsets => 3,
            Stage::LogOffsets => 4,
            Stage::ShareGroups => 5,
            Stage::SparkCheckpoint => 6,
            Stage::Timeout => 7,
        };
        let got: Vec<usize> = Stage::ALL.iter().map(|s| position(*s)).collect();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    }
}
