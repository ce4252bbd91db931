//! Every refusal: illegal transitions, permission rules, field times and
//! invalid fields.

use casebook_domain::{
    permission, Assignee, ConcernCommand, ConcernKind, Confidentiality, DomainError, EscalateTo,
    FollowUp, Outcome, Priority, Rule, SealedInformant, Subject, FIELD_TIME_TOLERANCE_SECONDS,
};
use chrono::TimeDelta;

use crate::fixture::*;
use crate::lifecycle::resolved;
use casebook_domain::NewConcern;

fn escalate(committee: casebook_domain::CommitteeId) -> ConcernCommand {
    ConcernCommand::Escalate {
        to: EscalateTo::Committee(committee),
        reason: "Lý do".to_owned(),
    }
}

// ---- illegal transitions ----

#[test]
fn nothing_but_a_report_starts_a_case() {
    let w = world();
    given(&w, vec![])
        .when(CELL_1, acknowledge())
        .then_illegal("not_created", "acknowledge");
}

#[test]
fn a_case_is_reported_once() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .when(MEMBER_1, report())
        .then_illegal("reported", "report");
}

#[test]
fn a_reported_case_cannot_be_resolved() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let command = ConcernCommand::Resolve {
        outcome: Outcome::Resolved,
        summary: "x".to_owned(),
    };
    given(&w, history)
        .when(CELL_1, command)
        .then_error(DomainError::IllegalTransition {
            aggregate: "concern",
            state: "reported",
            command: "resolve",
        });
}

#[test]
fn a_reported_case_cannot_be_assigned_before_triage() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .when(CELL_1, assign_cell())
        .then_illegal("reported", "assign");
}

#[test]
fn a_running_clock_cannot_be_resumed() {
    let w = world();
    given(&w, in_progress(&w))
        .when(CELL_1, ConcernCommand::ResumeClock)
        .then_illegal("in_progress", "resume_clock");
}

#[test]
fn a_paused_case_cannot_be_resolved_before_resuming() {
    let w = world();
    let events = with(
        in_progress(&w),
        &w,
        &[(
            CELL_1,
            ConcernCommand::PauseClock {
                reason: "Chờ".to_owned(),
            },
        )],
    );
    let command = ConcernCommand::Resolve {
        outcome: Outcome::Resolved,
        summary: "x".to_owned(),
    };
    given(&w, events)
        .when(CELL_1, command)
        .then_illegal("paused", "resolve");
}

#[test]
fn an_open_case_cannot_be_closed() {
    let w = world();
    given(&w, in_progress(&w))
        .when(
            CELL_1,
            ConcernCommand::Close {
                note: String::new(),
            },
        )
        .then_illegal("in_progress", "close");
}

#[test]
fn an_open_case_cannot_be_reopened() {
    let w = world();
    given(&w, in_progress(&w))
        .when(
            CELL_1,
            ConcernCommand::Reopen {
                reason: "x".to_owned(),
            },
        )
        .then_illegal("in_progress", "reopen");
}

#[test]
fn feedback_waits_for_a_resolution() {
    let w = world();
    let command = ConcernCommand::RecordFeedback {
        satisfied: true,
        comment: String::new(),
        follow_up: None,
    };
    given(&w, in_progress(&w))
        .when(MEMBER_1, command)
        .then_illegal("in_progress", "record_feedback");
}

#[test]
fn a_merged_case_is_final() {
    let w = world();
    let events = history(
        &w,
        &[
            (MEMBER_1, report()),
            (
                CELL_1,
                ConcernCommand::MergeInto {
                    concern_id: OTHER_CONCERN,
                },
            ),
        ],
    );
    given(&w, events.clone())
        .when(CELL_1, acknowledge())
        .then_illegal("merged", "acknowledge");
    given(&w, events)
        .when(
            MEMBER_1,
            ConcernCommand::Withdraw {
                reason: "x".to_owned(),
            },
        )
        .then_illegal("merged", "withdraw");
}

#[test]
fn a_withdrawn_case_is_final() {
    let w = world();
    let events = history(
        &w,
        &[
            (MEMBER_1, report()),
            (
                MEMBER_1,
                ConcernCommand::Withdraw {
                    reason: "x".to_owned(),
                },
            ),
        ],
    );
    given(&w, events)
        .when(
            CELL_1,
            ConcernCommand::Reopen {
                reason: "x".to_owned(),
            },
        )
        .then_illegal("withdrawn", "reopen");
}

