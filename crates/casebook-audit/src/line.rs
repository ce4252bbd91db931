//! Reading an export line in the exact layout the exporter writes, without
//! a general JSON parser.
//!
//! Verifying needs a line's canonical bytes, not its meaning: the fields in
//! a fixed order, the payload as the exact bytes between `"data":` and the
//! fixed-length hash suffix. serde_json would parse every key and string of
//! the payload too, which costs about twice the two SHA-256 passes a line
//! needs, so a line in the exporter's own layout (fields in order, no
//! whitespace, no escapes in the short strings) is sliced directly, and any
//! other line — a hand-edited one, a stream name with a quote in it — is
//! left to serde_json by answering `None`. The payload is not parsed here:
//! its bytes are covered by the record's hash like every other field.

use std::ops::Range;

use casebook_log::record::CanonicalParts;
use chrono::{NaiveDate, NaiveTime};
use uuid::Uuid;

use crate::merkle::Hash;

/// What a line in the exporter's layout holds.
pub(crate) struct LineParts<'a> {
    /// The fields the canonical bytes are made of.
    pub(crate) parts: CanonicalParts<'a>,
    /// The previous record's hash, as the line states it.
    pub(crate) prev_hash: Hash,
    /// The record's hash, as the line states it.
    pub(crate) hash: Hash,
}

/// `,"prev_hash":"` + 64 hex digits + `","hash":"` + 64 hex digits + `"}`.
const HASHES_SUFFIX_BYTES: usize = 14 + 64 + 10 + 64 + 2;

/// Slices a line written by the exporter; `None` if it is in any other form.
pub(crate) fn read_exported_line(line: &[u8]) -> Option<LineParts<'_>> {
    let body_end = line.len().checked_sub(HASHES_SUFFIX_BYTES)?;
    let (body, suffix) = line.split_at(body_end);
    let (prev_hash, hash) = read_hashes(suffix)?;
    let mut cursor = Cursor { rest: body };
    cursor.literal(b"{\"position\":")?;
    let position = cursor.number()?;
    cursor.literal(b",\"stream\":")?;
    let stream = cursor.plain_string()?;
    cursor.literal(b",\"revision\":")?;
    let revision = cursor.number()?;
    cursor.literal(b",\"id\":")?;
    let id = cursor.uuid()?;
    cursor.literal(b",\"event_type\":")?;
    let event_type = cursor.plain_string()?;
    cursor.literal(b",\"schema_version\":")?;
    let schema_version = u32::try_from(cursor.number()?).ok()?;
    cursor.literal(b",\"recorded_at\":")?;
    let recorded_at_micros = exported_utc_micros(cursor.plain_string()?)?;
    cursor.literal(b",\"occurred_at\":")?;
    let occurred_at_micros = exported_utc_micros(cursor.plain_string()?)?;
    cursor.literal(b",\"actor\":")?;
    let actor = cursor.plain_string()?;
    cursor.literal(b",\"correlation_id\":")?;
    let correlation_id = cursor.optional_uuid()?;
    cursor.literal(b",\"causation_id\":")?;
    let causation_id = cursor.optional_uuid()?;
    cursor.literal(b",\"data\":")?;
    let data = cursor.rest;
    if data.is_empty() {
        return None;
    }
    Some(LineParts {
        parts: CanonicalParts {
            position,
            revision,
            id,
            recorded_at_micros,
            occurred_at_micros,
            schema_version,
            stream,
            event_type,
            actor,
            correlation_id,
            causation_id,
            data,
        },
        prev_hash,
        hash,
    })
}

/// The two hashes of the line's fixed-length end.
fn read_hashes(suffix: &[u8]) -> Option<(Hash, Hash)> {
    let mut cursor = Cursor { rest: suffix };
    cursor.literal(b",\"prev_hash\":\"")?;
    let prev_hash = cursor.hex_hash()?;
    cursor.literal(b"\",\"hash\":\"")?;
    let hash = cursor.hex_hash()?;
    cursor.literal(b"\"}")?;
    Some((prev_hash, hash))
}

/// The form exports write times in, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, read
/// directly: a million lines hold two million of them, and chrono's
/// general RFC 3339 parser (the fallback for any other form) costs several
/// times more per time.
pub(crate) fn exported_utc_micros(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if bytes.len() != 27 || separators.iter().any(|&(at, byte)| bytes[at] != byte) {
        return None;
    }
    let number = |digits: Range<usize>| {
        bytes[digits].iter().try_fold(0_u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)?;
    let time = NaiveTime::from_hms_micro_opt(
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..26)?,
    )?;
    Some(date.and_time(time).and_utc().timestamp_micros())
}

