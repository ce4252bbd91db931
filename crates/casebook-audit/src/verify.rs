//! Checking an export file with nothing else running, as fast as the
//! hashing allows.
//!
//! Each event line is looked at on its own first — parsed without copying
//! (its strings and payload borrowed from the line), its canonical bytes
//! rebuilt into a reused buffer, hashed for the chain and for the Merkle
//! leaf — and any number of lines can be looked at at once: a reader thread
//! fills blocks of whole lines while the lines of the block before are split
//! over the cores. Then, in file order, what depends on the lines before is
//! checked (positions, the chain), so the first bad record is still the one
//! named. The Merkle root and the head's signature come last.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;
use std::sync::mpsc;

use casebook_log::record::{chain_hash, CanonicalParts};
use casebook_log::{Metadata, RecordedEvent, GENESIS_HASH};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::export::{ExportFault, ExportSummary, ExportTrailer};
use crate::line::{exported_utc_micros, hash_from_hex, read_exported_line};
use crate::merkle::{self, Hash};

/// Bytes read per block; a block grows past this only for a longer line.
const BLOCK_BYTES: usize = 2 << 20;

/// Blocks read ahead of the ones being checked.
const BLOCKS_AHEAD: usize = 2;

/// An event line's fields, borrowed from the line where JSON allows it.
#[derive(Deserialize)]
struct LineFields<'a> {
    position: u64,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    revision: u64,
    id: Uuid,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    schema_version: u32,
    #[serde(borrow)]
    recorded_at: Cow<'a, str>,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

/// What one event line says about itself, checked on its own.
pub(crate) struct LineCheck {
    position: u64,
    prev_hash: Hash,
    hash: Hash,
    /// Whether `hash` is that of `prev_hash` and the canonical bytes.
    matches_its_hash: bool,
    pub(crate) leaf: Hash,
}

/// Checks an export with nothing else running: every record against its
/// hash and the chain, the Merkle root against the signed head, and the
/// head's signature (against `trusted_key` if given, else the file's own).
pub fn verify_export(
    reader: impl Read + Send,
    trusted_key: Option<&str>,
) -> Result<ExportSummary, ExportFault> {
    let mut chain = Chain::default();
    std::thread::scope(|scope| {
        let (blocks_tx, blocks) = mpsc::sync_channel(BLOCKS_AHEAD);
        let (spent, spent_rx) = mpsc::channel();
        scope.spawn(move || read_blocks(reader, BLOCK_BYTES, &blocks_tx, &spent_rx));
        let mut examined = Vec::new();
        for block in blocks {
            let block = block.map_err(|err| chain.fault(None, err.to_string()))?;
            examine_block(&block, &mut examined);
            for (range, line) in examined.iter_mut().flat_map(|list| list.drain(..)) {
                chain.accept(&block[range], line)?;
            }
            // The reader fills it again: fresh memory costs a page fault
            // per 4 kB, about as much as reading the bytes.
            let _ = spent.send(block);
        }
        Ok::<_, ExportFault>(())
    })?;
    chain.finish(trusted_key)
}

/// Sends `reader`'s bytes as blocks that end at a line's end (the last one
/// at the end of the file), until the file ends, a read fails or the
/// receiver is gone. Blocks sent back on `spent` are filled again.
fn read_blocks(
    mut reader: impl Read,
    block_bytes: usize,
    blocks: &mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    spent: &mpsc::Receiver<Vec<u8>>,
) {
    let mut carried = Vec::new();
    loop {
        let mut block = spent.try_recv().unwrap_or_default();
        let at_end = match fill(&mut reader, &mut block, &carried, block_bytes) {
            Ok(at_end) => at_end,
            Err(err) => {
                let _ = blocks.send(Err(err));
                return;
            }
        };
        carried.clear();
        if !at_end {
            match memchr::memrchr(b'\n', &block) {
                Some(end) => {
                    carried.extend_from_slice(&block[end + 1..]);
                    block.truncate(end + 1);
                }
                // One line longer than a block: read on until it ends.
                None => {
                    carried = block;
                    continue;
                }
            }
        }
        if !block.is_empty() && blocks.send(Ok(block)).is_err() {
            return;
        }
        if at_end {
            return;
        }
    }
}

