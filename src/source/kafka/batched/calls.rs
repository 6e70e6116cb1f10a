//! The three batched calls: committed offsets, group descriptions, log offsets.

use super::wire::api::{Answer, Call};
use super::wire::{error, error_name, WireError};
use super::{Batched, Broker, Committed, Outcome, Requests, Unsupported, GROUPS_PER_FETCH};
use crate::snapshot::{GroupState, GroupType, Member, TopicPartition};
use crate::source::kafka::types::{
    CallError, CommittedOffsets, GroupDescription, OffsetsByPosition, OffsetsRequest,
};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, GroupId, ListOffsetsRequest,
    ListOffsetsResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// ListOffsets timestamp asking for the log start.
const EARLIEST: i64 = -2;
/// ListOffsets timestamp asking for the high watermark.
const LATEST: i64 = -1;

impl Batched {
    /// Committed offsets of every request's group, in request order.
    pub fn committed(
        &mut self,
        brokers: &[Broker],
        requests: &[OffsetsRequest],
        deadline: Instant,
    ) -> Result<Vec<Committed>, Unsupported> {
        let by_name: HashMap<&str, &OffsetsRequest> =
            requests.iter().map(|r| (r.group.as_str(), r)).collect();
        let names: Vec<&str> = requests.iter().map(|r| r.group.as_str()).collect();
        let build = |groups: &[&str]| fetch_requests(groups, &by_name);
        let decode = |r: Answer| {
            let groups = OffsetFetchResponse::try_from(r)?.groups;
            Ok(groups
                .into_iter()
                .map(|g| (g.group_id.to_string(), g.error_code, g))
                .collect())
        };
        let mut got =
            self.per_coordinator("OffsetFetch", brokers, &names, deadline, build, decode)?;
        Ok(requests
            .iter()
            .map(|r| match got.remove(&r.group) {
                Some(Ok(g)) => group_offsets(g),
                Some(Err(e)) => Err(e),
                None => Err(CallError::Failed("no answer".into())),
            })
            .collect())
    }

