//! Deadlines, the "due soon" warning and the topic taxonomy.

use casebook_domain::{
    fold, Concern, ConcernCommand, DeadlineOverride, DeadlineRule, DeadlineStatus, Policy,
    Priority, Taxonomy, Topic, TopicCode,
};
use chrono::{TimeDelta, TimeZone, Utc};

use crate::fixture::*;

#[test]
fn default_deadlines_follow_the_priority() {
    let policy = Policy::default();
    let loans = topic("livelihood_loans");
    let at = |y, m, d, h| {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid")
    };
    // t0 is Monday 4 March 2024, 10:00 in Hồ Chí Minh (UTC+7).
    assert_eq!(
        policy.deadline(&loans, Priority::Urgent, t0()),
        t0() + TimeDelta::hours(24)
    );
    assert_eq!(
        policy.deadline(&loans, Priority::High, t0()),
        at(2024, 3, 7, 17),
        "end of Thursday 7 March, local"
    );
    assert_eq!(
        policy.deadline(&loans, Priority::Normal, t0()),
        at(2024, 3, 19, 17)
    );
    assert_eq!(
        policy.deadline(&loans, Priority::Low, t0()),
        at(2024, 4, 3, 17)
    );
}

#[test]
fn days_are_counted_in_local_time() {
    let policy = Policy::default();
    // 23:30 UTC on 3 March is already 06:30 on 4 March in Hồ Chí Minh.
    let late_utc = Utc
        .with_ymd_and_hms(2024, 3, 3, 23, 30, 0)
        .single()
        .expect("valid");
    let deadline = policy.deadline(&topic("land"), Priority::High, late_utc);
    assert_eq!(
        deadline,
        Utc.with_ymd_and_hms(2024, 3, 7, 17, 0, 0)
            .single()
            .expect("valid")
    );
}

#[test]
fn a_topic_can_override_the_priority_default() {
    let policy = Policy {
        overrides: vec![DeadlineOverride {
            topic: topic("border_markers_crossings"),
            priority: Priority::Normal,
            rule: DeadlineRule::Hours(48),
        }],
        ..Policy::default()
    };
    assert_eq!(
        policy.deadline(&topic("border_markers_crossings"), Priority::Normal, t0()),
        t0() + TimeDelta::hours(48)
    );
    assert_eq!(
        policy.rule(&topic("land"), Priority::Normal),
        DeadlineRule::Days(15)
    );
}

#[test]
fn a_case_is_on_track_then_due_soon_then_overdue() {
    let w = world();
    let events = in_progress(&w);
    let concern: Concern = fold::<Option<Concern>>(&events).expect("exists");
    let deadline = concern.deadline.expect("set");
    let status = |now| w.policy.deadline_status(&concern, now);
    assert_eq!(
        status(deadline - TimeDelta::hours(73)),
        DeadlineStatus::OnTrack
    );
    assert_eq!(
        status(deadline - TimeDelta::hours(72)),
        DeadlineStatus::DueSoon
    );
    assert_eq!(status(deadline), DeadlineStatus::Overdue);
}

#[test]
fn a_paused_or_finished_case_runs_no_deadline() {
    let w = world();
    let paused = with(
        in_progress(&w),
        &w,
        &[(
            CELL_1,
            ConcernCommand::PauseClock {
                reason: "Chờ".to_owned(),
            },
        )],
    );
    let concern = fold::<Option<Concern>>(&paused).expect("exists");
    assert_eq!(
        w.policy.deadline_status(&concern, hours(24 * 100)),
        DeadlineStatus::Paused
    );
    let reported = history(&w, &[(MEMBER_1, report())]);
    let concern = fold::<Option<Concern>>(&reported).expect("exists");
    assert_eq!(
        w.policy.deadline_status(&concern, t0()),
        DeadlineStatus::NotRunning
    );
}

#[test]
fn the_default_taxonomy_is_the_briefs() {
    let taxonomy = Taxonomy::default();
    let codes: Vec<&str> = taxonomy.topics().iter().map(|t| t.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "social_security",
            "public_order",
            "crime_smuggling",
            "livelihood_loans",
            "land",
            "health",
            "education",
            "roads_infrastructure",
            "disasters_epidemics",
            "border_markers_crossings",
            "other",
        ]
    );
    assert_eq!(
        taxonomy.get(&topic("land")).map(|t| t.label_vi.as_str()),
        Some("Đất đai")
    );
}

#[test]
fn topic_codes_are_snake_case() {
    assert!(TopicCode::new("Land").is_err());
    assert!(TopicCode::new("land use").is_err());
    assert!(TopicCode::new("_land").is_err());
    assert!(TopicCode::new("").is_err());
    assert!(TopicCode::new("land_2").is_ok());
    assert!(serde_json::from_str::<TopicCode>("\"Bad\"").is_err());
}

#[test]
fn a_taxonomy_has_unique_codes() {
    let topic_of = |code: &str| Topic {
        code: topic(code),
        label_vi: "x".to_owned(),
        label_en: "x".to_owned(),
    };
    assert!(Taxonomy::new(vec![topic_of("a"), topic_of("a")]).is_err());
    assert!(Taxonomy::new(vec![]).is_err());
    assert!(Taxonomy::new(vec![topic_of("fishing"), topic_of("other")]).is_ok());
}

#[test]
fn the_policy_is_configuration_that_round_trips() {
    let policy = Policy::default();
    let json = serde_json::to_string(&policy).expect("serialises");
    assert!(json.contains("Asia/Ho_Chi_Minh"));
    assert_eq!(
        serde_json::from_str::<Policy>(&json).expect("parses"),
        policy
    );
}
