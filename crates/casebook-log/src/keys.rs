//! The layout of the one sled tree that holds the log: keys and values.
//!
//! The records themselves live in the records file ([`crate::records`]);
//! this tree holds what is derived from them, written behind the records
//! (see [`crate::staging::index_groups`] for the order of the writes and
//! [`crate::recovery`] for what a crash can leave). Each kind of key starts
//! with its own tag byte; numbers are big-endian so that sled's byte order
//! is numeric order.
//!
//! | tag | key                                  | value                                   |
//! |-----|--------------------------------------|-----------------------------------------|
//! | `E` | last position in the block           | where the record block lies in the records file: `[u64 offset][u32 length]` |
//! | `S` | stream, 0x00, chunk number           | positions of a full chunk of revisions  |
//! | `C` | category, 0x00, last position        | a position block                        |
//! | `T` | event type, 0x00, last position      | a position block                        |
//! | `M` | `head`                               | last position, its hash, recorded time  |
//! | `M` | `indexing`                           | records-file end of the groups being indexed |
//! | `M` | `format`                             | [`FORMAT`], one byte                    |
//!
//! Layout 2 also kept each stream's head (`H` + stream: its last revision
//! and open chunk); heads now live in memory ([`crate::heads`]), and opening
//! a layout-2 log drops its `H` keys.
//!
//! sled pays per key, so the layout writes as few keys per event as it can:
//! records are packed into blocks (one key per group commit, or per
//! [`RECORD_BLOCK_BYTES_MAX`]); a stream's positions live in fixed chunks of
//! [`STREAM_CHUNK_REVISIONS`] revisions, written once each when full (the
//! open one is in the stream's head, in memory: [`crate::heads`]);
//! categories and event types are indexed by position blocks (one key per
//! name per group). No key is written per event (the event-id index lives
//! in memory too: [`crate::known`]).
//! Every block is keyed by its *last* position,
//! so the block holding position `p` is the first key at or after `p`: a
//! forward seek, which sled does fast (its reverse seeks are slow).

use crate::record::{Hash, Position};
use std::ops::Range;

pub(crate) const RECORD_BLOCK: u8 = b'E';
/// The tag of layout 2's stream heads (see the module docs).
pub(crate) const LAYOUT_2_STREAM_HEAD: u8 = b'H';
pub(crate) const STREAM_CHUNK: u8 = b'S';
pub(crate) const CATEGORY: u8 = b'C';
pub(crate) const EVENT_TYPE: u8 = b'T';
pub(crate) const META_HEAD: &[u8] = b"Mhead";
pub(crate) const META_INDEXING: &[u8] = b"Mindexing";
pub(crate) const META_FORMAT: &[u8] = b"Mformat";

/// The layout this code writes: 3 since stream heads moved into memory
/// (layout 2 kept them in `H` keys; layout 1 kept the records themselves in
/// `E` values, before the records file).
pub(crate) const FORMAT: u8 = 3;
/// The layout before this one, which opening upgrades.
pub(crate) const FORMAT_2: u8 = 2;

/// Most bytes of records packed into one block before a new one starts.
/// Keeps sled's nodes well below the size at which it writes blob files.
pub(crate) const RECORD_BLOCK_BYTES_MAX: usize = 64 * 1024;
/// Most records in one block, so a point read walks a short list.
pub(crate) const RECORD_BLOCK_RECORDS_MAX: usize = 256;
/// Revisions per stream chunk: a stream's head in memory holds at most this
/// many positions (1 KiB), and each full chunk is one sled key.
pub(crate) const STREAM_CHUNK_REVISIONS: u64 = 128;
/// Most positions in one category or event-type block (4 KiB).
pub(crate) const INDEX_BLOCK_POSITIONS_MAX: usize = 512;

/// Separates a name from the number after it; names never contain it.
const SEPARATOR: u8 = 0;

pub(crate) fn record_block(last_position: Position) -> [u8; 9] {
    let mut key = [RECORD_BLOCK; 9];
    key[1..].copy_from_slice(&last_position.to_be_bytes());
    key
}

pub(crate) fn named_prefix(tag: u8, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 10);
    key.push(tag);
    key.extend_from_slice(name.as_bytes());
    key.push(SEPARATOR);
    key
}

