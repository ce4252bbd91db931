//! The resolution figures on a generated history, checked against a count
//! made directly from the events.

use casebook_domain::{Payload, StreamId};
use casebook_projections::Granularity;
use chrono::NaiveDate;

use crate::harness::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_roll_up_and_match_a_direct_count() {
    let mut h = Harness::new(4).await;
    let events = h.feed(1_500).await;
    let count = |f: fn(&Payload) -> bool| {
        events
            .iter()
            .filter(|g| matches!(g.stream, StreamId::Concern(_)) && f(&g.event.payload))
            .count() as u64
    };
    let from = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let now = h.generator.now();
    for granularity in [
        Granularity::Year,
        Granularity::Quarter,
        Granularity::Month,
        Granularity::Day,
    ] {
        let report = h
            .projections
            .figures(h.generator.province, granularity, from, to, now)
            .unwrap();
        let t = report.total.counters;
        assert_eq!(
            t.received,
            count(|p| matches!(p, Payload::ConcernReported(_))),
            "{granularity:?}"
        );
        assert_eq!(
            t.resolved,
            count(|p| matches!(p, Payload::ConcernResolved(_)))
        );
        assert_eq!(
            t.acknowledged,
            count(|p| matches!(p, Payload::ConcernAcknowledged(_)))
        );
        assert_eq!(
            t.escalated,
            count(|p| matches!(p, Payload::ConcernEscalated(_)))
        );
        let below: u64 = report
            .by_unit
            .iter()
            .map(|u| u.figures.counters.received)
            .sum();
        assert_eq!(below, t.received, "the posts add up to the province");
        let topics: u64 = report.by_topic.values().map(|f| f.counters.received).sum();
        assert_eq!(topics, t.received, "the topics add up to the total");
        assert!(report.total.resolve_p50_hours.is_some());
        assert!(report.total.resolve_p50_hours <= report.total.resolve_p90_hours);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn households_show_their_member_cases_and_last_visit() {
    let mut h = Harness::new(5).await;
    let events = h.feed(800).await;
    let hamlet = h.generator.hamlets[0].clone();
    let (household, member) = hamlet.households[0];
    let row = h.projections.household(household).unwrap().unwrap();
    assert_eq!(row.assignments.len(), 1);
    assert_eq!(row.assignments[0].member_id, member);
    assert!(row.assignments[0].until.is_none());
    let reported: usize = events
        .iter()
        .filter(|g| matches!(&g.event.payload, Payload::ConcernReported(e) if e.subject.households().contains(&household)))
        .count();
    assert_eq!(row.cases.len(), reported);
    assert_eq!(
        row.cases_by_status().values().sum::<u32>() as usize,
        reported
    );
}
