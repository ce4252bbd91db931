//! The query routes that read the views: the case list (every filter, both
//! orders, keyset pages that hold while cases change), full-text search
//! with and without diacritics, the figures as JSON and CSV, households and
//! a household's cases, a member's workload, read-your-writes (a command's
//! position, then a query that waits for it; 400 for a position beyond the
//! log, which no command ever answered), and bad parameters answered 400
//! naming the parameter.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::server::{assert_problem, Answer, Server};
use crate::world::{report_body, world, World};

/// Reports a case for `household` as `role`, with `edit` applied to the
/// body; answers its id and the position reached.
async fn report(w: &World, role: &str, household: &str, edit: Value) -> (String, u64) {
    let mut body = report_body(household);
    if let Value::Object(fields) = edit {
        for (key, value) in fields {
            body[key] = value;
        }
    }
    let a = w.server.post("/v1/concerns", w.token(role), body).await;
    assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    let id = a.body["stream"]
        .as_str()
        .and_then(|s| s.strip_prefix("concern-"))
        .expect("stream")
        .to_owned();
    (id, position(&a))
}

fn position(a: &Answer) -> u64 {
    a.body["position"].as_u64().expect("position")
}

/// Gives a case command as `role`; answers the position reached.
async fn step(w: &World, role: &str, case: &str, step: &str, body: Value) -> u64 {
    let a = w
        .server
        .post(&format!("/v1/concerns/{case}/{step}"), w.token(role), body)
        .await;
    assert_eq!(a.status.as_u16(), 200, "{step}: {:?}", a.body);
    position(&a)
}

/// `GET path?query` as `role`, waiting for `min_position`.
async fn query(w: &World, role: &str, path: &str, query: &str, min: u64) -> Answer {
    let sep = if query.is_empty() { "" } else { "&" };
    let a = w
        .server
        .get(
            &format!("{path}?{query}{sep}min_position={min}"),
            w.token(role),
        )
        .await;
    assert_eq!(a.status.as_u16(), 200, "{path}?{query}: {:?}", a.body);
    a
}

/// The case ids of a list, in order.
fn ids(a: &Answer) -> Vec<String> {
    a.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["concern"]["id"].as_str().expect("id").to_owned())
        .collect()
}

fn order(ids: &[&String]) -> Vec<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

fn id_set(a: &Answer) -> BTreeSet<String> {
    ids(a).into_iter().collect()
}

