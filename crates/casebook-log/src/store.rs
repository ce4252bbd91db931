//! [`SledLog`]: the log in its records file, indexed in an embedded sled
//! database.
//!
//! Opening brings the indexes up to the records file ([`crate::recovery`]),
//! checks the tail of the log and its indexes, and refuses to start on
//! corruption. Appends go to the group-commit writer ([`crate::writer`]).
//! Reads find records through sled's indexes, read them from the records
//! file, stop at the durable head, and re-check the hash of every record
//! they return.

use crate::check;
use crate::error::{LogError, Result};
use crate::event_store::{Direction, EventStore, VerifyReport};
use crate::heads::StreamHeads;
use crate::keys;
use crate::known::Known;
use crate::reader::{AllIter, Reader};
use crate::record::{
    validate_stream_name, Position, PreparedEvent, RecordedEvent, StreamAppend, GENESIS_HASH,
};
use crate::records::RecordsFile;
use crate::recovery::{self, Recovered, RecoveryReport};
use crate::staging::{index_groups, FinishedGroup, Pending, Staging};
use crate::writer::{self, AppendOutcome, AppendRequest, PreparedPart, WriterState};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, watch};

/// Most streams one append may cover.
pub const APPEND_STREAMS_MAX: usize = 64;
/// Most events one append may carry.
pub const APPEND_EVENTS_MAX: usize = 1000;

/// Settings for opening a log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// sled's page cache size in bytes (the log's trees and the views'
    /// share it): an upper bound, used as data is read.
    pub cache_capacity_bytes: u64,
    /// When the syncer makes applied groups durable.
    pub durability: Durability,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            cache_capacity_bytes: 1024 * 1024 * 1024,
            durability: Durability::Immediate,
        }
    }
}

/// When decided groups are written and fsynced. In both modes an append is
/// answered only after its events are durable; the modes trade the latency
/// of one append against the number of fsyncs under a steady stream of
/// appends (a bulk load, an import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Sync as soon as a group is decided (the default): the lowest latency;
    /// concurrent appends still share a sync (group commit).
    #[default]
    Immediate,
    /// Wait up to this long after the first group decided since the last
    /// sync, gathering the groups that follow, then sync them all at once:
    /// fewer fsyncs, each append waits up to the window longer.
    Batched(std::time::Duration),
}

/// Counters of the log's work since it opened, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Durable events in the log (its length).
    pub durable_events: u64,
    /// Events appended (new, not repeats) since the log opened.
    pub appended_events: u64,
    /// Group commits that wrote something since the log opened.
    pub groups: u64,
    /// Write-and-fsync rounds of the records file since the log opened (one
    /// may cover several groups).
    pub syncs: u64,
    /// Appends answered (of any outcome) since the log opened.
    pub appends_answered: u64,
    /// Streams in the log (indexed; each holds its head in memory).
    pub streams: u64,
    /// What opening the log did to bring its index up to its records.
    pub recovery: RecoveryReport,
}

/// The counters behind [`LogStats`], updated by the pipeline threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub appended_events: AtomicU64,
    pub groups: AtomicU64,
    pub syncs: AtomicU64,
    pub appends_answered: AtomicU64,
}

/// State shared by the handle, the writer thread and the readers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub db: sled::Db,
    /// The indexes ([`crate::keys`]).
    pub tree: sled::Tree,
    /// The records ([`crate::records`]).
    pub records: Arc<RecordsFile>,
    /// Every stream's head ([`crate::heads`]).
    pub heads: StreamHeads,
    /// What opening the log did.
    recovery: RecoveryReport,
    /// Number of durable events; readers never look at positions past it.
    durable_len: AtomicU64,
    /// The same number, for those who wait for it to grow.
    durable_len_watch: watch::Sender<u64>,
    /// The sequence number of the last group the syncer wrote into the
    /// records file (not yet synced); the applier indexes no group before.
    written_sequence: AtomicU64,
    /// The sequence number of the last group the applier wrote into sled;
    /// the syncer answers a group's callers only once it is there.
    applied_sequence: AtomicU64,
    /// What the pipeline has done, for [`SledLog::stats`].
    pub counters: Counters,
    /// Set once a write or sync fails: from then on appends are refused,
    /// because what is on disk is no longer known until the log is reopened.
    failure: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn publish_durable_len(&self, len: u64) {
        self.durable_len.store(len, Ordering::Release);
        self.durable_len_watch.send_replace(len);
    }

    pub(crate) fn durable_len(&self) -> u64 {
        self.durable_len.load(Ordering::Acquire)
    }

    pub(crate) fn publish_written(&self, sequence: u64) {
        self.written_sequence.store(sequence, Ordering::Release);
    }

    pub(crate) fn written_sequence(&self) -> u64 {
        self.written_sequence.load(Ordering::Acquire)
    }

    pub(crate) fn publish_applied(&self, sequence: u64) {
        self.applied_sequence.store(sequence, Ordering::Release);
    }

    pub(crate) fn applied_sequence(&self) -> u64 {
        self.applied_sequence.load(Ordering::Acquire)
    }

    pub(crate) fn fail(&self, reason: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(reason);
        }
    }

    pub(crate) fn failure(&self) -> Option<String> {
        match self.failure.lock() {
            Ok(failure) => failure.clone(),
            Err(_) => Some("the log's failure flag is poisoned".into()),
        }
    }
}

