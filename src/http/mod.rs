//! HTTP endpoints: /metrics, /healthz, /readyz and the JSON API.

pub mod accept;
pub mod api;
pub mod auth;
pub mod page;
pub mod silences;
pub mod tls;

use crate::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpCtx {
    /// Latest views.
    pub state: Arc<AppState>,
    /// Registry renderer.
    pub metrics: Arc<Metrics>,
    /// Basic auth for every endpoint but /healthz; none = open.
    pub auth: Option<Arc<auth::BasicAuth>>,
}

/// The router with every endpoint.
pub fn router(ctx: HttpCtx) -> Router {
    with_pages(ctx, Router::new())
}

/// The router with every endpoint and `pages` (the web page), all behind the same auth.
pub fn with_pages(ctx: HttpCtx, pages: Router) -> Router {
    let auth = ctx.auth.clone();
    let r = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/clusters/{cluster}/groups/{group}", get(group))
        .with_state(ctx)
        .merge(pages);
    match auth {
        Some(a) => r.layer(axum::middleware::from_fn_with_state(a, auth::require_auth)),
        None => r,
    }
}

async fn metrics(State(ctx): State<HttpCtx>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let om = accept::choose(accept) == accept::Format::OpenMetrics;
    let ct = if om {
        OPENMETRICS_CONTENT_TYPE
    } else {
        TEXT_CONTENT_TYPE
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accept::gzip);
    // Streamed in bounded chunks: a large body built whole stays in the allocator's arenas
    // after the scrape (see metrics::stream).
    let body = axum::body::Body::from_stream(ctx.metrics.stream(om, gzip));
    let mut r = ([(header::CONTENT_TYPE, ct)], body).into_response();
    // The body depends on both headers: caches in between must key on them.
    r.headers_mut().insert(
        header::VARY,
        header::HeaderValue::from_static("accept, accept-encoding"),
    );
    if gzip {
        r.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    r
}

async fn readyz(State(ctx): State<HttpCtx>) -> Response {
    let (ready, waiting) = ctx.state.ready();
    if ready && ctx.state.is_standby() {
        "ready: standby, the group has more replicas than clusters and gave this one none; \
         it takes a cluster over when an owner leaves\n"
            .into_response()
    } else if ready {
        "ready\n".into_response()
    } else if waiting.is_empty() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "owns no cluster yet: with shard_clusters each cluster is polled by one replica, and the group has given this one none\n",
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "waiting for a first successful poll of: {}\n",
                waiting.join(", ")
            ),
        )
            .into_response()
    }
}

async fn status(State(ctx): State<HttpCtx>) -> Response {
    Json(api::status_report(&ctx.state.snapshot())).into_response()
}

async fn group(
    State(ctx): State<HttpCtx>,
    Path((cluster, group)): Path<(String, String)>,
) -> Response {
    let clusters = ctx.state.snapshot();
    let Some(c) = clusters.get(&cluster) else {
        return not_found(format!("no cluster named `{cluster}`"));
    };
    let Some(view) = &c.view else {
        return not_found(format!(
            "cluster `{cluster}` has not been polled successfully yet"
        ));
    };
    match view.groups.iter().find(|g| g.group == group) {
        Some(g) => Json(api::group_report(&cluster, c, g)).into_response(),
        None => not_found(format!("no group named `{group}` in cluster `{cluster}`")),
    }
}

fn not_found(msg: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

/// Serves on `listener` (HTTPS when `tls` is set) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: HttpCtx,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app(listener, router(ctx), tls, shutdown).await
}

/// How long a connection may take to send a request header. hyper starts this clock
/// whenever it waits for a header, so it also closes idle keep-alive connections and
/// half-open ones that never send anything.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `app` on `listener` (HTTPS when `tls` is set) until `shutdown` resolves.
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app_with(listener, app, tls, shutdown, HEADER_READ_TIMEOUT).await
}

/// [`serve_app`] with another header-read (and idle) timeout.
pub async fn serve_app_with(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    header_read_timeout: std::time::Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::<std::net::SocketAddr>::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // In-flight scrapes get a moment; nothing here is worth a long wait.
        h.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    let listener = listener.into_std()?;
    let app = app.into_make_service();
    match tls {
        Some(tls) => {
            // Offer HTTP/1.1 only in ALPN: the server below speaks nothing else.
            let mut config = (*tls.get_inner()).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let tls =
                axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(config));
            // HTTP/1 only: the protocol sniffing of the auto builder waits for a first byte
            // with no timeout, so a client that connects and sends nothing would stay open.
            let mut server = axum_server::from_tcp_rustls(listener, tls)?.http1_only();
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_read_timeout);
            server.handle(handle).serve(app).await
        }
        None => {
            // HTTP/1 only: the protocol sniffing of the auto builder waits for a first byte
            // with no timeout, so a client that connects and sends nothing would stay open.
            let mut server = axum_server::from_tcp(listener)?.http1_only();
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_read_timeout);
            server.handle(handle).serve(app).await
        }
    }
}
