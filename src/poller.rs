//! One poller per cluster: reads on an interval (never two reads at once), turns the
//! snapshot into a view, publishes it, and reports faults once per change, not per poll.

use crate::metrics::Metrics;
use crate::model::Model;
use crate::snapshot::{Snapshot, Stage};
use crate::source::{carry_over, ClusterReader, ReadError};
use crate::state::AppState;
use crate::view::ClusterView;
use std::collections::BTreeMap;
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
    /// With `shard_clusters`: true while this replica polls the cluster. None: always.
    pub owned: Option<watch::Receiver<bool>>,
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
            owned: None,
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

/// Runs polls until `shutdown` turns true, then hands the model back (a reload of the same
/// cluster continues from its history). A poll still running at shutdown is abandoned:
/// shutdown must not wait for an unreachable cluster's `poll_timeout`.
pub async fn run(
    ctx: PollerCtx,
    reader: Arc<dyn ClusterReader>,
    mut model: Model,
    mut shutdown: watch::Receiver<bool>,
) -> Model {
    let mut ticker = tokio::time::interval(ctx.interval);
    // A poll that overruns delays the next one instead of bunching them up.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prev: Option<Snapshot> = None;
    let mut fault: Option<Fault> = None;
    let mut polling = ctx.owned.is_none();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        if let Some(owned) = &ctx.owned {
            let now_owned = *owned.borrow();
            if now_owned != polling {
                polling = now_owned;
                ownership_changed(&ctx, polling);
                if !polling {
                    // Another replica polls it now: its history here goes stale, and a
                    // later return starts over as a fresh cluster would.
                    model = Model::new(model.rules().clone(), ctx.interval);
                    prev = None;
                    fault = None;
                }
            }
            if !polling {
                continue;
            }
        }
        tokio::select! {
            _ = poll_once(&ctx, reader.as_ref(), &mut model, &mut prev, &mut fault) => {}
            _ = shutdown.changed() => {
                tracing::debug!(cluster = %ctx.cluster, "poll abandoned at shutdown");
                break;
            }
        }
    }
    tracing::debug!(cluster = %ctx.cluster, "poller stopped");
    model
}

/// With `shard_clusters`: a cluster this replica takes over is waited for by /readyz
/// until its first poll; one it gave away loses its series here (the new owner serves
/// them).
fn ownership_changed(ctx: &PollerCtx, owned: bool) {
    let label = crate::metrics::ClusterLabel {
        cluster: ctx.cluster.clone(),
    };
    if owned {
        tracing::info!(cluster = %ctx.cluster, "polling: this replica owns the cluster");
        ctx.state.update(&ctx.cluster, |_| {});
    } else {
        tracing::info!(cluster = %ctx.cluster, "not polling: another replica owns the cluster");
        ctx.state.remove(&ctx.cluster);
        ctx.metrics.poll_duration.remove(&label);
    }
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
            // The previous snapshot is only read here: freed before the model builds the
            // new view, so the two snapshots and two views are not all alive at once.
            carry_over(&mut snap, prev.take().as_ref());
            for e in &snap.errors {
                ctx.metrics.poll_error(&ctx.cluster, e.stage.as_str());
            }
            for (api, n) in &snap.requests {
                ctx.metrics.kafka_requests(&ctx.cluster, api, *n);
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
            ReadError::Slow { .. } => FaultKind::Timeout,
            ReadError::Task(_) => FaultKind::Task,
        }
    }
}

/// The fault of the last poll, if it had one: its kind, the line that was logged, and for
/// a partial poll each failing source (stage and subject) with its first error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    message: String,
    failing: BTreeMap<(&'static str, String), String>,
}

impl Fault {
    fn new(kind: FaultKind, message: String) -> Self {
        Fault {
            kind,
            message,
            failing: BTreeMap::new(),
        }
    }

