//! The case list (filters, diacritic-insensitive search, CSV) and the case
//! page (facts, timeline with actors and both times, and a form for every
//! next step the domain allows).
//!
//! The list reads the cases view (`Projections::cases`, or
//! `Projections::search` when words are given) for a unit the person may
//! read, and checks every case with [`case_visible`], as the API does. The
//! case page folds the case from its stream with the API's
//! [`load_case`] (404 outside the person's reach) and redacts it with
//! [`redact`]; its personal note is shown as the API's [`personal_note`]
//! decides (the note, or when and why it was erased), on this page only:
//! the timeline leaves it out. A step's form posts to
//! `/app/cases/{id}/{step}`, which runs the API's command path; a refusal
//! comes back on the page with the domain's reason and the refusal's
//! status.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use casebook_domain::{
    Assignee, Concern, ConcernId, Context, DeadlineStatus, Lookups, Priority, Status, UnitId,
};
use casebook_projections::{CaseFilter, CaseItem, CaseRow, CaseSort, DeadlineFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::concerns::run;
use crate::routes::reads::{history_event, load_case, personal_note, HistoryEvent, PersonalNote};
use crate::state::AppState;
use crate::visibility::{case_visible, household_visible, may_read_informant, redact};
use crate::web::csv::Csv;
use crate::web::format;
use crate::web::i18n::Lang;
use crate::web::page::{
    fresh_views, render, render_with, Chrome, InLang, Notice, PageError, PageResult, Posted,
};
use crate::web::scope::{UnitRef, Viewer};
use crate::web::session::WebUser;
use crate::web::steps::{allowed_steps, open_referrals, Step};

/// Cases on one page of the list.
pub const LIST_PAGE_CASES: usize = 50;
/// Most rows of a CSV download of the list: a year of a post's cases.
pub const CSV_ROWS_MAX: usize = 5_000;
/// Characters of a case's text shown in the list.
const EXCERPT_CHARS: usize = 140;

/// The snake_case name serde gives a value (`in_progress`, `due_soon`).
pub fn snake<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// A label from the catalogue for an enum value (`status.in_progress`).
pub fn label<T: Serialize>(lang: Lang, group: &str, value: &T) -> String {
    lang.catalog()
        .get(&format!("{group}.{}", snake(value)))
        .to_owned()
}

/// A topic's label in the page's language.
pub fn topic_label(state: &AppState, lang: Lang, code: &str) -> String {
    let Ok(code) = casebook_domain::TopicCode::new(code) else {
        return code.to_owned();
    };
    match state.policy().taxonomy.get(&code) {
        Some(topic) if lang == Lang::En => topic.label_en.clone(),
        Some(topic) => topic.label_vi.clone(),
        None => code.to_string(),
    }
}

/// (code, label) of every topic, for choosers.
pub fn topic_choices(state: &AppState, lang: Lang) -> Vec<(String, String)> {
    state
        .policy()
        .taxonomy
        .topics()
        .iter()
        .map(|t| {
            let label = if lang == Lang::En {
                t.label_en.clone()
            } else {
                t.label_vi.clone()
            };
            (t.code.to_string(), label)
        })
        .collect()
}

/// (value, label) of an enum's values, for choosers.
pub fn choices<T: Serialize>(lang: Lang, group: &str, values: &[T]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| (snake(v), label(lang, group, v)))
        .collect()
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(EXCERPT_CHARS - 1).collect();
    short.push('…');
    short
}

fn unit_name(lookups: &dyn Lookups, unit: UnitId) -> String {
    lookups.unit(unit).map(|u| u.name).unwrap_or_default()
}

/// One case in a list.
#[derive(Debug)]
pub struct CaseLine {
    /// Its id.
    pub id: String,
    /// When it was reported (field time).
    pub reported: String,
    /// Its hamlet's name.
    pub hamlet: String,
    /// Its first household's id (the page links it).
    pub household: String,
    /// Labels.
    pub kind: String,
    /// Its topic's label.
    pub topic: String,
    /// Its priority's label.
    pub priority: String,
    /// Its status's label.
    pub status: String,
    /// Its status's code (for tests and styles).
    pub status_code: String,
    /// Its deadline, if any.
    pub deadline: String,
    /// Where the deadline stands (a CSS class and a label).
    pub deadline_code: String,
    /// The label of that.
    pub deadline_label: String,
    /// The start of its text.
    pub excerpt: String,
}

