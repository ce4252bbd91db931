//! What one event looks like: as the caller proposes it, as the log stores
//! it, and the canonical bytes the hash chain is computed over.
//!
//! The stored form of a record *is* its canonical form (plus two hashes), so
//! that a reader re-checks exactly the bytes that were hashed when written.
//! The byte layout is specified in `docs/ARCHITECTURE.md` ("Record bytes").

use crate::error::{LogError, Result};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A global position: dense and gapless from 0, in commit order.
pub type Position = u64;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash that the first record's chain starts from.
pub const GENESIS_HASH: Hash = [0; 32];

/// Format byte at the start of every record; bumped if the layout changes.
const RECORD_FORMAT_V1: u8 = 1;

/// Longest stream name, in bytes. Long enough for `<category>-<uuid>` with room.
pub const STREAM_NAME_MAX_BYTES: usize = 200;
/// Longest event type name, in bytes.
pub const EVENT_TYPE_MAX_BYTES: usize = 100;
/// Longest actor name, in bytes.
pub const ACTOR_MAX_BYTES: usize = 200;
/// Largest JSON payload of one event. Keeps every sled node far below the
/// size at which sled writes it as a separate blob file.
pub const EVENT_DATA_MAX_BYTES: usize = 64 * 1024;

/// The condition a stream must meet for an append to it to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "revision")]
pub enum ExpectedRevision {
    /// Append whatever the stream's state.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must already have at least one event.
    StreamExists,
    /// The stream's last event must have exactly this revision.
    Exact(u64),
}

impl std::fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedRevision::Any => f.write_str("any"),
            ExpectedRevision::NoStream => f.write_str("no stream"),
            ExpectedRevision::StreamExists => f.write_str("stream exists"),
            ExpectedRevision::Exact(revision) => write!(f, "{revision}"),
        }
    }
}

impl ExpectedRevision {
    /// Whether a stream whose last revision is `actual` meets this condition.
    pub fn is_met_by(self, actual: Option<u64>) -> bool {
        match self {
            ExpectedRevision::Any => true,
            ExpectedRevision::NoStream => actual.is_none(),
            ExpectedRevision::StreamExists => actual.is_some(),
            ExpectedRevision::Exact(expected) => actual == Some(expected),
        }
    }
}

/// Who did it, why, and when it happened in the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The person or process that caused the event (e.g. a person id).
    pub actor: String,
    /// Groups the events of one user action or one request.
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one.
    pub causation_id: Option<Uuid>,
    /// When it happened in the field; may be days before it reached the log.
    pub occurred_at: DateTime<Utc>,
}

/// An event as a caller proposes it, before the log gives it a place.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id, chosen by the caller so that a retry can be recognised.
    pub id: Uuid,
    /// The kind of event, e.g. `concern.reported`.
    pub event_type: String,
    /// Version of the `data` shape for this event type.
    pub schema_version: u32,
    /// The payload as JSON.
    pub data: serde_json::Value,
    /// Who, why, when.
    pub metadata: Metadata,
}

/// Events for one stream, with the revision the stream must be at.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    /// Target stream, named `<category>-<id>`.
    pub stream: String,
    /// Condition on the stream's current revision.
    pub expected: ExpectedRevision,
    /// The events, in order; at least one.
    pub events: Vec<NewEvent>,
}

/// An event as stored: the proposal plus its place in the log and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The caller's event id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream: String,
    /// Its index within the stream, contiguous from 0.
    pub revision: u64,
    /// Its index within the whole log, contiguous from 0.
    pub position: Position,
    /// The kind of event.
    pub event_type: String,
    /// Version of the `data` shape.
    pub schema_version: u32,
    /// The payload as canonical JSON bytes (keys sorted, no whitespace).
    pub data: Vec<u8>,
    /// Who did it, why, and when in the field.
    pub metadata: Metadata,
    /// When the log committed it (server time, never decreasing with position).
    pub recorded_at: DateTime<Utc>,
    /// The previous record's hash ([`GENESIS_HASH`] for position 0).
    pub prev_hash: Hash,
    /// SHA-256 over `prev_hash` and this record's canonical bytes.
    pub hash: Hash,
}

