//! The `casebook` server under test: the real binary, started with
//! `serve --demo` on loopback in a temporary data directory, and stopped
//! (and its directory removed) when dropped.
//!
//! The binary is the one built beside `casebook-bench` (same target
//! directory and profile: `cargo build --release -p casebook -p
//! casebook-bench`), or the one `--server` names. We do not build it from
//! here: a build inside a benchmark would take minutes and share the CPU.

use crate::error::{BenchError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to seed the demo and listen.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Rate limit given to the server: far above anything 64 connections reach,
/// so the benchmark measures the server, not its limiter.
const UNLIMITED_RATE: &str = "10000000";

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The demo's tokens by role (`member`, `commune_committee`, ...).
    pub tokens: HashMap<String, String>,
    /// Removed after the server has stopped (fields drop in order).
    _data: tempfile::TempDir,
}

/// The `casebook` binary beside our own executable.
pub fn default_binary() -> Result<PathBuf> {
    let own = std::env::current_exe()
        .map_err(|source| BenchError::io("finding casebook-bench's own path", source))?;
    let dir = own.parent().unwrap_or_else(|| Path::new("."));
    Ok(dir.join("casebook"))
}

impl Server {
    /// Starts `binary serve --demo` in a new directory under `parent`.
    pub async fn start(binary: &Path, parent: &Path) -> Result<Server> {
        if !binary.is_file() {
            return Err(BenchError::Server(format!(
                "no casebook binary at {}: build it with `cargo build --release -p casebook` \
                 (it is looked for beside casebook-bench) or pass --server PATH",
                binary.display()
            )));
        }
        let data = tempfile::Builder::new()
            .prefix("casebook-bench-http-")
            .tempdir_in(parent)
            .map_err(|source| BenchError::io("creating the server's data directory", source))?;
        let mut child = Command::new(binary)
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("RUST_LOG", "error")
            .env("CASEBOOK_LIMITS_RATE_PER_SECOND", UNLIMITED_RATE)
            .env("CASEBOOK_LIMITS_RATE_BURST", UNLIMITED_RATE)
            .current_dir(data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::io("starting the casebook server", source))?;
        let started = tokio::time::timeout(START_TIMEOUT, read_banner(&mut child)).await;
        let (base, tokens) = match started {
            Ok(banner) => banner?,
            Err(_) => {
                return Err(BenchError::Server(format!(
                    "the server did not listen within {} s",
                    START_TIMEOUT.as_secs()
                )))
            }
        };
        tracing::info!(%base, binary = %binary.display(), "server started with the demo data");
        Ok(Server {
            child,
            base,
            tokens,
            _data: data,
        })
    }

    /// The demo token of `role`.
    pub fn token(&self, role: &str) -> Result<&str> {
        self.tokens
            .get(role)
            .map(String::as_str)
            .ok_or_else(|| BenchError::Server(format!("the demo printed no {role} token")))
    }

    /// Stops the server and waits for it, before the directory goes.
    pub async fn stop(mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .map_err(|source| BenchError::io("stopping the casebook server", source))
    }
}

/// Reads stdout up to `listening on ...`: the address and the tokens, then
/// keeps draining stdout so the server never blocks on a full pipe.
async fn read_banner(child: &mut Child) -> Result<(String, HashMap<String, String>)> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Server("no stdout from the server".to_owned()))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut tokens = HashMap::new();
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|source| BenchError::io("reading the server's output", source))?
            .ok_or_else(|| {
                BenchError::Server("the server exited before listening (see its stderr)".to_owned())
            })?;
        if let Some((role, token)) = token_line(&line) {
            tokens.insert(role, token);
        }
        if let Some(base) = line.strip_prefix("listening on ") {
            let base = base.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((base, tokens));
        }
    }
}

/// `token ROLE (PERSON_ID): cbk_...` → (ROLE, cbk_...).
fn token_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("token ")?;
    let (role, rest) = rest.split_once(' ')?;
    let (_, secret) = rest.split_once(": ")?;
    Some((role.to_owned(), secret.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::token_line;

    #[test]
    fn token_lines_give_role_and_secret() {
        let line = "token commune_committee (48541d36-230a-5dce-8d3c-5076a5de24ce): cbk_0da7";
        assert_eq!(
            token_line(line),
            Some(("commune_committee".to_owned(), "cbk_0da7".to_owned()))
        );
        assert_eq!(token_line("password member (x): member abc"), None);
        assert_eq!(token_line("listening on http://127.0.0.1:1"), None);
    }
}
