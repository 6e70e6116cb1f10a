//! The page's routes: two HTML shells and their assets (embedded), the history JSON and the
//! event stream. Merged into the main router, so TLS and basic auth are the same as for
//! every other endpoint.

use super::history::Series;
use super::{Page, PollEvent};
use crate::notify::timeline::IncidentLine;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// No inline script or style, nothing from elsewhere: a group name that slipped into
/// markup could still not run, and the page works air-gapped by construction.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every embedded file: (URL path, content type, body).
const FILES: &[(&str, &str, &str)] = &[
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    ("/assets/common.js", JS, include_str!("assets/common.js")),
    ("/assets/chart.js", JS, include_str!("assets/chart.js")),
    (
        "/assets/overview.js",
        JS,
        include_str!("assets/overview.js"),
    ),
    ("/assets/group.js", JS, include_str!("assets/group.js")),
    (
        "/assets/favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";
const INDEX_HTML: &str = include_str!("assets/index.html");
const GROUP_HTML: &str = include_str!("assets/group.html");

/// The page's routes; merge them into the router that carries auth.
pub fn router(page: Arc<Page>) -> Router {
    let mut r = Router::new()
        .route("/", get(|| async { html(INDEX_HTML) }))
        .route(
            "/groups/{cluster}/{group}",
            get(|| async { html(GROUP_HTML) }),
        )
        .route(
            "/api/v1/clusters/{cluster}/groups/{group}/history",
            get(history),
        )
        .route("/api/v1/events", get(events));
    for &(path, content_type, body) in FILES {
        r = r.route(path, get(move || async move { asset(content_type, body) }));
    }
    r.with_state(page)
        .layer(axum::middleware::map_response(security_headers))
}

fn html(body: &'static str) -> Response {
    asset("text/html; charset=utf-8", body)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidated every time: a new lagwatch binary must not run yesterday's script.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    r
}

/// `GET /api/v1/clusters/{cluster}/groups/{group}/history`.
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    /// Schema version (as the rest of `/api/v1`).
    pub schema_version: u32,
    /// Cluster name.
    pub cluster: String,
    /// Group name.
    pub group: String,
    /// What the series covers.
    pub window: Window,
    /// The group's totals per poll, oldest first.
    pub series: Series,
    /// The rules in force per topic, to draw the thresholds and judge the ratio.
    pub thresholds: Vec<TopicThresholds>,
    /// Incident timelines by topic; null when no notifier is configured.
    pub incidents: Option<Vec<IncidentLine>>,
}

/// The span of the series.
#[derive(Debug, Serialize)]
pub struct Window {
    /// Points kept at most (one per poll).
    pub points: usize,
    /// Time between polls (s).
    pub poll_interval_seconds: f64,
    /// `points × poll_interval_seconds`: what a full series spans.
    pub seconds: f64,
}

/// One topic's thresholds.
#[derive(Debug, Serialize)]
pub struct TopicThresholds {
    /// Topic name.
    pub topic: String,
    /// Warning lag (messages).
    pub lag_warning: i64,
    /// Critical lag (messages).
    pub lag_critical: i64,
    /// A backlogged consumer must consume at least this × the produce rate.
    pub headroom: f64,
}

impl Page {
    fn window(&self) -> Window {
        let poll = self.poll_interval.as_secs_f64();
        let points = self.points_per_group();
        Window {
            points,
            poll_interval_seconds: poll,
            seconds: points as f64 * poll,
        }
    }
}

async fn history(
    State(page): State<Arc<Page>>,
    Path((cluster, group)): Path<(String, String)>,
) -> Response {
    let topics: Option<Vec<String>> = page.state.snapshot().get(&cluster).and_then(|c| {
        let view = c.view.as_ref()?;
        let g = view.groups.iter().find(|g| g.group == group)?;
        Some(g.topics.iter().map(|t| t.topic.to_string()).collect())
    });
    let series = page.history().series(&cluster, &group);
    if topics.is_none() && series.is_none() {
        let error = format!("no group named `{group}` in cluster `{cluster}`");
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let thresholds = topics
        .unwrap_or_default()
        .into_iter()
        .map(|topic| {
            let t = page.rules.for_group_topic(&group, &topic);
            TopicThresholds {
                lag_warning: t.lag_warning,
                lag_critical: t.lag_critical,
                headroom: t.headroom,
                topic,
            }
        })
        .collect();
    let incidents = page.timeline.as_ref().map(|t| t.group(&cluster, &group));
    Json(HistoryReport {
        schema_version: crate::http::api::SCHEMA_VERSION,
        window: page.window(),
        series: series.unwrap_or_default(),
        thresholds,
        incidents,
        cluster,
        group,
    })
    .into_response()
}

/// The first event of every stream: what a page needs to know before the first poll.
#[derive(Debug, Serialize)]
struct Hello {
    window: Window,
    /// The default headroom (overrides may differ per group×topic).
    headroom: f64,
    /// True with `coordination.shard_clusters`: this replica shows only its own clusters.
    owned_only: bool,
}

/// `GET /api/v1/events`: `hello` once, then `poll` each time a cluster's view is published.
/// The events carry no numbers: the page refetches the JSON API, its one source.
async fn events(State(page): State<Arc<Page>>) -> Response {
    let Ok(permit) = page.streams.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "too many open event streams\n",
        )
            .into_response();
    };
    let hello = Hello {
        window: page.window(),
        headroom: page.rules.defaults.headroom,
        owned_only: page.state.is_sharded(),
    };
    let first = Event::default()
        .event("hello")
        // A browser reconnects this soon after a restart of lagwatch.
        .retry(Duration::from_secs(2))
        .json_data(hello);
    let rx = page.events.subscribe();
    let stop = page.stop.clone();
    let polls = futures::stream::unfold(
        (rx, stop, permit),
        |(mut rx, mut stop, permit)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                let ev: PollEvent = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(ev) => ev,
                        // The next event makes the page refetch everything anyway.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    r = stop.changed() => {
                        if r.is_err() { return None; }
                        continue;
                    }
                };
                let item = Event::default().event("poll").json_data(ev);
                return Some((item, (rx, stop, permit)));
            }
        },
    );
    use futures::StreamExt;
    let stream = futures::stream::once(async move { first }).chain(polls);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
