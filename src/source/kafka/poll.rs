//! One poll of one cluster, step by step: metadata, groups, committed offsets, then log
//! offsets (committed first, so lag is never negative). Each step uses the batched protocol
//! client when the cluster allows it and librdkafka otherwise.

use super::admin;
use super::batched::metadata::{bootstrap_brokers, MetadataError};
use super::batched::Broker;
use super::client::LibrdkafkaClient;
use super::describe_cache::DescribeCache;
use super::types::{
    CallError, ClusterMetadata, ListOffsetsResult, OffsetSpec, OffsetsByPosition, OffsetsRequest,
    TopicId, TypedListing,
};
use crate::config::ClusterConfig;
use crate::snapshot::{
    PartitionOffsets, PollError, ResourceType, Snapshot, Stage, TopicPartition, Unauthorized,
};
use crate::source::ReadError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Committed-offset requests kept in flight at once on the one client (librdkafka path).
const OFFSET_FETCH_IN_FLIGHT: usize = 200;

/// Reads everything watched in one blocking poll.
pub(super) fn read(
    cfg: &ClusterConfig,
    client: &LibrdkafkaClient,
    describe_cache: &DescribeCache,
    batched: Option<&Mutex<BatchedState>>,
    extra_positions: &[(String, i32, i64)],
) -> Result<Snapshot, ReadError> {
    let mut steps = Steps::start();
    let mut p = Poll::metadata(cfg, client, batched)?;
    steps.lap("metadata");
    let requests = p.groups(describe_cache);
    steps.lap("groups");
    p.committed(&requests);
    steps.lap("committed");
    p.share_groups();
    steps.lap("share_groups");
    p.log_offsets();
    steps.lap("log_offsets");
    p.record_times(extra_positions);
    steps.lap("record_times");
    p.topic_configs();
    steps.lap("topic_configs");
    tracing::debug!(cluster = %cfg.name, steps = %steps, "poll steps (ms)");
    if let Some(d) = p.batched.as_mut() {
        p.snap.requests = d.batched.take_sent();
    }
    p.snap.kafka_client = Some(fast::path(p.batched.as_deref()));
    p.batched = None;
    p.snap.unauthorized.sort();
    p.snap.unauthorized.dedup();
    Ok(p.snap)
}

/// How long each step of a poll took: where a slow poll's time went (debug log).
struct Steps {
    last: Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Steps {
    fn start() -> Self {
        Steps {
            last: Instant::now(),
            laps: Vec::with_capacity(8),
        }
    }

    fn lap(&mut self, step: &'static str) {
        let now = Instant::now();
        let ms = now.duration_since(self.last).as_secs_f64() * 1e3;
        self.laps.push((step, ms));
        self.last = now;
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (step, ms)) in self.laps.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{step}={ms:.1}")?;
        }
        Ok(())
    }
}

/// One poll in progress: what the metadata said, and the snapshot being filled.
struct Poll<'a> {
    cfg: &'a ClusterConfig,
    client: &'a LibrdkafkaClient,
    batched: Option<MutexGuard<'a, BatchedState>>,
    snap: Snapshot,
    /// Watched partitions, sorted; a topic's partitions share one name, which the
    /// snapshot's keys share too.
    topic_parts: Arc<[TopicPartition]>,
    /// One shared name per watched topic, for answers that name a topic.
    topic_arcs: HashMap<String, Arc<str>>,
    brokers: Vec<Broker>,
    /// Leader of each of `topic_parts`, as an index into `brokers`.
    leaders: Vec<Option<usize>>,
    /// Every topic's name by id (ids only come with the batched path's Metadata).
    topic_ids: HashMap<TopicId, String>,
    /// The share groups of this poll's typed listing, for the share-group step; `None`
    /// when the groups were not listed with their types.
    share_listed: Option<Vec<TypedListing>>,
}

