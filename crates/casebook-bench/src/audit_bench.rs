//! `casebook-bench audit`: the audit trail's costs, through
//! `casebook-audit`'s public API, on a log of N events (1,000,000 in a full
//! run).
//!
//! - Tree catch-up: the Merkle tree built over the whole log (a running
//!   server keeps it up as events come; this is the cost of a cold start).
//! - Export: `write_export` of the whole log to a file (JSON Lines and the
//!   signed head), events/s and MB/s of the file written.
//! - Verify: `verify_export` of that file (every record's hash, the chain,
//!   the Merkle root, the signature), beside plain SHA-256 over the same
//!   file's bytes read the same way: the floor of any check of the file.
//!   Both run after the log is closed, as `casebook verify FILE` runs: with
//!   nothing else in the process.
//! - Inclusion proofs: `Audit::inclusion_proof` for random positions in the
//!   whole tree, each also checked with `merkle::verify_inclusion`; p50/p99.

use crate::error::{BenchError, Result};
use crate::latency::{Latencies, Percentiles};
use crate::log_bench::{fill, Payload};
use casebook_audit::{merkle, verify_export, write_export, Audit};
use casebook_log::SledLog;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Events in a full run: the million.
const EVENTS_FULL: u64 = 1_000_000;
/// The same with `--quick`.
const EVENTS_QUICK: u64 = 20_000;
/// Inclusion proofs timed in a full run.
const PROOFS_FULL: usize = 10_000;
/// The same with `--quick`.
const PROOFS_QUICK: usize = 1_000;
/// Rounds of verify and of SHA-256; the best is kept, so a cold page cache
/// does not decide the figure.
const ROUNDS: usize = 2;
/// Read and write buffer for the export file.
const FILE_BUFFER_BYTES: usize = 1 << 20;
/// Bytes per megabyte, for MB/s.
const BYTES_PER_MB: f64 = 1_000_000.0;

/// A validated run of `casebook-bench audit`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Whether this is the short run.
    pub quick: bool,
    /// Events in the log.
    pub events: u64,
    /// Inclusion proofs timed.
    pub proofs: usize,
    /// Where the temporary directory goes.
    pub dir: PathBuf,
}

impl Plan {
    /// The plan for `--quick` or a full run, under `dir` (or the temp dir).
    pub fn new(quick: bool, dir: Option<PathBuf>) -> Self {
        let (events, proofs) = if quick {
            (EVENTS_QUICK, PROOFS_QUICK)
        } else {
            (EVENTS_FULL, PROOFS_FULL)
        };
        Plan {
            quick,
            events,
            proofs,
            dir: dir.unwrap_or_else(std::env::temp_dir),
        }
    }
}

/// A throughput over a number of events and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    /// Seconds it took.
    pub seconds: f64,
    /// Events per second.
    pub events_per_s: f64,
    /// Megabytes (10^6) per second.
    pub mb_per_s: f64,
}

