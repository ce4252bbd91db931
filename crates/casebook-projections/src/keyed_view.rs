//! The keyed views (cases, figures, households, members): one ordered map
//! of byte keys per generation, kept in memory and saved to a file now and
//! then.
//!
//! A [`KeyedView`] says how one event changes its keys; [`KeyedTarget`]
//! runs a batch of events through it (after folding unit events into the
//! view's copy of the unit tree, which every keyed view keeps) and writes
//! the batch with its checkpoint to the view's map, which queries read
//! (`view_tree::Published`). A live batch is written in place, under the
//! lock queries take the map with; a large one (a catch-up) is written to
//! a copy that then replaces the map, so that queries never wait for it.
//! While the worker catches up, batches are staged together (up to
//! [`STAGED_KEYS_MAX`] keys) and applied once, so a row many events touch
//! is encoded once.
//!
//! A live worker saves its view (`view_file`) on a thread of its own once
//! [`SAVE_AFTER_EVENTS`] events were applied since the last save (but not
//! sooner than [`SAVE_SPACING_MIN`] after it began), or [`SAVE_AFTER`] has
//! passed with any; and on a clean shutdown. A crash loses only what was
//! applied since the last save, and the worker replays it from the log. A
//! catching-up worker does not save (each save writes the whole view): it
//! saves once it has caught up.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use casebook_domain::StreamId;
use casebook_log::Position;

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::feed::Batch;
use crate::keys::{position_from, CHECKPOINT_KEY};
use crate::staging::{write_changes, Staging};
use crate::units;
use crate::view_file::{self, ViewFiles};
use crate::view_tree::{Map, Published};
use crate::worker::{Factory, Target};

/// One view kept as ordered byte keys.
pub trait KeyedView: Send + Sync + 'static {
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

/// Most keys a catching-up view stages before it commits: some hundreds of
/// MB of decoded rows and index entries at most. Fewer, larger commits
/// encode a row that many events touch fewer times: the rebuild of a
/// million events ran about a fifth faster at 1,000,000 than at 500,000.
pub const STAGED_KEYS_MAX: usize = 1_000_000;

/// Most keys a commit writes in place while queries wait on the lock (a
/// few milliseconds of inserts at most, encoded beforehand; a live batch's
/// take some hundreds of microseconds); a larger commit is written to a
/// copy of the map that then replaces it.
pub const IN_PLACE_KEYS_MAX: usize = 8_192;

/// A live view is saved once this many events were applied since its last
/// save: at most this many are replayed after a crash (about a second),
/// unless they came faster than one save per [`SAVE_SPACING_MIN`].
pub const SAVE_AFTER_EVENTS: u64 = 100_000;

/// A live view that applied anything is saved at least this often.
pub const SAVE_AFTER: Duration = Duration::from_secs(60);

/// A live view starts a save at most this often, however many events it
/// applied: a save writes the whole view (seconds of a core for millions
/// of keys), and every node a commit changes while the save still reads it
/// is copied. Under 13,000 commands/s a save every 100,000 events took
/// about a tenth of the server's CPU and doubled the commands' p99
/// (`docs/PERFORMANCE.md`). Under such a load a crash replays at most
/// about this long's events (a few seconds' work); a view that has just
/// caught up saves once this long has passed since it opened.
pub const SAVE_SPACING_MIN: Duration = Duration::from_secs(30);

/// One generation of a keyed view.
#[derive(Debug)]
pub struct KeyedTarget<V: KeyedView> {
    /// The view's state: written by this worker alone, read by queries.
    published: Published,
    view: Arc<V>,
    /// Events applied but not committed yet (while catching up), and the
    /// position of the last of them.
    pending: Option<(Staging<V::Extra>, Position)>,
    /// Keys the last commit wrote, at most [`IN_PLACE_KEYS_MAX`] (a
    /// catch-up's large commit must not size every live batch after it):
    /// the room a new staging starts with.
    last_commit_keys: usize,
    saver: Saver,
}

/// When and where a generation is saved.
#[derive(Debug)]
struct Saver {
    path: PathBuf,
    /// Events the file holds, or will once the save running now is done.
    saved: u64,
    /// When the last save began (or the generation was opened).
    since: Instant,
    /// The save running now, on its own thread, and the events the file
    /// held before it.
    running: Option<(JoinHandle<Result<()>>, u64)>,
}

impl Saver {
    /// Whether the save running now (if any) is over; a failed one is
    /// logged and its events counted as not saved.
    fn idle(&mut self) -> bool {
        match self.running.take() {
            Some((running, before)) if !running.is_finished() => {
                self.running = Some((running, before));
                false
            }
            Some((done, before)) => {
                if let Err(err) = joined(done) {
                    tracing::warn!(file = %self.path.display(), error = %err, "saving a view failed; will try again");
                    self.saved = before;
                }
                true
            }
            None => true,
        }
    }

