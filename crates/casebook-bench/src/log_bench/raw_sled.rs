//! Raw sled, the way one would use it without our log: every writer inserts
//! its events, flushes and fsyncs by itself. No group commit, no index, no
//! hash.
//!
//! sled 0.34.7's `flush` ends with `sync_file_range`, which does not survive
//! a power cut, so each append also `fdatasync`s sled's main file, exactly
//! as our log does, to compare durable with durable.

use super::contender::Batch;
use super::payload::Payload;
use crate::error::{BenchError, Result};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// sled's page cache, the same as our log's default, so both have the same
/// memory to work with.
const CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// Raw sled, shared by every writer of a configuration.
#[derive(Debug)]
pub struct RawSled {
    db: sled::Db,
    /// sled's main file (`<dir>/db`). `fdatasync` applies to the file, not
    /// the descriptor, so one handle opened up front serves every append.
    main_file: File,
    /// The next key (big-endian, so keys sort in append order).
    next_key: AtomicU64,
    payload: Arc<Payload>,
}

impl RawSled {
    /// Opens a fresh sled database in `dir`, configured like our log's.
    pub fn open(dir: &Path, payload: &Arc<Payload>) -> Result<Self> {
        let db = open_db(dir)?;
        let main_file = File::open(dir.join("db"))
            .map_err(|source| BenchError::io("opening raw sled's main file", source))?;
        Ok(RawSled {
            db,
            main_file,
            next_key: AtomicU64::new(0),
            payload: Arc::clone(payload),
        })
    }

    /// Inserts the batch's events atomically, flushes, fsyncs. Blocks.
    pub fn append(&self, batch: Batch) -> Result<()> {
        let mut staged = sled::Batch::default();
        for _ in 0..batch.events {
            let key = self.next_key.fetch_add(1, Ordering::Relaxed);
            staged.insert(&key.to_be_bytes(), self.value());
        }
        self.db.apply_batch(staged)?;
        self.db.flush()?;
        self.main_file
            .sync_data()
            .map_err(|source| BenchError::io("fsyncing raw sled", source))
    }

    fn value(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(16 + self.payload.bytes.len());
        value.extend_from_slice(Uuid::new_v4().as_bytes());
        value.extend_from_slice(&self.payload.bytes);
        value
    }
}

/// Opens sled in `dir` with our log's settings: no background flusher (every
/// flush is explicit) and the high-throughput mode.
pub fn open_db(dir: &Path) -> Result<sled::Db> {
    Ok(sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_CAPACITY_BYTES)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .open()?)
}
