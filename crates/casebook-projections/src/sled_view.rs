//! The views kept in sled: one tree per generation, one trait per view.
//!
//! A [`SledView`] says how one event changes its tree; [`SledTarget`] runs a
//! batch of events through it (after folding unit events into the tree's
//! copy of the unit tree, which every sled view keeps) and commits the batch
//! with its checkpoint in one `apply_batch`. While the worker catches up,
//! batches are staged together (up to [`STAGED_KEYS_MAX`] keys) and
//! committed once, so a row many events touch is written once.

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
    /// What the view keeps in its own shape in a staging (`()` if nothing).
    type Extra: Default + Send + std::fmt::Debug + 'static;

    /// Folds one event in. Unit events have already updated the unit nodes.
    fn apply(&self, staging: &mut Staging<Self::Extra>, event: &Decoded) -> Result<()>;

    /// How many keys `extra` will stage when settled.
    fn extra_keys(extra: &Self::Extra) -> usize {
        let _ = extra;
        0
    }

    /// Turns what `apply` kept in `staging.extra` into staged keys, just
    /// before the commit; the default has nothing to do.
    fn settle(&self, staging: &mut Staging<Self::Extra>) -> Result<()> {
        let _ = staging;
        Ok(())
    }
}

/// Most keys a catching-up view stages before it commits: a few hundred
/// MB of decoded rows and index entries at most.
pub const STAGED_KEYS_MAX: usize = 500_000;

/// One generation of a sled view.
#[derive(Debug)]
pub struct SledTarget<V: SledView> {
    tree: sled::Tree,
    view: Arc<V>,
    /// Events applied but not committed yet (while catching up), and the
    /// position of the last of them.
    pending: Option<(Staging<V::Extra>, Position)>,
    /// The tree holds no key (a new generation, until its first commit).
    empty: bool,
}

impl<V: SledView> Target for SledTarget<V> {
    type Serving = sled::Tree;

    fn checkpoint(&self) -> Result<Option<Position>> {
        Ok(self
            .tree
            .get(CHECKPOINT_KEY)?
            .and_then(|v| position_from(&v)))
    }

    fn apply(&mut self, events: &Batch, more: bool) -> Result<Option<Position>> {
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let mut staging = match self.pending.take() {
            Some((staging, _)) => staging,
            None => Staging::new(&self.tree, self.empty),
        };
        for event in events.events() {
            if let StreamId::Unit(unit) = event.stream {
                units::apply(&mut staging, V::NAME, unit, &event.event.payload)?;
            }
            self.view.apply(&mut staging, event)?;
        }
        if more && staging.len() + V::extra_keys(&staging.extra) < STAGED_KEYS_MAX {
            self.pending = Some((staging, last.position));
            return Ok(None);
        }
        self.commit(staging, last.position)?;
        Ok(Some(last.position))
    }

    fn serving(&self) -> sled::Tree {
        self.tree.clone()
    }

    fn close(&mut self) -> Result<()> {
        match self.pending.take() {
            Some((staging, last)) => self.commit(staging, last),
            None => Ok(()),
        }
    }
}

impl<V: SledView> SledTarget<V> {
    /// Settles the view's own values into `staging` and commits it with
    /// `last` as the checkpoint.
    fn commit(&mut self, mut staging: Staging<V::Extra>, last: Position) -> Result<()> {
        self.view.settle(&mut staging)?;
        staging.commit(last)?;
        self.empty = false;
        Ok(())
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
        if tree.get(CHECKPOINT_KEY)?.is_none() && !tree.is_empty() {
            // A first commit cut short (written key by key, the checkpoint
            // last): none of it counts, and it is replayed from the start.
            tracing::warn!(
                view = V::NAME,
                "clearing a view whose first commit did not finish"
            );
            tree.clear()?;
        }
        Ok(SledTarget {
            empty: tree.is_empty(),
            tree,
            view: self.view.clone(),
            pending: None,
        })
    }

