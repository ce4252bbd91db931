//! [`SledLog`]: the log on an embedded sled database.
//!
//! Opening checks the tail of the log and its indexes and refuses to start on
//! corruption. Appends go to the group-commit writer ([`crate::writer`]).
//! Reads go straight to sled, stop at the durable head, and re-check the hash
//! of every record they return.

use crate::durability::DurableFiles;
use crate::error::{LogError, Result};
use crate::event_store::{Direction, EventStore, VerifyReport, READ_PAGE_EVENTS_MAX};
use crate::keys::{self, HeadEntry};
use crate::record::{
    check_stored, decode_stored, validate_stream_name, Hash, Position, PreparedEvent,
    RecordedEvent, StreamAppend, GENESIS_HASH,
};
use crate::writer::{self, AppendOutcome, AppendRequest, PreparedPart, WriterState};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, watch};

/// Records at the end of the log whose hashes and index entries are
/// re-checked on open: enough to cover any batch a crash could have cut.
const OPEN_TAIL_CHECK_EVENTS: u64 = 4096;
/// Most streams one append may cover.
pub const APPEND_STREAMS_MAX: usize = 64;
/// Most events one append may carry.
pub const APPEND_EVENTS_MAX: usize = 1000;

/// Settings for opening a log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// sled's page cache size in bytes.
    pub cache_capacity_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            cache_capacity_bytes: 256 * 1024 * 1024,
        }
    }
}

