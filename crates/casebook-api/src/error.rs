//! The one error type of the API, answered as `application/problem+json`
//! (RFC 9457).
//!
//! Every handler returns `Result<_, ApiError>`, and every extractor's
//! rejection is turned into an `ApiError` too, so a client meets a single
//! error format everywhere. Client errors say what was wrong and, for
//! validation errors, name the field. Internal errors say little to the
//! client; the middleware logs them with the request id.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use casebook_domain::DomainError;
use casebook_log::LogError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read at all: malformed JSON, a bad header. HTTP 400.
    #[error("{detail}")]
    BadRequest {
        /// What was wrong.
        detail: String,
        /// The header, parameter or field at fault, if one is.
        field: Option<String>,
    },

    /// A field has the wrong type, is unknown, missing or too long. HTTP 422.
    #[error("invalid `{field}`: {reason}")]
    Validation {
        /// The field at fault, as a path (`subject.household_id`).
        field: String,
        /// Why it is wrong.
        reason: String,
    },

    /// The request carries no valid bearer token. HTTP 401.
    #[error("a valid bearer token is required")]
    Unauthorized,

    /// The caller is known but may not do this (a permission rule). HTTP 403.
    #[error("{detail}")]
    Forbidden {
        /// The rule that refused, when the domain named one.
        rule: Option<String>,
        /// What was refused.
        detail: String,
    },

    /// Nothing of that name exists, or it is outside the caller's reach (so
    /// that its existence does not leak). HTTP 404.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },

    /// The route exists but not with this method. HTTP 405.
    #[error("method not allowed on this route")]
    MethodNotAllowed,

    /// The request's media type is not JSON. HTTP 415.
    #[error("the body must be application/json")]
    UnsupportedMediaType,

    /// The command is not allowed in the current state, or a command id
    /// was reused for another command. HTTP 409.
    #[error("{detail}")]
    Conflict {
        /// What conflicted.
        detail: String,
    },

    /// `If-Match` named a revision that is no longer current. HTTP 412.
    #[error("the case changed: its current revision is {current:?}")]
    PreconditionFailed {
        /// The stream's current revision (`None` if it does not exist).
        current: Option<u64>,
    },

    /// The body is larger than the limit. HTTP 413.
    #[error("the body is larger than {limit_bytes} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit_bytes: usize,
    },

    /// The token made too many requests. HTTP 429 with `Retry-After`.
    #[error("too many requests; retry after {retry_after_s} s")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after_s: u64,
    },

    /// The service cannot answer now (shutting down, log unavailable, a
    /// bounded wait ran out). HTTP 503 with `Retry-After`.
    #[error("{detail}")]
    Unavailable {
        /// Why.
        detail: String,
    },

    /// A fault of ours (a corrupt record, an I/O error). HTTP 500; the
    /// detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error answer (RFC 9457), with our extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:casebook:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// The field, header or parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The permission rule that refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A stream's current revision, on 412.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
}

impl ApiError {
    /// A validation error on `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A 404 for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// A 400 naming the header or parameter at fault.
    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => ("bad_request", "The request cannot be read"),
            Self::Validation { .. } => ("validation", "A field is invalid"),
            Self::Unauthorized => ("unauthorized", "Authentication required"),
            Self::Forbidden { .. } => ("forbidden", "Not allowed"),
            Self::NotFound { .. } => ("not_found", "Not found"),
            Self::MethodNotAllowed => ("method_not_allowed", "Method not allowed"),
            Self::UnsupportedMediaType => ("unsupported_media_type", "Unsupported media type"),
            Self::Conflict { .. } => ("conflict", "Not allowed in the current state"),
            Self::PreconditionFailed { .. } => ("precondition_failed", "Stale revision"),
            Self::PayloadTooLarge { .. } => ("payload_too_large", "Body too large"),
            Self::TooManyRequests { .. } => ("too_many_requests", "Too many requests"),
            Self::Unavailable { .. } => ("unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem body of this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        let detail = match self {
            Self::Internal(_) => "an internal error occurred; it was logged".to_owned(),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:casebook:problem:{slug}"),
            title,
            status: self.status().as_u16(),
            detail,
            field: match self {
                Self::Validation { field, .. } => Some(field.clone()),
                Self::BadRequest { field, .. } => field.clone(),
                _ => None,
            },
            rule: match self {
                Self::Forbidden { rule, .. } => rule.clone(),
                _ => None,
            },
            current_revision: match self {
                Self::PreconditionFailed { current } => *current,
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_s } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            Self::Unavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Refused { rule, detail } => Self::Forbidden {
                rule: Some(rule.code().to_owned()),
                detail: format!("refused by rule `{rule}`: {detail}"),
            },
            DomainError::IllegalTransition { .. } => Self::Conflict {
                detail: error.to_string(),
            },
            DomainError::FieldTimeInFuture { .. } => {
                Self::validation("occurred_at", error.to_string())
            }
            DomainError::Invalid { field, reason } => Self::validation(field, reason),
            DomainError::NotFound { what, id } => Self::not_found(format!("{what} {id}")),
            DomainError::UnknownEvent { .. } | DomainError::MalformedRecord { .. } => {
                Self::Internal(error.to_string())
            }
        }
    }
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::WrongExpectedRevision { actual, .. } => {
                Self::PreconditionFailed { current: actual }
            }
            LogError::IdempotencyConflict { .. } => Self::Conflict {
                detail: format!("the command id was already used for another command: {error}"),
            },
            LogError::Invalid(reason) => Self::validation("body", reason),
            LogError::Unavailable(reason) => Self::Unavailable { detail: reason },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<casebook_projections::ProjectionError> for ApiError {
    /// A view that is behind, stopped or shut down cannot answer now (503);
    /// a cursor or query the views refuse is the caller's (400); anything
    /// else is ours.
    fn from(error: casebook_projections::ProjectionError) -> Self {
        use casebook_projections::ProjectionError as E;
        match error {
            E::Timeout { .. } | E::Stopped { .. } | E::ShutDown => Self::Unavailable {
                detail: format!("the views cannot answer now: {error}"),
            },
            E::BadCursor => Self::bad_request(
                "cursor",
                "the cursor is not valid: pass back a next_cursor of the same query",
            ),
            E::InvalidQuery(reason) => Self::BadRequest {
                detail: reason,
                field: None,
            },
            E::UnknownView(name) => Self::not_found(format!("view {name}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<casebook_privacy::PrivacyError> for ApiError {
    /// Recording personal data for an erased household is the caller's
    /// conflict (409); a domain refusal keeps its meaning; anything else
    /// (a missing or unreadable key, an altered record) is ours.
    fn from(error: casebook_privacy::PrivacyError) -> Self {
        use casebook_privacy::PrivacyError as E;
        match error {
            E::Erased { .. } => Self::Conflict {
                detail: error.to_string(),
            },
            E::Domain(domain) => domain.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}
