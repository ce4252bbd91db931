//! Offline sync: applied, already applied, conflict (marked on the case),
//! rejected; a batch retried writes nothing twice.

use serde_json::json;
use uuid::Uuid;

use crate::server::assert_problem;
use crate::world::{in_progress, report_body, world};

#[tokio::test]
async fn a_batch_answers_each_command_and_a_retry_writes_nothing_twice() {
    let w = world().await;
    let s = &w.server;
    let case = in_progress(&w).await;
    let new_case = Uuid::new_v4();
    let mut report = report_body(&w.household_1);
    report["type"] = json!("report");
    let batch = json!({"commands": [
        {"concern_id": new_case, "command": report},
        {"concern_id": new_case, "command": {"type": "withdraw", "command_id": Uuid::new_v4(),
            "reason": "Hộ dân đã tự giải quyết"}},
        {"concern_id": case, "expected_revision": 0, "command": {"type": "record_action",
            "command_id": Uuid::new_v4(), "action": "advice", "summary": "Tư vấn"}},
        {"concern_id": case, "command": {"type": "resolve", "command_id": Uuid::new_v4(),
            "outcome": "resolved", "summary": "Xong"}},
        {"concern_id": case, "command": {"type": "record_action", "action": "visit", "summary": "không có id"}},
    ]});
    let first = s
        .post("/v1/sync", w.token("member_in"), batch.clone())
        .await;
    assert_eq!(first.status.as_u16(), 200, "{:?}", first.body);
    let results = first.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "conflict", "rejected", "rejected"],
        "{results:?}"
    );
    assert_eq!(results[2]["case"]["concern"]["sync_conflicts"], 1);
    assert_eq!(results[3]["problem"]["status"], 403);
    assert_eq!(
        results[4]["problem"]["field"],
        "commands[4].command.command_id"
    );
    let len = s.log_len().await;
    let again = s.post("/v1/sync", w.token("member_in"), batch).await;
    let statuses: Vec<&str> = again.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "already_applied",
            "already_applied",
            "conflict",
            "rejected",
            "rejected"
        ]
    );
    assert_eq!(s.log_len().await, len, "a retried batch wrote nothing");
    let history = s
        .get(
            &format!("/v1/concerns/{case}/history"),
            w.token("committee_in"),
        )
        .await;
    let marks = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "concern.sync_conflict_marked")
        .count();
    assert_eq!(marks, 1);
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let w = world().await;
    let s = &w.server;
    let item = json!({"concern_id": Uuid::new_v4(), "command": {"type": "resume_clock", "command_id": Uuid::new_v4()}});
    let batch = json!({"commands": vec![item; 101]});
    let before = s.log_len().await;
    let a = s.post("/v1/sync", w.token("member_in"), batch).await;
    assert_problem(&a, 422, Some("commands"));
    assert_eq!(s.log_len().await, before);
}
