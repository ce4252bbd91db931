//! Bringing the indexes up to the records file when the log opens.
//!
//! Appends are acknowledged once their group is durable in the records file
//! ([`crate::records`]); sled's indexes are written behind it and never
//! waited for, so after a crash sled may hold fewer groups than the file.
//! Opening reads every whole group past the last one sled indexes, checks
//! each record exactly as a restore does (next position, chain, stream
//! revision, new id, hash) and that re-staging it gives back the very same
//! bytes, and indexes it again. sled writes a group's entries one by one
//! (not as one batch: [`crate::staging::index_groups`]) and recovers a
//! prefix of its writes, so it may also hold some entries of the groups
//! after its head entry: indexing those groups again rewrites them with
//! the same values. What a crash left past the last whole group (a write
//! cut short, never acknowledged) is cut off.
//!
//! sled may also hold *more* than the file, after a power cut in which
//! sled's own writes reached the disk and the last group's did not (nothing
//! of that group was acknowledged). Then the index is rebuilt from the
//! records file from scratch; likewise when `Mindexing` shows that sled
//! began to index a group the file lacks (some of its entries may be in
//! sled, and its positions will be given to other events). An index ahead
//! of a file that lacks more than a power cut can take (it is missing, or
//! was cut short by hand) is a lost log: start-up stops. A whole group that
//! does not check out is damage, not a crash, and stops start-up with a
//! `Corrupt` error, unless only the reserve's zeros follow it
//! ([`crate::records`]): a crash can tear a group written over the
//! reserve, where the file already had its length, and that group is cut
//! off like any torn tail. Zeros past the last whole group are the reserve,
//! not a torn tail, and are cut off without a warning.

use crate::error::{LogError, Result};
use crate::heads::StreamHeads;
use crate::keys::{self, HeadEntry};
use crate::known::Known;
use crate::pipeline::PIPELINE_GROUPS_MAX;
use crate::reader::Reader;
use crate::record::{decode_stored, GENESIS_HASH};
use crate::records::{GroupRead, RecordsFile, GROUP_HEADER_BYTES};
use crate::staging::{index_groups, Pending, Staging};
use crate::store::APPEND_EVENTS_MAX;
use crate::writer::{WriterState, GROUP_EVENTS_MAX};
use std::sync::Arc;

/// The writer's starting point once the indexes hold every whole group.
pub(crate) struct Recovered {
    pub state: WriterState,
    pub known: Known,
    /// Every stream's head, as indexed.
    pub heads: StreamHeads,
    /// What the recovery did, for [`crate::LogStats`].
    pub report: RecoveryReport,
}

/// What opening the log had to do to bring the index up to the records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Events indexed again from the records file (the index lagged).
    pub reindexed_events: u64,
    /// Whether the whole index was rebuilt because it held events the
    /// records file lacked (only a power cut can cause that).
    pub index_rebuilt: bool,
    /// Bytes cut off the end of the records file (a group a crash tore).
    pub torn_bytes_cut: u64,
}

fn corrupt(position: u64, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        position,
        reason: reason.into(),
    }
}

/// Indexes every whole group of the records file that sled lacks, and cuts
/// off a torn tail.
pub(crate) fn recover(tree: &sled::Tree, records: &Arc<RecordsFile>) -> Result<Recovered> {
    check_format(tree)?;
    let file_len = records.len()?;
    let mut report = RecoveryReport::default();
    let indexing_end = indexing_end(tree)?;
    let indexed = if indexing_end == REBUILDING {
        tracing::warn!("the last open stopped while rebuilding the index: rebuilding it again");
        None
    } else {
        indexed_state(tree)?
    };
    let mut log = match indexed {
        Some(state) => match indexed_log(records, state, file_len)? {
            Some(log) => log,
            None => {
                refuse_a_lost_records_file(records, state.next_position, file_len)?;
                tracing::warn!(
                    indexed_events = state.next_position,
                    "the index holds events the records file lacks (a power cut before their \
                     sync; none was acknowledged): rebuilding the index from the records file"
                );
                start_over(tree, &mut report)?
            }
        },
        None if indexing_end == REBUILDING => start_over(tree, &mut report)?,
        None => IndexedLog::empty(),
    };
    let indexed = log.state.next_position;
    replay_whole_groups(tree, records, file_len, &mut log)?;
    // After a rebuild the mark is from before it and the index is new.
    if !report.index_rebuilt && indexing_end > log.state.records_end {
        tracing::warn!(
            indexing_end,
            records_end = log.state.records_end,
            "the index holds part of a group the records file lacks (a power cut before its \
             sync; it was not acknowledged): rebuilding the index from the records file"
        );
        log = start_over(tree, &mut report)?;
        replay_whole_groups(tree, records, file_len, &mut log)?;
    }
    if report.index_rebuilt && log.state.next_position == 0 {
        // No group replaced the mark: the file holds no whole group.
        tree.remove(keys::META_INDEXING)?;
    }
    let IndexedLog {
        state,
        known,
        heads,
    } = log;
    let replayed_from = if report.index_rebuilt { 0 } else { indexed };
    report.reindexed_events = state.next_position - replayed_from;
    if report.reindexed_events > 0 {
        tracing::info!(
            events = report.reindexed_events,
            "indexed the records the last run had not indexed"
        );
    }
    if state.records_end < file_len {
        // Past the last whole group: the reserve of zeros, and anything a
        // crash tore before it.
        report.torn_bytes_cut = records.data_after(state.records_end)?;
        if report.torn_bytes_cut > 0 {
            tracing::warn!(
                bytes = report.torn_bytes_cut,
                "cutting off what a crash left past the last whole group (never acknowledged)"
            );
        }
        records.truncate(state.records_end)?;
    }
    Ok(Recovered {
        state,
        known,
        heads,
        report,
    })
}

