//! A keyed view's keys in memory, as queries read them.
//!
//! The cases, figures, households and members views are ordered maps of
//! byte keys to byte values (the layouts in `keys` and each view's module).
//! They live in memory, one [`Map`] per view in its [`Published`] place: a
//! worker applies a batch to it and a query takes a [`ViewTree`] from it,
//! one state that never changes under the query, however long it reads.
//! Taking a state costs a pointer: `imbl`'s maps share their nodes between
//! states and copy a node only when it is changed while another state
//! holds it. So the worker changes the map where it is (see
//! [`Published::change`]): a node no query holds at that moment is changed
//! in place, not copied, and a query holding an old state keeps only the
//! nodes changed since. What a worker applied is saved to a file now and
//! then (`view_file`), so a restart replays the log only from there.

use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sled::IVec;
use smallvec::SmallVec;

use crate::keys::prefix_end;

/// Key bytes kept in the key itself rather than behind a pointer: every
/// key of the views but the longest topic codes' figures. A lookup
/// compares a key with tens of others in a node; with the bytes in the
/// node those comparisons stay in the cache.
pub const KEY_INLINE: usize = 48;

/// A view's key: its bytes, inline up to [`KEY_INLINE`].
///
/// Cloned by copying the bytes at once. A change to a node that a query or
/// a save still holds copies the node, every key in it; `SmallVec`'s own
/// `clone` goes through an iterator byte by byte, and those copies were
/// about 7 % of the server's samples under commands.
#[derive(Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(SmallVec<[u8; KEY_INLINE]>);

impl Key {
    /// A key holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(SmallVec::from_slice(bytes))
    }
}

impl From<Vec<u8>> for Key {
    fn from(bytes: Vec<u8>) -> Self {
        Self(SmallVec::from_vec(bytes))
    }
}

