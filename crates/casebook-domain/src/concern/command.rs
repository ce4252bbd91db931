//! What a user can ask of a case.
//!
//! Commands carry only what the user says; the actor, the field time, the
//! clock and the policy come through the context.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::{
    ActionKind, Assignee, ConcernKind, Confidentiality, Coordinates, Outcome, Priority,
    SealedInformant, Subject,
};
use crate::ids::{CommitteeId, ConcernId, PersonId, UnitId};
use crate::taxonomy::TopicCode;
use uuid::Uuid;

/// Where to escalate a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalateTo {
    /// A committee of a unit above the one handling the case.
    Committee(CommitteeId),
    /// A state body outside the tree, named in words.
    StateBody(String),
}

/// What an unsatisfied resident wants next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// Reopen the case with the same handler.
    Reopen,
    /// Appeal to a committee above the one that handled it.
    Appeal(CommitteeId),
}

/// What a member (or a committee) says when logging a new case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewConcern {
    /// The id of the new case, chosen by the caller.
    pub concern_id: ConcernId,
    /// Who raised it.
    pub subject: Subject,
    /// The hamlet, required when the subject is a hamlet; for a household
    /// it must match the household's hamlet, or be left out.
    pub hamlet_id: Option<UnitId>,
    /// Where exactly, if known.
    pub coordinates: Option<Coordinates>,
    /// What kind of thing.
    pub kind: ConcernKind,
    /// The member's proposed topic.
    pub topic: TopicCode,
    /// The member's proposed priority.
    pub priority: Priority,
    /// Who may read it.
    pub confidentiality: Confidentiality,
    /// The informant of a confidential tip.
    pub sealed_informant: Option<SealedInformant>,
    /// The resident's words.
    pub text: String,
    /// Words the reporter marks personal (a health condition, a family
    /// matter): sealed with the household's key, never indexed, erased with
    /// the household's personal data.
    #[serde(default)]
    pub personal_note: Option<String>,
}

/// A command on a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcernCommand {
    /// Log a new case (a member after a visit, or a committee).
    Report(NewConcern),
    /// Triage: set topic and priority; the deadline follows from the policy
    /// unless one is given.
    Acknowledge {
        /// The topic decided.
        topic: TopicCode,
        /// The priority decided.
        priority: Priority,
        /// A deadline other than the policy's, if the committee sets one.
        deadline: Option<DateTime<Utc>>,
    },
    /// Assign (or reassign) a handler.
    Assign(Assignee),
    /// Record a visit, advice, support or meeting.
    RecordAction {
        /// What was done.
        action: ActionKind,
        /// What happened, in words.
        summary: String,
    },
    /// Escalate to a higher committee or a state body.
    Escalate {
        /// Where to.
        to: EscalateTo,
        /// Why.
        reason: String,
    },
    /// Refer the matter to a body outside the tree, and track it.
    ReferOut {
        /// The body.
        body: String,
        /// Why.
        reason: String,
    },
    /// Record the answer of a body a matter was referred to.
    AnswerReferral {
        /// Which referral.
        referral_no: u32,
        /// The answer.
        answer: String,
    },
    /// Stop the deadline clock while the case waits on another body.
    PauseClock {
        /// What it waits for.
        reason: String,
    },
    /// Start the clock again; the deadline moves by the time paused.
    ResumeClock,
    /// Tell the resident where things stand, with a new deadline.
    InterimReply {
        /// What the resident was told.
        message: String,
        /// The new deadline.
        deadline: DateTime<Utc>,
        /// Why more time is needed.
        reason: String,
    },
    /// Resolve the case.
    Resolve {
        /// How.
        outcome: Outcome,
        /// A summary for the resident and the review meeting.
        summary: String,
    },
    /// Record the resident's feedback on the resolution.
    RecordFeedback {
        /// Whether they are satisfied.
        satisfied: bool,
        /// What they said.
        comment: String,
        /// Required when not satisfied: reopen or appeal.
        follow_up: Option<FollowUp>,
    },
    /// Close a resolved case.
    Close {
        /// A closing note.
        note: String,
    },
    /// Reopen a resolved or closed case.
    Reopen {
        /// Why.
        reason: String,
    },
    /// Merge this case, a duplicate, into another.
    MergeInto {
        /// The case that remains.
        concern_id: ConcernId,
    },
    /// Withdraw the case at the resident's wish.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// Let a person read a confidential tip's sealed informant.
    GrantInformantAccess {
        /// Who may read it.
        person_id: PersonId,
        /// Why they need it.
        reason: String,
    },
    /// Read a confidential tip's sealed informant (the taker, or a person
    /// granted access); the read itself is recorded.
    ReadInformant,
    /// Record that a command made offline conflicted with the case.
    MarkSyncConflict {
        /// The id the device gave the command.
        command_id: Uuid,
        /// The command's snake_case name.
        command: String,
        /// Why it could not be applied.
        reason: String,
    },
}

impl ConcernCommand {
    /// The snake_case name used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Report(_) => "report",
            Self::Acknowledge { .. } => "acknowledge",
            Self::Assign(_) => "assign",
            Self::RecordAction { .. } => "record_action",
            Self::Escalate { .. } => "escalate",
            Self::ReferOut { .. } => "refer_out",
            Self::AnswerReferral { .. } => "answer_referral",
            Self::PauseClock { .. } => "pause_clock",
            Self::ResumeClock => "resume_clock",
            Self::InterimReply { .. } => "interim_reply",
            Self::Resolve { .. } => "resolve",
            Self::RecordFeedback { .. } => "record_feedback",
            Self::Close { .. } => "close",
            Self::Reopen { .. } => "reopen",
            Self::MergeInto { .. } => "merge_into",
            Self::Withdraw { .. } => "withdraw",
            Self::GrantInformantAccess { .. } => "grant_informant_access",
            Self::ReadInformant => "read_informant",
            Self::MarkSyncConflict { .. } => "mark_sync_conflict",
        }
    }
}
