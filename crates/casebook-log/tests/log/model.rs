//! Property test: random appends (single and multi-stream), random expected
//! revisions, idempotent retries and reopens, against a plain in-memory model.

use casebook_log::{
    AppendStatus, Direction, EventStore, ExpectedRevision, LogError, Metadata, NewEvent, SledLog,
    StreamAppend,
};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use std::collections::HashMap;
use uuid::Uuid;

const STREAMS: [&str; 4] = ["concern-a", "concern-b", "household-a", "unit-a"];

#[derive(Debug, Clone)]
enum ExpectedChoice {
    Any,
    NoStream,
    StreamExists,
    /// The model's revision plus this offset (so -1, 0, +1 around the truth).
    Near(i64),
}

#[derive(Debug, Clone)]
enum Op {
    /// Streams (indexes into STREAMS) with their expectation and event count.
    Append(Vec<(usize, ExpectedChoice, usize)>),
    /// Re-send an earlier append (by index modulo the number made so far).
    Retry(usize),
    Reopen,
}

fn expected_choice() -> impl Strategy<Value = ExpectedChoice> {
    prop_oneof![
        Just(ExpectedChoice::Any),
        Just(ExpectedChoice::NoStream),
        Just(ExpectedChoice::StreamExists),
        (-1i64..=1).prop_map(ExpectedChoice::Near),
        Just(ExpectedChoice::Near(0)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0..STREAMS.len(), expected_choice(), 1usize..4), 1..3)
            .prop_map(Op::Append),
        2 => any::<usize>().prop_map(Op::Retry),
        1 => Just(Op::Reopen),
    ]
}

/// The plain model: a list of (id, stream, revision, payload) in log order.
#[derive(Default)]
struct Model {
    events: Vec<(Uuid, String, u64, serde_json::Value)>,
    heads: HashMap<String, u64>,
}

impl Model {
    fn resolve(&self, stream: &str, choice: &ExpectedChoice) -> ExpectedRevision {
        match choice {
            ExpectedChoice::Any => ExpectedRevision::Any,
            ExpectedChoice::NoStream => ExpectedRevision::NoStream,
            ExpectedChoice::StreamExists => ExpectedRevision::StreamExists,
            ExpectedChoice::Near(offset) => {
                let head = self.heads.get(stream).map_or(-1, |head| *head as i64);
                ExpectedRevision::Exact((head + offset).max(0) as u64)
            }
        }
    }

    fn apply(&mut self, parts: &[StreamAppend]) -> bool {
        let ok = parts.iter().all(|part| {
            part.expected
                .is_met_by(self.heads.get(&part.stream).copied())
        });
        if ok {
            for part in parts {
                for event in &part.events {
                    let revision = self.heads.get(&part.stream).map_or(0, |head| head + 1);
                    self.heads.insert(part.stream.clone(), revision);
                    self.events
                        .push((event.id, part.stream.clone(), revision, event.data.clone()));
                }
            }
        }
        ok
    }
}

fn new_event(counter: &mut u64) -> NewEvent {
    *counter += 1;
    NewEvent {
        id: Uuid::new_v4(),
        event_type: format!("kind.{}", *counter % 3),
        schema_version: 1,
        data: serde_json::json!({ "n": *counter }),
        metadata: Metadata {
            actor: "model".into(),
            correlation_id: None,
            causation_id: None,
            occurred_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        },
    }
}

async fn check_against_model(log: &SledLog, model: &Model) {
    let all = log
        .read_all(Direction::Forwards, None, 10_000)
        .await
        .unwrap();
    let actual: Vec<_> = all
        .iter()
        .map(|e| (e.id, e.stream.clone(), e.revision, e.data_json().unwrap()))
        .collect();
    assert_eq!(actual, model.events, "the whole log equals the model");
    for (position, event) in all.iter().enumerate() {
        assert_eq!(event.position, position as u64, "positions are dense");
    }
    for stream in STREAMS {
        let read = log
            .read_stream(stream, Direction::Forwards, None, 10_000)
            .await
            .unwrap();
        let revisions: Vec<_> = read.iter().map(|e| e.revision).collect();
        assert_eq!(
            revisions,
            (0..read.len() as u64).collect::<Vec<_>>(),
            "revisions are contiguous"
        );
        let expected: Vec<_> = model
            .events
            .iter()
            .filter(|e| e.1 == stream)
            .map(|e| e.0)
            .collect();
        assert_eq!(read.iter().map(|e| e.id).collect::<Vec<_>>(), expected);
        assert_eq!(
            log.stream_revision(stream).await.unwrap(),
            model.heads.get(stream).copied()
        );
    }
    assert_eq!(
        log.verify_range(None, None).unwrap().events,
        model.events.len() as u64
    );
}

/// (revision, position) of each event of an accepted append; `Err` if refused.
type Places = Result<Vec<(u64, u64)>, ()>;

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Some(SledLog::open(dir.path()).unwrap());
    let mut model = Model::default();
    let mut sent: Vec<(Vec<StreamAppend>, Places)> = Vec::new();
    let mut counter = 0;
    for op in ops {
        let current = log.as_ref().unwrap();
        match op {
            Op::Append(choices) => {
                let mut seen = std::collections::HashSet::new();
                let parts: Vec<StreamAppend> = choices
                    .iter()
                    .filter(|(stream, _, _)| seen.insert(*stream))
                    .map(|(stream, choice, count)| StreamAppend {
                        stream: STREAMS[*stream].into(),
                        expected: model.resolve(STREAMS[*stream], choice),
                        events: (0..*count).map(|_| new_event(&mut counter)).collect(),
                    })
                    .collect();
                let accepted = model.apply(&parts);
                let result = current.append_multi(parts.clone()).await;
                match (&result, accepted) {
                    (Ok(outcome), true) => assert_eq!(outcome.status, AppendStatus::Appended),
                    (Err(LogError::WrongExpectedRevision { .. }), false) => {}
                    (other, accepted) => panic!("model accepted={accepted}, log said {other:?}"),
                }
                let places = result
                    .map(|o| o.events.iter().map(|e| (e.revision, e.position)).collect())
                    .map_err(|_| ());
                sent.push((parts, places));
            }
            Op::Retry(index) if !sent.is_empty() => {
                let index = index % sent.len();
                let (parts, first) = sent[index].clone();
                let retry = current.append_multi(parts.clone()).await;
                match (first, retry) {
                    (Ok(places), Ok(outcome)) => {
                        assert_eq!(outcome.status, AppendStatus::AlreadyAppended);
                        let again: Vec<_> = outcome
                            .events
                            .iter()
                            .map(|e| (e.revision, e.position))
                            .collect();
                        assert_eq!(again, places, "a retry answers the original places");
                    }
                    (Err(()), Ok(outcome)) => {
                        // Refused the first time, accepted now: the model must agree.
                        assert_eq!(outcome.status, AppendStatus::Appended);
                        assert!(
                            model.apply(&parts),
                            "the log accepted what the model refuses"
                        );
                        let places = outcome
                            .events
                            .iter()
                            .map(|e| (e.revision, e.position))
                            .collect();
                        sent[index].1 = Ok(places);
                    }
                    (Err(()), Err(_)) => assert!(!parts
                        .iter()
                        .all(|p| p.expected.is_met_by(model.heads.get(&p.stream).copied()))),
                    (Ok(_), Err(err)) => panic!("retry of an appended batch failed: {err}"),
                }
            }
            Op::Retry(_) => {}
            Op::Reopen => {
                drop(log.take());
                log = Some(SledLog::open(dir.path()).unwrap());
            }
        }
        check_against_model(log.as_ref().unwrap(), &model).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