fn case_line(
    state: &AppState,
    lookups: &dyn Lookups,
    lang: Lang,
    concern: &Concern,
    status: DeadlineStatus,
) -> CaseLine {
    let tz = state.policy().time_zone;
    CaseLine {
        id: concern.id.0.to_string(),
        reported: format::datetime(lang, tz, concern.reported_at),
        hamlet: unit_name(lookups, concern.hamlet_id),
        household: concern
            .subject
            .households()
            .first()
            .map(|h| h.0.to_string())
            .unwrap_or_default(),
        kind: label(lang, "kind", &concern.kind),
        topic: topic_label(state, lang, concern.topic.as_str()),
        priority: label(lang, "priority", &concern.priority),
        status: label(lang, "status", &concern.status),
        status_code: snake(&concern.status),
        deadline: concern
            .deadline
            .map(|d| format::datetime(lang, tz, d))
            .unwrap_or_default(),
        deadline_code: snake(&status),
        deadline_label: label(lang, "deadline", &status),
        excerpt: excerpt(&concern.text),
    }
}

/// The list's filters, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// The unit whose jurisdiction to list.
    pub unit: Option<Uuid>,
    /// A status (snake_case).
    pub status: Option<String>,
    /// A topic code.
    pub topic: Option<String>,
    /// A priority.
    pub priority: Option<String>,
    /// `overdue` or `due_soon`.
    pub deadline: Option<String>,
    /// Words to search for (diacritics optional).
    pub q: Option<String>,
    /// `newest` or `due_date`.
    pub sort: Option<String>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn parse_choice<T: for<'de> Deserialize<'de>>(
    value: Option<&str>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned()))
                .map_err(|_| ApiError::validation(name, format!("`{v}` is not a valid choice")))
        })
        .transpose()
}

impl ListQuery {
    fn filter(&self, unit: UnitId) -> Result<CaseFilter, ApiError> {
        let mut filter = CaseFilter::unit(unit);
        filter
            .statuses
            .extend(parse_choice::<Status>(nonempty(&self.status), "status")?);
        filter.priorities.extend(parse_choice::<Priority>(
            nonempty(&self.priority),
            "priority",
        )?);
        if let Some(topic) = nonempty(&self.topic) {
            filter.topics.push(casebook_domain::TopicCode::new(topic)?);
        }
        filter.deadline = parse_choice::<DeadlineFilter>(nonempty(&self.deadline), "deadline")?;
        Ok(filter)
    }

    fn sort(&self) -> CaseSort {
        match nonempty(&self.sort) {
            Some("due_date") => CaseSort::DueDate,
            _ => CaseSort::Newest,
        }
    }

    /// The query string of these filters (for the CSV link and the next page).
    fn query_string(&self, unit: UnitId, cursor: Option<&str>) -> String {
        let mut pairs = vec![format!("unit={}", unit.0)];
        for (name, value) in [
            ("status", &self.status),
            ("topic", &self.topic),
            ("priority", &self.priority),
            ("deadline", &self.deadline),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if let Some(value) = nonempty(value) {
                pairs.push(format!("{name}={}", crate::web::page::url_encode(value)));
            }
        }
        if let Some(cursor) = cursor {
            pairs.push(format!("cursor={}", crate::web::page::url_encode(cursor)));
        }
        pairs.join("&")
    }
}

/// Whether a search hit passes the list's other filters (the cases view
/// applies them itself to a list).
fn keeps(filter: &CaseFilter, concern: &Concern, status: DeadlineStatus) -> bool {
    (filter.statuses.is_empty() || filter.statuses.contains(&concern.status))
        && (filter.topics.is_empty() || filter.topics.contains(&concern.topic))
        && (filter.priorities.is_empty() || filter.priorities.contains(&concern.priority))
        && match filter.deadline {
            None => true,
            Some(DeadlineFilter::Overdue) => status == DeadlineStatus::Overdue,
            Some(DeadlineFilter::DueSoon) => status == DeadlineStatus::DueSoon,
            Some(DeadlineFilter::OverdueOrDueSoon) => {
                matches!(status, DeadlineStatus::Overdue | DeadlineStatus::DueSoon)
            }
        }
}

/// A page of visible cases and the cursor of the next one.
struct Listed {
    items: Vec<CaseItem>,
    next_cursor: Option<String>,
}

