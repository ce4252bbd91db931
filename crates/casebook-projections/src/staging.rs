//! The changes of a keyed view not yet applied, and their atomic commit.
//!
//! A view applies events against a [`Staging`]: reads see the staging's own
//! writes first, then the state the worker began from; writes stay in the
//! staging. A commit writes all of them and the new checkpoint to the
//! view's map in one step (under the lock queries take it with, or into a
//! copy that then replaces it): queries see a batch's events all at once,
//! with their checkpoint, or not at all, and a file saved from a state
//! holds each of its events exactly once.
//!
//! A worker catching up keeps one staging over many batches of events, so
//! a row that many events touch is encoded once. A staging begun on an
//! empty view (a generation being built from the start) answers every read
//! by itself.

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxHashMap;

use casebook_domain::UnitId;
use casebook_log::Position;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::IVec;

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::keys::CHECKPOINT_KEY;
use crate::view_tree::{Key, Map, ViewTree};

/// Something a view value can be read from: the tree, or a batch in progress.
pub trait Source {
    /// The raw value under `key`.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The JSON value under `key`, decoded.
    fn read<T: DeserializeOwned>(&self, view: &'static str, key: &[u8]) -> Result<Option<T>> {
        self.get_raw(key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| ProjectionError::Corrupt {
                    view,
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

impl Source for sled::Tree {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get(key)?.map(|v| v.to_vec()))
    }
}

impl Source for ViewTree {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get(key).map(|v| v.to_vec()))
    }
}

/// Encodes a held value for the commit, appending its bytes to the
/// buffer: the commit encodes every held value into one buffer, reused,
/// and copies each out once, where a vector of its own per value grew
/// step by step and was copied again into the map's value.
pub type Encoder = fn(&dyn Any, &mut Vec<u8>) -> Result<()>;

/// One staged change.
enum Staged {
    /// Raw bytes, or `None` for a removal.
    Bytes(Option<Vec<u8>>),
    /// A value kept decoded until the commit, so that the many events of a
    /// batch that touch one row (a busy case, a day's counters) decode and
    /// encode it once per batch instead of once per event.
    Held(Box<dyn Any + Send>, Encoder),
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => f
                .debug_tuple("Bytes")
                .field(&b.as_ref().map(Vec::len))
                .finish(),
            Self::Held(..) => f.write_str("Held"),
        }
    }
}

impl Staged {
    fn bytes(&self) -> Result<Option<Vec<u8>>> {
        match self {
            Self::Bytes(b) => Ok(b.clone()),
            Self::Held(value, encode) => {
                let mut bytes = Vec::new();
                encode(value.as_ref(), &mut bytes)?;
                Ok(Some(bytes))
            }
        }
    }
}

/// What a held value is left as once [`Staging::take`] moved it out.
struct Taken;

fn encode_json<T: Serialize + 'static>(value: &dyn Any, out: &mut Vec<u8>) -> Result<()> {
    let value = value
        .downcast_ref::<T>()
        .ok_or_else(|| ProjectionError::Transaction("a held value changed type".into()))?;
    Ok(serde_json::to_writer(out, value)?)
}

/// The changes of one or more batches, not yet written. Each change
/// carries whether its key is known to be absent from the tree (written
/// first in this staging by a `*_new` call, or any key while the tree is
/// empty): removing such a key drops the change instead of writing a
/// removal, so an index entry that a case gains and loses before the
/// commit is never applied.
#[derive(Debug)]
pub struct Staging<X = ()> {
    tree: ViewTree,
    writes: FxHashMap<Key, (Staged, bool)>,
    /// The tree holds nothing: every read is answered here.
    empty_tree: bool,
    /// Unit paths already walked (see `units::path_cached`); forgotten at
    /// every unit event.
    unit_paths: HashMap<UnitId, Vec<UnitId>>,
    /// What the view keeps decoded in its own shape until the commit
    /// (see `KeyedView::settle`).
    pub extra: X,
}

impl<X: Default> Staging<X> {
    /// An empty staging over `tree`, with no room made ahead.
    #[cfg(test)]
    pub fn new(tree: &ViewTree, empty_tree: bool) -> Self {
        Self::with_capacity(tree, empty_tree, 0)
    }