impl RecordedEvent {
    /// The stream's category: the part of its name before the first `-`.
    pub fn category(&self) -> &str {
        category_of(&self.stream)
    }

    /// The record's canonical bytes: what its hash (and the audit Merkle
    /// tree's leaf) covers, as laid out in `docs/ARCHITECTURE.md`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        encode_canonical(self)
    }

    /// The payload parsed as JSON.
    pub fn data_json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.data)
            .map_err(|err| self.corrupt(format!("payload is not JSON: {err}")))
    }

    fn corrupt(&self, reason: String) -> LogError {
        LogError::Corrupt {
            position: self.position,
            reason,
        }
    }
}

/// The category of a stream name: the part before the first `-`.
pub fn category_of(stream: &str) -> &str {
    stream
        .split_once('-')
        .map_or(stream, |(category, _)| category)
}

/// Checks that a stream name has the form `<category>-<id>`.
pub fn validate_stream_name(stream: &str) -> Result<()> {
    let invalid = |why: &str| Err(LogError::Invalid(format!("stream name {stream:?} {why}")));
    let Some((category, id)) = stream.split_once('-') else {
        return invalid("must have the form <category>-<id>");
    };
    if stream.len() > STREAM_NAME_MAX_BYTES {
        return invalid("is too long");
    }
    if category.is_empty()
        || !category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return invalid("must start with a category of lowercase ASCII letters");
    }
    if id.is_empty() || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return invalid("must have a non-empty id without spaces or control characters");
    }
    Ok(())
}

/// Checks the parts of a proposed event that the log has limits on.
pub(crate) fn validate_new_event(event: &NewEvent) -> Result<()> {
    let invalid = |why: String| Err(LogError::Invalid(format!("event {}: {why}", event.id)));
    if event.event_type.is_empty() || event.event_type.len() > EVENT_TYPE_MAX_BYTES {
        return invalid(format!(
            "event type must be 1 to {EVENT_TYPE_MAX_BYTES} bytes"
        ));
    }
    if event.event_type.chars().any(char::is_control) {
        return invalid("event type must not contain control characters".to_owned());
    }
    if event.metadata.actor.is_empty() || event.metadata.actor.len() > ACTOR_MAX_BYTES {
        return invalid(format!("actor must be 1 to {ACTOR_MAX_BYTES} bytes"));
    }
    Ok(())
}

/// The parts of a record that are fixed before the writer gives it a place.
#[derive(Debug, Clone)]
pub(crate) struct PreparedEvent {
    pub id: Uuid,
    /// See [`PreparedEvent::digest_content`]; computed by the caller's task,
    /// off the writer thread.
    pub content_digest: Hash,
    pub event_type: String,
    pub schema_version: u32,
    pub data: Vec<u8>,
    pub metadata: Metadata,
}

impl PreparedEvent {
    /// Serialises the payload canonically, checks the limits and digests
    /// the content as it will be appended to `stream`.
    pub fn new(stream: &str, event: NewEvent) -> Result<Self> {
        validate_new_event(&event)?;
        let data = serde_json::to_vec(&event.data)
            .map_err(|err| LogError::Invalid(format!("event {}: payload: {err}", event.id)))?;
        if data.len() > EVENT_DATA_MAX_BYTES {
            return Err(LogError::Invalid(format!(
                "event {}: payload is {} bytes, more than {EVENT_DATA_MAX_BYTES}",
                event.id,
                data.len()
            )));
        }
        let mut metadata = event.metadata;
        // The log keeps microseconds; truncate now so a retry compares equal.
        metadata.occurred_at = truncate_to_micros(metadata.occurred_at);
        let mut prepared = PreparedEvent {
            id: event.id,
            content_digest: GENESIS_HASH,
            event_type: event.event_type,
            schema_version: event.schema_version,
            data,
            metadata,
        };
        prepared.content_digest = prepared.digest_content(stream);
        Ok(prepared)
    }

    /// Fixes the event at a place in the log.
    pub fn place(
        self,
        stream: &str,
        revision: u64,
        position: Position,
        recorded_at: DateTime<Utc>,
    ) -> RecordedEvent {
        RecordedEvent {
            id: self.id,
            stream: stream.to_owned(),
            revision,
            position,
            event_type: self.event_type,
            schema_version: self.schema_version,
            data: self.data,
            metadata: self.metadata,
            recorded_at,
            prev_hash: GENESIS_HASH,
            hash: GENESIS_HASH,
        }
    }

