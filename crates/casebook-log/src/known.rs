//! What the writer remembers between groups, so that deciding an append
//! seldom has to ask sled.
//!
//! Deciding an append looks up each event id (is it a retry?) and each
//! stream's head (does the expected revision hold?). Almost every id is new,
//! and a sled `get` that finds nothing costs as much as one that finds
//! something; worse, sled does its lazy node splits and frees old pages on
//! the thread that reads, so those lookups were most of the writer's time.
//!
//! - The event-id index: every event id of the log with its position, in
//!   memory, read from the records file when the log opens and grown with
//!   every group the writer decides. It is the only id index: sled holds
//!   none (one random key per event was the costliest part of a group's
//!   index there). A repeat's revision and content digest are read back
//!   from its record. It costs 30 to 60 bytes of memory per event (the
//!   entry and the map's slack): 30 to 60 MB per million events.
//! - Recent stream heads: the head of every stream the writer has changed
//!   since the log opened, up to [`HEADS_REMEMBERED_MAX`] streams. The
//!   writer is the log's only writer, so a head it remembers is the head.
//!   When the map is full it is emptied and refills from use.
//! - A Bloom filter of every stream name in the log, built when the log
//!   opens: a stream it has never seen has no head, without a sled lookup.
//!   Most appends of a busy server start a stream (a case reported), and
//!   each such lookup waited for the applier, since sled's reads stop
//!   while a group is written.

use crate::error::{LogError, Result};
use crate::keys::{self, StreamHead};
use crate::record::{self, Position};
use crate::records::{GroupRead, RecordsFile, GROUP_HEADER_BYTES};
use crate::staging::PendingGroup;
use fastbloom::BloomFilter;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::hash::Hash;
use uuid::Uuid;

/// Streams whose heads are remembered before the map is emptied. A head
/// holds at most one chunk of positions (about 1 kB), so this bounds the
/// map near 16 MB in the worst case and far below it in practice.
pub(crate) const HEADS_REMEMBERED_MAX: usize = 16 * 1024;

/// The false-positive rate of each layer of a filter: one lookup in a
/// thousand of a new id or stream still goes to sled.
const FALSE_POSITIVE_RATE: f64 = 0.001;

/// Items the first layer of a filter holds before a new layer is added.
const LAYER_ITEMS_MIN: usize = 64 * 1024;

/// What the writer knows of the log without reading it.
#[derive(Debug)]
pub(crate) struct Known {
    ids: FxHashMap<Uuid, Position>,
    streams: Filter,
    heads: HashMap<String, StreamHead>,
}

impl Known {
    /// What an empty log knows: nothing, and that is all there is.
    pub(crate) fn empty() -> Self {
        Known {
            ids: FxHashMap::default(),
            streams: Filter::with_capacity(0),
            heads: HashMap::new(),
        }
    }

    /// Builds the id index from the records file up to `records_end` and
    /// the stream filter from every stream head in `tree` (one pass over
    /// each, when the log opens), sized for the log's `events`: each event
    /// has one id, and at most one new stream.
    pub(crate) fn load(
        tree: &sled::Tree,
        records: &RecordsFile,
        records_end: u64,
        events: u64,
    ) -> Result<Self> {
        let capacity = usize::try_from(events).unwrap_or(usize::MAX);
        let mut ids = FxHashMap::with_capacity_and_hasher(capacity, Default::default());
        let mut offset = 0;
        while offset < records_end {
            let GroupRead::Whole(body) = records.group_at(offset, records_end)? else {
                return Err(LogError::Corrupt {
                    position: ids.len() as u64,
                    reason: "the records file ends inside a group the index holds".into(),
                });
            };
            let group_offset = offset;
            offset += GROUP_HEADER_BYTES + body.len() as u64;
            let Some(spans) = keys::record_block_spans(&body) else {
                // Damage: reads of these records fail loudly and `verify`
                // names them; their ids cannot be known.
                tracing::warn!(
                    group_offset,
                    "a group of the records file is not framed records"
                );
                continue;
            };
            for span in spans {
                match record::stored_position_and_id(&body[span]) {
                    Some((position, id)) => {
                        ids.insert(id, position);
                    }
                    None => tracing::warn!(group_offset, "a record's id cannot be read"),
                }
            }
        }
        let mut streams = Filter::with_capacity(capacity / 8);
        for key in tree.scan_prefix([keys::STREAM_HEAD]).keys() {
            streams.insert(&key?[1..]);
        }
        Ok(Known {
            ids,
            streams,
            heads: HashMap::new(),
        })
    }

