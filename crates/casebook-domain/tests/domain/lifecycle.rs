//! Every transition of a case's life, as given/when/then.

use casebook_domain::{
    ActionKind, ActionRecorded, AppealOpened, Assignee, ClockPaused, ClockResumed,
    ConcernAcknowledged, ConcernAssigned, ConcernClosed, ConcernCommand, ConcernEscalated,
    ConcernKind, ConcernMerged, ConcernReopened, ConcernReported, ConcernResolved,
    ConcernWithdrawn, Confidentiality, EscalateTo, EscalationTarget, FeedbackRecorded, FollowUp,
    InterimReplied, Outcome, Payload, Priority, ReferralAnswered, ReferredOut, SealedInformant,
    Status, Subject,
};
use chrono::{TimeDelta, TimeZone, Utc};

use crate::fixture::*;
use casebook_domain::NewConcern;

fn report_payload() -> ConcernReported {
    ConcernReported {
        concern_id: CONCERN,
        subject: Subject::Household {
            household_id: HOUSEHOLD_1,
        },
        hamlet_id: HAMLET_1,
        coordinates: None,
        kind: ConcernKind::RequestForHelp,
        topic: topic("livelihood_loans"),
        priority: Priority::Normal,
        confidentiality: Confidentiality::Normal,
        sealed_informant: None,
        text: "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.".to_owned(),
        personal_note: None,
    }
}

#[test]
fn a_member_reports_for_an_assigned_household() {
    let w = world();
    let state = given(&w, vec![])
        .at(t0())
        .when(MEMBER_1, report())
        .then_expect(vec![Payload::ConcernReported(report_payload())]);
    let concern = state.expect("created");
    assert_eq!(concern.status, Status::Reported);
    assert_eq!(concern.reported_by, MEMBER_1);
    assert_eq!(concern.reported_at, t0());
    assert_eq!(concern.handling_unit_id, HAMLET_1);
}

#[test]
fn a_member_logs_a_visit_days_later_with_its_field_time() {
    let w = world();
    let visit = t0() - TimeDelta::days(3);
    let concern = given(&w, vec![])
        .at(t0())
        .field_time(visit)
        .when(MEMBER_1, report())
        .then_expect_types(&["concern.reported"]);
    assert_eq!(concern.expect("created").reported_at, visit);
}

#[test]
fn several_households_of_a_hamlet_raise_one_case() {
    let w = world();
    let command = ConcernCommand::Report(NewConcern {
        subject: Subject::Hamlet {
            household_ids: vec![HOUSEHOLD_1, HOUSEHOLD_2],
        },
        hamlet_id: Some(HAMLET_1),
        ..new_concern()
    });
    let concern = given(&w, vec![])
        .when(MEMBER_1, command)
        .then_expect_types(&["concern.reported"]);
    assert_eq!(concern.expect("created").hamlet_id, HAMLET_1);
}

#[test]
fn a_confidential_tip_keeps_its_informant_sealed_apart() {
    let w = world();
    let informant = SealedInformant {
        name: "Người báo tin".to_owned(),
        contact: None,
        note: None,
    };
    let command = ConcernCommand::Report(NewConcern {
        kind: ConcernKind::Tip,
        topic: topic("crime_smuggling"),
        confidentiality: Confidentiality::ConfidentialTip,
        sealed_informant: Some(informant.clone()),
        ..new_concern()
    });
    let concern = given(&w, vec![])
        .when(MEMBER_1, command)
        .then_expect_types(&["concern.reported"])
        .expect("created");
    assert_eq!(concern.sealed_informant, Some(informant));
    assert_eq!(concern.without_sealed_informant().sealed_informant, None);
}

#[test]
fn acknowledging_sets_the_deadline_from_the_policy() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    // Reported Monday 4 March 10:00 local; 15 days end at local midnight on 20 March.
    let deadline = Utc
        .with_ymd_and_hms(2024, 3, 19, 17, 0, 0)
        .single()
        .expect("valid");
    let concern = given(&w, history)
        .when(CELL_1, acknowledge())
        .then_expect(vec![Payload::ConcernAcknowledged(ConcernAcknowledged {
            topic: topic("livelihood_loans"),
            priority: Priority::Normal,
            deadline,
        })]);
    let concern = concern.expect("exists");
    assert_eq!(concern.status, Status::Acknowledged);
    assert_eq!(concern.deadline, Some(deadline));
}

