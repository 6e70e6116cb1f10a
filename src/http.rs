//! HTTP endpoints: /metrics, /healthz, /readyz and the JSON API.

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
}

/// The router with every endpoint.
pub fn router(ctx: HttpCtx) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/clusters/{cluster}/groups/{group}", get(group))
        .route("/", get(index))
        .with_state(ctx)
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><body><h1>lagwatch</h1><ul><li><a href=\"/metrics\">/metrics</a></li>\
         <li><a href=\"/api/v1/status\">/api/v1/status</a></li><li><a href=\"/readyz\">/readyz</a></li>\
         </ul></body></html>\n",
    )
}

async fn metrics(State(ctx): State<HttpCtx>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let om = accept.contains("application/openmetrics-text");
    match ctx.metrics.render(om) {
        Ok(body) => {
            let ct = if om {
                OPENMETRICS_CONTENT_TYPE
            } else {
                TEXT_CONTENT_TYPE
            };
            ([(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed\n",
        )
            .into_response(),
    }
}

async fn readyz(State(ctx): State<HttpCtx>) -> Response {
    let (ready, waiting) = ctx.state.ready();
    if ready {
        "ready\n".into_response()
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
    Json(crate::report::status_report(&ctx.state.snapshot())).into_response()
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
        Some(g) => Json(crate::report::group_report(&cluster, c, g)).into_response(),
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

/// Binds and serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: HttpCtx,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ctx))
        .with_graceful_shutdown(shutdown)
        .await
}
