//! The operator's and auditor's subcommands through the real binary, on a
//! data directory a stopped server left behind: `audit key|head|inclusion|
//! consistency` (checked by hand against heads the server served),
//! `replay` (the views as of a past position or time) and `projections
//! status|rebuild`. Every bad flag exits non-zero with one line on stderr
//! and changes no file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::Value;

use crate::audit_routes::{
    consistency_verifies, hashes, head_verifies, inclusion_verifies, sha, unhex, Hash,
};
use crate::server::binary;
use crate::world::{report_body, world};

/// Runs the binary with `args`.
pub(crate) fn casebook(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The command's stdout, after checking that it succeeded.
#[track_caller]
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&succeeded(output)).unwrap()
}

/// Exit `code`, nothing on stdout, one line on stderr.
#[track_caller]
fn refused(output: &Output, code: i32, args: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "{args:?}: stdout {:?}",
        output.stdout
    );
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("casebook: "), "{args:?}: {stderr}");
}

/// The sled databases of a data directory. sled rewrites its snapshot
/// files on some reopens (its own housekeeping; nothing stored changes),
/// so their files are not compared byte for byte: what the log holds is
/// compared through [`log_state`] instead.
const SLED_DIRS: [&str; 4] = ["log", "auth", "audit/merkle", "views"];

type Snapshot = BTreeMap<PathBuf, Option<Hash>>;

/// Every plain file under `dir` with a hash of its bytes, and each sled
/// database that exists (without its files).
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap().path();
            let relative = entry.strip_prefix(dir).unwrap().to_path_buf();
            if SLED_DIRS.iter().any(|sled| relative == Path::new(sled)) {
                files.insert(relative, None);
            } else if entry.is_dir() {
                pending.push(entry);
            } else {
                files.insert(relative, Some(sha(&[&std::fs::read(&entry).unwrap()])));
            }
        }
    }
    files
}

/// What the log holds: `verify --data` re-checks every record and prints
/// the event count and the Merkle root.
fn log_state(data: &Path) -> String {
    succeeded(&casebook(&["verify", "--data", path(data)]))
}

/// The files that differ between two snapshots.
fn changed(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = before.keys().chain(after.keys()).cloned().collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| before.get(p) != after.get(p))
        .collect()
}

