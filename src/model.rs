//! Turns a snapshot into conclusions: lag per partition, topic and group.

use crate::config::RulesConfig;
use crate::lag::partition_lag;
use crate::snapshot::{Snapshot, Timestamp};
use crate::view::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Keeps what must survive between polls of one cluster and builds each poll's view.
#[derive(Debug)]
pub struct Model {
    rules: RulesConfig,
}

impl Model {
    /// A model with the given rules.
    pub fn new(rules: RulesConfig) -> Self {
        Model { rules }
    }

    /// The rules in force.
    pub fn rules(&self) -> &RulesConfig {
        &self.rules
    }

    /// Builds the view of one poll; `now` is injected so tests control time.
    pub fn update(&mut self, snap: &Snapshot, now: Timestamp) -> ClusterView {
        let mut topics: BTreeMap<Arc<str>, TopicView> = BTreeMap::new();
        for (tp, off) in &snap.partitions {
            topics
                .entry(tp.topic.clone())
                .or_insert_with(|| TopicView {
                    topic: tp.topic.clone(),
                    produce_rate: None,
                    partitions: Vec::new(),
                })
                .partitions
                .push(PartitionView {
                    partition: tp.partition,
                    log_start: off.log_start,
                    log_end: off.log_end,
                    produce_rate: None,
                });
        }
        let mut groups = Vec::with_capacity(snap.groups.len());
        for g in snap.groups.values() {
            let mut per_topic: BTreeMap<Arc<str>, GroupTopicView> = BTreeMap::new();
            for (tp, &committed) in &g.committed {
                let Some(off) = snap.partitions.get(tp) else {
                    continue;
                };
                let l = partition_lag(committed, off.log_start, off.log_end);
                let inflight_lag = g
                    .inflight
                    .get(tp)
                    .map(|&o| partition_lag(o, off.log_start, off.log_end).lag);
                let t = per_topic
                    .entry(tp.topic.clone())
                    .or_insert_with(|| GroupTopicView {
                        topic: tp.topic.clone(),
                        lag: 0,
                        max_lag_seconds: None,
                        produce_rate: None,
                        consume_rate: None,
                        throughput_ratio: None,
                        drain_eta_seconds: None,
                        status: Status::Ok,
                        reasons: Vec::new(),
                        partitions: Vec::new(),
                    });
                t.lag += l.lag;
                t.partitions.push(GroupPartitionView {
                    partition: tp.partition,
                    committed,
                    log_start: off.log_start,
                    log_end: off.log_end,
                    lag: l.lag,
                    lag_seconds: None,
                    lag_seconds_method: None,
                    messages_lost: l.messages_lost,
                    inflight_lag,
                });
            }
            let topics: Vec<GroupTopicView> = per_topic.into_values().collect();
            groups.push(GroupView {
                group: g.name.clone(),
                source: g.source,
                state: g.state.clone(),
                members: g.members,
                lag: topics.iter().map(|t| t.lag).sum(),
                max_lag_seconds: None,
                status: Status::Ok,
                reasons: Vec::new(),
                last_commit_age_seconds: g.last_commit_at.map(|t| (now - t).max(0.0)),
                topics,
            });
        }
        ClusterView {
            cluster: snap.cluster.clone(),
            taken_at: snap.taken_at,
            up: true,
            partial: !snap.errors.is_empty(),
            errors: snap.errors.clone(),
            topics: topics.into_values().collect(),
            groups,
        }
    }
}
