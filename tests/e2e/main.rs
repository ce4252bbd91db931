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
//! - `audit_routes`: the tree-head key, signed heads, inclusion and
//!   consistency proofs checked by hand; who may read them; bad parameters.
//! - `admin`: `unit`, `person` and `household` on a stopped server's data
//!   directory: made, listed, served afterwards; refusals and bad flags.
//! - `cli`: `audit key|head|inclusion|consistency`, `replay` and
//!   `projections status|rebuild`, and their bad flags.
//! - `privacy`: personal data sealed on disk; erasure; no plaintext left.
//! - `views`: the case list, search, figures (JSON, CSV), households,
//!   workloads, read-your-writes, bad parameters.
//! - `schemathesis`: generated requests against `/openapi.json`: no 5xx.
//! - `ops`: health, readiness, metrics, OpenAPI, docs, tokens, rate limit,
//!   the CLI, bad configuration, graceful shutdown.
//! - `web`: the web pages in a headless Chromium: each role, a report made
//!   offline and sent once, a committee's forms and dashboard, screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod audit;
mod audit_routes;
mod authz;
mod bad_input;
mod cli;
mod commands;
mod feed;
mod lifecycle;
mod ops;
mod privacy;
mod readme;
mod schemathesis;
mod server;
mod sync;
mod views;
mod web;
mod world;
