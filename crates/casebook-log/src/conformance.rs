//! The behaviour every [`EventStore`] backend must show, as runnable checks.
//!
//! A backend's tests call [`run_all`] with a function that makes a fresh,
//! empty store; each check panics with a message on the first deviation.
//! The sled backend runs it in `tests/log.rs`; a PostgreSQL backend would run
//! the very same suite.
#![allow(clippy::unwrap_used)] // This module is test code that ships with the crate.

use crate::{
    AppendStatus, Direction, EventStore, ExpectedRevision, LogError, Metadata, NewEvent,
    StreamAppend, Subscription, SubscriptionFilter,
};
use chrono::{TimeZone, Utc};
use std::future::Future;
use uuid::Uuid;

/// An event with a fresh id and a small JSON payload naming `label`.
pub fn sample_event(label: &str) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_type: "sample.happened".into(),
        schema_version: 1,
        data: serde_json::json!({ "label": label, "text": "tâm tư nguyện vọng" }),
        metadata: Metadata {
            actor: "person-test".into(),
            correlation_id: None,
            causation_id: None,
            occurred_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        },
    }
}

/// The revisions of a page of events, in order.
fn revisions(events: &[crate::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.revision).collect()
}

/// The positions of a page of events, in order.
fn positions(events: &[crate::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

fn part(stream: &str, expected: ExpectedRevision, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend {
        stream: stream.into(),
        expected,
        events,
    }
}

/// Runs every check, each against a fresh store from `make`.
pub async fn run_all<S, F, Fut>(mut make: F)
where
    S: EventStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    appends_get_dense_positions_and_contiguous_revisions(make().await).await;
    expected_revision_is_enforced(make().await).await;
    multi_stream_appends_are_all_or_nothing(make().await).await;
    retries_by_event_id_are_idempotent(make().await).await;
    reads_by_category_and_event_type(make().await).await;
    paging_bounds_are_respected(make().await).await;
    bad_appends_are_refused(make().await).await;
    subscriptions_catch_up_then_go_live(make().await).await;
    a_stalled_subscriber_does_not_hold_back_writers(make().await).await;
    a_subscriber_at_the_head_reads_only_when_it_moves(make().await).await;
    verify_walks_a_healthy_log(make().await).await;
}

/// Positions are 0.. in append order, revisions 0.. per stream.
pub async fn appends_get_dense_positions_and_contiguous_revisions<S: EventStore>(store: S) {
    let a = [sample_event("a0"), sample_event("a1")];
    let outcome = store
        .append_to_streams(vec![part(
            "concern-a",
            ExpectedRevision::NoStream,
            a.to_vec(),
        )])
        .await
        .unwrap();
    assert_eq!(outcome.status, AppendStatus::Appended);
    let places: Vec<_> = outcome
        .events
        .iter()
        .map(|e| (e.revision, e.position))
        .collect();
    assert_eq!(places, vec![(0, 0), (1, 1)]);
    let b = sample_event("b0");
    let outcome = store
        .append_to_streams(vec![part("concern-b", ExpectedRevision::Any, vec![b])])
        .await
        .unwrap();
    assert_eq!(
        (outcome.events[0].revision, outcome.events[0].position),
        (0, 2)
    );
    let outcome = store
        .append_to_streams(vec![part(
            "concern-a",
            ExpectedRevision::Exact(1),
            vec![sample_event("a2")],
        )])
        .await
        .unwrap();
    assert_eq!(
        (outcome.events[0].revision, outcome.events[0].position),
        (2, 3)
    );
    assert_eq!(*store.durable_len().borrow(), 4);

    let stream = store
        .read_stream("concern-a", Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(revisions(&stream), vec![0, 1, 2]);
    assert_eq!(stream[0].id, a[0].id);
    assert_eq!(stream[0].data_json().unwrap(), a[0].data);
    assert_eq!(stream[0].metadata, a[0].metadata);
    let backwards = store
        .read_stream("concern-a", Direction::Backwards, None, 100)
        .await
        .unwrap();
    assert_eq!(revisions(&backwards), vec![2, 1, 0]);
    let from_one = store
        .read_stream("concern-a", Direction::Backwards, Some(1), 100)
        .await
        .unwrap();
    assert_eq!(revisions(&from_one), vec![1, 0]);
    let all = store
        .read_all(Direction::Forwards, None, 100)
        .await
        .unwrap();
    assert_eq!(positions(&all), vec![0, 1, 2, 3]);
    for pair in all.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "the chain links each record to the last"
        );
        assert!(
            pair[1].recorded_at >= pair[0].recorded_at,
            "recorded_at never goes back"
        );
    }
    let all_back = store
        .read_all(Direction::Backwards, None, 100)
        .await
        .unwrap();
    assert_eq!(positions(&all_back), vec![3, 2, 1, 0]);
    assert_eq!(store.stream_revision("concern-a").await.unwrap(), Some(2));
    assert_eq!(store.stream_revision("concern-none").await.unwrap(), None);
    assert!(store
        .read_stream("concern-none", Direction::Forwards, None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Every kind of expected revision, met and not met.
pub async fn expected_revision_is_enforced<S: EventStore>(store: S) {
    let append = |expected, label: &'static str| {
        let store = store.clone();
        async move {
            store
                .append_to_streams(vec![part("concern-x", expected, vec![sample_event(label)])])
                .await
        }
    };
    let err = append(ExpectedRevision::StreamExists, "1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::WrongExpectedRevision { actual: None, .. }),
        "{err}"
    );
    let err = append(ExpectedRevision::Exact(0), "2").await.unwrap_err();
    assert!(matches!(
        err,
        LogError::WrongExpectedRevision {
            expected: ExpectedRevision::Exact(0),
            actual: None,
            ..
        }
    ));
    append(ExpectedRevision::NoStream, "3").await.unwrap();
    let err = append(ExpectedRevision::NoStream, "4").await.unwrap_err();
    assert!(
        matches!(
            err,
            LogError::WrongExpectedRevision {
                actual: Some(0),
                ..
            }
        ),
        "{err}"
    );
    append(ExpectedRevision::StreamExists, "5").await.unwrap();
    let err = append(ExpectedRevision::Exact(0), "6").await.unwrap_err();
    match err {
        LogError::WrongExpectedRevision {
            stream,
            expected,
            actual,
        } => {
            assert_eq!(
                (stream.as_str(), expected, actual),
                ("concern-x", ExpectedRevision::Exact(0), Some(1))
            );
        }
        other => panic!("expected a revision conflict, got {other}"),
    }
    append(ExpectedRevision::Exact(1), "7").await.unwrap();
    append(ExpectedRevision::Any, "8").await.unwrap();
    assert_eq!(store.stream_revision("concern-x").await.unwrap(), Some(3));
    assert_eq!(
        *store.durable_len().borrow(),
        4,
        "refused appends wrote nothing"
    );
}

/// One append over several streams: a single unmet condition refuses it all.
pub async fn multi_stream_appends_are_all_or_nothing<S: EventStore>(store: S) {
    store
        .append_to_streams(vec![part(
            "household-1",
            ExpectedRevision::NoStream,
            vec![sample_event("h")],
        )])
        .await
        .unwrap();
    let refused = store
        .append_to_streams(vec![
            part(
                "concern-1",
                ExpectedRevision::NoStream,
                vec![sample_event("c1")],
            ),
            part(
                "household-1",
                ExpectedRevision::Exact(5),
                vec![sample_event("h1")],
            ),
        ])
        .await
        .unwrap_err();
    assert!(matches!(refused, LogError::WrongExpectedRevision { .. }));
    assert_eq!(
        store.stream_revision("concern-1").await.unwrap(),
        None,
        "no part of a refused append is written"
    );
    let outcome = store
        .append_to_streams(vec![
            part(
                "concern-1",
                ExpectedRevision::NoStream,
                vec![sample_event("c1"), sample_event("c2")],
            ),
            part(
                "household-1",
                ExpectedRevision::Exact(0),
                vec![sample_event("h1")],
            ),
        ])
        .await
        .unwrap();
    let positions: Vec<_> = outcome.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
    assert_eq!(outcome.stream_revision("concern-1"), Some(1));
    assert_eq!(outcome.stream_revision("household-1"), Some(1));
}

/// A retry with the same ids answers the original places and writes nothing.
pub async fn retries_by_event_id_are_idempotent<S: EventStore>(store: S) {
    let events = vec![sample_event("1"), sample_event("2")];
    let first = store
        .append_to_streams(vec![part(
            "concern-r",
            ExpectedRevision::NoStream,
            events.clone(),
        )])
        .await
        .unwrap();
    store
        .append_to_streams(vec![part(
            "concern-s",
            ExpectedRevision::Any,
            vec![sample_event("x")],
        )])
        .await
        .unwrap();
    // The retry's expected revision is stale now; it is still a repeat.
    let retry = store
        .append_to_streams(vec![part(
            "concern-r",
            ExpectedRevision::NoStream,
            events.clone(),
        )])
        .await
        .unwrap();
    assert_eq!(retry.status, AppendStatus::AlreadyAppended);
    assert_eq!(retry.events, first.events);
    assert_eq!(*store.durable_len().borrow(), 3);

    let mut changed = events[0].clone();
    changed.data = serde_json::json!({"label": "something else"});
    let err = store
        .append_to_streams(vec![part(
            "concern-r",
            ExpectedRevision::Any,
            vec![changed],
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::IdempotencyConflict { .. }), "{err}");
    let err = store
        .append_to_streams(vec![part(
            "concern-other",
            ExpectedRevision::Any,
            vec![events[0].clone()],
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::IdempotencyConflict { .. }),
        "same id in another stream: {err}"
    );
    let mixed = vec![events[1].clone(), sample_event("new")];
    let err = store
        .append_to_streams(vec![part("concern-r", ExpectedRevision::Any, mixed)])
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::IdempotencyConflict { .. }), "{err}");
    assert_eq!(
        *store.durable_len().borrow(),
        3,
        "conflicting retries wrote nothing"
    );
}

/// Category and event-type reads see exactly their events, both ways.
pub async fn reads_by_category_and_event_type<S: EventStore>(store: S) {
    let mut typed = sample_event("t");
    typed.event_type = "concern.resolved".into();
    store
        .append_to_streams(vec![part(
            "concern-1",
            ExpectedRevision::Any,
            vec![sample_event("c")],
        )])
        .await
        .unwrap();
    store
        .append_to_streams(vec![part(
            "household-1",
            ExpectedRevision::Any,
            vec![sample_event("h")],
        )])
        .await
        .unwrap();
    store
        .append_to_streams(vec![part("concern-2", ExpectedRevision::Any, vec![typed])])
        .await
        .unwrap();
    // A category that is a prefix of another must not see its events.
    store
        .append_to_streams(vec![part(
            "concerns-1",
            ExpectedRevision::Any,
            vec![sample_event("p")],
        )])
        .await
        .unwrap();
    let concerns = store
        .read_category("concern", Direction::Forwards, None, 10)
        .await
        .unwrap();
    assert_eq!(positions(&concerns), vec![0, 2]);
    let back = store
        .read_category("concern", Direction::Backwards, Some(1), 10)
        .await
        .unwrap();
    assert_eq!(positions(&back), vec![0]);
    let resolved = store
        .read_event_type("concern.resolved", Direction::Forwards, None, 10)
        .await
        .unwrap();
    assert_eq!(positions(&resolved), vec![2]);
    let samples = store
        .read_event_type("sample.happened", Direction::Backwards, None, 10)
        .await
        .unwrap();
    assert_eq!(positions(&samples), vec![3, 1, 0]);
}

/// Pages never exceed `max`, and `from` is inclusive.
pub async fn paging_bounds_are_respected<S: EventStore>(store: S) {
    let events: Vec<_> = (0..10).map(|i| sample_event(&i.to_string())).collect();
    store
        .append_to_streams(vec![part("concern-p", ExpectedRevision::Any, events)])
        .await
        .unwrap();
    let page = store
        .read_all(Direction::Forwards, Some(4), 3)
        .await
        .unwrap();
    assert_eq!(positions(&page), vec![4, 5, 6]);
    let page = store
        .read_all(Direction::Backwards, Some(4), 3)
        .await
        .unwrap();
    assert_eq!(positions(&page), vec![4, 3, 2]);
    let page = store
        .read_stream("concern-p", Direction::Forwards, Some(8), 5)
        .await
        .unwrap();
    assert_eq!(revisions(&page), vec![8, 9]);
    assert!(store
        .read_all(Direction::Forwards, Some(10), 5)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .read_all(Direction::Forwards, None, 0)
        .await
        .unwrap()
        .is_empty());
}

/// Malformed appends are refused with `Invalid` and write nothing.
pub async fn bad_appends_are_refused<S: EventStore>(store: S) {
    let same = sample_event("dup");
    let cases = vec![
        ("no streams", vec![]),
        (
            "no events",
            vec![part("concern-1", ExpectedRevision::Any, vec![])],
        ),
        (
            "bad stream name",
            vec![part(
                "Concern 1",
                ExpectedRevision::Any,
                vec![sample_event("x")],
            )],
        ),
        (
            "no id part",
            vec![part(
                "concern-",
                ExpectedRevision::Any,
                vec![sample_event("x")],
            )],
        ),
        (
            "duplicate id",
            vec![part(
                "concern-1",
                ExpectedRevision::Any,
                vec![same.clone(), same.clone()],
            )],
        ),
        (
            "duplicate stream",
            vec![
                part("concern-1", ExpectedRevision::Any, vec![sample_event("a")]),
                part("concern-1", ExpectedRevision::Any, vec![sample_event("b")]),
            ],
        ),
        (
            "empty type",
            vec![part(
                "concern-1",
                ExpectedRevision::Any,
                vec![NewEvent {
                    event_type: String::new(),
                    ..sample_event("t")
                }],
            )],
        ),
        (
            "huge payload",
            vec![part(
                "concern-1",
                ExpectedRevision::Any,
                vec![NewEvent {
                    data: serde_json::json!("x".repeat(100_000)),
                    ..sample_event("big")
                }],
            )],
        ),
    ];
    for (what, parts) in cases {
        let err = store.append_to_streams(parts).await.unwrap_err();
        assert!(matches!(err, LogError::Invalid(_)), "{what}: {err}");
    }
    assert_eq!(*store.durable_len().borrow(), 0);
}

/// History, then live events, with nothing skipped or repeated.
pub async fn subscriptions_catch_up_then_go_live<S: EventStore>(store: S) {
    for i in 0..5 {
        let stream = if i % 2 == 0 {
            "concern-1"
        } else {
            "household-1"
        };
        store
            .append_to_streams(vec![part(
                stream,
                ExpectedRevision::Any,
                vec![sample_event("h")],
            )])
            .await
            .unwrap();
    }
    let mut all = Subscription::new(store.clone(), SubscriptionFilter::All, Some(1));
    let mut concerns = Subscription::new(
        store.clone(),
        SubscriptionFilter::Category("concern".into()),
        None,
    );
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let stream = if i % 3 == 0 {
                    "concern-2"
                } else {
                    "household-2"
                };
                store
                    .append_to_streams(vec![part(
                        stream,
                        ExpectedRevision::Any,
                        vec![sample_event("live")],
                    )])
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 303 {
        seen.push(all.next().await.unwrap().position);
    }
    assert_eq!(
        seen,
        (2..305).collect::<Vec<_>>(),
        "every position after the start, once, in order"
    );
    let mut concern_positions = Vec::new();
    while concern_positions.len() < 3 + 100 {
        let event = concerns.next().await.unwrap();
        assert_eq!(event.category(), "concern");
        concern_positions.push(event.position);
    }
    writer.await.unwrap();
    assert!(concern_positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        concerns.next_available(10).await.unwrap().len(),
        0,
        "nothing more in the category"
    );
    assert_eq!(all.last_position(), Some(304));
}

/// A healthy log verifies end to end and in parts.
pub async fn verify_walks_a_healthy_log<S: EventStore>(store: S) {
    let empty = store.verify(None, None).await.unwrap();
    assert_eq!(empty.events, 0);
    let events: Vec<_> = (0..20).map(|i| sample_event(&i.to_string())).collect();
    store
        .append_to_streams(vec![part("concern-v", ExpectedRevision::Any, events)])
        .await
        .unwrap();
    let report = store.verify(None, None).await.unwrap();
    assert_eq!((report.events, report.range), (20, Some((0, 19))));
    let last = store.read_all(Direction::Backwards, None, 1).await.unwrap();
    assert_eq!(report.last_hash, Some(last[0].hash));
    let part_report = store.verify(Some(5), Some(9)).await.unwrap();
    assert_eq!((part_report.events, part_report.range), (5, Some((5, 9))));
}

/// A subscriber that stops reading costs writers nothing; when it reads
/// again it gets everything, in order, from the log.
pub async fn a_stalled_subscriber_does_not_hold_back_writers<S: EventStore>(store: S) {
    let mut stalled = Subscription::new(store.clone(), SubscriptionFilter::All, None);
    store
        .append_to_streams(vec![part(
            "concern-s",
            ExpectedRevision::Any,
            vec![sample_event("first")],
        )])
        .await
        .unwrap();
    assert_eq!(stalled.next().await.unwrap().position, 0);
    // Far more events than any buffer holds, while the subscriber reads nothing.
    let appends = 40;
    for round in 0..appends {
        let events = (0..100)
            .map(|i| sample_event(&format!("{round}-{i}")))
            .collect();
        let appended = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            store.append_to_streams(vec![part("concern-s", ExpectedRevision::Any, events)]),
        )
        .await;
        assert!(
            appended.is_ok_and(|result| result.is_ok()),
            "an append waited on a stalled subscriber"
        );
    }
    let total = 1 + appends * 100;
    for expected in 1..total {
        assert_eq!(stalled.next().await.unwrap().position, expected as u64);
    }
    assert!(stalled.next_available(10).await.unwrap().is_empty());
}

/// A store that counts the pages read from the whole log.
#[derive(Clone)]
struct CountingReads<S> {
    store: S,
    pages: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: EventStore> EventStore for CountingReads<S> {
    async fn append_to_streams(
        &self,
        parts: Vec<StreamAppend>,
    ) -> crate::Result<crate::AppendOutcome> {
        self.store.append_to_streams(parts).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from_revision: Option<u64>,
        max: usize,
    ) -> crate::Result<Vec<crate::RecordedEvent>> {
        self.store
            .read_stream(stream, direction, from_revision, max)
            .await
    }

    async fn read_all(
        &self,
        direction: Direction,
        from_position: Option<crate::Position>,
        max: usize,
    ) -> crate::Result<Vec<crate::RecordedEvent>> {
        self.pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.store.read_all(direction, from_position, max).await
    }

    async fn read_category(
        &self,
        category: &str,
        direction: Direction,
        from_position: Option<crate::Position>,
        max: usize,
    ) -> crate::Result<Vec<crate::RecordedEvent>> {
        self.store
            .read_category(category, direction, from_position, max)
            .await
    }

    async fn read_event_type(
        &self,
        event_type: &str,
        direction: Direction,
        from_position: Option<crate::Position>,
        max: usize,
    ) -> crate::Result<Vec<crate::RecordedEvent>> {
        self.store
            .read_event_type(event_type, direction, from_position, max)
            .await
    }

    async fn stream_revision(&self, stream: &str) -> crate::Result<Option<u64>> {
        self.store.stream_revision(stream).await
    }

    async fn verify(
        &self,
        from: Option<crate::Position>,
        to: Option<crate::Position>,
    ) -> crate::Result<crate::VerifyReport> {
        self.store.verify(from, to).await
    }

    fn durable_len(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.durable_len()
    }
}

/// A subscriber that has every durable event reads the log again only once
/// the durable head has moved past it: each read is work (a blocking
/// thread's, in the sled backend), and one at the head finds nothing.
pub async fn a_subscriber_at_the_head_reads_only_when_it_moves<S: EventStore>(store: S) {
    let pages = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = CountingReads {
        store: store.clone(),
        pages: std::sync::Arc::clone(&pages),
    };
    let read = || pages.load(std::sync::atomic::Ordering::SeqCst);
    let append = |label: &'static str| {
        store.append_to_streams(vec![part(
            "concern-h",
            ExpectedRevision::Any,
            vec![sample_event(label), sample_event(label)],
        )])
    };
    append("first").await.unwrap();
    let mut subscriber = Subscription::new(counting, SubscriptionFilter::All, None);
    assert_eq!(subscriber.next().await.unwrap().position, 0);
    assert_eq!(read(), 1, "the first event is read with one page");
    let rest = subscriber.next_available(10).await.unwrap();
    assert_eq!(positions(&rest), vec![1]);
    assert_eq!(read(), 1, "at the head, nothing more is read");
    assert!(subscriber.next_available(10).await.unwrap().is_empty());
    let waiting =
        tokio::time::timeout(std::time::Duration::from_millis(100), subscriber.next()).await;
    assert!(waiting.is_err(), "no event is made up at the head");
    assert_eq!(read(), 1, "waiting at the head reads nothing");
    append("second").await.unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), subscriber.next())
        .await
        .expect("an append wakes the subscriber")
        .unwrap();
    assert_eq!(next.position, 2);
    assert_eq!(read(), 2, "one page per move of the head");
}
