//! The projection workers: each tails the log from its checkpoint through
//! the shared [`Feed`] (which decodes each record once for every view) and
//! applies events in batches to its target: up to [`BATCH_EVENTS_MAX`] at
//! a time while it catches up, what has arrived when it is live.
//!
//! A [`Slot`] is one view as the queries see it: the storage that serves,
//! the number of events it has applied, and its health. A worker writes to
//! one *generation* of the view's storage. A rebuild (asked for, or because
//! the view's code version changed) starts a second worker on a new
//! generation from position 0 while the old one keeps serving; once the new
//! one has caught up with the head it takes over (`promote`): the registry
//! in the `meta` tree names it, queries switch to it, the old worker stops
//! and the old storage is dropped.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use casebook_log::{EventStore, Position, SledLog};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::decode::DecodeFailure;
use crate::error::{ProjectionError, Result};
use crate::feed::{Batch, Feed};
use crate::staging::Source;

/// Most events applied in one batch: large enough that a rebuild pays one
/// commit (one encoding of each row it touches, however many events touch
/// it) per few weeks of history, small enough that a batch's staged
/// writes stay some tens of megabytes.
pub const BATCH_EVENTS_MAX: usize = 65_536;

/// Most events a worker reads on its own task instead of a blocking thread:
/// live traffic, where the hop to another thread would be most of the lag.
const INLINE_READ_EVENTS_MAX: u64 = 256;

/// Least time between two live batches of a busy worker (see
/// [`space_live_batches`]).
const LIVE_BATCH_SPACING: Duration = Duration::from_millis(4);

/// How long a worker waits before retrying after the log said it is
/// unavailable for a moment; a damaged log stops the worker instead.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Where one generation of a view lives, and how it applies a batch.
pub trait Target: Send + 'static {
    /// What queries read: a published view state, a search reader.
    type Serving: Clone + Send + Sync + 'static;

    /// The last position applied, if any.
    fn checkpoint(&self) -> Result<Option<Position>>;

    /// Applies the events. If `more` (the worker is catching up and has
    /// more events right behind these), the target may keep them staged
    /// and commit them with the next ones. Returns the checkpoint it made
    /// durable, with every event up to it, atomically, if it did: only
    /// then do queries see those events.
    fn apply(&mut self, events: &Batch, more: bool) -> Result<Option<Position>>;

    /// A handle for queries.
    fn serving(&self) -> Self::Serving;

    /// Makes durable what `apply` kept only in memory or staged (on a
    /// clean shutdown); the default has nothing to do.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Opens and drops generations of one view's storage.
pub trait Factory<T: Target>: Send + Sync + 'static {
    /// Opens (creating if needed) one generation.
    fn open(&self, version: u32, generation: u64) -> Result<T>;

    /// Removes one generation's storage for good.
    fn discard(&self, version: u32, generation: u64) -> Result<()>;
}

/// How a view is doing, for the health endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Health {
    /// Applying events as they come.
    Running,
    /// A new generation is being built while the current one serves.
    Rebuilding {
        /// Events the new generation has applied so far.
        applied: u64,
    },
    /// Stopped on an event it could not apply. Never skipped: fix and rebuild.
    Failed {
        /// The event's position.
        position: Position,
        /// The event's type.
        event_type: String,
        /// Why.
        reason: String,
    },
}

/// The record of which generation of each view serves, in the `meta` tree.
#[derive(Debug, Clone)]
pub struct Registry {
    tree: sled::Tree,
}

/// A view's serving generation, as the registry stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Active {
    /// The code version that built it.
    pub version: u32,
    /// Its generation (grows by one per rebuild).
    pub generation: u64,
}

impl Registry {
    /// The registry in `db`.
    pub fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            tree: db.open_tree("meta")?,
        })
    }

    /// The serving generation of `name`, if any.
    pub fn active(&self, name: &str) -> Result<Option<Active>> {
        self.tree.read(REGISTRY, &active_key(name))
    }

    /// Makes `active` the serving generation of `name`, durably.
    pub fn set_active(&self, name: &str, active: Active) -> Result<()> {
        self.tree
            .insert(active_key(name), serde_json::to_vec(&active)?)?;
        self.tree.flush()?;
        Ok(())
    }
}

