//! Households and the members responsible for them.
//!
//! A household lives in the stream `household-<uuid>`. Everything that
//! identifies its people is grouped in [`PersonalDetails`], so that a later
//! issue can encrypt that one struct. The assignment history is kept whole:
//! reassigning ends the current assignment and starts a new one, so "who was
//! responsible for this household on that day" always has an answer.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::context::Context;
use crate::error::{require_text, DomainError};
use crate::event::{Event, Payload};
use crate::ids::{HouseholdId, PersonId, UnitId};
use crate::permission;
use crate::person::Role;
use crate::unit::UnitKind;

/// The largest household size accepted; a guard against typing errors.
pub const HOUSEHOLD_SIZE_MAX: u16 = 100;

/// The personal data of a household: to be encrypted as a whole later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDetails {
    /// The head of household's full name (chủ hộ).
    pub head_of_household: String,
    /// A phone number, if the household gave one.
    pub phone: Option<String>,
    /// The address within the hamlet.
    pub address: Option<String>,
    /// Anything personal the member must remember (health, family situation).
    pub note: Option<String>,
}

impl PersonalDetails {
    /// What an erased (or withheld) household shows: nothing.
    pub fn erased() -> Self {
        Self {
            head_of_household: String::new(),
            phone: None,
            address: None,
            note: None,
        }
    }
}

/// A circumstance that qualifies a household for policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Circumstance {
    /// A poor household (hộ nghèo).
    PoorHousehold,
    /// A near-poor household (hộ cận nghèo).
    NearPoorHousehold,
    /// An ethnic-minority household.
    EthnicMinority,
    /// A policy family (gia đình chính sách).
    PolicyFamily,
    /// An elderly person living alone.
    ElderlyAlone,
    /// A member with a disability.
    Disability,
}

/// One period of a member's responsibility for a household.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The member.
    pub member_id: PersonId,
    /// From when (field time).
    pub from: DateTime<Utc>,
    /// Until when, exclusive; `None` while it lasts.
    pub until: Option<DateTime<Utc>>,
}

impl Assignment {
    /// Whether the assignment holds at `at`.
    pub fn holds_at(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }
}

/// The state of a household.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    /// Its id.
    pub id: HouseholdId,
    /// The hamlet it lives in.
    pub hamlet_id: UnitId,
    /// Personal data, grouped for encryption.
    pub personal: PersonalDetails,
    /// How many people live in it.
    pub size: u16,
    /// Its circumstances.
    pub circumstances: BTreeSet<Circumstance>,
    /// Every assignment, oldest first.
    pub assignments: Vec<Assignment>,
    /// Set once its personal data was erased: from then on `personal` and
    /// `circumstances` are empty, for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<Erasure>,
}

/// When, why and by whom a household's personal data was erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Why (the legal ground or the resident's request).
    pub reason: String,
    /// The administrator who erased it.
    pub erased_by: PersonId,
    /// When the system recorded the erasure.
    pub erased_at: DateTime<Utc>,
}

impl Household {
    /// The member responsible at `at`, if any.
    pub fn member_at(&self, at: DateTime<Utc>) -> Option<PersonId> {
        self.assignments
            .iter()
            .find(|a| a.holds_at(at))
            .map(|a| a.member_id)
    }

    /// The assignment that still lasts, if any.
    pub fn current_assignment(&self) -> Option<&Assignment> {
        self.assignments.iter().find(|a| a.until.is_none())
    }
}

/// A command on a household.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdCommand {
    /// Register a household.
    Register {
        /// Its id, chosen by the caller.
        household_id: HouseholdId,
        /// Its hamlet.
        hamlet_id: UnitId,
        /// Personal data.
        personal: PersonalDetails,
        /// How many people.
        size: u16,
        /// Its circumstances.
        circumstances: BTreeSet<Circumstance>,
    },
    /// Replace its details.
    UpdateDetails {
        /// Personal data.
        personal: PersonalDetails,
        /// How many people.
        size: u16,
        /// Its circumstances.
        circumstances: BTreeSet<Circumstance>,
    },
    /// Make a member responsible from the field time on, ending the current
    /// assignment if there is one (a reassignment).
    AssignMember {
        /// The member.
        member_id: PersonId,
    },
    /// End the current assignment at the field time.
    EndAssignment,
    /// Erase its personal data for good (administrators): the key that
    /// seals it is destroyed once the erasure is recorded.
    ErasePersonalData {
        /// Why.
        reason: String,
    },
}

