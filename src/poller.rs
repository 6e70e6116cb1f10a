//! One poller per cluster: reads on an interval (never two reads at once), turns the
//! snapshot into a view, publishes it, and reports faults once per change, not per poll.

use crate::metrics::Metrics;
use crate::model::Model;
use crate::snapshot::{Snapshot, Stage};
use crate::source::{carry_over, ClusterReader, ReadError};
use crate::state::AppState;
use crate::view::ClusterView;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// What a poller needs besides its reader.
pub struct PollerCtx {
    /// Cluster name.
    pub cluster: String,
    /// Time between polls.
    pub interval: Duration,
    /// Upper bound of one poll.
    pub timeout: Duration,
    /// Shared latest views.
    pub state: Arc<AppState>,
    /// Self-metrics.
    pub metrics: Arc<Metrics>,
    /// Receives each new view (notifier, tests).
    pub views: broadcast::Sender<Arc<ClusterView>>,
}

impl PollerCtx {
    /// The context of one configured cluster.
    pub fn new(
        cluster: &crate::config::ClusterConfig,
        interval: Duration,
        state: Arc<AppState>,
        metrics: Arc<Metrics>,
        views: broadcast::Sender<Arc<ClusterView>>,
    ) -> Self {
        PollerCtx {
            cluster: cluster.name.clone(),
            interval,
            timeout: cluster.poll_timeout,
            state,
            metrics,
            views,
        }
    }
}

/// The context and a fresh model for one cluster of `cfg`: what every poller starts from.
pub fn for_cluster(
    c: &crate::config::ClusterConfig,
    cfg: &crate::config::Config,
    state: Arc<AppState>,
    metrics: Arc<Metrics>,
    views: broadcast::Sender<Arc<ClusterView>>,
) -> (PollerCtx, Model) {
    let ctx = PollerCtx::new(c, cfg.poll_interval, state, metrics, views);
    (ctx, Model::new(cfg.rules.clone(), cfg.poll_interval))
}

/// Runs polls until `shutdown` turns true.
pub async fn run(
    ctx: PollerCtx,
    reader: Arc<dyn ClusterReader>,
    mut model: Model,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(ctx.interval);
    // A poll that overruns delays the next one instead of bunching them up.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prev: Option<Snapshot> = None;
    let mut fault: Option<Fault> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        poll_once(&ctx, reader.as_ref(), &mut model, &mut prev, &mut fault).await;
    }
    tracing::debug!(cluster = %ctx.cluster, "poller stopped");
}

/// One poll: read, derive, publish. Public so `check` and tests can drive polls directly.
pub async fn poll_once(
    ctx: &PollerCtx,
    reader: &dyn ClusterReader,
    model: &mut Model,
    prev: &mut Option<Snapshot>,
    fault: &mut Option<Fault>,
) {
    let started = Instant::now();
    let res = tokio::time::timeout(ctx.timeout + Duration::from_secs(2), reader.read()).await;
    let elapsed = started.elapsed().as_secs_f64();
    ctx.metrics
        .poll_duration
        .get_or_create(&crate::metrics::ClusterLabel {
            cluster: ctx.cluster.clone(),
        })
        .observe(elapsed);
    match res {
        Ok(Ok(mut snap)) => {
            carry_over(&mut snap, prev.as_ref());
            for e in &snap.errors {
                ctx.metrics.poll_error(&ctx.cluster, e.stage.as_str());
            }
            let now = crate::runtime::now();
            let view = Arc::new(model.update(&snap, now));
            let details = Arc::new(crate::view::KafkaDetails::of(&snap));
            let new_fault = (!snap.errors.is_empty()).then(|| Fault::partial(&snap));
            report_fault(&ctx.cluster, fault, new_fault);
            ctx.state.update(&ctx.cluster, |s| {
                s.view = Some(view.clone());
                s.details = Some(details);
                s.up = true;
                s.polled = true;
                s.last_success = Some(snap.taken_at);
                s.last_error = None;
            });
            *prev = Some(snap);
            // No receiver is fine: notifications may be off.
            let _ = ctx.views.send(view);
        }
        Ok(Err(e)) => {
            ctx.metrics
                .poll_error(&ctx.cluster, Stage::Metadata.as_str());
            let msg = e.to_string();
            let kind = FaultKind::read(&e);
            report_fault(&ctx.cluster, fault, Some(Fault::new(kind, msg.clone())));
            mark_down(ctx, msg);
        }
        Err(_) => {
            ctx.metrics
                .poll_error(&ctx.cluster, Stage::Timeout.as_str());
            let msg = format!(
                "poll did not finish within {}",
                humantime::format_duration(ctx.timeout)
            );
            let f = Fault::new(FaultKind::Timeout, msg.clone());
            report_fault(&ctx.cluster, fault, Some(f));
            mark_down(ctx, msg);
        }
    }
}

fn mark_down(ctx: &PollerCtx, msg: String) {
    ctx.state.update(&ctx.cluster, |s| {
        s.up = false;
        s.polled = true;
        s.last_error = Some(msg);
        // The last good view stays: /metrics keeps serving it, marked stale by cluster_up 0
        // and the age of lagwatch_last_poll_timestamp_seconds.
        if let Some(v) = &s.view {
            let mut v = (**v).clone();
            v.up = false;
            s.view = Some(Arc::new(v));
        }
    });
}

/// What kind of fault a poll had: a new kind is logged, the same kind again is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The poll read something; these stages failed (sorted, no repeats).
    Partial(Vec<Stage>),
    /// The client could not be created.
    Client,
    /// The previous poll was still running.
    Busy,
    /// A Spark checkpoint location was unusable.
    Spark,
    /// No broker answered.
    Unreachable,
    /// The poll task ended without an answer.
    Task,
    /// The poll overran its timeout.
    Timeout,
}

impl FaultKind {
    fn read(e: &ReadError) -> Self {
        match e {
            ReadError::Client(_) => FaultKind::Client,
            ReadError::Busy => FaultKind::Busy,
            ReadError::Spark(_) => FaultKind::Spark,
            ReadError::Unreachable { .. } => FaultKind::Unreachable,
            ReadError::Task(_) => FaultKind::Task,
        }
    }
}

/// The fault of the last poll, if it had one: its kind and the line that was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    message: String,
}

impl Fault {
    fn new(kind: FaultKind, message: String) -> Self {
        Fault { kind, message }
    }

    fn partial(snap: &Snapshot) -> Self {
        let mut stages: Vec<Stage> = snap.errors.iter().map(|e| e.stage).collect();
        stages.sort_unstable_by_key(|s| s.as_str());
        stages.dedup();
        let first = &snap.errors[0];
        let subject = first
            .subject
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        let message = format!(
            "partial poll: {} error(s) in {}; first{subject}: {}",
            snap.errors.len(),
            names.join(", "),
            first.message
        );
        Fault::new(FaultKind::Partial(stages), message)
    }
}

/// Logs a fault when it starts or changes kind, and once when it clears.
fn report_fault(cluster: &str, current: &mut Option<Fault>, new: Option<Fault>) {
    match (&*current, &new) {
        (None, Some(n)) => tracing::warn!(cluster, "{}", n.message),
        (Some(c), Some(n)) if c.kind != n.kind => tracing::warn!(cluster, "{}", n.message),
        (Some(c), None) => tracing::info!(cluster, "recovered (was: {})", c.message),
        _ => {}
    }
    *current = new;
}
