//! Events as the log stores them, and back, upcasting older versions.
//!
//! The log stores, for each event, a stream, a type, a schema version, JSON
//! data and JSON metadata, and stamps the recorded time itself on commit. So
//! an [`Event`] is split: its payload becomes the `data`, its actor and field
//! time become the `metadata`, and its `recorded_at` is taken from the log
//! when reading back. Records written by an older version of an event type
//! are upcast, one version at a time, to the current shape before they are
//! read; nothing stored is ever rewritten.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::concern::{ConcernKind, Confidentiality, Priority, Subject};
use crate::error::DomainError;
use crate::event::{schema_version_of, Event, Payload};
use crate::ids::{ConcernId, HouseholdId, PersonId, UnitId};
use crate::taxonomy::TopicCode;

/// One event in the shape the log stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event type, `concern.reported`.
    pub event_type: String,
    /// The schema version the data is written in.
    pub schema_version: u32,
    /// The payload.
    pub data: Value,
    /// Who and when in the field: a [`RecordMetadata`] as JSON.
    pub metadata: Value,
}

/// What the domain puts in a record's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMetadata {
    /// The person who did it.
    pub actor: PersonId,
    /// When it happened in the field.
    pub occurred_at: DateTime<Utc>,
}

fn malformed(event_type: &str, error: impl std::fmt::Display) -> DomainError {
    DomainError::MalformedRecord {
        event_type: event_type.to_owned(),
        reason: error.to_string(),
    }
}

/// The payload's type, current schema version and data.
pub fn payload_to_record(payload: &Payload) -> Result<(&'static str, u32, Value), DomainError> {
    let event_type = payload.event_type();
    let mut tagged = serde_json::to_value(payload).map_err(|e| malformed(event_type, e))?;
    let data = tagged
        .get_mut("data")
        .map(Value::take)
        .ok_or_else(|| malformed(event_type, "no data"))?;
    Ok((event_type, payload.schema_version(), data))
}

/// A payload from a stored type, version and data, upcast to the current version.
pub fn payload_from_record(
    event_type: &str,
    schema_version: u32,
    data: Value,
) -> Result<Payload, DomainError> {
    let data = upcast(event_type, schema_version, data)?;
    // The tag goes first, so that serde reads the data straight into its
    // variant instead of buffering it until it meets the tag (a JSON map
    // would order "data" before "type").
    let tagged = [
        (Value::from("type"), Value::from(event_type)),
        (Value::from("data"), data),
    ];
    let fields = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(tagged.into_iter());
    Payload::deserialize(fields).map_err(|e| malformed(event_type, e))
}

/// The payload of a stored record's data read straight from its bytes, in
/// one pass (no intermediate JSON tree), for a record written in its event
/// type's current schema version; `None` for an older one, which
/// [`payload_from_record`] upcasts. Reading a whole log for the views
/// decodes every record, so the pass it saves is most of decoding.
pub fn payload_from_current_bytes(
    event_type: &str,
    schema_version: u32,
    data: &[u8],
) -> Result<Option<Payload>, DomainError> {
    if schema_version_of(event_type) != Some(schema_version) {
        return Ok(None);
    }
    let tagged = TaggedData {
        event_type,
        data,
        fields_read: 0,
    };
    Payload::deserialize(serde::de::value::MapAccessDeserializer::new(tagged))
        .map(Some)
        .map_err(|e| malformed(event_type, e))
}

/// A record's event type and data shown to serde as the map `{"type": …,
/// "data": …}` that [`Payload`]'s adjacent tagging reads, tag first, with
/// the data parsed once, straight from its bytes into its variant.
struct TaggedData<'de> {
    event_type: &'de str,
    data: &'de [u8],
    /// How many of the two fields have been read.
    fields_read: u8,
}

