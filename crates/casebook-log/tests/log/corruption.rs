//! Damage to the stored bytes is found, named by position, and never served.

use casebook_log::{
    conformance::sample_event, Direction, EventStore, ExpectedRevision, LogError, SledLog,
};
use std::path::Path;

const EVENTS: u64 = 5000;

/// A closed log of `EVENTS` events in one stream.
async fn build_log(dir: &Path) {
    let log = SledLog::open(dir).unwrap();
    for _ in 0..EVENTS / 500 {
        let events = (0..500).map(|i| sample_event(&i.to_string())).collect();
        log.append("concern-1", ExpectedRevision::Any, events)
            .await
            .unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn block_key(last_position: u64) -> Vec<u8> {
    let mut key = vec![b'E'];
    key.extend_from_slice(&last_position.to_be_bytes());
    key
}

/// The store as the tests change it: the index tree, and the records file
/// the index points into.
struct Store {
    db: sled::Db,
    tree: sled::Tree,
    records: std::fs::File,
}

/// A record block: its key, where it lies in the records file, and each
/// record's position and stored bytes (as written: `[u32 length][record]...`).
struct Block {
    key: sled::IVec,
    offset: u64,
    records: Vec<(u64, Vec<u8>)>,
}

fn block_holding(store: &Store, position: u64) -> Block {
    use std::os::unix::fs::FileExt;
    let (key, location) = store
        .tree
        .range(block_key(position)..)
        .next()
        .unwrap()
        .unwrap();
    let offset = u64::from_be_bytes(location[..8].try_into().unwrap());
    let len = u32::from_be_bytes(location[8..12].try_into().unwrap()) as usize;
    let mut bytes = vec![0; len];
    store.records.read_exact_at(&mut bytes, offset).unwrap();
    let mut records = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let record = rest[4..4 + len].to_vec();
        let at = u64::from_be_bytes(record[1..9].try_into().unwrap());
        records.push((at, record));
        rest = &rest[4 + len..];
    }
    Block {
        key,
        offset,
        records,
    }
}

/// Rewrites the block holding `position` in place after `change` edits its
/// records, and points its index entry at the new length.
fn edit_block(store: &Store, position: u64, change: impl FnOnce(&mut Vec<(u64, Vec<u8>)>)) {
    use std::os::unix::fs::FileExt;
    let mut block = block_holding(store, position);
    change(&mut block.records);
    let mut bytes = Vec::new();
    for (_, record) in block.records {
        bytes.extend_from_slice(&(record.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&record);
    }
    store.records.write_all_at(&bytes, block.offset).unwrap();
    let mut location = block.offset.to_be_bytes().to_vec();
    location.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    store.tree.insert(block.key, location).unwrap();
}

fn index_of(records: &[(u64, Vec<u8>)], position: u64) -> usize {
    records.iter().position(|(at, _)| *at == position).unwrap()
}

/// Opens the store with plain sled and the plain file, and changes it.
fn tamper(dir: &Path, change: impl FnOnce(&Store)) {
    let db = sled::open(dir).unwrap();
    let store = Store {
        tree: db.open_tree(b"log").unwrap(),
        records: std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("records"))
            .unwrap(),
        db,
    };
    change(&store);
    store.db.flush().unwrap();
    store.records.sync_all().unwrap();
}

fn flip_byte(store: &Store, position: u64, byte: usize) {
    edit_block(store, position, |records| {
        let index = index_of(records, position);
        records[index].1[byte] ^= 0x20;
    });
}

/// Removes the index entry of the whole block holding `position`.
fn remove_block(store: &Store, position: u64) {
    let block = block_holding(store, position);
    store.tree.remove(block.key).unwrap();
}

fn corrupt_position(err: LogError) -> u64 {
    match err {
        LogError::Corrupt { position, .. } => position,
        other => panic!("expected a corruption error, got {other}"),
    }
}

/// A damaged copy of a fresh log; the original is kept beside it.
async fn damaged_copy(change: impl FnOnce(&Store)) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let original = root.path().join("original");
    build_log(&original).await;
    let copy = root.path().join("copy");
    copy_dir(&original, &copy);
    tamper(&copy, change);
    assert_eq!(
        SledLog::open(&original)
            .unwrap()
            .verify_range(None, None)
            .unwrap()
            .events,
        EVENTS
    );
    (root, copy)
}

