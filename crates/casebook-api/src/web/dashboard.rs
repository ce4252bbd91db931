//! A committee's figures: the dashboard with its charts, the printable
//! review-meeting report (sơ kết) for a chosen period, and the figures as
//! CSV.
//!
//! All three read the figures view (`Projections::figures`) for a unit the
//! person may read (their committee's, or one below it): the whole period
//! once, and each month of it for the monthly charts. The period is whole
//! months, at most [`PERIOD_MONTHS_MAX`].

use askama::Template;
use axum::extract::{Query, State};
use casebook_projections::{Figures, FiguresReport, Granularity};
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::cases::{page_unit, topic_label, view_error};
use crate::web::csv::Csv;
use crate::web::format;
use crate::web::i18n::Lang;
use crate::web::page::{fresh_views, render, Chrome, InLang, PageResult};
use crate::web::scope::{UnitRef, Viewer};
use crate::web::session::WebUser;
use crate::web::svg::{self, Caption, Series};

/// Longest period one page shows: two years of months.
pub const PERIOD_MONTHS_MAX: u32 = 24;
/// Months shown when no period is chosen: the last twelve, this one included.
const DEFAULT_MONTHS: u32 = 12;

/// The period and unit asked for.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    /// The unit (its whole jurisdiction).
    pub unit: Option<Uuid>,
    /// First month, `YYYY-MM` (or a date, whose month counts).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (or a date).
    pub to: Option<String>,
}

/// A period of whole months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// Its first day.
    pub first: NaiveDate,
    /// Its last day.
    pub last: NaiveDate,
}

fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn month_end(date: NaiveDate) -> NaiveDate {
    month_start(date)
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(date)
}

fn parse_month(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let text = text.trim();
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
        .map_err(|_| ApiError::validation(name, "a month is written YYYY-MM"))
}

impl Period {
    /// The period asked for, or the last twelve months up to `today`.
    pub fn from_query(query: &PeriodQuery, today: NaiveDate) -> Result<Self, ApiError> {
        let last = match query.to.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(to) => month_end(parse_month("to", to)?),
            None => month_end(today),
        };
        let first = match query.from.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(from) => month_start(parse_month("from", from)?),
            None => month_start(last)
                .checked_sub_months(Months::new(DEFAULT_MONTHS - 1))
                .unwrap_or(last),
        };
        if last < first {
            return Err(ApiError::validation(
                "to",
                "the period ends before it starts",
            ));
        }
        let period = Period { first, last };
        if period.months().len() > PERIOD_MONTHS_MAX as usize {
            return Err(ApiError::validation(
                "from",
                format!("a period is at most {PERIOD_MONTHS_MAX} months"),
            ));
        }
        Ok(period)
    }

    /// The first day of each month of the period.
    pub fn months(&self) -> Vec<NaiveDate> {
        let mut months = Vec::new();
        let mut month = month_start(self.first);
        while month <= self.last && months.len() <= PERIOD_MONTHS_MAX as usize {
            months.push(month);
            match month.checked_add_months(Months::new(1)) {
                Some(next) => month = next,
                None => break,
            }
        }
        months
    }

    /// `YYYY-MM` of its first and last month (the inputs' values).
    pub fn inputs(&self) -> (String, String) {
        (
            self.first.format("%Y-%m").to_string(),
            self.last.format("%Y-%m").to_string(),
        )
    }
}

/// The figures a page shows: the period's, and each month's.
struct Gathered {
    report: FiguresReport,
    months: Vec<(NaiveDate, Figures)>,
}

fn gather(state: &AppState, unit: &UnitRef, period: Period) -> Result<Gathered, ApiError> {
    let now = Utc::now();
    let projections = state.projections();
    let report = projections
        .figures(unit.id, Granularity::Month, period.first, period.last, now)
        .map_err(view_error)?;
    let months = period
        .months()
        .into_iter()
        .map(|month| {
            projections
                .figures(unit.id, Granularity::Month, month, month_end(month), now)
                .map(|r| (month, r.total))
                .map_err(view_error)
        })
        .collect::<Result<_, _>>()?;
    Ok(Gathered { report, months })
}