/// The log as far as sled indexes it, while recovery brings it up to the
/// records file.
struct IndexedLog {
    state: WriterState,
    known: Known,
    heads: StreamHeads,
}

impl IndexedLog {
    fn empty() -> Self {
        IndexedLog {
            state: empty_state(),
            known: Known::empty(),
            heads: StreamHeads::default(),
        }
    }
}

/// `Mindexing` while the index is emptied for a rebuild: an open after a
/// crash in the middle (some old entries gone, some not) rebuilds again.
/// The rebuild's first indexed groups replace it.
const REBUILDING: u64 = u64::MAX;

/// Empties the index, to build it again from the records file. sled
/// recovers a prefix of its writes, so the mark written first is there
/// whenever any entry is gone.
fn start_over(tree: &sled::Tree, report: &mut RecoveryReport) -> Result<IndexedLog> {
    tree.insert(keys::META_INDEXING, &REBUILDING.to_be_bytes())?;
    for key in tree.iter().keys() {
        let key = key?;
        if key != keys::META_INDEXING {
            tree.remove(key)?;
        }
    }
    tree.insert(keys::META_FORMAT, &[keys::FORMAT])?;
    report.index_rebuilt = true;
    Ok(IndexedLog::empty())
}

/// The log as the index holds it, if the records file holds every group
/// the index does.
fn indexed_log(
    records: &RecordsFile,
    state: WriterState,
    file_len: u64,
) -> Result<Option<IndexedLog>> {
    if state.records_end > file_len {
        return Ok(None);
    }
    let loaded = Known::load(records, state.records_end, state.next_position)?;
    Ok(loaded.map(|(known, heads)| IndexedLog {
        state,
        known,
        heads,
    }))
}

