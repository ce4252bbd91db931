//! The records file is the log; sled's indexes are derived from it. These
//! tests put the two out of step the ways a crash or a power cut can, and
//! check what the log makes of it when it opens.

use casebook_log::{
    conformance::sample_event, AppendStatus, Direction, EventStore, ExpectedRevision, LogError,
    NewEvent, SledLog,
};
use std::path::Path;

/// Appends `appends` events, one per append, to two streams; returns them.
async fn append_some(log: &SledLog, appends: usize, label: &str) -> Vec<NewEvent> {
    let mut sent = Vec::new();
    for i in 0..appends {
        let event = sample_event(&format!("{label}{i}"));
        sent.push(event.clone());
        log.append(
            &format!("concern-{}", i % 2),
            ExpectedRevision::Any,
            vec![event],
        )
        .await
        .unwrap();
    }
    sent
}

/// Opens the sled store of a log just closed (sled releases its lock from
/// background I/O, a moment after the last handle goes).
fn reopen_sled(dir: &Path) -> sled::Db {
    casebook_log::open_sled_when_released(&sled::Config::new().path(dir)).unwrap()
}

/// A log of `appends` events (see [`append_some`]), closed, whose sled
/// index `change` then alters as a crash or an older casebook could have.
async fn log_with_index_changed(
    appends: usize,
    change: impl FnOnce(&Path, &sled::Tree),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        append_some(&log, appends, "kept").await;
    }
    let db = reopen_sled(dir.path());
    let tree = db.open_tree(b"log").unwrap();
    change(dir.path(), &tree);
    db.flush().unwrap();
    dir
}

/// Copies sled's files (everything but the records file) from `from` to `to`.
fn copy_index(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "records" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_index(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces the index in `dir` by the one saved in `saved`.
fn put_back_index(saved: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "records" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(entry.path()).unwrap();
        } else {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    copy_index(saved, dir);
}

fn records_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("records")).unwrap().len()
}

/// A log of 25 events then 15 more, closed, for a test to take the 15
/// from its records file: the directory, the records' length after the
/// 25, and the events sent (the 25, then the 15).
async fn log_with_groups_to_lose(
    root: &Path,
) -> (std::path::PathBuf, u64, Vec<NewEvent>, Vec<NewEvent>) {
    let dir = root.join("log");
    let log = SledLog::open(&dir).unwrap();
    let kept = append_some(&log, 25, "kept").await;
    drop(log);
    let kept_len = records_len(&dir);
    let log = SledLog::open(&dir).unwrap();
    let lost = append_some(&log, 15, "lost").await;
    drop(log);
    (dir, kept_len, kept, lost)
}

/// A log of 40 events whose index was saved after the first 25.
async fn log_with_lagging_index(root: &Path) -> (std::path::PathBuf, Vec<NewEvent>) {
    let dir = root.join("log");
    let saved = root.join("saved-index");
    std::fs::create_dir_all(&saved).unwrap();
    let log = SledLog::open(&dir).unwrap();
    let mut sent = append_some(&log, 25, "early").await;
    drop(log);
    copy_index(&dir, &saved);
    let log = SledLog::open(&dir).unwrap();
    sent.extend(append_some(&log, 15, "late").await);
    drop(log);
    put_back_index(&saved, &dir);
    (dir, sent)
}