#[tokio::test]
async fn the_case_list_filters_sorts_and_keeps_to_the_callers_reach() {
    let w = world().await;
    let cell = &w.cell_1_committee;
    let (c1, _) = report(&w, "member_in", &w.household_1, json!({})).await;
    let since = Utc::now();
    let (c2, _) = report(&w, "member_in", &w.household_1, json!({})).await;
    let soon = (Utc::now() + TimeDelta::minutes(30)).to_rfc3339();
    step(
        &w,
        "committee_in",
        &c2,
        "acknowledge",
        json!({"topic": "land", "priority": "high", "deadline": soon}),
    )
    .await;
    step(
        &w,
        "committee_in",
        &c2,
        "assign",
        json!({"assignee": {"committee": {"committee_id": cell}}}),
    )
    .await;
    let tip = json!({"kind": "tip", "topic": "crime_smuggling"});
    let (c3, _) = report(&w, "member_in", &w.household_1, tip).await;
    let later = (Utc::now() + TimeDelta::hours(1)).to_rfc3339();
    step(
        &w,
        "committee_in",
        &c3,
        "acknowledge",
        json!({"topic": "crime_smuggling", "priority": "normal", "deadline": later}),
    )
    .await;
    let (c4, _) = report(&w, "member_in", &w.household_1, json!({})).await;
    let due = Utc::now() + TimeDelta::seconds(1);
    step(
        &w,
        "committee_in",
        &c4,
        "acknowledge",
        json!({"topic": "livelihood_loans", "priority": "urgent", "deadline": due.to_rfc3339()}),
    )
    .await;
    step(
        &w,
        "committee_in",
        &c4,
        "assign",
        json!({"assignee": {"person": {"person_id": w.member_1}}}),
    )
    .await;
    let (c5, p) = report(&w, "member_out", &w.household_3, json!({})).await;
    // Let c4's deadline pass (the server reads the same clock).
    while Utc::now() <= due + TimeDelta::milliseconds(100) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = set(&[&c1, &c2, &c3, &c4]);
    let list = |role: &'static str, q: String| {
        let w = &w;
        async move { query(w, role, "/v1/concerns", &q, p).await }
    };

    let everything = list("committee_in", String::new()).await;
    assert_eq!(
        ids(&everything),
        order(&[&c4, &c3, &c2, &c1]),
        "newest first"
    );
    assert!(everything.body["next_cursor"].is_null());
    let first = &everything.body["items"][0];
    assert_eq!(first["deadline_status"], "overdue");
    assert_eq!(first["concern"]["status"], "in_progress");
    assert!(first["unit_path"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == w.hamlet_1.as_str()));
    assert!(first["position"].as_u64().is_some());
    let by_due = list("committee_in", "sort=due_date".into()).await;
    assert_eq!(
        ids(&by_due),
        order(&[&c4, &c2, &c3, &c1]),
        "earliest deadline first, none last"
    );

    let cases: Vec<(String, Vec<&String>)> = vec![
        ("status=reported".into(), vec![&c1]),
        ("status=acknowledged".into(), vec![&c3]),
        (
            "status=in_progress,acknowledged".into(),
            vec![&c2, &c3, &c4],
        ),
        (
            "status=in_progress&status=reported".into(),
            vec![&c1, &c2, &c4],
        ),
        ("kind=tip".into(), vec![&c3]),
        ("topic=land".into(), vec![&c2]),
        ("topic=land,crime_smuggling".into(), vec![&c2, &c3]),
        ("priority=high".into(), vec![&c2]),
        ("priority=urgent,normal".into(), vec![&c1, &c3, &c4]),
        (format!("assignee=committee:{cell}"), vec![&c2]),
        (format!("assignee=person:{}", w.member_1), vec![&c4]),
        ("deadline=due_soon".into(), vec![&c2, &c3]),
        ("deadline=overdue".into(), vec![&c4]),
        ("deadline=overdue_or_due_soon".into(), vec![&c2, &c3, &c4]),
        (
            format!("updated_since={}", since.to_rfc3339().replace('+', "%2B")),
            vec![&c2, &c3, &c4],
        ),
        ("status=in_progress&priority=high".into(), vec![&c2]),
        (format!("unit={}", w.hamlet_1), vec![&c1, &c2, &c3, &c4]),
        ("status=closed".into(), vec![]),
    ];
    for (q, expected) in cases {
        let got = list("committee_in", q.clone()).await;
        assert_eq!(id_set(&got), set(&expected), "{q}");
    }
    let member = list("member_in", "assignee=me".into()).await;
    assert_eq!(ids(&member), order(&[&c4]), "assignee=me is the caller");

    // Each role lists exactly the cases in its reach.
    let reach = [
        ("member_in", all.clone()),
        ("member_out", set(&[&c5])),
        ("committee_in", all.clone()),
        ("committee_out", set(&[&c5])),
        ("auditor_in", all.clone()),
        ("auditor_out", set(&[&c5])),
        ("post_a_chief", all.clone()),
        ("admin", BTreeSet::new()),
    ];
    for (role, expected) in reach {
        assert_eq!(id_set(&list(role, String::new()).await), expected, "{role}");
    }
    let chief = list("post_a_chief", format!("unit={}", w.commune_x)).await;
    assert_eq!(id_set(&chief), all);
    let empty = list("post_a_chief", format!("unit={}", w.hamlet_2)).await;
    assert!(ids(&empty).is_empty());
    // A unit outside the caller's reach, or unknown, is not found.
    for unit in [
        &w.post_b,
        &w.commune_x,
        &w.hamlet_2,
        &uuid::Uuid::new_v4().to_string(),
    ] {
        let a = w
            .server
            .get(
                &format!("/v1/concerns?unit={unit}"),
                w.token("committee_in"),
            )
            .await;
        assert_problem(&a, 404, None);
    }
}