/// Reads one page (or every search hit) of the cases the person may see.
fn list_cases(
    state: &AppState,
    user: &WebUser,
    query: &ListQuery,
    unit: UnitId,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Listed, ApiError> {
    let filter = query.filter(unit)?;
    let now = Utc::now();
    let projections = state.projections();
    let (items, next_cursor) = match nonempty(&query.q) {
        Some(words) => {
            let hits = projections
                .search(unit, words, casebook_projections::SEARCH_HITS_MAX)
                .map_err(view_error)?;
            let mut items = Vec::new();
            for hit in hits {
                if let Some(row) = projections.case(hit.case_id).map_err(view_error)? {
                    let status = state.policy().deadline_status(&row.concern, now);
                    if keeps(&filter, &row.concern, status) {
                        items.push(CaseItem::new(row, status));
                    }
                }
            }
            (items, None)
        }
        None => {
            let page = projections
                .cases(&filter, query.sort(), limit, cursor, now)
                .map_err(view_error)?;
            (page.items, page.next_cursor)
        }
    };
    let directory = state.directory()?;
    let ctx = Context::new(user.principal.person_id, now, state.policy(), &*directory);
    let items = items
        .into_iter()
        .filter(|item| case_visible(&ctx, &item.row.concern))
        .collect();
    Ok(Listed { items, next_cursor })
}

/// A projection error as the API answers it.
pub fn view_error(error: casebook_projections::ProjectionError) -> ApiError {
    use casebook_projections::ProjectionError as E;
    match error {
        E::InvalidQuery(reason) => ApiError::validation("query", reason),
        E::Timeout { .. } | E::ShutDown => ApiError::Unavailable {
            detail: error.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage<'a> {
    c: &'a Chrome,
    unit: &'a UnitRef,
    units: Vec<UnitRef>,
    lines: Vec<CaseLine>,
    query: &'a ListQuery,
    statuses: Vec<(String, String)>,
    topics: Vec<(String, String)>,
    priorities: Vec<(String, String)>,
    deadlines: Vec<(String, String)>,
    next_href: Option<String>,
    csv_href: String,
    fresh: bool,
}

impl ListPage<'_> {
    fn selected(&self, field: &str, value: &str) -> bool {
        let current = match field {
            "status" => &self.query.status,
            "topic" => &self.query.topic,
            "priority" => &self.query.priority,
            "deadline" => &self.query.deadline,
            "sort" => &self.query.sort,
            _ => return false,
        };
        current.as_deref() == Some(value)
    }

    fn q(&self) -> &str {
        self.query.q.as_deref().unwrap_or("")
    }
}

const STATUSES: [Status; 8] = [
    Status::Reported,
    Status::Acknowledged,
    Status::InProgress,
    Status::Paused,
    Status::Resolved,
    Status::Closed,
    Status::Merged,
    Status::Withdrawn,
];
const PRIORITIES: [Priority; 4] = [
    Priority::Urgent,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

/// The unit a committee or auditor page shows, or 404 for anyone else.
pub fn page_unit(
    state: &AppState,
    viewer: &Viewer,
    asked: Option<Uuid>,
) -> Result<UnitRef, ApiError> {
    let directory = state.directory()?;
    viewer
        .unit_for(&*directory, asked.map(UnitId))
        .ok_or_else(|| ApiError::not_found("page"))
}

/// `GET /app/cases`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let lang = user.lang;
    let viewer = Viewer::load(&state, user.principal.person_id).lang(lang)?;
    let unit = page_unit(&state, &viewer, query.unit).lang(lang)?;
    let fresh = fresh_views(&state).await;
    let listed = list_cases(
        &state,
        &user,
        &query,
        unit.id,
        LIST_PAGE_CASES,
        nonempty(&query.cursor),
    )
    .lang(lang)?;
    let lines = {
        let directory = state.directory().lang(lang)?;
        listed
            .items
            .iter()
            .map(|item| {
                case_line(
                    &state,
                    &*directory,
                    lang,
                    &item.row.concern,
                    item.deadline_status,
                )
            })
            .collect()
    };
    let here = format!("/app/cases?{}", query.query_string(unit.id, None));
    let chrome = Chrome::new(&user, &viewer, "cases.title", &here);
    let page = ListPage {
        c: &chrome,
        unit: &unit,
        units: viewer.reading_units(),
        lines,
        query: &query,
        statuses: choices(lang, "status", &STATUSES),
        topics: topic_choices(&state, lang),
        priorities: choices(lang, "priority", &PRIORITIES),
        deadlines: vec![
            (
                "overdue".to_owned(),
                label(lang, "deadline", &DeadlineStatus::Overdue),
            ),
            (
                "due_soon".to_owned(),
                label(lang, "deadline", &DeadlineStatus::DueSoon),
            ),
        ],
        next_href: listed
            .next_cursor
            .as_deref()
            .map(|cursor| format!("/app/cases?{}", query.query_string(unit.id, Some(cursor)))),
        csv_href: format!("/app/cases.csv?{}", query.query_string(unit.id, None)),
        fresh,
    };
    Ok(render(&page))
}

/// `GET /app/cases.csv`: the filtered list (every page, up to
/// [`CSV_ROWS_MAX`] rows).
pub async fn csv(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let lang = user.lang;
    let viewer = Viewer::load(&state, user.principal.person_id).lang(lang)?;
    let unit = page_unit(&state, &viewer, query.unit).lang(lang)?;
    fresh_views(&state).await;
    let mut rows: Vec<CaseItem> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let listed = list_cases(
            &state,
            &user,
            &query,
            unit.id,
            casebook_projections::PAGE_CASES_MAX,
            cursor.as_deref(),
        )
        .lang(lang)?;
        rows.extend(listed.items);
        cursor = listed.next_cursor;
        if cursor.is_none() || rows.len() >= CSV_ROWS_MAX {
            break;
        }
    }
    rows.truncate(CSV_ROWS_MAX);
    let catalog = lang.catalog();
    let mut file = Csv::new();
    file.row(&[
        catalog.get("csv.case_id"),
        catalog.get("csv.reported_at"),
        catalog.get("csv.hamlet"),
        catalog.get("csv.kind"),
        catalog.get("csv.topic"),
        catalog.get("csv.priority"),
        catalog.get("csv.status"),
        catalog.get("csv.deadline"),
        catalog.get("csv.deadline_status"),
        catalog.get("csv.text"),
    ]);
    let tz = state.policy().time_zone;
    let directory = state.directory().lang(lang)?;
    for item in &rows {
        let c = &item.row.concern;
        file.row(&[
            c.id.0.to_string(),
            c.reported_at.with_timezone(&tz).to_rfc3339(),
            unit_name(&*directory, c.hamlet_id),
            label(lang, "kind", &c.kind),
            topic_label(&state, lang, c.topic.as_str()),
            label(lang, "priority", &c.priority),
            label(lang, "status", &c.status),
            c.deadline
                .map(|d| d.with_timezone(&tz).to_rfc3339())
                .unwrap_or_default(),
            label(lang, "deadline", &item.deadline_status),
            c.text.clone(),
        ]);
    }
    Ok(file.into_download("cases.csv"))
}

/// A case's facts, ready to show.
#[derive(Debug)]
pub struct CaseFacts {
    /// Its id.
    pub id: String,
    /// Status label and code.
    pub status: String,
    /// The code of it.
    pub status_code: String,
    /// Labels.
    pub kind: String,
    /// Topic label.
    pub topic: String,
    /// Priority label.
    pub priority: String,
    /// Confidentiality label.
    pub confidentiality: String,
    /// Hamlet name.
    pub hamlet: String,
    /// (id, label, whether the reader may open it).
    pub households: Vec<(String, String, bool)>,
    /// Who reported it.
    pub reported_by: String,
    /// When, in the field.
    pub reported_at: String,
    /// Deadline, if set.
    pub deadline: String,
    /// Where it stands (code and label).
    pub deadline_code: String,
    /// Label of that.
    pub deadline_label: String,
    /// Who handles it.
    pub assignee: String,
    /// The unit answering for it.
    pub handling_unit: String,
    /// The resident's words.
    pub text: String,
    /// The sealed informant, if this reader may read it.
    pub informant: Option<String>,
    /// How it was resolved.
    pub outcome: Option<String>,
    /// The resident's feedback.
    pub feedback: Option<String>,
    /// Escalations, in words.
    pub escalations: Vec<String>,
    /// Referrals, in words.
    pub referrals: Vec<String>,
    /// Offline commands that conflicted.
    pub sync_conflicts: u32,
    /// The stream revision (the forms' `If-Match`).
    pub revision: u64,
}

fn person_name(lookups: &dyn Lookups, person: casebook_domain::PersonId) -> String {
    lookups
        .person(person)
        .map(|p| p.name)
        .unwrap_or_else(|| person.0.to_string())
}

fn committee_name(lookups: &dyn Lookups, committee: casebook_domain::CommitteeId) -> String {
    lookups
        .committee(committee)
        .map(|c| {
            let unit = unit_name(lookups, c.unit_id);
            format!("{} ({unit})", c.name)
        })
        .unwrap_or_else(|| committee.0.to_string())
}

fn assignee_name(lookups: &dyn Lookups, assignee: Option<Assignee>) -> String {
    match assignee {
        Some(Assignee::Committee { committee_id }) => committee_name(lookups, committee_id),
        Some(Assignee::Person { person_id }) => person_name(lookups, person_id),
        None => String::new(),
    }
}

/// The facts of a case as this reader may see them.
pub fn facts(
    state: &AppState,
    lookups: &dyn Lookups,
    lang: Lang,
    reader: casebook_domain::PersonId,
    concern: &Concern,
    revision: u64,
    now: DateTime<Utc>,
) -> CaseFacts {
    let tz = state.policy().time_zone;
    let shown = redact(reader, concern);
    let status = state.policy().deadline_status(concern, now);
    let catalog = lang.catalog();
    let households = concern
        .subject
        .households()
        .into_iter()
        .map(|id| {
            let household = lookups.household(id);
            let visible = household
                .as_ref()
                .is_some_and(|h| household_visible(lookups, reader, h, now));
            let name = household
                .filter(|_| visible)
                .map(|h| h.personal.head_of_household)
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| catalog.get("case.household").to_owned());
            (id.0.to_string(), name, visible)
        })
        .collect();
    CaseFacts {
        id: concern.id.0.to_string(),
        status: label(lang, "status", &concern.status),
        status_code: snake(&concern.status),
        kind: label(lang, "kind", &concern.kind),
        topic: topic_label(state, lang, concern.topic.as_str()),
        priority: label(lang, "priority", &concern.priority),
        confidentiality: label(lang, "confidentiality", &concern.confidentiality),
        hamlet: unit_name(lookups, concern.hamlet_id),
        households,
        reported_by: person_name(lookups, concern.reported_by),
        reported_at: format::datetime(lang, tz, concern.reported_at),
        deadline: concern
            .deadline
            .map(|d| format::datetime(lang, tz, d))
            .unwrap_or_default(),
        deadline_code: snake(&status),
        deadline_label: label(lang, "deadline", &status),
        assignee: assignee_name(lookups, concern.assignee),
        handling_unit: unit_name(lookups, concern.handling_unit_id),
        text: concern.text.clone(),
        informant: shown.sealed_informant.map(|i| {
            [Some(i.name), i.contact, i.note]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ")
        }),
        outcome: concern.outcome.as_ref().map(|o| outcome_text(lang, o)),
        feedback: concern.feedback.as_ref().map(|f| {
            let key = if f.satisfied {
                "case.satisfied"
            } else {
                "case.not_satisfied"
            };
            format!("{}: {}", catalog.get(key), f.comment)
        }),
        escalations: concern
            .escalations
            .iter()
            .map(|e| match e {
                casebook_domain::EscalationTarget::Committee { committee_id, .. } => {
                    committee_name(lookups, *committee_id)
                }
                casebook_domain::EscalationTarget::StateBody { name } => name.clone(),
            })
            .collect(),
        referrals: concern
            .referrals
            .iter()
            .map(|r| {
                let answer = r
                    .answer
                    .clone()
                    .unwrap_or_else(|| catalog.get("case.no_answer_yet").to_owned());
                format!("#{} {} — {}: {answer}", r.referral_no, r.body, r.reason)
            })
            .collect(),
        sync_conflicts: concern.sync_conflicts,
        revision,
    }
}

