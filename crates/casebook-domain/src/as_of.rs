//! Time travel: an aggregate's state as it stood at a past moment, on
//! either of the two clocks every event carries.
//!
//! - On the **recorded** axis, "what the system knew at T": the events the
//!   log had recorded by T. The log's `recorded_at` never decreases along
//!   the log, so this is always a prefix of the stream.
//! - On the **field** axis, "what had happened by T": the events whose field
//!   time is at or before T, whenever they reached the system (a member's
//!   offline visit recorded two days late counts from the day of the visit).
//!   These are folded in stream order, the order the system learned them.

use crate::aggregate::{evolve, Aggregate};
use crate::event::Event;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which clock an "as of" moment is read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeAxis {
    /// When the system recorded each event.
    Recorded,
    /// When each event happened in the field.
    Field,
}

impl TimeAxis {
    /// The event's time on this axis.
    pub fn time_of(self, event: &Event) -> DateTime<Utc> {
        match self {
            TimeAxis::Recorded => event.recorded_at,
            TimeAxis::Field => event.occurred_at,
        }
    }
}

/// The state after the events of a stream (in stream order) that stood at
/// or before `at` on `axis`.
pub fn fold_as_of<'e, A: Aggregate + Default>(
    events: impl IntoIterator<Item = &'e Event>,
    axis: TimeAxis,
    at: DateTime<Utc>,
) -> A {
    events
        .into_iter()
        .filter(|event| axis.time_of(event) <= at)
        .fold(A::default(), evolve)
}
