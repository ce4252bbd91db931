//! `casebook case`: one case as it stands, or as it stood at a past
//! moment on either clock, printed as JSON (server stopped).
//!
//! For auditors and operators working on a data directory: the case is
//! folded from its stream like the API does, without its sealed informant.
//! `--axis recorded` (the default) answers what the system knew at the
//! moment; `--axis field` what had happened in the field by then,
//! including what was logged later.

use std::path::Path;

use casebook_domain::{fold_as_of, Concern, ConcernId, Event, TimeAxis};
use casebook_log::SledLog;
use casebook_privacy::Unsealer;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::cli::{AsOfAxis, CaseArgs};
use crate::error::CliError;

/// Prints the case as JSON.
#[allow(clippy::print_stdout)]
pub async fn run(args: CaseArgs, data_dir: &Path) -> Result<(), CliError> {
    if args.axis.is_some() && args.as_of.is_none() {
        return Err(CliError::Usage("--axis needs --as-of".to_owned()));
    }
    let log_dir = data_dir.join("log");
    if !log_dir.exists() {
        return Err(CliError::Data {
            path: data_dir.to_path_buf(),
            message: "no event log here".to_owned(),
        });
    }
    let log = SledLog::open(&log_dir).map_err(|e| CliError::Data {
        path: data_dir.to_path_buf(),
        message: format!("the event log cannot be opened (is a server running on it?): {e}"),
    })?;
    let stream = ConcernId(args.id).stream();
    let events = read_events(&log, &stream).await?;
    if events.is_empty() {
        return Err(CliError::Refused(format!("no case {}", args.id)));
    }
    let revision = events.len() - 1;
    let (axis, at) = match args.as_of {
        Some(at) => (args.axis.unwrap_or(AsOfAxis::Recorded), at),
        None => (AsOfAxis::Recorded, DateTime::<Utc>::MAX_UTC),
    };
    let axis = match axis {
        AsOfAxis::Recorded => TimeAxis::Recorded,
        AsOfAxis::Field => TimeAxis::Field,
    };
    let concern: Option<Concern> = fold_as_of(&events, axis, at);
    let Some(concern) = concern else {
        return Err(CliError::Refused(format!(
            "case {} did not exist yet at {at}",
            args.id
        )));
    };
    let answer = json!({
        "concern": concern.without_sealed_informant(),
        "revision": revision,
        "as_of": args.as_of,
        "axis": args.as_of.map(|_| format!("{axis:?}").to_lowercase()),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    Ok(())
}

async fn read_events(log: &SledLog, stream: &str) -> Result<Vec<Event>, CliError> {
    crate::stream::read_all(log, stream)
        .await?
        .iter()
        .map(|record| {
            casebook_privacy::decode(record, Unsealer::Withhold)
                .map_err(|e| CliError::Runtime(e.to_string()))
        })
        .collect()
}
