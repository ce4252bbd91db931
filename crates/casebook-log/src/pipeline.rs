//! The two stages after the writer: make durable, and index.
//!
//! The writer hands each decided group to both stages at once. The *syncer*
//! writes the group's bytes to the records file ([`crate::records`]) and
//! `fdatasync`s it, covering every group that arrived while it was busy with
//! one write and one sync. Once the group is written (before the sync), the
//! *applier* writes its index entries into sled (never flushed on this
//! path: the indexes are caught up from the records file after a crash),
//! while the sync runs, and publishes the group's
//! sequence number as applied. Indexing only what is written keeps sled
//! from ever holding a group the file lacks after the process dies (only a
//! power cut can leave it so, and then the index is rebuilt). Once a sync has
//! returned and the applier has caught up with it, the syncer publishes the
//! new durable length and answers the callers. Groups move through both
//! stages in order, so answers go out in commit order.
//!
//! The applier indexes every written group it holds at once
//! ([`crate::staging::index_groups`]), so the writer never waits for it and
//! decides each group as soon as its appends arrive.
//! The queues to both stages hold at most [`PIPELINE_GROUPS_MAX`] groups,
//! which one sync and one apply cover together; a slow disk holds back the
//! writer and, through the request queue, the appenders.
//!
//! In [`Durability::Batched`] the syncer lingers for a window after the
//! first group it receives, so that one sync covers every group decided in
//! it; callers are still answered only after that sync.
//!
//! Any failure poisons the log ([`Shared::fail`]): every group behind it was
//! decided assuming it would land, so they are all refused.

use crate::error::{LogError, Result};
use crate::staging::{index_groups, IndexEntries};
use crate::store::{Durability, Shared};
use crate::writer::AppendOutcome;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Groups that may wait for the syncer. Bounds memory when the disk is
/// slow; deep enough that one sync covers every group decided during the
/// last one.
pub(crate) const PIPELINE_GROUPS_MAX: usize = 8;

/// How long a stage sleeps at most between checks that the other one has
/// caught up (it is woken as soon as it has).
const STAGE_CHECK_INTERVAL: Duration = Duration::from_millis(5);

/// A caller waiting for its answer, and the answer.
pub(crate) type Answer = (
    oneshot::Sender<Result<AppendOutcome>>,
    Result<AppendOutcome>,
);

/// What a group that accepted events adds to the records file.
pub(crate) struct WrittenGroup {
    /// The group's number; the applier publishes it once indexed.
    pub sequence: u64,
    /// Where the group starts in the records file.
    pub records_offset: u64,
    /// The group's header and record blocks.
    pub bytes: Vec<u8>,
}

/// A decided group on its way to disk.
pub(crate) struct GroupJob {
    /// What to write, if the group accepted anything.
    pub written: Option<WrittenGroup>,
    /// Every caller of the group with its answer, sent once durable.
    pub answers: Vec<Answer>,
    /// The number of events in the log once this group is durable.
    pub len_after: u64,
}

/// The applier and syncer threads and the queues into them.
pub(crate) struct Pipeline {
    to_applier: SyncSender<(u64, IndexEntries)>,
    to_syncer: SyncSender<GroupJob>,
    applier: JoinHandle<()>,
    syncer: JoinHandle<()>,
}