#[tokio::test]
async fn a_changed_byte_is_named_by_verify_and_every_read_of_it_fails() {
    let (_root, copy) = damaged_copy(|store| flip_byte(store, 100, 120)).await;
    let log = SledLog::open(&copy).unwrap();
    assert_eq!(
        corrupt_position(log.verify_range(None, None).unwrap_err()),
        100
    );
    assert_eq!(corrupt_position(log.get(100).unwrap_err()), 100);
    assert!(log.get(99).unwrap().is_some(), "its neighbours still read");
    let err = log
        .read_all(Direction::Forwards, Some(90), 20)
        .await
        .unwrap_err();
    assert_eq!(corrupt_position(err), 100);
    let err = log
        .read_stream("concern-1", Direction::Backwards, Some(150), 100)
        .await
        .unwrap_err();
    assert_eq!(corrupt_position(err), 100);
    let walked: Vec<_> = log.iter_all(0).collect();
    assert_eq!(walked.len(), 101, "the walk stops at the bad record");
    assert_eq!(
        corrupt_position(walked.into_iter().nth(100).unwrap().unwrap_err()),
        100
    );
    // Checking 101 links it to 100's hash, so it names 100 too; from 102 on all is well.
    assert_eq!(
        corrupt_position(log.verify_range(Some(101), None).unwrap_err()),
        100
    );
    assert_eq!(
        log.verify_range(Some(102), None).unwrap().events,
        EVENTS - 102
    );
}

#[tokio::test]
async fn a_removed_record_is_named_by_verify() {
    let (_root, copy) = damaged_copy(|store| {
        edit_block(store, 200, |records| {
            let index = index_of(records, 200);
            records.remove(index);
        });
    })
    .await;
    let log = SledLog::open(&copy).unwrap();
    assert_eq!(
        corrupt_position(log.verify_range(None, None).unwrap_err()),
        200
    );
    assert_eq!(corrupt_position(log.get(200).unwrap_err()), 200);
}

#[tokio::test]
async fn a_swapped_pair_of_records_is_named_by_verify() {
    let (_root, copy) = damaged_copy(|store| {
        edit_block(store, 300, |records| {
            let index = index_of(records, 300);
            records.swap(index, index + 1);
        });
    })
    .await;
    let log = SledLog::open(&copy).unwrap();
    assert_eq!(
        corrupt_position(log.verify_range(None, None).unwrap_err()),
        300
    );
}

#[tokio::test]
async fn damage_at_the_tail_stops_start_up() {
    let (_root, copy) = damaged_copy(|store| flip_byte(store, EVENTS - 3, 40)).await;
    let err = SledLog::open(&copy).unwrap_err();
    assert_eq!(corrupt_position(err), EVENTS - 3);
}

#[tokio::test]
async fn a_missing_index_entry_at_the_tail_stops_start_up() {
    let (_root, copy) = damaged_copy(|store| {
        // The last block of the event-type index: the last append's 500
        // positions.
        let (key, _) = store
            .tree
            .scan_prefix(b"Tsample.happened\0")
            .last()
            .unwrap()
            .unwrap();
        store.tree.remove(key).unwrap();
    })
    .await;
    let err = SledLog::open(&copy).unwrap_err();
    assert!(
        matches!(err, LogError::Corrupt { position, ref reason } if position == EVENTS - 500 && reason.contains("event type")),
        "{err}"
    );
}

#[tokio::test]
async fn a_removed_block_is_named_by_verify() {
    let (_root, copy) = damaged_copy(|store| remove_block(store, 500)).await;
    let log = SledLog::open(&copy).unwrap();
    let err = log.verify_range(None, None).unwrap_err();
    let position = corrupt_position(err);
    assert!(
        position <= 500,
        "the first missing position is named, got {position}"
    );
    assert_eq!(corrupt_position(log.get(500).unwrap_err()), 500);
}

/// The items of a whole-log walk from `from`: each record's position, or
/// the position an error names.
fn walk_from(log: &SledLog, from: u64) -> Vec<Result<u64, u64>> {
    log.iter_all(from)
        .map(|item| item.map(|record| record.position).map_err(corrupt_position))
        .collect()
}

#[tokio::test]
async fn a_long_walk_checked_ahead_serves_every_record_before_the_bad_one_then_names_it() {
    // A walk of 5,000 events has its hashes checked on a read-ahead thread.
    let (_root, copy) = damaged_copy(|store| flip_byte(store, 800, 120)).await;
    let log = SledLog::open(&copy).unwrap();
    let expected: Vec<Result<u64, u64>> = (0..800).map(Ok).chain([Err(800)]).collect();
    assert_eq!(walk_from(&log, 0), expected);
    assert_eq!(walk_from(&log, 700), expected[700..]);
}

#[tokio::test]
async fn a_long_walk_over_a_removed_block_names_the_first_missing_record() {
    let (_root, copy) = damaged_copy(|store| remove_block(store, 600)).await;
    let log = SledLog::open(&copy).unwrap();
    let long = walk_from(&log, 0);
    let missing = match long.last() {
        Some(Err(position)) => *position,
        other => panic!("the walk should end with an error, got {other:?}"),
    };
    assert!(missing <= 600, "{missing}");
    let served: Vec<u64> = long.iter().filter_map(|item| item.ok()).collect();
    assert_eq!(served, (0..missing).collect::<Vec<_>>());
}
