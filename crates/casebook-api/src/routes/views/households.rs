//! The households in the caller's reach (`GET /v1/households`): who is
//! responsible for each now and who was before, its cases by status, its
//! last visit.
//!
//! The list walks the directory (which holds every household, in id
//! order) and keeps those [`crate::visibility::household_visible`] lets
//! the caller see, so it never shows a household the single-household
//! route would answer 404 for; the households view adds the cases and the
//! last visit. Only the head of household's name is shown of a
//! household's personal details.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use casebook_domain::permission::is_within;
use casebook_domain::{Assignment, Household, HouseholdId, Lookups, PersonId, UnitId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::doc::{FreshParams, HouseholdListParams};
use super::params::{bad, Params};
use super::reach::check_unit;
use super::{blocking, reach_now};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::fresh::{MinPosition, Reads};
use crate::state::AppState;
use crate::visibility::household_visible;

/// Households per page when the caller names no `limit`.
pub const PAGE_HOUSEHOLDS_DEFAULT: usize = 50;

/// Households of the directory one request looks at at most before it
/// answers with what it found and a cursor: a province holds a few
/// thousand, so one page of a member's few households is one pass, and a
/// national directory cannot turn one request into a long scan.
pub const HOUSEHOLD_SCAN_MAX: usize = 100_000;

/// How a household cursor starts; the rest is the last household's id.
const HOUSEHOLD_CURSOR: &str = "h.";

/// One period of a member's responsibility for a household.
#[derive(Debug, Serialize, ToSchema)]
pub struct Responsibility {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: Option<String>,
    /// From when (field time).
    pub from: DateTime<Utc>,
    /// Until when; `null` while it lasts.
    pub until: Option<DateTime<Utc>>,
}

/// One household in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdSummary {
    /// The household.
    pub household_id: Uuid,
    /// Its hamlet.
    pub hamlet_id: Uuid,
    /// The hamlet's name.
    pub hamlet_name: Option<String>,
    /// The head of household's name (empty once erased).
    pub head_of_household: String,
    /// Whether its personal data was erased.
    pub erased: bool,
    /// How many people live in it.
    pub size: u16,
    /// The member responsible now.
    pub responsible: Option<Responsibility>,
    /// The members responsible before, oldest first.
    pub before: Vec<Responsibility>,
    /// The field time of the last visit recorded on one of its cases.
    pub last_visit: Option<DateTime<Utc>>,
    /// How many of its cases are in each status.
    pub cases_by_status: BTreeMap<String, u32>,
}

/// A page of households.
#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdList {
    /// The households, in id order.
    pub items: Vec<HouseholdSummary>,
    /// Pass it as `cursor` with the same parameters for the next page;
    /// `null` at the end.
    pub next_cursor: Option<String>,
}

/// What was asked.
#[derive(Debug, Clone, Copy)]
struct Asked {
    unit: Option<UnitId>,
    member: Option<PersonId>,
    limit: usize,
    after: Option<HouseholdId>,
}

fn asked(params: &mut Params, state: &AppState, caller: PersonId) -> Result<Asked, ApiError> {
    let unit = params.uuid("unit")?.map(UnitId);
    let member = match params.one("member")? {
        None => None,
        Some(text) if text.trim() == "me" => Some(caller),
        Some(text) => Some(PersonId(Uuid::parse_str(text.trim()).map_err(|_| {
            bad("member", format!("`{text}` is not `me` or a person id"))
        })?)),
    };
    let max = state.config().page_cases_max;
    let limit = params
        .number("limit", 1, max)?
        .unwrap_or(PAGE_HOUSEHOLDS_DEFAULT.min(max));
    let after = params
        .one("cursor")?
        .map(|text| {
            text.strip_prefix(HOUSEHOLD_CURSOR)
                .and_then(|id| Uuid::parse_str(id).ok())
                .map(HouseholdId)
                .ok_or_else(|| {
                    bad(
                        "cursor",
                        "not a cursor of this list; pass back a `next_cursor`",
                    )
                })
        })
        .transpose()?;
    Ok(Asked {
        unit,
        member,
        limit,
        after,
    })
}

