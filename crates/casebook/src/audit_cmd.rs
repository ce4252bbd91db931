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
//! Progress bars appear only when stderr is a terminal.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use casebook_audit::{restore_export, verify_export, write_export, Audit, ExportSummary};
use casebook_log::SledLog;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;

fn data_error(path: &Path, message: impl Into<String>) -> CliError {
    CliError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn progress(total: u64, what: &str) -> ProgressBar {
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