/// Runs each bad command line (the data directory appended) and checks
/// its exit code, its one-line error, and that no file changed.
#[track_caller]
fn all_refused(data: &Path, cases: &[(Vec<String>, i32)]) {
    let log = log_state(data);
    let before = snapshot(data);
    for (args, code) in cases {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--data", path(data)]);
        refused(&casebook(&args), *code, &args);
        let changed = changed(&before, &snapshot(data));
        assert!(changed.is_empty(), "{args:?} changed {changed:?}");
    }
    assert_eq!(log_state(data), log, "the log is as it was");
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// A stopped server's data directory, with what it served.
struct Stopped {
    data: tempfile::TempDir,
    /// The tree-head key from the well-known route.
    key: [u8; 32],
    /// A head served before the three reports.
    old_head: Value,
    /// The log positions of three reported cases (in order).
    reports: Vec<u64>,
    /// Events in the log.
    len: u64,
}

async fn stopped() -> Stopped {
    let w = world().await;
    let s = &w.server;
    let key = s
        .call(
            Method::GET,
            "/.well-known/casebook-audit-key",
            None,
            None,
            &[],
        )
        .await;
    let key = unhex(&key.body["public_key"]);
    let old_head = s.get("/v1/audit/head", w.token("auditor_in")).await.body;
    let mut reports = Vec::new();
    for _ in 0..3 {
        let answer = s
            .post(
                "/v1/concerns",
                w.token("member_in"),
                report_body(&w.household_1),
            )
            .await;
        assert!(answer.status.is_success(), "{:?}", answer.body);
        reports.push(answer.body["position"].as_u64().unwrap());
    }
    let len = s.log_len().await;
    let (status, data) = w.server.terminate();
    assert!(status.success());
    Stopped {
        data,
        key,
        old_head,
        reports,
        len,
    }
}

#[tokio::test]
async fn audit_subcommands_print_heads_and_proofs_that_check_out_by_hand() {
    let st = stopped().await;
    let data = st.data.path();
    let key = json(&casebook(&["audit", "key", "--data", path(data)]));
    assert_eq!(unhex::<32>(&key["public_key"]), st.key);

    let head = json(&casebook(&["audit", "head", "--data", path(data)]));
    assert_eq!(head["size"].as_u64(), Some(st.len));
    assert!(head_verifies(&head, &st.key));
    let root: Hash = unhex(&head["root_hash"]);

    let (position, n) = (st.reports[1], st.len.to_string());
    let proof = json(&casebook(&[
        "audit",
        "inclusion",
        "--data",
        path(data),
        "--position",
        &position.to_string(),
        "--size",
        &n,
    ]));
    let leaf: Hash = unhex(&proof["leaf_hash"]);
    let audit_path = hashes(&proof["audit_path"]);
    assert!(inclusion_verifies(
        &leaf,
        position,
        st.len,
        &audit_path,
        &root
    ));
    let whole = json(&casebook(&[
        "audit",
        "inclusion",
        "--data",
        path(data),
        "--position",
        "0",
    ]));
    assert_eq!(whole["tree_size"].as_u64(), Some(st.len));

    let m = st.old_head["size"].as_u64().unwrap();
    let proof = json(&casebook(&[
        "audit",
        "consistency",
        "--data",
        path(data),
        "--from",
        &m.to_string(),
        "--to",
        &n,
    ]));
    let old_root: Hash = unhex(&st.old_head["root_hash"]);
    let steps = hashes(&proof["proof"]);
    assert!(consistency_verifies(m, st.len, &old_root, &root, &steps));

    let (len, beyond) = (st.len, st.len + 1);
    all_refused(
        data,
        &[
            (words("audit inclusion"), 2),
            (words("audit inclusion --position abc"), 2),
            (words("audit inclusion --position -1"), 2),
            (words("audit inclusion --position 0 --size 0"), 2),
            (words("audit inclusion --position 3 --size 3"), 2),
            (words(&format!("audit inclusion --position {len}")), 4),
            (
                words(&format!("audit inclusion --position 0 --size {beyond}")),
                4,
            ),
            (words("audit consistency --to 3"), 2),
            (words("audit consistency --from 1"), 2),
            (words("audit consistency --from 0 --to 3"), 2),
            (words("audit consistency --from 4 --to 3"), 2),
            (words("audit consistency --from 1 --to x"), 2),
            (
                words(&format!("audit consistency --from 1 --to {beyond}")),
                4,
            ),
            (words("audit head --size 3"), 2),
            (words("audit seal"), 2),
        ],
    );
    let nowhere = data.join("nowhere");
    let missing = casebook(&["audit", "head", "--data", path(&nowhere)]);
    refused(&missing, 3, &["audit head (no data directory)"]);
    assert!(!nowhere.exists(), "no log is made where there was none");
}

/// The figures' total of cases received, from a replay's `figures.json`.
fn received(out: &Path) -> u64 {
    let text = std::fs::read_to_string(out.join("figures.json")).unwrap();
    let reports: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 1, "one root unit");
    reports[0]["total"]["received"].as_u64().unwrap()
}

