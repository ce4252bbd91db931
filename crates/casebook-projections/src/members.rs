//! The members view: each member's workload — the households assigned to
//! them now, their open and overdue cases, their visits, and the households
//! they have not visited for a while.
//!
//! Overdue and "not visited for N days" depend on the clock, so the view
//! stores deadlines and visit times and the query judges them at the
//! caller's `now`; nothing is rewritten as time passes.
//!
//! Keys:
//! - `m` member → [`MemberRow`] (JSON): households assigned now (and since
//!   when).
//! - `p` member, case → (): a case assigned to the member in person now.
//! - `h` household → [`HouseholdLoad`] (JSON): its members now, its last
//!   visit.
//! - `k` household, case → (): a case of the household.
//! - `c` case → [`CaseLoad`] (JSON): its households, its person, its status
//!   and deadline.
//! - `v` member, visit time, case, position → (): one entry per visit the
//!   member recorded, so "visits in the last 30 days" is one range scan.
//!
//! A case is a key of its own under its member and its household, never an
//! entry in their rows, so that an event costs the same however many cases
//! a member or a household has.

use std::collections::{BTreeMap, BTreeSet};

use casebook_domain::{
    ActionKind, Assignee, ConcernId, HouseholdId, Payload, PersonId, Status, StreamId,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::households::status_after;
use crate::keyed_view::KeyedView;
use crate::keys::{id, key, time, uuid_from};
use crate::staging::{Source, Staging};
use crate::view_tree::{Key, ViewTree};

const TAG_MEMBER: u8 = b'm';
const TAG_HOUSEHOLD: u8 = b'h';
const TAG_CASE: u8 = b'c';
const TAG_VISIT: u8 = b'v';
const TAG_PERSON_CASE: u8 = b'p';
const TAG_HOUSEHOLD_CASE: u8 = b'k';

/// The window of "visits in the last N days" in a workload: a month, the
/// rhythm at which the directive asks members to see their households.
pub const VISITS_WINDOW_DAYS: i64 = 30;

/// The members view.
#[derive(Debug)]
pub struct MembersView;

/// One member as the view keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    /// Households assigned to the member now, with the field time the
    /// assignment started.
    pub households: BTreeMap<HouseholdId, DateTime<Utc>>,
}

/// What the view keeps of one household.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HouseholdLoad {
    /// Members responsible for it now.
    pub members: BTreeSet<PersonId>,
    /// The field time of the last visit recorded on one of its cases.
    pub last_visit: Option<DateTime<Utc>>,
}

/// What the view keeps of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseLoad {
    /// The households that raised it.
    pub households: Vec<HouseholdId>,
    /// The person it is assigned to, if assigned in person.
    pub person: Option<PersonId>,
    /// Its status.
    pub status: Status,
    /// Its deadline, once acknowledged.
    pub deadline: Option<DateTime<Utc>>,
}

impl CaseLoad {
    fn open(&self) -> bool {
        !matches!(
            self.status,
            Status::Resolved | Status::Closed | Status::Merged | Status::Withdrawn
        )
    }

    /// Past its deadline at `now` with the clock running (as
    /// `Policy::deadline_status` judges it: a paused case is not overdue).
    fn overdue(&self, now: DateTime<Utc>) -> bool {
        let running = matches!(self.status, Status::Acknowledged | Status::InProgress);
        running && self.deadline.is_some_and(|d| now >= d)
    }
}

/// A member's workload at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberWorkload {
    /// The member.
    pub member_id: PersonId,
    /// Households assigned to them now.
    pub households: Vec<HouseholdId>,
    /// Open cases of those households and cases assigned to them in person.
    pub open_cases: u64,
    /// Those of them past their deadline at `now`.
    pub overdue_cases: u64,
    /// Visits they recorded in the [`VISITS_WINDOW_DAYS`] days before `now`.
    pub visits_last_30_days: u64,
    /// Their households with no visit in the `not_visited_days` before `now`.
    pub not_visited: Vec<HouseholdId>,
}

fn member_key(m: PersonId) -> Key {
    key(TAG_MEMBER, &[&id(m.0)])
}

fn household_key(h: HouseholdId) -> Key {
    key(TAG_HOUSEHOLD, &[&id(h.0)])
}

fn case_key(c: ConcernId) -> Key {
    key(TAG_CASE, &[&id(c.0)])
}

