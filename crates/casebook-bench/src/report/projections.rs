//! The report of `casebook-bench projections`: a table, the targets with
//! pass/miss, then the JSON line. A miss never changes the exit code.

use super::{grouped, write_targets, Target};
use crate::error::{BenchError, Result};
use crate::latency::Percentiles;
use crate::projections_bench::ProjectionFigures;
use serde::Serialize;
use std::io::Write;

/// Events/s a rebuild of every view must reach.
const TARGET_REBUILD_EVENTS_PER_S: f64 = 200_000.0;
/// Lag p99 must stay under this, ms.
const TARGET_LAG_P99_MS: f64 = 10.0;
/// A case list page's p99 must stay under this, ms.
const TARGET_LIST_P99_MS: f64 = 5.0;
/// A figures query's p99 must stay under this, ms.
const TARGET_FIGURES_P99_MS: f64 = 5.0;

/// The last line.
#[derive(Debug, Serialize)]
struct Summary {
    mode: &'static str,
    events: u64,
    cases: u64,
    views: usize,
    read_all_events_per_s: f64,
    rebuild_events_per_s: f64,
    rebuild_seconds: f64,
    rebuild_ratio_read_all: f64,
    rebuild_cpu_seconds: f64,
    views_resident_mb: f64,
    huge_pages_mb: f64,
    save_seconds: f64,
    reopen_seconds: f64,
    sled_floor_keys: u64,
    sled_floor_events_per_s: f64,
    rebuild_ratio_sled_floor: f64,
    lag_appends_per_s: u64,
    lag_samples: u64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    list_p50_ms: f64,
    list_p99_ms: f64,
    list_commune_p99_ms: f64,
    list_province_p99_ms: f64,
    figures_p50_ms: f64,
    figures_p99_ms: f64,
    figures_commune_p99_ms: f64,
    figures_province_p99_ms: f64,
    targets: Vec<Target>,
}

fn summarise(f: &ProjectionFigures) -> Summary {
    let ratio = if f.read_all_events_per_s > 0.0 {
        f.rebuild_events_per_s / f.read_all_events_per_s
    } else {
        0.0
    };
    Summary {
        mode: if f.plan.quick { "quick" } else { "full" },
        events: f.events,
        cases: f.cases,
        views: f.views,
        read_all_events_per_s: f.read_all_events_per_s,
        rebuild_events_per_s: f.rebuild_events_per_s,
        rebuild_seconds: f.rebuild_seconds,
        rebuild_ratio_read_all: ratio,
        rebuild_cpu_seconds: f.rebuild_cpu_seconds,
        views_resident_mb: f.views_resident_mb,
        huge_pages_mb: f.huge_pages_mb,
        save_seconds: f.save_seconds,
        reopen_seconds: f.reopen_seconds,
        sled_floor_keys: f.sled_floor.keys,
        sled_floor_events_per_s: f.sled_floor.events_per_s,
        rebuild_ratio_sled_floor: if f.sled_floor.events_per_s > 0.0 {
            f.rebuild_events_per_s / f.sled_floor.events_per_s
        } else {
            0.0
        },
        lag_appends_per_s: f.lag_appends_per_s,
        lag_samples: f.lag_samples,
        lag_p50_ms: f.lag.p50_ms,
        lag_p99_ms: f.lag.p99_ms,
        list_p50_ms: f.list.all.p50_ms,
        list_p99_ms: f.list.all.p99_ms,
        list_commune_p99_ms: f.list.commune.p99_ms,
        list_province_p99_ms: f.list.province.p99_ms,
        figures_p50_ms: f.figures.all.p50_ms,
        figures_p99_ms: f.figures.all.p99_ms,
        figures_commune_p99_ms: f.figures.commune.p99_ms,
        figures_province_p99_ms: f.figures.province.p99_ms,
        targets: vec![
            Target::at_least(
                "rebuild_events_per_s",
                f.rebuild_events_per_s,
                TARGET_REBUILD_EVENTS_PER_S,
            ),
            Target::under("lag_p99_ms", f.lag.p99_ms, TARGET_LAG_P99_MS),
            Target::under("list_p99_ms", f.list.all.p99_ms, TARGET_LIST_P99_MS),
            Target::under(
                "figures_p99_ms",
                f.figures.all.p99_ms,
                TARGET_FIGURES_P99_MS,
            ),
        ],
    }
}

/// Prints the table, the targets, and the JSON line, in that order.
pub fn print_projections_report(figures: &ProjectionFigures) -> Result<()> {
    let summary = summarise(figures);
    let json = serde_json::to_string(&summary)?;
    let mut out = std::io::stdout().lock();
    write_report(&mut out, figures, &summary, &json).map_err(BenchError::Report)
}

fn write_report(
    out: &mut impl Write,
    f: &ProjectionFigures,
    s: &Summary,
    json: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "casebook-bench projections ({} run: {} events, {} cases, {} views)",
        s.mode,
        grouped(f.events as f64),
        grouped(f.cases as f64),
        f.views
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "read all (iter_all)        {:>11} events/s",
        grouped(s.read_all_events_per_s)
    )?;
    writeln!(
        out,
        "rebuild every view         {:>11} events/s  ({:.1} s, {:.2}x of read all; {:.1} CPU-s, {:.1} cores busy)",
        grouped(s.rebuild_events_per_s),
        s.rebuild_seconds,
        s.rebuild_ratio_read_all,
        s.rebuild_cpu_seconds,
        s.rebuild_cpu_seconds / s.rebuild_seconds.max(f64::MIN_POSITIVE)
    )?;
    writeln!(
        out,
        "views in memory            {:>11.0} MB        ({:.0} MB of the process in huge pages; saved by a shutdown in {:.1} s, opened again and caught up in {:.1} s)",
        s.views_resident_mb, s.huge_pages_mb, s.save_seconds, s.reopen_seconds
    )?;
    writeln!(
        out,
        "sled, for comparison       {:>11} events/s  ({:.1} s to write the keyed views' {} keys, {:.0} MB, into empty sled trees; rebuild {:.2}x of it)",
        grouped(s.sled_floor_events_per_s),
        f.sled_floor.seconds,
        grouped(f.sled_floor.keys as f64),
        f.sled_floor.bytes as f64 / 1e6,
        s.rebuild_ratio_sled_floor
    )?;
    writeln!(out)?;
    writeln!(out, "{:<34} {:>8} {:>8}", "latency", "p50 ms", "p99 ms")?;
    let lag = format!("lag at {} appends/s", s.lag_appends_per_s);
    row(out, &lag, &f.lag)?;
    row(out, "case list, commune", &f.list.commune)?;
    row(out, "case list, province", &f.list.province)?;
    row(out, "figures (year by month), commune", &f.figures.commune)?;
    row(
        out,
        "figures (year by month), province",
        &f.figures.province,
    )?;
    writeln!(out)?;
    write_targets(out, &s.targets)?;
    writeln!(out, "{json}")?;
    out.flush()
}

fn row(out: &mut impl Write, name: &str, p: &Percentiles) -> std::io::Result<()> {
    writeln!(out, "{name:<34} {:>8.2} {:>8.2}", p.p50_ms, p.p99_ms)
}
