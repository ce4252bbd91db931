//! Properties of `decide` and `evolve` over random command sequences.
//!
//! Random actors give random commands at random (increasing) clock readings,
//! sometimes with a field time in the past or the future. Whatever happens,
//! the case only ever moves the way the lifecycle allows, and its history
//! folds, encodes and replays to the same state.

use casebook_domain::{
    decide, evolve, fold, from_record, to_record, ActionKind, Assignee, Concern, ConcernCommand,
    EscalateTo, Event, EventRecord, FollowUp, NewConcern, Outcome, PersonId, Priority, Status,
    Subject,
};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use crate::fixture::*;

const ACTORS: [PersonId; 11] = [
    MEMBER_1,
    MEMBER_2,
    CELL_1,
    CELL_2,
    COMMUNE_X_CHIEF,
    POST_A_CHIEF,
    POST_B_CHIEF,
    PROVINCE_CHIEF,
    AUDITOR,
    ADMIN,
    STRANGER,
];

fn commands() -> Vec<ConcernCommand> {
    let text = |s: &str| s.to_owned();
    let escalate = |to| ConcernCommand::Escalate {
        to,
        reason: text("Lý do"),
    };
    vec![
        report(),
        ConcernCommand::Report(NewConcern {
            subject: Subject::Household {
                household_id: HOUSEHOLD_3,
            },
            ..new_concern()
        }),
        acknowledge(),
        ConcernCommand::Acknowledge {
            topic: topic("public_order"),
            priority: Priority::Urgent,
            deadline: None,
        },
        assign_cell(),
        ConcernCommand::Assign(Assignee::Person {
            person_id: MEMBER_1,
        }),
        ConcernCommand::Assign(Assignee::Committee {
            committee_id: HAMLET_2_CELL,
        }),
        ConcernCommand::RecordAction {
            action: ActionKind::Visit,
            summary: text("Thăm hộ"),
        },
        escalate(EscalateTo::Committee(COMMUNE_X_COMMITTEE)),
        escalate(EscalateTo::Committee(POST_A_COMMITTEE)),
        escalate(EscalateTo::Committee(POST_B_COMMITTEE)),
        escalate(EscalateTo::Committee(PROVINCE_BOARD)),
        escalate(EscalateTo::StateBody(text("UBND huyện"))),
        ConcernCommand::ReferOut {
            body: text("Ngân hàng"),
            reason: text("Vay vốn"),
        },
        ConcernCommand::AnswerReferral {
            referral_no: 1,
            answer: text("Đồng ý"),
        },
        ConcernCommand::PauseClock {
            reason: text("Chờ"),
        },
        ConcernCommand::ResumeClock,
        ConcernCommand::InterimReply {
            message: text("Đang xử lý"),
            deadline: hours(24 * 400),
            reason: text("Phức tạp"),
        },
        ConcernCommand::Resolve {
            outcome: Outcome::Resolved,
            summary: text("Xong"),
        },
        ConcernCommand::Resolve {
            outcome: Outcome::Declined {
                reason: text("Không thuộc thẩm quyền"),
            },
            summary: text("Xong"),
        },
        ConcernCommand::RecordFeedback {
            satisfied: true,
            comment: text("Hài lòng"),
            follow_up: None,
        },
        ConcernCommand::RecordFeedback {
            satisfied: false,
            comment: text("Chưa"),
            follow_up: Some(FollowUp::Reopen),
        },
        ConcernCommand::RecordFeedback {
            satisfied: false,
            comment: text("Chưa"),
            follow_up: Some(FollowUp::Appeal(POST_A_COMMITTEE)),
        },
        ConcernCommand::RecordFeedback {
            satisfied: false,
            comment: text("Chưa"),
            follow_up: Some(FollowUp::Appeal(PROVINCE_BOARD)),
        },
        ConcernCommand::Close {
            note: text("Đóng")
        },
        ConcernCommand::Reopen {
            reason: text("Mở lại"),
        },
        ConcernCommand::MergeInto {
            concern_id: OTHER_CONCERN,
        },
        ConcernCommand::Withdraw {
            reason: text("Rút"),
        },
    ]
}

/// One step: who, which command, how many hours after the last step, and
/// the field time's offset from the clock in minutes (mostly in the past).
#[derive(Clone, Debug)]
struct Step {
    actor: usize,
    command: usize,
    hours_later: i64,
    field_offset_minutes: i64,
}

fn step() -> impl Strategy<Value = Step> {
    // Weighted towards the people who can act on a hamlet-1 case and away
    // from the final commands, so that long lives are reached; every actor
    // and command still comes up.
    let actor = prop_oneof![
        6 => Just(2usize), // CELL_1
        3 => Just(0usize), // MEMBER_1
        2 => Just(7usize), // PROVINCE_CHIEF
        3 => 0..ACTORS.len(),
    ];
    let final_commands = commands().len() - 2;
    let command = prop_oneof![80 => 0..final_commands, 1 => final_commands..final_commands + 2];
    let field_offset = prop_oneof![8 => Just(0i64), 2 => -3000i64..0, 1 => -10i64..30];
    (actor, command, 0i64..72, field_offset).prop_map(
        |(actor, command, hours_later, field_offset_minutes)| Step {
            actor,
            command,
            hours_later,
            field_offset_minutes,
        },
    )
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..60)
}

