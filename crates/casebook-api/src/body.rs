//! The JSON bodies of the command routes.
//!
//! Each body carries the command's own fields plus the two every command
//! may carry: `command_id` (a client-made id that makes retries safe) and
//! `occurred_at` (the field time). Unknown fields are refused. The concern
//! bodies are also the items of `POST /v1/sync`, tagged by `type`.

use std::collections::BTreeSet;

use casebook_domain::{
    ActionKind, Assignee, Circumstance, CommitteeId, CommitteeKind, ConcernCommand, ConcernId,
    ConcernKind, Confidentiality, Coordinates, EscalateTo, FollowUp, GrantId, HouseholdId,
    NewConcern, Outcome, PersonId, PersonalDetails, Priority, Role, SealedInformant, Subject,
    TopicCode, UnitId, UnitKind,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::command::CommandMeta;

macro_rules! command_body {
    ($(#[$doc:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// A client-made id; a retry with the same id answers the original outcome.
            #[serde(default)]
            pub command_id: Option<Uuid>,
            /// When it happened in the field (RFC 3339); now if absent, at most 5 min ahead.
            #[serde(default)]
            pub occurred_at: Option<DateTime<Utc>>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The command id and field time.
            pub fn meta(&self) -> CommandMeta {
                CommandMeta { command_id: self.command_id, occurred_at: self.occurred_at }
            }
        }
    };
}

command_body! {
    /// Log a new case.
    ReportBody {
        /// The new case's id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        concern_id: Option<ConcernId>,
        /// `{"household": {"household_id": …}}` or `{"hamlet": {"household_ids": […]}}`.
        #[schema(value_type = Object)]
        subject: Subject,
        /// The hamlet; required for a hamlet subject.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        hamlet_id: Option<UnitId>,
        /// `{"latitude": …, "longitude": …}`.
        #[serde(default)] #[schema(value_type = Option<Object>)]
        coordinates: Option<Coordinates>,
        /// concern, aspiration, complaint, petition, tip, request_for_help.
        #[schema(value_type = String, example = "request_for_help")]
        kind: ConcernKind,
        /// A topic code of the taxonomy.
        #[schema(value_type = String, example = "livelihood_loans")]
        topic: TopicCode,
        /// urgent, high, normal, low.
        #[schema(value_type = String, example = "normal")]
        priority: Priority,
        /// normal, sensitive, confidential_tip.
        #[schema(value_type = String, example = "normal")]
        confidentiality: Confidentiality,
        /// A confidential tip's informant: `{"name", "contact"?, "note"?}`.
        #[serde(default)] #[schema(value_type = Option<Object>)]
        sealed_informant: Option<SealedInformant>,
        /// The resident's words.
        text: String,
        /// Words the reporter marks personal: sealed with the household's
        /// key, not searchable, erased with the household's personal data.
        #[serde(default)]
        personal_note: Option<String>,
    }
}

command_body! {
    /// Triage a case.
    AcknowledgeBody {
        /// The topic decided.
        #[schema(value_type = String)]
        topic: TopicCode,
        /// The priority decided.
        #[schema(value_type = String)]
        priority: Priority,
        /// A deadline other than the policy's.
        #[serde(default)]
        deadline: Option<DateTime<Utc>>,
    }
}

command_body! {
    /// Assign a handler.
    AssignBody {
        /// `{"committee": {"committee_id": …}}` or `{"person": {"person_id": …}}`.
        #[schema(value_type = Object)]
        assignee: Assignee,
    }
}

command_body! {
    /// Record a visit, advice, support or meeting.
    RecordActionBody {
        /// visit, advice, support, meeting, other.
        #[schema(value_type = String)]
        action: ActionKind,
        /// What happened.
        summary: String,
    }
}

command_body! {
    /// Escalate a case.
    EscalateBody {
        /// `{"committee": "<committee id>"}` or `{"state_body": "<name>"}`.
        #[schema(value_type = Object)]
        to: EscalateTo,
        /// Why.
        reason: String,
    }
}

command_body! {
    /// Refer a case to a body outside the tree.
    ReferOutBody {
        /// The body.
        body: String,
        /// Why.
        reason: String,
    }
}

command_body! {
    /// Record a referred body's answer.
    AnswerReferralBody {
        /// Which referral (from 1).
        referral_no: u32,
        /// The answer.
        answer: String,
    }
}

command_body! {
    /// Stop the deadline clock.
    PauseClockBody {
        /// What the case waits for.
        reason: String,
    }
}

command_body! {
    /// Start the deadline clock again.
    ResumeClockBody {}
}

command_body! {
    /// Tell the resident where things stand, with a new deadline.
    InterimReplyBody {
        /// What they were told.
        message: String,
        /// The new deadline.
        deadline: DateTime<Utc>,
        /// Why more time is needed.
        reason: String,
    }
}

command_body! {
    /// Resolve a case.
    ResolveBody {
        /// `"resolved"`, `"partly_resolved"`, `{"referred": {"body"}}`, `{"declined": {"reason"}}`.
        #[schema(value_type = Object)]
        outcome: Outcome,
        /// A summary.
        summary: String,
    }
}

command_body! {
    /// Record the resident's feedback.
    FeedbackBody {
        /// Whether they are satisfied.
        satisfied: bool,
        /// What they said.
        comment: String,
        /// Required when not satisfied: `"reopen"` or `{"appeal": "<committee id>"}`.
        #[serde(default)] #[schema(value_type = Option<Object>)]
        follow_up: Option<FollowUp>,
    }
}

command_body! {
    /// Close a resolved case.
    CloseBody {
        /// A closing note.
        note: String,
    }
}

command_body! {
    /// Reopen a resolved or closed case.
    ReopenBody {
        /// Why.
        reason: String,
    }
}

command_body! {
    /// Merge a duplicate into another case.
    MergeBody {
        /// The case that remains.
        #[schema(value_type = Uuid)]
        into_concern_id: ConcernId,
    }
}

command_body! {
    /// Withdraw a case.
    WithdrawBody {
        /// Why.
        reason: String,
    }
}

command_body! {
    /// Erase a household's personal data for good.
    EraseBody {
        /// Why (the legal ground, or the resident's request).
        reason: String,
    }
}

command_body! {
    /// Let a person read a confidential tip's informant.
    GrantInformantBody {
        /// Who.
        #[schema(value_type = Uuid)]
        person_id: PersonId,
        /// Why they need it.
        reason: String,
    }
}

/// Any command on a case, tagged by `type`: the items of `POST /v1/sync`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConcernCommandBody {
    /// See [`ReportBody`].
    Report(ReportBody),
    /// See [`AcknowledgeBody`].
    Acknowledge(AcknowledgeBody),
    /// See [`AssignBody`].
    Assign(AssignBody),
    /// See [`RecordActionBody`].
    RecordAction(RecordActionBody),
    /// See [`EscalateBody`].
    Escalate(EscalateBody),
    /// See [`ReferOutBody`].
    ReferOut(ReferOutBody),
    /// See [`AnswerReferralBody`].
    AnswerReferral(AnswerReferralBody),
    /// See [`PauseClockBody`].
    PauseClock(PauseClockBody),
    /// See [`ResumeClockBody`].
    ResumeClock(ResumeClockBody),
    /// See [`InterimReplyBody`].
    InterimReply(InterimReplyBody),
    /// See [`ResolveBody`].
    Resolve(ResolveBody),
    /// See [`FeedbackBody`].
    RecordFeedback(FeedbackBody),
    /// See [`CloseBody`].
    Close(CloseBody),
    /// See [`ReopenBody`].
    Reopen(ReopenBody),
    /// See [`MergeBody`].
    MergeInto(MergeBody),
    /// See [`WithdrawBody`].
    Withdraw(WithdrawBody),
    /// See [`GrantInformantBody`].
    GrantInformantAccess(GrantInformantBody),
}