/// One headline figure.
#[derive(Debug)]
pub struct Card {
    /// Its name (tests and CSV).
    pub name: &'static str,
    /// Its label.
    pub label: String,
    /// Its value, formatted.
    pub value: String,
    /// Its raw value, if a count.
    pub raw: String,
}

fn satisfied_share(f: &Figures) -> (u64, u64) {
    let c = &f.counters;
    (c.satisfied, c.satisfied + c.not_satisfied)
}

fn cards(lang: Lang, f: &Figures) -> Vec<Card> {
    let c = &f.counters;
    let catalog = lang.catalog();
    let count = |name: &'static str, value: u64| Card {
        name,
        label: catalog.get(&format!("figure.{name}")).to_owned(),
        value: format::number(lang, value),
        raw: value.to_string(),
    };
    let share = |name: &'static str, (part, whole): (u64, u64)| Card {
        name,
        label: catalog.get(&format!("figure.{name}")).to_owned(),
        value: format::percent(lang, part, whole),
        raw: format::share(part, whole)
            .map(|s| format!("{s:.4}"))
            .unwrap_or_default(),
    };
    vec![
        count("received", c.received),
        count("resolved", c.resolved),
        share("on_time_share", (c.resolved_on_time, c.resolved)),
        count("open_now", f.open_now),
        count("overdue_now", f.overdue_now),
        count("escalated", c.escalated),
        Card {
            name: "resolve_median",
            label: catalog.get("figure.resolve_median").to_owned(),
            value: format::hours(lang, f.resolve_p50_hours),
            raw: f
                .resolve_p50_hours
                .map(|h| format!("{h:.2}"))
                .unwrap_or_default(),
        },
        share("satisfied_share", satisfied_share(f)),
    ]
}

/// One row of a breakdown table.
#[derive(Debug)]
pub struct BreakdownRow {
    /// Unit name or topic label.
    pub name: String,
    /// Counts and shares, formatted.
    pub received: String,
    /// Resolved.
    pub resolved: String,
    /// Share resolved on time.
    pub on_time: String,
    /// Open now.
    pub open_now: String,
    /// Overdue now.
    pub overdue_now: String,
    /// Escalated.
    pub escalated: String,
    /// Median time to resolve.
    pub median: String,
    /// 90th percentile.
    pub p90: String,
    /// Share satisfied.
    pub satisfied: String,
}

fn breakdown_row(lang: Lang, name: String, f: &Figures) -> BreakdownRow {
    let c = &f.counters;
    let (sat, sat_whole) = satisfied_share(f);
    BreakdownRow {
        name,
        received: format::number(lang, c.received),
        resolved: format::number(lang, c.resolved),
        on_time: format::percent(lang, c.resolved_on_time, c.resolved),
        open_now: format::number(lang, f.open_now),
        overdue_now: format::number(lang, f.overdue_now),
        escalated: format::number(lang, c.escalated),
        median: format::hours(lang, f.resolve_p50_hours),
        p90: format::hours(lang, f.resolve_p90_hours),
        satisfied: format::percent(lang, sat, sat_whole),
    }
}

/// The shared content of the dashboard and the report.
struct Content {
    cards: Vec<Card>,
    months: Vec<BreakdownRow>,
    units: Vec<BreakdownRow>,
    topics: Vec<BreakdownRow>,
    chart_months: String,
    chart_on_time: String,
    chart_overdue: String,
    chart_topics: String,
}

