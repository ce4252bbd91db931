//! The resolution figures: what committees read at review meetings.
//!
//! Counters are kept per unit (every unit on the path from the root to the
//! case's hamlet, so figures roll up the tree), per period (day, month,
//! quarter, year, in the policy's time zone, by the field time of the
//! event), per topic (and `*` for all topics). Times to acknowledge and to
//! resolve are kept as counts per hdrhistogram bucket in the same values,
//! so medians and 90th percentiles add up across units and periods exactly
//! as counts do (the query puts the buckets in one histogram). "Open now" and "overdue now" are answered at query time from the
//! open cases' deadlines, never rewritten as the clock turns.
//!
//! Keys:
//! - `s` case → [`FigCase`] (JSON): what the figures need of each case.
//! - `f` unit, granularity, period, topic (or `*`) → `TopicFigures`: the
//!   [`Counters`] and the durations to acknowledge and to resolve as
//!   (histogram bucket, count) pairs, in one value (was a counter key and
//!   two hdrhistogram keys).
//! - `o` unit, deadline, case → topic: open cases whose clock runs.
//! - `p` unit, topic → number of open cases (u64).
//! - `q` unit, span, topic → how many of the `o` entries have their
//!   deadline in that span of [`DUE_SPAN_S`] seconds (u64); `r` the same
//!   for the shorter spans of [`DUE_SLOT_S`]. "Overdue now" adds the
//!   counts of the spans and slots that ended before now and reads only
//!   the last slot's deadlines one by one: a province's figures read a few
//!   hundred values instead of every overdue case below it, twice.

use std::collections::BTreeMap;

use casebook_domain::{ConcernId, Payload, Policy, StreamId, TopicCode, UnitId};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::keyed_view::KeyedView;
use crate::keys::{id, key, prefix_end, signed, time};
use crate::staging::{Source, Staging};
use crate::units;
use crate::view_tree::{Key, ViewTree};

const TAG_CASE: u8 = b's';
const TAG_COUNTERS: u8 = b'f';
const TAG_OPEN_DEADLINE: u8 = b'o';
const TAG_OPEN_COUNT: u8 = b'p';
const TAG_DUE_SPAN: u8 = b'q';
const TAG_DUE_SLOT: u8 = b'r';
/// Length of a `q` span of deadlines: 2^22 s, about 48½ days. Spans and
/// slots are counted from the epoch, so each span holds 64 whole slots.
const DUE_SPAN_S: i64 = 1 << 22;
/// Length of an `r` slot of deadlines: 2^16 s, about 18 hours.
const DUE_SLOT_S: i64 = 1 << 16;
/// The topic under which every topic is counted together.
const ALL_TOPICS: &str = "*";
/// Longest duration recorded, in seconds: ten years; longer is clamped.
const DURATION_S_MAX: u64 = 10 * 365 * 24 * 3600;
/// Two significant digits: 1 % error on a median of days is minutes, and
/// keeps each stored histogram a few hundred bytes.
const HISTOGRAM_DIGITS: u8 = 2;
/// Number of counters in [`Counters`].
const COUNTERS: usize = 11;

/// The figures view.
#[derive(Debug)]
pub struct FiguresView {
    /// Its time zone decides which day an event falls on.
    pub policy: Policy,
}

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// A local calendar day.
    Day,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
}

impl Granularity {
    fn tag(self) -> u8 {
        match self {
            Self::Day => b'd',
            Self::Month => b'm',
            Self::Quarter => b'q',
            Self::Year => b'y',
        }
    }

    /// How coarse: a day 0, a month 1, a quarter 2, a year 3.
    fn rank(self) -> u8 {
        match self {
            Self::Day => 0,
            Self::Month => 1,
            Self::Quarter => 2,
            Self::Year => 3,
        }
    }

    /// The first day of the period holding `date`.
    fn first_day(self, date: NaiveDate) -> NaiveDate {
        let (y, m) = (date.year(), date.month());
        let first = match self {
            Self::Day => return date,
            Self::Month => NaiveDate::from_ymd_opt(y, m, 1),
            Self::Quarter => NaiveDate::from_ymd_opt(y, (m - 1) / 3 * 3 + 1, 1),
            Self::Year => NaiveDate::from_ymd_opt(y, 1, 1),
        };
        first.unwrap_or(date)
    }

    /// The last day of the period holding `date`.
    fn last_day(self, date: NaiveDate) -> NaiveDate {
        let months = match self {
            Self::Day => return date,
            Self::Month => 1,
            Self::Quarter => 3,
            Self::Year => 12,
        };
        self.first_day(date)
            .checked_add_months(chrono::Months::new(months))
            .and_then(|next| next.pred_opt())
            .unwrap_or(date)
    }

    /// The next coarser granularity and its period that holds `period` of
    /// this one: a day's month, a month's quarter, a quarter's year. A year
    /// has none.
    fn coarser(self, period: u32) -> Option<(Self, u32)> {
        match self {
            Self::Day => Some((Self::Month, period / 100)),
            Self::Month => {
                let (year, month) = (period / 100, period % 100);
                Some((Self::Quarter, year * 10 + month.saturating_sub(1) / 3 + 1))
            }
            Self::Quarter => Some((Self::Year, period / 10)),
            Self::Year => None,
        }
    }

    /// The period number of a date: 20240304, 202403, 20241, 2024.
    fn period(self, date: NaiveDate) -> u32 {
        let (y, m, d) = (date.year().max(0) as u32, date.month(), date.day());
        match self {
            Self::Day => y * 10_000 + m * 100 + d,
            Self::Month => y * 100 + m,
            Self::Quarter => y * 10 + (m - 1) / 3 + 1,
            Self::Year => y,
        }
    }
}

/// What the figures keep of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigCase {
    path: Vec<UnitId>,
    topic: TopicCode,
    reported_at: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
    open: bool,
    /// The deadline clock runs (acknowledged, not paused, open).
    running: bool,
}

