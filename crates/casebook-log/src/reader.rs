//! Every read of the log: by position, by stream, by category or event
//! type, the lazy whole-log walk, and `verify`.
//!
//! A [`Reader`] is a view of the index tree and the records file bounded by
//! the durable length at the moment it was made: it never returns a record
//! the writer has decided but not yet synced. Every record it returns has been re-checked against its
//! hash, and every run of records against the chain (each record's
//! `prev_hash` is the hash of the one before). Faults are `Corrupt` errors
//! naming the first bad position; nothing damaged is ever served.

use crate::error::{LogError, Result};
use crate::event_store::{Direction, VerifyReport, READ_PAGE_EVENTS_MAX};
use crate::heads::StreamHeads;
use crate::keys::{self, StreamHead};
use crate::read_ahead::{ReadAhead, READ_AHEAD_MIN_EVENTS};
use crate::record::{
    check_stored, decode_checked, decode_stored, Hash, Position, RecordedEvent, GENESIS_HASH,
};
use crate::records::RecordsFile;
use std::ops::Range;
use std::sync::Arc;

/// What a walk first reads of the records file at once (one block at most
/// is 64 KiB).
const WALK_WINDOW_BYTES_FIRST: usize = 64 * 1024;
/// The most a walk reads of the records file at once.
const WALK_WINDOW_BYTES_MAX: usize = 1024 * 1024;
/// Windows a walk keeps for reuse: enough that one is free again while the
/// reader still holds blocks of the others.
const WALK_SPARE_WINDOWS: usize = 4;

/// The log as far as it is durable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub tree: &'a sled::Tree,
    /// Where the records themselves are.
    pub records: &'a Arc<RecordsFile>,
    /// Every stream's head; positions in them past `len` are skipped.
    pub heads: &'a StreamHeads,
    /// Records at positions `0..len` are durable; nothing past is read.
    pub len: u64,
}

fn corrupt(position: Position, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        position,
        reason: reason.into(),
    }
}

/// One record block as read from the records file.
#[derive(Clone)]
pub(crate) struct Block {
    value: Arc<Vec<u8>>,
    /// Byte ranges of the stored records inside `value`.
    spans: Vec<Range<usize>>,
    /// The block's key: the position of its last record.
    last: Position,
}

impl Block {
    /// Reads the block that the index entry `key` → `location` points to.
    fn read(records: &RecordsFile, key: &[u8], location: &[u8]) -> Result<Block> {
        let (last, offset, len) = locate(key, location)?;
        let bytes = records
            .read_at(offset, len)
            .map_err(|err| unreadable(last, &err))?;
        Block::within(last, Arc::new(bytes), 0..len)
    }

    /// The block at `range` of `bytes` (a stretch of the records file).
    fn within(last: Position, bytes: Arc<Vec<u8>>, range: Range<usize>) -> Result<Block> {
        let spans = bytes
            .get(range.clone())
            .and_then(keys::record_block_spans)
            .ok_or_else(|| corrupt(last, "record block framing is broken"))?
            .into_iter()
            .map(|span| span.start + range.start..span.end + range.start)
            .collect();
        Ok(Block {
            value: bytes,
            spans,
            last,
        })
    }

    /// The position the block's records start at, judging by its key.
    fn first_by_key(&self) -> Position {
        (self.last + 1).saturating_sub(self.spans.len() as u64)
    }

    /// The position the first record says it has (checked when it is read).
    fn first_embedded(&self) -> Option<Position> {
        let first = self.stored(0);
        Some(u64::from_be_bytes(first.get(1..9)?.try_into().ok()?))
    }

    /// The index of `position` in the block, judging by its first record.
    fn index_of(&self, position: Position) -> Result<usize> {
        let index = self
            .first_embedded()
            .and_then(|first| position.checked_sub(first));
        let index = index.filter(|index| *index < self.spans.len() as u64);
        index
            .map(|index| index as usize)
            .ok_or_else(|| corrupt(position, "record is missing from its block"))
    }

    pub(crate) fn stored(&self, index: usize) -> &[u8] {
        &self.value[self.spans[index].clone()]
    }
}

/// The block's last position, and its offset and length in the records file.
fn locate(key: &[u8], location: &[u8]) -> Result<(Position, u64, usize)> {
    let last = block_key_position(key)?;
    let (offset, len) = keys::parse_block_location(location)
        .ok_or_else(|| corrupt(last, "record block location is malformed"))?;
    Ok((last, offset, len))
}

