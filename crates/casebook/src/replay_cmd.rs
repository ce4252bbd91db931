//! `casebook replay`: the views as they stood at a past log position or
//! time, built in a scratch directory, so that an auditor can see what the
//! case book knew then (the brief's "state as of any past moment", for the
//! figures and lists and not only for one case).
//!
//! The source data directory is only read. The log's prefix up to the
//! chosen event is copied record by record into `<out>/log` (the copy is
//! chain-checked as it is written, `SledLog::restore`), then the views are
//! opened over the copy (`<out>/views`, `<out>/search`) and the command
//! waits until every view has applied every copied event. The figures of
//! each root unit are judged as of the replay's moment and written to
//! `<out>/figures.json`. The deadline watcher is not started, so the copy
//! never gains an event the past did not have.
//!
//! Every flag is checked before `--out` is touched, and if anything fails
//! later whatever was made under `--out` is removed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use casebook_domain::{payload_from_record, Payload, Policy, UnitId};
use casebook_log::SledLog;
use casebook_projections::{FiguresReport, Granularity, ProjectionError, Projections, ViewStatus};
use chrono::{DateTime, Utc};

use crate::audit_cmd::{open_existing_log, progress};
use crate::cli::{ReplayArgs, Until};
use crate::error::CliError;
use crate::run::{load, print_lines};

/// How long one wait for the views lasts before the progress bar is
/// updated; the whole wait has no bound (a replay of millions of events
/// takes minutes), but a view that stops ends it at once.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// The file the figures are written to, under `--out`.
pub const FIGURES_FILE: &str = "figures.json";

/// What a replay built.
#[derive(Debug)]
pub struct Replayed {
    /// Events copied (positions 0 to `events - 1`).
    pub events: u64,
    /// The moment the views stand at: the `--until` time, or the last
    /// copied event's `recorded_at`.
    pub as_of: DateTime<Utc>,
    /// Each view after the replay.
    pub views: Vec<ViewStatus>,
    /// Each root unit's name and figures as of `as_of`.
    pub figures: Vec<(String, FiguresReport)>,
    /// Where the figures were written.
    pub figures_file: PathBuf,
}

/// Runs `replay` and prints what it built.
pub async fn run(args: ReplayArgs) -> Result<(), CliError> {
    let config = load(args.common, None)?;
    let replayed = replay(&config.data_dir, args.until, &args.out, config.policy).await?;
    let mut lines = vec![format!(
        "replayed {} events (positions 0 to {}) into {}, as of {}",
        replayed.events,
        replayed.events - 1,
        args.out.display(),
        replayed.as_of.to_rfc3339()
    )];
    for view in &replayed.views {
        lines.push(format!(
            "view {}: {} events applied, {}",
            view.name,
            view.applied,
            health_word(&view.health)
        ));
    }
    for (name, report) in &replayed.figures {
        let (total, counters) = (&report.total, &report.total.counters);
        lines.push(format!(
            "figures of {name} ({}), {} to {}: received {}, resolved {} ({} in time), escalated {}, open {}, overdue {}",
            report.unit, report.from, report.to, counters.received, counters.resolved,
            counters.resolved_on_time, counters.escalated, total.open_now, total.overdue_now
        ));
    }
    lines.push(format!(
        "figures written to {}",
        replayed.figures_file.display()
    ));
    print_lines(&lines)
}

/// One word for a view's health.
pub fn health_word(health: &casebook_projections::Health) -> String {
    match health {
        casebook_projections::Health::Running => "running".to_owned(),
        casebook_projections::Health::Rebuilding { applied } => {
            format!("rebuilding ({applied} applied)")
        }
        casebook_projections::Health::Failed {
            position,
            event_type,
            reason,
        } => format!("failed at position {position} ({event_type}): {reason}"),
    }
}

/// Replays the log of `data` up to `until` into `out` (see the module doc).
pub async fn replay(
    data: &Path,
    until: Until,
    out: &Path,
    policy: Policy,
) -> Result<Replayed, CliError> {
    check_out(out)?;
    let source = open_existing_log(data)?;
    let (events, as_of) = resolve(&source, until)?;
    let made = MadeDir::create(out)?;
    let copied = copy_prefix(&source, events, out);
    drop(source);
    copied?;
    let replayed = build(out, events, as_of, policy).await?;
    made.keep();
    Ok(replayed)
}

/// Refuses an `--out` that is a file or a directory with anything in it.
fn check_out(out: &Path) -> Result<(), CliError> {
    let refused = |why: &str| CliError::Refused(format!("--out {}: {why}", out.display()));
    match std::fs::read_dir(out).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(refused(
            "is not empty; a replay needs an empty or new directory",
        )),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if out.exists() => Err(refused("is not a directory")),
        Err(e) => Err(refused(&e.to_string())),
    }
}

/// The number of events a replay copies, and the moment it stands at.
fn resolve(log: &SledLog, until: Until) -> Result<(u64, DateTime<Utc>), CliError> {
    let len = log.len();
    if len == 0 {
        return Err(CliError::Refused(
            "the log is empty: there is nothing to replay".to_owned(),
        ));
    }
    match until {
        Until::Position(position) if position >= len => Err(CliError::Refused(format!(
            "--until {position} is beyond the log, whose last position is {}",
            len - 1
        ))),
        Until::Position(position) => Ok((position + 1, recorded_at(log, position)?)),
        Until::Time(time) => {
            let first = recorded_at(log, 0)?;
            if time < first {
                return Err(CliError::Refused(format!(
                    "--until {} is before the first event, recorded at {}",
                    time.to_rfc3339(),
                    first.to_rfc3339()
                )));
            }
            Ok((recorded_up_to(log, time, len)?, time))
        }
    }
}

