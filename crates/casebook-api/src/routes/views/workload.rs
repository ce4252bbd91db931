//! A member's workload (`GET /v1/members/{person_id}/workload`): the
//! households assigned to them now, their open and overdue cases, their
//! visits in the last 30 days, and the households they have not visited
//! for `not_visited_days`.
//!
//! Who may read it: the member themselves, and a committee member or
//! auditor whose jurisdiction holds a unit where the member works (the
//! unit of a member grant they hold now, or the hamlet of a household
//! assigned to them now). Anyone else, administrators included (they see
//! no case), gets 404.

use axum::extract::State;
use axum::Json;
use casebook_domain::{HouseholdId, Lookups, PersonId, Role, UnitId};
use casebook_projections::MemberWorkload;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::doc::{FreshParams, WorkloadParams};
use super::params::Params;
use super::reach::holds;
use super::{blocking, reach_now};
use crate::auth::{grants_at, Principal};
use crate::error::{ApiError, Problem};
use crate::extract::ApiPath;
use crate::fresh::{MinPosition, Reads};
use crate::state::AppState;

/// "Not visited for N days" when the caller names no N: the month the
/// directive asks members to see their households in.
pub const NOT_VISITED_DAYS_DEFAULT: u32 = 30;
/// Longest "not visited" window: ten years, more than any history.
pub const NOT_VISITED_DAYS_MAX: u32 = 3_650;

/// One household of a member.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadHousehold {
    /// The household.
    pub household_id: Uuid,
    /// Its hamlet.
    pub hamlet_id: Option<Uuid>,
    /// The hamlet's name.
    pub hamlet_name: Option<String>,
    /// The head of household's name (empty once erased).
    pub head_of_household: Option<String>,
    /// Since when the member is responsible for it (field time).
    pub since: Option<DateTime<Utc>>,
    /// The field time of the last visit recorded on one of its cases.
    pub last_visit: Option<DateTime<Utc>>,
}

/// A member's workload now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Workload {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: String,
    /// The moment it is judged at.
    pub at: DateTime<Utc>,
    /// The households assigned to them now.
    pub households: Vec<WorkloadHousehold>,
    /// Open cases of those households and cases assigned to them in person.
    pub open_cases: u64,
    /// Those of them past their deadline now.
    pub overdue_cases: u64,
    /// Visits they recorded in the last 30 days
    /// (`casebook_projections::VISITS_WINDOW_DAYS`).
    pub visits_last_30_days: u64,
    /// The window of `not_visited`, in days.
    pub not_visited_days: u32,
    /// Their households with no visit in the last `not_visited_days` days.
    pub not_visited: Vec<Uuid>,
}

/// A member's households, open and overdue cases, recent visits, and the
/// households they have not visited for `not_visited_days`.
#[utoipa::path(get, path = "/v1/members/{person_id}/workload", tag = "views",
    params(("person_id" = Uuid, Path), WorkloadParams, FreshParams),
    responses((status = 200, body = Workload),
        (status = "4XX", body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn member_workload(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(person_id): ApiPath<Uuid>,
    min: MinPosition,
    mut params: Params,
) -> Result<Json<Workload>, ApiError> {
    let days = params
        .number("not_visited_days", 1, NOT_VISITED_DAYS_MAX)?
        .unwrap_or(NOT_VISITED_DAYS_DEFAULT);
    params.finish()?;
    min.wait(&state, Reads::Views).await?;
    let member = PersonId(person_id);
    blocking(state, move |state| {
        let now = Utc::now();
        let not_found = || ApiError::not_found(format!("member {person_id}"));
        let workload = state.projections().member(member, now, days)?;
        let households = workload
            .as_ref()
            .map(|w| w.households.clone())
            .unwrap_or_default();
        let caller = if principal.person_id == member {
            None
        } else {
            Some(reach_now(state, principal.person_id, now)?)
        };
        let directory = state.directory()?;
        let Some(person) = directory.person(member) else {
            return Err(not_found());
        };
        let is_member = grants_at(&*directory, member, now)
            .iter()
            .any(|g| g.role == Role::Member);
        if !is_member && workload.is_none() {
            return Err(not_found());
        }
        if let Some(reach) = caller {
            let works_in = work_units(&*directory, member, &households, now);
            if !works_in
                .iter()
                .any(|unit| holds(&*directory, &reach.jurisdictions, *unit))
            {
                return Err(not_found());
            }
        }
        answer(state, &*directory, person.name, workload, member, days, now)
    })
    .await
    .map(Json)
}

/// The units where a member works now: their member grants' units and the
/// hamlets of their households.
fn work_units(
    lookups: &dyn Lookups,
    member: PersonId,
    households: &[HouseholdId],
    now: DateTime<Utc>,
) -> Vec<UnitId> {
    let grants = grants_at(lookups, member, now);
    let granted = grants
        .iter()
        .filter(|g| g.role == Role::Member)
        .map(|g| g.unit_id);
    let hamlets = households
        .iter()
        .filter_map(|h| lookups.household(*h))
        .map(|h| h.hamlet_id);
    granted.chain(hamlets).collect()
}

fn answer(
    state: &AppState,
    lookups: &dyn Lookups,
    name: String,
    workload: Option<MemberWorkload>,
    member: PersonId,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Workload, ApiError> {
    let workload = workload.unwrap_or(MemberWorkload {
        member_id: member,
        households: Vec::new(),
        open_cases: 0,
        overdue_cases: 0,
        visits_last_30_days: 0,
        not_visited: Vec::new(),
    });
    let households = workload
        .households
        .iter()
        .map(|h| household(state, lookups, *h, member))
        .collect::<Result<_, ApiError>>()?;
    Ok(Workload {
        member_id: member.0,
        name,
        at: now,
        households,
        open_cases: workload.open_cases,
        overdue_cases: workload.overdue_cases,
        visits_last_30_days: workload.visits_last_30_days,
        not_visited_days: days,
        not_visited: workload.not_visited.iter().map(|h| h.0).collect(),
    })
}

fn household(
    state: &AppState,
    lookups: &dyn Lookups,
    id: HouseholdId,
    member: PersonId,
) -> Result<WorkloadHousehold, ApiError> {
    let found = lookups.household(id);
    let row = state.projections().household(id)?;
    Ok(WorkloadHousehold {
        household_id: id.0,
        hamlet_id: found.as_ref().map(|h| h.hamlet_id.0),
        hamlet_name: found
            .as_ref()
            .and_then(|h| lookups.unit(h.hamlet_id))
            .map(|u| u.name),
        head_of_household: found.as_ref().map(|h| h.personal.head_of_household.clone()),
        since: found.as_ref().and_then(|h| {
            h.assignments
                .iter()
                .rev()
                .find(|a| a.member_id == member && a.until.is_none())
                .map(|a| a.from)
        }),
        last_visit: row.and_then(|r| r.last_visit),
    })
}