fn content(state: &AppState, lang: Lang, gathered: &Gathered) -> Content {
    let catalog = lang.catalog();
    let month_label = |m: &NaiveDate| format::month_year(lang, m.year(), m.month());
    // The charts name months short (the period is in the heading); the
    // first month shows its year.
    let labels: Vec<String> = gathered
        .months
        .iter()
        .enumerate()
        .map(|(index, (m, _))| {
            if index == 0 {
                month_label(m)
            } else {
                format::month_short(lang, m.month())
            }
        })
        .collect();
    let count = |v: f64| format::number(lang, v.round() as u64);
    let chart_months = svg::grouped_bars(
        &Caption {
            id: "chart-months",
            title: catalog.get("chart.months"),
            desc: catalog.get("chart.months_desc"),
            empty: catalog.get("chart.empty"),
        },
        &labels,
        &[
            Series {
                name: catalog.get("figure.received").to_owned(),
                class: "received",
                values: gathered
                    .months
                    .iter()
                    .map(|(_, f)| f.counters.received as f64)
                    .collect(),
            },
            Series {
                name: catalog.get("figure.resolved").to_owned(),
                class: "resolved",
                values: gathered
                    .months
                    .iter()
                    .map(|(_, f)| f.counters.resolved as f64)
                    .collect(),
            },
        ],
        None,
        &count,
    );
    let chart_on_time = svg::grouped_bars(
        &Caption {
            id: "chart-on-time",
            title: catalog.get("chart.on_time"),
            desc: catalog.get("chart.on_time_desc"),
            empty: catalog.get("chart.empty"),
        },
        &labels,
        &[Series {
            name: catalog.get("figure.on_time_share").to_owned(),
            class: "resolved",
            values: gathered
                .months
                .iter()
                .map(|(_, f)| {
                    format::share(f.counters.resolved_on_time, f.counters.resolved)
                        .map_or(0.0, |s| s * 100.0)
                })
                .collect(),
        }],
        Some(100.0),
        &|v| format!("{}%", format::number(lang, v.round() as u64)),
    );
    let overdue_rows: Vec<(String, f64)> = gathered
        .report
        .by_unit
        .iter()
        .map(|u| (u.name.clone(), u.figures.overdue_now as f64))
        .collect();
    let chart_overdue = svg::horizontal_bars(
        &Caption {
            id: "chart-overdue",
            title: catalog.get("chart.overdue"),
            desc: catalog.get("chart.overdue_desc"),
            empty: catalog.get("chart.empty"),
        },
        &overdue_rows,
        "overdue",
        &count,
    );
    let mut topic_rows: Vec<(String, f64)> = gathered
        .report
        .by_topic
        .iter()
        .map(|(code, f)| (topic_label(state, lang, code), f.counters.received as f64))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    topic_rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let chart_topics = svg::horizontal_bars(
        &Caption {
            id: "chart-topics",
            title: catalog.get("chart.topics"),
            desc: catalog.get("chart.topics_desc"),
            empty: catalog.get("chart.empty"),
        },
        &topic_rows,
        "topic",
        &count,
    );
    Content {
        cards: cards(lang, &gathered.report.total),
        months: gathered
            .months
            .iter()
            .map(|(m, f)| breakdown_row(lang, month_label(m), f))
            .collect(),
        units: gathered
            .report
            .by_unit
            .iter()
            .map(|u| breakdown_row(lang, u.name.clone(), &u.figures))
            .collect(),
        topics: gathered
            .report
            .by_topic
            .iter()
            .map(|(code, f)| breakdown_row(lang, topic_label(state, lang, code), f))
            .collect(),
        chart_months,
        chart_on_time,
        chart_overdue,
        chart_topics,
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    c: &'a Chrome,
    unit: &'a UnitRef,
    units: Vec<UnitRef>,
    below: Vec<(String, String)>,
    from: String,
    to: String,
    period: String,
    content: Content,
    fresh: bool,
    query: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    c: &'a Chrome,
    unit: &'a UnitRef,
    units: Vec<UnitRef>,
    from: String,
    to: String,
    period: String,
    generated: String,
    content: Content,
    fresh: bool,
    query: String,
}

/// What the three handlers share: the person, the unit, the period.
struct Asked {
    viewer: Viewer,
    unit: UnitRef,
    period: Period,
}

fn asked(state: &AppState, user: &WebUser, query: &PeriodQuery) -> Result<Asked, ApiError> {
    let viewer = Viewer::load(state, user.principal.person_id)?;
    if !viewer.is_committee() && !viewer.is_auditor() {
        return Err(ApiError::not_found("page"));
    }
    let unit = page_unit(state, &viewer, query.unit)?;
    let today = Utc::now()
        .with_timezone(&state.policy().time_zone)
        .date_naive();
    let period = Period::from_query(query, today)?;
    Ok(Asked {
        viewer,
        unit,
        period,
    })
}

fn period_text(lang: Lang, period: Period) -> String {
    lang.catalog().fill(
        "figure.period",
        &[
            ("from", &format::date(lang, period.first)),
            ("to", &format::date(lang, period.last)),
        ],
    )
}

fn period_query(unit: &UnitRef, period: Period) -> String {
    let (from, to) = period.inputs();
    format!("unit={}&from={from}&to={to}", unit.id.0)
}

/// What the dashboard and the report pages both show: the chrome, the unit,
/// the period and its figures.
struct Shown {
    asked: Asked,
    chrome: Chrome,
    fresh: bool,
    gathered: Gathered,
    query: String,
}

/// Gathers what the page at `path` (titled `title_key`) shows.
async fn shown(
    state: &AppState,
    user: &WebUser,
    query: &PeriodQuery,
    title_key: &str,
    path: &str,
) -> Result<Shown, ApiError> {
    let asked = asked(state, user, query)?;
    let fresh = fresh_views(state).await;
    let gathered = gather(state, &asked.unit, asked.period)?;
    let query = period_query(&asked.unit, asked.period);
    let chrome = Chrome::new(user, &asked.viewer, title_key, &format!("{path}?{query}"));
    Ok(Shown {
        asked,
        chrome,
        fresh,
        gathered,
        query,
    })
}

/// `GET /app/dashboard`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<PeriodQuery>,
) -> PageResult {
    let lang = user.lang;
    let shown = shown(&state, &user, &query, "dashboard.title", "/app/dashboard")
        .await
        .lang(lang)?;
    let (from, to) = shown.asked.period.inputs();
    let below = shown
        .gathered
        .report
        .by_unit
        .iter()
        .map(|u| (u.unit.0.to_string(), u.name.clone()))
        .collect();
    let page = DashboardPage {
        c: &shown.chrome,
        unit: &shown.asked.unit,
        units: shown.asked.viewer.reading_units(),
        below,
        from,
        to,
        period: period_text(lang, shown.asked.period),
        content: content(&state, lang, &shown.gathered),
        fresh: shown.fresh,
        query: shown.query,
    };
    Ok(render(&page))
}

