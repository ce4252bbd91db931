//! One concern's life, from the member's report to its closing, as far as
//! it has got by `now`.
//!
//! Each step happens some hours or days after the last, at odds chosen to
//! look like a real province's year: most cases are acknowledged within a
//! day and resolved on time, some are escalated, referred out, paused or
//! given an interim reply, a few are withdrawn or merged, and residents are
//! mostly satisfied. Whatever would happen after `now` does not happen, so
//! recent cases are still open and some are overdue.

use crate::text;
use crate::world::World;
use crate::{DemoConfig, DemoError};
use casebook_domain::{
    ActionKind, Assignee, Concern, ConcernCommand, ConcernId, ConcernKind, Confidentiality,
    EscalateTo, FollowUp, NewConcern, Outcome, PersonId, Priority, SealedInformant, Status,
    StreamId, Subject, TopicCode,
};
use chrono::{DateTime, TimeDelta, Utc};

/// The year the demo covers.
const DAYS_OF_HISTORY: i64 = 365;

/// When each concern is reported: spread over the year, a little more often
/// in recent months, in time order.
pub fn report_times(rng: &mut fastrand::Rng, config: &DemoConfig) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = (0..config.concerns)
        .map(|_| {
            // The larger of two uniform draws leans towards the recent end.
            let lean = rng.f64().max(rng.f64() * 0.9);
            let minutes_ago = ((1.0 - lean) * (DAYS_OF_HISTORY * 24 * 60) as f64) as i64 + 60;
            config.now - TimeDelta::minutes(minutes_ago)
        })
        .collect();
    times.sort();
    times
}

/// The clock of one case: steps move it forward and stop at `now`.
struct Clock {
    at: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Clock {
    /// Moves forward by a random span between `min` and `max` hours;
    /// `None` if that would be after `now`.
    fn after_hours(
        &mut self,
        rng: &mut fastrand::Rng,
        min: f64,
        max: f64,
    ) -> Option<DateTime<Utc>> {
        let hours = min + rng.f64() * (max - min);
        let next = self.at + TimeDelta::minutes((hours * 60.0) as i64 + 1);
        (next < self.now).then(|| {
            self.at = next;
            next
        })
    }
}

/// Who handles the case now, which decides who acts for the committee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Hamlet,
    Commune,
    Post,
}

struct Case {
    id: ConcernId,
    state: Option<Concern>,
    hamlet: usize,
    member: PersonId,
    level: Level,
    assigned_to_member: bool,
}