impl Pipeline {
    /// Starts both stages; `None` (with the log failed) if a thread cannot start.
    pub fn start(shared: &Arc<Shared>, durability: Durability) -> Option<Pipeline> {
        let (to_applier, applier_jobs) = std::sync::mpsc::sync_channel(PIPELINE_GROUPS_MAX);
        let (to_syncer, syncer_jobs) = std::sync::mpsc::sync_channel(PIPELINE_GROUPS_MAX);
        let syncer_thread = Arc::new(OnceLock::new());
        let applier_shared = Arc::clone(shared);
        let woken = Arc::clone(&syncer_thread);
        let started = std::thread::Builder::new()
            .name("casebook-log-applier".into())
            .spawn(move || run_applier(&applier_shared, &applier_jobs, &woken))
            .and_then(|applier| {
                let syncer_shared = Arc::clone(shared);
                let applier_thread = applier.thread().clone();
                let syncer = std::thread::Builder::new()
                    .name("casebook-log-syncer".into())
                    .spawn(move || {
                        run_syncer(&syncer_shared, durability, &syncer_jobs, &applier_thread);
                    })?;
                // Set before any group is submitted, so every wake-up finds it.
                let _ = syncer_thread.set(syncer.thread().clone());
                Ok((applier, syncer))
            });
        match started {
            Ok((applier, syncer)) => Some(Pipeline {
                to_applier,
                to_syncer,
                applier,
                syncer,
            }),
            Err(err) => {
                shared.fail(format!("could not start the log's threads: {err}"));
                None
            }
        }
    }

    /// Hands a group to the syncer and its index entries to the applier;
    /// `false` if the pipeline has stopped.
    pub fn submit(&self, job: GroupJob, entries: Option<IndexEntries>) -> bool {
        let sequence = job.written.as_ref().map(|written| written.sequence);
        if self.to_syncer.send(job).is_err() {
            return false;
        }
        match (sequence, entries) {
            (Some(sequence), Some(entries)) => self.to_applier.send((sequence, entries)).is_ok(),
            _ => true,
        }
    }

    /// Lets both stages finish what they hold, then waits for them.
    pub fn finish(self) {
        drop(self.to_applier);
        drop(self.to_syncer);
        for (name, thread) in [("applier", self.applier), ("syncer", self.syncer)] {
            if thread.join().is_err() {
                tracing::error!("log {name} thread panicked");
            }
        }
    }
}

fn refuse(answers: Vec<Answer>, reason: &str) {
    for (reply, _) in answers {
        let _ = reply.send(Err(LogError::Unavailable(reason.to_owned())));
    }
}

/// Indexes the groups in order, every written group it holds at once, and
/// wakes the syncer after each round.
fn run_applier(shared: &Shared, jobs: &Receiver<(u64, IndexEntries)>, syncer: &OnceLock<Thread>) {
    let mut held = VecDeque::new();
    loop {
        if held.is_empty() {
            match jobs.recv() {
                Ok(job) => held.push_back(job),
                Err(_) => return,
            }
        }
        held.extend(jobs.try_iter());
        let Some(&(first, _)) = held.front() else {
            continue;
        };
        wait_for(shared, Shared::written_sequence, first);
        let written = shared.written_sequence();
        let mut groups = Vec::new();
        let mut last = first;
        while held
            .front()
            .is_some_and(|(sequence, _)| *sequence <= written)
        {
            if let Some((sequence, entries)) = held.pop_front() {
                groups.push(entries);
                last = sequence;
            }
        }
        if shared.failure().is_none() {
            match index_groups(&shared.tree, &shared.heads, groups) {
                Ok(()) => shared.publish_applied(last),
                Err(err) => {
                    tracing::error!(error = %err, "indexing a group failed; the log stops accepting appends");
                    shared.fail(err.to_string());
                }
            }
        } else {
            // The log has failed: nothing more is indexed or answered.
            held.clear();
        }
        if let Some(syncer) = syncer.get() {
            syncer.unpark();
        }
    }
}

/// Waits until the other stage has reached group `sequence` (as `reached`
/// tells), or the log failed. The other stage unparks this thread.
fn wait_for(shared: &Shared, reached: fn(&Shared) -> u64, sequence: u64) {
    while reached(shared) < sequence && shared.failure().is_none() {
        std::thread::park_timeout(STAGE_CHECK_INTERVAL);
    }
}