    /// An empty staging over `tree`; `empty_tree` if the tree holds no key
    /// at all (then it is not read). It has room for `keys` writes before
    /// its map grows: a live batch writes about as many keys as the one
    /// before it, and growing the map from empty was about 1 % of the
    /// server's CPU under the HTTP benchmark's command load.
    pub fn with_capacity(tree: &ViewTree, empty_tree: bool, keys: usize) -> Self {
        Self {
            tree: tree.clone(),
            writes: FxHashMap::with_capacity_and_hasher(keys, Default::default()),
            empty_tree,
            unit_paths: HashMap::new(),
            extra: X::default(),
        }
    }
}

impl<X> Staging<X> {
    /// The memo of unit paths.
    pub fn unit_paths(&mut self) -> &mut HashMap<UnitId, Vec<UnitId>> {
        &mut self.unit_paths
    }

    /// How many keys are staged.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// The JSON value under `key`: the staging's own if it has one (not
    /// copied if it is held decoded), else the tree's, decoded.
    pub fn read<T>(&self, view: &'static str, key: &[u8]) -> Result<Option<Cow<'_, T>>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        if let Some((Staged::Held(value, _), _)) = self.writes.get(key) {
            if let Some(v) = value.downcast_ref::<T>() {
                return Ok(Some(Cow::Borrowed(v)));
            }
        }
        Ok(Source::read(self, view, key)?.map(Cow::Owned))
    }

    /// Like [`Staging::read_owned`], but a value held decoded here is moved
    /// out instead of copied. The caller must stage `key` again before the
    /// commit: a key taken and not staged again fails the commit.
    pub fn take<T>(&mut self, view: &'static str, key: &[u8]) -> Result<Option<T>>
    where
        T: DeserializeOwned + 'static,
    {
        match self.take_held::<T>(key) {
            Some(value) => Ok(Some(value)),
            None => Source::read(self, view, key),
        }
    }

    /// [`Staging::take`] of a key that only `event`'s stream writes (a
    /// case's row, keyed by the case): at the stream's first event the
    /// view keeps nothing of it yet ([`Decoded::opens_stream`]), so
    /// nothing is looked up.
    pub fn take_of_stream<T>(
        &mut self,
        view: &'static str,
        key: &[u8],
        event: &Decoded,
    ) -> Result<Option<T>>
    where
        T: DeserializeOwned + 'static,
    {
        if event.opens_stream {
            return Ok(None);
        }
        self.take(view, key)
    }

    /// The value held decoded under `key`, if it is a `T`, moved out as
    /// [`Staging::take`] does; `None` leaves the staging as it was.
    fn take_held<T: 'static>(&mut self, key: &[u8]) -> Option<T> {
        let Some((Staged::Held(value, _), _)) = self.writes.get_mut(key) else {
            return None;
        };
        if !value.is::<T>() {
            return None;
        }
        std::mem::replace(value, Box::new(Taken))
            .downcast::<T>()
            .ok()
            .map(|value| *value)
    }

