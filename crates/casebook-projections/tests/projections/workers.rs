//! Workers: catch up, read-your-writes, restart from the checkpoint,
//! rebuild and swap, failure reporting.

use casebook_projections::{CaseFilter, CaseSort, Health};
use chrono::TimeDelta;

use crate::harness::{open, Harness, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_catch_up_and_wait_for_sees_the_last_write() {
    let mut h = Harness::new(1).await;
    h.feed(500).await;
    let status = h.projections.status().unwrap();
    assert!(
        status
            .iter()
            .all(|s| s.lag_events == 0 && s.health == Health::Running),
        "{status:?}"
    );
    let now = h.generator.now();
    let page = h
        .projections
        .cases(
            &CaseFilter::unit(h.generator.province),
            CaseSort::Newest,
            50,
            None,
            now,
        )
        .unwrap();
    assert_eq!(page.items.len(), 50);
    let times: Vec<_> = page
        .items
        .iter()
        .map(|i| i.row.concern.reported_at)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_visits_every_case_once() {
    let mut h = Harness::new(2).await;
    h.feed(800).await;
    let now = h.generator.now() + TimeDelta::days(1);
    let filter = CaseFilter::unit(h.generator.province);
    for sort in [CaseSort::Newest, CaseSort::DueDate] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = h
                .projections
                .cases(&filter, sort, 7, cursor.as_deref(), now)
                .unwrap();
            seen.extend(page.items.iter().map(|i| i.row.concern.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: no case twice");
        let all = h.projections.cases(&filter, sort, 200, None, now).unwrap();
        assert!(seen.len() >= all.items.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_checkpoint_and_a_rebuild_gives_the_same_view() {
    let mut h = Harness::new(3).await;
    h.feed(300).await;
    h.projections.shutdown().await;
    drop(h.projections);
    let events = h.generator.events(300);
    crate::harness::append(&h.log, &events).await;
    h.projections = open(&h.log, h.dir.path(), &h.generator);
    h.settle().await;
    let now = h.generator.now();
    let filter = CaseFilter::unit(h.generator.province);
    let before = h
        .projections
        .cases(&filter, CaseSort::DueDate, 200, None, now)
        .unwrap();
    let generation = h.projections.status().unwrap()[0].generation;
    assert!(h.projections.rebuild("cases").unwrap());
    for _ in 0..300 {
        if h.projections.status().unwrap()[0].generation > generation {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.projections.status().unwrap()[0].generation,
        generation + 1
    );
    h.projections.wait_for(h.log.len() - 1, WAIT).await.unwrap();
    let after = h
        .projections
        .cases(&filter, CaseSort::DueDate, 200, None, now)
        .unwrap();
    assert_eq!(before, after);
}

/// Every page of a list, followed to the end.
fn all_pages(
    h: &Harness,
    filter: &CaseFilter,
    sort: CaseSort,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<casebook_domain::ConcernId> {
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = h
            .projections
            .cases(filter, sort, 13, cursor.as_deref(), now)
            .unwrap();
        seen.extend(page.items.iter().map(|i| i.row.concern.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_open_cases_read_the_open_index_and_match_the_full_list() {
    use casebook_domain::Status;
    let mut h = Harness::new(6).await;
    h.feed(1_500).await;
    let now = h.generator.now();
    let open = [Status::Acknowledged, Status::InProgress];
    for sort in [CaseSort::Newest, CaseSort::DueDate] {
        let everything = all_pages(&h, &CaseFilter::unit(h.generator.province), sort, now);
        let expected: Vec<_> = everything
            .into_iter()
            .filter(|c| open.contains(&h.projections.case(*c).unwrap().unwrap().concern.status))
            .collect();
        let filter = CaseFilter {
            statuses: open.to_vec(),
            ..CaseFilter::unit(h.generator.province)
        };
        let listed = all_pages(&h, &filter, sort, now);
        assert!(!listed.is_empty());
        assert_eq!(listed, expected, "{sort:?}");
    }
}
