//! The OpenAPI description of the view routes' parameters.
//!
//! The view routes read their parameters one by one ([`super::params`]),
//! so there is no struct to derive `IntoParams` from; these marker types
//! describe them instead, once each, for every route that takes them.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::Required;
use utoipa::IntoParams;

use crate::fresh::{MIN_POSITION_HEADER, MIN_POSITION_PARAM};

/// The statuses of a case, as the API writes them.
pub const STATUSES: &[&str] = &[
    "reported",
    "acknowledged",
    "in_progress",
    "paused",
    "resolved",
    "closed",
    "merged",
    "withdrawn",
];
/// The kinds of a case.
pub const KINDS: &[&str] = &[
    "concern",
    "aspiration",
    "complaint",
    "petition",
    "tip",
    "request_for_help",
];
/// The priorities.
pub const PRIORITIES: &[&str] = &["urgent", "high", "normal", "low"];
/// The deadline filters.
pub const DEADLINES: &[&str] = &["overdue", "due_soon", "overdue_or_due_soon"];
/// The sort orders of a case list.
pub const SORTS: &[&str] = &["newest", "due_date"];
/// The lengths of a figures period.
pub const GRANULARITIES: &[&str] = &["day", "month", "quarter", "year"];

/// What a parameter holds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Uuid,
    Date,
    Time,
    Integer,
    /// One or more of these values, comma-separated or repeated.
    List(&'static [&'static str]),
    /// One of these values.
    Choice(&'static [&'static str]),
}

fn param(name: &str, place: ParameterIn, kind: Kind, description: &str) -> Parameter {
    let schema = ObjectBuilder::new();
    let schema = match kind {
        Kind::Text => schema.schema_type(Type::String),
        Kind::Uuid => schema
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        Kind::Date => schema
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        Kind::Time => schema
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        Kind::Integer => schema
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
        Kind::List(values) => schema
            .schema_type(Type::String)
            .description(Some(format!("comma-separated: {}", values.join(", ")))),
        Kind::Choice(values) => schema
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied())),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema.build()))
        .build()
}

fn query(name: &str, kind: Kind, description: &str) -> Parameter {
    param(name, ParameterIn::Query, kind, description)
}

/// The filters, order and paging shared by every case list.
fn case_filters() -> Vec<Parameter> {
    vec![
        query("status", Kind::List(STATUSES), "Any of these statuses."),
        query("kind", Kind::List(KINDS), "Any of these kinds."),
        query(
            "topic",
            Kind::Text,
            "Any of these topic codes (comma-separated), from the configured taxonomy.",
        ),
        query(
            "priority",
            Kind::List(PRIORITIES),
            "Any of these priorities.",
        ),
        query(
            "assignee",
            Kind::Text,
            "Handled by `me`, `person:<uuid>` or `committee:<uuid>`.",
        ),
        query(
            "deadline",
            Kind::Choice(DEADLINES),
            "Overdue, due soon, or either, judged now.",
        ),
        query(
            "updated_since",
            Kind::Time,
            "Changed (recorded by the log) at or after this moment (RFC 3339).",
        ),
        query(
            "sort",
            Kind::Choice(SORTS),
            "Latest reported first (default), or earliest deadline first.",
        ),
        query(
            "limit",
            Kind::Integer,
            "Cases per page: 1 to `limits.page_cases_max` (200), 50 by default.",
        ),
        query(
            "cursor",
            Kind::Text,
            "The `next_cursor` of the previous page of the same query.",
        ),
    ]
}

/// Parameters of `GET /v1/concerns`.
#[derive(Debug)]
pub struct CaseListParams;

impl IntoParams for CaseListParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![
            query(
                "unit",
                Kind::Uuid,
                "Only this unit's jurisdiction (it must lie in the caller's reach, else 404).",
            ),
            query(
                "q",
                Kind::Text,
                "Words the case's text holds, with or without diacritics; exact matches first; \
                 at most the 100 best matches are paged.",
            ),
        ];
        params.extend(case_filters());
        params
    }
}

/// Parameters of `GET /v1/households/{household_id}/concerns`.
#[derive(Debug)]
pub struct HouseholdCaseParams;

impl IntoParams for HouseholdCaseParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        case_filters()
    }
}

/// Parameters of `GET /v1/figures`.
#[derive(Debug)]
pub struct FiguresParams;

impl IntoParams for FiguresParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query(
                "unit",
                Kind::Uuid,
                "The unit (its whole jurisdiction); by default the caller's only committee or \
                 audited unit.",
            ),
            query(
                "granularity",
                Kind::Choice(GRANULARITIES),
                "Length of each period (default month).",
            ),
            query(
                "from",
                Kind::Date,
                "First day (extended to the start of its period); default 1 January of `to`'s year.",
            ),
            query(
                "to",
                Kind::Date,
                "Last day (extended to the end of its period); default today.",
            ),
        ]
    }
}

/// Parameters of `GET /v1/households`.
#[derive(Debug)]
pub struct HouseholdListParams;

impl IntoParams for HouseholdListParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query(
                "unit",
                Kind::Uuid,
                "Only households in this unit's jurisdiction (in the caller's reach, else 404).",
            ),
            query(
                "member",
                Kind::Text,
                "Only households this member (`me` or a person id) is responsible for now.",
            ),
            query(
                "limit",
                Kind::Integer,
                "Households per page: 1 to `limits.page_cases_max` (200), 50 by default.",
            ),
            query(
                "cursor",
                Kind::Text,
                "The `next_cursor` of the previous page.",
            ),
        ]
    }
}

/// Parameters of `GET /v1/members/{person_id}/workload`.
#[derive(Debug)]
pub struct WorkloadParams;

impl IntoParams for WorkloadParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query(
            "not_visited_days",
            Kind::Integer,
            "List the households with no visit in this many days before now (1 to 3650, default 30).",
        )]
    }
}

/// The minimum log position every query accepts (read-your-writes).
#[derive(Debug)]
pub struct FreshParams;

impl IntoParams for FreshParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let what = "Answer only once the data read reflects this log position (a command's \
                    `position`); waits at most `limits.read_wait_ms`, else 503 with Retry-After.";
        vec![
            query(MIN_POSITION_PARAM, Kind::Integer, what),
            param(
                MIN_POSITION_HEADER,
                ParameterIn::Header,
                Kind::Integer,
                what,
            ),
        ]
    }
}
