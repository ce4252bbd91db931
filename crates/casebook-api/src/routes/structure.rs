//! Command routes on the structure: units and committees, people and their
//! roles, households and the members responsible for them.

use axum::extract::State;
use casebook_domain::{
    CommitteeId, GrantId, Household, HouseholdCommand, HouseholdId, Person, PersonCommand,
    PersonId, Unit, UnitCommand, UnitId,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::body::*;
use crate::command::{execute, CommandMeta, CommandOutcome, Request};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

fn request<C>(stream: String, meta: CommandMeta, command: C) -> Request<C> {
    Request {
        stream,
        meta,
        if_match: None,
        new_stream: false,
        command,
    }
}

/// Create a unit (administrators).
#[utoipa::path(post, path = "/v1/units", tag = "structure", request_body = CreateUnitBody,
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn create_unit(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(b): ApiJson<CreateUnitBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let unit_id = UnitId(new_id(b.unit_id.map(|u| u.0), &meta, "unit"));
    let command = UnitCommand::Create {
        unit_id,
        kind: b.kind,
        name: b.name,
        parent_id: b.parent_id,
    };
    execute::<Option<Unit>>(&state, &principal, request(unit_id.stream(), meta, command)).await
}

async fn unit_command(
    state: &AppState,
    principal: &Principal,
    unit_id: Uuid,
    meta: CommandMeta,
    command: UnitCommand,
) -> Result<CommandOutcome, ApiError> {
    let stream = UnitId(unit_id).stream();
    execute::<Option<Unit>>(state, principal, request(stream, meta, command)).await
}

/// Rename a unit (administrators).
#[utoipa::path(post, path = "/v1/units/{unit_id}/rename", tag = "structure", request_body = RenameUnitBody,
    params(("unit_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn rename_unit(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(unit_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<RenameUnitBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = UnitCommand::Rename {
        name: b.name.clone(),
    };
    unit_command(&state, &principal, unit_id, b.meta(), command).await
}

/// A post takes a commune into its coverage (administrators).
#[utoipa::path(post, path = "/v1/units/{unit_id}/cover", tag = "structure", request_body = CommuneBody,
    params(("unit_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn cover_commune(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(unit_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<CommuneBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = UnitCommand::CoverCommune {
        commune_id: b.commune_id,
    };
    unit_command(&state, &principal, unit_id, b.meta(), command).await
}

/// A post gives a commune up (administrators).
#[utoipa::path(post, path = "/v1/units/{unit_id}/uncover", tag = "structure", request_body = CommuneBody,
    params(("unit_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn uncover_commune(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(unit_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<CommuneBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = UnitCommand::UncoverCommune {
        commune_id: b.commune_id,
    };
    unit_command(&state, &principal, unit_id, b.meta(), command).await
}

/// Form a committee in a unit (administrators).
#[utoipa::path(post, path = "/v1/units/{unit_id}/committees", tag = "structure", request_body = FormCommitteeBody,
    params(("unit_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn form_committee(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(unit_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<FormCommitteeBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let committee_id = CommitteeId(new_id(b.committee_id.map(|c| c.0), &meta, "committee"));
    let command = UnitCommand::FormCommittee {
        committee_id,
        kind: b.kind,
        name: b.name,
    };
    unit_command(&state, &principal, unit_id, meta, command).await
}

/// Register a person (administrators).
#[utoipa::path(post, path = "/v1/people", tag = "structure", request_body = RegisterPersonBody,
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn register_person(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(b): ApiJson<RegisterPersonBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let person_id = PersonId(new_id(b.person_id.map(|p| p.0), &meta, "person"));
    let command = PersonCommand::Register {
        person_id,
        name: b.name,
    };
    execute::<Option<Person>>(
        &state,
        &principal,
        request(person_id.stream(), meta, command),
    )
    .await
}

/// Grant a person a role in a unit (administrators).
#[utoipa::path(post, path = "/v1/people/{person_id}/roles", tag = "structure", request_body = GrantRoleBody,
    params(("person_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn grant_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(person_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<GrantRoleBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let grant_id = GrantId(new_id(b.grant_id.map(|g| g.0), &meta, "grant"));
    let command = PersonCommand::GrantRole {
        grant_id,
        role: b.role,
        unit_id: b.unit_id,
        until: b.until,
    };
    let stream = PersonId(person_id).stream();
    execute::<Option<Person>>(&state, &principal, request(stream, meta, command)).await
}

/// End a role at the field time (administrators).
#[utoipa::path(post, path = "/v1/people/{person_id}/roles/{grant_id}/end", tag = "structure", request_body = EndBody,
    params(("person_id" = Uuid, Path), ("grant_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn end_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((person_id, grant_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(b): ApiJson<EndBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = PersonCommand::EndRole {
        grant_id: GrantId(grant_id),
    };
    let stream = PersonId(person_id).stream();
    execute::<Option<Person>>(&state, &principal, request(stream, b.meta(), command)).await
}

/// Register a household (administrators; committees within their jurisdiction).
#[utoipa::path(post, path = "/v1/households", tag = "structure", request_body = RegisterHouseholdBody,
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn register_household(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(b): ApiJson<RegisterHouseholdBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let household_id = HouseholdId(new_id(b.household_id.map(|h| h.0), &meta, "household"));
    let command = HouseholdCommand::Register {
        household_id,
        hamlet_id: b.hamlet_id,
        personal: b.personal,
        size: b.size,
        circumstances: b.circumstances,
    };
    let stream = household_id.stream();
    execute::<Option<Household>>(&state, &principal, request(stream, meta, command)).await
}

async fn household_command(
    state: &AppState,
    principal: &Principal,
    household_id: Uuid,
    meta: CommandMeta,
    command: HouseholdCommand,
) -> Result<CommandOutcome, ApiError> {
    let stream = HouseholdId(household_id).stream();
    execute::<Option<Household>>(state, principal, request(stream, meta, command)).await
}

/// Replace a household's details.
#[utoipa::path(post, path = "/v1/households/{household_id}/details", tag = "structure", request_body = HouseholdDetailsBody,
    params(("household_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn update_household(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<HouseholdDetailsBody>,
) -> Result<CommandOutcome, ApiError> {
    let meta = b.meta();
    let command = HouseholdCommand::UpdateDetails {
        personal: b.personal,
        size: b.size,
        circumstances: b.circumstances,
    };
    household_command(&state, &principal, household_id, meta, command).await
}

/// Make a member responsible for a household.
#[utoipa::path(post, path = "/v1/households/{household_id}/assignment", tag = "structure", request_body = AssignMemberBody,
    params(("household_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn assign_member(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<AssignMemberBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = HouseholdCommand::AssignMember {
        member_id: b.member_id,
    };
    household_command(&state, &principal, household_id, b.meta(), command).await
}

/// End a household's current assignment.
#[utoipa::path(post, path = "/v1/households/{household_id}/assignment/end", tag = "structure", request_body = EndBody,
    params(("household_id" = Uuid, Path)),
    responses((status = 200, body = CommandOutcome), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn end_assignment(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    ApiJson(b): ApiJson<EndBody>,
) -> Result<CommandOutcome, ApiError> {
    let command = HouseholdCommand::EndAssignment;
    household_command(&state, &principal, household_id, b.meta(), command).await
}
