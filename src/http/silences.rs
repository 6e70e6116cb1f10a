//! `/api/v1/silences`: add (POST), list (GET) and expire (DELETE `/{id}`) silences; behind
//! the same basic auth as the rest of the API. Without notifiers there is nothing to
//! silence: every call answers 404 saying so. With coordination, a follower answers 503
//! (the leader's book holds them), except with `shard_clusters` where every replica
//! shares them through the state topic and any replica answers; a change the state
//! topic did not take answers 503.

use crate::notify::silence::{Matchers, Silence};
use crate::notify::{ChangeError, Silences};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/silences` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewSilence {
    /// What to silence.
    pub matchers: Matchers,
    /// How long, e.g. `2h`, `30m` (humantime).
    pub duration: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// Who.
    #[serde(default)]
    pub created_by: String,
}

/// `GET /api/v1/silences`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SilenceList {
    /// Schema version.
    pub schema_version: u32,
    /// Silences in force.
    pub silences: Vec<Silence>,
}

/// The routes; `silences` is None when no notifier is configured.
pub fn router(silences: Option<Silences>) -> Router {
    Router::new()
        .route("/api/v1/silences", get(list).post(add))
        .route("/api/v1/silences/{id}", delete(expire))
        .with_state(silences)
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

/// A follower's silences are not the ones in force: the leader's state is.
fn following() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "this replica is not the coordination leader: use the replica whose \
         lagwatch_coordination_leader is 1",
    )
}

fn none() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no notifier is configured: there is nothing to silence",
    )
}

async fn list(State(s): State<Option<Silences>>) -> Response {
    let Some(s) = s else { return none() };
    if s.following() {
        return following();
    }
    if let Err(e) = s.catch_up() {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    Json(SilenceList {
        schema_version: super::api::SCHEMA_VERSION,
        silences: s.list(),
    })
    .into_response()
}

async fn add(
    State(s): State<Option<Silences>>,
    body: Result<Json<NewSilence>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(s) = s else { return none() };
    if s.following() {
        return following();
    }
    let Json(new) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let secs = match humantime::parse_duration(new.duration.trim()) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("duration `{}`: {e}", new.duration),
            )
        }
    };
    match s.add(new.matchers, secs, new.comment, new.created_by) {
        Ok(silence) => (StatusCode::CREATED, Json(silence)).into_response(),
        Err(e @ ChangeError::Invalid(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ ChangeError::StateTopic(_)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

async fn expire(State(s): State<Option<Silences>>, Path(id): Path<String>) -> Response {
    let Some(s) = s else { return none() };
    if s.following() {
        return following();
    }
    match s.expire(&id) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("no silence in force with id `{id}`"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
