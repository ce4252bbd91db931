//! The case rows read recently, kept decoded (and, once an answer asked,
//! with their case and units rendered as JSON), so that a list read again
//! costs a look at the view per case instead of decoding and re-encoding a
//! kilobyte of JSON for each.
//!
//! An entry is keyed by the case and holds the exact bytes it was decoded
//! from. A read still fetches the row's bytes from the view and uses the
//! entry only if they are the same bytes, so the cache can never serve a
//! row the view no longer holds: no invalidation, whichever generation of
//! the view (see `Slot`) the bytes came from. The bytes are the view's own
//! reference-counted buffer (sled's `IVec`), kept without a copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use casebook_domain::ConcernId;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::cases::{CaseRow, CasesView};
use crate::error::{ProjectionError, Result};
use crate::keyed_view::KeyedView;

/// Rows kept at most (a few kilobytes each): more than the first pages of
/// every list a province's committees keep open. A new row in a full
/// cache takes the place of an arbitrary one.
pub const ROWS_CACHED_MAX: usize = 4096;

/// A value's JSON, rendered once and written as is wherever it is
/// serialised again; shared, not copied, when cloned.
#[derive(Debug, Clone)]
pub struct RenderedJson(Arc<RawValue>);

impl RenderedJson {
    /// `value` as JSON.
    pub fn of<T: Serialize>(value: &T) -> Result<Self> {
        Ok(Self(Arc::from(serde_json::value::to_raw_value(value)?)))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl Serialize for RenderedJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A row as decoded from its bytes, and what of it was rendered so far.
#[derive(Debug, Clone)]
pub struct DecodedRow {
    /// The row.
    pub row: Arc<CaseRow>,
    /// Its parts rendered as JSON, shared by every copy of this entry.
    pub rendered: Arc<Rendered>,
}

/// The largest parts of one version of a row, rendered as JSON when first
/// asked for, once: an answer over HTTP asks, a page of the web or a query
/// in process does not.
#[derive(Debug, Default)]
pub struct Rendered {
    concern: OnceLock<RenderedJson>,
    unit_path: OnceLock<RenderedJson>,
}

impl Rendered {
    /// `row`'s case (`row.concern`) as JSON; `row` is the row these parts
    /// belong to.
    pub fn concern(&self, row: &CaseRow) -> Result<RenderedJson> {
        render_once(&self.concern, &row.concern)
    }

    /// `row`'s units (`row.unit_path`) as JSON.
    pub fn unit_path(&self, row: &CaseRow) -> Result<RenderedJson> {
        render_once(&self.unit_path, &row.unit_path)
    }
}

impl DecodedRow {
    /// Decodes a row from the view's bytes.
    pub fn decode(stored: &[u8]) -> Result<Self> {
        let row: CaseRow =
            serde_json::from_slice(stored).map_err(|e| ProjectionError::Corrupt {
                view: CasesView::NAME,
                reason: e.to_string(),
            })?;
        Ok(Self::new(row))
    }

    /// A row, nothing rendered yet.
    pub fn new(row: CaseRow) -> Self {
        Self {
            row: Arc::new(row),
            rendered: Arc::default(),
        }
    }
}

/// `value` as JSON, rendered into `cell` the first time.
fn render_once<T: Serialize>(cell: &OnceLock<RenderedJson>, value: &T) -> Result<RenderedJson> {
    if let Some(rendered) = cell.get() {
        return Ok(rendered.clone());
    }
    let rendered = RenderedJson::of(value)?;
    Ok(cell.get_or_init(|| rendered).clone())
}

struct Entry {
    stored: sled::IVec,
    decoded: DecodedRow,
}

/// The recently read rows, shared by every reader of the cases view.
#[derive(Default)]
pub struct RowCache {
    entries: Mutex<HashMap<ConcernId, Entry>>,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map_or(0, |e| e.len());
        f.debug_struct("RowCache").field("rows", &len).finish()
    }
}

impl RowCache {
    /// The row of `case` whose stored bytes are `stored`: from the cache if
    /// it holds those very bytes, else decoded and kept.
    pub fn row(&self, case: ConcernId, stored: sled::IVec) -> Result<DecodedRow> {
        if let Ok(entries) = self.entries.lock() {
            if let Some(entry) = entries.get(&case).filter(|e| e.stored == stored) {
                return Ok(entry.decoded.clone());
            }
        }
        let decoded = DecodedRow::decode(&stored)?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= ROWS_CACHED_MAX && !entries.contains_key(&case) {
                // One row makes room, any one: emptying the whole cache
                // would make one reader free thousands of rows at once.
                if let Some(evicted) = entries.keys().next().copied() {
                    entries.remove(&evicted);
                }
            }
            let entry = Entry {
                stored,
                decoded: decoded.clone(),
            };
            entries.insert(case, entry);
        }
        Ok(decoded)
    }

    /// How many rows are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn stored(row: &CaseRow) -> sled::IVec {
        serde_json::to_vec(row).unwrap().into()
    }

    fn a_row() -> CaseRow {
        let json = include_str!("../tests/data/case_row.json");
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_same_bytes_are_decoded_once_and_other_bytes_again() {
        let cache = RowCache::default();
        let row = a_row();
        let case = row.concern.id;
        let first = cache.row(case, stored(&row)).unwrap();
        let again = cache.row(case, stored(&row)).unwrap();
        assert!(Arc::ptr_eq(&first.row, &again.row), "a hit");
        let mut moved = row.clone();
        moved.position += 1;
        moved.concern.actions_recorded += 1;
        let after = cache.row(case, stored(&moved)).unwrap();
        assert!(!Arc::ptr_eq(&first.row, &after.row));
        assert_eq!(*after.row, moved, "the row the view holds now");
        let concern_json = after.rendered.concern(&after.row).unwrap();
        let rendered: serde_json::Value = serde_json::from_str(concern_json.get()).unwrap();
        assert_eq!(rendered, serde_json::to_value(&moved.concern).unwrap());
        let again = cache.row(case, stored(&moved)).unwrap();
        let again = again.rendered.concern(&again.row).unwrap();
        assert!(Arc::ptr_eq(&concern_json.0, &again.0), "rendered once");
        let unit_path_json = after.rendered.unit_path(&after.row).unwrap();
        let units: serde_json::Value = serde_json::from_str(unit_path_json.get()).unwrap();
        assert_eq!(units, serde_json::to_value(&moved.unit_path).unwrap());
    }

    #[test]
    fn bytes_that_are_not_a_row_are_a_corrupt_view_and_are_not_kept() {
        let cache = RowCache::default();
        let case = a_row().concern.id;
        let error = cache.row(case, sled::IVec::from(&b"{}"[..])).unwrap_err();
        assert!(matches!(
            error,
            ProjectionError::Corrupt { view: "cases", .. }
        ));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_full_cache_makes_room_for_the_newest_row_one_at_a_time() {
        let cache = RowCache::default();
        let row = a_row();
        for _ in 0..ROWS_CACHED_MAX {
            let mut other = row.clone();
            other.concern.id = ConcernId(uuid::Uuid::new_v4());
            cache.row(other.concern.id, stored(&other)).unwrap();
        }
        assert_eq!(cache.len(), ROWS_CACHED_MAX);
        let first = cache.row(row.concern.id, stored(&row)).unwrap();
        assert_eq!(cache.len(), ROWS_CACHED_MAX);
        let again = cache.row(row.concern.id, stored(&row)).unwrap();
        assert!(Arc::ptr_eq(&first.row, &again.row), "the newest is kept");
    }
}
