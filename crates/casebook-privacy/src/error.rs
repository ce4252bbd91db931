//! The one error type of the crate.

use uuid::Uuid;

/// What can go wrong sealing, unsealing or managing keys.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A key file or the master key file could not be read or written.
    #[error("key store I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The master key is not 64 hex digits (the value is never echoed).
    #[error("the master key must be 64 hexadecimal digits (32 bytes): {0}")]
    MasterKey(String),
    /// A key file does not open with this master key: the wrong master key,
    /// or a damaged file.
    #[error("the key of {subject} does not open with this master key (wrong master key, or a damaged key file)")]
    Unwrap {
        /// Whose key.
        subject: Uuid,
    },
    /// Sealed data refers to a key that is neither present nor erased: the
    /// key store is incomplete (restored without its keys?).
    #[error("the key of {subject} is missing from the key store (it was never erased); restore the key store with the log")]
    MissingKey {
        /// Whose key.
        subject: Uuid,
    },
    /// Personal data cannot be written for a household whose data was erased.
    #[error("the personal data of {subject} was erased; nothing personal can be recorded for it any more")]
    Erased {
        /// Whose key.
        subject: Uuid,
    },
    /// A sealed field failed its authentication: it was altered.
    #[error("sealed field `{field}` of event {event_id} fails its authentication (altered)")]
    Tampered {
        /// The event.
        event_id: Uuid,
        /// The field.
        field: String,
    },
    /// A record does not have the shape the domain expects.
    #[error("record {event_id} ({event_type}): {reason}")]
    Malformed {
        /// The event.
        event_id: Uuid,
        /// Its type.
        event_type: String,
        /// Why.
        reason: String,
    },
    /// The domain refused to encode or decode an event.
    #[error(transparent)]
    Domain(#[from] casebook_domain::DomainError),
}

/// The crate's result type.
pub type Result<T, E = PrivacyError> = std::result::Result<T, E>;

/// An I/O error on `path`.
pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PrivacyError + '_ {
    move |source| PrivacyError::Io {
        path: path.display().to_string(),
        source,
    }
}
