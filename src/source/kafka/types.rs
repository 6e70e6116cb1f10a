//! What both Kafka backends (the batched protocol client and librdkafka) return, so a poll
//! step reads the same types whichever path served it.

pub use super::batched::Broker;
pub use crate::snapshot::GroupType;
use crate::snapshot::{GroupState, Member, ResourceType, TopicPartition};
use kafka_protocol::error::ResponseError;
use std::collections::HashMap;
use std::sync::Arc;

/// A group as listed by ListConsumerGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub name: String,
    /// State as listed.
    pub state: GroupState,
    /// Type as listed (librdkafka knows classic and consumer only).
    pub group_type: GroupType,
}

/// A group as described by DescribeConsumerGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub name: String,
    /// State as described.
    pub state: GroupState,
    /// The type the describing request is for (`Unknown` when the path does not say).
    pub group_type: GroupType,
    /// Number of members.
    pub members: u32,
    /// The members themselves (client id, host).
    pub member_list: Vec<Member>,
}

/// A topic's id (Metadata v10+, ConsumerGroupDescribe).
pub type TopicId = uuid::Uuid;

/// What a Metadata answer says, whichever client read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterMetadata {
    /// Brokers: node id and advertised address.
    pub brokers: Vec<(i32, Broker)>,
    /// Every topic of the cluster.
    pub topics: Vec<TopicMetadata>,
}

/// One topic of a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Its id; `None` before Metadata v10 (and from librdkafka, which does not pass it on).
    pub id: Option<TopicId>,
    /// Whether the broker reported an error for the topic (its partitions are then unusable).
    pub failed: bool,
    /// Partition id and leader's node id (-1 for none).
    pub partitions: Vec<(i32, i32)>,
}

/// Offsets of one group: per topic, `(partition, committed)` of the partitions with a
/// commit. One name per topic, not per partition: 10,000 groups' answers held 100,000 owned
/// names at once at the huge size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommittedOffsets(pub Vec<(String, Vec<(i32, i64)>)>);

impl CommittedOffsets {
    /// Adds one commit, to the last topic's list when it is the same topic (answers list a
    /// topic's partitions together).
    pub fn push(&mut self, topic: &str, partition: i32, offset: i64) {
        match self.0.last_mut() {
            Some((t, parts)) if t.as_str() == topic => parts.push((partition, offset)),
            _ => self.0.push((topic.to_owned(), vec![(partition, offset)])),
        }
    }

    /// The committed offset of one partition, if any (the poll reads the lists whole).
    #[cfg(test)]
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.0
            .iter()
            .filter(|(t, _)| t == topic)
            .flat_map(|(_, parts)| parts)
            .find(|(p, _)| *p == partition)
            .map(|&(_, off)| off)
    }
}

/// Which end of the log ListOffsets asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (read_uncommitted).
    Latest,
}

/// The outcome of a ListOffsets call: per partition an offset or an error text.
pub type ListOffsetsResult = HashMap<(String, i32), Result<i64, String>>;

/// One end of the log of every partition a poll asked about, by position in the poll's
/// partition list: the offset, why not, or `None` where no answer named the partition.
/// Positions, not names: a key per partition was 200,000 owned names a poll at 100,000
/// partitions, built and hashed only to be looked up once.
pub type OffsetsByPosition = Vec<Option<Result<i64, String>>>;

/// One ListConsumerGroupOffsets request: a group and, optionally, the partitions to ask for
/// (None = all partitions, which some brokers such as the librdkafka mock do not support).
#[derive(Debug, Clone)]
pub struct OffsetsRequest {
    /// Group id.
    pub group: String,
    /// Partitions to ask for, or all: the poll's one watched list, shared by every group
    /// named in the config rather than copied per group.
    pub partitions: Option<Arc<[TopicPartition]>>,
}

/// Why one call (or one group's part of a call) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The broker lacks this API or version (older brokers, the librdkafka mock): a gap in
    /// what can be read, not a fault of the poll.
    #[error("{0}")]
    Unsupported(String),
    /// The principal may not describe this resource (an ACL says no): reported as
    /// unauthorized, not as a fault and not as zero lag.
    #[error("{message}")]
    Unauthorized {
        /// What kind of resource was refused.
        resource: ResourceType,
        /// The client's or broker's words.
        message: String,
    },
    /// Any other failure, with the client's or broker's words.
    #[error("{0}")]
    Failed(String),
}

/// The resource an authorization error is about; `None` for any other error. Kafka and
/// librdkafka share the protocol's error codes, so both paths classify with this one
/// function (never by matching error text).
pub fn authorization_failure(e: ResponseError) -> Option<ResourceType> {
    match e {
        ResponseError::TopicAuthorizationFailed => Some(ResourceType::Topic),
        ResponseError::GroupAuthorizationFailed => Some(ResourceType::Group),
        ResponseError::ClusterAuthorizationFailed => Some(ResourceType::Cluster),
        _ => None,
    }
}

impl CallError {
    /// The error for a Kafka protocol error code (as librdkafka passes them on), with
    /// `message` as its text.
    pub fn from_code(code: i32, message: String) -> Self {
        match i16::try_from(code)
            .ok()
            .and_then(ResponseError::try_from_code)
        {
            Some(e) => CallError::from_error(e, message),
            None => CallError::Failed(message),
        }
    }

    /// The error for a Kafka error, with `message` as its text.
    pub fn from_error(e: ResponseError, message: String) -> Self {
        match authorization_failure(e) {
            Some(resource) => CallError::Unauthorized { resource, message },
            None => CallError::Failed(message),
        }
    }
}

/// A group as listed with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedListing {
    /// Group id.
    pub name: String,
    /// Its type.
    pub group_type: GroupType,
    /// State as listed.
    pub state: GroupState,
}

/// One share partition of a share group, as DescribeShareGroupOffsets reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareOffset {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The share-partition start offset.
    pub start_offset: i64,
    /// The broker's lag (v1, Kafka 4.2+); `None` when it did not say.
    pub lag: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::CommittedOffsets;

    #[test]
    fn committed_offsets_read_back_as_pushed() {
        let mut c = CommittedOffsets::default();
        for (t, p, off) in [("a", 0, 10), ("a", 1, 11), ("b", 0, 20), ("a", 2, 12)] {
            c.push(t, p, off);
        }
        assert_eq!(
            c.0.len(),
            3,
            "a topic listed apart gets a second entry: {c:?}"
        );
        // (why, topic, partition, committed)
        let cases: &[(&str, &str, i32, Option<i64>)] = &[
            ("first of a run", "a", 0, Some(10)),
            ("same topic, appended to its run", "a", 1, Some(11)),
            ("another topic", "b", 0, Some(20)),
            (
                "a topic's partition listed after another topic",
                "a",
                2,
                Some(12),
            ),
            ("no commit", "b", 1, None),
            ("unknown topic", "c", 0, None),
        ];
        for (why, t, p, want) in cases {
            assert_eq!(c.get(t, *p), *want, "{why}");
        }
    }
}
