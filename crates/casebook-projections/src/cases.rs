//! The cases view: every case's current state, listed by jurisdiction with
//! filters, two sort orders and keyset pagination.
//!
//! Keys (tag, then fixed-width parts):
//! - `c` case → [`CaseRow`] (JSON): the case as `evolve` folds it, without
//!   the sealed informant (views never hold it), with its unit path.
//! - `n` unit, newest-first report time, case → (): one entry under the
//!   case's hamlet and one under its commune (the hamlet's parent: the
//!   domain hangs hamlets under communes only).
//! - `d` unit, deadline (or the end of time), case → (): likewise, by due date.
//! - `N`, `D`: the same two orders holding only open cases (not resolved,
//!   closed, merged or withdrawn). Most cases of a year are closed, so a
//!   list of open or overdue cases scans these instead of skipping past
//!   thousands of closed ones.
//!
//! A list of a hamlet or a commune is one prefix scan of `n` or `d`; a list
//! of a post or a province merges the scans of the communes in its
//! jurisdiction ([`units::indexed_roots`]) with a heap. Indexing under the
//! two lowest levels only writes 9 keys for a new case instead of 17 (one
//! entry per unit of the path), which the command load measured
//! (`docs/PERFORMANCE.md`). The cursor is the last key's sort part, so the
//! next page starts strictly after it whatever was added or changed
//! meanwhile.

use casebook_domain::{
    evolve, Assignee, Concern, ConcernId, ConcernKind, DeadlineStatus, Payload, Policy, Priority,
    Status, StreamId, TopicCode, UnitId,
};
use casebook_log::Position;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::keyed_view::KeyedView;
use crate::keys::{id, key, prefix_end, time, time_desc};
use crate::row_cache::{DecodedRow, Rendered, RenderedJson, RowCache};
use crate::staging::{Source, Staging};
use crate::units;
use crate::view_tree::{Entries, Key, ViewTree};

const TAG_CASE: u8 = b'c';
const TAG_NEWEST: u8 = b'n';
const TAG_DUE: u8 = b'd';
const TAG_OPEN_NEWEST: u8 = b'N';
const TAG_OPEN_DUE: u8 = b'D';

/// Most cases one page holds: a screenful, and a bounded answer.
pub const PAGE_CASES_MAX: usize = 200;
/// Most index entries one page reads before it answers with what it found
/// and a cursor: a rare filter must not turn one request into a full scan.
pub const PAGE_SCAN_MAX: usize = 5_000;
/// Bytes of a sort key in an index entry and a cursor: time, then case id.
const SORT_KEY_LEN: usize = 8 + 16;
/// Bytes before the sort key in an index entry: the tag and the unit.
const ENTRY_PREFIX_LEN: usize = 1 + 16;
/// The levels of a case's path it is indexed under, from the bottom: the
/// hamlet and its commune.
const INDEXED_LEVELS: usize = 2;

/// The cases view.
#[derive(Debug)]
pub struct CasesView;

/// One case as the view keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRow {
    /// The case's state, without the sealed informant.
    pub concern: Concern,
    /// The units from the root down to the case's hamlet.
    pub unit_path: Vec<UnitId>,
    /// When the log recorded its last event.
    pub updated_at: DateTime<Utc>,
    /// Its last event's type (borrowed from the domain's names while a
    /// view folds events: no string made per event).
    pub last_event_type: std::borrow::Cow<'static, str>,
    /// Its last event's position.
    pub position: Position,
}

impl KeyedView for CasesView {
    const NAME: &'static str = "cases";
    /// 2: the open-only indexes `N` and `D`; 3: index entries under the
    /// hamlet and the commune only.
    const VERSION: u32 = 3;

    type Extra = Touched;

    fn apply(&self, staging: &mut CaseStaging, event: &Decoded) -> Result<()> {
        let StreamId::Concern(case) = event.stream else {
            return Ok(());
        };
        let row_key = key(TAG_CASE, &[&id(case.0)]);
        // Moved out of the staging, and staged again below: a case folds
        // every event without a copy of its row.
        let taken = staging.take_of_stream::<CaseRow>(Self::NAME, &row_key, event)?;
        let (state, old, known_path) = match taken {
            Some(row) => {
                let old = (is_open(row.concern.status), row.concern.deadline);
                (Some(row.concern), Some(old), Some(row.unit_path))
            }
            None => (None, None, None),
        };
        // With a state, `evolve` always gives one: the row is staged again.
        let Some(mut concern) = evolve(state, &event.event) else {
            return Ok(());
        };
        let unit_path = match (known_path, &event.event.payload) {
            (Some(path), _) => path,
            (None, Payload::ConcernReported(e)) => {
                units::path_cached(staging, Self::NAME, e.hamlet_id)?
            }
            (None, _) => return Ok(()),
        };
        // A case first seen in this staging has nothing in the tree yet.
        let fresh = old.is_none() || staging.is_new(&row_key);
        // Its index entries move at the settle, from where they are now.
        staging.extra.0.entry(case).or_insert(old);
        concern.sealed_informant = None;
        let row = CaseRow {
            concern,
            unit_path,
            updated_at: event.recorded_at,
            last_event_type: event.event.payload.event_type().into(),
            position: event.position,
        };
        if fresh {
            staging.put_new(row_key, row);
        } else {
            staging.put_owned(row_key, row);
        }
        Ok(())
    }

