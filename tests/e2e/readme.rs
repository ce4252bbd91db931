//! The README's curl tour, run as written against a fresh server, so the
//! README cannot drift from what the API does.

use std::process::Command;

use crate::server::Server;

/// The first `sh` block after the tour's heading.
fn tour_script() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("## A tour with curl")
        .expect("the tour heading");
    let block = &readme[start..];
    let open = block.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let close = open + block[open..].find("```").expect("its end");
    block[open..close].to_owned()
}

#[tokio::test]
async fn the_readme_tour_walks_a_case_to_closure() {
    let s = Server::start();
    let script = tour_script()
        .lines()
        .filter(|line| !line.starts_with("export CB="))
        .collect::<Vec<_>>()
        .join("\n");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("CB", &s.base)
        .env("ROOT", &s.root_unit)
        .env("ADMIN", &s.admin_token)
        .output()
        .expect("runs bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains("urn:casebook:problem"),
        "a step failed:\n{stdout}"
    );
    let case = "00000000-0000-4000-8000-000000000008";
    let history = s
        .get(&format!("/v1/concerns/{case}/history"), &s.admin_token)
        .await;
    assert_eq!(
        history.status.as_u16(),
        404,
        "an administrator sees no case"
    );
    let last = stdout.lines().last().unwrap_or_default();
    let history: serde_json::Value = serde_json::from_str(last).expect("history JSON");
    let types: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "concern.reported",
            "concern.acknowledged",
            "concern.assigned",
            "concern.action_recorded",
            "concern.resolved",
            "concern.feedback_recorded",
            "concern.closed"
        ]
    );
}