/// The answer to "too slow": the poll's whole budget went by.
fn slow(cfg: &ClusterConfig) -> ReadError {
    ReadError::Slow {
        bootstrap: cfg.bootstrap_servers.clone(),
        timeout: cfg.poll_timeout,
    }
}

/// What a poll reads from the metadata: the brokers in a fixed order, the watched
/// partitions sorted with their leaders, and every topic id's name. Pure.
#[derive(Debug, Default)]
struct Watched {
    brokers: Vec<Broker>,
    topic_parts: Arc<[TopicPartition]>,
    leaders: Vec<Option<usize>>,
    topic_arcs: HashMap<String, Arc<str>>,
    topic_ids: HashMap<TopicId, String>,
}

impl Watched {
    fn of(md: ClusterMetadata, watched: impl Fn(&str) -> bool) -> Self {
        let mut brokers = md.brokers;
        brokers.sort_by(|a, b| a.1.cmp(&b.1));
        let index: HashMap<i32, usize> = brokers
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let mut parts: Vec<(TopicPartition, Option<usize>)> = Vec::new();
        let mut topic_arcs = HashMap::new();
        let mut topic_ids = HashMap::new();
        for t in md.topics {
            if let Some(id) = t.id {
                topic_ids.insert(id, t.name.clone());
            }
            if t.failed || !watched(&t.name) {
                continue;
            }
            let name: Arc<str> = Arc::from(t.name.as_str());
            for (p, leader) in t.partitions {
                parts.push((
                    TopicPartition::new(name.clone(), p),
                    index.get(&leader).copied(),
                ));
            }
            topic_arcs.insert(t.name, name);
        }
        parts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (topic_parts, leaders): (Vec<_>, _) = parts.into_iter().unzip();
        let topic_parts = topic_parts.into();
        Watched {
            brokers: brokers.into_iter().map(|(_, b)| b).collect(),
            topic_parts,
            leaders,
            topic_arcs,
            topic_ids,
        }
    }
}