impl Rate {
    fn of(events: u64, bytes: u64, seconds: f64) -> Rate {
        let seconds = seconds.max(f64::MIN_POSITIVE);
        Rate {
            seconds,
            events_per_s: events as f64 / seconds,
            mb_per_s: bytes as f64 / BYTES_PER_MB / seconds,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct AuditFigures {
    /// The plan it ran.
    pub plan: Plan,
    /// Events in the log and in the export.
    pub events: u64,
    /// Bytes of the export file.
    pub export_bytes: u64,
    /// The tree built from the log.
    pub catch_up: Rate,
    /// `write_export`.
    pub export: Rate,
    /// `verify_export` (best round).
    pub verify: Rate,
    /// SHA-256 over the file (best round).
    pub sha256: Rate,
    /// Proofs timed.
    pub proofs: u64,
    /// `Audit::inclusion_proof` latency.
    pub inclusion: Percentiles,
}

/// Fills a log, then measures the tree, the export, its check and proofs.
pub async fn run(plan: &Plan) -> Result<AuditFigures> {
    let root = tempfile::Builder::new()
        .prefix("casebook-bench-audit-")
        .tempdir_in(&plan.dir)
        .map_err(|source| BenchError::io("creating the benchmark directory", source))?;
    let log = SledLog::open(root.path().join("log"))?;
    let payload = Arc::new(Payload::build()?);
    fill(&log, &payload, plan.events).await?;
    tracing::info!(events = log.len(), "log filled");
    let plan = plan.clone();
    let dir = root.path().to_path_buf();
    let figures = tokio::task::spawn_blocking(move || measure(&plan, log, &dir)).await??;
    root.close()
        .map_err(|source| BenchError::io("removing the benchmark directory", source))?;
    Ok(figures)
}

/// Every measurement, blocking: first those on the filled log, then —
/// with the log and its tree closed, so that none of sled's background
/// threads run — the check of the export beside plain SHA-256.
fn measure(plan: &Plan, log: SledLog, dir: &Path) -> Result<AuditFigures> {
    let audit = Audit::open(&dir.join("audit"))?;
    let events = log.len();
    let started = Instant::now();
    let size = audit.catch_up(&log)?;
    let catch_up_seconds = started.elapsed().as_secs_f64();
    check_count("Merkle tree", events, size)?;
    let file = dir.join("export.jsonl");
    let (export, export_bytes) = export(&log, &audit, &file)?;
    tracing::info!(export_bytes, "exported");
    let inclusion = inclusion_proofs(&audit, size, plan.proofs)?;
    drop(audit);
    drop(log);
    let verify = best(|| verify(&file, events, export_bytes))?;
    let sha256 = best(|| sha256(&file, events))?;
    tracing::info!(
        verify = verify.mb_per_s,
        sha256 = sha256.mb_per_s,
        "verified"
    );
    Ok(AuditFigures {
        plan: plan.clone(),
        events,
        export_bytes,
        catch_up: Rate::of(events, 0, catch_up_seconds),
        export,
        verify,
        sha256,
        proofs: inclusion.count(),
        inclusion: inclusion.percentiles(),
    })
}

/// `write_export` to `file`: its rate and the bytes written.
fn export(log: &SledLog, audit: &Audit, file: &Path) -> Result<(Rate, u64)> {
    let started = Instant::now();
    let created =
        File::create(file).map_err(|source| BenchError::io("creating the export", source))?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER_BYTES, created);
    let summary = write_export(log, audit, &mut out, |_| {})?;
    out.flush()
        .map_err(|source| BenchError::io("writing the export", source))?;
    let seconds = started.elapsed().as_secs_f64();
    check_count("export", log.len(), summary.events)?;
    let bytes = std::fs::metadata(file)
        .map_err(|source| BenchError::io("reading the export's size", source))?
        .len();
    Ok((Rate::of(summary.events, bytes, seconds), bytes))
}

/// One `verify_export` of the whole file, with nothing but the file.
fn verify(file: &Path, events: u64, bytes: u64) -> Result<Rate> {
    let started = Instant::now();
    let reader = BufReader::with_capacity(FILE_BUFFER_BYTES, open(file)?);
    let summary =
        verify_export(reader, None).map_err(|fault| BenchError::Export(fault.to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    check_count("verify", events, summary.events)?;
    Ok(Rate::of(summary.events, bytes, seconds))
}

/// Plain SHA-256 over the file's bytes, read the same way `verify` reads.
fn sha256(file: &Path, events: u64) -> Result<Rate> {
    let started = Instant::now();
    let mut reader = open(file)?;
    let mut buffer = vec![0_u8; FILE_BUFFER_BYTES];
    let mut hasher = Sha256::new();
    let mut bytes = 0_u64;
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|source| BenchError::io("reading the export", source))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    black_box(hasher.finalize());
    Ok(Rate::of(events, bytes, started.elapsed().as_secs_f64()))
}

/// Proofs for positions spread over the tree (a fixed stride, so every
/// run asks for the same ones), each checked against the root.
fn inclusion_proofs(audit: &Audit, size: u64, count: usize) -> Result<Latencies> {
    let mut latencies = Latencies::new()?;
    let root = audit.tree().root(size)?;
    let stride = (size / count.max(1) as u64).max(1) | 1;
    for i in 0..count as u64 {
        let position = (i.wrapping_mul(stride) + i) % size.max(1);
        let started = Instant::now();
        let proof = audit.inclusion_proof(position, size)?;
        latencies.record(started.elapsed());
        check_proof(&proof, &root)?;
    }
    Ok(latencies)
}

/// The proof must lead from its leaf to the root: a wrong proof voids the run.
fn check_proof(proof: &casebook_audit::InclusionProof, root: &merkle::Hash) -> Result<()> {
    let decode = |text: &str| -> Option<merkle::Hash> { hex::decode(text).ok()?.try_into().ok() };
    let leaf = decode(&proof.leaf_hash);
    let path: Option<Vec<merkle::Hash>> = proof.audit_path.iter().map(|h| decode(h)).collect();
    let valid = match (leaf, path) {
        (Some(leaf), Some(path)) => {
            merkle::verify_inclusion(&leaf, proof.leaf_index, proof.tree_size, &path, root)
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(BenchError::Export(format!(
            "the inclusion proof of position {} does not check",
            proof.leaf_index
        )))
    }
}

fn open(file: &Path) -> Result<File> {
    File::open(file).map_err(|source| BenchError::io("opening the export", source))
}

/// Runs `rate` [`ROUNDS`] times and keeps the fastest.
fn best(mut rate: impl FnMut() -> Result<Rate>) -> Result<Rate> {
    let mut best = Rate::default();
    for _ in 0..ROUNDS {
        let this = rate()?;
        if this.mb_per_s > best.mb_per_s {
            best = this;
        }
    }
    Ok(best)
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
