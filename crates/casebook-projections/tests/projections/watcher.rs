//! The deadline watcher under a controlled clock.
//!
//! The log and the views run on a real multi-thread runtime; the watcher
//! runs alone on a current-thread runtime whose clock is paused, so the
//! test moves time with `tokio::time::advance` and each tick happens
//! exactly when the test says. (A paused clock auto-advances whenever its
//! runtime is idle; keeping the log's waits off that runtime is what keeps
//! the clock still while the watcher appends.)

use casebook_log::SledLog;
use casebook_projections::{warning_id, Projections, TokioClock, WatchReport, WATCH_INTERVAL};
use chrono::{DateTime, TimeDelta, Utc};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::harness::{append, WAIT};
use crate::known::{at, deadline_y, history, Y};

struct Rig {
    _dir: tempfile::TempDir,
    real: Runtime,
    paused: Runtime,
    log: SledLog,
    dir: std::path::PathBuf,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let real = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let paused = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        real.block_on(append(&log, &history()));
        let path = dir.path().to_owned();
        Rig {
            _dir: dir,
            real,
            paused,
            log,
            dir: path,
        }
    }

    /// Opens the views on the real runtime and waits until they are current.
    fn open(&self) -> Projections {
        let _enter = self.real.enter();
        let p = crate::harness::open_when_unlocked(&self.log, &self.dir);
        p.start();
        let head = self.log.len() - 1;
        self.real.block_on(p.wait_for(head, WAIT)).unwrap();
        p
    }

    /// Starts a watcher on the paused runtime with its clock at `origin`,
    /// and returns the report of its first tick.
    fn watch(
        &self,
        p: &Projections,
        origin: DateTime<Utc>,
    ) -> (watch::Receiver<WatchReport>, WatchReport) {
        let mut reports = self
            .paused
            .block_on(async { p.watch_deadlines(TokioClock::starting_at(origin), WATCH_INTERVAL) });
        let first = self.next(&mut reports);
        (reports, first)
    }

    /// Moves the paused clock by `by` and returns the next tick's report.
    fn advance(&self, reports: &mut watch::Receiver<WatchReport>, by: TimeDelta) -> WatchReport {
        self.paused
            .block_on(tokio::time::advance(by.to_std().unwrap()));
        self.next(reports)
    }

    fn next(&self, reports: &mut watch::Receiver<WatchReport>) -> WatchReport {
        self.paused.block_on(reports.changed()).unwrap();
        let report = reports.borrow_and_update().clone();
        assert_eq!(report.error, None);
        report
    }

    /// The watcher's events on case Y: (type, field time, id).
    fn warnings(&self) -> Vec<(String, DateTime<Utc>, uuid::Uuid)> {
        self.log
            .iter_all(0)
            .map(|r| r.unwrap())
            .filter(|r| r.stream == format!("concern-{}", Y.0) && r.event_type.contains("deadline"))
            .map(|r| (r.event_type, r.metadata.occurred_at, r.id))
            .collect()
    }

    fn shutdown(&self, p: Projections) {
        self.paused.block_on(p.shutdown());
    }
}

#[test]
fn the_watcher_warns_once_when_due_soon_and_once_when_passed_across_restarts() {
    let rig = Rig::new();
    let p = rig.open();
    // Y is high priority, due on day 6 at 00:00, due soon 24 h before.
    let start = at(4, 12);
    let (mut reports, first) = rig.watch(&p, start);
    assert_eq!((first.at, first.appended), (Some(start), 0));

    let r = rig.advance(&mut reports, TimeDelta::minutes(11 * 60 + 59));
    assert_eq!(
        (r.at, r.appended),
        (Some(at(4, 23) + TimeDelta::minutes(59)), 0)
    );
    assert!(rig.warnings().is_empty(), "not yet in the window");

    let r = rig.advance(&mut reports, TimeDelta::minutes(2));
    assert_eq!(r.appended, 1, "{r:?}");
    let approaching = (
        "concern.deadline_approaching".to_owned(),
        at(5, 0),
        warning_id(Y, deadline_y(), false),
    );
    assert_eq!(rig.warnings(), std::slice::from_ref(&approaching));

    let r = rig.advance(&mut reports, TimeDelta::minutes(1));
    assert_eq!((r.appended, r.already), (0, 0), "remembered, not resent");

    let r = rig.advance(&mut reports, TimeDelta::hours(24));
    assert_eq!(r.appended, 1);
    let passed = (
        "concern.deadline_passed".to_owned(),
        deadline_y(),
        warning_id(Y, deadline_y(), true),
    );
    assert_eq!(rig.warnings(), [approaching.clone(), passed.clone()]);

    // A restart forgets what it sent; the log's idempotency remembers.
    rig.shutdown(p);
    let p = rig.open();
    let (_reports, again) = rig.watch(&p, at(6, 1));
    assert_eq!((again.appended, again.already), (0, 2));
    assert_eq!(rig.warnings(), [approaching, passed]);
    let row = p.case(Y).unwrap().unwrap();
    assert_eq!(row.last_event_type, "concern.deadline_passed");
    assert_eq!(
        row.concern.deadline,
        Some(deadline_y()),
        "evolve ignores warnings"
    );
    rig.shutdown(p);
}

#[test]
fn a_watcher_started_after_the_deadline_gives_both_warnings_in_order() {
    let rig = Rig::new();
    let p = rig.open();
    let (_reports, first) = rig.watch(&p, at(9, 0));
    assert_eq!(first.appended, 2);
    let kinds: Vec<_> = rig.warnings().into_iter().map(|w| (w.0, w.1)).collect();
    assert_eq!(
        kinds,
        [
            ("concern.deadline_approaching".to_owned(), at(5, 0)),
            ("concern.deadline_passed".to_owned(), deadline_y()),
        ]
    );
    rig.shutdown(p);
}
