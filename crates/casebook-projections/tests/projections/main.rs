//! Integration tests of the projections: workers, checkpoints, every view's
//! answers on a known history, search, the deadline watcher, and crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crashes;
mod figures;
mod harness;
mod known;
mod lists;
mod views;
mod watcher;
mod workers;
