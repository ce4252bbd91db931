//! Turns a log record into a domain event, once per record per view.
//!
//! A record that does not decode (an unknown type, a future version, data
//! that does not fit) stops the projection at that position: skipping it
//! would leave the view silently wrong.

use casebook_domain::{from_record, Event, EventRecord, StreamId};
use casebook_log::{Position, RecordedEvent};
use chrono::{DateTime, Utc};

/// One event as the views see it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Its place in the log.
    pub position: Position,
    /// The aggregate it belongs to.
    pub stream: StreamId,
    /// When the log committed it.
    pub recorded_at: DateTime<Utc>,
    /// The event.
    pub event: Event,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone)]
pub struct DecodeFailure {
    /// The record's position.
    pub position: Position,
    /// The record's type.
    pub event_type: String,
    /// Why.
    pub reason: String,
}

/// Decodes one record.
pub fn decode(record: &RecordedEvent) -> Result<Decoded, DecodeFailure> {
    let fail = |reason: String| DecodeFailure {
        position: record.position,
        event_type: record.event_type.clone(),
        reason,
    };
    let stream = StreamId::parse(&record.stream).map_err(|e| fail(e.to_string()))?;
    let data = serde_json::from_slice(&record.data).map_err(|e| fail(e.to_string()))?;
    let metadata = serde_json::json!({
        "actor": record.metadata.actor,
        "occurred_at": record.metadata.occurred_at,
    });
    let stored = EventRecord {
        event_type: record.event_type.clone(),
        schema_version: record.schema_version,
        data,
        metadata,
    };
    let event = from_record(&stored, record.recorded_at).map_err(|e| fail(e.to_string()))?;
    Ok(Decoded {
        position: record.position,
        stream,
        recorded_at: record.recorded_at,
        event,
    })
}

/// Decodes a batch up to the first failure: the events before it, and the
/// failure if there was one.
pub fn decode_batch(records: &[RecordedEvent]) -> (Vec<Decoded>, Option<DecodeFailure>) {
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        match decode(record) {
            Ok(decoded) => out.push(decoded),
            Err(failure) => return (out, Some(failure)),
        }
    }
    (out, None)
}
