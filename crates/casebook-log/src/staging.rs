//! One group commit's decisions, turned into the group's bytes for the
//! records file and its index entries.
//!
//! The writer decides each append of a group in turn against the log as it
//! stands *plus* what the group has staged so far (stream heads and event
//! ids live in overlays here), so two appends in one group see each other.
//! A refused append stages nothing. `finish` adds the per-group keys (where
//! each record block lies in the records file, stream heads, index blocks,
//! the log head) and hands back the group's bytes and its index entries.

use crate::error::{LogError, Result};
use crate::heads::StreamHeads;
use crate::keys::{self, HeadEntry, IdEntry, StreamHead};
use crate::known::Known;
use crate::reader::Reader;
use crate::record::{category_of, seal, NewEvent, Position, PreparedEvent, RecordedEvent};
use crate::records;
use crate::writer::{AppendOutcome, AppendStatus, EventPlace, PreparedPart, WriterState};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use uuid::Uuid;

/// What one decided group changes, kept by the writer until the applier has
/// written it into sled: later groups must see it before sled does.
#[derive(Debug, Clone)]
pub(crate) struct PendingGroup {
    /// The log's length once the group is in it.
    len_after: u64,
    ids: HashMap<Uuid, IdEntry>,
    heads: HashMap<String, StreamHead>,
}

/// The groups decided but not yet applied, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    groups: VecDeque<PendingGroup>,
}

impl PendingGroup {
    /// The ids the group staged, with their positions.
    pub(crate) fn ids(&self) -> impl Iterator<Item = (&Uuid, Position)> {
        self.ids.iter().map(|(id, entry)| (id, entry.position))
    }
}

impl Pending {
    pub(crate) fn push(&mut self, group: PendingGroup) {
        self.groups.push_back(group);
    }

    /// Forgets the groups that are durable (in the records file and in
    /// sled's indexes), so readable through a [`Reader`] of `durable_len`.
    pub(crate) fn prune(&mut self, durable_len: u64) {
        while self
            .groups
            .front()
            .is_some_and(|group| group.len_after <= durable_len)
        {
            self.groups.pop_front();
        }
    }

    fn id(&self, id: &Uuid) -> Option<IdEntry> {
        self.groups
            .iter()
            .rev()
            .find_map(|group| group.ids.get(id).copied())
    }

    fn head(&self, stream: &str) -> Option<&StreamHead> {
        self.groups
            .iter()
            .rev()
            .find_map(|group| group.heads.get(stream))
    }
}

/// One group's index entries: its sled entries, in the order they were
/// staged (its head entry last), and the stream heads it changed. Groups
/// are indexed alone or several at once ([`index_groups`]).
#[derive(Debug, Default)]
pub(crate) struct IndexEntries {
    entries: Vec<(sled::IVec, sled::IVec)>,
    heads: Vec<(String, StreamHead)>,
    /// The records file's length once the group is in it.
    records_end: u64,
}

impl IndexEntries {
    fn insert(&mut self, key: impl Into<sled::IVec>, value: impl Into<sled::IVec>) {
        self.entries.push((key.into(), value.into()));
    }
}

/// Indexes groups, oldest first, then updates their stream heads (after
/// the entries, so that a reader who finds a head finds the full chunks
/// before it in sled; readers never look past the durable length, so the
/// entries need not appear at once).
///
/// The entries are plain sled writes, not one atomic batch: sled writes its
/// buffer to disk around every batch, and the records file's `fdatasync`
/// queued behind those writes (with batches, 64 writers of one event each
/// appended a fifth fewer events). What keeps a crash harmless is the order: first
/// `Mindexing`, where the last of the groups ends in the records file, then
/// each group's entries with its head entry last. sled recovers a prefix of
/// its writes, so a crash in the middle leaves entries of groups past the
/// head entry that indexing those groups again from the records file
/// rewrites with the very same values; if the file lacks any of them (only
/// a power cut does that), `Mindexing` says so and recovery rebuilds the
/// index ([`crate::recovery`]).
pub(crate) fn index_groups(
    tree: &sled::Tree,
    heads: &StreamHeads,
    groups: Vec<IndexEntries>,
) -> Result<()> {
    let Some(last) = groups.last() else {
        return Ok(());
    };
    tree.insert(keys::META_INDEXING, &last.records_end.to_be_bytes())?;
    let mut changed = Vec::new();
    for group in groups {
        for (key, value) in group.entries {
            tree.insert(key, value)?;
        }
        changed.extend(group.heads);
    }
    heads.update(changed);
    Ok(())
}

