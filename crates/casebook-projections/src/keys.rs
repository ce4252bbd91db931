//! Byte keys for the view trees: a one-byte tag, then fixed-width parts, so
//! that a prefix scan finds one unit's cases and big-endian numbers sort in
//! time order.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::view_tree::Key;

/// The key under which every keyed view keeps its checkpoint: the last
/// position applied. `0xff` sorts after every data tag.
pub const CHECKPOINT_KEY: &[u8] = b"\xffcheckpoint";

/// Builds a key from a tag and parts (inline up to
/// [`crate::view_tree::KEY_INLINE`] bytes: the staging takes it as it is).
pub fn key(tag: u8, parts: &[&[u8]]) -> Key {
    Key::from_parts(tag, parts)
}

/// A UUID as its 16 bytes.
pub fn id(uuid: Uuid) -> [u8; 16] {
    *uuid.as_bytes()
}

/// Microseconds since the epoch, shifted so that the order of the bytes is
/// the order of the times (also before 1970).
pub fn time(at: DateTime<Utc>) -> [u8; 8] {
    signed(at.timestamp_micros())
}

/// A signed number as 8 bytes whose order is the numbers' order (the sign
/// bit flipped, big-endian).
pub fn signed(n: i64) -> [u8; 8] {
    (n as u64 ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`time`].
pub fn time_from(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let raw = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    DateTime::from_timestamp_micros((raw ^ (1 << 63)) as i64)
}

/// A time whose bytes sort newest first.
pub fn time_desc(at: DateTime<Utc>) -> [u8; 8] {
    let asc = u64::from_be_bytes(time(at));
    (u64::MAX - asc).to_be_bytes()
}

/// A UUID from 16 bytes.
pub fn uuid_from(bytes: &[u8]) -> Option<Uuid> {
    Some(Uuid::from_bytes(bytes.get(..16)?.try_into().ok()?))
}

/// The position stored under [`CHECKPOINT_KEY`].
pub fn position_from(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::signed;

    #[test]
    fn signed_numbers_sort_as_their_bytes() {
        let numbers = [i64::MIN, -65_536, -1, 0, 1, 64, i64::MAX];
        for pair in numbers.windows(2) {
            assert!(signed(pair[0]) < signed(pair[1]), "{pair:?}");
        }
    }
}
