//! The event-id index: what the writer knows of every event id without
//! reading sled.
//!
//! Deciding an append looks up each event id: is it a retry? Almost every id
//! is new, and a sled `get` that finds nothing costs as much as one that
//! finds something (and sled does its lazy node splits on the thread that
//! reads). So every event id of the log lives here with its position, in
//! memory, read from the records file when the log opens and grown with
//! every group the writer decides. It is the only id index: sled holds none
//! (one random key per event was the costliest part of a group's index
//! there). A repeat's revision and content digest are read back from its
//! record. It costs 30 to 60 bytes of memory per event (the entry and the
//! map's slack): 30 to 60 MB per million events.
//!
//! The same pass over the records file builds every stream's head
//! ([`crate::heads`]).

use crate::error::Result;
use crate::heads::{HeadsBuilder, StreamHeads};
use crate::keys;
use crate::record::{self, Position};
use crate::records::{GroupRead, RecordsFile, GROUP_HEADER_BYTES};
use crate::staging::PendingGroup;
use rustc_hash::FxHashMap;
use uuid::Uuid;

/// What the writer knows of the log without reading it.
#[derive(Debug, Default)]
pub(crate) struct Known {
    ids: FxHashMap<Uuid, Position>,
}

impl Known {
    /// What an empty log knows: nothing, and that is all there is.
    pub(crate) fn empty() -> Self {
        Known::default()
    }

    /// Builds the id index and the stream heads from the records file up to
    /// `records_end` (one pass, when the log opens), sized for the log's
    /// `events`; `None` if the file's groups end before `records_end`.
    pub(crate) fn load(
        records: &RecordsFile,
        records_end: u64,
        events: u64,
    ) -> Result<Option<(Self, StreamHeads)>> {
        let capacity = usize::try_from(events).unwrap_or(usize::MAX);
        let mut ids = FxHashMap::with_capacity_and_hasher(capacity, Default::default());
        let mut heads = HeadsBuilder::default();
        let mut offset = 0;
        while offset < records_end {
            let GroupRead::Whole(body) = records.group_at(offset, records_end)? else {
                return Ok(None);
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
                match record::stored_identity(&body[span]) {
                    Some(identity) => {
                        ids.insert(identity.id, identity.position);
                        heads.add(identity.stream, identity.revision, identity.position);
                    }
                    None => tracing::warn!(group_offset, "a record's id cannot be read"),
                }
            }
        }
        Ok(Some((Known { ids }, heads.build())))
    }

    /// The position of the event with this id, if it is in the log or
    /// decided for it.
    pub(crate) fn position_of(&self, id: &Uuid) -> Option<Position> {
        self.ids.get(id).copied()
    }

    /// Takes in a decided group's ids.
    pub(crate) fn remember(&mut self, group: &PendingGroup) {
        for (id, position) in group.ids() {
            self.ids.insert(*id, position);
        }
    }
}
