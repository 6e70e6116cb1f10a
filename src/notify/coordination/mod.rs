//! Several replicas, one notifier: the replicas join a consumer group on one configured
//! cluster ([`member`]); the owner of partition 0 of the compacted state topic leads, and
//! the incident state lives in that topic ([`store`]). Every replica polls and serves
//! /metrics; only the leader observes incidents, sends and runs actions.

pub mod member;
pub mod store;

use crate::config::{ClusterConfig, CoordinationConfig};
use crate::metrics::Metrics;
use crate::notify::Gate;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::{KafkaStore, StoreError};
use tokio::sync::watch;

/// A running group membership.
pub struct Coordination {
    /// What this replica may send and write, for the notifier.
    pub gate: Arc<Gate>,
    /// True while this replica holds partition 0 of the state topic.
    pub leader: watch::Receiver<bool>,
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
    /// Only creating the clients can fail here.
    pub fn start(
        cluster: &ClusterConfig,
        c: &CoordinationConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Coordination, StoreError> {
        let store = Arc::new(KafkaStore::new(cluster, c)?);
        let gate = Arc::new(Gate::coordinated(store.clone(), member::lease(c)));
        let (tx, leader) = watch::channel(false);
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(member::Status::default());
        let (cluster, c2, s2, st, stop2, g2) = (
            cluster.clone(),
            c.clone(),
            store.clone(),
            status.clone(),
            stop.clone(),
            gate.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("lagwatch-coordination".into())
            .spawn(move || {
                while let Err(e) = s2.ensure_topic() {
                    tracing::warn!("coordination: {e}; retrying");
                    if sleep_unless(&stop2, Duration::from_secs(2)) {
                        return;
                    }
                }
                let leader_gauge = metrics.coordination_leader.clone();
                let members_gauge = metrics.coordination_members.clone();
                let mut rx = tx.subscribe();
                let watcher = std::thread::spawn(move || loop {
                    leader_gauge.set(i64::from(*rx.borrow_and_update()));
                    members_gauge.set(st.members.load(Ordering::Acquire).max(0));
                    if rx.has_changed().is_err() {
                        leader_gauge.set(0);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                });
                member::run(&cluster, &c2, tx, g2, status, stop2);
                let _ = watcher.join();
            })
            .map_err(|e| StoreError::Invalid {
                topic: c.state_topic.clone(),
                reason: format!("cannot start the coordination thread: {e}"),
            })?;
        Ok(Coordination {
            gate,
            leader,
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
