//! The three batched calls: committed offsets, group descriptions, log offsets.

use super::wire::conn::{Request, Response};
use super::wire::messages::{self as msg, GroupFetch};
use super::{Batched, Broker, Committed, Outcome, Unsupported, GROUPS_PER_FETCH};
use crate::source::kafka::types::{CallError, GroupDescription, ListOffsetsResult, OffsetsRequest};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

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
        let decode = |r: &Response| {
            let groups = msg::offset_fetch_response(&mut r.body())?;
            Ok(groups
                .into_iter()
                .map(|g| (g.group.clone(), g.error_code, g))
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

    /// State and members of each group, one DescribeGroups per coordinator. A KIP-848
    /// group comes back as Dead without an error from Kafka 4.4 at v5 (GROUP_ID_NOT_FOUND
    /// only at v6+; other brokers may send that error): the caller asks librdkafka for
    /// groups listed alive but described Dead, and for errors.
    pub fn describe(
        &mut self,
        brokers: &[Broker],
        groups: &[String],
        deadline: Instant,
    ) -> Result<HashMap<String, Result<GroupDescription, CallError>>, Unsupported> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        let build = |groups: &[&str]| {
            groups
                .chunks(GROUPS_PER_FETCH)
                .map(|c| Request {
                    api_key: msg::DESCRIBE_GROUPS,
                    version: msg::DESCRIBE_GROUPS_VERSION,
                    body: msg::describe_groups_request(c),
                })
                .collect()
        };
        let decode = |r: &Response| {
            let groups = msg::describe_groups_response(&mut r.body())?;
            Ok(groups
                .into_iter()
                .map(|g| {
                    let d = GroupDescription {
                        name: g.group.clone(),
                        state: g.state,
                        members: g.members,
                        member_list: g.member_list,
                    };
                    (g.group, g.error_code, d)
                })
                .collect())
        };
        self.per_coordinator("DescribeGroups", brokers, &names, deadline, build, decode)
    }

    /// Earliest and latest offsets of every partition, asked of its leader.
    pub fn log_offsets(
        &mut self,
        partitions: &[(String, i32)],
        leaders: &[Option<usize>],
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<(ListOffsetsResult, ListOffsetsResult), Unsupported> {
        let mut earliest = ListOffsetsResult::with_capacity(partitions.len());
        let mut latest = ListOffsetsResult::with_capacity(partitions.len());
        // Leaders as indices into `brokers`: 10,000 partitions share a handful of brokers.
        let mut by_leader: BTreeMap<&Broker, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for (i, (t, p)) in partitions.iter().enumerate() {
            match leaders
                .get(i)
                .copied()
                .flatten()
                .and_then(|b| brokers.get(b))
            {
                Some(b) => by_leader
                    .entry(b)
                    .or_default()
                    .entry(t.as_str())
                    .or_default()
                    .push(*p),
                None => {
                    let e = Err("partition has no leader".to_owned());
                    earliest.insert((t.clone(), *p), e.clone());
                    latest.insert((t.clone(), *p), e);
                }
            }
        }
        let mut jobs = Vec::with_capacity(by_leader.len());
        for (b, topics) in &by_leader {
            let topics: Vec<(&str, Vec<i32>)> =
                topics.iter().map(|(t, p)| (*t, p.clone())).collect();
            let mut reqs = Vec::with_capacity(2);
            for ts in [msg::EARLIEST, msg::LATEST] {
                let body = msg::list_offsets_request(&topics, ts)
                    .map_err(|e| Unsupported(format!("ListOffsets: {e}")))?;
                reqs.push(Request {
                    api_key: msg::LIST_OFFSETS,
                    version: msg::LIST_OFFSETS_VERSION,
                    body,
                });
            }
            jobs.push(((*b).clone(), reqs));
        }
        let outcomes = self.exchange(jobs, deadline);
        for ((b, topics), outcome) in by_leader.iter().zip(outcomes) {
            let failed = |why: String, e: &mut ListOffsetsResult, l: &mut ListOffsetsResult| {
                for (t, parts) in topics {
                    for p in parts {
                        e.insert(((*t).to_owned(), *p), Err(why.clone()));
                        l.insert(((*t).to_owned(), *p), Err(why.clone()));
                    }
                }
            };
            match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    failed(format!("ListOffsets: {e}"), &mut earliest, &mut latest)
                }
                Outcome::Answered(responses) => {
                    for (r, into) in responses.iter().zip([&mut earliest, &mut latest]) {
                        match msg::list_offsets_response(&mut r.body()) {
                            Ok(parts) => {
                                for lo in parts {
                                    let v = if lo.error_code == 0 {
                                        Ok(lo.offset)
                                    } else {
                                        Err(msg::error_name(lo.error_code))
                                    };
                                    into.insert((lo.topic, lo.partition), v);
                                }
                            }
                            Err(e) => {
                                let why = format!("ListOffsets from {}: {e}", b.key());
                                for (t, parts) in topics {
                                    for p in parts {
                                        into.insert(((*t).to_owned(), *p), Err(why.clone()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok((earliest, latest))
    }
}

/// OffsetFetch v8 requests for these groups, [`GROUPS_PER_FETCH`] to a request.
fn fetch_requests(groups: &[&str], requests: &HashMap<&str, &OffsetsRequest>) -> Vec<Request> {
    groups
        .chunks(GROUPS_PER_FETCH)
        .map(|chunk| {
            let groups: Vec<GroupFetch<'_>> = chunk
                .iter()
                .map(|g| GroupFetch {
                    group: g,
                    topics: requests
                        .get(g)
                        .and_then(|r| r.partitions.as_ref())
                        .map(|parts| {
                            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                            for (t, p) in parts {
                                by_topic.entry(t.as_str()).or_default().push(*p);
                            }
                            by_topic.into_iter().collect()
                        }),
                })
                .collect();
            Request {
                api_key: msg::OFFSET_FETCH,
                version: msg::OFFSET_FETCH_VERSION,
                body: msg::offset_fetch_request(&groups),
            }
        })
        .collect()
}

/// One group's answer as the librdkafka path gives it: a partition error fails the group,
/// and "no commit" (-1) is left out.
fn group_offsets(g: msg::GroupCommitted) -> Committed {
    if g.error_code != 0 {
        let why = format!("OffsetFetch: {}", msg::error_name(g.error_code));
        return Err(CallError::from_code(i32::from(g.error_code), why));
    }
    if let Some(p) = g.partitions.iter().find(|p| p.error_code != 0) {
        let why = format!(
            "{}/{}: {}",
            p.topic,
            p.partition,
            msg::error_name(p.error_code)
        );
        return Err(CallError::from_code(i32::from(p.error_code), why));
    }
    // Moved, not cloned: one string per partition per poll is enough.
    Ok(g.partitions
        .into_iter()
        .filter(|p| p.offset >= 0)
        .map(|p| ((p.topic, p.partition), p.offset))
        .collect())
}