    /// The position of the event with this id, if it is in the log or
    /// decided for it.
    pub(crate) fn position_of(&self, id: &Uuid) -> Option<Position> {
        self.ids.get(id).copied()
    }

    /// The stream's head, if the writer has changed the stream recently.
    pub(crate) fn head(&self, stream: &str) -> Option<&StreamHead> {
        self.heads.get(stream)
    }

    /// `false` if the stream has no event in the log nor decided for it.
    pub(crate) fn may_hold_stream(&self, stream: &str) -> bool {
        self.streams.may_contain(stream.as_bytes())
    }

    /// Takes in a decided group: its ids and the heads it changed.
    pub(crate) fn remember(&mut self, group: &PendingGroup) {
        for (id, position) in group.ids() {
            self.ids.insert(*id, position);
        }
        for (stream, head) in group.heads() {
            self.streams.insert(stream.as_bytes());
            if self.heads.len() >= HEADS_REMEMBERED_MAX && !self.heads.contains_key(stream) {
                self.heads.clear();
            }
            self.heads.insert(stream.clone(), head.clone());
        }
    }
}

/// A Bloom filter that grows: when its newest layer is full, a layer twice
/// as large is added. An item is maybe present if any layer says so.
#[derive(Debug)]
struct Filter {
    layers: Vec<BloomFilter>,
    /// Items the newest layer was sized for, and how many it holds.
    newest_capacity: usize,
    newest_len: usize,
}

impl Filter {
    fn with_capacity(items: usize) -> Self {
        let capacity = items.saturating_mul(2).max(LAYER_ITEMS_MIN);
        Filter {
            layers: vec![new_layer(capacity)],
            newest_capacity: capacity,
            newest_len: 0,
        }
    }

    fn may_contain(&self, item: &(impl Hash + ?Sized)) -> bool {
        self.layers.iter().any(|layer| layer.contains(item))
    }

    fn insert(&mut self, item: &(impl Hash + ?Sized)) {
        if self.newest_len >= self.newest_capacity {
            self.newest_capacity *= 2;
            self.newest_len = 0;
            self.layers.push(new_layer(self.newest_capacity));
        }
        if let Some(layer) = self.layers.last_mut() {
            layer.insert(item);
            self.newest_len += 1;
        }
    }
}

fn new_layer(capacity: usize) -> BloomFilter {
    BloomFilter::with_false_pos(FALSE_POSITIVE_RATE).expected_items(capacity)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn streams_in_the_log_are_known_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        for stream in ["concern-a", "household-b"] {
            tree.insert(keys::stream_head(stream), &b"head"[..])
                .unwrap();
        }
        let records = RecordsFile::open(dir.path()).unwrap();
        let known = Known::load(&tree, &records, 0, 2).unwrap();
        assert!(known.may_hold_stream("concern-a"));
        assert!(known.may_hold_stream("household-b"));
        let strangers = (0..10_000)
            .filter(|n| known.may_hold_stream(&format!("concern-{n}")))
            .count();
        assert!(
            strangers < 100,
            "{strangers} of 10,000 new streams looked known"
        );
    }

    #[test]
    fn a_growing_filter_never_forgets_an_id() {
        let mut filter = Filter::with_capacity(0);
        let ids: Vec<Uuid> = (0..(LAYER_ITEMS_MIN * 3) as u128)
            .map(Uuid::from_u128)
            .collect();
        for id in &ids {
            filter.insert(id);
        }
        assert!(filter.layers.len() >= 2, "the filter grew a layer");
        assert!(ids.iter().all(|id| filter.may_contain(id)));
        let strangers = (0..10_000u128)
            .map(|n| Uuid::from_u128(u128::MAX - n))
            .filter(|id| filter.may_contain(id))
            .count();
        assert!(
            strangers < 100,
            "{strangers} of 10,000 new ids looked known"
        );
    }
}
