//! Handler-logic tests through the router with `oneshot` (no socket); the
//! end-to-end crate (`tests/`) drives the real binary over TCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::extract::parse_json;
use crate::{router, ApiError};

struct Fixture {
    app: Router,
    token: String,
    root: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let (dir, stores, done) = crate::testing::bootstrapped("Tỉnh").await;
    let state = crate::testing::started(stores).await;
    Fixture {
        app: router(state),
        token: done.token,
        root: done.root_unit_id.to_string(),
        _dir: dir,
    }
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_unit_is_created_and_a_retry_answers_the_same_places() {
    let f = fixture().await;
    let body = json!({"command_id": "6f1c8a3e-0000-4000-8000-000000000001", "kind": "post",
        "name": "Đồn Biên phòng Vĩnh Hải", "parent_id": f.root});
    let (status, first) = send(&f.app, "POST", "/v1/units", &f.token, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "applied");
    assert_eq!(first["events"][0]["event_type"], "unit.created");
    let (_, again) = send(&f.app, "POST", "/v1/units", &f.token, Some(body)).await;
    assert_eq!(again["status"], "already_applied");
    assert_eq!(again["position"], first["position"]);
}

#[tokio::test]
async fn a_missing_token_and_an_unknown_case_answer_problems() {
    let f = fixture().await;
    let (status, problem) = send(&f.app, "GET", "/v1/me", "nope", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "urn:casebook:problem:unauthorized");
    let path = "/v1/concerns/00000000-0000-4000-8000-000000000000";
    let (status, problem) = send(&f.app, "GET", path, &f.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["status"], 404);
}

#[test]
fn parse_json_names_the_field_and_the_reason() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        size: u16,
    }
    let check = |input: &str| match parse_json::<Body>(input.as_bytes(), 10) {
        Ok(_) => ("ok".to_owned(), String::new()),
        Err(error) => {
            let problem = error.problem();
            (problem.kind, problem.field.unwrap_or_default())
        }
    };
    let validation = "urn:casebook:problem:validation".to_owned();
    assert_eq!(check(r#"{"size": 3}"#).0, "ok");
    assert_eq!(
        check(r#"{"size": "3"}"#),
        (validation.clone(), "size".to_owned())
    );
    assert_eq!(
        check(r#"{"size": 3, "x": "0123456789ab"}"#),
        (validation.clone(), "x".to_owned())
    );
    assert_eq!(
        check(r#"{"size": 3,"#).0,
        "urn:casebook:problem:bad_request"
    );
    assert!(matches!(
        parse_json::<Body>(br#"{"size": 3, "extra": 1}"#, 10),
        Err(ApiError::Validation { .. })
    ));
}