    /// Up to eight index entries a case may move.
    fn extra_keys(touched: &Touched) -> usize {
        8 * touched.0.len()
    }

    /// Moves the index entries of every case touched since the last settle
    /// from where they were to where its row now stands: once per case,
    /// however many of its events moved it meanwhile.
    fn settle(&self, staging: &mut CaseStaging) -> Result<()> {
        for (case, old) in std::mem::take(&mut staging.extra.0) {
            let row_key = key(TAG_CASE, &[&id(case.0)]);
            let Some(row) = staging.read::<CaseRow>(Self::NAME, &row_key)? else {
                continue;
            };
            let new = (is_open(row.concern.status), row.concern.deadline);
            if old == Some(new) {
                continue;
            }
            let entries = CaseEntries {
                units: indexed_units(&row.unit_path).to_vec(),
                case,
                reported_at: row.concern.reported_at,
            };
            // Entries first written in this staging are not in the tree.
            let fresh = old.is_none() || staging.is_new(&row_key);
            index(staging, &entries, old, new, fresh);
        }
        Ok(())
    }
}

/// The cases touched since the last settle, each with where it stood
/// before (`None`: it had no row).
#[derive(Debug, Default)]
pub struct Touched(rustc_hash::FxHashMap<ConcernId, Option<Placed>>);

/// A staging of the cases view.
type CaseStaging = Staging<Touched>;

/// What a case's index entries are made of.
struct CaseEntries {
    /// The units it is indexed under.
    units: Vec<UnitId>,
    case: ConcernId,
    reported_at: DateTime<Utc>,
}

/// Whether a case in this status counts as open for the `N`/`D` indexes.
fn is_open(status: Status) -> bool {
    !matches!(
        status,
        Status::Resolved | Status::Closed | Status::Merged | Status::Withdrawn
    )
}

/// Where a case stands for the indexes: open, and its deadline.
type Placed = (bool, Option<DateTime<Utc>>);

/// Writes the index entries of a new case, or moves them from `old` to
/// `new`; `fresh` if none of the case's entries is in the tree yet.
fn index(
    staging: &mut CaseStaging,
    entries: &CaseEntries,
    old: Option<Placed>,
    new: Placed,
    fresh: bool,
) {
    let put = |staging: &mut CaseStaging, key: Key| {
        if fresh {
            staging.put_raw_new(key, Vec::new());
        } else {
            staging.put_raw(key, Vec::new());
        }
    };
    let case = id(entries.case.0);
    let newest = time_desc(entries.reported_at);
    for unit in &entries.units {
        let unit = id(unit.0);
        let entry = |tag: u8, sort: &[u8]| key(tag, &[&unit, sort, &case]);
        if let Some((was_open, deadline)) = old {
            staging.remove(entry(TAG_DUE, &due(deadline)));
            if was_open {
                staging.remove(entry(TAG_OPEN_DUE, &due(deadline)));
                staging.remove(entry(TAG_OPEN_NEWEST, &newest));
            }
        } else {
            put(staging, entry(TAG_NEWEST, &newest));
        }
        put(staging, entry(TAG_DUE, &due(new.1)));
        if new.0 {
            put(staging, entry(TAG_OPEN_DUE, &due(new.1)));
            put(staging, entry(TAG_OPEN_NEWEST, &newest));
        }
    }
}

/// The units of a case's path that hold its index entries: the last
/// [`INDEXED_LEVELS`] (the hamlet and its commune).
fn indexed_units(path: &[UnitId]) -> &[UnitId] {
    &path[path.len().saturating_sub(INDEXED_LEVELS)..]
}

/// The due-date sort key: cases without a deadline come last.
fn due(deadline: Option<DateTime<Utc>>) -> [u8; 8] {
    deadline.map_or([u8::MAX; 8], time)
}

/// Which deadline state a list keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineFilter {
    /// Past the deadline and still running.
    Overdue,
    /// Within the policy's "due soon" window.
    DueSoon,
    /// Either.
    OverdueOrDueSoon,
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseSort {
    /// Latest reported first.
    #[default]
    Newest,
    /// Earliest deadline first; cases without one last.
    DueDate,
}