impl HouseholdCommand {
    /// The snake_case name used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register { .. } => "register",
            Self::UpdateDetails { .. } => "update_details",
            Self::AssignMember { .. } => "assign_member",
            Self::EndAssignment => "end_assignment",
            Self::ErasePersonalData { .. } => "erase_personal_data",
        }
    }
}

/// `household.registered` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRegistered {
    /// The household.
    pub household_id: HouseholdId,
    /// Its hamlet.
    pub hamlet_id: UnitId,
    /// Personal data.
    pub personal: PersonalDetails,
    /// How many people.
    pub size: u16,
    /// Its circumstances.
    pub circumstances: BTreeSet<Circumstance>,
}

/// `household.details_updated` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdDetailsUpdated {
    /// Personal data.
    pub personal: PersonalDetails,
    /// How many people.
    pub size: u16,
    /// Its circumstances.
    pub circumstances: BTreeSet<Circumstance>,
}

/// `household.personal_data_erased` v1: its personal data was erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    /// Why.
    pub reason: String,
}

/// `household.member_assigned` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAssigned {
    /// The member now responsible.
    pub member_id: PersonId,
    /// From when.
    pub from: DateTime<Utc>,
}

/// `household.assignment_ended` v1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentEnded {
    /// The member no longer responsible.
    pub member_id: PersonId,
    /// When it ended (exclusive).
    pub until: DateTime<Utc>,
}

impl Aggregate for Option<Household> {
    type Command = HouseholdCommand;

