//! Wires config, readers, pollers, metrics and HTTP together for `lagwatch run`.

use crate::config::Config;
use crate::http::{self, HttpCtx};
use crate::metrics::Metrics;
use crate::model::Model;
use crate::notify::state_file::Book;
use crate::poller;
use crate::source::{ClusterReader, Reader};
use crate::state::AppState;
use crate::view::ClusterView;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// A running lagwatch: where it listens and how to stop it.
pub struct Running {
    /// The bound HTTP address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (tests read it directly).
    pub state: Arc<AppState>,
    /// Every new cluster view.
    pub views: broadcast::Sender<Arc<ClusterView>>,
    stop: watch::Sender<bool>,
    shutdown_timeout: Duration,
    pollers: Vec<(Identity, JoinHandle<Model>)>,
    /// One notifier, or with `shard_clusters` one per cluster.
    notifiers: Vec<JoinHandle<Book>>,
    coordination: Option<crate::notify::coordination::Coordination>,
    page_feed: JoinHandle<()>,
    http: JoinHandle<()>,
}

/// What a cluster is, for carrying its history across a reload: the same name reading
/// the same brokers. Anything else (a rename, another cluster) starts fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    name: String,
    bootstrap_servers: String,
}

impl Identity {
    fn of(c: &crate::config::ClusterConfig) -> Self {
        Identity {
            name: c.name.clone(),
            bootstrap_servers: c.bootstrap_servers.clone(),
        }
    }
}

/// What a stopped lagwatch hands to the next start (a reload).
#[derive(Debug, Default)]
pub struct Carried {
    models: Vec<(Identity, Model)>,
    book: Option<Book>,
}

impl Running {
    /// Stops pollers, notifiers and the HTTP server, waiting at most `shutdown_timeout`
    /// plus half a second (whatever is still running then is abandoned: a half-open HTTP
    /// connection must not hold up an exit). Returns what a reload carries over.
    pub async fn stop(self) -> Carried {
        let _ = self.stop.send(true);
        let deadline =
            tokio::time::Instant::now() + self.shutdown_timeout + Duration::from_millis(500);
        let mut carried = Carried::default();
        for (id, t) in self.pollers {
            // Pollers abandon a running poll at once; the bound is belt and braces.
            if let Ok(Ok(model)) = tokio::time::timeout_at(deadline, t).await {
                carried.models.push((id, model));
            }
        }
        for n in self.notifiers {
            // The coordinator bounds itself by `shutdown_timeout`. Several books come only
            // with coordination, where the state topic, not a carried book, is read.
            if let Ok(Ok(book)) = tokio::time::timeout_at(deadline, n).await {
                carried.book = Some(book);
            }
        }
        // After the notifier's last state write: leaving the group hands leadership over.
        if let Some(c) = self.coordination {
            let _ = tokio::time::timeout_at(deadline, c.stop()).await;
        }
        for task in [self.page_feed, self.http] {
            tokio::pin!(task);
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        carried
    }
}

/// Starts everything and returns once the HTTP port is bound.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    start_from(cfg, &mut Carried::default()).await
}