fn outcome_text(lang: Lang, outcome: &casebook_domain::Outcome) -> String {
    let catalog = lang.catalog();
    match outcome {
        casebook_domain::Outcome::Resolved => catalog.get("outcome.resolved").to_owned(),
        casebook_domain::Outcome::PartlyResolved => {
            catalog.get("outcome.partly_resolved").to_owned()
        }
        casebook_domain::Outcome::Referred { body } => {
            format!("{}: {body}", catalog.get("outcome.referred"))
        }
        casebook_domain::Outcome::Declined { reason } => {
            format!("{}: {reason}", catalog.get("outcome.declined"))
        }
    }
}

/// One entry of a timeline.
#[derive(Debug)]
pub struct TimelineItem {
    /// What happened (label of the event type).
    pub what: String,
    /// The event type, as stored.
    pub event_type: String,
    /// Who did it.
    pub actor: String,
    /// When it happened in the field.
    pub occurred: String,
    /// When the log recorded it.
    pub recorded: String,
    /// Its log position.
    pub position: u64,
    /// Its revision in the stream.
    pub revision: u64,
    /// Its payload, as (field, value) pairs.
    pub details: Vec<(String, String)>,
}

/// A history entry for the timeline.
pub fn timeline_item(state: &AppState, lang: Lang, event: &HistoryEvent) -> TimelineItem {
    let tz = state.policy().time_zone;
    let catalog = lang.catalog();
    let key = format!("event.{}", event.event_type.replace('.', "_"));
    let what = if catalog.has(&key) {
        catalog.get(&key).to_owned()
    } else {
        event.event_type.clone()
    };
    TimelineItem {
        what,
        event_type: event.event_type.clone(),
        actor: event
            .actor
            .name
            .clone()
            .unwrap_or_else(|| event.actor.person_id.to_string()),
        occurred: format::datetime(lang, tz, event.occurred_at),
        recorded: format::datetime(lang, tz, event.recorded_at),
        position: event.position,
        revision: event.revision,
        details: details(&event.data),
    }
}

