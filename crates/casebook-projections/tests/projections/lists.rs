//! Case lists of every unit of a generated province, checked against the
//! case rows themselves: a commune or a hamlet is one scan of the index, a
//! post or the province a merge of its communes' scans, and paging through
//! either must give every case below the unit once, in order.

use casebook_domain::{CommuneCovered, ConcernId, Event, Payload, PersonId, Status, StreamId};
use casebook_projections::testkit::Generated;
use casebook_projections::{CaseFilter, CaseRow, CaseSort};
use std::cmp::Reverse;
use uuid::Uuid;

use crate::harness::{append, Harness};

/// Small pages, so that every list crosses many page boundaries.
const PAGE: usize = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_units_list_pages_through_exactly_its_cases_in_order() {
    let mut h = Harness::new(11).await;
    let events = h.feed(1_500).await;
    // The second post also covers the first post's first commune.
    let (covering_post, _) = h.generator.posts[1];
    let covered = h.generator.posts[0].1[0];
    let cover = Generated {
        stream: StreamId::Unit(covering_post),
        id: Uuid::from_u128(0xC0FE),
        event: Event {
            actor: PersonId(Uuid::nil()),
            occurred_at: h.generator.now(),
            recorded_at: h.generator.now(),
            payload: Payload::CommuneCovered(CommuneCovered {
                commune_id: covered,
            }),
        },
    };
    append(&h.log, &[cover]).await;
    h.settle().await;

    let rows: Vec<CaseRow> = reported(&events)
        .map(|case| h.projections.case(case).unwrap().unwrap())
        .collect();
    let mut units = vec![h.generator.province];
    for (post, communes) in &h.generator.posts {
        units.push(*post);
        units.extend(communes);
    }
    units.extend(h.generator.hamlets.iter().map(|hamlet| hamlet.id));
    let open = [Status::Acknowledged, Status::InProgress];
    let now = h.generator.now();

    for unit in units {
        let below = |row: &&CaseRow| {
            row.unit_path.contains(&unit)
                || (unit == covering_post && row.unit_path.contains(&covered))
        };
        for sort in [CaseSort::Newest, CaseSort::DueDate] {
            for only_open in [false, true] {
                let filter = CaseFilter {
                    statuses: if only_open { open.to_vec() } else { Vec::new() },
                    ..CaseFilter::unit(unit)
                };
                let mut expected: Vec<&CaseRow> = rows
                    .iter()
                    .filter(below)
                    .filter(|row| !only_open || open.contains(&row.concern.status))
                    .collect();
                expected.sort_by_key(|row| order(row, sort));
                let expected: Vec<ConcernId> = expected.iter().map(|r| r.concern.id).collect();
                if !only_open {
                    assert!(!expected.is_empty(), "every unit has cases");
                }
                let listed = page_through(&h, &filter, sort, now);
                assert_eq!(
                    listed, expected,
                    "{unit:?}, {sort:?}, open only {only_open}"
                );
            }
        }
    }
}

/// The cases the events report.
fn reported(events: &[Generated]) -> impl Iterator<Item = ConcernId> + '_ {
    events
        .iter()
        .filter_map(|g| match (&g.stream, &g.event.payload) {
            (StreamId::Concern(case), Payload::ConcernReported(_)) => Some(*case),
            _ => None,
        })
}

/// A list's order: newest report first, or earliest deadline first and
/// cases without one last; ties by case id.
fn order(row: &CaseRow, sort: CaseSort) -> (Reverse<i64>, bool, i64, Uuid) {
    let c = &row.concern;
    match sort {
        CaseSort::Newest => (Reverse(c.reported_at.timestamp_micros()), false, 0, c.id.0),
        CaseSort::DueDate => (
            Reverse(0),
            c.deadline.is_none(),
            c.deadline.map_or(0, |d| d.timestamp_micros()),
            c.id.0,
        ),
    }
}

fn page_through(
    h: &Harness,
    filter: &CaseFilter,
    sort: CaseSort,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<ConcernId> {
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = h
            .projections
            .cases(filter, sort, PAGE, cursor.as_deref(), now)
            .unwrap();
        listed.extend(page.items.iter().map(|item| item.row.concern.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
}
