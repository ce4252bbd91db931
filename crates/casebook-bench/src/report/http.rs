//! The report of `casebook-bench http`: a table of the three loads (with
//! the machine's idle CPU time during each), the host probe, the targets
//! with pass/miss, then the JSON line. A miss never changes the exit code.

use super::{grouped, write_targets, Target};
use crate::error::{BenchError, Result};
use crate::http_bench::{HttpFigures, LoadFigures};
use serde::Serialize;
use std::io::Write;

/// Durable commands (new cases) per second over HTTP.
const TARGET_COMMANDS_PER_S: f64 = 15_000.0;
/// Single-case reads per second over HTTP.
const TARGET_READS_PER_S: f64 = 40_000.0;
/// Every load's p99 must stay under this, ms.
const TARGET_P99_MS: f64 = 20.0;

/// One load, as the JSON line carries it.
#[derive(Debug, Serialize)]
struct LoadJson {
    name: &'static str,
    request: &'static str,
    requests: u64,
    seconds: f64,
    ok_per_s: f64,
    non_2xx: u64,
    socket_errors: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    /// The machine's idle CPU time during the load, per cent of all cores'
    /// (absent where the kernel does not count it).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_idle_percent: Option<f64>,
}

/// The last line.
#[derive(Debug, Serialize)]
struct Summary {
    mode: &'static str,
    seconds_per_load: f64,
    connections: usize,
    wrk_threads: usize,
    server: String,
    demo_events: u64,
    probe_ms_before: f64,
    probe_ms_after: f64,
    commands_per_s: f64,
    commands_p99_ms: f64,
    commands_appended: u64,
    reads_per_s: f64,
    reads_p99_ms: f64,
    list_per_s: f64,
    list_p99_ms: f64,
    targets: Vec<Target>,
    loads: Vec<LoadJson>,
}

/// Prints the table, the targets, and the JSON line, in that order.
pub fn print_http_report(figures: &HttpFigures) -> Result<()> {
    let summary = summarise(figures);
    let json = serde_json::to_string(&summary)?;
    let mut out = std::io::stdout().lock();
    write_report(&mut out, &summary, &json).map_err(BenchError::Report)
}

fn summarise(f: &HttpFigures) -> Summary {
    let loads = &f.loads;
    let rows = vec![
        load("commands", "POST /v1/concerns", &loads.commands),
        load("reads", "GET /v1/concerns/{id}", &loads.reads),
        load("list", "GET /v1/concerns?unit=", &loads.list),
    ];
    Summary {
        mode: if f.plan.quick { "quick" } else { "full" },
        seconds_per_load: f.plan.duration.as_secs_f64(),
        connections: f.plan.connections,
        wrk_threads: f.plan.threads,
        server: f.binary.display().to_string(),
        demo_events: loads.demo_events,
        probe_ms_before: f.probe_ms.0,
        probe_ms_after: f.probe_ms.1,
        commands_per_s: loads.commands.wrk.ok_per_s(),
        commands_p99_ms: loads.commands.wrk.p99_ms,
        commands_appended: loads.commands_appended,
        reads_per_s: loads.reads.wrk.ok_per_s(),
        reads_p99_ms: loads.reads.wrk.p99_ms,
        list_per_s: loads.list.wrk.ok_per_s(),
        list_p99_ms: loads.list.wrk.p99_ms,
        targets: vec![
            Target::at_least(
                "commands_per_s",
                loads.commands.wrk.ok_per_s(),
                TARGET_COMMANDS_PER_S,
            ),
            Target::under("commands_p99_ms", loads.commands.wrk.p99_ms, TARGET_P99_MS),
            Target::at_least(
                "reads_per_s",
                loads.reads.wrk.ok_per_s(),
                TARGET_READS_PER_S,
            ),
            Target::under("reads_p99_ms", loads.reads.wrk.p99_ms, TARGET_P99_MS),
            Target::under("list_p99_ms", loads.list.wrk.p99_ms, TARGET_P99_MS),
        ],
        loads: rows,
    }
}

fn load(name: &'static str, request: &'static str, figures: &LoadFigures) -> LoadJson {
    let w = &figures.wrk;
    LoadJson {
        name,
        request,
        requests: w.requests,
        seconds: w.seconds,
        ok_per_s: w.ok_per_s(),
        non_2xx: w.non_2xx,
        socket_errors: w.socket_errors,
        p50_ms: w.p50_ms,
        p90_ms: w.p90_ms,
        p99_ms: w.p99_ms,
        cpu_idle_percent: figures.idle_percent,
    }
}

fn write_report(out: &mut impl Write, s: &Summary, json: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "casebook-bench http ({} run: wrk, {} connections, {} threads, {} s per load; \
         demo province, {} events; server {})",
        s.mode, s.connections, s.wrk_threads, s.seconds_per_load, s.demo_events, s.server
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<9} {:<24} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "load",
        "request",
        "requests",
        "ok/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "non-2xx",
        "errors",
        "idle %"
    )?;
    for l in &s.loads {
        writeln!(
            out,
            "{:<9} {:<24} {:>10} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>7} {:>7}",
            l.name,
            l.request,
            grouped(l.requests as f64),
            grouped(l.ok_per_s),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.non_2xx,
            l.socket_errors,
            percent(l.cpu_idle_percent),
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "events appended by the command load: {} (log positions before and after)",
        grouped(s.commands_appended as f64)
    )?;
    writeln!(
        out,
        "idle %: the machine's CPU time left idle during the load, all cores (/proc/stat)"
    )?;
    writeln!(
        out,
        "host probe: {:.0} ms before the server started, {:.0} ms after it stopped (fixed \
         arithmetic on every core at once; longer when the host is busy)",
        s.probe_ms_before, s.probe_ms_after
    )?;
    writeln!(out)?;
    write_targets(out, &s.targets)?;
    writeln!(out, "{json}")?;
    out.flush()
}

/// A share for the table, `-` where the kernel gave none.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}"))
}