/// State shared by the handle, the writer thread and the readers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub db: sled::Db,
    pub tree: sled::Tree,
    /// Number of durable events; readers never look at positions past it.
    durable_len: AtomicU64,
    /// The same number, for those who wait for it to grow.
    durable_len_watch: watch::Sender<u64>,
    /// Set once a write or sync fails: from then on appends are refused,
    /// because what is on disk is no longer known until the log is reopened.
    failure: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn publish_durable_len(&self, len: u64) {
        self.durable_len.store(len, Ordering::Release);
        self.durable_len_watch.send_replace(len);
    }

    fn durable_len(&self) -> u64 {
        self.durable_len.load(Ordering::Acquire)
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
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_capacity_bytes)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let tree = db.open_tree(b"log")?;
        db.flush()?;
        let files = DurableFiles::open(&path)?;
        let head = check_tail(&tree)?;
        let state = WriterState {
            next_position: head.map_or(0, |head| head.position + 1),
            last_hash: head.map_or(GENESIS_HASH, |head| head.hash),
            last_recorded_micros: head.map_or(i64::MIN, |head| head.recorded_at_micros),
        };
        let (durable_len_watch, _) = watch::channel(state.next_position);
        let shared = Arc::new(Shared {
            db,
            tree,
            durable_len: AtomicU64::new(state.next_position),
            durable_len_watch,
            failure: Mutex::new(None),
        });
        let (sender, receiver) = mpsc::channel(writer::QUEUE_APPENDS_MAX);
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("casebook-log-writer".into())
            .spawn(move || writer::run(writer_shared, files, state, receiver))?;
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

    /// Whether the log has no durable events yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every durable record from `from` (inclusive) onwards, lazily, each
    /// checked against its hash and its predecessor's. Stops at the durable
    /// head as it was when the iterator was made.
    pub fn iter_all(&self, from: Position) -> AllIter {
        let end = self.len();
        AllIter {
            tree: self.shared().tree.clone(),
            range: self
                .shared()
                .tree
                .range(keys::event(from)..keys::event(end)),
            next_position: from,
            previous_hash: None,
        }
    }

    /// One record by position, checked against its hash.
    pub fn get(&self, position: Position) -> Result<Option<RecordedEvent>> {
        if position >= self.len() {
            return Ok(None);
        }
        let stored = self.shared().tree.get(keys::event(position))?;
        let stored = stored.ok_or_else(|| LogError::Corrupt {
            position,
            reason: "record is missing below the head".into(),
        })?;
        decode_stored(position, &stored).map(Some)
    }

    fn read_all_page(
        &self,
        direction: Direction,
        from: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let len = self.len();
        let max = max.min(READ_PAGE_EVENTS_MAX);
        let tree = &self.shared().tree;
        let mut page = Vec::with_capacity(max.min(256));
        match direction {
            Direction::Forwards => {
                let start = from.unwrap_or(0);
                for item in tree.range(keys::event(start)..keys::event(len)).take(max) {
                    let (key, stored) = item?;
                    page.push(decode_stored(key_position(&key)?, &stored)?);
                }
            }
            Direction::Backwards => {
                let end = from.map_or(len, |from| from.saturating_add(1).min(len));
                for item in tree.range(keys::event(0)..keys::event(end)).rev().take(max) {
                    let (key, stored) = item?;
                    page.push(decode_stored(key_position(&key)?, &stored)?);
                }
            }
        }
        check_contiguous(&page, direction)?;
        Ok(page)
    }

    /// A page of a category or event-type index, resolved to records.
    fn read_position_index(
        &self,
        tag: u8,
        name: &str,
        direction: Direction,
        from: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(LogError::Invalid(format!(
                "{name:?} is not a category or event type name"
            )));
        }
        let len = self.len();
        let max = max.min(READ_PAGE_EVENTS_MAX);
        if len == 0 || max == 0 {
            return Ok(Vec::new());
        }
        let positions = match direction {
            Direction::Forwards => self.index_forwards(tag, name, from.unwrap_or(0), len, max)?,
            Direction::Backwards => {
                let upper = from.map_or(len - 1, |from| from.min(len - 1));
                self.index_backwards(tag, name, upper, max)?
            }
        };
        positions
            .into_iter()
            .map(|position| self.indexed_record(position))
            .collect()
    }

    /// Up to `max` indexed positions from `from` on, below the durable `len`.
    fn index_forwards(
        &self,
        tag: u8,
        name: &str,
        from: Position,
        len: u64,
        max: usize,
    ) -> Result<Vec<Position>> {
        let mut positions = Vec::new();
        for block in index_blocks_from(&self.shared().tree, tag, name, from) {
            for position in block? {
                if position >= len {
                    return Ok(positions);
                }
                if position >= from {
                    positions.push(position);
                    if positions.len() == max {
                        return Ok(positions);
                    }
                }
            }
        }
        Ok(positions)
    }

    /// Up to `max` indexed positions at or below `upper`, newest first.
    fn index_backwards(
        &self,
        tag: u8,
        name: &str,
        upper: Position,
        max: usize,
    ) -> Result<Vec<Position>> {
        let tree = &self.shared().tree;
        let mut positions = Vec::new();
        // The block holding `upper` (if any) is the first at or after it...
        let holding = index_blocks_from(tree, tag, name, upper)
            .next()
            .transpose()?;
        let earlier = tree
            .range(keys::named_number(tag, name, 0)..keys::named_number(tag, name, upper))
            .rev()
            .map(|item| parse_index_block(tag, name, item));
        // ...and every block before it holds only smaller positions.
        for block in holding.into_iter().map(Ok).chain(earlier) {
            for position in block?
                .into_iter()
                .rev()
                .filter(|position| *position <= upper)
            {
                positions.push(position);
                if positions.len() == max {
                    return Ok(positions);
                }
            }
        }
        Ok(positions)
    }

    fn indexed_record(&self, position: Position) -> Result<RecordedEvent> {
        self.get(position)?.ok_or_else(|| LogError::Corrupt {
            position,
            reason: "an index points past the durable head".into(),
        })
    }

    fn read_stream_page(
        &self,
        stream: &str,
        direction: Direction,
        from: Option<u64>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        validate_stream_name(stream)?;
        let len = self.len();
        let max = max.min(READ_PAGE_EVENTS_MAX);
        let tree = &self.shared().tree;
        let prefix = keys::named_prefix(keys::STREAM_EVENT, stream);
        let first = keys::named_number(keys::STREAM_EVENT, stream, 0);
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match (direction, from) {
                (Direction::Forwards, from) => Box::new(
                    tree.range(keys::named_number(keys::STREAM_EVENT, stream, from.unwrap_or(0))..)
                        .take_while(move |item| {
                            item.as_ref()
                                .map_or(true, |(key, _)| key.starts_with(&prefix))
                        }),
                ),
                (Direction::Backwards, None) => Box::new(tree.scan_prefix(&prefix).rev()),
                (Direction::Backwards, Some(from)) => {
                    let end = keys::named_number(keys::STREAM_EVENT, stream, from);
                    Box::new(tree.range(first..=end).rev())
                }
            };
        let mut page = Vec::new();
        for item in entries {
            if page.len() >= max {
                break;
            }
            let (_, value) = item?;
            let position = keys::trailing_number(&value)
                .filter(|_| value.len() == 8)
                .ok_or_else(|| LogError::Corrupt {
                    position: 0,
                    reason: format!("malformed index entry of stream {stream}"),
                })?;
            if position >= len {
                // Written by a group that is not durable yet.
                match direction {
                    Direction::Forwards => break,
                    Direction::Backwards => continue,
                }
            }
            let record = self.indexed_record(position)?;
            if record.stream != stream {
                return Err(LogError::Corrupt {
                    position,
                    reason: format!("stream index of {stream} points elsewhere"),
                });
            }
            page.push(record);
        }
        Ok(page)
    }

    fn durable_stream_revision(&self, stream: &str) -> Result<Option<u64>> {
        validate_stream_name(stream)?;
        let tree = &self.shared().tree;
        let Some(head) = writer::read_stream_head(tree, stream)? else {
            return Ok(None);
        };
        // The head key may be ahead of the durable head while a group syncs.
        let entry = tree.get(keys::named_number(keys::STREAM_EVENT, stream, head))?;
        let position = entry.as_deref().and_then(keys::trailing_number);
        match position {
            Some(position) if position < self.len() => Ok(Some(head)),
            Some(_) => {
                let page = self.read_stream_page(stream, Direction::Backwards, Some(head), 1)?;
                Ok(page.first().map(|event| event.revision))
            }
            None => Err(LogError::Corrupt {
                position: 0,
                reason: format!("stream {stream} has a head but no index entry for it"),
            }),
        }
    }

    /// Re-checks `[from, to]`; see [`EventStore::verify`].
    pub fn verify_range(
        &self,
        from: Option<Position>,
        to: Option<Position>,
    ) -> Result<VerifyReport> {
        let len = self.len();
        let start = from.unwrap_or(0);
        let end = to.map_or(len, |to| to.saturating_add(1).min(len));
        let mut report = VerifyReport {
            events: 0,
            bytes: 0,
            range: None,
            last_hash: None,
        };
        if start >= end {
            return Ok(report);
        }
        let tree = &self.shared().tree;
        let mut previous_hash = if start == 0 {
            GENESIS_HASH
        } else {
            stored_hash(tree, start - 1)?
        };
        let mut expected_position = start;
        for item in tree.range(keys::event(start)..keys::event(end)) {
            let (key, stored) = item?;
            let position = key_position(&key)?;
            if position != expected_position {
                return Err(LogError::Corrupt {
                    position: expected_position,
                    reason: "record is missing".into(),
                });
            }
            let header = check_stored(position, &stored)?;
            if header.prev_hash != previous_hash {
                return Err(LogError::Corrupt {
                    position,
                    reason: "record does not follow its predecessor's hash".into(),
                });
            }
            previous_hash = header.hash;
            expected_position += 1;
            report.bytes += stored.len() as u64;
        }
        if expected_position != end {
            return Err(LogError::Corrupt {
                position: expected_position,
                reason: "record is missing".into(),
            });
        }
        report.events = end - start;
        report.range = Some((start, end - 1));
        report.last_hash = Some(previous_hash);
        Ok(report)
    }
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

