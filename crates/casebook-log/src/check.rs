//! The check that runs every time the log opens.
//!
//! A crash can only ever cut the end of the log, so opening re-checks the
//! last [`OPEN_TAIL_CHECK_EVENTS`] records: each against its hash and its
//! predecessor, each one's entries in every index, and the head entry
//! against the last record. Any fault stops start-up with a `Corrupt` error
//! naming the position; `verify` checks the rest on demand.

use crate::error::{LogError, Result};
use crate::heads::StreamHeads;
use crate::keys::{self, HeadEntry};
use crate::reader::Reader;
use crate::record::RecordedEvent;
use crate::records::RecordsFile;
use std::sync::Arc;

/// Records at the end of the log re-checked on open: more than any one
/// group commit writes, so whatever a crash could have cut is covered.
pub(crate) const OPEN_TAIL_CHECK_EVENTS: u64 = 4096;

fn corrupt(position: u64, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        position,
        reason: reason.into(),
    }
}

/// Checks the end of the log and its indexes; returns the head, if any.
pub(crate) fn check_tail(
    tree: &sled::Tree,
    records: &Arc<RecordsFile>,
    heads: &StreamHeads,
) -> Result<Option<HeadEntry>> {
    let head = match tree.get(keys::META_HEAD)? {
        Some(value) => Some(
            keys::parse_head_entry(&value)
                .ok_or_else(|| corrupt(0, "the head entry is malformed"))?,
        ),
        None => None,
    };
    let Some(head) = head else {
        if tree.scan_prefix([keys::RECORD_BLOCK]).next().is_some() {
            return Err(corrupt(0, "records exist but the head entry is missing"));
        }
        return Ok(None);
    };
    let beyond = tree
        .range(keys::record_block(head.position + 1)..=keys::record_block(u64::MAX))
        .next();
    if beyond.is_some() {
        return Err(corrupt(
            head.position + 1,
            "a record block lies beyond the head entry",
        ));
    }
    let reader = Reader {
        tree,
        records,
        heads,
        len: head.position + 1,
    };
    let from = head.position.saturating_sub(OPEN_TAIL_CHECK_EVENTS - 1);
    let mut last_hash = None;
    for record in reader.walk(from, head.position + 1)? {
        let record = record?;
        check_index_entries(&reader, &record)?;
        last_hash = Some(record.hash);
    }
    if last_hash != Some(head.hash) {
        return Err(corrupt(
            head.position,
            "the head entry's hash differs from the last record's",
        ));
    }
    Ok(Some(head))
}

fn check_index_entries(reader: &Reader<'_>, record: &RecordedEvent) -> Result<()> {
    let position = record.position;
    let missing = |what: &str| {
        corrupt(
            position,
            format!("the {what} index entry is missing or wrong"),
        )
    };
    if !reader.stream_index_has(&record.stream, record.revision, position)? {
        return Err(missing("stream"));
    }
    if !reader.index_has(keys::CATEGORY, record.category(), position)? {
        return Err(missing("category"));
    }
    if !reader.index_has(keys::EVENT_TYPE, &record.event_type, position)? {
        return Err(missing("event type"));
    }
    Ok(())
}