impl Key {
    /// `tag` followed by `parts`: a view's key built in place, without a
    /// buffer of its own for the keys that fit [`KEY_INLINE`].
    pub fn from_parts(tag: u8, parts: &[&[u8]]) -> Self {
        let len = 1 + parts.iter().map(|part| part.len()).sum::<usize>();
        if len > KEY_INLINE {
            let mut bytes = Vec::with_capacity(len);
            bytes.push(tag);
            parts.iter().for_each(|part| bytes.extend_from_slice(part));
            return Self(SmallVec::from_vec(bytes));
        }
        // Written into the inline array part by part, with no capacity
        // checks between them.
        let mut inline = [0u8; KEY_INLINE];
        inline[0] = tag;
        let mut at = 1;
        for part in parts {
            inline[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Self(SmallVec::from_buf_and_len(inline, len))
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Self::from_slice(&self.0)
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

/// A view's keys and values, in key order.
pub type Map = imbl::OrdMap<Key, IVec>;

/// One state of a view, for reading: every lookup and scan of one query
/// sees the same state. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ViewTree {
    map: Map,
}

/// Iterates over a view's entries in key order.
pub type Entries<'a> = Box<dyn Iterator<Item = (&'a Key, &'a IVec)> + 'a>;

impl ViewTree {
    /// The state `map` holds.
    pub fn new(map: Map) -> Self {
        Self { map }
    }

    /// Whether the state holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<IVec> {
        self.map.get(key.as_ref()).cloned()
    }

    /// Whether `key` holds a value.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> bool {
        self.map.contains_key(key.as_ref())
    }

    /// The entries whose keys are in `range`, in key order.
    pub fn range<'a, K: AsRef<[u8]> + 'a>(&'a self, range: impl RangeBounds<K>) -> Entries<'a> {
        let start = bound(range.start_bound());
        let end = bound(range.end_bound());
        Box::new(self.map.range::<_, [u8]>((start, end)))
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Entries<'_> {
        let prefix = prefix.as_ref();
        if prefix.is_empty() {
            return self.iter();
        }
        let end = prefix_end(prefix);
        let iter = self
            .map
            .range::<_, [u8]>((Bound::Included(prefix), Bound::Excluded(end.as_slice())));
        // `prefix_end` of a prefix of 0xff bytes is longer than it: keep
        // only what really starts with the prefix.
        let prefix = prefix.to_vec();
        Box::new(iter.take_while(move |(k, _)| k.starts_with(&prefix)))
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Entries<'_> {
        Box::new(self.map.iter())
    }
}

fn bound<K: AsRef<[u8]>>(bound: Bound<&K>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Where one generation of a view keeps its state: the worker changes it,
/// queries take it. Cheap to clone (clones share the same place).
///
/// A lock guards the map itself, not a pointer to a copy of it. A query
/// holds the read lock only while it clones the map's root; the worker
/// holds the write lock only while it inserts a live batch's encoded
/// changes. In between, the map's nodes are the worker's alone unless a
/// query or a save still holds a state, so a batch changes most nodes in
/// place: publishing a copy per batch made every batch copy each node it
/// touched (sixteen entries, and an atomic count on each entry's value or
/// child), most of the views' cost under a steady load of new cases.
#[derive(Debug, Clone, Default)]
pub struct Published {
    current: Arc<RwLock<Map>>,
}

impl Published {
    /// A place holding `map`.
    pub fn new(map: Map) -> Self {
        Self {
            current: Arc::new(RwLock::new(map)),
        }
    }

    /// The state queries read now.
    pub fn tree(&self) -> ViewTree {
        ViewTree::new(self.snapshot())
    }

    /// The state now, as a map of its own (sharing every node).
    pub fn snapshot(&self) -> Map {
        self.read().clone()
    }

    /// Changes the state in place; queries wait until `change` is done, so
    /// it should only insert what is ready to insert.
    pub fn change<R>(&self, change: impl FnOnce(&mut Map) -> R) -> R {
        change(&mut self.write())
    }

    /// Makes `map` the state queries read. The state it replaces is
    /// dropped after the lock is let go.
    pub fn replace(&self, map: Map) {
        let replaced = std::mem::replace(&mut *self.write(), map);
        drop(replaced);
    }

    // A worker that panicked while changing the map poisons the lock; its
    // view is reported failed, and queries go on reading what it left.
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.current.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn tree(keys: &[&[u8]]) -> ViewTree {
        let map: Map = keys
            .iter()
            .map(|k| (Key::from_slice(k), IVec::from(&b"v"[..])))
            .collect();
        ViewTree::new(map)
    }

    fn keys(entries: Entries<'_>) -> Vec<Vec<u8>> {
        entries.map(|(k, _)| k.to_vec()).collect()
    }

    #[test]
    fn a_key_from_parts_is_its_tag_then_its_parts_inline_or_not() {
        let parts: [&[u8]; 3] = [b"unit", b"", &[9u8; 20]];
        for extra in [0, KEY_INLINE - 25, KEY_INLINE - 24, KEY_INLINE] {
            let tail = vec![3u8; extra];
            let mut all = parts.to_vec();
            all.push(&tail);
            let expected: Vec<u8> = std::iter::once(b'x')
                .chain(all.iter().flat_map(|part| part.iter().copied()))
                .collect();
            let key = Key::from_parts(b'x', &all);
            assert_eq!(&*key, &expected[..], "{extra} bytes more");
            assert_eq!(key, Key::from_slice(&expected));
        }
    }

    #[test]
    fn keys_clone_and_order_as_their_bytes_short_or_long() {
        let short = Key::from_slice(b"n-short");
        let long = Key::from_slice(&[7u8; KEY_INLINE + 9]);
        assert_eq!(&*short.clone(), b"n-short");
        assert_eq!(&*long.clone(), &[7u8; KEY_INLINE + 9][..]);
        let mut keys = [long.clone(), short.clone(), Key::from_slice(b"")];
        keys.sort();
        let bytes: Vec<&[u8]> = keys.iter().map(|k| &**k).collect();
        let mut expected: Vec<&[u8]> = vec![&long, &short, b""];
        expected.sort();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_prefix_scan_finds_exactly_the_keys_that_start_with_it() {
        let t = tree(&[
            b"a",
            b"ab",
            b"abc",
            b"b",
            b"\xff",
            b"\xff\xff",
            b"\xff\xff\x01",
        ]);
        assert_eq!(
            keys(t.scan_prefix(b"ab")),
            vec![b"ab".to_vec(), b"abc".to_vec()]
        );
        assert_eq!(
            keys(t.scan_prefix(b"\xff\xff")),
            vec![b"\xff\xff".to_vec(), b"\xff\xff\x01".to_vec()]
        );
        assert_eq!(keys(t.scan_prefix(b"")).len(), 7);
        assert!(keys(t.scan_prefix(b"c")).is_empty());
    }

    #[test]
    fn ranges_follow_their_bounds() {
        let t = tree(&[b"a", b"b", b"c", b"d"]);
        assert_eq!(keys(t.range(b"b".to_vec()..b"d".to_vec())).len(), 2);
        assert_eq!(
            keys(t.range((Bound::Excluded(b"a".to_vec()), Bound::Unbounded))),
            vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn a_query_keeps_the_state_it_took_while_the_map_changes_in_place_or_is_replaced() {
        let v = |b: &'static [u8]| IVec::from(b);
        let published = Published::new(Map::new());
        let before = published.tree();
        published.change(|map| map.insert(Key::from_slice(b"k"), v(b"1")));
        let first = published.tree();
        published.change(|map| {
            map.insert(Key::from_slice(b"k"), v(b"2"));
            map.insert(Key::from_slice(b"l"), v(b"3"));
        });
        assert!(before.get(b"k").is_none() && before.is_empty());
        assert_eq!(first.get(b"k").as_deref(), Some(&b"1"[..]));
        assert!(!first.contains_key(b"l"));
        let second = published.tree();
        assert_eq!(second.get(b"k").as_deref(), Some(&b"2"[..]));
        let mut copy = published.snapshot();
        copy.insert(Key::from_slice(b"m"), v(b"4"));
        assert!(
            !published.tree().contains_key(b"m"),
            "a copy is not the state"
        );
        published.replace(copy);
        assert!(published.tree().contains_key(b"m"));
        assert_eq!(keys(second.iter()), vec![b"k".to_vec(), b"l".to_vec()]);
    }
}