    /// Where `key` holds nothing yet, staged or in the tree, stages the
    /// bytes `make` returns and answers `None`: a value complete when first
    /// written (a figures sum of a new day, most of them) stays bytes, with
    /// no decoded copy held until the commit. Else answers the value under
    /// `key` held decoded here, to change in place: `load` makes it from
    /// the bytes staged or stored (`None`: a staged removal) the first time.
    /// One lookup for a value changed many times a batch (figures' sums).
    pub fn held_mut_or_put_raw<T: Send + 'static>(
        &mut self,
        key: impl Into<Key>,
        make: impl FnOnce() -> Vec<u8>,
        encode: Encoder,
        load: impl FnOnce(Option<&[u8]>) -> Result<T>,
    ) -> Result<Option<&mut T>> {
        use std::collections::hash_map::Entry;
        let staged = match self.writes.entry(key.into()) {
            Entry::Occupied(occupied) => {
                let (staged, _) = occupied.into_mut();
                if !matches!(staged, Staged::Held(value, _) if value.is::<T>()) {
                    let bytes = staged.bytes()?;
                    *staged = Staged::Held(Box::new(load(bytes.as_deref())?), encode);
                }
                staged
            }
            Entry::Vacant(vacant) => {
                let stored = if self.empty_tree {
                    None
                } else {
                    self.tree.get(vacant.key())
                };
                let Some(stored) = stored else {
                    vacant.insert((Staged::Bytes(Some(make())), true));
                    return Ok(None);
                };
                let value = load(Some(&stored[..]))?;
                &mut vacant
                    .insert((Staged::Held(Box::new(value), encode), false))
                    .0
            }
        };
        match staged {
            Staged::Held(value, _) => value.downcast_mut::<T>(),
            Staged::Bytes(_) => None,
        }
        .map(Some)
        .ok_or_else(|| ProjectionError::Transaction("a held value changed type".into()))
    }

    /// Whether `key` holds a value (without encoding a held one).
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        match self.writes.get(key) {
            Some((Staged::Bytes(bytes), _)) => Ok(bytes.is_some()),
            Some((Staged::Held(..), _)) => Ok(true),
            None if self.empty_tree => Ok(false),
            None => Ok(self.tree.contains_key(key)),
        }
    }

    /// Like [`Staging::read`], but an owned value.
    pub fn read_owned<T>(&self, view: &'static str, key: &[u8]) -> Result<Option<T>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        Ok(self.read::<T>(view, key)?.map(Cow::into_owned))
    }

    /// Stages `value` (stored as JSON) under `key`.
    pub fn put<T: Serialize + Clone + Send + 'static>(
        &mut self,
        key: impl Into<Key>,
        value: &T,
    ) -> Result<()> {
        self.hold(key, value.clone(), encode_json::<T>);
        Ok(())
    }

    /// Stages `value` under `key`, kept decoded until the commit, when
    /// `encode` turns it into bytes.
    pub fn hold<T: Send + 'static>(&mut self, key: impl Into<Key>, value: T, encode: Encoder) {
        self.stage(key, Staged::Held(Box::new(value), encode), false);
    }

    /// Stages `value` (stored as JSON) under `key`, without a copy.
    pub fn put_owned<T: Serialize + Send + 'static>(&mut self, key: impl Into<Key>, value: T) {
        self.hold(key, value, encode_json::<T>);
    }

    /// Like [`Staging::put_owned`] for a key the caller knows is not in the tree.
    pub fn put_new<T: Serialize + Send + 'static>(&mut self, key: impl Into<Key>, value: T) {
        self.stage(key, Staged::Held(Box::new(value), encode_json::<T>), true);
    }

    /// Like [`Staging::put_raw`] for a key the caller knows is not in the tree.
    pub fn put_raw_new(&mut self, key: impl Into<Key>, value: Vec<u8>) {
        self.stage(key, Staged::Bytes(Some(value)), true);
    }

    /// Whether `key` is known not to be in the tree: the tree is empty, or
    /// the key was first written in this staging by a `*_new` call.
    pub fn is_new(&self, key: &[u8]) -> bool {
        self.empty_tree || self.writes.get(key).is_some_and(|(_, new)| *new)
    }

    /// Stages a change; a key already changed in this staging keeps what
    /// was known of it (a key once staged as possibly in the tree stays so).
    fn stage(&mut self, key: impl Into<Key>, staged: Staged, new: bool) {
        use std::collections::hash_map::Entry;
        match self.writes.entry(key.into()) {
            Entry::Occupied(mut occupied) => occupied.get_mut().0 = staged,
            Entry::Vacant(vacant) => {
                vacant.insert((staged, new));
            }
        }
    }

    /// Stages raw bytes under `key`.
    pub fn put_raw(&mut self, key: impl Into<Key>, value: Vec<u8>) {
        self.stage(key, Staged::Bytes(Some(value)), false);
    }

    /// Stages the removal of `key`; nothing to write if the key is known
    /// not to be in the tree.
    pub fn remove(&mut self, key: impl Into<Key>) {
        let key = key.into();
        if self.is_new(&key) {
            self.writes.remove(&*key);
        } else {
            self.stage(key, Staged::Bytes(None), false);
        }
    }

    /// Applies every staged change and the checkpoint to `map` (the
    /// state this staging began from, changed by its worker alone).
    pub fn commit(self, map: &mut Map, checkpoint: Position) -> Result<()> {
        for change in self.changes() {
            let (key, value) = change?;
            write(map, key, value);
        }
        write_checkpoint(map, checkpoint);
        Ok(())
    }

    /// The staged changes in key order, each value encoded (`None`: a
    /// removal), for [`write_changes`]. The staging's own state of the
    /// view is let go of first: it shares the map's nodes, and while it
    /// lives the writes would copy each node they change.
    pub fn changes(self) -> impl Iterator<Item = Result<(Key, Option<IVec>)>> {
        let Self { tree, writes, .. } = self;
        drop(tree);
        let mut buffer = Vec::new();
        // In key order: consecutive changes land in the same few nodes of
        // the map, which stay in the CPU's cache.
        in_key_order(writes).map(move |(key, staged)| {
            let value = match staged {
                Staged::Bytes(bytes) => bytes.map(IVec::from),
                Staged::Held(value, encode) => {
                    buffer.clear();
                    encode(value.as_ref(), &mut buffer)?;
                    Some(IVec::from(buffer.as_slice()))
                }
            };
            Ok((key, value))
        })
    }
}

