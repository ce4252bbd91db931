//! Reads that need no projection: a case folded from its stream (also as
//! of a past moment), its history with actors, a household, and the caller.
//! Each accepts a minimum log position (`Casebook-Min-Position` or
//! `min_position`) and waits for the directory to reach it
//! ([`crate::fresh`]): the case and its history are read from the log
//! itself, but who may see them is decided on the directory.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use casebook_domain::{
    fold, Concern, ConcernId, Context, DeadlineStatus, Erasure, Event, HouseholdId, Lookups,
    PersonId, RoleGrant, Subject,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{grants_at, Principal};
use crate::case_cache::LoadedCase;
use crate::codec::decode_personal;
use crate::command::read_stream_all;
use crate::error::{ApiError, Problem};
use crate::extract::{etag, ApiPath, ApiQuery};
use crate::fresh::{MinPosition, Reads};
use crate::routes::views::doc::FreshParams;
use crate::state::AppState;
use crate::visibility::{case_visible, household_visible, redact};
use casebook_log::EventStore;
use std::borrow::Cow;
use std::sync::Arc;

/// A case as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// The case's state (without its sealed informant unless the caller may read it).
    #[schema(value_type = Object)]
    pub concern: Concern,
    /// Its stream revision (also the `ETag`).
    pub revision: u64,
    /// Where its deadline stands now.
    #[schema(value_type = String)]
    pub deadline_status: DeadlineStatus,
    /// The moment it is shown as of, if one was asked for.
    pub as_of: Option<DateTime<Utc>>,
}

/// Query of `GET /v1/concerns/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Show the case as it stood at this moment (RFC 3339).
    pub as_of: Option<DateTime<Utc>>,
    /// Which clock `as_of` reads: `recorded` (default: what the system
    /// knew at that moment) or `field` (what had happened by then in the
    /// field, including what was logged later).
    #[param(value_type = Option<String>)]
    pub axis: Option<AsOfAxis>,
    /// Read-your-writes (see [`crate::fresh`]).
    #[param(ignore)]
    pub min_position: Option<u64>,
}

/// The clock of `as_of`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AsOfAxis {
    /// When the system recorded each event.
    Recorded,
    /// When each event happened in the field.
    Field,
}

impl From<AsOfAxis> for casebook_domain::TimeAxis {
    fn from(axis: AsOfAxis) -> Self {
        match axis {
            AsOfAxis::Recorded => Self::Recorded,
            AsOfAxis::Field => Self::Field,
        }
    }
}

