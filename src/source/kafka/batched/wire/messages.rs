//! The four requests the batched path sends, encoded and decoded exactly as the Kafka
//! protocol specifies them: ApiVersions v0, FindCoordinator v4 (many keys, KIP-699),
//! OffsetFetch v8 (many groups, KIP-709) and ListOffsets v2.

use super::codec::{Reader, Writer};
use super::WireError;
use crate::snapshot::{GroupState, Member};
use std::collections::HashMap;

/// API key of ListOffsets.
pub const LIST_OFFSETS: i16 = 2;
/// API key of OffsetFetch.
pub const OFFSET_FETCH: i16 = 9;
/// API key of FindCoordinator.
pub const FIND_COORDINATOR: i16 = 10;
/// API key of DescribeGroups.
pub const DESCRIBE_GROUPS: i16 = 15;
/// API key of ApiVersions.
pub const API_VERSIONS: i16 = 18;

/// The version of each API this module speaks.
pub const LIST_OFFSETS_VERSION: i16 = 2;
/// OffsetFetch v8 is the first with many groups per request.
pub const OFFSET_FETCH_VERSION: i16 = 8;
/// DescribeGroups v5 (Kafka 2.4): many groups per request, flexible encoding.
pub const DESCRIBE_GROUPS_VERSION: i16 = 5;
/// FindCoordinator v4 is the first with many keys per request.
pub const FIND_COORDINATOR_VERSION: i16 = 4;

/// Whether a request/response of this API version uses the flexible (compact, tagged) format.
pub fn is_flexible(api_key: i16, version: i16) -> bool {
    match api_key {
        LIST_OFFSETS => version >= 6,
        OFFSET_FETCH => version >= 6,
        FIND_COORDINATOR => version >= 3,
        DESCRIBE_GROUPS => version >= 5,
        // ApiVersions responses always use header v0; we only send v0 requests.
        _ => false,
    }
}

/// Frames a request: size, header (v1, or v2 for flexible versions) and body.
pub fn frame(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let mut h = Writer::new();
    h.i16(api_key);
    h.i16(version);
    h.i32(correlation_id);
    h.string(client_id)?;
    if is_flexible(api_key, version) {
        h.no_tags();
    }
    let header = h.into_bytes();
    let size = header.len() + body.len();
    let size = i32::try_from(size).map_err(|_| WireError::TooLong(size))?;
    let mut out = Vec::with_capacity(4 + size as usize);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    Ok(out)
}

/// Reads a response header and returns the correlation id; `r` is left at the body.
pub fn response_header(r: &mut Reader<'_>, api_key: i16, version: i16) -> Result<i32, WireError> {
    let id = r.i32("correlation_id")?;
    if api_key != API_VERSIONS && is_flexible(api_key, version) {
        r.skip_tags("response header tags")?;
    }
    Ok(id)
}

/// Supported version range per API key, as the broker announced it.
pub type ApiVersions = HashMap<i16, (i16, i16)>;

/// ApiVersions v0 request body (empty).
pub fn api_versions_request() -> Vec<u8> {
    Vec::new()
}

/// Decodes an ApiVersions v0 response body.
pub fn api_versions_response(r: &mut Reader<'_>) -> Result<ApiVersions, WireError> {
    let err = r.i16("error_code")?;
    // UNSUPPORTED_VERSION still carries the list (KIP-511); other errors do not.
    if err != 0 && err != 35 {
        return Err(WireError::Broker(err));
    }
    let n = r.array_len("api_keys", 6)?;
    let mut out = HashMap::with_capacity(n);
    for _ in 0..n {
        let key = r.i16("api_key")?;
        let min = r.i16("min_version")?;
        let max = r.i16("max_version")?;
        out.insert(key, (min, max));
    }
    Ok(out)
}

/// Whether `versions` covers `version` of `api_key`.
pub fn supports(versions: &ApiVersions, api_key: i16, version: i16) -> bool {
    versions
        .get(&api_key)
        .is_some_and(|(min, max)| *min <= version && version <= *max)
}

/// FindCoordinator v4 request body for consumer groups.
pub fn find_coordinator_request(groups: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i8(0); // key_type GROUP
    w.compact_array_len(Some(groups.len()));
    for g in groups {
        w.compact_string(g);
    }
    w.no_tags();
    w.into_bytes()
}