/// Makes `block` the `carried` bytes followed by up to `block_bytes` read
/// from `reader`; answers whether the file ended. Reads go straight into
/// the block, in requests larger than a `BufReader`'s buffer (which then
/// passes them through instead of copying every byte twice), and a reused
/// block is only zeroed where it grows.
fn fill(
    reader: &mut impl Read,
    block: &mut Vec<u8>,
    carried: &[u8],
    block_bytes: usize,
) -> std::io::Result<bool> {
    let want = carried.len() + block_bytes;
    block.resize(want, 0);
    block[..carried.len()].copy_from_slice(carried);
    let mut filled = carried.len();
    while filled < want {
        match reader.read(&mut block[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    block.truncate(filled);
    Ok(filled < want)
}

/// A line's place in its block and what examining it found.
type Examined = (Range<usize>, Result<LineCheck, String>);

/// Most threads that examine one block: a 2 MB block is a few milliseconds
/// of work, and starting many more threads per block would cost as much.
const THREADS_MAX: usize = 8;

/// Pieces each block is cut into per core: threads take the next piece as
/// they finish one, so a thread slowed down (by the reader, by another
/// process) does not leave the others waiting at the end of the block.
const PIECES_PER_CORE: usize = 8;

/// Examines every line of `block` (without its line break) on its own, on
/// every core; fills one list per piece of the block, in file order. The
/// lists are kept between blocks: new memory for each block's answers cost
/// page faults.
fn examine_block(block: &[u8], examined: &mut Vec<Vec<Examined>>) {
    let cores = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(THREADS_MAX);
    let pieces = split_at_lines(block, cores * PIECES_PER_CORE);
    examined.resize_with(pieces.len().max(examined.len()), Vec::new);
    examined.iter_mut().for_each(Vec::clear);
    let work: Vec<_> = pieces
        .into_iter()
        .zip(examined.iter_mut())
        .map(std::sync::Mutex::new)
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take_pieces = || {
        while let Some(piece) = work.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            // Each piece is taken exactly once, so its lock is never contended.
            if let Ok(mut piece) = piece.lock() {
                let (range, list) = &mut *piece;
                examine_lines(block, range.clone(), list);
            }
        }
    };
    let all_joined = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..cores).map(|_| scope.spawn(take_pieces)).collect();
        take_pieces();
        // Every thread is joined (a scope re-raises the panic of one left
        // unjoined), then whether all of them finished.
        let mut all_joined = true;
        for helper in helpers {
            all_joined &= helper.join().is_ok();
        }
        all_joined
    });
    drop(work);
    if !all_joined {
        examined.iter_mut().for_each(Vec::clear);
        examined[0].push((0..0, Err("a verifying thread failed".to_owned())));
    }
}

/// Up to `count` ranges of about equal size that tile `block`, each ending
/// at a line's end.
fn split_at_lines(block: &[u8], count: usize) -> Vec<Range<usize>> {
    let mut parts = Vec::with_capacity(count);
    let mut start = 0;
    for part in 1..count {
        let aim = (block.len() * part / count).max(start);
        let Some(offset) = memchr::memchr(b'\n', &block[aim..]) else {
            break;
        };
        let end = aim + offset + 1;
        parts.push(start..end);
        start = end;
    }
    parts.push(start..block.len());
    parts.retain(|part| !part.is_empty() || block.is_empty());
    parts
}

/// The lines of `block[part]`, each examined on its own, into `examined`.
fn examine_lines(block: &[u8], part: Range<usize>, examined: &mut Vec<Examined>) {
    let mut canonical = Vec::new();
    let mut start = part.start;
    while start < part.end {
        let end = memchr::memchr(b'\n', &block[start..part.end]).map_or(part.end, |at| start + at);
        let mut line = start..end;
        if block[start..end].last() == Some(&b'\r') {
            line.end -= 1;
        }
        let check = examine(&block[line.clone()], &mut canonical);
        examined.push((line, check));
        start = end + 1;
    }
}

/// Reads one event line (sliced directly if it is in the exporter's own
/// layout, else parsed by serde_json), rebuilds its canonical bytes in
/// `canonical` and hashes them for the chain and the Merkle leaf.
pub(crate) fn examine(line: &[u8], canonical: &mut Vec<u8>) -> Result<LineCheck, String> {
    canonical.clear();
    let (position, prev_hash, hash) = match read_exported_line(line) {
        Some(read) => {
            read.parts.write_to(canonical);
            (read.parts.position, read.prev_hash, read.hash)
        }
        None => {
            let fields = parse_fields(line)?;
            fields.parts()?.write_to(canonical);
            (fields.position, fields.prev_hash()?, fields.hash()?)
        }
    };
    Ok(check_canonical(position, prev_hash, hash, canonical))
}