    fn partial(snap: &Snapshot) -> Self {
        let mut stages: Vec<Stage> = snap.errors.iter().map(|e| e.stage).collect();
        stages.sort_unstable_by_key(|s| s.as_str());
        stages.dedup();
        let mut failing = BTreeMap::new();
        for e in &snap.errors {
            failing
                .entry((e.stage.as_str(), e.subject.clone().unwrap_or_default()))
                .or_insert_with(|| e.message.clone());
        }
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        let message = format!(
            "partial poll: {} error(s) in {}",
            snap.errors.len(),
            names.join(", ")
        );
        Fault {
            kind: FaultKind::Partial(stages),
            message,
            failing,
        }
    }
}

/// `stage` or `stage (subject)`, for a failing source.
fn source_name((stage, subject): &(&'static str, String)) -> String {
    if subject.is_empty() {
        (*stage).to_owned()
    } else {
        format!("{stage} ({subject})")
    }
}

/// Logs a fault when it starts or changes kind, and once when it clears. Within a partial
/// poll each failing source is logged once when it starts failing and once when it
/// recovers, so a second failing Spark query is not hidden behind the first.
fn report_fault(cluster: &str, current: &mut Option<Fault>, new: Option<Fault>) {
    let none = BTreeMap::new();
    let was = current.as_ref().map_or(&none, |c| &c.failing);
    let now = new.as_ref().map_or(&none, |n| &n.failing);
    for (k, msg) in now.iter().filter(|(k, _)| !was.contains_key(*k)) {
        tracing::warn!(cluster, "partial poll: {} failing: {msg}", source_name(k));
    }
    let partial = |f: &Fault| matches!(f.kind, FaultKind::Partial(_));
    // A source is not "recovered" because the whole cluster went down.
    if new.as_ref().is_none_or(partial) {
        for (k, msg) in was.iter().filter(|(k, _)| !now.contains_key(*k)) {
            tracing::info!(cluster, "recovered: {} (was: {msg})", source_name(k));
        }
    }
    match (&*current, &new) {
        (None, Some(n)) if !partial(n) => tracing::warn!(cluster, "{}", n.message),
        (Some(c), Some(n)) if c.kind != n.kind && !partial(n) => {
            tracing::warn!(cluster, "{}", n.message)
        }
        (Some(c), None) if !partial(c) => tracing::info!(cluster, "recovered (was: {})", c.message),
        _ => {}
    }
    *current = new;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::PollError;

    fn partial(errors: &[(Stage, &str)]) -> Option<Fault> {
        let mut snap = Snapshot::new("c", 1.0);
        snap.errors = errors
            .iter()
            .map(|(stage, subject)| PollError {
                stage: *stage,
                subject: Some((*subject).to_owned()),
                message: format!("{subject} is broken"),
            })
            .collect();
        Some(Fault::partial(&snap))
    }

    #[test]
    fn each_failing_source_is_logged_once_when_it_starts_and_once_when_it_recovers() {
        let spark = Stage::SparkCheckpoint;
        let logs = tracing_capture(|| {
            let mut f = None;
            report_fault("c", &mut f, partial(&[(spark, "q1")]));
            report_fault("c", &mut f, partial(&[(spark, "q1")]));
            report_fault("c", &mut f, partial(&[(spark, "q1"), (spark, "q2")]));
            report_fault("c", &mut f, partial(&[(spark, "q2")]));
            report_fault("c", &mut f, None);
        });
        assert_eq!(
            logs,
            [
                "WARN partial poll: spark_checkpoint (q1) failing: q1 is broken",
                "WARN partial poll: spark_checkpoint (q2) failing: q2 is broken",
                "INFO recovered: spark_checkpoint (q1) (was: q1 is broken)",
                "INFO recovered: spark_checkpoint (q2) (was: q2 is broken)",
            ]
        );
    }

    /// The events `f` logs, as `LEVEL message`.
    fn tracing_capture(f: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| {
                let l = l.trim();
                let (level, rest) = l.split_once(' ').unwrap_or((l, ""));
                let rest = rest.split(" cluster=").next().unwrap_or(rest).trim();
                format!("{level} {rest}")
            })
            .collect()
    }
}
