//! One poll of one cluster, step by step: metadata, groups, committed offsets, then log
//! offsets (committed first, so lag is never negative). Each step uses the batched protocol
//! client when the cluster allows it and librdkafka otherwise.

use super::admin;
use super::batched::Broker;
use super::describe_cache::DescribeCache;
use super::types::{CallError, GroupDescription, OffsetSpec, OffsetsRequest};
use crate::config::ClusterConfig;
use crate::snapshot::{
    GroupSnapshot, GroupState, PartitionOffsets, PollError, ResourceType, Snapshot, Stage,
    TopicPartition, Unauthorized,
};
use crate::source::ReadError;
use rdkafka::client::{Client, DefaultClientContext};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Committed-offset requests kept in flight at once on the one client (librdkafka path).
const OFFSET_FETCH_IN_FLIGHT: usize = 200;

/// Reads everything watched in one blocking poll.
pub(super) fn read(
    cfg: &ClusterConfig,
    client: &Client<DefaultClientContext>,
    describe_cache: &DescribeCache,
    batched: Option<&Mutex<BatchedState>>,
) -> Result<Snapshot, ReadError> {
    let mut p = Poll::metadata(cfg, client, batched)?;
    let requests = p.groups(describe_cache);
    p.committed(&requests);
    p.share_groups();
    p.log_offsets();
    p.snap.unauthorized.sort();
    p.snap.unauthorized.dedup();
    Ok(p.snap)
}

/// One poll in progress: what the metadata said, and the snapshot being filled.
struct Poll<'a> {
    cfg: &'a ClusterConfig,
    client: &'a Client<DefaultClientContext>,
    batched: Option<MutexGuard<'a, BatchedState>>,
    snap: Snapshot,
    /// Watched partitions, sorted.
    topic_parts: Vec<(String, i32)>,
    /// One shared name per watched topic, for the snapshot's keys.
    topic_arcs: HashMap<String, Arc<str>>,
    brokers: Vec<Broker>,
    /// Leader of each of `topic_parts`, as an index into `brokers`.
    leaders: Vec<Option<usize>>,
}

impl<'a> Poll<'a> {
    fn metadata(
        cfg: &'a ClusterConfig,
        client: &'a Client<DefaultClientContext>,
        batched: Option<&'a Mutex<BatchedState>>,
    ) -> Result<Self, ReadError> {
        let started = Instant::now();
        let md = client.fetch_metadata(None, cfg.poll_timeout).map_err(|e| {
            // The whole budget went by: whatever librdkafka calls it, the cluster was
            // too slow, not refused.
            if started.elapsed() >= cfg.poll_timeout.mul_f64(0.9) {
                ReadError::Slow {
                    bootstrap: cfg.bootstrap_servers.clone(),
                    timeout: cfg.poll_timeout,
                }
            } else {
                ReadError::Unreachable {
                    bootstrap: cfg.bootstrap_servers.clone(),
                    message: e.to_string(),
                }
            }
        })?;
        let mut brokers: Vec<(i32, Broker)> = md
            .brokers()
            .iter()
            .map(|b| {
                let broker = Broker {
                    host: b.host().to_owned(),
                    port: b.port(),
                };
                (b.id(), broker)
            })
            .collect();
        brokers.sort_by(|a, b| a.1.cmp(&b.1));
        let index: HashMap<i32, usize> = brokers
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let mut parts: Vec<((String, i32), Option<usize>)> = Vec::new();
        let mut topic_arcs = HashMap::new();
        for t in md.topics() {
            if t.error().is_some() || !cfg.topics.matches(t.name()) {
                continue;
            }
            topic_arcs.insert(t.name().to_owned(), Arc::from(t.name()));
            for p in t.partitions() {
                let leader = index.get(&p.leader()).copied();
                parts.push(((t.name().to_owned(), p.id()), leader));
            }
        }
        parts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (topic_parts, leaders) = parts.into_iter().unzip();
        let brokers = brokers.into_iter().map(|(_, b)| b).collect();
        Ok(Poll {
            cfg,
            client,
            batched: batched.map(fast::start),
            snap: Snapshot::new(cfg.name.clone(), 0.0),
            topic_parts,
            topic_arcs,
            brokers,
            leaders,
        })
    }

    fn error(&mut self, stage: Stage, subject: Option<String>, message: String) {
        self.snap.errors.push(PollError {
            stage,
            subject,
            message,
        });
    }

