//! People who use the system and the roles they hold in units over time.
//!
//! A person lives in the stream `person-<uuid>`. A role is granted in a unit
//! from a field time, optionally until another; the rules look at the roles
//! held at the field time of a command. Residents are not people here: they
//! never log in, they are the subject of households and cases.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::context::Context;
use crate::error::{require_text, DomainError};
use crate::event::{Event, Payload};
use crate::ids::{CommitteeId, GrantId, PersonId, UnitId};
use crate::permission;

/// What a person may do, in the unit of the grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// A party member in the field (đảng viên): visits households, logs cases.
    Member,
    /// A member of a committee, acting for it within its jurisdiction.
    CommitteeMember {
        /// The committee (of the grant's unit).
        committee_id: CommitteeId,
    },
    /// An inspector: replays and reads, changes nothing.
    Auditor,
    /// Maintains units, people and assignments; acts on no case.
    Administrator,
}

/// A role held in a unit over a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// Its id, to end it later.
    pub grant_id: GrantId,
    /// The role.
    pub role: Role,
    /// The unit it is held in.
    pub unit_id: UnitId,
    /// From when (field time).
    pub from: DateTime<Utc>,
    /// Until when, exclusive; `None` while it lasts.
    pub until: Option<DateTime<Utc>>,
}

impl RoleGrant {
    /// Whether the role is held at `at`.
    pub fn is_held_at(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }
}

/// The state of a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their id.
    pub id: PersonId,
    /// Their name (staff, not residents: not personal data of the kind we seal).
    pub name: String,
    /// Every role they were ever granted, oldest first.
    pub grants: Vec<RoleGrant>,
}

impl Person {
    /// The grants held at `at`.
    pub fn grants_at(&self, at: DateTime<Utc>) -> Vec<RoleGrant> {
        self.grants
            .iter()
            .filter(|g| g.is_held_at(at))
            .cloned()
            .collect()
    }

    fn grant(&self, grant_id: GrantId) -> Option<&RoleGrant> {
        self.grants.iter().find(|g| g.grant_id == grant_id)
    }
}

/// A command on a person. Only administrators give them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonCommand {
    /// Register a person.
    Register {
        /// Their id, chosen by the caller.
        person_id: PersonId,
        /// Their name.
        name: String,
    },
    /// Grant a role from the field time on.
    GrantRole {
        /// The grant's id, chosen by the caller.
        grant_id: GrantId,
        /// The role.
        role: Role,
        /// The unit it is held in.
        unit_id: UnitId,
        /// Until when, if known.
        until: Option<DateTime<Utc>>,
    },
    /// End a role at the field time.
    EndRole {
        /// The grant.
        grant_id: GrantId,
    },
}

impl PersonCommand {
    /// The snake_case name used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register { .. } => "register",
            Self::GrantRole { .. } => "grant_role",
            Self::EndRole { .. } => "end_role",
        }
    }
}

/// `person.registered` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRegistered {
    /// The person.
    pub person_id: PersonId,
    /// Their name.
    pub name: String,
}

/// `person.role_granted` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGranted {
    /// The grant.
    pub grant_id: GrantId,
    /// The role.
    pub role: Role,
    /// The unit it is held in.
    pub unit_id: UnitId,
    /// From when.
    pub from: DateTime<Utc>,
    /// Until when, if known.
    pub until: Option<DateTime<Utc>>,
}

/// `person.role_ended` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleEnded {
    /// The grant.
    pub grant_id: GrantId,
    /// When it ended (exclusive).
    pub until: DateTime<Utc>,
}

impl Aggregate for Option<Person> {
    type Command = PersonCommand;

    fn decide_payloads(
        &self,
        command: &PersonCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Payload>, DomainError> {
        permission::may_manage_structure(ctx)?;
        match (self, command) {
            (None, PersonCommand::Register { person_id, name }) => {
                require_text("name", name)?;
                Ok(vec![Payload::PersonRegistered(PersonRegistered {
                    person_id: *person_id,
                    name: name.clone(),
                })])
            }
            (
                Some(person),
                PersonCommand::GrantRole {
                    grant_id,
                    role,
                    unit_id,
                    until,
                },
            ) => grant_role(ctx, person, *grant_id, *role, *unit_id, *until),
            (Some(person), PersonCommand::EndRole { grant_id }) => end_role(ctx, person, *grant_id),
            _ => Err(DomainError::IllegalTransition {
                aggregate: "person",
                state: if self.is_some() {
                    "registered"
                } else {
                    "not_created"
                },
                command: command.name(),
            }),
        }
    }

    fn apply(self, event: &Event) -> Self {
        match (self, &event.payload) {
            (_, Payload::PersonRegistered(e)) => Some(Person {
                id: e.person_id,
                name: e.name.clone(),
                grants: Vec::new(),
            }),
            (Some(person), payload) => Some(apply_to_person(person, payload)),
            (None, _) => None,
        }
    }
}

fn apply_to_person(mut person: Person, payload: &Payload) -> Person {
    match payload {
        Payload::RoleGranted(e) => person.grants.push(RoleGrant {
            grant_id: e.grant_id,
            role: e.role,
            unit_id: e.unit_id,
            from: e.from,
            until: e.until,
        }),
        Payload::RoleEnded(e) => {
            if let Some(grant) = person.grants.iter_mut().find(|g| g.grant_id == e.grant_id) {
                grant.until = Some(e.until);
            }
        }
        _ => {}
    }
    person
}

fn grant_role(
    ctx: &Context<'_>,
    person: &Person,
    grant_id: GrantId,
    role: Role,
    unit_id: UnitId,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Payload>, DomainError> {
    if person.grant(grant_id).is_some() {
        return Err(DomainError::invalid("grant_id", "already used"));
    }
    if until.is_some_and(|until| until <= ctx.occurred_at) {
        return Err(DomainError::invalid(
            "until",
            "must be after the field time",
        ));
    }
    ctx.lookups
        .unit(unit_id)
        .ok_or_else(|| DomainError::not_found("unit", unit_id))?;
    if let Role::CommitteeMember { committee_id } = role {
        check_committee_in_unit(ctx, committee_id, unit_id)?;
    }
    Ok(vec![Payload::RoleGranted(RoleGranted {
        grant_id,
        role,
        unit_id,
        from: ctx.occurred_at,
        until,
    })])
}

fn check_committee_in_unit(
    ctx: &Context<'_>,
    committee_id: CommitteeId,
    unit_id: UnitId,
) -> Result<(), DomainError> {
    let committee = ctx
        .lookups
        .committee(committee_id)
        .ok_or_else(|| DomainError::not_found("committee", committee_id))?;
    if committee.unit_id != unit_id {
        return Err(DomainError::invalid(
            "unit_id",
            "the committee belongs to another unit",
        ));
    }
    Ok(())
}

fn end_role(
    ctx: &Context<'_>,
    person: &Person,
    grant_id: GrantId,
) -> Result<Vec<Payload>, DomainError> {
    let grant = person
        .grant(grant_id)
        .ok_or_else(|| DomainError::not_found("role grant", grant_id.0))?;
    if !grant.is_held_at(ctx.occurred_at) {
        return Err(DomainError::invalid(
            "grant_id",
            "the role is not held at the field time",
        ));
    }
    Ok(vec![Payload::RoleEnded(RoleEnded {
        grant_id,
        until: ctx.occurred_at,
    })])
}