#[test]
fn acknowledging_may_change_topic_and_priority_and_set_a_deadline() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let deadline = hours(48);
    let command = ConcernCommand::Acknowledge {
        topic: topic("social_security"),
        priority: Priority::High,
        deadline: Some(deadline),
    };
    let concern = given(&w, history)
        .when(CELL_1, command)
        .then_expect_types(&["concern.acknowledged"])
        .expect("exists");
    assert_eq!(
        (concern.topic.as_str(), concern.priority, concern.deadline),
        ("social_security", Priority::High, Some(deadline))
    );
}

#[test]
fn assigning_a_committee_puts_the_case_in_progress() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report()), (CELL_1, acknowledge())]);
    let concern = given(&w, history)
        .when(CELL_1, assign_cell())
        .then_expect(vec![Payload::ConcernAssigned(ConcernAssigned {
            assignee: Assignee::Committee {
                committee_id: HAMLET_1_CELL,
            },
            handling_unit_id: HAMLET_1,
        })]);
    assert_eq!(concern.expect("exists").status, Status::InProgress);
}

#[test]
fn reassigning_to_a_person_keeps_the_handling_unit() {
    let w = world();
    let command = ConcernCommand::Assign(Assignee::Person {
        person_id: MEMBER_1,
    });
    let concern = given(&w, in_progress(&w))
        .when(CELL_1, command)
        .then_expect(vec![Payload::ConcernAssigned(ConcernAssigned {
            assignee: Assignee::Person {
                person_id: MEMBER_1,
            },
            handling_unit_id: HAMLET_1,
        })]);
    assert_eq!(
        concern.expect("exists").assignee,
        Some(Assignee::Person {
            person_id: MEMBER_1
        })
    );
}