    /// State and members of each classic group, one DescribeGroups per coordinator. A
    /// group the coordinator does not have as a classic group (none at all, or a KIP-848
    /// one) reads as Dead: v5 says so without an error, v6 with GROUP_ID_NOT_FOUND.
    pub fn describe(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        deadline: Instant,
    ) -> Result<HashMap<String, Result<GroupDescription, CallError>>, Unsupported> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let build = |groups: &[&str]| {
            per_chunk(groups, |ids| {
                Call::DescribeGroups(DescribeGroupsRequest::default().with_groups(ids))
            })
        };
        let decode = |r: Answer| {
            let groups = DescribeGroupsResponse::try_from(r)?.groups;
            Ok(groups
                .into_iter()
                .map(|g| {
                    let members = g.members.into_iter().map(|m| Member {
                        member_id: m.member_id.to_string(),
                        group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                        client_id: m.client_id.to_string(),
                        host: m.client_host.to_string(),
                        assignment: None,
                    });
                    if g.error_code == ResponseError::GroupIdNotFound.code() {
                        let (name, d) = description(&g.group_id, "Dead", GroupType::Unknown, []);
                        return (name, 0, d);
                    }
                    let (name, d) =
                        description(&g.group_id, &g.group_state, GroupType::Classic, members);
                    (name, g.error_code, d)
                })
                .collect())
        };
        self.per_coordinator("DescribeGroups", brokers, &names, deadline, build, decode)
    }

    /// Earliest and latest offsets of every partition, asked of its leader, by position
    /// in `partitions`.
    pub fn log_offsets(
        &mut self,
        partitions: &[TopicPartition],
        leaders: &[Option<usize>],
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<(OffsetsByPosition, OffsetsByPosition), Unsupported> {
        let mut earliest: OffsetsByPosition = vec![None; partitions.len()];
        let mut latest = earliest.clone();
        // Per leader (its index in `brokers`) and topic, each partition with its position.
        // `partitions` is sorted, so a leader's topics come in order, each topic's
        // partitions one after another and sorted: one push per partition, and the name
        // compared only where the topic changes (a topic's partitions share one name).
        let mut per_leader: Vec<Vec<(&str, Positions)>> = vec![Vec::new(); brokers.len()];
        for (i, tp) in partitions.iter().enumerate() {
            let leader = leaders.get(i).copied().flatten();
            let Some(topics) = leader.and_then(|b| per_leader.get_mut(b)) else {
                let e = Some(Err("partition has no leader".to_owned()));
                earliest[i] = e.clone();
                latest[i] = e;
                continue;
            };
            let name: &str = &tp.topic;
            match topics.last_mut() {
                Some((t, parts)) if std::ptr::eq(*t, name) || *t == name => {
                    parts.push((tp.partition, i));
                }
                _ => topics.push((name, vec![(tp.partition, i)])),
            }
        }
        let by_leader: Vec<(&Broker, Asked)> = brokers
            .iter()
            .zip(per_leader)
            .filter(|(_, topics)| !topics.is_empty())
            .map(|(b, topics)| {
                // Merged and sorted again all the same: answers are found by a search, and
                // a list that was not sorted must not lose partitions.
                let mut asked = Asked::new();
                for (t, mut parts) in topics {
                    // Moved, not copied: with the poll's sorted list each topic is one
                    // run, so its entry is always new.
                    match asked.entry(t) {
                        Entry::Vacant(e) => {
                            e.insert(parts);
                        }
                        Entry::Occupied(mut e) => e.get_mut().append(&mut parts),
                    }
                }
                asked.values_mut().for_each(|p| p.sort_unstable());
                (b, asked)
            })
            .collect();
        // Made as each leader is asked and dropped once encoded: every leader's requests
        // held through the whole exchange were the next largest transient.
        let jobs = by_leader
            .iter()
            .map(|(b, topics)| {
                let make = move || {
                    [EARLIEST, LATEST]
                        .into_iter()
                        .map(|ts| Call::ListOffsets(list_offsets(topics, ts, |&(p, _)| p)))
                        .collect()
                };
                let apis = vec![ApiKey::ListOffsets; 2];
                let make = Box::new(make);
                ((*b).clone(), Requests::Made { apis, make })
            })
            .collect();
        // Each answer is reduced to its positions on the thread that read it: the decoded
        // answers of every leader, held until all had answered, were the poll's largest
        // transient at 100,000 partitions.
        let digest = |job: usize, a: Answer| {
            let answer = ListOffsetsResponse::try_from(a)?;
            let found = by_leader.get(job).map(|(_, asked)| located(answer, asked));
            Ok::<_, WireError>(found.unwrap_or_default())
        };
        let outcomes = self.exchange_with(jobs, deadline, &digest);
        for ((b, topics), outcome) in by_leader.iter().zip(outcomes) {
            match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    let why = format!("ListOffsets: {e}");
                    fail_all(topics, &why, &mut earliest);
                    fail_all(topics, &why, &mut latest);
                }
                Outcome::Answered(answers) => {
                    for (found, into) in answers.into_iter().zip([&mut earliest, &mut latest]) {
                        match found {
                            Ok(found) => place(found, into),
                            Err(e) => {
                                let why = format!("ListOffsets from {}: {e}", b.key());
                                fail_all(topics, &why, into);
                            }
                        }
                    }
                }
            }
        }
        Ok((earliest, latest))
    }
}

/// One topic's partitions asked of a leader: (partition, position in the poll's list).
type Positions = Vec<(i32, usize)>;

/// The partitions asked of one leader: per topic, [`Positions`] sorted by partition.
type Asked<'a> = BTreeMap<&'a str, Positions>;

/// One answered partition: its position in the poll's list, and its offset or the error
/// the leader gave for it.
type Located = (usize, Result<i64, ResponseError>);

/// Every partition of a ListOffsets answer that was asked of this leader, with its
/// position; a partition nobody asked this leader about is left out.
fn located(answer: ListOffsetsResponse, asked: &Asked) -> Vec<Located> {
    let mut out = Vec::with_capacity(asked.values().map(Vec::len).sum());
    for t in answer.topics {
        let name: &str = &t.name;
        let Some(parts) = asked.get(name) else {
            continue;
        };
        for p in t.partitions {
            let Ok(k) = parts.binary_search_by_key(&p.partition_index, |&(q, _)| q) else {
                continue;
            };
            let v = error(p.error_code).map_or(Ok(p.offset), Err);
            out.push((parts[k].1, v));
        }
    }
    out
}

/// Each located partition's offset, or its error by name, at its position.
fn place(found: Vec<Located>, into: &mut OffsetsByPosition) {
    for (i, v) in found {
        if let Some(slot) = into.get_mut(i) {
            *slot = Some(v.map_err(error_name));
        }
    }
}

