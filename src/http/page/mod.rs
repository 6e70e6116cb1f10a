//! The built-in web page: `GET /` lists every group's status, why, and when it drains;
//! `GET /groups/{cluster}/{group}` adds per-topic and per-partition tables, charts of the
//! recent history and the incident timeline.
//!
//! The pages are static files embedded in the binary; they render in the browser from the
//! JSON API (`/api/v1/status`, `/api/v1/clusters/…`), so they cannot disagree with it, and
//! refetch it when `/api/v1/events` (Server-Sent Events) says a poll was published.
//! [`history`] keeps the charts' bounded series; [`routes`] serves pages, assets and JSON.

pub mod history;
mod routes;

pub use routes::router;

use crate::config::{Config, RulesConfig};
use crate::notify::timeline::Timeline;
use crate::state::AppState;
use crate::view::ClusterView;
use history::History;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Semaphore};

/// Event streams served at once; each holds a connection and a channel receiver.
pub const MAX_STREAMS: usize = 64;

/// What the page's handlers read, and the history they keep.
pub struct Page {
    state: Arc<AppState>,
    history: Mutex<History>,
    events: broadcast::Sender<PollEvent>,
    timeline: Option<Arc<Timeline>>,
    rules: RulesConfig,
    poll_interval: Duration,
    stop: watch::Receiver<bool>,
    streams: Arc<Semaphore>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

/// "A poll of `cluster` was published": all a page needs to refetch the API.
#[derive(Debug, Clone, Serialize)]
pub struct PollEvent {
    /// Cluster name.
    pub cluster: String,
    /// When the poll read the cluster (Unix seconds), as `taken_at` in the API.
    pub taken_at: f64,
}

impl Page {
    /// The page of a lagwatch running `cfg`; `timeline` is the notifier's (none without
    /// notifiers); event streams end when `stop` turns true, so shutdown never waits on
    /// an open browser tab.
    pub fn new(
        cfg: &Config,
        state: Arc<AppState>,
        timeline: Option<Arc<Timeline>>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Page> {
        // A slow tab skips events (it refetches everything on the next one anyway).
        let (events, _) = broadcast::channel(16);
        Arc::new(Page {
            state,
            history: Mutex::new(History::new()),
            events,
            timeline,
            rules: cfg.rules.clone(),
            poll_interval: cfg.poll_interval,
            stop,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        })
    }

    fn history(&self) -> MutexGuard<'_, History> {
        // Each record leaves the history consistent; a panic elsewhere must not blind it.
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one published view: a point per group, then an event for open pages (after,
    /// so a page that refetches on the event sees the new point).
    pub fn record(&self, view: &ClusterView) {
        self.history().record(view);
        // No open page is fine.
        let _ = self.events.send(PollEvent {
            cluster: view.cluster.clone(),
            taken_at: view.taken_at,
        });
    }

    /// Chart points held over all groups (what the page's memory grows with).
    pub fn points_held(&self) -> usize {
        self.history().points_held()
    }

    /// Points each group's chart keeps at most now (fewer when many groups share the
    /// history's budget).
    pub fn points_per_group(&self) -> usize {
        self.history().points_per_group()
    }
}

/// Feeds every published view to the page until `stop` turns true.
pub async fn run(
    page: Arc<Page>,
    mut views: broadcast::Receiver<Arc<ClusterView>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            v = views.recv() => match v {
                Ok(view) => page.record(&view),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // A chart misses a point; the next view is complete again.
                    tracing::debug!(skipped = n, "web page history fell behind the pollers");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            r = stop.changed() => if r.is_err() || *stop.borrow() { break },
        }
    }
}