/// Writes changes taken from [`Staging::changes`] and the checkpoint to
/// `map`.
pub fn write_changes(map: &mut Map, changes: Vec<(Key, Option<IVec>)>, checkpoint: Position) {
    for (key, value) in changes {
        write(map, key, value);
    }
    write_checkpoint(map, checkpoint);
}

fn write(map: &mut Map, key: Key, value: Option<IVec>) {
    match value {
        Some(value) => {
            map.insert(key, value);
        }
        None => {
            map.remove(key.as_ref());
        }
    }
}

fn write_checkpoint(map: &mut Map, checkpoint: Position) {
    map.insert(
        Key::from_slice(CHECKPOINT_KEY),
        checkpoint.to_be_bytes().as_slice().into(),
    );
}

/// The staged changes in key order.
///
/// A catch-up commits up to a million keys at once, many sharing their
/// first tens of bytes (a member's visits, a unit's figures): sorting the
/// entries themselves compared their keys byte by byte and moved a hundred
/// bytes per swap. This sorts each key's first [`SORT_PREFIX`] bytes as
/// numbers, with the entry's index, and compares whole keys only where
/// those are equal.
fn in_key_order(writes: FxHashMap<Key, (Staged, bool)>) -> impl Iterator<Item = (Key, Staged)> {
    let mut entries: Vec<Option<(Key, Staged)>> = Vec::with_capacity(writes.len());
    let mut order: Vec<([u64; SORT_WORDS], usize)> = Vec::with_capacity(writes.len());
    for (key, (staged, _)) in writes {
        order.push((key_prefix(&key), entries.len()));
        entries.push(Some((key, staged)));
    }
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            let key_of = |i: usize| entries[i].as_ref().map(|(k, _)| k);
            key_of(a.1).cmp(&key_of(b.1))
        })
    });
    order
        .into_iter()
        .filter_map(move |(_, i)| entries.get_mut(i).and_then(Option::take))
}

/// How many bytes of a key [`in_key_order`] compares as numbers.
const SORT_PREFIX: usize = SORT_WORDS * 8;
const SORT_WORDS: usize = 4;

/// A key's first [`SORT_PREFIX`] bytes (zeros past its end) as big-endian
/// words: they order as the bytes do, and a key that ends first orders as
/// its zeros, so that equal words leave the order to the whole keys.
fn key_prefix(key: &[u8]) -> [u64; SORT_WORDS] {
    let mut bytes = [0u8; SORT_PREFIX];
    let n = key.len().min(SORT_PREFIX);
    bytes[..n].copy_from_slice(&key[..n]);
    let mut words = [0u64; SORT_WORDS];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        *word = u64::from_be_bytes(eight);
    }
    words
}

