//! One configuration of the append benchmark: N writer tasks appending to
//! one store until the deadline, each timing its own appends.
//!
//! A writer has one append in flight at a time, like a request handler
//! waiting for its acknowledgement. Writers stop starting appends at the
//! deadline; the ones in flight finish and count, and the elapsed time runs
//! until the last one has, so throughput is never flattered.

use super::contender::{Batch, Contender};
use crate::error::Result;
use crate::latency::{Latencies, Percentiles};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What one configuration measured.
#[derive(Debug, Clone, Copy)]
pub struct WriteFigures {
    /// Concurrent writer tasks.
    pub writers: usize,
    /// Events in each append.
    pub events_per_append: usize,
    /// Appends acknowledged as durable.
    pub appends: u64,
    /// Events in them.
    pub events: u64,
    /// From the first append started to the last one acknowledged.
    pub seconds: f64,
    /// Durable events per second.
    pub events_per_s: f64,
    /// Latency of one append, from call to durable acknowledgement.
    pub latency: Percentiles,
}

/// Runs `writers` tasks against `store` for `duration`.
pub async fn run(
    store: &Contender,
    writers: usize,
    events_per_append: usize,
    duration: Duration,
) -> Result<WriteFigures> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for writer in 0..writers {
        let store = store.clone();
        tasks.spawn(write_until(store, writer, events_per_append, deadline));
    }
    let mut latencies = Latencies::new()?;
    while let Some(joined) = tasks.join_next().await {
        latencies.merge(&joined??)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let appends = latencies.count();
    let events = appends * events_per_append as u64;
    Ok(WriteFigures {
        writers,
        events_per_append,
        appends,
        events,
        seconds,
        events_per_s: events as f64 / seconds,
        latency: latencies.percentiles(),
    })
}

/// One writer: append, wait for durability, record the latency, repeat.
async fn write_until(
    store: Contender,
    writer: usize,
    events: usize,
    deadline: Instant,
) -> Result<Latencies> {
    let mut latencies = Latencies::new()?;
    let mut seq = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        store
            .append(Batch {
                writer,
                seq,
                events,
            })
            .await?;
        latencies.record(started.elapsed());
        seq += 1;
    }
    Ok(latencies)
}
