//! `casebook projections status|rebuild [VIEW]`: the operator's look at the
//! views and their repair, with the server stopped (the views' database is
//! opened by one process at a time; a running server rebuilds a view by
//! itself when its code version changes).
//!
//! - `status` opens the views without starting their workers and prints,
//!   for each, its checkpoint (the last log position it applied), its lag
//!   behind the log and its health; it changes nothing.
//! - `rebuild` first lets every view catch up with the log, then rebuilds
//!   the named view (or each in turn) into a new generation from position
//!   0 and waits until that generation has taken over and caught up. A
//!   view that stopped on an event (health `failed`) is repaired this way
//!   once the code that reads the event is fixed.
//!
//! An unknown view name is refused before any worker starts; if the views
//! did not exist yet, what opening them made is removed again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use casebook_domain::Policy;
use casebook_log::SledLog;
use casebook_projections::{
    Health, ProjectionError, Projections, ViewStatus, SEARCH_DIR, VIEWS_DIR,
};

use crate::audit_cmd::{open_existing_log, progress};
use crate::cli::ProjectionsCommand;
use crate::error::CliError;
use crate::replay_cmd::{health_word, wait_caught_up};
use crate::run::{load, print_lines};

/// How often a rebuild's progress is looked at.
const REBUILD_POLL: Duration = Duration::from_millis(100);

/// Runs a `projections` subcommand and prints the views' status.
pub async fn run(command: ProjectionsCommand) -> Result<(), CliError> {
    match command {
        ProjectionsCommand::Status { common, json } => {
            let config = load(common, None)?;
            let views = status(&config.data_dir, config.policy)?;
            if json {
                let text = serde_json::to_string_pretty(&views)
                    .map_err(|e| CliError::Runtime(e.to_string()))?;
                return print_lines(&[text]);
            }
            print_table(&views)
        }
        ProjectionsCommand::Rebuild { common, view } => {
            let config = load(common, None)?;
            let views = rebuild(&config.data_dir, view.as_deref(), config.policy).await?;
            let lines: Vec<String> = views
                .iter()
                .map(|v| format!("rebuilt {} (generation {})", v.name, v.generation))
                .collect();
            print_lines(&lines)?;
            print_table(&views)
        }
    }
}

/// One line per view: name, version, generation, checkpoint, lag, health.
fn print_table(views: &[ViewStatus]) -> Result<(), CliError> {
    let mut lines =
        vec!["view\tversion\tgeneration\tcheckpoint\tlag_events\tlag_ms\thealth".to_owned()];
    for v in views {
        let checkpoint = match v.applied.checked_sub(1) {
            Some(last) => last.to_string(),
            None => "none".to_owned(),
        };
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            v.name,
            v.version,
            v.generation,
            checkpoint,
            v.lag_events,
            v.lag_ms,
            health_word(&v.health)
        ));
    }
    print_lines(&lines)
}

/// Each view's status, read without starting a worker. Changes nothing:
/// if the views did not exist yet, what opening them made is removed.
pub fn status(data: &Path, policy: Policy) -> Result<Vec<ViewStatus>, CliError> {
    let log = open_existing_log(data)?;
    let (projections, made) = open_views(data, log, policy)?;
    let status = projections.status().map_err(views_failed(data));
    drop(projections);
    remove_all(&made);
    status
}

/// Rebuilds `view` (every view if `None`) and waits until caught up;
/// answers each rebuilt view's status.
pub async fn rebuild(
    data: &Path,
    view: Option<&str>,
    policy: Policy,
) -> Result<Vec<ViewStatus>, CliError> {
    let log = open_existing_log(data)?;
    let head = log.len();
    let (projections, made) = open_views(data, log, policy)?;
    let names = match chosen(&projections, view) {
        Ok(names) => names,
        Err(refused) => {
            drop(projections);
            remove_all(&made);
            return Err(refused);
        }
    };
    projections.start();
    let rebuilt = rebuild_each(&projections, &names, head).await;
    projections.shutdown().await;
    rebuilt.map_err(views_failed(data))
}

async fn rebuild_each(
    projections: &Projections,
    names: &[&'static str],
    head: u64,
) -> Result<Vec<ViewStatus>, ProjectionError> {
    wait_caught_up(projections, head).await?;
    let mut rebuilt = Vec::new();
    for name in names {
        let before = view_status(projections, name)?.generation;
        projections.rebuild(name)?;
        rebuilt.push(wait_rebuilt(projections, name, before, head).await?);
    }
    Ok(rebuilt)
}

/// The views to rebuild: the one named (if it exists) or all.
fn chosen(projections: &Projections, view: Option<&str>) -> Result<Vec<&'static str>, CliError> {
    let names = projections.view_names();
    let Some(view) = view else {
        return Ok(names);
    };
    match names.iter().find(|name| **name == view) {
        Some(name) => Ok(vec![*name]),
        None => Err(CliError::Usage(format!(
            "no view named `{view}`; the views are {}",
            names.join(", ")
        ))),
    }
}

fn view_status(projections: &Projections, name: &str) -> Result<ViewStatus, ProjectionError> {
    projections
        .status()?
        .into_iter()
        .find(|v| v.name == name)
        .ok_or_else(|| ProjectionError::UnknownView(name.to_owned()))
}

/// Waits until a generation after `before` serves `name` and has applied
/// `head` events; a view that stops fails the wait.
async fn wait_rebuilt(
    projections: &Projections,
    name: &'static str,
    before: u64,
    head: u64,
) -> Result<ViewStatus, ProjectionError> {
    let bar = progress(head, name);
    loop {
        let status = view_status(projections, name)?;
        match &status.health {
            Health::Failed {
                position,
                event_type,
                reason,
            } => {
                return Err(ProjectionError::Stopped {
                    view: name,
                    position: *position,
                    event_type: event_type.clone(),
                    reason: reason.clone(),
                })
            }
            Health::Rebuilding { applied } => bar.set_position(*applied),
            Health::Running if status.generation > before && status.applied >= head => {
                bar.finish_and_clear();
                return Ok(status);
            }
            Health::Running => {}
        }
        tokio::time::sleep(REBUILD_POLL).await;
    }
}

fn views_failed(data: &Path) -> impl Fn(ProjectionError) -> CliError + '_ {
    move |e| CliError::Data {
        path: data.to_path_buf(),
        message: format!("the views: {e}"),
    }
}

/// Opens the views of a data directory; answers them and the directories
/// that opening made (the views did not exist yet), to remove on failure.
fn open_views(
    data: &Path,
    log: SledLog,
    policy: Policy,
) -> Result<(Projections, Vec<PathBuf>), CliError> {
    let made: Vec<PathBuf> = [VIEWS_DIR, SEARCH_DIR]
        .iter()
        .map(|dir| data.join(dir))
        .filter(|dir| !dir.exists())
        .collect();
    match Projections::open(log, data, policy) {
        Ok(projections) => Ok((projections, made)),
        Err(e) => {
            remove_all(&made);
            Err(views_failed(data)(e))
        }
    }
}

fn remove_all(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}