#[tokio::test]
async fn search_ignores_diacritics_ranks_exact_matches_first_and_keeps_to_reach() {
    let w = world().await;
    let text = |t: &str| json!({"text": t});
    let (marked, _) = report(
        &w,
        "member_in",
        &w.household_1,
        text("Gia đình có tâm tư nguyện vọng được vay vốn sản xuất."),
    )
    .await;
    let (road, _) = report(
        &w,
        "member_in",
        &w.household_1,
        text("Đường vào ấp bị sạt lở sau mưa lớn."),
    )
    .await;
    let (plain, _) = report(
        &w,
        "member_in",
        &w.household_1,
        text("Tam tu nguyen vong viet khong dau ve hoc phi."),
    )
    .await;
    let (outside, p) = report(
        &w,
        "member_out",
        &w.household_3,
        text("Bà con có tâm tư nguyện vọng về đường điện."),
    )
    .await;
    let search = |role: &'static str, q: &'static str| {
        let w = &w;
        async move { query(w, role, "/v1/concerns", q, p).await }
    };

    let with_marks = search(
        "committee_in",
        "q=t%C3%A2m%20t%C6%B0%20nguy%E1%BB%87n%20v%E1%BB%8Dng",
    )
    .await;
    assert_eq!(ids(&with_marks), order(&[&marked, &plain]), "exact first");
    assert_eq!(with_marks.body["items"][0]["search"]["exact"], true);
    assert_eq!(with_marks.body["items"][1]["search"]["exact"], false);
    let without = search("committee_in", "q=tam+tu+nguyen+vong").await;
    assert_eq!(
        ids(&without),
        order(&[&plain, &marked]),
        "the unmarked text is the exact match"
    );
    let road_hits = search("committee_in", "q=duong").await;
    assert_eq!(ids(&road_hits), order(&[&road]));
    let nothing = search("committee_in", "q=b%C3%A3o+l%C5%A9").await;
    assert!(ids(&nothing).is_empty());
    let filtered = search("committee_in", "q=tam+tu&kind=tip").await;
    assert!(ids(&filtered).is_empty(), "filters apply to hits");
    let kept = search("committee_in", "q=tam+tu&status=reported").await;
    assert_eq!(ids(&kept).len(), 2);
    let theirs = search("member_out", "q=tam+tu+nguyen+vong").await;
    assert_eq!(ids(&theirs), order(&[&outside]));
    let none = search("admin", "q=tam+tu").await;
    assert!(ids(&none).is_empty());

    // Search results page too.
    let first = search("committee_in", "q=tam+tu+nguyen+vong&limit=1").await;
    assert_eq!(ids(&first), order(&[&plain]));
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let second = query(
        &w,
        "committee_in",
        "/v1/concerns",
        &format!("q=tam+tu+nguyen+vong&limit=1&cursor={cursor}"),
        p,
    )
    .await;
    assert_eq!(ids(&second), order(&[&marked]));
    assert!(second.body["next_cursor"].is_null());
    let mixed = w
        .server
        .get(
            &format!("/v1/concerns?cursor={cursor}"),
            w.token("committee_in"),
        )
        .await;
    assert_problem(&mixed, 400, Some("cursor"));
    let outside_unit = w
        .server
        .get(
            &format!("/v1/concerns?q=tam&unit={}", w.post_b),
            w.token("committee_in"),
        )
        .await;
    assert_problem(&outside_unit, 404, None);
}

#[tokio::test]
async fn keyset_pages_hold_every_case_once_while_cases_change() {
    let w = world().await;
    let mut reported = Vec::new();
    for _ in 0..7 {
        reported.push(report(&w, "member_in", &w.household_1, json!({})).await);
    }
    let p = reported.last().unwrap().1;
    let newest: Vec<String> = reported.iter().rev().map(|(id, _)| id.clone()).collect();
    let page1 = query(&w, "committee_in", "/v1/concerns", "limit=3", p).await;
    assert_eq!(ids(&page1), newest[..3]);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_owned();
    // Between pages: a case of the next page and one already seen change,
    // and a newer case arrives.
    let ack = json!({"topic": "land", "priority": "low"});
    step(&w, "committee_in", &newest[3], "acknowledge", ack.clone()).await;
    step(&w, "committee_in", &newest[1], "acknowledge", ack).await;
    let (newer, p) = report(&w, "member_in", &w.household_1, json!({})).await;
    let page2 = query(
        &w,
        "committee_in",
        "/v1/concerns",
        &format!("limit=3&cursor={cursor}"),
        p,
    )
    .await;
    assert_eq!(ids(&page2), newest[3..6]);
    assert_eq!(page2.body["items"][0]["concern"]["status"], "acknowledged");
    let cursor = page2.body["next_cursor"].as_str().unwrap().to_owned();
    let page3 = query(
        &w,
        "committee_in",
        "/v1/concerns",
        &format!("limit=3&cursor={cursor}"),
        p,
    )
    .await;
    assert_eq!(ids(&page3), newest[6..]);
    assert!(page3.body["next_cursor"].is_null());
    let seen: Vec<String> = [ids(&page1), ids(&page2), ids(&page3)].concat();
    assert_eq!(seen, newest, "each case once, in order");
    assert!(!seen.contains(&newer));

    // With a filter, a case that left it between pages is not shown, and
    // no other case is skipped or repeated.
    let page1 = query(
        &w,
        "committee_in",
        "/v1/concerns",
        "status=reported&limit=2",
        p,
    )
    .await;
    assert_eq!(ids(&page1), [newer.clone(), newest[0].clone()]);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_owned();
    let p = step(
        &w,
        "committee_in",
        &newest[2],
        "acknowledge",
        json!({"topic": "land", "priority": "low"}),
    )
    .await;
    let rest = query(
        &w,
        "committee_in",
        "/v1/concerns",
        &format!("status=reported&limit=50&cursor={cursor}"),
        p,
    )
    .await;
    assert_eq!(ids(&rest), newest[4..]);
}