/// The event log on sled. Cheap to clone; all clones share one writer.
#[derive(Debug, Clone)]
pub struct SledLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    path: PathBuf,
    /// Taken on drop, which tells the writer to finish.
    requests: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut requests) = self.requests.lock() {
            requests.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("log writer thread panicked");
            }
        }
        // The records are durable already; writing the indexes out now
        // spares the next open from indexing them again.
        if let Err(err) = self.shared.db.flush() {
            tracing::warn!(error = %err, "writing the log's indexes out on close failed");
        }
    }
}

/// How long [`open_sled_when_released`] waits for a just-closed store's lock.
const REOPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens sled, waiting (bounded) while the directory's lock is still held
/// by a handle of this process that was just dropped: sled 0.34 releases
/// its file lock from background I/O tasks a moment after the last handle
/// goes, so an immediate reopen (a restart, a test's reopen) can find it
/// still taken. A lock held by another process stays held, and the error
/// is returned once the wait is over. Public for the other sled stores
/// that are reopened the same way (the audit's Merkle tree).
pub fn open_sled_when_released(config: &sled::Config) -> sled::Result<sled::Db> {
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            Err(sled::Error::Io(err))
                if err.to_string().contains("could not acquire lock")
                    && started.elapsed() < REOPEN_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened,
        }
    }
}