    fn discard(&self, version: u32, generation: u64) -> Result<()> {
        self.db.drop_tree(tree_name(V::NAME, version, generation))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cases::CasesView;
    use crate::feed::tests::filled;
    use crate::feed::Feed;
    use crate::figures::FiguresView;

    fn contents(tree: &sled::Tree) -> Vec<(sled::IVec, sled::IVec)> {
        tree.iter().map(Result::unwrap).collect()
    }

    /// Applies the log in batches of `step`, staging them together while
    /// `stage` says so; returns what each call committed.
    fn run<V: SledView>(
        target: &mut SledTarget<V>,
        feed: &Feed,
        head: u64,
        step: u64,
        stage: impl Fn(u64) -> bool,
    ) -> Vec<Option<Position>> {
        let mut committed = Vec::new();
        let mut from = 0;
        while from < head {
            let batch = feed.read(from, step as usize).unwrap();
            from += batch.len() as u64;
            committed.push(target.apply(&batch, from < head && stage(from)).unwrap());
        }
        committed
    }

    async fn staged_and_committed_views_agree<V: SledView>(view: fn() -> V) {
        let (dir, log) = filled(3_000).await;
        let head = log.len();
        let feed = Feed::new(log);
        let db = sled::open(dir.path().join("views")).unwrap();
        let one_by_one = SledFactory::new(db.clone(), view());
        let staged = SledFactory::new(db.clone(), view());
        let mut a = one_by_one.open(1, 1).unwrap();
        let mut b = staged.open(1, 2).unwrap();

        let each = run(&mut a, &feed, head, 400, |_| false);
        assert!(each.iter().all(Option::is_some), "every batch committed");
        // Staged: the first half in one staging (committed key by key to
        // the empty tree), the second half batch by batch onto a tree with
        // a checkpoint.
        let together = run(&mut b, &feed, head, 400, |from| from < head / 2);
        assert!(together[0].is_none(), "a staged batch is not committed");
        assert_eq!(together.last(), Some(&Some(head - 1)));
        assert_eq!(b.checkpoint().unwrap(), Some(head - 1));
        assert_eq!(contents(&a.tree), contents(&b.tree));
    }

    #[tokio::test]
    async fn cases_staged_over_many_batches_equal_cases_committed_batch_by_batch() {
        staged_and_committed_views_agree(|| CasesView).await;
    }

    #[tokio::test]
    async fn figures_staged_over_many_batches_equal_figures_committed_batch_by_batch() {
        staged_and_committed_views_agree(|| FiguresView {
            policy: casebook_domain::Policy::default(),
        })
        .await;
    }

    #[tokio::test]
    async fn a_staging_still_open_at_shutdown_is_committed_by_close() {
        let (dir, log) = filled(1_000).await;
        let head = log.len();
        let feed = Feed::new(log);
        let db = sled::open(dir.path().join("views")).unwrap();
        let factory = SledFactory::new(db, CasesView);
        let mut target = factory.open(1, 1).unwrap();
        let batch = feed.read(0, usize::MAX).unwrap();
        assert_eq!(target.apply(&batch, true).unwrap(), None);
        assert_eq!(target.checkpoint().unwrap(), None);
        target.close().unwrap();
        assert_eq!(target.checkpoint().unwrap(), Some(head - 1));
    }

    #[test]
    fn a_tree_holding_keys_without_a_checkpoint_is_cleared_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let factory = SledFactory::new(db.clone(), CasesView);
        // What a first commit cut short after some of its keys leaves.
        let tree = db.open_tree(tree_name(CasesView::NAME, 1, 1)).unwrap();
        tree.insert(b"c-partial", b"{}".to_vec()).unwrap();
        let target = factory.open(1, 1).unwrap();
        assert!(target.tree.is_empty());
        assert_eq!(target.checkpoint().unwrap(), None);
        // A tree with its checkpoint is left as it is.
        let kept = db.open_tree(tree_name(CasesView::NAME, 1, 2)).unwrap();
        kept.insert(b"c-row", b"{}".to_vec()).unwrap();
        kept.insert(CHECKPOINT_KEY, &7_u64.to_be_bytes()).unwrap();
        let target = factory.open(1, 2).unwrap();
        assert_eq!(target.tree.len(), 2);
    }
}