#[tokio::test]
async fn a_members_pages_leave_out_what_they_may_not_see_and_nothing_else() {
    let w = world().await;
    let s = &w.server;
    // A household of hamlet 2, assigned to no one: its cases, reported by
    // the post's committee, lie in member M1's post but are not theirs.
    let other = uuid::Uuid::new_v4().to_string();
    let a = s
        .post(
            "/v1/households",
            &s.admin_token,
            json!({"household_id": other, "hamlet_id": w.hamlet_2, "size": 3,
                "personal": {"head_of_household": "Lê Thị Mai", "phone": null, "address": null, "note": null},
                "circumstances": []}),
        )
        .await;
    assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    let mut mine = Vec::new();
    let mut p = 0;
    for _ in 0..5 {
        mine.push(report(&w, "member_in", &w.household_1, json!({})).await.0);
        p = report(&w, "post_a_chief", &other, json!({})).await.1;
    }
    mine.reverse();
    let chief = query(&w, "post_a_chief", "/v1/concerns", "", p).await;
    assert_eq!(
        ids(&chief).len(),
        10,
        "the post sees both households' cases"
    );
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for page in 0.. {
        let q = if cursor.is_empty() {
            "limit=2".to_owned()
        } else {
            format!("limit=2&cursor={cursor}")
        };
        let a = query(&w, "member_in", "/v1/concerns", &q, p).await;
        let got = ids(&a);
        assert!(page >= 2 || got.len() == 2, "page {page} is full: {got:?}");
        seen.extend(got);
        match a.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        assert!(page < 5, "the pages end");
    }
    assert_eq!(
        seen, mine,
        "every case of theirs once, in order, and no other"
    );
}

/// Today in the policy's time zone (Asia/Ho_Chi_Minh, UTC+7 all year).
fn today() -> NaiveDate {
    (Utc::now() + TimeDelta::hours(7)).date_naive()
}

