//! `decide` for a case: which events a command causes, or why it is refused.
//!
//! The order of checks is fixed: the field time (in [`crate::decide`]), then
//! for an existing case the permission rules (so that a stranger learns
//! nothing of the case's state), then whether the command is allowed in the
//! current state, then the command's own fields.

use chrono::{DateTime, Utc};

use super::event::{
    ActionRecorded, AppealOpened, ClockPaused, ClockResumed, ConcernAcknowledged, ConcernAssigned,
    ConcernClosed, ConcernEscalated, ConcernMerged, ConcernReopened, ConcernReported,
    ConcernResolved, ConcernWithdrawn, FeedbackRecorded, InformantAccessGranted, InformantRead,
    InterimReplied, ReferralAnswered, ReferredOut, SyncConflictMarked,
};
use super::{
    Assignee, Concern, ConcernCommand, ConcernKind, Confidentiality, Coordinates, EscalateTo,
    EscalationTarget, FollowUp, NewConcern, Outcome, SealedInformant, Status, Subject,
};
use crate::context::Context;
use crate::error::{require_text, DomainError};
use crate::event::Payload;
use crate::ids::{CommitteeId, HouseholdId, PersonId, UnitId};
use crate::permission;
use crate::person::Role;
use crate::unit::{Committee, UnitKind};

type Decision = Result<Vec<Payload>, DomainError>;

/// The statuses in which a command is allowed.
fn allowed_in(command: &ConcernCommand) -> &'static [Status] {
    use Status::*;
    match command {
        ConcernCommand::Report(_) => &[],
        ConcernCommand::Acknowledge { .. } => &[Reported],
        ConcernCommand::Assign(_) | ConcernCommand::Escalate { .. } => &[Acknowledged, InProgress],
        ConcernCommand::RecordAction { .. } | ConcernCommand::AnswerReferral { .. } => {
            &[InProgress, Paused]
        }
        ConcernCommand::ReferOut { .. }
        | ConcernCommand::PauseClock { .. }
        | ConcernCommand::InterimReply { .. }
        | ConcernCommand::Resolve { .. } => &[InProgress],
        ConcernCommand::ResumeClock => &[Paused],
        ConcernCommand::RecordFeedback { .. } | ConcernCommand::Close { .. } => &[Resolved],
        ConcernCommand::Reopen { .. } => &[Resolved, Closed],
        ConcernCommand::MergeInto { .. } | ConcernCommand::Withdraw { .. } => {
            &[Reported, Acknowledged, InProgress, Paused]
        }
        ConcernCommand::GrantInformantAccess { .. }
        | ConcernCommand::ReadInformant
        | ConcernCommand::MarkSyncConflict { .. } => &[
            Reported,
            Acknowledged,
            InProgress,
            Paused,
            Resolved,
            Closed,
            Merged,
            Withdrawn,
        ],
    }
}

fn illegal(state: &'static str, command: &ConcernCommand) -> DomainError {
    DomainError::IllegalTransition {
        aggregate: "concern",
        state,
        command: command.name(),
    }
}

/// `decide` for a case that may not exist yet.
pub(super) fn decide(
    state: &Option<Concern>,
    command: &ConcernCommand,
    ctx: &Context<'_>,
) -> Decision {
    match (state, command) {
        (None, ConcernCommand::Report(new)) => report(ctx, new),
        (None, _) => Err(illegal("not_created", command)),
        (Some(concern), _) => decide_existing(concern, command, ctx),
    }
}

fn authorize(
    concern: &Concern,
    command: &ConcernCommand,
    ctx: &Context<'_>,
) -> Result<(), DomainError> {
    match command {
        ConcernCommand::RecordAction { .. }
        | ConcernCommand::RecordFeedback { .. }
        | ConcernCommand::Withdraw { .. }
        | ConcernCommand::MarkSyncConflict { .. } => permission::may_follow_up(ctx, concern),
        ConcernCommand::ReadInformant => permission::may_read_sealed_informant(ctx.actor, concern),
        _ => permission::may_manage_case(ctx, concern),
    }
}

