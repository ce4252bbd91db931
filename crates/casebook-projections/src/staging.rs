//! One batch of a sled view's changes, and its atomic commit.
//!
//! A view applies a batch of events against a [`Staging`]: reads see the
//! batch's own writes first, then the tree; writes stay in memory. `commit`
//! writes all of them and the new checkpoint in one `apply_batch` on the
//! view's one tree, which sled applies all or nothing, also across a crash.
//! So a view never holds an event's effect without its checkpoint, nor the
//! reverse: each event takes effect exactly once.

use std::any::Any;
use std::collections::HashMap;

use casebook_log::Position;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ProjectionError, Result};
use crate::keys::CHECKPOINT_KEY;

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

/// Encodes a held value for the commit.
type Encoder = fn(&dyn Any) -> Result<Vec<u8>>;

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
            Self::Held(value, encode) => encode(value.as_ref()).map(Some),
        }
    }
}

fn encode_json<T: Serialize + 'static>(value: &dyn Any) -> Result<Vec<u8>> {
    let value = value
        .downcast_ref::<T>()
        .ok_or_else(|| ProjectionError::Transaction("a held value changed type".into()))?;
    Ok(serde_json::to_vec(value)?)
}

/// The changes of one batch, not yet written. Each change carries whether
/// its key is known to be absent from the tree (written first in this
/// batch by a `*_new` call): removing such a key drops the change instead
/// of writing a removal, so an index entry that a case gains and loses in
/// one batch costs sled nothing.
#[derive(Debug)]
pub struct Staging<'t> {
    tree: &'t sled::Tree,
    writes: HashMap<Vec<u8>, (Staged, bool)>,
}

impl<'t> Staging<'t> {
    /// An empty batch over `tree`.
    pub fn new(tree: &'t sled::Tree) -> Self {
        Self {
            tree,
            writes: HashMap::new(),
        }
    }

    /// The JSON value under `key`: the batch's own if it has one, else the
    /// tree's, decoded.
    pub fn read<T>(&self, view: &'static str, key: &[u8]) -> Result<Option<T>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match self.writes.get(key) {
            Some((Staged::Held(value, _), _)) => match value.downcast_ref::<T>() {
                Some(v) => Ok(Some(v.clone())),
                None => Source::read(self, view, key),
            },
            _ => Source::read(self, view, key),
        }
    }

    /// Stages `value` (stored as JSON) under `key`.
    pub fn put<T: Serialize + Clone + Send + 'static>(
        &mut self,
        key: Vec<u8>,
        value: &T,
    ) -> Result<()> {
        self.hold(key, value.clone(), encode_json::<T>);
        Ok(())
    }

    /// Stages `value` under `key`, kept decoded until the commit, when
    /// `encode` turns it into bytes.
    pub fn hold<T: Send + 'static>(&mut self, key: Vec<u8>, value: T, encode: Encoder) {
        self.stage(key, Staged::Held(Box::new(value), encode), false);
    }

    /// Like [`Staging::put`] for a key the caller knows is not in the tree.
    pub fn put_new<T: Serialize + Clone + Send + 'static>(&mut self, key: Vec<u8>, value: &T) {
        self.stage(
            key,
            Staged::Held(Box::new(value.clone()), encode_json::<T>),
            true,
        );
    }

    /// Like [`Staging::put_raw`] for a key the caller knows is not in the tree.
    pub fn put_raw_new(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.stage(key, Staged::Bytes(Some(value)), true);
    }

    /// Whether `key` was first written in this batch by a `*_new` call
    /// (and so is not in the tree).
    pub fn is_new(&self, key: &[u8]) -> bool {
        self.writes.get(key).is_some_and(|(_, new)| *new)
    }

    /// Stages a change; a key already changed in this batch keeps what was
    /// known of it (a key once staged as possibly in the tree stays so).
    fn stage(&mut self, key: Vec<u8>, staged: Staged, new: bool) {
        match self.writes.get_mut(&key) {
            Some(entry) => entry.0 = staged,
            None => {
                self.writes.insert(key, (staged, new));
            }
        }
    }

    /// The value held under `key` by [`Staging::hold`], to change in place.
    pub fn held_mut<T: 'static>(&mut self, key: &[u8]) -> Option<&mut T> {
        match self.writes.get_mut(key) {
            Some((Staged::Held(value, _), _)) => value.downcast_mut::<T>(),
            _ => None,
        }
    }

    /// Stages raw bytes under `key`.
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.stage(key, Staged::Bytes(Some(value)), false);
    }

    /// Stages the removal of `key`; nothing to write if the key is known
    /// not to be in the tree.
    pub fn remove(&mut self, key: Vec<u8>) {
        if self.is_new(&key) {
            self.writes.remove(&key);
        } else {
            self.stage(key, Staged::Bytes(None), false);
        }
    }

    /// Writes every staged change and the checkpoint, atomically.
    pub fn commit(self, checkpoint: Position) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (key, (staged, _)) in self.writes {
            match staged.bytes()? {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(CHECKPOINT_KEY, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

impl Source for Staging<'_> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some((staged, _)) => staged.bytes(),
            None => self.tree.get_raw(key),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("view").unwrap();
        (db, tree)
    }

    #[test]
    fn a_new_key_removed_in_the_same_batch_is_not_written_at_all() {
        let (_db, tree) = tree();
        let mut staging = Staging::new(&tree);
        staging.put_raw_new(b"a".to_vec(), b"1".to_vec());
        assert!(staging.is_new(b"a"));
        assert_eq!(staging.get_raw(b"a").unwrap(), Some(b"1".to_vec()));
        staging.remove(b"a".to_vec());
        assert_eq!(staging.get_raw(b"a").unwrap(), None);
        assert!(staging.writes.is_empty());
        staging.commit(7).unwrap();
        assert_eq!(tree.get(b"a").unwrap(), None);
        assert_eq!(tree.len(), 1, "only the checkpoint");
    }

    #[test]
    fn a_key_that_may_be_in_the_tree_is_removed_from_it() {
        let (_db, tree) = tree();
        tree.insert(b"a", b"old".to_vec()).unwrap();
        let mut staging = Staging::new(&tree);
        staging.put_raw(b"a".to_vec(), b"1".to_vec());
        // Once staged as possibly in the tree, a later `*_new` does not
        // make it new: its removal must still reach the tree.
        staging.put_raw_new(b"a".to_vec(), b"2".to_vec());
        assert!(!staging.is_new(b"a"));
        staging.remove(b"a".to_vec());
        staging.commit(1).unwrap();
        assert_eq!(tree.get(b"a").unwrap(), None);
    }

    #[test]
    fn a_new_key_kept_to_the_end_of_the_batch_is_written_with_its_last_value() {
        let (_db, tree) = tree();
        let mut staging = Staging::new(&tree);
        staging.put_new(b"r".to_vec(), &1_u32);
        staging.put(b"r".to_vec(), &2_u32).unwrap();
        assert!(staging.is_new(b"r"));
        staging.commit(3).unwrap();
        assert_eq!(tree.get(b"r").unwrap().as_deref(), Some(&b"2"[..]));
    }
}
