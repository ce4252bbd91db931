//! Every view's exact answers on the hand-written history of `known`.

use casebook_domain::{Assignee, DeadlineStatus, Status};
use casebook_projections::{CaseFilter, CaseSort, DeadlineFilter, Granularity, MemberWorkload};
use unicode_normalization::UnicodeNormalization;

use crate::harness::Known;
use crate::known::*;

fn ids(page: &casebook_projections::CasePage) -> Vec<casebook_domain::ConcernId> {
    page.items.iter().map(|i| i.row.concern.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_view_lists_filters_and_pages_exactly() {
    let k = Known::new().await;
    let p = &k.projections;
    let now = at(10, 0);
    let all = p
        .cases(&CaseFilter::unit(P), CaseSort::Newest, 50, None, now)
        .unwrap();
    assert_eq!(ids(&all), [Z, Y, X]);
    assert_eq!(all.next_cursor, None);
    let statuses: Vec<_> = all.items.iter().map(|i| i.row.concern.status).collect();
    assert_eq!(
        statuses,
        [Status::Reported, Status::InProgress, Status::Resolved]
    );
    let deadlines: Vec<_> = all.items.iter().map(|i| i.deadline_status).collect();
    assert_eq!(
        deadlines,
        [
            DeadlineStatus::NotRunning,
            DeadlineStatus::Overdue,
            DeadlineStatus::NotRunning
        ]
    );

    let by_due = p
        .cases(&CaseFilter::unit(P), CaseSort::DueDate, 50, None, now)
        .unwrap();
    assert_eq!(
        ids(&by_due),
        [Y, X, Z],
        "earliest deadline first, none last"
    );

    let overdue = CaseFilter {
        deadline: Some(DeadlineFilter::Overdue),
        ..CaseFilter::unit(P)
    };
    let page = p.cases(&overdue, CaseSort::Newest, 50, None, now).unwrap();
    assert_eq!(ids(&page), [Y]);
    let before = p
        .cases(&overdue, CaseSort::Newest, 50, None, at(5, 0))
        .unwrap();
    assert_eq!(ids(&before), [], "overdue is judged at the query's now");
    let soon = CaseFilter {
        deadline: Some(DeadlineFilter::DueSoon),
        ..CaseFilter::unit(P)
    };
    let page = p
        .cases(&soon, CaseSort::Newest, 50, None, at(5, 1))
        .unwrap();
    assert_eq!(ids(&page), [Y]);

    let h2 = p
        .cases(&CaseFilter::unit(H2), CaseSort::Newest, 50, None, now)
        .unwrap();
    assert_eq!(ids(&h2), [Z]);
    let mine = CaseFilter {
        assignee: Some(Assignee::Person { person_id: M1 }),
        ..CaseFilter::unit(P)
    };
    let page = p.cases(&mine, CaseSort::Newest, 50, None, now).unwrap();
    assert_eq!(ids(&page), [Y]);

    let first = p
        .cases(&CaseFilter::unit(C), CaseSort::Newest, 2, None, now)
        .unwrap();
    assert_eq!(ids(&first), [Z, Y]);
    let second = p
        .cases(
            &CaseFilter::unit(C),
            CaseSort::Newest,
            2,
            first.next_cursor.as_deref(),
            now,
        )
        .unwrap();
    assert_eq!(ids(&second), [X]);

    let x = p.case(X).unwrap().unwrap();
    assert_eq!(x.concern.status, Status::Resolved);
    assert_eq!(x.concern.deadline, Some(deadline_x()));
    assert_eq!(x.unit_path, [P, POST, C, H]);
    assert_eq!(x.last_event_type, "concern.feedback_recorded");
    for (case, status) in STATUSES {
        assert_eq!(p.case(case).unwrap().unwrap().concern.status, status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_view_counts_exactly() {
    let k = Known::new().await;
    let (from, to) = march();
    let report = k
        .projections
        .figures(P, Granularity::Month, from, to, at(10, 0))
        .unwrap();
    let t = &report.total;
    let c = t.counters;
    assert_eq!(
        (c.received, c.acknowledged, c.resolved, c.resolved_on_time),
        (3, 2, 1, 1)
    );
    assert_eq!((c.satisfied, c.not_satisfied, c.escalated), (1, 0, 0));
    assert_eq!((t.open_now, t.overdue_now), (2, 1));
    let near = |h: Option<f64>, want: f64| h.is_some_and(|h| (h - want).abs() <= want * 0.01);
    assert!(near(t.resolve_p50_hours, 96.0), "{:?}", t.resolve_p50_hours);
    assert!(near(t.resolve_p90_hours, 96.0));
    assert!(
        near(t.acknowledge_p50_hours, 1.0),
        "{:?}",
        t.acknowledge_p50_hours
    );
    assert!(
        near(t.acknowledge_p90_hours, 2.0),
        "{:?}",
        t.acknowledge_p90_hours
    );
    assert_eq!(report.by_unit.len(), 1);
    assert_eq!(report.by_unit[0].unit, POST);
    assert_eq!(report.by_unit[0].figures.counters.received, 3);
    assert_eq!(
        report.by_topic.keys().collect::<Vec<_>>(),
        ["social_security"]
    );

    let h2 = k
        .projections
        .figures(H2, Granularity::Day, from, to, at(10, 0))
        .unwrap();
    assert_eq!(h2.total.counters.received, 1);
    assert_eq!((h2.total.open_now, h2.total.overdue_now), (1, 0));
    assert_eq!(h2.total.resolve_p50_hours, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn households_view_shows_members_cases_and_visits_exactly() {
    let k = Known::new().await;
    let a = k.projections.household(A).unwrap().unwrap();
    assert_eq!(a.hamlet_id, H);
    assert_eq!(a.head_of_household, "Chủ hộ A");
    assert_eq!(a.assignments.len(), 1);
    assert_eq!(
        (a.assignments[0].member_id, a.assignments[0].from),
        (M1, at(1, 0))
    );
    assert_eq!(
        a.cases.into_iter().collect::<Vec<_>>(),
        [(X, Status::Resolved)]
    );
    assert_eq!(a.last_visit, Some(at(2, 9)));
    let b = k.projections.household(B).unwrap().unwrap();
    assert_eq!(
        b.cases.into_iter().collect::<Vec<_>>(),
        [(Y, Status::InProgress)]
    );
    assert_eq!(b.last_visit, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_view_answers_workload_at_the_query_time() {
    let k = Known::new().await;
    let m1 = k.projections.member(M1, at(10, 0), 10).unwrap().unwrap();
    assert_eq!(
        m1,
        MemberWorkload {
            member_id: M1,
            households: vec![A, B],
            open_cases: 1,
            overdue_cases: 1,
            visits_last_30_days: 1,
            not_visited: vec![B],
        }
    );
    let before_deadline = k.projections.member(M1, at(5, 0), 1).unwrap().unwrap();
    assert_eq!(before_deadline.overdue_cases, 0);
    assert_eq!(
        before_deadline.not_visited,
        [A, B],
        "A's visit is 2 days old"
    );
    let later = k
        .projections
        .member(M1, at(2, 9) + chrono::TimeDelta::days(31), 60);
    assert_eq!(later.unwrap().unwrap().visits_last_30_days, 0);
    let m2 = k.projections.member(M2, at(10, 0), 10).unwrap().unwrap();
    assert_eq!(
        (
            m2.households,
            m2.open_cases,
            m2.overdue_cases,
            m2.not_visited
        ),
        (vec![K], 1, 0, vec![K])
    );
    assert_eq!(k.projections.member(ADMIN, at(10, 0), 10).unwrap(), None);
}

fn found(
    k: &Known,
    unit: casebook_domain::UnitId,
    q: &str,
) -> Vec<(casebook_domain::ConcernId, bool)> {
    k.projections
        .search(unit, q, 20)
        .unwrap()
        .into_iter()
        .map(|h| (h.case_id, h.exact))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ignores_diacritics_and_ranks_exact_matches_first() {
    let k = Known::new().await;
    // First from the documents held in memory until the next commit, then
    // from the committed index (a clean shutdown commits).
    check_search(&k);
    let k = k.reopen().await;
    check_search(&k);
}

fn check_search(k: &Known) {
    assert_eq!(found(k, P, "tam tu nguyen vong"), [(X, false)]);
    assert_eq!(found(k, P, "Tâm tư nguyện vọng"), [(X, true)]);
    assert_eq!(found(k, P, "đồng"), [(Y, true), (Z, false)]);
    assert_eq!(found(k, P, "dong"), [(Z, true), (Y, false)]);
    assert_eq!(found(k, P, "DONG"), [(Z, true), (Y, false)]);
    let nfd: String = "cánh đồng".nfd().collect();
    assert_ne!(nfd, "cánh đồng");
    assert_eq!(found(k, P, &nfd), [(Y, true)]);
    assert_eq!(found(k, P, "duong ra canh dong"), [(Y, false)]);
    assert_eq!(found(k, H2, "dong"), [(Z, true)], "the jurisdiction");
    assert_eq!(found(k, H, "dong"), [(Y, false)]);
    assert_eq!(found(k, P, "sạt lở sâu bệnh"), [], "every word must match");
    let hits = k.projections.search(P, "đồng", 20).unwrap();
    assert!(
        hits[0].snippet.contains("<b>đồng</b>"),
        "{}",
        hits[0].snippet
    );
    assert_eq!(hits[1].snippet, TEXT_Z);
    assert!(k.projections.search(P, " ,. ", 20).is_err(), "no word");
}