#[test]
fn the_member_records_a_visit() {
    let w = world();
    let command = ConcernCommand::RecordAction {
        action: ActionKind::Advice,
        summary: "Tư vấn vay vốn tạo việc làm.".to_owned(),
    };
    let concern = given(&w, in_progress(&w))
        .when(MEMBER_1, command)
        .then_expect(vec![Payload::ActionRecorded(ActionRecorded {
            action: ActionKind::Advice,
            summary: "Tư vấn vay vốn tạo việc làm.".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").actions_recorded, 1);
}

#[test]
fn a_case_is_escalated_upwards_any_number_of_times() {
    let w = world();
    let to = |committee| ConcernCommand::Escalate {
        to: EscalateTo::Committee(committee),
        reason: "Vượt thẩm quyền".to_owned(),
    };
    let events = in_progress(&w);
    let concern = given(&w, events.clone())
        .when(CELL_1, to(COMMUNE_X_COMMITTEE))
        .then_expect(vec![Payload::ConcernEscalated(ConcernEscalated {
            to: EscalationTarget::Committee {
                committee_id: COMMUNE_X_COMMITTEE,
                unit_id: COMMUNE_X,
            },
            from_unit_id: HAMLET_1,
            reason: "Vượt thẩm quyền".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").handling_unit_id, COMMUNE_X);
    let events = with(
        events,
        &w,
        &[
            (CELL_1, to(COMMUNE_X_COMMITTEE)),
            (COMMUNE_X_CHIEF, to(POST_A_COMMITTEE)),
        ],
    );
    let concern = given(&w, events)
        .when(POST_A_CHIEF, to(PROVINCE_BOARD))
        .then_expect_types(&["concern.escalated"])
        .expect("exists");
    assert_eq!(concern.handling_unit_id, PROVINCE);
    assert_eq!(concern.escalations.len(), 3);
    assert_eq!(
        concern.assignee,
        Some(Assignee::Committee {
            committee_id: PROVINCE_BOARD
        })
    );
}

#[test]
fn an_acknowledged_case_can_be_escalated_straight_away() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report()), (CELL_1, acknowledge())]);
    let command = ConcernCommand::Escalate {
        to: EscalateTo::Committee(POST_A_COMMITTEE),
        reason: "Cần đồn xử lý".to_owned(),
    };
    let concern = given(&w, history)
        .when(CELL_1, command)
        .then_expect_types(&["concern.escalated"])
        .expect("exists");
    assert_eq!(concern.status, Status::InProgress);
}

#[test]
fn a_case_is_escalated_to_a_state_body() {
    let w = world();
    let command = ConcernCommand::Escalate {
        to: EscalateTo::StateBody("UBND huyện Vĩnh Châu".to_owned()),
        reason: "Thẩm quyền đất đai".to_owned(),
    };
    let concern = given(&w, in_progress(&w))
        .when(CELL_1, command)
        .then_expect_types(&["concern.escalated"])
        .expect("exists");
    assert_eq!(concern.handling_unit_id, HAMLET_1);
    assert_eq!(
        concern.escalations,
        vec![EscalationTarget::StateBody {
            name: "UBND huyện Vĩnh Châu".to_owned()
        }]
    );
}

#[test]
fn a_referral_out_is_tracked_until_answered() {
    let w = world();
    let refer = ConcernCommand::ReferOut {
        body: "Ngân hàng Chính sách xã hội".to_owned(),
        reason: "Vay vốn".to_owned(),
    };
    let events = in_progress(&w);
    given(&w, events.clone())
        .when(CELL_1, refer.clone())
        .then_expect(vec![Payload::ReferredOut(ReferredOut {
            referral_no: 1,
            body: "Ngân hàng Chính sách xã hội".to_owned(),
            reason: "Vay vốn".to_owned(),
        })]);
    let events = with(events, &w, &[(CELL_1, refer)]);
    let answer = ConcernCommand::AnswerReferral {
        referral_no: 1,
        answer: "Đã giải ngân 30 triệu đồng".to_owned(),
    };
    let concern =
        given(&w, events)
            .when(CELL_1, answer)
            .then_expect(vec![Payload::ReferralAnswered(ReferralAnswered {
                referral_no: 1,
                answer: "Đã giải ngân 30 triệu đồng".to_owned(),
            })]);
    assert_eq!(
        concern.expect("exists").referrals[0].answer.as_deref(),
        Some("Đã giải ngân 30 triệu đồng")
    );
}

#[test]
fn pausing_and_resuming_the_clock_moves_the_deadline_by_the_pause() {
    let w = world();
    let events = in_progress(&w);
    let before = casebook_domain::fold::<Option<casebook_domain::Concern>>(&events)
        .expect("exists")
        .deadline
        .expect("set");
    let pause = ConcernCommand::PauseClock {
        reason: "Chờ ý kiến UBND xã".to_owned(),
    };
    let paused = given(&w, events.clone())
        .at(hours(10))
        .when(CELL_1, pause.clone())
        .then_expect(vec![Payload::ClockPaused(ClockPaused {
            reason: "Chờ ý kiến UBND xã".to_owned(),
        })]);
    assert_eq!(paused.expect("exists").status, Status::Paused);
    let mut events = events;
    events.extend(
        casebook_domain::decide(
            &casebook_domain::fold::<Option<casebook_domain::Concern>>(&events),
            &pause,
            &w.ctx(CELL_1, hours(10)),
        )
        .expect("pauses"),
    );
    let resumed = given(&w, events)
        .at(hours(58))
        .when(CELL_1, ConcernCommand::ResumeClock)
        .then_expect(vec![Payload::ClockResumed(ClockResumed {
            paused_seconds: 48 * 3600,
            deadline: before + TimeDelta::hours(48),
        })]);
    let resumed = resumed.expect("exists");
    assert_eq!(
        (resumed.status, resumed.paused_since),
        (Status::InProgress, None)
    );
}

#[test]
fn actions_can_be_recorded_while_the_clock_is_paused() {
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
    let command = ConcernCommand::RecordAction {
        action: ActionKind::Visit,
        summary: "Thăm hộ".to_owned(),
    };
    let concern = given(&w, events)
        .when(MEMBER_1, command)
        .then_expect_types(&["concern.action_recorded"])
        .expect("exists");
    assert_eq!(concern.status, Status::Paused);
}

#[test]
fn an_interim_reply_sets_a_new_deadline_with_a_reason() {
    let w = world();
    let deadline = hours(24 * 30);
    let command = ConcernCommand::InterimReply {
        message: "Đang xác minh".to_owned(),
        deadline,
        reason: "Cần thêm thời gian".to_owned(),
    };
    let concern = given(&w, in_progress(&w))
        .when(CELL_1, command)
        .then_expect(vec![Payload::InterimReplied(InterimReplied {
            message: "Đang xác minh".to_owned(),
            deadline,
            reason: "Cần thêm thời gian".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").deadline, Some(deadline));
}

#[test]
fn a_case_is_resolved_with_each_outcome() {
    let w = world();
    let outcomes = [
        Outcome::Resolved,
        Outcome::PartlyResolved,
        Outcome::Referred {
            body: "UBND xã".to_owned(),
        },
        Outcome::Declined {
            reason: "Không thuộc thẩm quyền".to_owned(),
        },
    ];
    for outcome in outcomes {
        let command = ConcernCommand::Resolve {
            outcome: outcome.clone(),
            summary: "Đã trả lời hộ dân".to_owned(),
        };
        let concern = given(&w, in_progress(&w))
            .when(CELL_1, command)
            .then_expect(vec![Payload::ConcernResolved(ConcernResolved {
                outcome: outcome.clone(),
                summary: "Đã trả lời hộ dân".to_owned(),
            })]);
        let concern = concern.expect("exists");
        assert_eq!(
            (concern.status, concern.outcome),
            (Status::Resolved, Some(outcome))
        );
    }
}

pub fn resolved(w: &World) -> Vec<casebook_domain::Event> {
    with(
        in_progress(w),
        w,
        &[(
            CELL_1,
            ConcernCommand::Resolve {
                outcome: Outcome::Resolved,
                summary: "Đã hỗ trợ".to_owned(),
            },
        )],
    )
}

#[test]
fn a_satisfied_resident_lets_the_case_be_closed() {
    let w = world();
    let feedback = ConcernCommand::RecordFeedback {
        satisfied: true,
        comment: "Cảm ơn".to_owned(),
        follow_up: None,
    };
    let concern = given(&w, resolved(&w))
        .when(MEMBER_1, feedback.clone())
        .then_expect(vec![Payload::FeedbackRecorded(FeedbackRecorded {
            satisfied: true,
            comment: "Cảm ơn".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").status, Status::Resolved);
    let events = with(resolved(&w), &w, &[(MEMBER_1, feedback)]);
    let concern = given(&w, events)
        .when(
            CELL_1,
            ConcernCommand::Close {
                note: "Hoàn thành".to_owned(),
            },
        )
        .then_expect(vec![Payload::ConcernClosed(ConcernClosed {
            note: "Hoàn thành".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").status, Status::Closed);
}

#[test]
fn an_unsatisfied_resident_reopens_the_case() {
    let w = world();
    let command = ConcernCommand::RecordFeedback {
        satisfied: false,
        comment: "Chưa được vay".to_owned(),
        follow_up: Some(FollowUp::Reopen),
    };
    let at = hours(10);
    let concern = given(&w, resolved(&w))
        .at(at)
        .when(MEMBER_1, command)
        .then_expect(vec![
            Payload::FeedbackRecorded(FeedbackRecorded {
                satisfied: false,
                comment: "Chưa được vay".to_owned(),
            }),
            Payload::ConcernReopened(ConcernReopened {
                reason: "Chưa được vay".to_owned(),
                deadline: w
                    .policy
                    .deadline(&topic("livelihood_loans"), Priority::Normal, at),
            }),
        ]);
    let concern = concern.expect("exists");
    assert_eq!(
        (
            concern.status,
            concern.reopenings,
            concern.outcome,
            concern.feedback
        ),
        (Status::InProgress, 1, None, None)
    );
}

#[test]
fn an_unsatisfied_resident_appeals_to_a_higher_committee() {
    let w = world();
    let command = ConcernCommand::RecordFeedback {
        satisfied: false,
        comment: "Không đồng ý".to_owned(),
        follow_up: Some(FollowUp::Appeal(POST_A_COMMITTEE)),
    };
    let at = hours(10);
    let concern = given(&w, resolved(&w))
        .at(at)
        .when(MEMBER_1, command)
        .then_expect(vec![
            Payload::FeedbackRecorded(FeedbackRecorded {
                satisfied: false,
                comment: "Không đồng ý".to_owned(),
            }),
            Payload::AppealOpened(AppealOpened {
                committee_id: POST_A_COMMITTEE,
                unit_id: POST_A,
                reason: "Không đồng ý".to_owned(),
                deadline: w
                    .policy
                    .deadline(&topic("livelihood_loans"), Priority::Normal, at),
            }),
        ]);
    let concern = concern.expect("exists");
    assert_eq!(
        (concern.status, concern.appeals, concern.handling_unit_id),
        (Status::InProgress, 1, POST_A)
    );
}

#[test]
fn a_resolved_or_closed_case_can_be_reopened() {
    let w = world();
    let reopen = ConcernCommand::Reopen {
        reason: "Phát sinh mới".to_owned(),
    };
    given(&w, resolved(&w))
        .when(CELL_1, reopen.clone())
        .then_expect_types(&["concern.reopened"]);
    let closed = with(
        resolved(&w),
        &w,
        &[(
            CELL_1,
            ConcernCommand::Close {
                note: String::new(),
            },
        )],
    );
    let concern = given(&w, closed)
        .when(CELL_1, reopen)
        .then_expect_types(&["concern.reopened"])
        .expect("exists");
    assert_eq!(concern.status, Status::InProgress);
}

#[test]
fn a_duplicate_is_merged_into_another_case() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let concern = given(&w, history)
        .when(
            CELL_1,
            ConcernCommand::MergeInto {
                concern_id: OTHER_CONCERN,
            },
        )
        .then_expect(vec![Payload::ConcernMerged(ConcernMerged {
            into_concern_id: OTHER_CONCERN,
        })]);
    let concern = concern.expect("exists");
    assert_eq!(
        (concern.status, concern.merged_into),
        (Status::Merged, Some(OTHER_CONCERN))
    );
}

#[test]
fn the_reporting_member_withdraws_a_report() {
    let w = world();
    let history = history(&w, &[(MEMBER_1, report())]);
    let concern = given(&w, history)
        .when(
            MEMBER_1,
            ConcernCommand::Withdraw {
                reason: "Hộ dân đã tự giải quyết".to_owned(),
            },
        )
        .then_expect(vec![Payload::ConcernWithdrawn(ConcernWithdrawn {
            reason: "Hộ dân đã tự giải quyết".to_owned(),
        })]);
    assert_eq!(concern.expect("exists").status, Status::Withdrawn);
}

#[test]
fn a_post_acts_on_a_commune_it_covers() {
    let w = world();
    let command = ConcernCommand::Report(NewConcern {
        subject: Subject::Household {
            household_id: HOUSEHOLD_3,
        },
        ..new_concern()
    });
    let history = history(&w, &[(MEMBER_2, command)]);
    given(&w, history)
        .when(POST_B_CHIEF, acknowledge())
        .then_expect_types(&["concern.acknowledged"]);
}

/// The whole case from Sóc Trăng: a household in hardship in hamlet Âu Thọ A
/// lacks capital; the member advises a job-creation loan; the matter is
/// referred to the bank; resolved; followed up; closed.
#[test]
fn the_whole_soc_trang_case() {
    let w = world();
    let events = history(
        &w,
        &[
            (MEMBER_1, report()),
            (CELL_1, acknowledge()),
            (CELL_1, assign_cell()),
            (
                MEMBER_1,
                ConcernCommand::RecordAction {
                    action: ActionKind::Advice,
                    summary: "Tư vấn vay vốn giải quyết việc làm".to_owned(),
                },
            ),
            (
                CELL_1,
                ConcernCommand::ReferOut {
                    body: "Ngân hàng Chính sách xã hội".to_owned(),
                    reason: "Vay vốn".to_owned(),
                },
            ),
            (
                CELL_1,
                ConcernCommand::AnswerReferral {
                    referral_no: 1,
                    answer: "Đã cho vay".to_owned(),
                },
            ),
            (
                CELL_1,
                ConcernCommand::Resolve {
                    outcome: Outcome::Resolved,
                    summary: "Gia đình mở tiệm tạp hóa".to_owned(),
                },
            ),
            (
                MEMBER_1,
                ConcernCommand::RecordFeedback {
                    satisfied: true,
                    comment: "Thu nhập ổn định".to_owned(),
                    follow_up: None,
                },
            ),
            (
                CELL_1,
                ConcernCommand::Close {
                    note: "Đã theo dõi".to_owned(),
                },
            ),
        ],
    );
    let concern =
        casebook_domain::fold::<Option<casebook_domain::Concern>>(&events).expect("exists");
    assert_eq!(concern.status, Status::Closed);
    assert_eq!(events.len(), 9);
}