#[tokio::test]
async fn figures_come_as_json_and_as_a_csv_table() {
    let w = world().await;
    let s = &w.server;
    report(&w, "member_in", &w.household_1, json!({})).await;
    let (done, _) = report(&w, "member_in", &w.household_1, json!({})).await;
    step(
        &w,
        "committee_in",
        &done,
        "acknowledge",
        json!({"topic": "livelihood_loans", "priority": "high"}),
    )
    .await;
    let cell = json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}});
    step(&w, "committee_in", &done, "assign", cell).await;
    step(
        &w,
        "committee_in",
        &done,
        "resolve",
        json!({"outcome": "resolved", "summary": "Đã giải ngân"}),
    )
    .await;
    step(
        &w,
        "member_in",
        &done,
        "feedback",
        json!({"satisfied": true, "comment": "Hài lòng"}),
    )
    .await;
    let (land, _) = report(&w, "member_in", &w.household_1, json!({})).await;
    let p = step(
        &w,
        "committee_in",
        &land,
        "acknowledge",
        json!({"topic": "land", "priority": "normal"}),
    )
    .await;
    let day = today();
    let (from, to) = (day.pred_opt().unwrap(), day.succ_opt().unwrap());
    let q = format!("unit={}&granularity=day&from={from}&to={to}", w.hamlet_1);
    let json = query(&w, "committee_in", "/v1/figures", &q, p).await;
    let body = &json.body;
    assert_eq!(body["unit"], w.hamlet_1.as_str());
    assert_eq!(body["unit_name"], "Ấp Âu Thọ A");
    assert_eq!(body["granularity"], "day");
    let total = &body["whole"]["total"];
    assert_eq!(total["received"], 3, "{body}");
    assert_eq!(total["resolved"], 1);
    assert_eq!(total["satisfied"], 1);
    assert_eq!(total["open_now"], 2);
    let periods = body["periods"].as_array().unwrap();
    let labels: Vec<&str> = periods
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(labels, [from.to_string(), day.to_string(), to.to_string()]);
    let received: u64 = periods
        .iter()
        .map(|p| p["total"]["received"].as_u64().unwrap())
        .sum();
    assert_eq!(received, 3, "the periods add up to the whole");
    let by_topic: u64 = body["whole"]["by_topic"]
        .as_object()
        .unwrap()
        .values()
        .map(|f| f["received"].as_u64().unwrap())
        .sum();
    assert_eq!(by_topic, 3, "the topics add up to the whole");

    // The post sees its commune below it; the cell's hamlet is its default.
    let post = query(
        &w,
        "post_a_chief",
        "/v1/figures",
        &format!("unit={}&from={day}&to={day}", w.post_a),
        p,
    )
    .await;
    let below = post.body["whole"]["by_unit"].as_array().unwrap();
    assert_eq!(below.len(), 1);
    assert_eq!(below[0]["unit"], w.commune_x.as_str());
    assert_eq!(below[0]["figures"]["received"], 3);
    let default = query(&w, "committee_in", "/v1/figures", "", p).await;
    assert_eq!(default.body["unit"], w.hamlet_1.as_str());
    assert_eq!(default.body["granularity"], "month");
    let months = default.body["periods"].as_array().unwrap();
    assert_eq!(months[0]["period"], format!("{}-01", day.format("%Y")));
    assert_eq!(
        months.last().unwrap()["period"],
        day.format("%Y-%m").to_string()
    );

    // The same figures as a table.
    let csv = s
        .call(
            Method::GET,
            &format!("/v1/figures?{q}&min_position={p}"),
            Some(w.token("committee_in")),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    let content_type = csv.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(csv.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = csv.body.as_str().expect("a text body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "period,from,to,unit_id,unit_name,topic,received,acknowledged,resolved,resolved_on_time,\
         escalated,referred_out,reopened,satisfied,not_satisfied,withdrawn,merged,open_now,\
         overdue_now,acknowledge_p50_hours,acknowledge_p90_hours,resolve_p50_hours,resolve_p90_hours"
    );
    let blocks = std::iter::once(&body["whole"]).chain(periods.iter());
    let rows: usize = blocks
        .map(|b| {
            1 + b["by_topic"].as_object().unwrap().len() + b["by_unit"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(lines.len(), 1 + rows);
    let whole = lines
        .iter()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|c| c[0] == "all" && c[3] == w.hamlet_1 && c[5] == "all")
        .expect("the whole range's row");
    assert_eq!(
        (whole[4], whole[6], whole[8], whole[13]),
        ("Ấp Âu Thọ A", "3", "1", "1")
    );
    let json_again = s
        .call(
            Method::GET,
            &format!("/v1/figures?{q}"),
            Some(w.token("committee_in")),
            None,
            &[("accept", "application/json, text/csv;q=0.5")],
        )
        .await;
    assert_eq!(json_again.body["whole"]["total"]["received"], 3);

    // Figures are for committees and auditors within; others are told nothing.
    let member = s.get("/v1/figures", w.token("member_in")).await;
    assert_problem(&member, 400, Some("unit"));
    for role in ["member_in", "committee_out", "auditor_out", "admin"] {
        let a = s
            .get(&format!("/v1/figures?unit={}", w.hamlet_1), w.token(role))
            .await;
        assert_problem(&a, 404, None);
    }
}

/// The household summary of `id` in a household list.
fn household<'a>(list: &'a Answer, id: &str) -> Option<&'a Value> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["household_id"] == id)
}

fn household_ids(list: &Answer) -> BTreeSet<String> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["household_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn households_their_cases_and_a_members_workload() {
    let w = world().await;
    let s = &w.server;
    let (h1, h3) = (&w.household_1, &w.household_3);
    let (case, _) = report(&w, "member_in", h1, json!({})).await;
    let (other, p) = report(&w, "member_out", h3, json!({})).await;
    let both: BTreeSet<String> = [h1.clone(), h3.clone()].into();
    let only = |h: &String| BTreeSet::from([h.clone()]);
    for (role, expected) in [
        ("member_in", only(h1)),
        ("member_out", only(h3)),
        ("committee_in", only(h1)),
        ("committee_out", only(h3)),
        ("auditor_in", only(h1)),
        ("post_a_chief", only(h1)),
        ("admin", both.clone()),
    ] {
        let list = query(&w, role, "/v1/households", "", p).await;
        assert_eq!(household_ids(&list), expected, "{role}");
    }
    let list = query(&w, "committee_in", "/v1/households", "", p).await;
    let one = household(&list, h1).unwrap();
    assert_eq!(one["hamlet_id"], w.hamlet_1.as_str());
    assert_eq!(one["head_of_household"], "Nguyễn Văn Hòa");
    assert_eq!(one["responsible"]["member_id"], w.member_1.as_str());
    assert_eq!(one["responsible"]["name"], "Thiếu úy Lê Văn An");
    assert_eq!(one["cases_by_status"]["reported"], 1);
    assert!(one["last_visit"].is_null());
    assert!(one.get("personal").is_none() && one.get("phone").is_none());
    let admin = query(
        &w,
        "admin",
        "/v1/households",
        &format!("unit={}", w.hamlet_3),
        p,
    )
    .await;
    assert_eq!(household_ids(&admin), only(h3));
    let mine = query(&w, "member_in", "/v1/households", "member=me", p).await;
    assert_eq!(household_ids(&mine), only(h1));
    let paged = query(&w, "admin", "/v1/households", "limit=1", p).await;
    let cursor = paged.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let rest = query(
        &w,
        "admin",
        "/v1/households",
        &format!("limit=1&cursor={cursor}"),
        p,
    )
    .await;
    let mut seen = household_ids(&paged);
    seen.extend(household_ids(&rest));
    assert_eq!(seen, both);
    let outside = s
        .get(
            &format!("/v1/households?unit={}", w.hamlet_3),
            w.token("committee_in"),
        )
        .await;
    assert_problem(&outside, 404, None);

    // A household's cases.
    let cases = query(
        &w,
        "committee_in",
        &format!("/v1/households/{h1}/concerns"),
        "",
        p,
    )
    .await;
    assert_eq!(ids(&cases), order(&[&case]));
    let theirs = query(
        &w,
        "member_out",
        &format!("/v1/households/{h3}/concerns"),
        "",
        p,
    )
    .await;
    assert_eq!(ids(&theirs), order(&[&other]));
    let filtered = query(
        &w,
        "member_in",
        &format!("/v1/households/{h1}/concerns"),
        "status=closed",
        p,
    )
    .await;
    assert!(ids(&filtered).is_empty());
    let by_admin = query(&w, "admin", &format!("/v1/households/{h1}/concerns"), "", p).await;
    assert!(ids(&by_admin).is_empty(), "an administrator sees no case");
    let hidden = s
        .get(
            &format!("/v1/households/{h1}/concerns"),
            w.token("committee_out"),
        )
        .await;
    assert_problem(&hidden, 404, None);

    // The member's workload, before and after a visit.
    let workload = format!("/v1/members/{}/workload", w.member_1);
    let before = query(&w, "member_in", &workload, "", p).await;
    assert_eq!(before.body["households"][0]["household_id"], h1.as_str());
    assert_eq!(
        before.body["households"][0]["head_of_household"],
        "Nguyễn Văn Hòa"
    );
    assert_eq!(before.body["open_cases"], 1);
    assert_eq!(before.body["overdue_cases"], 0);
    assert_eq!(before.body["visits_last_30_days"], 0);
    assert_eq!(before.body["not_visited_days"], 30);
    assert_eq!(before.body["not_visited"], json!([h1]));
    let ack = json!({"topic": "livelihood_loans", "priority": "normal"});
    step(&w, "committee_in", &case, "acknowledge", ack).await;
    let cell = json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}});
    step(&w, "committee_in", &case, "assign", cell).await;
    let p = step(
        &w,
        "member_in",
        &case,
        "actions",
        json!({"action": "visit", "summary": "Thăm hộ"}),
    )
    .await;
    let after = query(&w, "committee_in", &workload, "not_visited_days=7", p).await;
    assert_eq!(after.body["visits_last_30_days"], 1);
    assert_eq!(after.body["not_visited_days"], 7);
    assert_eq!(after.body["not_visited"], json!([]));
    let list = query(&w, "member_in", "/v1/households", "", p).await;
    assert!(household(&list, h1).unwrap()["last_visit"].is_string());
    for role in ["member_out", "committee_out", "auditor_out", "admin"] {
        assert_problem(&s.get(&workload, w.token(role)).await, 404, None);
    }
    let nobody = format!("/v1/members/{}/workload", uuid::Uuid::new_v4());
    assert_problem(&s.get(&nobody, w.token("member_in")).await, 404, None);

    // Who was responsible before, once the household changes hands.
    let handed = s
        .post(
            &format!("/v1/households/{h1}/assignment"),
            &s.admin_token,
            json!({"member_id": w.member_3}),
        )
        .await;
    assert_eq!(handed.status.as_u16(), 200, "{:?}", handed.body);
    let p = position(&handed);
    let list = query(&w, "admin", "/v1/households", "", p).await;
    let moved = household(&list, h1).unwrap();
    assert_eq!(moved["responsible"]["member_id"], w.member_3.as_str());
    assert_eq!(moved["before"][0]["member_id"], w.member_1.as_str());
    assert!(moved["before"][0]["until"].is_string());
    let theirs = query(&w, "member_out", "/v1/households", "", p).await;
    assert_eq!(household_ids(&theirs), both);
    let gone = query(&w, "member_in", "/v1/households", "", p).await;
    assert!(household_ids(&gone).is_empty());
    let load = query(&w, "member_in", &workload, "", p).await;
    assert_eq!(load.body["households"], json!([]));
}