    fn due(&self, applied: u64) -> bool {
        let unsaved = applied.saturating_sub(self.saved);
        let elapsed = self.since.elapsed();
        (unsaved >= SAVE_AFTER_EVENTS && elapsed >= SAVE_SPACING_MIN)
            || (unsaved > 0 && elapsed >= SAVE_AFTER)
    }

    /// Starts saving `map` (which has applied `applied` events) on a thread.
    fn start(&mut self, map: Map, applied: u64) -> Result<()> {
        let path = self.path.clone();
        let running = std::thread::Builder::new()
            .name("view-save".into())
            .spawn(move || view_file::save(&path, &map))?;
        self.running = Some((running, self.saved));
        self.saved = applied;
        self.since = Instant::now();
        Ok(())
    }

    /// Waits for the save running now, then saves `map` here if it holds
    /// events the file does not.
    fn finish(&mut self, map: &Map, applied: u64) -> Result<()> {
        if let Some((running, before)) = self.running.take() {
            if joined(running).is_err() {
                self.saved = before;
            }
        }
        if applied > self.saved {
            view_file::save(&self.path, map)?;
            self.saved = applied;
        }
        Ok(())
    }
}

fn joined(running: JoinHandle<Result<()>>) -> Result<()> {
    running
        .join()
        .map_err(|_| ProjectionError::Transaction("a view's save thread panicked".into()))?
}

/// Events a state has applied: its checkpoint + 1, 0 without one.
fn applied(map: &Map) -> u64 {
    map.get(CHECKPOINT_KEY)
        .and_then(|v| position_from(v))
        .map_or(0, |p| p + 1)
}

impl<V: KeyedView> Target for KeyedTarget<V> {
    type Serving = Published;

    fn checkpoint(&self) -> Result<Option<Position>> {
        Ok(applied(&self.published.snapshot()).checked_sub(1))
    }

    fn apply(&mut self, events: &Batch, more: bool) -> Result<Option<Position>> {
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let mut staging = match self.pending.take() {
            Some((staging, _)) => staging,
            None => {
                let state = self.published.tree();
                let room = self.last_commit_keys + self.last_commit_keys / 4;
                Staging::with_capacity(&state, state.is_empty(), room)
            }
        };
        for event in events.events() {
            if let StreamId::Unit(unit) = event.stream {
                units::apply(&mut staging, V::NAME, unit, &event.event.payload)?;
            }
            self.view.apply(&mut staging, event)?;
        }
        if more && staging.len() + V::extra_keys(&staging.extra) < STAGED_KEYS_MAX {
            // Settled batch by batch, so that the view's own values are
            // not all turned into keys at the end of a catch-up, on one
            // core while the other views are done.
            self.view.settle(&mut staging)?;
            self.pending = Some((staging, last.position));
            return Ok(None);
        }
        self.commit(staging, last.position)?;
        if !more {
            self.save_if_due(last.position + 1)?;
        }
        Ok(Some(last.position))
    }

    fn serving(&self) -> Published {
        self.published.clone()
    }

    fn close(&mut self) -> Result<()> {
        if let Some((staging, last)) = self.pending.take() {
            self.commit(staging, last)?;
        }
        let map = self.published.snapshot();
        self.saver.finish(&map, applied(&map))
    }
}

impl<V: KeyedView> KeyedTarget<V> {
    /// Settles the view's own values into `staging` and writes it with
    /// `last` as the checkpoint: queries see all of it at once.
    fn commit(&mut self, mut staging: Staging<V::Extra>, last: Position) -> Result<()> {
        self.view.settle(&mut staging)?;
        self.last_commit_keys = staging.len().min(IN_PLACE_KEYS_MAX);
        if staging.len() <= IN_PLACE_KEYS_MAX {
            // Encoded before the lock is taken: queries wait for the
            // inserts alone.
            let changes = staging.changes().collect::<Result<Vec<_>>>()?;
            self.published
                .change(|map| write_changes(map, changes, last));
        } else {
            let mut map = self.published.snapshot();
            staging.commit(&mut map, last)?;
            self.published.replace(map);
        }
        Ok(())
    }

    fn save_if_due(&mut self, applied: u64) -> Result<()> {
        if self.saver.idle() && self.saver.due(applied) {
            self.saver.start(self.published.snapshot(), applied)?;
        }
        Ok(())
    }
}

