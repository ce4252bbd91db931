//! The cases read recently, already opened and folded, so that reading a
//! case again costs one look at its stream's head instead of replaying its
//! whole history from the log.
//!
//! An entry is the case as of a stream revision. The log never rewrites a
//! stream, so the entry is right for as long as the stream's last durable
//! revision is the one it was read at; a case that moved is read again.
//! What the entry holds was opened with the households' keys, so it is also
//! tied to [`KeyStore::erasures`](casebook_privacy::KeyStore::erasures): an
//! erasure anywhere drops every entry read before it, and no erased note is
//! ever served from memory. Who may see the case is decided on every read,
//! never cached.

use casebook_domain::{Concern, ConcernId, Event};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cases kept before the cache is emptied and refills from use. A case of
/// a few dozen events takes some tens of kilobytes opened.
pub const CASES_CACHED_MAX: usize = 2048;

/// A case as its stream stood at `revision`, opened and folded.
#[derive(Debug)]
pub struct LoadedCase {
    /// Every event of the case, as stored and as the domain reads it.
    pub events: Vec<(casebook_log::RecordedEvent, Event)>,
    /// The case now (as of `revision`).
    pub concern: Concern,
    /// The stream's last revision when it was read.
    pub revision: u64,
    /// [`KeyStore::erasures`](casebook_privacy::KeyStore::erasures) when the
    /// events were opened.
    erasures: u64,
}

impl LoadedCase {
    /// A case read and opened while the key store's erasure count was
    /// `erasures` (read *before* opening any event).
    pub fn new(
        events: Vec<(casebook_log::RecordedEvent, Event)>,
        concern: Concern,
        erasures: u64,
    ) -> Self {
        let revision = events.last().map_or(0, |(recorded, _)| recorded.revision);
        LoadedCase {
            events,
            concern,
            revision,
            erasures,
        }
    }
}

/// The recently read cases, shared by every request.
#[derive(Debug, Default)]
pub struct CaseCache {
    entries: Mutex<HashMap<ConcernId, Arc<LoadedCase>>>,
}

impl CaseCache {
    /// The cached case, if it is still the case at `revision` and nothing
    /// was erased since it was opened.
    pub fn get(&self, id: ConcernId, revision: u64, erasures: u64) -> Option<Arc<LoadedCase>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&id)
            .filter(|case| case.revision == revision && case.erasures == erasures)
            .cloned()
    }

    /// Keeps a case just read.
    pub fn put(&self, id: ConcernId, case: Arc<LoadedCase>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CASES_CACHED_MAX && !entries.contains_key(&id) {
            entries.clear();
        }
        entries.insert(id, case);
    }
}