impl<X> Source for Staging<X> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some((staged, _)) => staged.bytes(),
            None if self.empty_tree => Ok(None),
            None => self.tree.get_raw(key),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn map_with(entries: &[(&[u8], &[u8])]) -> Map {
        entries
            .iter()
            .map(|(k, v)| (Key::from_slice(k), sled::IVec::from(*v)))
            .collect()
    }

    fn staging_over(map: &Map) -> Staging {
        let empty = map.is_empty();
        Staging::new(&ViewTree::new(map.clone()), empty)
    }

    proptest::proptest! {
        /// Keys that share long prefixes, end inside or past the compared
        /// words, or hold zeros where a shorter key's padding would be,
        /// come out in the order of their bytes, each once.
        #[test]
        fn staged_changes_come_out_in_the_order_of_their_bytes(
            keys in proptest::collection::hash_set(
                (0usize..40, proptest::collection::vec(0u8..3, 0..8)),
                0..200,
            )
        ) {
            let mut writes = FxHashMap::default();
            let mut expected = Vec::new();
            for (shared, tail) in keys {
                let mut key = vec![7u8; shared];
                key.extend(tail);
                expected.push(key.clone());
                writes.insert(Key::from_slice(&key), (Staged::Bytes(Some(key)), false));
            }
            expected.sort();
            expected.dedup();
            let got: Vec<Vec<u8>> = in_key_order(writes).map(|(k, _)| k.to_vec()).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_new_key_removed_in_the_same_batch_is_not_written_at_all() {
        let mut map = map_with(&[(b"z", b"0")]);
        let mut staging = staging_over(&map);
        staging.put_raw_new(b"a".to_vec(), b"1".to_vec());
        assert!(staging.is_new(b"a"));
        assert_eq!(staging.get_raw(b"a").unwrap(), Some(b"1".to_vec()));
        staging.remove(b"a".to_vec());
        assert_eq!(staging.get_raw(b"a").unwrap(), None);
        assert!(staging.writes.is_empty());
        staging.commit(&mut map, 7).unwrap();
        assert_eq!(map.get(&b"a"[..]), None);
        assert_eq!(map.len(), 2, "the key before and the checkpoint");
    }

    #[test]
    fn a_key_that_may_be_in_the_view_is_removed_from_it() {
        let mut map = map_with(&[(b"a", b"old")]);
        let mut staging = staging_over(&map);
        staging.put_raw(b"a".to_vec(), b"1".to_vec());
        // Once staged as possibly in the view, a later `*_new` does not
        // make it new: its removal must still reach the view.
        staging.put_raw_new(b"a".to_vec(), b"2".to_vec());
        assert!(!staging.is_new(b"a"));
        staging.remove(b"a".to_vec());
        staging.commit(&mut map, 1).unwrap();
        assert_eq!(map.get(&b"a"[..]), None);
    }

    #[test]
    fn a_new_key_kept_to_the_end_of_the_batch_is_written_with_its_last_value() {
        let mut map = map_with(&[(b"z", b"0")]);
        let mut staging = staging_over(&map);
        staging.put_new(b"r".to_vec(), 1_u32);
        staging.put(b"r".to_vec(), &2_u32).unwrap();
        assert!(staging.is_new(b"r"));
        staging.commit(&mut map, 3).unwrap();
        assert_eq!(map.get(&b"r"[..]).map(|v| v.to_vec()), Some(b"2".to_vec()));
    }

    #[test]
    fn a_taken_value_is_moved_out_and_must_be_staged_again_before_the_commit() {
        let mut map = map_with(&[(b"t", b"5")]);
        let mut staging = staging_over(&map);
        staging.put_new(b"r".to_vec(), 1_u32);
        // Held here: moved out; from the tree: decoded.
        assert_eq!(staging.take::<u32>("test", b"r").unwrap(), Some(1));
        assert_eq!(staging.take::<u32>("test", b"t").unwrap(), Some(5));
        assert_eq!(staging.take_held::<u32>(b"t"), None, "not held here");
        // A value of another type is not taken.
        staging.put_new(b"s".to_vec(), 2_u64);
        assert_eq!(staging.take_held::<u32>(b"s"), None);
        assert_eq!(staging.take_held::<u64>(b"s"), Some(2));
        staging.put_owned(b"s".to_vec(), 3_u64);
        // Taken and not staged again: the commit refuses (the worker then
        // stops; a live commit encodes every change before it writes one,
        // a large one wrote into a copy, which is dropped).
        assert!(staging.commit(&mut map.clone(), 1).is_err());

        let mut staging = staging_over(&map);
        staging.put_new(b"r".to_vec(), 1_u32);
        let r = staging.take::<u32>("test", b"r").unwrap().unwrap();
        staging.put_owned(b"r".to_vec(), r + 1);
        staging.commit(&mut map, 2).unwrap();
        assert_eq!(map.get(&b"r"[..]).map(|v| v.to_vec()), Some(b"2".to_vec()));
    }

    fn encode_u64(value: &dyn Any, out: &mut Vec<u8>) -> Result<()> {
        value
            .downcast_ref::<u64>()
            .map(|n| out.extend_from_slice(&n.to_be_bytes()))
            .ok_or_else(|| ProjectionError::Transaction("not a u64".into()))
    }

    fn load_u64(stored: Option<&[u8]>) -> Result<u64> {
        Ok(stored.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap())))
    }

    fn u64_under(map: &Map, key: &[u8]) -> Option<u64> {
        map.get(key)
            .map(|v| u64::from_be_bytes(v[..].try_into().unwrap()))
    }

    /// Adds `n` to the `u64` under `key`, or stages `n` as bytes where the
    /// key holds nothing: whether it did the latter.
    fn add_or_put(staging: &mut Staging, key: &[u8], n: u64) -> bool {
        let made = move || n.to_be_bytes().to_vec();
        match staging
            .held_mut_or_put_raw(key.to_vec(), made, encode_u64, load_u64)
            .unwrap()
        {
            Some(held) => {
                *held += n;
                false
            }
            None => true,
        }
    }

    #[test]
    fn a_value_held_in_place_is_loaded_once_and_encoded_at_the_commit() {
        let mut map = map_with(&[(b"a", &5_u64.to_be_bytes())]);
        let mut staging = staging_over(&map);
        assert!(!add_or_put(&mut staging, b"a", 1));
        let never_made = || -> Vec<u8> { panic!("made where a value is") };
        let never_loaded = |_: Option<&[u8]>| -> Result<u64> { panic!("loaded twice") };
        *staging
            .held_mut_or_put_raw(b"a".to_vec(), never_made, encode_u64, never_loaded)
            .unwrap()
            .unwrap() += 1;
        // Raw bytes staged before are where a held value starts from.
        staging.put_raw(b"c".to_vec(), 10_u64.to_be_bytes().to_vec());
        assert!(!add_or_put(&mut staging, b"c", 1));
        staging.commit(&mut map, 1).unwrap();
        assert_eq!(u64_under(&map, b"a"), Some(7));
        assert_eq!(u64_under(&map, b"c"), Some(11));

        // A staged removal is where a held value starts from nothing.
        let mut staging = staging_over(&map);
        staging.remove(b"c".to_vec());
        assert!(!add_or_put(&mut staging, b"c", 4));
        staging.commit(&mut map, 2).unwrap();
        assert_eq!(u64_under(&map, b"c"), Some(4));
    }

    #[test]
    fn raw_bytes_go_only_where_no_value_is_staged_or_stored() {
        let mut map = map_with(&[(b"stored", &1_u64.to_be_bytes())]);
        let mut staging = staging_over(&map);
        staging.put_raw(b"staged".to_vec(), 2_u64.to_be_bytes().to_vec());
        assert!(!add_or_put(&mut staging, b"stored", 10));
        assert!(!add_or_put(&mut staging, b"staged", 10));
        assert!(add_or_put(&mut staging, b"vacant", 3));
        assert!(!add_or_put(&mut staging, b"vacant", 10));
        // Known not to be in the tree: removing it leaves nothing to write.
        assert!(staging.is_new(b"vacant"));
        staging.commit(&mut map, 1).unwrap();
        assert_eq!(u64_under(&map, b"stored"), Some(11));
        assert_eq!(u64_under(&map, b"staged"), Some(12));
        assert_eq!(u64_under(&map, b"vacant"), Some(13));
    }

    #[test]
    fn reads_see_the_staging_first_then_the_state_it_began_from() {
        let map = map_with(&[(b"a", b"1"), (b"b", b"2")]);
        let mut staging = staging_over(&map);
        staging.put_raw(b"a".to_vec(), b"9".to_vec());
        staging.remove(b"b".to_vec());
        assert_eq!(staging.get_raw(b"a").unwrap(), Some(b"9".to_vec()));
        assert_eq!(staging.get_raw(b"b").unwrap(), None);
        assert!(!staging.contains(b"b").unwrap());
        assert!(staging.contains(b"a").unwrap());
    }

    #[test]
    fn a_staging_over_an_empty_view_answers_alone_and_commits_every_key() {
        let mut map = Map::new();
        let mut staging = staging_over(&map);
        let keys = 40_007;
        for i in 0..keys {
            staging.put_raw(format!("k{i:08}").into_bytes(), b"v".to_vec());
        }
        // Every key is known to be new: its removal is dropped, not written.
        assert!(staging.is_new(b"k00000003"));
        staging.remove(b"k00000003".to_vec());
        assert!(!staging.contains(b"k00000003").unwrap());
        assert!(staging.contains(b"k00000004").unwrap());
        assert_eq!(staging.len(), keys - 1);
        staging.commit(&mut map, 41).unwrap();
        assert_eq!(map.len(), keys - 1 + 1, "every key and the checkpoint");
        assert_eq!(
            map.get(CHECKPOINT_KEY).map(|v| v.to_vec()),
            Some(41_u64.to_be_bytes().to_vec())
        );
    }
}
