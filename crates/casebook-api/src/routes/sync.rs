//! `POST /v1/sync`: commands recorded offline, applied in device order.
//!
//! Each command must carry the id the device gave it. Per command the
//! answer is one of: applied; already applied (a retry: nothing written);
//! conflict (the case moved on: the revision the device saw is stale, or
//! the command is no longer allowed in the case's state), in which case a
//! `concern.sync_conflict_marked` event is written on the case, under the
//! command's own id, so that its committee sees it must reconcile, and the
//! case's current state is returned; or rejected, with the problem. Since
//! every outcome that writes is keyed by the command id, a batch retried in
//! any order writes nothing twice. A fault of ours (5xx) stops the batch
//! and fails the whole request; retrying it is safe.

use axum::extract::State;
use axum::Json;
use casebook_domain::{fold, Concern, ConcernCommand, ConcernId, Context};
use casebook_log::RecordedEvent;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::body::ConcernCommandBody;
use crate::codec::decode;
use crate::command::{
    execute, prior_outcome, read_stream_all, CommandMeta, CommandOutcome, Request,
};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::concerns::run;
use crate::routes::reads::CaseView;
use crate::state::AppState;
use crate::visibility::{case_visible, redact};

/// A batch of commands recorded offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBatch {
    /// The commands, in the order the device recorded them.
    pub commands: Vec<SyncItem>,
}

/// One command recorded offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncItem {
    /// The case.
    #[schema(value_type = Uuid)]
    pub concern_id: ConcernId,
    /// The case's revision the device last saw; a conflict if it moved on.
    #[serde(default)]
    pub expected_revision: Option<u64>,
    /// The command, tagged by `type` (`report`, `record_action`…), with its
    /// `command_id` (required here) and `occurred_at`.
    pub command: ConcernCommandBody,
}

/// What happened to one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Written now.
    Applied,
    /// Written before; nothing written now.
    AlreadyApplied,
    /// The case moved on; the conflict is marked on the case.
    Conflict,
    /// Refused (see `problem`); nothing written.
    Rejected,
}

/// The answer for one command.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResult {
    /// Its index in the batch.
    pub index: usize,
    /// Its command id.
    pub command_id: Option<Uuid>,
    /// What happened.
    pub status: SyncStatus,
    /// Where its events (or the conflict mark) are.
    pub outcome: Option<CommandOutcome>,
    /// The case as it stands, on a conflict.
    pub case: Option<CaseView>,
    /// Why it was refused, when rejected.
    pub problem: Option<Problem>,
}

/// The answer to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAnswer {
    /// One result per command, in order.
    pub results: Vec<SyncResult>,
}

/// Apply a batch of commands recorded offline.
#[utoipa::path(post, path = "/v1/sync", tag = "concerns", request_body = SyncBatch,
    responses((status = 200, body = SyncAnswer), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(batch): ApiJson<SyncBatch>,
) -> Result<Json<SyncAnswer>, ApiError> {
    let max = state.config().sync_commands_max;
    if batch.commands.len() > max {
        return Err(ApiError::validation(
            "commands",
            format!("at most {max} commands per batch"),
        ));
    }
    state
        .metrics()
        .sync_batch
        .observe(batch.commands.len() as f64);
    let mut results = Vec::with_capacity(batch.commands.len());
    for (index, item) in batch.commands.into_iter().enumerate() {
        results.push(sync_one(&state, &principal, index, item).await?);
    }
    Ok(Json(SyncAnswer { results }))
}

async fn sync_one(
    state: &AppState,
    principal: &Principal,
    index: usize,
    item: SyncItem,
) -> Result<SyncResult, ApiError> {
    let meta = item.command.meta();
    let mut result = SyncResult {
        index,
        command_id: meta.command_id,
        status: SyncStatus::Rejected,
        outcome: None,
        case: None,
        problem: None,
    };
    let Some(command_id) = meta.command_id else {
        let error = ApiError::validation(
            format!("commands[{index}].command.command_id"),
            "required in a sync batch",
        );
        result.problem = Some(error.problem());
        return Ok(result);
    };
    let stream = item.concern_id.stream();
    let history = read_stream_all(state, &stream).await?;
    if let Some(prior) = prior_outcome(&history, &stream, command_id) {
        let was_conflict = prior
            .events
            .iter()
            .all(|e| e.event_type == "concern.sync_conflict_marked");
        if was_conflict {
            result.case = case_view(state, principal, &history).await?;
            result.status = SyncStatus::Conflict;
        } else {
            result.status = SyncStatus::AlreadyApplied;
        }
        result.outcome = Some(prior);
        return Ok(result);
    }
    let name = item.command.clone().into_command(item.concern_id).name();
    let attempt = run(
        state,
        principal,
        item.concern_id,
        item.expected_revision,
        item.command,
    )
    .await;
    match attempt {
        Ok(outcome) => {
            result.status = match outcome.status {
                crate::command::CommandStatus::Applied => SyncStatus::Applied,
                crate::command::CommandStatus::AlreadyApplied => SyncStatus::AlreadyApplied,
            };
            result.outcome = Some(outcome);
        }
        Err(error) if is_conflict(&error) && !history.is_empty() => {
            let mark = mark_conflict(state, principal, item.concern_id, meta, name, &error).await;
            match mark {
                Ok(outcome) => {
                    result.status = SyncStatus::Conflict;
                    result.outcome = Some(outcome);
                    let history = read_stream_all(state, &stream).await?;
                    result.case = case_view(state, principal, &history).await?;
                }
                Err(mark_error) if mark_error.status().is_server_error() => return Err(mark_error),
                Err(_) => result.problem = Some(error.problem()),
            }
        }
        Err(error) if error.status().is_server_error() => return Err(error),
        Err(error) => result.problem = Some(error.problem()),
    }
    Ok(result)
}

fn is_conflict(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::PreconditionFailed { .. } | ApiError::Conflict { .. }
    )
}

async fn mark_conflict(
    state: &AppState,
    principal: &Principal,
    concern_id: ConcernId,
    meta: CommandMeta,
    command: &str,
    error: &ApiError,
) -> Result<CommandOutcome, ApiError> {
    let request = Request {
        stream: concern_id.stream(),
        meta: CommandMeta {
            command_id: meta.command_id,
            occurred_at: None,
        },
        if_match: None,
        new_stream: false,
        command: ConcernCommand::MarkSyncConflict {
            command_id: meta.command_id.unwrap_or_default(),
            command: command.to_owned(),
            reason: error.to_string(),
        },
    };
    execute::<Option<Concern>>(state, principal, request).await
}

async fn case_view(
    state: &AppState,
    principal: &Principal,
    history: &[RecordedEvent],
) -> Result<Option<CaseView>, ApiError> {
    let events = history.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let Some(concern) = fold::<Option<Concern>>(&events) else {
        return Ok(None);
    };
    let directory = state.directory()?;
    let now = Utc::now();
    let ctx = Context::new(principal.person_id, now, state.policy(), &*directory);
    if !case_visible(&ctx, &concern) {
        return Ok(None);
    }
    Ok(Some(CaseView {
        deadline_status: state.policy().deadline_status(&concern, now),
        concern: redact(principal.person_id, &concern),
        revision: history.last().map_or(0, |e| e.revision),
        as_of: None,
    }))
}
