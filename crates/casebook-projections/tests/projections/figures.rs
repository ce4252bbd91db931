//! The resolution figures on a generated history, checked against a count
//! made directly from the events.

use casebook_domain::{Payload, StreamId};
use casebook_projections::Granularity;
use chrono::{DateTime, Duration, NaiveDate};

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

/// "Overdue now" is read from counts of deadlines by span and slot plus the
/// last slot's deadlines one by one: at every moment it must equal the
/// running deadlines before that moment, counted one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_now_equals_the_running_deadlines_before_now() {
    let mut h = Harness::new(7).await;
    let year = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
    for round in 0..3 {
        h.feed(700).await;
        let province = h.generator.province;
        let far = h.generator.now() + Duration::days(3650);
        let deadlines: Vec<_> = h
            .projections
            .deadlines_before(province, far)
            .unwrap()
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        assert!(
            deadlines.len() >= 5,
            "round {round}: too few running deadlines to check"
        );
        // Each deadline itself (not yet overdue), just after it, the slot
        // and span boundaries around it (2^16 s and 2^22 s from the epoch).
        let mut moments = Vec::new();
        for d in &deadlines {
            let s = d.timestamp();
            moments.extend([
                *d,
                *d + Duration::microseconds(1),
                *d - Duration::seconds(1),
            ]);
            for length in [1_i64 << 16, 1 << 22] {
                let start = s.div_euclid(length) * length;
                for at in [start, start + length] {
                    moments.push(DateTime::from_timestamp(at, 0).unwrap());
                }
            }
        }
        moments.push(far);
        moments.push(deadlines[0] - Duration::days(400));
        for now in moments {
            let expected = deadlines.iter().filter(|d| **d < now).count() as u64;
            let report = h
                .projections
                .figures(province, Granularity::Year, year(2020), year(2030), now)
                .unwrap();
            assert_eq!(
                report.total.overdue_now, expected,
                "round {round}, at {now}"
            );
            let topics: u64 = report.by_topic.values().map(|f| f.overdue_now).sum();
            assert_eq!(topics, expected, "the topics add up, at {now}");
            let units: u64 = report.by_unit.iter().map(|u| u.figures.overdue_now).sum();
            assert_eq!(units, expected, "the units below add up, at {now}");
        }
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