    /// A digest of what the caller chose (stream and event, not its place or
    /// commit time): two appends of the same id are the same event exactly
    /// when their content digests are equal.
    fn digest_content(&self, stream: &str) -> Hash {
        let unplaced = self
            .clone()
            .place(stream, 0, 0, DateTime::<Utc>::UNIX_EPOCH);
        Sha256::digest(encode_canonical(&unplaced)).into()
    }
}

/// Drops sub-microsecond precision, which the stored form does not keep.
pub fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    micros_to_time(time.timestamp_micros()).unwrap_or(time)
}

fn micros_to_time(micros: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_micros(micros).single()
}

/// The fields a record's canonical bytes are made of, borrowed: what a
/// reader of another form of the record (an export line) fills in to hash
/// it without building a [`RecordedEvent`]. The layout is written down once,
/// in [`CanonicalParts::write_to`].
#[derive(Debug, Clone, Copy)]
pub struct CanonicalParts<'a> {
    /// Index within the whole log.
    pub position: Position,
    /// Index within the stream.
    pub revision: u64,
    /// The event id.
    pub id: Uuid,
    /// Server time, microseconds since the Unix epoch.
    pub recorded_at_micros: i64,
    /// Field time, microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    /// Version of the payload's shape.
    pub schema_version: u32,
    /// The stream name.
    pub stream: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// The correlation id, if any.
    pub correlation_id: Option<Uuid>,
    /// The causation id, if any.
    pub causation_id: Option<Uuid>,
    /// The payload's canonical JSON bytes.
    pub data: &'a [u8],
}

impl CanonicalParts<'_> {
    /// Appends the canonical bytes to `out` (layout: `docs/ARCHITECTURE.md`,
    /// "Record bytes").
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(96 + self.stream.len() + self.data.len());
        out.push(RECORD_FORMAT_V1);
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.revision.to_be_bytes());
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&self.recorded_at_micros.to_be_bytes());
        out.extend_from_slice(&self.occurred_at_micros.to_be_bytes());
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        put_short_str(out, self.stream);
        put_short_str(out, self.event_type);
        put_short_str(out, self.actor);
        put_optional_uuid(out, self.correlation_id);
        put_optional_uuid(out, self.causation_id);
        let data_len = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&data_len.to_be_bytes());
        out.extend_from_slice(self.data);
    }
}

/// The canonical bytes of a record, as hashed and as stored (without hashes).
pub(crate) fn encode_canonical(record: &RecordedEvent) -> Vec<u8> {
    let parts = CanonicalParts {
        position: record.position,
        revision: record.revision,
        id: record.id,
        recorded_at_micros: record.recorded_at.timestamp_micros(),
        occurred_at_micros: record.metadata.occurred_at.timestamp_micros(),
        schema_version: record.schema_version,
        stream: &record.stream,
        event_type: &record.event_type,
        actor: &record.metadata.actor,
        correlation_id: record.metadata.correlation_id,
        causation_id: record.metadata.causation_id,
        data: &record.data,
    };
    let mut out = Vec::new();
    parts.write_to(&mut out);
    out
}

fn put_short_str(out: &mut Vec<u8>, text: &str) {
    // Every short string is validated to be at most a few hundred bytes.
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_optional_uuid(out: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(id.as_bytes());
        }
        None => out.push(0),
    }
}

/// The hash of a record: SHA-256 over the previous hash then the canonical bytes.
pub fn chain_hash(prev_hash: &Hash, canonical: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical);
    hasher.finalize().into()
}

/// Fills in a placed record's hashes and returns its stored bytes:
/// canonical bytes, then the previous hash, then the record's hash.
pub(crate) fn seal(record: &mut RecordedEvent, prev_hash: Hash) -> Vec<u8> {
    let mut stored = encode_canonical(record);
    let hash = chain_hash(&prev_hash, &stored);
    record.prev_hash = prev_hash;
    record.hash = hash;
    stored.extend_from_slice(&prev_hash);
    stored.extend_from_slice(&hash);
    stored
}

