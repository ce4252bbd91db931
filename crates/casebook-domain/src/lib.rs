//! The rules of the case book as pure code: commands in, events out.
//!
//! Members log the concerns residents raise in the households assigned to
//! them; committees triage, assign, escalate and resolve them; auditors
//! replay the history. This crate holds those rules and nothing else: it does
//! no I/O and never reads the clock. The caller passes the clock, the actor,
//! the field time, the policy and the lookups in a [`Context`].
//!
//! ```text
//! decide(&state, &command, &context) -> Result<Vec<Event>, DomainError>
//! evolve(state, &event) -> state
//! ```
//!
//! Each aggregate's state is an `Option` (`None` before its first event):
//! `Option<Concern>`, `Option<Household>`, `Option<Unit>`, `Option<Person>`.
//!
//! # Layout
//!
//! - [`aggregate`]: the [`Aggregate`] trait, `decide`, `evolve` and `fold`.
//! - `as_of`: [`fold_as_of`], a state as it stood at a past moment, on either clock.
//! - `concern`: the case, its commands, its seventeen events, and its life.
//! - `household`: households, their personal details and assignment history.
//! - `unit`: the unit tree (provincial command, post, commune, hamlet) and committees.
//! - `person`: people and the roles they hold in units over time.
//! - [`permission`]: who may do what, as pure functions; jurisdiction.
//! - `policy` and `taxonomy`: deadlines, the "due soon" warning, time zone, topics.
//! - `context`: the [`Context`] and the [`Lookups`] trait.
//! - `directory`: an in-memory [`Lookups`] folded from events.
//! - `event`: the [`Event`] envelope, the [`Payload`] of every type, [`EVENT_TYPES`].
//! - `record`: events to and from log records, with upcasting.
//! - `ids`: typed ids and stream names (`concern-<uuid>`…).
//! - `error`: [`DomainError`] and the named permission [`Rule`]s.

pub mod aggregate;
mod as_of;
mod concern;
mod context;
mod directory;
mod error;
mod event;
mod household;
mod ids;
pub mod permission;
mod person;
mod policy;
mod record;
mod taxonomy;
mod unit;

pub use aggregate::{decide, evolve, fold, Aggregate};
pub use as_of::{fold_as_of, TimeAxis};
pub use concern::{
    ActionKind, ActionRecorded, AppealOpened, Assignee, ClockPaused, ClockResumed, Concern,
    ConcernAcknowledged, ConcernAssigned, ConcernClosed, ConcernCommand, ConcernEscalated,
    ConcernKind, ConcernMerged, ConcernReopened, ConcernReported, ConcernResolved,
    ConcernWithdrawn, Confidentiality, Coordinates, EscalateTo, EscalationTarget, Feedback,
    FeedbackRecorded, FollowUp, InformantAccessGranted, InformantRead, InterimReplied, NewConcern,
    Outcome, Priority, Referral, ReferralAnswered, ReferredOut, SealedInformant, Status, Subject,
    SyncConflictMarked,
};
pub use concern::{DeadlineApproaching, DeadlinePassed};
pub use context::{Context, Lookups, FIELD_TIME_TOLERANCE_SECONDS};
pub use directory::Directory;
pub use error::{DomainError, Rule};
pub use event::{schema_version_of, Event, EventType, Payload, EVENT_TYPES};
pub use household::{
    Assignment, AssignmentEnded, Circumstance, Erasure, Household, HouseholdCommand,
    HouseholdDetailsUpdated, HouseholdRegistered, MemberAssigned, PersonalDataErased,
    PersonalDetails, HOUSEHOLD_SIZE_MAX,
};
pub use ids::{CommitteeId, ConcernId, GrantId, HouseholdId, PersonId, StreamId, UnitId};
pub use person::{
    Person, PersonCommand, PersonRegistered, Role, RoleEnded, RoleGrant, RoleGranted,
};
pub use policy::{DeadlineOverride, DeadlineRule, DeadlineStatus, PerPriority, Policy};
pub use record::{
    from_record, payload_from_current_bytes, payload_from_record, payload_to_record, to_record,
    upcast, EventRecord, RecordMetadata,
};
pub use taxonomy::{Taxonomy, Topic, TopicCode, TOPIC_CODE_LEN_MAX};
pub use unit::{
    Committee, CommitteeFormed, CommitteeKind, CommuneCovered, CommuneUncovered, Unit, UnitCommand,
    UnitCreated, UnitKind, UnitRenamed,
};
