//! Every command route × bad inputs: each answers the right status and a
//! problem body naming the field, and the log does not change.

use reqwest::Method;
use serde_json::{json, Value};

use crate::server::assert_problem;
use crate::world::{in_progress, report_body, World};

/// Every command route with a body that would be valid.
fn routes(w: &World, case: &str) -> Vec<(String, Value)> {
    let c = |step: &str| format!("/v1/concerns/{case}/{step}");
    vec![
        ("/v1/concerns".to_owned(), report_body(&w.household_1)),
        (
            c("acknowledge"),
            json!({"topic": "land", "priority": "low"}),
        ),
        (
            c("assign"),
            json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}}),
        ),
        (
            c("actions"),
            json!({"action": "visit", "summary": "Thăm hộ"}),
        ),
        (
            c("escalate"),
            json!({"to": {"state_body": "UBND huyện"}, "reason": "Vượt thẩm quyền"}),
        ),
        (
            c("referrals"),
            json!({"body": "Ngân hàng", "reason": "Vay vốn"}),
        ),
        (
            c("referral-answers"),
            json!({"referral_no": 1, "answer": "Đồng ý"}),
        ),
        (c("pause"), json!({"reason": "Chờ"})),
        (c("resume"), json!({})),
        (
            c("interim-replies"),
            json!({"message": "Đang xử lý", "deadline": "2099-01-01T00:00:00Z", "reason": "Chờ"}),
        ),
        (
            c("resolve"),
            json!({"outcome": "resolved", "summary": "Xong"}),
        ),
        (
            c("feedback"),
            json!({"satisfied": true, "comment": "Hài lòng"}),
        ),
        (c("close"), json!({"note": "Xong"})),
        (c("reopen"), json!({"reason": "Theo dõi"})),
        (c("merge"), json!({"into_concern_id": case})),
        (c("withdraw"), json!({"reason": "Rút"})),
        (
            c("informant-grants"),
            json!({"person_id": w.member_1, "reason": "Xác minh"}),
        ),
        ("/v1/sync".to_owned(), json!({"commands": []})),
        (
            "/v1/units".to_owned(),
            json!({"kind": "hamlet", "name": "Ấp mới", "parent_id": w.commune_x}),
        ),
        (
            format!("/v1/units/{}/rename", w.hamlet_2),
            json!({"name": "Ấp khác"}),
        ),
        (
            format!("/v1/units/{}/cover", w.post_a),
            json!({"commune_id": w.commune_y}),
        ),
        (
            format!("/v1/units/{}/uncover", w.post_a),
            json!({"commune_id": w.commune_y}),
        ),
        (
            format!("/v1/units/{}/committees", w.hamlet_2),
            json!({"kind": "party_cell", "name": "Chi bộ"}),
        ),
        ("/v1/people".to_owned(), json!({"name": "Người mới"})),
        (
            format!("/v1/people/{}/roles", w.member_1),
            json!({"role": {"role": "auditor"}, "unit_id": w.post_a}),
        ),
        (
            format!(
                "/v1/people/{}/roles/{}/end",
                w.member_1,
                uuid::Uuid::new_v4()
            ),
            json!({}),
        ),
        (
            "/v1/households".to_owned(),
            json!({"hamlet_id": w.hamlet_1, "size": 3, "personal": {"head_of_household": "Lê Thị Mai", "phone": null, "address": null, "note": null}}),
        ),
        (
            format!("/v1/households/{}/details", w.household_1),
            json!({"size": 3, "personal": {"head_of_household": "Lê Thị Mai", "phone": null, "address": null, "note": null}}),
        ),
        (
            format!("/v1/households/{}/assignment", w.household_1),
            json!({"member_id": w.member_1}),
        ),
        (
            format!("/v1/households/{}/assignment/end", w.household_1),
            json!({}),
        ),
        (
            "/v1/tokens".to_owned(),
            json!({"person_id": w.member_1, "label": "x"}),
        ),
    ]
}

fn with(body: &Value, key: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[key] = value;
    body
}

