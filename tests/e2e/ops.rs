//! Operations and the command line: health, readiness, metrics, OpenAPI,
//! docs, tokens over the API and the CLI, the rate limit, a bad
//! configuration, unknown routes, and graceful shutdown.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::server::{assert_problem, binary, Server};
use crate::world::world;

#[tokio::test]
async fn health_readiness_metrics_openapi_and_docs_answer() {
    let s = Server::start();
    let health = s.call(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.body["status"], "ok");
    let ready = s.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.body["ready"], true);
    s.get("/v1/me", &s.admin_token).await;
    let metrics = s.call(Method::GET, "/metrics", None, None, &[]).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("casebook_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/me\""));
    // The bootstrap appended the root unit and the administrator.
    let events_line = text
        .lines()
        .find(|l| l.starts_with("casebook_log_events "))
        .unwrap();
    assert_ne!(events_line, "casebook_log_events 0", "{text}");
    assert!(text.contains("casebook_log_group_commits ") && text.contains("casebook_log_syncs "));
    let openapi = s.call(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(openapi.body["openapi"], "3.1.0");
    assert!(openapi.body["paths"]["/v1/concerns/{concern_id}/acknowledge"]["post"].is_object());
    let docs = s.call(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert!(docs.body.as_str().unwrap().contains("swagger"));
    let unknown = s.get("/v1/nothing", &s.admin_token).await;
    assert_problem(&unknown, 404, None);
    let wrong_method = s
        .call(Method::DELETE, "/v1/me", Some(&s.admin_token), None, &[])
        .await;
    assert_problem(&wrong_method, 405, None);
    let request_id = s.call(Method::GET, "/healthz", None, None, &[]).await;
    assert!(request_id.headers.get("x-request-id").is_some());
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_through_the_api() {
    let w = world().await;
    let s = &w.server;
    let created = s
        .post(
            "/v1/tokens",
            w.token("admin"),
            json!({"person_id": w.member_1, "label": "điện thoại", "expires_in_days": 7}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let token_id = created.body["record"]["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.get("/v1/me", &token).await.status.as_u16(), 200);
    let list = s.get("/v1/tokens", w.token("admin")).await;
    let listed = list.body.as_array().unwrap();
    assert!(listed.iter().any(|r| r["token_id"] == token_id.as_str()));
    assert!(
        !list.body.to_string().contains(&token),
        "a secret was listed"
    );
    let revoked = s
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{token_id}"),
            Some(w.token("admin")),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status.as_u16(), 200);
    assert_problem(&s.get("/v1/me", &token).await, 401, None);
    assert_problem(&s.get("/v1/me", "cbk_not-a-token").await, 401, None);
    let bad_days = s
        .post(
            "/v1/tokens",
            w.token("admin"),
            json!({"person_id": w.member_1, "label": "x", "expires_in_days": 0}),
        )
        .await;
    assert_problem(&bad_days, 422, Some("expires_in_days"));
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let s = Server::start_with_env(&[
        ("CASEBOOK_LIMITS_RATE_PER_SECOND", "1"),
        ("CASEBOOK_LIMITS_RATE_BURST", "3"),
    ]);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(s.get("/v1/me", &s.admin_token).await);
    }
    let limited = statuses
        .iter()
        .find(|a| a.status.as_u16() == 429)
        .expect("a 429");
    assert_problem(limited, 429, None);
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_the_log_reopens_with_everything() {
    let s = Server::start();
    let known = (s.admin_token.clone(), s.root_unit.clone());
    let unit = s
        .post(
            "/v1/units",
            &known.0,
            json!({"kind": "post", "name": "Đồn Biên phòng Cù Lao Dung", "parent_id": known.1}),
        )
        .await;
    assert_eq!(unit.status.as_u16(), 200);
    let before = s.log_len().await;
    // A live feed stays open: shutdown must end it rather than wait for it.
    let feed = reqwest::Client::new()
        .get(format!("{}/v1/feed", s.base))
        .bearer_auth(&known.0)
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status().as_u16(), 200);
    let (status, data) = s.terminate();
    drop(feed);
    assert!(status.success(), "{status:?}");
    let s = Server::start_in(data, &[], Some(known));
    assert_eq!(s.log_len().await, before);
    let unit_id = unit.body["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("unit-")
        .unwrap();
    let child = s
        .post(
            "/v1/units",
            &s.admin_token,
            json!({"kind": "commune", "name": "Xã An Thạnh Nam", "parent_id": unit_id}),
        )
        .await;
    assert_eq!(child.status.as_u16(), 200, "{:?}", child.body);
}

#[test]
fn the_cli_bootstraps_manages_tokens_and_refuses_bad_configuration() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(binary())
            .args(args)
            .arg("--data")
            .arg(data.path())
            .current_dir(data.path())
            .output()
            .unwrap()
    };
    let init = run(&["init"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let out = String::from_utf8_lossy(&init.stdout).to_string();
    let admin = out
        .lines()
        .find_map(|l| l.strip_prefix("administrator: "))
        .unwrap()
        .to_owned();
    let again = run(&["init"]);
    assert_eq!(again.status.code(), Some(4));
    let created = run(&["token", "create", "--person", &admin, "--label", "cli"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let out = String::from_utf8_lossy(&created.stdout).to_string();
    let token_id = out
        .lines()
        .find_map(|l| l.strip_prefix("token id: "))
        .unwrap()
        .to_owned();
    let list = run(&["token", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        listed.contains(&token_id) && listed.contains("valid"),
        "{listed}"
    );
    assert!(!listed.contains("cbk_"), "a secret was listed");
    let revoked = run(&["token", "revoke", &token_id]);
    assert!(revoked.status.success());
    let listed = String::from_utf8_lossy(&run(&["token", "list"]).stdout).to_string();
    assert!(listed.contains("revoked"), "{listed}");
    let unknown = run(&[
        "token",
        "create",
        "--person",
        &uuid::Uuid::new_v4().to_string(),
    ]);
    assert_eq!(unknown.status.code(), Some(4));

    let config = data.path().join("bad.toml");
    std::fs::write(&config, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let bad = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr).to_string();
    assert!(
        stderr.contains("server.listen") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    std::fs::write(&config, "[server]\nlisten_typo = 1\n").unwrap();
    let typo = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("listen_typo"));
    std::fs::write(&config, "[log]\ndurability = \"sometimes\"\n").unwrap();
    let mode = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(mode.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mode.stderr).contains("log.durability"));
    let env_mode = Command::new(binary())
        .args(["token", "list", "--data"])
        .arg(data.path())
        .env("CASEBOOK_LOG_BATCH_WINDOW_MS", "0")
        .output()
        .unwrap();
    assert_eq!(env_mode.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&env_mode.stderr).contains("log.batch_window_ms"));
    let bad_arg = run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(bad_arg.status.code(), Some(2));
}

#[tokio::test]
async fn serve_demo_seeds_an_empty_store_and_prints_a_working_token_per_role() {
    let data = tempfile::tempdir().unwrap();
    // A bulk load: seeded in the batched durability mode.
    let seeded = Command::new(binary())
        .args(["demo", "--data"])
        .arg(data.path())
        .env("CASEBOOK_LOG_DURABILITY", "batched")
        .current_dir(data.path())
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let out = String::from_utf8_lossy(&seeded.stdout).to_string();
    let tokens: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("token "))
        .map(|l| {
            let (role, rest) = l.split_once(' ').unwrap();
            (
                role.to_owned(),
                rest.rsplit(": ").next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(tokens.len(), 7, "{out}");
    let again = Command::new(binary())
        .args(["demo", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(4));
    let admin = tokens
        .iter()
        .find(|(r, _)| r == "administrator")
        .unwrap()
        .1
        .clone();
    let s = Server::start_in(data, &[], Some((admin, String::new())));
    assert!(s.log_len().await > 10_000);
    for (role, token) in &tokens {
        let me = s.get("/v1/me", token).await;
        assert_eq!(me.status.as_u16(), 200, "{role}");
        assert!(
            !me.body["roles"].as_array().unwrap().is_empty(),
            "{role} holds a role"
        );
    }
}
