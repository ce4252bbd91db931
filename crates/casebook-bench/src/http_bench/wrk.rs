//! Driving `wrk` (the load generator from Debian's `wrk` package) and
//! reading its figures back.
//!
//! We use a real, separate load generator rather than a client written here
//! so that the figures are those any operator can reproduce with the same
//! tool, and so that the client's own cost is not ours to optimise. Its
//! output is the human one of `wrk --latency`; [`parse`] reads it (a unit
//! test holds a captured sample, since CI does not install `wrk`).

use crate::error::{BenchError, Result};
use std::path::Path;
use std::time::Duration;

/// Per-request timeout given to wrk: long enough that a slow answer counts
/// in the latency rather than as a timeout.
const REQUEST_TIMEOUT: &str = "10s";

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrkFigures {
    /// Requests completed (any status).
    pub requests: u64,
    /// Seconds the run lasted, as wrk measured it.
    pub seconds: f64,
    /// wrk's own requests/s (any status).
    pub requests_per_s: f64,
    /// Answers with a status other than 2xx or 3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 90th percentile latency, ms.
    pub p90_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

impl WrkFigures {
    /// Successful (2xx/3xx) answers per second.
    pub fn ok_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests.saturating_sub(self.non_2xx) as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One load: a URL, its headers and optionally a Lua script.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    /// Full URL.
    pub url: String,
    /// `Name: value` headers.
    pub headers: Vec<String>,
    /// A Lua script (`-s`), for POST bodies.
    pub script: Option<&'a Path>,
    /// Open connections.
    pub connections: usize,
    /// wrk's threads.
    pub threads: usize,
    /// How long to run.
    pub duration: Duration,
}

/// Fails with a one-line hint when wrk is not installed.
pub async fn check_installed() -> Result<()> {
    let found = tokio::process::Command::new("wrk")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    match found {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(BenchError::Wrk(
            "wrk not found on PATH: install it with `apt-get install wrk`".to_owned(),
        )),
        Err(source) => Err(BenchError::io("running wrk --version", source)),
    }
}

/// Runs wrk with `--latency` and parses what it prints.
pub async fn run(load: &Load<'_>) -> Result<WrkFigures> {
    let mut command = tokio::process::Command::new("wrk");
    command
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .args(["--latency", "--timeout", REQUEST_TIMEOUT]);
    for header in &load.headers {
        command.arg("-H").arg(header);
    }
    if let Some(script) = load.script {
        command.arg("-s").arg(script);
    }
    command.arg(&load.url);
    let output = command
        .output()
        .await
        .map_err(|source| BenchError::io("running wrk", source))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(BenchError::Wrk(format!(
            "wrk exited with {}: {}{}",
            output.status,
            stderr.trim(),
            stdout.trim()
        )));
    }
    parse(&stdout).map_err(|message| BenchError::Wrk(format!("{message} in:\n{stdout}")))
}

/// The Lua script that makes every request a new report: the same body with
/// a command id unique to this run, thread and request, so each one is a
/// new concern and a durable append (never an idempotent replay).
///
/// The body is `body_before`, the id, then `body_after`; `run` is 8 hex
/// digits unique to this run.
pub fn report_script(body_before: &str, body_after: &str, run: &str) -> String {
    format!(
        r#"-- Written by casebook-bench http: one new concern per request.
local counter = 0
local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
local before = [==[{body_before}]==]
local after = [==[{body_after}]==]
function request()
  counter = counter + 1
  local id = string.format("{run}-%04x-4000-8000-%012x", thread_id, counter)
  return wrk.format("POST", nil, nil, before .. id .. after)
end
"#
    )
}

/// Reads the figures out of `wrk --latency`'s output.
pub fn parse(output: &str) -> std::result::Result<WrkFigures, String> {
    let mut figures = WrkFigures {
        requests: 0,
        seconds: 0.0,
        requests_per_s: 0.0,
        non_2xx: 0,
        socket_errors: 0,
        p50_ms: f64::NAN,
        p90_ms: f64::NAN,
        p99_ms: f64::NAN,
    };
    let mut found_total = false;
    let mut found_rate = false;
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => figures.p50_ms = duration_ms(value)?,
            ["90%", value] => figures.p90_ms = duration_ms(value)?,
            ["99%", value] => figures.p99_ms = duration_ms(value)?,
            [count, "requests", "in", seconds, ..] => {
                figures.requests = number(count)?;
                figures.seconds = duration_ms(seconds.trim_end_matches(','))? / 1000.0;
                found_total = true;
            }
            ["Requests/sec:", rate] => {
                figures.requests_per_s = float(rate)?;
                found_rate = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => figures.non_2xx = number(count)?,
            ["Socket", "errors:", rest @ ..] => figures.socket_errors = socket_errors(rest)?,
            _ => {}
        }
    }
    if !found_total || !found_rate {
        return Err("no request count or rate".to_owned());
    }
    if figures.p99_ms.is_nan() || figures.p50_ms.is_nan() || figures.p90_ms.is_nan() {
        return Err("no latency distribution (was --latency given?)".to_owned());
    }
    Ok(figures)
}

