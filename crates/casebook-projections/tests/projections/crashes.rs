//! Property: after any sequence of appends, rebuilds, clean restarts and
//! crashes (the runtime torn down while workers are mid-stream), every
//! view holds exactly what a view built from scratch over the same log
//! holds: each event took effect once, none was lost or applied twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use casebook_log::SledLog;
use casebook_projections::testkit::{Generator, Shape};
use casebook_projections::Projections;
use proptest::prelude::*;
use tokio::runtime::Runtime;

use crate::harness::{append, open_when_unlocked, WAIT};

/// How long a crash waits for blocking work already running (a batch being
/// written) before the runtime is dropped: sled writes a batch whole or
/// not at all either way.
const CRASH_GRACE: Duration = Duration::from_secs(10);

/// Events appended before the operations: enough for some cases in every state.
const FIRST_EVENTS: usize = 100;

#[derive(Debug, Clone)]
enum Op {
    /// Append this many generated events and go on at once.
    Append(usize),
    /// Start a rebuild of one view (by index) in the background.
    Rebuild(usize),
    /// Shut down cleanly and reopen.
    Restart,
    /// Append a little, then tear the runtime down without a shutdown.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..300).prop_map(Op::Append),
        1 => (0usize..5).prop_map(Op::Rebuild),
        1 => Just(Op::Restart),
        2 => Just(Op::Crash),
    ]
}

/// One life of the views: a runtime and the projections it runs.
struct Session {
    rt: Runtime,
    projections: Projections,
}

impl Session {
    fn start(log: &SledLog, dir: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let projections = {
            let _enter = rt.enter();
            let p = open_when_unlocked(log, dir);
            p.start();
            p
        };
        Session { rt, projections }
    }

    fn restart(self, log: &SledLog, dir: &Path) -> Self {
        self.rt.block_on(self.projections.shutdown());
        drop(self.projections);
        drop(self.rt);
        Session::start(log, dir)
    }

    fn crash(self, log: &SledLog, dir: &Path) -> Self {
        self.rt.shutdown_timeout(CRASH_GRACE);
        drop(self.projections);
        Session::start(log, dir)
    }

    fn settle(&self, log: &SledLog) {
        let head = log.len() - 1;
        self.rt
            .block_on(self.projections.wait_for(head, WAIT))
            .unwrap();
    }
}

fn run(seed: u64, ops: &[Op]) {
    let tmp = tempfile::tempdir().unwrap();
    let log = SledLog::open(tmp.path().join("log")).unwrap();
    let dir: PathBuf = tmp.path().join("views");
    let mut generator = Generator::new(seed, Shape::small());
    let mut session = Session::start(&log, &dir);
    // The world and a first few cases, so that every view has content.
    let mut first = generator.drain();
    first.extend(generator.events(FIRST_EVENTS));
    session.rt.block_on(append(&log, &first));
    for op in ops {
        session = match op {
            Op::Append(n) => {
                let events = generator.events(*n);
                session.rt.block_on(append(&log, &events));
                session
            }
            Op::Rebuild(i) => {
                let names = session.projections.view_names();
                {
                    let _enter = session.rt.enter();
                    session.projections.rebuild(names[i % names.len()]).unwrap();
                }
                session
            }
            Op::Restart => session.restart(&log, &dir),
            Op::Crash => {
                let events = generator.events(100);
                session.rt.block_on(append(&log, &events));
                session.crash(&log, &dir)
            }
        };
    }
    session.settle(&log);
    let fresh = Session::start(&log, &tmp.path().join("fresh"));
    fresh.settle(&log);
    for name in session.projections.view_names() {
        let ours = session.projections.view_contents(name).unwrap();
        let rebuilt = fresh.projections.view_contents(name).unwrap();
        assert!(!rebuilt.is_empty(), "{name}");
        assert!(
            ours == rebuilt,
            "view `{name}` differs from a rebuild after {ops:?}"
        );
    }
    session.rt.block_on(session.projections.shutdown());
    fresh.rt.block_on(fresh.projections.shutdown());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_view_equals_a_rebuild_after_appends_crashes_and_restarts(
        seed in 0u64..1_000,
        ops in proptest::collection::vec(op(), 1..8),
    ) {
        run(seed, &ops);
    }
}

#[test]
fn a_crash_mid_rebuild_leaves_views_equal_to_a_rebuild() {
    run(
        7,
        &[
            Op::Append(400),
            Op::Rebuild(0),
            Op::Rebuild(4),
            Op::Crash,
            Op::Append(50),
            Op::Rebuild(1),
            Op::Restart,
        ],
    );
}
