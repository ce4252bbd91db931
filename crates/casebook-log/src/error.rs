//! The one error type of the log crate.
//!
//! Every failure a caller can see is a variant here, with enough context to
//! act on it: a concurrency error names both revisions, a corruption error
//! names the position, an idempotency conflict names the event id.

use crate::record::{ExpectedRevision, Position};
use uuid::Uuid;

/// Everything that can go wrong when appending to or reading from the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The stream's current revision is not the one the caller expected.
    /// Nothing was written. `actual` is `None` when the stream does not exist.
    #[error("wrong expected revision on stream {stream}: expected {expected}, actual {}", display_revision(.actual))]
    WrongExpectedRevision {
        /// The stream whose revision did not match.
        stream: String,
        /// What the caller said the stream's revision would be.
        expected: ExpectedRevision,
        /// The stream's revision when the append was decided.
        actual: Option<u64>,
    },

    /// An event id that is already in the log was sent again with other
    /// content, or an append mixes ids already in the log with new ones.
    /// Nothing was written.
    #[error("event {event_id} conflicts with the log: {reason}")]
    IdempotencyConflict {
        /// The id that was reused.
        event_id: Uuid,
        /// Why the retry could not be treated as a repeat of the original.
        reason: &'static str,
    },

    /// The append or read request itself is malformed (empty batch, bad
    /// stream name, too large...). Nothing was written.
    #[error("invalid request: {0}")]
    Invalid(String),

    /// A stored record or index does not match its hash or its neighbours.
    /// The log refuses to serve it.
    #[error("log corrupted at position {position}: {reason}")]
    Corrupt {
        /// The first position found to be bad.
        position: Position,
        /// What exactly did not check out.
        reason: String,
    },

    /// A write or sync failed earlier; the log stops accepting appends until
    /// it is reopened, because what is on disk is no longer known.
    #[error("the log stopped accepting appends after an I/O failure: {0}")]
    Unavailable(String),

    /// The underlying sled store failed.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),

    /// A file operation (such as the fsync that makes a batch durable) failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn display_revision(revision: &Option<u64>) -> String {
    match revision {
        Some(revision) => revision.to_string(),
        None => "no stream".to_owned(),
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
