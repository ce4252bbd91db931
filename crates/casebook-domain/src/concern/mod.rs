//! The concern (the case): its attributes, its state and its life.
//!
//! A concern is raised by one household, or by a hamlet when several
//! households raise it together, and lives in the stream `concern-<uuid>`.
//! This module holds the state type; the commands, events, `decide` and
//! `evolve` live in the submodules.

mod command;
mod deadline;
mod decide;
mod event;
mod evolve;

pub use command::{ConcernCommand, EscalateTo, FollowUp, NewConcern};
pub use deadline::{DeadlineApproaching, DeadlinePassed};
pub use event::{
    ActionRecorded, AppealOpened, ClockPaused, ClockResumed, ConcernAcknowledged, ConcernAssigned,
    ConcernClosed, ConcernEscalated, ConcernMerged, ConcernReopened, ConcernReported,
    ConcernResolved, ConcernWithdrawn, FeedbackRecorded, InformantAccessGranted, InformantRead,
    InterimReplied, ReferralAnswered, ReferredOut, SyncConflictMarked,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::context::Context;
use crate::error::DomainError;
use crate::event::{Event, Payload};
use crate::ids::{CommitteeId, ConcernId, HouseholdId, PersonId, UnitId};
use crate::taxonomy::TopicCode;

/// What kind of thing the resident raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcernKind {
    /// A worry (tâm tư).
    Concern,
    /// A wish (nguyện vọng).
    Aspiration,
    /// A complaint (phản ánh).
    Complaint,
    /// A petition (kiến nghị).
    Petition,
    /// A tip about crime, smuggling or illegal crossings (nguồn tin).
    Tip,
    /// A request for help.
    RequestForHelp,
}

/// How urgent the case is; sets its deadline with the topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Hours count (default deadline 24 h).
    Urgent,
    /// Default deadline 3 days.
    High,
    /// Default deadline 15 days.
    Normal,
    /// Default deadline 30 days.
    Low,
}

/// Who may read the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    /// Readable by everyone with the case in their jurisdiction.
    Normal,
    /// Personal or delicate content; readable as normal but not exported openly.
    Sensitive,
    /// A tip whose informant's identity is sealed.
    ConfidentialTip,
}

/// Who raised the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// One household.
    Household {
        /// The household.
        household_id: HouseholdId,
    },
    /// Several households of a hamlet together.
    Hamlet {
        /// The households that raised it (at least one).
        household_ids: Vec<HouseholdId>,
    },
}

impl Subject {
    /// The households behind the case.
    pub fn households(&self) -> Vec<HouseholdId> {
        match self {
            Self::Household { household_id } => vec![*household_id],
            Self::Hamlet { household_ids } => household_ids.clone(),
        }
    }
}

/// A point on the map, in WGS 84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    /// -90 to 90.
    pub latitude: f64,
    /// -180 to 180.
    pub longitude: f64,
}

/// The identity of whoever gave a confidential tip. Kept apart from every
/// other field so that it can be sealed (encrypted) and withheld as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedInformant {
    /// The informant's name.
    pub name: String,
    /// How to reach them again, if they agreed.
    pub contact: Option<String>,
    /// Anything else the member who took the tip must remember.
    pub note: Option<String>,
}

/// Who handles the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignee {
    /// A committee.
    Committee {
        /// The committee.
        committee_id: CommitteeId,
    },
    /// A person.
    Person {
        /// The person.
        person_id: PersonId,
    },
}

/// Where an escalation went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationTarget {
    /// A committee of a higher unit.
    Committee {
        /// The committee.
        committee_id: CommitteeId,
        /// Its unit, which now handles the case.
        unit_id: UnitId,
    },
    /// A state body outside the tree (a district people's committee, a
    /// bank branch…), named in words.
    StateBody {
        /// Its name.
        name: String,
    },
}

/// What was done during a visit or a step of handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A visit to the household.
    Visit,
    /// Advice given (tham mưu).
    Advice,
    /// Material or financial support given.
    Support,
    /// A meeting held about the case.
    Meeting,
    /// Anything else.
    Other,
}

/// A matter referred to a body outside the tree, tracked until it answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Its number within the case, from 1.
    pub referral_no: u32,
    /// The body it went to.
    pub body: String,
    /// Why it went there.
    pub reason: String,
    /// The body's answer, once it came.
    pub answer: Option<String>,
}

/// How a case was resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fully resolved.
    Resolved,
    /// Resolved in part.
    PartlyResolved,
    /// Handed to another body, whose answer ends our part.
    Referred {
        /// The body.
        body: String,
    },
    /// Declined, with the reason given to the resident.
    Declined {
        /// The reason.
        reason: String,
    },
}

/// The resident's feedback on a resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Whether the resident is satisfied.
    pub satisfied: bool,
    /// What they said.
    pub comment: String,
}

