//! The benchmark's history: a province the size of the seeds' from the
//! projections' testkit, appended once in large appends (the fill is not
//! what is measured).

use crate::error::Result;
use casebook_domain::{Payload, UnitId};
use casebook_log::SledLog;
use casebook_projections::testkit::{appends, Generated, Generator, Shape};
use chrono::{DateTime, Utc};

/// The generator's seed: the same history on every run.
const SEED: u64 = 2024;
/// Events generated and appended at a time: bounds the memory of the fill.
const CHUNK_EVENTS: usize = 50_000;
/// Streams per append: the log's maximum, so appends are as large as it takes.
const PARTS_PER_APPEND: usize = casebook_log::APPEND_STREAMS_MAX;

/// The units the queries ask about.
#[derive(Debug, Clone, Copy)]
pub struct World {
    /// The province (every case).
    pub province: UnitId,
    /// One commune (a fiftieth of the cases).
    pub commune: UnitId,
}

/// The generator, kept so that the lag phase continues the same history.
#[derive(Debug)]
pub struct History {
    generator: Generator,
}

impl History {
    /// A province-sized world, not yet appended.
    pub fn new() -> Self {
        Self {
            generator: Generator::new(SEED, Shape::province()),
        }
    }

    /// The units the queries ask about.
    pub fn world(&self) -> World {
        let commune = self
            .generator
            .posts
            .first()
            .and_then(|(_, communes)| communes.first().copied())
            .unwrap_or(self.generator.province);
        World {
            province: self.generator.province,
            commune,
        }
    }

    /// The field time of the last event generated.
    pub fn now(&self) -> DateTime<Utc> {
        self.generator.now()
    }

    /// The next `n` events of the history.
    pub fn next(&mut self, n: usize) -> Vec<Generated> {
        self.generator.events(n)
    }

    /// Appends the world and then cases until the log holds `events`
    /// events; returns how many cases were reported.
    pub async fn fill(&mut self, log: &SledLog, events: u64) -> Result<u64> {
        let mut cases = 0;
        let mut chunk = self.generator.drain();
        loop {
            cases += chunk
                .iter()
                .filter(|g| matches!(g.event.payload, Payload::ConcernReported(_)))
                .count() as u64;
            for parts in appends(&chunk, PARTS_PER_APPEND) {
                log.append_multi(parts).await?;
            }
            let left = events.saturating_sub(log.len());
            if left == 0 {
                break;
            }
            let n = usize::try_from(left)
                .unwrap_or(CHUNK_EVENTS)
                .min(CHUNK_EVENTS);
            chunk = self.generator.events(n);
            tracing::info!(events = log.len(), "filling the log");
        }
        Ok(cases)
    }
}
