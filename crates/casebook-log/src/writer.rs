//! Group commit: the one thread that writes the log.
//!
//! Appends from any number of tasks arrive on a bounded channel. The writer
//! takes whatever is waiting (up to [`GROUP_APPENDS_MAX`] appends), decides
//! each one against the current stream heads and event ids, stages every
//! accepted record with its index entries in one sled batch, applies it
//! atomically, flushes, fsyncs ([`crate::durability`]) and only then answers
//! every caller in the group and publishes the new durable head. A group is
//! all or nothing on disk; a refused append inside it changes nothing.
//!
//! Being the only writer is what makes positions gapless and in commit
//! order: the writer hands them out, and readers never look past the durable
//! head it publishes.

use crate::durability::DurableFiles;
use crate::error::{LogError, Result};
use crate::keys::{self, HeadEntry, IdEntry};
use crate::record::{
    category_of, seal, truncate_to_micros, ExpectedRevision, Hash, Position, PreparedEvent,
};
use crate::store::Shared;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most appends decided in one group commit. Bounds the work (and the
/// latency) of one group while leaving room for hundreds of writers.
pub(crate) const GROUP_APPENDS_MAX: usize = 1024;
/// Most events staged in one group commit, whatever the number of appends.
pub(crate) const GROUP_EVENTS_MAX: usize = 16 * 1024;
/// Appends that may wait for the writer before callers are held back.
pub(crate) const QUEUE_APPENDS_MAX: usize = 4096;

/// One stream's share of an append, already validated and serialised.
#[derive(Debug)]
pub(crate) struct PreparedPart {
    pub stream: String,
    pub expected: ExpectedRevision,
    pub events: Vec<PreparedEvent>,
}

/// An append waiting for the writer, with the way back to its caller.
#[derive(Debug)]
pub(crate) struct AppendRequest {
    pub parts: Vec<PreparedPart>,
    pub reply: oneshot::Sender<Result<AppendOutcome>>,
}

impl AppendRequest {
    fn event_count(&self) -> usize {
        self.parts.iter().map(|part| part.events.len()).sum()
    }
}

/// Whether an append wrote new events or repeated earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppendStatus {
    /// The events are new and now durable.
    Appended,
    /// Every event id was already in the log with the same content; nothing
    /// was written and the original places are returned.
    AlreadyAppended,
}

/// Where one event of an append ended up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventPlace {
    /// The event's id.
    pub id: Uuid,
    /// The stream it is in.
    pub stream: String,
    /// Its revision in that stream.
    pub revision: u64,
    /// Its global position.
    pub position: Position,
}

/// The answer to a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// New events, or a repeat of events already in the log.
    pub status: AppendStatus,
    /// Each event's place, in the order the events were given.
    pub events: Vec<EventPlace>,
}

impl AppendOutcome {
    /// The highest position among the appended events: once every view has
    /// reached it, the append is visible everywhere.
    pub fn last_position(&self) -> Position {
        self.events
            .iter()
            .map(|event| event.position)
            .max()
            .unwrap_or_default()
    }

    /// The revision of `stream` after this append, if the append touched it.
    pub fn stream_revision(&self, stream: &str) -> Option<u64> {
        self.events
            .iter()
            .filter(|event| event.stream == stream)
            .map(|event| event.revision)
            .max()
    }
}

/// What the writer knows of the log's end between groups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterState {
    /// The position the next event will get (= number of events).
    pub next_position: Position,
    /// The hash of the last event, or the genesis hash.
    pub last_hash: Hash,
    /// `recorded_at` of the last event; never goes backwards.
    pub last_recorded_micros: i64,
}

/// Runs the writer until every sender is gone.
pub(crate) fn run(
    shared: Arc<Shared>,
    mut files: DurableFiles,
    mut state: WriterState,
    mut requests: mpsc::Receiver<AppendRequest>,
) {
    let mut failure: Option<String> = None;
    while let Some(first) = requests.blocking_recv() {
        let group = collect_group(first, &mut requests);
        if let Some(reason) = &failure {
            for request in group {
                let _ = request
                    .reply
                    .send(Err(LogError::Unavailable(reason.clone())));
            }
            continue;
        }
        match commit_group(&shared, &mut files, &mut state, group) {
            Ok(()) => {}
            Err(err) => {
                tracing::error!(error = %err, "group commit failed; the log stops accepting appends");
                failure = Some(err.to_string());
            }
        }
    }
    tracing::debug!("log writer stopped: no more appenders");
}

