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

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn case(id: ConcernId, revision: u64, erasures: u64) -> Arc<LoadedCase> {
        let concern: Concern = serde_json::from_value(serde_json::json!({
            "id": id.0, "status": "reported",
            "subject": {"household": {"household_id": Uuid::new_v4()}},
            "hamlet_id": Uuid::new_v4(), "coordinates": null, "kind": "concern",
            "topic": "health", "priority": "normal", "confidentiality": "normal",
            "sealed_informant": null, "text": "Đường ngập nước",
            "reported_by": Uuid::new_v4(), "reported_at": "2026-11-28T16:48:18Z",
            "handling_unit_id": Uuid::new_v4(), "assignee": null, "deadline": null,
            "paused_since": null, "escalations": [], "referrals": [],
            "actions_recorded": 0, "outcome": null, "feedback": null,
            "appeals": 0, "reopenings": 0, "merged_into": null
        }))
        .unwrap();
        Arc::new(LoadedCase {
            events: Vec::new(),
            concern,
            revision,
            erasures,
        })
    }

    #[test]
    fn a_case_is_served_only_at_its_revision_and_before_any_erasure() {
        let cache = CaseCache::default();
        let id = ConcernId(Uuid::new_v4());
        cache.put(id, case(id, 3, 7));
        assert!(cache.get(id, 3, 7).is_some());
        assert!(cache.get(id, 4, 7).is_none(), "the case moved on");
        assert!(cache.get(id, 3, 8).is_none(), "something was erased since");
        assert!(cache.get(ConcernId(Uuid::new_v4()), 3, 7).is_none());
    }

    #[test]
    fn a_full_cache_empties_and_refills() {
        let cache = CaseCache::default();
        let first = ConcernId(Uuid::new_v4());
        cache.put(first, case(first, 0, 0));
        for _ in 1..CASES_CACHED_MAX {
            let id = ConcernId(Uuid::new_v4());
            cache.put(id, case(id, 0, 0));
        }
        assert!(cache.get(first, 0, 0).is_some(), "not full yet");
        let newest = ConcernId(Uuid::new_v4());
        cache.put(newest, case(newest, 0, 0));
        assert!(cache.get(first, 0, 0).is_none(), "emptied when full");
        assert!(cache.get(newest, 0, 0).is_some());
    }
}
