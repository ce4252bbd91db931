//! Between the domain's events and the log's records, for the API.
//!
//! The mapping itself lives in `casebook-privacy` (one mapping for the API,
//! the views and the demo loader); this module adds the API's error type
//! and its default: [`decode`] withholds personal data (every sealed field
//! shows its empty placeholder), and only [`decode_personal`], used where
//! an answer must show a household's details, opens it with the keys.
//! Event ids are UUID v5 of the command id and the event's index, so that a
//! retried command proposes the very same ids.

use casebook_domain::Event;
use casebook_log::{NewEvent, RecordedEvent};
use casebook_privacy::{KeyStore, Unsealer};
use uuid::Uuid;

use crate::error::ApiError;

pub use casebook_privacy::event_id;

/// The log record proposed for the `index`-th event of a command, with its
/// personal fields still plain (see [`seal`]).
pub fn encode(event: &Event, command_id: Uuid, index: usize) -> Result<NewEvent, ApiError> {
    Ok(casebook_privacy::encode(
        event,
        event_id(command_id, index),
        Some(command_id),
    )?)
}

/// Seals the personal fields of a record bound for `stream`.
pub fn seal(event: &mut NewEvent, stream: &str, keys: &KeyStore) -> Result<(), ApiError> {
    Ok(casebook_privacy::seal(event, stream, keys)?)
}

/// The domain event a record holds, personal data withheld.
pub fn decode(recorded: &RecordedEvent) -> Result<Event, ApiError> {
    Ok(casebook_privacy::decode(recorded, Unsealer::Withhold)?)
}

/// The domain event a record holds, personal data opened with `keys`
/// (erased data shows its empty placeholder).
pub fn decode_personal(recorded: &RecordedEvent, keys: &KeyStore) -> Result<Event, ApiError> {
    Ok(casebook_privacy::decode(recorded, Unsealer::Keys(keys))?)
}