impl From<ReportBody> for ConcernCommandBody {
    fn from(body: ReportBody) -> Self {
        Self::Report(body)
    }
}

/// The id a new case gets when the client named none: derived from the
/// command id, so that a retried report names the same case.
pub fn new_concern_id(meta: &CommandMeta) -> ConcernId {
    ConcernId(match meta.command_id {
        Some(command_id) => Uuid::new_v5(&command_id, b"concern"),
        None => Uuid::new_v4(),
    })
}

impl ConcernCommandBody {
    /// The command's id and field time.
    pub fn meta(&self) -> CommandMeta {
        match self {
            Self::Report(b) => b.meta(),
            Self::Acknowledge(b) => b.meta(),
            Self::Assign(b) => b.meta(),
            Self::RecordAction(b) => b.meta(),
            Self::Escalate(b) => b.meta(),
            Self::ReferOut(b) => b.meta(),
            Self::AnswerReferral(b) => b.meta(),
            Self::PauseClock(b) => b.meta(),
            Self::ResumeClock(b) => b.meta(),
            Self::InterimReply(b) => b.meta(),
            Self::Resolve(b) => b.meta(),
            Self::RecordFeedback(b) => b.meta(),
            Self::Close(b) => b.meta(),
            Self::Reopen(b) => b.meta(),
            Self::MergeInto(b) => b.meta(),
            Self::Withdraw(b) => b.meta(),
            Self::GrantInformantAccess(b) => b.meta(),
        }
    }