struct Run {
    events: Vec<Event>,
    /// The state after each accepted command.
    states: Vec<Option<Concern>>,
    final_state: Option<Concern>,
}

fn run(world: &World, steps: &[Step]) -> Result<Run, TestCaseError> {
    let commands = commands();
    let mut now: DateTime<Utc> = t0();
    let mut state: Option<Concern> = None;
    let mut run = Run {
        events: Vec::new(),
        states: Vec::new(),
        final_state: None,
    };
    for step in steps {
        now += TimeDelta::hours(step.hours_later);
        let field_time = now + TimeDelta::minutes(step.field_offset_minutes);
        let ctx = world
            .ctx(ACTORS[step.actor], now)
            .with_field_time(field_time);
        let Ok(events) = decide(&state, &commands[step.command], &ctx) else {
            continue;
        };
        prop_assert!(!events.is_empty());
        for event in &events {
            prop_assert_eq!(event.actor, ACTORS[step.actor]);
            prop_assert_eq!((event.occurred_at, event.recorded_at), (field_time, now));
        }
        let before = state.as_ref().map(|c| c.status);
        let after = events.iter().fold(state.clone(), evolve);
        check_transition(before, &after)?;
        state = after;
        run.states.push(state.clone());
        run.events.extend(events);
    }
    run.final_state = state;
    Ok(run)
}

fn check_transition(before: Option<Status>, after: &Option<Concern>) -> Result<(), TestCaseError> {
    let after_status = after.as_ref().map(|c| c.status);
    let allowed = match (before, after_status) {
        (None, Some(Status::Reported)) => true,
        (Some(from), Some(to)) => from.may_become(to),
        _ => false,
    };
    prop_assert!(allowed, "{before:?} -> {after_status:?}");
    if let Some(concern) = after {
        check_invariants(concern)?;
    }
    Ok(())
}

/// What every state the lifecycle allows satisfies.
fn check_invariants(c: &Concern) -> Result<(), TestCaseError> {
    prop_assert_eq!(c.status == Status::Paused, c.paused_since.is_some());
    prop_assert_eq!(c.status == Status::Merged, c.merged_into.is_some());
    if matches!(
        c.status,
        Status::Acknowledged | Status::InProgress | Status::Paused
    ) {
        prop_assert!(c.deadline.is_some(), "a triaged open case has a deadline");
    }
    if matches!(c.status, Status::InProgress | Status::Paused) {
        prop_assert!(c.assignee.is_some(), "a case in progress has a handler");
    }
    if matches!(c.status, Status::Resolved | Status::Closed) {
        prop_assert!(c.outcome.is_some(), "a resolved case has an outcome");
    }
    if c.feedback.is_some() {
        prop_assert!(matches!(c.status, Status::Resolved | Status::Closed));
    }
    prop_assert!(c
        .referrals
        .iter()
        .enumerate()
        .all(|(i, r)| usize::try_from(r.referral_no).ok() == Some(i + 1)));
    Ok(())
}

/// How the log would store and hand back the history: JSON text per record.
fn stored(events: &[Event]) -> Vec<(String, DateTime<Utc>)> {
    events
        .iter()
        .map(|e| {
            (
                serde_json::to_string(&to_record(e).expect("encodes")).expect("serialises"),
                e.recorded_at,
            )
        })
        .collect()
}

fn replayed(log: &[(String, DateTime<Utc>)]) -> Vec<Event> {
    log.iter()
        .map(|(text, recorded_at)| {
            let record: EventRecord = serde_json::from_str(text).expect("parses");
            from_record(&record, *recorded_at).expect("decodes")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn commands_only_yield_states_the_lifecycle_allows(steps in steps()) {
        let world = world();
        run(&world, &steps)?;
    }

    #[test]
    fn folding_all_at_once_equals_folding_one_by_one(steps in steps()) {
        let world = world();
        let run = run(&world, &steps)?;
        prop_assert_eq!(fold::<Option<Concern>>(&run.events), run.final_state.clone());
        let mut prefix_states = Vec::new();
        let mut state: Option<Concern> = None;
        for event in &run.events {
            state = evolve(state, event);
            prefix_states.push(state.clone());
        }
        prop_assert_eq!(prefix_states.last().cloned().flatten(), run.final_state);
        prop_assert!(run.states.iter().all(|s| prefix_states.contains(s)));
    }

    #[test]
    fn every_event_round_trips_through_json(steps in steps()) {
        let world = world();
        let run = run(&world, &steps)?;
        for event in &run.events {
            let text = serde_json::to_string(event).expect("serialises");
            prop_assert_eq!(&serde_json::from_str::<Event>(&text).expect("parses"), event);
            let record = to_record(event).expect("encodes");
            prop_assert_eq!(&from_record(&record, event.recorded_at).expect("decodes"), event);
        }
    }

    #[test]
    fn replaying_a_recorded_history_gives_the_same_state(steps in steps()) {
        let world = world();
        let run = run(&world, &steps)?;
        let replay = replayed(&stored(&run.events));
        prop_assert_eq!(&replay, &run.events);
        prop_assert_eq!(fold::<Option<Concern>>(&replay), run.final_state);
    }
}