/// `GET /app/report`: the review-meeting report for a period, for print.
pub async fn report(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<PeriodQuery>,
) -> PageResult {
    let lang = user.lang;
    let shown = shown(&state, &user, &query, "report.title", "/app/report")
        .await
        .lang(lang)?;
    let (from, to) = shown.asked.period.inputs();
    let page = ReportPage {
        c: &shown.chrome,
        unit: &shown.asked.unit,
        units: shown.asked.viewer.reading_units(),
        from,
        to,
        period: period_text(lang, shown.asked.period),
        generated: format::datetime(lang, state.policy().time_zone, Utc::now()),
        content: content(&state, lang, &shown.gathered),
        fresh: shown.fresh,
        query: shown.query,
    };
    Ok(render(&page))
}

fn csv_figures(file: &mut Csv, scope: &str, name: &str, f: &Figures) {
    let c = &f.counters;
    let hours = |h: Option<f64>| h.map(|h| format!("{h:.1}")).unwrap_or_default();
    file.row(&[
        scope.to_owned(),
        name.to_owned(),
        c.received.to_string(),
        c.acknowledged.to_string(),
        c.resolved.to_string(),
        c.resolved_on_time.to_string(),
        c.escalated.to_string(),
        c.referred_out.to_string(),
        c.reopened.to_string(),
        c.satisfied.to_string(),
        c.not_satisfied.to_string(),
        c.withdrawn.to_string(),
        c.merged.to_string(),
        f.open_now.to_string(),
        f.overdue_now.to_string(),
        hours(f.resolve_p50_hours),
        hours(f.resolve_p90_hours),
    ]);
}

