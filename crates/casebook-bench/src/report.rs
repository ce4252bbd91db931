//! The benchmark's output: a table for people, then one JSON object as the
//! last line for scripts (and for `docs/PERFORMANCE.md`).
//!
//! Targets are printed beside the figures with a pass/miss mark; a miss
//! never changes the exit code. The output goes through a locked stdout with
//! `writeln!` rather than `println!`, so that a closed pipe is an error we
//! return instead of a panic; that is also why this module needs no
//! `clippy::print_stdout` exception.

mod audit;
mod http;
mod projections;

pub use audit::print_audit_report;
pub use http::print_http_report;
pub use projections::print_projections_report;

use crate::error::{BenchError, Result};
use crate::log_bench::{LogFigures, StoreKind, WriteRow};
use serde::Serialize;
use std::io::Write;

/// Writers at which the headline figures are taken.
const HEADLINE_WRITERS: usize = 64;
/// Events per append for the headline figures.
const HEADLINE_EVENTS_PER_APPEND: usize = 1;

/// Durable events/s our log must reach at 64 writers (1 event per append).
const TARGET_APPENDS_PER_S_64: f64 = 50_000.0;
/// How many times SQLite's throughput our log must reach at 64 writers.
const TARGET_SQLITE_RATIO_64: f64 = 10.0;
/// Whole-log read throughput our log must reach, events/s.
const TARGET_READ_ALL_EVENTS_PER_S: f64 = 1_000_000.0;
/// Share of plain SHA-256's speed that `verify` must reach.
const TARGET_VERIFY_RATIO_SHA256: f64 = 0.5;

/// One row of the append table, as the JSON line carries it.
#[derive(Debug, Serialize)]
struct RowJson {
    store: &'static str,
    writers: usize,
    events_per_append: usize,
    appends: u64,
    events: u64,
    seconds: f64,
    events_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    /// Ours only: our events/s over SQLite's in the same configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    sqlite_ratio: Option<f64>,
    /// Ours only: our events/s over the raw file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_file_ratio: Option<f64>,
}

/// A target beside the figure it is about.
#[derive(Debug, Serialize)]
struct Target {
    name: &'static str,
    figure: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_least: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    under: Option<f64>,
    pass: bool,
}

impl Target {
    /// A figure that must reach `bound`.
    fn at_least(name: &'static str, figure: f64, bound: f64) -> Target {
        Target {
            name,
            figure,
            at_least: Some(bound),
            under: None,
            pass: figure >= bound,
        }
    }

    /// A figure that must stay under `bound`.
    fn under(name: &'static str, figure: f64, bound: f64) -> Target {
        Target {
            name,
            figure,
            at_least: None,
            under: Some(bound),
            pass: figure < bound,
        }
    }
}

/// The last line.
#[derive(Debug, Serialize)]
struct Summary {
    mode: &'static str,
    config_seconds: f64,
    payload_bytes: usize,
    appends_per_s_64: f64,
    sqlite_ratio_64: f64,
    raw_file_ratio_64: f64,
    read_all_events_per_s: f64,
    raw_sled_read_events_per_s: f64,
    read_events: u64,
    verify_mb_per_s: f64,
    sha256_mb_per_s: f64,
    verify_ratio_sha256: f64,
    verify_bytes: u64,
    targets: Vec<Target>,
    rows: Vec<RowJson>,
}

/// Prints the table, the targets, and the JSON line, in that order.
pub fn print_log_report(figures: &LogFigures) -> Result<()> {
    let summary = summarise(figures);
    let json = serde_json::to_string(&summary)?;
    let mut out = std::io::stdout().lock();
    write_report(&mut out, figures, &summary, &json).map_err(BenchError::Report)
}

fn write_report(
    out: &mut impl Write,
    figures: &LogFigures,
    summary: &Summary,
    json: &str,
) -> std::io::Result<()> {
    write_header(out, summary)?;
    write_rows(out, &summary.rows)?;
    write_read_verify(out, figures, summary)?;
    write_targets(out, &summary.targets)?;
    writeln!(out, "{json}")?;
    out.flush()
}

fn summarise(figures: &LogFigures) -> Summary {
    let rows: Vec<RowJson> = figures
        .rows
        .iter()
        .map(|row| row_json(row, &figures.rows))
        .collect();
    let headline = rows.iter().find(|row| {
        row.store == StoreKind::Ours.name()
            && row.writers == HEADLINE_WRITERS
            && row.events_per_append == HEADLINE_EVENTS_PER_APPEND
    });
    let appends_per_s_64 = headline.map_or(0.0, |row| row.events_per_s);
    let sqlite_ratio_64 = headline.and_then(|row| row.sqlite_ratio).unwrap_or(0.0);
    let raw_file_ratio_64 = headline.and_then(|row| row.raw_file_ratio).unwrap_or(0.0);
    let verify = &figures.verify;
    let verify_ratio_sha256 = ratio(verify.ours_mb_per_s, verify.sha256_mb_per_s);
    let read_all = figures.read.ours_events_per_s;
    Summary {
        mode: if figures.plan.quick { "quick" } else { "full" },
        config_seconds: figures.plan.config_duration.as_secs_f64(),
        payload_bytes: figures.payload_bytes,
        appends_per_s_64,
        sqlite_ratio_64,
        raw_file_ratio_64,
        read_all_events_per_s: read_all,
        raw_sled_read_events_per_s: figures.read.raw_sled_events_per_s,
        read_events: figures.read.events,
        verify_mb_per_s: verify.ours_mb_per_s,
        sha256_mb_per_s: verify.sha256_mb_per_s,
        verify_ratio_sha256,
        verify_bytes: verify.bytes,
        targets: vec![
            Target::at_least(
                "appends_per_s_64",
                appends_per_s_64,
                TARGET_APPENDS_PER_S_64,
            ),
            Target::at_least("sqlite_ratio_64", sqlite_ratio_64, TARGET_SQLITE_RATIO_64),
            Target::at_least(
                "read_all_events_per_s",
                read_all,
                TARGET_READ_ALL_EVENTS_PER_S,
            ),
            Target::at_least(
                "verify_ratio_sha256",
                verify_ratio_sha256,
                TARGET_VERIFY_RATIO_SHA256,
            ),
        ],
        rows,
    }
}