impl<'a> Poll<'a> {
    /// Reads the metadata (the batched path's Metadata when the cluster is on it, else
    /// librdkafka's) and starts the poll with it.
    fn metadata(
        cfg: &'a ClusterConfig,
        client: &'a LibrdkafkaClient,
        batched: Option<&'a Mutex<BatchedState>>,
    ) -> Result<Self, ReadError> {
        let started = Instant::now();
        let mut batched = batched.map(fast::start);
        let fast = batched.as_mut().and_then(|d| {
            let bootstrap = bootstrap_brokers(&cfg.bootstrap_servers);
            match d.batched.metadata(&bootstrap, started + cfg.poll_timeout) {
                Ok(md) => Some(Ok(md)),
                Err(MetadataError::Unsupported(why)) => {
                    d.fell_back(&cfg.name, why.0);
                    None
                }
                Err(MetadataError::Slow) => Some(Err(slow(cfg))),
                Err(MetadataError::Unreachable(message)) => Some(Err(ReadError::Unreachable {
                    bootstrap: cfg.bootstrap_servers.clone(),
                    message,
                })),
            }
        });
        let md = match fast {
            Some(md) => md?,
            None => {
                let client = client.get().map_err(ReadError::Client)?;
                admin::metadata(client, cfg.poll_timeout).map_err(|e| {
                    // The whole budget went by: whatever librdkafka calls it, the cluster was
                    // too slow, not refused.
                    if started.elapsed() >= cfg.poll_timeout.mul_f64(0.9) {
                        slow(cfg)
                    } else {
                        ReadError::Unreachable {
                            bootstrap: cfg.bootstrap_servers.clone(),
                            message: e,
                        }
                    }
                })?
            }
        };
        let watched = Watched::of(md, |t| cfg.topics.matches(t));
        Ok(Poll {
            cfg,
            client,
            batched,
            snap: Snapshot::new(cfg.name.clone(), 0.0),
            topic_parts: watched.topic_parts,
            topic_arcs: watched.topic_arcs,
            topic_ids: watched.topic_ids,
            brokers: watched.brokers,
            leaders: watched.leaders,
            share_listed: None,
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
        let committed = batched.unwrap_or_else(|| match self.client.get() {
            Ok(client) => admin::list_consumer_group_offsets(
                client,
                requests,
                OFFSET_FETCH_IN_FLIGHT,
                cfg.poll_timeout,
            ),
            Err(e) => vec![Err(CallError::Failed(e)); requests.len()],
        });
        for (req, res) in requests.iter().zip(committed) {
            match res {
                Ok(offsets) => {
                    let Some(g) = self.snap.groups.get_mut(&req.group) else {
                        continue;
                    };
                    for (t, parts) in offsets.0 {
                        let Some(arc) = self.topic_arcs.get(&t) else {
                            continue;
                        };
                        for (p, off) in parts {
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
        let (client, timeout) = (self.client, cfg.poll_timeout);
        let (earliest, latest) = batched.unwrap_or_else(|| {
            let client = match client.get() {
                Ok(c) => c,
                Err(e) => return (Err(e.clone()), Err(e)),
            };
            std::thread::scope(|s| {
                let e =
                    s.spawn(|| admin::list_offsets(client, parts, OffsetSpec::Earliest, timeout));
                let l = admin::list_offsets(client, parts, OffsetSpec::Latest, timeout);
                let e = e
                    .join()
                    .unwrap_or_else(|_| Err("ListOffsets earliest panicked".into()));
                (
                    e.map(|e| by_position(parts, &e)),
                    l.map(|l| by_position(parts, &l)),
                )
            })
        });
        self.snap.taken_at = crate::runtime::now();
        let (earliest, latest) = match (earliest, latest) {
            (Ok(e), Ok(l)) => (e, l),
            (Err(e), _) | (_, Err(e)) => {
                self.error(Stage::LogOffsets, None, e);
                (Vec::new(), Vec::new())
            }
        };
        let mut failed_parts = 0usize;
        let mut first_failure = None;
        // In key order, as `topic_parts` is sorted: a map built from it at once has full
        // nodes, where inserting one at a time leaves them about half full.
        let mut read = Vec::with_capacity(self.topic_parts.len());
        for (i, tp) in self.topic_parts.iter().enumerate() {
            let (s, e) = (earliest.get(i), latest.get(i));
            match (s.and_then(Option::as_ref), e.and_then(Option::as_ref)) {
                (Some(Ok(s)), Some(Ok(e))) => {
                    let offsets = PartitionOffsets {
                        log_start: (*s).min(*e),
                        log_end: *e,
                    };
                    read.push((tp.clone(), offsets));
                }
                (a, b) => {
                    failed_parts += 1;
                    if first_failure.is_none() {
                        let why = match (a, b) {
                            (Some(Err(x)), _) | (_, Some(Err(x))) => x.clone(),
                            _ => "no answer".to_owned(),
                        };
                        first_failure = Some(format!("{}/{}: {why}", tp.topic, tp.partition));
                    }
                }
            }
        }
        if self.snap.partitions.is_empty() {
            self.snap.partitions = read.into_iter().collect();
        } else {
            self.snap.partitions.extend(read);
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

/// librdkafka's answers, keyed by name, laid out like the batched path's: by position in
/// `parts`.
fn by_position(parts: &[TopicPartition], answers: &ListOffsetsResult) -> OffsetsByPosition {
    // One key buffer for every lookup rather than a String per partition.
    let mut key = (String::new(), 0);
    parts
        .iter()
        .map(|tp| {
            key.0.clear();
            key.0.push_str(&tp.topic);
            key.1 = tp.partition;
            answers.get(&key).cloned()
        })
        .collect()
}

mod fast;
mod groups;
mod records;
mod share;
#[cfg(test)]
mod tests;

pub(super) use fast::{fast_path, BatchedState};
