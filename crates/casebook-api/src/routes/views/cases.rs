//! The case list (`GET /v1/concerns`), with filters, two orders, keyset
//! paging and full-text search; and one household's cases
//! (`GET /v1/households/{household_id}/concerns`).
//!
//! A list scans the cases view under one unit (the unit asked for, or the
//! lowest unit holding the caller's whole reach) and keeps only the cases
//! [`crate::visibility::case_visible`] lets the caller see, so a list never
//! shows what the single-case route would answer 404 for. When that check
//! drops cases (a member sees a few of their post's cases), the list reads
//! further, larger pages of the view to fill the page, within
//! [`LIST_ROWS_MAX`] cases and [`LIST_ROUNDS_MAX`] reads; a page may still
//! come back short with a `next_cursor`, like a page of the view itself.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use casebook_domain::{
    Assignee, CommitteeId, ConcernKind, Context, DeadlineStatus, HouseholdId, Lookups, PersonId,
    Priority, Status, TopicCode, UnitId,
};
use casebook_projections::{
    CaseFilter, CaseItem, CasePage, CaseRow, CaseSort, DeadlineFilter, ProjectionError,
    RenderedJson, SEARCH_HITS_MAX,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::doc::{CaseListParams, FreshParams, HouseholdCaseParams};
use super::params::{bad, Params};
use super::reach::{check_unit, scan_root};
use super::{blocking, reach_now};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::ApiPath;
use crate::fresh::{MinPosition, Reads};
use crate::state::AppState;
use crate::visibility::{case_visible, household_visible};

/// Cases per page when the caller names no `limit`: a screenful.
pub const PAGE_CASES_DEFAULT: usize = 50;

/// Cases of the view one request looks at at most to fill a page whose
/// cases the caller may not all see: a member's post holds a few thousand
/// cases a year, of which theirs are a few dozen, and reading a case is a
/// few microseconds, so one page costs milliseconds, not a full scan.
pub const LIST_ROWS_MAX: usize = 4_000;

/// Reads of the view one request makes at most (each also bounded by the
/// view's own scan limit), whatever the filters.
pub const LIST_ROUNDS_MAX: usize = 20;

/// How a list cursor starts; the rest is the view's own cursor.
const LIST_CURSOR: &str = "l.";
/// How a search cursor starts; the rest is the offset in the ranked hits.
const SEARCH_CURSOR: &str = "s.";

/// One case in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    /// The case's state. Lists never show a tip's sealed informant (read
    /// the case itself for that).
    #[schema(value_type = Object)]
    pub concern: RenderedJson,
    /// The units from the root down to the case's hamlet.
    #[schema(value_type = Vec<Uuid>)]
    pub unit_path: RenderedJson,
    /// When the log recorded its last event.
    pub updated_at: DateTime<Utc>,
    /// Its last event's type.
    pub last_event_type: String,
    /// Its last event's log position.
    pub position: u64,
    /// Where its deadline stands now.
    #[schema(value_type = String)]
    pub deadline_status: DeadlineStatus,
    /// How it matched `q`, in a search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchMatch>,
}

/// How a case matched a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchMatch {
    /// The words matched as written (with their diacritics); exact matches come first.
    pub exact: bool,
    /// The relevance score (BM25) within its group.
    pub score: f32,
    /// The matching passage, with the words in `<b>` (exact matches only).
    pub snippet: String,
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// The cases, in the requested order (search: best match first).
    pub items: Vec<CaseSummary>,
    /// Pass it as `cursor` with the same parameters for the next page;
    /// `null` at the end.
    pub next_cursor: Option<String>,
}

impl CaseList {
    fn empty() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
        }
    }

    /// The answer's size, nearly: the rendered parts, and a little for the
    /// rest of each item, so the body is written without growing.
    fn size_hint(&self) -> usize {
        let rendered = |item: &CaseSummary| item.concern.get().len() + item.unit_path.get().len();
        self.items
            .iter()
            .map(|item| rendered(item) + ITEM_FIELDS_BYTES)
            .sum::<usize>()
            + ITEM_FIELDS_BYTES
    }
}

/// Bytes of an item's fields besides its rendered case and units (the
/// times, the event type, the position, the deadline state, a search match).
const ITEM_FIELDS_BYTES: usize = 256;

/// A list is written into a buffer of about its size (it is tens of
/// kilobytes, and a growing buffer would copy it again and again).
impl IntoResponse for CaseList {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.size_hint());
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
            Err(error) => ApiError::Internal(format!("writing a list: {error}")).into_response(),
        }
    }
}

fn summary(item: CaseItem, search: Option<SearchMatch>) -> Result<CaseSummary, ApiError> {
    Ok(CaseSummary {
        concern: item.concern_json()?,
        unit_path: item.unit_path_json()?,
        updated_at: item.row.updated_at,
        last_event_type: item.row.last_event_type.to_string(),
        position: item.row.position,
        deadline_status: item.deadline_status,
        search,
    })
}