#[tokio::test]
async fn records_the_index_lacks_are_indexed_again_on_open() {
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = log_with_lagging_index(root.path()).await;
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 40);
    let recovery = log.stats().recovery;
    assert_eq!(
        (recovery.reindexed_events, recovery.index_rebuilt),
        (15, false)
    );
    assert_eq!(log.verify_range(None, None).unwrap().events, 40);
    // concern-0 has the 13 + 8 even appends, concern-1 the 12 + 7 odd ones.
    assert_eq!(log.stream_revision("concern-1").await.unwrap(), Some(18));
    let stream = log
        .read_stream("concern-0", Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(stream.len(), 21);
    let by_type = log
        .read_event_type("sample.happened", Direction::Backwards, None, 100)
        .await
        .unwrap();
    assert_eq!(by_type.len(), 40);
    // The ids of the re-indexed events are known: a retry is a repeat.
    let retry = log
        .append("concern-0", ExpectedRevision::Any, vec![sent[39].clone()])
        .await
        .unwrap();
    assert_eq!(retry.status, AppendStatus::AlreadyAppended);
    assert_eq!(retry.events[0].position, 39);
    let next = log
        .append(
            "concern-1",
            ExpectedRevision::Exact(18),
            vec![sample_event("after")],
        )
        .await
        .unwrap();
    assert_eq!(next.events[0].position, 40);
    drop(log);
    let reopened = SledLog::open(&dir).unwrap();
    assert_eq!(reopened.verify_range(None, None).unwrap().events, 41);
}

#[tokio::test]
async fn an_index_ahead_of_the_records_is_rebuilt_from_them() {
    // A power cut after sled's writes reached the disk but before the last
    // groups' records did: none of those was acknowledged.
    let root = tempfile::tempdir().unwrap();
    let (dir, kept_len, sent, lost) = log_with_groups_to_lose(root.path()).await;
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("records"))
        .unwrap()
        .set_len(kept_len)
        .unwrap();
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 25);
    assert!(log.stats().recovery.index_rebuilt);
    assert_eq!(log.verify_range(None, None).unwrap().events, 25);
    assert_eq!(log.stream_revision("concern-0").await.unwrap(), Some(12));
    assert_eq!(
        log.read_all(Direction::Backwards, None, 100)
            .await
            .unwrap()
            .len(),
        25
    );
    let repeat = log
        .append("concern-0", ExpectedRevision::Any, vec![sent[0].clone()])
        .await
        .unwrap();
    assert_eq!(repeat.status, AppendStatus::AlreadyAppended);
    // A lost event's id is free again: its retry appends it anew.
    let retry = log
        .append(
            "concern-1",
            ExpectedRevision::Exact(11),
            vec![lost[0].clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        (retry.status, retry.events[0].position),
        (AppendStatus::Appended, 25)
    );
}

#[tokio::test]
async fn a_torn_group_at_the_end_is_cut_off_and_never_seen() {
    use std::io::Write;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("log");
    let log = SledLog::open(&dir).unwrap();
    append_some(&log, 10, "whole").await;
    drop(log);
    let whole_len = records_len(&dir);
    // A group's header claiming 4,000 bytes, and only a few of them.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("records"))
        .unwrap();
    file.write_all(&4000u64.to_be_bytes()).unwrap();
    file.write_all(&[7; 100]).unwrap();
    drop(file);
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 10);
    assert_eq!(records_len(&dir), whole_len, "the torn tail is cut off");
    assert_eq!(log.stats().recovery.torn_bytes_cut, 108);
    log.append(
        "concern-5",
        ExpectedRevision::NoStream,
        vec![sample_event("x")],
    )
    .await
    .unwrap();
    drop(log);
    let reopened = SledLog::open(&dir).unwrap();
    assert_eq!(reopened.verify_range(None, None).unwrap().events, 11);
}

#[tokio::test]
async fn a_damaged_whole_group_the_index_lacks_stops_start_up() {
    use std::os::unix::fs::FileExt;
    let root = tempfile::tempdir().unwrap();
    let (dir, _) = log_with_lagging_index(root.path()).await;
    // Change one byte of the last group (not indexed, and whole).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("records"))
        .unwrap();
    let at = records_len(&dir) - 70;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], at).unwrap();
    drop(file);
    match SledLog::open(&dir) {
        Err(LogError::Corrupt { position, .. }) => assert_eq!(position, 39),
        other => panic!("expected a corruption error at 39, got {other:?}"),
    }
}