fn decide_existing(concern: &Concern, command: &ConcernCommand, ctx: &Context<'_>) -> Decision {
    if matches!(command, ConcernCommand::Report(_)) {
        return Err(illegal(concern.status.name(), command));
    }
    authorize(concern, command, ctx)?;
    if !allowed_in(command).contains(&concern.status) {
        return Err(illegal(concern.status.name(), command));
    }
    if ctx.occurred_at < concern.reported_at {
        return Err(DomainError::invalid(
            "occurred_at",
            "before the case was reported",
        ));
    }
    decide_allowed(concern, command, ctx)
}

fn decide_allowed(concern: &Concern, command: &ConcernCommand, ctx: &Context<'_>) -> Decision {
    match command {
        ConcernCommand::Report(_) => Err(illegal(concern.status.name(), command)),
        ConcernCommand::Acknowledge {
            topic,
            priority,
            deadline,
        } => {
            ctx.policy.taxonomy.check(topic)?;
            let deadline = match deadline {
                Some(deadline) => future_deadline(*deadline, ctx)?,
                None => ctx.policy.deadline(topic, *priority, concern.reported_at),
            };
            one(Payload::ConcernAcknowledged(ConcernAcknowledged {
                topic: topic.clone(),
                priority: *priority,
                deadline,
            }))
        }
        ConcernCommand::Assign(assignee) => assign(concern, *assignee, ctx),
        ConcernCommand::RecordAction { action, summary } => {
            require_text("summary", summary)?;
            one(Payload::ActionRecorded(ActionRecorded {
                action: *action,
                summary: summary.clone(),
            }))
        }
        ConcernCommand::Escalate { to, reason } => escalate(concern, to, reason, ctx),
        ConcernCommand::ReferOut { body, reason } => refer_out(concern, body, reason),
        ConcernCommand::AnswerReferral {
            referral_no,
            answer,
        } => answer_referral(concern, *referral_no, answer),
        ConcernCommand::PauseClock { reason } => {
            require_text("reason", reason)?;
            one(Payload::ClockPaused(ClockPaused {
                reason: reason.clone(),
            }))
        }
        ConcernCommand::ResumeClock => resume(concern, ctx),
        ConcernCommand::InterimReply {
            message,
            deadline,
            reason,
        } => {
            require_text("message", message)?;
            require_text("reason", reason)?;
            one(Payload::InterimReplied(InterimReplied {
                message: message.clone(),
                deadline: future_deadline(*deadline, ctx)?,
                reason: reason.clone(),
            }))
        }
        ConcernCommand::Resolve { outcome, summary } => resolve(outcome, summary),
        ConcernCommand::RecordFeedback {
            satisfied,
            comment,
            follow_up,
        } => feedback(concern, *satisfied, comment, follow_up.as_ref(), ctx),
        ConcernCommand::Close { note } => {
            one(Payload::ConcernClosed(ConcernClosed { note: note.clone() }))
        }
        ConcernCommand::Reopen { reason } => {
            require_text("reason", reason)?;
            one(reopened(concern, reason, ctx))
        }
        ConcernCommand::MergeInto { concern_id } => {
            if *concern_id == concern.id {
                return Err(DomainError::invalid(
                    "concern_id",
                    "a case cannot be merged into itself",
                ));
            }
            one(Payload::ConcernMerged(ConcernMerged {
                into_concern_id: *concern_id,
            }))
        }
        ConcernCommand::Withdraw { reason } => {
            require_text("reason", reason)?;
            one(Payload::ConcernWithdrawn(ConcernWithdrawn {
                reason: reason.clone(),
            }))
        }
        ConcernCommand::GrantInformantAccess { person_id, reason } => {
            grant_informant_access(concern, *person_id, reason, ctx)
        }
        ConcernCommand::ReadInformant => {
            if concern.sealed_informant.is_none() {
                return Err(DomainError::invalid(
                    "concern_id",
                    "the case has no sealed informant",
                ));
            }
            one(Payload::InformantRead(InformantRead {}))
        }
        ConcernCommand::MarkSyncConflict {
            command_id,
            command,
            reason,
        } => {
            require_text("command", command)?;
            require_text("reason", reason)?;
            one(Payload::SyncConflictMarked(SyncConflictMarked {
                command_id: *command_id,
                command: command.clone(),
                reason: reason.clone(),
            }))
        }
    }
}

