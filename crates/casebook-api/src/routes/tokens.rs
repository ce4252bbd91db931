//! Token administration: create, list and revoke (administrators only).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use casebook_domain::{Lookups, PersonId};
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{require_administrator, Principal};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::tokens::{TokenRecord, TOKEN_LABEL_CHARS_MAX};

/// Longest token lifetime: a year, after which even a forgotten token dies.
pub const TOKEN_LIFETIME_DAYS_MAX: u32 = 366;

/// A request for a new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The person it acts for.
    #[schema(value_type = Uuid)]
    pub person_id: PersonId,
    /// What it is for.
    pub label: String,
    /// Days until it expires (default from the configuration).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new token: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret, to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// What is kept of it.
    pub record: TokenRecord,
}

/// Create a token for a person (administrators).
#[utoipa::path(post, path = "/v1/tokens", tag = "auth", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    require_administrator(&state, &principal)?;
    if state.directory()?.person(body.person_id).is_none() {
        return Err(ApiError::validation("person_id", "no such person"));
    }
    if body.label.chars().count() > TOKEN_LABEL_CHARS_MAX {
        return Err(ApiError::validation(
            "label",
            format!("longer than {TOKEN_LABEL_CHARS_MAX} characters"),
        ));
    }
    let days = body
        .expires_in_days
        .unwrap_or(state.config().token_lifetime_days);
    if days == 0 || days > TOKEN_LIFETIME_DAYS_MAX {
        return Err(ApiError::validation(
            "expires_in_days",
            format!("must be between 1 and {TOKEN_LIFETIME_DAYS_MAX}"),
        ));
    }
    let (token, record) = state
        .tokens()
        .create(
            body.person_id,
            &body.label,
            TimeDelta::days(i64::from(days)),
            Utc::now(),
        )
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(token_id = %record.token_id, person_id = %record.person_id, "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { token, record })))
}

/// List tokens, without secrets (administrators).
#[utoipa::path(get, path = "/v1/tokens", tag = "auth",
    responses((status = 200, body = Vec<TokenRecord>), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<TokenRecord>>, ApiError> {
    require_administrator(&state, &principal)?;
    let records = state
        .tokens()
        .list()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(records))
}

/// Revoke a token (administrators).
#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "auth",
    params(("token_id" = Uuid, Path)),
    responses((status = 200, body = TokenRecord), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(token_id): ApiPath<Uuid>,
) -> Result<Json<TokenRecord>, ApiError> {
    require_administrator(&state, &principal)?;
    let record = state
        .tokens()
        .revoke(token_id, Utc::now())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("token {token_id}")))?;
    tracing::info!(%token_id, "token revoked");
    Ok(Json(record))
}