    /// Records a group the principal may not describe; true if `e` says so. Such a group
    /// is left out of the snapshot: it has no lag to report, zero or otherwise.
    fn unauthorized_group(&mut self, group: &str, e: &CallError) -> bool {
        match e {
            CallError::Unauthorized {
                resource: ResourceType::Group,
                ..
            } => {
                self.snap.groups.remove(group);
                self.snap.members.remove(group);
                self.snap.unauthorized.push(Unauthorized {
                    resource_type: ResourceType::Group,
                    name: group.to_owned(),
                });
                true
            }
            _ => false,
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.cfg.poll_timeout
    }

    /// Named groups, then discovered ones; returns them with their listed states and how
    /// many of them were named.
    fn list(&mut self) -> (Vec<String>, HashMap<String, GroupState>, usize) {
        let mut names: Vec<String> = self.cfg.groups.names.clone();
        let explicit = names.len();
        let mut states = HashMap::new();
        if !self.cfg.groups.discover {
            return (names, states, explicit);
        }
        match admin::list_consumer_groups(self.client, self.cfg.poll_timeout) {
            Ok((listed, errors)) => {
                for e in errors {
                    self.error(Stage::ListGroups, None, e);
                }
                let named: HashSet<String> = names.iter().cloned().collect();
                for g in listed {
                    if self.cfg.groups.filter.matches(&g.name) && !named.contains(&g.name) {
                        states.insert(g.name.clone(), g.state);
                        names.push(g.name);
                    }
                }
            }
            Err(e) => self.error(Stage::ListGroups, None, e),
        }
        (names, states, explicit)
    }

    /// Descriptions of `names`: batched per coordinator every poll where the cluster allows
    /// it; otherwise (KIP-848 groups, older brokers, TLS/SASL) from librdkafka, one request
    /// per group, so there from the cache while fresh (state and members change slowly).
    fn describe(
        &mut self,
        cache: &DescribeCache,
        names: &[String],
        listed: &HashMap<String, GroupState>,
    ) -> HashMap<String, Result<GroupDescription, CallError>> {
        let now = Instant::now();
        let listed_alive = |n: &str| listed.get(n).is_some_and(|s| *s != GroupState::Dead);
        let stale = cache.stale(names, listed, now);
        let mut per_group = stale.clone();
        let mut descriptions = HashMap::new();
        let deadline = self.deadline();
        // The batched path describes every group every poll: it costs one request per
        // coordinator whatever the number of groups, and a cached member list would miss a
        // member that joined between two polls without a state change (Stable -> Stable).
        if let Some(d) = self.batched.as_mut().filter(|_| !names.is_empty()) {
            match d.batched.describe(&self.brokers, names, deadline) {
                Ok(found) => {
                    per_group.clear();
                    for (name, r) in found {
                        // KIP-848 groups (DescribeGroups v5 answers "Dead" without an error
                        // for them; only v6 says GROUP_ID_NOT_FOUND) and other failures go
                        // to librdkafka, which uses ConsumerGroupDescribe, at the cache's
                        // pace: it costs one request per group.
                        let to_librdkafka = match &r {
                            Ok(d) => d.state == GroupState::Dead && listed_alive(&name),
                            // Refused is refused: librdkafka would be refused too.
                            Err(CallError::Unauthorized { .. }) => false,
                            Err(_) => true,
                        };
                        if !to_librdkafka {
                            descriptions.insert(name, r);
                        } else if stale.contains(&name) {
                            per_group.push(name);
                        }
                    }
                }
                Err(why) => d.fell_back(&self.cfg.name, why.0),
            }
        }
        descriptions.extend(admin::describe_consumer_groups(
            self.client,
            &per_group,
            self.cfg.poll_timeout,
        ));
        cache.store_and_fill(names, &mut descriptions, now);
        descriptions
    }

    /// Lists and describes the groups into the snapshot; returns what to fetch for each.
    fn groups(&mut self, cache: &DescribeCache) -> Vec<OffsetsRequest> {
        let (names, states, explicit) = self.list();
        let descriptions = self.describe(cache, &names, &states);
        let mut requests = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let listed = || states.get(name).copied().unwrap_or_default();
            let (state, members) = match descriptions.get(name) {
                Some(Ok(d)) => {
                    self.snap
                        .members
                        .insert(name.clone(), d.member_list.clone());
                    (d.state, Some(d.members))
                }
                Some(Err(CallError::Unsupported(_))) => (listed(), None),
                Some(Err(e)) => {
                    if self.unauthorized_group(name, e) {
                        continue;
                    }
                    self.error(Stage::DescribeGroups, Some(name.clone()), e.to_string());
                    (listed(), None)
                }
                None => (listed(), None),
            };
            self.snap.groups.insert(
                name.clone(),
                GroupSnapshot::kafka(name.clone(), state, members),
            );
            // A named group is asked for the watched partitions; with none watched there is
            // nothing to ask (librdkafka rejects an empty list), and nothing to lag on.
            if i < explicit && self.topic_parts.is_empty() {
                continue;
            }
            requests.push(OffsetsRequest {
                group: name.clone(),
                partitions: (i < explicit).then(|| self.topic_parts.clone()),
            });
        }
        requests
    }

