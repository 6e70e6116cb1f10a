//! What both Kafka backends (the batched protocol client and librdkafka) return, so a poll
//! step reads the same types whichever path served it.

use crate::snapshot::{GroupState, Member, ResourceType};
use std::collections::HashMap;

/// A group as listed by ListConsumerGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub name: String,
    /// State as listed.
    pub state: GroupState,
}

/// A group as described by DescribeConsumerGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub name: String,
    /// State as described.
    pub state: GroupState,
    /// Number of members.
    pub members: u32,
    /// The members themselves (client id, host).
    pub member_list: Vec<Member>,
}

/// Offsets of one group: `(topic, partition) -> committed`, only partitions with a commit.
pub type CommittedOffsets = HashMap<(String, i32), i64>;

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

/// One ListConsumerGroupOffsets request: a group and, optionally, the partitions to ask for
/// (None = all partitions, which some brokers such as the librdkafka mock do not support).
#[derive(Debug, Clone)]
pub struct OffsetsRequest {
    /// Group id.
    pub group: String,
    /// Partitions to ask for, or all.
    pub partitions: Option<Vec<(String, i32)>>,
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

/// The resource an authorization error code is about; `None` for any other code. Kafka and
/// librdkafka share these codes, so both paths classify with this one function (never by
/// matching error text).
pub fn authorization_failure(code: i32) -> Option<ResourceType> {
    match code {
        29 => Some(ResourceType::Topic),   // TOPIC_AUTHORIZATION_FAILED
        30 => Some(ResourceType::Group),   // GROUP_AUTHORIZATION_FAILED
        31 => Some(ResourceType::Cluster), // CLUSTER_AUTHORIZATION_FAILED
        _ => None,
    }
}

impl CallError {
    /// The error for a Kafka error code, with `message` as its text.
    pub fn from_code(code: i32, message: String) -> Self {
        match authorization_failure(code) {
            Some(resource) => CallError::Unauthorized { resource, message },
            None => CallError::Failed(message),
        }
    }
}