/// Counts for one unit, period and topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Cases reported.
    pub received: u64,
    /// Cases acknowledged (triaged).
    pub acknowledged: u64,
    /// Resolutions (including referred out and declined).
    pub resolved: u64,
    /// Resolutions at or before the deadline.
    pub resolved_on_time: u64,
    /// Escalations.
    pub escalated: u64,
    /// Referrals to bodies outside the tree.
    pub referred_out: u64,
    /// Reopenings and appeals.
    pub reopened: u64,
    /// Residents satisfied.
    pub satisfied: u64,
    /// Residents not satisfied.
    pub not_satisfied: u64,
    /// Cases withdrawn.
    pub withdrawn: u64,
    /// Cases merged as duplicates.
    pub merged: u64,
}

impl Counters {
    fn fields(self) -> [u64; COUNTERS] {
        [
            self.received,
            self.acknowledged,
            self.resolved,
            self.resolved_on_time,
            self.escalated,
            self.referred_out,
            self.reopened,
            self.satisfied,
            self.not_satisfied,
            self.withdrawn,
            self.merged,
        ]
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        Self::from_fields(std::array::from_fn(|i| {
            bytes
                .get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_be_bytes)
        }))
    }

    fn from_fields(f: [u64; COUNTERS]) -> Self {
        let [received, acknowledged, resolved, resolved_on_time, escalated, referred_out, reopened, satisfied, not_satisfied, withdrawn, merged] =
            f;
        Self {
            received,
            acknowledged,
            resolved,
            resolved_on_time,
            escalated,
            referred_out,
            reopened,
            satisfied,
            not_satisfied,
            withdrawn,
            merged,
        }
    }

    fn add(&mut self, other: Counters) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].saturating_add(b[i])));
    }
}

/// A staging of the figures view.
type FigStaging = Staging<Cells>;

/// Which counter an event moves.
type Bump = fn(&mut Counters);

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, DURATION_S_MAX, HISTOGRAM_DIGITS)
        .map_err(|e| corrupt(e.to_string()))
}

fn corrupt(reason: String) -> ProjectionError {
    ProjectionError::Corrupt {
        view: FiguresView::NAME,
        reason,
    }
}

impl KeyedView for FiguresView {
    const NAME: &'static str = "figures";
    /// 2: one value per unit, period and topic holding its counters and
    /// durations (was one counter and two histograms). 3: open deadlines
    /// also counted by span and slot (`q`, `r`).
    const VERSION: u32 = 3;
    type Extra = Cells;

    fn apply(&self, staging: &mut FigStaging, event: &Decoded) -> Result<()> {
        let StreamId::Concern(case) = event.stream else {
            return Ok(());
        };
        let case_key = key(TAG_CASE, &[&id(case.0)]);
        let at = event.event.occurred_at;
        // Moved out of the staging, and staged again below.
        let before = staging.take_of_stream::<FigCase>(Self::NAME, &case_key, event)?;
        let known = before.is_some();
        let mut c = match before {
            Some(c) => c,
            None => match self.created(staging, &event.event.payload, at)? {
                Some(c) => c,
                None => return Ok(()),
            },
        };
        // A case first seen in this staging has nothing in the tree yet.
        let fresh = !known || staging.is_new(&case_key);
        self.fold(staging, &mut c, case, &event.event.payload, at, fresh)?;
        if fresh {
            staging.put_new(case_key, c);
        } else {
            staging.put_owned(case_key, c);
        }
        Ok(())
    }

    /// A leaf becomes a value for each unit on its path, period and topic,
    /// but leaves of one unit and month share most of them: counted as two.
    /// A moved deadline changes an entry in each unit on its path (about
    /// four) and their counts.
    fn extra_keys(cells: &Cells) -> usize {
        2 * cells.leaves.len() + cells.open.len() + cells.due.len() + 8 * cells.moved.len()
    }

    fn settle(&self, staging: &mut FigStaging) -> Result<()> {
        let mut cells = std::mem::take(&mut staging.extra);
        move_deadlines(staging, &mut cells);
        cells.roll_up();
        for (cell, change) in cells.sums.iter().flatten() {
            // A new value (most are a new day's) is the sum itself; an
            // old one is held since an earlier batch of a catch-up, or stored.
            let held = staging.held_mut_or_put_raw(
                cell.key(&cells.topics),
                || change.to_bytes(),
                encode_topic,
                |stored| {
                    stored.map_or_else(|| Ok(TopicFigures::default()), TopicFigures::from_bytes)
                },
            )?;
            if let Some(sum) = held {
                sum.add(change);
            }
        }
        for (cell, n) in cells.open.drain() {
            let k = key(
                TAG_OPEN_COUNT,
                &[&cell.unit, topic_bytes(&cells.topics, cell.topic)],
            );
            staging.put_raw(k, n.to_be_bytes().to_vec());
        }
        for (cell, change) in cells.due.drain() {
            let k = cell.key(&cells.topics);
            let stored = match staging.get_raw(&k)? {
                Some(bytes) => crate::keys::position_from(&bytes)
                    .ok_or_else(|| corrupt(format!("a deadline count of {} bytes", bytes.len())))?,
                None => 0,
            };
            match stored.checked_add_signed(change) {
                Some(0) => staging.remove(k),
                Some(n) => staging.put_raw(k, n.to_be_bytes().to_vec()),
                None => {
                    return Err(corrupt(format!(
                        "a deadline count of {stored} would change by {change}"
                    )))
                }
            }
        }
        cells.settled();
        staging.extra = cells;
        Ok(())
    }
}

impl FiguresView {
    fn created(
        &self,
        staging: &mut FigStaging,
        payload: &Payload,
        at: DateTime<Utc>,
    ) -> Result<Option<FigCase>> {
        let Payload::ConcernReported(e) = payload else {
            return Ok(None);
        };
        Ok(Some(FigCase {
            path: units::path_cached(staging, Self::NAME, e.hamlet_id)?,
            topic: e.topic.clone(),
            reported_at: at,
            deadline: None,
            open: false,
            running: false,
        }))
    }