/// A decided group: see [`Staging::finish`].
pub(crate) struct FinishedGroup {
    /// The group as it goes into the records file.
    pub bytes: Vec<u8>,
    /// Its index entries, for sled.
    pub entries: IndexEntries,
    /// The writer's state once the group is in the log.
    pub state: WriterState,
    /// What the group changes, for the groups decided after it.
    pub overlay: PendingGroup,
}

/// One group's decisions so far: its index entries and what it changes.
pub(crate) struct Staging<'a> {
    /// The log as far as it is durable and indexed: where a repeated id's
    /// record is read from.
    log: Reader<'a>,
    /// Groups decided before this one that sled may not hold yet.
    pending: &'a Pending,
    /// What the writer remembers of every group decided before this one.
    known: &'a Known,
    entries: IndexEntries,
    state: WriterState,
    recorded_at: DateTime<Utc>,
    /// Streams touched by this group, with their head as staged
    /// (`None`: looked up and found absent).
    heads: HashMap<String, Option<StreamHead>>,
    /// Streams whose head this group changed (written once in `finish`).
    changed_heads: Vec<String>,
    /// Event ids staged by this group.
    ids: HashMap<Uuid, IdEntry>,
    /// Positions staged per category and per event type.
    index_blocks: BTreeMap<(u8, String), Vec<Position>>,
    /// Records not yet written as a block key, their count, and the last
    /// one's position (the block's key).
    open_block: Vec<u8>,
    open_block_records: usize,
    open_block_last: Position,
    staged_events: usize,
    /// The group as it goes into the records file: header, then blocks.
    group_bytes: Vec<u8>,
}

impl<'a> Staging<'a> {
    pub(crate) fn new(
        log: Reader<'a>,
        pending: &'a Pending,
        known: &'a Known,
        mut state: WriterState,
        recorded_at: DateTime<Utc>,
    ) -> Self {
        state.last_recorded_micros = recorded_at.timestamp_micros();
        let mut group_bytes = Vec::new();
        records::begin_group(&mut group_bytes);
        Staging {
            log,
            pending,
            known,
            entries: IndexEntries::default(),
            state,
            recorded_at,
            heads: HashMap::new(),
            changed_heads: Vec::new(),
            ids: HashMap::new(),
            index_blocks: BTreeMap::new(),
            open_block: Vec::new(),
            open_block_records: 0,
            open_block_last: 0,
            staged_events: 0,
            group_bytes,
        }
    }

    /// Keeps the last record's time when a restore starts a new batch.
    pub(crate) fn keep_recorded_micros(&mut self, micros: i64) {
        self.state.last_recorded_micros = micros;
    }

    pub(crate) fn has_staged(&self) -> bool {
        self.staged_events > 0
    }

    /// The group's bytes for the records file, the index entries to apply,
    /// the writer state once it is durable, and what the group changes (for
    /// the groups decided before sled holds it).
    pub(crate) fn finish(mut self) -> FinishedGroup {
        self.close_block();
        records::seal_group(&mut self.group_bytes);
        self.state.records_end += self.group_bytes.len() as u64;
        let mut changed = HashMap::new();
        for stream in &self.changed_heads {
            if let Some(Some(head)) = self.heads.get(stream) {
                self.entries.heads.push((stream.clone(), head.clone()));
                changed.insert(stream.clone(), head.clone());
            }
        }
        for ((tag, name), positions) in &self.index_blocks {
            for block in positions.chunks(keys::INDEX_BLOCK_POSITIONS_MAX) {
                let last = block.last().copied().unwrap_or_default();
                self.entries.insert(
                    keys::named_number(*tag, name, last),
                    keys::positions_value(block),
                );
            }
        }
        let head = HeadEntry {
            position: self.state.next_position - 1,
            hash: self.state.last_hash,
            recorded_at_micros: self.state.last_recorded_micros,
        };
        self.entries
            .insert(keys::META_HEAD, &keys::head_entry(&head)[..]);
        self.entries.records_end = self.state.records_end;
        let overlay = PendingGroup {
            len_after: self.state.next_position,
            ids: self.ids,
            heads: changed,
        };
        FinishedGroup {
            bytes: self.group_bytes,
            entries: self.entries,
            state: self.state,
            overlay,
        }
    }

