//! The latest conclusions per cluster, shared between pollers and readers (HTTP, notifier).

use crate::view::{ClusterView, KafkaDetails};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// What is known about one cluster right now.
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// The view of the last poll that read anything (kept while the cluster is down).
    pub view: Option<Arc<ClusterView>>,
    /// Whether the last poll attempt reached the cluster.
    pub up: bool,
    /// Whether at least one poll attempt has finished.
    pub polled: bool,
    /// Unix time of the last poll that read anything.
    pub last_success: Option<f64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// Members and refused resources as the last poll that read anything saw them.
    pub details: Option<Arc<KafkaDetails>>,
}

/// All clusters' status; cheap to read at scrape (clones `Arc`s under a short lock).
#[derive(Debug, Default)]
pub struct AppState {
    clusters: RwLock<BTreeMap<String, ClusterStatus>>,
    /// With `shard_clusters`: holds only the clusters this replica polls.
    sharded: bool,
}

impl AppState {
    /// State with the configured cluster names, none polled yet.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Arc<Self> {
        let map = names
            .into_iter()
            .map(|n| (n.to_owned(), ClusterStatus::default()))
            .collect();
        Arc::new(AppState {
            clusters: RwLock::new(map),
            sharded: false,
        })
    }

    /// State of a replica with `shard_clusters`: empty until the group gives it clusters
    /// (each poller adds its cluster when it takes it over and removes it when it gives it
    /// away), so /metrics and /readyz show only what this replica polls.
    pub fn sharded() -> Arc<Self> {
        Arc::new(AppState {
            clusters: RwLock::default(),
            sharded: true,
        })
    }

    /// True with `shard_clusters`: this replica holds only the clusters it owns.
    pub fn is_sharded(&self) -> bool {
        self.sharded
    }

    /// Forgets a cluster another replica polls now.
    pub fn remove(&self, cluster: &str) {
        let mut g = match self.clusters.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.remove(cluster);
    }

    /// A copy of every cluster's status.
    pub fn snapshot(&self) -> BTreeMap<String, ClusterStatus> {
        match self.clusters.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Updates one cluster's status in place.
    pub fn update(&self, cluster: &str, f: impl FnOnce(&mut ClusterStatus)) {
        let mut g = match self.clusters.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(g.entry(cluster.to_owned()).or_default());
    }

    /// True once every cluster has finished a poll that read something; with
    /// `shard_clusters`, also false while this replica owns no cluster (the list is then
    /// empty).
    pub fn ready(&self) -> (bool, Vec<String>) {
        let snap = self.snapshot();
        if self.sharded && snap.is_empty() {
            return (false, Vec::new());
        }
        let waiting: Vec<String> = snap
            .iter()
            .filter(|(_, s)| s.last_success.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        (waiting.is_empty(), waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::AppState;

    #[test]
    fn a_sharded_replica_is_ready_for_what_it_owns_only() {
        let s = AppState::sharded();
        assert_eq!(
            s.ready(),
            (false, vec![]),
            "owns nothing yet: not ready, no names"
        );
        s.update("a", |_| {});
        assert_eq!(
            s.ready(),
            (false, vec!["a".to_owned()]),
            "taken over, not polled yet"
        );
        s.update("a", |c| c.last_success = Some(1.0));
        assert_eq!(s.ready(), (true, vec![]), "its one cluster polled");
        s.remove("a");
        assert_eq!(s.ready(), (false, vec![]), "given away: owns nothing again");
        let unsharded = AppState::new([]);
        assert_eq!(
            unsharded.ready(),
            (true, vec![]),
            "without sharding nothing to wait for"
        );
    }
}