/// The `recorded_at` of each exported event, in position order.
fn recorded_times(data: &Path, root: &Path) -> Vec<chrono::DateTime<chrono::Utc>> {
    let file = root.join("export.jsonl");
    succeeded(&casebook(&[
        "export",
        "--data",
        path(data),
        "--out",
        path(&file),
    ]));
    let text = std::fs::read_to_string(&file).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|event| event["recorded_at"].as_str().map(str::to_owned))
        .map(|time| time.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn replay_builds_the_views_as_they_stood_and_only_reads_the_source() {
    let st = stopped().await;
    let data = st.data.path();
    let scratch = tempfile::tempdir().unwrap();
    let times = recorded_times(data, scratch.path());
    let (source, log) = (snapshot(data), log_state(data));

    let out = scratch.path().join("at-second-report");
    let until = st.reports[1].to_string();
    let printed = succeeded(&casebook(&[
        "replay",
        "--data",
        path(data),
        "--until",
        &until,
        "--out",
        path(&out),
    ]));
    let events = st.reports[1] + 1;
    assert!(
        printed.starts_with(&format!(
            "replayed {events} events (positions 0 to {until})"
        )),
        "{printed}"
    );
    for view in ["cases", "figures", "households", "members", "search"] {
        let line = format!("view {view}: {events} events applied, running");
        assert!(printed.contains(&line), "{printed}");
    }
    assert_eq!(received(&out), 2, "two cases were reported by then");
    assert!(out.join("log").is_dir() && out.join("views").is_dir());
    let touched = changed(&source, &snapshot(data));
    assert!(touched.is_empty(), "the source is only read: {touched:?}");
    assert_eq!(log_state(data), log, "the source log is as it was");

    let time = times[st.reports[0] as usize];
    let by_time = scratch.path().join("at-first-report");
    let printed = succeeded(&casebook(&[
        "replay",
        "--data",
        path(data),
        "--until",
        &time.to_rfc3339(),
        "--out",
        path(&by_time),
    ]));
    let expected = times.iter().filter(|t| **t <= time).count();
    assert!(
        printed.starts_with(&format!("replayed {expected} events")),
        "{printed}"
    );
    assert_eq!(received(&by_time), 1, "one case was reported by then");

    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let fresh = scratch.path().join("fresh");
    let first = times[0] - chrono::TimeDelta::seconds(1);
    let (len, fresh_out, used) = (st.len, path(&fresh), path(&out));
    all_refused(
        data,
        &[
            (words(&format!("replay --until 1 --out {used}")), 4),
            (words(&format!("replay --until {len} --out {fresh_out}")), 4),
            (
                words(&format!(
                    "replay --until {} --out {fresh_out}",
                    first.to_rfc3339()
                )),
                4,
            ),
            (
                words(&format!("replay --until yesterday --out {fresh_out}")),
                2,
            ),
            (words(&format!("replay --until -3 --out {fresh_out}")), 2),
            (words(&format!("replay --out {fresh_out}")), 2),
            (words("replay --until 1"), 2),
        ],
    );
    assert!(!fresh.exists(), "no --out is made by a refused replay");
    assert!(std::fs::read_dir(&empty).unwrap().next().is_none());
}

fn status(data: &Path) -> Vec<Value> {
    let printed = json(&casebook(&[
        "projections",
        "status",
        "--json",
        "--data",
        path(data),
    ]));
    printed.as_array().unwrap().clone()
}

fn generation(views: &[Value], name: &str) -> u64 {
    let view = views.iter().find(|v| v["name"] == name).unwrap();
    view["generation"].as_u64().unwrap()
}

#[tokio::test]
async fn projections_status_and_rebuild_show_and_repair_each_view() {
    let st = stopped().await;
    let data = st.data.path();
    let before = status(data);
    let names: Vec<&str> = before.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["cases", "figures", "households", "members", "search"]
    );

    let printed = succeeded(&casebook(&["projections", "rebuild", "--data", path(data)]));
    let after = status(data);
    for view in &after {
        let name = view["name"].as_str().unwrap();
        assert!(printed.contains(&format!("rebuilt {name}")), "{printed}");
        assert_eq!(generation(&after, name), generation(&before, name) + 1);
        assert_eq!(view["applied"].as_u64(), Some(st.len), "{view}");
        assert_eq!(view["lag_events"].as_u64(), Some(0), "{view}");
        assert_eq!(view["health"]["state"], "running", "{view}");
    }

    succeeded(&casebook(&[
        "projections",
        "rebuild",
        "figures",
        "--data",
        path(data),
    ]));
    let again = status(data);
    for name in names {
        let rebuilt = u64::from(name == "figures");
        assert_eq!(generation(&again, name), generation(&after, name) + rebuilt);
    }

    let table = succeeded(&casebook(&["projections", "status", "--data", path(data)]));
    let last = (st.len - 1).to_string();
    let cases = table.lines().find(|l| l.starts_with("cases\t")).unwrap();
    let columns: Vec<&str> = cases.split('\t').collect();
    assert_eq!(
        columns[3], last,
        "the checkpoint is the last position: {table}"
    );
    assert_eq!(columns[4], "0", "no lag: {table}");
    assert_eq!(columns[6], "running", "{table}");

    let views = view_state(data);
    all_refused(
        data,
        &[
            (words("projections rebuild nope"), 2),
            (words("projections rebuild cases figures"), 2),
            (words("projections status extra"), 2),
            (words("projections status --verbose"), 2),
        ],
    );
    assert_eq!(view_state(data), views, "the views are as they were");
}

/// Each view's generation, applied count and health (not its lag in
/// milliseconds, which moves with the clock).
fn view_state(data: &Path) -> Vec<(Value, Value, Value, Value)> {
    status(data)
        .into_iter()
        .map(|v| {
            let field = |name: &str| v[name].clone();
            (
                field("name"),
                field("generation"),
                field("applied"),
                field("health"),
            )
        })
        .collect()
}

#[test]
fn status_of_a_directory_never_served_shows_empty_views_and_makes_none() {
    let data = tempfile::tempdir().unwrap();
    succeeded(&casebook(&["init", "--data", path(data.path())]));
    let before = snapshot(data.path());
    let views = status(data.path());
    assert_eq!(views.len(), 5);
    for view in &views {
        assert_eq!(view["applied"].as_u64(), Some(0), "{view}");
        assert!(view["lag_events"].as_u64().unwrap() > 0, "{view}");
    }
    let touched = changed(&before, &snapshot(data.path()));
    assert!(touched.is_empty(), "status changes nothing: {touched:?}");
    assert!(!data.path().join("views").exists());
}
