//! The policy: deadlines, the "due soon" warning, the time zone and the topics.
//!
//! Deadlines follow the priority and the topic and are configurable, so they
//! are data handed to `decide` through the context, never constants in the
//! rules. Defaults: urgent 24 hours, high 3 days, normal 15 days (the brief's
//! figures) and low 30 days (our choice: the brief names no figure for low).
//! A rule counted in days ends at local midnight, in the policy's time zone
//! (Asia/Ho_Chi_Minh by default), after the last full day: a case received on
//! Monday morning with 3 days is due at the end of Thursday, local time.

use chrono::{DateTime, Days, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::concern::{Concern, Priority, Status};
use crate::taxonomy::{Taxonomy, TopicCode};

/// How long a case may take before it is overdue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineRule {
    /// Exactly this many hours after the start (for urgent cases).
    Hours(u32),
    /// Until local midnight at the end of the n-th day after the day of the start.
    Days(u32),
}

/// One value per priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerPriority<T> {
    /// For urgent cases.
    pub urgent: T,
    /// For high-priority cases.
    pub high: T,
    /// For normal cases.
    pub normal: T,
    /// For low-priority cases.
    pub low: T,
}

impl<T: Copy> PerPriority<T> {
    /// The value for `priority`.
    pub fn get(&self, priority: Priority) -> T {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// A deadline for one topic and priority that differs from the default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineOverride {
    /// The topic it applies to.
    pub topic: TopicCode,
    /// The priority it applies to.
    pub priority: Priority,
    /// The rule used instead of the priority's default.
    pub rule: DeadlineRule,
}

/// Where a running deadline stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// No deadline runs: the case is not yet acknowledged, or is resolved,
    /// closed, merged or withdrawn.
    NotRunning,
    /// The clock is paused while the case waits on another body.
    Paused,
    /// More time remains than the "due soon" threshold.
    OnTrack,
    /// Less time remains than the threshold: warn the committee above.
    DueSoon,
    /// The deadline has passed.
    Overdue,
}

/// Everything configurable that the rules read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The time zone in which days are counted.
    pub time_zone: Tz,
    /// The default deadline of each priority.
    pub deadlines: PerPriority<DeadlineRule>,
    /// Deadlines for particular topics and priorities.
    pub overrides: Vec<DeadlineOverride>,
    /// How long before its deadline a case counts as due soon, in hours.
    pub due_soon_hours: PerPriority<u32>,
    /// The topics a case may be filed under.
    pub taxonomy: Taxonomy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            time_zone: chrono_tz::Asia::Ho_Chi_Minh,
            deadlines: PerPriority {
                urgent: DeadlineRule::Hours(24),
                high: DeadlineRule::Days(3),
                normal: DeadlineRule::Days(15),
                low: DeadlineRule::Days(30),
            },
            overrides: Vec::new(),
            // A quarter of the urgent day; one day for high; three days for
            // normal; five days for low: enough for the committee above to act.
            due_soon_hours: PerPriority {
                urgent: 6,
                high: 24,
                normal: 72,
                low: 120,
            },
            taxonomy: Taxonomy::default(),
        }
    }
}

impl Policy {
    /// The rule for a topic and priority: an override if one matches, else
    /// the priority's default.
    pub fn rule(&self, topic: &TopicCode, priority: Priority) -> DeadlineRule {
        self.overrides
            .iter()
            .find(|o| &o.topic == topic && o.priority == priority)
            .map_or_else(|| self.deadlines.get(priority), |o| o.rule)
    }

    /// The deadline of a case with this topic and priority whose clock starts at `start`.
    pub fn deadline(
        &self,
        topic: &TopicCode,
        priority: Priority,
        start: DateTime<Utc>,
    ) -> DateTime<Utc> {
        match self.rule(topic, priority) {
            DeadlineRule::Hours(hours) => start + TimeDelta::hours(i64::from(hours)),
            DeadlineRule::Days(days) => self.end_of_local_day_after(start, days),
        }
    }

    /// Local midnight at the end of the `days`-th day after the local day of `start`.
    fn end_of_local_day_after(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let local_date = start.with_timezone(&self.time_zone).date_naive();
        let fallback = start + TimeDelta::days(i64::from(days) + 1);
        let Some(last_day_end) = local_date.checked_add_days(Days::new(u64::from(days) + 1)) else {
            return fallback;
        };
        self.time_zone
            .from_local_datetime(&last_day_end.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(fallback, |local| local.with_timezone(&Utc))
    }

    /// Where the case's deadline stands at `now`.
    pub fn deadline_status(&self, concern: &Concern, now: DateTime<Utc>) -> DeadlineStatus {
        let running = matches!(concern.status, Status::Acknowledged | Status::InProgress);
        match (concern.status, concern.deadline) {
            (Status::Paused, Some(_)) => DeadlineStatus::Paused,
            (_, Some(deadline)) if running => self.classify(deadline, concern.priority, now),
            _ => DeadlineStatus::NotRunning,
        }
    }

    fn classify(
        &self,
        deadline: DateTime<Utc>,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> DeadlineStatus {
        let warning = TimeDelta::hours(i64::from(self.due_soon_hours.get(priority)));
        if now >= deadline {
            DeadlineStatus::Overdue
        } else if deadline - now <= warning {
            DeadlineStatus::DueSoon
        } else {
            DeadlineStatus::OnTrack
        }
    }
}
