//! Extractors whose rejections are [`ApiError`]s: JSON bodies, path
//! parameters, `If-Match`, and the caller's identity.
//!
//! [`ApiJson`] reads the body itself so that every failure names what was
//! wrong: a wrong media type (415), a body over the limit (413), malformed
//! JSON (400), a text over [`crate::config::TEXT_CHARS_MAX`] characters, an
//! unknown or missing field, a wrong type or a bad UUID (422, naming the
//! field by its path).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// Deepest JSON nesting walked when checking text lengths; our bodies nest
/// four levels at most, and the bound stops a hostile body.
const JSON_DEPTH_MAX: usize = 32;

/// A JSON body, parsed strictly.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.config().body_bytes_max;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_error(rejection, limit))?;
        parse_json(&bytes, state.config().text_chars_max).map(ApiJson)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json")
        })
}

fn body_error(rejection: BytesRejection, limit_bytes: usize) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit_bytes }
    } else {
        ApiError::BadRequest {
            detail: rejection.body_text(),
            field: None,
        }
    }
}

/// Parses a body: JSON syntax, then text lengths, then the typed shape.
///
/// A body too short to hold an over-long text and nested no deeper than
/// the walk allows is first parsed straight into `T`, without building a
/// [`Value`] (two passes and an allocation per field, a few per cent of a
/// command's CPU); any failure there takes the checked path, so every
/// error is the one the checked path gives, in its order.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], text_chars_max: usize) -> Result<T, ApiError> {
    let checks_cannot_fail =
        bytes.len() <= text_chars_max && nesting_depth(bytes) <= JSON_DEPTH_MAX;
    if checks_cannot_fail {
        if let Ok(parsed) = serde_json::from_slice(bytes) {
            return Ok(parsed);
        }
    }
    parse_json_checked(bytes, text_chars_max)
}

/// [`parse_json`] by way of a [`Value`]: JSON syntax, then text lengths,
/// then the typed shape, each failure naming what was wrong.
fn parse_json_checked<T: DeserializeOwned>(
    bytes: &[u8],
    text_chars_max: usize,
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        detail: format!("malformed JSON: {e}"),
        field: None,
    })?;
    check_texts(&value, "", text_chars_max, 0)?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::validation(field, error.into_inner().to_string())
    })
}

/// The deepest nesting of arrays and objects in JSON text (exact for valid
/// JSON; what invalid JSON gives does not matter, as it fails to parse).
/// A text of `n` bytes has no string longer than `n` characters, and no
/// value deeper than this.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

fn check_texts(value: &Value, path: &str, max: usize, depth: usize) -> Result<(), ApiError> {
    if depth > JSON_DEPTH_MAX {
        return Err(ApiError::validation(path, "nested too deeply"));
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.chars().count() > max => Err(ApiError::validation(
            if path.is_empty() { "body" } else { path },
            format!("longer than {max} characters"),
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_texts(item, &format!("{path}[{i}]"), max, depth + 1)),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(key, item)| check_texts(item, &join(key), max, depth + 1)),
        _ => Ok(()),
    }
}

/// Path parameters, with a 400 naming the parameter when one does not parse.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(path_error)
    }
}

fn path_error(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::BadRequest {
            detail: e.body_text(),
            field: Some("path".to_owned()),
        },
        other => ApiError::Internal(other.body_text()),
    }
}

/// The stream revision named by `If-Match`, if the header is there.
/// `*` means any revision (the same as no header).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let bad = || ApiError::bad_request("If-Match", "must be a revision, such as \"3\"");
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
        text.parse().map(|r| IfMatch(Some(r))).map_err(|_| bad())
    }
}

/// The value of an `ETag` for a stream revision.
pub fn etag(revision: u64) -> String {
    format!("\"{revision}\"")
}

/// Query parameters, with a 400 naming the problem when they do not parse.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection| ApiError::BadRequest {
                detail: rejection.body_text(),
                field: Some("query".to_owned()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        size: u16,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        extra: Option<Value>,
    }

    fn outcome(parsed: Result<Body, ApiError>) -> Result<Body, Value> {
        parsed.map_err(|error| serde_json::to_value(error.problem()).unwrap_or_default())
    }

    fn nested(levels: usize) -> String {
        format!(
            r#"{{"size": 1, "extra": {}1{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    #[test]
    fn the_direct_parse_answers_what_the_checked_parse_answers() {
        let long = "x".repeat(40);
        let mut inputs: Vec<String> = [
            r#"{"size": 3}"#,
            r#"{"size": 3, "text": "short"}"#,
            r#"{"size": "3"}"#,
            r#"{"size": 3, "unknown": 1}"#,
            r#"{"size": 3,"#,
            r#"{"size": 3} trailing"#,
            r#"{"size": 3, "size": 4}"#,
            r#"{"size": 70000}"#,
            r#"{"text": "no size"}"#,
            r#"{"size": 3, "text": "a \"quoted [ { brace\\"}"#,
            r#"{"size": 3, "extra": {"a": [1, {"b": "]]]]"}]}}"#,
            r#"[1, 2]"#,
            "",
        ]
        .iter()
        .map(|input| (*input).to_owned())
        .collect();
        inputs.push(format!(r#"{{"size": 3, "text": "{long}"}}"#));
        inputs.push(format!(r#"{{"size": "x", "text": "{long}"}}"#));
        inputs.extend([31, 32, 33, 40].map(nested));
        for input in &inputs {
            for max in [20, 10_000] {
                assert_eq!(
                    outcome(parse_json::<Body>(input.as_bytes(), max)),
                    outcome(parse_json_checked::<Body>(input.as_bytes(), max)),
                    "input {input:?}, text_chars_max {max}"
                );
            }
        }
    }

    #[test]
    fn nesting_depth_counts_brackets_outside_strings_only() {
        assert_eq!(nesting_depth(br#"{"a": "[[[{{{"}"#), 1);
        assert_eq!(nesting_depth(br#"{"a": "\"[", "b": [[1]]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a": "\\", "b": [1]}"#), 2);
        assert_eq!(nesting_depth(b"7"), 0);
        assert_eq!(nesting_depth(nested(33).as_bytes()), 34);
    }

    #[test]
    fn a_body_nested_too_deeply_is_refused_even_when_short() {
        let refused = parse_json::<Body>(nested(40).as_bytes(), 10_000);
        assert!(
            matches!(refused, Err(ApiError::Validation { .. })),
            "{refused:?}"
        );
        assert!(parse_json::<Body>(nested(20).as_bytes(), 10_000).is_ok());
    }
}
