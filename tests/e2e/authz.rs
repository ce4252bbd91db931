//! The authorization matrix: every route × every role × inside and outside
//! the jurisdiction; and the sealed informant of a confidential tip.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::server::assert_problem;
use crate::world::{in_progress, report_body, world};

/// The roles, in the order of each row's expected statuses.
const ROLES: [&str; 7] = [
    "member_in",
    "member_out",
    "committee_in",
    "committee_out",
    "auditor_in",
    "auditor_out",
    "admin",
];

#[tokio::test]
async fn every_route_answers_each_role_inside_and_outside_as_the_rules_say() {
    let w = world().await;
    let s = &w.server;
    let case = in_progress(&w).await;
    let h1 = &w.household_1;
    let household_details = json!({"size": 4, "personal": {"head_of_household": "Nguyễn Văn Hòa", "phone": null, "address": null, "note": null}});
    let rows: Vec<(Method, String, Option<Value>, [u16; 7])> = vec![
        (
            Method::GET,
            "/v1/me".into(),
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/v1/concerns/{case}"),
            None,
            [200, 404, 200, 404, 200, 404, 404],
        ),
        (
            Method::GET,
            format!("/v1/concerns/{case}/history"),
            None,
            [200, 404, 200, 404, 200, 404, 404],
        ),
        (
            Method::POST,
            format!("/v1/concerns/{case}/actions"),
            Some(json!({"action": "visit", "summary": "Thăm hộ"})),
            [200, 404, 200, 404, 403, 404, 404],
        ),
        (
            Method::POST,
            format!("/v1/concerns/{case}/referrals"),
            Some(json!({"body": "UBND xã", "reason": "Phối hợp"})),
            [403, 404, 200, 404, 403, 404, 404],
        ),
        (
            Method::POST,
            "/v1/concerns".into(),
            Some(Value::Null),
            [200, 403, 200, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            format!("/v1/households/{h1}"),
            None,
            [200, 404, 200, 404, 200, 404, 200],
        ),
        (
            Method::POST,
            format!("/v1/households/{h1}/details"),
            Some(household_details),
            [403, 404, 200, 404, 403, 404, 200],
        ),
        (
            Method::POST,
            "/v1/units".into(),
            Some(json!({"kind": "hamlet", "name": "Ấp mới", "parent_id": w.commune_x})),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        (
            Method::POST,
            "/v1/people".into(),
            Some(json!({"name": "Người mới"})),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        (
            Method::POST,
            "/v1/tokens".into(),
            Some(json!({"person_id": w.member_1, "label": "x"})),
            [403, 403, 403, 403, 403, 403, 201],
        ),
        (
            Method::GET,
            "/v1/tokens".into(),
            None,
            [403, 403, 403, 403, 403, 403, 200],
        ),
        // The views: a unit filter outside the caller's reach is not found.
        (
            Method::GET,
            format!("/v1/concerns?unit={}", w.hamlet_1),
            None,
            [200, 404, 200, 404, 200, 404, 404],
        ),
        (
            Method::GET,
            format!("/v1/concerns?unit={}", w.hamlet_3),
            None,
            [404, 200, 404, 200, 404, 200, 404],
        ),
        (
            Method::GET,
            format!("/v1/figures?unit={}", w.hamlet_1),
            None,
            [404, 404, 200, 404, 200, 404, 404],
        ),
        (
            Method::GET,
            format!("/v1/households?unit={}", w.hamlet_1),
            None,
            [200, 404, 200, 404, 200, 404, 200],
        ),
        (
            Method::GET,
            format!("/v1/households/{h1}/concerns"),
            None,
            [200, 404, 200, 404, 200, 404, 200],
        ),
        (
            Method::GET,
            format!("/v1/members/{}/workload", w.member_1),
            None,
            [200, 404, 200, 404, 200, 404, 404],
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, expected) in rows {
        for (role, want) in ROLES.iter().zip(expected) {
            let body = match &body {
                Some(Value::Null) => Some(report_body(h1)),
                other => other.clone(),
            };
            let before = s.log_len().await;
            let a = s
                .call(
                    method.clone(),
                    &path,
                    Some(w.token(role)),
                    body.as_ref(),
                    &[],
                )
                .await;
            if a.status.as_u16() != want {
                failures.push(format!(
                    "{method} {path} as {role}: {} (wanted {want}) {:?}",
                    a.status, a.body
                ));
                continue;
            }
            if want >= 400 {
                assert_problem(&a, want, None);
                assert_eq!(s.log_len().await, before, "{method} {path} as {role} wrote");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether a list answer holds an item whose field at `pointer` is `id`.
fn lists(answer: &crate::server::Answer, pointer: &str, id: &str) -> bool {
    answer.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {:?}", answer.body))
        .iter()
        .any(|item| item.pointer(pointer).and_then(Value::as_str) == Some(id))
}

#[tokio::test]
async fn every_list_shows_each_role_exactly_what_its_single_route_shows() {
    let w = world().await;
    let s = &w.server;
    let inside = in_progress(&w).await;
    let outside = s
        .post(
            "/v1/concerns",
            w.token("member_out"),
            report_body(&w.household_3),
        )
        .await;
    assert_eq!(outside.status.as_u16(), 200, "{:?}", outside.body);
    let p = outside.body["position"].as_u64().unwrap();
    let outside = outside.body["stream"].as_str().unwrap()["concern-".len()..].to_owned();
    let mut failures = Vec::new();
    for role in ROLES.iter().chain(&["post_a_chief"]) {
        let token = w.token(role);
        let cases = s
            .get(&format!("/v1/concerns?min_position={p}"), token)
            .await;
        let found = s
            .get(&format!("/v1/concerns?q=thieu+von&min_position={p}"), token)
            .await;
        let households = s
            .get(&format!("/v1/households?min_position={p}"), token)
            .await;
        for case in [&inside, &outside] {
            let single = s.get(&format!("/v1/concerns/{case}"), token).await.status == 200;
            if lists(&cases, "/concern/id", case) != single {
                failures.push(format!("{role}: list and GET disagree on case {case}"));
            }
            if lists(&found, "/concern/id", case) != single {
                failures.push(format!("{role}: search and GET disagree on case {case}"));
            }
        }
        for household in [&w.household_1, &w.household_3] {
            let single = s
                .get(&format!("/v1/households/{household}"), token)
                .await
                .status
                == 200;
            if lists(&households, "/household_id", household) != single {
                failures.push(format!(
                    "{role}: list and GET disagree on household {household}"
                ));
            }
            let its_cases = s
                .get(
                    &format!("/v1/households/{household}/concerns?min_position={p}"),
                    token,
                )
                .await;
            if (its_cases.status == 200) != single {
                failures.push(format!(
                    "{role}: household {household}'s cases answer {}",
                    its_cases.status
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_tips_informant_is_read_only_on_the_record_by_its_taker_and_grantees() {
    let w = world().await;
    let s = &w.server;
    let mut body = report_body(&w.household_1);
    body["kind"] = json!("tip");
    body["topic"] = json!("crime_smuggling");
    body["confidentiality"] = json!("confidential_tip");
    body["sealed_informant"] = json!({"name": "Người báo tin", "contact": "0987", "note": null});
    let a = s.post("/v1/concerns", w.token("member_in"), body).await;
    assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    let id = a.body["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("concern-")
        .unwrap()
        .to_owned();
    let path = format!("/v1/concerns/{id}");
    // No case answer carries the informant, not even the taker's.
    for role in ["member_in", "committee_in", "auditor_in", "post_a_chief"] {
        let other = s.get(&path, w.token(role)).await;
        assert_eq!(other.status.as_u16(), 200, "{role}");
        assert!(
            other.body["concern"]["sealed_informant"].is_null(),
            "{role}"
        );
    }
    let history = s
        .get(&format!("{path}/history"), w.token("committee_in"))
        .await;
    assert_eq!(
        history.body["events"][0]["data"]["sealed_informant"],
        "sealed"
    );
    // The taker reads it, and the read is recorded.
    let informant = format!("{path}/informant");
    let taker = s.post(&informant, w.token("member_in"), json!({})).await;
    assert_eq!(taker.status.as_u16(), 200, "{:?}", taker.body);
    assert_eq!(taker.body["informant"]["name"], "Người báo tin");
    assert_eq!(
        taker.body["read"]["events"][0]["event_type"],
        "concern.informant_read"
    );
    let refused = s.post(&informant, w.token("committee_in"), json!({})).await;
    assert_problem(&refused, 403, None);
    assert_eq!(refused.body["rule"], "sealed_identity_only_for_its_taker");
    assert_eq!(s.get(&path, w.token("admin")).await.status.as_u16(), 404);
    assert_problem(
        &s.post(&informant, w.token("admin"), json!({})).await,
        404,
        None,
    );
    let by_admin = s
        .post(
            &format!("{path}/informant-grants"),
            w.token("admin"),
            json!({"person_id": w.admin, "reason": "xem"}),
        )
        .await;
    assert_problem(&by_admin, 404, None);
    let grant = s
        .post(
            &format!("{path}/informant-grants"),
            w.token("committee_in"),
            json!({"person_id": w.post_a_chief, "reason": "Cần xác minh nguồn tin"}),
        )
        .await;
    assert_eq!(grant.status.as_u16(), 200, "{:?}", grant.body);
    assert_eq!(
        grant.body["events"][0]["event_type"],
        "concern.informant_access_granted"
    );
    let chief = s.post(&informant, w.token("post_a_chief"), json!({})).await;
    assert_eq!(chief.status.as_u16(), 200, "{:?}", chief.body);
    assert_eq!(chief.body["informant"]["name"], "Người báo tin");
    let unknown = s
        .post(
            &format!("{path}/informant-grants"),
            w.token("committee_in"),
            json!({"person_id": Uuid::new_v4(), "reason": "x"}),
        )
        .await;
    assert_problem(&unknown, 404, None);
    // Auditors list every read: who, which case, when.
    let reads = s.get("/v1/informant-reads", w.token("auditor_in")).await;
    assert_eq!(reads.status.as_u16(), 200, "{:?}", reads.body);
    let listed: Vec<(String, String)> = reads.body["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["concern_id"].as_str().unwrap().to_owned(),
                r["reader"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (id.clone(), w.member_1.clone()),
            (id.clone(), w.post_a_chief.clone())
        ]
    );
    for role in ["member_in", "committee_in", "admin"] {
        let denied = s.get("/v1/informant-reads", w.token(role)).await;
        assert_problem(&denied, 403, None);
    }
    let bad = s
        .get("/v1/informant-reads?limit=0", w.token("auditor_in"))
        .await;
    assert_problem(&bad, 400, Some("limit"));
}

/// Steps to bring a case into a state: (route suffix, body), as its committee.
type Steps = Vec<(&'static str, Value)>;

/// One row: route suffix, body, setup steps, expected status per role.
type Row = (&'static str, Value, Steps, [u16; 7]);

/// Who may manage a case: only a committee within.
const MANAGE: [u16; 7] = [403, 404, 200, 404, 403, 404, 404];
/// Who may follow a case up: its member and a committee within.
const FOLLOW: [u16; 7] = [200, 404, 200, 404, 403, 404, 404];

#[tokio::test]
async fn every_case_command_answers_each_role_as_the_rules_say() {
    let server = crate::server::Server::start_with_env(&[
        ("CASEBOOK_LIMITS_RATE_PER_SECOND", "100000"),
        ("CASEBOOK_LIMITS_RATE_BURST", "100000"),
    ]);
    let w = crate::world::world_on(server).await;
    let s = &w.server;
    let ack = json!({"topic": "livelihood_loans", "priority": "high"});
    let assign = json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}});
    let refer = json!({"body": "Ngân hàng", "reason": "Vay vốn"});
    let resolve = json!({"outcome": "resolved", "summary": "Xong"});
    let in_progress: Steps = vec![("acknowledge", ack.clone()), ("assign", assign.clone())];
    let with = |extra: &[(&'static str, Value)]| {
        let mut steps = in_progress.clone();
        steps.extend(extra.iter().cloned());
        steps
    };
    let other = crate::world::reported(&w).await;
    let rows: Vec<Row> = vec![
        ("acknowledge", ack.clone(), vec![], MANAGE),
        (
            "assign",
            json!({"assignee": {"person": {"person_id": w.member_1}}}),
            vec![("acknowledge", ack.clone())],
            MANAGE,
        ),
        (
            "actions",
            json!({"action": "visit", "summary": "Thăm hộ"}),
            with(&[]),
            FOLLOW,
        ),
        (
            "escalate",
            json!({"to": {"state_body": "UBND huyện"}, "reason": "Vượt thẩm quyền"}),
            with(&[]),
            MANAGE,
        ),
        ("referrals", refer.clone(), with(&[]), MANAGE),
        (
            "referral-answers",
            json!({"referral_no": 1, "answer": "Đồng ý"}),
            with(&[("referrals", refer.clone())]),
            MANAGE,
        ),
        ("pause", json!({"reason": "Chờ"}), with(&[]), MANAGE),
        (
            "resume",
            json!({}),
            with(&[("pause", json!({"reason": "Chờ"}))]),
            MANAGE,
        ),
        (
            "interim-replies",
            json!({"message": "Đang xử lý", "deadline": "2099-01-01T00:00:00Z", "reason": "Chờ"}),
            with(&[]),
            MANAGE,
        ),
        ("resolve", resolve.clone(), with(&[]), MANAGE),
        (
            "feedback",
            json!({"satisfied": true, "comment": "Hài lòng"}),
            with(&[("resolve", resolve.clone())]),
            FOLLOW,
        ),
        (
            "close",
            json!({"note": "Xong"}),
            with(&[("resolve", resolve.clone())]),
            MANAGE,
        ),
        (
            "reopen",
            json!({"reason": "Theo dõi"}),
            with(&[("resolve", resolve.clone())]),
            MANAGE,
        ),
        ("merge", json!({"into_concern_id": other}), vec![], MANAGE),
        ("withdraw", json!({"reason": "Rút"}), vec![], FOLLOW),
    ];
    let mut failures = Vec::new();
    for (step, body, setup, expected) in rows {
        for (role, want) in ROLES.iter().zip(expected) {
            let case = crate::world::reported(&w).await;
            for (setup_step, setup_body) in &setup {
                let a = s
                    .post(
                        &format!("/v1/concerns/{case}/{setup_step}"),
                        w.token("committee_in"),
                        setup_body.clone(),
                    )
                    .await;
                assert_eq!(
                    a.status.as_u16(),
                    200,
                    "setup {setup_step} for {step}: {:?}",
                    a.body
                );
            }
            let before = s.log_len().await;
            let a = s
                .post(
                    &format!("/v1/concerns/{case}/{step}"),
                    w.token(role),
                    body.clone(),
                )
                .await;
            if a.status.as_u16() != want {
                failures.push(format!(
                    "{step} as {role}: {} (wanted {want}) {:?}",
                    a.status, a.body
                ));
            } else if want >= 400 {
                assert_problem(&a, want, None);
                assert_eq!(s.log_len().await, before, "{step} as {role} wrote");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
