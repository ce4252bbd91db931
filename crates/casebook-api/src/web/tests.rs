//! The pages through the router, without a socket: sign-in and sessions,
//! CSRF, every page of every role in both languages, the forms' command
//! path and its refusals, the members' sync with a session cookie, the
//! downloads and the auditors' checks. The real browser is driven by the
//! end-to-end tests (`tests/e2e/web`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

use crate::web::accounts::Accounts;
use crate::web::i18n::Lang;
use crate::web::steps::Step;
use crate::{router, AppState};

const PASSWORD: &str = "mật-khẩu-thử-nghiệm";

/// A small province: post → commune → hamlets 1 and 2; member 1 for
/// household 1 (hamlet 1), member 2 for household 2 (hamlet 2); the
/// hamlet-1 cell; the post's committee; an auditor of the post.
struct World {
    app: Router,
    state: AppState,
    admin_token: String,
    household_1: String,
    household_2: String,
    hamlet_1: String,
    _dir: tempfile::TempDir,
}

async fn api(app: &Router, path: &str, token: &str, body: Value) -> Value {
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

async fn world() -> World {
    let (dir, stores, done) = crate::testing::bootstrapped("Bộ Chỉ huy BĐBP tỉnh Sóc Trăng").await;
    let accounts = Accounts::new(&stores.tokens);
    let state = crate::testing::started(stores).await;
    let app = router(state.clone());
    let t = done.token.clone();
    let root = done.root_unit_id.to_string();
    let unit = |kind: &'static str, name: &'static str, parent: String| {
        let app = app.clone();
        let t = t.clone();
        async move {
            let id = Uuid::new_v4().to_string();
            api(
                &app,
                "/v1/units",
                &t,
                json!({"unit_id": id, "kind": kind, "name": name, "parent_id": parent}),
            )
            .await;
            id
        }
    };
    let post = unit("post", "Đồn Biên phòng Vĩnh Hải", root).await;
    let commune = unit("commune", "Xã Vĩnh Hải", post.clone()).await;
    let hamlet_1 = unit("hamlet", "Ấp Âu Thọ A", commune.clone()).await;
    let hamlet_2 = unit("hamlet", "Ấp Âu Thọ B", commune.clone()).await;
    let committee = |unit: String, kind: &'static str, name: &'static str| {
        let app = app.clone();
        let t = t.clone();
        async move {
            let id = Uuid::new_v4().to_string();
            api(
                &app,
                &format!("/v1/units/{unit}/committees"),
                &t,
                json!({"committee_id": id, "kind": kind, "name": name}),
            )
            .await;
            id
        }
    };
    let cell = committee(hamlet_1.clone(), "party_cell", "Chi bộ ấp Âu Thọ A").await;
    let post_committee = committee(post.clone(), "party_committee", "Đảng ủy đồn Vĩnh Hải").await;
    let person = |name: &'static str, role: Value, unit: String, username: &'static str| {
        let app = app.clone();
        let t = t.clone();
        let accounts = accounts.clone();
        async move {
            let id = Uuid::new_v4();
            api(
                &app,
                "/v1/people",
                &t,
                json!({"person_id": id, "name": name}),
            )
            .await;
            api(
                &app,
                &format!("/v1/people/{id}/roles"),
                &t,
                json!({"role": role, "unit_id": unit}),
            )
            .await;
            accounts
                .set_password(
                    username,
                    casebook_domain::PersonId(id),
                    PASSWORD,
                    Utc::now(),
                )
                .await
                .unwrap();
            id.to_string()
        }
    };
    let member_1 = person(
        "Thiếu úy Lê Văn An",
        json!({"role": "member"}),
        post.clone(),
        "an.le",
    )
    .await;
    let member_2 = person(
        "Thiếu úy Trần Văn Ba",
        json!({"role": "member"}),
        post.clone(),
        "ba.tran",
    )
    .await;
    person(
        "Bí thư Nguyễn Thị Cúc",
        json!({"role": "committee_member", "committee_id": cell}),
        hamlet_1.clone(),
        "cuc",
    )
    .await;
    person(
        "Đồn trưởng Phạm Văn Dũng",
        json!({"role": "committee_member", "committee_id": post_committee}),
        post.clone(),
        "dung",
    )
    .await;
    person(
        "Kiểm tra viên Hồ Thị Gấm",
        json!({"role": "auditor"}),
        post.clone(),
        "gam",
    )
    .await;
    let household = |hamlet: String, head: &'static str, member: String| {
        let app = app.clone();
        let t = t.clone();
        async move {
            let id = Uuid::new_v4().to_string();
            api(&app, "/v1/households", &t, json!({"household_id": id, "hamlet_id": hamlet, "size": 4,
                "personal": {"head_of_household": head, "phone": "0912345678", "address": null, "note": null},
                "circumstances": ["poor_household"]})).await;
            api(
                &app,
                &format!("/v1/households/{id}/assignment"),
                &t,
                json!({"member_id": member}),
            )
            .await;
            id
        }
    };
    let household_1 = household(hamlet_1.clone(), "Nguyễn Văn Hòa", member_1).await;
    let household_2 = household(hamlet_2, "Lý Thị Mai", member_2).await;
    World {
        app,
        state,
        admin_token: done.token,
        household_1,
        household_2,
        hamlet_1,
        _dir: dir,
    }
}