fn person_case_key(m: PersonId, c: ConcernId) -> Key {
    key(TAG_PERSON_CASE, &[&id(m.0), &id(c.0)])
}

fn household_case_key(h: HouseholdId, c: ConcernId) -> Key {
    key(TAG_HOUSEHOLD_CASE, &[&id(h.0), &id(c.0)])
}

/// The cases under `prefix` (a tag and a 16-byte id), from their keys.
fn cases_under(tree: &ViewTree, prefix: &[u8], into: &mut BTreeSet<ConcernId>) -> Result<()> {
    for (k, _) in tree.scan_prefix(prefix) {
        let case = uuid_from(&k[prefix.len()..]).ok_or_else(|| ProjectionError::Corrupt {
            view: MembersView::NAME,
            reason: "a case key is too short".into(),
        })?;
        into.insert(ConcernId(case));
    }
    Ok(())
}

impl KeyedView for MembersView {
    const NAME: &'static str = "members";
    const VERSION: u32 = 2;

    type Extra = ();

    fn apply(&self, staging: &mut Staging, event: &Decoded) -> Result<()> {
        match event.stream {
            StreamId::Household(h) => apply_household(staging, h, event),
            StreamId::Concern(case) => apply_case(staging, case, event),
            _ => Ok(()),
        }
    }
}

/// The value under `k` moved out of the staging (see [`Staging::take`]:
/// the caller stages it again), or a default one.
fn take_or_default<T: serde::de::DeserializeOwned + Default + 'static>(
    staging: &mut Staging,
    k: &[u8],
) -> Result<T> {
    Ok(staging.take(MembersView::NAME, k)?.unwrap_or_default())
}

fn apply_household(staging: &mut Staging, h: HouseholdId, event: &Decoded) -> Result<()> {
    let (member, from) = match &event.event.payload {
        Payload::MemberAssigned(e) => (e.member_id, Some(e.from)),
        Payload::AssignmentEnded(e) => (e.member_id, None),
        _ => return Ok(()),
    };
    let hk = household_key(h);
    let mut load: HouseholdLoad = take_or_default(staging, &hk)?;
    let mk = member_key(member);
    let mut row: MemberRow = take_or_default(staging, &mk)?;
    match from {
        Some(from) => {
            load.members.insert(member);
            row.households.insert(h, from);
        }
        None => {
            load.members.remove(&member);
            row.households.remove(&h);
        }
    }
    staging.put_owned(hk, load);
    staging.put_owned(mk, row);
    Ok(())
}

fn apply_case(staging: &mut Staging, case: ConcernId, event: &Decoded) -> Result<()> {
    let payload = &event.event.payload;
    let visit = matches!(payload, Payload::ActionRecorded(a) if a.action == ActionKind::Visit);
    let changes_load = status_after(payload).is_some()
        || deadline_after(payload).is_some()
        || assignee_after(payload).is_some();
    if !changes_load && !visit {
        // Feedback, a referral, an action other than a visit: nothing a
        // workload counts.
        return Ok(());
    }
    let ck = case_key(case);
    // Moved out of the staging, and staged again at the end.
    let taken = staging.take_of_stream::<CaseLoad>(MembersView::NAME, &ck, event)?;
    let mut load = match (taken, payload) {
        (Some(load), _) => load,
        (None, Payload::ConcernReported(e)) => {
            let households = e.subject.households();
            for h in &households {
                staging.put_raw(household_case_key(*h, case), Vec::new());
            }
            CaseLoad {
                households,
                person: None,
                status: Status::Reported,
                deadline: None,
            }
        }
        (None, _) => return Ok(()),
    };
    if let Some(status) = status_after(payload) {
        load.status = status;
    }
    if let Some(deadline) = deadline_after(payload) {
        load.deadline = Some(deadline);
    }
    if let Some(assignee) = assignee_after(payload) {
        move_person(staging, case, &mut load, assignee)?;
    }
    if visit {
        record_visit(staging, case, &load, event)?;
    }
    staging.put_owned(ck, load);
    Ok(())
}

/// The deadline an event sets, if it sets one.
fn deadline_after(payload: &Payload) -> Option<DateTime<Utc>> {
    match payload {
        Payload::ConcernAcknowledged(e) => Some(e.deadline),
        Payload::ClockResumed(e) => Some(e.deadline),
        Payload::InterimReplied(e) => Some(e.deadline),
        Payload::ConcernReopened(e) => Some(e.deadline),
        Payload::AppealOpened(e) => Some(e.deadline),
        _ => None,
    }
}

