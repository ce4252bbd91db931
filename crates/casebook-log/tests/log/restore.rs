//! Restoring a log record by record, exactly as it was: the backup path.

use casebook_log::{
    conformance::sample_event, AppendStatus, Direction, EventStore, ExpectedRevision, LogError,
    SledLog, StreamAppend,
};

async fn source_log(dir: &std::path::Path) -> SledLog {
    let log = SledLog::open(dir).unwrap();
    for i in 0..30 {
        let parts = vec![
            StreamAppend {
                stream: format!("concern-{}", i % 4),
                expected: ExpectedRevision::Any,
                events: vec![sample_event("a"), sample_event("b")],
            },
            StreamAppend {
                stream: "household-1".into(),
                expected: ExpectedRevision::Any,
                events: vec![sample_event("h")],
            },
        ];
        log.append_multi(parts).await.unwrap();
    }
    log
}

#[tokio::test]
async fn a_restored_log_is_the_same_log() {
    let root = tempfile::tempdir().unwrap();
    let source = source_log(&root.path().join("source")).await;
    let records: Vec<_> = source.iter_all(0).collect();
    let restored_dir = root.path().join("restored");
    assert_eq!(SledLog::restore(&restored_dir, records).unwrap(), 90);
    let restored = SledLog::open(&restored_dir).unwrap();
    let all = |log: &SledLog| log.iter_all(0).map(|r| r.unwrap()).collect::<Vec<_>>();
    assert_eq!(
        all(&restored),
        all(&source),
        "every field and hash is the same"
    );
    let stream = restored
        .read_stream("concern-1", Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(
        stream,
        source
            .read_stream("concern-1", Direction::Forwards, None, 100)
            .await
            .unwrap()
    );
    assert_eq!(
        restored.stream_revision("household-1").await.unwrap(),
        Some(29)
    );
    // The idempotency index came back too, and appends carry on the chain.
    let first = source.get(0).unwrap().unwrap();
    let repeat = NewEventOf::from(&first);
    let again = restored
        .append(&first.stream, ExpectedRevision::Any, vec![repeat])
        .await
        .unwrap();
    assert_eq!(again.status, AppendStatus::AlreadyAppended);
    restored
        .append(
            "concern-9",
            ExpectedRevision::NoStream,
            vec![sample_event("new")],
        )
        .await
        .unwrap();
    assert_eq!(restored.verify_range(None, None).unwrap().events, 91);
}

#[tokio::test]
async fn a_tampered_record_stops_the_restore_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let source = source_log(&root.path().join("source")).await;
    let mut records: Vec<_> = source.iter_all(0).map(|r| r.unwrap()).collect();
    records[40].data = br#"{"label":"rewritten"}"#.to_vec();
    let target = root.path().join("restored");
    let err = SledLog::restore(&target, records.into_iter().map(Ok)).unwrap_err();
    assert!(
        matches!(err, LogError::Corrupt { position: 40, .. }),
        "{err}"
    );
    assert!(!target.exists(), "nothing half-restored is left");
}

#[tokio::test]
async fn a_restore_needs_an_empty_directory() {
    let root = tempfile::tempdir().unwrap();
    let source = source_log(&root.path().join("source")).await;
    let records: Vec<_> = source.iter_all(0).collect();
    let err = SledLog::restore(root.path().join("source"), records).unwrap_err();
    assert!(matches!(err, LogError::Invalid(_)), "{err}");
}

/// Rebuilds the proposal a record was appended from.
struct NewEventOf;

impl NewEventOf {
    fn from(record: &casebook_log::RecordedEvent) -> casebook_log::NewEvent {
        casebook_log::NewEvent {
            id: record.id,
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
            data: record.data_json().unwrap(),
            metadata: record.metadata.clone(),
        }
    }
}