/// A client that keeps cookies, like a browser.
struct Client {
    app: Router,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: String,
    content_type: String,
    set_cookies: Vec<String>,
    body: String,
}

impl Page {
    /// The value of the first `name="…" value="…"` hidden input.
    fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name}"))
            + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].to_owned()
    }
}

impl Client {
    fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = request.header(header::COOKIE, cookie).body(body).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let header_text = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let location = header_text(header::LOCATION);
        let content_type = header_text(header::CONTENT_TYPE);
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for set in &set_cookies {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            content_type,
            set_cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::builder().uri(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    crate::web::page::url_encode(k),
                    crate::web::page::url_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    async fn sign_in(app: &Router, username: &str) -> (Client, Page) {
        let mut client = Client::new(app);
        let form = client.get("/app/sign-in").await;
        let token = form.input("_csrf");
        let done = client
            .post(
                "/app/sign-in",
                &[
                    ("_csrf", &token),
                    ("username", username),
                    ("password", PASSWORD),
                    ("next", "/app"),
                ],
            )
            .await;
        (client, done)
    }

    /// The session's CSRF token, from a page's meta tag.
    async fn csrf(&mut self) -> String {
        let page = self.get("/app/account").await;
        let marker = "name=\"csrf-token\" content=\"";
        let start = page.body.find(marker).unwrap() + marker.len();
        page.body[start..start + 64].to_owned()
    }
}

async fn signed_in(w: &World, username: &str) -> Client {
    let (client, done) = Client::sign_in(&w.app, username).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    client
}

/// No text on a page is a catalogue key (a message that was missing, or
/// a key shown instead of its message): no `>section.word<` nor
/// `="section.word"` for any section of the catalogue.
fn assert_no_raw_keys(path: &str, body: &str) {
    let sections: std::collections::BTreeSet<&str> = Lang::Vi
        .catalog()
        .keys()
        .filter_map(|k| k.split('.').next())
        .collect();
    for section in sections {
        for (open, close) in [(">", '<'), ("=\"", '"')] {
            for part in body.split(&format!("{open}{section}.")).skip(1) {
                let word: String = part
                    .chars()
                    .take_while(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'
                    })
                    .collect();
                let raw = !word.is_empty() && part[word.len()..].starts_with(close);
                assert!(!raw, "{path} shows the raw key {section}.{word}");
            }
        }
    }
}

#[tokio::test]
async fn signing_in_opens_a_session_with_safe_cookies_and_each_role_lands_on_its_page() {
    let w = world().await;
    let mut anonymous = Client::new(&w.app);
    let redirect = anonymous.get("/app/my").await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_eq!(redirect.location, "/app/sign-in?next=/app/my");
    for (username, home) in [
        ("an.le", "/app/my"),
        ("cuc", "/app/dashboard"),
        ("dung", "/app/dashboard"),
        ("gam", "/app/audit"),
    ] {
        let (client, done) = Client::sign_in(&w.app, username).await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{username}: {}",
            done.body
        );
        assert_eq!(done.location, home, "{username}");
        let session = done
            .set_cookies
            .iter()
            .find(|c| c.starts_with("cb_session="))
            .expect("a session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax"),
            "{session}"
        );
        assert!(!session.contains("Secure"), "plain HTTP here");
        assert!(client.cookies.contains_key("cb_session"));
    }
}