    /// The domain command, for the case `concern_id`.
    pub fn into_command(self, concern_id: ConcernId) -> ConcernCommand {
        match self {
            Self::Report(b) => ConcernCommand::Report(NewConcern {
                concern_id,
                subject: b.subject,
                hamlet_id: b.hamlet_id,
                coordinates: b.coordinates,
                kind: b.kind,
                topic: b.topic,
                priority: b.priority,
                confidentiality: b.confidentiality,
                sealed_informant: b.sealed_informant,
                text: b.text,
                personal_note: b.personal_note,
            }),
            Self::Acknowledge(b) => ConcernCommand::Acknowledge {
                topic: b.topic,
                priority: b.priority,
                deadline: b.deadline,
            },
            Self::Assign(b) => ConcernCommand::Assign(b.assignee),
            Self::RecordAction(b) => ConcernCommand::RecordAction {
                action: b.action,
                summary: b.summary,
            },
            Self::Escalate(b) => ConcernCommand::Escalate {
                to: b.to,
                reason: b.reason,
            },
            Self::ReferOut(b) => ConcernCommand::ReferOut {
                body: b.body,
                reason: b.reason,
            },
            Self::AnswerReferral(b) => ConcernCommand::AnswerReferral {
                referral_no: b.referral_no,
                answer: b.answer,
            },
            Self::PauseClock(b) => ConcernCommand::PauseClock { reason: b.reason },
            Self::ResumeClock(_) => ConcernCommand::ResumeClock,
            Self::InterimReply(b) => ConcernCommand::InterimReply {
                message: b.message,
                deadline: b.deadline,
                reason: b.reason,
            },
            Self::Resolve(b) => ConcernCommand::Resolve {
                outcome: b.outcome,
                summary: b.summary,
            },
            Self::RecordFeedback(b) => ConcernCommand::RecordFeedback {
                satisfied: b.satisfied,
                comment: b.comment,
                follow_up: b.follow_up,
            },
            Self::Close(b) => ConcernCommand::Close { note: b.note },
            Self::Reopen(b) => ConcernCommand::Reopen { reason: b.reason },
            Self::MergeInto(b) => ConcernCommand::MergeInto {
                concern_id: b.into_concern_id,
            },
            Self::Withdraw(b) => ConcernCommand::Withdraw { reason: b.reason },
            Self::GrantInformantAccess(b) => ConcernCommand::GrantInformantAccess {
                person_id: b.person_id,
                reason: b.reason,
            },
        }
    }
}