/// Who handles the case after an event that hands it over: `Some(None)`
/// for a committee, `Some(Some(p))` for a person.
fn assignee_after(payload: &Payload) -> Option<Option<PersonId>> {
    match payload {
        Payload::ConcernAssigned(e) => Some(match e.assignee {
            Assignee::Person { person_id } => Some(person_id),
            Assignee::Committee { .. } => None,
        }),
        Payload::ConcernEscalated(e)
            if matches!(e.to, casebook_domain::EscalationTarget::Committee { .. }) =>
        {
            Some(None)
        }
        Payload::AppealOpened(_) => Some(None),
        _ => None,
    }
}

fn move_person(
    staging: &mut Staging,
    case: ConcernId,
    load: &mut CaseLoad,
    next: Option<PersonId>,
) -> Result<()> {
    if load.person == next {
        return Ok(());
    }
    if let Some(previous) = load.person {
        staging.remove(person_case_key(previous, case));
    }
    if let Some(person) = next {
        let mk = member_key(person);
        if !staging.contains(&mk)? {
            // The view has now seen this member: their workload exists.
            staging.put(mk, &MemberRow::default())?;
        }
        staging.put_raw(person_case_key(person, case), Vec::new());
    }
    load.person = next;
    Ok(())
}

fn record_visit(
    staging: &mut Staging,
    case: ConcernId,
    load: &CaseLoad,
    event: &Decoded,
) -> Result<()> {
    let at = event.event.occurred_at;
    let actor = event.event.actor;
    staging.put_raw(
        key(
            TAG_VISIT,
            &[
                &id(actor.0),
                &time(at),
                &id(case.0),
                &event.position.to_be_bytes(),
            ],
        ),
        Vec::new(),
    );
    for h in &load.households {
        let hk = household_key(*h);
        let mut hl: HouseholdLoad = take_or_default(staging, &hk)?;
        hl.last_visit = Some(hl.last_visit.map_or(at, |t| t.max(at)));
        staging.put_owned(hk, hl);
    }
    Ok(())
}

/// A member's workload at `now`; `None` if the view has never seen them
/// (no assignment, no case in person).
pub fn workload(
    tree: &ViewTree,
    member: PersonId,
    now: DateTime<Utc>,
    not_visited_days: u32,
) -> Result<Option<MemberWorkload>> {
    let Some(row) = tree.read::<MemberRow>(MembersView::NAME, &member_key(member))? else {
        return Ok(None);
    };
    let since = now - TimeDelta::days(i64::from(not_visited_days));
    let mut cases = BTreeSet::new();
    cases_under(tree, &key(TAG_PERSON_CASE, &[&id(member.0)]), &mut cases)?;
    let mut not_visited = Vec::new();
    for h in row.households.keys() {
        let load: HouseholdLoad = tree
            .read(MembersView::NAME, &household_key(*h))?
            .unwrap_or_default();
        if load.last_visit.is_none_or(|t| t < since) {
            not_visited.push(*h);
        }
        cases_under(tree, &key(TAG_HOUSEHOLD_CASE, &[&id(h.0)]), &mut cases)?;
    }
    let (mut open_cases, mut overdue_cases) = (0, 0);
    for case in cases {
        let Some(load) = tree.read::<CaseLoad>(MembersView::NAME, &case_key(case))? else {
            continue;
        };
        open_cases += u64::from(load.open());
        overdue_cases += u64::from(load.overdue(now));
    }
    Ok(Some(MemberWorkload {
        member_id: member,
        households: row.households.keys().copied().collect(),
        open_cases,
        overdue_cases,
        visits_last_30_days: visits(tree, member, now)?,
        not_visited,
    }))
}

/// Visits `member` recorded in the window before `now` (inclusive of `now`).
fn visits(tree: &ViewTree, member: PersonId, now: DateTime<Utc>) -> Result<u64> {
    let m = id(member.0);
    let start = key(
        TAG_VISIT,
        &[&m, &time(now - TimeDelta::days(VISITS_WINDOW_DAYS))],
    );
    let end = key(TAG_VISIT, &[&m, &time(now + TimeDelta::microseconds(1))]);
    Ok(tree.range(start..end).count() as u64)
}
