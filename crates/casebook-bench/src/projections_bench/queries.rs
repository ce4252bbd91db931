//! In-process query latency: a filtered, paginated case list and the
//! resolution figures, each for a commune and for the whole province.

use super::fill::World;
use crate::error::Result;
use crate::latency::{Latencies, Percentiles};
use casebook_domain::{Status, UnitId};
use casebook_projections::{CaseFilter, CaseSort, Granularity, Projections};
use chrono::{DateTime, NaiveDate, Utc};
use std::time::Instant;

/// Cases per page: a screenful, as the API serves them.
const PAGE_CASES: usize = 50;

/// Latencies of one query kind.
#[derive(Debug, Clone, Copy)]
pub struct QueryFigures {
    /// Asked for the commune.
    pub commune: Percentiles,
    /// Asked for the province.
    pub province: Percentiles,
    /// Both together.
    pub all: Percentiles,
}

/// Records per unit and together.
struct Recorder {
    commune: Latencies,
    province: Latencies,
    all: Latencies,
}

impl Recorder {
    fn new() -> Result<Self> {
        Ok(Self {
            commune: Latencies::new()?,
            province: Latencies::new()?,
            all: Latencies::new()?,
        })
    }

    fn time<T>(&mut self, province: bool, query: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let answer = query()?;
        let took = started.elapsed();
        let unit = if province {
            &mut self.province
        } else {
            &mut self.commune
        };
        unit.record(took);
        self.all.record(took);
        Ok(answer)
    }

    fn finish(self) -> QueryFigures {
        QueryFigures {
            commune: self.commune.percentiles(),
            province: self.province.percentiles(),
            all: self.all.percentiles(),
        }
    }
}

fn unit_of(world: &World, i: usize) -> (bool, UnitId) {
    let province = i % 2 == 1;
    (
        province,
        if province {
            world.province
        } else {
            world.commune
        },
    )
}

/// Open cases (acknowledged or in progress) by due date, 50 a page: the
/// first page, and every other time the page after it.
pub fn list(
    projections: &Projections,
    world: &World,
    samples: usize,
    now: DateTime<Utc>,
) -> Result<QueryFigures> {
    let mut recorder = Recorder::new()?;
    let mut cursors = [None, None];
    for i in 0..samples {
        let (province, unit) = unit_of(world, i);
        let filter = CaseFilter {
            statuses: vec![Status::Acknowledged, Status::InProgress],
            ..CaseFilter::unit(unit)
        };
        let slot = usize::from(province);
        let cursor = if (i / 2) % 2 == 1 {
            cursors[slot].take()
        } else {
            None
        };
        let page = recorder.time(province, || {
            Ok(projections.cases(
                &filter,
                CaseSort::DueDate,
                PAGE_CASES,
                cursor.as_deref(),
                now,
            )?)
        })?;
        cursors[slot] = page.next_cursor;
    }
    Ok(recorder.finish())
}

/// The year's figures by month, with the breakdowns by topic and unit below.
pub fn figures(
    projections: &Projections,
    world: &World,
    samples: usize,
    now: DateTime<Utc>,
) -> Result<QueryFigures> {
    let mut recorder = Recorder::new()?;
    let from = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    let to = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default();
    for i in 0..samples {
        let (province, unit) = unit_of(world, i);
        recorder.time(province, || {
            Ok(projections.figures(unit, Granularity::Month, from, to, now)?)
        })?;
    }
    Ok(recorder.finish())
}
