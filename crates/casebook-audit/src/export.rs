//! The log as a file an auditor can check with nothing else running, and
//! the backup a data directory is restored from.
//!
//! JSON Lines: one line per event, in position order, with every field and
//! both hashes, then one last line with the signed tree head over exactly
//! those events and the public key it verifies with (format in
//! `docs/audit.md`). The head's timestamp is the last event's recorded time,
//! so exporting the same log with the same key always gives the same bytes:
//! export → restore → export is byte-identical.

use crate::merkle::{self, Hash};
use crate::{Audit, AuditError, SignedTreeHead};
use casebook_log::record::chain_hash;
use casebook_log::{Metadata, RecordedEvent, SledLog};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::io::{BufRead, Write};
use uuid::Uuid;

/// One event as a line of the export.
#[derive(Debug, Serialize, Deserialize)]
struct ExportedEvent {
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

/// An event line that passed its checks, and its Merkle leaf hash.
struct Checked {
    record: RecordedEvent,
    leaf: Hash,
}

/// The export's last line.
#[derive(Debug, Serialize, Deserialize)]
struct ExportTrailer {
    tree_head: SignedTreeHead,
    public_key: String,
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

fn to_line(record: &RecordedEvent) -> Result<ExportedEvent, AuditError> {
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

fn parse_event(line: &str) -> Result<RecordedEvent, String> {
    let event: ExportedEvent = serde_json::from_str(line).map_err(|err| err.to_string())?;
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| e.to_string())
    };
    let hash = |text: &str| -> Result<Hash, String> {
        hex::decode(text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| "a hash is not 32 bytes of hex".to_owned())
    };
    Ok(RecordedEvent {
        id: event.id,
        stream: event.stream,
        revision: event.revision,
        position: event.position,
        event_type: event.event_type,
        schema_version: event.schema_version,
        data: event.data.get().as_bytes().to_vec(),
        metadata: Metadata {
            actor: event.actor,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            occurred_at: time(&event.occurred_at)?,
        },
        recorded_at: time(&event.recorded_at)?,
        prev_hash: hash(&event.prev_hash)?,
        hash: hash(&event.hash)?,
    })
}

/// Reads an export's events, checking each against its hash and the chain
/// as it goes; the trailer is handed to `on_trailer`.
struct ExportReader<R> {
    lines: std::io::Lines<R>,
    line: u64,
    last_hash: Hash,
    trailer: Option<(u64, ExportTrailer)>,
}

impl<R: BufRead> ExportReader<R> {
    fn new(reader: R) -> Self {
        ExportReader {
            lines: reader.lines(),
            line: 0,
            last_hash: casebook_log::GENESIS_HASH,
            trailer: None,
        }
    }

    fn fault(&self, position: Option<u64>, reason: impl Into<String>) -> ExportFault {
        ExportFault {
            line: self.line,
            position,
            reason: reason.into(),
        }
    }

    /// The next event line, checked, with its Merkle leaf hash; `None` at
    /// the end. The signed tree head's line is kept aside in `trailer`.
    fn next_event(&mut self) -> Option<Result<Checked, ExportFault>> {
        loop {
            let text = match self.lines.next()? {
                Ok(text) => text,
                Err(err) => return Some(Err(self.fault(None, err.to_string()))),
            };
            let examined = examine(&text);
            match self.accept(&text, examined) {
                Ok(None) => continue,
                Ok(Some(checked)) => return Some(Ok(checked)),
                Err(fault) => return Some(Err(fault)),
            }
        }
    }

    /// Up to `n` more lines (fewer at the end of the file).
    fn next_lines(&mut self, n: usize) -> Result<Vec<String>, ExportFault> {
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            match self.lines.next() {
                Some(Ok(text)) => lines.push(text),
                Some(Err(err)) => return Err(self.fault(None, err.to_string())),
                None => break,
            }
        }
        Ok(lines)
    }

    /// Takes the next line, already examined on its own: checks what
    /// depends on the lines before it (its position, the chain), or keeps
    /// it as the trailer (answering `None`) if it is not an event.
    fn accept(
        &mut self,
        text: &str,
        examined: Result<Examined, String>,
    ) -> Result<Option<Checked>, ExportFault> {
        self.line += 1;
        let expected = self.line - 1;
        if self.trailer.is_some() {
            return Err(self.fault(None, "a line follows the signed tree head"));
        }
        let examined = match examined {
            Ok(examined) => examined,
            Err(reason) => {
                // Not an event: the trailer, or a fault.
                if let Ok(trailer) = serde_json::from_str::<ExportTrailer>(text) {
                    self.trailer = Some((self.line, trailer));
                    return Ok(None);
                }
                return Err(self.fault(Some(expected), reason));
            }
        };
        let record = &examined.checked.record;
        if record.position != expected {
            return Err(self.fault(
                Some(expected),
                format!("holds position {} instead", record.position),
            ));
        }
        if record.prev_hash != self.last_hash {
            return Err(self.fault(Some(expected), "does not follow the previous record's hash"));
        }
        if !examined.matches_its_hash {
            return Err(self.fault(Some(expected), "does not match its hash"));
        }
        self.last_hash = record.hash;
        Ok(Some(examined.checked))
    }
}

