//! Every stream's head, in memory: its last revision and the positions of
//! the revisions past its last full chunk (its *open chunk*).
//!
//! A stream's head changes with every append to it. Kept in sled, it was one
//! key rewritten per stream per group commit: most of the keys of a group,
//! and most of what sled wrote to disk (sled rewrites whole nodes), which the
//! records file's `fdatasync` then queued behind. So heads live here, and
//! sled holds only a stream's *full* chunks ([`crate::keys`]), written once
//! each, when they fill.
//!
//! The heads are built when the log opens, in the same pass over the records
//! file that builds the event-id index ([`crate::known`]), and updated by
//! whoever indexes a group (the applier, recovery, restore) right *after*
//! the sled entries that hold the group's full chunks: a reader that finds a
//! head in chunk `c` finds chunks `0..c` in sled. A head may run ahead of the
//! durable length (the applier indexes a group while it is being synced);
//! readers skip positions at or past the length they read at.
//!
//! Memory: one entry per stream (its name, its last revision, up to
//! [`crate::keys::STREAM_CHUNK_REVISIONS`] positions), about 100 bytes plus 8
//! per event of the open chunk: some 30 MB for a log of a million events in
//! 200,000 streams.

use crate::keys::StreamHead;
use rustc_hash::FxHashMap;
use std::sync::{PoisonError, RwLock};

/// The heads of every stream in the log, shared by the writer, the applier
/// and every reader.
#[derive(Debug, Default)]
pub(crate) struct StreamHeads {
    heads: RwLock<FxHashMap<Box<str>, StreamHead>>,
}

impl StreamHeads {
    pub(crate) fn new(heads: FxHashMap<Box<str>, StreamHead>) -> Self {
        StreamHeads {
            heads: RwLock::new(heads),
        }
    }

    /// The stream's head as indexed, or `None` if it has no event.
    pub(crate) fn get(&self, stream: &str) -> Option<StreamHead> {
        // A panic while holding the lock leaves whole heads behind: each
        // update replaces a head in one move.
        let heads = self.heads.read().unwrap_or_else(PoisonError::into_inner);
        heads.get(stream).cloned()
    }

    /// Takes in the heads that indexed groups changed, oldest group first.
    pub(crate) fn update(&self, changed: impl IntoIterator<Item = (String, StreamHead)>) {
        let mut heads = self.heads.write().unwrap_or_else(PoisonError::into_inner);
        for (stream, head) in changed {
            heads.insert(stream.into_boxed_str(), head);
        }
    }

    /// The number of streams in the log.
    pub(crate) fn len(&self) -> usize {
        let heads = self.heads.read().unwrap_or_else(PoisonError::into_inner);
        heads.len()
    }
}

/// Builds heads from records read in position order, as the open pass does.
#[derive(Debug, Default)]
pub(crate) struct HeadsBuilder {
    heads: FxHashMap<Box<str>, StreamHead>,
}

impl HeadsBuilder {
    /// Adds the record at `position`, revision `revision` of `stream`.
    /// Revisions of a stream come in order, so a revision that starts a
    /// chunk starts a new open chunk.
    pub(crate) fn add(&mut self, stream: &str, revision: u64, position: u64) {
        let head = match self.heads.get_mut(stream) {
            Some(head) => head,
            None => self.heads.entry(stream.into()).or_insert(StreamHead {
                last_revision: revision,
                open_chunk: Vec::new(),
            }),
        };
        if revision % crate::keys::STREAM_CHUNK_REVISIONS == 0 {
            head.open_chunk.clear();
        }
        head.last_revision = revision;
        head.open_chunk.push(position);
    }

    pub(crate) fn build(self) -> StreamHeads {
        StreamHeads::new(self.heads)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::keys::STREAM_CHUNK_REVISIONS;

    #[test]
    fn the_builder_keeps_only_the_open_chunk() {
        let mut builder = HeadsBuilder::default();
        for revision in 0..STREAM_CHUNK_REVISIONS + 2 {
            builder.add("concern-a", revision, 10 * revision);
        }
        builder.add("household-b", 0, 7);
        let heads = builder.build();
        let head = heads.get("concern-a").unwrap();
        assert_eq!(head.last_revision, STREAM_CHUNK_REVISIONS + 1);
        assert_eq!(
            head.open_chunk,
            vec![
                10 * STREAM_CHUNK_REVISIONS,
                10 * (STREAM_CHUNK_REVISIONS + 1)
            ]
        );
        assert_eq!(heads.get("household-b").unwrap().open_chunk, vec![7]);
        assert_eq!(heads.get("household-c"), None);
        assert_eq!(heads.len(), 2);
    }

    #[test]
    fn updates_replace_heads() {
        let heads = StreamHeads::default();
        let head = |revision: u64| StreamHead {
            last_revision: revision,
            open_chunk: (0..=revision).collect(),
        };
        heads.update([("concern-a".to_owned(), head(0))]);
        heads.update([("concern-a".to_owned(), head(1))]);
        assert_eq!(heads.get("concern-a"), Some(head(1)));
        assert_eq!(heads.get("concern-b"), None);
        assert_eq!(heads.len(), 1);
    }
}
