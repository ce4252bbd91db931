//! Drives the real `casebook-bench` binary, as a script or CI would: it must
//! finish, exit 0 whatever the figures, and end with the JSON line that
//! `docs/PERFORMANCE.md` is made from. No timed assertions: the figures
//! only have to be there and positive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::process::Command;

/// Keys the last line of `log --quick` must carry, each a positive number.
const LOG_KEYS: [&str; 5] = [
    "appends_per_s_64",
    "sqlite_ratio_64",
    "raw_file_ratio_64",
    "read_all_events_per_s",
    "verify_ratio_sha256",
];

/// Keys the last line of `projections --quick` must carry, each positive.
const PROJECTION_KEYS: [&str; 5] = [
    "rebuild_events_per_s",
    "rebuild_ratio_read_all",
    "lag_p99_ms",
    "list_p99_ms",
    "figures_p99_ms",
];

/// Keys the last line of `audit --quick` must carry, each positive.
const AUDIT_KEYS: [&str; 5] = [
    "export_events_per_s",
    "verify_events_per_s",
    "verify_ratio_sha256",
    "inclusion_proof_p99_ms",
    "sha256_mb_per_s",
];

/// Rows in the append table: 4 stores x 4 writer counts x 2 batch sizes.
const ROWS: usize = 32;

/// Runs `casebook-bench <subcommand> --quick`, checks what every run must
/// show (exit 0, the targets, the required positive figures, nothing left
/// on disk) and answers the last line's JSON.
fn run_quick(subcommand: &str, required: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_casebook-bench"))
        .args([subcommand, "--quick", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {}: {stderr}", output.status);

    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let summary: Value = serde_json::from_str(last).unwrap();
    for key in required {
        let figure = summary[*key].as_f64();
        assert!(
            figure.is_some_and(|figure| figure > 0.0),
            "{key} = {figure:?}"
        );
    }
    assert_eq!(summary["mode"], "quick");
    assert!(stdout.contains("targets"), "the table shows the targets");
    let left = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(left, 0, "the data directories are removed");
    summary
}

#[test]
fn log_quick_ends_with_the_json_figures() {
    let summary = run_quick("log", &LOG_KEYS);
    assert_eq!(summary["rows"].as_array().map(Vec::len), Some(ROWS));
}

#[test]
fn projections_quick_ends_with_the_json_figures() {
    let summary = run_quick("projections", &PROJECTION_KEYS);
    assert_eq!(summary["views"], 5);
}

#[test]
fn audit_quick_ends_with_the_json_figures() {
    let summary = run_quick("audit", &AUDIT_KEYS);
    assert_eq!(summary["events"], 20_000);
    assert_eq!(summary["inclusion_proofs"], 1_000);
}

#[test]
fn http_without_a_server_binary_fails_with_a_one_line_hint() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_casebook-bench"))
        .args(["http", "--quick", "--server"])
        .arg(dir.path().join("no-such-casebook"))
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let hint = stderr.lines().last().unwrap();
    assert!(
        hint.contains("apt-get install wrk") || hint.contains("no casebook binary"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no report without a run");
}
