//! The report of `casebook-bench audit`: a table, the targets with
//! pass/miss, then the JSON line. A miss never changes the exit code.

use super::{grouped, ratio, times, write_targets, Target};
use crate::audit_bench::{AuditFigures, Rate};
use crate::error::{BenchError, Result};
use serde::Serialize;
use std::io::Write;

/// Share of plain SHA-256's speed (over the same file) that verify must reach.
const TARGET_VERIFY_RATIO_SHA256: f64 = 0.5;

/// The last line.
#[derive(Debug, Serialize)]
struct Summary {
    mode: &'static str,
    events: u64,
    export_bytes: u64,
    catch_up_events_per_s: f64,
    export_events_per_s: f64,
    export_mb_per_s: f64,
    verify_events_per_s: f64,
    verify_mb_per_s: f64,
    sha256_mb_per_s: f64,
    verify_ratio_sha256: f64,
    inclusion_proofs: u64,
    inclusion_proof_p50_ms: f64,
    inclusion_proof_p99_ms: f64,
    targets: Vec<Target>,
}

/// Prints the table, the targets, and the JSON line, in that order.
pub fn print_audit_report(figures: &AuditFigures) -> Result<()> {
    let summary = summarise(figures);
    let json = serde_json::to_string(&summary)?;
    let mut out = std::io::stdout().lock();
    write_report(&mut out, figures, &summary, &json).map_err(BenchError::Report)
}

fn summarise(f: &AuditFigures) -> Summary {
    let verify_ratio_sha256 = ratio(f.verify.mb_per_s, f.sha256.mb_per_s);
    Summary {
        mode: if f.plan.quick { "quick" } else { "full" },
        events: f.events,
        export_bytes: f.export_bytes,
        catch_up_events_per_s: f.catch_up.events_per_s,
        export_events_per_s: f.export.events_per_s,
        export_mb_per_s: f.export.mb_per_s,
        verify_events_per_s: f.verify.events_per_s,
        verify_mb_per_s: f.verify.mb_per_s,
        sha256_mb_per_s: f.sha256.mb_per_s,
        verify_ratio_sha256,
        inclusion_proofs: f.proofs,
        inclusion_proof_p50_ms: f.inclusion.p50_ms,
        inclusion_proof_p99_ms: f.inclusion.p99_ms,
        targets: vec![Target::at_least(
            "verify_ratio_sha256",
            verify_ratio_sha256,
            TARGET_VERIFY_RATIO_SHA256,
        )],
    }
}

fn write_report(
    out: &mut impl Write,
    f: &AuditFigures,
    s: &Summary,
    json: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "casebook-bench audit ({} run: {} events, export file {:.1} MB)",
        s.mode,
        grouped(s.events as f64),
        s.export_bytes as f64 / 1e6
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<28} {:>9} {:>12} {:>9}",
        "step", "seconds", "events/s", "MB/s"
    )?;
    let row = |out: &mut dyn Write, name: &str, rate: &Rate| {
        let mb_per_s = if rate.mb_per_s > 0.0 {
            format!("{:.1}", rate.mb_per_s)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:<28} {:>9.2} {:>12} {:>9}",
            name,
            rate.seconds,
            grouped(rate.events_per_s),
            mb_per_s
        )
    };
    row(out, "Merkle tree catch-up", &f.catch_up)?;
    row(out, "export (write_export)", &f.export)?;
    row(out, "verify (verify_export)", &f.verify)?;
    row(out, "plain SHA-256 of the file", &f.sha256)?;
    writeln!(out)?;
    writeln!(
        out,
        "verify is {} of plain SHA-256 over the same bytes",
        times(Some(s.verify_ratio_sha256))
    )?;
    writeln!(
        out,
        "inclusion proofs ({} over a tree of {}): p50 {:.3} ms, p99 {:.3} ms",
        grouped(s.inclusion_proofs as f64),
        grouped(s.events as f64),
        s.inclusion_proof_p50_ms,
        s.inclusion_proof_p99_ms
    )?;
    writeln!(out)?;
    write_targets(out, &s.targets)?;
    writeln!(out, "{json}")?;
    out.flush()
}