/// What a list keeps. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFilter {
    /// The jurisdiction: this unit and everything below it (and for a post
    /// the communes it covers).
    pub unit: UnitId,
    /// Any of these statuses.
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// Any of these kinds.
    #[serde(default)]
    pub kinds: Vec<ConcernKind>,
    /// Any of these topics.
    #[serde(default)]
    pub topics: Vec<TopicCode>,
    /// Any of these priorities.
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Handled by exactly this assignee.
    #[serde(default)]
    pub assignee: Option<Assignee>,
    /// Overdue or due soon at the query's `now`.
    #[serde(default)]
    pub deadline: Option<DeadlineFilter>,
    /// Changed (recorded by the log) at or after this time.
    #[serde(default)]
    pub updated_since: Option<DateTime<Utc>>,
}

impl CaseFilter {
    /// Every case in `unit`'s jurisdiction.
    pub fn unit(unit: UnitId) -> Self {
        Self {
            unit,
            statuses: Vec::new(),
            kinds: Vec::new(),
            topics: Vec::new(),
            priorities: Vec::new(),
            assignee: None,
            deadline: None,
            updated_since: None,
        }
    }

    /// Whether only open cases can pass: every status asked for is open,
    /// or a deadline state is asked for (only open cases have one).
    fn only_open(&self) -> bool {
        self.deadline.is_some()
            || (!self.statuses.is_empty() && self.statuses.iter().all(|s| is_open(*s)))
    }

    fn keeps(&self, row: &CaseRow, status: DeadlineStatus) -> bool {
        let c = &row.concern;
        let any = |empty: bool, hit: bool| empty || hit;
        any(self.statuses.is_empty(), self.statuses.contains(&c.status))
            && any(self.kinds.is_empty(), self.kinds.contains(&c.kind))
            && any(self.topics.is_empty(), self.topics.contains(&c.topic))
            && any(
                self.priorities.is_empty(),
                self.priorities.contains(&c.priority),
            )
            && self.assignee.is_none_or(|a| c.assignee == Some(a))
            && self.updated_since.is_none_or(|t| row.updated_at >= t)
            && self.deadline.is_none_or(|d| match d {
                DeadlineFilter::Overdue => status == DeadlineStatus::Overdue,
                DeadlineFilter::DueSoon => status == DeadlineStatus::DueSoon,
                DeadlineFilter::OverdueOrDueSoon => {
                    matches!(status, DeadlineStatus::Overdue | DeadlineStatus::DueSoon)
                }
            })
    }
}

/// One case in a list, with where its deadline stands at the query's `now`.
#[derive(Debug, Clone)]
pub struct CaseItem {
    /// The case.
    pub row: Arc<CaseRow>,
    /// Its deadline at `now`.
    pub deadline_status: DeadlineStatus,
    rendered: Arc<Rendered>,
}

impl CaseItem {
    /// A row read other than through a list (a search hit), with its
    /// deadline status.
    pub fn new(row: CaseRow, deadline_status: DeadlineStatus) -> Self {
        Self::decoded(DecodedRow::new(row), deadline_status)
    }

    fn decoded(decoded: DecodedRow, deadline_status: DeadlineStatus) -> Self {
        Self {
            row: decoded.row,
            deadline_status,
            rendered: decoded.rendered,
        }
    }

    /// Its case (`row.concern`) as JSON, rendered once per version of the
    /// row while the row stays in the cache: an answer writes it as is.
    pub fn concern_json(&self) -> Result<RenderedJson> {
        self.rendered.concern(&self.row)
    }

    /// Its units (`row.unit_path`) as JSON, likewise.
    pub fn unit_path_json(&self) -> Result<RenderedJson> {
        self.rendered.unit_path(&self.row)
    }
}

