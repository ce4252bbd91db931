//! The shared decode stage: every view reads the log through one [`Feed`],
//! which reads and decodes each record once, whatever the number of views.
//!
//! The log is cut into fixed chunks of [`CHUNK_EVENTS`] positions. A chunk
//! that lies wholly below the durable head is decoded by the first worker
//! that needs it and kept (the most recent [`CACHE_CHUNKS`] of them), so
//! the other views, which follow close behind during a rebuild or a
//! catch-up, take the same decoded events instead of parsing the JSON again.
//! The chunk at the head is not final yet; its events are kept instead as
//! they are read, in the [`Tail`]: the first view to read a live position
//! decodes it (the others wait for it on the tail's lock) and the views
//! that follow take those same events, so a live event too is read from
//! sled, checked against its hash and decoded once, not once per view. The
//! tail keeps the last [`TAIL_EVENTS_KEEP`] positions read at the head.
//!
//! A record that does not decode ends its chunk: the chunk holds the events
//! before it and the failure, and every view stops at that same position.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

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
/// Live positions the tail keeps decoded: how far (in events) the slowest
/// view at the head may trail the fastest and still share its decoding.
pub const TAIL_EVENTS_KEEP: u64 = CHUNK_EVENTS;

/// Decoded events of consecutive positions from `first`, up to a failure.
#[derive(Debug)]
pub struct Chunk {
    first: Position,
    events: Vec<Decoded>,
    failure: Option<DecodeFailure>,
}

impl Chunk {
    /// The position after its last decoded event.
    fn end(&self) -> Position {
        self.first + self.events.len() as u64
    }
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

    /// Adds `chunk`'s events in `at..until`; true when the chunk's failure
    /// lies in that range, which ends the batch.
    fn push(&mut self, chunk: Arc<Chunk>, at: Position, until: Position) -> bool {
        let lo = usize::try_from(at.saturating_sub(chunk.first)).unwrap_or(usize::MAX);
        let hi = usize::try_from(until.saturating_sub(chunk.first))
            .unwrap_or(usize::MAX)
            .min(chunk.events.len());
        if let Some(failure) = chunk.failure.as_ref().filter(|f| f.position < until) {
            self.failure = Some(failure.clone());
        }
        if lo < hi {
            self.parts.push((chunk, lo..hi));
        }
        self.failure.is_some()
    }
}

/// One cached chunk; its lock is held while the first reader decodes it,
/// so that the others wait for it instead of decoding it too.
type Slot = Arc<Mutex<Option<Arc<Chunk>>>>;

/// The live positions decoded last, as the segments the views read them
/// in: consecutive, oldest first, none holding a failure.
#[derive(Debug, Default)]
struct Tail {
    segments: VecDeque<Arc<Chunk>>,
}

impl Tail {
    /// The first position kept, if any.
    fn start(&self) -> Option<Position> {
        self.segments.front().map(|segment| segment.first)
    }

    /// The position after the last one kept, if any.
    fn end(&self) -> Option<Position> {
        self.segments.back().map(|segment| segment.end())
    }

    /// Whether `at` is kept, or is the next position to decode.
    fn holds(&self, at: Position) -> bool {
        matches!((self.start(), self.end()), (Some(start), Some(end)) if start <= at && at <= end)
    }

    /// Adds a segment that follows the last one, and forgets the oldest
    /// beyond [`TAIL_EVENTS_KEEP`].
    fn keep(&mut self, segment: Arc<Chunk>) {
        self.segments.push_back(segment);
        while let (Some(start), Some(end)) = (self.start(), self.end()) {
            if end - start <= TAIL_EVENTS_KEEP || self.segments.len() == 1 {
                break;
            }
            self.segments.pop_front();
        }
    }
}

/// Reads and decodes the log once for every view.
#[derive(Debug)]
pub struct Feed {
    log: SledLog,
    chunks: Mutex<BTreeMap<u64, Slot>>,
    tail: Mutex<Tail>,
}

impl Feed {
    /// A feed over `log`.
    pub fn new(log: SledLog) -> Self {
        Self {
            log,
            chunks: Mutex::new(BTreeMap::new()),
            tail: Mutex::new(Tail::default()),
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
            let until = end.min(chunk_end);
            let ended = if chunk_end <= head && !self.lock_tail().holds(at) {
                batch.push(self.chunk(index)?, at, until)
            } else {
                self.read_tail(at, until, &mut batch)?
            };
            if ended {
                break;
            }
            at = until;
        }
        Ok(batch)
    }

