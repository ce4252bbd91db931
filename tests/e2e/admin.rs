//! `casebook unit|person|household …` through the real binary: on a data
//! directory made by `init`, with no server running, the administrator
//! builds a commune and a hamlet, registers a person, grants them a role
//! and assigns them a household; the listings show it, and a server
//! started afterwards on the same directory serves it. Anyone but an
//! administrator is refused (exit 4), a bad flag is a one-line error
//! (exit 2), and neither changes the log.

use std::path::Path;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::server::Server;

use crate::cli::{casebook, path, succeeded};

/// The word after `word` in `line` (an id the command made).
#[track_caller]
fn after(line: &str, word: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == word);
    let next = at.and_then(|i| words.get(i + 1));
    let next = next.unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
    next.trim_end_matches([':', ',', ')']).to_owned()
}

/// What `verify --data` prints: the event count and the Merkle root.
fn log_state(data: &Path) -> String {
    succeeded(&casebook(&["verify", "--data", path(data)]))
}

/// A data directory fresh from `casebook init`.
struct Initialised {
    data: tempfile::TempDir,
    root: String,
    admin: String,
    token: String,
}

fn init() -> Initialised {
    let data = tempfile::tempdir().unwrap();
    let out = succeeded(&casebook(&["init", "--data", path(data.path())]));
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
            .to_owned()
    };
    Initialised {
        root: line("bootstrapped: root unit "),
        admin: line("administrator: "),
        token: line("admin token (shown once, keep it safe): "),
        data,
    }
}

/// Runs an administration command on `data` and answers its one line.
#[track_caller]
fn admin(data: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--data", path(data)]);
    let out = succeeded(&casebook(&all));
    assert_eq!(out.lines().count(), 1, "{all:?}: {out}");
    assert!(out.contains("(log position "), "{all:?}: {out}");
    out.trim_end().to_owned()
}

/// `args` followed by `by` (`--by PERSON`).
fn acting<'a>(by: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    [args, by].concat()
}

