//! `casebook-bench`: measures casebook beside the plain alternatives a user
//! would otherwise pick, in one run, on this machine's disk.
//!
//! This file only parses arguments, starts the runtime, dispatches to a
//! subcommand and maps failures to an exit code. A missed performance target
//! is not a failure: the benchmark measures, it does not judge.
//!
//! # Layout
//! - `log_bench`: `casebook-bench log`, our event log against a raw file,
//!   raw sled and SQLite (appends, whole-log reads, `verify`).
//! - `projections_bench`: `casebook-bench projections`, the views' rebuild
//!   beside a raw read of the log, their lag under steady appends, and
//!   query latencies.
//! - `audit_bench`: `casebook-bench audit`, the Merkle tree, export,
//!   verify (beside plain SHA-256) and inclusion proofs of `casebook-audit`.
//! - `http_bench`: `casebook-bench http`, the real server over HTTP on
//!   the demo province, driven by `wrk` (commands, reads, case lists).
//! - `host`: how fast the cores are (a probe) and how idle during a load.
//! - `latency`: latency recording and percentiles (hdrhistogram).
//! - `report`: the table and the final JSON line on stdout.
//! - `error`: [`BenchError`], everything that can stop a run.

mod audit_bench;
mod error;
mod host;
mod http_bench;
mod latency;
mod log_bench;
mod projections_bench;
mod report;

/// jemalloc instead of glibc's malloc: the views, the log and HTTP make
/// many small, short-lived allocations across threads; with jemalloc the
/// server takes about a fifth more commands a second (measured in
/// `docs/PERFORMANCE.md`, "The allocator"). Its default configuration
/// (huge pages for its memory) is set where it is built, in
/// `.cargo/config.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use error::BenchError;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when a benchmark could not run to the end (I/O, store failure).
const EXIT_RUN_FAILED: u8 = 1;

/// Benchmarks for casebook. Each subcommand prints a table, then one JSON
/// object with the figures as its last line.
#[derive(Debug, Parser)]
#[command(name = "casebook-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The event log: durable appends, whole-log reads and verify, beside a
    /// raw file, raw sled and SQLite.
    Log(LogArgs),
    /// The views: rebuild from 1,000,000 events beside a raw read of the
    /// log, lag under steady appends, list and figures query latency.
    Projections(LogArgs),
    /// The real `casebook` server over HTTP with `wrk` (64 connections):
    /// durable reports, single-case reads and a commune's case list.
    Http(HttpArgs),
    /// The audit trail: export and verify of 1,000,000 events beside plain
    /// SHA-256 over the same bytes, and inclusion-proof latency.
    Audit(LogArgs),
}

/// Arguments of `casebook-bench log` and `casebook-bench projections`.
#[derive(Debug, clap::Args)]
struct LogArgs {
    /// A short run (about 15 s) instead of the full one (minutes).
    #[arg(long)]
    quick: bool,
    /// Where the stores' data directories go (in a temporary directory that
    /// is removed afterwards). Must be on a real disk. Default: the system
    /// temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Arguments of `casebook-bench http`.
#[derive(Debug, clap::Args)]
struct HttpArgs {
    /// A short run (3 s per load) instead of the full one (30 s per load).
    #[arg(long)]
    quick: bool,
    /// Where the server's data directory goes (a temporary directory that
    /// is removed afterwards). Default: the system temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The `casebook` binary to serve with. Default: the `casebook` beside
    /// this executable (`cargo build --release -p casebook -p casebook-bench`).
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("casebook-bench: {err}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

fn run(cli: Cli) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::io("starting the tokio runtime", source))?;
    match cli.command {
        Command::Log(args) => {
            let plan = log_bench::Plan::new(args.quick, args.dir);
            let figures = runtime.block_on(log_bench::run(&plan))?;
            report::print_log_report(&figures)
        }
        Command::Projections(args) => {
            let plan = projections_bench::Plan::new(args.quick, args.dir);
            let figures = runtime.block_on(projections_bench::run(&plan))?;
            report::print_projections_report(&figures)
        }
        Command::Audit(args) => {
            let plan = audit_bench::Plan::new(args.quick, args.dir);
            let figures = runtime.block_on(audit_bench::run(&plan))?;
            report::print_audit_report(&figures)
        }
        Command::Http(args) => {
            let plan = http_bench::Plan::new(args.quick, args.dir, args.server);
            let figures = runtime.block_on(http_bench::run(&plan))?;
            report::print_http_report(&figures)
        }
    }
}

/// Progress goes to stderr through `tracing`; stdout is for the report.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,casebook_bench=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