impl SledLog {
    /// Opens (or creates) the log in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<SledLog> {
        SledLog::open_with(dir, LogOptions::default())
    }

    /// Opens (or creates) the log in `dir`, checking its tail first.
    pub fn open_with(dir: impl AsRef<Path>, options: LogOptions) -> Result<SledLog> {
        let path = dir.as_ref().to_path_buf();
        let config = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_capacity_bytes)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput);
        let db = open_sled_when_released(&config)?;
        let tree = db.open_tree(b"log")?;
        let records = Arc::new(RecordsFile::open(&path)?);
        let Recovered {
            state,
            known,
            heads,
            report,
        } = recovery::recover(&tree, &records)?;
        check::check_tail(&tree, &records, &heads)?;
        db.flush()?;
        let (durable_len_watch, _) = watch::channel(state.next_position);
        let shared = Arc::new(Shared {
            db,
            tree,
            records,
            heads,
            recovery: report,
            durable_len: AtomicU64::new(state.next_position),
            durable_len_watch,
            written_sequence: AtomicU64::new(0),
            applied_sequence: AtomicU64::new(0),
            counters: Counters::default(),
            failure: Mutex::new(None),
        });
        let (sender, receiver) = mpsc::channel(writer::QUEUE_APPENDS_MAX);
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("casebook-log-writer".into())
            .spawn(move || {
                writer::run(writer_shared, options.durability, state, known, receiver);
            })?;
        tracing::info!(path = %path.display(), events = state.next_position, "event log opened");
        Ok(SledLog {
            inner: Arc::new(Inner {
                shared,
                path,
                requests: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Restores a log, record by record exactly as exported, into `dir`,
    /// which must not exist or be empty. Each record must continue the log
    /// (see `staging::Staging::restore`); on any fault nothing is left
    /// behind. Returns the number of records restored. The log is durable
    /// when this returns; open it with [`SledLog::open`].
    pub fn restore(
        dir: impl AsRef<Path>,
        records: impl IntoIterator<Item = Result<RecordedEvent>>,
    ) -> Result<u64> {
        let dir = dir.as_ref();
        let occupied = std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if occupied {
            return Err(LogError::Invalid(format!(
                "{} is not empty; a restore needs an empty directory",
                dir.display()
            )));
        }
        let restored = restore_into(dir, records);
        if restored.is_err() {
            // Nothing half-restored is left to be opened by mistake.
            let _ = std::fs::remove_dir_all(dir);
        }
        restored
    }

    /// The directory the log lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Appends events to one stream, all or none, if the stream is at
    /// `expected`. Answers only once the events are durable.
    pub async fn append(
        &self,
        stream: &str,
        expected: crate::ExpectedRevision,
        events: Vec<crate::NewEvent>,
    ) -> Result<AppendOutcome> {
        let part = StreamAppend {
            stream: stream.to_owned(),
            expected,
            events,
        };
        self.append_multi(vec![part]).await
    }

    /// Appends to several streams at once, each with its own expected
    /// revision: all of it or none of it. Re-sending events whose ids are
    /// already in the log (with the same content) writes nothing and answers
    /// [`crate::AppendStatus::AlreadyAppended`] with their original places.
    pub async fn append_multi(&self, parts: Vec<StreamAppend>) -> Result<AppendOutcome> {
        let parts = prepare(parts)?;
        let sender = self
            .inner
            .requests
            .lock()
            .ok()
            .and_then(|requests| requests.clone())
            .ok_or_else(|| LogError::Unavailable("the log is closed".into()))?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(AppendRequest { parts, reply })
            .await
            .map_err(|_| LogError::Unavailable("the log writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LogError::Unavailable("the log writer has stopped".into()))?
    }

    /// The number of durable events; the next event gets this position.
    pub fn len(&self) -> u64 {
        self.shared().durable_len()
    }

    /// What the log has done since it opened.
    pub fn stats(&self) -> LogStats {
        let counters = &self.shared().counters;
        LogStats {
            durable_events: self.len(),
            appended_events: counters.appended_events.load(Ordering::Relaxed),
            groups: counters.groups.load(Ordering::Relaxed),
            syncs: counters.syncs.load(Ordering::Relaxed),
            appends_answered: counters.appends_answered.load(Ordering::Relaxed),
            streams: self.shared().heads.len() as u64,
            recovery: self.shared().recovery,
        }
    }

    /// Whether the log has no durable events yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The log as far as it is durable right now.
    fn reader(&self) -> Reader<'_> {
        Reader {
            tree: &self.shared().tree,
            records: &self.shared().records,
            heads: &self.shared().heads,
            len: self.len(),
        }
    }

    /// Every durable record from `from` (inclusive) onwards, lazily, each
    /// checked against its hash and its predecessor's. Stops at the durable
    /// head as it was when the iterator was made, or after the first fault.
    pub fn iter_all(&self, from: Position) -> AllIter {
        self.iter_range(from, u64::MAX)
    }

    /// Like [`SledLog::iter_all`], but also stops before `end`, so that a
    /// reader of a bounded range reads (and checks) nothing past it.
    pub fn iter_range(&self, from: Position, end: Position) -> AllIter {
        let reader = self.reader();
        let end = end.min(reader.len);
        match reader.walk(from, end) {
            Ok(iter) => iter,
            // The predecessor of `from` is damaged: walk from it, so that the
            // first item is the error naming it.
            Err(_) => reader
                .walk(from.saturating_sub(1), end)
                .unwrap_or_else(|_| AllIter::empty(reader.tree, reader.records)),
        }
    }

    /// Every durable event of the given categories at positions
    /// `from..end`, in position order, each checked against its hash: read
    /// through the category indexes, so the events of other categories
    /// between them are not read at all. Blocks; keep `end - from` bounded
    /// (what it returns is held in memory).
    pub fn read_categories_range(
        &self,
        categories: &[&str],
        from: Position,
        end: Position,
    ) -> Result<Vec<RecordedEvent>> {
        for category in categories {
            check_read_name(category)?;
        }
        self.reader().categories_range(categories, from, end)
    }

    /// One record by position, checked against its hash.
    pub fn get(&self, position: Position) -> Result<Option<RecordedEvent>> {
        self.reader().record(position)
    }

    /// Re-checks `[from, to]`; see [`EventStore::verify`].
    pub fn verify_range(
        &self,
        from: Option<Position>,
        to: Option<Position>,
    ) -> Result<VerifyReport> {
        self.reader().verify(from, to)
    }
}

/// Records restored per group (one write to the records file, one sync).
const RESTORE_BATCH_EVENTS: u64 = 1024;

fn restore_into(
    dir: &Path,
    records: impl IntoIterator<Item = Result<RecordedEvent>>,
) -> Result<u64> {
    std::fs::create_dir_all(dir)?;
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .open()?;
    let tree = db.open_tree(b"log")?;
    tree.insert(keys::META_FORMAT, &[keys::FORMAT])?;
    let file = Arc::new(RecordsFile::open(dir)?);
    let pending = Pending::default();
    let mut known = Known::empty();
    let heads = StreamHeads::default();
    let mut state = WriterState {
        next_position: 0,
        last_hash: GENESIS_HASH,
        last_recorded_micros: 0,
        records_end: 0,
    };
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let log = |len| Reader {
        tree: &tree,
        records: &file,
        heads: &heads,
        len,
    };
    let mut staging = Staging::new(log(0), &pending, &known, state, epoch);
    let mut staged = 0;
    for record in records {
        staging.restore(record?)?;
        staged += 1;
        if staged == RESTORE_BATCH_EVENTS {
            let finished = staging.finish();
            state = write_restored(&tree, &file, &heads, &mut known, state, finished)?;
            staging = Staging::new(log(state.next_position), &pending, &known, state, epoch);
            staging.keep_recorded_micros(state.last_recorded_micros);
            staged = 0;
        }
    }
    if staged > 0 {
        let finished = staging.finish();
        state = write_restored(&tree, &file, &heads, &mut known, state, finished)?;
    }
    file.truncate(state.records_end)?;
    db.flush()?;
    Ok(state.next_position)
}

/// Writes one restored group: its records durably, then its index entries.
fn write_restored(
    tree: &sled::Tree,
    file: &RecordsFile,
    heads: &StreamHeads,
    known: &mut Known,
    state: WriterState,
    finished: FinishedGroup,
) -> Result<WriterState> {
    file.write_durably(state.records_end, &finished.bytes)?;
    index_groups(tree, heads, vec![finished.entries])?;
    known.remember(&finished.overlay);
    Ok(finished.state)
}

fn check_read_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(LogError::Invalid(format!(
            "{name:?} is not a category or event type name"
        )));
    }
    Ok(())
}

fn prepare(parts: Vec<StreamAppend>) -> Result<Vec<PreparedPart>> {
    if parts.is_empty() {
        return Err(LogError::Invalid(
            "an append needs at least one stream".into(),
        ));
    }
    if parts.len() > APPEND_STREAMS_MAX {
        return Err(LogError::Invalid(format!(
            "an append may cover at most {APPEND_STREAMS_MAX} streams"
        )));
    }
    let total: usize = parts.iter().map(|part| part.events.len()).sum();
    if total > APPEND_EVENTS_MAX {
        return Err(LogError::Invalid(format!(
            "an append may carry at most {APPEND_EVENTS_MAX} events"
        )));
    }
    let mut streams = HashSet::new();
    let mut ids = HashSet::new();
    let mut prepared = Vec::with_capacity(parts.len());
    for part in parts {
        validate_stream_name(&part.stream)?;
        if part.events.is_empty() {
            return Err(LogError::Invalid(format!(
                "no events for stream {}",
                part.stream
            )));
        }
        if !streams.insert(part.stream.clone()) {
            return Err(LogError::Invalid(format!(
                "stream {} appears twice in one append",
                part.stream
            )));
        }
        let mut events = Vec::with_capacity(part.events.len());
        for event in part.events {
            if !ids.insert(event.id) {
                return Err(LogError::Invalid(format!(
                    "event id {} appears twice in one append",
                    event.id
                )));
            }
            events.push(PreparedEvent::new(&part.stream, event)?);
        }
        prepared.push(PreparedPart {
            stream: part.stream,
            expected: part.expected,
            events,
        });
    }
    Ok(prepared)
}

impl SledLog {
    /// Runs a read on tokio's blocking threads: reads wait for the records
    /// file, and sled does its lazy node splits on the thread that reads; an
    /// async worker thread that waited there would stall every task on it.
    async fn read_off_runtime<T: Send + 'static>(
        &self,
        read: impl FnOnce(&SledLog) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let log = self.clone();
        tokio::task::spawn_blocking(move || read(&log))
            .await
            .map_err(|e| LogError::Io(std::io::Error::other(format!("a read task failed: {e}"))))?
    }
}

impl EventStore for SledLog {
    async fn append_to_streams(&self, parts: Vec<StreamAppend>) -> Result<AppendOutcome> {
        self.append_multi(parts).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from_revision: Option<u64>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        validate_stream_name(stream)?;
        let stream = stream.to_owned();
        self.read_off_runtime(move |log| {
            log.reader()
                .stream_page(&stream, direction, from_revision, max)
        })
        .await
    }

    async fn read_all(
        &self,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_off_runtime(move |log| log.reader().all_page(direction, from_position, max))
            .await
    }

    async fn read_category(
        &self,
        category: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        check_read_name(category)?;
        let category = category.to_owned();
        self.read_off_runtime(move |log| {
            log.reader()
                .index_page(keys::CATEGORY, &category, direction, from_position, max)
        })
        .await
    }

    async fn read_event_type(
        &self,
        event_type: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        check_read_name(event_type)?;
        let event_type = event_type.to_owned();
        self.read_off_runtime(move |log| {
            log.reader()
                .index_page(keys::EVENT_TYPE, &event_type, direction, from_position, max)
        })
        .await
    }

    /// One key lookup, asked on every case read: answered in place, since a
    /// hop to a blocking thread would cost more than the lookup.
    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>> {
        validate_stream_name(stream)?;
        self.reader().stream_revision(stream)
    }

    async fn verify(&self, from: Option<Position>, to: Option<Position>) -> Result<VerifyReport> {
        self.read_off_runtime(move |log| log.verify_range(from, to))
            .await
    }

    fn durable_len(&self) -> watch::Receiver<u64> {
        self.shared().durable_len_watch.subscribe()
    }
}