/// Opens generations of a keyed view: in memory, loaded from their files.
#[derive(Debug)]
pub struct KeyedFactory<V> {
    files: ViewFiles,
    view: Arc<V>,
}

impl<V: KeyedView> KeyedFactory<V> {
    /// A factory for `view`, saving to `files`.
    pub fn new(files: ViewFiles, view: V) -> Self {
        Self {
            files,
            view: Arc::new(view),
        }
    }
}

impl<V: KeyedView> Factory<KeyedTarget<V>> for KeyedFactory<V> {
    fn open(&self, version: u32, generation: u64) -> Result<KeyedTarget<V>> {
        let path = self.files.path(V::NAME, version, generation);
        let map = match view_file::load(V::NAME, &path) {
            Ok(map) => map.unwrap_or_default(),
            Err(err @ ProjectionError::Corrupt { .. }) => {
                // The log holds everything the file did: build it again.
                tracing::warn!(view = V::NAME, error = %err, "a saved view cannot be used; building it again from the log");
                view_file::remove(&path)?;
                Map::new()
            }
            Err(err) => return Err(err),
        };
        let saved = applied(&map);
        Ok(KeyedTarget {
            published: Published::new(map),
            view: self.view.clone(),
            pending: None,
            last_commit_keys: 0,
            saver: Saver {
                path,
                saved,
                since: Instant::now(),
                running: None,
            },
        })
    }