/// One coordinator answer of FindCoordinator v4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// The group id asked for.
    pub key: String,
    /// Broker id of the coordinator.
    pub node_id: i32,
    /// Its advertised host.
    pub host: String,
    /// Its advertised port.
    pub port: i32,
    /// Kafka error code (0 = found).
    pub error_code: i16,
    /// The broker's error text, if any.
    pub error_message: Option<String>,
}

/// Decodes a FindCoordinator v4 response body.
pub fn find_coordinator_response(r: &mut Reader<'_>) -> Result<Vec<Coordinator>, WireError> {
    r.i32("throttle_time_ms")?;
    let n = r.compact_array_len("coordinators", 13)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.compact_string("coordinator key")?;
        let node_id = r.i32("node_id")?;
        let host = r.compact_string("host")?;
        let port = r.i32("port")?;
        let error_code = r.i16("error_code")?;
        let error_message = r.compact_nullable_string("error_message")?;
        r.skip_tags("coordinator tags")?;
        out.push(Coordinator {
            key,
            node_id,
            host,
            port,
            error_code,
            error_message,
        });
    }
    r.skip_tags("response tags")?;
    Ok(out)
}

/// What to fetch for one group: all its committed partitions, or these topics' partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFetch<'a> {
    /// Group id.
    pub group: &'a str,
    /// `None` = every partition the group committed (null topics array).
    pub topics: Option<Vec<(&'a str, Vec<i32>)>>,
}

/// OffsetFetch v8 request body (require_stable = false, as librdkafka's default).
pub fn offset_fetch_request(groups: &[GroupFetch<'_>]) -> Vec<u8> {
    let mut w = Writer::new();
    w.compact_array_len(Some(groups.len()));
    for g in groups {
        w.compact_string(g.group);
        match &g.topics {
            None => w.compact_array_len(None),
            Some(topics) => {
                w.compact_array_len(Some(topics.len()));
                for (name, parts) in topics {
                    w.compact_string(name);
                    w.compact_array_len(Some(parts.len()));
                    for p in parts {
                        w.i32(*p);
                    }
                    w.no_tags();
                }
            }
        }
        w.no_tags();
    }
    w.i8(0); // require_stable
    w.no_tags();
    w.into_bytes()
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Committed offset; -1 = no commit.
    pub offset: i64,
    /// Kafka error code for this partition.
    pub error_code: i16,
}

/// One group of an OffsetFetch v8 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCommitted {
    /// Group id.
    pub group: String,
    /// Group-level Kafka error code (NOT_COORDINATOR, GROUP_AUTHORIZATION_FAILED, ...).
    pub error_code: i16,
    /// Partitions answered.
    pub partitions: Vec<CommittedPartition>,
}

/// Decodes an OffsetFetch v8 response body.
pub fn offset_fetch_response(r: &mut Reader<'_>) -> Result<Vec<GroupCommitted>, WireError> {
    r.i32("throttle_time_ms")?;
    let n = r.compact_array_len("groups", 4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let group = r.compact_string("group_id")?;
        let nt = r.compact_array_len("topics", 3)?;
        let mut partitions = Vec::new();
        for _ in 0..nt {
            let topic = r.compact_string("topic name")?;
            let np = r.compact_array_len("partitions", 20)?;
            partitions.reserve(np);
            for _ in 0..np {
                let partition = r.i32("partition_index")?;
                let offset = r.i64("committed_offset")?;
                r.i32("committed_leader_epoch")?;
                r.compact_nullable_string("metadata")?;
                let error_code = r.i16("partition error_code")?;
                r.skip_tags("partition tags")?;
                partitions.push(CommittedPartition {
                    topic: topic.clone(),
                    partition,
                    offset,
                    error_code,
                });
            }
            r.skip_tags("topic tags")?;
        }
        let error_code = r.i16("group error_code")?;
        r.skip_tags("group tags")?;
        out.push(GroupCommitted {
            group,
            error_code,
            partitions,
        });
    }
    r.skip_tags("response tags")?;
    Ok(out)
}

/// DescribeGroups v5 request body (no authorized operations).
pub fn describe_groups_request(groups: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.compact_array_len(Some(groups.len()));
    for g in groups {
        w.compact_string(g);
    }
    w.i8(0); // include_authorized_operations
    w.no_tags();
    w.into_bytes()
}