    /// Committed offsets of every requested group into the snapshot.
    fn committed(&mut self, requests: &[OffsetsRequest]) {
        let deadline = self.deadline();
        let (cfg, brokers) = (self.cfg, &self.brokers);
        let batched = self.batched.as_mut().and_then(|d| {
            match d.batched.committed(brokers, requests, deadline) {
                Ok(c) => Some(c),
                Err(why) => {
                    d.fell_back(&cfg.name, why.0);
                    None
                }
            }
        });
        let committed = batched.unwrap_or_else(|| {
            admin::list_consumer_group_offsets(
                self.client,
                requests,
                OFFSET_FETCH_IN_FLIGHT,
                cfg.poll_timeout,
            )
        });
        for (req, res) in requests.iter().zip(committed) {
            match res {
                Ok(offsets) => {
                    let Some(g) = self.snap.groups.get_mut(&req.group) else {
                        continue;
                    };
                    for ((t, p), off) in offsets {
                        if let Some(arc) = self.topic_arcs.get(&t) {
                            let tp = TopicPartition {
                                topic: arc.clone(),
                                partition: p,
                            };
                            g.committed.insert(tp, off);
                        }
                    }
                }
                Err(e) => {
                    if self.unauthorized_group(&req.group, &e) {
                        continue;
                    }
                    let message = e.to_string();
                    self.error(Stage::CommittedOffsets, Some(req.group.clone()), message);
                    self.snap.unreadable_groups.push(req.group.clone());
                }
            }
        }
    }

    /// Log start and end offsets of every watched partition into the snapshot.
    fn log_offsets(&mut self) {
        let deadline = self.deadline();
        let (cfg, parts, leaders, brokers) =
            (self.cfg, &self.topic_parts, &self.leaders, &self.brokers);
        let batched = self.batched.as_mut().and_then(|d| {
            match d.batched.log_offsets(parts, leaders, brokers, deadline) {
                Ok((e, l)) => Some((Ok(e), Ok(l))),
                Err(why) => {
                    d.fell_back(&cfg.name, why.0);
                    None
                }
            }
        });
        self.snap.kafka_client = Some(fast::path(self.batched.as_deref()));
        // The batched path's lock is not needed past this point.
        self.batched = None;
        let (client, timeout) = (self.client, cfg.poll_timeout);
        let (earliest, latest) = batched.unwrap_or_else(|| {
            std::thread::scope(|s| {
                let e =
                    s.spawn(|| admin::list_offsets(client, parts, OffsetSpec::Earliest, timeout));
                let l = admin::list_offsets(client, parts, OffsetSpec::Latest, timeout);
                let e = e
                    .join()
                    .unwrap_or_else(|_| Err("ListOffsets earliest panicked".into()));
                (e, l)
            })
        });
        self.snap.taken_at = crate::runtime::now();
        let (earliest, latest) = match (earliest, latest) {
            (Ok(e), Ok(l)) => (e, l),
            (Err(e), _) | (_, Err(e)) => {
                self.error(Stage::LogOffsets, None, e);
                (HashMap::new(), HashMap::new())
            }
        };
        let mut failed_parts = 0usize;
        let mut first_failure = None;
        for (t, p) in &self.topic_parts {
            let key = (t.clone(), *p);
            match (earliest.get(&key), latest.get(&key)) {
                (Some(Ok(s)), Some(Ok(e))) => {
                    let Some(arc) = self.topic_arcs.get(t) else {
                        continue;
                    };
                    let tp = TopicPartition {
                        topic: arc.clone(),
                        partition: *p,
                    };
                    let offsets = PartitionOffsets {
                        log_start: (*s).min(*e),
                        log_end: *e,
                    };
                    self.snap.partitions.insert(tp, offsets);
                }
                (a, b) => {
                    failed_parts += 1;
                    if first_failure.is_none() {
                        let why = match (a, b) {
                            (Some(Err(x)), _) | (_, Some(Err(x))) => x.clone(),
                            _ => "no answer".to_owned(),
                        };
                        first_failure = Some(format!("{t}/{p}: {why}"));
                    }
                }
            }
        }
        if failed_parts > 0 && !earliest.is_empty() {
            let message = format!(
                "{failed_parts} of {} partitions without offsets (first: {})",
                self.topic_parts.len(),
                first_failure.unwrap_or_default()
            );
            self.error(Stage::LogOffsets, None, message);
        }
    }
}

mod fast;
mod share;
#[cfg(test)]
mod tests;

pub(super) use fast::{fast_path, BatchedState};
