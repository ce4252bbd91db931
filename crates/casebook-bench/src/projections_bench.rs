//! `casebook-bench projections`: how fast the views are built and read, on
//! a log of realistic cases made by the projections' testkit (every event
//! out of the domain's `decide`, a province the size of the seeds').
//!
//! - Rebuild: every view built from position 0 of a 1,000,000-event log,
//!   beside `SledLog::iter_all` over the same log in the same run (the
//!   floor: a view cannot be built faster than the log is read).
//! - Save and reopen: the views saved by a clean shutdown, then opened
//!   again from their files and caught up (what a restart costs), and the
//!   memory the views take.
//! - Lag: with the views caught up, appends at a steady rate; for each
//!   append, the time from its acknowledgement until every view has it.
//! - Queries: in-process latency of a filtered, paginated case list and of
//!   the resolution figures, for a commune and for the province.
//!
//! # Layout
//! - `fill`: generates the history and appends it once, in large appends.
//! - `lag`: the steady appender and the lag measurement.
//! - `queries`: the list and figures latencies.

mod fill;
mod lag;
mod queries;

use crate::error::{BenchError, Result};
use crate::latency::Percentiles;
use casebook_domain::Policy;
use casebook_log::SledLog;
use casebook_projections::Projections;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Events in the log that is rebuilt in a full run: the million.
const EVENTS_FULL: u64 = 1_000_000;
/// The same with `--quick`: enough for every view to have real content.
const EVENTS_QUICK: u64 = 30_000;
/// Seconds of steady appends while lag is measured, full run.
const LAG_DURATION_FULL: Duration = Duration::from_secs(10);
/// The same with `--quick`.
const LAG_DURATION_QUICK: Duration = Duration::from_secs(2);
/// Appends per second while lag is measured: a busy province at peak
/// (the brief's "millions of events a year" is a few hundred a second at
/// the busiest hour of a whole country), one event each.
const LAG_APPENDS_PER_S: u64 = 200;
/// Queries timed per kind in a full run: enough for a stable p99.
const QUERY_SAMPLES_FULL: usize = 2_000;
/// The same with `--quick`.
const QUERY_SAMPLES_QUICK: usize = 200;
/// How long a rebuild may take before the run is declared broken.
const REBUILD_TIMEOUT: Duration = Duration::from_secs(3_600);

/// A validated run of `casebook-bench projections`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Whether this is the short run.
    pub quick: bool,
    /// Events in the log.
    pub events: u64,
    /// How long appends run while lag is measured.
    pub lag_duration: Duration,
    /// Queries timed per kind.
    pub query_samples: usize,
    /// Where the temporary data directories go.
    pub dir: PathBuf,
}

impl Plan {
    /// The plan for `--quick` or a full run, under `dir` (or the temp dir).
    pub fn new(quick: bool, dir: Option<PathBuf>) -> Self {
        let (events, lag_duration, query_samples) = if quick {
            (EVENTS_QUICK, LAG_DURATION_QUICK, QUERY_SAMPLES_QUICK)
        } else {
            (EVENTS_FULL, LAG_DURATION_FULL, QUERY_SAMPLES_FULL)
        };
        Plan {
            quick,
            events,
            lag_duration,
            query_samples,
            dir: dir.unwrap_or_else(std::env::temp_dir),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct ProjectionFigures {
    /// The plan it ran.
    pub plan: Plan,
    /// Events in the log.
    pub events: u64,
    /// Cases among them.
    pub cases: u64,
    /// Views built.
    pub views: usize,
    /// `iter_all(0)` over the whole log, events/s.
    pub read_all_events_per_s: f64,
    /// Every view built from scratch, events/s (wall time until all caught up).
    pub rebuild_events_per_s: f64,
    /// Seconds the rebuild took.
    pub rebuild_seconds: f64,
    /// CPU-seconds the process spent on the rebuild (all threads; 0 where
    /// `/proc` does not say): steadier than the wall time on a shared
    /// machine, and what a faster rebuild must cut on a machine whose
    /// cores it already keeps busy.
    pub rebuild_cpu_seconds: f64,
    /// The process's resident memory grew by this much while the views
    /// were built (MB): about what the views take in memory.
    pub views_resident_mb: f64,
    /// How much of the process's memory was backed by transparent huge
    /// pages right after the rebuild (MB; 0 where `/proc` does not say):
    /// shows that the allocator's `thp:always` took effect.
    pub huge_pages_mb: f64,
    /// Seconds a clean shutdown took to save every view.
    pub save_seconds: f64,
    /// Seconds to open the views again from their files and catch up.
    pub reopen_seconds: f64,
    /// The keyed views' content after the rebuild, written alone into
    /// empty sled trees: what keeping these keys in sled would cost (the
    /// views were sled trees until they moved to memory).
    pub sled_floor: SledFloor,
    /// Appends per second while lag was measured.
    pub lag_appends_per_s: u64,
    /// Appends measured.
    pub lag_samples: u64,
    /// Acknowledged append → every view has it.
    pub lag: Percentiles,
    /// Latencies of the case lists (commune and province).
    pub list: queries::QueryFigures,
    /// Latencies of the figures (commune and province).
    pub figures: queries::QueryFigures,
}

/// Fills a log, then measures the read floor, the rebuild, the lag and the queries.
pub async fn run(plan: &Plan) -> Result<ProjectionFigures> {
    let root = tempfile::Builder::new()
        .prefix("casebook-bench-projections-")
        .tempdir_in(&plan.dir)
        .map_err(|source| BenchError::io("creating the benchmark directory", source))?;
    let log = SledLog::open(root.path().join("log"))?;
    let mut history = fill::History::new();
    let cases = history.fill(&log, plan.events).await?;
    let read_all_events_per_s = read_all(&log).await?;
    let resident_before = resident_mb();
    let cpu_before = process_cpu_seconds();
    let (projections, rebuild_seconds) = open_and_catch_up(&log, root.path()).await?;
    let rebuild_cpu_seconds = process_cpu_seconds() - cpu_before;
    let views_resident_mb = resident_mb() - resident_before;
    let huge_pages_mb = proc_kb("/proc/self/smaps_rollup", "AnonHugePages:") / 1024.0;
    let events = log.len();
    let rebuild_events_per_s = events as f64 / rebuild_seconds;
    tracing::info!(events, rebuild_events_per_s, "views rebuilt");
    let started = Instant::now();
    projections.shutdown().await;
    drop(projections);
    let save_seconds = started.elapsed().as_secs_f64();
    let (projections, reopen_seconds) = open_and_catch_up(&log, root.path()).await?;
    tracing::info!(save_seconds, reopen_seconds, "views saved and opened again");
    let world = history.world();
    let list = queries::list(&projections, &world, plan.query_samples, history.now())?;
    let figures = queries::figures(&projections, &world, plan.query_samples, history.now())?;
    let lag = lag::run(
        &log,
        &projections,
        &mut history,
        plan.lag_duration,
        LAG_APPENDS_PER_S,
    )
    .await?;
    // Last, so that its writes and its memory do not weigh on the lag.
    let sled_floor = sled_floor(&projections, &root.path().join("floor"), events).await?;
    let views = projections.view_names().len();
    projections.shutdown().await;
    drop(projections);
    drop(log);
    tokio::task::spawn_blocking(move || root.close())
        .await?
        .map_err(|source| BenchError::io("removing the benchmark directory", source))?;
    Ok(ProjectionFigures {
        plan: plan.clone(),
        events,
        cases,
        views,
        read_all_events_per_s,
        rebuild_events_per_s,
        rebuild_seconds,
        rebuild_cpu_seconds,
        views_resident_mb,
        huge_pages_mb,
        save_seconds,
        reopen_seconds,
        sled_floor,
        lag_appends_per_s: LAG_APPENDS_PER_S,
        lag_samples: lag.count,
        lag: lag.percentiles,
        list,
        figures,
    })
}

/// The best of three whole-log reads, events/s.
async fn read_all(log: &SledLog) -> Result<f64> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        let mut best = 0.0_f64;
        for _ in 0..3 {
            let started = Instant::now();
            let mut count = 0_u64;
            for event in log.iter_all(0) {
                std::hint::black_box(event?);
                count += 1;
            }
            best = best.max(count as f64 / started.elapsed().as_secs_f64());
        }
        Ok(best)
    })
    .await?
}