#[tokio::test]
async fn a_log_in_the_old_layout_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(b"log").unwrap();
        tree.insert(b"Mhead", vec![0u8; 48]).unwrap();
        db.flush().unwrap();
    }
    match SledLog::open(dir.path()) {
        Err(LogError::Invalid(message)) => {
            assert!(message.contains("casebook export"), "{message}")
        }
        other => panic!("expected the layout to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn after_a_reopen_a_repeat_is_checked_against_its_record() {
    // The id index lives in memory and is read from the records file on
    // open; a repeat's revision and content come from its record.
    let dir = tempfile::tempdir().unwrap();
    let sent = {
        let log = SledLog::open(dir.path()).unwrap();
        append_some(&log, 6, "first").await
    };
    let log = SledLog::open(dir.path()).unwrap();
    let repeat = log
        .append("concern-1", ExpectedRevision::Any, vec![sent[5].clone()])
        .await
        .unwrap();
    assert_eq!(repeat.status, AppendStatus::AlreadyAppended);
    assert_eq!(
        (repeat.events[0].position, repeat.events[0].revision),
        (5, 2)
    );
    let mut changed = sent[3].clone();
    changed.data = serde_json::json!({ "label": "other content" });
    let conflict = log
        .append("concern-1", ExpectedRevision::Any, vec![changed])
        .await
        .unwrap_err();
    assert!(
        matches!(conflict, LogError::IdempotencyConflict { event_id, .. } if event_id == sent[3].id),
        "{conflict}"
    );
    assert_eq!(log.len(), 6, "nothing was written");
}

#[tokio::test]
async fn a_missing_records_file_stops_start_up_and_stays_missing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SledLog::open(dir.path()).unwrap();
        append_some(&log, 5, "kept").await;
    }
    std::fs::remove_file(dir.path().join("records")).unwrap();
    for _ in 0..2 {
        match SledLog::open(dir.path()) {
            Err(LogError::Invalid(message)) => {
                assert!(message.contains("records file"), "{message}")
            }
            other => panic!("expected the open to be refused, got {other:?}"),
        }
    }
    assert!(!dir.path().join("records").exists());
}

#[tokio::test]
async fn streams_longer_than_a_chunk_read_the_same_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut placed = Vec::new();
    {
        let log = SledLog::open(dir.path()).unwrap();
        for i in 0..43 {
            let events = (0..7)
                .map(|j| sample_event(&format!("long{i}-{j}")))
                .collect();
            let outcome = log
                .append("concern-long", ExpectedRevision::Any, events)
                .await
                .unwrap();
            placed.extend(outcome.events.iter().map(|e| (e.revision, e.position)));
            log.append(
                "concern-short",
                ExpectedRevision::Any,
                vec![sample_event(&format!("short{i}"))],
            )
            .await
            .unwrap();
        }
    }
    assert_eq!(placed.len(), 301);
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.stats().streams, 2);
    let forwards = log
        .read_stream("concern-long", Direction::Forwards, None, 1000)
        .await
        .unwrap();
    let read: Vec<(u64, u64)> = forwards.iter().map(|e| (e.revision, e.position)).collect();
    assert_eq!(read, placed);
    let backwards = log
        .read_stream("concern-long", Direction::Backwards, Some(200), 150)
        .await
        .unwrap();
    let revisions: Vec<u64> = backwards.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (51..=200).rev().collect::<Vec<_>>());
    assert_eq!(
        log.stream_revision("concern-long").await.unwrap(),
        Some(300)
    );
    assert_eq!(
        log.stream_revision("concern-short").await.unwrap(),
        Some(42)
    );
    let stale = log
        .append(
            "concern-long",
            ExpectedRevision::Exact(299),
            vec![sample_event("stale")],
        )
        .await;
    assert!(
        matches!(stale, Err(LogError::WrongExpectedRevision { .. })),
        "{stale:?}"
    );
    let next = log
        .append(
            "concern-long",
            ExpectedRevision::Exact(300),
            vec![sample_event("next")],
        )
        .await
        .unwrap();
    assert_eq!(next.events[0].revision, 301);
}