/// As [`start`], continuing from what the previous run handed over: the model of each
/// cluster whose identity did not change, and the notifiers' incidents and backlog. What
/// it took is removed from `carried` only once nothing can fail any more, so a start that
/// fails leaves it whole for the fallback start.
pub async fn start_from(cfg: Config, carried: &mut Carried) -> anyhow::Result<Running> {
    crate::runtime::rustls_provider();
    let sharded = cfg.coordination.as_ref().is_some_and(|c| c.shard_clusters);
    let state = if sharded {
        AppState::sharded()
    } else {
        AppState::new(cfg.clusters.iter().map(|c| c.name.as_str()))
    };
    let metrics = match &cfg.coordination {
        Some(_) => Metrics::coordinated(state.clone(), &cfg.metrics),
        None => Metrics::with_config(state.clone(), &cfg.metrics),
    };
    let (views, _) = broadcast::channel(64);
    let (stop, stop_rx) = watch::channel(false);
    // TLS files are read before binding, so a bad certificate fails the start (or a
    // reload) instead of the first scrape.
    let tls = match &cfg.web.tls {
        Some(files) => Some(crate::http::tls::rustls_config(files).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let mut readers = Vec::with_capacity(cfg.clusters.len());
    for c in &cfg.clusters {
        let reader: Arc<dyn ClusterReader> =
            Arc::new(Reader::new(c.clone()).with_context(|| format!("cluster `{}`", c.name))?);
        readers.push(reader);
    }
    let coordination = match &cfg.coordination {
        Some(c) => {
            let cluster = cfg
                .clusters
                .iter()
                .find(|k| k.name == c.cluster)
                .context("the coordination cluster is not configured")?;
            Some(
                crate::notify::coordination::Coordination::start(
                    cluster,
                    c,
                    &cfg.clusters
                        .iter()
                        .map(|k| k.name.clone())
                        .collect::<Vec<_>>(),
                    metrics.clone(),
                )
                .context("starting coordination")?,
            )
        }
        None => None,
    };
    let mut notifiers = Vec::new();
    let mut timeline = None;
    let mut silences = None;
    let notifying = !cfg.notifiers.is_empty() || !cfg.actions.is_empty();
    let shards: Vec<crate::notify::coordination::Shard> = coordination
        .as_ref()
        .map(|c| c.shards.clone())
        .unwrap_or_default();
    if notifying && sharded {
        // One coordinator per cluster, each with its own book under the cluster's key and
        // its own gate, open while this replica holds the cluster's partition; one
        // timeline for the page, and the silences every replica shares.
        let shared_timeline = Arc::new(crate::notify::timeline::Timeline::default());
        timeline = Some(shared_timeline.clone());
        silences = coordination
            .as_ref()
            .and_then(|c| c.silences.clone())
            .map(crate::notify::Silences::shared);
        for shard in &shards {
            let coordinator = crate::notify::Coordinator::resume(
                &cfg.notifiers,
                cfg.rules.clone(),
                None,
                metrics.clone(),
                crate::notify::Options {
                    timeline: Some(shared_timeline.clone()),
                    ..crate::notify::Options::default()
                },
                None,
                Some(shard.gate.clone()),
            );
            let coordinator = match coordinator {
                Ok(c) => c.with_actions(&cfg.actions),
                Err(e) => {
                    stop_all(&stop, notifiers, coordination).await;
                    return Err(e).context("starting notifiers");
                }
            };
            notifiers.push(tokio::spawn(crate::notify::run(
                coordinator,
                views.subscribe(),
                stop_rx.clone(),
                cfg.shutdown_timeout,
                Some(shard.held.clone()),
                Some(shard.cluster.clone()),
            )));
        }
    } else if notifying {
        // With coordination the state is the state topic's, read when this replica leads:
        // neither the state file nor a reload's carried book is used.
        let (state_dir, book) = match &coordination {
            Some(_) => (None, None),
            None => (cfg.state_dir.as_deref(), carried.book.clone()),
        };
        // Subscribe before any poller can publish, so the first view is not missed.
        let coordinator = match crate::notify::Coordinator::resume(
            &cfg.notifiers,
            cfg.rules.clone(),
            state_dir,
            metrics.clone(),
            crate::notify::Options::default(),
            book,
            coordination.as_ref().map(|c| c.gate.clone()),
        ) {
            Ok(c) => c.with_actions(&cfg.actions),
            Err(e) => {
                // A failed (re)start must not leave a member in the group.
                if let Some(c) = coordination {
                    c.stop().await;
                }
                return Err(e).context("starting notifiers");
            }
        };
        carried.book = None;
        timeline = Some(coordinator.timeline());
        silences = Some(coordinator.silences());
        notifiers.push(tokio::spawn(crate::notify::run(
            coordinator,
            views.subscribe(),
            stop_rx.clone(),
            cfg.shutdown_timeout,
            coordination.as_ref().map(|c| c.leader.clone()),
            None,
        )));
    }
    let page = crate::http::page::Page::new(&cfg, state.clone(), timeline, stop_rx.clone());
    let page_feed = tokio::spawn(crate::http::page::run(
        page.clone(),
        views.subscribe(),
        stop_rx.clone(),
    ));
    let mut pollers = Vec::new();
    for (c, reader) in cfg.clusters.iter().zip(readers) {
        let (mut ctx, mut model) =
            poller::for_cluster(c, &cfg, state.clone(), metrics.clone(), views.clone());
        ctx.owned = shards
            .iter()
            .find(|s| s.cluster == c.name)
            .map(|s| s.polls.clone());
        let id = Identity::of(c);
        if let Some(i) = carried.models.iter().position(|(old, _)| *old == id) {
            model = carried
                .models
                .swap_remove(i)
                .1
                .with_rules(cfg.rules.clone(), cfg.poll_interval);
        }
        pollers.push((
            id,
            tokio::spawn(poller::run(ctx, reader, model, stop_rx.clone())),
        ));
    }
    let mut rx = stop_rx.clone();
    let shutdown = async move {
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                break;
            }
        }
    };
    let hctx = HttpCtx {
        state: state.clone(),
        metrics: metrics.clone(),
        auth: crate::http::auth::BasicAuth::from_config(&cfg.web),
    };
    let https = tls.is_some();
    let http = tokio::spawn(async move {
        let silences = http::silences::router(silences);
        let pages = crate::http::page::router(page).merge(silences);
        let app = http::with_pages(hctx, pages);
        if let Err(e) = http::serve_app(listener, app, tls, shutdown).await {
            tracing::error!("HTTP server failed: {e}");
        }
    });
    tracing::info!(
        %addr,
        https,
        basic_auth = !cfg.web.basic_auth_users.is_empty(),
        clusters = cfg.clusters.len(),
        "lagwatch started"
    );
    Ok(Running {
        addr,
        state,
        views,
        stop,
        shutdown_timeout: cfg.shutdown_timeout,
        pollers,
        notifiers,
        coordination,
        page_feed,
        http,
    })
}

