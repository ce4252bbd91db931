//! SQLite, the embedded store a user would otherwise pick: WAL,
//! `synchronous=FULL` (a commit is on disk when it returns), one
//! transaction per append.
//!
//! One connection behind a mutex rather than a pool: SQLite lets one writer
//! at a time into a database anyway, and a pool would only turn waiting on
//! the mutex into retrying on `SQLITE_BUSY` (with `busy_timeout`'s sleeps).
//! `busy_timeout` is set all the same, in case anything else holds a lock.

use super::contender::Batch;
use super::payload::Payload;
use crate::error::{BenchError, Result};
use rusqlite::{params, Connection};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// How long a statement waits for a lock held elsewhere before failing:
/// longer than any append should take, short enough to notice a hang.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database file's name inside its data directory.
const FILE_NAME: &str = "events.sqlite3";

const SCHEMA: &str = "CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    data BLOB NOT NULL
)";

const INSERT: &str = "INSERT INTO events (id, stream, data) VALUES (?1, ?2, ?3)";

/// SQLite, shared by every writer of a configuration.
#[derive(Debug)]
pub struct Sqlite {
    /// The one connection; the mutex is SQLite's single-writer rule made
    /// explicit.
    connection: Mutex<Connection>,
    payload: Arc<Payload>,
}

impl Sqlite {
    /// Creates the database in `dir`: WAL, `synchronous=FULL`, the table.
    pub fn open(dir: &Path, payload: &Arc<Payload>) -> Result<Self> {
        let connection = Connection::open(dir.join(FILE_NAME))?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BenchError::Broken("sqlite (WAL mode refused)"));
        }
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute(SCHEMA, [])?;
        Ok(Sqlite {
            connection: Mutex::new(connection),
            payload: Arc::clone(payload),
        })
    }

    /// Inserts the batch's events in one transaction and commits. Blocks.
    pub fn append(&self, batch: Batch) -> Result<()> {
        let stream = batch.stream();
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| BenchError::Broken("sqlite connection"))?;
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(INSERT)?;
            for _ in 0..batch.events {
                let id = Uuid::new_v4();
                insert.execute(params![id.as_bytes(), stream, &self.payload.bytes[..]])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }
}
