//! Starting the real binary and talking to it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The `casebook` binary, built once per test run with the tests' profile.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("Cargo.toml");
            escargot::CargoBuild::new()
                .manifest_path(manifest)
                .package("casebook")
                .bin("casebook")
                .current_release()
                .current_target()
                .run()
                .expect("builds the casebook binary")
                .path()
                .to_path_buf()
        })
        .clone()
}

/// A running server on a fresh data directory.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The bootstrap administrator's token.
    pub admin_token: String,
    /// The root unit made at bootstrap.
    pub root_unit: String,
    /// The data directory (kept until the server is dropped).
    pub data: Option<tempfile::TempDir>,
    client: reqwest::Client,
}

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `Casebook-Position` header.
    pub fn position(&self) -> Option<u64> {
        self.headers
            .get("casebook-position")
            .and_then(|v| v.to_str().ok()?.parse().ok())
    }
}

impl Server {
    /// Starts a server with extra environment variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        Self::start_in(tempfile::tempdir().expect("temp dir"), env, None)
    }

    /// Starts a server on a data directory; `known` gives the admin token
    /// and root unit of a directory bootstrapped before.
    pub fn start_in(
        data: tempfile::TempDir,
        env: &[(&str, &str)],
        known: Option<(String, String)>,
    ) -> Server {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("starts casebook");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut token, mut root) = known.unzip();
        let mut base = None;
        while base.is_none() {
            let line = lines.next().expect("a line").expect("reads");
            if let Some(t) = line.strip_prefix("admin token (shown once, keep it safe): ") {
                token = Some(t.to_owned());
            }
            if let Some(r) = line.strip_prefix("bootstrapped: root unit ") {
                root = Some(r.to_owned());
            }
            if let Some(b) = line.strip_prefix("listening on ") {
                base = Some(b.to_owned());
            }
        }
        Server {
            child,
            base: base.expect("address"),
            admin_token: token.expect("bootstrap token"),
            root_unit: root.expect("root unit"),
            data: Some(data),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// Starts a server with the default configuration.
    pub fn start() -> Server {
        Self::start_with_env(&[])
    }

    /// Sends a request; `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("sends");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(&self, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sends");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(&body), &[])
            .await
    }

    /// GET.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    /// The number of durable events, from `/readyz`.
    pub async fn log_len(&self) -> u64 {
        let answer = self.call(Method::GET, "/readyz", None, None, &[]).await;
        answer.body["log_events"].as_u64().expect("log_events")
    }

    /// Sends SIGTERM, waits for the exit status, and hands back the data directory.
    pub fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("waits");
        (status, self.data.take().expect("data dir"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts a problem answer: status, `application/problem+json`, and the
/// field when one is named.
#[track_caller]
pub fn assert_problem(answer: &Answer, status: u16, field: Option<&str>) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(
        content_type, "application/problem+json",
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["status"].as_u64(), Some(u64::from(status)));
    assert!(answer.body["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("urn:casebook:problem:")));
    if let Some(field) = field {
        assert_eq!(
            answer.body["field"].as_str(),
            Some(field),
            "{:?}",
            answer.body
        );
    }
}