/// The keyed views' keys written into empty sled trees, as a sled view's
/// first commit wrote them (sorted, one `insert` each, then a flush), one
/// thread per view as the workers ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct SledFloor {
    /// Keys written (every keyed view's, without checkpoints).
    pub keys: u64,
    /// Their bytes, keys and values.
    pub bytes: u64,
    /// Seconds the writes took.
    pub seconds: f64,
    /// The log's events over those seconds: the fastest a rebuild that
    /// writes these keys into sled could be.
    pub events_per_s: f64,
}

/// Measures [`SledFloor`] in a new sled database under `dir`.
async fn sled_floor(projections: &Projections, dir: &Path, events: u64) -> Result<SledFloor> {
    let mut contents = Vec::new();
    for name in projections.view_names() {
        if name != "search" {
            contents.push(projections.view_contents(name)?);
        }
    }
    let keys = contents.iter().map(Vec::len).sum::<usize>() as u64;
    let bytes = contents
        .iter()
        .flatten()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    let db = sled::open(dir)?;
    let started = Instant::now();
    let writers: Vec<_> = contents
        .into_iter()
        .enumerate()
        .map(|(i, pairs)| {
            let db = db.clone();
            tokio::task::spawn_blocking(move || -> Result<()> {
                let tree = db.open_tree(format!("view{i}"))?;
                for (k, v) in pairs {
                    tree.insert(k, v)?;
                }
                tree.flush()?;
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(SledFloor {
        keys,
        bytes,
        seconds,
        events_per_s: events as f64 / seconds,
    })
}

/// The process's resident memory, MB (0 where `/proc` does not say).
fn resident_mb() -> f64 {
    proc_kb("/proc/self/status", "VmRSS:") / 1024.0
}

/// The figure on the line of `file` that starts with `field`, in kB (0
/// where the file or the line is missing).
fn proc_kb(file: &str, field: &str) -> f64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
}

/// CPU-seconds the process has used, user and system, all threads (0
/// where `/proc` does not say).
fn process_cpu_seconds() -> f64 {
    /// Linux reports these times in ticks of 1/100 s to every program.
    const TICKS_PER_S: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may
    // hold spaces: user time and system time are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / TICKS_PER_S,
        _ => 0.0,
    }
}

/// Opens the views under `root` (empty the first time: a rebuild; with
/// their saved files the second) and times them catching up.
async fn open_and_catch_up(log: &SledLog, root: &Path) -> Result<(Projections, f64)> {
    let started = Instant::now();
    let dir = root.join("views");
    let open_log = log.clone();
    let projections =
        tokio::task::spawn_blocking(move || Projections::open(open_log, dir, Policy::default()))
            .await??;
    let head = log.len().saturating_sub(1);
    projections.start();
    projections.wait_for(head, REBUILD_TIMEOUT).await?;
    Ok((projections, started.elapsed().as_secs_f64()))
}