#[tokio::test]
async fn a_wrong_password_or_a_missing_form_token_opens_nothing() {
    let w = world().await;
    let mut client = Client::new(&w.app);
    let form = client.get("/app/sign-in").await;
    assert!(form.body.contains("lang=\"vi\""), "Vietnamese by default");
    let token = form.input("_csrf");
    let wrong = client
        .post(
            "/app/sign-in",
            &[
                ("_csrf", &token),
                ("username", "an.le"),
                ("password", "sai mật khẩu rồi"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains(Lang::Vi.catalog().get("sign_in.wrong")));
    assert!(!client.cookies.contains_key("cb_session"));
    let mut stranger = Client::new(&w.app);
    let forged = stranger
        .post(
            "/app/sign-in",
            &[
                ("_csrf", "forged"),
                ("username", "an.le"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("cb_session"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let w = world().await;
    let mut client = signed_in(&w, "an.le").await;
    let secret = client.cookies["cb_session"].clone();
    let csrf = client.csrf().await;
    let out = client.post("/app/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!client.cookies.contains_key("cb_session"));
    let mut replay = Client::new(&w.app);
    replay.cookies.insert("cb_session".into(), secret);
    assert_eq!(
        replay.get("/app/my").await.status,
        StatusCode::SEE_OTHER,
        "the old cookie opens nothing"
    );
}

#[tokio::test]
async fn every_page_of_every_role_renders_in_both_languages_without_raw_keys() {
    let w = world().await;
    let case = report_as_member(&w).await;
    let pages: [(&str, Vec<String>); 4] = [
        (
            "an.le",
            vec![
                "/app/my".into(),
                format!("/app/households/{}", w.household_1),
                format!("/app/cases/{case}"),
                "/app/account".into(),
            ],
        ),
        (
            "cuc",
            vec![
                "/app/dashboard".into(),
                "/app/report".into(),
                "/app/cases".into(),
                "/app/cases?q=von+san+xuat".into(),
                "/app/cases?status=reported&deadline=overdue&sort=due_date".into(),
                format!("/app/cases/{case}"),
                format!("/app/households/{}", w.household_1),
            ],
        ),
        (
            "dung",
            vec![
                "/app/dashboard".into(),
                format!("/app/dashboard?unit={}", w.hamlet_1),
                "/app/report?from=2024-01&to=2024-12".into(),
            ],
        ),
        (
            "gam",
            vec![
                "/app/audit".into(),
                format!("/app/audit/cases/{case}"),
                format!("/app/audit/cases/{case}?axis=field&at=2020-01-01T00:00"),
                "/app/audit/sealed".into(),
                "/app/cases".into(),
            ],
        ),
    ];
    for (username, paths) in pages {
        let mut client = signed_in(&w, username).await;
        for lang in ["vi", "en"] {
            client.cookies.insert("cb_lang".into(), lang.into());
            for path in &paths {
                let page = client.get(path).await;
                assert_eq!(
                    page.status,
                    StatusCode::OK,
                    "{username} {lang} {path}: {}",
                    page.body
                );
                assert!(page.content_type.starts_with("text/html"), "{path}");
                assert!(
                    page.body.contains(&format!("<html lang=\"{lang}\">")),
                    "{path}"
                );
                assert_no_raw_keys(path, &page.body);
                for remote in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
                    assert!(
                        !page.body.contains(remote),
                        "{path} loads from elsewhere: {remote}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_page_outside_a_persons_reach_answers_404() {
    let w = world().await;
    let mut member = signed_in(&w, "an.le").await;
    let theirs = member
        .get(&format!("/app/households/{}", w.household_2))
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "another member's household"
    );
    assert!(!theirs.body.contains("Lý Thị Mai"));
    for path in [
        "/app/dashboard",
        "/app/cases",
        "/app/report",
        "/app/audit",
        "/app/figures.csv",
    ] {
        assert_eq!(
            member.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let mut cell = signed_in(&w, "cuc").await;
    let outside = cell
        .get(&format!("/app/households/{}", w.household_2))
        .await;
    assert_eq!(
        outside.status,
        StatusCode::NOT_FOUND,
        "hamlet 2 is outside the hamlet-1 cell"
    );
    assert_eq!(
        cell.get("/app/cases/not-a-case").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        cell.get("/app/nothing/here").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The member reports through the form without scripts; answers the case id.
async fn report_as_member(w: &World) -> String {
    let mut member = signed_in(w, "an.le").await;
    let page = member
        .get(&format!("/app/households/{}", w.household_1))
        .await;
    let csrf = page.input("_csrf");
    let command_id = page.input("command_id");
    let done = member
        .post(
            &format!("/app/households/{}/report", w.household_1),
            &[
                ("_csrf", &csrf),
                ("command_id", &command_id),
                ("kind", "request_for_help"),
                ("topic", "livelihood_loans"),
                ("priority", "normal"),
                ("confidentiality", "normal"),
                (
                    "text",
                    "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.",
                ),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let case = done
        .location
        .strip_prefix("/app/cases/")
        .and_then(|rest| rest.split('?').next())
        .expect("the case page")
        .to_owned();
    let again = member
        .post(
            &format!("/app/households/{}/report", w.household_1),
            &[
                ("_csrf", &csrf),
                ("command_id", &command_id),
                ("kind", "request_for_help"),
                ("topic", "livelihood_loans"),
                ("priority", "normal"),
                ("confidentiality", "normal"),
                (
                    "text",
                    "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.",
                ),
            ],
        )
        .await;
    assert_eq!(
        again.location, done.location,
        "a form posted twice records once"
    );
    case
}

fn received(body: &str) -> u64 {
    let marker = "data-figure=\"received\" data-value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    body[start..].split('"').next().unwrap().parse().unwrap()
}

fn figure(body: &str, name: &str) -> u64 {
    let marker = format!("data-figure=\"{name}\" data-value=\"");
    let start = body.find(&marker).unwrap() + marker.len();
    body[start..].split('"').next().unwrap().parse().unwrap()
}

async fn step(client: &mut Client, case: &str, slug: &str, fields: &[(&str, &str)]) -> Page {
    let page = client.get(&format!("/app/cases/{case}")).await;
    let form_start = page
        .body
        .find(&format!("action=\"/app/cases/{case}/{slug}\""))
        .unwrap_or_else(|| panic!("no form for {slug}"));
    let form = Page {
        status: page.status,
        location: String::new(),
        content_type: String::new(),
        set_cookies: Vec::new(),
        body: page.body[form_start..].to_owned(),
    };
    let mut all = vec![
        ("_csrf".to_owned(), form.input("_csrf")),
        ("command_id".to_owned(), form.input("command_id")),
        ("revision".to_owned(), form.input("revision")),
    ];
    all.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    client
        .post(&format!("/app/cases/{case}/{slug}"), &borrowed)
        .await
}

#[tokio::test]
async fn a_committee_runs_a_case_through_the_forms_and_the_figures_follow() {
    let w = world().await;
    let mut cell = signed_in(&w, "cuc").await;
    let before = cell.get("/app/dashboard").await;
    let case = report_as_member(&w).await;
    let after = cell.get("/app/dashboard").await;
    assert_eq!(received(&after.body), received(&before.body) + 1);
    let page = cell.get(&format!("/app/cases/{case}")).await;
    assert!(page.body.contains("data-status=\"reported\""));
    assert!(
        page.body.contains("action=\"/app/cases/"),
        "forms for the next steps"
    );
    assert!(
        !page.body.contains(&format!("/{case}/resolve\"")),
        "not resolvable before triage"
    );
    let ack = step(
        &mut cell,
        &case,
        "acknowledge",
        &[("topic", "livelihood_loans"), ("priority", "high")],
    )
    .await;
    assert_eq!(ack.status, StatusCode::SEE_OTHER, "{}", ack.body);
    assert_eq!(ack.location, format!("/app/cases/{case}?done=acknowledge"));
    let page = cell.get(&ack.location).await;
    assert!(page.body.contains(&Lang::Vi.catalog().fill(
        "case.done",
        &[("step", Lang::Vi.catalog().get("step.acknowledge"))]
    )));
    let cell_person = page
        .body
        .split("value=\"person:")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let assign = step(
        &mut cell,
        &case,
        "assign",
        &[("assignee", &format!("person:{cell_person}"))],
    )
    .await;
    assert_eq!(assign.status, StatusCode::SEE_OTHER, "{}", assign.body);
    let resolved_before = figure(&cell.get("/app/dashboard").await.body, "resolved");
    let resolve = step(
        &mut cell,
        &case,
        "resolve",
        &[
            ("outcome", "resolved"),
            (
                "summary",
                "Đã hướng dẫn vay vốn giải quyết việc làm; gia đình mở quán tạp hóa.",
            ),
        ],
    )
    .await;
    assert_eq!(resolve.status, StatusCode::SEE_OTHER, "{}", resolve.body);
    let page = cell.get(&format!("/app/cases/{case}")).await;
    assert!(page.body.contains("data-status=\"resolved\""));
    for event in [
        "concern.reported",
        "concern.acknowledged",
        "concern.assigned",
        "concern.resolved",
    ] {
        assert!(
            page.body.contains(&format!("data-event-type=\"{event}\"")),
            "timeline has {event}"
        );
    }
    let dashboard = cell.get("/app/dashboard").await;
    assert_eq!(figure(&dashboard.body, "resolved"), resolved_before + 1);
}

#[tokio::test]
async fn a_refused_step_shows_the_domains_reason_and_writes_nothing() {
    let w = world().await;
    let case = report_as_member(&w).await;
    let mut cell = signed_in(&w, "cuc").await;
    let page = cell.get(&format!("/app/cases/{case}")).await;
    let csrf = page.input("_csrf");
    let len = w.state.log().len();
    let refused = cell
        .post(
            &format!("/app/cases/{case}/resolve"),
            &[
                ("_csrf", &csrf),
                ("outcome", "resolved"),
                ("summary", "quá sớm"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused
            .body
            .contains(Lang::Vi.catalog().get("error.illegal_transition")),
        "{}",
        refused.body
    );
    assert_eq!(w.state.log().len(), len, "nothing written");
    let invalid = cell
        .post(
            &format!("/app/cases/{case}/acknowledge"),
            &[
                ("_csrf", &csrf),
                ("topic", "no_such_topic"),
                ("priority", "high"),
            ],
        )
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        invalid.body
    );
    assert_eq!(w.state.log().len(), len, "nothing written");
    let mut auditor = signed_in(&w, "gam").await;
    let page = auditor.get(&format!("/app/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("id=\"steps\""),
        "an auditor is offered no step"
    );
    let csrf = page.input("_csrf");
    let refused = auditor
        .post(
            &format!("/app/cases/{case}/acknowledge"),
            &[("_csrf", &csrf), ("topic", "land"), ("priority", "high")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .body
            .contains(Lang::Vi.catalog().get("rule.auditor_changes_nothing")),
        "{}",
        refused.body
    );
    assert_eq!(w.state.log().len(), len, "nothing written");
}

#[tokio::test]
async fn a_form_without_the_sessions_token_is_refused_and_writes_nothing() {
    let w = world().await;
    let case = report_as_member(&w).await;
    let mut cell = signed_in(&w, "cuc").await;
    let len = w.state.log().len();
    for token in ["", "0000", &"f".repeat(64)] {
        let refused = cell
            .post(
                &format!("/app/cases/{case}/acknowledge"),
                &[("_csrf", token), ("topic", "land"), ("priority", "high")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    assert_eq!(w.state.log().len(), len);
}

async fn sync(member: &mut Client, batch: &Value, token: Option<&str>) -> Page {
    let mut request = Request::builder()
        .method("POST")
        .uri("/v1/sync")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    member.send(request, Body::from(batch.to_string())).await
}

#[tokio::test]
async fn the_members_queue_syncs_with_the_session_and_its_token_exactly_once() {
    let w = world().await;
    let mut member = signed_in(&w, "an.le").await;
    let csrf = member.csrf().await;
    let concern = Uuid::new_v4();
    let batch = json!({"commands": [{"concern_id": concern, "command": {
        "type": "report", "command_id": Uuid::new_v4(), "occurred_at": Utc::now(),
        "concern_id": concern, "subject": {"household": {"household_id": w.household_1}},
        "kind": "concern", "topic": "roads_infrastructure", "priority": "normal",
        "confidentiality": "normal", "text": "Đường vào ấp bị sạt lở sau mưa lớn."}}]});
    let len = w.state.log().len();
    let refused = sync(&mut member, &batch, None).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a cookie without the CSRF token"
    );
    assert_eq!(w.state.log().len(), len);
    let first = sync(&mut member, &batch, Some(&csrf)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let first: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first["results"][0]["status"], "applied");
    let again: Value =
        serde_json::from_str(&sync(&mut member, &batch, Some(&csrf)).await.body).unwrap();
    assert_eq!(again["results"][0]["status"], "already_applied");
    let mut cell = signed_in(&w, "cuc").await;
    let page = cell.get(&format!("/app/cases/{concern}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.body
            .matches("data-event-type=\"concern.reported\"")
            .count(),
        1
    );
    let token_call = Request::builder()
        .uri("/v1/me")
        .header("authorization", format!("Bearer {}", w.admin_token))
        .body(Body::empty())
        .unwrap();
    let response = w.app.clone().oneshot(token_call).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "bearer tokens still work"
    );
}

#[tokio::test]
async fn the_downloads_are_csv_with_a_byte_order_mark() {
    let w = world().await;
    report_as_member(&w).await;
    let mut cell = signed_in(&w, "cuc").await;
    for path in ["/app/cases.csv", "/app/figures.csv"] {
        let file = cell.get(path).await;
        assert_eq!(file.status, StatusCode::OK, "{path}");
        assert_eq!(file.content_type, "text/csv; charset=utf-8");
        assert!(file.body.starts_with('\u{feff}'), "{path}");
        assert!(file.body.lines().count() >= 2, "{path}: {}", file.body);
    }
    let cases = cell.get("/app/cases.csv").await;
    assert!(cases.body.contains("Gia đình thiếu vốn sản xuất"));
}

#[tokio::test]
async fn an_auditor_verifies_the_log_and_sees_the_signed_head() {
    let w = world().await;
    report_as_member(&w).await;
    let mut auditor = signed_in(&w, "gam").await;
    let page = auditor.get("/app/audit").await;
    assert!(page.body.contains("id=\"tree-head\""));
    let csrf = page.input("_csrf");
    let checked = auditor.post("/app/audit/verify", &[("_csrf", &csrf)]).await;
    assert_eq!(checked.status, StatusCode::OK);
    assert_eq!(
        checked.body.matches("data-ok=\"true\"").count(),
        3,
        "{}",
        checked.body
    );
    assert!(!checked.body.contains("data-ok=\"false\""));
}

#[tokio::test]
async fn the_assets_and_the_service_worker_are_served_from_the_binary() {
    let w = world().await;
    let mut client = Client::new(&w.app);
    for (path, kind) in [
        ("/app/static/app.css", "text/css"),
        ("/app/static/app.js", "text/javascript"),
        ("/app/sw.js", "text/javascript"),
        ("/app/static/icon.svg", "image/svg+xml"),
    ] {
        let asset = client.get(path).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert!(asset.content_type.starts_with(kind), "{path}");
    }
    assert_eq!(client.get("/app/offline").await.status, StatusCode::OK);
    assert_eq!(client.get("/").await.location, "/app");
}

#[test]
fn every_key_made_at_run_time_has_a_message() {
    let catalog = Lang::En.catalog();
    for step in Step::ALL {
        assert!(
            catalog.has(&format!("step.{}", step.slug())),
            "{}",
            step.slug()
        );
    }
    for event in casebook_domain::EVENT_TYPES {
        let key = format!("event.{}", event.name.replace('.', "_"));
        assert!(catalog.has(&key), "{key}");
    }
    for name in [
        "received",
        "resolved",
        "on_time_share",
        "open_now",
        "overdue_now",
        "escalated",
        "resolve_median",
        "satisfied_share",
    ] {
        assert!(catalog.has(&format!("figure.{name}")), "{name}");
    }
}

#[tokio::test]
async fn a_tips_informant_is_shown_only_to_its_taker_and_each_read_is_listed_for_auditors() {
    let w = world().await;
    let mut member = signed_in(&w, "an.le").await;
    let page = member
        .get(&format!("/app/households/{}", w.household_1))
        .await;
    let csrf = page.input("_csrf");
    let done = member
        .post(
            &format!("/app/households/{}/report", w.household_1),
            &[
                ("_csrf", &csrf),
                ("command_id", &page.input("command_id")),
                ("kind", "tip"),
                ("topic", "crime_smuggling"),
                ("priority", "urgent"),
                ("confidentiality", "confidential_tip"),
                ("informant_name", "Người báo tin Tô Văn Kín"),
                (
                    "text",
                    "Có người lạ vận chuyển hàng qua lối mòn biên giới ban đêm.",
                ),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let case = done
        .location
        .trim_start_matches("/app/cases/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = member.get(&format!("/app/cases/{case}")).await;
    assert!(
        !page.body.contains("Tô Văn Kín"),
        "not shown without a recorded read"
    );
    assert!(page.body.contains("id=\"read-informant\""));
    let mut cell = signed_in(&w, "cuc").await;
    let theirs = cell.get(&format!("/app/cases/{case}")).await;
    assert!(
        !theirs.body.contains("id=\"read-informant\""),
        "only its taker may read it"
    );
    assert!(!theirs.body.contains("Tô Văn Kín"));
    let read = member
        .post(
            &format!("/app/cases/{case}/informant"),
            &[
                ("_csrf", &page.input("_csrf")),
                ("command_id", &Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert!(read.body.contains("Tô Văn Kín"));
    let mut auditor = signed_in(&w, "gam").await;
    let reads = auditor.get("/app/audit/sealed").await;
    assert_eq!(
        reads.body.matches("data-kind=\"read\"").count(),
        1,
        "{}",
        reads.body
    );
    assert!(
        reads.body.contains("Thiếu úy Lê Văn An"),
        "names the reader"
    );
    assert!(
        !reads.body.contains("Tô Văn Kín"),
        "never the identity itself"
    );
}

/// The member reports through the form with a personal note; answers the
/// case id.
async fn report_with_note(w: &World, text: &str, note: &str) -> String {
    let mut member = signed_in(w, "an.le").await;
    let page = member
        .get(&format!("/app/households/{}", w.household_1))
        .await;
    assert!(
        page.body.contains("name=\"personal_note\""),
        "the form offers the note"
    );
    let done = member
        .post(
            &format!("/app/households/{}/report", w.household_1),
            &[
                ("_csrf", &page.input("_csrf")),
                ("command_id", &page.input("command_id")),
                ("kind", "request_for_help"),
                ("topic", "livelihood_loans"),
                ("priority", "normal"),
                ("confidentiality", "normal"),
                ("text", text),
                ("personal_note", note),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    done.location
        .trim_start_matches("/app/cases/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_personal_note_shows_on_the_case_page_only_and_then_as_erased() {
    let w = world().await;
    let note = "Chồng chị đang cai nghiện tại trung tâm Bảo Trọng.";
    let case = report_with_note(
        &w,
        "Gia đình xin hỗ trợ vốn chăn nuôi heo.",
        &format!("  {note}\n"),
    )
    .await;
    let plain = report_with_note(&w, "Gia đình xin hỗ trợ sửa mái nhà.", "   ").await;
    let mut cell = signed_in(&w, "cuc").await;
    for lang in ["vi", "en"] {
        cell.cookies.insert("cb_lang".into(), lang.into());
        let page = cell.get(&format!("/app/cases/{case}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("data-note=\"shown\""), "{lang}");
        assert_eq!(
            page.body.matches(note).count(),
            1,
            "in its box, not again in the timeline"
        );
        assert_no_raw_keys("case page", &page.body);
    }
    cell.cookies.insert("cb_lang".into(), "vi".into());
    let empty = cell.get(&format!("/app/cases/{plain}")).await;
    assert!(
        !empty.body.contains("id=\"personal-note\""),
        "an empty note is none"
    );
    for path in [
        "/app/cases".to_owned(),
        "/app/cases?q=chan+nuoi+heo".to_owned(),
        "/app/cases?q=cai+nghien+Bao+Trong".to_owned(),
        "/app/cases.csv".to_owned(),
        format!("/app/audit/cases/{case}"),
    ] {
        let mut reader = if path.starts_with("/app/audit") {
            signed_in(&w, "gam").await
        } else {
            signed_in(&w, "cuc").await
        };
        let page = reader.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(!page.body.contains("Bảo Trọng"), "{path} shows the note");
        assert!(!page.body.contains("cai nghiện"), "{path} shows the note");
    }
    let listed = cell.get("/app/cases?q=chan+nuoi+heo").await;
    assert!(
        listed.body.contains(&format!("data-case=\"{case}\"")),
        "the case itself is found by its text"
    );
    let by_note = cell.get("/app/cases?q=cai+nghien+Bao+Trong").await;
    assert!(
        !by_note.body.contains(&format!("data-case=\"{case}\"")),
        "the note is not searchable"
    );
    let reason = "Chủ hộ yêu cầu xóa dữ liệu cá nhân.";
    api(
        &w.app,
        &format!("/v1/households/{}/erase", w.household_1),
        &w.admin_token,
        json!({ "reason": reason }),
    )
    .await;
    for lang in ["vi", "en"] {
        cell.cookies.insert("cb_lang".into(), lang.into());
        let page = cell.get(&format!("/app/cases/{case}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("data-note=\"erased\""), "{}", page.body);
        assert!(!page.body.contains("Bảo Trọng"), "the note is gone");
        let start = page.body.find("data-note=\"erased\"").unwrap();
        let boxed = &page.body[start..];
        let boxed = &boxed[..boxed.find("</section>").unwrap()];
        assert!(boxed.contains(reason), "why: {boxed}");
        assert!(boxed.contains("Quản trị"), "by whom: {boxed}");
        let year = Utc::now()
            .with_timezone(&w.state.policy().time_zone)
            .format("%Y")
            .to_string();
        assert!(boxed.contains(&year), "when: {boxed}");
        assert_no_raw_keys("erased case page", &page.body);
        let plain = cell.get(&format!("/app/cases/{plain}")).await;
        assert!(
            !plain.body.contains("id=\"personal-note\""),
            "no note was written there"
        );
    }
    let mut member = signed_in(&w, "an.le").await;
    let form = member
        .get(&format!("/app/households/{}", w.household_1))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        !form.body.contains("name=\"personal_note\""),
        "nothing personal can be recorded for an erased household"
    );
}

#[tokio::test]
async fn a_queued_report_carries_its_personal_note_through_sync() {
    let w = world().await;
    let mut member = signed_in(&w, "an.le").await;
    let csrf = member.csrf().await;
    let concern = Uuid::new_v4();
    let note = "Con trai út vừa bị tai nạn lao động, chưa muốn ai biết.";
    let batch = json!({"commands": [{"concern_id": concern, "command": {
        "type": "report", "command_id": Uuid::new_v4(), "occurred_at": Utc::now(),
        "concern_id": concern, "subject": {"household": {"household_id": w.household_1}},
        "kind": "request_for_help", "topic": "livelihood_loans", "priority": "normal",
        "confidentiality": "normal", "sealed_informant": null,
        "text": "Gia đình cần hỗ trợ chi phí chữa bệnh.", "personal_note": note}}]});
    let answer = sync(&mut member, &batch, Some(&csrf)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    let page = member.get(&format!("/app/cases/{concern}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-note=\"shown\""));
    assert!(page.body.contains(note));
}