/// A committee lets one more person read a tip's sealed informant.
fn grant_informant_access(
    concern: &Concern,
    person_id: PersonId,
    reason: &str,
    ctx: &Context<'_>,
) -> Decision {
    require_text("reason", reason)?;
    if concern.sealed_informant.is_none() {
        return Err(DomainError::invalid(
            "concern_id",
            "the case has no sealed informant",
        ));
    }
    ctx.lookups
        .person(person_id)
        .ok_or_else(|| DomainError::not_found("person", person_id))?;
    if person_id == concern.reported_by || concern.informant_grants.contains(&person_id) {
        return Err(DomainError::invalid(
            "person_id",
            "already may read the informant",
        ));
    }
    one(Payload::InformantAccessGranted(InformantAccessGranted {
        person_id,
        reason: reason.to_owned(),
    }))
}

fn one(payload: Payload) -> Decision {
    Ok(vec![payload])
}

fn future_deadline(
    deadline: DateTime<Utc>,
    ctx: &Context<'_>,
) -> Result<DateTime<Utc>, DomainError> {
    if deadline <= ctx.occurred_at {
        return Err(DomainError::invalid(
            "deadline",
            "must be after the field time",
        ));
    }
    Ok(deadline)
}

fn report(ctx: &Context<'_>, new: &NewConcern) -> Decision {
    let NewConcern {
        concern_id,
        subject,
        hamlet_id,
        coordinates,
        kind,
        topic,
        priority,
        confidentiality,
        sealed_informant,
        text,
        personal_note,
    } = new;
    let hamlet_id = hamlet_of(ctx, subject, *hamlet_id)?;
    permission::may_report(ctx, subject, hamlet_id)?;
    require_text("text", text)?;
    if let Some(note) = personal_note {
        require_text("personal_note", note)?;
    }
    ctx.policy.taxonomy.check(topic)?;
    check_coordinates(coordinates.as_ref())?;
    check_confidentiality(*kind, *confidentiality, sealed_informant.as_ref())?;
    one(Payload::ConcernReported(ConcernReported {
        concern_id: *concern_id,
        subject: subject.clone(),
        hamlet_id,
        coordinates: *coordinates,
        kind: *kind,
        topic: topic.clone(),
        priority: *priority,
        confidentiality: *confidentiality,
        sealed_informant: sealed_informant.clone(),
        text: text.clone(),
        personal_note: personal_note.clone(),
    }))
}

/// The hamlet of the case: the household's, or the one given for a hamlet case,
/// which every listed household must live in.
fn hamlet_of(
    ctx: &Context<'_>,
    subject: &Subject,
    given: Option<UnitId>,
) -> Result<UnitId, DomainError> {
    let households = subject.households();
    let first = households
        .first()
        .ok_or_else(|| DomainError::invalid("subject", "names no household"))?;
    let hamlet_id = match (subject, given) {
        (Subject::Hamlet { .. }, None) => {
            return Err(DomainError::invalid(
                "hamlet_id",
                "required for a hamlet case",
            ));
        }
        (_, Some(given)) => given,
        (Subject::Household { .. }, None) => household_hamlet(ctx, *first)?,
    };
    check_is_hamlet(ctx, hamlet_id)?;
    for household_id in households {
        if household_hamlet(ctx, household_id)? != hamlet_id {
            return Err(DomainError::invalid(
                "subject",
                format!("household {household_id} does not live in hamlet {hamlet_id}"),
            ));
        }
    }
    Ok(hamlet_id)
}

fn household_hamlet(ctx: &Context<'_>, household_id: HouseholdId) -> Result<UnitId, DomainError> {
    ctx.lookups
        .household(household_id)
        .map(|h| h.hamlet_id)
        .ok_or_else(|| DomainError::not_found("household", household_id))
}

