//! Group commit: the one thread that writes the log.
//!
//! Appends from any number of tasks arrive on a bounded channel. The writer
//! takes whatever is waiting (up to [`GROUP_APPENDS_MAX`] appends), decides
//! each one against the current stream heads and event ids, and stages every
//! accepted record: the group's bytes for the records file and its index
//! entries. The pipeline behind it ([`crate::pipeline`]) writes the group
//! to the records file and fsyncs it, indexes it, and only then answers
//! every caller in the group and publishes the new durable head. A group is
//! all or nothing on disk; a refused append inside it changes nothing.
//!
//! Being the only writer is what makes positions gapless and in commit
//! order: the writer hands them out, and readers never look past the durable
//! head it publishes.

use crate::error::{LogError, Result};
use crate::known::Known;
use crate::pipeline::{GroupJob, Pipeline, WrittenGroup};
use crate::reader::Reader;
use crate::record::{truncate_to_micros, ExpectedRevision, Hash, Position, PreparedEvent};
use crate::staging::{IndexEntries, Pending, PendingGroup, Staging};
use crate::store::{Durability, Shared};
use chrono::{DateTime, TimeZone, Utc};
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
    /// The length of the records file once every decided group is in it:
    /// where the next group goes.
    pub records_end: u64,
}

/// Runs the writer until every sender is gone.
///
/// Three threads form a pipeline ([`crate::pipeline`]): this one decides
/// the next group while the syncer writes and fsyncs the groups before it
/// into the records file and the applier writes their index entries into
/// sled. Answers are sent by the syncer, in order, only after the sync that
/// covers them and the apply that makes them readable.
pub(crate) fn run(
    shared: Arc<Shared>,
    durability: Durability,
    mut state: WriterState,
    mut known: Known,
    mut requests: mpsc::Receiver<AppendRequest>,
) {
    let Some(pipeline) = Pipeline::start(&shared, durability) else {
        refuse_all(&shared, &mut requests);
        return;
    };
    let mut pending = Pending::default();
    let mut sequence = 0u64;
    while let Some(first) = requests.blocking_recv() {
        let group = collect_group(first, &mut requests);
        if let Some(reason) = shared.failure() {
            refuse(group, &reason);
            continue;
        }
        pending.prune(shared.durable_len());
        let (job, index) =
            decide_group(&shared, &pending, &known, &mut state, group, &mut sequence);
        let entries = index.map(|(entries, overlay)| {
            known.remember(&overlay);
            pending.push(overlay);
            entries
        });
        if !pipeline.submit(job, entries) {
            break;
        }
    }
    pipeline.finish();
    if shared.failure().is_none() {
        // Every group is written: a closed log keeps no reserve of zeros.
        if let Err(err) = shared.records.truncate(state.records_end) {
            tracing::warn!(error = %err, "cutting the records file's reserve on close failed");
        }
    }
    tracing::debug!("log writer stopped: no more appenders");
}

fn refuse(group: Vec<AppendRequest>, reason: &str) {
    for request in group {
        let _ = request
            .reply
            .send(Err(LogError::Unavailable(reason.to_owned())));
    }
}

fn refuse_all(shared: &Shared, requests: &mut mpsc::Receiver<AppendRequest>) {
    let reason = shared.failure().unwrap_or_default();
    while let Some(request) = requests.blocking_recv() {
        refuse(vec![request], &reason);
    }
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

/// Decides every append of a group against the log, the groups still in the
/// pipeline and each other. Returns the job for the pipeline and, if the
/// group accepted anything, its index batch and what it changes.
fn decide_group(
    shared: &Shared,
    pending: &Pending,
    known: &Known,
    state: &mut WriterState,
    group: Vec<AppendRequest>,
    sequence: &mut u64,
) -> (GroupJob, Option<(IndexEntries, PendingGroup)>) {
    let recorded_at = next_recorded_at(state.last_recorded_micros);
    let log = Reader {
        tree: &shared.tree,
        records: &shared.records,
        heads: &shared.heads,
        len: shared.durable_len(),
    };
    let mut staging = Staging::new(log, pending, known, *state, recorded_at);
    let mut answers = Vec::with_capacity(group.len());
    for request in group {
        let outcome = staging.try_append(request.parts);
        answers.push((request.reply, outcome));
    }
    if !staging.has_staged() {
        let job = GroupJob {
            written: None,
            answers,
            len_after: state.next_position,
        };
        return (job, None);
    }
    *sequence += 1;
    let records_offset = state.records_end;
    let finished = staging.finish();
    *state = finished.state;
    let job = GroupJob {
        written: Some(WrittenGroup {
            sequence: *sequence,
            records_offset,
            bytes: finished.bytes,
        }),
        answers,
        len_after: state.next_position,
    };
    (job, Some((finished.entries, finished.overlay)))
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