    fn fold(
        &self,
        s: &mut FigStaging,
        c: &mut FigCase,
        case: ConcernId,
        payload: &Payload,
        at: DateTime<Utc>,
        fresh: bool,
    ) -> Result<()> {
        let was_running = c.running.then_some(c.deadline).flatten();
        // The topic the running deadline was counted under.
        let counted_topic = was_running.map(|_| s.extra.topic_id(&c.topic));
        match payload {
            Payload::ConcernReported(_) => {
                self.bump(s, c, at, |n| n.received += 1)?;
                self.open_count(s, c, true)?;
                c.open = true;
            }
            Payload::ConcernAcknowledged(e) => {
                self.open_count(s, c, false)?;
                c.topic = e.topic.clone();
                self.open_count(s, c, true)?;
                self.bump(s, c, at, |n| n.acknowledged += 1)?;
                self.record(s, c, at, b'a')?;
                c.deadline = Some(e.deadline);
                c.running = true;
            }
            Payload::ConcernEscalated(_) => self.bump(s, c, at, |n| n.escalated += 1)?,
            Payload::ReferredOut(_) => self.bump(s, c, at, |n| n.referred_out += 1)?,
            Payload::ClockPaused(_) => c.running = false,
            Payload::ClockResumed(e) => {
                c.deadline = Some(e.deadline);
                c.running = true;
            }
            Payload::InterimReplied(e) => c.deadline = Some(e.deadline),
            Payload::ConcernResolved(_) => {
                let on_time = c.deadline.is_none_or(|d| at <= d);
                self.bump(s, c, at, |n| n.resolved += 1)?;
                if on_time {
                    self.bump(s, c, at, |n| n.resolved_on_time += 1)?;
                }
                self.record(s, c, at, b'r')?;
                self.close(s, c)?;
            }
            Payload::FeedbackRecorded(e) => {
                let bump: Bump = if e.satisfied {
                    |n| n.satisfied += 1
                } else {
                    |n| n.not_satisfied += 1
                };
                self.bump(s, c, at, bump)?;
            }
            Payload::ConcernReopened(e) => self.reopen(s, c, at, e.deadline)?,
            Payload::AppealOpened(e) => self.reopen(s, c, at, e.deadline)?,
            Payload::ConcernWithdrawn(_) => {
                self.bump(s, c, at, |n| n.withdrawn += 1)?;
                self.close(s, c)?;
            }
            Payload::ConcernMerged(_) => {
                self.bump(s, c, at, |n| n.merged += 1)?;
                self.close(s, c)?;
            }
            _ => {}
        }
        let now_running = c.running.then_some(c.deadline).flatten();
        if was_running != now_running {
            let old = was_running.zip(counted_topic);
            let new = now_running.map(|d| (d, s.extra.topic_id(&c.topic)));
            let path = s.extra.path_id(&c.path);
            s.extra
                .moved
                .entry(case)
                .or_insert(Moved {
                    path,
                    fresh,
                    from: old,
                    to: old,
                })
                .to = new;
        }
        Ok(())
    }

    fn reopen(
        &self,
        s: &mut FigStaging,
        c: &mut FigCase,
        at: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Result<()> {
        self.bump(s, c, at, |n| n.reopened += 1)?;
        if !c.open {
            self.open_count(s, c, true)?;
        }
        c.open = true;
        c.running = true;
        c.deadline = Some(deadline);
        Ok(())
    }

    fn close(&self, s: &mut FigStaging, c: &mut FigCase) -> Result<()> {
        if c.open {
            self.open_count(s, c, false)?;
        }
        c.open = false;
        c.running = false;
        Ok(())
    }

    fn open_count(&self, s: &mut FigStaging, c: &FigCase, up: bool) -> Result<()> {
        let topics = s.extra.topic_pair(&c.topic);
        for unit in &c.path {
            for topic in topics {
                let cell = OpenCell {
                    unit: id(unit.0),
                    topic,
                };
                let n = match s.extra.open.get(&cell) {
                    Some(n) => *n,
                    None => {
                        let k = key(TAG_OPEN_COUNT, &[&cell.unit, s.extra.topic(topic)]);
                        s.get_raw(&k)?
                            .and_then(|b| crate::keys::position_from(&b))
                            .unwrap_or(0)
                    }
                };
                let n = if up {
                    n.saturating_add(1)
                } else {
                    n.saturating_sub(1)
                };
                s.extra.open.insert(cell, n);
            }
        }
        Ok(())
    }

    fn bump(&self, s: &mut FigStaging, c: &FigCase, at: DateTime<Utc>, bump: Bump) -> Result<()> {
        self.change_leaf(s, c, at, |topic| bump(&mut topic.counters))
    }

    /// Records the time from report to `at` in the histograms of kind `a`
    /// (acknowledge) or `r` (resolve).
    fn record(&self, s: &mut FigStaging, c: &FigCase, at: DateTime<Utc>, kind: u8) -> Result<()> {
        let seconds = u64::try_from((at - c.reported_at).num_seconds())
            .unwrap_or(0)
            .clamp(1, DURATION_S_MAX);
        let bucket = bucket_of(seconds)?;
        self.change_leaf(s, c, at, |topic| {
            let histogram = if kind == b'a' {
                &mut topic.acknowledge
            } else {
                &mut topic.resolve
            };
            histogram.record(bucket);
        })
    }

    /// Applies `change` to what this batch adds to the case's own unit,
    /// topic and day (its leaf). Only at the commit are the leaves added up
    /// the case's path, to longer periods and to all topics (see
    /// [`Cells::roll_up`]): an event changes one value here instead of
    /// one per unit, period and topic (40 on a province's paths).
    fn change_leaf(
        &self,
        s: &mut FigStaging,
        c: &FigCase,
        at: DateTime<Utc>,
        change: impl Fn(&mut TopicFigures),
    ) -> Result<()> {
        let date = at.with_timezone(&self.policy.time_zone).date_naive();
        let leaf = Leaf {
            path: s.extra.path_id(&c.path),
            day: Granularity::Day.period(date),
            topic: s.extra.topic_id(&c.topic),
        };
        change(s.extra.leaves.entry(leaf).or_default());
        Ok(())
    }
}

/// A topic as a number, within one staging (see [`Cells::topics`]).
type TopicId = u32;

/// A case's running deadline and the topic it is counted under, if its
/// clock runs.
type RunningDeadline = Option<(DateTime<Utc>, TopicId)>;

/// Where a case's running deadline stood when a batch first moved it, and
/// where it stands now: its `o` entries and deadline counts move once, at
/// the settle, however many times the batch moved them (a case reported,
/// acknowledged and resolved in one batch never has any).
#[derive(Debug, Clone, Copy)]
struct Moved {
    path: PathId,
    /// The case's keys are known not to be in the tree (see [`Staging::is_new`]).
    fresh: bool,
    from: RunningDeadline,
    to: RunningDeadline,
}

/// Moves each moved case's running deadline (with the topic it is counted
/// under) in each unit on its path: its own `o` entry and the counts of
/// its span and slot.
fn move_deadlines(s: &mut FigStaging, cells: &mut Cells) {
    for (case, moved) in cells.moved.drain() {
        if moved.from == moved.to {
            continue;
        }
        for unit in cells.paths.get(moved.path as usize).into_iter().flatten() {
            let unit = id(unit.0);
            if let Some((old, topic)) = moved.from {
                s.remove(key(TAG_OPEN_DEADLINE, &[&unit, &time(old), &id(case.0)]));
                add_due(&mut cells.due, unit, old, topic, -1);
            }
            if let Some((new, topic)) = moved.to {
                let k = key(TAG_OPEN_DEADLINE, &[&unit, &time(new), &id(case.0)]);
                let topic_name = topic_bytes(&cells.topics, topic).to_vec();
                if moved.fresh {
                    s.put_raw_new(k, topic_name);
                } else {
                    s.put_raw(k, topic_name);
                }
                add_due(&mut cells.due, unit, new, topic, 1);
            }
        }
    }
}

/// Adds `change` to the counts of `deadline`'s span and slot.
fn add_due(
    due: &mut rustc_hash::FxHashMap<DueCell, i64>,
    unit: [u8; 16],
    deadline: DateTime<Utc>,
    topic: TopicId,
    change: i64,
) {
    for (tag, number) in due_numbers(deadline) {
        let cell = DueCell {
            tag,
            unit,
            number,
            topic,
        };
        *due.entry(cell).or_default() += change;
    }
}

/// One unit, period and topic: the key of a `TopicFigures`, in a form
/// that is cheap to hash, made into the tree's key once, at the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    unit: [u8; 16],
    gran: Granularity,
    period: u32,
    topic: TopicId,
}