#[tokio::test]
async fn a_log_in_layout_2_is_upgraded_on_open() {
    // What layout 2 added: the format byte 2 and a head key per stream.
    let dir = log_with_index_changed(6, |_, tree| {
        tree.insert(b"Mformat", vec![2u8]).unwrap();
        tree.insert(b"Hconcern-0", vec![0u8; 16]).unwrap();
        tree.insert(b"Hconcern-1", vec![0u8; 16]).unwrap();
    })
    .await;
    {
        let log = SledLog::open(dir.path()).unwrap();
        assert_eq!(log.stream_revision("concern-1").await.unwrap(), Some(2));
        let next = log
            .append(
                "concern-0",
                ExpectedRevision::Exact(2),
                vec![sample_event("after")],
            )
            .await
            .unwrap();
        assert_eq!(next.events[0].position, 6);
    }
    let db = reopen_sled(dir.path());
    let tree = db.open_tree(b"log").unwrap();
    assert_eq!(tree.scan_prefix(b"H").count(), 0, "the head keys are gone");
    assert_eq!(tree.get(b"Mformat").unwrap().unwrap().as_ref(), &[3u8]);
}

#[tokio::test]
async fn entries_of_a_group_the_records_file_lacks_make_the_index_rebuilt() {
    // What a power cut can leave: sled began to index a group (its
    // `Mindexing` and some entries reached the disk) whose records did not.
    let dir = log_with_index_changed(10, |dir, tree| {
        let beyond = records_len(dir) + 4096;
        tree.insert(b"Mindexing", &beyond.to_be_bytes()).unwrap();
        let mut block = b"E".to_vec();
        block.extend_from_slice(&12u64.to_be_bytes());
        tree.insert(block, vec![0u8; 12]).unwrap();
        let mut category = b"Cconcern\0".to_vec();
        category.extend_from_slice(&12u64.to_be_bytes());
        tree.insert(category, 11u64.to_be_bytes().to_vec()).unwrap();
    })
    .await;
    let log = SledLog::open(dir.path()).unwrap();
    let recovery = log.stats().recovery;
    assert_eq!(
        (recovery.index_rebuilt, recovery.reindexed_events),
        (true, 10)
    );
    // Positions 10 and on go to new events, and no stale entry names them.
    for i in 0..4 {
        log.append(
            "household-new",
            ExpectedRevision::Any,
            vec![sample_event(&format!("new{i}"))],
        )
        .await
        .unwrap();
    }
    let concerns = log
        .read_category("concern", Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(concerns.len(), 10);
    assert!(concerns
        .iter()
        .all(|event| event.stream.starts_with("concern-")));
    assert_eq!(log.verify_range(None, None).unwrap().events, 14);
    drop(log);
    let reopened = SledLog::open(dir.path()).unwrap();
    assert!(!reopened.stats().recovery.index_rebuilt);
    assert_eq!(reopened.len(), 14);
}

#[tokio::test]
async fn a_rebuild_cut_short_by_a_crash_is_started_again() {
    // What a crash while emptying the index for a rebuild leaves: the mark,
    // the head entry, and some of the old entries.
    let dir = log_with_index_changed(10, |_, tree| {
        tree.insert(b"Mindexing", &u64::MAX.to_be_bytes()).unwrap();
        let blocks: Vec<_> = tree
            .scan_prefix(b"E")
            .keys()
            .map(|key| key.unwrap())
            .collect();
        assert!(!blocks.is_empty());
        for key in blocks {
            tree.remove(key).unwrap();
        }
    })
    .await;
    let log = SledLog::open(dir.path()).unwrap();
    let recovery = log.stats().recovery;
    assert_eq!(
        (recovery.index_rebuilt, recovery.reindexed_events),
        (true, 10)
    );
    assert_eq!(log.verify_range(None, None).unwrap().events, 10);
    assert_eq!(log.stream_revision("concern-0").await.unwrap(), Some(4));
    drop(log);
    let reopened = SledLog::open(dir.path()).unwrap();
    assert!(!reopened.stats().recovery.index_rebuilt, "the mark is gone");
    assert_eq!(reopened.len(), 10);
}

/// Overwrites the records file from `from` to its end with zeros and adds
/// `more` zeros past it: the reserve of zeros a crash leaves, or records a
/// power cut took before they were synced.
fn zero_from(dir: &Path, from: u64, more: u64) {
    use std::os::unix::fs::FileExt;
    let len = records_len(dir);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("records"))
        .unwrap();
    file.write_all_at(&vec![0; (len - from + more) as usize], from)
        .unwrap();
}