    fn discard(&self, version: u32, generation: u64) -> Result<()> {
        view_file::remove(&self.files.path(V::NAME, version, generation))
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

    fn contents<V: KeyedView>(target: &KeyedTarget<V>) -> Vec<(Vec<u8>, Vec<u8>)> {
        target
            .serving()
            .tree()
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    /// Applies the log in batches of `step`, staging them together while
    /// `stage` says so; returns what each call committed.
    fn run<V: KeyedView>(
        target: &mut KeyedTarget<V>,
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

    async fn staged_and_committed_views_agree<V: KeyedView>(view: fn() -> V) {
        let (dir, log) = filled(3_000).await;
        let head = log.len();
        let feed = Feed::new(log);
        let files = ViewFiles::new(dir.path().join("views"));
        let one_by_one = KeyedFactory::new(files.clone(), view());
        let staged = KeyedFactory::new(files, view());
        let mut a = one_by_one.open(1, 1).unwrap();
        let mut b = staged.open(1, 2).unwrap();

        let each = run(&mut a, &feed, head, 400, |_| false);
        assert!(each.iter().all(Option::is_some), "every batch committed");
        // Staged: the first half in one staging, the second half batch by batch.
        let together = run(&mut b, &feed, head, 400, |from| from < head / 2);
        assert!(together[0].is_none(), "a staged batch is not committed");
        assert_eq!(together.last(), Some(&Some(head - 1)));
        assert_eq!(b.checkpoint().unwrap(), Some(head - 1));
        assert_eq!(contents(&a), contents(&b));
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
    async fn commits_in_place_and_through_a_copy_both_leave_a_query_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let factory = KeyedFactory::new(ViewFiles::new(dir.path().join("views")), CasesView);
        let mut target = factory.open(1, 1).unwrap();
        let key = |i: usize| format!("k{i:06}").into_bytes();
        let most = IN_PLACE_KEYS_MAX + 10;
        // Through a copy, in place, in place at the limit.
        let mut previous: Option<u64> = None;
        for (keys, last) in [(most, 5u64), (10, 6), (IN_PLACE_KEYS_MAX, 7)] {
            let before = target.serving().tree();
            let mut staging = Staging::new(&before, before.is_empty());
            for i in 0..keys {
                staging.put_raw(key(i), last.to_be_bytes().to_vec());
            }
            target.commit(staging, last).unwrap();
            let after = target.serving().tree();
            assert_eq!(target.checkpoint().unwrap(), Some(last));
            assert_eq!(
                after.iter().count(),
                most + 1,
                "the keys and the checkpoint"
            );
            for i in [0, keys - 1] {
                assert_eq!(after.get(key(i)).unwrap(), last.to_be_bytes());
            }
            // Every commit writes key 0: a query taken before sees the
            // commit before it.
            let seen = before.get(key(0)).map(|v| v.to_vec());
            assert_eq!(seen, previous.map(|p: u64| p.to_be_bytes().to_vec()));
            previous = Some(last);
        }
    }

    #[tokio::test]
    async fn a_staging_still_open_at_shutdown_is_committed_and_saved_by_close() {
        let (dir, log) = filled(1_000).await;
        let head = log.len();
        let feed = Feed::new(log);
        let factory = KeyedFactory::new(ViewFiles::new(dir.path().join("views")), CasesView);
        let mut target = factory.open(1, 1).unwrap();
        let batch = feed.read(0, usize::MAX).unwrap();
        assert_eq!(target.apply(&batch, true).unwrap(), None);
        assert_eq!(target.checkpoint().unwrap(), None);
        assert!(
            target.serving().tree().iter().next().is_none(),
            "nothing published yet"
        );
        target.close().unwrap();
        assert_eq!(target.checkpoint().unwrap(), Some(head - 1));
        let reopened = factory.open(1, 1).unwrap();
        assert_eq!(reopened.checkpoint().unwrap(), Some(head - 1));
        assert_eq!(contents(&reopened), contents(&target));
    }

    #[tokio::test]
    async fn a_save_that_fails_leaves_its_events_unsaved_and_is_tried_again() {
        let (dir, log) = filled(600).await;
        let feed = Feed::new(log);
        let factory = KeyedFactory::new(ViewFiles::new(dir.path().join("views")), CasesView);
        let mut target = factory.open(1, 1).unwrap();
        // The file's directory cannot be made: a file stands in its place.
        let blocked = dir.path().join("not-a-directory");
        std::fs::write(&blocked, b"").unwrap();
        target.saver.path = blocked.join("cases.v1.g1.view");
        target.saver.since -= SAVE_AFTER;
        assert!(target
            .apply(&feed.read(0, 300).unwrap(), false)
            .unwrap()
            .is_some());
        let (running, before) = target.saver.running.take().unwrap();
        assert_eq!(before, 0);
        let failed = running.join().unwrap();
        assert!(failed.is_err(), "the save cannot have worked");
        // Put it back as if still running, and let the next batch see it done.
        let done = std::thread::spawn(move || failed);
        while !done.is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        target.saver.running = Some((done, before));
        assert!(target.saver.idle());
        assert_eq!(target.saver.saved, 0, "nothing was saved");
        // Tried again at the next interval, not at once on a failing disk.
        assert!(!target.saver.due(300));
        target.saver.since -= SAVE_AFTER;
        assert!(target.saver.due(300), "and then it is due again");
        assert!(
            target.close().is_err(),
            "a shutdown says the view was not saved"
        );
    }

    #[test]
    fn many_events_start_a_save_only_once_the_last_began_long_enough_ago() {
        let mut saver = Saver {
            path: PathBuf::from("unused.view"),
            saved: 1_000,
            since: Instant::now(),
            running: None,
        };
        let many = 1_000 + SAVE_AFTER_EVENTS;
        assert!(!saver.due(1_000), "nothing new");
        assert!(!saver.due(many), "a save began a moment ago");
        saver.since -= SAVE_SPACING_MIN;
        assert!(saver.due(many), "enough events, and the spacing has passed");
        assert!(!saver.due(many - 1), "too few events before SAVE_AFTER");
        saver.since -= SAVE_AFTER - SAVE_SPACING_MIN;
        assert!(saver.due(1_001), "any event once SAVE_AFTER has passed");
        assert!(!saver.due(1_000), "but not with nothing new");
    }

    #[tokio::test]
    async fn a_published_state_is_saved_once_due_and_a_damaged_file_is_built_again() {
        let (dir, log) = filled(1_000).await;
        let head = log.len();
        let feed = Feed::new(log);
        let files = ViewFiles::new(dir.path().join("views"));
        let factory = KeyedFactory::new(files.clone(), CasesView);
        let mut target = factory.open(1, 1).unwrap();
        // Less than SAVE_AFTER_EVENTS and not SAVE_AFTER old: not saved yet.
        let first = feed.read(0, 500).unwrap();
        assert_eq!(target.apply(&first, false).unwrap(), Some(499));
        assert!(target.saver.running.is_none());
        assert_eq!(factory.open(1, 1).unwrap().checkpoint().unwrap(), None);
        // Once due, the next live batch starts a save on its own thread.
        target.saver.since -= SAVE_AFTER;
        let rest = feed.read(500, usize::MAX).unwrap();
        assert_eq!(target.apply(&rest, false).unwrap(), Some(head - 1));
        joined(target.saver.running.take().unwrap().0).unwrap();
        let reopened = factory.open(1, 1).unwrap();
        assert_eq!(reopened.checkpoint().unwrap(), Some(head - 1));
        assert_eq!(contents(&reopened), contents(&target));
        // A damaged file is dropped: the generation opens empty.
        let path = files.path(CasesView::NAME, 1, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let rebuilt = factory.open(1, 1).unwrap();
        assert_eq!(rebuilt.checkpoint().unwrap(), None);
        assert!(!path.exists());
    }
}