impl<'de> serde::de::MapAccess<'de> for TaggedData<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        use serde::de::IntoDeserializer;
        let name = match self.fields_read {
            0 => "type",
            1 => "data",
            _ => return Ok(None),
        };
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::IntoDeserializer;
        self.fields_read += 1;
        if self.fields_read == 1 {
            return seed.deserialize(self.event_type.into_deserializer());
        }
        let mut data = serde_json::Deserializer::from_slice(self.data);
        let value = seed.deserialize(&mut data)?;
        // Nothing but white space may follow the data.
        data.end()?;
        Ok(value)
    }
}

/// The record the log should store for `event`.
pub fn to_record(event: &Event) -> Result<EventRecord, DomainError> {
    let (event_type, schema_version, data) = payload_to_record(&event.payload)?;
    let metadata = RecordMetadata {
        actor: event.actor,
        occurred_at: event.occurred_at,
    };
    Ok(EventRecord {
        event_type: event_type.to_owned(),
        schema_version,
        data,
        metadata: serde_json::to_value(metadata).map_err(|e| malformed(event_type, e))?,
    })
}

/// The event a stored record holds; `recorded_at` is the log's commit stamp.
pub fn from_record(record: &EventRecord, recorded_at: DateTime<Utc>) -> Result<Event, DomainError> {
    let payload = payload_from_record(
        &record.event_type,
        record.schema_version,
        record.data.clone(),
    )?;
    let metadata: RecordMetadata = serde_json::from_value(record.metadata.clone())
        .map_err(|e| malformed(&record.event_type, e))?;
    Ok(Event {
        actor: metadata.actor,
        occurred_at: metadata.occurred_at,
        recorded_at,
        payload,
    })
}

/// Brings `data` from `schema_version` to the current version of `event_type`.
pub fn upcast(
    event_type: &str,
    schema_version: u32,
    mut data: Value,
) -> Result<Value, DomainError> {
    let unknown = || DomainError::UnknownEvent {
        event_type: event_type.to_owned(),
        schema_version,
    };
    let current = schema_version_of(event_type).ok_or_else(unknown)?;
    if schema_version == 0 || schema_version > current {
        return Err(unknown());
    }
    for version in schema_version..current {
        data = upcast_step(event_type, version, data)?.ok_or_else(unknown)?;
    }
    Ok(data)
}

/// One step, from `version` to `version + 1`; `None` if no such step exists.
fn upcast_step(event_type: &str, version: u32, data: Value) -> Result<Option<Value>, DomainError> {
    match (event_type, version) {
        ("concern.reported", 1) => concern_reported_v1_to_v2(data).map(Some),
        _ => Ok(None),
    }
}

/// `concern.reported` v1: one household only, a boolean `confidential`, no
/// coordinates and no sealed informant.
#[derive(Deserialize)]
struct ConcernReportedV1 {
    concern_id: ConcernId,
    household_id: HouseholdId,
    hamlet_id: UnitId,
    kind: ConcernKind,
    topic: TopicCode,
    priority: Priority,
    confidential: bool,
    text: String,
}

/// v1 → v2: the household becomes a `subject`; `confidential: true` becomes
/// `sensitive` (v1 had no sealed tips, so no informant was ever recorded);
/// coordinates and informant are absent.
fn concern_reported_v1_to_v2(data: Value) -> Result<Value, DomainError> {
    let v1: ConcernReportedV1 =
        serde_json::from_value(data).map_err(|e| malformed("concern.reported", e))?;
    let confidentiality = if v1.confidential {
        Confidentiality::Sensitive
    } else {
        Confidentiality::Normal
    };
    let v2 = crate::concern::ConcernReported {
        concern_id: v1.concern_id,
        subject: Subject::Household {
            household_id: v1.household_id,
        },
        hamlet_id: v1.hamlet_id,
        coordinates: None,
        kind: v1.kind,
        topic: v1.topic,
        priority: v1.priority,
        confidentiality,
        sealed_informant: None,
        personal_note: None,
        text: v1.text,
    };
    serde_json::to_value(v2).map_err(|e| malformed("concern.reported", e))
}
