//! The shared decode stage: every view reads the log through one [`Feed`],
//! which reads and decodes each record once, whatever the number of views.
//!
//! The log is cut into fixed chunks of [`CHUNK_EVENTS`] positions. A chunk
//! that lies wholly below the durable head is decoded by the first worker
//! that needs it and kept (the most recent [`CACHE_CHUNKS`] of them), so
//! the other views, which follow close behind during a rebuild or a
//! catch-up, take the same decoded events instead of parsing the JSON again.
//! The chunk at the head is decoded for each reader and not kept: live
//! batches are a few events, and the chunk is not final yet.
//!
//! A record that does not decode ends its chunk: the chunk holds the events
//! before it and the failure, and every view stops at that same position.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use casebook_log::{Position, SledLog};

use crate::decode::{decode, DecodeFailure, Decoded};
use crate::error::Result;

/// Positions per chunk: large enough that a chunk costs one walk of the
/// log, small enough that the chunk at the head is cheap to decode again.
pub const CHUNK_EVENTS: u64 = 4_096;
/// Decoded chunks kept: how far (in chunks) the fastest view may run ahead
/// of the slowest before the slowest decodes again; 32 × 4,096 events is a
/// few tens of MB of decoded events.
pub const CACHE_CHUNKS: usize = 32;

/// Decoded events of consecutive positions from `first`, up to a failure.
#[derive(Debug)]
pub struct Chunk {
    first: Position,
    events: Vec<Decoded>,
    failure: Option<DecodeFailure>,
}

/// Consecutive decoded events handed to one view's `apply`, and the
/// failure that ends them, if any.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    parts: Vec<(Arc<Chunk>, Range<usize>)>,
    failure: Option<DecodeFailure>,
}

impl Batch {
    /// The events in log order.
    pub fn events(&self) -> impl Iterator<Item = &Decoded> + '_ {
        self.parts
            .iter()
            .flat_map(|(chunk, range)| chunk.events[range.clone()].iter())
    }

    /// The last event, if any.
    pub fn last(&self) -> Option<&Decoded> {
        self.parts
            .last()
            .and_then(|(chunk, range)| chunk.events[range.clone()].last())
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|(_, range)| range.len()).sum()
    }

    /// The record after the events that could not be decoded, if any.
    pub fn failure(&self) -> Option<&DecodeFailure> {
        self.failure.as_ref()
    }
}

/// One cached chunk; its lock is held while the first reader decodes it,
/// so that the others wait for it instead of decoding it too.
type Slot = Arc<Mutex<Option<Arc<Chunk>>>>;

/// Reads and decodes the log once for every view.
#[derive(Debug)]
pub struct Feed {
    log: SledLog,
    chunks: Mutex<BTreeMap<u64, Slot>>,
}

impl Feed {
    /// A feed over `log`.
    pub fn new(log: SledLog) -> Self {
        Self {
            log,
            chunks: Mutex::new(BTreeMap::new()),
        }
    }

    /// Up to `max` decoded events from `from`, as far as the log is durable
    /// now, ending early at a record that does not decode. Blocking.
    pub fn read(&self, from: Position, max: usize) -> Result<Batch> {
        let head = self.log.len();
        let end = head.min(from.saturating_add(max as u64));
        let mut batch = Batch::default();
        let mut at = from;
        while at < end {
            let index = at / CHUNK_EVENTS;
            let chunk_end = (index + 1) * CHUNK_EVENTS;
            let chunk = if chunk_end <= head {
                self.chunk(index)?
            } else {
                Arc::new(decode_range(&self.log, at, end)?)
            };
            let until = end.min(chunk_end);
            let lo = usize::try_from(at - chunk.first).unwrap_or(usize::MAX);
            let hi = usize::try_from(until - chunk.first)
                .unwrap_or(usize::MAX)
                .min(chunk.events.len());
            if lo < hi {
                batch.parts.push((chunk.clone(), lo..hi));
            }
            if let Some(failure) = chunk.failure.as_ref().filter(|f| f.position < until) {
                batch.failure = Some(failure.clone());
                break;
            }
            at = until;
        }
        Ok(batch)
    }

    /// The full chunk `index`, decoded once.
    fn chunk(&self, index: u64) -> Result<Arc<Chunk>> {
        let slot = {
            let mut chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
            let slot = chunks.entry(index).or_default().clone();
            while chunks.len() > CACHE_CHUNKS {
                chunks.pop_first();
            }
            slot
        };
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(chunk) = guard.as_ref() {
            return Ok(chunk.clone());
        }
        let first = index * CHUNK_EVENTS;
        let chunk = Arc::new(decode_range(&self.log, first, first + CHUNK_EVENTS)?);
        *guard = Some(chunk.clone());
        Ok(chunk)
    }
}