/// The filters, order and page of a list, as asked.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The filters (its `unit` is set when the scan root is known).
    pub filter: CaseFilter,
    /// The order.
    pub sort: CaseSort,
    /// Cases per page.
    pub limit: usize,
    /// The cursor as the caller gave it.
    pub cursor: Option<String>,
}

/// Reads the shared list parameters.
pub fn list_query(
    params: &mut Params,
    state: &AppState,
    caller: PersonId,
) -> Result<ListQuery, ApiError> {
    let mut filter = CaseFilter::unit(UnitId(Uuid::nil()));
    filter.statuses = params.choices::<Status>("status")?;
    filter.kinds = params.choices::<ConcernKind>("kind")?;
    filter.topics = topics(params, state)?;
    filter.priorities = params.choices::<Priority>("priority")?;
    filter.assignee = params
        .one("assignee")?
        .map(|text| assignee(&text, caller))
        .transpose()?;
    filter.deadline = params.choice::<DeadlineFilter>("deadline")?;
    filter.updated_since = params.time("updated_since")?;
    let sort = params.choice::<CaseSort>("sort")?.unwrap_or_default();
    let max = state.config().page_cases_max;
    let limit = params
        .number("limit", 1, max)?
        .unwrap_or(PAGE_CASES_DEFAULT.min(max));
    let cursor = params.one("cursor")?;
    Ok(ListQuery {
        filter,
        sort,
        limit,
        cursor,
    })
}