/// Characters of a payload value shown in a timeline entry.
const DETAIL_CHARS_MAX: usize = 400;

/// Payload fields a timeline never shows: the subject (shown elsewhere on
/// the page) and the personal note (only the case page's own box shows it).
const HIDDEN_DETAILS: [&str; 2] = ["subject", "personal_note"];

/// The payload's fields a reader cares about, as text: ids, the subject
/// and the personal note are left out.
fn details(data: &serde_json::Value) -> Vec<(String, String)> {
    let Some(object) = data.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .filter(|(key, value)| {
            !value.is_null()
                && !key.ends_with("_id")
                && !key.ends_with("_ids")
                && !HIDDEN_DETAILS.contains(&key.as_str())
        })
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), text.chars().take(DETAIL_CHARS_MAX).collect())
        })
        .collect()
}

/// What a step's form offers to choose from.
#[derive(Debug, Default)]
pub struct Choices {
    /// Topics.
    pub topics: Vec<(String, String)>,
    /// Priorities.
    pub priorities: Vec<(String, String)>,
    /// Kinds of action.
    pub actions: Vec<(String, String)>,
    /// Committees and people the case may be assigned to.
    pub assignees: Vec<(String, String)>,
    /// Committees above the handling unit.
    pub above: Vec<(String, String)>,
    /// Referrals waiting for an answer.
    pub referrals: Vec<u32>,
}