#[tokio::test]
async fn a_query_waits_for_a_commands_position_and_sees_its_change() {
    let w = world().await;
    let s = &w.server;
    let token = w.token("committee_in");
    let (id, p) = report(&w, "member_in", &w.household_1, json!({})).await;
    let listed = s
        .get(&format!("/v1/concerns?min_position={p}"), token)
        .await;
    assert_eq!(ids(&listed), order(&[&id]));
    let p = step(
        &w,
        "committee_in",
        &id,
        "acknowledge",
        json!({"topic": "land", "priority": "high"}),
    )
    .await;
    let header = p.to_string();
    let acknowledged = s
        .call(
            Method::GET,
            "/v1/concerns?status=acknowledged",
            Some(token),
            None,
            &[("casebook-min-position", header.as_str())],
        )
        .await;
    assert_eq!(ids(&acknowledged), order(&[&id]), "{:?}", acknowledged.body);
    let searched = s
        .get(&format!("/v1/concerns?q=thieu+von&min_position={p}"), token)
        .await;
    assert_eq!(ids(&searched), order(&[&id]));
    let household = s
        .get(
            &format!("/v1/households/{}/concerns?min_position={p}", w.household_1),
            token,
        )
        .await;
    assert_eq!(
        household.body["items"][0]["concern"]["status"],
        "acknowledged"
    );
    for path in [
        format!("/v1/concerns/{id}?min_position={p}"),
        format!("/v1/concerns/{id}/history?min_position={p}"),
        format!("/v1/households/{}?min_position={p}", w.household_1),
        format!("/v1/me?min_position={p}"),
        format!("/v1/figures?min_position={p}"),
        format!("/v1/members/{}/workload?min_position={p}", w.member_1),
    ] {
        let a = s.get(&path, token).await;
        assert_eq!(a.status.as_u16(), 200, "{path}: {:?}", a.body);
    }
}

