//! The API's settings, already validated: the `casebook` command reads them
//! from its configuration file, environment and flags.

use std::time::Duration;

/// Largest request body. A report is a few KiB of Vietnamese text; a sync
/// batch of [`SYNC_COMMANDS_MAX`] such commands fits in 1 MiB.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// Most commands in one `POST /v1/sync` batch: a member's week offline is a
/// few dozen commands; 100 keeps one request's work (each command is one
/// durable append) well under the request timeout.
pub const SYNC_COMMANDS_MAX: usize = 100;

/// Most events one history page returns: a case's whole life is rarely more
/// than a hundred events, and the log reads at most 4,096 per page.
pub const PAGE_EVENTS_MAX: usize = 500;

/// Longest text field, in characters. A resident's words fill a page at
/// most; 8,000 characters of Vietnamese stay far below the log's 64 KiB
/// payload limit even at 3 bytes a character.
pub const TEXT_CHARS_MAX: usize = 8_000;

/// A request taking longer than this is cut off: a durable append takes
/// milliseconds, a sync batch at most a few seconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests handled at once; more wait. Two cores and one log writer gain
/// nothing from more, and the bound keeps memory flat under a flood.
pub const CONCURRENCY_MAX: usize = 1024;

/// Sustained requests per second per token: far above a person's pace,
/// low enough that one leaked token cannot swamp the server.
pub const RATE_PER_SECOND: u32 = 50;

/// Requests a token may burst above its rate (a sync, a page load).
pub const RATE_BURST: u32 = 100;

/// Lifetime of a token when its creator names none: a season of field
/// work, after which the administrator issues a new one.
pub const TOKEN_LIFETIME_DAYS: u32 = 90;

/// How long a command waits for the directory to fold its own events (so
/// that the next command sees a new unit or person) before answering anyway.
pub const DIRECTORY_WAIT: Duration = Duration::from_secs(5);

/// Most cases in one page of `GET /v1/concerns` (and of a household's
/// cases, and of `GET /v1/households`): the views' own bound
/// ([`casebook_projections::PAGE_CASES_MAX`], a screenful), which a
/// configuration may lower but not raise.
pub const PAGE_CASES_MAX: usize = casebook_projections::PAGE_CASES_MAX;

/// How long a query that names a minimum log position
/// (`Casebook-Min-Position`) waits for the views and the directory to
/// reach it before answering 503: views apply a command's events within
/// milliseconds, so two seconds means they are stuck or far behind, and a
/// client is better told to retry than kept waiting.
pub const READ_WAIT: Duration = Duration::from_secs(2);

/// The API's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// See [`BODY_BYTES_MAX`].
    pub body_bytes_max: usize,
    /// See [`SYNC_COMMANDS_MAX`].
    pub sync_commands_max: usize,
    /// See [`PAGE_EVENTS_MAX`].
    pub page_events_max: usize,
    /// See [`TEXT_CHARS_MAX`].
    pub text_chars_max: usize,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`CONCURRENCY_MAX`].
    pub concurrency_max: usize,
    /// See [`RATE_PER_SECOND`].
    pub rate_per_second: u32,
    /// See [`RATE_BURST`].
    pub rate_burst: u32,
    /// See [`TOKEN_LIFETIME_DAYS`].
    pub token_lifetime_days: u32,
    /// See [`PAGE_CASES_MAX`].
    pub page_cases_max: usize,
    /// See [`READ_WAIT`].
    pub read_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            body_bytes_max: BODY_BYTES_MAX,
            sync_commands_max: SYNC_COMMANDS_MAX,
            page_events_max: PAGE_EVENTS_MAX,
            text_chars_max: TEXT_CHARS_MAX,
            request_timeout: REQUEST_TIMEOUT,
            concurrency_max: CONCURRENCY_MAX,
            rate_per_second: RATE_PER_SECOND,
            rate_burst: RATE_BURST,
            token_lifetime_days: TOKEN_LIFETIME_DAYS,
            page_cases_max: PAGE_CASES_MAX,
            read_wait: READ_WAIT,
        }
    }
}