pub(crate) fn named_number(tag: u8, name: &str, number: u64) -> Vec<u8> {
    let mut key = named_prefix(tag, name);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// Where a record block lies in the records file (the `E` value).
pub(crate) fn block_location(offset: u64, len: usize) -> [u8; 12] {
    let mut value = [0u8; 12];
    value[..8].copy_from_slice(&offset.to_be_bytes());
    value[8..].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    value
}

/// Parses an `E` value: the block's offset and length in the records file.
pub(crate) fn parse_block_location(value: &[u8]) -> Option<(u64, usize)> {
    if value.len() != 12 {
        return None;
    }
    let offset = u64::from_be_bytes(value[..8].try_into().ok()?);
    let len = u32::from_be_bytes(value[8..].try_into().ok()?);
    Some((offset, len as usize))
}

/// The number at the end of a key (a position or a chunk number).
pub(crate) fn trailing_number(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// Appends one stored record to a record block.
pub(crate) fn push_record(block: &mut Vec<u8>, stored: &[u8]) {
    let len = u32::try_from(stored.len()).unwrap_or(u32::MAX);
    block.extend_from_slice(&len.to_be_bytes());
    block.extend_from_slice(stored);
}

/// Where each stored record of a block lies in it, in order; `None` if the
/// framing is broken. One pass and one allocation: a read of one record
/// parses the whole block it is in.
pub(crate) fn record_block_spans(block: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut spans = Vec::new();
    let mut start = 0;
    while start < block.len() {
        let len = u32::from_be_bytes(block.get(start..start + 4)?.try_into().ok()?) as usize;
        let span = start + 4..start + 4 + len;
        block.get(span.clone())?;
        start = span.end;
        spans.push(span);
    }
    (!spans.is_empty()).then_some(spans)
}

/// A list of positions, as stored in chunks and index blocks.
pub(crate) fn positions_value(positions: &[Position]) -> Vec<u8> {
    positions
        .iter()
        .flat_map(|position| position.to_be_bytes())
        .collect()
}

/// Parses a list of positions; `None` unless non-empty and ascending.
pub(crate) fn parse_positions(value: &[u8]) -> Option<Vec<Position>> {
    if value.is_empty() || value.len() % 8 != 0 {
        return None;
    }
    let positions: Vec<Position> = value
        .chunks_exact(8)
        .map(|chunk| u64::from_be_bytes(chunk.try_into().unwrap_or_default()))
        .collect();
    positions
        .windows(2)
        .all(|pair| pair[0] < pair[1])
        .then_some(positions)
}

/// The chunk a revision belongs to.
pub(crate) fn chunk_of(revision: u64) -> u64 {
    revision / STREAM_CHUNK_REVISIONS
}

/// A stream's head: its last revision and the positions of every revision
/// of its last chunk, up to and including the last revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamHead {
    pub last_revision: u64,
    pub open_chunk: Vec<Position>,
}

/// Where an event id was stored and what it contained (the writer's
/// overlay; see [`crate::known`] for the id index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdEntry {
    pub position: Position,
    pub revision: u64,
    pub digest: Hash,
}

/// The log's head as stored in `Mhead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadEntry {
    pub position: Position,
    pub hash: Hash,
    pub recorded_at_micros: i64,
}

pub(crate) fn head_entry(head: &HeadEntry) -> [u8; 48] {
    let mut value = [0u8; 48];
    value[..8].copy_from_slice(&head.position.to_be_bytes());
    value[8..40].copy_from_slice(&head.hash);
    value[40..].copy_from_slice(&head.recorded_at_micros.to_be_bytes());
    value
}

pub(crate) fn parse_head_entry(value: &[u8]) -> Option<HeadEntry> {
    if value.len() != 48 {
        return None;
    }
    Some(HeadEntry {
        position: u64::from_be_bytes(value[..8].try_into().ok()?),
        hash: value[8..40].try_into().ok()?,
        recorded_at_micros: i64::from_be_bytes(value[40..].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_blocks_split_back_into_their_records() {
        let mut block = Vec::new();
        push_record(&mut block, b"first");
        push_record(&mut block, b"second record");
        let records: Vec<&[u8]> = record_block_spans(&block)
            .unwrap()
            .into_iter()
            .map(|span| &block[span])
            .collect();
        assert_eq!(records, vec![&b"first"[..], &b"second record"[..]]);
        assert_eq!(
            record_block_spans(&block[..block.len() - 1]),
            None,
            "a cut block is refused"
        );
        assert_eq!(record_block_spans(&[]), None);
    }

    #[test]
    fn position_lists_must_ascend() {
        assert_eq!(
            parse_positions(&positions_value(&[1, 5, 9])),
            Some(vec![1, 5, 9])
        );
        assert_eq!(parse_positions(&positions_value(&[5, 1])), None);
        assert_eq!(parse_positions(&[0; 7]), None);
    }
}
