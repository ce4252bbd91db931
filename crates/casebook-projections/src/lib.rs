//! Workers that tail the log and build the views that queries read: cases,
//! resolution figures, households, members and full-text search; and the
//! deadline watcher, which writes the warnings the views then show.
//!
//! Every view is rebuilt from the log alone, and each event takes effect
//! in it exactly once, also across crashes: a view's batch and its
//! checkpoint take effect together (the keyed views live in memory, write
//! a batch and its checkpoint into their map in one step and save whole
//! states to a file; search makes one tantivy commit with the checkpoint
//! as its payload). A view that cannot apply an event stops there and says
//! so in [`Projections::status`]; it never skips one. Answers that depend on the
//! clock (overdue, due soon, not visited for N days) are computed at query
//! time from stored deadlines and times and a caller-given `now`.
//!
//! # Why tantivy for search
//! The issue offered tantivy or a better choice. A hand-made inverted index
//! among the keyed views would share their atomic checkpoint, but it would
//! need its own tokenising, scoring and snippets, and a posting per word
//! and case held in memory.
//! SQLite FTS5 would add a second storage engine with its own durability
//! rules. tantivy gives BM25 ranking, snippets, and a commit whose payload
//! holds our checkpoint in the same atomic switch of `meta.json` as the
//! documents, which is exactly the exactly-once property the keyed views
//! get from saving a whole state. Diacritics are handled outside tantivy,
//! in plain Rust (`search::fold`), so the folding is testable on its own and
//! the index holds both the exact and the folded text: exact matches rank
//! first by construction (two searches, exact hits first), not by tuning
//! boosts. Because a commit costs several fsyncs, search commits at most
//! every few seconds and keeps the documents applied meanwhile in memory,
//! searched beside the index (see `search`).
//!
//! # Layout
//! - `worker`: the generic worker (catch-up from the feed, batches,
//!   checkpoint, failure, rebuild into a new generation and swap).
//! - `keyed_view`, `staging`, `keys`, `units`: how the keyed views apply a
//!   batch and its checkpoint atomically, their keys, and their unit tree;
//!   `view_tree` (their states in memory, as queries read them) and
//!   `view_file` (saving and loading them).
//! - `decode`: log record to domain event.
//! - `feed`: the shared decode stage: each record is read and decoded once
//!   and the decoded chunks are handed to every view.
//! - `cases`, `figures`, `households`, `members`: the keyed views and their
//!   queries.
//! - `search`: the tantivy index, Vietnamese folding, and its queries.
//! - `watcher`: the deadline watcher and its injectable [`Clock`].
//! - `projections`: the [`Projections`] handle: open, start, status,
//!   wait_for, rebuild, the typed queries and the watcher.
//! - [`testkit`]: a deterministic generator of realistic histories.
//! - `error`: [`ProjectionError`].

mod cases;
mod decode;
mod error;
mod feed;
mod figures;
mod households;
mod keyed_view;
mod keys;
mod members;
mod projections;
mod row_cache;
mod search;
mod staging;
pub mod testkit;
mod units;
mod view_file;
mod view_tree;
mod watcher;
mod worker;

pub use cases::{
    CaseFilter, CaseItem, CasePage, CaseRow, CaseSort, DeadlineFilter, PAGE_CASES_MAX,
};
pub use error::{ProjectionError, Result};
pub use figures::{Counters, Figures, FiguresReport, Granularity, UnitFigures};
pub use households::HouseholdRow;
pub use members::{MemberWorkload, VISITS_WINDOW_DAYS};
pub use projections::{Projections, ViewStatus, SEARCH_DIR, VIEWS_DIR};
pub use row_cache::RenderedJson;
pub use search::{fold, SearchHit, COMMIT_EVENTS_MAX, SEARCH_HITS_MAX};
pub use watcher::{
    warning_id, Clock, SystemClock, TokioClock, WatchReport, TICK_WARNINGS_MAX, WATCHER_ACTOR,
    WATCHER_NAMESPACE, WATCH_INTERVAL,
};
pub use worker::{Health, BATCH_EVENTS_MAX};
