//! A log and its projections in a temporary directory, fed by the testkit.

use std::path::Path;
use std::time::Duration;

use casebook_log::SledLog;
use casebook_projections::testkit::{Generated, Generator, Shape};
use casebook_projections::Projections;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub log: SledLog,
    pub projections: Projections,
    pub generator: Generator,
}

impl Harness {
    pub async fn new(seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        let generator = Generator::new(seed, Shape::small());
        let projections = open(&log, dir.path(), &generator);
        let mut h = Harness {
            dir,
            log,
            projections,
            generator,
        };
        let world = h.generator.drain();
        append(&h.log, &world).await;
        h
    }

    /// Appends `n` more generated events and waits for every view.
    pub async fn feed(&mut self, n: usize) -> Vec<Generated> {
        let events = self.generator.events(n);
        append(&self.log, &events).await;
        self.settle().await;
        events
    }

    pub async fn settle(&self) {
        let head = self.log.len();
        if head > 0 {
            self.projections.wait_for(head - 1, WAIT).await.unwrap();
        }
    }
}

pub fn open(log: &SledLog, dir: &Path, generator: &Generator) -> Projections {
    let projections = Projections::open(log.clone(), dir, generator.policy().clone()).unwrap();
    projections.start();
    projections
}

pub async fn append(log: &SledLog, events: &[Generated]) {
    for parts in casebook_projections::testkit::appends(events, 64) {
        log.append_multi(parts).await.unwrap();
    }
}

/// The hand-written history of `known`, appended to a fresh log, with every
/// view caught up.
pub struct Known {
    _dir: tempfile::TempDir,
    log: SledLog,
    pub projections: Projections,
}

impl Known {
    /// Shuts the views down, opens them again over the same log and waits.
    pub async fn reopen(self) -> Self {
        self.projections.shutdown().await;
        drop(self.projections);
        let projections = open_when_unlocked(&self.log, self._dir.path());
        projections.start();
        projections
            .wait_for(self.log.len() - 1, WAIT)
            .await
            .unwrap();
        Known {
            projections,
            ..self
        }
    }

    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        append(&log, &crate::known::history()).await;
        let projections =
            Projections::open(log.clone(), dir.path(), casebook_domain::Policy::default()).unwrap();
        projections.start();
        projections.wait_for(log.len() - 1, WAIT).await.unwrap();
        Known {
            _dir: dir,
            log,
            projections,
        }
    }
}

/// sled's I/O threads may hold the views' file lock for a moment after the
/// last handle is dropped; a reopen in the same process waits for them, as
/// a new process would not need to.
pub fn open_when_unlocked(log: &SledLog, dir: &Path) -> Projections {
    let mut tries = 0;
    loop {
        match Projections::open(log.clone(), dir, casebook_domain::Policy::default()) {
            Err(casebook_projections::ProjectionError::Storage(e))
                if e.to_string().contains("lock") && tries < LOCK_TRIES_MAX =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other.unwrap(),
        }
    }
}

/// 50 ms apart: 5 s in all.
const LOCK_TRIES_MAX: u32 = 100;
