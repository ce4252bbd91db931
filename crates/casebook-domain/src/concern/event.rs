//! The events of a case: the facts that `decide` emits and `evolve` folds.
//!
//! Each struct is the `data` of one stored event type. Everything `evolve`
//! needs is in the event itself (the unit a committee belongs to, the moved
//! deadline), so that folding never needs a lookup. The stored shape is
//! pinned by the golden files in `tests/golden/`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ActionKind, Assignee, ConcernKind, Confidentiality, Coordinates, EscalationTarget, Outcome,
    Priority, SealedInformant, Subject,
};
use crate::ids::{CommitteeId, ConcernId, PersonId, UnitId};
use crate::taxonomy::TopicCode;
use uuid::Uuid;

/// `concern.reported` v2: a case was logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcernReported {
    /// The case.
    pub concern_id: ConcernId,
    /// Who raised it.
    pub subject: Subject,
    /// The hamlet it belongs to.
    pub hamlet_id: UnitId,
    /// Where exactly, if known (new in v2).
    pub coordinates: Option<Coordinates>,
    /// What kind of thing.
    pub kind: ConcernKind,
    /// The proposed topic.
    pub topic: TopicCode,
    /// The proposed priority.
    pub priority: Priority,
    /// Who may read it (v1 had a boolean `confidential`).
    pub confidentiality: Confidentiality,
    /// A confidential tip's informant, sealed (new in v2).
    pub sealed_informant: Option<SealedInformant>,
    /// The resident's words.
    pub text: String,
    /// Words the reporter marked personal (sealed in the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_note: Option<String>,
}

/// `concern.acknowledged` v1: triaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernAcknowledged {
    /// The topic decided.
    pub topic: TopicCode,
    /// The priority decided.
    pub priority: Priority,
    /// The deadline set.
    pub deadline: DateTime<Utc>,
}

/// `concern.assigned` v1: a handler was assigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernAssigned {
    /// The handler.
    pub assignee: Assignee,
    /// The unit that answers for the case from now on.
    pub handling_unit_id: UnitId,
}

/// `concern.action_recorded` v1: something was done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecorded {
    /// What kind of action.
    pub action: ActionKind,
    /// What happened.
    pub summary: String,
}

/// `concern.escalated` v1: sent upwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernEscalated {
    /// Where it went.
    pub to: EscalationTarget,
    /// The unit that handled it before.
    pub from_unit_id: UnitId,
    /// Why.
    pub reason: String,
}

/// `concern.referred_out` v1: referred to a body outside the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferredOut {
    /// Its number within the case, from 1.
    pub referral_no: u32,
    /// The body.
    pub body: String,
    /// Why.
    pub reason: String,
}

/// `concern.referral_answered` v1: a referred body answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralAnswered {
    /// Which referral.
    pub referral_no: u32,
    /// The answer.
    pub answer: String,
}

/// `concern.clock_paused` v1: the deadline clock stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockPaused {
    /// What the case waits for.
    pub reason: String,
}

/// `concern.clock_resumed` v1: the clock runs again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockResumed {
    /// How long it was paused, in seconds of field time.
    pub paused_seconds: i64,
    /// The deadline moved by that much.
    pub deadline: DateTime<Utc>,
}

/// `concern.interim_replied` v1: the resident was told where things stand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterimReplied {
    /// What they were told.
    pub message: String,
    /// The new deadline.
    pub deadline: DateTime<Utc>,
    /// Why more time is needed.
    pub reason: String,
}

/// `concern.resolved` v1: resolved, referred or declined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernResolved {
    /// How.
    pub outcome: Outcome,
    /// A summary.
    pub summary: String,
}

/// `concern.feedback_recorded` v1: the resident said whether they are satisfied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRecorded {
    /// Whether they are satisfied.
    pub satisfied: bool,
    /// What they said.
    pub comment: String,
}

/// `concern.appeal_opened` v1: an unsatisfied resident appealed upwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealOpened {
    /// The committee that hears the appeal.
    pub committee_id: CommitteeId,
    /// Its unit, which now handles the case.
    pub unit_id: UnitId,
    /// The resident's grounds.
    pub reason: String,
    /// The new deadline.
    pub deadline: DateTime<Utc>,
}

/// `concern.reopened` v1: back to work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernReopened {
    /// Why.
    pub reason: String,
    /// The new deadline.
    pub deadline: DateTime<Utc>,
}

/// `concern.closed` v1: closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernClosed {
    /// A closing note.
    pub note: String,
}

/// `concern.merged` v1: merged into another case as a duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernMerged {
    /// The case that remains.
    pub into_concern_id: ConcernId,
}

/// `concern.informant_access_granted` v1: a committee let one more person
/// read a confidential tip's sealed informant. Reading the identity needs
/// this grant, so every reader but the taker is on the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformantAccessGranted {
    /// The person who may now read the informant's identity.
    pub person_id: PersonId,
    /// Why they need it.
    pub reason: String,
}

/// `concern.informant_read` v1: the event's actor read a confidential
/// tip's sealed informant (at the event's recorded time). Auditors list
/// these reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformantRead {}

/// `concern.sync_conflict_marked` v1: a command recorded offline could not
/// be applied because the case had moved on; the case's committee must
/// reconcile it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConflictMarked {
    /// The id the device gave the command.
    pub command_id: Uuid,
    /// The command's snake_case name (`record_action`…).
    pub command: String,
    /// Why it could not be applied.
    pub reason: String,
}

/// `concern.withdrawn` v1: withdrawn at the resident's wish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernWithdrawn {
    /// Why.
    pub reason: String,
}