/// The index blocks of one name whose last position is at least `from`, in order.
fn index_blocks_from<'a>(
    tree: &'a sled::Tree,
    tag: u8,
    name: &'a str,
    from: Position,
) -> impl Iterator<Item = Result<Vec<Position>>> + 'a {
    let prefix = keys::named_prefix(tag, name);
    tree.range(keys::named_number(tag, name, from)..)
        .take_while(move |item| {
            item.as_ref()
                .map_or(true, |(key, _)| key.starts_with(&prefix))
        })
        .map(move |item| parse_index_block(tag, name, item))
}

fn parse_index_block(
    tag: u8,
    name: &str,
    item: sled::Result<(sled::IVec, sled::IVec)>,
) -> Result<Vec<Position>> {
    let (key, value) = item?;
    let positions = keys::parse_position_block(&value);
    let last_in_key = keys::trailing_number(&key);
    match positions {
        Some(positions) if positions.last().copied() == last_in_key => Ok(positions),
        _ => Err(LogError::Corrupt {
            position: last_in_key.unwrap_or_default(),
            reason: format!("index block {} of {name} is malformed", tag as char),
        }),
    }
}

fn key_position(key: &[u8]) -> Result<Position> {
    if key.len() != 9 || key[0] != keys::EVENT {
        return Err(LogError::Corrupt {
            position: 0,
            reason: "malformed record key".into(),
        });
    }
    keys::trailing_number(key).ok_or_else(|| LogError::Corrupt {
        position: 0,
        reason: "malformed record key".into(),
    })
}

