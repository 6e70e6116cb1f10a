//! KIP-848 consumer groups (`group.protocol=consumer`), which the classic DescribeGroups
//! cannot describe: one ConsumerGroupDescribe per coordinator for all of its groups, each
//! member's assignment named by topic through the poll's Metadata.

use super::calls::{description, per_chunk};
use super::wire::api::{Answer, Call};
use super::{Batched, Broker, Unsupported};
use crate::snapshot::{GroupType, Member};
use crate::source::kafka::types::{CallError, GroupDescription, TopicId};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{Assignment, DescribedGroup};
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

impl Batched {
    /// State, members and assignments of each KIP-848 group, one ConsumerGroupDescribe per
    /// coordinator; `topics` names the topic ids of the assignments.
    pub fn describe_consumer(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        topics: &HashMap<TopicId, String>,
        deadline: Instant,
    ) -> Result<HashMap<String, Result<GroupDescription, CallError>>, Unsupported> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let build = |groups: &[&str]| {
            per_chunk(groups, |ids| {
                Call::ConsumerGroupDescribe(
                    ConsumerGroupDescribeRequest::default().with_group_ids(ids),
                )
            })
        };
        let decode = |r: Answer| {
            Ok(ConsumerGroupDescribeResponse::try_from(r)?
                .groups
                .into_iter()
                .map(|g| consumer_description(g, topics))
                .collect())
        };
        self.per_coordinator(
            "ConsumerGroupDescribe",
            brokers,
            &names,
            deadline,
            build,
            decode,
        )
    }
}

/// One described KIP-848 group as `(name, error code, description)`. GROUP_ID_NOT_FOUND
/// (no such group, or one of another type) reads as `Dead` without members, as
/// DescribeGroups v5 says of a group it does not have.
pub(super) fn consumer_description(
    g: DescribedGroup,
    topics: &HashMap<TopicId, String>,
) -> (String, i16, GroupDescription) {
    if g.error_code == ResponseError::GroupIdNotFound.code() {
        let (name, d) = description(&g.group_id, "Dead", GroupType::Unknown, []);
        return (name, 0, d);
    }
    let members = g.members.into_iter().map(|m| Member {
        member_id: m.member_id.to_string(),
        group_instance_id: m.instance_id.map(|i| i.to_string()),
        client_id: m.client_id.to_string(),
        host: m.client_host.to_string(),
        assignment: Some(assignment(m.assignment, topics)),
    });
    let (name, d) = description(&g.group_id, &g.group_state, GroupType::Consumer, members);
    (name, g.error_code, d)
}

/// A member's partitions by topic name, sorted. A topic id the poll's Metadata does not
/// know takes the name the answer gives; one with neither (a topic deleted since) is
/// left out: it has no partitions left to consume.
pub(super) fn assignment(
    a: Assignment,
    topics: &HashMap<TopicId, String>,
) -> BTreeMap<String, Vec<i32>> {
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in a.topic_partitions {
        let name = match topics.get(&tp.topic_id) {
            Some(n) => n.clone(),
            None if !tp.topic_name.is_empty() => tp.topic_name.to_string(),
            None => continue,
        };
        let parts = out.entry(name).or_default();
        parts.extend(tp.partitions);
        parts.sort_unstable();
        parts.dedup();
    }
    out
}
