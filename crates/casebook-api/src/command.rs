//! Running one command: read the stream, fold, check, decide, append.
//!
//! Every command route and `POST /v1/sync` go through [`execute`]. The
//! command's id (the client's, or a fresh one) becomes the correlation id of
//! its events, and their ids are UUID v5 of it, so a retry finds the
//! original events in the stream and answers the original outcome, writing
//! nothing. The append is guarded by the revision that was folded: if
//! another command slipped in between, the whole decision is taken again on
//! the new state (unless the client gave `If-Match`, which then fails 412).

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casebook_domain::{decide, fold, Aggregate, Concern, Context, Household, Person, Unit};
use casebook_log::{
    AppendStatus, Direction, EventStore, ExpectedRevision, LogError, NewEvent, RecordedEvent,
    READ_PAGE_EVENTS_MAX,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::codec::{decode, encode, seal};
use crate::config::DIRECTORY_WAIT;
use crate::error::ApiError;
use crate::extract::etag;
use crate::state::AppState;
use crate::visibility::{case_visible, household_visible};

/// The response header that carries the log position a command reached.
pub const POSITION_HEADER: &str = "casebook-position";

/// Times a command is decided again when another command changed its
/// stream in between; more than a few means a hot stream, and the client
/// should retry later.
const DECIDE_ATTEMPTS_MAX: usize = 4;

/// Most events read from one stream: a case lives a few dozen events; a
/// stream past this is a fault, not a case.
const STREAM_EVENTS_MAX: usize = 100_000;

/// What every command body may carry besides its own fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub struct CommandMeta {
    /// A client-made id; a retry with the same id answers the original outcome.
    pub command_id: Option<Uuid>,
    /// When it happened in the field; now if absent; at most 5 minutes ahead.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Whether the command wrote now or had been applied before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Its events are new and durable.
    Applied,
    /// A retry: the events were already in the log; nothing was written.
    AlreadyApplied,
}

/// One event a command wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlacedEvent {
    /// The event id.
    pub id: Uuid,
    /// Its type.
    pub event_type: String,
    /// Its revision in the stream.
    pub revision: u64,
    /// Its position in the log.
    pub position: u64,
}

/// The answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CommandOutcome {
    /// Applied now, or already before.
    pub status: CommandStatus,
    /// The command's id (the client's, or one made by the server).
    pub command_id: Uuid,
    /// The stream written.
    pub stream: String,
    /// The stream's revision after the command: the case's new `ETag`.
    pub revision: u64,
    /// The highest log position the command reached.
    pub position: u64,
    /// The events.
    pub events: Vec<PlacedEvent>,
}

impl IntoResponse for CommandOutcome {
    fn into_response(self) -> Response {
        let position = HeaderValue::from(self.position);
        let tag = HeaderValue::from_str(&etag(self.revision)).ok();
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(HeaderName::from_static(POSITION_HEADER), position);
        if let Some(tag) = tag {
            headers.insert(axum::http::header::ETAG, tag);
        }
        response
    }
}

