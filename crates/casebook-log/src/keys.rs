//! The key layout of the one sled tree that holds the log.
//!
//! Everything lives in a single tree so that one group commit is one atomic
//! `apply_batch`: a record and all of its index entries appear together or
//! not at all. Each kind of key starts with its own tag byte; numbers are
//! big-endian so that sled's byte order is numeric order.
//!
//! The category and event-type indexes are written as *blocks*: one key per
//! group commit (and per name), keyed by the block's last position, whose
//! value lists the block's positions. A group of 64 appends then writes one
//! category key instead of 64, and the block holding position `p` is the
//! first key at or after `p`, found with a forward seek.
//!
//! | tag | key                                   | value                          |
//! |-----|---------------------------------------|--------------------------------|
//! | `E` | position                              | stored record                  |
//! | `S` | stream, 0x00, revision                | position                       |
//! | `H` | stream                                | last revision                  |
//! | `I` | event id                              | position, revision, digest     |
//! | `C` | category, 0x00, last position in block | positions (a block)           |
//! | `T` | event type, 0x00, last position in block | positions (a block)         |
//! | `M` | `head`                                | last position, its hash, time  |

use crate::record::{Hash, Position};
use uuid::Uuid;

pub(crate) const EVENT: u8 = b'E';
pub(crate) const STREAM_EVENT: u8 = b'S';
pub(crate) const STREAM_HEAD: u8 = b'H';
pub(crate) const EVENT_ID: u8 = b'I';
pub(crate) const CATEGORY: u8 = b'C';
pub(crate) const EVENT_TYPE: u8 = b'T';
pub(crate) const META_HEAD: &[u8] = b"Mhead";

/// Separates a name from the number after it; names never contain it.
const SEPARATOR: u8 = 0;

pub(crate) fn event(position: Position) -> [u8; 9] {
    let mut key = [EVENT; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
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

pub(crate) fn stream_head(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 1);
    key.push(STREAM_HEAD);
    key.extend_from_slice(stream.as_bytes());
    key
}

pub(crate) fn event_id(id: Uuid) -> [u8; 17] {
    let mut key = [EVENT_ID; 17];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// The number at the end of a key (a position or a revision).
pub(crate) fn trailing_number(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// Where an event id was stored and what it contained (the `I` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdEntry {
    pub position: Position,
    pub revision: u64,
    pub digest: Hash,
}

pub(crate) fn id_entry(entry: &IdEntry) -> [u8; 48] {
    let mut value = [0u8; 48];
    value[..8].copy_from_slice(&entry.position.to_be_bytes());
    value[8..16].copy_from_slice(&entry.revision.to_be_bytes());
    value[16..].copy_from_slice(&entry.digest);
    value
}

pub(crate) fn parse_id_entry(value: &[u8]) -> Option<IdEntry> {
    if value.len() != 48 {
        return None;
    }
    Some(IdEntry {
        position: u64::from_be_bytes(value[..8].try_into().ok()?),
        revision: u64::from_be_bytes(value[8..16].try_into().ok()?),
        digest: value[16..].try_into().ok()?,
    })
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

/// Most positions in one category or event-type index block (4 KiB).
pub(crate) const INDEX_BLOCK_POSITIONS_MAX: usize = 512;

/// The value of a `C` or `T` key: the block's positions, ascending.
pub(crate) fn position_block(positions: &[Position]) -> Vec<u8> {
    positions
        .iter()
        .flat_map(|position| position.to_be_bytes())
        .collect()
}

/// The positions of a `C` or `T` block; `None` if malformed (empty, not a
/// whole number of positions, or not ascending).
pub(crate) fn parse_position_block(value: &[u8]) -> Option<Vec<Position>> {
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