/// A case's events and its state, if the caller may see it (else 404).
/// A case read before and unchanged since comes from the
/// [`CaseCache`](crate::case_cache::CaseCache); who may see it is decided
/// on every call.
pub async fn load_case(
    state: &AppState,
    principal: &Principal,
    concern_id: ConcernId,
) -> Result<Arc<LoadedCase>, ApiError> {
    let not_found = || ApiError::not_found(format!("concern {concern_id}"));
    let stream = concern_id.stream();
    let erasures = state.keys().erasures();
    let revision = state
        .log()
        .stream_revision(&stream)
        .await?
        .ok_or_else(not_found)?;
    let cached = state.case_cache().get(concern_id, revision, erasures);
    let case = match cached {
        Some(case) => case,
        None => {
            let history = read_stream_all(state, &stream).await?;
            let events = history
                .into_iter()
                .map(|r| decode_personal(&r, state.keys()).map(|e| (r, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let concern: Option<Concern> = fold(events.iter().map(|(_, e)| e));
            let case = Arc::new(LoadedCase::new(
                events,
                concern.ok_or_else(not_found)?,
                erasures,
            ));
            state.case_cache().put(concern_id, Arc::clone(&case));
            case
        }
    };
    let directory = state.directory()?;
    let ctx = Context::new(principal.person_id, Utc::now(), state.policy(), &*directory);
    if !case_visible(&ctx, &case.concern) {
        return Err(not_found());
    }
    Ok(case)
}

/// A case's personal note as those who may see the case are shown it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonalNote {
    /// The reporter wrote none.
    Absent,
    /// The note, opened with the household's key.
    Shown(String),
    /// It was written, then erased with the household's personal data:
    /// when, why and by whom, if the directory holds the erasure.
    Erased(Option<Erasure>),
}

/// What a case's personal note shows, from the events and the case as
/// [`load_case`] opened them: the note itself, or, where the report
/// carries a sealed note that opens empty (its key destroyed), the
/// household's erasure.
pub fn personal_note(
    lookups: &dyn Lookups,
    events: &[(casebook_log::RecordedEvent, Event)],
    concern: &Concern,
) -> PersonalNote {
    if let Some(note) = concern.personal_note.as_ref().filter(|n| !n.is_empty()) {
        return PersonalNote::Shown(note.clone());
    }
    if !events.first().is_some_and(|(r, _)| note_written(r)) {
        return PersonalNote::Absent;
    }
    let erasure = match &concern.subject {
        Subject::Household { household_id } => {
            lookups.household(*household_id).and_then(|h| h.erasure)
        }
        Subject::Hamlet { .. } => None,
    };
    PersonalNote::Erased(erasure)
}

/// Whether a case's report was recorded with a personal note (sealed or
/// not): the record's field is there and not null.
fn note_written(recorded: &casebook_log::RecordedEvent) -> bool {
    recorded.event_type == "concern.reported"
        && serde_json::from_slice::<Value>(&recorded.data)
            .ok()
            .and_then(|data| data.get("personal_note").map(|v| !v.is_null()))
            .unwrap_or(false)
}

/// Read a case (folded from its stream), optionally as of a past moment.
#[utoipa::path(get, path = "/v1/concerns/{concern_id}", tag = "concerns",
    params(("concern_id" = Uuid, Path), CaseQuery, FreshParams),
    responses((status = 200, body = CaseView), (status = "4XX", body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_case(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(concern_id): ApiPath<Uuid>,
    min: MinPosition,
    ApiQuery(query): ApiQuery<CaseQuery>,
) -> Result<Response, ApiError> {
    min.wait(&state, Reads::Directory).await?;
    let case = load_case(&state, &principal, ConcernId(concern_id)).await?;
    let revision = case.revision;
    if query.axis.is_some() && query.as_of.is_none() {
        return Err(ApiError::bad_request("axis", "`axis` needs `as_of`"));
    }
    let concern = match query.as_of {
        Some(as_of) => {
            let axis = query.axis.unwrap_or(AsOfAxis::Recorded).into();
            let then = casebook_domain::fold_as_of::<Option<Concern>>(
                case.events.iter().map(|(_, e)| e),
                axis,
                as_of,
            )
            .ok_or_else(|| ApiError::not_found(format!("concern {concern_id} as of {as_of}")))?;
            Cow::Owned(then)
        }
        None => Cow::Borrowed(&case.concern),
    };
    let view = CaseView {
        deadline_status: state.policy().deadline_status(&concern, Utc::now()),
        concern: redact(principal.person_id, &concern),
        revision,
        as_of: query.as_of,
    };
    Ok(([(header::ETAG, etag(revision))], Json(view)).into_response())
}

/// Who did something.
#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    /// Their person id.
    pub person_id: Uuid,
    /// Their name, if the directory knows them.
    pub name: Option<String>,
}

/// One event of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    /// Global position.
    pub position: u64,
    /// Revision in the case's stream.
    pub revision: u64,
    /// Event id.
    pub id: Uuid,
    /// Event type.
    pub event_type: String,
    /// Schema version as stored.
    pub schema_version: u32,
    /// When it happened in the field.
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// The command that caused it.
    pub command_id: Option<Uuid>,
    /// The payload (upcast to the current version; a sealed informant withheld).
    #[schema(value_type = Object)]
    pub data: Value,
    /// The record's hash, hex.
    pub hash: String,
}

/// A page of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// The events, oldest first.
    pub events: Vec<HistoryEvent>,
    /// The revision to ask for next (`after_revision`), if there may be more.
    pub next_after_revision: Option<u64>,
}

/// Query of `GET /v1/concerns/{id}/history`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only events after this revision.
    pub after_revision: Option<u64>,
    /// At most this many events (capped by the server's page limit).
    pub limit: Option<usize>,
    /// Read-your-writes (see [`crate::fresh`]).
    #[param(ignore)]
    pub min_position: Option<u64>,
}

