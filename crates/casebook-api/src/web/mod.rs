//! The web pages, served by `casebook serve` from the same binary as the
//! API: server-rendered HTML (askama templates compiled in), little
//! JavaScript, every asset served from here.
//!
//! The pages read the views with `AppState::projections()` and fold cases
//! from the log exactly like the API's reads, and apply the same
//! authorization (`crate::visibility`, `crate::auth`): a page about
//! something outside a person's reach answers 404. Every form that changes
//! something goes through the API's command path
//! (`routes::concerns::run` → `command::execute`), so the domain decides
//! and the log records it as for any API call; a refusal is shown with the
//! domain's reason. Members' reports and visits are queued in the browser
//! and sent through `POST /v1/sync` (see `assets/app.js`).
//!
//! # Layout
//!
//! - `i18n`: the message catalogues (`i18n/vi.toml`, `i18n/en.toml`).
//! - `format`: dates, numbers and shares as Vietnamese and English write them.
//! - `accounts`: usernames and argon2 password hashes (`<data>/auth`).
//! - `session`: session cookies, CSRF tokens, the [`session::WebUser`] extractor.
//! - `scope`: who is looking, their units and their navigation.
//! - `page`: the layout's data, rendering, error pages, posted forms.
//! - `assets`: the compiled-in CSS, scripts, service worker, icon.
//! - `sign_in`: sign-in, sign-out, the language switch, landing pages.
//! - `svg`: the charts, drawn as SVG on the server.
//! - `csv`: CSV downloads.
//! - `cases`: the case list, the case page and the forms of every step.
//! - `steps`: which steps the domain allows now, and forms → command bodies.
//! - `dashboard`: a committee's figures, charts, review report and CSV.
//! - `member`: "my households", a household's page, reports and visits.
//! - `audit`: a case as of a moment, log verification, sealed-tip reads.

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod cases;
pub mod csv;
pub mod dashboard;
pub mod format;
pub mod i18n;
pub mod member;
pub mod page;
pub mod scope;
pub mod session;
pub mod sign_in;
pub mod steps;
pub mod svg;

#[cfg(test)]
mod tests;

pub use accounts::Accounts;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The routes of the pages, merged into the API's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(sign_in::root))
        .route("/app", get(sign_in::home))
        .route("/app/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/app/sign-out", post(sign_in::sign_out))
        .route("/app/lang", get(sign_in::switch_lang))
        .route("/app/csrf", get(sign_in::csrf))
        .route("/app/account", get(sign_in::account))
        .route("/app/static/{name}", get(assets::serve))
        .route("/app/sw.js", get(assets::service_worker))
        .route("/app/offline", get(member::offline))
        .route("/app/cases", get(cases::list))
        .route("/app/cases.csv", get(cases::csv))
        .route("/app/cases/{concern_id}", get(cases::page))
        .route(
            "/app/cases/{concern_id}/informant",
            post(cases::read_informant),
        )
        .route("/app/cases/{concern_id}/{step}", post(cases::step))
        .route("/app/dashboard", get(dashboard::page))
        .route("/app/report", get(dashboard::report))
        .route("/app/figures.csv", get(dashboard::csv))
        .route("/app/my", get(member::my_households))
        .route("/app/households/{household_id}", get(member::household))
        .route(
            "/app/households/{household_id}/report",
            post(member::report),
        )
        .route("/app/audit", get(audit::overview))
        .route("/app/audit/verify", post(audit::verify))
        .route("/app/audit/cases/{concern_id}", get(audit::case_as_of))
        .route("/app/audit/sealed", get(audit::sealed_reads))
        .route("/app/{*rest}", get(sign_in::not_found))
}
