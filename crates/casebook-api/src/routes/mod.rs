//! The route table and the layers around it.
//!
//! - `concerns`: command routes on cases.
//! - `structure`: command routes on units, people, households.
//! - `reads`: a case, its history, a household, the caller.
//! - `feed`: the SSE feed.
//! - `sync`: offline batches.
//! - `tokens`: token administration.
//! - `ops`: health, readiness, metrics.
//! - `audit`: the tree-head key, signed tree heads, inclusion and consistency proofs.
//! - `views`: the queries that read the views: case list and search,
//!   figures (JSON, CSV), households, a household's cases, workloads.

pub mod audit;
pub mod concerns;
pub mod feed;
pub mod ops;
pub mod privacy;
pub mod reads;
pub mod structure;
pub mod sync;
pub mod tokens;
pub mod views;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Every route of the API, with its layers.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let api = Router::new()
        .route("/v1/me", get(reads::me))
        .route("/v1/concerns", post(concerns::report))
        .route("/v1/concerns/{concern_id}", get(reads::get_case))
        .route("/v1/concerns/{concern_id}/history", get(reads::get_history))
        .route(
            "/v1/concerns/{concern_id}/acknowledge",
            post(concerns::acknowledge),
        )
        .route("/v1/concerns/{concern_id}/assign", post(concerns::assign))
        .route(
            "/v1/concerns/{concern_id}/actions",
            post(concerns::record_action),
        )
        .route(
            "/v1/concerns/{concern_id}/escalate",
            post(concerns::escalate),
        )
        .route(
            "/v1/concerns/{concern_id}/referrals",
            post(concerns::refer_out),
        )
        .route(
            "/v1/concerns/{concern_id}/referral-answers",
            post(concerns::answer_referral),
        )
        .route(
            "/v1/concerns/{concern_id}/pause",
            post(concerns::pause_clock),
        )
        .route(
            "/v1/concerns/{concern_id}/resume",
            post(concerns::resume_clock),
        )
        .route(
            "/v1/concerns/{concern_id}/interim-replies",
            post(concerns::interim_reply),
        )
        .route("/v1/concerns/{concern_id}/resolve", post(concerns::resolve))
        .route(
            "/v1/concerns/{concern_id}/feedback",
            post(concerns::record_feedback),
        )
        .route("/v1/concerns/{concern_id}/close", post(concerns::close))
        .route("/v1/concerns/{concern_id}/reopen", post(concerns::reopen))
        .route("/v1/concerns/{concern_id}/merge", post(concerns::merge))
        .route(
            "/v1/concerns/{concern_id}/withdraw",
            post(concerns::withdraw),
        )
        .route(
            "/v1/concerns/{concern_id}/informant-grants",
            post(concerns::grant_informant_access),
        )
        .route(
            "/v1/concerns/{concern_id}/informant",
            post(privacy::read_informant),
        )
        .route(
            "/v1/households/{household_id}/erase",
            post(privacy::erase_household),
        )
        .route("/v1/informant-reads", get(privacy::list_informant_reads))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/feed", get(feed::feed))
        .route("/v1/units", post(structure::create_unit))
        .route("/v1/units/{unit_id}/rename", post(structure::rename_unit))
        .route("/v1/units/{unit_id}/cover", post(structure::cover_commune))
        .route(
            "/v1/units/{unit_id}/uncover",
            post(structure::uncover_commune),
        )
        .route(
            "/v1/units/{unit_id}/committees",
            post(structure::form_committee),
        )
        .route("/v1/people", post(structure::register_person))
        .route("/v1/people/{person_id}/roles", post(structure::grant_role))
        .route(
            "/v1/people/{person_id}/roles/{grant_id}/end",
            post(structure::end_role),
        )
        .route("/v1/households", post(structure::register_household))
        .route("/v1/households/{household_id}", get(reads::get_household))
        .route(
            "/v1/households/{household_id}/details",
            post(structure::update_household),
        )
        .route(
            "/v1/households/{household_id}/assignment",
            post(structure::assign_member),
        )
        .route(
            "/v1/households/{household_id}/assignment/end",
            post(structure::end_assignment),
        )
        .route(
            "/v1/tokens",
            post(tokens::create_token).get(tokens::list_tokens),
        )
        .route("/v1/tokens/{token_id}", delete(tokens::revoke_token))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(views::router())
        .route("/.well-known/casebook-audit-key", get(audit::audit_key))
        .route("/v1/audit/head", get(audit::head))
        .route("/v1/audit/inclusion", get(audit::inclusion))
        .route("/v1/audit/consistency", get(audit::consistency))
        .merge(crate::web::router())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed);
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(GlobalConcurrencyLimitLayer::new(config.concurrency_max))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.body_bytes_max));
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(layers)
        .with_state(state)
}

async fn fallback() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
