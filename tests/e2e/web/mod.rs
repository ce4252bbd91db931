//! The web pages in a real headless Chromium (Debian's `chromium` and
//! `chromedriver`), on the demo province served by the real binary.
//!
//! - `browser`: chromedriver, a Chromium per person, page gestures, screenshots.
//! - `demo`: `casebook serve --demo`, its printed passwords and tokens,
//!   and stopping and restarting it on the same address and data.
//!
//! A member's report made while the server cannot be reached waits in the
//! browser, is sent once the server is back, and is recorded exactly
//! once; a committee then takes it through triage, assignment and
//! resolution in the forms and sees its dashboard's figures move; an
//! auditor verifies the log. Screenshots of the main pages are saved under
//! `target/web-screenshots/` (or `$CASEBOOK_SCREENSHOTS`); the test prints
//! each path.

mod browser;
mod demo;

use reqwest::Method;
use serde_json::Value;

use browser::{Browser, Driver};
use demo::DemoServer;

/// A phone's viewport (members work on phones).
const PHONE: (u32, u32) = (412, 915);
/// A desk's viewport (committees meet around a screen).
const DESK: (u32, u32) = (1280, 1400);

async fn figure(browser: &Browser, name: &str) -> u64 {
    browser
        .attr(&format!("[data-figure={name}]"), "data-value")
        .await
        .parse()
        .unwrap_or_else(|_| panic!("figure {name} is a count"))
}

/// Opens a step's form on the case page, lets `fill` fill it, submits it,
/// and waits for the case page to say it was done.
async fn take_step(committee: &Browser, case: &str, step: &str) {
    committee
        .wait_for_path(
            |p| p.starts_with(&format!("/app/cases/{case}")),
            "the case page",
        )
        .await;
    committee.click(&format!("#step-{step} summary")).await;
    committee
        .click(&format!("#step-{step} form button[type=submit]"))
        .await;
    committee
        .wait_for_path(
            |p| p.ends_with(&format!("?done={step}")),
            &format!("the step {step} to be recorded"),
        )
        .await;
}

async fn reported_events(server: &DemoServer, case: &str) -> usize {
    let (status, history) = server
        .api(
            Method::GET,
            &format!("/v1/concerns/{case}/history"),
            "member",
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "concern.reported")
        .count()
}

/// The member's household in the hamlet the committee's dashboard is for.
async fn household_in(member: &Browser, hamlet: &str) -> String {
    member.go("/app/my").await;
    for card in member.all("#households li.household").await {
        let place = card
            .find(fantoccini::Locator::Css(".muted"))
            .await
            .expect("a hamlet")
            .text()
            .await
            .expect("text");
        if place == hamlet {
            return card
                .attr("data-household")
                .await
                .expect("attr")
                .expect("an id");
        }
    }
    panic!("the member has no household in {hamlet}");
}

