//! Long whole-log walks, whose hashes a read-ahead thread checks.

use casebook_log::{conformance::sample_event, ExpectedRevision, SledLog};

/// More than the walk length at which hashes are checked ahead (4,096).
const EVENTS: u64 = 6000;

async fn fill(log: &SledLog) {
    for stream in 0..EVENTS / 500 {
        let events = (0..500).map(|i| sample_event(&i.to_string())).collect();
        log.append(
            &format!("concern-{stream}"),
            ExpectedRevision::NoStream,
            events,
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_walk_returns_every_record_as_reads_by_position_do() {
    let (log, _dir) = super::temp_log();
    fill(&log).await;
    for from in [0, 1, 499, 500, 1234] {
        let walked: Vec<_> = log.iter_all(from).map(Result::unwrap).collect();
        assert_eq!(walked.len() as u64, EVENTS - from, "from {from}");
        for record in &walked {
            assert_eq!(Some(record), log.get(record.position).unwrap().as_ref());
        }
        assert_eq!(walked.first().unwrap().position, from);
    }
    assert_eq!(log.verify_range(None, None).unwrap().events, EVENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_walk_left_halfway_does_not_keep_the_log_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    fill(&log).await;
    let mut walk = log.iter_all(0);
    let first: Vec<_> = walk.by_ref().take(10).map(Result::unwrap).collect();
    assert_eq!(first.len(), 10);
    drop(walk);
    drop(log);
    let reopened = SledLog::open(dir.path()).unwrap();
    assert_eq!(reopened.len(), EVENTS);
    assert_eq!(reopened.iter_all(0).count() as u64, EVENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_walk_stops_before_its_end() {
    let (log, _dir) = super::temp_log();
    fill(&log).await;
    for (from, end) in [
        (0, 4096),
        (100, 5000),
        (10, 20),
        (5990, u64::MAX),
        (7, 7),
        (6000, 7000),
    ] {
        let positions: Vec<u64> = log
            .iter_range(from, end)
            .map(|record| record.unwrap().position)
            .collect();
        assert_eq!(
            positions,
            (from..end.min(EVENTS)).collect::<Vec<_>>(),
            "{from}..{end}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_by_categories_returns_what_a_filtered_walk_does() {
    let (log, _dir) = super::temp_log();
    // Groups of several categories, interleaved; more than an index block
    // (512 positions) of each wanted category.
    for round in 0..300 {
        for (stream, events) in [
            (format!("concern-{}", round % 7), 3),
            (format!("household-{}", round % 5), 2),
            (format!("unit-{}", round % 3), 1),
            (format!("person-{}", round % 11), 2),
            // A category whose name starts with a wanted one's.
            ("householder-1".to_owned(), 1),
        ] {
            let events = (0..events).map(|i| sample_event(&i.to_string())).collect();
            log.append(&stream, ExpectedRevision::Any, events)
                .await
                .unwrap();
        }
    }
    let wanted = ["household", "person"];
    let len = log.len();
    for (from, end) in [
        (0, len),
        (0, 1),
        (5, 6),
        (100, 2_000),
        (1_234, u64::MAX),
        (len, len + 5),
    ] {
        let read = log.read_categories_range(&wanted, from, end).unwrap();
        let walked: Vec<_> = log
            .iter_range(from, end)
            .map(Result::unwrap)
            .filter(|record| {
                wanted
                    .iter()
                    .any(|category| record.stream.split('-').next() == Some(*category))
            })
            .collect();
        assert_eq!(read, walked, "from {from}, end {end}");
    }
    assert_eq!(
        log.read_categories_range(&wanted, 0, len).unwrap().len(),
        300 * 4
    );
    assert!(log.read_categories_range(&["unit\n"], 0, len).is_err());
}
