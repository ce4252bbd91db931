//! The views kept in sled: one tree per generation, one trait per view.
//!
//! A [`SledView`] says how one event changes its tree; [`SledTarget`] runs a
//! batch of events through it (after folding unit events into the tree's
//! copy of the unit tree, which every sled view keeps) and commits the batch
//! with its checkpoint in one `apply_batch`.

use std::sync::Arc;

use casebook_domain::StreamId;
use casebook_log::Position;

use crate::decode::Decoded;
use crate::error::Result;
use crate::feed::Batch;
use crate::keys::{position_from, CHECKPOINT_KEY};
use crate::staging::Staging;
use crate::units;
use crate::worker::{Factory, Target};

/// One view kept in a sled tree.
pub trait SledView: Send + Sync + 'static {
    /// Its name, as in the status and the registry.
    const NAME: &'static str;
    /// The version of the code that builds it; bump it when what is stored
    /// changes, and the view is rebuilt in the background on the next start.
    const VERSION: u32;

    /// Folds one event in. Unit events have already updated the unit nodes.
    fn apply(&self, staging: &mut Staging<'_>, event: &Decoded) -> Result<()>;
}

/// One generation of a sled view.
#[derive(Debug)]
pub struct SledTarget<V> {
    tree: sled::Tree,
    view: Arc<V>,
}

impl<V: SledView> Target for SledTarget<V> {
    type Serving = sled::Tree;

    fn checkpoint(&self) -> Result<Option<Position>> {
        Ok(self
            .tree
            .get(CHECKPOINT_KEY)?
            .and_then(|v| position_from(&v)))
    }

    fn apply(&mut self, events: &Batch) -> Result<()> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut staging = Staging::new(&self.tree);
        for event in events.events() {
            if let StreamId::Unit(unit) = event.stream {
                units::apply(&mut staging, V::NAME, unit, &event.event.payload)?;
            }
            self.view.apply(&mut staging, event)?;
        }
        staging.commit(last.position)
    }

    fn serving(&self) -> sled::Tree {
        self.tree.clone()
    }
}

/// Opens generations of a sled view in the views' database.
#[derive(Debug)]
pub struct SledFactory<V> {
    db: sled::Db,
    view: Arc<V>,
}

impl<V: SledView> SledFactory<V> {
    /// A factory for `view` in `db`.
    pub fn new(db: sled::Db, view: V) -> Self {
        Self {
            db,
            view: Arc::new(view),
        }
    }
}

/// The sled tree name of one generation.
pub fn tree_name(name: &str, version: u32, generation: u64) -> String {
    format!("{name}.v{version}.g{generation}")
}

impl<V: SledView> Factory<SledTarget<V>> for SledFactory<V> {
    fn open(&self, version: u32, generation: u64) -> Result<SledTarget<V>> {
        let tree = self.db.open_tree(tree_name(V::NAME, version, generation))?;
        Ok(SledTarget {
            tree,
            view: self.view.clone(),
        })
    }

    fn discard(&self, version: u32, generation: u64) -> Result<()> {
        self.db.drop_tree(tree_name(V::NAME, version, generation))?;
        Ok(())
    }
}
