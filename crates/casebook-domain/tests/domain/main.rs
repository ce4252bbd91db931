//! The domain's integration tests, in one test binary: given/when/then tests
//! of every transition and refusal, the structure commands, the policy,
//! golden files of every event type, upcasting, and property tests.

mod as_of;
mod erasure;
mod fixture;
mod grants;
mod lifecycle;
mod policy;
mod properties;
mod records;
mod refusals;
mod structure;