/// The units from `unit` up to the root.
fn path_up(lookups: &dyn Lookups, unit: UnitId) -> Vec<casebook_domain::Unit> {
    let mut path = Vec::new();
    let mut next = Some(unit);
    while let Some(id) = next {
        let Some(unit) = lookups.unit(id) else { break };
        next = unit.parent_id;
        path.push(unit);
        if path.len() > 16 {
            break;
        }
    }
    path
}

fn choices_for(
    state: &AppState,
    lookups: &dyn Lookups,
    lang: Lang,
    viewer: &Viewer,
    concern: &Concern,
) -> Choices {
    let committee_option = |c: &casebook_domain::Committee, unit: &str| {
        (c.committee_id.0.to_string(), format!("{} ({unit})", c.name))
    };
    let mut assignees = Vec::new();
    for unit in path_up(lookups, concern.hamlet_id) {
        if viewer.may_read_unit(lookups, unit.id) {
            for c in &unit.committees {
                let (id, name) = committee_option(c, &unit.name);
                assignees.push((format!("committee:{id}"), name));
            }
        }
    }
    let mut people = vec![viewer.person_id, concern.reported_by];
    for household in concern.subject.households() {
        if let Some(member) = lookups
            .household(household)
            .and_then(|h| h.member_at(Utc::now()))
        {
            people.push(member);
        }
    }
    people.dedup();
    for person in people {
        let entry = (format!("person:{}", person.0), person_name(lookups, person));
        if !assignees.contains(&entry) {
            assignees.push(entry);
        }
    }
    let above = path_up(lookups, concern.handling_unit_id)
        .into_iter()
        .skip(1)
        .flat_map(|unit| {
            unit.committees
                .iter()
                .map(|c| committee_option(c, &unit.name))
                .collect::<Vec<_>>()
        })
        .collect();
    Choices {
        topics: topic_choices(state, lang),
        priorities: choices(lang, "priority", &PRIORITIES),
        actions: choices(
            lang,
            "action",
            &[
                casebook_domain::ActionKind::Visit,
                casebook_domain::ActionKind::Advice,
                casebook_domain::ActionKind::Support,
                casebook_domain::ActionKind::Meeting,
                casebook_domain::ActionKind::Other,
            ],
        ),
        assignees,
        above,
        referrals: open_referrals(concern),
    }
}

/// A step's form on the case page.
#[derive(Debug)]
pub struct StepForm {
    /// The step's name (URL, ids, catalogue).
    pub slug: &'static str,
    /// A fresh command id: a form posted twice writes once.
    pub command_id: String,
}

/// A case's personal note, ready to show.
#[derive(Debug)]
pub enum NoteView {
    /// None was written.
    Absent,
    /// The note.
    Shown(String),
    /// Erased: when, by whom and why, in words.
    Erased(String),
}