/// Lives one concern until it closes or `now` comes.
pub fn live(
    world: &mut World,
    rng: &mut fastrand::Rng,
    index: usize,
    reported_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DemoError> {
    let household = world.households[rng.usize(..world.households.len())].clone();
    let mut case = Case {
        id: ConcernId(world.new_uuid()),
        state: None,
        hamlet: household.hamlet,
        member: household.member,
        level: Level::Hamlet,
        assigned_to_member: false,
    };
    let mut clock = Clock {
        at: reported_at,
        now,
    };
    report(world, rng, &mut case, household.id, &mut clock, index)?;
    let lived = live_after_report(world, rng, &mut case, &mut clock);
    world.concerns.push((case.id, case.state));
    lived
}

fn live_after_report(
    world: &mut World,
    rng: &mut fastrand::Rng,
    case: &mut Case,
    clock: &mut Clock,
) -> Result<(), DemoError> {
    let Some(at) = clock.after_hours(rng, 0.5, 30.0) else {
        return Ok(());
    };
    let Some((topic, priority)) =
        concern_of(case).map(|concern| (concern.topic.clone(), concern.priority))
    else {
        return Ok(());
    };
    committee(
        world,
        case,
        at,
        ConcernCommand::Acknowledge {
            topic,
            priority,
            deadline: None,
        },
    )?;
    // Assigning sometimes waits for the cell's next meeting.
    let Some(at) = clock.after_hours(rng, 0.1, 60.0) else {
        return Ok(());
    };
    case.assigned_to_member = rng.u8(..100) < 60;
    let assignee = if case.assigned_to_member {
        Assignee::Person {
            person_id: case.member,
        }
    } else {
        Assignee::Committee {
            committee_id: world.hamlets[case.hamlet].cell,
        }
    };
    committee(world, case, at, ConcernCommand::Assign(assignee))?;
    work_on(world, rng, case, clock)?;
    if status(case) != Status::InProgress && status(case) != Status::Acknowledged {
        return Ok(()); // withdrawn, merged, or still paused at `now`
    }
    resolve_and_follow_up(world, rng, case, clock)
}

fn report(
    world: &mut World,
    rng: &mut fastrand::Rng,
    case: &mut Case,
    household_id: casebook_domain::HouseholdId,
    clock: &mut Clock,
    index: usize,
) -> Result<(), DemoError> {
    let (kind, topic) = kind_and_topic(rng);
    let tip = kind == ConcernKind::Tip && rng.u8(..100) < 70;
    let texts = text::concern_texts(topic);
    let hamlet_name = world.hamlets[case.hamlet].name;
    let text = format!(
        "{} (ấp {hamlet_name})",
        texts[(index + rng.usize(..texts.len())) % texts.len()]
    );
    let new = NewConcern {
        concern_id: case.id,
        subject: Subject::Household { household_id },
        hamlet_id: Some(world.hamlets[case.hamlet].id),
        coordinates: None,
        kind,
        topic: topic_code(topic)?,
        priority: priority(rng, kind),
        confidentiality: if tip {
            Confidentiality::ConfidentialTip
        } else if rng.u8(..100) < 5 {
            Confidentiality::Sensitive
        } else {
            Confidentiality::Normal
        },
        sealed_informant: tip.then(|| SealedInformant {
            name: crate::world::person_name(index * 31 + 2),
            contact: Some(format!(
                "09{:02} {:03} {:03}",
                rng.u32(10..99),
                rng.u32(..1000),
                rng.u32(..1000)
            )),
            note: Some("Người cung cấp tin đề nghị giữ bí mật danh tính.".into()),
        }),
        text,
        personal_note: None,
    };
    // A fifth of members log their visits hours or days later, from the post.
    let field_time = clock.at;
    let recorded_at = if rng.u8(..100) < 20 {
        let delayed = clock.at + TimeDelta::hours(rng.i64(2..48));
        if delayed < clock.now {
            delayed
        } else {
            clock.at
        }
    } else {
        clock.at
    };
    clock.at = recorded_at;
    let member = case.member;
    let stream = StreamId::Concern(case.id);
    world.run_recorded_later(
        stream,
        &mut case.state,
        member,
        field_time,
        recorded_at,
        &ConcernCommand::Report(new),
    )
}

/// The committee level now handling the case acts.
fn committee(
    world: &mut World,
    case: &mut Case,
    at: DateTime<Utc>,
    command: ConcernCommand,
) -> Result<(), DemoError> {
    let actor = committee_officer(world, case);
    world.run(
        StreamId::Concern(case.id),
        &mut case.state,
        actor,
        at,
        &command,
    )
}

fn committee_officer(world: &World, case: &Case) -> PersonId {
    let hamlet = &world.hamlets[case.hamlet];
    let commune = &world.communes[hamlet.commune];
    match case.level {
        Level::Hamlet => hamlet.secretary,
        Level::Commune => commune.officer,
        Level::Post => world.posts[commune.post].officer,
    }
}

/// Whoever follows the case up: its member if assigned to them, else the committee.
fn handler(world: &World, case: &Case) -> PersonId {
    if case.assigned_to_member && case.level == Level::Hamlet {
        case.member
    } else {
        committee_officer(world, case)
    }
}

/// Visits and other actions, and now and then an escalation, a referral,
/// a pause, an interim reply, a withdrawal or a merge.
fn work_on(
    world: &mut World,
    rng: &mut fastrand::Rng,
    case: &mut Case,
    clock: &mut Clock,
) -> Result<(), DemoError> {
    let stream = StreamId::Concern(case.id);
    for _ in 0..rng.usize(1..4) {
        let Some(at) = clock.after_hours(rng, 2.0, 72.0) else {
            return Ok(());
        };
        let action = [
            ActionKind::Visit,
            ActionKind::Advice,
            ActionKind::Support,
            ActionKind::Meeting,
        ][rng.usize(..4)];
        let summary = text::ACTION_SUMMARIES[rng.usize(..text::ACTION_SUMMARIES.len())].to_owned();
        let actor = handler(world, case);
        world.run(
            stream,
            &mut case.state,
            actor,
            at,
            &ConcernCommand::RecordAction { action, summary },
        )?;
    }
    let roll = rng.u8(..100);
    let Some(at) = clock.after_hours(rng, 4.0, 48.0) else {
        return Ok(());
    };
    match roll {
        0..=1 => {
            let reason = "Gia đình đã tự thỏa thuận được, xin rút phản ánh.".to_owned();
            committee(world, case, at, ConcernCommand::Withdraw { reason })?;
        }
        2 => {
            if let Some(target) = earlier_case_of(world, case) {
                committee(
                    world,
                    case,
                    at,
                    ConcernCommand::MergeInto { concern_id: target },
                )?;
            }
        }
        3..=14 => escalate(world, rng, case, clock, at)?,
        15..=19 => {
            let body = text::STATE_BODIES[rng.usize(..text::STATE_BODIES.len())].to_owned();
            let reason = "Vượt thẩm quyền của chi bộ, cần cơ quan chuyên môn xem xét.".to_owned();
            committee(world, case, at, ConcernCommand::ReferOut { body, reason })?;
            if let Some(at) = clock.after_hours(rng, 24.0, 240.0) {
                let answer = "Cơ quan chuyên môn đã tiếp nhận và có hướng xử lý.".to_owned();
                committee(
                    world,
                    case,
                    at,
                    ConcernCommand::AnswerReferral {
                        referral_no: 1,
                        answer,
                    },
                )?;
            }
        }
        20..=22 => {
            let reason = "Chờ kết quả xác minh của cơ quan chức năng.".to_owned();
            committee(world, case, at, ConcernCommand::PauseClock { reason })?;
            let Some(at) = clock.after_hours(rng, 48.0, 240.0) else {
                return Ok(());
            };
            committee(world, case, at, ConcernCommand::ResumeClock)?;
        }
        23..=26 => {
            if let Some(deadline) = concern_of(case).and_then(|concern| concern.deadline) {
                let command = ConcernCommand::InterimReply {
                    message: "Đã tiếp nhận, đang phối hợp giải quyết, sẽ trả lời gia đình sớm."
                        .into(),
                    deadline: deadline.max(at) + TimeDelta::days(10),
                    reason: "Cần thêm thời gian phối hợp với các ngành.".into(),
                };
                committee(world, case, at, command)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Up to the commune's committee, sometimes on to the post's.
fn escalate(
    world: &mut World,
    rng: &mut fastrand::Rng,
    case: &mut Case,
    clock: &mut Clock,
    at: DateTime<Utc>,
) -> Result<(), DemoError> {
    let commune = world.hamlets[case.hamlet].commune;
    let to = EscalateTo::Committee(world.communes[commune].committee);
    let reason = "Vượt khả năng giải quyết của chi bộ ấp, đề nghị đảng ủy xã chỉ đạo.".to_owned();
    committee(world, case, at, ConcernCommand::Escalate { to, reason })?;
    case.level = Level::Commune;
    if rng.u8(..100) < 25 {
        let Some(at) = clock.after_hours(rng, 24.0, 96.0) else {
            return Ok(());
        };
        let post = world.communes[commune].post;
        let to = EscalateTo::Committee(world.posts[post].committee);
        let reason = "Liên quan an ninh biên giới, báo cáo đảng ủy đồn.".to_owned();
        committee(world, case, at, ConcernCommand::Escalate { to, reason })?;
        case.level = Level::Post;
    }
    Ok(())
}

/// Resolves (mostly on time), takes the resident's feedback (reopening if
/// they are not satisfied) and closes.
fn resolve_and_follow_up(
    world: &mut World,
    rng: &mut fastrand::Rng,
    case: &mut Case,
    clock: &mut Clock,
) -> Result<(), DemoError> {
    for attempt in 0..2 {
        let on_time = rng.u8(..100) < 82;
        let hours_left = concern_of(case)
            .and_then(|concern| concern.deadline)
            .map_or(72.0, |deadline| {
                (deadline - clock.at).num_minutes() as f64 / 60.0
            });
        let (min, max) = if on_time {
            (1.0, hours_left.max(2.0))
        } else {
            (hours_left.max(1.0) + 1.0, hours_left.max(1.0) + 240.0)
        };
        let Some(at) = clock.after_hours(rng, min, max) else {
            return Ok(());
        };
        let summary = text::RESOLUTIONS[rng.usize(..text::RESOLUTIONS.len())].to_owned();
        committee(
            world,
            case,
            at,
            ConcernCommand::Resolve {
                outcome: outcome(rng),
                summary,
            },
        )?;
        let Some(at) = clock.after_hours(rng, 12.0, 168.0) else {
            return Ok(());
        };
        let satisfied = attempt == 1 || rng.u8(..100) < 85;
        let (comment, follow_up) = if satisfied {
            (text::FEEDBACK_SATISFIED[rng.usize(..3)].to_owned(), None)
        } else {
            (
                text::FEEDBACK_UNSATISFIED[rng.usize(..2)].to_owned(),
                Some(FollowUp::Reopen),
            )
        };
        let member = case.member;
        let command = ConcernCommand::RecordFeedback {
            satisfied,
            comment,
            follow_up,
        };
        world.run(
            StreamId::Concern(case.id),
            &mut case.state,
            member,
            at,
            &command,
        )?;
        if satisfied {
            let Some(at) = clock.after_hours(rng, 24.0, 240.0) else {
                return Ok(());
            };
            let note = "Kết thúc vụ việc, lưu hồ sơ.".to_owned();
            return committee(world, case, at, ConcernCommand::Close { note });
        }
    }
    Ok(())
}

/// Cases looked back at when choosing what a duplicate merges into.
const MERGE_LOOKBACK_CASES: usize = 50;

fn earlier_case_of(world: &World, case: &Case) -> Option<ConcernId> {
    world
        .concerns
        .iter()
        .rev()
        .take(MERGE_LOOKBACK_CASES)
        .find_map(|(id, state)| {
            let concern = state.as_ref()?;
            // The duplicate of a recent case from the same hamlet.
            let same_hamlet = concern.hamlet_id == world.hamlets[case.hamlet].id;
            (same_hamlet && *id != case.id).then_some(*id)
        })
}

fn concern_of(case: &Case) -> Option<&Concern> {
    case.state.as_ref()
}

fn status(case: &Case) -> Status {
    case.state
        .as_ref()
        .map_or(Status::Reported, |concern| concern.status)
}

fn kind_and_topic(rng: &mut fastrand::Rng) -> (ConcernKind, &'static str) {
    let roll = rng.u8(..100);
    let kind = match roll {
        0..=29 => ConcernKind::Concern,
        30..=44 => ConcernKind::Aspiration,
        45..=54 => ConcernKind::Complaint,
        55..=66 => ConcernKind::Petition,
        67..=76 => ConcernKind::Tip,
        _ => ConcernKind::RequestForHelp,
    };
    let topics: &[&str] = match kind {
        ConcernKind::Tip => &[
            "crime_smuggling",
            "border_markers_crossings",
            "public_order",
        ],
        ConcernKind::RequestForHelp => &[
            "social_security",
            "livelihood_loans",
            "health",
            "disasters_epidemics",
        ],
        ConcernKind::Complaint => &[
            "land",
            "roads_infrastructure",
            "public_order",
            "social_security",
        ],
        _ => &[
            "social_security",
            "livelihood_loans",
            "land",
            "health",
            "education",
            "roads_infrastructure",
            "disasters_epidemics",
            "public_order",
            "other",
        ],
    };
    (kind, topics[rng.usize(..topics.len())])
}

fn priority(rng: &mut fastrand::Rng, kind: ConcernKind) -> Priority {
    let urgent_odds = if kind == ConcernKind::Tip { 20 } else { 4 };
    match rng.u8(..100) {
        roll if roll < urgent_odds => Priority::Urgent,
        roll if roll < urgent_odds + 20 => Priority::High,
        roll if roll < 88 => Priority::Normal,
        _ => Priority::Low,
    }
}

fn outcome(rng: &mut fastrand::Rng) -> Outcome {
    match rng.u8(..100) {
        0..=74 => Outcome::Resolved,
        75..=89 => Outcome::PartlyResolved,
        90..=94 => Outcome::Referred {
            body: text::STATE_BODIES[rng.usize(..text::STATE_BODIES.len())].to_owned(),
        },
        _ => Outcome::Declined {
            reason: "Nội dung không thuộc thẩm quyền, đã hướng dẫn gia đình.".to_owned(),
        },
    }
}

fn topic_code(code: &str) -> Result<TopicCode, DemoError> {
    TopicCode::new(code).map_err(|source| DemoError::Refused {
        command: "report".into(),
        at: DateTime::<Utc>::UNIX_EPOCH,
        source,
    })
}
