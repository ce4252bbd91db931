//! The households view: who is responsible for each household now and
//! before, its cases by status, and its last visit.
//!
//! Keys:
//! - `h` household → [`HouseholdRow`] (JSON). The household's personal
//!   details other than the head's name (phone, address, note) are not
//!   kept: views hold no more personal data than their lists show.
//! - `c` case → the case's households (JSON), to find them on later events.
//! - `s` household, case → the case's status (JSON). One key per case, so
//!   that an event costs the same however many cases its household has;
//!   [`get`] gathers them into [`HouseholdRow::cases`].

use std::collections::BTreeMap;

use casebook_domain::{
    evolve, ActionKind, Assignment, HouseholdId, Payload, Status, StreamId, UnitId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::keyed_view::KeyedView;
use crate::keys::{id, key, uuid_from};
use crate::staging::{Source, Staging};
use crate::view_tree::{Key, ViewTree};

const TAG_HOUSEHOLD: u8 = b'h';
const TAG_CASE: u8 = b'c';
const TAG_STATUS: u8 = b's';

/// The households view.
#[derive(Debug)]
pub struct HouseholdsView;

/// One household as the view keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdRow {
    /// The household.
    pub household_id: HouseholdId,
    /// Its hamlet.
    pub hamlet_id: UnitId,
    /// The head of household's name.
    pub head_of_household: String,
    /// Every assignment, oldest first; the one without `until` is current.
    pub assignments: Vec<Assignment>,
    /// Its cases and their statuses (kept under their own keys; filled in
    /// by [`get`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cases: BTreeMap<casebook_domain::ConcernId, Status>,
    /// The field time of the last visit recorded on one of its cases.
    pub last_visit: Option<DateTime<Utc>>,
}

impl HouseholdRow {
    /// How many of its cases are in each status.
    pub fn cases_by_status(&self) -> BTreeMap<&'static str, u32> {
        let mut out = BTreeMap::new();
        for status in self.cases.values() {
            *out.entry(status.name()).or_insert(0) += 1;
        }
        out
    }
}

fn household_key(h: HouseholdId) -> Key {
    key(TAG_HOUSEHOLD, &[&id(h.0)])
}

impl KeyedView for HouseholdsView {
    const NAME: &'static str = "households";
    /// 3: a case keeps only the households known when it was reported.
    const VERSION: u32 = 3;

    type Extra = ();

    fn apply(&self, staging: &mut Staging, event: &Decoded) -> Result<()> {
        match event.stream {
            StreamId::Household(h) => apply_household(staging, h, event),
            StreamId::Concern(case) => apply_case(staging, case, event),
            _ => Ok(()),
        }
    }
}

fn apply_household(staging: &mut Staging, h: HouseholdId, event: &Decoded) -> Result<()> {
    let k = household_key(h);
    let row = staging.read::<HouseholdRow>(HouseholdsView::NAME, &k)?;
    let state = row.as_ref().map(|r| casebook_domain::Household {
        id: r.household_id,
        hamlet_id: r.hamlet_id,
        personal: casebook_domain::PersonalDetails {
            head_of_household: r.head_of_household.clone(),
            phone: None,
            address: None,
            note: None,
        },
        size: 0,
        circumstances: Default::default(),
        assignments: r.assignments.clone(),
        erasure: None,
    });
    let Some(next) = evolve(state, &event.event) else {
        return Ok(());
    };
    let row = HouseholdRow {
        household_id: next.id,
        hamlet_id: next.hamlet_id,
        head_of_household: next.personal.head_of_household,
        assignments: next.assignments,
        cases: BTreeMap::new(),
        last_visit: row.and_then(|r| r.last_visit),
    };
    staging.put(k, &row)
}

fn apply_case(
    staging: &mut Staging,
    case: casebook_domain::ConcernId,
    event: &Decoded,
) -> Result<()> {
    let status = status_after(&event.event.payload);
    let visit =
        matches!(&event.event.payload, Payload::ActionRecorded(a) if a.action == ActionKind::Visit);
    if status.is_none() && !visit {
        // Nothing of the case that a household shows changes.
        return Ok(());
    }
    let case_key = key(TAG_CASE, &[&id(case.0)]);
    let households: Vec<HouseholdId> = match &event.event.payload {
        Payload::ConcernReported(e) => {
            // The households the view knows when the case is reported (a
            // household's row is never removed): checked once, not at
            // every event of the case.
            let mut hs = Vec::new();
            for h in e.subject.households() {
                if staging.contains(&household_key(h))? {
                    hs.push(h);
                }
            }
            staging.put(case_key, &hs)?;
            hs
        }
        _ => staging
            .read_owned(HouseholdsView::NAME, &case_key)?
            .unwrap_or_default(),
    };
    for h in households {
        let k = household_key(h);
        if let Some(status) = status {
            staging.put_raw(status_key(h, case), serde_json::to_vec(&status)?);
        }
        if visit {
            // Moved out, and staged again below.
            let Some(mut row) = staging.take::<HouseholdRow>(HouseholdsView::NAME, &k)? else {
                continue;
            };
            let at = event.event.occurred_at;
            row.last_visit = Some(row.last_visit.map_or(at, |t| t.max(at)));
            staging.put_owned(k, row);
        }
    }
    Ok(())
}

fn status_key(h: HouseholdId, case: casebook_domain::ConcernId) -> Key {
    key(TAG_STATUS, &[&id(h.0), &id(case.0)])
}

/// The status a case event leads to, if it changes it.
pub(crate) fn status_after(payload: &Payload) -> Option<Status> {
    Some(match payload {
        Payload::ConcernReported(_) => Status::Reported,
        Payload::ConcernAcknowledged(_) => Status::Acknowledged,
        Payload::ConcernAssigned(_)
        | Payload::ClockResumed(_)
        | Payload::ConcernReopened(_)
        | Payload::AppealOpened(_) => Status::InProgress,
        Payload::ConcernEscalated(e)
            if matches!(e.to, casebook_domain::EscalationTarget::Committee { .. }) =>
        {
            Status::InProgress
        }
        Payload::ClockPaused(_) => Status::Paused,
        Payload::ConcernResolved(_) => Status::Resolved,
        Payload::ConcernClosed(_) => Status::Closed,
        Payload::ConcernMerged(_) => Status::Merged,
        Payload::ConcernWithdrawn(_) => Status::Withdrawn,
        _ => return None,
    })
}

/// One household, with its cases.
pub fn get(tree: &ViewTree, h: HouseholdId) -> Result<Option<HouseholdRow>> {
    let Some(mut row) = tree.read::<HouseholdRow>(HouseholdsView::NAME, &household_key(h))? else {
        return Ok(None);
    };
    let prefix = key(TAG_STATUS, &[&id(h.0)]);
    for (k, v) in tree.scan_prefix(&prefix) {
        let case = uuid_from(&k[prefix.len()..]).ok_or_else(|| ProjectionError::Corrupt {
            view: HouseholdsView::NAME,
            reason: "a case status key is too short".into(),
        })?;
        let status: Status = serde_json::from_slice(v).map_err(|e| ProjectionError::Corrupt {
            view: HouseholdsView::NAME,
            reason: e.to_string(),
        })?;
        row.cases.insert(casebook_domain::ConcernId(case), status);
    }
    Ok(Some(row))
}
