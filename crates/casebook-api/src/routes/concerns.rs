//! Command routes on cases: report, and every step of a case's life.
//!
//! Each route takes its body, the case id from the path and `If-Match`,
//! and answers a [`CommandOutcome`] with the position reached in the
//! `Casebook-Position` header and the case's new revision as `ETag`.

use axum::extract::State;
use casebook_domain::{Concern, ConcernId};
use uuid::Uuid;

use crate::auth::Principal;
use crate::body::*;
use crate::command::{execute, read_stream_all, CommandOutcome, Request};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, IfMatch};
use crate::state::AppState;

/// Runs any command on a case.
pub async fn run(
    state: &AppState,
    principal: &Principal,
    concern_id: ConcernId,
    if_match: Option<u64>,
    body: ConcernCommandBody,
) -> Result<CommandOutcome, ApiError> {
    run_on(state, principal, concern_id, if_match, body, false).await
}

/// Runs any command on a case; `new_stream` as in [`Request`].
async fn run_on(
    state: &AppState,
    principal: &Principal,
    concern_id: ConcernId,
    if_match: Option<u64>,
    body: ConcernCommandBody,
    new_stream: bool,
) -> Result<CommandOutcome, ApiError> {
    if let ConcernCommandBody::MergeInto(merge) = &body {
        check_merge_target(state, merge.into_concern_id).await?;
    }
    let meta = body.meta();
    let request = Request {
        stream: concern_id.stream(),
        meta,
        if_match,
        new_stream,
        command: body.into_command(concern_id),
    };
    execute::<Option<Concern>>(state, principal, request).await
}

/// The domain leaves it to the API to check that a merge target exists.
async fn check_merge_target(state: &AppState, target: ConcernId) -> Result<(), ApiError> {
    if read_stream_all(state, &target.stream()).await?.is_empty() {
        return Err(ApiError::validation("into_concern_id", "no such case"));
    }
    Ok(())
}

/// Log a new case.
#[utoipa::path(post, path = "/v1/concerns", tag = "concerns",
    request_body = ReportBody,
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<CommandOutcome, ApiError> {
    // An id made here (at random, or from the command's id) names a
    // stream nobody has written to, unless this is a retry.
    let new_stream = body.concern_id.is_none();
    let concern_id = body
        .concern_id
        .unwrap_or_else(|| new_concern_id(&body.meta()));
    run_on(
        &state,
        &principal,
        concern_id,
        None,
        body.into(),
        new_stream,
    )
    .await
}

macro_rules! concern_command {
    ($fn:ident, $path:tt, $body:ident, $variant:ident, $doc:tt) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "concerns", summary = $doc,
            params(("concern_id" = Uuid, Path, description = "The case"),
                ("If-Match" = Option<String>, Header, description = "The revision last seen, e.g. \"3\"")),
            request_body = $body,
            responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
            security(("bearer" = [])))]
        pub async fn $fn(
            State(state): State<AppState>,
            principal: Principal,
            ApiPath(concern_id): ApiPath<Uuid>,
            IfMatch(if_match): IfMatch,
            ApiJson(body): ApiJson<$body>,
        ) -> Result<CommandOutcome, ApiError> {
            let body = ConcernCommandBody::$variant(body);
            run(&state, &principal, ConcernId(concern_id), if_match, body).await
        }
    };
}

concern_command!(
    acknowledge,
    "/v1/concerns/{concern_id}/acknowledge",
    AcknowledgeBody,
    Acknowledge,
    "Triage a case: topic, priority, deadline."
);
concern_command!(
    assign,
    "/v1/concerns/{concern_id}/assign",
    AssignBody,
    Assign,
    "Assign a handler."
);
concern_command!(
    record_action,
    "/v1/concerns/{concern_id}/actions",
    RecordActionBody,
    RecordAction,
    "Record a visit, advice, support or meeting."
);
concern_command!(
    escalate,
    "/v1/concerns/{concern_id}/escalate",
    EscalateBody,
    Escalate,
    "Escalate to a higher committee or a state body."
);
concern_command!(
    refer_out,
    "/v1/concerns/{concern_id}/referrals",
    ReferOutBody,
    ReferOut,
    "Refer to a body outside the tree."
);
concern_command!(
    answer_referral,
    "/v1/concerns/{concern_id}/referral-answers",
    AnswerReferralBody,
    AnswerReferral,
    "Record a referred body's answer."
);
concern_command!(
    pause_clock,
    "/v1/concerns/{concern_id}/pause",
    PauseClockBody,
    PauseClock,
    "Stop the deadline clock."
);
concern_command!(
    resume_clock,
    "/v1/concerns/{concern_id}/resume",
    ResumeClockBody,
    ResumeClock,
    "Start the deadline clock again."
);
concern_command!(
    interim_reply,
    "/v1/concerns/{concern_id}/interim-replies",
    InterimReplyBody,
    InterimReply,
    "Give an interim reply with a new deadline."
);
concern_command!(
    resolve,
    "/v1/concerns/{concern_id}/resolve",
    ResolveBody,
    Resolve,
    "Resolve a case."
);
concern_command!(
    record_feedback,
    "/v1/concerns/{concern_id}/feedback",
    FeedbackBody,
    RecordFeedback,
    "Record the resident's feedback."
);
concern_command!(
    close,
    "/v1/concerns/{concern_id}/close",
    CloseBody,
    Close,
    "Close a resolved case."
);
concern_command!(
    reopen,
    "/v1/concerns/{concern_id}/reopen",
    ReopenBody,
    Reopen,
    "Reopen a resolved or closed case."
);
concern_command!(
    merge,
    "/v1/concerns/{concern_id}/merge",
    MergeBody,
    MergeInto,
    "Merge a duplicate into another case."
);
concern_command!(
    withdraw,
    "/v1/concerns/{concern_id}/withdraw",
    WithdrawBody,
    Withdraw,
    "Withdraw a case."
);
concern_command!(
    grant_informant_access,
    "/v1/concerns/{concern_id}/informant-grants",
    GrantInformantBody,
    GrantInformantAccess,
    "Let a person read a tip's sealed informant (recorded as an event)."
);