#[tokio::test]
async fn a_position_beyond_the_log_is_refused_not_waited_for() {
    let s = Server::start_with_env(&[("CASEBOOK_LIMITS_READ_WAIT_MS", "200")]);
    let token = s.admin_token.clone();
    let far = 1_000_000_000u64;
    let before = s.log_len().await;
    for path in [
        format!("/v1/concerns?min_position={far}"),
        format!("/v1/households?min_position={far}"),
        format!("/v1/figures?unit={}&min_position={far}", s.root_unit),
        format!("/v1/me?min_position={far}"),
        format!("/v1/households/{}?min_position={far}", uuid::Uuid::new_v4()),
        format!(
            "/v1/concerns/{}/history?min_position={far}",
            uuid::Uuid::new_v4()
        ),
    ] {
        let a = s.get(&path, &token).await;
        assert_problem(&a, 400, Some("min_position"));
        assert!(
            a.body["detail"]
                .as_str()
                .unwrap()
                .contains(&far.to_string()),
            "{path}"
        );
    }
    let header = far.to_string();
    let a = s
        .call(
            Method::GET,
            "/v1/concerns",
            Some(&token),
            None,
            &[("Casebook-Min-Position", header.as_str())],
        )
        .await;
    assert_problem(&a, 400, Some("min_position"));
    for (path, headers, field) in [
        ("/v1/concerns?min_position=-1", vec![], "min_position"),
        ("/v1/concerns?min_position=soon", vec![], "min_position"),
        (
            "/v1/me?min_position=1&min_position=2",
            vec![],
            "min_position",
        ),
        (
            "/v1/concerns",
            vec![("Casebook-Min-Position", "x")],
            "Casebook-Min-Position",
        ),
    ] {
        let a = s
            .call(Method::GET, path, Some(&token), None, &headers)
            .await;
        assert_problem(&a, 400, Some(field));
    }
    assert_eq!(s.log_len().await, before, "queries write nothing");
}

