//! Residents' personal data through the real binary: sealed on disk from
//! the start, shown to those who may see the household, and after `erase`
//! shown as erased (when, why, by whom) while its plaintext is nowhere in
//! the data directory's files and the whole log still verifies.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use uuid::Uuid;

use crate::server::{assert_problem, binary};
use crate::world::world;

const HEAD: &str = "Vừ Thị Xuânerase";
const PHONE: &str = "0977 123 456";
const NOTE: &str = "Bệnh tim, cần thăm thường xuyên";
const INFORMANT: &str = "Sùng A Páoerase";
const PERSONAL_NOTE: &str = "Con trai đang cai nghiệnerase";

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn erasure_shows_when_and_why_and_leaves_no_plaintext_on_disk() {
    let w = world().await;
    let s = &w.server;
    let household = Uuid::new_v4().to_string();
    let registered = s
        .post(
            "/v1/households",
            &s.admin_token,
            json!({"household_id": household, "hamlet_id": w.hamlet_1, "size": 3,
                "personal": {"head_of_household": HEAD, "phone": PHONE, "address": null, "note": NOTE},
                "circumstances": ["ethnic_minority"]}),
        )
        .await;
    assert_eq!(registered.status.as_u16(), 200, "{:?}", registered.body);
    let assigned = s
        .post(
            &format!("/v1/households/{household}/assignment"),
            &s.admin_token,
            json!({"member_id": w.member_1}),
        )
        .await;
    assert!(assigned.status.is_success(), "{:?}", assigned.body);
    let mut tip = crate::world::report_body(&household);
    tip["kind"] = json!("tip");
    tip["topic"] = json!("crime_smuggling");
    tip["confidentiality"] = json!("confidential_tip");
    tip["sealed_informant"] = json!({"name": INFORMANT, "contact": null, "note": null});
    tip["personal_note"] = json!(PERSONAL_NOTE);
    let reported = s.post("/v1/concerns", w.token("member_in"), tip).await;
    assert_eq!(reported.status.as_u16(), 200, "{:?}", reported.body);
    let concern = reported.body["stream"]
        .as_str()
        .unwrap()
        .replace("concern-", "");

    // Those who may see the case read the note marked personal; it is not
    // searchable.
    let case = format!("/v1/concerns/{concern}");
    let shown = s.get(&case, w.token("committee_in")).await;
    assert_eq!(shown.status.as_u16(), 200, "{:?}", shown.body);
    assert_eq!(shown.body["concern"]["personal_note"], PERSONAL_NOTE);
    let search = s
        .get("/v1/concerns?q=cai%20nghien", w.token("committee_in"))
        .await;
    assert_eq!(search.status.as_u16(), 200, "{:?}", search.body);
    assert!(
        !search.body.to_string().contains(&concern),
        "{:?}",
        search.body
    );

    // Those who may see the household read its details.
    let path = format!("/v1/households/{household}");
    let before = s.get(&path, w.token("member_in")).await;
    assert_eq!(before.status.as_u16(), 200, "{:?}", before.body);
    assert_eq!(
        before.body["personal"]["head_of_household"], HEAD,
        "{:?}",
        before.body
    );

    // Only an administrator erases, with a reason.
    let erase = format!("{path}/erase");
    let by_member = s
        .post(&erase, w.token("member_in"), json!({"reason": "x"}))
        .await;
    assert_problem(&by_member, 403, None);
    let no_reason = s.post(&erase, &s.admin_token, json!({"reason": " "})).await;
    assert_problem(&no_reason, 422, Some("reason"));
    let unknown = s
        .post(
            &format!("/v1/households/{}/erase", Uuid::new_v4()),
            &s.admin_token,
            json!({"reason": "x"}),
        )
        .await;
    assert!(unknown.status.is_client_error(), "{:?}", unknown.body);
    let erased = s
        .post(
            &erase,
            &s.admin_token,
            json!({"reason": "Chủ hộ yêu cầu xoá dữ liệu cá nhân"}),
        )
        .await;
    assert_eq!(erased.status.as_u16(), 200, "{:?}", erased.body);
    let again = s
        .post(&erase, &s.admin_token, json!({"reason": "lần nữa"}))
        .await;
    assert_problem(&again, 409, None);

    let after = s.get(&path, w.token("member_in")).await;
    assert_eq!(after.status.as_u16(), 200, "{:?}", after.body);
    assert_eq!(
        after.body["personal"]["head_of_household"], "",
        "{:?}",
        after.body
    );
    assert!(after.body["personal"]["phone"].is_null());
    assert_eq!(after.body["circumstances"], json!([]));
    assert_eq!(
        after.body["erasure"]["reason"],
        "Chủ hộ yêu cầu xoá dữ liệu cá nhân"
    );
    assert!(after.body["erasure"]["erased_at"].is_string());
    // The case itself did not change, and it was read before: the note
    // opened then is not served again.
    let shown = s.get(&case, w.token("committee_in")).await;
    assert_eq!(shown.status.as_u16(), 200, "{:?}", shown.body);
    assert!(
        shown.body["concern"]["personal_note"].is_null(),
        "{:?}",
        shown.body
    );
    // The tip's informant was sealed under the household's key: gone too.
    let read = s
        .post(
            &format!("/v1/concerns/{concern}/informant"),
            w.token("member_in"),
            json!({}),
        )
        .await;
    assert_eq!(read.status.as_u16(), 200, "{:?}", read.body);
    assert!(read.body["informant"].is_null(), "{:?}", read.body);
    let shown = s.get(&case, w.token("committee_in")).await;
    assert!(
        shown.body["concern"]["personal_note"].is_null(),
        "{:?}",
        shown.body
    );
    // Nothing personal can be recorded for it again.
    let update = s
        .post(
            &format!("{path}/details"),
            &s.admin_token,
            json!({"size": 3, "circumstances": [],
                "personal": {"head_of_household": HEAD, "phone": null, "address": null, "note": null}}),
        )
        .await;
    assert_problem(&update, 409, None);

    let (status, data) = w.server.terminate();
    assert!(status.success());
    for secret in [HEAD, PHONE, NOTE, INFORMANT, PERSONAL_NOTE] {
        let found = files_containing(data.path(), secret);
        assert!(found.is_empty(), "{secret:?} is still in {found:?}");
    }
    let verified = Command::new(binary())
        .args(["verify", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

fn casebook(args: &[&str]) -> std::process::Output {
    Command::new(binary()).args(args).output().unwrap()
}

#[tokio::test]
async fn forget_erases_with_the_server_stopped_and_refuses_bad_arguments() {
    let w = world().await;
    let known = (w.server.admin_token.clone(), w.server.root_unit.clone());
    let household = w.household_1.clone();
    let (status, data) = w.server.terminate();
    assert!(status.success());
    let dir = data.path().to_str().unwrap().to_owned();
    let log_len = |dir: &str| {
        let out = casebook(&["verify", "--data", dir]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = log_len(&dir);
    let stranger = Uuid::new_v4().to_string();
    let refusals: [(Vec<&str>, &str); 5] = [
        (
            vec!["--household", &household, "--by", &w.admin],
            "--reason",
        ),
        (
            vec!["--household", "nope", "--reason", "x", "--by", &w.admin],
            "nope",
        ),
        (
            vec!["--household", &stranger, "--reason", "x", "--by", &w.admin],
            "no household",
        ),
        (
            vec![
                "--household",
                &household,
                "--reason",
                "x",
                "--by",
                &w.member_1,
            ],
            "administrator",
        ),
        (
            vec!["--household", &household, "--reason", " ", "--by", &w.admin],
            "reason",
        ),
    ];
    for (flags, expected) in refusals {
        let mut args = vec!["forget", "--data", dir.as_str()];
        args.extend(flags.iter().copied());
        let out = casebook(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(log_len(&dir), before, "{args:?} changed the log");
    }
    let out = casebook(&[
        "forget",
        "--data",
        &dir,
        "--household",
        &household,
        "--reason",
        "Chủ hộ yêu cầu xoá dữ liệu",
        "--by",
        &w.admin,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("key destroyed: true"));
    assert!(files_containing(data.path(), "Nguyễn Văn Hòa").is_empty());

    let s = crate::server::Server::start_in(data, &[], Some(known));
    let after = s
        .get(&format!("/v1/households/{household}"), &s.admin_token)
        .await;
    assert_eq!(after.status.as_u16(), 200, "{:?}", after.body);
    assert_eq!(after.body["personal"]["head_of_household"], "");
    assert_eq!(
        after.body["erasure"]["reason"],
        "Chủ hộ yêu cầu xoá dữ liệu"
    );
}
