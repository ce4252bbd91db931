//! Operations: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::state::{log_len, AppState};

/// Log positions the directory may trail and still count as ready: a
/// second of heavy writing.
const READY_LAG_EVENTS_MAX: u64 = 1_000;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: not shutting down, and the directory has caught up with the log.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let log = log_len(state.log());
    let directory = state.directory_len();
    let lag = log.saturating_sub(directory);
    let ready = !state.shutdown().is_cancelled() && lag <= READY_LAG_EVENTS_MAX;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "ready": ready, "log_events": log, "directory_events": directory });
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
    let text = state.metrics().render(&state.log().stats())?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