    /// Stages a record exactly as it was exported (restore): it must be the
    /// log's next position, continue the chain, be its stream's next
    /// revision, not go back in time, carry a new id, and hash to its hash.
    pub(crate) fn restore(&mut self, record: RecordedEvent) -> Result<()> {
        let position = record.position;
        let refuse = |reason: &str| {
            Err(LogError::Corrupt {
                position,
                reason: reason.to_owned(),
            })
        };
        if position != self.state.next_position {
            return refuse("is not the next position");
        }
        if record.prev_hash != self.state.last_hash {
            return refuse("does not follow the previous record's hash");
        }
        let micros = record.recorded_at.timestamp_micros();
        if micros < self.state.last_recorded_micros {
            return refuse("was recorded before the record it follows");
        }
        let actual = self
            .stream_head(&record.stream)
            .map(|head| head.last_revision);
        if record.revision != actual.map_or(0, |revision| revision + 1) {
            return refuse("is not its stream's next revision");
        }
        if self.find_id(record.id)?.is_some() {
            return refuse("repeats an event id");
        }
        let prepared = prepare_again(&record)?;
        self.recorded_at = record.recorded_at;
        self.state.last_recorded_micros = micros;
        let part = PreparedPart {
            stream: record.stream,
            expected: crate::ExpectedRevision::Any,
            events: vec![prepared],
        };
        self.stage_part(part, &mut Vec::new());
        if self.state.last_hash != record.hash {
            return refuse("does not match its hash");
        }
        Ok(())
    }