/// What a record with these stated hashes and canonical bytes says about
/// itself.
fn check_canonical(position: u64, prev_hash: Hash, hash: Hash, canonical: &[u8]) -> LineCheck {
    LineCheck {
        position,
        prev_hash,
        hash,
        matches_its_hash: chain_hash(&prev_hash, canonical) == hash,
        leaf: merkle::leaf_hash(canonical),
    }
}

/// A record read from an event line in any JSON form (what a restore
/// writes back), with what it says about itself: the line is parsed once.
pub(crate) fn read_record(line: &[u8]) -> Result<(RecordedEvent, LineCheck), String> {
    let fields = parse_fields(line)?;
    let parts = fields.parts()?;
    let time = |micros| {
        DateTime::<Utc>::from_timestamp_micros(micros)
            .ok_or_else(|| format!("time {micros} µs is out of range"))
    };
    let record = RecordedEvent {
        id: parts.id,
        stream: parts.stream.to_owned(),
        revision: parts.revision,
        position: parts.position,
        event_type: parts.event_type.to_owned(),
        schema_version: parts.schema_version,
        data: parts.data.to_vec(),
        metadata: Metadata {
            actor: parts.actor.to_owned(),
            correlation_id: parts.correlation_id,
            causation_id: parts.causation_id,
            occurred_at: time(parts.occurred_at_micros)?,
        },
        recorded_at: time(parts.recorded_at_micros)?,
        prev_hash: fields.prev_hash()?,
        hash: fields.hash()?,
    };
    let check = check_canonical(
        record.position,
        record.prev_hash,
        record.hash,
        &record.canonical_bytes(),
    );
    Ok((record, check))
}

/// A line in any JSON form, parsed by serde_json.
fn parse_fields(line: &[u8]) -> Result<LineFields<'_>, String> {
    serde_json::from_slice(line).map_err(|err| err.to_string())
}

impl LineFields<'_> {
    /// The fields the canonical bytes are made of.
    fn parts(&self) -> Result<CanonicalParts<'_>, String> {
        Ok(CanonicalParts {
            position: self.position,
            revision: self.revision,
            id: self.id,
            recorded_at_micros: micros_of(&self.recorded_at)?,
            occurred_at_micros: micros_of(&self.occurred_at)?,
            schema_version: self.schema_version,
            stream: &self.stream,
            event_type: &self.event_type,
            actor: &self.actor,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            data: self.data.get().as_bytes(),
        })
    }

    fn prev_hash(&self) -> Result<Hash, String> {
        hash_of(&self.prev_hash)
    }

    fn hash(&self) -> Result<Hash, String> {
        hash_of(&self.hash)
    }
}

fn hash_of(text: &str) -> Result<Hash, String> {
    hash_from_hex(text.as_bytes()).ok_or_else(|| "a hash is not 32 bytes of hex".to_owned())
}

/// An RFC 3339 time as microseconds since the Unix epoch.
fn micros_of(text: &str) -> Result<i64, String> {
    if let Some(micros) = exported_utc_micros(text) {
        return Ok(micros);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_micros())
        .map_err(|err| format!("time {text:?}: {err}"))
}

/// What [`Chain::accept`] took a line for.
pub(crate) enum Accepted {
    /// A good event line.
    Event,
    /// The signed tree head at the end.
    Trailer,
}

/// The checks that follow the file's order: positions, the chain, the
/// leaves, and the trailer.
pub(crate) struct Chain {
    line: u64,
    last_hash: Hash,
    leaves: Vec<Hash>,
    trailer: Option<(u64, ExportTrailer)>,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            line: 0,
            last_hash: GENESIS_HASH,
            leaves: Vec::new(),
            trailer: None,
        }
    }
}

impl Chain {
    pub(crate) fn fault(&self, position: Option<u64>, reason: impl Into<String>) -> ExportFault {
        ExportFault {
            line: self.line,
            position,
            reason: reason.into(),
        }
    }