fn active_key(name: &str) -> Vec<u8> {
    format!("active/{name}").into_bytes()
}

/// The registry's name in errors.
const REGISTRY: &str = "meta";

/// One view as queries and `wait_for` see it.
#[derive(Debug)]
pub struct Slot<S> {
    /// The view's name.
    pub name: &'static str,
    /// The version of the code that builds it now.
    pub version: u32,
    /// What queries read; replaced when a rebuilt generation takes over.
    serving: RwLock<S>,
    /// Events the serving generation has applied (its checkpoint + 1).
    applied: watch::Sender<u64>,
    /// The serving generation; a worker of another generation that is not
    /// building stops when it changes.
    generation: watch::Sender<u64>,
    health: Mutex<Health>,
    /// A rebuild in progress, so that a second request does not start another.
    building: Mutex<Option<u64>>,
}

impl<S: Clone> Slot<S> {
    /// A slot serving `serving`, which has applied `applied` events.
    pub fn new(
        name: &'static str,
        version: u32,
        serving: S,
        applied: u64,
        generation: u64,
    ) -> Self {
        Self {
            name,
            version,
            serving: RwLock::new(serving),
            applied: watch::Sender::new(applied),
            generation: watch::Sender::new(generation),
            health: Mutex::new(Health::Running),
            building: Mutex::new(None),
        }
    }