fn unreadable(last: Position, err: &std::io::Error) -> LogError {
    corrupt(last, format!("record block cannot be read: {err}"))
}

fn block_key_position(key: &[u8]) -> Result<Position> {
    match (key.len(), key.first()) {
        (9, Some(&keys::RECORD_BLOCK)) => {
            keys::trailing_number(key).ok_or_else(|| corrupt(0, "malformed record key"))
        }
        _ => Err(corrupt(0, "malformed record key")),
    }
}

impl<'a> Reader<'a> {
    /// The durable block holding `position`, if it exists.
    fn block_holding(&self, position: Position) -> Result<Option<Block>> {
        if position >= self.len {
            return Ok(None);
        }
        let found = self
            .tree
            .range(keys::record_block(position)..keys::record_block(self.len))
            .next();
        let Some(item) = found else {
            return Err(corrupt(position, "record is missing below the head"));
        };
        let (key, value) = item?;
        Block::read(self.records, &key, &value).map(Some)
    }

    /// One durable record, checked against its hash.
    pub fn record(&self, position: Position) -> Result<Option<RecordedEvent>> {
        let Some(block) = self.block_holding(position)? else {
            return Ok(None);
        };
        let index = block.index_of(position)?;
        decode_stored(position, block.stored(index)).map(Some)
    }

    /// The stored hash of a record, after checking the record against it.
    pub fn stored_hash(&self, position: Position) -> Result<Hash> {
        match self.record(position)? {
            Some(record) => Ok(record.hash),
            None => Err(corrupt(position, "record is missing")),
        }
    }

    fn hash_before(&self, position: Position) -> Result<Hash> {
        if position == 0 {
            return Ok(GENESIS_HASH);
        }
        self.stored_hash(position - 1)
    }

    /// A page of the whole log from `from` (inclusive) in `direction`.
    pub fn all_page(
        &self,
        direction: Direction,
        from: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let max = max.min(READ_PAGE_EVENTS_MAX);
        if max == 0 || self.len == 0 {
            return Ok(Vec::new());
        }
        let page = match direction {
            Direction::Forwards => self
                .walk(from.unwrap_or(0), self.len)?
                .take(max)
                .collect::<Result<Vec<_>>>()?,
            Direction::Backwards => self.all_backwards(
                from.map_or(self.len - 1, |from| from.min(self.len - 1)),
                max,
            )?,
        };
        check_contiguous(&page, direction)?;
        Ok(page)
    }

    fn all_backwards(&self, upper: Position, max: usize) -> Result<Vec<RecordedEvent>> {
        let mut page = Vec::new();
        let holding = self.block_holding(upper)?;
        let earlier = self
            .tree
            .range(keys::record_block(0)..keys::record_block(upper))
            .rev()
            .map(|item| {
                item.map_err(LogError::from)
                    .and_then(|(key, value)| Block::read(self.records, &key, &value))
            });
        for block in holding.into_iter().map(Ok).chain(earlier) {
            let block = block?;
            let first = block.first_by_key();
            for index in (0..block.spans.len()).rev() {
                let position = first + index as u64;
                if position > upper {
                    continue;
                }
                page.push(decode_stored(position, block.stored(index))?);
                if page.len() == max {
                    return Ok(page);
                }
            }
        }
        Ok(page)
    }

    /// Every durable record in `from..end`, lazily, each checked against its
    /// hash and its predecessor.
    pub fn walk(&self, from: Position, end: Position) -> Result<AllIter> {
        let end = end.min(self.len);
        let previous_hash = if from < end {
            Some(self.hash_before(from)?)
        } else {
            None
        };
        Ok(AllIter {
            source: Source::new(self.tree, self.records, from, end),
            previous_hash,
        })
    }

