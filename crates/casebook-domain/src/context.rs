//! What `decide` is given besides the state and the command.
//!
//! The domain does no I/O and never reads the clock. The caller passes in the
//! clock reading, the actor, the field time of the command, the policy, and
//! the lookups the rules need (the unit tree, people and their roles,
//! households and their assignments), read from its projections.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::DomainError;
use crate::event::{Event, Payload};
use crate::household::Household;
use crate::ids::{CommitteeId, HouseholdId, PersonId, UnitId};
use crate::person::Person;
use crate::policy::Policy;
use crate::unit::{Committee, Unit};

/// How far in the future a field time may lie before it is refused: phones in
/// remote areas drift, and five minutes covers drift without letting anyone
/// log tomorrow's visit today.
pub const FIELD_TIME_TOLERANCE_SECONDS: i64 = 300;

/// The read-only facts the rules look up. The API implements it over its
/// projections; [`crate::Directory`] implements it in memory.
pub trait Lookups: fmt::Debug {
    /// A unit of the tree.
    fn unit(&self, id: UnitId) -> Option<Unit>;
    /// A committee, with the unit it belongs to.
    fn committee(&self, id: CommitteeId) -> Option<Committee>;
    /// A household, with its assignment history.
    fn household(&self, id: HouseholdId) -> Option<Household>;
    /// A person, with their role grants.
    fn person(&self, id: PersonId) -> Option<Person>;
}

/// Everything `decide` needs besides the state and the command.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The clock reading of the caller; becomes the provisional `recorded_at`.
    pub now: DateTime<Utc>,
    /// When the command's fact happened in the field; `now` unless told otherwise.
    pub occurred_at: DateTime<Utc>,
    /// Who gives the command.
    pub actor: PersonId,
    /// Deadlines, time zone and topics.
    pub policy: &'a Policy,
    /// The unit tree, people and households.
    pub lookups: &'a dyn Lookups,
}

impl<'a> Context<'a> {
    /// A context whose field time is `now`.
    pub fn new(
        actor: PersonId,
        now: DateTime<Utc>,
        policy: &'a Policy,
        lookups: &'a dyn Lookups,
    ) -> Self {
        Self {
            now,
            occurred_at: now,
            actor,
            policy,
            lookups,
        }
    }

    /// The same context with a field time given by the user (an offline visit).
    pub fn with_field_time(self, occurred_at: DateTime<Utc>) -> Self {
        Self {
            occurred_at,
            ..self
        }
    }

    /// Refuses a field time beyond now plus the tolerance.
    pub fn check_field_time(&self) -> Result<(), DomainError> {
        let tolerance = TimeDelta::seconds(FIELD_TIME_TOLERANCE_SECONDS);
        if self.occurred_at > self.now + tolerance {
            return Err(DomainError::FieldTimeInFuture {
                occurred_at: self.occurred_at,
                now: self.now,
                tolerance_seconds: FIELD_TIME_TOLERANCE_SECONDS,
            });
        }
        Ok(())
    }

    /// Wraps a payload with this context's actor and times.
    pub fn event(&self, payload: Payload) -> Event {
        Event {
            actor: self.actor,
            occurred_at: self.occurred_at,
            recorded_at: self.now,
            payload,
        }
    }
}
