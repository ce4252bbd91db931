//! The one mapping between the domain's events and the log's records.
//!
//! The log stores the actor and the field time in its own metadata and a
//! command id as the correlation id; the domain's event is rebuilt from
//! those and the payload. Event ids of a command's events are UUID v5 of
//! the command id and the event's index, so that a retried command proposes
//! the very same ids. Decoding opens sealed fields as the caller's
//! [`Unsealer`] allows; encoding leaves them plain, and the appender seals
//! them with [`crate::seal`] once it knows the stream.

use std::sync::LazyLock;

use casebook_domain::{
    payload_from_current_bytes, payload_from_record, payload_to_record, Event, PersonId,
};
use casebook_log::{Metadata, NewEvent, RecordedEvent};
use memchr::memmem;
use uuid::Uuid;

use crate::error::{PrivacyError, Result};
use crate::seal::{personal_fields, unseal, Unsealer, SEALED_TAG};

/// The id of the `index`-th event of the command `command_id`.
pub fn event_id(command_id: Uuid, index: usize) -> Uuid {
    Uuid::new_v5(&command_id, index.to_string().as_bytes())
}

/// The log record of a domain event under `id` (personal fields still
/// plain: seal before appending).
pub fn encode(event: &Event, id: Uuid, correlation_id: Option<Uuid>) -> Result<NewEvent> {
    let (event_type, schema_version, data) = payload_to_record(&event.payload)?;
    Ok(NewEvent {
        id,
        event_type: event_type.to_owned(),
        schema_version,
        data,
        metadata: Metadata {
            actor: event.actor.to_string(),
            correlation_id,
            causation_id: None,
            occurred_at: event.occurred_at,
        },
    })
}

/// The domain event a record holds, its sealed fields opened by `unsealer`.
pub fn decode(recorded: &RecordedEvent, unsealer: Unsealer<'_>) -> Result<Event> {
    let malformed = |reason: String| PrivacyError::Malformed {
        event_id: recorded.id,
        event_type: recorded.event_type.clone(),
        reason,
    };
    let one_pass = || {
        payload_from_current_bytes(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.data,
        )
    };
    let payload = match personal_fields(&recorded.event_type) {
        // Nothing to open: straight from the bytes where the version allows.
        [] => one_pass()?,
        // Personal fields, none of them sealed (a report without a tip or a
        // note): the same single pass. An envelope never reads as the
        // field's own type, so should one hide from the byte search (an
        // escaped key), the pass fails and the tree below opens it.
        _ if !mentions_sealed_tag(&recorded.data) => one_pass().ok().flatten(),
        _ => None,
    };
    let payload = match payload {
        Some(payload) => payload,
        None => {
            let mut data: serde_json::Value =
                serde_json::from_slice(&recorded.data).map_err(|e| malformed(e.to_string()))?;
            unseal(&recorded.event_type, recorded.id, &mut data, unsealer)?;
            payload_from_record(&recorded.event_type, recorded.schema_version, data)?
        }
    };
    let actor =
        Uuid::parse_str(&recorded.metadata.actor).map_err(|e| malformed(format!("actor: {e}")))?;
    Ok(Event {
        actor: PersonId(actor),
        occurred_at: recorded.metadata.occurred_at,
        recorded_at: recorded.recorded_at,
        payload,
    })
}

/// The searcher for [`SEALED_TAG`], built once: building it for every
/// record cost as much as searching most records.
static SEALED_TAG_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(SEALED_TAG.as_bytes()));

/// Whether a record's data holds the sealed envelope's key anywhere (in a
/// text, too: then the slower path merely finds nothing to open).
fn mentions_sealed_tag(data: &[u8]) -> bool {
    SEALED_TAG_FINDER.find(data).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealed_tag_is_found_wherever_it_is_and_only_there() {
        let tag = SEALED_TAG.as_bytes();
        assert!(mentions_sealed_tag(tag));
        assert!(mentions_sealed_tag(
            format!(r#"{{"note":{{"{SEALED_TAG}":"x"}}}}"#).as_bytes()
        ));
        assert!(!mentions_sealed_tag(&tag[..tag.len() - 1]));
        assert!(!mentions_sealed_tag(br#"{"note":"plain"}"#));
        assert!(!mentions_sealed_tag(b""));
    }
}
