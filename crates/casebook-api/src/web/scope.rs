//! Who is looking, and which units they may read: the roles a person holds
//! now (from the directory, as for tokens), the units of their committees
//! and of their auditor grants, and the pages those roles open.
//!
//! Which units a person may read is the view routes' test
//! (`routes::views::reach`, over the domain's `permission::is_within`);
//! every case a list shows is also checked one by one with
//! [`crate::visibility::case_visible`], as the API's lists do.

use casebook_domain::{Lookups, PersonId, Role, UnitId};
use chrono::{DateTime, Utc};

use crate::auth::grants_at;
use crate::error::ApiError;
use crate::routes::views::reach::check_unit;
use crate::state::AppState;

/// A unit with its name, for choosers and headings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRef {
    /// The unit.
    pub id: UnitId,
    /// Its name.
    pub name: String,
}

/// The roles a person holds now, as the pages use them.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The person.
    pub person_id: PersonId,
    /// Their name.
    pub name: String,
    /// The units of the committees they sit on.
    pub committee_units: Vec<UnitRef>,
    /// The units they audit.
    pub auditor_units: Vec<UnitRef>,
    /// Whether they are a field member.
    pub member: bool,
    /// Whether they are an administrator.
    pub admin: bool,
}

fn unit_ref(lookups: &dyn Lookups, id: UnitId) -> UnitRef {
    UnitRef {
        id,
        name: lookups.unit(id).map(|u| u.name).unwrap_or_default(),
    }
}

fn push_unique(units: &mut Vec<UnitRef>, unit: UnitRef) {
    if !units.iter().any(|u| u.id == unit.id) {
        units.push(unit);
    }
}

impl Viewer {
    /// The roles `person` holds at `now`.
    pub fn of(lookups: &dyn Lookups, person: PersonId, now: DateTime<Utc>) -> Self {
        let mut viewer = Viewer {
            person_id: person,
            name: lookups.person(person).map(|p| p.name).unwrap_or_default(),
            committee_units: Vec::new(),
            auditor_units: Vec::new(),
            member: false,
            admin: false,
        };
        for grant in grants_at(lookups, person, now) {
            match grant.role {
                Role::Member => viewer.member = true,
                Role::Administrator => viewer.admin = true,
                Role::Auditor => {
                    push_unique(&mut viewer.auditor_units, unit_ref(lookups, grant.unit_id))
                }
                Role::CommitteeMember { committee_id } => {
                    if let Some(committee) = lookups.committee(committee_id) {
                        push_unique(
                            &mut viewer.committee_units,
                            unit_ref(lookups, committee.unit_id),
                        );
                    }
                }
            }
        }
        viewer
    }

    /// The roles of the signed-in person now.
    pub fn load(state: &AppState, person: PersonId) -> Result<Self, ApiError> {
        let directory = state.directory()?;
        Ok(Self::of(&*directory, person, Utc::now()))
    }

    /// Whether they sit on a committee.
    pub fn is_committee(&self) -> bool {
        !self.committee_units.is_empty()
    }

    /// Whether they audit.
    pub fn is_auditor(&self) -> bool {
        !self.auditor_units.is_empty()
    }

    /// The units whose cases and figures they may read: their committees'
    /// units, then the units they audit.
    pub fn reading_units(&self) -> Vec<UnitRef> {
        let mut units = self.committee_units.clone();
        for unit in &self.auditor_units {
            push_unique(&mut units, unit.clone());
        }
        units
    }

    /// Whether `unit` exists and lies in the jurisdiction of a unit they
    /// may read (the view routes' own test, `routes::views::reach`).
    pub fn may_read_unit(&self, lookups: &dyn Lookups, unit: UnitId) -> bool {
        let roots: Vec<UnitId> = self.reading_units().iter().map(|u| u.id).collect();
        check_unit(lookups, &roots, unit).is_ok()
    }

    /// The unit a page shows: the one asked for if they may read it,
    /// else their first; `None` if they read no unit.
    pub fn unit_for(&self, lookups: &dyn Lookups, asked: Option<UnitId>) -> Option<UnitRef> {
        match asked {
            Some(unit) if self.may_read_unit(lookups, unit) => Some(unit_ref(lookups, unit)),
            _ => self.reading_units().into_iter().next(),
        }
    }

    /// The page a person lands on after signing in.
    pub fn home(&self) -> &'static str {
        if self.is_committee() {
            "/app/dashboard"
        } else if self.member {
            "/app/my"
        } else if self.is_auditor() {
            "/app/audit"
        } else {
            "/app/account"
        }
    }

    /// The navigation: (path, catalogue key) for each section their roles open.
    pub fn nav(&self) -> Vec<(&'static str, &'static str)> {
        let mut nav = Vec::new();
        if self.is_committee() {
            nav.push(("/app/dashboard", "nav.dashboard"));
        }
        if self.is_committee() || self.is_auditor() {
            nav.push(("/app/cases", "nav.cases"));
        }
        if self.is_committee() {
            nav.push(("/app/report", "nav.report"));
        }
        if self.member {
            nav.push(("/app/my", "nav.my_households"));
        }
        if self.is_auditor() {
            nav.push(("/app/audit", "nav.audit"));
        }
        nav
    }
}
