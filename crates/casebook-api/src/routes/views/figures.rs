//! The resolution figures (`GET /v1/figures`): what committees read at
//! their review meetings, for a unit's jurisdiction and a range of days,
//! as JSON or, with `Accept: text/csv`, as a table.
//!
//! The answer holds the whole range (exact medians and percentiles over
//! it, as the figures view computes them) and each period of the asked
//! granularity in it, each with the breakdown by topic and by the units
//! right below. Figures count cases of a whole jurisdiction, so they are
//! for the committees and auditors whose jurisdiction holds the unit; a
//! member or an administrator, or a unit outside the caller's
//! jurisdiction, gets 404.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casebook_domain::{Lookups, UnitId};
use casebook_projections::{Figures, FiguresReport, Granularity, UnitFigures};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::doc::{FiguresParams, FreshParams};
use super::params::{bad, Params};
use super::reach::{check_unit, outermost};
use super::{blocking, reach_now};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::fresh::{MinPosition, Reads};
use crate::state::AppState;

/// Most periods one answer holds: a year of days. Each period is one read
/// of the figures view per unit below, so the bound keeps one request's
/// work within a few hundred reads.
pub const FIGURES_PERIODS_MAX: usize = 366;

/// The media type of the table.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// The CSV's columns, in order.
pub const CSV_COLUMNS: [&str; 23] = [
    "period",
    "from",
    "to",
    "unit_id",
    "unit_name",
    "topic",
    "received",
    "acknowledged",
    "resolved",
    "resolved_on_time",
    "escalated",
    "referred_out",
    "reopened",
    "satisfied",
    "not_satisfied",
    "withdrawn",
    "merged",
    "open_now",
    "overdue_now",
    "acknowledge_p50_hours",
    "acknowledge_p90_hours",
    "resolve_p50_hours",
    "resolve_p90_hours",
];

/// The `period` and `topic` of rows that cover the whole range or every topic.
const ALL: &str = "all";

/// The figures of one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFigures {
    /// The period: `2024-03-04`, `2024-03`, `2024-Q1` or `2024`.
    pub period: String,
    /// Its first day.
    pub from: NaiveDate,
    /// Its last day.
    pub to: NaiveDate,
    /// All topics together: counts, medians and 90th percentiles (hours),
    /// open and overdue now.
    #[schema(value_type = Object)]
    pub total: Figures,
    /// Per topic code.
    #[schema(value_type = Object)]
    pub by_topic: BTreeMap<String, Figures>,
    /// Per unit right below, each with its whole jurisdiction.
    #[schema(value_type = Vec<Object>)]
    pub by_unit: Vec<UnitFigures>,
}

/// The figures of a unit for a range of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresAnswer {
    /// The unit (its whole jurisdiction).
    #[schema(value_type = Uuid)]
    pub unit: UnitId,
    /// Its name.
    pub unit_name: String,
    /// The length of each period.
    #[schema(value_type = String)]
    pub granularity: Granularity,
    /// The moment "open now" and "overdue now" are judged at.
    pub at: DateTime<Utc>,
    /// The whole range (`period` = `all`).
    pub whole: PeriodFigures,
    /// Each period of the range, oldest first.
    pub periods: Vec<PeriodFigures>,
}

/// What was asked.
#[derive(Debug, Clone, Copy)]
struct Asked {
    unit: Option<UnitId>,
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
}

fn asked(params: &mut Params, today: NaiveDate) -> Result<Asked, ApiError> {
    let unit = params.uuid("unit")?.map(UnitId);
    let granularity = params
        .choice::<Granularity>("granularity")?
        .unwrap_or(Granularity::Month);
    let to = params.date("to")?.unwrap_or(today);
    let from = match params.date("from")? {
        Some(from) => from,
        None => NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to),
    };
    if to < from {
        return Err(bad("to", format!("`to` ({to}) is before `from` ({from})")));
    }
    Ok(Asked {
        unit,
        granularity,
        from,
        to,
    })
}