fn recorded_at(log: &SledLog, position: u64) -> Result<DateTime<Utc>, CliError> {
    let record = log
        .get(position)
        .map_err(|e| CliError::Refused(format!("position {position}: {e}")))?
        .ok_or_else(|| CliError::Refused(format!("position {position} is not in the log")))?;
    Ok(record.recorded_at)
}

/// How many events were recorded at or before `time`. `recorded_at`
/// never decreases with position, so they are a prefix: a binary search
/// finds its end. The first event is known to be at or before `time`.
fn recorded_up_to(log: &SledLog, time: DateTime<Utc>, len: u64) -> Result<u64, CliError> {
    let (mut low, mut high) = (1, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if recorded_at(log, middle)? <= time {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// `--out`, removed again unless the replay succeeds.
struct MadeDir {
    path: PathBuf,
    existed: bool,
    keep: bool,
}

impl MadeDir {
    fn create(path: &Path) -> Result<Self, CliError> {
        let existed = path.exists();
        std::fs::create_dir_all(path).map_err(|e| CliError::Data {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            existed,
            keep: false,
        })
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for MadeDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
        if self.existed {
            let _ = std::fs::create_dir(&self.path);
        }
    }
}

/// Copies the first `events` records of `source` into `<out>/log`.
fn copy_prefix(source: &SledLog, events: u64, out: &Path) -> Result<(), CliError> {
    let bar = progress(events, "copy");
    let records = source
        .iter_all(0)
        .take(usize::try_from(events).unwrap_or(usize::MAX))
        .inspect(|_| bar.inc(1));
    let copied = SledLog::restore(out.join("log"), records).map_err(|e| CliError::Data {
        path: out.to_path_buf(),
        message: format!("copying the log: {e}"),
    })?;
    bar.finish_and_clear();
    if copied != events {
        return Err(CliError::Runtime(format!(
            "copied {copied} events, not {events}"
        )));
    }
    Ok(())
}

/// Builds the views over the copy in `out`, then reads their figures.
async fn build(
    out: &Path,
    events: u64,
    as_of: DateTime<Utc>,
    policy: Policy,
) -> Result<Replayed, CliError> {
    let views_failed = |e: ProjectionError| CliError::Data {
        path: out.to_path_buf(),
        message: format!("the views: {e}"),
    };
    let log = SledLog::open(out.join("log")).map_err(|e| CliError::Data {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    let projections = Projections::open(log.clone(), out, policy).map_err(views_failed)?;
    projections.start();
    let caught_up = wait_caught_up(&projections, events).await;
    let read = caught_up.and_then(|()| {
        let views = projections.status()?;
        let figures = root_figures(&log, &projections, events, as_of)?;
        Ok((views, figures))
    });
    projections.shutdown().await;
    let (views, figures) = read.map_err(views_failed)?;
    let figures_file = out.join(FIGURES_FILE);
    write_figures(&figures_file, &figures)?;
    Ok(Replayed {
        events,
        as_of,
        views,
        figures,
        figures_file,
    })
}

/// Waits until every view has applied `events` events, showing progress.
pub async fn wait_caught_up(projections: &Projections, events: u64) -> Result<(), ProjectionError> {
    let Some(last) = events.checked_sub(1) else {
        return Ok(());
    };
    let bar = progress(events, "views");
    loop {
        match projections.wait_for(last, PROGRESS_TICK).await {
            Ok(()) => break,
            Err(ProjectionError::Timeout { .. }) => {
                let applied = projections.status()?.iter().map(|v| v.applied).min();
                bar.set_position(applied.unwrap_or(0));
            }
            Err(other) => return Err(other),
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// What the figures need from the copied events: the root units and the
/// span of their field times (the figures count by field time, which can
/// be earlier than the log's first record).
struct Prefix {
    roots: Vec<(UnitId, String)>,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

fn scan(log: &SledLog, events: u64, as_of: DateTime<Utc>) -> Result<Prefix, ProjectionError> {
    let mut prefix = Prefix {
        roots: Vec::new(),
        first: as_of,
        last: as_of,
    };
    for record in log
        .iter_all(0)
        .take(usize::try_from(events).unwrap_or(usize::MAX))
    {
        let record = record?;
        prefix.first = prefix.first.min(record.metadata.occurred_at);
        prefix.last = prefix.last.max(record.metadata.occurred_at);
        if record.event_type != "unit.created" {
            continue;
        }
        let payload = payload_from_record(
            &record.event_type,
            record.schema_version,
            record.data_json()?,
        )?;
        if let Payload::UnitCreated(unit) = payload {
            if unit.parent_id.is_none() {
                prefix.roots.push((unit.unit_id, unit.name));
            }
        }
    }
    Ok(prefix)
}

/// Each root unit's figures over every year the copied events' field
/// times touch, judged at `as_of`.
fn root_figures(
    log: &SledLog,
    projections: &Projections,
    events: u64,
    as_of: DateTime<Utc>,
) -> Result<Vec<(String, FiguresReport)>, ProjectionError> {
    let zone = projections.policy().time_zone;
    let prefix = scan(log, events, as_of)?;
    let first = prefix.first.with_timezone(&zone).date_naive();
    let last = prefix.last.with_timezone(&zone).date_naive();
    prefix
        .roots
        .into_iter()
        .map(|(unit, name)| {
            let report = projections.figures(unit, Granularity::Year, first, last, as_of)?;
            Ok((name, report))
        })
        .collect()
}

fn write_figures(path: &Path, figures: &[(String, FiguresReport)]) -> Result<(), CliError> {
    let reports: Vec<&FiguresReport> = figures.iter().map(|(_, report)| report).collect();
    let text = serde_json::to_string_pretty(&reports)
        .map_err(|e| CliError::Runtime(format!("writing the figures: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|e| CliError::Data {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
