//! The event envelope and the list of every event type.
//!
//! An [`Event`] is a [`Payload`] (the fact, stored as the record's `data`)
//! wrapped with who did it and when. The log stores the actor and the field
//! time in the record's metadata and stamps the recorded time itself on
//! commit; see [`crate::record`]. Every event type has a stable name
//! (`concern.reported`) and a schema version, listed in [`EVENT_TYPES`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::concern::{
    ActionRecorded, AppealOpened, ClockPaused, ClockResumed, ConcernAcknowledged, ConcernAssigned,
    ConcernClosed, ConcernEscalated, ConcernMerged, ConcernReopened, ConcernReported,
    ConcernResolved, ConcernWithdrawn, FeedbackRecorded, InformantAccessGranted, InformantRead,
    InterimReplied, ReferralAnswered, ReferredOut, SyncConflictMarked,
};
use crate::concern::{DeadlineApproaching, DeadlinePassed};
use crate::household::{
    AssignmentEnded, HouseholdDetailsUpdated, HouseholdRegistered, MemberAssigned,
    PersonalDataErased,
};
use crate::ids::PersonId;
use crate::person::{PersonRegistered, RoleEnded, RoleGranted};
use crate::unit::{CommitteeFormed, CommuneCovered, CommuneUncovered, UnitCreated, UnitRenamed};

/// One fact, with who did it and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The person who did it.
    pub actor: PersonId,
    /// When it happened in the field (may be days before it was recorded).
    pub occurred_at: DateTime<Utc>,
    /// When the system recorded it: the context's clock when decided, the
    /// log's commit stamp when read back.
    pub recorded_at: DateTime<Utc>,
    /// The fact itself.
    pub payload: Payload,
}

/// An event type's stable name and its current schema version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventType {
    /// `<aggregate>.<past_tense_verb>`, for example `concern.reported`.
    pub name: &'static str,
    /// The version written today; older versions are upcast on reading.
    pub schema_version: u32,
}

macro_rules! payloads {
    ($($(#[$doc:meta])* $variant:ident($data:ty) => $name:literal @ $version:literal,)*) => {
        /// Every fact the domain records, one variant per event type.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum Payload {
            $($(#[$doc])* #[serde(rename = $name)] $variant($data),)*
        }

        impl Payload {
            /// The stable name of this event type.
            pub fn event_type(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name,)* }
            }

            /// The schema version this event is written with.
            pub fn schema_version(&self) -> u32 {
                match self { $(Self::$variant(_) => $version,)* }
            }
        }

        /// Every event type with its current schema version.
        pub const EVENT_TYPES: &[EventType] = &[
            $(EventType { name: $name, schema_version: $version },)*
        ];
    };
}

payloads! {
    /// A unit was created.
    UnitCreated(UnitCreated) => "unit.created" @ 1,
    /// A unit was renamed.
    UnitRenamed(UnitRenamed) => "unit.renamed" @ 1,
    /// A post took a commune into its coverage.
    CommuneCovered(CommuneCovered) => "unit.commune_covered" @ 1,
    /// A post no longer covers a commune.
    CommuneUncovered(CommuneUncovered) => "unit.commune_uncovered" @ 1,
    /// A committee was formed in a unit.
    CommitteeFormed(CommitteeFormed) => "unit.committee_formed" @ 1,
    /// A person was registered.
    PersonRegistered(PersonRegistered) => "person.registered" @ 1,
    /// A person was granted a role in a unit.
    RoleGranted(RoleGranted) => "person.role_granted" @ 1,
    /// A person's role ended.
    RoleEnded(RoleEnded) => "person.role_ended" @ 1,
    /// A household was registered.
    HouseholdRegistered(HouseholdRegistered) => "household.registered" @ 1,
    /// A household's details changed.
    HouseholdDetailsUpdated(HouseholdDetailsUpdated) => "household.details_updated" @ 1,
    /// A member was made responsible for a household.
    MemberAssigned(MemberAssigned) => "household.member_assigned" @ 1,
    /// A member's responsibility for a household ended.
    AssignmentEnded(AssignmentEnded) => "household.assignment_ended" @ 1,
    /// A household's personal data was erased.
    PersonalDataErased(PersonalDataErased) => "household.personal_data_erased" @ 1,
    /// A case was logged.
    ConcernReported(ConcernReported) => "concern.reported" @ 2,
    /// A case was triaged.
    ConcernAcknowledged(ConcernAcknowledged) => "concern.acknowledged" @ 1,
    /// A handler was assigned.
    ConcernAssigned(ConcernAssigned) => "concern.assigned" @ 1,
    /// An action was recorded.
    ActionRecorded(ActionRecorded) => "concern.action_recorded" @ 1,
    /// A case was escalated.
    ConcernEscalated(ConcernEscalated) => "concern.escalated" @ 1,
    /// A case was referred to a body outside the tree.
    ReferredOut(ReferredOut) => "concern.referred_out" @ 1,
    /// A referred body answered.
    ReferralAnswered(ReferralAnswered) => "concern.referral_answered" @ 1,
    /// The deadline clock stopped.
    ClockPaused(ClockPaused) => "concern.clock_paused" @ 1,
    /// The deadline clock runs again.
    ClockResumed(ClockResumed) => "concern.clock_resumed" @ 1,
    /// An interim reply set a new deadline.
    InterimReplied(InterimReplied) => "concern.interim_replied" @ 1,
    /// A case was resolved.
    ConcernResolved(ConcernResolved) => "concern.resolved" @ 1,
    /// The resident's feedback was recorded.
    FeedbackRecorded(FeedbackRecorded) => "concern.feedback_recorded" @ 1,
    /// An appeal was opened.
    AppealOpened(AppealOpened) => "concern.appeal_opened" @ 1,
    /// A case was reopened.
    ConcernReopened(ConcernReopened) => "concern.reopened" @ 1,
    /// A case was closed.
    ConcernClosed(ConcernClosed) => "concern.closed" @ 1,
    /// A case was merged into another.
    ConcernMerged(ConcernMerged) => "concern.merged" @ 1,
    /// A case was withdrawn.
    ConcernWithdrawn(ConcernWithdrawn) => "concern.withdrawn" @ 1,
    /// A person was allowed to read a tip's sealed informant.
    InformantAccessGranted(InformantAccessGranted) => "concern.informant_access_granted" @ 1,
    /// Someone read a tip's sealed informant.
    InformantRead(InformantRead) => "concern.informant_read" @ 1,
    /// A command made offline conflicted with the case.
    SyncConflictMarked(SyncConflictMarked) => "concern.sync_conflict_marked" @ 1,
    /// The deadline watcher warned that a deadline is near.
    DeadlineApproaching(DeadlineApproaching) => "concern.deadline_approaching" @ 1,
    /// The deadline watcher recorded that a deadline passed.
    DeadlinePassed(DeadlinePassed) => "concern.deadline_passed" @ 1,
}

/// The current schema version of an event type, if it is known.
pub fn schema_version_of(event_type: &str) -> Option<u32> {
    EVENT_TYPES
        .iter()
        .find(|t| t.name == event_type)
        .map(|t| t.schema_version)
}
