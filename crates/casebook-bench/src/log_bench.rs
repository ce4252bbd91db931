//! `casebook-bench log`: our event log beside the stores a user could pick
//! instead, in one run, with the same payload, fsync on for all.
//!
//! - Durable appends at 1, 16, 64 and 256 concurrent writers, 1 and 10
//!   events per append, for our log, a raw file (the disk's limit), raw sled
//!   and SQLite; each configuration in a fresh data directory.
//! - Whole-log reads against raw sled iteration; `verify` against SHA-256.
//!
//! # Layout
//! - `payload`: the one concern report every store writes.
//! - `contender`: the four stores behind one enum.
//! - `raw_file`, `raw_sled`, `sqlite`: the baselines.
//! - `writers`: one configuration: writer tasks, deadline, latencies.
//! - `read_verify`: whole-log read and verify throughput.

mod contender;
mod payload;
mod raw_file;
mod raw_sled;
mod read_verify;
mod sqlite;
mod writers;

pub use contender::StoreKind;
pub use payload::Payload;
pub use read_verify::fill;
pub use read_verify::{ReadFigures, VerifyFigures};
pub use writers::WriteFigures;

use crate::error::{BenchError, Result};
use contender::Contender;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Concurrent writers: one alone, a busy office, a district at peak, and
/// well past what the service will see.
pub const WRITER_COUNTS: [usize; 4] = [1, 16, 64, 256];
/// Events per append: a single action, and a phone syncing a backlog.
pub const EVENTS_PER_APPEND: [usize; 2] = [1, 10];

/// Time per configuration in a full run: long enough for thousands of
/// fsyncs even for the slowest store; 32 configurations fit in ~2 minutes.
const CONFIG_DURATION_FULL: Duration = Duration::from_secs(3);
/// Time per configuration with `--quick`: still dozens of fsyncs each.
const CONFIG_DURATION_QUICK: Duration = Duration::from_millis(300);
/// Events in the log that is read and verified in a full run.
const READ_EVENTS_FULL: u64 = 200_000;
/// The same with `--quick`.
const READ_EVENTS_QUICK: u64 = 20_000;

/// A validated run of `casebook-bench log`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Whether this is the short run.
    pub quick: bool,
    /// How long each write configuration runs.
    pub config_duration: Duration,
    /// Events written, then read and verified.
    pub read_events: u64,
    /// Where the temporary data directories go.
    pub dir: PathBuf,
}

impl Plan {
    /// The plan for `--quick` or a full run, under `dir` (or the temp dir).
    pub fn new(quick: bool, dir: Option<PathBuf>) -> Self {
        let (config_duration, read_events) = if quick {
            (CONFIG_DURATION_QUICK, READ_EVENTS_QUICK)
        } else {
            (CONFIG_DURATION_FULL, READ_EVENTS_FULL)
        };
        Plan {
            quick,
            config_duration,
            read_events,
            dir: dir.unwrap_or_else(std::env::temp_dir),
        }
    }
}

/// One row of the append table.
#[derive(Debug, Clone, Copy)]
pub struct WriteRow {
    /// The store measured.
    pub store: StoreKind,
    /// What it did.
    pub figures: WriteFigures,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct LogFigures {
    /// The plan it ran.
    pub plan: Plan,
    /// Bytes of the JSON payload of each event.
    pub payload_bytes: usize,
    /// Every write configuration, every store.
    pub rows: Vec<WriteRow>,
    /// Whole-log reads.
    pub read: ReadFigures,
    /// Verify against SHA-256.
    pub verify: VerifyFigures,
}

/// Runs every configuration, then the read and verify measurements.
pub async fn run(plan: &Plan) -> Result<LogFigures> {
    let root = tempfile::Builder::new()
        .prefix("casebook-bench-")
        .tempdir_in(&plan.dir)
        .map_err(|source| BenchError::io("creating the benchmark directory", source))?;
    let payload = Arc::new(Payload::build()?);
    let mut rows = Vec::new();
    for events_per_append in EVENTS_PER_APPEND {
        for writers in WRITER_COUNTS {
            for store in StoreKind::ALL {
                let config = Config {
                    store,
                    writers,
                    events_per_append,
                };
                rows.push(run_config(plan, root.path(), &payload, config).await?);
            }
        }
    }
    tracing::info!(
        events = plan.read_events,
        "filling a log to read and verify"
    );
    let (read, verify) = read_verify::run(root.path(), &payload, plan.read_events).await?;
    close_dir(root).await?;
    Ok(LogFigures {
        plan: plan.clone(),
        payload_bytes: payload.bytes.len(),
        rows,
        read,
        verify,
    })
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy)]
struct Config {
    store: StoreKind,
    writers: usize,
    events_per_append: usize,
}

async fn run_config(
    plan: &Plan,
    root: &Path,
    payload: &Arc<Payload>,
    config: Config,
) -> Result<WriteRow> {
    let dir = tempfile::tempdir_in(root)
        .map_err(|source| BenchError::io("creating a data directory", source))?;
    let store = Contender::open(config.store, dir.path(), payload)?;
    let figures = writers::run(
        &store,
        config.writers,
        config.events_per_append,
        plan.config_duration,
    )
    .await?;
    store.close().await?;
    close_dir(dir).await?;
    tracing::info!(
        store = config.store.name(),
        writers = config.writers,
        events_per_append = config.events_per_append,
        events_per_s = figures.events_per_s.round(),
        p99_ms = figures.latency.p99_ms,
        "configuration done"
    );
    Ok(WriteRow {
        store: config.store,
        figures,
    })
}

/// Removes a data directory off the async workers (it may hold hundreds of MB).
async fn close_dir(dir: tempfile::TempDir) -> Result<()> {
    tokio::task::spawn_blocking(move || dir.close())
        .await?
        .map_err(|source| BenchError::io("removing a data directory", source))
}