/// The fixed-size facts of a stored record, read without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredHeader {
    pub position: Position,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// What the open pass reads of a stored record: enough to index it.
pub(crate) struct StoredIdentity<'a> {
    pub position: Position,
    pub revision: u64,
    pub id: Uuid,
    pub stream: &'a str,
}

/// A stored record's position, revision, event id and stream, read from
/// their places without checking the hash (what the id index and the stream
/// heads are built from on open; the records are checked when read).
pub(crate) fn stored_identity(stored: &[u8]) -> Option<StoredIdentity<'_>> {
    if stored.first() != Some(&RECORD_FORMAT_V1) {
        return None;
    }
    let mut reader = Reader {
        bytes: stored,
        offset: 1,
        position: 0,
    };
    let position = reader.u64().ok()?;
    let revision = reader.u64().ok()?;
    let id = Uuid::from_bytes(reader.array::<16>().ok()?);
    // recorded_at, occurred_at, schema version
    reader.take(8 + 8 + 4).ok()?;
    let stream = reader.short_str_ref().ok()?;
    Some(StoredIdentity {
        position,
        revision,
        id,
        stream,
    })
}

/// Checks a stored record against its own hash, without decoding it fully.
pub(crate) fn check_stored(expected_position: Position, stored: &[u8]) -> Result<StoredHeader> {
    let (header, canonical) = read_header(expected_position, stored)?;
    if chain_hash(&header.prev_hash, canonical) != header.hash {
        return Err(LogError::Corrupt {
            position: expected_position,
            reason: "record does not match its hash".to_owned(),
        });
    }
    Ok(header)
}

/// A stored record's fixed-size facts and its canonical bytes, checked for
/// shape and position but not against its hash.
fn read_header(expected_position: Position, stored: &[u8]) -> Result<(StoredHeader, &[u8])> {
    let corrupt = |reason: &str| LogError::Corrupt {
        position: expected_position,
        reason: reason.to_owned(),
    };
    if stored.len() < 1 + 8 + 64 {
        return Err(corrupt("record is truncated"));
    }
    if stored[0] != RECORD_FORMAT_V1 {
        return Err(corrupt("unknown record format"));
    }
    let (canonical, hashes) = stored.split_at(stored.len() - 64);
    let position = read_u64(&canonical[1..9]);
    let prev_hash: Hash = hashes[..32].try_into().map_err(|_| corrupt("bad hash"))?;
    let hash: Hash = hashes[32..].try_into().map_err(|_| corrupt("bad hash"))?;
    if position != expected_position {
        return Err(corrupt("record's position differs from its key"));
    }
    let header = StoredHeader {
        position,
        prev_hash,
        hash,
    };
    Ok((header, canonical))
}

/// Checks a stored record against its hash and decodes it.
pub(crate) fn decode_stored(expected_position: Position, stored: &[u8]) -> Result<RecordedEvent> {
    let header = check_stored(expected_position, stored)?;
    decode_fields(header, &stored[..stored.len() - 64])
}

/// Decodes a stored record that [`check_stored`] has already passed (on
/// another thread: see `crate::read_ahead`); only its shape is checked again.
pub(crate) fn decode_checked(expected_position: Position, stored: &[u8]) -> Result<RecordedEvent> {
    let (header, canonical) = read_header(expected_position, stored)?;
    decode_fields(header, canonical)
}

/// Reads every field of a record's canonical bytes.
fn decode_fields(header: StoredHeader, canonical: &[u8]) -> Result<RecordedEvent> {
    let mut reader = Reader {
        bytes: canonical,
        offset: 1,
        position: header.position,
    };
    let position = reader.u64()?;
    let revision = reader.u64()?;
    let id = Uuid::from_bytes(reader.array::<16>()?);
    let recorded_at = reader.time()?;
    let occurred_at = reader.time()?;
    let schema_version = reader.u32()?;
    let stream = reader.short_str()?;
    let event_type = reader.short_str()?;
    let actor = reader.short_str()?;
    let correlation_id = reader.optional_uuid()?;
    let causation_id = reader.optional_uuid()?;
    let data_len = reader.u32()? as usize;
    let data = reader.take(data_len)?.to_vec();
    if reader.offset != canonical.len() {
        return Err(reader.corrupt("trailing bytes after the payload"));
    }
    Ok(RecordedEvent {
        id,
        stream,
        revision,
        position,
        event_type,
        schema_version,
        data,
        metadata: Metadata {
            actor,
            correlation_id,
            causation_id,
            occurred_at,
        },
        recorded_at,
        prev_hash: header.prev_hash,
        hash: header.hash,
    })
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(array)
}

