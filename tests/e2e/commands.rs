//! Retries, optimistic concurrency, merge and withdraw, structure commands.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::server::assert_problem;
use crate::world::{in_progress, report_body, reported, world};

#[tokio::test]
async fn a_retried_command_answers_the_original_outcome_and_writes_nothing() {
    let w = world().await;
    let s = &w.server;
    let body = report_body(&w.household_1);
    let first = s
        .post("/v1/concerns", w.token("member_in"), body.clone())
        .await;
    assert_eq!(first.body["status"], "applied", "{:?}", first.body);
    let len = s.log_len().await;
    let again = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_eq!(again.status.as_u16(), 200, "{:?}", again.body);
    assert_eq!(again.body["status"], "already_applied");
    assert_eq!(again.body["position"], first.body["position"]);
    assert_eq!(again.body["events"], first.body["events"]);
    assert_eq!(s.log_len().await, len);

    let id = first.body["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("concern-")
        .unwrap();
    let ack = json!({"command_id": Uuid::new_v4(), "topic": "land", "priority": "urgent"});
    let path = format!("/v1/concerns/{id}/acknowledge");
    let one = s.post(&path, w.token("committee_in"), ack.clone()).await;
    assert_eq!(one.body["status"], "applied");
    let len = s.log_len().await;
    let two = s.post(&path, w.token("committee_in"), ack).await;
    assert_eq!(two.body["status"], "already_applied", "{:?}", two.body);
    assert_eq!(s.log_len().await, len);
}

/// A report without a case id is appended without reading its (new)
/// stream first; a retry with the same field time decides the very same
/// events, which the log recognises, and one without a field time decides
/// other content under the same ids: both answer the first outcome.
#[tokio::test]
async fn a_retried_report_answers_the_first_outcome_whether_or_not_it_decides_the_same_events() {
    let w = world().await;
    let s = &w.server;
    let mut same = report_body(&w.household_1);
    same["occurred_at"] = json!(chrono::Utc::now());
    for body in [same, report_body(&w.household_1)] {
        let first = s
            .post("/v1/concerns", w.token("member_in"), body.clone())
            .await;
        assert_eq!(first.body["status"], "applied", "{:?}", first.body);
        let len = s.log_len().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = s.post("/v1/concerns", w.token("member_in"), body).await;
        assert_eq!(again.status.as_u16(), 200, "{:?}", again.body);
        assert_eq!(again.body["status"], "already_applied", "{:?}", again.body);
        assert_eq!(again.body["stream"], first.body["stream"]);
        assert_eq!(again.body["position"], first.body["position"]);
        assert_eq!(again.body["events"], first.body["events"]);
        assert_eq!(s.log_len().await, len);
    }
}

#[tokio::test]
async fn a_stale_if_match_answers_412_with_the_current_revision() {
    let w = world().await;
    let s = &w.server;
    let id = in_progress(&w).await;
    let path = format!("/v1/concerns/{id}/actions");
    let body = json!({"action": "visit", "summary": "Thăm hộ"});
    let stale = s
        .call(
            Method::POST,
            &path,
            Some(w.token("committee_in")),
            Some(&body),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert_problem(&stale, 412, None);
    assert_eq!(stale.body["current_revision"], 2);
    let fresh = s
        .call(
            Method::POST,
            &path,
            Some(w.token("committee_in")),
            Some(&body),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(fresh.status.as_u16(), 200, "{:?}", fresh.body);
    assert_eq!(fresh.headers.get("etag").unwrap(), "\"3\"");
    let illegal = s
        .post(
            &format!("/v1/concerns/{id}/acknowledge"),
            w.token("committee_in"),
            json!({"topic": "land", "priority": "low"}),
        )
        .await;
    assert_problem(&illegal, 409, None);
}

#[tokio::test]
async fn duplicates_merge_into_an_existing_case_and_reports_can_be_withdrawn() {
    let w = world().await;
    let s = &w.server;
    let keep = reported(&w).await;
    let duplicate = reported(&w).await;
    let missing = s
        .post(
            &format!("/v1/concerns/{duplicate}/merge"),
            w.token("committee_in"),
            json!({"into_concern_id": Uuid::new_v4()}),
        )
        .await;
    assert_problem(&missing, 422, Some("into_concern_id"));
    let merged = s
        .post(
            &format!("/v1/concerns/{duplicate}/merge"),
            w.token("committee_in"),
            json!({"into_concern_id": keep}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{:?}", merged.body);
    let withdrawn = s
        .post(
            &format!("/v1/concerns/{keep}/withdraw"),
            w.token("member_in"),
            json!({"reason": "Hộ dân đã tự giải quyết"}),
        )
        .await;
    assert_eq!(withdrawn.status.as_u16(), 200, "{:?}", withdrawn.body);
    let case = s
        .get(&format!("/v1/concerns/{keep}"), w.token("member_in"))
        .await;
    assert_eq!(case.body["concern"]["status"], "withdrawn");
}

#[tokio::test]
async fn structure_commands_rename_cover_update_reassign_and_end() {
    let w = world().await;
    let s = &w.server;
    let admin = w.token("admin");
    let ok = |a: &crate::server::Answer| assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    ok(&s
        .post(
            &format!("/v1/units/{}/rename", w.hamlet_2),
            admin,
            json!({"name": "Ấp Âu Thọ C"}),
        )
        .await);
    ok(&s
        .post(
            &format!("/v1/units/{}/cover", w.post_a),
            admin,
            json!({"commune_id": w.commune_y}),
        )
        .await);
    ok(&s
        .post(
            &format!("/v1/units/{}/uncover", w.post_a),
            admin,
            json!({"commune_id": w.commune_y}),
        )
        .await);
    ok(&s
        .post(&format!("/v1/households/{}/details", w.household_1), admin,
            json!({"personal": {"head_of_household": "Nguyễn Văn Hòa", "phone": "0912345678", "address": null, "note": null}, "size": 5, "circumstances": []}))
        .await);
    ok(&s
        .post(
            &format!("/v1/households/{}/assignment/end", w.household_1),
            w.token("committee_in"),
            json!({}),
        )
        .await);
    ok(&s
        .post(
            &format!("/v1/households/{}/assignment", w.household_1),
            admin,
            json!({"member_id": w.member_1}),
        )
        .await);
    let household = s
        .get(
            &format!("/v1/households/{}", w.household_1),
            w.token("member_in"),
        )
        .await;
    assert_eq!(household.status.as_u16(), 200);
    assert_eq!(household.body["size"], 5);
    let me = s.get("/v1/me", w.token("post_a_chief")).await;
    let grant = me.body["roles"][0]["grant_id"].as_str().unwrap().to_owned();
    ok(&s
        .post(
            &format!("/v1/people/{}/roles/{grant}/end", w.post_a_chief),
            admin,
            json!({}),
        )
        .await);
    let after = s.get("/v1/me", w.token("post_a_chief")).await;
    assert_eq!(after.body["roles"].as_array().unwrap().len(), 0);
}
