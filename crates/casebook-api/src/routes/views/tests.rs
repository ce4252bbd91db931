//! Router-level tests of the view routes (the end-to-end crate covers
//! their answers): a view stopped on an event it cannot apply makes
//! `/readyz`, `/healthz`, `/metrics` and a read-your-writes query say so,
//! naming the view, the position, the event type and the reason (such an
//! event cannot be written through the API, since the domain decides every
//! event, so the test appends it to the log directly); and the OpenAPI
//! document describes every view route and its parameters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use casebook_domain::Policy;
use casebook_log::{EventStore, ExpectedRevision, Metadata, NewEvent};
use casebook_projections::Health;
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{router, ApiConfig, AppState};

/// Status polls while waiting for the workers to reach the bad event;
/// each poll waits for the log's next change or 10 ms.
const POLLS_MAX: usize = 3_000;

async fn get(app: &Router, path: &str, token: &str) -> (StatusCode, Value, String) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body, retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_view_is_named_by_readiness_health_metrics_and_queries() {
    let (_dir, stores, done) = crate::testing::bootstrapped("Tỉnh").await;
    let bad = NewEvent {
        id: Uuid::new_v4(),
        event_type: "concern.reported".to_owned(),
        schema_version: 1,
        data: json!({"not": "a report"}),
        metadata: Metadata {
            actor: done.admin_id.0.to_string(),
            correlation_id: None,
            causation_id: None,
            occurred_at: Utc::now(),
        },
    };
    let stream = format!("concern-{}", Uuid::new_v4());
    let appended = stores
        .log
        .append(&stream, ExpectedRevision::NoStream, vec![bad])
        .await
        .unwrap();
    let position = appended.events.last().unwrap().position;
    let log = stores.log.clone();
    let shutdown = CancellationToken::new();
    let (state, _task) = AppState::start(
        stores,
        Policy::default(),
        ApiConfig::default(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let stopped = || {
        state
            .projections()
            .status()
            .unwrap()
            .iter()
            .any(|v| v.name == "cases" && matches!(v.health, Health::Failed { .. }))
    };
    let mut len = log.durable_len();
    for _ in 0..POLLS_MAX {
        if stopped() {
            break;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(10), len.changed()).await;
    }
    assert!(stopped(), "the cases view never stopped");
    let app = router(state.clone());
    let token = done.token.as_str();

    let (status, ready, _) = get(&app, "/readyz", token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["ready"], false);
    let cases = ready["stopped_views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["view"] == "cases")
        .expect("the cases view is named")
        .clone();
    assert_eq!(cases["position"], position);
    assert_eq!(cases["event_type"], "concern.reported");
    assert!(!cases["reason"].as_str().unwrap().is_empty());
    assert!(ready["views"].as_array().unwrap().len() >= 5, "{ready}");

    let (status, health, _) = get(&app, "/healthz", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded");
    assert!(health["stopped_views"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["view"] == "cases" && v["position"] == position));

    let (_, metrics, _) = get(&app, "/metrics", token).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("casebook_projection_stopped{view=\"cases\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("casebook_projection_lag_events{view=\"cases\"}"));

    let path = format!("/v1/concerns?min_position={position}");
    let (status, problem, retry_after) = get(&app, &path, token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(problem["type"], "urn:casebook:problem:unavailable");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("stopped") && detail.contains(&position.to_string()),
        "{detail}"
    );
    assert_eq!(retry_after, "1");
    shutdown.cancel();
    state.stop_workers().await;
}

#[test]
fn the_openapi_document_describes_every_view_route_and_its_parameters() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
    let paths = &doc["paths"];
    for path in [
        "/v1/concerns",
        "/v1/figures",
        "/v1/households",
        "/v1/households/{household_id}/concerns",
        "/v1/members/{person_id}/workload",
    ] {
        let get = &paths[path]["get"];
        assert!(get.is_object(), "{path}");
        let names: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"min_position") && names.contains(&"Casebook-Min-Position"),
            "{path}: {names:?}"
        );
    }
    assert!(
        paths["/v1/concerns"]["post"].is_object(),
        "the report stays"
    );
    let list: Vec<&str> = paths["/v1/concerns"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "unit", "q", "status", "topic", "assignee", "deadline", "sort", "limit", "cursor",
    ] {
        assert!(list.contains(&name), "{name}");
    }
    let figures = &paths["/v1/figures"]["get"]["responses"]["200"]["content"];
    assert!(figures["text/csv"].is_object() && figures["application/json"].is_object());
    let case = &paths["/v1/concerns/{concern_id}"]["get"]["parameters"];
    assert!(case
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "Casebook-Min-Position" && p["in"] == "header"));
}
