//! The demo province served by the real binary (`casebook serve --demo`),
//! with the usernames, passwords and tokens it prints, and a way to take
//! the server away and bring it back on the same address and data (what
//! a member in a hamlet without coverage lives through).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::server::binary;

/// One demo person: their person id, username, password and API token.
#[derive(Clone, Debug, Default)]
pub struct DemoPerson {
    pub person_id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

/// A demo server and its data directory.
pub struct DemoServer {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    port: u16,
    data: tempfile::TempDir,
    /// By role: `member`, `hamlet_committee`, `auditor`, `administrator`…
    pub people: BTreeMap<String, DemoPerson>,
}

fn spawn(data: &std::path::Path, port: u16) -> (Child, Vec<String>) {
    let mut child = Command::new(binary())
        .args([
            "serve",
            "--demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .current_dir(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts casebook");
    let mut printed = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let done = line.starts_with("listening on ");
            printed.push(line);
            if done {
                return (child, printed);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server stopped before it listened: {printed:?}");
}

/// `token ROLE (PERSON): SECRET` and `password ROLE (PERSON): USERNAME PASSWORD`.
fn parse_people(lines: &[String]) -> BTreeMap<String, DemoPerson> {
    let mut people: BTreeMap<String, DemoPerson> = BTreeMap::new();
    for line in lines {
        let Some((kind, rest)) = line.split_once(' ') else {
            continue;
        };
        if kind != "token" && kind != "password" {
            continue;
        }
        let Some((head, value)) = rest.split_once("): ") else {
            continue;
        };
        let Some((role, person)) = head.split_once(" (") else {
            continue;
        };
        let entry = people.entry(role.to_owned()).or_default();
        entry.person_id = person.to_owned();
        if kind == "token" {
            entry.token = value.to_owned();
        } else if let Some((username, password)) = value.split_once(' ') {
            entry.username = username.to_owned();
            entry.password = password.to_owned();
        }
    }
    people
}

impl DemoServer {
    /// Seeds and serves the demo province on a free loopback port.
    pub fn start() -> DemoServer {
        let data = tempfile::tempdir().expect("data dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let (child, printed) = spawn(data.path(), port);
        let people = parse_people(&printed);
        for role in ["member", "hamlet_committee", "auditor", "administrator"] {
            let person = people.get(role).expect(role);
            assert!(
                !person.password.is_empty() && !person.token.is_empty(),
                "the demo prints a password and a token for {role}: {printed:?}"
            );
        }
        DemoServer {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            data,
            people,
        }
    }

    /// A role's person.
    pub fn person(&self, role: &str) -> &DemoPerson {
        self.people
            .get(role)
            .unwrap_or_else(|| panic!("no demo {role}"))
    }

    /// Stops the server (SIGTERM, graceful): the connection is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill");
            let status = child.wait().expect("waits");
            assert!(status.success(), "the server stopped cleanly: {status}");
        }
    }

    /// Serves the same data on the same address again.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let (child, _) = spawn(self.data.path(), self.port);
        self.child = Some(child);
    }

    /// An API call with a role's token.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        role: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.person(role).token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("sends");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