/// The unread part of a line.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(count)?;
        self.rest = rest;
        Some(taken)
    }

    /// A JSON number without sign, fraction or leading zeros.
    fn number(&mut self) -> Option<u64> {
        let digits = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = self.take(digits)?;
        if text.is_empty() || (text.len() > 1 && text[0] == b'0') {
            return None;
        }
        text.iter().try_fold(0_u64, |value, &digit| {
            value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    }

    /// A JSON string with no escape in it, as UTF-8 text.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.literal(b"\"")?;
        let length = memchr::memchr2(b'"', b'\\', self.rest)?;
        let text = self.take(length)?;
        self.literal(b"\"")?;
        if text.iter().any(|&b| b < 0x20) {
            return None;
        }
        std::str::from_utf8(text).ok()
    }

    fn uuid(&mut self) -> Option<Uuid> {
        self.literal(b"\"")?;
        let id = Uuid::try_parse_ascii(self.take(36)?).ok()?;
        self.literal(b"\"")?;
        Some(id)
    }

    fn optional_uuid(&mut self) -> Option<Option<Uuid>> {
        if self.literal(b"null").is_some() {
            return Some(None);
        }
        self.uuid().map(Some)
    }

    fn hex_hash(&mut self) -> Option<Hash> {
        hash_from_hex(self.take(64)?)
    }
}

/// A hash written as 64 hex digits. (faster-hex: the `hex` crate's
/// digit-by-digit decoding cost a third as much as hashing the line.)
pub(crate) fn hash_from_hex(text: &[u8]) -> Option<Hash> {
    let mut hash = [0; 32];
    if text.len() != 2 * hash.len() {
        return None;
    }
    faster_hex::hex_decode(text, &mut hash).ok()?;
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::to_line;
    use casebook_log::{Metadata, RecordedEvent};
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    fn record(stream: String, actor: String, micros: i64, data: String) -> RecordedEvent {
        let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        RecordedEvent {
            id: Uuid::from_u128(micros as u128 * 7919),
            stream,
            revision: (micros % 1000) as u64,
            position: micros as u64 / 3,
            event_type: "concern.reported".into(),
            schema_version: 2,
            data: data.into_bytes(),
            metadata: Metadata {
                actor,
                correlation_id: (micros % 2 == 0).then(|| Uuid::from_u128(micros as u128)),
                causation_id: None,
                occurred_at: time - chrono::Duration::days(3),
            },
            recorded_at: time,
            prev_hash: [micros as u8; 32],
            hash: [7; 32],
        }
    }

    fn exported(record: &RecordedEvent) -> Vec<u8> {
        serde_json::to_vec(&to_line(record).unwrap()).unwrap()
    }

    proptest! {
        /// A line the exporter wrote is sliced into exactly the record's
        /// canonical bytes and hashes, whatever its strings and payload
        /// hold; a string that needs an escape leaves the line to serde_json.
        #[test]
        fn exported_lines_give_the_records_canonical_bytes(
            id in "[a-z0-9\"\\\\é đ-]{1,40}",
            actor in "[a-zA-Z0-9\"\\\\ư-]{1,40}",
            micros in 0_i64..4_000_000_000_000_000,
            text in "[a-z \"\\\\ơ\\n]{0,60}",
        ) {
            let data = serde_json::to_string(&serde_json::json!({ "text": text, "n": [1, 2] })).unwrap();
            let record = record(format!("concern-{id}"), actor, micros, data);
            let line = exported(&record);
            let needs_escape = |s: &str| s.contains(['"', '\\']);
            match read_exported_line(&line) {
                Some(read) => {
                    prop_assert!(!needs_escape(&record.stream) && !needs_escape(&record.metadata.actor));
                    let mut canonical = Vec::new();
                    read.parts.write_to(&mut canonical);
                    prop_assert_eq!(canonical, record.canonical_bytes());
                    prop_assert_eq!(read.prev_hash, record.prev_hash);
                    prop_assert_eq!(read.hash, record.hash);
                }
                None => prop_assert!(needs_escape(&record.stream) || needs_escape(&record.metadata.actor)),
            }
            let check = crate::verify::examine(&line, &mut Vec::new()).unwrap();
            prop_assert_eq!(check.leaf, crate::merkle::leaf_hash(&record.canonical_bytes()));
        }
    }

    #[test]
    fn lines_in_any_other_form_are_left_to_serde_json() {
        let line = exported(&record(
            "concern-1".into(),
            "someone".into(),
            1_700_000_000_000_001,
            "{\"a\":1}".into(),
        ));
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(read_exported_line(&line).is_some());
        let others = [
            text.replacen("{\"position\":", "{ \"position\":", 1),
            text.replacen("\"revision\":", "\"revision\":0", 1),
            text.replacen(",\"stream\"", ",\"stream\" ", 1),
            text.replacen("\"hash\":\"", "\"hash\": \"", 1),
            text.replacen("\"correlation_id\":null", "\"correlation_id\":nul", 1),
            text.replacen("\"schema_version\":2", "\"schema_version\":99999999999", 1),
            text.replacen("Z\"", "+00:00\"", 1),
            text.replacen("\"data\":{\"a\":1}", "\"data\":", 1),
            format!("{text} "),
            text[..text.len() - 1].to_owned(),
        ];
        for other in others {
            assert!(read_exported_line(other.as_bytes()).is_none(), "{other}");
        }
    }
}
