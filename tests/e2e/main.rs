//! End-to-end tests: the real `casebook` binary on a loopback port, driven
//! over HTTP. One test binary (matklad's "one integration-test crate").
//!
//! - `server`: build and start the binary, a small HTTP client.
//! - `world`: a unit tree, people, households and one token per role,
//!   built through the API as a fresh installation's administrator.
//! - `lifecycle`: a case from report to closure, history, as-of reads.
//! - `commands`: idempotent retries, `If-Match`, merge, withdraw, structure.
//! - `bad_input`: every command route × bad inputs: status, problem, log unchanged.
//! - `authz`: every route × role × inside/outside the jurisdiction.
//! - `sync`: offline batches: applied, already applied, conflict, rejected.
//! - `feed`: the SSE feed, filtered and resumable.
//! - `readme`: the README's curl tour, run as written.
//! - `audit`: export, verify and import through the binary.
//! - `ops`: health, readiness, metrics, OpenAPI, docs, tokens, rate limit,
//!   the CLI, bad configuration, graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod authz;
mod bad_input;
mod commands;
mod feed;
mod lifecycle;
mod ops;
mod readme;
mod server;
mod sync;
mod world;
