//! The demo is the brief's province, in every state of the lifecycle,
//! deterministic, and loads into a real log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use casebook_demo::{generate, load, Demo, DemoConfig, DemoError};
use casebook_domain::{
    fold, Concern, ConcernId, DeadlineStatus, Payload, Policy, Role, Status, StreamId, UnitKind,
};
use chrono::{TimeZone, Utc};
use std::collections::HashMap;

fn demo() -> Demo {
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap();
    generate(&DemoConfig::new(7, now)).expect("the demo generates")
}

fn count(demo: &Demo, matches: impl Fn(&Payload) -> bool) -> usize {
    demo.events
        .iter()
        .filter(|(_, event)| matches(&event.payload))
        .count()
}

#[test]
fn it_is_sized_like_the_brief() {
    let demo = demo();
    let units = |kind: UnitKind| {
        count(
            &demo,
            |p| matches!(p, Payload::UnitCreated(u) if u.kind == kind),
        )
    };
    assert_eq!(units(UnitKind::ProvincialCommand), 1);
    assert_eq!(units(UnitKind::Post), 2);
    assert_eq!(units(UnitKind::Commune), 11);
    assert_eq!(units(UnitKind::Hamlet), 40);
    let members = count(
        &demo,
        |p| matches!(p, Payload::RoleGranted(g) if g.role == Role::Member),
    );
    assert_eq!(members, 75);
    assert_eq!(
        count(&demo, |p| matches!(p, Payload::HouseholdRegistered(_))),
        350
    );
    assert_eq!(
        count(&demo, |p| matches!(p, Payload::ConcernReported(_))),
        2_500
    );
}

fn cases(demo: &Demo) -> Vec<Concern> {
    let mut streams: HashMap<ConcernId, Vec<&casebook_domain::Event>> = HashMap::new();
    for (stream, event) in &demo.events {
        if let StreamId::Concern(id) = stream {
            streams.entry(*id).or_default().push(event);
        }
    }
    streams
        .into_values()
        .filter_map(fold::<Option<Concern>>)
        .collect()
}

#[test]
fn every_state_of_the_lifecycle_is_there() {
    let demo = demo();
    let cases = cases(&demo);
    let with_status = |status: Status| cases.iter().filter(|c| c.status == status).count();
    for status in [
        Status::Reported,
        Status::Acknowledged,
        Status::InProgress,
        Status::Paused,
        Status::Resolved,
        Status::Closed,
        Status::Merged,
        Status::Withdrawn,
    ] {
        assert!(with_status(status) > 0, "no case is {status:?}");
    }
    assert!(
        with_status(Status::Closed) > cases.len() / 2,
        "most of a year's cases are closed"
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap();
    let policy = Policy::default();
    let overdue = cases
        .iter()
        .filter(|c| policy.deadline_status(c, now) == DeadlineStatus::Overdue)
        .count();
    assert!(overdue > 0, "some cases are overdue");
    assert!(count(&demo, |p| matches!(p, Payload::ConcernEscalated(_))) > 100);
    assert!(count(&demo, |p| matches!(p, Payload::ConcernReopened(_))) > 10);
    assert!(count(&demo, |p| matches!(p, Payload::ReferredOut(_))) > 20);
    let tips = cases
        .iter()
        .filter(|c| c.sealed_informant.is_some())
        .count();
    assert!(
        tips > 50,
        "confidential tips with a sealed informant: {tips}"
    );
}

#[test]
fn the_same_seed_gives_the_same_demo() {
    let (a, b) = (demo(), demo());
    assert_eq!(a.events, b.events);
    assert_eq!(a.people, b.people);
    let other = generate(&DemoConfig::new(
        8,
        Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap(),
    ))
    .unwrap();
    assert_ne!(a.events, other.events);
}

#[test]
fn texts_are_vietnamese_with_diacritics() {
    let demo = demo();
    let texts: Vec<&str> = demo
        .events
        .iter()
        .filter_map(|(_, e)| match &e.payload {
            Payload::ConcernReported(r) => Some(r.text.as_str()),
            _ => None,
        })
        .collect();
    assert!(texts
        .iter()
        .all(|t| t.chars().any(|c| "ăâđêôơưáàảãạếềểễệốồổỗộớờởỡợ".contains(c))));
    assert!(texts.iter().any(|t| t.contains("vay vốn")));
}

#[tokio::test]
async fn it_loads_into_an_empty_log_only() {
    let demo = demo();
    let dir = tempfile::tempdir().unwrap();
    let log = casebook_log::SledLog::open(dir.path().join("log")).unwrap();
    let keys = casebook_privacy::KeyStore::open(
        &dir.path().join("keys"),
        casebook_privacy::MasterKey::generate(),
    )
    .unwrap();
    let report = load(&log, &keys, &demo).await.unwrap();
    assert_eq!(report.events, demo.events.len() as u64);
    assert_eq!(log.len(), demo.events.len() as u64);
    assert_eq!(log.verify_range(None, None).unwrap().events, log.len());
    // Read back, the records decode to the same events (but for the log's
    // own recorded time).
    let first = log.get(0).unwrap().unwrap();
    assert_eq!(first.stream, demo.events[0].0.name());
    // Residents' personal data is sealed in the log.
    let households: Vec<_> = log
        .iter_all(0)
        .map(Result::unwrap)
        .filter(|r| r.event_type == "household.registered")
        .collect();
    assert!(!households.is_empty());
    for record in &households {
        let data = record.data_json().unwrap();
        assert!(data["personal"].get(casebook_privacy::SEALED_TAG).is_some());
    }
    let again = load(&log, &keys, &demo).await.unwrap_err();
    assert!(matches!(again, DemoError::StoreNotEmpty { .. }));
}
