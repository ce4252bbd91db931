//! The deadline watcher's events: a warning before a case's deadline, and
//! the record that it passed.
//!
//! No user command causes them: the watcher in `casebook-projections`
//! observes the clock and appends them, once each per case and deadline, so
//! that the case's history shows when the committee above was warned. They
//! change nothing in the case's state (overdue is answered from the deadline
//! and the time of the question), so `evolve` ignores them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UnitId;

/// `concern.deadline_approaching` v1: the deadline is near; the unit above
/// the handling unit was warned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineApproaching {
    /// The deadline the warning is about.
    pub deadline: DateTime<Utc>,
    /// The unit handling the case when the warning was given.
    pub handling_unit_id: UnitId,
    /// The unit warned: the one above the handling unit (itself at the root).
    pub notify_unit_id: UnitId,
}

/// `concern.deadline_passed` v1: the deadline passed with the case still open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlinePassed {
    /// The deadline that passed.
    pub deadline: DateTime<Utc>,
    /// The unit handling the case when it passed.
    pub handling_unit_id: UnitId,
    /// The unit warned: the one above the handling unit (itself at the root).
    pub notify_unit_id: UnitId,
}