/// Takes the first request and whatever else is already waiting, up to the limits.
fn collect_group(
    first: AppendRequest,
    requests: &mut mpsc::Receiver<AppendRequest>,
) -> Vec<AppendRequest> {
    let mut events = first.event_count();
    let mut group = vec![first];
    while group.len() < GROUP_APPENDS_MAX && events < GROUP_EVENTS_MAX {
        match requests.try_recv() {
            Ok(request) => {
                events += request.event_count();
                group.push(request);
            }
            Err(_) => break,
        }
    }
    group
}

/// Decides, writes and makes durable one group, then answers its callers.
/// An error means the disk may no longer match `state`.
fn commit_group(
    shared: &Shared,
    files: &mut DurableFiles,
    state: &mut WriterState,
    group: Vec<AppendRequest>,
) -> Result<()> {
    let recorded_at = next_recorded_at(state.last_recorded_micros);
    let mut staging = Staging::new(&shared.tree, *state, recorded_at);
    let mut answers = Vec::with_capacity(group.len());
    for request in group {
        let outcome = staging.try_append(&request.parts);
        answers.push((request.reply, outcome));
    }
    if staging.staged_events > 0 {
        let new_state = staging.state;
        let written = write_durably(shared, files, staging.batch, &new_state);
        if let Err(err) = written {
            let reason = err.to_string();
            for (reply, _) in answers {
                let _ = reply.send(Err(LogError::Unavailable(reason.clone())));
            }
            return Err(err);
        }
        *state = new_state;
        shared.publish_durable_len(new_state.next_position);
    }
    for (reply, outcome) in answers {
        // The caller may have gone away; the events are durable regardless.
        let _ = reply.send(outcome);
    }
    Ok(())
}

fn write_durably(
    shared: &Shared,
    files: &mut DurableFiles,
    mut batch: sled::Batch,
    state: &WriterState,
) -> Result<()> {
    let head = HeadEntry {
        position: state.next_position - 1,
        hash: state.last_hash,
        recorded_at_micros: state.last_recorded_micros,
    };
    batch.insert(keys::META_HEAD, &keys::head_entry(&head)[..]);
    shared.tree.apply_batch(batch)?;
    shared.db.flush()?;
    files.sync()?;
    Ok(())
}

/// Server time for a group: now, but never earlier than the last group's.
fn next_recorded_at(last_recorded_micros: i64) -> DateTime<Utc> {
    let now = truncate_to_micros(Utc::now());
    if now.timestamp_micros() >= last_recorded_micros {
        return now;
    }
    Utc.timestamp_micros(last_recorded_micros)
        .single()
        .unwrap_or(now)
}

/// One group's decisions so far: the sled batch and what it changes.
struct Staging<'a> {
    tree: &'a sled::Tree,
    batch: sled::Batch,
    state: WriterState,
    recorded_at: DateTime<Utc>,
    /// Stream heads changed by this group (`None`: stream still absent).
    heads: HashMap<String, Option<u64>>,
    /// Event ids staged by this group.
    ids: HashMap<Uuid, IdEntry>,
    staged_events: usize,
}

impl<'a> Staging<'a> {
    fn new(tree: &'a sled::Tree, mut state: WriterState, recorded_at: DateTime<Utc>) -> Self {
        state.last_recorded_micros = recorded_at.timestamp_micros();
        Staging {
            tree,
            batch: sled::Batch::default(),
            state,
            recorded_at,
            heads: HashMap::new(),
            ids: HashMap::new(),
            staged_events: 0,
        }
    }

    /// Decides one append; stages it if accepted. A refusal stages nothing.
    fn try_append(&mut self, parts: &[PreparedPart]) -> Result<AppendOutcome> {
        if let Some(repeat) = self.find_repeat(parts)? {
            return Ok(repeat);
        }
        let mut current = Vec::with_capacity(parts.len());
        for part in parts {
            let actual = self.stream_revision(&part.stream)?;
            if !part.expected.is_met_by(actual) {
                return Err(LogError::WrongExpectedRevision {
                    stream: part.stream.clone(),
                    expected: part.expected,
                    actual,
                });
            }
            current.push(actual);
        }
        let mut places = Vec::new();
        for (part, actual) in parts.iter().zip(current) {
            self.stage_part(part, actual, &mut places);
        }
        Ok(AppendOutcome {
            status: AppendStatus::Appended,
            events: places,
        })
    }