#[tokio::test]
async fn web_a_report_made_offline_is_sent_once_and_a_committee_resolves_it() {
    let mut server = DemoServer::start();
    let driver = Driver::start().await;
    let member = Browser::open(&driver, &server.base, PHONE.0, PHONE.1).await;
    let committee = Browser::open(&driver, &server.base, DESK.0, DESK.1).await;
    let m = server.person("member").clone();
    let c = server.person("hamlet_committee").clone();

    assert_eq!(member.sign_in(&m.username, &m.password).await, "/app/my");
    member.screenshot("01-member-my-households").await;
    assert_eq!(
        committee.sign_in(&c.username, &c.password).await,
        "/app/dashboard"
    );
    let heading = committee.find("h1").await.text().await.expect("heading");
    let hamlet = heading
        .split(" — ")
        .nth(1)
        .expect("the unit's name")
        .to_owned();
    let received_before = figure(&committee, "received").await;
    let resolved_before = figure(&committee, "resolved").await;

    // The member opens a household; the service worker keeps the page.
    let household = household_in(&member, &hamlet).await;
    member.go(&format!("/app/households/{household}")).await;
    let head = member.find("h1").await.text().await.expect("head");
    member
        .wait_for_script(
            "return !!(navigator.serviceWorker && navigator.serviceWorker.controller)",
            "the service worker to control the page",
        )
        .await;
    member.client.refresh().await.expect("reload");
    for _ in 0..browser::WAIT_POLLS {
        let kept = member
            .script_async(
                "const done = arguments[arguments.length - 1];
                 caches.open('cb-pages-v1').then(c => c.match(location.href))
                   .then(r => done(!!r), () => done(false));",
            )
            .await;
        if kept == Value::Bool(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    member.screenshot("02-member-household").await;

    // The connection goes: the page still opens, and a report waits.
    server.stop();
    member.client.refresh().await.expect("reload offline");
    assert_eq!(
        member.find("h1").await.text().await.expect("head"),
        head,
        "the kept page"
    );
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let text = format!("Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm (ghi ngoại tuyến {tag})");
    member
        .find("#r-kind")
        .await
        .select_by_value("request_for_help")
        .await
        .expect("kind");
    member
        .find("#r-topic")
        .await
        .select_by_value("livelihood_loans")
        .await
        .expect("topic");
    member.fill("#r-text", &text).await;
    member.click("#report-form button[type=submit]").await;
    member
        .wait_for_script(
            "return !!document.querySelector('#queue li[data-state=waiting]')
                && !document.getElementById('net-status').hidden",
            "the report to wait, and the page to say the connection is gone",
        )
        .await;
    member
        .client
        .execute(
            "document.getElementById('queue-section').scrollIntoView()",
            Vec::new(),
        )
        .await
        .expect("scrolls");
    member.screenshot("03-member-offline-waiting").await;

    // The connection returns: the queue is sent, once.
    server.restart();
    member.click("#queue-send").await;
    member
        .wait_for_script(
            "return !!document.querySelector('#queue li[data-state=sent]')",
            "the report to be sent",
        )
        .await;
    let case = member.attr("#queue li[data-state=sent]", "data-case").await;
    member
        .client
        .execute(
            "document.getElementById('queue-section').scrollIntoView()",
            Vec::new(),
        )
        .await
        .expect("scrolls");
    member.screenshot("04-member-sent").await;
    assert_eq!(reported_events(&server, &case).await, 1);
    let queued = member
        .script_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('casebook', 1);
             open.onsuccess = () => {
               const get = open.result.transaction('queue').objectStore('queue').getAll();
               get.onsuccess = () => done(get.result.map(e => e.item));
             };",
        )
        .await;
    let (status, again) = server
        .api(
            Method::POST,
            "/v1/sync",
            "member",
            Some(&serde_json::json!({"commands": queued})),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["results"][0]["status"], "already_applied",
        "a retry writes nothing"
    );
    member.click("#queue-send").await;
    assert_eq!(
        reported_events(&server, &case).await,
        1,
        "still recorded once"
    );

    // The committee finds it, triages, assigns and resolves it.
    committee.go(&format!("/app/cases?q={tag}")).await;
    assert_eq!(
        committee.all("#case-list tbody tr").await.len(),
        1,
        "found once by search"
    );
    committee.screenshot("05-committee-search").await;
    committee.go(&format!("/app/cases/{case}")).await;
    assert_eq!(
        committee.attr("#case-status", "data-status").await,
        "reported"
    );
    take_step(&committee, &case, "acknowledge").await;
    take_step(&committee, &case, "assign").await;
    committee.click("#step-resolve summary").await;
    committee
        .fill(
            "#res-summary",
            "Đã hướng dẫn gia đình vay vốn giải quyết việc làm; gia đình mở quán tạp hóa.",
        )
        .await;
    committee
        .click("#step-resolve form button[type=submit]")
        .await;
    committee
        .wait_for_path(|p| p.ends_with("?done=resolve"), "the resolution")
        .await;
    assert_eq!(
        committee.attr("#case-status", "data-status").await,
        "resolved"
    );
    committee.screenshot("06-committee-case").await;

    // The dashboard's figures moved.
    committee.go("/app/dashboard").await;
    assert_eq!(figure(&committee, "received").await, received_before + 1);
    assert_eq!(figure(&committee, "resolved").await, resolved_before + 1);
    committee.screenshot("07-committee-dashboard").await;
    committee.go("/app/report").await;
    committee.screenshot("08-committee-report").await;
    committee.go("/app/cases").await;
    committee.screenshot("09-committee-cases").await;
    committee.click("a.lang").await;
    committee
        .wait_for_script("return document.documentElement.lang === 'en'", "English")
        .await;
    committee.screenshot("10-committee-cases-en").await;

    // An auditor verifies the log and replays the case.
    let auditor = Browser::open(&driver, &server.base, DESK.0, DESK.1).await;
    let a = server.person("auditor").clone();
    assert_eq!(
        auditor.sign_in(&a.username, &a.password).await,
        "/app/audit"
    );
    auditor.click("#verify-form button[type=submit]").await;
    auditor
        .wait_for_script(
            "return document.querySelectorAll('#checks li[data-ok=true]').length === 3",
            "the three checks to pass",
        )
        .await;
    auditor.screenshot("11-auditor-verified").await;
    auditor.go(&format!("/app/audit/cases/{case}")).await;
    assert_eq!(auditor.attr("#as-of", "data-status").await, "resolved");
    auditor.screenshot("12-auditor-case").await;
    auditor.go("/app/audit/sealed").await;
    auditor.screenshot("13-auditor-sealed-reads").await;

    // The administrator signs in to their account page.
    let admin = Browser::open(&driver, &server.base, DESK.0, DESK.1).await;
    let x = server.person("administrator").clone();
    assert_eq!(
        admin.sign_in(&x.username, &x.password).await,
        "/app/account"
    );

    for browser in [member, committee, auditor, admin] {
        browser.close().await;
    }
}

#[tokio::test]
async fn web_a_member_cannot_open_another_members_household() {
    let server = DemoServer::start();
    let driver = Driver::start().await;
    let member = Browser::open(&driver, &server.base, PHONE.0, PHONE.1).await;
    let m = server.person("member").clone();
    assert_eq!(member.sign_in(&m.username, &m.password).await, "/app/my");
    let mut own = Vec::new();
    for card in member.all("#households li.household").await {
        own.push(
            card.attr("data-household")
                .await
                .expect("attr")
                .expect("id"),
        );
    }
    assert!(!own.is_empty(), "the demo member has households");

    let committee = Browser::open(&driver, &server.base, DESK.0, DESK.1).await;
    let c = server.person("commune_committee").clone();
    committee.sign_in(&c.username, &c.password).await;
    committee.go("/app/cases").await;
    let mut other = None;
    for row in committee.all("#case-list tbody tr").await {
        let household = row
            .attr("data-household")
            .await
            .expect("attr")
            .unwrap_or_default();
        if !household.is_empty() && !own.contains(&household) {
            other = Some(household);
            break;
        }
    }
    let other = other.expect("a household of another member in the commune");

    member.go(&format!("/app/households/{}", own[0])).await;
    assert_eq!(member.all("#household").await.len(), 1, "their own opens");
    member.go(&format!("/app/households/{other}")).await;
    assert_eq!(
        member.attr(".error-detail", "data-status").await,
        "404",
        "another member's household is not found"
    );
    assert!(member.all("#household").await.is_empty());
    member.screenshot("14-member-other-household-404").await;
    let (status, _) = server
        .api(
            Method::GET,
            &format!("/v1/households/{other}"),
            "member",
            None,
        )
        .await;
    assert_eq!(status, 404, "the API agrees");
    member.close().await;
    committee.close().await;
}

/// Runs `casebook user set-password` with the password on stdin.
fn set_password(
    data: &std::path::Path,
    username: &str,
    person: &str,
    password: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::server::binary())
        .args([
            "user",
            "set-password",
            "--username",
            username,
            "--person",
            person,
            "--data",
        ])
        .arg(data)
        .env_remove("CASEBOOK_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs casebook");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .expect("writes the password");
    }
    child.wait_with_output().expect("waits")
}