#[tokio::test]
async fn every_bad_parameter_answers_400_naming_it() {
    let w = world().await;
    let s = &w.server;
    let (h1, m1) = (&w.household_1, &w.member_1);
    let list = |q: &str| format!("/v1/concerns?{q}");
    let table: Vec<(String, &str)> = vec![
        (list("unit=xyz"), "unit"),
        (list("status=open"), "status"),
        (list("status=reported,"), "status"),
        (list("status=reported&status="), "status"),
        (list("kind=rumour"), "kind"),
        (list("topic=weather"), "topic"),
        (list("priority=max"), "priority"),
        (list("assignee=bob"), "assignee"),
        (list("assignee=person:nope"), "assignee"),
        (list("deadline=late"), "deadline"),
        (list("updated_since=yesterday"), "updated_since"),
        (list("sort=oldest"), "sort"),
        (list("limit=0"), "limit"),
        (list("limit=201"), "limit"),
        (list("limit=ten"), "limit"),
        (list("limit=5&limit=6"), "limit"),
        (list("cursor=garbage"), "cursor"),
        (list("cursor=l.zz"), "cursor"),
        (list("sort=due_date&cursor=l.n00"), "cursor"),
        (list("q="), "q"),
        (list("q=%20"), "q"),
        (list("q=tam&cursor=s.x"), "cursor"),
        (list("colour=red"), "colour"),
        (format!("/v1/households/{h1}/concerns?q=tam"), "q"),
        (format!("/v1/households/{h1}/concerns?cursor=s.1"), "cursor"),
        (
            format!("/v1/households/{h1}/concerns?priority=none"),
            "priority",
        ),
        ("/v1/figures?granularity=week".into(), "granularity"),
        ("/v1/figures?from=2024-02-30".into(), "from"),
        ("/v1/figures?to=31/12/2024".into(), "to"),
        ("/v1/figures?from=2024-06-01&to=2024-01-01".into(), "to"),
        (
            "/v1/figures?granularity=day&from=2022-01-01&to=2024-01-01".into(),
            "from",
        ),
        ("/v1/figures?unit=nope".into(), "unit"),
        ("/v1/figures?period=2024".into(), "period"),
        ("/v1/households?member=bob".into(), "member"),
        ("/v1/households?limit=500".into(), "limit"),
        ("/v1/households?cursor=h.nope".into(), "cursor"),
        ("/v1/households?unit=abc".into(), "unit"),
        ("/v1/households?status=reported".into(), "status"),
        (
            format!("/v1/members/{m1}/workload?not_visited_days=0"),
            "not_visited_days",
        ),
        (
            format!("/v1/members/{m1}/workload?not_visited_days=99999"),
            "not_visited_days",
        ),
        (
            format!("/v1/members/{m1}/workload?not_visited_days=abc"),
            "not_visited_days",
        ),
        (format!("/v1/members/{m1}/workload?days=3"), "days"),
        ("/v1/members/not-a-uuid/workload".into(), "path"),
        ("/v1/households/not-a-uuid/concerns".into(), "path"),
    ];
    let before = s.log_len().await;
    let mut failures = Vec::new();
    for (path, field) in table {
        let a = s.get(&path, w.token("committee_in")).await;
        let named = a.body["field"].as_str() == Some(field);
        if a.status.as_u16() != 400 || !named {
            failures.push(format!(
                "{path}: {} {:?} (wanted 400 naming {field})",
                a.status, a.body
            ));
            continue;
        }
        assert_problem(&a, 400, Some(field));
        assert!(!a.body["detail"].as_str().unwrap().is_empty());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(s.log_len().await, before, "bad queries write nothing");
}
