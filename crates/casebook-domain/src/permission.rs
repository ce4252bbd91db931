//! Who may do what: the permission rules as pure functions.
//!
//! Each function answers `Ok(())` or a [`DomainError::Refused`] that names the
//! [`Rule`] that refused. Roles and assignments are read as they were at the
//! field time of the command (`ctx.occurred_at`): a member who visited a
//! household last week, while responsible for it, may log that visit today.
//! `decide` calls these; the API calls them too, for reads.

use chrono::{DateTime, Utc};

use crate::concern::{Assignee, Concern, Subject};
use crate::context::{Context, Lookups};
use crate::error::{DomainError, Rule};
use crate::ids::{CommitteeId, PersonId, UnitId};
use crate::person::{Role, RoleGrant};

/// The deepest walk up the tree: it has four levels, and the bound stops a
/// walk that bad data turned into a cycle.
pub const TREE_DEPTH_MAX: usize = 16;

/// Whether `inner` is in the jurisdiction of `outer`: `outer` itself, any unit
/// below it, and for a post the communes it covers and what lies below them.
pub fn is_within(lookups: &dyn Lookups, outer: UnitId, inner: UnitId) -> bool {
    let covers = lookups.unit(outer).map(|u| u.covers).unwrap_or_default();
    let mut current = Some(inner);
    for _ in 0..TREE_DEPTH_MAX {
        let Some(id) = current else { return false };
        if id == outer || covers.contains(&id) {
            return true;
        }
        current = lookups.unit(id).and_then(|u| u.parent_id);
    }
    false
}

/// Whether `upper` is strictly above `lower`.
pub fn is_above(lookups: &dyn Lookups, upper: UnitId, lower: UnitId) -> bool {
    upper != lower && is_within(lookups, upper, lower)
}

/// The roles the actor holds at the field time.
fn grants(ctx: &Context<'_>) -> Vec<RoleGrant> {
    grants_of(ctx.lookups, ctx.actor, ctx.occurred_at)
}

fn grants_of(lookups: &dyn Lookups, actor: PersonId, at: DateTime<Utc>) -> Vec<RoleGrant> {
    lookups
        .person(actor)
        .map(|p| p.grants_at(at))
        .unwrap_or_default()
}

fn committees(grants: &[RoleGrant]) -> Vec<CommitteeId> {
    grants
        .iter()
        .filter_map(|g| match g.role {
            Role::CommitteeMember { committee_id } => Some(committee_id),
            _ => None,
        })
        .collect()
}

fn holds(grants: &[RoleGrant], role: Role) -> bool {
    grants.iter().any(|g| g.role == role)
}

/// Members and committee members: the people who handle cases.
fn is_field_staff(grants: &[RoleGrant]) -> bool {
    holds(grants, Role::Member) || !committees(grants).is_empty()
}

/// The refusal for an actor whose roles did not allow the command: the rule of
/// their most capable role. `member_rule` is the rule a member broke.
fn refusal(grants: &[RoleGrant], member_rule: Rule, what: &str) -> DomainError {
    let rule = if !committees(grants).is_empty() {
        Rule::CommitteeActsWithinJurisdiction
    } else if holds(grants, Role::Member) {
        member_rule
    } else if holds(grants, Role::Auditor) {
        Rule::AuditorChangesNothing
    } else if holds(grants, Role::Administrator) {
        Rule::AdministratorManagesStructureOnly
    } else {
        Rule::RoleRequired
    };
    DomainError::refused(rule, what)
}

/// Whether one of the actor's committees has `unit` in its jurisdiction.
fn committee_covers(ctx: &Context<'_>, grants: &[RoleGrant], unit: UnitId) -> bool {
    committees(grants).into_iter().any(|committee_id| {
        ctx.lookups
            .committee(committee_id)
            .is_some_and(|c| is_within(ctx.lookups, c.unit_id, unit))
    })
}

/// Whether the case is assigned to one of the actor's committees.
fn assigned_to_committee_of(grants: &[RoleGrant], concern: &Concern) -> bool {
    match concern.assignee {
        Some(Assignee::Committee { committee_id }) => committees(grants).contains(&committee_id),
        _ => false,
    }
}

fn committee_may_act(ctx: &Context<'_>, grants: &[RoleGrant], concern: &Concern) -> bool {
    committee_covers(ctx, grants, concern.hamlet_id) || assigned_to_committee_of(grants, concern)
}

/// Whether a household of the subject is assigned to `member` at `at`.
fn member_responsible_for(
    lookups: &dyn Lookups,
    member: PersonId,
    subject: &Subject,
    at: DateTime<Utc>,
) -> bool {
    subject.households().into_iter().any(|household_id| {
        lookups
            .household(household_id)
            .is_some_and(|h| h.member_at(at) == Some(member))
    })
}

/// Rule [`Rule::MemberReportsForAssignedHouseholds`]: a member reports for a
/// household assigned to them at the field time (for a hamlet case, one of
/// the households); a committee reports within its jurisdiction.
pub fn may_report(
    ctx: &Context<'_>,
    subject: &Subject,
    hamlet_id: UnitId,
) -> Result<(), DomainError> {
    let grants = grants(ctx);
    let as_member = holds(&grants, Role::Member)
        && member_responsible_for(ctx.lookups, ctx.actor, subject, ctx.occurred_at);
    if as_member || committee_covers(ctx, &grants, hamlet_id) {
        return Ok(());
    }
    Err(refusal(
        &grants,
        Rule::MemberReportsForAssignedHouseholds,
        "the household is not assigned to this member at the field time",
    ))
}

