//! `evolve` for a case: the state after one event.
//!
//! Folding trusts the history: it never refuses an event and needs no
//! lookup, because every event carries the facts it changes.

use chrono::{DateTime, Utc};

use super::event::ConcernReported;
use super::{Assignee, Concern, EscalationTarget, Feedback, Referral, Status};
use crate::event::{Event, Payload};

/// The state after `event`; events of other aggregates change nothing.
pub(super) fn evolve(state: Option<Concern>, event: &Event) -> Option<Concern> {
    match (state, &event.payload) {
        (_, Payload::ConcernReported(reported)) => Some(created(reported, event)),
        (Some(concern), payload) => Some(apply(concern, payload, event)),
        (None, _) => None,
    }
}

fn created(e: &ConcernReported, event: &Event) -> Concern {
    Concern {
        id: e.concern_id,
        status: Status::Reported,
        subject: e.subject.clone(),
        hamlet_id: e.hamlet_id,
        coordinates: e.coordinates,
        kind: e.kind,
        topic: e.topic.clone(),
        priority: e.priority,
        confidentiality: e.confidentiality,
        sealed_informant: e.sealed_informant.clone(),
        text: e.text.clone(),
        personal_note: e.personal_note.clone(),
        reported_by: event.actor,
        reported_at: event.occurred_at,
        handling_unit_id: e.hamlet_id,
        assignee: None,
        deadline: None,
        paused_since: None,
        escalations: Vec::new(),
        referrals: Vec::new(),
        actions_recorded: 0,
        outcome: None,
        feedback: None,
        appeals: 0,
        reopenings: 0,
        merged_into: None,
        informant_grants: Vec::new(),
        sync_conflicts: 0,
    }
}

fn apply(mut c: Concern, payload: &Payload, event: &Event) -> Concern {
    match payload {
        Payload::ConcernAcknowledged(e) => {
            c.status = Status::Acknowledged;
            c.topic = e.topic.clone();
            c.priority = e.priority;
            c.deadline = Some(e.deadline);
        }
        Payload::ConcernAssigned(e) => {
            c.status = Status::InProgress;
            c.assignee = Some(e.assignee);
            c.handling_unit_id = e.handling_unit_id;
        }
        Payload::ActionRecorded(_) => c.actions_recorded = c.actions_recorded.saturating_add(1),
        Payload::ConcernEscalated(e) => {
            // A committee above takes the case over; a state body is only
            // tracked, so the case keeps its handler and status.
            if let EscalationTarget::Committee {
                committee_id,
                unit_id,
            } = e.to
            {
                c.status = Status::InProgress;
                c.assignee = Some(Assignee::Committee { committee_id });
                c.handling_unit_id = unit_id;
            }
            c.escalations.push(e.to.clone());
        }
        Payload::ReferredOut(e) => c.referrals.push(Referral {
            referral_no: e.referral_no,
            body: e.body.clone(),
            reason: e.reason.clone(),
            answer: None,
        }),
        Payload::ReferralAnswered(e) => {
            if let Some(referral) = c
                .referrals
                .iter_mut()
                .find(|r| r.referral_no == e.referral_no)
            {
                referral.answer = Some(e.answer.clone());
            }
        }
        Payload::ClockPaused(_) => {
            c.status = Status::Paused;
            c.paused_since = Some(event.occurred_at);
        }
        Payload::ClockResumed(e) => {
            c.status = Status::InProgress;
            c.paused_since = None;
            c.deadline = Some(e.deadline);
        }
        Payload::InterimReplied(e) => c.deadline = Some(e.deadline),
        Payload::ConcernResolved(e) => {
            c.status = Status::Resolved;
            c.outcome = Some(e.outcome.clone());
            c.feedback = None;
        }
        Payload::FeedbackRecorded(e) => {
            c.feedback = Some(Feedback {
                satisfied: e.satisfied,
                comment: e.comment.clone(),
            });
        }
        Payload::AppealOpened(e) => {
            c = back_to_work(c, e.deadline);
            c.appeals = c.appeals.saturating_add(1);
            c.assignee = Some(Assignee::Committee {
                committee_id: e.committee_id,
            });
            c.handling_unit_id = e.unit_id;
        }
        Payload::ConcernReopened(e) => {
            c = back_to_work(c, e.deadline);
            c.reopenings = c.reopenings.saturating_add(1);
        }
        Payload::ConcernClosed(_) => c.status = Status::Closed,
        Payload::ConcernMerged(e) => {
            c.status = Status::Merged;
            c.merged_into = Some(e.into_concern_id);
            c.paused_since = None;
        }
        Payload::ConcernWithdrawn(_) => {
            c.status = Status::Withdrawn;
            c.paused_since = None;
        }
        Payload::InformantAccessGranted(e) if !c.informant_grants.contains(&e.person_id) => {
            c.informant_grants.push(e.person_id);
        }
        Payload::SyncConflictMarked(_) => c.sync_conflicts = c.sync_conflicts.saturating_add(1),
        _ => {}
    }
    c
}

/// A reopened or appealed case: in progress again, with a new deadline; the
/// old resolution and its feedback stay in the history only.
fn back_to_work(mut c: Concern, deadline: DateTime<Utc>) -> Concern {
    c.status = Status::InProgress;
    c.deadline = Some(deadline);
    c.outcome = None;
    c.feedback = None;
    c
}