/// The path with its first UUID segment replaced by a bad one, if it has one.
fn bad_uuid_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let index = segments
        .iter()
        .position(|s| uuid::Uuid::parse_str(s).is_ok())?;
    let mut segments: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
    segments[index] = "not-a-uuid".to_owned();
    Some(segments.join("/"))
}

#[tokio::test]
async fn every_command_route_refuses_bad_input_with_a_problem_and_changes_nothing() {
    // Hundreds of requests from one token: lift the rate limit for this server.
    let server = crate::server::Server::start_with_env(&[
        ("CASEBOOK_LIMITS_RATE_PER_SECOND", "100000"),
        ("CASEBOOK_LIMITS_RATE_BURST", "100000"),
    ]);
    let w = crate::world::world_on(server).await;
    let s = &w.server;
    let case = in_progress(&w).await;
    let before = s.log_len().await;
    let tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    for (path, body) in routes(&w, &case) {
        let token = if path.starts_with("/v1/concerns") || path.ends_with("/sync") {
            w.token("committee_in")
        } else {
            w.token("admin")
        };
        let malformed = s
            .raw(&path, token, "application/json", b"{\"name\": ".to_vec())
            .await;
        assert_problem(&malformed, 400, None);
        let not_json = s.raw(&path, token, "text/plain", b"{}".to_vec()).await;
        assert_problem(&not_json, 415, None);
        let unknown = s
            .post(&path, token, with(&body, "surprise", json!(1)))
            .await;
        assert_problem(&unknown, 422, None);
        assert!(
            unknown.body["detail"]
                .as_str()
                .unwrap()
                .contains("surprise"),
            "{path}: {:?}",
            unknown.body
        );
        let long = s
            .post(
                &path,
                token,
                with(&body, "occurred_at", json!("x".repeat(9_000))),
            )
            .await;
        assert_problem(&long, 422, Some("occurred_at"));
        let anonymous = s.call(Method::POST, &path, None, Some(&body), &[]).await;
        assert_problem(&anonymous, 401, None);
        if let Some(bad_path) = bad_uuid_path(&path) {
            let bad = s.post(&bad_path, token, body.clone()).await;
            assert_problem(&bad, 400, Some("path"));
        }
        if path.ends_with("/sync") || path.ends_with("/tokens") {
            continue;
        }
        let wrong_type = s
            .post(&path, token, with(&body, "command_id", json!(42)))
            .await;
        assert_problem(&wrong_type, 422, Some("command_id"));
        let bad_id = s
            .post(&path, token, with(&body, "command_id", json!("nope")))
            .await;
        assert_problem(&bad_id, 422, Some("command_id"));
        let future = s
            .post(&path, token, with(&body, "occurred_at", json!(tomorrow)))
            .await;
        assert_problem(&future, 422, Some("occurred_at"));
    }
    assert_eq!(s.log_len().await, before, "no bad input changed the log");
}

#[tokio::test]
async fn wrong_shapes_name_the_nested_field() {
    let w = crate::world::world().await;
    let s = &w.server;
    let before = s.log_len().await;
    let mut body = report_body(&w.household_1);
    body["subject"] = json!({"household": {"household_id": "nope"}});
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_problem(&a, 422, Some("subject.household.household_id"));
    let mut body = report_body(&w.household_1);
    body["priority"] = json!("whenever");
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_problem(&a, 422, Some("priority"));
    let mut body = report_body(&w.household_1);
    body["text"] = json!("  ");
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_problem(&a, 422, Some("text"));
    let mut body = report_body(&w.household_1);
    body["topic"] = json!("astrology");
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_problem(&a, 422, Some("topic"));
    assert_eq!(s.log_len().await, before);
}

#[tokio::test]
async fn a_body_over_the_limit_answers_413() {
    // A small limit, so the whole body is sent before the server answers.
    let s = crate::server::Server::start_with_env(&[("CASEBOOK_LIMITS_BODY_BYTES_MAX", "1000")]);
    let before = s.log_len().await;
    let body = json!({"kind": "post", "name": "x".repeat(1500), "parent_id": s.root_unit});
    let a = s.post("/v1/units", &s.admin_token.clone(), body).await;
    assert_problem(&a, 413, None);
    assert_eq!(s.log_len().await, before);
}