/// The personal note in the page's words.
fn note_view(lookups: &dyn Lookups, lang: Lang, tz: chrono_tz::Tz, note: PersonalNote) -> NoteView {
    let catalog = lang.catalog();
    match note {
        PersonalNote::Absent => NoteView::Absent,
        PersonalNote::Shown(text) => NoteView::Shown(text),
        PersonalNote::Erased(None) => {
            NoteView::Erased(catalog.get("case.personal_erased_plain").to_owned())
        }
        PersonalNote::Erased(Some(erasure)) => NoteView::Erased(catalog.fill(
            "case.personal_erased",
            &[
                ("when", &format::datetime(lang, tz, erasure.erased_at)),
                ("by", &person_name(lookups, erasure.erased_by)),
                ("reason", &erasure.reason),
            ],
        )),
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    c: &'a Chrome,
    case: CaseFacts,
    note: NoteView,
    may_read_informant: bool,
    read_command_id: String,
    timeline: Vec<TimelineItem>,
    steps: Vec<StepForm>,
    choices: Choices,
    current_topic: String,
    current_priority: String,
    auditor: bool,
    now_local: String,
}

impl CasePage<'_> {
    fn is_selected(&self, field: &str, value: &str) -> bool {
        match field {
            "topic" => self.current_topic == value,
            "priority" => self.current_priority == value,
            _ => false,
        }
    }
}

/// Renders the case page, with a notice and a status (after a refused step).
async fn case_page(
    state: &AppState,
    user: &WebUser,
    concern_id: ConcernId,
    notice: Option<Notice>,
    status: StatusCode,
) -> PageResult {
    case_page_with(state, user, concern_id, notice, status, None).await
}

/// The case page; `informant` is a tip's informant just read on the record.
async fn case_page_with(
    state: &AppState,
    user: &WebUser,
    concern_id: ConcernId,
    notice: Option<Notice>,
    status: StatusCode,
    informant: Option<String>,
) -> PageResult {
    let lang = user.lang;
    let viewer = Viewer::load(state, user.principal.person_id).lang(lang)?;
    let case = load_case(state, &user.principal, concern_id)
        .await
        .lang(lang)?;
    let (events, concern, revision) = (&case.events, &case.concern, case.revision);
    let now = Utc::now();
    let directory = state.directory().lang(lang)?;
    let reveal = redact(user.principal.person_id, concern)
        .sealed_informant
        .is_some();
    let timeline = events
        .iter()
        .map(|(r, e)| history_event(&*directory, r, e, reveal))
        .collect::<Result<Vec<_>, _>>()
        .lang(lang)?
        .iter()
        .map(|event| timeline_item(state, lang, event))
        .collect();
    let ctx = Context::new(user.principal.person_id, now, state.policy(), &*directory);
    let steps = allowed_steps(concern, &ctx)
        .into_iter()
        .map(|step| StepForm {
            slug: step.slug(),
            command_id: Uuid::new_v4().to_string(),
        })
        .collect();
    let here = format!("/app/cases/{}", concern_id.0);
    let mut chrome = Chrome::new(user, &viewer, "case.title", &here);
    chrome.notice = notice;
    let mut case = facts(
        state,
        &*directory,
        lang,
        user.principal.person_id,
        concern,
        revision,
        now,
    );
    case.informant = informant;
    let note = note_view(
        &*directory,
        lang,
        state.policy().time_zone,
        personal_note(&*directory, events, concern),
    );
    let page = CasePage {
        c: &chrome,
        note,
        may_read_informant: may_read_informant(user.principal.person_id, concern),
        read_command_id: Uuid::new_v4().to_string(),
        case,
        timeline,
        steps,
        choices: choices_for(state, &*directory, lang, &viewer, concern),
        current_topic: concern.topic.to_string(),
        current_priority: snake(&concern.priority),
        auditor: viewer.is_auditor(),
        now_local: format::datetime_input(state.policy().time_zone, now),
    };
    Ok(render_with(status, &page))
}

/// Query of the case page.
#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    /// The step just done (shown as a notice).
    pub done: Option<String>,
}

/// `GET /app/cases/{id}`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Path(concern_id): Path<String>,
    Query(query): Query<CaseQuery>,
) -> PageResult {
    let lang = user.lang;
    let concern_id = parse_case_id(lang, &concern_id)?;
    let notice = query.done.as_deref().and_then(Step::from_slug).map(|step| {
        let key = format!("step.{}", step.slug());
        let name = lang.catalog().get(&key);
        Notice::ok(lang.catalog().fill("case.done", &[("step", name)]))
    });
    case_page(&state, &user, concern_id, notice, StatusCode::OK).await
}