/// The same failure for every partition asked of one leader.
fn fail_all(asked: &Asked, why: &str, into: &mut OffsetsByPosition) {
    for &(_, i) in asked.values().flatten() {
        if let Some(slot) = into.get_mut(i) {
            *slot = Some(Err(why.to_owned()));
        }
    }
}

/// A described group as the poll stores it: name and description. A Dead group (one the
/// coordinator does not have) has no type: it is not a group of the type asked about.
pub(super) fn description(
    group_id: &str,
    state: &str,
    group_type: GroupType,
    members: impl IntoIterator<Item = Member>,
) -> (String, GroupDescription) {
    let member_list: Vec<Member> = members.into_iter().collect();
    let state = GroupState::parse(state);
    let d = GroupDescription {
        name: group_id.to_owned(),
        state,
        group_type: if state == GroupState::Dead {
            GroupType::Unknown
        } else {
            group_type
        },
        members: u32::try_from(member_list.len()).unwrap_or(u32::MAX),
        member_list,
    };
    (group_id.to_owned(), d)
}

fn group_id(g: &str) -> GroupId {
    GroupId(StrBytes::from_string(g.to_owned()))
}

/// One request per [`GROUPS_PER_FETCH`] of `groups`, made by `make` from their ids: how
/// every describe request of a coordinator's groups is built.
pub(super) fn per_chunk(groups: &[&str], make: impl Fn(Vec<GroupId>) -> Call) -> Vec<Call> {
    groups
        .chunks(GROUPS_PER_FETCH)
        .map(|c| make(c.iter().map(|g| group_id(g)).collect()))
        .collect()
}

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_owned()))
}

/// One ListOffsets request for every partition of `topics`, read_uncommitted (the high
/// watermark, like kafka-consumer-groups), at one timestamp.
pub(super) fn list_offsets<P>(
    topics: &BTreeMap<&str, Vec<P>>,
    timestamp: i64,
    partition: impl Fn(&P) -> i32,
) -> ListOffsetsRequest {
    let topics = topics
        .iter()
        .map(|(t, parts)| {
            let parts = parts
                .iter()
                .map(|p| {
                    ListOffsetsPartition::default()
                        .with_partition_index(partition(p))
                        .with_timestamp(timestamp)
                })
                .collect();
            ListOffsetsTopic::default()
                .with_name(topic_name(t))
                .with_partitions(parts)
        })
        .collect();
    // replica_id -1: a client, not a follower.
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(0)
        .with_topics(topics)
}

/// OffsetFetch requests for these groups, [`GROUPS_PER_FETCH`] to a request
/// (require_stable false, as librdkafka's default).
fn fetch_requests(groups: &[&str], requests: &HashMap<&str, &OffsetsRequest>) -> Vec<Call> {
    groups
        .chunks(GROUPS_PER_FETCH)
        .map(|chunk| {
            let groups = chunk
                .iter()
                .map(|g| {
                    // None = every partition the group committed (the null topics array).
                    let topics = requests
                        .get(g)
                        .and_then(|r| r.partitions.as_ref())
                        .map(|parts| {
                            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                            for tp in parts.iter() {
                                by_topic.entry(&*tp.topic).or_default().push(tp.partition);
                            }
                            by_topic
                                .into_iter()
                                .map(|(t, p)| {
                                    OffsetFetchRequestTopics::default()
                                        .with_name(topic_name(t))
                                        .with_partition_indexes(p)
                                })
                                .collect()
                        });
                    OffsetFetchRequestGroup::default()
                        .with_group_id(group_id(g))
                        .with_topics(topics)
                })
                .collect();
            Call::OffsetFetch(OffsetFetchRequest::default().with_groups(groups))
        })
        .collect()
}

/// One group's answer as the librdkafka path gives it: a partition error fails the group,
/// and "no commit" (-1) is left out.
fn group_offsets(g: OffsetFetchResponseGroup) -> Committed {
    if let Some(e) = error(g.error_code) {
        let why = format!("OffsetFetch: {}", error_name(e));
        return Err(CallError::from_error(e, why));
    }
    let mut out = CommittedOffsets::default();
    for t in g.topics {
        for p in t.partitions {
            if let Some(e) = error(p.error_code) {
                let why = format!(
                    "{}/{}: {}",
                    t.name.as_str(),
                    p.partition_index,
                    error_name(e)
                );
                return Err(CallError::from_error(e, why));
            }
            if p.committed_offset >= 0 {
                out.push(&t.name, p.partition_index, p.committed_offset);
            }
        }
    }
    Ok(out)
}