/// A cursor over canonical bytes that turns every short read into `Corrupt`.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
    position: Position,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, reason: &str) -> LogError {
        LogError::Corrupt {
            position: self.position,
            reason: reason.to_owned(),
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| self.corrupt("record is truncated"))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        slice
            .try_into()
            .map_err(|_| self.corrupt("record is truncated"))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn time(&mut self) -> Result<DateTime<Utc>> {
        let micros = i64::from_be_bytes(self.array()?);
        micros_to_time(micros).ok_or_else(|| self.corrupt("timestamp out of range"))
    }

    fn short_str(&mut self) -> Result<String> {
        self.short_str_ref().map(str::to_owned)
    }

    fn short_str_ref(&mut self) -> Result<&'a str> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.corrupt("text is not UTF-8"))
    }

    fn optional_uuid(&mut self) -> Result<Option<Uuid>> {
        match self.array::<1>()?[0] {
            0 => Ok(None),
            1 => Ok(Some(Uuid::from_bytes(self.array()?))),
            _ => Err(self.corrupt("bad optional id flag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RecordedEvent {
        let event = NewEvent {
            id: Uuid::from_u128(7),
            event_type: "concern.reported".into(),
            schema_version: 2,
            data: serde_json::json!({"text": "tâm tư nguyện vọng", "b": 1, "a": [1, 2]}),
            metadata: Metadata {
                actor: "person-1".into(),
                correlation_id: Some(Uuid::from_u128(9)),
                causation_id: None,
                occurred_at: Utc.timestamp_micros(1_700_000_000_123_456).unwrap(),
            },
        };
        PreparedEvent::new("concern-1", event).unwrap().place(
            "concern-1",
            3,
            42,
            Utc.timestamp_micros(1_700_000_100_000_000).unwrap(),
        )
    }

    #[test]
    fn the_identity_of_a_stored_record_is_read_without_decoding_it() {
        let mut record = sample();
        let stored = seal(&mut record, [5; 32]);
        let identity = stored_identity(&stored).unwrap();
        assert_eq!(
            (
                identity.position,
                identity.revision,
                identity.id,
                identity.stream
            ),
            (42, 3, Uuid::from_u128(7), "concern-1")
        );
        assert!(
            stored_identity(&stored[..40]).is_none(),
            "a cut record has none"
        );
    }

    #[test]
    fn stored_bytes_round_trip_and_check_their_hash() {
        let mut record = sample();
        let stored = seal(&mut record, [5; 32]);
        assert_eq!(decode_stored(42, &stored).unwrap(), record);
        assert_eq!(
            record.data,
            r#"{"a":[1,2],"b":1,"text":"tâm tư nguyện vọng"}"#.as_bytes()
        );
    }

    #[test]
    fn any_flipped_byte_is_caught() {
        let mut record = sample();
        let stored = seal(&mut record, [5; 32]);
        for index in 0..stored.len() {
            let mut damaged = stored.clone();
            damaged[index] ^= 0x01;
            assert!(
                matches!(decode_stored(42, &damaged), Err(LogError::Corrupt { .. })),
                "byte {index}"
            );
        }
    }

    #[test]
    fn stream_names_need_a_category_and_an_id() {
        assert!(validate_stream_name("concern-0f8c").is_ok());
        assert!(validate_stream_name("concern_x-a-b").is_ok());
        for bad in [
            "concern",
            "-x",
            "Concern-x",
            "concern-",
            "con cern-x",
            "concern-a b",
        ] {
            assert!(validate_stream_name(bad).is_err(), "{bad}");
        }
        assert_eq!(category_of("concern-a-b"), "concern");
    }
}