impl Cell {
    /// The cell's key, built inline (no allocation).
    fn key(&self, topics: &[String]) -> Key {
        key(
            TAG_COUNTERS,
            &[
                &self.unit,
                &[self.gran.tag()],
                &self.period.to_be_bytes(),
                topic_bytes(topics, self.topic),
            ],
        )
    }
}

/// One unit, span or slot of deadlines, and topic: the key of a count of
/// running deadlines (see [`DUE_SPAN_S`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DueCell {
    /// [`TAG_DUE_SPAN`] or [`TAG_DUE_SLOT`].
    tag: u8,
    unit: [u8; 16],
    /// The span's or slot's number since the epoch.
    number: i64,
    topic: TopicId,
}

impl DueCell {
    fn key(&self, topics: &[String]) -> Key {
        due_key(
            self.tag,
            &self.unit,
            self.number,
            topic_bytes(topics, self.topic),
        )
    }
}

/// The key of a deadline count (`topic` empty: where the unit's counts of
/// span or slot `number` begin).
fn due_key(tag: u8, unit: &[u8; 16], number: i64, topic: &[u8]) -> Key {
    key(tag, &[unit, &signed(number), topic])
}

/// Where a deadline count's key holds its topic.
const DUE_TOPIC_AT: usize = 1 + 16 + 8;

/// The span and the slot that hold `deadline`.
fn due_numbers(deadline: DateTime<Utc>) -> [(u8, i64); 2] {
    let seconds = deadline.timestamp();
    [
        (TAG_DUE_SPAN, seconds.div_euclid(DUE_SPAN_S)),
        (TAG_DUE_SLOT, seconds.div_euclid(DUE_SLOT_S)),
    ]
}

/// One unit and topic: the key of an open-case count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct OpenCell {
    unit: [u8; 16],
    topic: TopicId,
}

fn topic_bytes(topics: &[String], topic: TopicId) -> &[u8] {
    topics
        .get(topic as usize)
        .map_or(ALL_TOPICS.as_bytes(), |t| t.as_bytes())
}

/// A path from the root to a case's unit, as a number within one staging
/// (see [`Cells::paths`]).
type PathId = u32;

/// What one batch adds to one path, day and topic: the finest grain the
/// figures are kept at, from which every other value is added up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Leaf {
    path: PathId,
    /// The day's period number (see [`Granularity::period`]).
    day: u32,
    topic: TopicId,
}

/// What the figures keep decoded in a staging until its commit: what the
/// batch adds to each [`Leaf`], and every open count an event changed. At
/// the commit the leaves are added up the paths, periods and topics
/// ([`Cells::roll_up`]) and each sum added to the stored value once.
///
/// A catch-up settles after every batch into the same staging: the maps
/// are emptied, not dropped, and the topics and paths keep their ids, so
/// that a batch reuses the memory of the one before it (maps made afresh
/// for every batch cost page faults: 2 % of a rebuild's samples, beside
/// about 5 % for the roll-up's own work).
#[derive(Debug, Default)]
pub struct Cells {
    /// Topic names by [`TopicId`]; 0 is all topics.
    topics: Vec<String>,
    topic_ids: rustc_hash::FxHashMap<String, TopicId>,
    /// Paths (root first) by [`PathId`]. A case keeps the path it was
    /// reported on, so two cases of one unit may hold different paths.
    paths: Vec<Vec<UnitId>>,
    path_ids: rustc_hash::FxHashMap<Vec<UnitId>, PathId>,
    leaves: rustc_hash::FxHashMap<Leaf, TopicFigures>,
    open: rustc_hash::FxHashMap<OpenCell, u64>,
    /// What the batch adds to each deadline count.
    due: rustc_hash::FxHashMap<DueCell, i64>,
    /// Cases whose running deadline the batch moved.
    moved: rustc_hash::FxHashMap<ConcernId, Moved>,
    /// The sums [`Cells::roll_up`] makes: by topic for each granularity,
    /// finest first, then the same for all topics.
    sums: Vec<CellSums>,
}

/// Sums of figures by cell.
type CellSums = rustc_hash::FxHashMap<Cell, TopicFigures>;