/// One group of a DescribeGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    /// Group id.
    pub group: String,
    /// Kafka error code for this group.
    pub error_code: i16,
    /// State (`Unknown` for a state lagwatch does not know, as librdkafka reads it).
    pub state: GroupState,
    /// Number of members.
    pub members: u32,
    /// The members (ids, client ids and hosts; metadata and assignment are skipped).
    pub member_list: Vec<Member>,
}

/// Decodes a DescribeGroups v5 response body.
pub fn describe_groups_response(r: &mut Reader<'_>) -> Result<Vec<DescribedGroup>, WireError> {
    r.i32("throttle_time_ms")?;
    let n = r.compact_array_len("groups", 11)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let error_code = r.i16("error_code")?;
        let group = r.compact_string("group_id")?;
        let state = r.compact_string("group_state")?;
        r.compact_string("protocol_type")?;
        r.compact_string("protocol_data")?;
        let members = r.compact_array_len("members", 7)?;
        let mut member_list = Vec::with_capacity(members);
        for _ in 0..members {
            let member_id = r.compact_string("member_id")?;
            let group_instance_id = r.compact_nullable_string("group_instance_id")?;
            let client_id = r.compact_string("client_id")?;
            let host = r.compact_string("client_host")?;
            r.skip_compact_bytes("member_metadata")?;
            r.skip_compact_bytes("member_assignment")?;
            r.skip_tags("member tags")?;
            member_list.push(Member {
                member_id,
                group_instance_id,
                client_id,
                host,
            });
        }
        r.i32("authorized_operations")?;
        r.skip_tags("group tags")?;
        out.push(DescribedGroup {
            group,
            error_code,
            state: GroupState::parse(&state),
            members: u32::try_from(members).unwrap_or(u32::MAX),
            member_list,
        });
    }
    r.skip_tags("response tags")?;
    Ok(out)
}

/// ListOffsets timestamp asking for the log start.
pub const EARLIEST: i64 = -2;
/// ListOffsets timestamp asking for the high watermark.
pub const LATEST: i64 = -1;

/// ListOffsets v2 request body, read_uncommitted, one timestamp for every partition.
pub fn list_offsets_request(
    topics: &[(&str, Vec<i32>)],
    timestamp: i64,
) -> Result<Vec<u8>, WireError> {
    let mut w = Writer::new();
    w.i32(-1); // replica_id: a client
    w.i8(0); // isolation_level: read_uncommitted, like kafka-consumer-groups
    w.array_len(topics.len())?;
    for (name, parts) in topics {
        w.string(name)?;
        w.array_len(parts.len())?;
        for p in parts {
            w.i32(*p);
            w.i64(timestamp);
        }
    }
    Ok(w.into_bytes())
}

/// One partition of a ListOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Kafka error code.
    pub error_code: i16,
    /// The offset asked for.
    pub offset: i64,
}

/// Decodes a ListOffsets v2 response body.
pub fn list_offsets_response(r: &mut Reader<'_>) -> Result<Vec<LogOffset>, WireError> {
    r.i32("throttle_time_ms")?;
    let nt = r.array_len("topics", 6)?;
    let mut out = Vec::new();
    for _ in 0..nt {
        let topic = r.string("topic name")?;
        let np = r.array_len("partitions", 22)?;
        out.reserve(np);
        for _ in 0..np {
            let partition = r.i32("partition_index")?;
            let error_code = r.i16("error_code")?;
            r.i64("timestamp")?;
            let offset = r.i64("offset")?;
            out.push(LogOffset {
                topic: topic.clone(),
                partition,
                error_code,
                offset,
            });
        }
    }
    Ok(out)
}

/// Kafka error codes a coordinator answers when the group should be looked up again.
pub fn is_coordinator_moved(code: i16) -> bool {
    matches!(code, 14..=16)
}

/// The Kafka name of an error code, for messages.
pub fn error_name(code: i16) -> String {
    let name = match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        1 => "OFFSET_OUT_OF_RANGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        24 => "INVALID_GROUP_ID",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        35 => "UNSUPPORTED_VERSION",
        69 => "GROUP_ID_NOT_FOUND",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        _ => return format!("Kafka error {code}"),
    };
    format!("{name} ({code})")
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
