//! Demo data for casebook: a believable border province, deterministic from
//! a seed.
//!
//! Sized from the brief's figures for Sóc Trăng: one provincial command, two
//! border posts, eleven communes, forty hamlets, 75 members responsible for
//! 350 households, and about 2,500 concerns over the twelve months before
//! `now`, in every state of the lifecycle: some overdue, some escalated, some
//! confidential tips, some reopened after an unhappy resident. Every event is
//! made by the domain's own `decide`, with the actor its rules require, so
//! the demo is as valid as real use.
//!
//! # Layout
//! - `text`: place names, people's names and what residents say, in Vietnamese.
//! - `world`: units, committees, people and their roles, households and assignments.
//! - `life`: one concern's life, step by step, until `now`.
//! - `load`: appending a generated demo to an empty log, idempotently.

mod life;
mod load;
mod text;
mod world;

use casebook_domain::{DomainError, Event, PersonId, StreamId};
use chrono::{DateTime, Utc};

pub use load::{load, to_new_event, LoadReport};

/// Everything that can stop a demo from being made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The domain refused a command the generator made: a generator bug.
    #[error("the domain refused the demo's {command} at {at}: {source}")]
    Refused {
        /// The command's name.
        command: String,
        /// Its field time.
        at: DateTime<Utc>,
        /// The domain's reason.
        source: DomainError,
    },
    /// The demo only goes into an empty log.
    #[error("the log already holds {events} events; demo data goes into an empty store only")]
    StoreNotEmpty {
        /// Events already there.
        events: u64,
    },
    /// An event could not be turned into a sealed log record.
    #[error("could not encode an event: {0}")]
    Encode(#[from] casebook_privacy::PrivacyError),
    /// The log refused or failed an append.
    #[error("appending the demo failed: {0}")]
    Log(#[from] casebook_log::LogError),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The same seed and `now` always give the same demo, byte for byte.
    pub seed: u64,
    /// The end of the simulated year; nothing happens after it.
    pub now: DateTime<Utc>,
    /// How many concerns are reported over the year.
    pub concerns: usize,
}

impl DemoConfig {
    /// The brief's sizes: about 2,500 concerns.
    pub fn new(seed: u64, now: DateTime<Utc>) -> Self {
        DemoConfig {
            seed,
            now,
            concerns: 2_500,
        }
    }
}

/// One person for each kind of user, to hand out tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPeople {
    /// Maintains units, people and assignments.
    pub administrator: PersonId,
    /// A field member responsible for households.
    pub member: PersonId,
    /// The party cell secretary of that member's first hamlet.
    pub hamlet_committee: PersonId,
    /// A member of that hamlet's commune committee.
    pub commune_committee: PersonId,
    /// A member of the post's party committee.
    pub post_committee: PersonId,
    /// A member of the provincial command's committee.
    pub province_committee: PersonId,
    /// An inspector.
    pub auditor: PersonId,
}

/// A generated demo: every event in the order to append it.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Events with their streams, in recorded-time order.
    pub events: Vec<(StreamId, Event)>,
    /// One person per kind of user.
    pub people: KeyPeople,
    /// The seed it was made from (event ids derive from it).
    pub seed: u64,
}

/// Generates the demo; pure, no I/O.
pub fn generate(config: &DemoConfig) -> Result<Demo, DemoError> {
    let mut world = world::World::build(config)?;
    let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x5eed_cafe);
    let report_times = life::report_times(&mut rng, config);
    for (index, reported_at) in report_times.into_iter().enumerate() {
        life::live(&mut world, &mut rng, index, reported_at, config.now)?;
    }
    let people = world.key_people();
    let mut events = world.into_events();
    // Stable: a case's events keep their order when two share a time.
    events.sort_by_key(|(_, event)| event.recorded_at);
    Ok(Demo {
        events,
        people,
        seed: config.seed,
    })
}