impl Cells {
    /// The id of `topic` within this staging (never 0: that is all topics).
    fn topic_id(&mut self, topic: &TopicCode) -> TopicId {
        if self.topics.is_empty() {
            self.topics.push(ALL_TOPICS.to_owned());
        }
        if let Some(id) = self.topic_ids.get(topic.as_str()) {
            return *id;
        }
        let id = self.topics.len() as TopicId;
        self.topics.push(topic.as_str().to_owned());
        self.topic_ids.insert(topic.as_str().to_owned(), id);
        id
    }

    /// The ids of `topic` and of all topics.
    fn topic_pair(&mut self, topic: &TopicCode) -> [TopicId; 2] {
        [self.topic_id(topic), 0]
    }

    fn topic(&self, topic: TopicId) -> &[u8] {
        topic_bytes(&self.topics, topic)
    }

    /// The id of `path` within this staging.
    fn path_id(&mut self, path: &[UnitId]) -> PathId {
        if let Some(id) = self.path_ids.get(path) {
            return *id;
        }
        let id = self.paths.len() as PathId;
        self.paths.push(path.to_vec());
        self.path_ids.insert(path.to_vec(), id);
        id
    }

    /// Adds the leaves up into every value they change, in
    /// [`Cells::sums`]: each unit on the path, each period holding the day
    /// (a day's sums make its month's, a month's its quarter's, a quarter's
    /// its year's) and the topic itself and all topics. Each sum is added
    /// once to its stored value, where adding each event to each value cost
    /// 40 changes an event.
    fn roll_up(&mut self) {
        const GRANULARITIES: usize = 4;
        self.sums.resize_with(2 * GRANULARITIES, CellSums::default);
        let (by_topic, all) = self.sums.split_at_mut(GRANULARITIES);
        let days = &mut by_topic[0];
        for (leaf, change) in &self.leaves {
            for unit in self.paths.get(leaf.path as usize).into_iter().flatten() {
                let cell = Cell {
                    unit: id(unit.0),
                    gran: Granularity::Day,
                    period: leaf.day,
                    topic: leaf.topic,
                };
                days.entry(cell).or_default().add(change);
            }
        }
        for finer in 1..GRANULARITIES {
            let (done, next) = by_topic.split_at_mut(finer);
            add_coarser_periods(&done[finer - 1], &mut next[0]);
        }
        for (by_topic, all) in by_topic.iter().zip(all.iter_mut()) {
            add_all_topics(by_topic, all);
        }
    }

    /// Empties what a batch added, keeping the memory and the ids.
    fn settled(&mut self) {
        self.leaves.clear();
        self.open.clear();
        self.due.clear();
        self.sums.iter_mut().for_each(CellSums::clear);
    }
}

/// Adds the sums of `by_topic` over all topics into `all`.
fn add_all_topics(by_topic: &CellSums, all: &mut CellSums) {
    for (cell, change) in by_topic {
        all.entry(Cell { topic: 0, ..*cell })
            .or_default()
            .add(change);
    }
}

/// Adds the sums of `finer` by the next coarser period (none for years)
/// into `coarser`.
fn add_coarser_periods(finer: &CellSums, coarser: &mut CellSums) {
    for (cell, change) in finer {
        if let Some((gran, period)) = cell.gran.coarser(cell.period) {
            let up = Cell {
                gran,
                period,
                ..*cell
            };
            coarser.entry(up).or_default().add(change);
        }
    }
}

/// The histogram bucket of a duration: the lowest value hdrhistogram treats
/// as equal to it, so that recording the bucket is recording the value.
fn bucket_of(seconds: u64) -> Result<u64> {
    static TEMPLATE: std::sync::OnceLock<Option<Histogram<u64>>> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| new_histogram().ok())
        .as_ref()
        .map(|h| h.lowest_equivalent(seconds))
        .ok_or_else(|| corrupt("the histogram bounds are invalid".into()))
}

/// Durations by bucket (see [`bucket_of`]), sorted: the few buckets a
/// period's cases fall in, instead of hdrhistogram's full array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Buckets(Vec<(u64, u64)>);

impl Buckets {
    fn record(&mut self, bucket: u64) {
        match self.0.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (bucket, 1)),
        }
    }

    /// Adds the counts of `other`, bucket by bucket.
    fn add(&mut self, other: &Buckets) {
        if self.0.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        for (bucket, count) in &other.0 {
            match self.0.binary_search_by_key(bucket, |(b, _)| *b) {
                Ok(i) => self.0[i].1 = self.0[i].1.saturating_add(*count),
                Err(i) => self.0.insert(i, (*bucket, *count)),
            }
        }
    }

    /// Records the durations in `into` (made if `None`), after clearing
    /// what it held: one histogram serves every figure of a query.
    fn into_histogram(self, into: &mut Option<Histogram<u64>>) -> Result<()> {
        let h = match into {
            Some(h) => {
                h.reset();
                h
            }
            None => into.insert(new_histogram()?),
        };
        for (bucket, count) in self.0 {
            h.saturating_record_n(bucket, count);
        }
        Ok(())
    }
}

/// One topic's figures in one unit and period: its counters and its
/// durations, one value so that an event writes one key per unit, period
/// and topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TopicFigures {
    counters: Counters,
    acknowledge: Buckets,
    resolve: Buckets,
}

impl TopicFigures {
    /// Adds `other`'s counters and durations.
    fn add(&mut self, other: &TopicFigures) {
        self.counters.add(other.counters);
        self.acknowledge.add(&other.acknowledge);
        self.resolve.add(&other.resolve);
    }

    /// The value's bytes (see [`TopicFigures::write_to`]), in a vector
    /// of about their size.
    fn to_bytes(&self) -> Vec<u8> {
        let pairs = self.acknowledge.0.len() + self.resolve.0.len();
        let mut out = Vec::with_capacity(COUNTERS * 8 + 2 + 8 * pairs);
        self.write_to(&mut out);
        out
    }

