//! The query routes that read the views (`casebook-projections`): the case
//! list with filters and search, the resolution figures (JSON or CSV), the
//! households, one household's cases, and a member's workload.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /v1/concerns` | cases: `unit`, `status`, `kind`, `topic`, `priority`, `assignee`, `deadline`, `updated_since`, `sort`, `limit`, `cursor`, `q` |
//! | `GET /v1/figures` | resolution figures of a unit by period, topic and unit below; CSV with `Accept: text/csv` |
//! | `GET /v1/households` | households in reach, responsible member now and before, cases by status, last visit |
//! | `GET /v1/households/{household_id}/concerns` | one household's cases, same filters as the list |
//! | `GET /v1/members/{person_id}/workload` | households, open and overdue cases, visits, households not visited |
//!
//! Every route shows only what the caller may see, decided object by
//! object with [`crate::visibility`] as for the single-object routes
//! (`reach` only chooses where to scan); a unit filter outside the
//! caller's reach answers 404. Every parameter is checked, and a bad one
//! answers 400 naming it (`params`). Every route accepts a minimum log
//! position and waits for the views to reach it ([`crate::fresh`]).
//! The views are read on the blocking pool: a page reads up to a few
//! thousand sled entries.
//!
//! - `params`: the query parameters, taken one by one.
//! - `reach`: the caller's units; where a list scans.
//! - `doc`: the parameters in the OpenAPI document.
//! - `cases`, `figures`, `households`, `workload`: the handlers.

pub mod cases;
pub mod doc;
pub mod figures;
pub mod households;
pub mod params;
pub mod reach;
pub mod workload;

#[cfg(test)]
mod tests;

use axum::routing::get;
use axum::Router;
use casebook_domain::{PersonId, Role};
use chrono::{DateTime, Utc};

use crate::auth::grants_at;
use crate::error::ApiError;
use crate::state::AppState;
use reach::Reach;

/// The view routes, merged into the API's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/concerns", get(cases::list_concerns))
        .route("/v1/figures", get(figures::figures))
        .route("/v1/households", get(households::list_households))
        .route(
            "/v1/households/{household_id}/concerns",
            get(cases::household_concerns),
        )
        .route(
            "/v1/members/{person_id}/workload",
            get(workload::member_workload),
        )
}

/// Runs a view query on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: AppState,
    work: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || work(&state))
        .await
        .map_err(|e| ApiError::Internal(format!("a view query did not finish: {e}")))?
}

/// The caller's reach now. Takes the directory's lock itself: call it
/// without holding a guard.
fn reach_now(state: &AppState, person: PersonId, now: DateTime<Utc>) -> Result<Reach, ApiError> {
    let is_member = {
        let directory = state.directory()?;
        grants_at(&*directory, person, now)
            .iter()
            .any(|g| g.role == Role::Member)
    };
    let assigned = if is_member {
        state
            .projections()
            .member(person, now, 0)?
            .map(|w| w.households)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let directory = state.directory()?;
    Ok(Reach::of(&*directory, person, now, &assigned))
}
