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