    /// Appends the counters (11 big-endian u64), then each histogram as a
    /// count and (bucket, count) pairs, as LEB128 varints.
    fn write_to(&self, out: &mut Vec<u8>) {
        for field in self.counters.fields() {
            out.extend_from_slice(&field.to_be_bytes());
        }
        for buckets in [&self.acknowledge, &self.resolve] {
            varint(out, buckets.0.len() as u64);
            for (bucket, count) in &buckets.0 {
                varint(out, *bucket);
                varint(out, *count);
            }
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (counters, mut rest) = split_counters(bytes)?;
        let mut figures = Self {
            counters,
            ..Self::default()
        };
        read_buckets(&mut rest, &mut figures.acknowledge.0)?;
        read_buckets(&mut rest, &mut figures.resolve.0)?;
        Ok(figures)
    }
}

/// The counters at the head of a stored figures value, and the rest.
fn split_counters(bytes: &[u8]) -> Result<(Counters, &[u8])> {
    if bytes.len() < COUNTERS * 8 {
        return Err(corrupt("a figures value is cut short".into()));
    }
    let (head, rest) = bytes.split_at(COUNTERS * 8);
    Ok((Counters::from_bytes(head), rest))
}

/// Reads one histogram of a stored value (a count, then that many
/// (bucket, count) pairs) onto the end of `into`.
fn read_buckets(bytes: &mut &[u8], into: &mut Vec<(u64, u64)>) -> Result<()> {
    let n = read_varint(bytes)?;
    // A pair takes two bytes at least: a bad count cannot reserve more.
    into.reserve(
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(bytes.len() / 2),
    );
    for _ in 0..n {
        into.push((read_varint(bytes)?, read_varint(bytes)?));
    }
    Ok(())
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(bytes: &mut &[u8]) -> Result<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes
            .split_first()
            .ok_or_else(|| corrupt("a figures value is cut short".into()))?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(n);
        }
    }
    Err(corrupt("a figures value holds a bad number".into()))
}

/// Encodes a value held in a batch (see `Staging::hold`).
fn encode_topic(value: &dyn std::any::Any, out: &mut Vec<u8>) -> Result<()> {
    value
        .downcast_ref::<TopicFigures>()
        .map(|figures| figures.write_to(out))
        .ok_or_else(|| corrupt("held figures of another type".into()))
}

/// Figures for one unit (or topic) over a period range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The counts.
    #[serde(flatten)]
    pub counters: Counters,
    /// Median hours from report to acknowledgement.
    pub acknowledge_p50_hours: Option<f64>,
    /// 90th percentile of the same.
    pub acknowledge_p90_hours: Option<f64>,
    /// Median hours from report to resolution.
    pub resolve_p50_hours: Option<f64>,
    /// 90th percentile of the same.
    pub resolve_p90_hours: Option<f64>,
    /// Cases open now.
    pub open_now: u64,
    /// Open cases past their deadline now.
    pub overdue_now: u64,
}

/// The figures of a unit for a period range, with breakdowns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiguresReport {
    /// The unit (its whole jurisdiction).
    pub unit: UnitId,
    /// Period length.
    pub granularity: Granularity,
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range.
    pub to: NaiveDate,
    /// All topics together.
    pub total: Figures,
    /// Per topic.
    pub by_topic: BTreeMap<String, Figures>,
    /// Per unit right below (each with its own jurisdiction).
    pub by_unit: Vec<UnitFigures>,
}

/// One unit's line in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitFigures {
    /// The unit.
    pub unit: UnitId,
    /// Its name.
    pub name: String,
    /// Its figures (all topics).
    pub figures: Figures,
}

/// Sums while reading; the durations of every period read are gathered
/// and put in one histogram at the end.
#[derive(Default)]
struct Acc {
    counters: Counters,
    acknowledge: Buckets,
    resolve: Buckets,
    open_now: u64,
    overdue_now: u64,
}

impl Acc {
    /// Adds a stored figures value (counters and durations).
    fn add_stored(&mut self, bytes: &[u8]) -> Result<()> {
        let (counters, mut rest) = split_counters(bytes)?;
        self.counters.add(counters);
        read_buckets(&mut rest, &mut self.acknowledge.0)?;
        read_buckets(&mut rest, &mut self.resolve.0)?;
        Ok(())
    }

    /// The figures, with the quantiles read from `histogram` (reused
    /// from one figure to the next).
    fn finish(self, histogram: &mut Option<Histogram<u64>>) -> Figures {
        let mut hours = |buckets: Buckets| {
            if buckets.0.is_empty() {
                return [None, None];
            }
            match buckets.into_histogram(histogram) {
                Ok(()) => [0.5, 0.9].map(|q| {
                    histogram
                        .as_ref()
                        .map(|h| h.value_at_quantile(q) as f64 / 3600.0)
                }),
                Err(_) => [None, None],
            }
        };
        let [acknowledge_p50_hours, acknowledge_p90_hours] = hours(self.acknowledge);
        let [resolve_p50_hours, resolve_p90_hours] = hours(self.resolve);
        Figures {
            counters: self.counters,
            acknowledge_p50_hours,
            acknowledge_p90_hours,
            resolve_p50_hours,
            resolve_p90_hours,
            open_now: self.open_now,
            overdue_now: self.overdue_now,
        }
    }
}