fn topics(params: &mut Params, state: &AppState) -> Result<Vec<TopicCode>, ApiError> {
    let taxonomy = &state.policy().taxonomy;
    params
        .list("topic")?
        .into_iter()
        .map(|text| {
            let known = TopicCode::new(text.clone())
                .ok()
                .filter(|code| taxonomy.get(code).is_some());
            known.ok_or_else(|| {
                let codes: Vec<&str> = taxonomy.topics().iter().map(|t| t.code.as_str()).collect();
                bad(
                    "topic",
                    format!(
                        "unknown topic `{text}`; the topics are {}",
                        codes.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// `me`, `person:<uuid>` or `committee:<uuid>`.
fn assignee(text: &str, caller: PersonId) -> Result<Assignee, ApiError> {
    let wrong = || {
        bad(
            "assignee",
            format!("`{text}` is not `me`, `person:<uuid>` or `committee:<uuid>`"),
        )
    };
    if text.trim() == "me" {
        return Ok(Assignee::Person { person_id: caller });
    }
    let (kind, id) = text.trim().split_once(':').ok_or_else(wrong)?;
    let id = Uuid::parse_str(id).map_err(|_| wrong())?;
    match kind {
        "person" => Ok(Assignee::Person {
            person_id: PersonId(id),
        }),
        "committee" => Ok(Assignee::Committee {
            committee_id: CommitteeId(id),
        }),
        _ => Err(wrong()),
    }
}

/// The case list: every filter of the cases view, keyset pages, and `q=`
/// for full-text search, within the caller's reach.
#[utoipa::path(get, path = "/v1/concerns", tag = "views",
    params(CaseListParams, FreshParams),
    responses((status = 200, body = CaseList),
        (status = "4XX", body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_concerns(
    State(state): State<AppState>,
    principal: Principal,
    min: MinPosition,
    mut params: Params,
) -> Result<CaseList, ApiError> {
    let unit = params.uuid("unit")?.map(UnitId);
    let q = params.one("q")?;
    let query = list_query(&mut params, &state, principal.person_id)?;
    params.finish()?;
    let cursor = Cursor::parse(query.cursor.as_deref(), q.is_some())?;
    min.wait(&state, Reads::Views).await?;
    blocking(state, move |state| {
        let now = Utc::now();
        let reach = reach_now(state, principal.person_id, now)?;
        let roots = reach.case_units();
        let root = {
            let directory = state.directory()?;
            match unit {
                Some(unit) => {
                    check_unit(&*directory, &roots, unit)?;
                    Some(unit)
                }
                None => scan_root(&*directory, &roots),
            }
        };
        let Some(root) = root else {
            return Ok(CaseList::empty());
        };
        let visible = |row: &CaseRow| sees(state, principal.person_id, now, row);
        match (q, cursor) {
            (Some(q), Cursor::Search(offset)) => {
                search(state, &query, root, &q, offset, now, visible)
            }
            (_, Cursor::List(inner)) => list(state, &query, root, inner, now, visible),
            (None, Cursor::Search(_)) => Err(bad("cursor", "not a cursor of a list")),
        }
    })
    .await
}

/// One household's cases, with the same filters, order and paging as the list.
#[utoipa::path(get, path = "/v1/households/{household_id}/concerns", tag = "views",
    params(("household_id" = Uuid, Path), HouseholdCaseParams, FreshParams),
    responses((status = 200, body = CaseList),
        (status = "4XX", body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn household_concerns(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(household_id): ApiPath<Uuid>,
    min: MinPosition,
    mut params: Params,
) -> Result<CaseList, ApiError> {
    let query = list_query(&mut params, &state, principal.person_id)?;
    params.finish()?;
    let cursor = Cursor::parse(query.cursor.as_deref(), false)?;
    min.wait(&state, Reads::Views).await?;
    let household_id = HouseholdId(household_id);
    blocking(state, move |state| {
        let now = Utc::now();
        let hamlet = {
            let directory = state.directory()?;
            directory
                .household(household_id)
                .filter(|h| household_visible(&*directory, principal.person_id, h, now))
                .map(|h| h.hamlet_id)
                .ok_or_else(|| ApiError::not_found(format!("household {household_id}")))?
        };
        let keep = |row: &CaseRow| {
            row.concern.subject.households().contains(&household_id)
                && sees(state, principal.person_id, now, row)
        };
        let Cursor::List(inner) = cursor else {
            return Err(bad("cursor", "not a cursor of a list"));
        };
        list(state, &query, hamlet, inner, now, keep)
    })
    .await
}

/// Whether the caller may see the case now, exactly as for `GET /v1/concerns/{id}`.
fn sees(state: &AppState, person: PersonId, now: DateTime<Utc>, row: &CaseRow) -> bool {
    let Ok(directory) = state.directory() else {
        return false;
    };
    let ctx = Context::new(person, now, state.policy(), &*directory);
    case_visible(&ctx, &row.concern)
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// The view's cursor (none: the first page).
    List(Option<String>),
    /// The offset in the ranked hits of a search.
    Search(usize),
}

impl Cursor {
    fn parse(cursor: Option<&str>, searching: bool) -> Result<Self, ApiError> {
        let wrong = |what: &str| {
            bad(
                "cursor",
                format!("not a cursor of {what}; pass back a `next_cursor` of the same query"),
            )
        };
        match (cursor, searching) {
            (None, false) => Ok(Cursor::List(None)),
            (None, true) => Ok(Cursor::Search(0)),
            (Some(text), false) => text
                .strip_prefix(LIST_CURSOR)
                .filter(|inner| !inner.is_empty())
                .map(|inner| Cursor::List(Some(inner.to_owned())))
                .ok_or_else(|| wrong("a list")),
            (Some(text), true) => text
                .strip_prefix(SEARCH_CURSOR)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= SEARCH_HITS_MAX)
                .map(Cursor::Search)
                .ok_or_else(|| wrong("a search")),
        }
    }
}

/// A page of the cases view under `root`, keeping what `keep` keeps.
///
/// The first read asks the view for a page of `limit`; when `keep` drops
/// some, the next reads ask for full pages of the view. A read that holds
/// more kept cases than the page still needs is read again, shorter, to
/// end exactly after the last case taken, so that the cursor never skips
/// one.
fn list(
    state: &AppState,
    query: &ListQuery,
    root: UnitId,
    mut cursor: Option<String>,
    now: DateTime<Utc>,
    keep: impl Fn(&CaseRow) -> bool,
) -> Result<CaseList, ApiError> {
    let mut filter = query.filter.clone();
    filter.unit = root;
    let read = |limit: usize, cursor: Option<&str>| {
        state
            .projections()
            .cases(&filter, query.sort, limit, cursor, now)
            .map_err(|error| match error {
                ProjectionError::BadCursor => bad(
                    "cursor",
                    "the cursor is not valid for this order; pass back a `next_cursor` of the same query",
                ),
                other => other.into(),
            })
    };
    let mut items = Vec::new();
    let mut ask = query.limit;
    let mut examined = 0;
    for _ in 0..LIST_ROUNDS_MAX {
        let want = query.limit - items.len();
        let mut page = read(ask, cursor.as_deref())?;
        examined += page.items.len();
        let keeps = |page: &CasePage| -> Vec<bool> {
            page.items.iter().map(|item| keep(&item.row)).collect()
        };
        let mut kept = keeps(&page);
        let kept_count = kept.iter().filter(|k| **k).count();
        if kept_count > want {
            let last = kept
                .iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .nth(want - 1)
                .map_or(page.items.len(), |(i, _)| i);
            page = read(last + 1, cursor.as_deref())?;
            kept = keeps(&page);
        }
        let dropped = page.items.len() > kept_count.min(want);
        for (item, kept) in page.items.into_iter().zip(kept) {
            if kept {
                items.push(summary(item, None)?);
            }
        }
        cursor = page.next_cursor;
        let full = items.len() >= query.limit;
        if cursor.is_none() || full || !dropped || examined >= LIST_ROWS_MAX {
            break;
        }
        ask = casebook_projections::PAGE_CASES_MAX;
    }
    Ok(CaseList {
        items,
        next_cursor: cursor.map(|c| format!("{LIST_CURSOR}{c}")),
    })
}

/// A page of the search hits under `root` that pass the filters and `keep`.
fn search(
    state: &AppState,
    query: &ListQuery,
    root: UnitId,
    q: &str,
    offset: usize,
    now: DateTime<Utc>,
    keep: impl Fn(&CaseRow) -> bool,
) -> Result<CaseList, ApiError> {
    let projections = state.projections();
    let hits = projections
        .search(root, q, SEARCH_HITS_MAX)
        .map_err(|error| match error {
            ProjectionError::InvalidQuery(reason) => bad("q", reason),
            other => other.into(),
        })?;
    let mut kept = Vec::new();
    for hit in hits {
        let Some(row) = projections.case(hit.case_id)? else {
            continue;
        };
        let deadline_status = state.policy().deadline_status(&row.concern, now);
        if !passes(&query.filter, &row, deadline_status) || !keep(&row) {
            continue;
        }
        let found = SearchMatch {
            exact: hit.exact,
            score: hit.score,
            snippet: hit.snippet,
        };
        let item = CaseItem::new(row, deadline_status);
        kept.push(summary(item, Some(found))?);
    }
    let more = kept.len() > offset + query.limit;
    let items = kept.into_iter().skip(offset).take(query.limit).collect();
    Ok(CaseList {
        items,
        next_cursor: more.then(|| format!("{SEARCH_CURSOR}{}", offset + query.limit)),
    })
}

/// The list's filters applied to one search hit (the cases view applies
/// the same ones to a list).
fn passes(filter: &CaseFilter, row: &CaseRow, status: DeadlineStatus) -> bool {
    let c = &row.concern;
    let any = |empty: bool, hit: bool| empty || hit;
    any(
        filter.statuses.is_empty(),
        filter.statuses.contains(&c.status),
    ) && any(filter.kinds.is_empty(), filter.kinds.contains(&c.kind))
        && any(filter.topics.is_empty(), filter.topics.contains(&c.topic))
        && any(
            filter.priorities.is_empty(),
            filter.priorities.contains(&c.priority),
        )
        && filter.assignee.is_none_or(|a| c.assignee == Some(a))
        && filter.updated_since.is_none_or(|t| row.updated_at >= t)
        && filter.deadline.is_none_or(|d| match d {
            DeadlineFilter::Overdue => status == DeadlineStatus::Overdue,
            DeadlineFilter::DueSoon => status == DeadlineStatus::DueSoon,
            DeadlineFilter::OverdueOrDueSoon => {
                matches!(status, DeadlineStatus::Overdue | DeadlineStatus::DueSoon)
            }
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cursors_belong_to_lists_or_to_searches() {
        assert_eq!(Cursor::parse(None, false).unwrap(), Cursor::List(None));
        assert_eq!(Cursor::parse(None, true).unwrap(), Cursor::Search(0));
        assert_eq!(
            Cursor::parse(Some("l.nabc"), false).unwrap(),
            Cursor::List(Some("nabc".to_owned()))
        );
        assert_eq!(
            Cursor::parse(Some("s.20"), true).unwrap(),
            Cursor::Search(20)
        );
        for (text, searching) in [
            ("s.20", false),
            ("l.nabc", true),
            ("l.", false),
            ("s.x", true),
            ("s.1000", true),
            ("garbage", false),
        ] {
            let error = Cursor::parse(Some(text), searching).unwrap_err();
            assert_eq!(error.problem().field.as_deref(), Some("cursor"), "{text}");
        }
    }

    #[test]
    fn an_assignee_is_me_a_person_or_a_committee() {
        let me = PersonId(Uuid::new_v4());
        let id = Uuid::new_v4();
        assert_eq!(
            assignee("me", me).unwrap(),
            Assignee::Person { person_id: me }
        );
        assert_eq!(
            assignee(&format!("committee:{id}"), me).unwrap(),
            Assignee::Committee {
                committee_id: CommitteeId(id)
            }
        );
        assert_eq!(
            assignee(&format!("person:{id}"), me).unwrap(),
            Assignee::Person {
                person_id: PersonId(id)
            }
        );
        for text in ["you", "person:nope", &format!("unit:{id}"), &id.to_string()] {
            let error = assignee(text, me).unwrap_err();
            assert_eq!(error.problem().field.as_deref(), Some("assignee"), "{text}");
        }
    }
}
