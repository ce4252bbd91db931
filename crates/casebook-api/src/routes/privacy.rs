//! Residents' personal data: erasing a household's, reading a tip's sealed
//! informant on the record, and the auditors' list of those reads.
//!
//! Erasure is a household command (`household.personal_data_erased`); the
//! directory destroys the household's key as it folds that event, so every
//! later answer shows the fields empty, with when and why. A case answer
//! never carries a tip's informant: whoever may read it asks for it here,
//! and the read is appended (`concern.informant_read`, the reader as its
//! actor) before the identity is answered.

use axum::extract::State;
use axum::Json;
use casebook_domain::permission::is_within;
use casebook_domain::{
    Concern, ConcernCommand, ConcernId, Household, HouseholdCommand, HouseholdId, Payload, Role,
    SealedInformant,
};
use casebook_log::{Direction, EventStore, RecordedEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{grants_at, Principal};
use crate::body::{EndBody, EraseBody};
use crate::codec::{decode, decode_personal};
use crate::command::{execute, CommandOutcome, Request};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// Most reads listed in one page.
pub const INFORMANT_READS_PAGE_MAX: usize = 200;

/// Erase a household's personal data for good (administrators).
#[utoipa::path(post, path = "/v1/households/{household_id}/erase", tag = "privacy",
    request_body = EraseBody, params(("household_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn erase_household(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<CommandOutcome, ApiError> {
    let request = Request {
        stream: HouseholdId(household_id).stream(),
        meta: body.meta(),
        if_match: None,
        new_stream: false,
        command: HouseholdCommand::ErasePersonalData {
            reason: body.reason,
        },
    };
    // The command waits for the directory to fold the erasure, and the
    // directory destroys the key as it folds it (see `state::fold_one`).
    execute::<Option<Household>>(&state, &principal, request).await
}

/// A tip's informant, as its reader was given it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InformantAnswer {
    /// The case.
    pub concern_id: Uuid,
    /// Who gave the tip; `null` if it was erased with the household's data.
    #[schema(value_type = Option<Object>)]
    pub informant: Option<SealedInformant>,
    /// The read, as recorded.
    pub read: CommandOutcome,
}

/// Read a confidential tip's sealed informant (its taker, or a person
/// granted access); the read is recorded first.
#[utoipa::path(post, path = "/v1/concerns/{concern_id}/informant", tag = "privacy",
    request_body = EndBody, params(("concern_id" = Uuid, Path)),
    responses((status = 200, body = InformantAnswer), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn read_informant(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(concern_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<EndBody>,
) -> Result<Json<InformantAnswer>, ApiError> {
    let concern_id = ConcernId(concern_id);
    let request = Request {
        stream: concern_id.stream(),
        meta: body.meta(),
        if_match: None,
        new_stream: false,
        command: ConcernCommand::ReadInformant,
    };
    let read = execute::<Option<Concern>>(&state, &principal, request).await?;
    let reported = first_event(&state, &concern_id.stream())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("concern {concern_id}")))?;
    let informant = match decode_personal(&reported, state.keys())?.payload {
        Payload::ConcernReported(e) => e.sealed_informant.filter(|i| !i.name.is_empty()),
        _ => None,
    };
    Ok(Json(InformantAnswer {
        concern_id: concern_id.0,
        informant,
        read,
    }))
}

/// Paging of the reads list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InformantReadsQuery {
    /// Only reads after this log position (the `next_after` of the last page).
    pub after: Option<u64>,
    /// At most this many (1 to 200; default 50).
    pub limit: Option<usize>,
}

/// One recorded read of a sealed informant.
#[derive(Debug, Serialize, ToSchema)]
pub struct InformantRead {
    /// The case.
    pub concern_id: Uuid,
    /// Who read it.
    pub reader: Uuid,
    /// When the system recorded the read.
    pub read_at: DateTime<Utc>,
    /// Where in the log.
    pub position: u64,
}

/// A page of reads.
#[derive(Debug, Serialize, ToSchema)]
pub struct InformantReads {
    /// Oldest first.
    pub reads: Vec<InformantRead>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

/// Every recorded read of a tip's sealed informant, in cases within the
/// auditor's jurisdiction (auditors only).
#[utoipa::path(get, path = "/v1/informant-reads", tag = "privacy",
    params(InformantReadsQuery),
    responses((status = 200, body = InformantReads), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn list_informant_reads(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<InformantReadsQuery>,
) -> Result<Json<InformantReads>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > INFORMANT_READS_PAGE_MAX {
        return Err(ApiError::bad_request(
            "limit",
            format!("must be between 1 and {INFORMANT_READS_PAGE_MAX}"),
        ));
    }
    let audited_units = auditor_units(&state, &principal)?;
    let from = query.after.map(|after| after + 1);
    let records = state
        .log()
        .read_event_type("concern.informant_read", Direction::Forwards, from, limit)
        .await?;
    let mut reads = Vec::with_capacity(records.len());
    for record in &records {
        if let Some(read) = visible_read(&state, &audited_units, record).await? {
            reads.push(read);
        }
    }
    let next_after = (records.len() == limit)
        .then(|| records.last().map(|r| r.position))
        .flatten();
    Ok(Json(InformantReads { reads, next_after }))
}

/// The units whose jurisdiction the caller audits; refuses non-auditors.
fn auditor_units(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<casebook_domain::UnitId>, ApiError> {
    let directory = state.directory()?;
    let units: Vec<_> = grants_at(&*directory, principal.person_id, Utc::now())
        .into_iter()
        .filter(|g| g.role == Role::Auditor)
        .map(|g| g.unit_id)
        .collect();
    if units.is_empty() {
        return Err(ApiError::Forbidden {
            rule: Some("role_required".to_owned()),
            detail: "only an auditor lists the reads of sealed informants".to_owned(),
        });
    }
    Ok(units)
}

/// The read, if its case lies within one of the audited units.
async fn visible_read(
    state: &AppState,
    audited_units: &[casebook_domain::UnitId],
    record: &RecordedEvent,
) -> Result<Option<InformantRead>, ApiError> {
    let Some(concern_id) = record
        .stream
        .strip_prefix("concern-")
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    let Some(first) = first_event(state, &record.stream).await? else {
        return Ok(None);
    };
    let Payload::ConcernReported(reported) = decode(&first)?.payload else {
        return Ok(None);
    };
    let directory = state.directory()?;
    if !audited_units
        .iter()
        .any(|unit| is_within(&*directory, *unit, reported.hamlet_id))
    {
        return Ok(None);
    }
    let reader = Uuid::parse_str(&record.metadata.actor)
        .map_err(|e| ApiError::Internal(format!("actor of position {}: {e}", record.position)))?;
    Ok(Some(InformantRead {
        concern_id,
        reader,
        read_at: record.recorded_at,
        position: record.position,
    }))
}

/// A case's first event (its report), read alone.
async fn first_event(state: &AppState, stream: &str) -> Result<Option<RecordedEvent>, ApiError> {
    let mut first = state
        .log()
        .read_stream(stream, Direction::Forwards, Some(0), 1)
        .await?;
    Ok(first.pop())
}
