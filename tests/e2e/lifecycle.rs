//! A case from report to closure through every step, as the README's tour
//! walks it, then its history, an as-of read and ETags.

use reqwest::Method;
use serde_json::json;

use crate::world::{reported, world};

#[tokio::test]
async fn a_case_walks_from_report_to_closure_and_its_history_names_every_actor() {
    let w = world().await;
    let s = &w.server;
    let id = reported(&w).await;
    let cell = w.token("committee_in");
    let chief = w.token("post_a_chief");
    let member = w.token("member_in");
    let path = |step: &str| format!("/v1/concerns/{id}/{step}");
    let steps = [
        (
            cell,
            "acknowledge",
            json!({"topic": "livelihood_loans", "priority": "high"}),
        ),
        (
            cell,
            "assign",
            json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}}),
        ),
        (
            member,
            "actions",
            json!({"action": "visit", "summary": "Thăm hộ, tư vấn vay vốn giải quyết việc làm."}),
        ),
        (
            cell,
            "referrals",
            json!({"body": "Ngân hàng Chính sách xã hội huyện", "reason": "Xét duyệt khoản vay"}),
        ),
        (cell, "pause", json!({"reason": "Chờ ngân hàng thẩm định"})),
        (
            cell,
            "referral-answers",
            json!({"referral_no": 1, "answer": "Đồng ý cho vay 30 triệu đồng"}),
        ),
        (cell, "resume", json!({})),
        (
            cell,
            "interim-replies",
            json!({"message": "Hồ sơ đang xử lý", "deadline": "2099-01-01T00:00:00Z", "reason": "Chờ giải ngân"}),
        ),
        (
            cell,
            "escalate",
            json!({"to": {"committee": w.post_a_committee}, "reason": "Cần đồn hỗ trợ"}),
        ),
        (
            chief,
            "resolve",
            json!({"outcome": "resolved", "summary": "Gia đình được vay vốn, mở tiệm tạp hóa."}),
        ),
        (
            member,
            "feedback",
            json!({"satisfied": false, "comment": "Chưa giải ngân đủ", "follow_up": "reopen"}),
        ),
        (
            chief,
            "resolve",
            json!({"outcome": "resolved", "summary": "Đã giải ngân đủ."}),
        ),
        (
            member,
            "feedback",
            json!({"satisfied": true, "comment": "Gia đình hài lòng"}),
        ),
        (chief, "close", json!({"note": "Hoàn thành"})),
        (chief, "reopen", json!({"reason": "Theo dõi thêm"})),
    ];
    let mut last_position = 0;
    for (token, step, body) in steps {
        let a = s.post(&path(step), token, body).await;
        assert_eq!(a.status.as_u16(), 200, "{step}: {:?}", a.body);
        let position = a.position().expect("position header");
        assert!(position > last_position, "{step}");
        assert_eq!(a.body["position"].as_u64(), Some(position));
        assert_eq!(a.body["status"], "applied");
        last_position = position;
    }
    let case = s.get(&format!("/v1/concerns/{id}"), cell).await;
    assert_eq!(case.status.as_u16(), 200);
    assert_eq!(case.body["concern"]["status"], "in_progress");
    assert_eq!(case.body["concern"]["reopenings"], 2);
    let revision = case.body["revision"].as_u64().unwrap();
    assert_eq!(
        case.headers.get("etag").unwrap().to_str().unwrap(),
        format!("\"{revision}\"")
    );
    let history = s
        .get(&format!("/v1/concerns/{id}/history"), w.token("auditor_in"))
        .await;
    assert_eq!(history.status.as_u16(), 200, "{:?}", history.body);
    let events = history.body["events"].as_array().unwrap();
    assert_eq!(events.len() as u64, revision + 1);
    assert_eq!(events[0]["event_type"], "concern.reported");
    assert_eq!(events[0]["actor"]["name"], "Thiếu úy Lê Văn An");
    assert!(events
        .iter()
        .any(|e| e["event_type"] == "concern.escalated"));
    let page = s
        .get(
            &format!("/v1/concerns/{id}/history?after_revision=2&limit=3"),
            cell,
        )
        .await;
    assert_eq!(page.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(page.body["events"][0]["revision"], 3);
    assert_eq!(page.body["next_after_revision"], 5);
    let reported_at = events[0]["recorded_at"].as_str().unwrap();
    let as_of = s
        .call(
            Method::GET,
            &format!(
                "/v1/concerns/{id}?as_of={}",
                reported_at.replace('+', "%2B")
            ),
            Some(cell),
            None,
            &[],
        )
        .await;
    assert_eq!(as_of.status.as_u16(), 200, "{:?}", as_of.body);
    assert_eq!(as_of.body["concern"]["status"], "reported");
}