    fn decide_payloads(
        &self,
        command: &HouseholdCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Payload>, DomainError> {
        match (self, command) {
            (Some(household), command) if household.erasure.is_some() => {
                refuse_after_erasure(household, command, ctx)
            }
            (Some(_), HouseholdCommand::ErasePersonalData { reason }) => {
                permission::may_manage_structure(ctx)?;
                require_text("reason", reason)?;
                Ok(vec![Payload::PersonalDataErased(PersonalDataErased {
                    reason: reason.clone(),
                })])
            }
            (
                None,
                HouseholdCommand::Register {
                    household_id,
                    hamlet_id,
                    personal,
                    size,
                    circumstances,
                },
            ) => {
                permission::may_manage_assignments(ctx, *hamlet_id)?;
                check_hamlet(ctx, *hamlet_id)?;
                check_details(personal, *size)?;
                Ok(vec![Payload::HouseholdRegistered(HouseholdRegistered {
                    household_id: *household_id,
                    hamlet_id: *hamlet_id,
                    personal: personal.clone(),
                    size: *size,
                    circumstances: circumstances.clone(),
                })])
            }
            (
                Some(household),
                HouseholdCommand::UpdateDetails {
                    personal,
                    size,
                    circumstances,
                },
            ) => {
                permission::may_manage_assignments(ctx, household.hamlet_id)?;
                check_details(personal, *size)?;
                Ok(vec![Payload::HouseholdDetailsUpdated(
                    HouseholdDetailsUpdated {
                        personal: personal.clone(),
                        size: *size,
                        circumstances: circumstances.clone(),
                    },
                )])
            }
            (Some(household), HouseholdCommand::AssignMember { member_id }) => {
                permission::may_manage_assignments(ctx, household.hamlet_id)?;
                assign_member(ctx, household, *member_id)
            }
            (Some(household), HouseholdCommand::EndAssignment) => {
                permission::may_manage_assignments(ctx, household.hamlet_id)?;
                end_assignment(ctx, household)
            }
            _ => Err(DomainError::IllegalTransition {
                aggregate: "household",
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
            (_, Payload::HouseholdRegistered(e)) => Some(Household {
                id: e.household_id,
                hamlet_id: e.hamlet_id,
                personal: e.personal.clone(),
                size: e.size,
                circumstances: e.circumstances.clone(),
                assignments: Vec::new(),
                erasure: None,
            }),
            (Some(household), _) => Some(apply_to_household(household, event)),
            (None, _) => None,
        }
    }
}

fn apply_to_household(mut household: Household, event: &Event) -> Household {
    match &event.payload {
        Payload::PersonalDataErased(e) => {
            household.personal = PersonalDetails::erased();
            household.circumstances.clear();
            household.erasure = Some(Erasure {
                reason: e.reason.clone(),
                erased_by: event.actor,
                erased_at: event.recorded_at,
            });
        }
        Payload::HouseholdDetailsUpdated(e) => {
            household.personal = e.personal.clone();
            household.size = e.size;
            household.circumstances = e.circumstances.clone();
        }
        Payload::MemberAssigned(e) => household.assignments.push(Assignment {
            member_id: e.member_id,
            from: e.from,
            until: None,
        }),
        Payload::AssignmentEnded(e) => {
            let open = household
                .assignments
                .iter_mut()
                .find(|a| a.until.is_none() && a.member_id == e.member_id);
            if let Some(assignment) = open {
                assignment.until = Some(e.until);
            }
        }
        _ => {}
    }
    household
}

/// After an erasure, assignments go on; nothing personal may be recorded
/// again, and erasing twice is refused.
fn refuse_after_erasure(
    household: &Household,
    command: &HouseholdCommand,
    ctx: &Context<'_>,
) -> Result<Vec<Payload>, DomainError> {
    match command {
        HouseholdCommand::AssignMember { member_id } => {
            permission::may_manage_assignments(ctx, household.hamlet_id)?;
            assign_member(ctx, household, *member_id)
        }
        HouseholdCommand::EndAssignment => {
            permission::may_manage_assignments(ctx, household.hamlet_id)?;
            end_assignment(ctx, household)
        }
        _ => Err(DomainError::IllegalTransition {
            aggregate: "household",
            state: "erased",
            command: command.name(),
        }),
    }
}

fn check_hamlet(ctx: &Context<'_>, hamlet_id: UnitId) -> Result<(), DomainError> {
    let unit = ctx
        .lookups
        .unit(hamlet_id)
        .ok_or_else(|| DomainError::not_found("unit", hamlet_id))?;
    if unit.kind != UnitKind::Hamlet {
        return Err(DomainError::invalid(
            "hamlet_id",
            "a household lives in a hamlet",
        ));
    }
    Ok(())
}

fn check_details(personal: &PersonalDetails, size: u16) -> Result<(), DomainError> {
    require_text("head_of_household", &personal.head_of_household)?;
    if size == 0 || size > HOUSEHOLD_SIZE_MAX {
        return Err(DomainError::invalid(
            "size",
            format!("must be between 1 and {HOUSEHOLD_SIZE_MAX}"),
        ));
    }
    Ok(())
}

fn assign_member(
    ctx: &Context<'_>,
    household: &Household,
    member_id: PersonId,
) -> Result<Vec<Payload>, DomainError> {
    check_is_member(ctx, member_id)?;
    let mut payloads = Vec::new();
    if let Some(current) = household.current_assignment() {
        if current.member_id == member_id {
            return Err(DomainError::invalid(
                "member_id",
                "already responsible for this household",
            ));
        }
        if ctx.occurred_at < current.from {
            return Err(DomainError::invalid(
                "occurred_at",
                "a reassignment cannot start before the current assignment",
            ));
        }
        payloads.push(Payload::AssignmentEnded(AssignmentEnded {
            member_id: current.member_id,
            until: ctx.occurred_at,
        }));
    }
    payloads.push(Payload::MemberAssigned(MemberAssigned {
        member_id,
        from: ctx.occurred_at,
    }));
    Ok(payloads)
}

fn check_is_member(ctx: &Context<'_>, member_id: PersonId) -> Result<(), DomainError> {
    let person = ctx
        .lookups
        .person(member_id)
        .ok_or_else(|| DomainError::not_found("person", member_id))?;
    let is_member = person
        .grants_at(ctx.occurred_at)
        .iter()
        .any(|g| g.role == Role::Member);
    if !is_member {
        return Err(DomainError::invalid(
            "member_id",
            "holds no member role at the field time",
        ));
    }
    Ok(())
}

fn end_assignment(ctx: &Context<'_>, household: &Household) -> Result<Vec<Payload>, DomainError> {
    let current = household
        .current_assignment()
        .ok_or_else(|| DomainError::invalid("household", "no member is responsible for it"))?;
    if ctx.occurred_at < current.from {
        return Err(DomainError::invalid(
            "occurred_at",
            "before the assignment started",
        ));
    }
    Ok(vec![Payload::AssignmentEnded(AssignmentEnded {
        member_id: current.member_id,
        until: ctx.occurred_at,
    })])
}
