//! Whole-log reads and `verify`, each beside its floor: raw sled iteration
//! over a tree of the same size, and plain SHA-256 over the same bytes.
//!
//! The log is written once with big appends (fast, and not what is measured
//! here), then read and verified a few times; the best round counts, so a
//! cold first pass over the page cache does not decide the figure.

use super::contender::Batch;
use super::payload::Payload;
use super::raw_sled;
use crate::error::{BenchError, Result};
use casebook_log::{ExpectedRevision, SledLog, VerifyReport};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

/// Events per append when filling the log: big appends make the fill fast;
/// half of the log's per-append maximum.
const FILL_APPEND_EVENTS: usize = 500;
/// Appends in flight while filling, so group commit packs several per sync.
const FILL_WRITERS: usize = 4;
/// Rounds of each measurement; the best is kept.
const ROUNDS: usize = 3;
/// Distinct chunks hashed in the SHA-256 baseline, cycled to reach the byte
/// count: a few MB, so the baseline reads memory and not one cached chunk.
const SHA_CHUNKS_IN_MEMORY: usize = 4096;
/// Bytes per megabyte, for MB/s.
const BYTES_PER_MB: f64 = 1_000_000.0;

/// Whole-log read throughput.
#[derive(Debug, Clone, Copy)]
pub struct ReadFigures {
    /// Events in the log (and in the raw tree).
    pub events: u64,
    /// `SledLog::iter_all(0)`, every record decoded and hash-checked.
    pub ours_events_per_s: f64,
    /// `sled::Tree::iter()` over as many values of the same size.
    pub raw_sled_events_per_s: f64,
}

/// `verify` throughput.
#[derive(Debug, Clone, Copy)]
pub struct VerifyFigures {
    /// Events verified.
    pub events: u64,
    /// Bytes verified, as `VerifyReport::bytes` counts them.
    pub bytes: u64,
    /// `SledLog::verify_range(None, None)`.
    pub ours_mb_per_s: f64,
    /// SHA-256 over as many bytes, in chunks the size of one record.
    pub sha256_mb_per_s: f64,
}

/// Writes `events` events to a fresh log under `root`, then measures.
pub async fn run(
    root: &Path,
    payload: &Arc<Payload>,
    events: u64,
) -> Result<(ReadFigures, VerifyFigures)> {
    let dir = tempfile::tempdir_in(root)
        .map_err(|source| BenchError::io("creating the read benchmark's directory", source))?;
    let log = SledLog::open(dir.path().join("ours"))?;
    fill(&log, payload, events).await?;
    let payload = Arc::clone(payload);
    tokio::task::spawn_blocking(move || {
        let figures = measure(&log, &dir.path().join("raw-sled"), &payload)?;
        drop(log);
        dir.close()
            .map_err(|source| BenchError::io("removing the read benchmark's directory", source))?;
        Ok(figures)
    })
    .await?
}