command_body! {
    /// Create a unit.
    CreateUnitBody {
        /// Its id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        unit_id: Option<UnitId>,
        /// provincial_command, post, commune, hamlet.
        #[schema(value_type = String)]
        kind: UnitKind,
        /// Its name.
        name: String,
        /// The unit above; absent only for a provincial command.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        parent_id: Option<UnitId>,
    }
}

command_body! {
    /// Rename a unit.
    RenameUnitBody {
        /// The new name.
        name: String,
    }
}

command_body! {
    /// A post takes a commune into its coverage, or gives it up.
    CommuneBody {
        /// The commune.
        #[schema(value_type = Uuid)]
        commune_id: UnitId,
    }
}

command_body! {
    /// Form a committee in a unit.
    FormCommitteeBody {
        /// Its id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        committee_id: Option<CommitteeId>,
        /// party_cell, party_committee, standing_committee, command.
        #[schema(value_type = String)]
        kind: CommitteeKind,
        /// Its name.
        name: String,
    }
}

command_body! {
    /// Register a person.
    RegisterPersonBody {
        /// Their id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        person_id: Option<PersonId>,
        /// Their name.
        name: String,
    }
}

command_body! {
    /// Grant a person a role in a unit.
    GrantRoleBody {
        /// The grant's id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        grant_id: Option<GrantId>,
        /// `{"role": "member"}`, `{"role": "committee_member", "committee_id": …}`,
        /// `{"role": "auditor"}`, `{"role": "administrator"}`.
        #[schema(value_type = Object)]
        role: Role,
        /// The unit it is held in.
        #[schema(value_type = Uuid)]
        unit_id: UnitId,
        /// Until when, if known.
        #[serde(default)]
        until: Option<DateTime<Utc>>,
    }
}

command_body! {
    /// End a role, or an assignment, at the field time.
    EndBody {}
}

command_body! {
    /// Register a household.
    RegisterHouseholdBody {
        /// Its id; made from `command_id` (or at random) if absent.
        #[serde(default)] #[schema(value_type = Option<Uuid>)]
        household_id: Option<HouseholdId>,
        /// Its hamlet.
        #[schema(value_type = Uuid)]
        hamlet_id: UnitId,
        /// `{"head_of_household", "phone"?, "address"?, "note"?}`.
        #[schema(value_type = Object)]
        personal: PersonalDetails,
        /// How many people.
        size: u16,
        /// poor_household, near_poor_household, ethnic_minority, policy_family, elderly_alone, disability.
        #[serde(default)] #[schema(value_type = Vec<String>)]
        circumstances: BTreeSet<Circumstance>,
    }
}

command_body! {
    /// Replace a household's details.
    HouseholdDetailsBody {
        /// Personal data.
        #[schema(value_type = Object)]
        personal: PersonalDetails,
        /// How many people.
        size: u16,
        /// Its circumstances.
        #[serde(default)] #[schema(value_type = Vec<String>)]
        circumstances: BTreeSet<Circumstance>,
    }
}

command_body! {
    /// Make a member responsible for a household (ending the current assignment).
    AssignMemberBody {
        /// The member.
        #[schema(value_type = Uuid)]
        member_id: PersonId,
    }
}

/// A new aggregate's id: the client's, else derived from the command id
/// (so a retried creation names the same aggregate), else random.
pub fn new_id(given: Option<Uuid>, meta: &CommandMeta, salt: &str) -> Uuid {
    given.unwrap_or_else(|| match meta.command_id {
        Some(command_id) => Uuid::new_v5(&command_id, salt.as_bytes()),
        None => Uuid::new_v4(),
    })
}