/// A case id from a path, or a 404 page.
pub fn parse_case_id(lang: Lang, text: &str) -> Result<ConcernId, PageError> {
    Uuid::parse_str(text)
        .map(ConcernId)
        .map_err(|_| PageError::new(lang, ApiError::not_found("case")))
}

/// What a refusal says to a person: the rule's sentence from the
/// catalogue, with the domain's own words after it.
pub fn refusal_text(lang: Lang, error: &ApiError) -> String {
    let catalog = lang.catalog();
    match error {
        ApiError::Forbidden {
            rule: Some(rule), ..
        } if catalog.has(&format!("rule.{rule}")) => {
            format!("{} ({})", catalog.get(&format!("rule.{rule}")), error)
        }
        ApiError::Conflict { .. } => {
            format!("{} ({error})", catalog.get("error.illegal_transition"))
        }
        ApiError::Validation { field, reason } => catalog.fill(
            "error.field",
            &[("field", field.as_str()), ("reason", reason.as_str())],
        ),
        other => crate::web::page::error_text(lang, other),
    }
}

/// `POST /app/cases/{id}/{step}`: runs the step through the API's command
/// path; back to the case page, with the domain's reason if it refused.
pub async fn step(
    State(state): State<AppState>,
    Path((concern_id, step)): Path<(String, String)>,
    posted: Posted,
) -> PageResult {
    let user = posted.user;
    let lang = user.lang;
    let concern_id = parse_case_id(lang, &concern_id)?;
    let Some(step) = Step::from_slug(&step) else {
        return Err(PageError::new(lang, ApiError::not_found("step")));
    };
    let if_match = posted
        .fields
        .get("revision")
        .and_then(|r| r.parse::<u64>().ok());
    let outcome = match step.body(&posted.fields, state.policy().time_zone) {
        Ok(body) => run(&state, &user.principal, concern_id, if_match, body).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Ok(
            Redirect::to(&format!("/app/cases/{}?done={}", concern_id.0, step.slug()))
                .into_response(),
        ),
        Err(error) if error.status().is_server_error() => Err(PageError::new(lang, error)),
        Err(ApiError::NotFound { .. }) => Err(PageError::new(lang, ApiError::not_found("case"))),
        Err(error) => {
            let notice = Notice::error(refusal_text(lang, &error));
            case_page(&state, &user, concern_id, Some(notice), error.status()).await
        }
    }
}

/// Loads one case row from the cases view, if the person may see it.
pub fn visible_row(
    state: &AppState,
    person: casebook_domain::PersonId,
    case: ConcernId,
) -> Result<Option<CaseRow>, ApiError> {
    let Some(row) = state.projections().case(case).map_err(view_error)? else {
        return Ok(None);
    };
    let directory = state.directory()?;
    let ctx = Context::new(person, Utc::now(), state.policy(), &*directory);
    Ok(case_visible(&ctx, &row.concern).then_some(row))
}

/// A response for a page handler that only redirects.
pub fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

/// `POST /app/cases/{id}/informant`: reads a tip's sealed informant through
/// the API's route, which records the read (`concern.informant_read`)
/// before it answers; the case page then shows it, this once.
pub async fn read_informant(
    State(state): State<AppState>,
    Path(concern_id): Path<String>,
    posted: Posted,
) -> PageResult {
    let user = posted.user;
    let lang = user.lang;
    let concern_id = parse_case_id(lang, &concern_id)?;
    let command_id = posted
        .fields
        .get("command_id")
        .and_then(|id| Uuid::parse_str(id).ok());
    let body = crate::body::EndBody {
        command_id,
        occurred_at: None,
    };
    let answer = crate::routes::privacy::read_informant(
        State(state.clone()),
        user.principal,
        crate::extract::ApiPath(concern_id.0),
        crate::extract::ApiJson(body),
    )
    .await;
    match answer {
        Ok(axum::Json(answer)) => {
            let catalog = lang.catalog();
            let informant = answer.informant.map_or_else(
                || catalog.get("case.informant_erased").to_owned(),
                |i| {
                    [Some(i.name), i.contact, i.note]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · ")
                },
            );
            let notice = Notice::ok(catalog.get("case.informant_recorded"));
            case_page_with(
                &state,
                &user,
                concern_id,
                Some(notice),
                StatusCode::OK,
                Some(informant),
            )
            .await
        }
        Err(error) if error.status().is_server_error() => Err(PageError::new(lang, error)),
        Err(ApiError::NotFound { .. }) => Err(PageError::new(lang, ApiError::not_found("case"))),
        Err(error) => {
            let notice = Notice::error(refusal_text(lang, &error));
            case_page(&state, &user, concern_id, Some(notice), error.status()).await
        }
    }
}