#[test]
fn a_resolved_case_cannot_be_withdrawn_or_merged() {
    let w = world();
    given(&w, resolved(&w))
        .when(
            MEMBER_1,
            ConcernCommand::Withdraw {
                reason: "x".to_owned(),
            },
        )
        .then_illegal("resolved", "withdraw");
    given(&w, resolved(&w))
        .when(
            CELL_1,
            ConcernCommand::MergeInto {
                concern_id: OTHER_CONCERN,
            },
        )
        .then_illegal("resolved", "merge_into");
}

#[test]
fn feedback_is_recorded_once_per_resolution() {
    let w = world();
    let feedback = ConcernCommand::RecordFeedback {
        satisfied: true,
        comment: String::new(),
        follow_up: None,
    };
    let events = with(resolved(&w), &w, &[(MEMBER_1, feedback.clone())]);
    given(&w, events)
        .when(MEMBER_1, feedback)
        .then_invalid("feedback");
}

// ---- permission rules ----

#[test]
fn a_member_cannot_report_for_a_household_not_assigned_to_them() {
    let w = world();
    given(&w, vec![])
        .when(MEMBER_2, report())
        .then_refused(Rule::MemberReportsForAssignedHouseholds);
}

#[test]
fn a_visit_from_before_the_member_held_any_role_is_refused() {
    let w = world();
    let before = setup_time() - TimeDelta::days(1);
    given(&w, vec![])
        .at(t0())
        .field_time(before)
        .when(MEMBER_1, report())
        .then_refused(Rule::RoleRequired);
}

#[test]
fn a_member_reports_a_visit_made_before_a_reassignment() {
    let mut w = world();
    let stream = casebook_domain::StreamId::Household(HOUSEHOLD_1);
    let reassigned = hours(-24);
    let events = {
        let household = casebook_domain::fold::<Option<casebook_domain::Household>>(
            w.log.iter().filter(|(s, _)| *s == stream).map(|(_, e)| e),
        );
        let ctx = w.ctx(ADMIN, reassigned);
        casebook_domain::decide(
            &household,
            &casebook_domain::HouseholdCommand::AssignMember {
                member_id: MEMBER_2,
            },
            &ctx,
        )
        .expect("reassigns")
    };
    for event in &events {
        w.directory.apply(stream, event);
    }
    let visit = hours(-48);
    given(&w, vec![])
        .at(t0())
        .field_time(visit)
        .when(MEMBER_1, report())
        .then_expect_types(&["concern.reported"]);
    given(&w, vec![])
        .at(t0())
        .when(MEMBER_1, report())
        .then_refused(Rule::MemberReportsForAssignedHouseholds);
    given(&w, vec![])
        .at(t0())
        .when(MEMBER_2, report())
        .then_expect_types(&["concern.reported"]);
}

#[test]
fn a_committee_cannot_act_outside_its_jurisdiction() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history.clone())
        .when(CELL_2, acknowledge())
        .then_refused(Rule::CommitteeActsWithinJurisdiction);
    given(&w, history)
        .when(POST_B_CHIEF, acknowledge())
        .then_refused(Rule::CommitteeActsWithinJurisdiction);
}

#[test]
fn assignment_to_a_committee_outside_the_jurisdiction_is_invalid() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report()), (CELL_1, acknowledge())]);
    let outside = ConcernCommand::Assign(Assignee::Committee {
        committee_id: POST_B_COMMITTEE,
    });
    given(&w, history)
        .when(CELL_1, outside)
        .then_invalid("assignee");
}

#[test]
fn a_committee_acts_on_a_case_assigned_to_it_even_outside_its_jurisdiction() {
    let mut w = world();
    let hamlet_2_report = ConcernCommand::Report(NewConcern {
        subject: Subject::Household {
            household_id: HOUSEHOLD_3,
        },
        ..new_concern()
    });
    let events = history(
        &w,
        &[
            (MEMBER_2, hamlet_2_report),
            (CELL_2, acknowledge()),
            (CELL_2, escalate(POST_B_COMMITTEE)),
        ],
    );
    let unrelated = history(
        &w,
        &[(
            MEMBER_2,
            ConcernCommand::Report(NewConcern {
                subject: Subject::Household {
                    household_id: HOUSEHOLD_3,
                },
                concern_id: OTHER_CONCERN,
                ..new_concern()
            }),
        )],
    );
    // Post B gives commune Y up: hamlet 2 leaves its jurisdiction.
    w.run(
        casebook_domain::StreamId::Unit(POST_B),
        ADMIN,
        casebook_domain::UnitCommand::UncoverCommune {
            commune_id: COMMUNE_Y,
        },
    );
    let pause = ConcernCommand::PauseClock {
        reason: "Chờ".to_owned(),
    };
    given(&w, events)
        .when(POST_B_CHIEF, pause)
        .then_expect_types(&["concern.clock_paused"]);
    given(&w, unrelated)
        .when(POST_B_CHIEF, acknowledge())
        .then_refused(Rule::CommitteeActsWithinJurisdiction);
}

