//! The stores that compete in the append benchmark, behind one enum so the
//! writer loop is the same for all of them.
//!
//! Our log is async; the three baselines block, so each of their appends
//! runs on tokio's blocking pool (`spawn_blocking`) and the writer tasks
//! stay the same tokio tasks for every store.

use super::payload::Payload;
use super::{raw_file::RawFile, raw_sled::RawSled, sqlite::Sqlite};
use crate::error::{BenchError, Result};
use casebook_log::{AppendStatus, ExpectedRevision, SledLog};
use std::path::Path;
use std::sync::Arc;

/// Appends a writer makes to one stream before it moves to the next: a
/// concern gathers a handful of events over its life, not thousands.
const STREAM_APPENDS: u64 = 16;

/// Which store a row of the report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Our event log, [`SledLog`].
    Ours,
    /// An append-only file, group commit, one `fdatasync` per group.
    RawFile,
    /// sled insert + flush + fsync per append, no group commit.
    RawSled,
    /// SQLite, WAL, `synchronous=FULL`, one transaction per append.
    Sqlite,
}

impl StoreKind {
    /// Every store, in the order the report lists them.
    pub const ALL: [StoreKind; 4] = [
        StoreKind::Ours,
        StoreKind::RawFile,
        StoreKind::RawSled,
        StoreKind::Sqlite,
    ];

    /// The store's name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Ours => "ours",
            StoreKind::RawFile => "raw_file",
            StoreKind::RawSled => "raw_sled",
            StoreKind::Sqlite => "sqlite",
        }
    }
}

/// One append: who makes it, its sequence number, how many events.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// The writer (task) number.
    pub writer: usize,
    /// This writer's append count so far.
    pub seq: u64,
    /// Events in this append.
    pub events: usize,
}

impl Batch {
    /// `concern-<writer>-<k>`: each writer fills its own streams in turn.
    pub fn stream(&self) -> String {
        format!("concern-{}-{}", self.writer, self.seq / STREAM_APPENDS)
    }
}

/// An open store, shared by every writer of one configuration.
#[derive(Debug, Clone)]
pub enum Contender {
    /// Our log; clones share its one writer thread.
    Ours(SledLog, Arc<Payload>),
    /// The raw file and its group-commit thread.
    RawFile(Arc<RawFile>),
    /// Raw sled.
    RawSled(Arc<RawSled>),
    /// SQLite behind a mutex.
    Sqlite(Arc<Sqlite>),
}

impl Contender {
    /// Opens a fresh store of `kind` in the empty directory `dir`.
    pub fn open(kind: StoreKind, dir: &Path, payload: &Arc<Payload>) -> Result<Self> {
        Ok(match kind {
            StoreKind::Ours => Contender::Ours(SledLog::open(dir)?, Arc::clone(payload)),
            StoreKind::RawFile => Contender::RawFile(Arc::new(RawFile::open(dir, payload)?)),
            StoreKind::RawSled => Contender::RawSled(Arc::new(RawSled::open(dir, payload)?)),
            StoreKind::Sqlite => Contender::Sqlite(Arc::new(Sqlite::open(dir, payload)?)),
        })
    }

    /// Makes one append durable; returns once it is.
    pub async fn append(&self, batch: Batch) -> Result<()> {
        match self {
            Contender::Ours(log, payload) => append_ours(log, payload, batch).await,
            Contender::RawFile(file) => file.append(batch).await,
            Contender::RawSled(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.append(batch)).await?
            }
            Contender::Sqlite(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.append(batch)).await?
            }
        }
    }

    /// Closes the store (joining its threads) off the async workers.
    pub async fn close(self) -> Result<()> {
        tokio::task::spawn_blocking(move || drop(self)).await?;
        Ok(())
    }
}

async fn append_ours(log: &SledLog, payload: &Payload, batch: Batch) -> Result<()> {
    let events = payload.new_events(batch.events);
    let outcome = log
        .append(&batch.stream(), ExpectedRevision::Any, events)
        .await?;
    if outcome.status != AppendStatus::Appended || outcome.events.len() != batch.events {
        return Err(BenchError::Mismatch {
            store: "ours (append outcome)",
            expected: batch.events as u64,
            actual: outcome.events.len() as u64,
        });
    }
    Ok(())
}