    /// Takes the next line, already examined on its own: checks what
    /// depends on the lines before it (its position, the chain), or keeps
    /// it as the trailer if it is not an event.
    pub(crate) fn accept(
        &mut self,
        text: &[u8],
        examined: Result<LineCheck, String>,
    ) -> Result<Accepted, ExportFault> {
        self.line += 1;
        let expected = self.line - 1;
        if self.trailer.is_some() {
            return Err(self.fault(None, "a line follows the signed tree head"));
        }
        let check = match examined {
            Ok(check) => check,
            Err(reason) => {
                // Not an event: the trailer, or a fault.
                if let Ok(trailer) = serde_json::from_slice::<ExportTrailer>(text) {
                    self.trailer = Some((self.line, trailer));
                    return Ok(Accepted::Trailer);
                }
                return Err(self.fault(Some(expected), reason));
            }
        };
        if check.position != expected {
            return Err(self.fault(
                Some(expected),
                format!("holds position {} instead", check.position),
            ));
        }
        if check.prev_hash != self.last_hash {
            return Err(self.fault(Some(expected), "does not follow the previous record's hash"));
        }
        if !check.matches_its_hash {
            return Err(self.fault(Some(expected), "does not match its hash"));
        }
        self.last_hash = check.hash;
        self.leaves.push(check.leaf);
        Ok(Accepted::Event)
    }

    /// The checks at the end: a trailer, its size, its root and signature.
    fn finish(mut self, trusted_key: Option<&str>) -> Result<ExportSummary, ExportFault> {
        let Some((line, trailer)) = self.trailer.take() else {
            return Err(self.fault(None, "the file ends without a signed tree head"));
        };
        let fault = |reason: String| ExportFault {
            line,
            position: None,
            reason,
        };
        let head = &trailer.tree_head;
        let events = self.leaves.len() as u64;
        if head.size != events {
            return Err(fault(format!(
                "the signed head covers {} events but the file holds {events}",
                head.size
            )));
        }
        let root = merkle::root(&crate::LeafList(self.leaves), head.size)
            .map_err(|err| fault(err.to_string()))?;
        if hex::encode(root) != head.root_hash {
            return Err(fault(
                "the Merkle root of the events differs from the signed head's".into(),
            ));
        }
        let key = trusted_key.unwrap_or(&trailer.public_key);
        head.verify(key).map_err(|err| fault(err.to_string()))?;
        Ok(ExportSummary {
            events: head.size,
            tree_head: trailer.tree_head,
            public_key: trailer.public_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_times_read_directly_agree_with_chrono() {
        for text in [
            "2026-12-03T15:28:53.123456Z",
            "1970-01-01T00:00:00.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_micros();
            assert_eq!(exported_utc_micros(text), Some(chrono), "{text}");
        }
        for other in [
            "2026-12-03T15:28:53Z",
            "2026-12-03T15:28:53.123456+07:00",
            "2026-02-30T15:28:53.123456Z",
            "2026-12-03T25:28:53.123456Z",
            "2026-12-03T15:28:5x.123456Z",
        ] {
            assert_eq!(exported_utc_micros(other), None, "{other}");
        }
        assert_eq!(
            micros_of("2026-12-03T22:28:53.123456+07:00").unwrap(),
            micros_of("2026-12-03T15:28:53.123456Z").unwrap()
        );
        assert!(micros_of("yesterday").is_err());
    }

    #[test]
    fn blocks_end_at_line_ends_and_cover_every_byte() {
        let text: Vec<u8> = (0..500)
            .flat_map(|n| format!("line {n} {}\n", "x".repeat(n % 37)).into_bytes())
            .chain(b"no line break at the end".iter().copied())
            .collect();
        for block_bytes in [1, 7, 64, 4096, 1 << 20] {
            let (tx, rx) = mpsc::sync_channel(1000);
            let (_spent, spent_rx) = mpsc::channel();
            read_blocks(&text[..], block_bytes, &tx, &spent_rx);
            drop(tx);
            let blocks: Vec<Vec<u8>> = rx.into_iter().map(Result::unwrap).collect();
            assert_eq!(blocks.concat(), text, "block size {block_bytes}");
            for block in &blocks[..blocks.len() - 1] {
                assert_eq!(block.last(), Some(&b'\n'), "block size {block_bytes}");
            }
        }
    }

    #[test]
    fn parts_of_a_block_tile_it_at_line_ends() {
        let block = b"a\nbb\nccc\ndddd\n".repeat(10);
        for count in 1..8 {
            let parts = split_at_lines(&block, count);
            assert!(parts.len() <= count);
            assert_eq!(parts.first().unwrap().start, 0);
            assert_eq!(parts.last().unwrap().end, block.len());
            for pair in parts.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(block[pair[0].end - 1], b'\n');
            }
        }
    }
}