    fn lock_tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the live events in `at..until` to `batch`, from the tail where
    /// it holds them; the positions after the tail are decoded under its
    /// lock and kept. A reader behind the tail decodes its own way up to
    /// it. True when a failure ends the batch.
    fn read_tail(&self, mut at: Position, until: Position, batch: &mut Batch) -> Result<bool> {
        while at < until {
            let mut tail = self.lock_tail();
            if let Some(start) = tail.start().filter(|&start| at < start) {
                drop(tail);
                let own_end = until.min(start);
                let own = Arc::new(decode_range(&self.log, at, own_end)?);
                if batch.push(own, at, own_end) {
                    return Ok(true);
                }
                at = own_end;
                continue;
            }
            if !tail.holds(at) {
                tail.segments.clear();
            }
            let after = tail.segments.partition_point(|segment| segment.end() <= at);
            for segment in tail.segments.range(after..) {
                let to = until.min(segment.end());
                batch.push(segment.clone(), at, to);
                at = to;
                if at == until {
                    return Ok(false);
                }
            }
            let segment = Arc::new(decode_range(&self.log, at, until)?);
            let ended = batch.push(segment.clone(), at, until);
            if segment.failure.is_none() && !segment.events.is_empty() {
                tail.keep(segment);
            }
            return Ok(ended);
        }
        Ok(false)
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
        // The chunk at the head is not final: its events are shared
        // through the tail instead.
        let head_a = feed.read(CHUNK_EVENTS, 5).unwrap();
        let head_b = feed.read(CHUNK_EVENTS + 2, 3).unwrap();
        assert!(Arc::ptr_eq(&head_a.parts[0].0, &head_b.parts[0].0));
        assert_eq!(
            positions(&head_b),
            (CHUNK_EVENTS + 2..CHUNK_EVENTS + 5).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_reader_behind_the_tail_decodes_its_own_way_up_to_it_then_shares_it() {
        let (_dir, log) = filled(100).await;
        let head = log.len();
        let feed = Feed::new(log);
        let ahead = feed.read(50, usize::MAX).unwrap();
        assert_eq!(positions(&ahead), (50..head).collect::<Vec<_>>());
        let behind = feed.read(40, 20).unwrap();
        assert_eq!(positions(&behind), (40..60).collect::<Vec<_>>());
        assert_eq!(behind.parts.len(), 2);
        assert!(!Arc::ptr_eq(&behind.parts[0].0, &ahead.parts[0].0));
        assert!(Arc::ptr_eq(&behind.parts[1].0, &ahead.parts[0].0));
        // The tail still starts where it did: the reader behind kept nothing.
        assert_eq!(feed.lock_tail().start(), Some(50));
    }

    /// Appends `events` generated events to `log`.
    async fn append_more(log: &SledLog, generator: &mut Generator, events: usize) {
        let chunk = generator.events(events);
        for parts in appends(&chunk, casebook_log::APPEND_STREAMS_MAX) {
            log.append_multi(parts).await.unwrap();
        }
    }

    #[tokio::test]
    async fn readers_at_the_head_get_every_position_once_however_their_reads_interleave() {
        let (_dir, log) = filled(CHUNK_EVENTS - 300).await;
        let feed = Feed::new(log.clone());
        let mut generator = Generator::new(11, Shape::small());
        // Five views at different places, each reading at its own pace
        // while the log grows across a chunk boundary and beyond the tail.
        let mut next: Vec<Position> = vec![0, CHUNK_EVENTS - 400, CHUNK_EVENTS - 300, 17, 900];
        let paces = [usize::MAX, 7, 50, 1_000, 3];
        for round in 0..60 {
            append_more(&log, &mut generator, 40 + round * 7).await;
            for (reader, pace) in paces.iter().enumerate() {
                let from = next[reader];
                let batch = feed.read(from, *pace).unwrap();
                let expected_end = log.len().min(from.saturating_add(*pace as u64));
                assert_eq!(positions(&batch), (from..expected_end).collect::<Vec<_>>());
                assert!(batch.failure().is_none());
                next[reader] = expected_end;
            }
        }
        assert!(log.len() > 2 * CHUNK_EVENTS + TAIL_EVENTS_KEEP);
        // The tail kept at most its bound beyond the segment that crossed it.
        let tail = feed.lock_tail();
        let (start, end) = (tail.start().unwrap(), tail.end().unwrap());
        let last = tail.segments.back().unwrap().events.len() as u64;
        assert!(end - start <= TAIL_EVENTS_KEEP + last, "{start}..{end}");
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