fn check_is_hamlet(ctx: &Context<'_>, unit_id: UnitId) -> Result<(), DomainError> {
    match ctx.lookups.unit(unit_id) {
        Some(unit) if unit.kind == UnitKind::Hamlet => Ok(()),
        Some(_) => Err(DomainError::invalid("hamlet_id", "is not a hamlet")),
        None => Err(DomainError::not_found("unit", unit_id)),
    }
}

fn check_coordinates(coordinates: Option<&Coordinates>) -> Result<(), DomainError> {
    let Some(c) = coordinates else { return Ok(()) };
    if (-90.0..=90.0).contains(&c.latitude) && (-180.0..=180.0).contains(&c.longitude) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "coordinates",
            "latitude or longitude out of range",
        ))
    }
}

fn check_confidentiality(
    kind: ConcernKind,
    confidentiality: Confidentiality,
    sealed: Option<&SealedInformant>,
) -> Result<(), DomainError> {
    let is_tip = confidentiality == Confidentiality::ConfidentialTip;
    if is_tip && kind != ConcernKind::Tip {
        return Err(DomainError::invalid(
            "confidentiality",
            "only a tip can be a confidential tip",
        ));
    }
    if sealed.is_some() && !is_tip {
        return Err(DomainError::invalid(
            "sealed_informant",
            "an informant is recorded only for a confidential tip",
        ));
    }
    if let Some(informant) = sealed {
        require_text("sealed_informant.name", &informant.name)?;
    }
    Ok(())
}

fn committee(ctx: &Context<'_>, committee_id: CommitteeId) -> Result<Committee, DomainError> {
    ctx.lookups
        .committee(committee_id)
        .ok_or_else(|| DomainError::not_found("committee", committee_id))
}

fn assign(concern: &Concern, assignee: Assignee, ctx: &Context<'_>) -> Decision {
    if concern.assignee == Some(assignee) {
        return Err(DomainError::invalid("assignee", "already assigned to them"));
    }
    let handling_unit_id = match assignee {
        Assignee::Committee { committee_id } => {
            let committee = committee(ctx, committee_id)?;
            if !permission::is_within(ctx.lookups, committee.unit_id, concern.hamlet_id) {
                return Err(DomainError::invalid(
                    "assignee",
                    "the committee's jurisdiction does not hold the case's hamlet",
                ));
            }
            committee.unit_id
        }
        Assignee::Person { person_id } => {
            check_can_handle(ctx, person_id)?;
            concern.handling_unit_id
        }
    };
    one(Payload::ConcernAssigned(ConcernAssigned {
        assignee,
        handling_unit_id,
    }))
}

fn check_can_handle(ctx: &Context<'_>, person_id: PersonId) -> Result<(), DomainError> {
    let person = ctx
        .lookups
        .person(person_id)
        .ok_or_else(|| DomainError::not_found("person", person_id))?;
    let handles = person
        .grants_at(ctx.occurred_at)
        .iter()
        .any(|g| matches!(g.role, Role::Member | Role::CommitteeMember { .. }));
    if !handles {
        return Err(DomainError::invalid(
            "assignee",
            "the person holds no member role at the field time",
        ));
    }
    Ok(())
}

fn escalate(concern: &Concern, to: &EscalateTo, reason: &str, ctx: &Context<'_>) -> Decision {
    require_text("reason", reason)?;
    let target = match to {
        EscalateTo::Committee(committee_id) => {
            let committee = committee(ctx, *committee_id)?;
            permission::may_escalate(ctx.lookups, concern.handling_unit_id, committee.unit_id)?;
            EscalationTarget::Committee {
                committee_id: *committee_id,
                unit_id: committee.unit_id,
            }
        }
        EscalateTo::StateBody(name) => {
            require_text("to", name)?;
            EscalationTarget::StateBody { name: name.clone() }
        }
    };
    one(Payload::ConcernEscalated(ConcernEscalated {
        to: target,
        from_unit_id: concern.handling_unit_id,
        reason: reason.to_owned(),
    }))
}

fn refer_out(concern: &Concern, body: &str, reason: &str) -> Decision {
    require_text("body", body)?;
    require_text("reason", reason)?;
    let referral_no = u32::try_from(concern.referrals.len())
        .map_err(|_| DomainError::invalid("referrals", "too many"))?
        + 1;
    one(Payload::ReferredOut(ReferredOut {
        referral_no,
        body: body.to_owned(),
        reason: reason.to_owned(),
    }))
}

