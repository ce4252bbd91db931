//! Read-your-writes for queries.
//!
//! A command answers the log position its events reached
//! (`Casebook-Position`). The directory and the views follow the log a
//! little behind it, so a client that wants its own change reflected names
//! that position on the next query, in the `Casebook-Min-Position` header
//! or the `min_position` parameter. The query then waits until what it
//! reads has applied the position, at most [`crate::config::READ_WAIT`]
//! (`limits.read_wait_ms`), and otherwise answers 503 with `Retry-After`
//! rather than a stale answer. A view stopped on an event answers 503 at
//! once, naming it. A position at or beyond the end of the durable log is
//! the caller's mistake, not something to wait for: commands answer only
//! once their events are durable, so no honest client holds such a
//! position. It answers 400, naming the header or parameter.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::state::AppState;

/// The request header naming the minimum position.
pub const MIN_POSITION_HEADER: &str = "Casebook-Min-Position";
/// The query parameter naming the minimum position.
pub const MIN_POSITION_PARAM: &str = "min_position";

/// The log position a query must reflect, if the caller named one. When
/// both the header and the parameter are given, the larger counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinPosition(pub Option<u64>);

/// What a route reads, and so what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// The directory (and the log, which it follows): single cases,
    /// their history, households, the caller.
    Directory,
    /// The views too: lists, figures, households, workloads.
    Views,
}

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let header = match parts.headers.get(MIN_POSITION_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|text| parse_position(text.trim()))
                    .ok_or_else(|| not_a_position(MIN_POSITION_HEADER))?,
            ),
        };
        let param = param_of(&parts.uri)?;
        Ok(MinPosition(header.max(param)))
    }
}

/// The `min_position` parameter of a request's query, if given once.
fn param_of(uri: &axum::http::Uri) -> Result<Option<u64>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|rejection| {
        ApiError::BadRequest {
            detail: rejection.body_text(),
            field: Some("query".to_owned()),
        }
    })?;
    let mut values = pairs
        .into_iter()
        .filter(|(name, _)| name == MIN_POSITION_PARAM);
    let Some((_, value)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            MIN_POSITION_PARAM,
            "`min_position` is given more than once",
        ));
    }
    parse_position(value.trim())
        .map(Some)
        .ok_or_else(|| not_a_position(MIN_POSITION_PARAM))
}

fn parse_position(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn not_a_position(field: &str) -> ApiError {
    ApiError::bad_request(
        field,
        format!("`{field}` must be a log position: a whole number, 0 or more"),
    )
}

impl MinPosition {
    /// Waits until everything the route reads has applied the position
    /// (bounded by the configured wait), or answers 503.
    pub async fn wait(self, state: &AppState, reads: Reads) -> Result<(), ApiError> {
        let Some(position) = self.0 else {
            return Ok(());
        };
        let len = crate::state::log_len(state.log());
        if position >= len {
            return Err(ApiError::bad_request(
                MIN_POSITION_PARAM,
                format!(
                    "the minimum position {position} is beyond the end of the log ({len} events): \
                     pass a position that a command answered"
                ),
            ));
        }
        let wait = state.config().read_wait;
        let deadline = Instant::now() + wait;
        state
            .wait_directory(position, wait)
            .await
            .map_err(|_| behind("the directory", position, wait))?;
        if reads == Reads::Views {
            let left = deadline.saturating_duration_since(Instant::now());
            state
                .projections()
                .wait_for(position, left)
                .await
                .map_err(|error| match error {
                    casebook_projections::ProjectionError::Timeout { .. } => {
                        behind("the views", position, wait)
                    }
                    other => ApiError::from(other),
                })?;
        }
        Ok(())
    }
}

fn behind(what: &str, position: u64, wait: std::time::Duration) -> ApiError {
    ApiError::Unavailable {
        detail: format!(
            "{what} did not reach log position {position} within {} ms; retry later",
            wait.as_millis()
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::Request;

    use super::*;

    async fn extract(uri: &str, header: Option<&str>) -> Result<MinPosition, ApiError> {
        let mut request = Request::builder().uri(uri);
        if let Some(value) = header {
            request = request.header(MIN_POSITION_HEADER, value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        MinPosition::from_request_parts(&mut parts, &()).await
    }

    fn field(result: Result<MinPosition, ApiError>) -> Option<String> {
        result.unwrap_err().problem().field
    }

    #[tokio::test]
    async fn the_header_and_the_parameter_are_read_and_the_larger_counts() {
        assert_eq!(extract("/x", None).await.unwrap(), MinPosition(None));
        assert_eq!(
            extract("/x?min_position=7", None).await.unwrap(),
            MinPosition(Some(7))
        );
        assert_eq!(
            extract("/x", Some(" 12 ")).await.unwrap(),
            MinPosition(Some(12))
        );
        assert_eq!(
            extract("/x?min_position=30", Some("12")).await.unwrap(),
            MinPosition(Some(30))
        );
        assert_eq!(
            extract("/x?min_position=3", Some("12")).await.unwrap(),
            MinPosition(Some(12))
        );
    }

    #[tokio::test]
    async fn a_bad_position_names_where_it_came_from() {
        let header = Some(MIN_POSITION_HEADER.to_owned());
        let param = Some(MIN_POSITION_PARAM.to_owned());
        assert_eq!(field(extract("/x", Some("-1")).await), header);
        assert_eq!(field(extract("/x", Some("abc")).await), header);
        assert_eq!(field(extract("/x?min_position=1.5", None).await), param);
        assert_eq!(field(extract("/x?min_position=", None).await), param);
        assert_eq!(
            field(extract("/x?min_position=99999999999999999999999", None).await),
            param
        );
        assert_eq!(
            field(extract("/x?min_position=1&min_position=2", None).await),
            param
        );
    }
}
