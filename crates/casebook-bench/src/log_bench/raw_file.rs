//! The disk's limit: an append-only file with group commit.
//!
//! The same idea as our log's writer with nothing else: one thread takes
//! every append waiting in its channel, writes them with one `write`, makes
//! them durable with one `fdatasync`, then answers every caller. No index,
//! no hash, no transaction: what is left is the cost of the disk.
//!
//! Each event is framed as its length (u32, little-endian), its id (16 bytes)
//! and the payload.

use super::contender::Batch;
use super::payload::Payload;
use crate::error::{BenchError, Result};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most appends written and synced as one group: the same bound as our
/// log's writer, so the two group commits are alike.
const GROUP_APPENDS_MAX: usize = 1024;
/// Appends that may wait for the thread. Above the largest writer count
/// (256, one append in flight each), so a writer never waits to enqueue.
const QUEUE_APPENDS_MAX: usize = 4096;
/// Bytes of framing before each payload: length (4) and id (16).
const FRAME_HEADER_BYTES: usize = 4 + 16;

/// The file's name inside its data directory.
const FILE_NAME: &str = "events.log";

/// One append on its way to the thread: its framed bytes and the way back.
#[derive(Debug)]
struct Request {
    bytes: Vec<u8>,
    /// `Ok` once the bytes are durable; the error's kind otherwise (the
    /// error itself is not `Clone` and one failure answers a whole group).
    reply: oneshot::Sender<Result<(), io::ErrorKind>>,
}

/// The raw file store. Dropping it lets the thread finish and joins it.
#[derive(Debug)]
pub struct RawFile {
    /// Taken on drop so that the thread's channel closes.
    requests: Option<mpsc::Sender<Request>>,
    /// Joined on drop, so the file is closed before its directory goes.
    thread: Option<JoinHandle<()>>,
    payload: Arc<Payload>,
}

impl RawFile {
    /// Creates the file in `dir` and starts its writer thread.
    pub fn open(dir: &Path, payload: &Arc<Payload>) -> Result<Self> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join(FILE_NAME))
            .map_err(|source| BenchError::io("creating the raw file", source))?;
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| BenchError::io("syncing the raw file's directory", source))?;
        let (requests, receiver) = mpsc::channel(QUEUE_APPENDS_MAX);
        let thread = std::thread::Builder::new()
            .name("raw-file-writer".into())
            .spawn(move || run_writer(file, receiver))
            .map_err(|source| BenchError::io("starting the raw file thread", source))?;
        Ok(RawFile {
            requests: Some(requests),
            thread: Some(thread),
            payload: Arc::clone(payload),
        })
    }

    /// Writes one append and returns once it is durable.
    pub async fn append(&self, batch: Batch) -> Result<()> {
        let requests = self
            .requests
            .as_ref()
            .ok_or(BenchError::Broken("raw file"))?;
        let (reply, answer) = oneshot::channel();
        let bytes = self.frame(batch.events);
        requests
            .send(Request { bytes, reply })
            .await
            .map_err(|_| BenchError::Broken("raw file thread"))?;
        answer
            .await
            .map_err(|_| BenchError::Broken("raw file thread"))?
            .map_err(|kind| BenchError::io("writing the raw file", kind.into()))
    }

    fn frame(&self, events: usize) -> Vec<u8> {
        let payload = &self.payload.bytes;
        let mut bytes = Vec::with_capacity(events * (FRAME_HEADER_BYTES + payload.len()));
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        for _ in 0..events {
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(Uuid::new_v4().as_bytes());
            bytes.extend_from_slice(payload);
        }
        bytes
    }
}

impl Drop for RawFile {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("raw file writer thread panicked");
            }
        }
    }
}

/// The group-commit loop; ends when every sender is gone.
fn run_writer(mut file: File, mut requests: mpsc::Receiver<Request>) {
    let mut group = Vec::with_capacity(GROUP_APPENDS_MAX);
    let mut buffer = Vec::new();
    while let Some(first) = requests.blocking_recv() {
        group.push(first);
        while group.len() < GROUP_APPENDS_MAX {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let result = write_group(&mut file, &group, &mut buffer).map_err(|err| err.kind());
        for request in group.drain(..) {
            // A caller that gave up waiting is no concern of the writer.
            let _ = request.reply.send(result);
        }
    }
}

fn write_group(file: &mut File, group: &[Request], buffer: &mut Vec<u8>) -> io::Result<()> {
    buffer.clear();
    for request in group {
        buffer.extend_from_slice(&request.bytes);
    }
    file.write_all(buffer)?;
    file.sync_data()
}