/// Items are equal when their rows and deadline states are: the rendered
/// JSON is made from the row.
impl PartialEq for CaseItem {
    fn eq(&self, other: &Self) -> bool {
        self.row == other.row && self.deadline_status == other.deadline_status
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// The cases, in the requested order.
    pub items: Vec<CaseItem>,
    /// Pass it back for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// One case by id.
pub fn get(tree: &ViewTree, case: casebook_domain::ConcernId) -> Result<Option<CaseRow>> {
    tree.read(CasesView::NAME, &key(TAG_CASE, &[&id(case.0)]))
}

/// One page of cases; rows come from `rows` when it holds the bytes the
/// view holds.
#[allow(clippy::too_many_arguments)]
pub fn list(
    tree: &ViewTree,
    rows: &RowCache,
    policy: &Policy,
    filter: &CaseFilter,
    sort: CaseSort,
    limit: usize,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CasePage> {
    let limit = limit.clamp(1, PAGE_CASES_MAX);
    let after = cursor.map(|c| parse_cursor(c, sort)).transpose()?;
    let tag = match (sort, filter.only_open()) {
        (CaseSort::Newest, false) => TAG_NEWEST,
        (CaseSort::Newest, true) => TAG_OPEN_NEWEST,
        (CaseSort::DueDate, false) => TAG_DUE,
        (CaseSort::DueDate, true) => TAG_OPEN_DUE,
    };
    let roots = units::jurisdiction_roots(tree, CasesView::NAME, filter.unit)?;
    let indexed = units::indexed_roots(tree, CasesView::NAME, &roots)?;
    let mut merged = Merged::new(
        indexed
            .iter()
            .map(|unit| scan(tree, tag, *unit, after.as_deref()))
            .collect(),
    )?;
    let mut items = Vec::new();
    let mut scanned = 0;
    let mut last = None;
    while items.len() < limit && scanned < PAGE_SCAN_MAX {
        let Some(sort_key) = merged.next()? else {
            return Ok(CasePage {
                items,
                next_cursor: None,
            });
        };
        scanned += 1;
        let case = crate::keys::uuid_from(&sort_key[8..]).ok_or(ProjectionError::BadCursor)?;
        let case = casebook_domain::ConcernId(case);
        if let Some(stored) = tree.get(key(TAG_CASE, &[&id(case.0)])) {
            let decoded = rows.row(case, stored)?;
            let status = policy.deadline_status(&decoded.row.concern, now);
            if filter.keeps(&decoded.row, status) {
                items.push(CaseItem::decoded(decoded, status));
            }
        }
        last = Some(sort_key);
    }
    let next_cursor = last.map(|k| make_cursor(sort, &k));
    Ok(CasePage { items, next_cursor })
}

type Scan<'a> = Entries<'a>;

/// The index entries of one unit, strictly after `after`.
fn scan<'a>(tree: &'a ViewTree, tag: u8, unit: UnitId, after: Option<&[u8]>) -> Scan<'a> {
    let prefix = key(tag, &[&id(unit.0)]).to_vec();
    let end = prefix_end(&prefix);
    match after {
        Some(after) => {
            let mut start = prefix.clone();
            start.extend_from_slice(after);
            tree.range((
                std::ops::Bound::Excluded(start),
                std::ops::Bound::Excluded(end),
            ))
        }
        None => tree.range(prefix..end),
    }
}

/// The scans of several units merged into one ascending run of sort keys:
/// a heap holds each scan's next key, so a province's fifty communes cost a
/// logarithm per key, not fifty comparisons.
struct Merged<'a> {
    scans: Vec<Scan<'a>>,
    heads: BinaryHeap<Reverse<(SortKey, usize)>>,
}

/// The sort part of an index entry: time, then case id.
type SortKey = [u8; SORT_KEY_LEN];

impl<'a> Merged<'a> {
    fn new(mut scans: Vec<Scan<'a>>) -> Result<Self> {
        let mut heads = BinaryHeap::with_capacity(scans.len());
        for (i, scan) in scans.iter_mut().enumerate() {
            if let Some(sort_key) = next_sort_key(scan)? {
                heads.push(Reverse((sort_key, i)));
            }
        }
        Ok(Self { scans, heads })
    }

    /// The smallest sort key not yet taken, or `None` once every scan is done.
    fn next(&mut self) -> Result<Option<SortKey>> {
        let Some(Reverse((sort_key, i))) = self.heads.pop() else {
            return Ok(None);
        };
        if let Some(following) = next_sort_key(&mut self.scans[i])? {
            self.heads.push(Reverse((following, i)));
        }
        Ok(Some(sort_key))
    }
}

fn next_sort_key(scan: &mut Scan<'_>) -> Result<Option<SortKey>> {
    let Some((k, _)) = scan.next() else {
        return Ok(None);
    };
    k.get(ENTRY_PREFIX_LEN..)
        .and_then(|sort| SortKey::try_from(sort).ok())
        .map(Some)
        .ok_or_else(|| ProjectionError::Corrupt {
            view: CasesView::NAME,
            reason: format!("an index entry of {} bytes", k.len()),
        })
}

fn make_cursor(sort: CaseSort, sort_key: &[u8]) -> String {
    let tag = match sort {
        CaseSort::Newest => 'n',
        CaseSort::DueDate => 'd',
    };
    format!("{tag}{}", hex::encode(sort_key))
}

fn parse_cursor(cursor: &str, sort: CaseSort) -> Result<Vec<u8>> {
    let expected = match sort {
        CaseSort::Newest => "n",
        CaseSort::DueDate => "d",
    };
    let body = cursor
        .strip_prefix(expected)
        .ok_or(ProjectionError::BadCursor)?;
    let bytes = hex::decode(body).map_err(|_| ProjectionError::BadCursor)?;
    if bytes.len() != SORT_KEY_LEN {
        return Err(ProjectionError::BadCursor);
    }
    Ok(bytes)
}