/// `connect 0, read 1, write 0, timeout 12` → 13.
fn socket_errors(words: &[&str]) -> std::result::Result<u64, String> {
    words
        .chunks(2)
        .map(|pair| match pair {
            [_, count] => number(count.trim_end_matches(',')),
            _ => Err(format!("socket errors: {words:?}")),
        })
        .sum()
}

/// A wrk duration (`812.00us`, `1.25ms`, `2.01s`, `1.00m`) in milliseconds.
fn duration_ms(text: &str) -> std::result::Result<f64, String> {
    const UNITS: [(&str, f64); 5] = [
        ("us", 0.001),
        ("ms", 1.0),
        ("s", 1000.0),
        ("m", 60_000.0),
        ("h", 3_600_000.0),
    ];
    UNITS
        .iter()
        .find_map(|(unit, scale)| {
            let value = text.strip_suffix(unit)?;
            value.parse::<f64>().ok().map(|value| value * scale)
        })
        .ok_or_else(|| format!("not a duration: {text:?}"))
}

fn number(text: &str) -> std::result::Result<u64, String> {
    text.parse()
        .map_err(|_| format!("not a whole number: {text:?}"))
}

fn float(text: &str) -> std::result::Result<f64, String> {
    text.parse().map_err(|_| format!("not a number: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::{duration_ms, parse, report_script};

    /// `wrk --latency` against `POST /v1/concerns` (a debug server), as printed.
    const SAMPLE: &str = "Running 3s test @ http://127.0.0.1:18931/v1/concerns
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    55.95ms   46.42ms   1.37s    81.81%
    Req/Sec   649.85    353.19     1.37k    69.49%
  Latency Distribution
     50%  842.47us
     75%   72.92ms
     90%  112.55ms
     99%    1.23s
  3916 requests in 3.09s, 1.29MB read
  Socket errors: connect 0, read 2, write 0, timeout 12
  Non-2xx or 3xx responses: 3666
Requests/sec:   1266.36
Transfer/sec:    426.50KB
";

    #[test]
    fn parse_reads_rates_percentiles_and_errors() {
        let figures = parse(SAMPLE).unwrap();
        assert_eq!(figures.requests, 3916);
        assert!((figures.seconds - 3.09).abs() < 1e-9);
        assert!((figures.requests_per_s - 1266.36).abs() < 1e-9);
        assert!((figures.p50_ms - 0.84247).abs() < 1e-9);
        assert!((figures.p90_ms - 112.55).abs() < 1e-9);
        assert!((figures.p99_ms - 1230.0).abs() < 1e-9);
        assert_eq!(figures.non_2xx, 3666);
        assert_eq!(figures.socket_errors, 14);
        assert!((figures.ok_per_s() - 250.0 / 3.09).abs() < 1e-9);
    }

    #[test]
    fn parse_refuses_output_without_the_latency_distribution() {
        let without: String = SAMPLE
            .lines()
            .filter(|line| !line.trim_start().starts_with("99%"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse(&without).unwrap_err().contains("--latency"));
        assert!(parse("wrk: connection refused").is_err());
    }

    #[test]
    fn durations_carry_their_unit() {
        assert_eq!(duration_ms("500.00us"), Ok(0.5));
        assert_eq!(duration_ms("2.00s"), Ok(2000.0));
        assert_eq!(duration_ms("1.00m"), Ok(60_000.0));
        assert!(duration_ms("12.3k").is_err());
    }

    #[test]
    fn the_script_makes_a_new_command_id_per_request() {
        let script = report_script("{\"command_id\":\"", "\"}", "0a1b2c3d");
        assert!(script.contains("[==[{\"command_id\":\"]==]"));
        assert!(script.contains("\"0a1b2c3d-%04x-4000-8000-%012x\", thread_id, counter"));
        assert!(script.contains("counter = counter + 1"));
    }
}
