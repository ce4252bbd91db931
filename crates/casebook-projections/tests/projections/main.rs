//! Integration tests of the projections: workers, checkpoints, every view's
//! answers on a known history, search, the deadline watcher, and crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod figures;
mod harness;
mod workers;
