//! The contract every storage backend of the log fulfils.
//!
//! The sled backend ([`crate::SledLog`]) is the embedded default; a
//! PostgreSQL backend can implement the same trait later and must pass the
//! same suite, [`crate::conformance`]. Catch-up subscriptions
//! ([`crate::Subscription`]) are built on this trait alone, so every backend
//! gets them for free.

use crate::error::Result;
use crate::record::{Position, RecordedEvent, StreamAppend};
use crate::writer::AppendOutcome;
use std::future::Future;
use tokio::sync::watch;

/// Which way a read walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From older to newer.
    Forwards,
    /// From newer to older.
    Backwards,
}

/// Most events one page read returns, whatever the caller asks for.
pub const READ_PAGE_EVENTS_MAX: usize = 4096;

/// What a successful `verify` walked over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records checked.
    pub events: u64,
    /// Bytes of stored records checked.
    pub bytes: u64,
    /// The first and last position checked, if any.
    pub range: Option<(Position, Position)>,
    /// The hash of the last record checked (the chain's head if the walk
    /// reached the end).
    pub last_hash: Option<[u8; 32]>,
}

/// A durable, append-only, hash-chained event log.
///
/// Reads never return an event before it is durable. `from` bounds are
/// inclusive; `None` means the start (forwards) or the end (backwards).
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends to one or more streams atomically; see [`crate::SledLog::append`].
    fn append_to_streams(
        &self,
        parts: Vec<StreamAppend>,
    ) -> impl Future<Output = Result<AppendOutcome>> + Send;

    /// A page of one stream's events, by revision.
    fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from_revision: Option<u64>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// A page of the whole log, by position.
    fn read_all(
        &self,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// A page of the events of every stream in a category, by position.
    fn read_category(
        &self,
        category: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// A page of the events of one type, by position.
    fn read_event_type(
        &self,
        event_type: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// The last durable revision of a stream, or `None` if it has no events.
    fn stream_revision(&self, stream: &str) -> impl Future<Output = Result<Option<u64>>> + Send;

    /// Re-checks every record in `[from, to]` (both inclusive, `None` for the
    /// ends) against its hash and its predecessor; names the first bad one.
    fn verify(
        &self,
        from: Option<Position>,
        to: Option<Position>,
    ) -> impl Future<Output = Result<VerifyReport>> + Send;

    /// The number of durable events (= the next position), and a way to wait
    /// for it to grow.
    fn durable_len(&self) -> watch::Receiver<u64>;
}