/// Each bad command line (the data directory appended) exits `code` with
/// one line on stderr and nothing on stdout, and leaves the log as it was.
#[track_caller]
fn all_refused(data: &Path, cases: &[(Vec<&str>, i32, &str)]) {
    let before = log_state(data);
    for (args, code, says) in cases {
        let mut args = args.clone();
        args.extend(["--data", path(data)]);
        let out = casebook(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("casebook: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(log_state(data), before, "the log is as it was");
}

#[tokio::test]
async fn units_people_and_assignments_are_administered_with_the_server_stopped() {
    let i = init();
    let data = i.data.path();
    let by = ["--by", i.admin.as_str()];

    let line = admin(
        data,
        &acting(
            &by,
            &[
                "unit",
                "create",
                "--kind",
                "commune",
                "--name",
                "Xã Vĩnh Hải",
                "--parent",
                &i.root,
            ],
        ),
    );
    let commune = after(&line, "unit");
    assert!(line.starts_with("created commune unit"), "{line}");
    let hamlet_id = Uuid::new_v4().to_string();
    let line = admin(
        data,
        &acting(
            &by,
            &[
                "unit",
                "create",
                "--kind",
                "hamlet",
                "--name",
                "Ấp Âu Thọ",
                "--parent",
                &commune,
                "--id",
                &hamlet_id,
            ],
        ),
    );
    assert_eq!(after(&line, "unit"), hamlet_id);
    admin(
        data,
        &acting(
            &by,
            &[
                "unit",
                "rename",
                "--unit",
                &hamlet_id,
                "--name",
                "Ấp Âu Thọ A",
            ],
        ),
    );
    let line = admin(
        data,
        &acting(
            &by,
            &[
                "unit",
                "committee",
                "--unit",
                &hamlet_id,
                "--kind",
                "party_cell",
                "--name",
                "Chi bộ ấp Âu Thọ A",
            ],
        ),
    );
    let cell = after(&line, "committee");
    let line = admin(
        data,
        &acting(
            &by,
            &[
                "unit",
                "create",
                "--kind",
                "post",
                "--name",
                "Đồn Vĩnh Hải",
                "--parent",
                &i.root,
            ],
        ),
    );
    let post = after(&line, "unit");
    admin(
        data,
        &acting(
            &by,
            &["unit", "cover", "--post", &post, "--commune", &commune],
        ),
    );
    admin(
        data,
        &acting(
            &by,
            &["unit", "uncover", "--post", &post, "--commune", &commune],
        ),
    );

    let line = admin(
        data,
        &acting(&by, &["person", "register", "--name", "Thiếu úy Lê Văn An"]),
    );
    let member = after(&line, "person");
    let line = admin(
        data,
        &acting(
            &by,
            &[
                "person", "grant", "--person", &member, "--role", "member", "--unit", &hamlet_id,
            ],
        ),
    );
    let member_grant = after(&line, "grant");
    let line = admin(
        data,
        &acting(
            &by,
            &[
                "person",
                "grant",
                "--person",
                &member,
                "--role",
                "committee_member",
                "--committee",
                &cell,
                "--unit",
                &hamlet_id,
                "--until",
                "2099-01-01T00:00:00Z",
            ],
        ),
    );
    let cell_grant = after(&line, "grant");
    admin(
        data,
        &acting(
            &by,
            &[
                "person",
                "end-role",
                "--person",
                &member,
                "--grant",
                &cell_grant,
            ],
        ),
    );

    // The listings show the tree and who holds what now.
    let units = succeeded(&casebook(&["unit", "list", "--data", path(data)]));
    let rows: Vec<Vec<&str>> = units.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0], ["id", "kind", "name", "parent"]);
    assert!(rows.contains(&vec![
        commune.as_str(),
        "commune",
        "Xã Vĩnh Hải",
        i.root.as_str()
    ]));
    assert!(rows.contains(&vec![
        hamlet_id.as_str(),
        "hamlet",
        "Ấp Âu Thọ A",
        commune.as_str()
    ]));
    let first = |id: &str| rows.iter().position(|r| r[0] == id).unwrap();
    assert!(first(&i.root) < first(&commune) && first(&commune) < first(&hamlet_id));
    let units: Value = serde_json::from_str(&succeeded(&casebook(&[
        "unit",
        "list",
        "--json",
        "--data",
        path(data),
    ])))
    .unwrap();
    let hamlet = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == hamlet_id.as_str())
        .unwrap();
    assert_eq!(hamlet["committees"][0]["committee_id"], cell.as_str());
    let people = succeeded(&casebook(&["person", "list", "--data", path(data)]));
    let row = people.lines().find(|l| l.starts_with(&member)).unwrap();
    assert!(row.contains("Thiếu úy Lê Văn An"), "{row}");
    assert!(
        row.contains(&format!("member in {hamlet_id} (grant {member_grant})")),
        "{row}"
    );
    assert!(!row.contains("committee_member"), "{row} (ended)");
    let people: Value = serde_json::from_str(&succeeded(&casebook(&[
        "person",
        "list",
        "--json",
        "--data",
        path(data),
    ])))
    .unwrap();
    let listed = people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == member.as_str())
        .unwrap();
    assert_eq!(
        listed["roles"],
        json!([{"grant_id": member_grant, "role": {"role": "member"},
        "unit_id": hamlet_id, "from": listed["roles"][0]["from"], "until": null}])
    );

    // Anyone but an administrator is refused; bad flags are one-line errors.
    let stranger = Uuid::new_v4().to_string();
    let refusals: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["person", "register", "--name", "X", "--by", &member],
            4,
            "administrators",
        ),
        (
            vec![
                "unit", "rename", "--unit", &hamlet_id, "--name", "X", "--by", &stranger,
            ],
            4,
            "administrators",
        ),
        (
            vec![
                "unit", "create", "--kind", "hamlet", "--name", "X", "--parent", &i.root, "--by",
                &i.admin,
            ],
            4,
            "parent_id",
        ),
        (
            vec![
                "unit", "create", "--kind", "post", "--name", "X", "--parent", &i.root, "--id",
                &commune, "--by", &i.admin,
            ],
            4,
            "already exists",
        ),
        (
            vec![
                "unit", "create", "--kind", "village", "--name", "X", "--parent", &i.root, "--by",
                &i.admin,
            ],
            2,
            "expected one of `provincial_command`, `post`, `commune`, `hamlet`",
        ),
        (
            vec![
                "unit",
                "committee",
                "--unit",
                &hamlet_id,
                "--kind",
                "club",
                "--name",
                "X",
                "--by",
                &i.admin,
            ],
            2,
            "party_cell",
        ),
        (
            vec![
                "person", "grant", "--person", &member, "--role", "chief", "--unit", &hamlet_id,
                "--by", &i.admin,
            ],
            2,
            "expected one of `member`, `committee_member`, `auditor`, `administrator`",
        ),
        (
            vec![
                "person",
                "grant",
                "--person",
                &member,
                "--role",
                "committee_member",
                "--unit",
                &hamlet_id,
                "--by",
                &i.admin,
            ],
            2,
            "--committee",
        ),
        (
            vec![
                "unit",
                "rename",
                "--unit",
                "not-a-uuid",
                "--name",
                "X",
                "--by",
                &i.admin,
            ],
            2,
            "not-a-uuid",
        ),
        (
            vec!["person", "register", "--name", "X", "--by", "nobody"],
            2,
            "nobody",
        ),
        (
            vec![
                "unit", "rename", "--unit", &stranger, "--name", "X", "--by", &i.admin,
            ],
            2,
            "no unit",
        ),
        (
            vec![
                "person", "grant", "--person", &member, "--role", "member", "--unit", &hamlet_id,
                "--until", "tomorrow", "--by", &i.admin,
            ],
            2,
            "tomorrow",
        ),
    ];
    all_refused(data, &refusals);

    // A household registered through the API of a server on the directory…
    let household = Uuid::new_v4().to_string();
    let s = Server::start_in(i.data, &[], Some((i.token.clone(), i.root.clone())));
    let registered = s
        .post(
            "/v1/households",
            &s.admin_token,
            json!({"household_id": household, "hamlet_id": hamlet_id, "size": 4,
                "personal": {"head_of_household": "Nguyễn Văn Hòa", "phone": null, "address": null, "note": null},
                "circumstances": []}),
        )
        .await;
    assert_eq!(registered.status.as_u16(), 200, "{:?}", registered.body);
    let (status, data_dir) = s.terminate();
    assert!(status.success());
    let data = data_dir.path();

    // …is assigned from the command line once it is stopped.
    let assign = [
        "household",
        "assign",
        "--household",
        &household,
        "--member",
        &member,
    ];
    let line = admin(data, &acting(&by, &assign));
    assert!(line.starts_with("assigned member"), "{line}");
    admin(
        data,
        &acting(&by, &["household", "unassign", "--household", &household]),
    );
    admin(data, &acting(&by, &assign));
    all_refused(
        data,
        &[
            (
                [&assign[..], &["--by", member.as_str()][..]].concat(),
                4,
                "administrators",
            ),
            (
                vec![
                    "household",
                    "assign",
                    "--household",
                    &stranger,
                    "--member",
                    &member,
                    "--by",
                    &i.admin,
                ],
                2,
                "no household",
            ),
            (
                vec![
                    "household",
                    "assign",
                    "--household",
                    &household,
                    "--member",
                    &i.admin,
                    "--by",
                    &i.admin,
                ],
                4,
                "member",
            ),
        ],
    );
    let token = succeeded(&casebook(&[
        "token",
        "create",
        "--data",
        path(data),
        "--person",
        &member,
        "--label",
        "admin e2e",
    ]));
    let token = token
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once): "))
        .unwrap()
        .to_owned();

    // A server started on the directory serves what the commands made.
    let s = Server::start_in(data_dir, &[], Some((i.token, i.root)));
    let me = s.get("/v1/me", &token).await;
    assert_eq!(me.status.as_u16(), 200, "{:?}", me.body);
    assert_eq!(me.body["name"], "Thiếu úy Lê Văn An");
    assert_eq!(me.body["roles"][0]["unit_id"], hamlet_id.as_str());
    assert_eq!(
        me.body["roles"].as_array().unwrap().len(),
        1,
        "{:?}",
        me.body
    );
    let shown = s.get(&format!("/v1/households/{household}"), &token).await;
    assert_eq!(shown.status.as_u16(), 200, "{:?}", shown.body);
    let assignments = shown.body["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 2, "{:?}", shown.body);
    assert!(assignments[0]["until"].is_string());
    assert_eq!(assignments[1]["member_id"], member.as_str());
    assert!(assignments[1]["until"].is_null());
    let (status, data_dir) = s.terminate();
    assert!(status.success());
    log_state(data_dir.path());
}