/// A case's whole event stream, with actors.
#[utoipa::path(get, path = "/v1/concerns/{concern_id}/history", tag = "concerns",
    params(("concern_id" = Uuid, Path), HistoryQuery, FreshParams),
    responses((status = 200, body = HistoryPage), (status = "4XX", body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_history(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(concern_id): ApiPath<Uuid>,
    min: MinPosition,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    min.wait(&state, Reads::Directory).await?;
    let case = load_case(&state, &principal, ConcernId(concern_id)).await?;
    let (events, concern) = (&case.events, &case.concern);
    let reveal = redact(principal.person_id, concern)
        .sealed_informant
        .is_some();
    let limit = query
        .limit
        .unwrap_or(state.config().page_events_max)
        .clamp(1, state.config().page_events_max);
    let directory = state.directory()?;
    let page: Vec<HistoryEvent> = events
        .iter()
        .filter(|(r, _)| query.after_revision.is_none_or(|after| r.revision > after))
        .take(limit)
        .map(|(r, e)| history_event(&*directory, r, e, reveal))
        .collect::<Result<_, _>>()?;
    let next_after_revision = match page.last() {
        Some(last) if page.len() == limit => Some(last.revision),
        _ => None,
    };
    Ok(Json(HistoryPage {
        events: page,
        next_after_revision,
    }))
}

/// One history entry; `reveal` says whether a sealed informant may be shown.
pub fn history_event(
    lookups: &dyn Lookups,
    recorded: &casebook_log::RecordedEvent,
    event: &Event,
    reveal: bool,
) -> Result<HistoryEvent, ApiError> {
    let (_, _, mut data) = casebook_domain::payload_to_record(&event.payload)?;
    if !reveal {
        if let Some(informant) = data.get_mut("sealed_informant") {
            if !informant.is_null() {
                *informant = Value::String("sealed".to_owned());
            }
        }
    }
    Ok(HistoryEvent {
        position: recorded.position,
        revision: recorded.revision,
        id: recorded.id,
        event_type: recorded.event_type.clone(),
        schema_version: recorded.schema_version,
        occurred_at: event.occurred_at,
        recorded_at: recorded.recorded_at,
        actor: Actor {
            person_id: event.actor.0,
            name: lookups.person(event.actor).map(|p| p.name),
        },
        command_id: recorded.metadata.correlation_id,
        data,
        hash: hex_of(&recorded.hash),
    })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A household, if the caller may see it.
#[utoipa::path(get, path = "/v1/households/{household_id}", tag = "structure",
    params(("household_id" = Uuid, Path), FreshParams),
    responses((status = 200, body = Object), (status = "4XX", body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_household(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    min: MinPosition,
) -> Result<Json<casebook_domain::Household>, ApiError> {
    min.wait(&state, Reads::Directory).await?;
    let directory = state.directory()?;
    directory
        .household(HouseholdId(household_id))
        .filter(|h| household_visible(&*directory, principal.person_id, h, Utc::now()))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("household {household_id}")))
}

/// The caller: who they are and the roles they hold now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Their person id.
    #[schema(value_type = Uuid)]
    pub person_id: PersonId,
    /// Their name.
    pub name: Option<String>,
    /// The roles they hold now.
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<RoleGrant>,
}

/// Who the token acts for, and their roles now.
#[utoipa::path(get, path = "/v1/me", tag = "auth", params(FreshParams),
    responses((status = 200, body = Me), (status = 401, body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
    min: MinPosition,
) -> Result<Json<Me>, ApiError> {
    min.wait(&state, Reads::Directory).await?;
    let directory = state.directory()?;
    Ok(Json(Me {
        person_id: principal.person_id,
        name: directory.person(principal.person_id).map(|p| p.name),
        roles: grants_at(&*directory, principal.person_id, Utc::now()),
    }))
}