/// An aggregate the API runs commands on, with who may see it.
pub trait Target: Aggregate + Default + Send {
    /// Whether the actor may see this aggregate at all (else 404).
    fn visible(&self, ctx: &Context<'_>) -> bool;
}

impl Target for Option<Concern> {
    fn visible(&self, ctx: &Context<'_>) -> bool {
        self.as_ref().is_none_or(|c| case_visible(ctx, c))
    }
}

impl Target for Option<Household> {
    fn visible(&self, ctx: &Context<'_>) -> bool {
        self.as_ref()
            .is_none_or(|h| household_visible(ctx.lookups, ctx.actor, h, ctx.now))
    }
}

impl Target for Option<Unit> {
    fn visible(&self, _ctx: &Context<'_>) -> bool {
        true
    }
}

impl Target for Option<Person> {
    fn visible(&self, _ctx: &Context<'_>) -> bool {
        true
    }
}

/// One command to run.
#[derive(Debug)]
pub struct Request<C> {
    /// The stream of the aggregate.
    pub stream: String,
    /// Command id and field time.
    pub meta: CommandMeta,
    /// The revision the client last saw (`If-Match`), if it named one.
    pub if_match: Option<u64>,
    /// The server named the stream just now (a case reported without a
    /// client-made id: its id is random, or made from the command's id):
    /// it has no events unless this command is a retry, so it is not read
    /// first. If it has events, the append refuses (the stream exists, or
    /// the same event ids came with other content: a retry decided at
    /// another time) and the command runs again the usual way, which finds
    /// a retry's first outcome in the stream.
    pub new_stream: bool,
    /// The command.
    pub command: C,
}

/// Runs a command to its durable outcome.
pub async fn execute<A: Target>(
    state: &AppState,
    principal: &Principal,
    request: Request<A::Command>,
) -> Result<CommandOutcome, ApiError> {
    let command_id = request.meta.command_id.unwrap_or_else(Uuid::new_v4);
    for attempt in 0..DECIDE_ATTEMPTS_MAX {
        let history = if request.new_stream && attempt == 0 {
            Vec::new()
        } else {
            read_stream_all(state, &request.stream).await?
        };
        if let Some(outcome) = prior_outcome(&history, &request.stream, command_id) {
            return Ok(outcome);
        }
        let revision = history.last().map(|e| e.revision);
        let new_events = decide_on::<A>(state, principal, &request, command_id, &history)?;
        let expected = revision.map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
        // The answer names each event's type; a repeat of these events
        // has the same content (the log compares it), so the same types.
        let event_types: Vec<String> = new_events.iter().map(|e| e.event_type.clone()).collect();
        match state
            .log()
            .append(&request.stream, expected, new_events)
            .await
        {
            Ok(outcome) => {
                return finish(state, &request.stream, command_id, outcome, event_types).await
            }
            Err(LogError::IdempotencyConflict { .. }) if request.new_stream && attempt == 0 => {
                continue
            }
            Err(LogError::WrongExpectedRevision { .. }) if request.if_match.is_none() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Unavailable {
        detail: "the stream kept changing while the command was decided; retry".to_owned(),
    })
}

/// Checks visibility and `If-Match`, then decides; answers the records to append.
fn decide_on<A: Target>(
    state: &AppState,
    principal: &Principal,
    request: &Request<A::Command>,
    command_id: Uuid,
    history: &[RecordedEvent],
) -> Result<Vec<NewEvent>, ApiError> {
    let events = history.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let aggregate: A = fold(&events);
    let now = Utc::now();
    let directory = state.directory()?;
    let ctx = Context::new(principal.person_id, now, state.policy(), &*directory)
        .with_field_time(request.meta.occurred_at.unwrap_or(now));
    if !aggregate.visible(&ctx) {
        return Err(ApiError::not_found(request.stream.clone()));
    }
    let revision = history.last().map(|e| e.revision);
    if request.if_match.is_some() && request.if_match != revision {
        return Err(ApiError::PreconditionFailed { current: revision });
    }
    let decided = decide(&aggregate, &request.command, &ctx)?;
    decided
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let mut record = encode(event, command_id, index)?;
            seal(&mut record, &request.stream, state.keys())?;
            Ok(record)
        })
        .collect()
}

async fn finish(
    state: &AppState,
    stream: &str,
    command_id: Uuid,
    outcome: casebook_log::AppendOutcome,
    event_types: Vec<String>,
) -> Result<CommandOutcome, ApiError> {
    let status = match outcome.status {
        AppendStatus::Appended => {
            state.metrics().appends.inc();
            CommandStatus::Applied
        }
        AppendStatus::AlreadyAppended => CommandStatus::AlreadyApplied,
    };
    let position = outcome.last_position();
    if !stream.starts_with(casebook_domain::ConcernId::CATEGORY) {
        state.wait_directory(position, DIRECTORY_WAIT).await?;
    }
    // The log answers each event's place in the order the events were given.
    let events: Vec<PlacedEvent> = outcome
        .events
        .iter()
        .zip(event_types)
        .map(|(place, event_type)| PlacedEvent {
            id: place.id,
            event_type,
            revision: place.revision,
            position: place.position,
        })
        .collect();
    Ok(CommandOutcome {
        status,
        command_id,
        stream: stream.to_owned(),
        revision: outcome.stream_revision(stream).unwrap_or_default(),
        position,
        events,
    })
}

/// The outcome of the command if its events are already in the stream.
pub fn prior_outcome(
    history: &[RecordedEvent],
    stream: &str,
    command_id: Uuid,
) -> Option<CommandOutcome> {
    let events: Vec<PlacedEvent> = history
        .iter()
        .filter(|e| e.metadata.correlation_id == Some(command_id))
        .map(|e| PlacedEvent {
            id: e.id,
            event_type: e.event_type.clone(),
            revision: e.revision,
            position: e.position,
        })
        .collect();
    let last = events.last()?;
    Some(CommandOutcome {
        status: CommandStatus::AlreadyApplied,
        command_id,
        stream: stream.to_owned(),
        revision: history.last().map_or(last.revision, |e| e.revision),
        position: last.position,
        events,
    })
}

/// Every event of a stream, oldest first.
pub async fn read_stream_all(
    state: &AppState,
    stream: &str,
) -> Result<Vec<RecordedEvent>, ApiError> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = events.last().map_or(0, |e| e.revision + 1);
        let page = state
            .log()
            .read_stream(
                stream,
                Direction::Forwards,
                Some(from),
                READ_PAGE_EVENTS_MAX,
            )
            .await?;
        let full = page.len() == READ_PAGE_EVENTS_MAX;
        events.extend(page);
        if !full {
            return Ok(events);
        }
        if events.len() > STREAM_EVENTS_MAX {
            return Err(ApiError::Internal(format!("stream {stream} is too long")));
        }
    }
}