#[tokio::test]
async fn the_reserve_a_crash_leaves_reads_as_the_end_and_is_cut_off_quietly() {
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = log_with_lagging_index(root.path()).await;
    let whole_len = records_len(&dir);
    zero_from(&dir, whole_len, 1 << 20);
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 40);
    let recovery = log.stats().recovery;
    assert_eq!(recovery.reindexed_events, 15);
    assert_eq!(
        recovery.torn_bytes_cut, 0,
        "the reserve is not a torn group"
    );
    assert_eq!(records_len(&dir), whole_len, "the reserve is cut off");
    let read = log.read_all(Direction::Forwards, None, 100).await.unwrap();
    assert_eq!(read.len(), 40);
    assert_eq!(read[39].id, sent[39].id);
}

#[tokio::test]
async fn a_group_torn_over_the_reserve_is_cut_off_and_its_retry_appends() {
    // A crash while the last group was written over the reserve: its
    // header made it to the disk, the end of its body did not.
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = log_with_lagging_index(root.path()).await;
    zero_from(&dir, records_len(&dir) - 70, 1 << 20);
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 39, "the torn group is not in the log");
    let recovery = log.stats().recovery;
    assert!(recovery.torn_bytes_cut > 0, "{recovery:?}");
    assert!(!recovery.index_rebuilt);
    assert_eq!(log.verify_range(None, None).unwrap().events, 39);
    // Its event was never acknowledged: the retry appends it.
    let retry = log
        .append("concern-1", ExpectedRevision::Any, vec![sent[39].clone()])
        .await
        .unwrap();
    assert_eq!(
        (retry.status, retry.events[0].position),
        (AppendStatus::Appended, 39)
    );
    drop(log);
    let reopened = SledLog::open(&dir).unwrap();
    assert_eq!(reopened.len(), 40);
    assert_eq!(reopened.stats().recovery.torn_bytes_cut, 0);
}

#[tokio::test]
async fn a_damaged_group_with_records_after_it_still_stops_start_up() {
    use std::os::unix::fs::FileExt;
    let root = tempfile::tempdir().unwrap();
    let (dir, _) = log_with_lagging_index(root.path()).await;
    let len = records_len(&dir);
    zero_from(&dir, len, 1 << 20);
    // One byte of a group some groups before the last (past the index).
    let at = len - 70 - len / 8;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("records"))
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], at).unwrap();
    drop(file);
    match SledLog::open(&dir) {
        Err(LogError::Corrupt { position, .. }) => assert!((25..39).contains(&position)),
        other => panic!("expected a corruption error before the last group, got {other:?}"),
    }
}

#[tokio::test]
async fn an_index_ahead_of_records_a_power_cut_left_as_zeros_is_rebuilt() {
    // As above, but the lost records lay over the reserve: the file keeps
    // its length, and holds zeros where they would be.
    let root = tempfile::tempdir().unwrap();
    let (dir, kept_len, _, _) = log_with_groups_to_lose(root.path()).await;
    zero_from(&dir, kept_len, 1 << 20);
    let log = SledLog::open(&dir).unwrap();
    assert_eq!(log.len(), 25);
    assert!(log.stats().recovery.index_rebuilt);
    assert_eq!(log.verify_range(None, None).unwrap().events, 25);
    assert_eq!(records_len(&dir), kept_len);
}

#[tokio::test]
async fn a_closed_log_keeps_no_reserve() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path()).unwrap();
    append_some(&log, 3, "one").await;
    assert!(
        records_len(dir.path()) > 256 << 10,
        "an open log writes zeros ahead"
    );
    drop(log);
    let closed_len = records_len(dir.path());
    assert!(closed_len < 4096, "{closed_len} bytes for three events");
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(log.stats().recovery, Default::default());
}
