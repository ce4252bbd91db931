//! The two stages after the writer: apply, then make durable.
//!
//! The writer hands each decided group to the *applier*, which writes its
//! batch into sled (one atomic `apply_batch`) and publishes the group's
//! sequence number as applied; the *syncer* then flushes sled and fsyncs its
//! files, covering every group applied so far, and only then answers the
//! callers and publishes the new durable length. Groups move through both
//! stages in order, so answers go out in commit order.
//!
//! The writer hands a group to the applier only when the applier takes it
//! (a rendezvous): while the applier writes one group, the writer holds the
//! next, and every append that arrives meanwhile waits in the request queue
//! and joins one larger group, instead of the writer deciding many small
//! groups that queue behind the applier (each `apply_batch` costs about as
//! much for one append as for ten). At 64 writers of one event this took the
//! log from 16,400–18,200 to 22,800–26,800 events/s (`casebook-bench log
//! --quick`, alternated). The queue to the syncer holds at most
//! [`PIPELINE_GROUPS_MAX`] groups, which one sync covers together; a slow
//! disk holds back the applier, the writer and, through the request
//! queue, the appenders.
//!
//! In [`Durability::Batched`] the syncer lingers for a window after the
//! first group it receives, so that one sync covers every group applied in
//! it; callers are still answered only after that sync.
//!
//! Any failure poisons the log ([`Shared::fail`]): every group behind it was
//! decided assuming it would land, so they are all refused.

use crate::durability::DurableFiles;
use crate::error::{LogError, Result};
use crate::staging::PendingGroup;
use crate::store::{Durability, Shared};
use crate::writer::AppendOutcome;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::oneshot;

/// Groups that may wait for the syncer. Bounds memory when the disk is
/// slow; deep enough that one sync covers every group applied during the
/// last one.
const PIPELINE_GROUPS_MAX: usize = 8;

/// Groups that may wait for the applier besides the one the writer holds:
/// none (see the module docs).
const APPLIER_QUEUE_GROUPS: usize = 0;

/// A caller waiting for its answer, and the answer.
pub(crate) type Answer = (
    oneshot::Sender<Result<AppendOutcome>>,
    Result<AppendOutcome>,
);

/// A decided group on its way to disk.
pub(crate) struct GroupJob {
    /// What to write, if the group accepted anything.
    pub batch: Option<sled::Batch>,
    /// What the group changes, which the writer keeps until it is applied.
    pub overlay: Option<PendingGroup>,
    /// Every caller of the group with its answer, sent once durable.
    pub answers: Vec<Answer>,
    /// The number of events in the log once this group is durable.
    pub len_after: u64,
}

/// The applier and syncer threads and the queues into them.
pub(crate) struct Pipeline {
    to_applier: SyncSender<GroupJob>,
    applier: JoinHandle<()>,
    syncer: JoinHandle<()>,
}

impl Pipeline {
    /// Starts both stages; `None` (with the log failed) if a thread cannot start.
    pub fn start(
        shared: &Arc<Shared>,
        files: DurableFiles,
        durability: Durability,
    ) -> Option<Pipeline> {
        let (to_applier, applier_jobs) = std::sync::mpsc::sync_channel(APPLIER_QUEUE_GROUPS);
        let (to_syncer, syncer_jobs) = std::sync::mpsc::sync_channel(PIPELINE_GROUPS_MAX);
        let syncer_shared = Arc::clone(shared);
        let syncer = std::thread::Builder::new()
            .name("casebook-log-syncer".into())
            .spawn(move || run_syncer(&syncer_shared, files, durability, &syncer_jobs));
        let applier_shared = Arc::clone(shared);
        let applier = std::thread::Builder::new()
            .name("casebook-log-applier".into())
            .spawn(move || run_applier(&applier_shared, &applier_jobs, &to_syncer));
        match (applier, syncer) {
            (Ok(applier), Ok(syncer)) => Some(Pipeline {
                to_applier,
                applier,
                syncer,
            }),
            (applier, syncer) => {
                let reason = applier
                    .err()
                    .or(syncer.err())
                    .map(|err| err.to_string())
                    .unwrap_or_default();
                shared.fail(format!("could not start the log's threads: {reason}"));
                None
            }
        }
    }

    /// Hands a group to the applier; `false` if the pipeline has stopped.
    pub fn submit(&self, job: GroupJob) -> bool {
        self.to_applier.send(job).is_ok()
    }

    /// Lets both stages finish what they hold, then waits for them.
    pub fn finish(self) {
        drop(self.to_applier);
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

/// Applies each group's batch to sled, in order, and passes it on.
fn run_applier(shared: &Shared, jobs: &Receiver<GroupJob>, to_syncer: &SyncSender<GroupJob>) {
    while let Ok(mut job) = jobs.recv() {
        if let Some(reason) = shared.failure() {
            refuse(job.answers, &reason);
            continue;
        }
        if let Some(batch) = job.batch.take() {
            if let Err(err) = shared.tree.apply_batch(batch) {
                tracing::error!(error = %err, "applying a group failed; the log stops accepting appends");
                shared.fail(err.to_string());
                refuse(job.answers, &err.to_string());
                continue;
            }
            job.batch = Some(sled::Batch::default()); // marks "wrote" for the syncer
            if let Some(overlay) = &job.overlay {
                shared.publish_applied(overlay.sequence);
            }
        }
        if to_syncer.send(job).is_err() {
            break;
        }
    }
}

/// Flushes and fsyncs whatever groups are waiting, then answers their callers.
fn run_syncer(
    shared: &Shared,
    mut files: DurableFiles,
    durability: Durability,
    jobs: &Receiver<GroupJob>,
) {
    while let Ok(first) = jobs.recv() {
        let waiting = gather(first, durability, jobs);
        if let Some(reason) = shared.failure() {
            waiting
                .into_iter()
                .for_each(|job| refuse(job.answers, &reason));
            continue;
        }
        let needs_sync = waiting.iter().any(|job| job.batch.is_some());
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
            Err(err) => {
                tracing::error!(error = %err, "sync failed; the log stops accepting appends");
                shared.fail(err.to_string());
                waiting
                    .into_iter()
                    .for_each(|job| refuse(job.answers, &err.to_string()));
            }
        }
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
    let groups = synced.iter().filter(|job| job.batch.is_some()).count() as u64;
    counters.groups.fetch_add(groups, Ordering::Relaxed);
    counters.syncs.fetch_add(1, Ordering::Relaxed);
}

fn sync(shared: &Shared, files: &mut DurableFiles) -> Result<()> {
    shared.db.flush()?;
    files.sync()?;
    Ok(())
}