fn answer_referral(concern: &Concern, referral_no: u32, answer: &str) -> Decision {
    require_text("answer", answer)?;
    let referral = concern
        .referral(referral_no)
        .ok_or_else(|| DomainError::not_found("referral", referral_no))?;
    if referral.answer.is_some() {
        return Err(DomainError::invalid("referral_no", "already answered"));
    }
    one(Payload::ReferralAnswered(ReferralAnswered {
        referral_no,
        answer: answer.to_owned(),
    }))
}

fn resume(concern: &Concern, ctx: &Context<'_>) -> Decision {
    let (Some(paused_since), Some(deadline)) = (concern.paused_since, concern.deadline) else {
        return Err(illegal(concern.status.name(), &ConcernCommand::ResumeClock));
    };
    if ctx.occurred_at < paused_since {
        return Err(DomainError::invalid(
            "occurred_at",
            "before the clock was paused",
        ));
    }
    let paused_for = ctx.occurred_at - paused_since;
    one(Payload::ClockResumed(ClockResumed {
        paused_seconds: paused_for.num_seconds(),
        deadline: deadline + paused_for,
    }))
}

fn resolve(outcome: &Outcome, summary: &str) -> Decision {
    require_text("summary", summary)?;
    match outcome {
        Outcome::Declined { reason } => require_text("outcome.reason", reason)?,
        Outcome::Referred { body } => require_text("outcome.body", body)?,
        Outcome::Resolved | Outcome::PartlyResolved => {}
    }
    one(Payload::ConcernResolved(ConcernResolved {
        outcome: outcome.clone(),
        summary: summary.to_owned(),
    }))
}

fn feedback(
    concern: &Concern,
    satisfied: bool,
    comment: &str,
    follow_up: Option<&FollowUp>,
    ctx: &Context<'_>,
) -> Decision {
    if concern.feedback.is_some() {
        return Err(DomainError::invalid(
            "feedback",
            "already recorded for this resolution",
        ));
    }
    let recorded = Payload::FeedbackRecorded(FeedbackRecorded {
        satisfied,
        comment: comment.to_owned(),
    });
    match (satisfied, follow_up) {
        (true, None) => one(recorded),
        (true, Some(_)) => Err(DomainError::invalid(
            "follow_up",
            "a satisfied resident needs none",
        )),
        (false, None) => Err(DomainError::invalid(
            "follow_up",
            "an unsatisfied resident's case is reopened or appealed",
        )),
        (false, Some(follow_up)) => {
            require_text("comment", comment)?;
            let next = unsatisfied_follow_up(concern, comment, follow_up, ctx)?;
            Ok(vec![recorded, next])
        }
    }
}

fn unsatisfied_follow_up(
    concern: &Concern,
    comment: &str,
    follow_up: &FollowUp,
    ctx: &Context<'_>,
) -> Result<Payload, DomainError> {
    match follow_up {
        FollowUp::Reopen => Ok(reopened(concern, comment, ctx)),
        FollowUp::Appeal(committee_id) => {
            let committee = committee(ctx, *committee_id)?;
            permission::may_escalate(ctx.lookups, concern.handling_unit_id, committee.unit_id)?;
            Ok(Payload::AppealOpened(AppealOpened {
                committee_id: *committee_id,
                unit_id: committee.unit_id,
                reason: comment.to_owned(),
                deadline: fresh_deadline(concern, ctx),
            }))
        }
    }
}

fn reopened(concern: &Concern, reason: &str, ctx: &Context<'_>) -> Payload {
    Payload::ConcernReopened(ConcernReopened {
        reason: reason.to_owned(),
        deadline: fresh_deadline(concern, ctx),
    })
}

/// A reopened or appealed case gets a whole new period from the field time.
fn fresh_deadline(concern: &Concern, ctx: &Context<'_>) -> DateTime<Utc> {
    ctx.policy
        .deadline(&concern.topic, concern.priority, ctx.occurred_at)
}