/// Writes `events` events to `log` in big appends (not what is measured).
pub async fn fill(log: &SledLog, payload: &Arc<Payload>, events: u64) -> Result<()> {
    let appends = events.div_ceil(FILL_APPEND_EVENTS as u64);
    let mut tasks = JoinSet::new();
    for writer in 0..FILL_WRITERS {
        let (log, payload) = (log.clone(), Arc::clone(payload));
        let mine = (writer as u64..appends).step_by(FILL_WRITERS);
        tasks.spawn(async move {
            for seq in mine {
                let batch = Batch {
                    writer,
                    seq,
                    events: FILL_APPEND_EVENTS,
                };
                let events = payload.new_events(FILL_APPEND_EVENTS);
                log.append(&batch.stream(), ExpectedRevision::Any, events)
                    .await?;
            }
            Ok::<_, BenchError>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// Every measurement on the filled log, blocking.
fn measure(
    log: &SledLog,
    raw_dir: &Path,
    payload: &Payload,
) -> Result<(ReadFigures, VerifyFigures)> {
    let events = log.len();
    let ours_read = best_rate(|| read_ours(log))?;
    let (report, ours_verify) = verify_ours(log)?;
    let record_bytes = usize::try_from(report.bytes / report.events.max(1)).unwrap_or(1);
    let raw = RawTree::fill(raw_dir.to_path_buf(), events, record_bytes, payload)?;
    let raw_read = best_rate(|| raw.read())?;
    let sha = best_rate(|| sha256_rate(report.bytes, record_bytes))?;
    let read = ReadFigures {
        events,
        ours_events_per_s: ours_read,
        raw_sled_events_per_s: raw_read,
    };
    let verify = VerifyFigures {
        events: report.events,
        bytes: report.bytes,
        ours_mb_per_s: ours_verify,
        sha256_mb_per_s: sha,
    };
    Ok((read, verify))
}

/// Runs `rate` [`ROUNDS`] times and keeps the highest figure.
fn best_rate(mut rate: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut best = 0.0_f64;
    for _ in 0..ROUNDS {
        best = best.max(rate()?);
    }
    Ok(best)
}

/// Events per second of `iter_all(0)` over the whole log.
fn read_ours(log: &SledLog) -> Result<f64> {
    let expected = log.len();
    let started = Instant::now();
    let mut count = 0_u64;
    let mut touched = 0_usize;
    for event in log.iter_all(0) {
        let event = event?;
        count += 1;
        touched = touched.wrapping_add(event.data.len());
    }
    let seconds = started.elapsed().as_secs_f64();
    black_box(touched);
    check_count("ours (read all)", expected, count)?;
    Ok(count as f64 / seconds)
}

/// The best of [`ROUNDS`] full verifies: its report and MB/s.
fn verify_ours(log: &SledLog) -> Result<(VerifyReport, f64)> {
    let mut best: Option<(VerifyReport, f64)> = None;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let report = log.verify_range(None, None)?;
        let rate = report.bytes as f64 / BYTES_PER_MB / started.elapsed().as_secs_f64();
        check_count("ours (verify)", log.len(), report.events)?;
        if best.as_ref().is_none_or(|(_, best_rate)| rate > *best_rate) {
            best = Some((report, rate));
        }
    }
    best.ok_or(BenchError::Broken("verify (no round ran)"))
}

/// MB/s of plain SHA-256 over `bytes` bytes in `chunk_bytes` chunks.
fn sha256_rate(bytes: u64, chunk_bytes: usize) -> Result<f64> {
    let chunk_bytes = chunk_bytes.max(1);
    let memory: Vec<u8> = (0..SHA_CHUNKS_IN_MEMORY * chunk_bytes)
        .map(|i| (i % 251) as u8)
        .collect();
    let chunks = bytes / chunk_bytes as u64;
    let started = Instant::now();
    let mut folded = 0_u8;
    for i in 0..chunks {
        let start = (i as usize % SHA_CHUNKS_IN_MEMORY) * chunk_bytes;
        let digest = Sha256::digest(&memory[start..start + chunk_bytes]);
        folded ^= digest[0];
    }
    let seconds = started.elapsed().as_secs_f64();
    black_box(folded);
    Ok((chunks * chunk_bytes as u64) as f64 / BYTES_PER_MB / seconds)
}

fn check_count(store: &'static str, expected: u64, actual: u64) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(BenchError::Mismatch {
            store,
            expected,
            actual,
        })
    }
}

/// A raw sled tree with as many values, of the same size, as our log.
struct RawTree {
    /// Kept open for the reads; its files go with the directory.
    _db: sled::Db,
    tree: sled::Tree,
    events: u64,
}

impl RawTree {
    fn fill(dir: PathBuf, events: u64, value_bytes: usize, payload: &Payload) -> Result<Self> {
        let db = raw_sled::open_db(&dir)?;
        let tree = db.open_tree(b"log")?;
        let value: Vec<u8> = payload
            .bytes
            .iter()
            .copied()
            .cycle()
            .take(value_bytes)
            .collect();
        for first in (0..events).step_by(FILL_APPEND_EVENTS) {
            let mut batch = sled::Batch::default();
            for key in first..(first + FILL_APPEND_EVENTS as u64).min(events) {
                batch.insert(&key.to_be_bytes(), value.as_slice());
            }
            tree.apply_batch(batch)?;
        }
        db.flush()?;
        Ok(RawTree {
            _db: db,
            tree,
            events,
        })
    }

    /// Events per second of `tree.iter()`, touching each value.
    fn read(&self) -> Result<f64> {
        let started = Instant::now();
        let mut count = 0_u64;
        let mut touched = 0_usize;
        for item in self.tree.iter() {
            let (_key, value) = item?;
            count += 1;
            let first = value.first().copied().unwrap_or_default();
            let last = value.last().copied().unwrap_or_default();
            touched = touched.wrapping_add(value.len() + usize::from(first ^ last));
        }
        let seconds = started.elapsed().as_secs_f64();
        black_box(touched);
        check_count("raw sled (read all)", self.events, count)?;
        Ok(count as f64 / seconds)
    }
}
