//! Schemathesis (from PyPI; `.ci/run` installs it) against the running
//! server's `/openapi.json`: thousands of generated requests, including
//! stateful sequences that follow the document's links, with no 5xx answer
//! and no answer outside its documented schema.
//!
//! Excluded: the live feed (it never ends), and the two operations that
//! would lock the test out of its own server (revoking tokens, ending the
//! administrator's role); both have their own end-to-end tests.

use std::process::Command;

use crate::server::Server;
use crate::world::world_on;

#[tokio::test]
async fn generated_requests_get_no_server_error_and_match_the_schema() {
    let found = Command::new("st").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "schemathesis is not installed: `pip install schemathesis` (as .ci/run does)"
    );
    let s = Server::start_with_env(&[
        ("CASEBOOK_LIMITS_RATE_PER_SECOND", "1000000"),
        ("CASEBOOK_LIMITS_RATE_BURST", "1000000"),
    ]);
    let w = world_on(s).await;
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new("st")
        .current_dir(scratch.path())
        .args(["run", &format!("{}/openapi.json", w.server.base)])
        .args([
            "-H",
            &format!("Authorization: Bearer {}", w.server.admin_token),
        ])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "10", "--seed", "20261123"])
        .args(["--exclude-path", "/v1/feed", "--exclude-method", "DELETE"])
        .args([
            "--exclude-path",
            "/v1/people/{person_id}/roles/{grant_id}/end",
        ])
        .args([
            "--request-timeout",
            "10",
            "--generation-database",
            ":memory:",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("passed"), "{report}");
}