fn stored_hash(tree: &sled::Tree, position: Position) -> Result<Hash> {
    let stored = tree
        .get(keys::event(position))?
        .ok_or_else(|| LogError::Corrupt {
            position,
            reason: "record is missing".into(),
        })?;
    Ok(check_stored(position, &stored)?.hash)
}

/// Checks that a page read by position has no gap and each record follows the last.
fn check_contiguous(page: &[RecordedEvent], direction: Direction) -> Result<()> {
    for pair in page.windows(2) {
        let (older, newer) = match direction {
            Direction::Forwards => (&pair[0], &pair[1]),
            Direction::Backwards => (&pair[1], &pair[0]),
        };
        if newer.position != older.position + 1 {
            return Err(LogError::Corrupt {
                position: older.position + 1,
                reason: "record is missing".into(),
            });
        }
        if newer.prev_hash != older.hash {
            return Err(LogError::Corrupt {
                position: newer.position,
                reason: "record does not follow its predecessor's hash".into(),
            });
        }
    }
    Ok(())
}

/// Checks the end of the log and its indexes; returns the head, if any.
fn check_tail(tree: &sled::Tree) -> Result<Option<HeadEntry>> {
    let head = match tree.get(keys::META_HEAD)? {
        Some(value) => Some(
            keys::parse_head_entry(&value).ok_or_else(|| LogError::Corrupt {
                position: 0,
                reason: "the head entry is malformed".into(),
            })?,
        ),
        None => None,
    };
    let last_key = tree
        .scan_prefix([keys::EVENT])
        .keys()
        .next_back()
        .transpose()?;
    let (head, last_key) = match (head, last_key) {
        (None, None) => return Ok(None),
        (Some(head), Some(last_key)) => (head, last_key),
        (None, Some(key)) => {
            let position = key_position(&key)?;
            return Err(LogError::Corrupt {
                position,
                reason: "records exist but the head entry is missing".into(),
            });
        }
        (Some(head), None) => {
            return Err(LogError::Corrupt {
                position: head.position,
                reason: "the head entry points at no record".into(),
            })
        }
    };
    let last_position = key_position(&last_key)?;
    if last_position != head.position {
        return Err(LogError::Corrupt {
            position: head.position.min(last_position),
            reason: format!(
                "the head entry says {} but the last record is {last_position}",
                head.position
            ),
        });
    }
    let from = head.position.saturating_sub(OPEN_TAIL_CHECK_EVENTS - 1);
    let mut previous_hash = if from == 0 {
        GENESIS_HASH
    } else {
        stored_hash(tree, from - 1)?
    };
    for position in from..=head.position {
        let stored = tree
            .get(keys::event(position))?
            .ok_or_else(|| LogError::Corrupt {
                position,
                reason: "record is missing".into(),
            })?;
        let record = decode_stored(position, &stored)?;
        if record.prev_hash != previous_hash {
            return Err(LogError::Corrupt {
                position,
                reason: "record does not follow its predecessor's hash".into(),
            });
        }
        check_index_entries(tree, &record)?;
        previous_hash = record.hash;
    }
    if previous_hash != head.hash {
        return Err(LogError::Corrupt {
            position: head.position,
            reason: "the head entry's hash differs from the last record's".into(),
        });
    }
    Ok(Some(head))
}

