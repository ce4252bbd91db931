//! Appending a generated demo to an empty log.
//!
//! Events go in in recorded-time order, many per append (each append stays
//! within the log's limits on events and streams), with exact expected
//! revisions. Event ids derive from the seed and the event's index, so
//! loading the same demo twice is a repeat, not a duplicate. Residents'
//! personal data is sealed with the household keys, as the API seals it.

use crate::{Demo, DemoError};
use casebook_domain::{Event, StreamId};
use casebook_log::{ExpectedRevision, NewEvent, SledLog, StreamAppend};
use casebook_privacy::KeyStore;
use std::collections::HashMap;
use uuid::Uuid;

/// Events per append while loading: a few large appends load fast.
const LOAD_APPEND_EVENTS: usize = 500;

/// What loading wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Events appended.
    pub events: u64,
    /// The log position of the last one.
    pub last_position: u64,
}

/// The log record of a domain event on `stream`, under a given event id,
/// its personal data sealed with `keys`.
pub fn to_new_event(
    id: Uuid,
    stream: StreamId,
    event: &Event,
    keys: &KeyStore,
) -> Result<NewEvent, DemoError> {
    let mut record = casebook_privacy::encode(event, id, None)?;
    casebook_privacy::seal(&mut record, &stream.name(), keys)?;
    Ok(record)
}

/// Appends the demo to `log`, which must be empty, sealing personal data
/// with `keys`.
pub async fn load(log: &SledLog, keys: &KeyStore, demo: &Demo) -> Result<LoadReport, DemoError> {
    if !log.is_empty() {
        return Err(DemoError::StoreNotEmpty { events: log.len() });
    }
    let mut revisions: HashMap<StreamId, u64> = HashMap::new();
    let mut report = LoadReport {
        events: 0,
        last_position: 0,
    };
    for (chunk_index, chunk) in demo.events.chunks(LOAD_APPEND_EVENTS).enumerate() {
        for parts in appends_for(
            chunk,
            chunk_index * LOAD_APPEND_EVENTS,
            demo.seed,
            &mut revisions,
            keys,
        )? {
            let outcome = log.append_multi(parts).await?;
            report.events += outcome.events.len() as u64;
            report.last_position = outcome.last_position();
        }
    }
    tracing::info!(events = report.events, "demo data loaded");
    Ok(report)
}

/// Splits a run of events into appends of at most the log's stream limit,
/// grouping each stream's events in order with its exact expected revision.
fn appends_for(
    events: &[(StreamId, Event)],
    first_index: usize,
    seed: u64,
    revisions: &mut HashMap<StreamId, u64>,
    keys: &KeyStore,
) -> Result<Vec<Vec<StreamAppend>>, DemoError> {
    let mut appends: Vec<Vec<StreamAppend>> = vec![Vec::new()];
    let mut where_in_current: HashMap<StreamId, usize> = HashMap::new();
    for (offset, (stream, event)) in events.iter().enumerate() {
        let id = event_id(seed, first_index + offset);
        let new_event = to_new_event(id, *stream, event, keys)?;
        if let Some(part) = where_in_current.get(stream) {
            if let Some(current) = appends.last_mut() {
                current[*part].events.push(new_event);
            }
        } else {
            if appends
                .last()
                .is_some_and(|current| current.len() >= casebook_log::APPEND_STREAMS_MAX)
            {
                appends.push(Vec::new());
                where_in_current.clear();
            }
            let expected = match revisions.get(stream) {
                Some(revision) => ExpectedRevision::Exact(*revision),
                None => ExpectedRevision::NoStream,
            };
            if let Some(current) = appends.last_mut() {
                where_in_current.insert(*stream, current.len());
                current.push(StreamAppend {
                    stream: stream.name(),
                    expected,
                    events: vec![new_event],
                });
            }
        }
        let next = revisions.get(stream).map_or(0, |revision| revision + 1);
        revisions.insert(*stream, next);
    }
    Ok(appends)
}

/// The id of the demo's `index`th event: the same for the same seed.
fn event_id(seed: u64, index: usize) -> Uuid {
    let name = [
        b"casebook-demo-event".as_slice(),
        &seed.to_be_bytes(),
        &(index as u64).to_be_bytes(),
    ]
    .concat();
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
}
