//! Several replicas, one notifier: the replicas join a consumer group on one configured
//! cluster ([`member`]); the owner of partition 0 of the compacted state topic leads, and
//! the incident state lives in that topic ([`store`]). Every replica polls and serves
//! /metrics; only the leader observes incidents, sends and runs actions. With
//! `shard_clusters` each cluster's owner does, and the silences are shared ([`silences`]).

pub mod member;
pub mod silence_set;
pub mod silences;
pub mod store;

use crate::config::{ClusterConfig, CoordinationConfig};
use crate::metrics::Metrics;
use crate::notify::Gate;
use silences::SharedSilences;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::{KafkaStore, StoreError};
use tokio::sync::watch;

/// One cluster's role with `shard_clusters`.
#[derive(Debug, Clone)]
pub struct Shard {
    /// The cluster.
    pub cluster: String,
    /// What this replica may send and write about the cluster.
    pub gate: Arc<Gate>,
    /// True while this replica holds the cluster's partition (its notifications).
    pub held: watch::Receiver<bool>,
    /// True while this replica polls the cluster.
    pub polls: watch::Receiver<bool>,
}

/// A running group membership.
pub struct Coordination {
    /// What this replica may send and write, for the notifier.
    pub gate: Arc<Gate>,
    /// True while this replica holds partition 0 of the state topic.
    pub leader: watch::Receiver<bool>,
    /// With `shard_clusters`: one per configured cluster, in config order.
    pub shards: Vec<Shard>,
    /// With `shard_clusters`: the silences every replica shares.
    pub silences: Option<Arc<SharedSilences>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Coordination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordination")
            .field("leader", &*self.leader.borrow())
            .finish_non_exhaustive()
    }
}

impl Coordination {
    /// Joins the group on its own thread: creates the state topic if missing (retried
    /// until it works: the coordination cluster may be down at start), then subscribes.
    /// Only creating the clients can fail here. With `shard_clusters`, `clusters` (the
    /// configured names, in order) are each given a partition of the shard topic.
    pub fn start(
        cluster: &ClusterConfig,
        c: &CoordinationConfig,
        clusters: &[String],
        metrics: Arc<Metrics>,
    ) -> Result<Coordination, StoreError> {
        let store = Arc::new(KafkaStore::new(cluster, c)?);
        let gate = Arc::new(Gate::coordinated(store.clone(), member::lease(c)));
        let (tx, leader) = watch::channel(false);
        let mut roles = vec![member::Role {
            topic: c.state_topic.clone(),
            partition: 0,
            gate: gate.clone(),
            held: tx.clone(),
            polls: None,
        }];
        let mut shards = Vec::new();
        let shared = match c.shard_clusters {
            true => Some(Arc::new(SharedSilences::new(store.clone())?)),
            false => None,
        };
        if let Some(silences) = &shared {
            for (i, name) in clusters.iter().enumerate() {
                let s = store.with_key(store::cluster_key(name));
                let g = Gate::coordinated(Arc::new(s), member::lease(c));
                let g = Arc::new(g.with_silences(silences.clone()));
                let (held_tx, held) = watch::channel(false);
                let (polls_tx, polls) = watch::channel(false);
                roles.push(member::Role {
                    topic: store::shard_topic(&c.state_topic),
                    partition: i as i32,
                    gate: g.clone(),
                    held: held_tx,
                    polls: Some(polls_tx),
                });
                shards.push(Shard {
                    cluster: name.clone(),
                    gate: g,
                    held,
                    polls,
                });
            }
        }
        let owned: Vec<(String, watch::Receiver<bool>)> = shards
            .iter()
            .map(|s| (s.cluster.clone(), s.polls.clone()))
            .collect();
        let shard_count = shards.len();
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(member::Status::default());
        let (cluster, c2, s2, st, stop2) = (
            cluster.clone(),
            c.clone(),
            store.clone(),
            status.clone(),
            stop.clone(),
        );
        let (silences, leading) = (shared.clone(), leader.clone());
        let thread = std::thread::Builder::new()
            .name("lagwatch-coordination".into())
            .spawn(move || {
                let ensure = || {
                    s2.ensure_topic()?;
                    if shard_count > 0 {
                        s2.ensure_shards(shard_count)?;
                    }
                    Ok::<(), StoreError>(())
                };
                while let Err(e) = ensure() {
                    tracing::warn!("coordination: {e}; retrying");
                    if sleep_unless(&stop2, Duration::from_secs(2)) {
                        return;
                    }
                }
                // Read from the start once the topic exists, as long as the membership runs.
                let reader = silences.map(|s| {
                    let stop = stop2.clone();
                    std::thread::spawn(move || s.run(&stop, &leading))
                });
                let leader_gauge = metrics.coordination_leader.clone();
                let members_gauge = metrics.coordination_members.clone();
                let mut rx = tx.subscribe();
                let owned_gauge = metrics.cluster_owned.clone();
                let watcher = std::thread::spawn(move || loop {
                    leader_gauge.set(i64::from(*rx.borrow_and_update()));
                    for (name, polls) in &owned {
                        let label = crate::metrics::ClusterLabel {
                            cluster: name.clone(),
                        };
                        owned_gauge
                            .get_or_create(&label)
                            .set(i64::from(*polls.borrow()));
                    }
                    members_gauge.set(st.members.load(Ordering::Acquire).max(0));
                    if rx.has_changed().is_err() {
                        leader_gauge.set(0);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                });
                member::run(&cluster, &c2, roles, status, stop2);
                let _ = watcher.join();
                if let Some(r) = reader {
                    let _ = r.join();
                }
            })
            .map_err(|e| StoreError::Invalid {
                topic: c.state_topic.clone(),
                reason: format!("cannot start the coordination thread: {e}"),
            })?;
        Ok(Coordination {
            gate,
            leader,
            shards,
            silences: shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Leaves the group (so another replica leads at once) and waits for the thread.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Sleeps `d` in small steps; true when `stop` was set meanwhile.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep(step.min(left));
        left = left.saturating_sub(step);
    }
    stop.load(Ordering::Acquire)
}