/// Where the case is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Logged by a member, not yet triaged.
    Reported,
    /// Triaged: topic, priority and deadline set.
    Acknowledged,
    /// Assigned and being handled (actions, escalations, referrals).
    InProgress,
    /// Handling waits on another body; the deadline clock is stopped.
    Paused,
    /// Resolved (including referred out or declined), awaiting feedback or closing.
    Resolved,
    /// Closed.
    Closed,
    /// Merged into another case as a duplicate (final).
    Merged,
    /// Withdrawn by the resident (final).
    Withdrawn,
}

impl Status {
    /// The snake_case name used in errors and documents.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Acknowledged => "acknowledged",
            Self::InProgress => "in_progress",
            Self::Paused => "paused",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
            Self::Merged => "merged",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Whether the case is still open (not resolved, closed, merged or withdrawn).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Reported | Self::Acknowledged | Self::InProgress | Self::Paused
        )
    }

    /// Whether the lifecycle allows going from `self` to `next` in one event.
    pub fn may_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Reported | Acknowledged, Acknowledged)
                | (
                    Acknowledged | InProgress | Paused | Resolved | Closed,
                    InProgress
                )
                | (InProgress, Paused | Resolved)
                | (Paused, Paused)
                | (Resolved, Resolved | Closed)
                | (
                    Reported | Acknowledged | InProgress | Paused,
                    Merged | Withdrawn
                )
        )
    }
}

/// The state of one case, folded from its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concern {
    /// Its id.
    pub id: ConcernId,
    /// Where it is in its life.
    pub status: Status,
    /// Who raised it.
    pub subject: Subject,
    /// The hamlet it belongs to; fixes whose jurisdiction it is in.
    pub hamlet_id: UnitId,
    /// Where exactly, if the member recorded it.
    pub coordinates: Option<Coordinates>,
    /// What kind of thing was raised.
    pub kind: ConcernKind,
    /// The topic (the member's proposal, then the triage's decision).
    pub topic: TopicCode,
    /// The priority (the member's proposal, then the triage's decision).
    pub priority: Priority,
    /// Who may read it.
    pub confidentiality: Confidentiality,
    /// A confidential tip's informant, sealed; `None` for every other case.
    pub sealed_informant: Option<SealedInformant>,
    /// The resident's words, in Vietnamese.
    pub text: String,
    /// Words the reporter marked personal; empty once erased or where
    /// personal data is withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_note: Option<String>,
    /// The member who logged it.
    pub reported_by: PersonId,
    /// When it was raised, in the field.
    pub reported_at: DateTime<Utc>,
    /// The unit whose committee answers for it now: the hamlet at first,
    /// then the unit of the committee it was assigned or escalated to.
    pub handling_unit_id: UnitId,
    /// Who handles it, once assigned.
    pub assignee: Option<Assignee>,
    /// When it is due, once acknowledged.
    pub deadline: Option<DateTime<Utc>>,
    /// When the clock was paused, while it is.
    pub paused_since: Option<DateTime<Utc>>,
    /// Every escalation, oldest first.
    pub escalations: Vec<EscalationTarget>,
    /// Every referral out, oldest first.
    pub referrals: Vec<Referral>,
    /// How many actions were recorded (the actions themselves are events).
    pub actions_recorded: u32,
    /// How it was resolved, while resolved or closed.
    pub outcome: Option<Outcome>,
    /// The resident's feedback on the current resolution.
    pub feedback: Option<Feedback>,
    /// How many appeals were opened.
    pub appeals: u32,
    /// How many times it was reopened.
    pub reopenings: u32,
    /// The case it was merged into, if merged.
    pub merged_into: Option<ConcernId>,
    /// The people a committee allowed to read the sealed informant, besides its taker.
    #[serde(default)]
    pub informant_grants: Vec<PersonId>,
    /// How many commands recorded offline conflicted with the case and wait
    /// for its committee to reconcile them.
    #[serde(default)]
    pub sync_conflicts: u32,
}

impl Concern {
    /// The case without its sealed informant, for anyone but the member who took the tip.
    pub fn without_sealed_informant(&self) -> Self {
        Self {
            sealed_informant: None,
            ..self.clone()
        }
    }

    /// The referral with this number, if any.
    pub fn referral(&self, referral_no: u32) -> Option<&Referral> {
        self.referrals.iter().find(|r| r.referral_no == referral_no)
    }
}

impl Aggregate for Option<Concern> {
    type Command = ConcernCommand;

    fn decide_payloads(
        &self,
        command: &ConcernCommand,
        ctx: &Context<'_>,
    ) -> Result<Vec<Payload>, DomainError> {
        decide::decide(self, command, ctx)
    }

    fn apply(self, event: &Event) -> Self {
        evolve::evolve(self, event)
    }
}