fn check_index_entries(tree: &sled::Tree, record: &RecordedEvent) -> Result<()> {
    let position = record.position;
    let missing = |what: &str| LogError::Corrupt {
        position,
        reason: format!("the {what} index entry is missing or wrong"),
    };
    let stream_entry = tree.get(keys::named_number(
        keys::STREAM_EVENT,
        &record.stream,
        record.revision,
    ))?;
    if stream_entry.as_deref() != Some(&position.to_be_bytes()[..]) {
        return Err(missing("stream"));
    }
    let id_entry = tree
        .get(keys::event_id(record.id))?
        .and_then(|value| keys::parse_id_entry(&value));
    if id_entry.map(|entry| (entry.position, entry.revision)) != Some((position, record.revision)) {
        return Err(missing("event id"));
    }
    for (tag, name, what) in [
        (keys::CATEGORY, record.category(), "category"),
        (keys::EVENT_TYPE, record.event_type.as_str(), "event type"),
    ] {
        let block = index_blocks_from(tree, tag, name, position)
            .next()
            .transpose()?;
        if !block.is_some_and(|block| block.contains(&position)) {
            return Err(missing(what));
        }
    }
    match writer::read_stream_head(tree, &record.stream)? {
        Some(head) if head >= record.revision => Ok(()),
        _ => Err(missing("stream head")),
    }
}

/// A lazy walk over the whole log; see [`SledLog::iter_all`].
pub struct AllIter {
    tree: sled::Tree,
    range: sled::Iter,
    next_position: Position,
    previous_hash: Option<Hash>,
}

impl std::fmt::Debug for AllIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllIter")
            .field("next_position", &self.next_position)
            .finish_non_exhaustive()
    }
}

impl Iterator for AllIter {
    type Item = Result<RecordedEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.range.next()?;
        let result = self.check_next(item);
        if result.is_err() {
            // Stop after the first fault; the caller has what it needs.
            self.range = self.tree.range(keys::event(0)..keys::event(0));
        }
        Some(result)
    }
}

impl AllIter {
    fn check_next(
        &mut self,
        item: sled::Result<(sled::IVec, sled::IVec)>,
    ) -> Result<RecordedEvent> {
        let (key, stored) = item?;
        let position = key_position(&key)?;
        if position != self.next_position {
            return Err(LogError::Corrupt {
                position: self.next_position,
                reason: "record is missing".into(),
            });
        }
        let record = decode_stored(position, &stored)?;
        let expected_prev = match self.previous_hash {
            Some(hash) => hash,
            None if position == 0 => GENESIS_HASH,
            None => stored_hash(&self.tree, position - 1)?,
        };
        if record.prev_hash != expected_prev {
            return Err(LogError::Corrupt {
                position,
                reason: "record does not follow its predecessor's hash".into(),
            });
        }
        self.previous_hash = Some(record.hash);
        self.next_position += 1;
        Ok(record)
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
        self.read_stream_page(stream, direction, from_revision, max)
    }

    async fn read_all(
        &self,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_all_page(direction, from_position, max)
    }

    async fn read_category(
        &self,
        category: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_position_index(keys::CATEGORY, category, direction, from_position, max)
    }

    async fn read_event_type(
        &self,
        event_type: &str,
        direction: Direction,
        from_position: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_position_index(keys::EVENT_TYPE, event_type, direction, from_position, max)
    }

    async fn stream_revision(&self, stream: &str) -> Result<Option<u64>> {
        self.durable_stream_revision(stream)
    }

    async fn verify(&self, from: Option<Position>, to: Option<Position>) -> Result<VerifyReport> {
        self.verify_range(from, to)
    }

    fn durable_len(&self) -> watch::Receiver<u64> {
        self.shared().durable_len_watch.subscribe()
    }
}