    /// What queries read now.
    pub fn serving(&self) -> S {
        match self.serving.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A way to wait for `applied` to grow.
    pub fn watch_applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The view's health.
    pub fn health(&self) -> Health {
        match self.health.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_health(&self, health: Health) {
        match self.health.lock() {
            Ok(mut guard) => *guard = health,
            Err(poisoned) => *poisoned.into_inner() = health,
        }
    }

    fn set_building(&self, generation: Option<u64>) -> bool {
        let mut guard = match self.building.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if generation.is_some() && guard.is_some() {
            return false;
        }
        *guard = generation;
        true
    }

    /// The serving generation.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }
}

/// Everything a worker needs besides its target.
pub struct WorkerSpec<T: Target> {
    /// The log it tails.
    pub log: SledLog,
    /// Reads and decodes the log once for every view.
    pub feed: Arc<Feed>,
    /// The view it serves.
    pub slot: Arc<Slot<T::Serving>>,
    /// Opens and discards generations.
    pub factory: Arc<dyn Factory<T>>,
    /// Records which generation serves.
    pub registry: Registry,
    /// Stops every worker.
    pub shutdown: watch::Receiver<bool>,
}

impl<T: Target> Clone for WorkerSpec<T> {
    fn clone(&self) -> Self {
        Self {
            log: self.log.clone(),
            feed: self.feed.clone(),
            slot: self.slot.clone(),
            factory: self.factory.clone(),
            registry: self.registry.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<T: Target> std::fmt::Debug for WorkerSpec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSpec")
            .field("view", &self.slot.name)
            .finish()
    }
}

/// What a worker does when it has caught up with the head.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// It serves already.
    Serving {
        /// Its generation.
        generation: u64,
    },
    /// It builds `generation`; when caught up it takes over from
    /// `replaces` (whose storage it drops, since no worker may own it).
    Building {
        /// Its generation.
        generation: u64,
        /// The generation it replaces.
        replaces: Active,
    },
}

/// Starts a worker on `target` in the background.
pub fn spawn<T: Target>(spec: WorkerSpec<T>, target: T, role: Role) -> tokio::task::JoinHandle<()> {
    if let Role::Building { generation, .. } = role {
        spec.slot.set_building(Some(generation));
        spec.slot.set_health(Health::Rebuilding { applied: 0 });
    }
    tokio::spawn(async move {
        let name = spec.slot.name;
        if let Err(err) = run(spec.clone(), target, role).await {
            tracing::error!(view = name, error = %err, "projection worker stopped");
        }
    })
}

/// Starts a rebuild of `slot` into a new generation, unless one runs
/// (`None`); the handle lets a shutdown wait for its worker.
pub fn start_rebuild<T: Target>(
    spec: WorkerSpec<T>,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let current = Active {
        version: spec.slot.version,
        generation: spec.slot.generation(),
    };
    let generation = current.generation + 1;
    if !spec.slot.set_building(Some(generation)) {
        return Ok(None);
    }
    spec.slot.set_building(None);
    spec.factory.discard(spec.slot.version, generation)?;
    let target = spec.factory.open(spec.slot.version, generation)?;
    let handle = spawn(
        spec,
        target,
        Role::Building {
            generation,
            replaces: current,
        },
    );
    Ok(Some(handle))
}

async fn run<T: Target>(spec: WorkerSpec<T>, mut target: T, mut role: Role) -> Result<()> {
    let checkpoint = target.checkpoint()?;
    let mut durable = spec.log.durable_len();
    let mut shutdown = spec.shutdown.clone();
    let mut generation = spec.slot.generation.subscribe();
    // Events committed (queries see them), and the next position to read:
    // beyond `applied` while a catch-up keeps events staged.
    let mut applied = checkpoint.map_or(0, |p| p + 1);
    let mut next = applied;
    // When the last batch ended, if the worker has not waited for new
    // events since: it is busy.
    let mut busy_since_batch: Option<tokio::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            return close_blocking(target).await;
        }
        if retired(role, *generation.borrow()) {
            drop(target);
            discard_retired(&spec, role);
            return Ok(());
        }
        if let Role::Building {
            generation: building,
            replaces,
        } = role
        {
            if applied >= spec.log.len() {
                if let Err(err) = promote(&spec, &target, building, replaces, applied) {
                    return Err(fail(&spec.slot, applied, "promote", err));
                }
                role = Role::Serving {
                    generation: building,
                };
            }
        }
        // Mark the head as seen before looking at it, so that a commit
        // landing right after the look still wakes the wait below.
        durable.borrow_and_update();
        if next >= spec.log.len() {
            tokio::select! {
                changed = durable.changed() => {
                    if changed.is_err() {
                        tracing::warn!(view = spec.slot.name, "log closed; retrying");
                        tokio::time::sleep(RETRY_DELAY).await;
                    }
                }
                _ = shutdown.changed() => {}
                _ = generation.changed() => {}
            }
            busy_since_batch = None;
            continue;
        }
        space_live_batches(busy_since_batch, spec.log.len() - next).await;
        let batch = match read(&spec.feed, next, spec.log.len()).await {
            Ok(batch) => batch,
            Err(ProjectionError::Log(casebook_log::LogError::Unavailable(reason))) => {
                tracing::warn!(view = spec.slot.name, %reason, "log unavailable; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
            Err(err) => return Err(fail(&spec.slot, applied, "read", err)),
        };
        let failure = batch.failure().cloned();
        if let Some(last_position) = batch.last().map(|e| e.position) {
            next = last_position + 1;
            let more =
                failure.is_none() && spec.log.len().saturating_sub(next) > INLINE_READ_EVENTS_MAX;
            let committed;
            (target, committed) = match apply_blocking(target, batch, more).await {
                Ok(outcome) => outcome,
                // A rebuilt generation took over and dropped this one's
                // storage (the search index) under it: its work is moot,
                // not a failure.
                Err(_) if retired(role, *generation.borrow()) => {
                    discard_retired(&spec, role);
                    return Ok(());
                }
                Err(err) => return Err(fail(&spec.slot, applied, "apply", err)),
            };
            busy_since_batch = Some(tokio::time::Instant::now());
            if let Some(checkpoint) = committed {
                applied = checkpoint + 1;
                publish(&spec, role, applied);
            }
        }
        if let Some(failure) = failure {
            return Err(stop(&spec.slot, failure));
        }
    }
}

/// Before a live batch of a busy worker (one that found events waiting as
/// soon as it finished its last batch), waits until [`LIVE_BATCH_SPACING`]
/// has passed since that batch. Under a steady stream of commands a worker
/// would otherwise apply every event or two as its own batch, and the
/// cost of a batch (a published state, a search segment) would take
/// much of the CPU; the wait lets the events that
/// arrive meanwhile share one batch. A worker that went idle applies the
/// next event at once, so light traffic sees no added lag; one catching up
/// (many events behind) reads on at once, its batches being large anyway.
async fn space_live_batches(busy_since_batch: Option<tokio::time::Instant>, behind: u64) {
    if behind > INLINE_READ_EVENTS_MAX {
        return;
    }
    if let Some(ended) = busy_since_batch {
        tokio::time::sleep_until(ended + LIVE_BATCH_SPACING).await;
    }
}

/// Removes the storage of a worker's generation once a rebuilt one has
/// replaced it and the worker has let go of it (promote's own attempt
/// fails while the worker is still writing into it).
fn discard_retired<T: Target>(spec: &WorkerSpec<T>, role: Role) {
    if let Role::Serving { generation } = role {
        if let Err(err) = spec.factory.discard(spec.slot.version, generation) {
            tracing::warn!(view = spec.slot.name, generation, error = %err, "could not remove a replaced generation");
        }
    }
}

/// Whether a serving worker has been replaced by a rebuilt generation.
fn retired(role: Role, serving: u64) -> bool {
    matches!(role, Role::Serving { generation } if generation != serving)
}

/// The next batch from `from`: read in place when it is a few live events,
/// on a blocking thread when the worker is catching up.
async fn read(feed: &Arc<Feed>, from: Position, head: u64) -> Result<Batch> {
    if head.saturating_sub(from) <= INLINE_READ_EVENTS_MAX {
        return feed.read(from, BATCH_EVENTS_MAX);
    }
    let feed = feed.clone();
    tokio::task::spawn_blocking(move || feed.read(from, BATCH_EVENTS_MAX))
        .await
        .map_err(|e| ProjectionError::Transaction(format!("read task failed: {e}")))?
}

async fn apply_blocking<T: Target>(
    mut target: T,
    events: Batch,
    more: bool,
) -> Result<(T, Option<Position>)> {
    let joined = tokio::task::spawn_blocking(move || {
        let result = target.apply(&events, more);
        (target, result)
    })
    .await
    .map_err(|e| ProjectionError::Transaction(format!("apply task failed: {e}")))?;
    let (target, result) = joined;
    result.map(|committed| (target, committed))
}

/// Closes `target` on a blocking thread: saving a view writes a file.
async fn close_blocking<T: Target>(mut target: T) -> Result<()> {
    tokio::task::spawn_blocking(move || target.close())
        .await
        .map_err(|e| ProjectionError::Transaction(format!("close task failed: {e}")))?
}

fn publish<T: Target>(spec: &WorkerSpec<T>, role: Role, applied: u64) {
    match role {
        // Checked under the channel's lock: a worker that a rebuilt
        // generation replaced must never move `applied` (promote switches
        // the generation before it sets `applied`).
        Role::Serving { generation } => {
            let slot = &spec.slot;
            slot.applied.send_if_modified(|current| {
                let serving = slot.generation() == generation;
                if serving {
                    *current = applied;
                }
                serving
            });
        }
        Role::Building { .. } => spec.slot.set_health(Health::Rebuilding { applied }),
    }
}

fn promote<T: Target>(
    spec: &WorkerSpec<T>,
    target: &T,
    generation: u64,
    replaces: Active,
    applied: u64,
) -> Result<()> {
    let version = spec.slot.version;
    spec.registry.set_active(
        spec.slot.name,
        Active {
            version,
            generation,
        },
    )?;
    match spec.slot.serving.write() {
        Ok(mut guard) => *guard = target.serving(),
        Err(poisoned) => *poisoned.into_inner() = target.serving(),
    }
    spec.slot.generation.send_replace(generation);
    spec.slot.applied.send_replace(applied);
    spec.slot.set_building(None);
    spec.slot.set_health(Health::Running);
    // The replaced generation's worker may still be writing into it (it
    // sees that it retired at its next turn): if it cannot be removed
    // now, that worker removes it once it has let go of it.
    if let Err(err) = spec.factory.discard(replaces.version, replaces.generation) {
        tracing::warn!(view = spec.slot.name, error = %err, "the replaced generation is removed later");
    }
    tracing::info!(
        view = spec.slot.name,
        generation,
        applied,
        "rebuilt view took over"
    );
    Ok(())
}

fn stop(slot: &Slot<impl Clone>, failure: DecodeFailure) -> ProjectionError {
    slot.set_health(Health::Failed {
        position: failure.position,
        event_type: failure.event_type.clone(),
        reason: failure.reason.clone(),
    });
    ProjectionError::Stopped {
        view: slot.name,
        position: failure.position,
        event_type: failure.event_type,
        reason: failure.reason,
    }
}

fn fail(
    slot: &Slot<impl Clone>,
    applied: u64,
    what: &str,
    err: ProjectionError,
) -> ProjectionError {
    stop(
        slot,
        DecodeFailure {
            position: applied,
            event_type: format!("({what})"),
            reason: err.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testkit::{appends, Generator, Shape};
    use std::collections::HashSet;

    /// Generations whose storage is open, and those removed.
    #[derive(Default)]
    struct Disk {
        open: HashSet<u64>,
        discarded: Vec<u64>,
    }

    /// A view that only counts what it applied; its storage cannot be
    /// removed while a target holds it open (as tantivy's files cannot
    /// while its writer still writes them).
    struct CountingTarget {
        generation: u64,
        applied: Option<Position>,
        disk: Arc<Mutex<Disk>>,
    }

    impl Target for CountingTarget {
        type Serving = ();

        fn checkpoint(&self) -> Result<Option<Position>> {
            Ok(self.applied)
        }

        fn apply(&mut self, events: &Batch, _more: bool) -> Result<Option<Position>> {
            self.applied = events.last().map(|e| e.position).or(self.applied);
            Ok(self.applied)
        }

        fn serving(&self) -> Self::Serving {}
    }

    impl Drop for CountingTarget {
        fn drop(&mut self) {
            self.disk.lock().unwrap().open.remove(&self.generation);
        }
    }

    struct CountingFactory {
        disk: Arc<Mutex<Disk>>,
    }

    impl Factory<CountingTarget> for CountingFactory {
        fn open(&self, _version: u32, generation: u64) -> Result<CountingTarget> {
            self.disk.lock().unwrap().open.insert(generation);
            Ok(CountingTarget {
                generation,
                applied: None,
                disk: self.disk.clone(),
            })
        }

        fn discard(&self, _version: u32, generation: u64) -> Result<()> {
            let mut disk = self.disk.lock().unwrap();
            if disk.open.contains(&generation) {
                return Err(ProjectionError::Transaction(format!(
                    "generation {generation} is still being written"
                )));
            }
            disk.discarded.push(generation);
            Ok(())
        }
    }

    async fn append_generated(log: &SledLog, generator: &mut Generator, events: usize) {
        let mut generated = generator.drain();
        generated.extend(generator.events(events));
        for parts in appends(&generated, casebook_log::APPEND_STREAMS_MAX) {
            log.append_multi(parts).await.unwrap();
        }
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rebuilt_generation_serves_on_while_the_one_it_replaced_is_still_held() {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        let mut generator = Generator::new(3, Shape::small());
        append_generated(&log, &mut generator, 300).await;
        let db = sled::open(dir.path().join("views")).unwrap();
        let disk = Arc::new(Mutex::new(Disk::default()));
        let factory = Arc::new(CountingFactory { disk: disk.clone() });
        let (_stop, shutdown) = watch::channel(false);
        let spec = WorkerSpec {
            log: log.clone(),
            feed: Arc::new(Feed::new(log.clone())),
            slot: Arc::new(Slot::new("counting", 1, (), 0, 0)),
            factory: factory.clone(),
            registry: Registry::open(&db).unwrap(),
            shutdown,
        };
        let serving = factory.open(1, 0).unwrap();
        let first = spawn(spec.clone(), serving, Role::Serving { generation: 0 });
        let applied = spec.slot.watch_applied();
        wait_until("the first generation is caught up", || {
            *applied.borrow() == log.len()
        })
        .await;

        // Generation 0's worker holds its target while generation 1 takes
        // over, so removing generation 0 fails at first.
        let rebuild = start_rebuild(spec.clone()).unwrap().unwrap();
        wait_until("the rebuilt generation serves", || {
            spec.slot.generation() == 1
        })
        .await;
        append_generated(&log, &mut generator, 200).await;
        wait_until("the rebuilt generation applies new events", || {
            *applied.borrow() == log.len()
        })
        .await;
        assert_eq!(spec.slot.health(), Health::Running);
        // The replaced worker removed its generation once it let go of it.
        first.await.unwrap();
        // (Generation 1 was cleared once too, before the rebuild began.)
        assert_eq!(disk.lock().unwrap().discarded, vec![1, 0]);
        assert!(
            !rebuild.is_finished(),
            "the rebuilt generation's worker serves on"
        );
        rebuild.abort();
    }
}