    /// Positions of a stream's revisions, durable only, in `direction`.
    fn stream_positions(
        &self,
        stream: &str,
        direction: Direction,
        from: Option<u64>,
        max: usize,
    ) -> Result<Vec<(u64, Position)>> {
        let Some(head) = self.heads.get(stream) else {
            return Ok(Vec::new());
        };
        let mut chunks = ChunkCache::new(self.tree, stream, &head);
        let mut found = Vec::new();
        match direction {
            Direction::Forwards => {
                for revision in from.unwrap_or(0)..=head.last_revision {
                    let position = chunks.position_of(revision)?;
                    if position >= self.len || found.len() == max {
                        break;
                    }
                    found.push((revision, position));
                }
            }
            Direction::Backwards => {
                let upper = from.map_or(head.last_revision, |from| from.min(head.last_revision));
                for revision in (0..=upper).rev() {
                    let position = chunks.position_of(revision)?;
                    if position < self.len {
                        found.push((revision, position));
                    }
                    if found.len() == max {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }

    /// A page of one stream's events.
    pub fn stream_page(
        &self,
        stream: &str,
        direction: Direction,
        from: Option<u64>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let max = max.min(READ_PAGE_EVENTS_MAX);
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut page = Vec::new();
        for (revision, position) in self.stream_positions(stream, direction, from, max)? {
            let record = self
                .record(position)?
                .ok_or_else(|| corrupt(position, "stream index points past the head"))?;
            if record.stream != stream || record.revision != revision {
                return Err(corrupt(
                    position,
                    format!("stream index of {stream} points at another event"),
                ));
            }
            page.push(record);
        }
        Ok(page)
    }

    /// The last durable revision of a stream.
    pub fn stream_revision(&self, stream: &str) -> Result<Option<u64>> {
        Ok(self
            .stream_positions(stream, Direction::Backwards, None, 1)?
            .first()
            .map(|(revision, _)| *revision))
    }

    /// Whether the stream index maps `revision` of `stream` to `position`.
    pub fn stream_index_has(
        &self,
        stream: &str,
        revision: u64,
        position: Position,
    ) -> Result<bool> {
        let Some(head) = self.heads.get(stream) else {
            return Ok(false);
        };
        if revision > head.last_revision {
            return Ok(false);
        }
        Ok(ChunkCache::new(self.tree, stream, &head).position_of(revision)? == position)
    }

    /// A page of a category or event-type index, resolved to records.
    pub fn index_page(
        &self,
        tag: u8,
        name: &str,
        direction: Direction,
        from: Option<Position>,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let max = max.min(READ_PAGE_EVENTS_MAX);
        if self.len == 0 || max == 0 {
            return Ok(Vec::new());
        }
        let positions = match direction {
            Direction::Forwards => {
                self.index_forwards(tag, name, from.unwrap_or(0)..self.len, max)?
            }
            Direction::Backwards => self.index_backwards(
                tag,
                name,
                from.map_or(self.len - 1, |from| from.min(self.len - 1)),
                max,
            )?,
        };
        self.indexed_records(positions)
    }

    /// Every durable record of the categories at positions `from..end`,
    /// in position order, each checked against its hash.
    pub fn categories_range(
        &self,
        categories: &[&str],
        from: Position,
        end: Position,
    ) -> Result<Vec<RecordedEvent>> {
        let mut positions = Vec::new();
        for category in categories {
            positions.extend(self.index_forwards(
                keys::CATEGORY,
                category,
                from..end,
                usize::MAX,
            )?);
        }
        positions.sort_unstable();
        self.indexed_records(positions)
    }

    /// The records an index lists, each checked against its hash.
    fn indexed_records(&self, positions: Vec<Position>) -> Result<Vec<RecordedEvent>> {
        positions
            .into_iter()
            .map(|position| {
                self.record(position)?
                    .ok_or_else(|| corrupt(position, "an index points past the head"))
            })
            .collect()
    }

    /// Up to `max` positions an index lists in `range` (durable ones only).
    fn index_forwards(
        &self,
        tag: u8,
        name: &str,
        range: std::ops::Range<Position>,
        max: usize,
    ) -> Result<Vec<Position>> {
        let (from, end) = (range.start, range.end.min(self.len));
        let mut positions = Vec::new();
        for block in index_blocks_from(self.tree, tag, name, from) {
            for position in block? {
                if position >= end {
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

    fn index_backwards(
        &self,
        tag: u8,
        name: &str,
        upper: Position,
        max: usize,
    ) -> Result<Vec<Position>> {
        let mut positions = Vec::new();
        // The block holding `upper` (if any) is the first at or after it;
        // every block before it holds only smaller positions.
        let holding = index_blocks_from(self.tree, tag, name, upper)
            .next()
            .transpose()?;
        let earlier = self
            .tree
            .range(keys::named_number(tag, name, 0)..keys::named_number(tag, name, upper))
            .rev()
            .map(|item| parse_index_block(name, item));
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

    /// Whether the category or event-type index lists `position` under `name`.
    pub fn index_has(&self, tag: u8, name: &str, position: Position) -> Result<bool> {
        let block = index_blocks_from(self.tree, tag, name, position)
            .next()
            .transpose()?;
        Ok(block.is_some_and(|block| block.contains(&position)))
    }

    /// Re-checks `[from, to]`: every record against its hash, each against
    /// its predecessor, and that no position is missing.
    pub fn verify(&self, from: Option<Position>, to: Option<Position>) -> Result<VerifyReport> {
        let start = from.unwrap_or(0);
        let end = to.map_or(self.len, |to| to.saturating_add(1).min(self.len));
        let mut report = VerifyReport {
            events: 0,
            bytes: 0,
            range: None,
            last_hash: None,
        };
        if start >= end {
            return Ok(report);
        }
        let mut previous_hash = self.hash_before(start)?;
        let mut raw = RawWalk::new(self.tree, self.records, start, end);
        while let Some(item) = raw.next_raw() {
            let (position, stored) = item?;
            let header = check_stored(position, stored)?;
            if header.prev_hash != previous_hash {
                return Err(corrupt(
                    position,
                    "record does not follow its predecessor's hash",
                ));
            }
            previous_hash = header.hash;
            report.bytes += stored.len() as u64;
        }
        report.events = end - start;
        report.range = Some((start, end - 1));
        report.last_hash = Some(previous_hash);
        Ok(report)
    }
}

/// Looks up the positions of a stream's revisions chunk by chunk.
struct ChunkCache<'a> {
    tree: &'a sled::Tree,
    stream: &'a str,
    head: &'a StreamHead,
    loaded: Option<(u64, Vec<Position>)>,
}

impl<'a> ChunkCache<'a> {
    fn new(tree: &'a sled::Tree, stream: &'a str, head: &'a StreamHead) -> Self {
        ChunkCache {
            tree,
            stream,
            head,
            loaded: None,
        }
    }

    fn position_of(&mut self, revision: u64) -> Result<Position> {
        let chunk = keys::chunk_of(revision);
        let offset = (revision % keys::STREAM_CHUNK_REVISIONS) as usize;
        if chunk == keys::chunk_of(self.head.last_revision) {
            return self
                .head
                .open_chunk
                .get(offset)
                .copied()
                .ok_or_else(|| self.malformed());
        }
        if self.loaded.as_ref().map(|(number, _)| *number) != Some(chunk) {
            let value =
                self.tree
                    .get(keys::named_number(keys::STREAM_CHUNK, self.stream, chunk))?;
            let positions = value.as_deref().and_then(keys::parse_positions);
            let positions = positions.filter(|p| p.len() as u64 == keys::STREAM_CHUNK_REVISIONS);
            self.loaded = Some((chunk, positions.ok_or_else(|| self.malformed())?));
        }
        let positions = self.loaded.as_ref().map(|(_, positions)| positions);
        positions
            .and_then(|positions| positions.get(offset).copied())
            .ok_or_else(|| self.malformed())
    }

    fn malformed(&self) -> LogError {
        corrupt(0, format!("stream index of {} is malformed", self.stream))
    }
}

/// A walk over stored records by position, checking only that no position
/// is missing; callers check hashes.
pub(crate) struct RawWalk {
    blocks: sled::Iter,
    records: Arc<RecordsFile>,
    /// The stretch of the records file read last, and where it starts.
    window: Option<(u64, Arc<Vec<u8>>)>,
    /// Bytes the next read of the file asks for: doubles up to
    /// [`WALK_WINDOW_BYTES_MAX`], so a short walk reads little.
    window_bytes: usize,
    /// Windows read before, reused once no block of theirs is held any
    /// more (fresh memory for every window costs page faults).
    spare_windows: Vec<Arc<Vec<u8>>>,
    current: Option<Block>,
    index: usize,
    next_position: Position,
    end: Position,
}

impl RawWalk {
    fn new(tree: &sled::Tree, records: &Arc<RecordsFile>, from: Position, end: Position) -> Self {
        // No upper bound: the block holding `end - 1` may be keyed past
        // `end`; the walk stops by position instead.
        let blocks = if from < end {
            tree.range(keys::record_block(from)..=keys::record_block(u64::MAX))
        } else {
            tree.range(keys::record_block(0)..keys::record_block(0))
        };
        RawWalk {
            blocks,
            records: Arc::clone(records),
            window: None,
            window_bytes: WALK_WINDOW_BYTES_FIRST,
            spare_windows: Vec::new(),
            current: None,
            index: 0,
            next_position: from,
            end,
        }
    }

    /// The next record's position and stored bytes.
    fn next_raw(&mut self) -> Option<Result<(Position, &[u8])>> {
        if let Err(err) = self.at_next_record()? {
            return Some(Err(err));
        }
        let block = self.current.as_ref()?;
        let position = self.next_position;
        self.index += 1;
        self.next_position += 1;
        Some(Ok((position, block.stored(self.index - 1))))
    }

    /// Readies the block holding the next record: `None` at the end of the
    /// walk, an error (which ends the walk) if that block cannot be read.
    fn at_next_record(&mut self) -> Option<Result<()>> {
        if self.next_position >= self.end {
            return None;
        }
        if let Err(err) = self.ensure_block() {
            self.end = self.next_position;
            return Some(Err(err));
        }
        Some(Ok(()))
    }

    /// The next position to read and the end of the walk (exclusive).
    pub(crate) fn bounds(&self) -> (Position, Position) {
        (self.next_position, self.end)
    }

    /// The rest of the current block (or of the walk, if it ends inside
    /// it): the block, the indexes of those records in it, and the position
    /// of the first.
    pub(crate) fn next_run(&mut self) -> Option<Result<(Block, Range<usize>, Position)>> {
        if let Err(err) = self.at_next_record()? {
            return Some(Err(err));
        }
        let block = self.current.as_ref()?;
        let first = self.next_position;
        let left_in_walk = usize::try_from(self.end - first).unwrap_or(usize::MAX);
        let count = (block.spans.len() - self.index).min(left_in_walk);
        let records = self.index..self.index + count;
        self.index += count;
        self.next_position += count as u64;
        Some(Ok((block.clone(), records, first)))
    }

    /// The block at `offset`, from the current window of the records file
    /// or from a new window read from there: consecutive blocks lie next
    /// to each other in the file, so a walk reads many with one `pread`.
    fn block_at(&mut self, last: Position, offset: u64, len: usize) -> Result<Block> {
        if let Some((start, bytes)) = &self.window {
            let inside = offset
                .checked_sub(*start)
                .and_then(|from| usize::try_from(from).ok())
                .filter(|from| from + len <= bytes.len());
            if let Some(from) = inside {
                return Block::within(last, Arc::clone(bytes), from..from + len);
            }
        }
        let want = self.window_bytes.max(len);
        self.window_bytes = (self.window_bytes * 2).min(WALK_WINDOW_BYTES_MAX);
        if let Some((_, old)) = self.window.take() {
            if self.spare_windows.len() < WALK_SPARE_WINDOWS {
                self.spare_windows.push(old);
            }
        }
        let mut bytes = self
            .spare_windows
            .iter()
            .position(|spare| Arc::strong_count(spare) == 1)
            .map(|free| self.spare_windows.swap_remove(free))
            .unwrap_or_default();
        let buffer = Arc::make_mut(&mut bytes);
        self.records
            .read_window(buffer, offset, len, want)
            .map_err(|err| unreadable(last, &err))?;
        self.window = Some((offset, Arc::clone(&bytes)));
        Block::within(last, bytes, 0..len)
    }

    /// Makes `current[index]` the record at `next_position`.
    fn ensure_block(&mut self) -> Result<()> {
        let position = self.next_position;
        if let Some(block) = &self.current {
            if self.index < block.spans.len() {
                return Ok(());
            }
            if block.last + 1 != position {
                return Err(corrupt(position.min(block.last + 1), "record is missing"));
            }
        }
        let (key, value) = match self.blocks.next() {
            Some(item) => item?,
            None => return Err(corrupt(position, "record is missing")),
        };
        let (last, offset, len) = locate(&key, &value)?;
        let block = self.block_at(last, offset, len)?;
        // A walk that starts inside a block finds its place from the first
        // record; after that each block must start right where the last ended
        // (the records' own positions are checked as they are read).
        self.index = if self.current.is_none() {
            block.index_of(position)?
        } else {
            0
        };
        self.current = Some(block);
        Ok(())
    }
}

/// A lazy walk over the whole log; see [`crate::SledLog::iter_all`].
pub struct AllIter {
    source: Source,
    previous_hash: Option<Hash>,
}

/// Where an [`AllIter`] gets its records from.
enum Source {
    /// Read and checked against their hashes on the caller's thread.
    Inline(Box<RawWalk>),
    /// Read and checked against their hashes on a helper thread
    /// ([`crate::read_ahead`]), for long walks.
    Ahead(ReadAhead),
}

impl Source {
    fn new(tree: &sled::Tree, records: &Arc<RecordsFile>, from: Position, end: Position) -> Source {
        if end.saturating_sub(from) >= READ_AHEAD_MIN_EVENTS {
            if let Some(ahead) = ReadAhead::start(RawWalk::new(tree, records, from, end)) {
                return Source::Ahead(ahead);
            }
        }
        Source::Inline(Box::new(RawWalk::new(tree, records, from, end)))
    }

    fn next_position(&self) -> Position {
        match self {
            Source::Inline(walk) => walk.next_position,
            Source::Ahead(ahead) => ahead.next_position(),
        }
    }

    /// The next record, decoded, checked against its hash (on whichever
    /// thread) but not yet against its predecessor.
    fn next_record(&mut self) -> Option<Result<RecordedEvent>> {
        match self {
            Source::Inline(walk) => Some(match walk.next_raw()? {
                Ok((position, stored)) => decode_stored(position, stored),
                Err(err) => Err(err),
            }),
            Source::Ahead(ahead) => Some(match ahead.next_checked()? {
                Ok((position, stored)) => decode_checked(position, stored),
                Err(err) => Err(err),
            }),
        }
    }

    fn stop_here(&mut self) {
        match self {
            Source::Inline(walk) => walk.end = walk.next_position,
            Source::Ahead(ahead) => ahead.stop_here(),
        }
    }
}

impl std::fmt::Debug for AllIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllIter")
            .field("next_position", &self.source.next_position())
            .finish_non_exhaustive()
    }
}

impl AllIter {
    pub(crate) fn empty(tree: &sled::Tree, records: &Arc<RecordsFile>) -> AllIter {
        AllIter {
            source: Source::Inline(Box::new(RawWalk::new(tree, records, 0, 0))),
            previous_hash: None,
        }
    }
}

impl Iterator for AllIter {
    type Item = Result<RecordedEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.source.next_record()?.and_then(|record| {
            if Some(record.prev_hash) != self.previous_hash {
                return Err(corrupt(
                    record.position,
                    "record does not follow its predecessor's hash",
                ));
            }
            Ok(record)
        });
        match &result {
            Ok(record) => self.previous_hash = Some(record.hash),
            // Stop after the first fault; the caller has what it needs.
            Err(_) => self.source.stop_here(),
        }
        Some(result)
    }
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
        .map(move |item| parse_index_block(name, item))
}

fn parse_index_block(
    name: &str,
    item: sled::Result<(sled::IVec, sled::IVec)>,
) -> Result<Vec<Position>> {
    let (key, value) = item?;
    let last_in_key = keys::trailing_number(&key);
    match keys::parse_positions(&value) {
        Some(positions) if positions.last().copied() == last_in_key => Ok(positions),
        _ => Err(corrupt(
            last_in_key.unwrap_or_default(),
            format!("index block of {name} is malformed"),
        )),
    }
}

/// Checks that a page read by position has no gap and each record follows the last.
fn check_contiguous(page: &[RecordedEvent], direction: Direction) -> Result<()> {
    for pair in page.windows(2) {
        let (older, newer) = match direction {
            Direction::Forwards => (&pair[0], &pair[1]),
            Direction::Backwards => (&pair[1], &pair[0]),
        };
        if newer.position != older.position + 1 {
            return Err(corrupt(older.position + 1, "record is missing"));
        }
        if newer.prev_hash != older.hash {
            return Err(corrupt(
                newer.position,
                "record does not follow its predecessor's hash",
            ));
        }
    }
    Ok(())
}
