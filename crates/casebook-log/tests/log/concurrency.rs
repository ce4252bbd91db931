//! Many tasks appending at once: one winner per expected revision, nothing
//! lost, nothing doubled.

use crate::temp_log;
use casebook_log::{conformance::sample_event, Direction, EventStore, ExpectedRevision, LogError};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_writer_wins_each_expected_revision() {
    let (log, _dir) = temp_log();
    log.append(
        "concern-race",
        ExpectedRevision::NoStream,
        vec![sample_event("start")],
    )
    .await
    .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut wins = Vec::new();
                for attempt in 0..20 {
                    let current = log.stream_revision("concern-race").await.unwrap().unwrap();
                    let event = sample_event(&format!("{task}-{attempt}"));
                    match log
                        .append(
                            "concern-race",
                            ExpectedRevision::Exact(current),
                            vec![event.clone()],
                        )
                        .await
                    {
                        Ok(outcome) => {
                            assert_eq!(outcome.events[0].revision, current + 1);
                            wins.push((current + 1, event.id));
                        }
                        Err(LogError::WrongExpectedRevision {
                            actual: Some(actual),
                            ..
                        }) => assert!(actual > current),
                        Err(other) => panic!("{other}"),
                    }
                }
                wins
            })
        })
        .collect();
    let mut wins = Vec::new();
    for task in tasks {
        wins.extend(task.await.unwrap());
    }
    let revisions: HashSet<_> = wins.iter().map(|(revision, _)| *revision).collect();
    assert_eq!(revisions.len(), wins.len(), "no revision was won twice");
    let stream = log
        .read_stream("concern-race", Direction::Forwards, None, 4096)
        .await
        .unwrap();
    assert_eq!(
        stream.len(),
        wins.len() + 1,
        "every win is in the stream, nothing else"
    );
    for (revision, id) in wins {
        assert_eq!(stream[revision as usize].id, id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_to_many_streams_lose_and_double_nothing() {
    let (log, _dir) = temp_log();
    let tasks: Vec<_> = (0..64)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for round in 0..20u64 {
                    let events = vec![sample_event("a"), sample_event("b")];
                    ids.extend(events.iter().map(|e| e.id));
                    let own = format!("concern-{task}");
                    let expected = if round == 0 {
                        ExpectedRevision::NoStream
                    } else {
                        ExpectedRevision::Exact(round * 2 - 1)
                    };
                    log.append(&own, expected, events.clone()).await.unwrap();
                    // A shared stream, and an immediate retry that must not double.
                    let shared = vec![sample_event("s")];
                    ids.push(shared[0].id);
                    log.append("household-shared", ExpectedRevision::Any, shared.clone())
                        .await
                        .unwrap();
                    let retry = log
                        .append("household-shared", ExpectedRevision::Any, shared)
                        .await
                        .unwrap();
                    assert_eq!(retry.status, casebook_log::AppendStatus::AlreadyAppended);
                }
                ids
            })
        })
        .collect();
    let mut expected = HashSet::new();
    for task in tasks {
        expected.extend(task.await.unwrap());
    }
    let all: Vec<_> = log.iter_all(0).map(|e| e.unwrap()).collect();
    assert_eq!(all.len(), expected.len(), "nothing lost, nothing doubled");
    assert_eq!(all.iter().map(|e| e.id).collect::<HashSet<_>>(), expected);
    assert!(all.iter().enumerate().all(|(i, e)| e.position == i as u64));
    assert_eq!(
        log.read_stream("household-shared", Direction::Forwards, None, 4096)
            .await
            .unwrap()
            .len(),
        64 * 20
    );
}
