//! Operations: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use casebook_projections::{Health, ViewStatus};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::{log_len, AppState};

/// Log positions the directory, or a view, may trail and still count as
/// ready: a second of heavy writing.
const READY_LAG_EVENTS_MAX: u64 = 1_000;

/// Liveness: the process answers. A view stopped on an event it could not
/// apply does not make the process dead (restarting would not fix it: it
/// needs a rebuild), so the answer stays 200 but says `degraded` and names
/// each stopped view with the position, event type and reason.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive; `degraded` names stopped views")))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let stopped = match state.projections().status() {
        Ok(views) => stopped(&views),
        Err(error) => vec![json!({ "error": error.to_string() })],
    };
    if stopped.is_empty() {
        Json(json!({ "status": "ok" }))
    } else {
        Json(json!({ "status": "degraded", "stopped_views": stopped }))
    }
}

/// The views that stopped on an event, each with where and why.
fn stopped(views: &[ViewStatus]) -> Vec<Value> {
    views
        .iter()
        .filter_map(|v| match &v.health {
            Health::Failed {
                position,
                event_type,
                reason,
            } => Some(json!({
                "view": v.name,
                "position": position,
                "event_type": event_type,
                "reason": reason,
            })),
            _ => None,
        })
        .collect()
}

/// Readiness: not shutting down, the directory has caught up with the log,
/// and so has every view (none stopped). The body gives each view's
/// status and lag, and names the stopped ones.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let log = log_len(state.log());
    let directory = state.directory_len();
    let lag = log.saturating_sub(directory);
    let (views, views_ready, stopped) = match state.projections().status() {
        Ok(views) => {
            let caught_up = views.iter().all(|v| v.lag_events <= READY_LAG_EVENTS_MAX);
            let stopped = stopped(&views);
            let ready = caught_up && stopped.is_empty();
            (json!(views), ready, stopped)
        }
        Err(error) => (
            Value::Null,
            false,
            vec![json!({ "error": error.to_string() })],
        ),
    };
    let ready = !state.shutdown().is_cancelled() && lag <= READY_LAG_EVENTS_MAX && views_ready;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "log_events": log,
        "directory_events": directory,
        "views": views,
        "stopped_views": stopped,
    });
    (status, Json(body))
}

/// Prometheus metrics in the text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let lag = log_len(state.log()).saturating_sub(state.directory_len());
    state
        .metrics()
        .directory_lag
        .set(i64::try_from(lag).unwrap_or(i64::MAX));
    state.metrics().set_views(&state.projections().status()?);
    let text = state.metrics().render(&state.log().stats())?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
