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

/// The changes of one batch, not yet written.
#[derive(Debug)]
pub struct Staging<'t> {
    tree: &'t sled::Tree,
    writes: HashMap<Vec<u8>, Staged>,
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
            Some(Staged::Held(value, _)) => match value.downcast_ref::<T>() {
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
        self.writes
            .insert(key, Staged::Held(Box::new(value), encode));
    }

    /// The value held under `key` by [`Staging::hold`], to change in place.
    pub fn held_mut<T: 'static>(&mut self, key: &[u8]) -> Option<&mut T> {
        match self.writes.get_mut(key) {
            Some(Staged::Held(value, _)) => value.downcast_mut::<T>(),
            _ => None,
        }
    }

    /// Stages raw bytes under `key`.
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Staged::Bytes(Some(value)));
    }

    /// Stages the removal of `key`.
    pub fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, Staged::Bytes(None));
    }

    /// Writes every staged change and the checkpoint, atomically.
    pub fn commit(self, checkpoint: Position) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (key, staged) in self.writes {
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
            Some(staged) => staged.bytes(),
            None => self.tree.get_raw(key),
        }
    }
}