/// A line looked at on its own, as any number of threads may do at once:
/// parsed, its canonical bytes hashed for the chain and the Merkle leaf.
struct Examined {
    checked: Checked,
    /// Whether the record's own hash is that of its previous hash and
    /// canonical bytes.
    matches_its_hash: bool,
}

fn examine(text: &str) -> Result<Examined, String> {
    let record = parse_event(text)?;
    let canonical = record.canonical_bytes();
    let matches_its_hash = chain_hash(&record.prev_hash, &canonical) == record.hash;
    Ok(Examined {
        checked: Checked {
            leaf: merkle::leaf_hash(&canonical),
            record,
        },
        matches_its_hash,
    })
}

/// Lines examined per round of [`verify_export`]: each round splits them
/// over the cores, then checks them in order.
const VERIFY_CHUNK_LINES: usize = 4_096;

/// Examines `lines` split over the machine's cores, answers in order.
fn examine_all(lines: &[String]) -> Vec<Result<Examined, String>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores == 1 || lines.len() < 2 * cores {
        return lines.iter().map(|line| examine(line)).collect();
    }
    let per_thread = lines.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let parts: Vec<_> = lines
            .chunks(per_thread)
            .map(|part| {
                let handle =
                    scope.spawn(move || part.iter().map(|line| examine(line)).collect::<Vec<_>>());
                (part.len(), handle)
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(len, handle)| {
                handle.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err("a verifying thread failed".to_owned()))
                        .collect()
                })
            })
            .collect()
    })
}

/// Checks an export with nothing else running: every record against its
/// hash and the chain, the Merkle root against the signed head, and the
/// head's signature (against `trusted_key` if given, else the file's own).
pub fn verify_export(
    reader: impl BufRead,
    trusted_key: Option<&str>,
) -> Result<ExportSummary, ExportFault> {
    let mut events = ExportReader::new(reader);
    let mut leaves = Vec::new();
    loop {
        let lines = events.next_lines(VERIFY_CHUNK_LINES)?;
        if lines.is_empty() {
            break;
        }
        for (text, examined) in lines.iter().zip(examine_all(&lines)) {
            if let Some(checked) = events.accept(text, examined)? {
                leaves.push(checked.leaf);
            }
        }
    }
    let Some((line, trailer)) = events.trailer.take() else {
        return Err(events.fault(None, "the file ends without a signed tree head"));
    };
    let fault = |reason: String| ExportFault {
        line,
        position: None,
        reason,
    };
    let head = &trailer.tree_head;
    if head.size != leaves.len() as u64 {
        return Err(fault(format!(
            "the signed head covers {} events but the file holds {}",
            head.size,
            leaves.len()
        )));
    }
    let root =
        merkle::root(&crate::LeafList(leaves), head.size).map_err(|err| fault(err.to_string()))?;
    if hex::encode(root) != head.root_hash {
        return Err(fault(
            "the Merkle root of the events differs from the signed head's".into(),
        ));
    }
    let key = trusted_key.unwrap_or(&trailer.public_key);
    head.verify(key).map_err(|err| fault(err.to_string()))?;
    Ok(ExportSummary {
        events: head.size,
        tree_head: trailer.tree_head,
        public_key: trailer.public_key,
    })
}

/// Restores the log of a verified export into `log_dir` (which must not
/// exist or be empty). Verify first with [`verify_export`].
pub fn restore_export(reader: impl BufRead, log_dir: &std::path::Path) -> Result<u64, AuditError> {
    let mut events = ExportReader::new(reader);
    let records = std::iter::from_fn(|| {
        events.next_event().map(|checked| {
            checked
                .map(|c| c.record)
                .map_err(|fault| casebook_log::LogError::Corrupt {
                    position: fault.position.unwrap_or_default(),
                    reason: fault.to_string(),
                })
        })
    });
    Ok(SledLog::restore(log_dir, records)?)
}