    /// Decides one append; stages it if accepted. A refusal stages nothing.
    pub(crate) fn try_append(&mut self, parts: Vec<PreparedPart>) -> Result<AppendOutcome> {
        if let Some(repeat) = self.find_repeat(&parts)? {
            return Ok(repeat);
        }
        for part in &parts {
            let actual = self
                .stream_head(&part.stream)
                .map(|head| head.last_revision);
            if !part.expected.is_met_by(actual) {
                return Err(LogError::WrongExpectedRevision {
                    stream: part.stream.clone(),
                    expected: part.expected,
                    actual,
                });
            }
        }
        let mut places = Vec::new();
        for part in parts {
            self.stage_part(part, &mut places);
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
        for part in parts {
            for event in &part.events {
                let Some(entry) = self.find_id(event.id)? else {
                    new_events += 1;
                    continue;
                };
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
        let Some(position) = self.known.position_of(&id) else {
            return Ok(None);
        };
        if let Some(entry) = self.pending.id(&id) {
            return Ok(Some(entry));
        }
        self.id_entry_from_record(id, position).map(Some)
    }

    /// A repeated id's entry, from its durable record.
    fn id_entry_from_record(&self, id: Uuid, position: Position) -> Result<IdEntry> {
        let corrupt = |reason: &str| LogError::Corrupt {
            position,
            reason: format!("the id index entry of event {id} {reason}"),
        };
        let record = self
            .log
            .record(position)?
            .ok_or_else(|| corrupt("points past the log"))?;
        if record.id != id {
            return Err(corrupt("points at another event"));
        }
        Ok(IdEntry {
            position,
            revision: record.revision,
            digest: prepare_again(&record)?.content_digest,
        })
    }

    /// The stream's head as staged, looked up on first use (in the groups
    /// still pending, then in the indexed heads).
    fn stream_head(&mut self, stream: &str) -> Option<&StreamHead> {
        if !self.heads.contains_key(stream) {
            // The groups still pending are newer than what is indexed.
            let head = match self.pending.head(stream) {
                Some(head) => Some(head.clone()),
                None => self.log.heads.get(stream),
            };
            self.heads.insert(stream.to_owned(), head);
        }
        self.heads.get(stream).and_then(Option::as_ref)
    }

    fn stage_part(&mut self, part: PreparedPart, places: &mut Vec<EventPlace>) {
        let category = category_of(&part.stream).to_owned();
        let mut head = self.heads.remove(&part.stream).flatten();
        for event in part.events {
            let position = self.state.next_position;
            let revision = head.as_ref().map_or(0, |head| head.last_revision + 1);
            let id = event.id;
            let entry = IdEntry {
                position,
                revision,
                digest: event.content_digest,
            };
            let mut record = event.place(&part.stream, revision, position, self.recorded_at);
            let stored = seal(&mut record, self.state.last_hash);
            self.add_to_block(&stored, position);
            self.index_blocks
                .entry((keys::CATEGORY, category.clone()))
                .or_default()
                .push(position);
            self.index_blocks
                .entry((keys::EVENT_TYPE, record.event_type))
                .or_default()
                .push(position);
            head = Some(self.advance_head(&part.stream, head, position));
            self.ids.insert(id, entry);
            places.push(EventPlace {
                id,
                stream: part.stream.clone(),
                revision,
                position,
            });
            self.state.last_hash = record.hash;
            self.state.next_position += 1;
            self.staged_events += 1;
        }
        if !self.changed_heads.contains(&part.stream) {
            self.changed_heads.push(part.stream.clone());
        }
        self.heads.insert(part.stream, head);
    }

    /// The stream's head after one more event at `position`; writes the
    /// chunk it fills, if it fills one.
    fn advance_head(
        &mut self,
        stream: &str,
        head: Option<StreamHead>,
        position: Position,
    ) -> StreamHead {
        let revision = head.as_ref().map_or(0, |head| head.last_revision + 1);
        let mut open_chunk = match head {
            Some(head) if revision % keys::STREAM_CHUNK_REVISIONS != 0 => head.open_chunk,
            _ => Vec::new(),
        };
        open_chunk.push(position);
        if open_chunk.len() as u64 == keys::STREAM_CHUNK_REVISIONS {
            let key = keys::named_number(keys::STREAM_CHUNK, stream, keys::chunk_of(revision));
            self.entries.insert(key, keys::positions_value(&open_chunk));
        }
        StreamHead {
            last_revision: revision,
            open_chunk,
        }
    }

    fn add_to_block(&mut self, stored: &[u8], position: Position) {
        keys::push_record(&mut self.open_block, stored);
        self.open_block_records += 1;
        self.open_block_last = position;
        if self.open_block.len() >= keys::RECORD_BLOCK_BYTES_MAX
            || self.open_block_records >= keys::RECORD_BLOCK_RECORDS_MAX
        {
            self.close_block();
        }
    }

    /// Adds the open block to the group's bytes and indexes it under the
    /// position of its last record.
    fn close_block(&mut self) {
        if self.open_block_records == 0 {
            return;
        }
        let offset = self.state.records_end + self.group_bytes.len() as u64;
        let location = keys::block_location(offset, self.open_block.len());
        self.group_bytes.extend_from_slice(&self.open_block);
        self.open_block.clear();
        self.entries
            .insert(&keys::record_block(self.open_block_last)[..], &location[..]);
        self.open_block_records = 0;
    }
}

/// A stored record as it was proposed, prepared again: what its id's
/// content digest is computed from.
fn prepare_again(record: &RecordedEvent) -> Result<PreparedEvent> {
    let data = serde_json::from_slice(&record.data).map_err(|err| LogError::Corrupt {
        position: record.position,
        reason: format!("payload is not JSON: {err}"),
    })?;
    let event = NewEvent {
        id: record.id,
        event_type: record.event_type.clone(),
        schema_version: record.schema_version,
        data,
        metadata: record.metadata.clone(),
    };
    PreparedEvent::new(&record.stream, event)
}
