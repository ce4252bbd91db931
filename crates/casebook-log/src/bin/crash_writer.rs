//! The child process of the crash test (`tests/log.rs`, module `crash`).
//!
//! It opens the log in the directory given as its first argument and appends
//! from several tasks at once, forever, until the parent kills it. Before
//! each append it prints `TRY <json>` with everything needed to rebuild the
//! append; after the log acknowledges it, `ACK <json>` with the places. The
//! parent then checks, after reopening, that every acknowledged event is
//! there and that retrying an unacknowledged append never duplicates it.
//!
//! With `--sequential N` it instead makes N appends one after another from a
//! single task and exits; the fsync test runs it under `strace` to see that
//! every `ACK` is preceded by an `fdatasync`.

use casebook_log::{EventPlace, ExpectedRevision, Metadata, NewEvent, SledLog, StreamAppend};
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use uuid::Uuid;

/// Tasks appending at once.
const WRITERS: usize = 8;

/// One append, as printed on a `TRY` line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriedAppend {
    /// Unique per append, to match the `ACK` line.
    pub key: Uuid,
    /// The streams and events.
    pub parts: Vec<TriedPart>,
}

/// One stream's share of a tried append.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriedPart {
    /// The stream.
    pub stream: String,
    /// `None` for `Any`, else the exact revision expected.
    pub expected: Option<u64>,
    /// Event ids and payloads; everything else is fixed.
    pub events: Vec<(Uuid, serde_json::Value)>,
}

/// An acknowledgement, as printed on an `ACK` line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Acked {
    /// The tried append's key.
    pub key: Uuid,
    /// Where its events went.
    pub places: Vec<EventPlace>,
}

/// Rebuilds the log's request from a printed append.
pub fn to_stream_appends(tried: &TriedAppend) -> Vec<StreamAppend> {
    tried
        .parts
        .iter()
        .map(|part| StreamAppend {
            stream: part.stream.clone(),
            expected: part
                .expected
                .map_or(ExpectedRevision::Any, ExpectedRevision::Exact),
            events: part
                .events
                .iter()
                .map(|(id, data)| event(*id, data.clone()))
                .collect(),
        })
        .collect()
}

fn event(id: Uuid, data: serde_json::Value) -> NewEvent {
    NewEvent {
        id,
        event_type: "crash.appended".into(),
        schema_version: 1,
        data,
        metadata: Metadata {
            actor: "crash-writer".into(),
            correlation_id: None,
            causation_id: None,
            occurred_at: Utc
                .timestamp_opt(1_700_000_000, 0)
                .single()
                .unwrap_or_default(),
        },
    }
}

fn print_line(tag: &str, value: &impl Serialize) {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{tag} {json}");
    let _ = out.flush();
}

async fn append_forever(log: SledLog, writer: usize) {
    // Each writer owns one stream (exact revisions) and shares one (any).
    let own = format!("concern-{writer}-{}", Uuid::new_v4().simple());
    let mut own_revision: Option<u64> = None;
    for round in 0u64.. {
        let events = |count: u64| {
            (0..count)
                .map(|i| {
                    (
                        Uuid::new_v4(),
                        serde_json::json!({ "writer": writer, "round": round, "i": i }),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut parts = vec![TriedPart {
            stream: own.clone(),
            expected: own_revision,
            events: events(1 + round % 4),
        }];
        if round % 3 == 0 {
            parts.push(TriedPart {
                stream: "household-shared".into(),
                expected: None,
                events: events(1),
            });
        }
        let tried = TriedAppend {
            key: Uuid::new_v4(),
            parts,
        };
        print_line("TRY", &tried);
        match log.append_multi(to_stream_appends(&tried)).await {
            Ok(outcome) => {
                own_revision = outcome.stream_revision(&own);
                print_line(
                    "ACK",
                    &Acked {
                        key: tried.key,
                        places: outcome.events,
                    },
                );
            }
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "append failed: {err}");
                std::process::exit(3);
            }
        }
    }
}

async fn append_sequentially(log: SledLog, appends: u64) {
    for round in 0..appends {
        let tried = TriedAppend {
            key: Uuid::new_v4(),
            parts: vec![TriedPart {
                stream: "concern-sequential".into(),
                expected: None,
                events: vec![(Uuid::new_v4(), serde_json::json!({ "round": round }))],
            }],
        };
        print_line("TRY", &tried);
        match log.append_multi(to_stream_appends(&tried)).await {
            Ok(outcome) => print_line(
                "ACK",
                &Acked {
                    key: tried.key,
                    places: outcome.events,
                },
            ),
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "append failed: {err}");
                std::process::exit(3);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).cloned() else {
        let _ = writeln!(
            std::io::stderr(),
            "usage: casebook-log-crash-writer DIR [--sequential N]"
        );
        std::process::exit(2);
    };
    let sequential = match (args.get(2).map(String::as_str), args.get(3)) {
        (Some("--sequential"), Some(count)) => count.parse::<u64>().ok(),
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "no runtime: {err}");
            std::process::exit(2);
        }
    };
    runtime.block_on(async {
        let log = match SledLog::open(&dir) {
            Ok(log) => log,
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "open failed: {err}");
                std::process::exit(4);
            }
        };
        print_line("OPEN", &log.len());
        if let Some(appends) = sequential {
            append_sequentially(log, appends).await;
            return;
        }
        let tasks: Vec<_> = (0..WRITERS)
            .map(|writer| tokio::spawn(append_forever(log.clone(), writer)))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
}
