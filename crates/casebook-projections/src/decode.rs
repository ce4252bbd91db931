//! Turns a log record into a domain event, once per record (see `feed`).
//!
//! Views never hold residents' personal data: every sealed field decodes
//! to its empty placeholder ([`Unsealer::Withhold`]), so erasing a
//! household's key leaves nothing of it in any view.
//!
//! A record that does not decode (an unknown type, a future version, data
//! that does not fit) stops the projection at that position: skipping it
//! would leave the view silently wrong.

use casebook_domain::{Event, StreamId};
use casebook_log::{Position, RecordedEvent};
use casebook_privacy::Unsealer;
use chrono::{DateTime, Utc};

/// One event as the views see it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Its place in the log.
    pub position: Position,
    /// The aggregate it belongs to.
    pub stream: StreamId,
    /// Whether it is its stream's first event (revision 0). Nothing in a
    /// view is keyed by an aggregate before its stream's first event (the
    /// log holds no event about it before that one), so a view need not
    /// look up what it keeps of the aggregate: there is nothing yet.
    pub opens_stream: bool,
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
    let event =
        casebook_privacy::decode(record, Unsealer::Withhold).map_err(|e| fail(e.to_string()))?;
    Ok(Decoded {
        position: record.position,
        stream,
        opens_stream: record.revision == 0,
        recorded_at: record.recorded_at,
        event,
    })
}