#[test]
fn a_member_does_not_manage_cases() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .when(MEMBER_1, acknowledge())
        .then_refused(Rule::RoleRequired);
}

#[test]
fn a_member_follows_up_only_their_own_cases() {
    let w = world();
    let command = ConcernCommand::RecordAction {
        action: casebook_domain::ActionKind::Visit,
        summary: "x".to_owned(),
    };
    given(&w, in_progress(&w))
        .when(MEMBER_2, command)
        .then_refused(Rule::MemberFollowsOwnCases);
}

#[test]
fn an_assigned_person_follows_up_the_case() {
    let w = world();
    let events = with(
        in_progress(&w),
        &w,
        &[(
            CELL_1,
            ConcernCommand::Assign(Assignee::Person {
                person_id: MEMBER_2,
            }),
        )],
    );
    let command = ConcernCommand::RecordAction {
        action: casebook_domain::ActionKind::Visit,
        summary: "x".to_owned(),
    };
    given(&w, events)
        .when(MEMBER_2, command)
        .then_expect_types(&["concern.action_recorded"]);
}

#[test]
fn escalation_never_goes_downwards_or_sideways() {
    let w = world();
    let at_post = with(in_progress(&w), &w, &[(CELL_1, escalate(POST_A_COMMITTEE))]);
    given(&w, at_post.clone())
        .when(POST_A_CHIEF, escalate(COMMUNE_X_COMMITTEE))
        .then_refused(Rule::EscalationGoesUpwards);
    given(&w, at_post.clone())
        .when(POST_A_CHIEF, escalate(HAMLET_1_CELL))
        .then_refused(Rule::EscalationGoesUpwards);
    given(&w, at_post)
        .when(POST_A_CHIEF, escalate(POST_A_COMMITTEE))
        .then_refused(Rule::EscalationGoesUpwards);
    given(&w, in_progress(&w))
        .when(CELL_1, escalate(POST_B_COMMITTEE))
        .then_refused(Rule::EscalationGoesUpwards);
}

#[test]
fn an_appeal_goes_upwards_too() {
    let w = world();
    let command = ConcernCommand::RecordFeedback {
        satisfied: false,
        comment: "Không đồng ý".to_owned(),
        follow_up: Some(FollowUp::Appeal(HAMLET_1_CELL)),
    };
    given(&w, resolved(&w))
        .when(MEMBER_1, command)
        .then_refused(Rule::EscalationGoesUpwards);
}

#[test]
fn an_auditor_changes_nothing() {
    let w = world();
    given(&w, vec![])
        .when(AUDITOR, report())
        .then_refused(Rule::AuditorChangesNothing);
    given(&w, in_progress(&w))
        .when(
            AUDITOR,
            ConcernCommand::PauseClock {
                reason: "x".to_owned(),
            },
        )
        .then_refused(Rule::AuditorChangesNothing);
    let command = casebook_domain::UnitCommand::Rename {
        name: "x".to_owned(),
    };
    let unit_history: Vec<_> = w
        .log
        .iter()
        .filter(|(s, _)| *s == casebook_domain::StreamId::Unit(HAMLET_1))
        .map(|(_, e)| e.clone())
        .collect();
    given(&w, unit_history)
        .when(AUDITOR, command)
        .then_refused(Rule::AuditorChangesNothing);
}

#[test]
fn an_administrator_does_not_act_on_cases() {
    let w = world();
    given(&w, in_progress(&w))
        .when(
            ADMIN,
            ConcernCommand::PauseClock {
                reason: "x".to_owned(),
            },
        )
        .then_refused(Rule::AdministratorManagesStructureOnly);
}

#[test]
fn a_person_without_a_role_does_nothing() {
    let w = world();
    given(&w, vec![])
        .when(STRANGER, report())
        .then_refused(Rule::RoleRequired);
}