#[tokio::test]
async fn web_a_password_set_on_the_command_line_signs_in_on_the_pages() {
    let data = tempfile::tempdir().expect("data dir");
    let init = std::process::Command::new(crate::server::binary())
        .args(["init", "--data"])
        .arg(data.path())
        .output()
        .expect("runs init");
    assert!(init.status.success(), "{init:?}");
    let printed = String::from_utf8_lossy(&init.stdout);
    let admin = printed
        .lines()
        .find_map(|l| l.strip_prefix("administrator: "))
        .expect("the administrator's id")
        .to_owned();
    let password = "mật khẩu của quản trị";
    let unknown = set_password(
        data.path(),
        "boss",
        &uuid::Uuid::new_v4().to_string(),
        password,
    );
    assert_eq!(
        unknown.status.code(),
        Some(4),
        "an unknown person is refused"
    );
    let short = set_password(data.path(), "boss", &admin, "short");
    assert_eq!(short.status.code(), Some(4), "a short password is refused");
    let set = set_password(data.path(), "boss", &admin, password);
    assert!(set.status.success(), "{set:?}");
    assert!(String::from_utf8_lossy(&set.stdout).contains("password set for boss"));
    let stored = std::fs::read_dir(data.path().join("auth"))
        .expect("auth dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .any(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes())
        });
    assert!(!stored, "the password itself is stored nowhere");

    let server = crate::server::Server::start_in(data, &[], Some((String::new(), String::new())));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = client
        .get(format!("{}/app/sign-in", server.base))
        .send()
        .await
        .expect("sign-in page");
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cb_signin="))
        .and_then(|v| v.split(';').next())
        .expect("the form's cookie")
        .to_owned();
    let token = cookie.trim_start_matches("cb_signin=").to_owned();
    let signed_in = client
        .post(format!("{}/app/sign-in", server.base))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "boss"),
            ("password", password),
        ])
        .send()
        .await
        .expect("signs in");
    assert_eq!(signed_in.status().as_u16(), 303);
    assert_eq!(
        signed_in.headers()["location"].to_str().expect("location"),
        "/app/account",
        "an administrator lands on their account page"
    );
    assert!(signed_in.headers().get_all("set-cookie").iter().any(|v| v
        .to_str()
        .is_ok_and(|v| v.starts_with("cb_session=") && v.contains("HttpOnly"))));
}
