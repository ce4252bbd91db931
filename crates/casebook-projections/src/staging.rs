//! One batch of a sled view's changes, and its atomic commit.
//!
//! A view applies a batch of events against a [`Staging`]: reads see the
//! batch's own writes first, then the tree; writes stay in memory. `commit`
//! writes all of them and the new checkpoint in one `apply_batch` on the
//! view's one tree, which sled applies all or nothing, also across a crash.
//! So a view never holds an event's effect without its checkpoint, nor the
//! reverse: each event takes effect exactly once.

use std::collections::BTreeMap;

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

/// The changes of one batch, not yet written.
#[derive(Debug)]
pub struct Staging<'t> {
    tree: &'t sled::Tree,
    /// `None` marks a removal.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'t> Staging<'t> {
    /// An empty batch over `tree`.
    pub fn new(tree: &'t sled::Tree) -> Self {
        Self {
            tree,
            writes: BTreeMap::new(),
        }
    }

    /// Stages `value` (as JSON) under `key`.
    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)?;
        self.writes.insert(key, Some(bytes));
        Ok(())
    }

    /// Stages raw bytes under `key`.
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Stages the removal of `key`.
    pub fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Writes every staged change and the checkpoint, atomically.
    pub fn commit(self, checkpoint: Position) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (key, value) in self.writes {
            match value {
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
            Some(staged) => Ok(staged.clone()),
            None => self.tree.get_raw(key),
        }
    }
}
