//! The log as a file an auditor can check with nothing else running, and
//! the backup a data directory is restored from.
//!
//! JSON Lines: one line per event, in position order, with every field and
//! both hashes, then one last line with the signed tree head over exactly
//! those events and the public key it verifies with (format in
//! `docs/audit.md`). The head's timestamp is the last event's recorded time,
//! so exporting the same log with the same key always gives the same bytes:
//! export → restore → export is byte-identical.

use crate::verify::{read_record, Accepted, Chain};
use crate::{Audit, AuditError, SignedTreeHead};
use casebook_log::{RecordedEvent, SledLog};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::io::{BufRead, Write};
use uuid::Uuid;

/// One event as a line of the export.
#[derive(Debug, Serialize)]
pub(crate) struct ExportedEvent {
    position: u64,
    stream: String,
    revision: u64,
    id: Uuid,
    event_type: String,
    schema_version: u32,
    recorded_at: String,
    occurred_at: String,
    actor: String,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
    data: Box<RawValue>,
    prev_hash: String,
    hash: String,
}

/// The export's last line.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ExportTrailer {
    pub(crate) tree_head: SignedTreeHead,
    pub(crate) public_key: String,
}

/// What an export or a check of one covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events in the file.
    pub events: u64,
    /// The signed head at its end.
    pub tree_head: SignedTreeHead,
    /// The key the head verifies with, hex.
    pub public_key: String,
}

/// A fault in an export file, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {reason}", position.map(|p| format!(" (position {p})")).unwrap_or_default())]
pub struct ExportFault {
    /// The 1-based line number.
    pub line: u64,
    /// The position the line holds or should hold, if it is an event line.
    pub position: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn to_line(record: &RecordedEvent) -> Result<ExportedEvent, AuditError> {
    let data = String::from_utf8(record.data.clone())
        .map_err(|_| AuditError::Corrupt("payload is not UTF-8".into()))?;
    let data = RawValue::from_string(data)
        .map_err(|err| AuditError::Corrupt(format!("payload: {err}")))?;
    Ok(ExportedEvent {
        position: record.position,
        stream: record.stream.clone(),
        revision: record.revision,
        id: record.id,
        event_type: record.event_type.clone(),
        schema_version: record.schema_version,
        recorded_at: time_text(record.recorded_at),
        occurred_at: time_text(record.metadata.occurred_at),
        actor: record.metadata.actor.clone(),
        correlation_id: record.metadata.correlation_id,
        causation_id: record.metadata.causation_id,
        data,
        prev_hash: hex::encode(record.prev_hash),
        hash: hex::encode(record.hash),
    })
}

/// Writes the whole durable log, then its signed head. `progress` is told
/// the number of events written so far, every few thousand.
pub fn write_export(
    log: &SledLog,
    audit: &Audit,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<ExportSummary, AuditError> {
    let size = audit.catch_up(log)?;
    let mut last_recorded_ms = 0;
    for (written, record) in log.iter_all(0).take(size as usize).enumerate() {
        let record = record?;
        last_recorded_ms = record.recorded_at.timestamp_millis();
        serde_json::to_writer(&mut *out, &to_line(&record)?).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        if written % 4096 == 4095 {
            progress(written as u64 + 1);
        }
    }
    let trailer = ExportTrailer {
        tree_head: audit.signed_head_at(size, last_recorded_ms)?,
        public_key: audit.public_key_hex(),
    };
    serde_json::to_writer(&mut *out, &trailer).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    progress(size);
    Ok(ExportSummary {
        events: size,
        tree_head: trailer.tree_head,
        public_key: trailer.public_key,
    })
}

/// Reads an export's events one by one, checking each against its hash
/// and the chain as it goes (the same checks as [`crate::verify_export`]).
struct ExportReader<R> {
    lines: std::io::Lines<R>,
    chain: Chain,
}

impl<R: BufRead> ExportReader<R> {
    fn new(reader: R) -> Self {
        ExportReader {
            lines: reader.lines(),
            chain: Chain::default(),
        }
    }

    /// The next event line, checked; `None` at the end. The signed tree
    /// head's line is checked for its place and skipped.
    fn next_event(&mut self) -> Option<Result<RecordedEvent, ExportFault>> {
        loop {
            let text = match self.lines.next()? {
                Ok(text) => text,
                Err(err) => return Some(Err(self.chain.fault(None, err.to_string()))),
            };
            let (record, examined) = match read_record(text.as_bytes()) {
                Ok((record, check)) => (Some(record), Ok(check)),
                Err(reason) => (None, Err(reason)),
            };
            match (self.chain.accept(text.as_bytes(), examined), record) {
                (Ok(Accepted::Event), Some(record)) => return Some(Ok(record)),
                (Err(fault), _) => return Some(Err(fault)),
                // The signed tree head.
                _ => continue,
            }
        }
    }
}

/// Restores the log of a verified export into `log_dir` (which must not
/// exist or be empty). Verify first with [`crate::verify_export`].
pub fn restore_export(reader: impl BufRead, log_dir: &std::path::Path) -> Result<u64, AuditError> {
    let mut events = ExportReader::new(reader);
    let records = std::iter::from_fn(|| {
        events.next_event().map(|checked| {
            checked.map_err(|fault| casebook_log::LogError::Corrupt {
                position: fault.position.unwrap_or_default(),
                reason: fault.to_string(),
            })
        })
    });
    Ok(SledLog::restore(log_dir, records)?)
}