/// Indexes every whole group of the records file past what `log` holds.
/// A group that does not check out and has only the reserve's zeros after
/// it is one a crash tore (written over the reserve, not all of it
/// written out): it ends the log, and is cut off.
fn replay_whole_groups(
    tree: &sled::Tree,
    records: &Arc<RecordsFile>,
    file_len: u64,
    log: &mut IndexedLog,
) -> Result<()> {
    while let GroupRead::Whole(body) = records.group_at(log.state.records_end, file_len)? {
        let reader = Reader {
            tree,
            records,
            heads: &log.heads,
            len: log.state.next_position,
        };
        let group_end = log.state.records_end + GROUP_HEADER_BYTES + body.len() as u64;
        match replay_group(reader, &mut log.state, &mut log.known, &body) {
            Ok(()) => {}
            Err(LogError::Corrupt { position, reason })
                if group_end < file_len && records.data_after(group_end)? == 0 =>
            {
                tracing::warn!(
                    position,
                    %reason,
                    "the last group in the records file was torn by a crash (never acknowledged)"
                );
                break;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Where the last groups the index began to write end in the records file
/// (`Mindexing`), or 0.
fn indexing_end(tree: &sled::Tree) -> Result<u64> {
    match tree.get(keys::META_INDEXING)? {
        None => Ok(0),
        Some(value) => value
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| corrupt(0, "the indexing entry is malformed")),
    }
}

/// The most events a power cut can take from the records file while the
/// index keeps them: the groups written but not yet synced, at most the
/// syncer's queue and the round it is in, each of at most a full group
/// plus one append.
const UNSYNCED_EVENTS_MAX: u64 =
    ((PIPELINE_GROUPS_MAX + 2) * (GROUP_EVENTS_MAX + APPEND_EVENTS_MAX)) as u64;

/// Refuses to rebuild the index from a records file that lost more than a
/// power cut can take (deleted, or cut short by hand): that is a lost log,
/// and rebuilding would quietly serve what is left of it.
fn refuse_a_lost_records_file(records: &RecordsFile, indexed: u64, file_len: u64) -> Result<()> {
    if records.was_created() {
        records.discard_if_created()?;
        return Err(LogError::Invalid(format!(
            "the index holds {indexed} events but the records file ({}) was missing: \
             restore it from a backup (or import an export into an empty directory)",
            crate::records::FILE_NAME
        )));
    }
    let mut in_file = 0;
    let mut offset = 0;
    while let GroupRead::Whole(body) = records.group_at(offset, file_len)? {
        offset += GROUP_HEADER_BYTES + body.len() as u64;
        in_file += keys::record_block_spans(&body).map_or(0, |spans| spans.len() as u64);
    }
    if indexed.saturating_sub(in_file) > UNSYNCED_EVENTS_MAX {
        return Err(corrupt(
            in_file,
            format!(
                "the records file holds {in_file} events but the index {indexed}: more than \
                 a power cut can lose; restore the records file from a backup"
            ),
        ));
    }
    Ok(())
}

/// Refuses a tree in a layout this code does not read, upgrades one in
/// layout 2, and marks a new one with this layout.
fn check_format(tree: &sled::Tree) -> Result<()> {
    match tree.get(keys::META_FORMAT)? {
        Some(format) if format.as_ref() == [keys::FORMAT] => Ok(()),
        Some(format) if format.as_ref() == [keys::FORMAT_2] => upgrade_from_layout_2(tree),
        Some(format) => Err(LogError::Invalid(format!(
            "this log is in layout {format:?}, which this casebook does not read (it reads layout {})",
            keys::FORMAT
        ))),
        None if tree.get(keys::META_HEAD)?.is_some() => Err(LogError::Invalid(
            "this log keeps its records inside sled (layout 1, before the records file): \
             export it with the casebook that wrote it (`casebook export`) and import the export \
             with this one (`casebook import`)"
                .into(),
        )),
        None => {
            tree.insert(keys::META_FORMAT, &[keys::FORMAT])?;
            Ok(())
        }
    }
}

/// Layout 2 differs only by its stream heads in sled (`H` keys): heads
/// are now built from the records file on every open, so they are dropped.
fn upgrade_from_layout_2(tree: &sled::Tree) -> Result<()> {
    let mut dropped = 0u64;
    for key in tree.scan_prefix([keys::LAYOUT_2_STREAM_HEAD]).keys() {
        tree.remove(key?)?;
        dropped += 1;
    }
    tree.insert(keys::META_FORMAT, &[keys::FORMAT])?;
    tree.flush()?;
    tracing::info!(
        dropped,
        "upgraded the log's index from layout 2: stream heads now live in memory"
    );
    Ok(())
}

fn empty_state() -> WriterState {
    WriterState {
        next_position: 0,
        last_hash: GENESIS_HASH,
        last_recorded_micros: i64::MIN,
        records_end: 0,
    }
}

/// The writer state sled's indexes describe, if they hold any event: the
/// head entry, and the end of the last record block it indexes.
fn indexed_state(tree: &sled::Tree) -> Result<Option<WriterState>> {
    let Some(value) = tree.get(keys::META_HEAD)? else {
        return Ok(None);
    };
    let head: HeadEntry =
        keys::parse_head_entry(&value).ok_or_else(|| corrupt(0, "the head entry is malformed"))?;
    let location = tree
        .get(keys::record_block(head.position))?
        .and_then(|value| keys::parse_block_location(&value))
        .ok_or_else(|| corrupt(head.position, "the last record block's entry is missing"))?;
    Ok(Some(WriterState {
        next_position: head.position + 1,
        last_hash: head.hash,
        last_recorded_micros: head.recorded_at_micros,
        records_end: location.0 + location.1 as u64,
    }))
}

/// Checks one whole group against the log so far (`log`) and indexes it.
fn replay_group(
    log: Reader<'_>,
    state: &mut WriterState,
    known: &mut Known,
    body: &[u8],
) -> Result<()> {
    let first = state.next_position;
    let spans = keys::record_block_spans(body)
        .ok_or_else(|| corrupt(first, "a group in the records file is not framed records"))?;
    let pending = Pending::default();
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut staging = Staging::new(log, &pending, known, *state, epoch);
    staging.keep_recorded_micros(state.last_recorded_micros);
    for (index, span) in spans.into_iter().enumerate() {
        let position = first + index as u64;
        staging.restore(decode_stored(position, &body[span])?)?;
    }
    let finished = staging.finish();
    if finished.bytes.get(GROUP_HEADER_BYTES as usize..) != Some(body) {
        return Err(corrupt(
            first,
            "a group in the records file differs from what its records stage to",
        ));
    }
    index_groups(log.tree, log.heads, vec![finished.entries])?;
    known.remember(&finished.overlay);
    *state = finished.state;
    Ok(())
}