/// Resolution figures for a unit's jurisdiction and a range of days, by
/// period, topic and unit below; CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/figures", tag = "views",
    params(FiguresParams, FreshParams),
    responses(
        (status = 200, description = "The figures",
            content((FiguresAnswer = "application/json"), (String = "text/csv"))),
        (status = "4XX", body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn figures(
    State(state): State<AppState>,
    principal: Principal,
    min: MinPosition,
    headers: HeaderMap,
    mut params: Params,
) -> Result<Response, ApiError> {
    let today = Utc::now()
        .with_timezone(&state.policy().time_zone)
        .date_naive();
    let asked = asked(&mut params, today)?;
    params.finish()?;
    let periods = periods(asked.granularity, asked.from, asked.to)?;
    let csv = wants_csv(&headers);
    min.wait(&state, Reads::Views).await?;
    let answer = blocking(state, move |state| {
        let now = Utc::now();
        let (unit, unit_name) = unit_of(state, principal.person_id, asked.unit, now)?;
        let read = |from: NaiveDate, to: NaiveDate| {
            state
                .projections()
                .figures(unit, asked.granularity, from, to, now)
                .map_err(ApiError::from)
        };
        let (first, last) = match (periods.first(), periods.last()) {
            (Some(first), Some(last)) => (first.1, last.2),
            _ => (asked.from, asked.to),
        };
        let whole = period_figures(ALL.to_owned(), read(first, last)?);
        let periods = periods
            .into_iter()
            .map(|(label, from, to)| Ok(period_figures(label, read(from, to)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(FiguresAnswer {
            unit,
            unit_name,
            granularity: asked.granularity,
            at: now,
            whole,
            periods,
        })
    })
    .await?;
    if csv {
        Ok(csv_response(&answer))
    } else {
        Ok(([(header::VARY, "accept")], Json(answer)).into_response())
    }
}

/// The unit the figures are for, and its name: the one asked for if the
/// caller's jurisdiction holds it (else 404), or their only one.
fn unit_of(
    state: &AppState,
    person: casebook_domain::PersonId,
    asked: Option<UnitId>,
    now: DateTime<Utc>,
) -> Result<(UnitId, String), ApiError> {
    let reach = reach_now(state, person, now)?;
    let directory = state.directory()?;
    let unit = match asked {
        Some(unit) => {
            check_unit(&*directory, &reach.jurisdictions, unit)?;
            unit
        }
        None => match outermost(&*directory, &reach.jurisdictions).as_slice() {
            [only] => *only,
            [] => {
                return Err(bad(
                    "unit",
                    "`unit` is required: figures are for committees and auditors, within their jurisdiction",
                ))
            }
            _ => {
                return Err(bad(
                    "unit",
                    "`unit` is required: the caller reads the figures of several units",
                ))
            }
        },
    };
    let name = directory.unit(unit).map(|u| u.name).unwrap_or_default();
    Ok((unit, name))
}

fn period_figures(period: String, report: FiguresReport) -> PeriodFigures {
    PeriodFigures {
        period,
        from: report.from,
        to: report.to,
        total: report.total,
        by_topic: report.by_topic,
        by_unit: report.by_unit,
    }
}

/// The first day of the period of `granularity` holding `date`.
fn first_day(granularity: Granularity, date: NaiveDate) -> NaiveDate {
    let (y, m) = (date.year(), date.month());
    let first = match granularity {
        Granularity::Day => Some(date),
        Granularity::Month => NaiveDate::from_ymd_opt(y, m, 1),
        Granularity::Quarter => NaiveDate::from_ymd_opt(y, (m - 1) / 3 * 3 + 1, 1),
        Granularity::Year => NaiveDate::from_ymd_opt(y, 1, 1),
    };
    first.unwrap_or(date)
}

/// The last day of the period of `granularity` holding `date`.
fn last_day(granularity: Granularity, date: NaiveDate) -> NaiveDate {
    let months = match granularity {
        Granularity::Day => return date,
        Granularity::Month => 1,
        Granularity::Quarter => 3,
        Granularity::Year => 12,
    };
    first_day(granularity, date)
        .checked_add_months(Months::new(months))
        .and_then(|next| next.pred_opt())
        .unwrap_or(date)
}

fn label(granularity: Granularity, first: NaiveDate) -> String {
    match granularity {
        Granularity::Day => first.format("%Y-%m-%d").to_string(),
        Granularity::Month => first.format("%Y-%m").to_string(),
        Granularity::Quarter => format!("{}-Q{}", first.year(), (first.month() - 1) / 3 + 1),
        Granularity::Year => first.year().to_string(),
    }
}

/// The periods of `granularity` covering `[from, to]`, oldest first, as
/// (label, first day, last day); at most [`FIGURES_PERIODS_MAX`].
fn periods(
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, NaiveDate, NaiveDate)>, ApiError> {
    let mut out = Vec::new();
    let mut first = first_day(granularity, from);
    while first <= to {
        if out.len() == FIGURES_PERIODS_MAX {
            return Err(bad(
                "from",
                format!("the range holds more than {FIGURES_PERIODS_MAX} periods; narrow it or choose a longer granularity"),
            ));
        }
        let last = last_day(granularity, first);
        out.push((label(granularity, first), first, last));
        match last.succ_opt() {
            Some(next) => first = next,
            None => break,
        }
    }
    Ok(out)
}

/// Whether the client prefers `text/csv` to JSON: the media range with the
/// highest `q` wins, the first of equals; JSON when nothing says otherwise.
fn wants_csv(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut best: Option<(f32, bool)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let csv = match media.as_str() {
            "text/csv" | "text/*" => true,
            "application/json" | "application/*" | "*/*" => false,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, csv));
        }
    }
    best.is_some_and(|(_, csv)| csv)
}

fn csv_response(answer: &FiguresAnswer) -> Response {
    let body = to_csv(answer);
    let filename = format!(
        "attachment; filename=\"figures-{}-{}-{}.csv\"",
        answer.unit, answer.whole.from, answer.whole.to
    );
    let disposition =
        HeaderValue::from_str(&filename).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(TEXT_CSV)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        body,
    )
        .into_response()
}

/// The table: a header row, then for the whole range and each period the
/// unit with every topic (`topic` = `all`), the unit per topic, and each
/// unit below with every topic.
pub fn to_csv(answer: &FiguresAnswer) -> String {
    let mut out = String::new();
    row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for period in std::iter::once(&answer.whole).chain(&answer.periods) {
        let unit = (answer.unit, answer.unit_name.as_str());
        row(&mut out, line(period, unit, ALL, &period.total));
        for (topic, figures) in &period.by_topic {
            row(&mut out, line(period, unit, topic, figures));
        }
        for below in &period.by_unit {
            let unit = (below.unit, below.name.as_str());
            row(&mut out, line(period, unit, ALL, &below.figures));
        }
    }
    out
}

fn line(
    period: &PeriodFigures,
    (unit, name): (UnitId, &str),
    topic: &str,
    f: &Figures,
) -> impl Iterator<Item = String> {
    let c = f.counters;
    let hours = |h: Option<f64>| h.map(|h| format!("{h:.2}")).unwrap_or_default();
    let text = [
        period.period.clone(),
        period.from.to_string(),
        period.to.to_string(),
        unit.to_string(),
        name.to_owned(),
        topic.to_owned(),
    ];
    let counts = [
        c.received,
        c.acknowledged,
        c.resolved,
        c.resolved_on_time,
        c.escalated,
        c.referred_out,
        c.reopened,
        c.satisfied,
        c.not_satisfied,
        c.withdrawn,
        c.merged,
        f.open_now,
        f.overdue_now,
    ];
    let times = [
        hours(f.acknowledge_p50_hours),
        hours(f.acknowledge_p90_hours),
        hours(f.resolve_p50_hours),
        hours(f.resolve_p90_hours),
    ];
    text.into_iter()
        .chain(counts.into_iter().map(|n| n.to_string()))
        .chain(times)
}

/// One CSV record (RFC 4180): fields quoted when they hold a comma, a
/// quote or a line break, quotes doubled, CRLF at the end.
fn row(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;
    use uuid::Uuid;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn periods_cover_whole_periods_of_the_range() {
        let months = periods(Granularity::Month, day(2024, 1, 15), day(2024, 3, 2)).unwrap();
        let labels: Vec<_> = months.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(labels, ["2024-01", "2024-02", "2024-03"]);
        assert_eq!(months[1].1, day(2024, 2, 1));
        assert_eq!(months[1].2, day(2024, 2, 29));
        assert_eq!(months[2].2, day(2024, 3, 31));
        let quarters = periods(Granularity::Quarter, day(2023, 12, 31), day(2024, 4, 1)).unwrap();
        let labels: Vec<_> = quarters.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(labels, ["2023-Q4", "2024-Q1", "2024-Q2"]);
        let years = periods(Granularity::Year, day(2024, 6, 1), day(2024, 6, 1)).unwrap();
        assert_eq!(
            years,
            [("2024".to_owned(), day(2024, 1, 1), day(2024, 12, 31))]
        );
        let days = periods(Granularity::Day, day(2024, 2, 28), day(2024, 3, 1)).unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days[1].0, "2024-02-29");
        assert!(periods(Granularity::Day, day(2024, 1, 1), day(2024, 12, 31)).is_ok());
        let error = periods(Granularity::Day, day(2023, 1, 1), day(2024, 12, 31)).unwrap_err();
        assert_eq!(error.problem().field.as_deref(), Some("from"));
    }

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn csv_is_chosen_only_when_preferred() {
        assert!(!wants_csv(&HeaderMap::new()));
        assert!(wants_csv(&accept("text/csv")));
        assert!(wants_csv(&accept("text/csv, application/json;q=0.5")));
        assert!(!wants_csv(&accept("application/json, text/csv")));
        assert!(wants_csv(&accept("application/json;q=0.4, text/csv;q=0.9")));
        assert!(!wants_csv(&accept("text/csv;q=0, */*")));
        assert!(!wants_csv(&accept("*/*")));
        assert!(!wants_csv(&accept("text/html")));
    }

    #[test]
    fn the_table_quotes_what_needs_quoting() {
        let mut out = String::new();
        row(
            &mut out,
            [
                "a".to_owned(),
                "Xã Vĩnh Hải, ấp 1".to_owned(),
                "say \"hi\"".to_owned(),
            ]
            .into_iter(),
        );
        assert_eq!(out, "a,\"Xã Vĩnh Hải, ấp 1\",\"say \"\"hi\"\"\"\r\n");
    }

    #[test]
    fn the_table_has_a_row_per_unit_period_and_topic() {
        let unit = UnitId(Uuid::new_v4());
        let below = UnitId(Uuid::new_v4());
        let mut total = Figures::default();
        total.counters.received = 3;
        total.resolve_p50_hours = Some(12.5);
        let period = |name: &str| PeriodFigures {
            period: name.to_owned(),
            from: day(2024, 1, 1),
            to: day(2024, 1, 31),
            total: total.clone(),
            by_topic: BTreeMap::from([("land".to_owned(), total.clone())]),
            by_unit: vec![UnitFigures {
                unit: below,
                name: "Ấp 1".to_owned(),
                figures: total.clone(),
            }],
        };
        let answer = FiguresAnswer {
            unit,
            unit_name: "Đồn, A".to_owned(),
            granularity: Granularity::Month,
            at: Utc::now(),
            whole: period(ALL),
            periods: vec![period("2024-01")],
        };
        let text = to_csv(&answer);
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert_eq!(lines.len(), 1 + 2 * 3);
        assert!(lines[1].starts_with(&format!(
            "all,2024-01-01,2024-01-31,{unit},\"Đồn, A\",all,3,"
        )));
        assert!(lines[2].contains(",land,3,"));
        assert!(lines[3].contains(&format!("{below},Ấp 1,all,3,")));
        assert!(lines[4].starts_with("2024-01,"));
        assert!(lines[1].ends_with(",,,12.50,"), "{}", lines[1]);
    }
}