#[test]
fn only_the_member_who_took_a_tip_reads_its_informant() {
    let w = world();
    let command = ConcernCommand::Report(NewConcern {
        kind: ConcernKind::Tip,
        confidentiality: Confidentiality::ConfidentialTip,
        sealed_informant: Some(SealedInformant {
            name: "N".to_owned(),
            contact: None,
            note: None,
        }),
        ..new_concern()
    });
    let concern = given(&w, vec![])
        .when(MEMBER_1, command)
        .then_expect_types(&["concern.reported"])
        .expect("exists");
    assert_eq!(
        permission::may_read_sealed_informant(MEMBER_1, &concern),
        Ok(())
    );
    for reader in [ADMIN, CELL_1, PROVINCE_CHIEF, AUDITOR] {
        match permission::may_read_sealed_informant(reader, &concern) {
            Err(DomainError::Refused { rule, .. }) => {
                assert_eq!(rule, Rule::SealedIdentityOnlyForItsTaker)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn who_may_view_a_case() {
    let w = world();
    let events = in_progress(&w);
    let concern =
        casebook_domain::fold::<Option<casebook_domain::Concern>>(&events).expect("exists");
    for viewer in [
        MEMBER_1,
        CELL_1,
        COMMUNE_X_CHIEF,
        POST_A_CHIEF,
        PROVINCE_CHIEF,
        AUDITOR,
    ] {
        assert_eq!(
            permission::may_view_case(&w.ctx(viewer, hours(5)), &concern),
            Ok(()),
            "{viewer:?}"
        );
    }
    for stranger in [MEMBER_2, CELL_2, POST_B_CHIEF, ADMIN, STRANGER] {
        assert!(
            permission::may_view_case(&w.ctx(stranger, hours(5)), &concern).is_err(),
            "{stranger:?}"
        );
    }
}

// ---- field time ----

#[test]
fn a_field_time_in_the_future_is_refused() {
    let w = world();
    let future = t0() + TimeDelta::seconds(FIELD_TIME_TOLERANCE_SECONDS + 1);
    given(&w, vec![])
        .at(t0())
        .field_time(future)
        .when(MEMBER_1, report())
        .then_error(DomainError::FieldTimeInFuture {
            occurred_at: future,
            now: t0(),
            tolerance_seconds: FIELD_TIME_TOLERANCE_SECONDS,
        });
}

#[test]
fn a_field_time_within_the_drift_tolerance_is_accepted() {
    let w = world();
    let drifted = t0() + TimeDelta::seconds(FIELD_TIME_TOLERANCE_SECONDS);
    given(&w, vec![])
        .at(t0())
        .field_time(drifted)
        .when(MEMBER_1, report())
        .then_expect_types(&["concern.reported"]);
}

#[test]
fn nothing_happens_to_a_case_before_it_was_reported() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    given(&w, history)
        .at(hours(5))
        .field_time(hours(-1))
        .when(CELL_1, acknowledge())
        .then_invalid("occurred_at");
}

// ---- invalid fields ----

#[test]
fn invalid_reports_are_refused() {
    let w = world();
    let unknown_topic = ConcernCommand::Report(NewConcern {
        topic: topic("weather"),
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, unknown_topic)
        .then_invalid("topic");
    let empty = ConcernCommand::Report(NewConcern {
        text: "  ".to_owned(),
        ..new_concern()
    });
    given(&w, vec![]).when(MEMBER_1, empty).then_invalid("text");
    let sealed_normal = ConcernCommand::Report(NewConcern {
        sealed_informant: Some(SealedInformant {
            name: "N".to_owned(),
            contact: None,
            note: None,
        }),
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, sealed_normal)
        .then_invalid("sealed_informant");
    let tip_not_tip = ConcernCommand::Report(NewConcern {
        confidentiality: Confidentiality::ConfidentialTip,
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, tip_not_tip)
        .then_invalid("confidentiality");
    let far = ConcernCommand::Report(NewConcern {
        coordinates: Some(casebook_domain::Coordinates {
            latitude: 95.0,
            longitude: 0.0,
        }),
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, far)
        .then_invalid("coordinates");
    let hamlet_without_hamlet = ConcernCommand::Report(NewConcern {
        subject: Subject::Hamlet {
            household_ids: vec![HOUSEHOLD_1],
        },
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, hamlet_without_hamlet)
        .then_invalid("hamlet_id");
    let mixed = ConcernCommand::Report(NewConcern {
        subject: Subject::Hamlet {
            household_ids: vec![HOUSEHOLD_1, HOUSEHOLD_3],
        },
        hamlet_id: Some(HAMLET_1),
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, mixed)
        .then_invalid("subject");
}

#[test]
fn an_unknown_household_is_not_found() {
    let w = world();
    let command = ConcernCommand::Report(NewConcern {
        subject: Subject::Household {
            household_id: casebook_domain::HouseholdId(uuid::Uuid::from_u128(9)),
        },
        ..new_concern()
    });
    given(&w, vec![])
        .when(MEMBER_1, command)
        .then_error(DomainError::NotFound {
            what: "household",
            id: "00000000-0000-0000-0000-000000000009".to_owned(),
        });
}

#[test]
fn invalid_handling_is_refused() {
    let w = world();
    let declined_without_reason = ConcernCommand::Resolve {
        outcome: Outcome::Declined {
            reason: String::new(),
        },
        summary: "x".to_owned(),
    };
    given(&w, in_progress(&w))
        .when(CELL_1, declined_without_reason)
        .then_invalid("outcome.reason");
    let past = ConcernCommand::InterimReply {
        message: "x".to_owned(),
        deadline: hours(-10),
        reason: "y".to_owned(),
    };
    given(&w, in_progress(&w))
        .when(CELL_1, past)
        .then_invalid("deadline");
    given(&w, in_progress(&w))
        .when(
            CELL_1,
            ConcernCommand::MergeInto {
                concern_id: CONCERN,
            },
        )
        .then_invalid("concern_id");
    given(&w, in_progress(&w))
        .when(CELL_1, assign_cell())
        .then_invalid("assignee");
    let unknown_referral = ConcernCommand::AnswerReferral {
        referral_no: 7,
        answer: "x".to_owned(),
    };
    given(&w, in_progress(&w))
        .when(CELL_1, unknown_referral)
        .then_error(DomainError::NotFound {
            what: "referral",
            id: "7".to_owned(),
        });
    let unknown_committee = casebook_domain::CommitteeId(uuid::Uuid::from_u128(9));
    given(&w, in_progress(&w))
        .when(CELL_1, escalate(unknown_committee))
        .then_error(DomainError::NotFound {
            what: "committee",
            id: "00000000-0000-0000-0000-000000000009".to_owned(),
        });
    let ack_unknown = ConcernCommand::Acknowledge {
        topic: topic("weather"),
        priority: Priority::Low,
        deadline: None,
    };
    let reported = history(&w, &[(MEMBER_1, report())]);
    given(&w, reported)
        .when(CELL_1, ack_unknown)
        .then_invalid("topic");
}

#[test]
fn feedback_and_follow_up_must_agree() {
    let w = world();
    let unsatisfied_alone = ConcernCommand::RecordFeedback {
        satisfied: false,
        comment: "x".to_owned(),
        follow_up: None,
    };
    given(&w, resolved(&w))
        .when(MEMBER_1, unsatisfied_alone)
        .then_invalid("follow_up");
    let satisfied_reopen = ConcernCommand::RecordFeedback {
        satisfied: true,
        comment: "x".to_owned(),
        follow_up: Some(FollowUp::Reopen),
    };
    given(&w, resolved(&w))
        .when(MEMBER_1, satisfied_reopen)
        .then_invalid("follow_up");
}

#[test]
fn every_error_names_its_http_status() {
    let statuses = [
        DomainError::Refused {
            rule: Rule::RoleRequired,
            detail: String::new(),
        }
        .http_status(),
        DomainError::IllegalTransition {
            aggregate: "concern",
            state: "reported",
            command: "resolve",
        }
        .http_status(),
        DomainError::FieldTimeInFuture {
            occurred_at: t0(),
            now: t0(),
            tolerance_seconds: 0,
        }
        .http_status(),
        DomainError::Invalid {
            field: "x",
            reason: String::new(),
        }
        .http_status(),
        DomainError::NotFound {
            what: "unit",
            id: String::new(),
        }
        .http_status(),
        DomainError::UnknownEvent {
            event_type: String::new(),
            schema_version: 9,
        }
        .http_status(),
        DomainError::MalformedRecord {
            event_type: String::new(),
            reason: String::new(),
        }
        .http_status(),
    ];
    assert_eq!(statuses, [403, 409, 422, 422, 404, 400, 400]);
}
