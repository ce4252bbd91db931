//! `casebook export`, `verify` and `import`: the auditor's checks and the
//! operator's backup and restore, run with the server stopped.
//!
//! - `export --out FILE` writes the log as JSON Lines with a signed tree head
//!   (format in `docs/audit.md`).
//! - `verify FILE` re-checks an export with nothing else running: the chain,
//!   the Merkle root and the signature; `verify --data DIR` re-checks a data
//!   directory's log and its Merkle tree. Both name the first bad record.
//! - `import FILE --data DIR` verifies an export, then restores it into a
//!   data directory that has no log yet.
//!
//! - `audit key|head|inclusion|consistency` print the tree-head key, a
//!   signed tree head or a proof as JSON (formats in `docs/audit.md`), after
//!   catching the Merkle tree up with the log. Their flags are checked
//!   against each other and against the log before anything is opened for
//!   writing, so a bad flag changes nothing.
//!
//! Progress bars appear only when stderr is a terminal.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use casebook_audit::{
    restore_export, verify_export, write_export, Audit, ConsistencyProof, ExportSummary,
    InclusionProof, SignedTreeHead,
};
use casebook_log::SledLog;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::AuditCommand;
use crate::error::CliError;
use crate::run::{load, print_lines};

fn data_error(path: &Path, message: impl Into<String>) -> CliError {
    CliError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A progress bar of `total` events on stderr, hidden unless stderr is a terminal.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} events ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

fn open_log(data: &Path) -> Result<SledLog, CliError> {
    SledLog::open(data.join("log")).map_err(|e| {
        data_error(
            data,
            format!("the event log cannot be opened (is a server running on it?): {e}"),
        )
    })
}

/// Opens the log of a data directory that has one; never makes an empty
/// log where there was none.
pub fn open_existing_log(data: &Path) -> Result<SledLog, CliError> {
    if !data.join("log").is_dir() {
        return Err(data_error(
            data,
            "there is no event log here (no `log` directory)",
        ));
    }
    open_log(data)
}

fn open_audit(data: &Path) -> Result<Audit, CliError> {
    Audit::open(&data.join("audit")).map_err(|e| data_error(data, e.to_string()))
}

/// Writes the whole log of `data` to `out`, then its signed tree head.
pub fn export(data: &Path, out: &Path) -> Result<ExportSummary, CliError> {
    let log = open_log(data)?;
    let audit = open_audit(data)?;
    let file = std::fs::File::create(out).map_err(|e| data_error(out, e.to_string()))?;
    let mut writer = BufWriter::new(file);
    let bar = progress(log.len(), "export");
    let summary = write_export(&log, &audit, &mut writer, |done| bar.set_position(done))
        .map_err(|e| data_error(data, e.to_string()))?;
    writer.flush().map_err(|e| data_error(out, e.to_string()))?;
    writer
        .get_ref()
        .sync_all()
        .map_err(|e| data_error(out, e.to_string()))?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Re-checks an export file; `key` is the public key the auditor trusts.
pub fn verify_file(file: &Path, key: Option<&str>) -> Result<ExportSummary, CliError> {
    let reader = std::fs::File::open(file).map_err(|e| data_error(file, e.to_string()))?;
    verify_export(BufReader::new(reader), key)
        .map_err(|fault| CliError::Refused(format!("{}: {fault}", file.display())))
}

/// Re-checks a data directory: every record against its hash and the
/// chain, the Merkle tree against the log, and the tree head's signature.
pub fn verify_data(data: &Path) -> Result<ExportSummary, CliError> {
    let log = open_log(data)?;
    let refused = |e: &dyn std::fmt::Display| CliError::Refused(format!("{}: {e}", data.display()));
    let report = log.verify_range(None, None).map_err(|e| refused(&e))?;
    let audit = open_audit(data)?;
    let size = audit.catch_up(&log).map_err(|e| refused(&e))?;
    audit
        .check_against_log(&log, size)
        .map_err(|e| refused(&e))?;
    let last_ms = match size.checked_sub(1) {
        Some(last) => log
            .get(last)
            .map_err(|e| refused(&e))?
            .map_or(0, |r| r.recorded_at.timestamp_millis()),
        None => 0,
    };
    let tree_head = audit
        .signed_head_at(size, last_ms)
        .map_err(|e| refused(&e))?;
    tree_head
        .verify(&audit.public_key_hex())
        .map_err(|e| refused(&e))?;
    Ok(ExportSummary {
        events: report.events,
        tree_head,
        public_key: audit.public_key_hex(),
    })
}

/// Verifies `file`, then restores it as the log of `data`, which must not
/// have one yet. With `key`, the backed-up signing key is restored too, so
/// that exporting again gives the very same bytes.
pub fn import(file: &Path, data: &Path, key: Option<&Path>) -> Result<u64, CliError> {
    verify_file(file, None)?;
    let log_dir: PathBuf = data.join("log");
    let reader = std::fs::File::open(file).map_err(|e| data_error(file, e.to_string()))?;
    let restored = restore_export(BufReader::new(reader), &log_dir)
        .map_err(|e| data_error(data, e.to_string()))?;
    if let Some(key) = key {
        let audit_dir = data.join("audit");
        std::fs::create_dir_all(&audit_dir).map_err(|e| data_error(data, e.to_string()))?;
        let target = audit_dir.join("signing-key");
        if target.exists() {
            return Err(data_error(
                data,
                "a signing key is already there; not replacing it",
            ));
        }
        std::fs::copy(key, &target).map_err(|e| data_error(key, e.to_string()))?;
    }
    Ok(restored)
}

/// The tree-head key of `data`, hex (made on first use, as `serve` does).
pub fn key(data: &Path) -> Result<String, CliError> {
    let _log = open_existing_log(data)?;
    Ok(open_audit(data)?.public_key_hex())
}

/// The audit trail of `data`, its tree caught up with `log`.
fn caught_up(data: &Path, log: &SledLog) -> Result<Audit, CliError> {
    let audit = open_audit(data)?;
    audit
        .catch_up(log)
        .map_err(|e| CliError::Refused(format!("{}: {e}", data.display())))?;
    Ok(audit)
}

fn audit_failed(data: &Path) -> impl Fn(casebook_audit::AuditError) -> CliError + '_ {
    move |e| CliError::Refused(format!("{}: {e}", data.display()))
}