/// `GET /app/figures.csv`: the period's figures, in total, by unit below,
/// by topic and by month. Numbers are plain (no grouping) so that every
/// spreadsheet reads them.
pub async fn csv(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<PeriodQuery>,
) -> PageResult {
    let lang = user.lang;
    let asked = asked(&state, &user, &query).lang(lang)?;
    fresh_views(&state).await;
    let gathered = gather(&state, &asked.unit, asked.period).lang(lang)?;
    let catalog = lang.catalog();
    let mut file = Csv::new();
    let header: Vec<&str> = [
        "csv.scope",
        "csv.name",
        "figure.received",
        "figure.acknowledged",
        "figure.resolved",
        "figure.resolved_on_time",
        "figure.escalated",
        "figure.referred_out",
        "figure.reopened",
        "figure.satisfied",
        "figure.not_satisfied",
        "figure.withdrawn",
        "figure.merged",
        "figure.open_now",
        "figure.overdue_now",
        "figure.resolve_median_hours",
        "figure.resolve_p90_hours",
    ]
    .into_iter()
    .map(|key| catalog.get(key))
    .collect();
    file.row(&header);
    let (from, to) = asked.period.inputs();
    let total = format!("{} {from} – {to}", asked.unit.name);
    csv_figures(
        &mut file,
        catalog.get("csv.scope_total"),
        &total,
        &gathered.report.total,
    );
    for unit in &gathered.report.by_unit {
        csv_figures(
            &mut file,
            catalog.get("csv.scope_unit"),
            &unit.name,
            &unit.figures,
        );
    }
    for (code, figures) in &gathered.report.by_topic {
        let name = topic_label(&state, lang, code);
        csv_figures(&mut file, catalog.get("csv.scope_topic"), &name, figures);
    }
    for (month, figures) in &gathered.months {
        let name = month.format("%Y-%m").to_string();
        csv_figures(&mut file, catalog.get("csv.scope_month"), &name, figures);
    }
    Ok(file.into_download(&format!("figures-{from}-{to}.csv")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_default_period_is_the_last_twelve_whole_months() {
        let period = Period::from_query(&PeriodQuery::default(), day(2024, 3, 15)).unwrap();
        assert_eq!(period.first, day(2023, 4, 1));
        assert_eq!(period.last, day(2024, 3, 31));
        assert_eq!(period.months().len(), 12);
        assert_eq!(
            period.inputs(),
            ("2023-04".to_owned(), "2024-03".to_owned())
        );
    }

    #[test]
    fn a_chosen_period_is_whole_months_and_bounded() {
        let query = PeriodQuery {
            unit: None,
            from: Some("2024-01".into()),
            to: Some("2024-06-10".into()),
        };
        let period = Period::from_query(&query, day(2024, 7, 1)).unwrap();
        assert_eq!(
            (period.first, period.last),
            (day(2024, 1, 1), day(2024, 6, 30))
        );
        for (from, to, field) in [
            ("2024-06", "2024-01", "to"),
            ("2020-01", "2024-01", "from"),
            ("January", "2024-01", "from"),
        ] {
            let query = PeriodQuery {
                unit: None,
                from: Some(from.into()),
                to: Some(to.into()),
            };
            match Period::from_query(&query, day(2024, 7, 1)) {
                Err(ApiError::Validation { field: f, .. }) => assert_eq!(f, field, "{from}–{to}"),
                other => panic!("{from}–{to}: {other:?}"),
            }
        }
    }
}
