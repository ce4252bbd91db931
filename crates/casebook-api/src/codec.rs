//! Between the domain's events and the log's records.
//!
//! The log stores the actor and the field time in its own metadata and the
//! command id as the correlation id; the domain's event is rebuilt from
//! those and the payload. Event ids are UUID v5 of the command id and the
//! event's index, so that a retried command proposes the very same ids.

use casebook_domain::{payload_from_record, payload_to_record, Event, PersonId};
use casebook_log::{Metadata, NewEvent, RecordedEvent};
use uuid::Uuid;

use crate::error::ApiError;

/// The id of the `index`-th event of the command `command_id`.
pub fn event_id(command_id: Uuid, index: usize) -> Uuid {
    Uuid::new_v5(&command_id, index.to_string().as_bytes())
}

/// The log record proposed for the `index`-th event of a command.
pub fn encode(event: &Event, command_id: Uuid, index: usize) -> Result<NewEvent, ApiError> {
    let (event_type, schema_version, data) = payload_to_record(&event.payload)?;
    Ok(NewEvent {
        id: event_id(command_id, index),
        event_type: event_type.to_owned(),
        schema_version,
        data,
        metadata: Metadata {
            actor: event.actor.to_string(),
            correlation_id: Some(command_id),
            causation_id: None,
            occurred_at: event.occurred_at,
        },
    })
}

/// The domain event a record holds.
pub fn decode(recorded: &RecordedEvent) -> Result<Event, ApiError> {
    let data = recorded.data_json()?;
    let payload = payload_from_record(&recorded.event_type, recorded.schema_version, data)?;
    let actor = Uuid::parse_str(&recorded.metadata.actor)
        .map_err(|e| ApiError::Internal(format!("actor of position {}: {e}", recorded.position)))?;
    Ok(Event {
        actor: PersonId(actor),
        occurred_at: recorded.metadata.occurred_at,
        recorded_at: recorded.recorded_at,
        payload,
    })
}