/// A head over the whole log of `data`, signed now.
pub fn head(data: &Path) -> Result<SignedTreeHead, CliError> {
    let log = open_existing_log(data)?;
    let audit = caught_up(data, &log)?;
    audit
        .signed_head(chrono::Utc::now().timestamp_millis())
        .map_err(audit_failed(data))
}

/// The proof that the event at `position` is in the tree of `size` (the
/// whole log by default).
pub fn inclusion(
    data: &Path,
    position: u64,
    size: Option<u64>,
) -> Result<InclusionProof, CliError> {
    match size {
        Some(0) => {
            return Err(CliError::Usage(
                "--size must be at least 1: a tree of size 0 holds no event".to_owned(),
            ))
        }
        Some(size) if position >= size => {
            return Err(CliError::Usage(format!(
                "--position {position} is not in a tree of size {size} (positions 0 to {})",
                size - 1
            )))
        }
        _ => {}
    }
    let log = open_existing_log(data)?;
    let len = log.len();
    let size = match size {
        Some(size) if size > len => return Err(beyond_log("--size", size, len)),
        Some(size) => size,
        None if position >= len => {
            return Err(CliError::Refused(format!(
                "--position {position} is beyond the log, which holds {len} events"
            )))
        }
        None => len,
    };
    let audit = caught_up(data, &log)?;
    audit
        .inclusion_proof(position, size)
        .map_err(audit_failed(data))
}

/// The proof that the tree of `from` is a prefix of the tree of `to`.
pub fn consistency(data: &Path, from: u64, to: u64) -> Result<ConsistencyProof, CliError> {
    if from == 0 {
        return Err(CliError::Usage(
            "--from must be at least 1: every tree extends the empty one".to_owned(),
        ));
    }
    if from > to {
        return Err(CliError::Usage(format!(
            "--from {from} is larger than --to {to}: a log only grows"
        )));
    }
    let log = open_existing_log(data)?;
    if to > log.len() {
        return Err(beyond_log("--to", to, log.len()));
    }
    let audit = caught_up(data, &log)?;
    audit
        .consistency_proof(from, to)
        .map_err(audit_failed(data))
}

fn beyond_log(flag: &str, size: u64, len: u64) -> CliError {
    CliError::Refused(format!(
        "{flag} {size} is beyond the log, which holds {len} events"
    ))
}

/// Runs an `audit` subcommand and prints its JSON.
pub fn run(command: AuditCommand) -> Result<(), CliError> {
    let json = match command {
        AuditCommand::Key(common) => {
            let public_key = key(&load(common, None)?.data_dir)?;
            to_json(&serde_json::json!({
                "algorithm": "Ed25519",
                "public_key": public_key,
                "signed_prefix": "casebook-tree-head-v1",
            }))
        }
        AuditCommand::Head(common) => to_json(&head(&load(common, None)?.data_dir)?),
        AuditCommand::Inclusion {
            common,
            position,
            size,
        } => {
            let data = load(common, None)?.data_dir;
            to_json(&inclusion(&data, position, size)?)
        }
        AuditCommand::Consistency { common, from, to } => {
            let data = load(common, None)?.data_dir;
            to_json(&consistency(&data, from, to)?)
        }
    }?;
    print_lines(&[json])
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Runtime(e.to_string()))
}