/// The figures of `unit`'s jurisdiction for `[from, to]` at `now`.
pub fn report(
    tree: &ViewTree,
    unit: UnitId,
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<FiguresReport> {
    if to < from {
        return Err(ProjectionError::InvalidQuery(format!(
            "period ends ({to}) before it starts ({from})"
        )));
    }
    let (first, last) = (granularity.first_day(from), granularity.last_day(to));
    let read_as = tiling(granularity, first, last);
    let range = (read_as.period(first), read_as.period(last));
    let granularity_asked = granularity;
    let granularity = read_as;
    let mut by_topic: BTreeMap<String, Acc> = BTreeMap::new();
    for root in units::jurisdiction_roots(tree, FiguresView::NAME, unit)? {
        gather(tree, root, granularity, range, now, &mut by_topic)?;
    }
    let mut histogram = None;
    let total = by_topic
        .remove(ALL_TOPICS)
        .unwrap_or_default()
        .finish(&mut histogram);
    let by_topic = by_topic
        .into_iter()
        .map(|(t, a)| (t, a.finish(&mut histogram)))
        .collect();
    let children = units::node(tree, FiguresView::NAME, unit)?
        .map(|n| n.children)
        .unwrap_or_default();
    let mut by_unit = Vec::new();
    for child in children {
        let mut acc = BTreeMap::new();
        gather(tree, child, granularity, range, now, &mut acc)?;
        let name = units::node(tree, FiguresView::NAME, child)?
            .map(|n| n.name)
            .unwrap_or_default();
        let figures = acc
            .remove(ALL_TOPICS)
            .unwrap_or_default()
            .finish(&mut histogram);
        by_unit.push(UnitFigures {
            unit: child,
            name,
            figures,
        });
    }
    Ok(FiguresReport {
        unit,
        granularity: granularity_asked,
        from,
        to,
        total,
        by_topic,
        by_unit,
    })
}

/// The coarsest granularity whose whole periods cover exactly the days
/// `first..=last` (whole periods of `asked`): counts add and histograms
/// merge exactly, so the sums are the same from fewer keys. A year asked
/// by months reads one year's keys instead of twelve months'.
fn tiling(asked: Granularity, first: NaiveDate, last: NaiveDate) -> Granularity {
    [Granularity::Year, Granularity::Quarter, Granularity::Month]
        .into_iter()
        .filter(|g| g.rank() >= asked.rank())
        .find(|g| g.first_day(first) == first && g.last_day(last) == last)
        .unwrap_or(asked)
}

fn gather(
    tree: &ViewTree,
    unit: UnitId,
    granularity: Granularity,
    (first, last): (u32, u32),
    now: DateTime<Utc>,
    acc: &mut BTreeMap<String, Acc>,
) -> Result<()> {
    let u = id(unit.0);
    let g = [granularity.tag()];
    let start = key(TAG_COUNTERS, &[&u, &g, &first.to_be_bytes()]).to_vec();
    let end = prefix_end(&key(TAG_COUNTERS, &[&u, &g, &last.to_be_bytes()]));
    for (k, v) in tree.range(start..end) {
        let topic = String::from_utf8_lossy(&k[22..]).into_owned();
        acc.entry(topic).or_default().add_stored(v)?;
    }
    let open_prefix = key(TAG_OPEN_COUNT, &[&u]);
    for (k, v) in tree.scan_prefix(&open_prefix) {
        let topic = String::from_utf8_lossy(&k[17..]).into_owned();
        acc.entry(topic).or_default().open_now += crate::keys::position_from(v).unwrap_or(0);
    }
    let mut overdue_total = 0;
    for (topic, n) in overdue_by_topic(tree, &u, now) {
        acc.entry(String::from_utf8_lossy(topic).into_owned())
            .or_default()
            .overdue_now += n;
        overdue_total += n;
    }
    acc.entry(ALL_TOPICS.to_owned()).or_default().overdue_now += overdue_total;
    Ok(())
}

/// How many of `unit`'s open cases are past their running deadline at
/// `now`, by topic: the counts of the spans before now's span, of the
/// slots of now's span before now's slot, and one by one the deadlines of
/// now's slot that are before now.
fn overdue_by_topic<'a>(
    tree: &'a ViewTree,
    unit: &[u8; 16],
    now: DateTime<Utc>,
) -> Vec<(&'a [u8], u64)> {
    let mut by_topic: Vec<(&[u8], u64)> = Vec::new();
    let mut add = |topic: &'a [u8], n: u64| match by_topic.iter_mut().find(|(t, _)| *t == topic) {
        Some((_, count)) => *count += n,
        None => by_topic.push((topic, n)),
    };
    let deadlines_from = |start: DateTime<Utc>| {
        let start = key(TAG_OPEN_DEADLINE, &[unit, &time(start)]);
        let end = key(TAG_OPEN_DEADLINE, &[unit, &time(now)]);
        tree.range(start..end)
    };
    if tree
        .scan_prefix(key(TAG_DUE_SPAN, &[unit]))
        .next()
        .is_none()
    {
        // No counts: the unit has no running deadline, or the view was
        // built by version 2 and serves while version 3 is built beside
        // it. Every deadline before now, one by one, is right in both.
        for (_, v) in deadlines_from(DateTime::<Utc>::MIN_UTC) {
            add(v, 1);
        }
        return by_topic;
    }
    let seconds = now.timestamp();
    let (span, slot) = (
        seconds.div_euclid(DUE_SPAN_S),
        seconds.div_euclid(DUE_SLOT_S),
    );
    let counted = [
        (TAG_DUE_SPAN, i64::MIN, span),
        (TAG_DUE_SLOT, span * (DUE_SPAN_S / DUE_SLOT_S), slot),
    ];
    for (tag, first, end) in counted {
        let range = due_key(tag, unit, first, &[])..due_key(tag, unit, end, &[]);
        for (k, v) in tree.range(range) {
            let topic = k.get(DUE_TOPIC_AT..).unwrap_or_default();
            add(topic, crate::keys::position_from(v).unwrap_or(0));
        }
    }
    let slot_start = DateTime::from_timestamp(slot * DUE_SLOT_S, 0).unwrap_or(now);
    for (_, v) in deadlines_from(slot_start) {
        add(v, 1);
    }
    by_topic
}

