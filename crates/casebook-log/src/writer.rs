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
use crate::record::{truncate_to_micros, ExpectedRevision, Hash, Position, PreparedEvent};
use crate::staging::Staging;
use crate::store::Shared;
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
}

/// Groups applied to sled but not yet synced that may queue for the syncer.
/// Bounds memory when the disk is slow; writers then wait on the queue.
const PIPELINE_GROUPS_MAX: usize = 8;

/// A group applied to sled, waiting for the fsync that makes it durable.
struct SyncJob {
    /// Every caller of the group with its answer, sent once durable.
    answers: Vec<(
        oneshot::Sender<Result<AppendOutcome>>,
        Result<AppendOutcome>,
    )>,
    /// The number of events in the log once this group is durable.
    len_after: u64,
    /// Whether the group wrote anything (else there is nothing to sync).
    wrote: bool,
}

/// Runs the writer until every sender is gone.
///
/// Two threads form a pipeline: this one decides and applies group N+1
/// while the syncer flushes and fsyncs group N. Answers are sent by the
/// syncer, in order, only after the sync that covers them.
pub(crate) fn run(
    shared: Arc<Shared>,
    files: DurableFiles,
    mut state: WriterState,
    mut requests: mpsc::Receiver<AppendRequest>,
) {
    let (to_syncer, jobs) = std::sync::mpsc::sync_channel(PIPELINE_GROUPS_MAX);
    let syncer_shared = Arc::clone(&shared);
    let syncer = std::thread::Builder::new()
        .name("casebook-log-syncer".into())
        .spawn(move || run_syncer(&syncer_shared, files, &jobs));
    let syncer = match syncer {
        Ok(syncer) => syncer,
        Err(err) => {
            shared.fail(format!("could not start the syncer thread: {err}"));
            refuse_all(&shared, &mut requests);
            return;
        }
    };
    while let Some(first) = requests.blocking_recv() {
        let group = collect_group(first, &mut requests);
        if let Some(reason) = shared.failure() {
            refuse(group, &reason);
            continue;
        }
        let Some(job) = apply_group(&shared, &mut state, group) else {
            continue;
        };
        if to_syncer.send(job).is_err() {
            break;
        }
    }
    drop(to_syncer);
    if syncer.join().is_err() {
        tracing::error!("log syncer thread panicked");
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

/// Flushes and fsyncs whatever groups are waiting, then answers their callers.
fn run_syncer(shared: &Shared, mut files: DurableFiles, jobs: &std::sync::mpsc::Receiver<SyncJob>) {
    while let Ok(first) = jobs.recv() {
        let mut waiting = vec![first];
        waiting.extend(jobs.try_iter());
        let needs_sync = waiting.iter().any(|job| job.wrote);
        let synced = if needs_sync {
            sync(shared, &mut files)
        } else {
            Ok(())
        };
        match synced {
            Ok(()) => {
                if needs_sync {
                    let len = waiting
                        .iter()
                        .map(|job| job.len_after)
                        .max()
                        .unwrap_or_default();
                    shared.publish_durable_len(len);
                }
                for (reply, outcome) in waiting.into_iter().flat_map(|job| job.answers) {
                    // The caller may have gone away; the events are durable regardless.
                    let _ = reply.send(outcome);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "sync failed; the log stops accepting appends");
                shared.fail(err.to_string());
                for (reply, _) in waiting.into_iter().flat_map(|job| job.answers) {
                    let _ = reply.send(Err(LogError::Unavailable(err.to_string())));
                }
            }
        }
    }
}

fn sync(shared: &Shared, files: &mut DurableFiles) -> Result<()> {
    shared.db.flush()?;
    files.sync()?;
    Ok(())
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

/// Decides every append of a group and applies the accepted ones to sled in
/// one atomic batch. Returns the job that will answer the callers once
/// synced, or `None` if applying failed (the callers have been answered).
fn apply_group(
    shared: &Shared,
    state: &mut WriterState,
    group: Vec<AppendRequest>,
) -> Option<SyncJob> {
    let recorded_at = next_recorded_at(state.last_recorded_micros);
    let mut staging = Staging::new(&shared.tree, *state, recorded_at);
    let mut answers = Vec::with_capacity(group.len());
    for request in group {
        let outcome = staging.try_append(request.parts);
        answers.push((request.reply, outcome));
    }
    let wrote = staging.has_staged();
    if wrote {
        let (batch, new_state) = staging.finish();
        if let Err(err) = shared.tree.apply_batch(batch) {
            tracing::error!(error = %err, "applying a group failed; the log stops accepting appends");
            shared.fail(err.to_string());
            for (reply, _) in answers {
                let _ = reply.send(Err(LogError::Unavailable(err.to_string())));
            }
            return None;
        }
        *state = new_state;
    }
    Some(SyncJob {
        answers,
        len_after: state.next_position,
        wrote,
    })
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