/// The households the caller may see, with who is responsible now and
/// before, their cases by status and their last visit.
#[utoipa::path(get, path = "/v1/households", tag = "views",
    params(HouseholdListParams, FreshParams),
    responses((status = 200, body = HouseholdList),
        (status = "4XX", body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_households(
    State(state): State<AppState>,
    principal: Principal,
    min: MinPosition,
    mut params: Params,
) -> Result<Json<HouseholdList>, ApiError> {
    let asked = asked(&mut params, &state, principal.person_id)?;
    params.finish()?;
    min.wait(&state, Reads::Views).await?;
    blocking(state, move |state| {
        let now = Utc::now();
        let reach = reach_now(state, principal.person_id, now)?;
        let directory = state.directory()?;
        if let Some(unit) = asked.unit {
            if reach.administrator {
                check_unit(&*directory, &[unit], unit)?;
            } else {
                check_unit(&*directory, &reach.case_units(), unit)?;
            }
        }
        let (found, next) = scan(&directory, principal.person_id, &asked, now);
        let items = found
            .into_iter()
            .map(|h| summary(state, &*directory, h))
            .collect::<Result<_, ApiError>>()?;
        Ok(HouseholdList {
            items,
            next_cursor: next.map(|id| format!("{HOUSEHOLD_CURSOR}{}", id.0)),
        })
    })
    .await
    .map(Json)
}

/// The households of a page, and where the next one starts.
fn scan<'d>(
    directory: &'d casebook_domain::Directory,
    caller: PersonId,
    asked: &Asked,
    now: DateTime<Utc>,
) -> (Vec<&'d Household>, Option<HouseholdId>) {
    // Whether a hamlet lies in the unit asked for, and whether the caller's
    // committees or audits reach it: the same for every household there.
    let mut in_unit: HashMap<UnitId, bool> = HashMap::new();
    let mut reached: HashMap<UnitId, bool> = HashMap::new();
    let mut found = Vec::new();
    let mut last = None;
    for household in directory
        .households_after(asked.after)
        .take(HOUSEHOLD_SCAN_MAX)
    {
        last = Some(household.id);
        let member = household.member_at(now);
        if asked.member.is_some_and(|m| member != Some(m)) {
            continue;
        }
        let hamlet = household.hamlet_id;
        if let Some(unit) = asked.unit {
            let inside = *in_unit
                .entry(hamlet)
                .or_insert_with(|| is_within(directory, unit, hamlet));
            if !inside {
                continue;
            }
        }
        let visible = member == Some(caller)
            || *reached
                .entry(hamlet)
                .or_insert_with(|| household_visible(directory, caller, household, now));
        if !visible {
            continue;
        }
        found.push(household);
        if found.len() == asked.limit {
            return (found, last);
        }
    }
    // Without `last` nothing was scanned, so nothing follows.
    let more = last.is_some() && directory.households_after(last).next().is_some();
    (found, if more { last } else { None })
}

fn responsibility(lookups: &dyn Lookups, a: &Assignment) -> Responsibility {
    Responsibility {
        member_id: a.member_id.0,
        name: lookups.person(a.member_id).map(|p| p.name),
        from: a.from,
        until: a.until,
    }
}

fn summary(
    state: &AppState,
    lookups: &dyn Lookups,
    household: &Household,
) -> Result<HouseholdSummary, ApiError> {
    let row = state.projections().household(household.id)?;
    let (current, before): (Vec<&Assignment>, Vec<&Assignment>) = household
        .assignments
        .iter()
        .partition(|a| a.until.is_none());
    Ok(HouseholdSummary {
        household_id: household.id.0,
        hamlet_id: household.hamlet_id.0,
        hamlet_name: lookups.unit(household.hamlet_id).map(|u| u.name),
        head_of_household: household.personal.head_of_household.clone(),
        erased: household.erasure.is_some(),
        size: household.size,
        responsible: current.first().map(|a| responsibility(lookups, a)),
        before: before.iter().map(|a| responsibility(lookups, a)).collect(),
        last_visit: row.as_ref().and_then(|r| r.last_visit),
        cases_by_status: row
            .map(|r| {
                r.cases_by_status()
                    .into_iter()
                    .map(|(status, n)| (status.to_owned(), n))
                    .collect()
            })
            .unwrap_or_default(),
    })
}
