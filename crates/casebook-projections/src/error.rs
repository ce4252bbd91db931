//! The one error type of the projections crate.
//!
//! A worker that meets an error stops and reports it through
//! [`crate::Projections::status`]; a query that meets one returns it. The
//! HTTP layer maps them: `NotFound`, `InvalidQuery` and `BadCursor` are the
//! caller's fault (404, 400), `Timeout` is 504, everything else is 500/503.

use casebook_log::Position;

/// Everything that can go wrong in a projection or a query.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The log failed (closed, corrupt, I/O).
    #[error("log: {0}")]
    Log(#[from] casebook_log::LogError),

    /// The views' registry (a sled database) failed.
    #[error("view storage: {0}")]
    Storage(#[from] sled::Error),

    /// Work on a view failed outside its data (a thread, an encoding).
    #[error("view storage: {0}")]
    Transaction(String),

    /// The search index (tantivy) failed.
    #[error("search index: {0}")]
    Search(#[from] tantivy::TantivyError),

    /// A stored view value could not be read back: the view is damaged or
    /// was written by other code; rebuild it.
    #[error("view `{view}` holds a value it cannot read: {reason}")]
    Corrupt {
        /// The view.
        view: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// A projection stopped on an event it could not apply; it stays
    /// stopped until the cause is fixed and it is rebuilt.
    #[error("projection `{view}` stopped at position {position} ({event_type}): {reason}")]
    Stopped {
        /// The view.
        view: &'static str,
        /// The position of the event it could not apply.
        position: Position,
        /// The event's type.
        event_type: String,
        /// Why.
        reason: String,
    },

    /// `wait_for` gave up before every view reached the position.
    #[error("views did not reach position {position} within {timeout_ms} ms")]
    Timeout {
        /// The position waited for.
        position: Position,
        /// The time waited.
        timeout_ms: u64,
    },

    /// A pagination cursor was not made by this crate (or by this version).
    #[error("the cursor is not valid")]
    BadCursor,

    /// A query's parameters make no sense (an empty search, a reversed period).
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    /// No view of that name exists.
    #[error("no view named `{0}`")]
    UnknownView(String),

    /// Encoding a view value failed (a bug, not a data problem).
    #[error("encoding a view value: {0}")]
    Encode(#[from] serde_json::Error),

    /// A domain event could not be encoded (a bug in the watcher, not data).
    #[error("domain: {0}")]
    Domain(#[from] casebook_domain::DomainError),

    /// A file or directory operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),

    /// The projections were shut down.
    #[error("the projections are shut down")]
    ShutDown,
}

/// Shorthand used throughout the crate.
pub type Result<T, E = ProjectionError> = std::result::Result<T, E>;
