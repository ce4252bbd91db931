//! The one error type of the benchmark binary.
//!
//! A benchmark stops on the first failure of any store or file operation:
//! a figure measured around a failure would mean nothing. Each variant says
//! which store or step failed; `main` prints it and exits non-zero.

/// Everything that can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Our event log refused or failed an operation.
    #[error("casebook log: {0}")]
    Log(#[from] casebook_log::LogError),

    /// The projections failed (a view stopped, a query failed).
    #[error("casebook projections: {0}")]
    Projection(#[from] casebook_projections::ProjectionError),

    /// Raw sled (the baseline, not our log) failed.
    #[error("raw sled: {0}")]
    Sled(#[from] sled::Error),

    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// A file or directory operation failed; `what` says which step.
    #[error("I/O error while {what}: {source}")]
    Io {
        /// The step that failed, e.g. "creating the data directory".
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The payload could not be serialised.
    #[error("payload: {0}")]
    Json(#[from] serde_json::Error),

    /// A latency histogram could not be made or merged.
    #[error("latency histogram: {0}")]
    Histogram(String),

    /// A writer task panicked or was cancelled.
    #[error("writer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),

    /// A store's background thread or lock is gone (it panicked).
    #[error("{0} is no longer usable (a thread holding it panicked or stopped)")]
    Broken(&'static str),

    /// A store returned other figures than those written; the run is void.
    #[error("{store}: expected {expected} events, found {actual}")]
    Mismatch {
        /// Which store or step.
        store: &'static str,
        /// What was written.
        expected: u64,
        /// What came back.
        actual: u64,
    },

    /// The audit trail (tree, export, proofs) failed.
    #[error("casebook audit: {0}")]
    Audit(#[from] casebook_audit::AuditError),

    /// An export did not check, or a proof did not lead to the root.
    #[error("export check: {0}")]
    Export(String),

    /// The `casebook` server under test could not be started or answered
    /// a setup request wrongly.
    #[error("casebook server: {0}")]
    Server(String),

    /// `wrk` is missing, failed, or printed something we cannot read.
    #[error("{0}")]
    Wrk(String),

    /// Writing the report to stdout failed (e.g. a closed pipe).
    #[error("writing the report: {0}")]
    Report(std::io::Error),
}

impl BenchError {
    /// An I/O error with the step that failed.
    pub fn io(what: &'static str, source: std::io::Error) -> Self {
        BenchError::Io { what, source }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
