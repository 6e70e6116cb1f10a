//! Share groups (KIP-932): listed with their type by ListGroups on every broker, their
//! share-partition state read with one DescribeShareGroupOffsets per coordinator.

use super::calls::per_chunk;
use super::wire::api::{Answer, Call};
use super::wire::share_offsets::{self, Response};
use super::wire::{error, error_name};
use super::{Batched, Broker, Outcome, Unsupported, GROUPS_PER_FETCH};
use crate::snapshot::{GroupState, Member};
use crate::source::kafka::types::{
    CallError, GroupDescription, GroupType, ShareOffset, TypedListing,
};
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::{
    DescribeShareGroupOffsetsRequest, GroupId, ListGroupsRequest, ListGroupsResponse,
    ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;
use std::time::Instant;

/// Share-partition state of each group, or why it could not be read.
pub type ShareOffsets = HashMap<String, Result<Vec<ShareOffset>, CallError>>;

impl Batched {
    /// Every group of the cluster with its type: each broker lists the groups it
    /// coordinates. All types are listed (no types filter) so that a broker before
    /// ListGroups v5 answers too, its groups typed `Unknown`. Brokers that fail are
    /// returned as errors next to what the others listed.
    pub fn list_typed(
        &mut self,
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<(Vec<TypedListing>, Vec<String>), Unsupported> {
        let jobs = brokers
            .iter()
            .map(|b| {
                let req = Call::ListGroups(ListGroupsRequest::default());
                (b.clone(), vec![req])
            })
            .collect();
        let mut listed = Vec::new();
        let mut errors = Vec::new();
        for (b, outcome) in brokers.iter().zip(self.exchange(jobs, deadline)) {
            let answers = match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    errors.push(format!("ListGroups: {e}"));
                    continue;
                }
                Outcome::Answered(a) => a,
            };
            for a in answers {
                let r = match ListGroupsResponse::try_from(a) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(format!("ListGroups from {}: {e}", b.key()));
                        continue;
                    }
                };
                if let Some(e) = error(r.error_code) {
                    errors.push(format!("ListGroups from {}: {}", b.key(), error_name(e)));
                    continue;
                }
                listed.extend(r.groups.into_iter().map(|g| TypedListing {
                    name: g.group_id.to_string(),
                    group_type: GroupType::parse(&g.group_type),
                    state: GroupState::parse(&g.group_state),
                }));
            }
        }
        Ok((listed, errors))
    }

    /// State and members of each share group, one ShareGroupDescribe per coordinator.
    pub fn describe_share(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        deadline: Instant,
    ) -> Result<HashMap<String, Result<GroupDescription, CallError>>, Unsupported> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let build = |groups: &[&str]| {
            per_chunk(groups, |ids| {
                Call::ShareGroupDescribe(ShareGroupDescribeRequest::default().with_group_ids(ids))
            })
        };
        let decode = |r: Answer| {
            Ok(ShareGroupDescribeResponse::try_from(r)?
                .groups
                .into_iter()
                .map(|g| {
                    // Share groups have no static membership.
                    let members = g.members.into_iter().map(|m| Member {
                        member_id: m.member_id.to_string(),
                        group_instance_id: None,
                        client_id: m.client_id.to_string(),
                        host: m.client_host.to_string(),
                        assignment: None,
                    });
                    let (name, d) = super::calls::description(
                        &g.group_id,
                        &g.group_state,
                        GroupType::Share,
                        members,
                    );
                    (name, g.error_code, d)
                })
                .collect())
        };
        self.per_coordinator(
            "ShareGroupDescribe",
            brokers,
            &names,
            deadline,
            build,
            decode,
        )
    }

    /// Start offset and (Kafka 4.2+) lag of every share partition of each group, from its
    /// coordinator.
    pub fn share_offsets(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        deadline: Instant,
    ) -> Result<ShareOffsets, Unsupported> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let build = |groups: &[&str]| {
            groups
                .chunks(GROUPS_PER_FETCH)
                .map(|c| {
                    let groups = c
                        .iter()
                        .map(|g| {
                            // Null topics: every partition the group has state for (the
                            // crate's default is an empty list, which asks for none).
                            DescribeShareGroupOffsetsRequestGroup::default()
                                .with_group_id(GroupId(StrBytes::from_string((*g).to_owned())))
                                .with_topics(None)
                        })
                        .collect();
                    let req = DescribeShareGroupOffsetsRequest::default().with_groups(groups);
                    Call::DescribeShareGroupOffsets(share_offsets::Request(req))
                })
                .collect()
        };
        let decode = |r: Answer| {
            Ok(Response::try_from(r)?
                .groups
                .into_iter()
                .map(|g| (g.group_id.clone(), g.error_code, g))
                .collect())
        };
        let got = self.per_coordinator(
            "DescribeShareGroupOffsets",
            brokers,
            &names,
            deadline,
            build,
            decode,
        )?;
        Ok(got
            .into_iter()
            .map(|(name, r)| (name, r.and_then(partitions)))
            .collect())
    }
}

/// One group's partitions; a partition error fails the group, as for committed offsets.
fn partitions(g: share_offsets::Group) -> Result<Vec<ShareOffset>, CallError> {
    let mut out = Vec::new();
    for t in g.topics {
        for p in t.partitions {
            if let Some(e) = error(p.error_code) {
                let why = format!("{}/{}: {}", t.name, p.partition_index, error_name(e));
                return Err(CallError::from_error(e, why));
            }
            out.push(ShareOffset {
                topic: t.name.clone(),
                partition: p.partition_index,
                start_offset: p.start_offset,
                lag: p.lag,
            });
        }
    }
    Ok(out)
}
