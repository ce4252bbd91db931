//! `casebook-bench http`: the whole server over HTTP, driven by `wrk` with
//! 64 connections on loopback, on the demo province.
//!
//! Three loads, one after the other, each against the same server:
//! - commands: `POST /v1/concerns` as the demo member, every request a new
//!   case (a unique command id), so every answer is a durable append;
//! - reads: `GET /v1/concerns/{id}` of one case, as the member;
//! - list: `GET /v1/concerns?unit=<commune>` as the commune committee (the
//!   first page of the commune's cases, from the views).
//!
//! Before and after the commands the log position is taken (one report
//! each), so the report shows how many events the load really appended.
//! Around each load the machine's CPU counters are read, and before the
//! server starts and after it stops a fixed piece of arithmetic is timed
//! on every core (`host`), so the report shows how idle the cores were and
//! how fast.
//!
//! # Layout
//! - `server`: starts and stops the real `casebook` binary.
//! - `setup`: the ids the loads need, asked through the API.
//! - `wrk`: runs wrk and parses its output.

mod server;
mod setup;
mod wrk;

use crate::error::{BenchError, Result};
use crate::host;
use server::Server;
use std::path::PathBuf;
use std::time::Duration;
pub use wrk::WrkFigures;

/// Open connections, as the issue asks.
const CONNECTIONS: usize = 64;
/// Seconds per load in a full run.
const DURATION_FULL: Duration = Duration::from_secs(30);
/// The same with `--quick`.
const DURATION_QUICK: Duration = Duration::from_secs(3);
/// Stands for the command id in the report body given to the Lua script.
const ID_MARK: &str = "@@COMMAND_ID@@";

/// A validated run of `casebook-bench http`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Whether this is the short run.
    pub quick: bool,
    /// How long each load runs.
    pub duration: Duration,
    /// Open connections.
    pub connections: usize,
    /// wrk's threads: one per core, at most the connections.
    pub threads: usize,
    /// Where the server's data directory goes.
    pub dir: PathBuf,
    /// The `casebook` binary; `None` for the one beside ours.
    pub server: Option<PathBuf>,
}

impl Plan {
    /// The plan for `--quick` or a full run.
    pub fn new(quick: bool, dir: Option<PathBuf>, server: Option<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Plan {
            quick,
            duration: if quick { DURATION_QUICK } else { DURATION_FULL },
            connections: CONNECTIONS,
            threads: cores.clamp(1, CONNECTIONS),
            dir: dir.unwrap_or_else(std::env::temp_dir),
            server,
        }
    }
}

/// One load as measured: wrk's figures and the machine's idle CPU meanwhile.
#[derive(Debug, Clone)]
pub struct LoadFigures {
    /// What wrk measured.
    pub wrk: WrkFigures,
    /// The share of the machine's CPU time left idle during the load, per
    /// cent; `None` where the kernel does not count it.
    pub idle_percent: Option<f64>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct HttpFigures {
    /// The plan it ran.
    pub plan: Plan,
    /// The binary that served.
    pub binary: PathBuf,
    /// The host probe before the server started and after it stopped, ms
    /// (`host`).
    pub probe_ms: (f64, f64),
    /// The three loads.
    pub loads: Loads,
}

/// The three loads and the log around them.
#[derive(Debug, Clone)]
pub struct Loads {
    /// Events in the log when the loads started.
    pub demo_events: u64,
    /// `POST /v1/concerns`.
    pub commands: LoadFigures,
    /// Events the command load appended (log positions before and after).
    pub commands_appended: u64,
    /// `GET /v1/concerns/{id}`.
    pub reads: LoadFigures,
    /// `GET /v1/concerns?unit=<commune>`.
    pub list: LoadFigures,
}

/// Starts the server, runs the three loads, stops the server.
pub async fn run(plan: &Plan) -> Result<HttpFigures> {
    wrk::check_installed().await?;
    let binary = match &plan.server {
        Some(path) => path.clone(),
        None => server::default_binary()?,
    };
    // The probe runs with no server up, so that it times the host alone.
    let probe_before = probe(plan).await?;
    let server = Server::start(&binary, &plan.dir).await?;
    let measured = measure(plan, &server).await;
    server.stop().await?;
    let loads = measured?;
    Ok(HttpFigures {
        plan: plan.clone(),
        binary,
        probe_ms: (probe_before, probe(plan).await?),
        loads,
    })
}

async fn measure(plan: &Plan, server: &Server) -> Result<Loads> {
    let fixture = setup::prepare(server).await?;
    let client = reqwest::Client::new();
    let (_, before) = setup::report(&client, server, &fixture.household).await?;
    let commands = commands(plan, server, &fixture).await?;
    let (_, after) = setup::report(&client, server, &fixture.household).await?;
    let member = server.token("member")?;
    let reads = get_load(
        plan,
        server,
        &format!("/v1/concerns/{}", fixture.concern),
        member,
    );
    let reads = run_load(&reads, "reads").await?;
    let committee = server.token("commune_committee")?;
    let list = get_load(
        plan,
        server,
        &format!("/v1/concerns?unit={}", fixture.commune),
        committee,
    );
    let list = run_load(&list, "list").await?;
    Ok(Loads {
        demo_events: before,
        commands,
        commands_appended: after.saturating_sub(before + 1),
        reads,
        list,
    })
}

/// The command load: a Lua script makes each request a new report.
async fn commands(plan: &Plan, server: &Server, fixture: &setup::Fixture) -> Result<LoadFigures> {
    let body = setup::report_body(ID_MARK, &fixture.household).to_string();
    let (before, after) = body
        .split_once(ID_MARK)
        .ok_or_else(|| BenchError::Wrk("the report body lost its id mark".to_owned()))?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let script = wrk::report_script(before, after, &run_id[..8]);
    let file = tempfile::Builder::new()
        .prefix("casebook-bench-report-")
        .suffix(".lua")
        .tempfile_in(&plan.dir)
        .map_err(|source| BenchError::io("creating the wrk script", source))?;
    std::fs::write(file.path(), script)
        .map_err(|source| BenchError::io("writing the wrk script", source))?;
    let mut load = get_load(plan, server, setup::CONCERNS, server.token("member")?);
    load.headers
        .push("Content-Type: application/json".to_owned());
    load.script = Some(file.path());
    run_load(&load, "commands").await
}

/// Runs one load with wrk, reading the machine's CPU counters around it.
async fn run_load(load: &wrk::Load<'_>, name: &str) -> Result<LoadFigures> {
    let (wrk, idle_percent) = host::idle_during(wrk::run(load)).await;
    let wrk = wrk?;
    tracing::info!(
        load = name,
        ok_per_s = wrk.ok_per_s(),
        p99_ms = wrk.p99_ms,
        idle_percent,
        "load done"
    );
    Ok(LoadFigures { wrk, idle_percent })
}

/// The host probe on as many threads as wrk has (one per core).
async fn probe(plan: &Plan) -> Result<f64> {
    let cores = plan.threads;
    let ms = tokio::task::spawn_blocking(move || host::probe_ms(cores)).await?;
    tracing::info!(probe_ms = ms, "host probed");
    Ok(ms)
}

fn get_load<'a>(plan: &Plan, server: &Server, path: &str, token: &str) -> wrk::Load<'a> {
    wrk::Load {
        url: format!("{}{path}", server.base),
        headers: vec![format!("Authorization: Bearer {token}")],
        script: None,
        connections: plan.connections,
        threads: plan.threads,
        duration: plan.duration,
    }
}