fn row_json(row: &WriteRow, all: &[WriteRow]) -> RowJson {
    let figures = &row.figures;
    let ours = row.store == StoreKind::Ours;
    let versus = |store| {
        all.iter()
            .find(|other| {
                other.store == store
                    && other.figures.writers == figures.writers
                    && other.figures.events_per_append == figures.events_per_append
            })
            .map(|other| ratio(figures.events_per_s, other.figures.events_per_s))
    };
    RowJson {
        store: row.store.name(),
        writers: figures.writers,
        events_per_append: figures.events_per_append,
        appends: figures.appends,
        events: figures.events,
        seconds: figures.seconds,
        events_per_s: figures.events_per_s,
        p50_ms: figures.latency.p50_ms,
        p99_ms: figures.latency.p99_ms,
        p999_ms: figures.latency.p999_ms,
        sqlite_ratio: versus(StoreKind::Sqlite).filter(|_| ours),
        raw_file_ratio: versus(StoreKind::RawFile).filter(|_| ours),
    }
}

/// `ours / theirs`, or 0 when there is nothing to compare with.
fn ratio(ours: f64, theirs: f64) -> f64 {
    if theirs > 0.0 {
        ours / theirs
    } else {
        0.0
    }
}

fn write_header(out: &mut impl Write, summary: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "casebook-bench log ({} run: {} s per configuration, payload {} bytes, fsync on for every store)",
        summary.mode, summary.config_seconds, summary.payload_bytes
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<9} {:>7} {:>9} {:>11} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "store",
        "writers",
        "ev/append",
        "events/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "ours/sql",
        "ours/file"
    )
}

fn write_rows(out: &mut impl Write, rows: &[RowJson]) -> std::io::Result<()> {
    for (index, row) in rows.iter().enumerate() {
        let starts_group = index > 0 && row.store == StoreKind::Ours.name();
        if starts_group {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{:<9} {:>7} {:>9} {:>11} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>9}",
            row.store,
            row.writers,
            row.events_per_append,
            grouped(row.events_per_s),
            row.p50_ms,
            row.p99_ms,
            row.p999_ms,
            times(row.sqlite_ratio),
            times(row.raw_file_ratio),
        )?;
    }
    writeln!(out)
}

fn write_read_verify(
    out: &mut impl Write,
    figures: &LogFigures,
    summary: &Summary,
) -> std::io::Result<()> {
    let read = &figures.read;
    writeln!(
        out,
        "read all ({} events): ours {} events/s, raw sled {} events/s ({} of raw sled)",
        grouped(read.events as f64),
        grouped(read.ours_events_per_s),
        grouped(read.raw_sled_events_per_s),
        times(Some(ratio(
            read.ours_events_per_s,
            read.raw_sled_events_per_s
        ))),
    )?;
    let verify = &figures.verify;
    writeln!(
        out,
        "verify ({:.1} MB, {} events): ours {:.1} MB/s, plain SHA-256 {:.1} MB/s ({} of SHA-256)",
        verify.bytes as f64 / 1e6,
        grouped(verify.events as f64),
        verify.ours_mb_per_s,
        verify.sha256_mb_per_s,
        times(Some(summary.verify_ratio_sha256)),
    )?;
    writeln!(out)
}

/// The targets with pass/miss, as every benchmark prints them.
fn write_targets(out: &mut impl Write, targets: &[Target]) -> std::io::Result<()> {
    writeln!(out, "targets (measured, never a failure):")?;
    for target in targets {
        let bound = match (target.at_least, target.under) {
            (Some(bound), _) => format!(">= {}", figure(bound)),
            (_, Some(bound)) => format!("< {}", figure(bound)),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<4}  {:<22} {:>12} (target {bound})",
            if target.pass { "pass" } else { "MISS" },
            target.name,
            figure(target.figure),
        )?;
    }
    writeln!(out)
}

/// `12.3x`, or blank for rows without a ratio.
fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(String::new, |ratio| format!("{ratio:.2}x"))
}

/// A figure as the targets show it: ratios with decimals, rates grouped.
fn figure(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.2}")
    } else {
        grouped(value)
    }
}

/// A rate rounded to a whole number with thousands separators: `1,234,567`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn grouped_puts_separators_every_three_digits() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1000.0), "1,000");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
    }
}
