//! Wires config, readers, pollers, metrics and HTTP together for `lagwatch run`.

use crate::config::Config;
use crate::http::{self, HttpCtx};
use crate::metrics::Metrics;
use crate::poller;
use crate::source::{ClusterReader, Reader};
use crate::state::AppState;
use crate::view::ClusterView;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// A running lagwatch: where it listens and how to stop it.
pub struct Running {
    /// The bound HTTP address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (tests read it directly).
    pub state: Arc<AppState>,
    /// Every new cluster view.
    pub views: broadcast::Sender<Arc<ClusterView>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops pollers and the HTTP server and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts everything and returns once the HTTP port is bound.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    crate::runtime::rustls_provider();
    let state = AppState::new(cfg.clusters.iter().map(|c| c.name.as_str()));
    let metrics = Metrics::new(state.clone());
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
    let mut tasks = Vec::new();
    let mut timeline = None;
    if !cfg.notifiers.is_empty() {
        // Subscribe before any poller can publish, so the first view is not missed.
        let coordinator = crate::notify::Coordinator::start(
            &cfg.notifiers,
            cfg.rules.clone(),
            cfg.state_dir.as_deref(),
            metrics.clone(),
            crate::notify::Options::default(),
        )
        .context("starting notifiers")?;
        timeline = Some(coordinator.timeline());
        tasks.push(tokio::spawn(crate::notify::run(
            coordinator,
            views.subscribe(),
            stop_rx.clone(),
            cfg.shutdown_timeout,
        )));
    }
    let page = crate::http::page::Page::new(&cfg, state.clone(), timeline, stop_rx.clone());
    let feed = crate::http::page::run(page.clone(), views.subscribe(), stop_rx.clone());
    tasks.push(tokio::spawn(feed));
    for c in &cfg.clusters {
        let reader: Arc<dyn ClusterReader> =
            Arc::new(Reader::new(c.clone()).with_context(|| format!("cluster `{}`", c.name))?);
        let (ctx, model) =
            poller::for_cluster(c, &cfg, state.clone(), metrics.clone(), views.clone());
        tasks.push(tokio::spawn(poller::run(
            ctx,
            reader,
            model,
            stop_rx.clone(),
        )));
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
    tasks.push(tokio::spawn(async move {
        let app = http::with_pages(hctx, crate::http::page::router(page));
        if let Err(e) = http::serve_app(listener, app, tls, shutdown).await {
            tracing::error!("HTTP server failed: {e}");
        }
    }));
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
        tasks,
    })
}

/// Runs until `shutdown` resolves, then stops cleanly. With a `config_path`, SIGHUP
/// re-reads it: a config that does not validate is logged (with file:line) and the old
/// one keeps running; a valid one replaces everything (pollers, notifiers, HTTP) and
/// incident state carries over through `state_dir`. If the new config cannot start
/// (e.g. its `listen` is taken), the old one is started again.
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
        running.stop().await;
        running = match start(new.clone()).await {
            Ok(r) => {
                current = new;
                tracing::info!("reload applied");
                r
            }
            Err(e) => {
                tracing::error!("reload failed, restarting with the previous config: {e:#}");
                start(current.clone())
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