/// Decodes the durable records in `from..end`, up to the first that does
/// not decode.
fn decode_range(log: &SledLog, from: Position, end: Position) -> Result<Chunk> {
    let capacity = usize::try_from(end.saturating_sub(from)).unwrap_or(0);
    let mut events = Vec::with_capacity(capacity);
    let mut failure = None;
    for record in log.iter_range(from, end) {
        let record = record?;
        match decode(&record) {
            Ok(event) => events.push(event),
            Err(f) => {
                failure = Some(f);
                break;
            }
        }
    }
    Ok(Chunk {
        first: from,
        events,
        failure,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testkit::{appends, Generator, Shape};
    use casebook_log::{ExpectedRevision, Metadata, NewEvent, StreamAppend};

    /// A log of at least `events` generated events, in a temporary directory.
    pub(crate) async fn filled(events: u64) -> (tempfile::TempDir, SledLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        let mut generator = Generator::new(7, Shape::small());
        let mut chunk = generator.drain();
        while log.len() < events {
            for parts in appends(&chunk, casebook_log::APPEND_STREAMS_MAX) {
                log.append_multi(parts).await.unwrap();
            }
            chunk = generator.events(1_000);
        }
        (dir, log)
    }

    fn positions(batch: &Batch) -> Vec<Position> {
        batch.events().map(|e| e.position).collect()
    }

    #[tokio::test]
    async fn a_read_across_chunks_and_the_head_is_every_position_once_in_order() {
        let (_dir, log) = filled(CHUNK_EVENTS * 2 + 100).await;
        let head = log.len();
        let feed = Feed::new(log);
        let from = CHUNK_EVENTS - 5;
        let batch = feed.read(from, usize::MAX).unwrap();
        assert_eq!(positions(&batch), (from..head).collect::<Vec<_>>());
        assert_eq!(batch.last().map(|e| e.position), Some(head - 1));
        assert!(batch.failure().is_none());
        let bounded = feed.read(3, 10).unwrap();
        assert_eq!(positions(&bounded), (3..13).collect::<Vec<_>>());
        assert_eq!(feed.read(head, 10).unwrap().len(), 0);
    }

    #[tokio::test]
    async fn views_reading_the_same_full_chunk_share_one_decoding() {
        let (_dir, log) = filled(CHUNK_EVENTS + 10).await;
        let feed = Feed::new(log);
        let first = feed.read(0, 100).unwrap();
        let second = feed.read(50, 100).unwrap();
        assert!(Arc::ptr_eq(&first.parts[0].0, &second.parts[0].0));
        // The chunk at the head is not final: decoded for each reader.
        let head_a = feed.read(CHUNK_EVENTS, 5).unwrap();
        let head_b = feed.read(CHUNK_EVENTS, 5).unwrap();
        assert!(!Arc::ptr_eq(&head_a.parts[0].0, &head_b.parts[0].0));
    }

    #[tokio::test]
    async fn a_record_that_does_not_decode_ends_the_batch_with_its_failure() {
        let (_dir, log) = filled(50).await;
        let bad_at = log.len();
        let bad = NewEvent {
            id: uuid::Uuid::new_v4(),
            event_type: "concern.from_the_future".into(),
            schema_version: 1,
            data: serde_json::json!({}),
            metadata: Metadata {
                actor: "test".into(),
                correlation_id: None,
                causation_id: None,
                occurred_at: chrono::Utc::now(),
            },
        };
        let outcome = log
            .append_multi(vec![StreamAppend {
                stream: format!("concern-{}", uuid::Uuid::new_v4()),
                expected: ExpectedRevision::Any,
                events: vec![bad],
            }])
            .await;
        outcome.unwrap();
        let feed = Feed::new(log);
        let batch = feed.read(0, usize::MAX).unwrap();
        assert_eq!(positions(&batch), (0..bad_at).collect::<Vec<_>>());
        assert_eq!(batch.failure().map(|f| f.position), Some(bad_at));
        let at_failure = feed.read(bad_at, 10).unwrap();
        assert_eq!(at_failure.len(), 0);
        assert_eq!(at_failure.failure().map(|f| f.position), Some(bad_at));
    }
}
