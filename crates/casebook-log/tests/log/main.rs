//! Tests of the sled log: the backend conformance suite, a property test
//! against an in-memory model, concurrency, corruption, and crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod concurrency;
mod corruption;
mod crash;
mod fsync;
mod model;
mod recovery;
mod restore;
mod walk;

use casebook_log::SledLog;

/// A log in a fresh temporary directory; the directory lives as long as the guard.
pub fn temp_log() -> (SledLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    (log, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_backend_passes_the_conformance_suite() {
    let mut dirs = Vec::new();
    casebook_log::conformance::run_all(|| {
        let (log, dir) = temp_log();
        dirs.push(dir);
        async move { log }
    })
    .await;
}

#[tokio::test]
async fn events_survive_a_reopen_and_the_chain_continues() {
    use casebook_log::{conformance::sample_event, Direction, EventStore, ExpectedRevision};
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let log = SledLog::open(dir.path()).unwrap();
        log.append(
            "concern-1",
            ExpectedRevision::NoStream,
            vec![sample_event("a"), sample_event("b")],
        )
        .await
        .unwrap();
        log.read_all(Direction::Forwards, None, 10).await.unwrap()
    };
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(
        log.read_all(Direction::Forwards, None, 10).await.unwrap(),
        first
    );
    let outcome = log
        .append(
            "concern-1",
            ExpectedRevision::Exact(1),
            vec![sample_event("c")],
        )
        .await
        .unwrap();
    assert_eq!(
        (outcome.events[0].revision, outcome.events[0].position),
        (2, 2)
    );
    let third = log.get(2).unwrap().unwrap();
    assert_eq!(third.prev_hash, first[1].hash);
    assert_eq!(log.verify_range(None, None).unwrap().events, 3);
}

#[tokio::test]
async fn stats_count_what_the_log_did() {
    use casebook_log::{conformance::sample_event, ExpectedRevision};
    let (log, _dir) = temp_log();
    let events = vec![sample_event("a"), sample_event("b")];
    log.append("concern-1", ExpectedRevision::NoStream, events.clone())
        .await
        .unwrap();
    log.append("concern-1", ExpectedRevision::Any, vec![sample_event("c")])
        .await
        .unwrap();
    log.append("concern-1", ExpectedRevision::NoStream, events)
        .await
        .unwrap(); // a repeat
    let refused = log
        .append(
            "concern-1",
            ExpectedRevision::NoStream,
            vec![sample_event("d")],
        )
        .await;
    assert!(refused.is_err());
    let stats = log.stats();
    assert_eq!(
        (
            stats.durable_events,
            stats.appended_events,
            stats.appends_answered
        ),
        (3, 3, 4)
    );
    assert!(stats.groups >= 1 && stats.groups <= 2, "{stats:?}");
    assert!(stats.syncs >= 1 && stats.syncs <= stats.groups, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_durability_shares_one_sync_and_still_answers_only_when_durable() {
    use casebook_log::{conformance::sample_event, Durability, EventStore, ExpectedRevision};
    use casebook_log::{Direction, LogOptions};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        durability: Durability::Batched(Duration::from_millis(500)),
        ..LogOptions::default()
    };
    let log = SledLog::open_with(dir.path(), options).unwrap();
    let mut appends = Vec::new();
    for i in 0..20 {
        let log = log.clone();
        appends.push(tokio::spawn(async move {
            // Spread out, so that most arrive as groups of their own.
            tokio::time::sleep(Duration::from_millis(2 * i)).await;
            let outcome = log
                .append(
                    &format!("concern-{i}"),
                    ExpectedRevision::NoStream,
                    vec![sample_event(&format!("e{i}"))],
                )
                .await
                .unwrap();
            // Answered only once its event is inside the durable log.
            assert!(log.len() > outcome.last_position());
        }));
    }
    for append in appends {
        append.await.unwrap();
    }
    let stats = log.stats();
    assert_eq!(stats.durable_events, 20, "{stats:?}");
    assert!(
        stats.syncs <= 3,
        "the window should cover the groups: {stats:?}"
    );
    drop(log);
    let reopened = SledLog::open(dir.path()).unwrap();
    let all = reopened
        .read_all(Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
}