/// Open cases whose clock runs, with deadlines before `until`, across the
/// whole log (for the deadline watcher): (case, deadline, topic).
pub fn deadlines_before(
    tree: &ViewTree,
    root: UnitId,
    until: DateTime<Utc>,
) -> Result<Vec<(ConcernId, DateTime<Utc>)>> {
    let u = id(root.0);
    let start = key(TAG_OPEN_DEADLINE, &[&u]);
    let end = key(TAG_OPEN_DEADLINE, &[&u, &time(until)]);
    let mut out = Vec::new();
    for (k, _) in tree.range(start..end) {
        let deadline = crate::keys::time_from(&k[17..25]);
        let case = crate::keys::uuid_from(&k[25..]);
        if let (Some(deadline), Some(case)) = (deadline, case) {
            out.push((ConcernId(case), deadline));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{bucket_of, new_histogram, tiling, Buckets, Counters, Granularity, TopicFigures};
    use chrono::NaiveDate;

    /// A value's bytes as the commit writes them, through its encoder.
    fn bytes_of(figures: &TopicFigures) -> Vec<u8> {
        let mut out = Vec::new();
        super::encode_topic(figures, &mut out).unwrap();
        out
    }

    #[test]
    fn a_figures_value_reads_back_as_written() {
        let mut t = TopicFigures {
            counters: Counters {
                received: 3,
                merged: u64::MAX,
                ..Counters::default()
            },
            ..TopicFigures::default()
        };
        for seconds in [1, 59, 3_600, 3_601, 86_400 * 40, super::DURATION_S_MAX] {
            t.acknowledge.record(bucket_of(seconds).unwrap());
        }
        t.resolve.record(bucket_of(7_200).unwrap());
        t.resolve.record(bucket_of(7_200).unwrap());
        assert_eq!(t.resolve.0.len(), 1);
        let back = TopicFigures::from_bytes(&bytes_of(&t)).unwrap();
        assert_eq!(back, t);
        assert!(TopicFigures::from_bytes(&bytes_of(&t)[..90]).is_err());
    }

    #[test]
    fn buckets_give_the_quantiles_of_the_durations_recorded_directly() {
        let durations = [5_u64, 700, 700, 9_000, 86_400, 1_000_000, 250_000_000];
        let mut direct = new_histogram().unwrap();
        let mut buckets = Buckets::default();
        for d in durations {
            direct.saturating_record(d);
            buckets.record(bucket_of(d).unwrap());
        }
        let mut via = None;
        buckets.into_histogram(&mut via).unwrap();
        let via = via.unwrap();
        for q in [0.1, 0.5, 0.9, 0.99] {
            assert_eq!(
                via.value_at_quantile(q),
                direct.value_at_quantile(q),
                "q {q}"
            );
        }
    }

    #[test]
    fn a_histogram_reused_for_the_next_figure_holds_only_its_durations() {
        let mut long = Buckets::default();
        for d in [90_000_u64, 200_000, 5_000_000] {
            long.record(bucket_of(d).unwrap());
        }
        let mut short = Buckets::default();
        for d in [60_u64, 600, 6_000] {
            short.record(bucket_of(d).unwrap());
        }
        let (mut reused, mut fresh) = (None, None);
        long.into_histogram(&mut reused).unwrap();
        short.clone().into_histogram(&mut reused).unwrap();
        short.into_histogram(&mut fresh).unwrap();
        let (reused, fresh) = (reused.unwrap(), fresh.unwrap());
        assert_eq!(reused.len(), 3);
        for q in [0.5, 0.9, 1.0] {
            assert_eq!(
                reused.value_at_quantile(q),
                fresh.value_at_quantile(q),
                "q {q}"
            );
        }
    }

    #[test]
    fn a_view_without_deadline_counts_reads_its_deadlines_one_by_one() {
        use crate::keys::{id, key, time};
        use crate::view_tree::{Key, Map, ViewTree};
        let unit = [7_u8; 16];
        let at = |h: i64| chrono::DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap();
        // A version 2 tree: running deadlines, no `q`/`r` counts.
        let map: Map = [(1, b"roads"), (2, b"water"), (30, b"roads"), (90, b"roads")]
            .into_iter()
            .enumerate()
            .map(|(case, (hour, topic))| {
                let case = id(uuid::Uuid::from_u128(case as u128));
                let k = key(super::TAG_OPEN_DEADLINE, &[&unit, &time(at(hour)), &case]);
                (Key::from_slice(&k), sled::IVec::from(&topic[..]))
            })
            .collect();
        let tree = ViewTree::new(map);
        let mut overdue = super::overdue_by_topic(&tree, &unit, at(40));
        overdue.sort();
        assert_eq!(overdue, vec![(&b"roads"[..], 2), (&b"water"[..], 1)]);
        assert!(super::overdue_by_topic(&tree, &[8_u8; 16], at(40)).is_empty());
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn each_period_rolls_up_into_the_period_that_holds_its_days() {
        let grans = [
            Granularity::Day,
            Granularity::Month,
            Granularity::Quarter,
            Granularity::Year,
        ];
        let mut date = day(2023, 1, 1);
        while date <= day(2025, 12, 31) {
            for pair in grans.windows(2) {
                let (fine, coarse) = (pair[0], pair[1]);
                assert_eq!(
                    fine.coarser(fine.period(date)),
                    Some((coarse, coarse.period(date))),
                    "{fine:?} of {date}"
                );
            }
            assert_eq!(
                Granularity::Year.coarser(Granularity::Year.period(date)),
                None
            );
            date = date.succ_opt().expect("a next day");
        }
    }

    #[test]
    fn figures_add_counters_and_durations_bucket_by_bucket() {
        let mut sum = TopicFigures::default();
        let mut one = TopicFigures::default();
        one.counters.received = 2;
        one.acknowledge.record(bucket_of(60).expect("bucket"));
        one.resolve.record(bucket_of(7_200).expect("bucket"));
        let mut other = TopicFigures::default();
        other.counters.received = 1;
        other.counters.resolved = 1;
        other.acknowledge.record(bucket_of(60).expect("bucket"));
        other.acknowledge.record(bucket_of(5).expect("bucket"));
        sum.add(&one);
        sum.add(&other);
        assert_eq!((sum.counters.received, sum.counters.resolved), (3, 1));
        let mut direct = Buckets::default();
        for seconds in [60, 60, 5] {
            direct.record(bucket_of(seconds).expect("bucket"));
        }
        assert_eq!(sum.acknowledge, direct);
        assert_eq!(sum.resolve, one.resolve);
    }

    #[test]
    fn aligned_ranges_are_read_from_the_coarsest_periods_that_tile_them() {
        let check = |asked, from, to, expected| {
            let (first, last) = (
                Granularity::first_day(asked, from),
                Granularity::last_day(asked, to),
            );
            assert_eq!(
                tiling(asked, first, last),
                expected,
                "{asked:?} {from} {to}"
            );
        };
        check(
            Granularity::Month,
            day(2024, 1, 1),
            day(2024, 12, 31),
            Granularity::Year,
        );
        check(
            Granularity::Month,
            day(2024, 1, 15),
            day(2024, 6, 10),
            Granularity::Quarter,
        );
        check(
            Granularity::Month,
            day(2024, 2, 3),
            day(2024, 3, 1),
            Granularity::Month,
        );
        check(
            Granularity::Day,
            day(2024, 2, 1),
            day(2024, 2, 29),
            Granularity::Month,
        );
        check(
            Granularity::Day,
            day(2024, 3, 2),
            day(2024, 3, 5),
            Granularity::Day,
        );
        check(
            Granularity::Year,
            day(2023, 5, 5),
            day(2024, 1, 1),
            Granularity::Year,
        );
    }
}
