//! Reading one stream whole, for the subcommands that work on a stopped
//! server's log (`case`, `forget`, `unit`, `person`, `household`).

use casebook_log::{Direction, EventStore, RecordedEvent, SledLog};

use crate::error::CliError;

/// Records of a stream read in pages of this many.
const PAGE_EVENTS: usize = 500;

/// Every record of `stream`, oldest first (empty if it has none).
pub async fn read_all(log: &SledLog, stream: &str) -> Result<Vec<RecordedEvent>, CliError> {
    let mut records: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = records.last().map(|r| r.revision + 1);
        let page = log
            .read_stream(stream, Direction::Forwards, from, PAGE_EVENTS)
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        if page.is_empty() {
            return Ok(records);
        }
        records.extend(page);
    }
}
