//! Who is calling: a bearer token resolved to a person, rate-limited per token.
//!
//! The roles are not in the token: they are read from the [`Directory`] at
//! each request, so a role ended a minute ago no longer counts.
//!
//! [`Directory`]: casebook_domain::Directory

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use casebook_domain::{Lookups, PersonId, Role, RoleGrant};
use chrono::{DateTime, Utc};
use governor::clock::Clock;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The person the token acts for.
    pub person_id: PersonId,
    /// The token, for rate limiting and logs.
    pub token_id: Uuid,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            // The web pages' scripts (the members' offline queue) call the
            // API with their session cookie and CSRF token instead.
            if let Some(principal) = crate::web::session::cookie_principal(parts, state)? {
                return Ok(principal);
            }
        }
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        let record = state
            .tokens()
            .find(secret)
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .filter(|r| r.is_valid_at(Utc::now()))
            .ok_or(ApiError::Unauthorized)?;
        if let Err(not_until) = state.limiter().check_key(&record.token_id) {
            let wait = not_until.wait_time_from(state.limiter().clock().now());
            return Err(ApiError::TooManyRequests {
                retry_after_s: wait.as_secs().max(1),
            });
        }
        Ok(Principal {
            person_id: record.person_id,
            token_id: record.token_id,
        })
    }
}

/// The roles a person holds at `at`.
pub fn grants_at(lookups: &dyn Lookups, person: PersonId, at: DateTime<Utc>) -> Vec<RoleGrant> {
    lookups
        .person(person)
        .map(|p| p.grants_at(at))
        .unwrap_or_default()
}

/// Whether the person is an administrator now.
pub fn is_administrator(lookups: &dyn Lookups, person: PersonId, now: DateTime<Utc>) -> bool {
    grants_at(lookups, person, now)
        .iter()
        .any(|g| g.role == Role::Administrator)
}

/// Refuses anyone but an administrator (tokens and structure reads).
pub fn require_administrator(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let directory = state.directory()?;
    if is_administrator(&*directory, principal.person_id, Utc::now()) {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        rule: Some("structure_managed_by_administrators".to_owned()),
        detail: "only an administrator may do this".to_owned(),
    })
}
