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

#[tokio::test]
async fn a_case_as_of_a_moment_on_either_clock() {
    let w = world().await;
    let s = &w.server;
    // The member logs a report; the committee's triage is logged later but
    // dated, in the field, at the very moment of the report.
    let field_time = chrono::Utc::now().to_rfc3339();
    let mut body = crate::world::report_body(&w.household_1);
    body["occurred_at"] = json!(field_time);
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    let id = a.body["stream"].as_str().unwrap().replace("concern-", "");
    let cell = w.token("committee_in");
    let ack = s
        .post(
            &format!("/v1/concerns/{id}/acknowledge"),
            cell,
            json!({"topic": "livelihood_loans", "priority": "high", "occurred_at": field_time}),
        )
        .await;
    assert_eq!(ack.status.as_u16(), 200, "{:?}", ack.body);
    let history = s.get(&format!("/v1/concerns/{id}/history"), cell).await;
    let reported_at = history.body["events"][0]["recorded_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/concerns/{id}");
    let read = |query: String| {
        let url = format!("{path}?{}", query.replace('+', "%2B"));
        async move { s.call(Method::GET, &url, Some(cell), None, &[]).await }
    };
    // When the report was recorded, the system knew only the report…
    let recorded = read(format!("as_of={reported_at}&axis=recorded")).await;
    assert_eq!(recorded.status.as_u16(), 200, "{:?}", recorded.body);
    assert_eq!(recorded.body["concern"]["status"], "reported");
    let default_axis = read(format!("as_of={reported_at}")).await;
    assert_eq!(default_axis.body["concern"]["status"], "reported");
    // …but in the field, it had been triaged by then.
    let field = read(format!("as_of={reported_at}&axis=field")).await;
    assert_eq!(field.status.as_u16(), 200, "{:?}", field.body);
    assert_eq!(field.body["concern"]["status"], "acknowledged");
    for bad in [
        "axis=field".to_owned(),
        format!("as_of={reported_at}&axis=sideways"),
    ] {
        let answer = read(bad.clone()).await;
        assert_eq!(answer.status.as_u16(), 400, "{bad}: {:?}", answer.body);
    }

    // The same two answers from the command line, with the server stopped.
    let (status, data) = w.server.terminate();
    assert!(status.success());
    let dir = data.path().to_str().unwrap();
    let case = |extra: &[&str]| {
        let mut args = vec!["case", "--data", dir, "--id", id.as_str()];
        args.extend_from_slice(extra);
        std::process::Command::new(crate::server::binary())
            .args(&args)
            .output()
            .unwrap()
    };
    let status_of = |output: &std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        answer["concern"]["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status_of(&case(&[])), "acknowledged");
    assert_eq!(status_of(&case(&["--as-of", &reported_at])), "reported");
    let field = case(&["--as-of", &reported_at, "--axis", "field"]);
    assert_eq!(status_of(&field), "acknowledged");
    for bad in [
        vec!["--axis", "field"],
        vec!["--as-of", "yesterday"],
        vec!["--as-of", "2000-01-01T00:00:00Z"],
    ] {
        let output = case(&bad);
        assert!(!output.status.success(), "{bad:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .lines()
                .count(),
            1,
            "{bad:?}"
        );
    }
}
