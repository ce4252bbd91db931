//! Time travel on both axes, on a history with an offline report.

use crate::fixture::*;
use casebook_domain::{fold_as_of, Concern, Status, TimeAxis};
use chrono::TimeDelta;

#[test]
fn the_two_clocks_answer_different_questions() {
    let world = world();
    // Reported, acknowledged, assigned at t0, t0+1h, t0+2h (recorded = field).
    let mut events = in_progress(&world);
    // The member's visit happened at t0+3h but reached the system at t0+50h.
    let mut visit = events[0].clone();
    visit.payload = action_payload(&world, &events);
    visit.occurred_at = hours(3);
    visit.recorded_at = hours(50);
    events.push(visit);

    let state =
        |axis, at| fold_as_of::<Option<Concern>>(&events, axis, at).expect("reported by then");
    // Before the report nothing existed, on either clock.
    assert!(
        fold_as_of::<Option<Concern>>(&events, TimeAxis::Field, t0() - TimeDelta::minutes(1))
            .is_none()
    );
    // At t0+1h30 the case had been acknowledged but not yet assigned.
    assert_eq!(
        state(TimeAxis::Recorded, hours(1) + TimeDelta::minutes(30)).status,
        Status::Acknowledged
    );
    // At t0+4h the visit had happened, but the system did not know yet.
    assert_eq!(state(TimeAxis::Field, hours(4)).actions_recorded, 1);
    assert_eq!(state(TimeAxis::Recorded, hours(4)).actions_recorded, 0);
    // Once recorded, both clocks agree.
    assert_eq!(
        state(TimeAxis::Recorded, hours(60)),
        state(TimeAxis::Field, hours(60))
    );
}

/// The payload of a recorded visit on the case in `events`.
fn action_payload(world: &World, events: &[casebook_domain::Event]) -> casebook_domain::Payload {
    let state: Option<Concern> = casebook_domain::fold(events);
    let command = casebook_domain::ConcernCommand::RecordAction {
        action: casebook_domain::ActionKind::Visit,
        summary: "Đến nhà nắm tình hình.".into(),
    };
    let made = casebook_domain::decide(&state, &command, &world.ctx(CELL_1, hours(3)))
        .expect("a visit is allowed");
    made[0].payload.clone()
}
