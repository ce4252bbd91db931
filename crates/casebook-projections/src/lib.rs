//! Workers that tail the log and build the views that queries read: cases,
//! resolution figures and households (members, search and the deadline
//! watcher are still to come; see issue 4).
//!
//! # Layout
//! - `worker`: the generic worker (catch-up subscription, batches,
//!   checkpoint, failure, rebuild into a new generation and swap).
//! - `sled_view`, `staging`, `keys`, `units`: how sled views store a batch
//!   and its checkpoint atomically, their keys, and their unit tree.
//! - `decode`: log record to domain event.
//! - `cases`, `figures`, `households`: the sled views and their queries.
//! - `projections`: the [`Projections`] handle: open, start, status,
//!   wait_for, rebuild, and the typed queries.
//! - [`testkit`]: a deterministic generator of realistic histories.
//! - `error`: [`ProjectionError`].

mod cases;
mod decode;
mod error;
mod figures;
mod households;
mod keys;
mod projections;
mod sled_view;
mod staging;
pub mod testkit;
mod units;
mod worker;

pub use cases::{
    CaseFilter, CaseItem, CasePage, CaseRow, CaseSort, DeadlineFilter, PAGE_CASES_MAX,
};
pub use error::{ProjectionError, Result};
pub use figures::{Counters, Figures, FiguresReport, Granularity, UnitFigures};
pub use households::HouseholdRow;
pub use projections::{Projections, ViewStatus, VIEWS_DIR};
pub use worker::{Health, BATCH_EVENTS_MAX};