/// Writes and fsyncs whatever groups are waiting, waits for their index,
/// then answers their callers.
fn run_syncer(
    shared: &Shared,
    durability: Durability,
    jobs: &Receiver<GroupJob>,
    applier: &Thread,
) {
    while let Ok(first) = jobs.recv() {
        let waiting = gather(first, durability, jobs);
        let synced = shared.failure().map_or_else(
            || sync(shared, &waiting, applier),
            |reason| Err(LogError::Unavailable(reason)),
        );
        if let Err(err) = &synced {
            if !matches!(err, LogError::Unavailable(_)) {
                tracing::error!(error = %err, "writing the records failed; the log stops accepting appends");
                // Failing first also releases the applier waiting for the write.
                shared.fail(err.to_string());
            }
        }
        if let Some(last) = waiting
            .iter()
            .filter_map(|job| job.written.as_ref())
            .map(|written| written.sequence)
            .max()
        {
            wait_for(shared, Shared::applied_sequence, last);
        }
        let synced = match (synced, shared.failure()) {
            (Ok(()), Some(reason)) => Err(LogError::Unavailable(reason)),
            (synced, _) => synced,
        };
        match synced {
            Ok(()) => answer(shared, waiting),
            Err(err) => {
                waiting
                    .into_iter()
                    .for_each(|job| refuse(job.answers, &err.to_string()));
            }
        }
    }
}

/// Publishes what a successful sync made durable and answers its callers.
fn answer(shared: &Shared, waiting: Vec<GroupJob>) {
    if waiting.iter().any(|job| job.written.is_some()) {
        let len = waiting
            .iter()
            .map(|job| job.len_after)
            .max()
            .unwrap_or_default();
        count(shared, &waiting, len);
        shared.publish_durable_len(len);
    }
    let answered: u64 = waiting.iter().map(|job| job.answers.len() as u64).sum();
    shared
        .counters
        .appends_answered
        .fetch_add(answered, Ordering::Relaxed);
    for (reply, outcome) in waiting.into_iter().flat_map(|job| job.answers) {
        // The caller may have gone away; the events are durable regardless.
        let _ = reply.send(outcome);
    }
}

/// The groups one sync covers: `first`, whatever else is waiting, and in
/// [`Durability::Batched`] every group that arrives within the window.
fn gather(first: GroupJob, durability: Durability, jobs: &Receiver<GroupJob>) -> Vec<GroupJob> {
    let mut waiting = vec![first];
    if let Durability::Batched(window) = durability {
        let deadline = Instant::now() + window;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match jobs.recv_timeout(left) {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
    }
    waiting.extend(jobs.try_iter());
    waiting
}

/// Counts what a sync made durable.
fn count(shared: &Shared, synced: &[GroupJob], len_after: u64) {
    let counters = &shared.counters;
    let before = shared.durable_len();
    counters
        .appended_events
        .fetch_add(len_after.saturating_sub(before), Ordering::Relaxed);
    let groups = synced.iter().filter(|job| job.written.is_some()).count() as u64;
    counters.groups.fetch_add(groups, Ordering::Relaxed);
    counters.syncs.fetch_add(1, Ordering::Relaxed);
}

/// Writes the waiting groups to the records file with one write, lets the
/// applier index them, then makes them durable with one `fdatasync`. The
/// groups are contiguous: each starts where the last ends.
fn sync(shared: &Shared, waiting: &[GroupJob], applier: &Thread) -> Result<()> {
    let written: Vec<&WrittenGroup> = waiting
        .iter()
        .filter_map(|job| job.written.as_ref())
        .collect();
    let (Some(first), Some(last)) = (written.first(), written.last()) else {
        return Ok(());
    };
    if let [only] = written.as_slice() {
        shared.records.write_at(only.records_offset, &only.bytes)?;
    } else {
        let bytes = written.iter().flat_map(|group| group.bytes.iter().copied());
        shared
            .records
            .write_at(first.records_offset, &bytes.collect::<Vec<u8>>())?;
    }
    shared.publish_written(last.sequence);
    applier.unpark();
    shared.records.sync()?;
    Ok(())
}
