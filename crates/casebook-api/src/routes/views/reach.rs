//! The caller's reach for the view routes: which units their lists may
//! scan, and whether a unit they filter by is theirs.
//!
//! The views are indexed by unit, so a list scans the jurisdiction of one
//! unit; [`crate::visibility`] then decides, case by case and household by
//! household, exactly as for a single object. The reach only chooses where
//! to scan and refuses (404) a filter by a unit outside it, so that the
//! unit's existence does not leak. Roles are read now, from the directory,
//! as for every request.

use std::collections::BTreeSet;

use casebook_domain::permission::{is_within, TREE_DEPTH_MAX};
use casebook_domain::{HouseholdId, Lookups, PersonId, Role, UnitId};
use chrono::{DateTime, Utc};

use crate::auth::grants_at;
use crate::error::ApiError;

/// Where a caller's roles reach now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The caller.
    pub person: PersonId,
    /// An administrator sees every household and no case.
    pub administrator: bool,
    /// Units whose whole jurisdiction the caller reads: the units of their
    /// committees and of their auditor grants.
    pub jurisdictions: Vec<UnitId>,
    /// Units where the caller works as a member: the units of their member
    /// grants and the hamlets of the households assigned to them now.
    pub fieldwork: Vec<UnitId>,
}

impl Reach {
    /// The reach of `person` at `now`; `assigned` are the households
    /// assigned to them now (from the members view).
    pub fn of(
        lookups: &dyn Lookups,
        person: PersonId,
        now: DateTime<Utc>,
        assigned: &[HouseholdId],
    ) -> Self {
        let mut reach = Reach {
            person,
            administrator: false,
            jurisdictions: Vec::new(),
            fieldwork: Vec::new(),
        };
        let mut member = false;
        for grant in grants_at(lookups, person, now) {
            match grant.role {
                Role::Administrator => reach.administrator = true,
                Role::Auditor => push_unique(&mut reach.jurisdictions, grant.unit_id),
                Role::CommitteeMember { committee_id } => {
                    if let Some(committee) = lookups.committee(committee_id) {
                        push_unique(&mut reach.jurisdictions, committee.unit_id);
                    }
                }
                Role::Member => {
                    member = true;
                    push_unique(&mut reach.fieldwork, grant.unit_id);
                }
            }
        }
        if member {
            for household in assigned.iter().filter_map(|h| lookups.household(*h)) {
                push_unique(&mut reach.fieldwork, household.hamlet_id);
            }
        }
        reach
    }

    /// Every unit whose cases the caller may list: jurisdictions and fieldwork.
    pub fn case_units(&self) -> Vec<UnitId> {
        let mut units = self.jurisdictions.clone();
        for unit in &self.fieldwork {
            push_unique(&mut units, *unit);
        }
        units
    }
}

fn push_unique(units: &mut Vec<UnitId>, unit: UnitId) {
    if !units.contains(&unit) {
        units.push(unit);
    }
}

/// Whether `unit` lies in the jurisdiction of one of `roots`.
pub fn holds(lookups: &dyn Lookups, roots: &[UnitId], unit: UnitId) -> bool {
    roots.iter().any(|root| is_within(lookups, *root, unit))
}

/// Checks a unit filter: the unit exists and lies within `roots`; else a
/// 404 that does not say which.
pub fn check_unit(lookups: &dyn Lookups, roots: &[UnitId], unit: UnitId) -> Result<(), ApiError> {
    if lookups.unit(unit).is_some() && holds(lookups, roots, unit) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("unit {unit}")))
    }
}

/// The roots that no other root holds (each once).
pub fn outermost(lookups: &dyn Lookups, roots: &[UnitId]) -> Vec<UnitId> {
    let unique: BTreeSet<UnitId> = roots.iter().copied().collect();
    unique
        .iter()
        .copied()
        .filter(|r| !unique.iter().any(|o| o != r && is_within(lookups, *o, *r)))
        .collect()
}

/// The one unit whose jurisdiction holds every root, as low in the tree as
/// possible: the root itself when there is one, else the lowest common
/// ancestor (a list then filters out what lies between, case by case).
/// `None` when there are no roots.
pub fn scan_root(lookups: &dyn Lookups, roots: &[UnitId]) -> Option<UnitId> {
    let outer = outermost(lookups, roots);
    let first = *outer.first()?;
    if outer.len() == 1 {
        return Some(first);
    }
    let mut candidate = Some(first);
    let mut top = first;
    for _ in 0..TREE_DEPTH_MAX {
        let Some(unit) = candidate else { break };
        if outer.iter().all(|r| is_within(lookups, unit, *r)) {
            return Some(unit);
        }
        top = unit;
        candidate = lookups.unit(unit).and_then(|u| u.parent_id);
    }
    Some(top)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use casebook_domain::{Directory, Event, Payload, StreamId, UnitCreated, UnitKind};
    use uuid::Uuid;

    use super::*;

    fn unit(directory: &mut Directory, kind: UnitKind, parent: Option<UnitId>) -> UnitId {
        let id = UnitId(Uuid::new_v4());
        let event = Event {
            occurred_at: Utc::now(),
            recorded_at: Utc::now(),
            actor: PersonId(Uuid::new_v4()),
            payload: Payload::UnitCreated(UnitCreated {
                unit_id: id,
                kind,
                name: "u".to_owned(),
                parent_id: parent,
            }),
        };
        directory.apply(StreamId::Unit(id), &event);
        id
    }

    #[test]
    fn a_list_scans_the_lowest_unit_holding_every_root() {
        let mut d = Directory::new();
        let province = unit(&mut d, UnitKind::ProvincialCommand, None);
        let post_a = unit(&mut d, UnitKind::Post, Some(province));
        let post_b = unit(&mut d, UnitKind::Post, Some(province));
        let commune = unit(&mut d, UnitKind::Commune, Some(post_a));
        let hamlet_1 = unit(&mut d, UnitKind::Hamlet, Some(commune));
        let hamlet_2 = unit(&mut d, UnitKind::Hamlet, Some(commune));
        assert_eq!(scan_root(&d, &[]), None);
        assert_eq!(scan_root(&d, &[hamlet_1]), Some(hamlet_1));
        assert_eq!(scan_root(&d, &[hamlet_1, post_a, hamlet_1]), Some(post_a));
        assert_eq!(scan_root(&d, &[hamlet_1, hamlet_2]), Some(commune));
        assert_eq!(scan_root(&d, &[hamlet_2, post_b]), Some(province));
        assert_eq!(outermost(&d, &[hamlet_1, commune, hamlet_1]), [commune]);
        assert!(check_unit(&d, &[post_a], hamlet_2).is_ok());
        assert!(check_unit(&d, &[post_a], post_b).is_err());
        assert!(check_unit(&d, &[post_a], UnitId(Uuid::new_v4())).is_err());
        assert!(check_unit(&d, &[hamlet_1], commune).is_err());
    }
}