/// Undoes a start that failed half way: the coordinators already started stop, and no
/// member is left in the group.
async fn stop_all(
    stop: &watch::Sender<bool>,
    notifiers: Vec<JoinHandle<Book>>,
    coordination: Option<crate::notify::coordination::Coordination>,
) {
    let _ = stop.send(true);
    for n in notifiers {
        let _ = n.await;
    }
    if let Some(c) = coordination {
        c.stop().await;
    }
}

/// Runs until `shutdown` resolves, then stops cleanly. With a `config_path`, SIGHUP
/// re-reads it: a config that does not validate is logged (with file:line) and the old
/// one keeps running; a valid one replaces everything (pollers, notifiers, HTTP) while
/// each unchanged cluster's history and the incidents carry over. If the new config
/// cannot start (e.g. its `listen` is taken), the old one is started again.
pub async fn run(
    cfg: Config,
    config_path: Option<std::path::PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut current = cfg;
    let mut running = start(current.clone()).await?;
    let mut hup = Hangup::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hup.recv() => {}
        }
        let Some(path) = &config_path else {
            tracing::warn!("SIGHUP ignored: no config file to re-read");
            continue;
        };
        let new = match crate::config::load_file(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload rejected, keeping the running config: {e}");
                continue;
            }
        };
        tracing::info!(config = %path.display(), "reloading");
        // Histories and incidents carry over: a reload is not a reason to forget a stall.
        let mut carried = running.stop().await;
        running = match start_from(new.clone(), &mut carried).await {
            Ok(r) => {
                current = new;
                tracing::info!("reload applied");
                r
            }
            Err(e) => {
                tracing::error!("reload failed, restarting with the previous config: {e:#}");
                start_from(current.clone(), &mut carried)
                    .await
                    .context("restarting with the previous config after a failed reload")?
            }
        };
    }
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// SIGHUP as a stream; never fires where signals are unavailable.
struct Hangup {
    #[cfg(unix)]
    sig: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            let sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
            if let Err(e) = &sig {
                tracing::warn!("cannot listen for SIGHUP, reload disabled: {e}");
            }
            Hangup { sig: sig.ok() }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.sig {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}
