//! The HTTP API of the case book: every command and the reads that need no
//! projection, secured by bearer tokens and documented with OpenAPI.
//!
//! A command is read from the case's (or unit's, person's, household's)
//! stream, folded, checked against the domain's rules and appended durably
//! to the log; it answers the log position reached. Reads fold a case from
//! its stream. The list, figures, household and member views come with the
//! projections crate (see `routes::views`).
//!
//! # Layout
//!
//! - `bootstrap`: the root unit and first administrator of an empty log.
//! - `config`: the limits, each a named constant with its reason.
//! - `error`: [`ApiError`], answered as `application/problem+json`.
//! - `extract`: strict JSON bodies, path and query parameters, `If-Match`.
//! - `auth`: bearer tokens to a [`Principal`]; per-token rate limiting.
//! - `tokens`: the token store (hashes only) beside the log.
//! - `visibility`: who may see a case or a household (else 404).
//! - `fresh`: read-your-writes: a query waits for a minimum log position.
//! - `state`: [`AppState`]; the directory that follows the log.
//! - `codec`: domain events to log records and back; event ids.
//! - `command`: [`command::execute`], the path of every command.
//! - `body`: the command bodies.
//! - `routes`: the route table and every handler.
//! - `metrics`: Prometheus metrics and the latency middleware.
//! - `openapi`: the OpenAPI document.
//! - `web`: the web pages for committees, members and auditors.
//! - [`serve`]: run the router until shutdown, then drain.

pub mod auth;
pub mod body;
pub mod bootstrap;
pub mod case_cache;
pub mod codec;
pub mod command;
pub mod config;
pub mod error;
pub mod extract;
pub mod fresh;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod tokens;
pub mod visibility;
pub mod web;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use auth::Principal;
pub use config::ApiConfig;
pub use error::ApiError;
pub use routes::router;
pub use state::{AppState, Stores};
pub use tokens::{TokenError, TokenRecord, TokenStore};

use std::future::Future;

use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish, and ends live feeds.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cancel = state.shutdown().clone();
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            cancel.cancel();
        })
        .await
}