    /// If the append repeats events already in the log, their places.
    fn find_repeat(&self, parts: &[PreparedPart]) -> Result<Option<AppendOutcome>> {
        let mut repeated = Vec::new();
        let mut new_events = 0usize;
        let mut first_new = None;
        for part in parts {
            for event in &part.events {
                match self.find_id(event.id)? {
                    Some(entry) => {
                        if entry.digest != event.content_digest {
                            return Err(LogError::IdempotencyConflict {
                                event_id: event.id,
                                reason: "this id was appended before with other content",
                            });
                        }
                        repeated.push(EventPlace {
                            id: event.id,
                            stream: part.stream.clone(),
                            revision: entry.revision,
                            position: entry.position,
                        });
                    }
                    None => {
                        new_events += 1;
                        first_new.get_or_insert(event.id);
                    }
                }
            }
        }
        if repeated.is_empty() {
            return Ok(None);
        }
        if new_events > 0 {
            return Err(LogError::IdempotencyConflict {
                event_id: repeated[0].id,
                reason: "the append mixes events already in the log with new ones",
            });
        }
        Ok(Some(AppendOutcome {
            status: AppendStatus::AlreadyAppended,
            events: repeated,
        }))
    }

    fn find_id(&self, id: Uuid) -> Result<Option<IdEntry>> {
        if let Some(entry) = self.ids.get(&id) {
            return Ok(Some(*entry));
        }
        match self.tree.get(keys::event_id(id))? {
            None => Ok(None),
            Some(value) => {
                keys::parse_id_entry(&value)
                    .map(Some)
                    .ok_or_else(|| LogError::Corrupt {
                        position: self.state.next_position,
                        reason: format!("index entry of event {id} is malformed"),
                    })
            }
        }
    }

    fn stream_revision(&self, stream: &str) -> Result<Option<u64>> {
        if let Some(head) = self.heads.get(stream) {
            return Ok(*head);
        }
        read_stream_head(self.tree, stream)
    }

    fn stage_part(
        &mut self,
        part: &PreparedPart,
        actual: Option<u64>,
        places: &mut Vec<EventPlace>,
    ) {
        let mut revision = actual.map_or(0, |revision| revision + 1);
        let category = category_of(&part.stream);
        for event in &part.events {
            let position = self.state.next_position;
            let digest = event.content_digest;
            let mut record =
                event
                    .clone()
                    .place(&part.stream, revision, position, self.recorded_at);
            let stored = seal(&mut record, self.state.last_hash);
            let entry = IdEntry {
                position,
                revision,
                digest,
            };
            let batch = &mut self.batch;
            batch.insert(&keys::event(position)[..], stored);
            batch.insert(
                keys::named_number(keys::STREAM_EVENT, &part.stream, revision),
                &position.to_be_bytes()[..],
            );
            batch.insert(&keys::event_id(event.id)[..], &keys::id_entry(&entry)[..]);
            batch.insert(
                keys::named_number(keys::CATEGORY, category, position),
                &[][..],
            );
            batch.insert(
                keys::named_number(keys::EVENT_TYPE, &record.event_type, position),
                &[][..],
            );
            self.ids.insert(event.id, entry);
            places.push(EventPlace {
                id: event.id,
                stream: part.stream.clone(),
                revision,
                position,
            });
            self.state.last_hash = record.hash;
            self.state.next_position += 1;
            self.staged_events += 1;
            revision += 1;
        }
        let last_revision = revision - 1;
        self.batch.insert(
            keys::stream_head(&part.stream),
            &last_revision.to_be_bytes()[..],
        );
        self.heads.insert(part.stream.clone(), Some(last_revision));
    }
}

/// The last revision of a stream as stored (durable or not), or `None` if
/// it has no events.
pub(crate) fn read_stream_head(tree: &sled::Tree, stream: &str) -> Result<Option<u64>> {
    match tree.get(keys::stream_head(stream))? {
        None => Ok(None),
        Some(value) => keys::trailing_number(&value)
            .filter(|_| value.len() == 8)
            .map(Some)
            .ok_or_else(|| LogError::Corrupt {
                position: 0,
                reason: format!("head of stream {stream} is malformed"),
            }),
    }
}
