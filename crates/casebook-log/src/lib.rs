//! The casebook event log: durable, verifiable, append-only; records in a
//! file of their own, indexes in sled.
//!
//! It has KurrentDB's vocabulary: events live in **streams** named
//! `<category>-<id>`, numbered by **revision** from 0; every event also has a
//! **global position**, dense and gapless in commit order. Appends are atomic
//! (one or several streams, all or none), guarded by an **expected revision**,
//! idempotent by event id, and acknowledged only once durable. Records are
//! **hash-chained**; every read re-checks what it returns. It knows nothing
//! of cases or households: payloads are opaque JSON.
//!
//! # Layout
//! - [`record`]: the event as proposed ([`NewEvent`]) and as stored
//!   ([`RecordedEvent`]); canonical bytes and the hash chain.
//! - `records`: the records file: every record, in commit order; the only
//!   file an append waits for.
//! - `keys`: how the indexes are laid out in one sled tree.
//! - `writer`: group commit: the writer thread that decides each group.
//! - `pipeline`: the applier and syncer threads behind the writer.
//! - `known`: the event-id index, in memory, so that deciding an append
//!   seldom reads sled.
//! - `heads`: every stream's head (last revision, open chunk), in memory.
//! - `staging`: one group's decisions, turned into the group's bytes and
//!   its index entries.
//! - `recovery`: on open, indexes what sled lacks of the records file.
//! - `durability`: making a new file's directory entry durable.
//! - `reader`: every read, the whole-log walk, and `verify`.
//! - `read_ahead`: long walks check hashes on a second thread.
//! - `check`: the tail check that runs when the log opens.
//! - `store`: [`SledLog`]: opening, appending, and the trait impl.
//! - [`event_store`]: the [`EventStore`] trait every backend implements.
//! - [`subscription`]: catch-up subscriptions over any [`EventStore`].
//! - [`conformance`]: the test suite every backend must pass.

mod check;
pub mod conformance;
mod durability;
mod error;
pub mod event_store;
mod heads;
mod keys;
mod known;
mod pipeline;
mod read_ahead;
mod reader;
pub mod record;
mod records;
mod recovery;
mod staging;
mod store;
pub mod subscription;
mod writer;

pub use error::{LogError, Result};
pub use event_store::{Direction, EventStore, VerifyReport, READ_PAGE_EVENTS_MAX};
pub use reader::AllIter;
pub use record::{
    category_of, ExpectedRevision, Hash, Metadata, NewEvent, Position, RecordedEvent, StreamAppend,
    GENESIS_HASH,
};
pub use recovery::RecoveryReport;
pub use store::{
    open_sled_when_released, Durability, LogOptions, LogStats, SledLog, APPEND_EVENTS_MAX,
    APPEND_STREAMS_MAX,
};
pub use subscription::{Subscription, SubscriptionFilter};
pub use writer::{AppendOutcome, AppendStatus, EventPlace};
