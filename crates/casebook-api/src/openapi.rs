//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/openapi.json`; `/docs` shows it with Swagger UI, whose
//! assets are compiled into the binary (no internet needed).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{audit, concerns, feed, ops, privacy, reads, structure, sync, tokens, views};

/// The whole API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "casebook", description = "An event-sourced case book for residents' concerns."),
    paths(
        reads::me, concerns::report, reads::get_case, reads::get_history,
        concerns::acknowledge, concerns::assign, concerns::record_action, concerns::escalate,
        concerns::refer_out, concerns::answer_referral, concerns::pause_clock,
        concerns::resume_clock, concerns::interim_reply, concerns::resolve,
        concerns::record_feedback, concerns::close, concerns::reopen, concerns::merge,
        concerns::withdraw, concerns::grant_informant_access, sync::sync, feed::feed,
        structure::create_unit, structure::rename_unit, structure::cover_commune,
        structure::uncover_commune, structure::form_committee, structure::register_person,
        structure::grant_role, structure::end_role, structure::register_household,
        reads::get_household, structure::update_household, structure::assign_member,
        structure::end_assignment, tokens::create_token, tokens::list_tokens,
        tokens::revoke_token, ops::healthz, ops::readyz, ops::metrics,
        views::cases::list_concerns, views::cases::household_concerns, views::figures::figures,
        views::households::list_households, views::workload::member_workload,
        audit::audit_key, audit::head, audit::inclusion, audit::consistency,
        privacy::erase_household, privacy::read_informant, privacy::list_informant_reads,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