/// Rule [`Rule::CommitteeActsWithinJurisdiction`]: triage, assignment,
/// escalation, referral, the clock, resolution, closing, reopening and
/// merging are for a committee whose jurisdiction holds the case's hamlet, or
/// to which the case is assigned.
pub fn may_manage_case(ctx: &Context<'_>, concern: &Concern) -> Result<(), DomainError> {
    let grants = grants(ctx);
    if committee_may_act(ctx, &grants, concern) {
        return Ok(());
    }
    Err(refusal(
        &grants,
        Rule::RoleRequired,
        "managing a case needs a committee role",
    ))
}

/// Rule [`Rule::MemberFollowsOwnCases`]: actions, feedback and withdrawal are
/// for a committee that may manage the case, or for a member who reported it,
/// is responsible for its household at the field time, or is its assignee.
pub fn may_follow_up(ctx: &Context<'_>, concern: &Concern) -> Result<(), DomainError> {
    let grants = grants(ctx);
    if committee_may_act(ctx, &grants, concern) {
        return Ok(());
    }
    let is_assignee = concern.assignee
        == Some(Assignee::Person {
            person_id: ctx.actor,
        });
    let own_case = concern.reported_by == ctx.actor
        || is_assignee
        || member_responsible_for(ctx.lookups, ctx.actor, &concern.subject, ctx.occurred_at);
    if is_field_staff(&grants) && own_case {
        return Ok(());
    }
    Err(refusal(
        &grants,
        Rule::MemberFollowsOwnCases,
        "not this member's case",
    ))
}

/// Rule [`Rule::EscalationGoesUpwards`]: the target unit must be strictly above
/// the unit handling the case.
pub fn may_escalate(
    lookups: &dyn Lookups,
    from_unit: UnitId,
    to_unit: UnitId,
) -> Result<(), DomainError> {
    if is_above(lookups, to_unit, from_unit) {
        return Ok(());
    }
    Err(DomainError::refused(
        Rule::EscalationGoesUpwards,
        format!("unit {to_unit} is not above unit {from_unit}"),
    ))
}

/// Rule [`Rule::StructureManagedByAdministrators`]: units and people are
/// managed by administrators. An auditor is refused by
/// [`Rule::AuditorChangesNothing`].
pub fn may_manage_structure(ctx: &Context<'_>) -> Result<(), DomainError> {
    let grants = grants(ctx);
    if holds(&grants, Role::Administrator) {
        return Ok(());
    }
    Err(structure_refusal(&grants))
}

fn structure_refusal(grants: &[RoleGrant]) -> DomainError {
    let only_auditor =
        holds(grants, Role::Auditor) && grants.iter().all(|g| g.role == Role::Auditor);
    if only_auditor {
        DomainError::refused(Rule::AuditorChangesNothing, "an auditor changes nothing")
    } else {
        DomainError::refused(
            Rule::StructureManagedByAdministrators,
            "units, people and assignments are managed by administrators",
        )
    }
}

/// Households and their assignments are managed by administrators, and by a
/// committee whose jurisdiction holds the household's hamlet (a post assigns
/// its members).
pub fn may_manage_assignments(ctx: &Context<'_>, hamlet_id: UnitId) -> Result<(), DomainError> {
    let grants = grants(ctx);
    if holds(&grants, Role::Administrator) || committee_covers(ctx, &grants, hamlet_id) {
        return Ok(());
    }
    Err(structure_refusal(&grants))
}

/// Rule [`Rule::SealedIdentityOnlyForItsTaker`]: only the member who took a
/// confidential tip, and the people a committee granted access on the record
/// (`concern.informant_access_granted`), may read its informant's identity.
/// Everyone else, administrators included, gets
/// [`Concern::without_sealed_informant`].
pub fn may_read_sealed_informant(actor: PersonId, concern: &Concern) -> Result<(), DomainError> {
    if concern.reported_by == actor || concern.informant_grants.contains(&actor) {
        return Ok(());
    }
    Err(DomainError::refused(
        Rule::SealedIdentityOnlyForItsTaker,
        "only the member who took the tip may read who gave it",
    ))
}

/// Who may see a case at all: whoever may follow it up, and an auditor whose
/// unit's jurisdiction holds its hamlet. An administrator sees no case.
pub fn may_view_case(ctx: &Context<'_>, concern: &Concern) -> Result<(), DomainError> {
    if may_follow_up(ctx, concern).is_ok() {
        return Ok(());
    }
    let grants = grants(ctx);
    let auditor_covers = grants
        .iter()
        .any(|g| g.role == Role::Auditor && is_within(ctx.lookups, g.unit_id, concern.hamlet_id));
    if auditor_covers {
        return Ok(());
    }
    let rule = match refusal(&grants, Rule::MemberFollowsOwnCases, "") {
        DomainError::Refused {
            rule: Rule::AuditorChangesNothing,
            ..
        } => Rule::RoleRequired,
        DomainError::Refused { rule, .. } => rule,
        _ => Rule::RoleRequired,
    };
    Err(DomainError::refused(
        rule,
        "the case is outside this person's reach",
    ))
}
