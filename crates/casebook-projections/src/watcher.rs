//! The deadline watcher: appends `concern.deadline_approaching` when a case
//! enters its "due soon" window (to warn the committee above the handling
//! unit) and `concern.deadline_passed` when its deadline passes, each once
//! per case and deadline.
//!
//! **Exactly once** comes from the log, not from the watcher's memory: an
//! event's id is a UUID v5 of the case, the deadline and the kind, and its
//! content (field time = the moment the warning became due, the units) is
//! fixed by the case, so a repeat after a restart, or from a second
//! watcher, is answered `AlreadyAppended` and writes nothing. A repeat whose
//! units changed meanwhile (the case was escalated) is an idempotency
//! conflict, which also means "already given". A watcher that starts after
//! a whole window went by still writes both events, approaching first, so
//! every deadline's history has both.
//!
//! **The clock is injected** ([`Clock`]); [`TokioClock`] follows tokio's
//! clock, so a test with a paused runtime moves it with `advance`. The
//! watcher reads the figures view's open deadlines and the cases view's
//! rows; a view that lags only delays a warning to the next tick.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use casebook_domain::{
    to_record, ConcernId, DeadlineApproaching, DeadlinePassed, DeadlineStatus, Event, Payload,
    PersonId,
};
use casebook_log::{ExpectedRevision, LogError, Metadata, NewEvent, SledLog};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::cases::{self, CaseRow};
use crate::error::Result;
use crate::figures;
use crate::units;
use crate::view_tree::Published;

/// The views the watcher reads, by name (for errors).
const FIGURES: &str = <crate::figures::FiguresView as crate::keyed_view::KeyedView>::NAME;
const CASES: &str = <crate::cases::CasesView as crate::keyed_view::KeyedView>::NAME;

/// How often the watcher looks by default: deadlines are hours or days
/// apart, so a warning at most a minute late is in time, and one scan of
/// the open deadlines a minute costs nothing.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(60);

/// The namespace of the watcher's event ids (UUID v5). Never change it:
/// the ids of warnings already given would no longer match.
pub const WATCHER_NAMESPACE: Uuid = Uuid::from_u128(0x7c3e_9a61_4b2d_5f08_9e1a_d0c4_b6f2_3a57);

/// The actor of the watcher's events: a fixed id that is no person's.
pub const WATCHER_ACTOR: PersonId =
    PersonId(Uuid::from_u128(0x7c3e_9a61_4b2d_5f08_9e1a_0000_0000_0001));

/// Most warnings appended in one tick: a backlog (after a long outage) is
/// worked off over several ticks instead of in one long burst.
pub const TICK_WARNINGS_MAX: usize = 10_000;

/// Where the time comes from.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that follows tokio's: `origin` at the moment it was made, then
/// as much later as tokio's clock moved (paused and advanced in tests).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `origin` now. Make it inside the runtime whose
    /// clock it follows.
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        Self {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.origin + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX)
    }
}

/// Which warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Approaching,
    Passed,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Self::Approaching => b'a',
            Self::Passed => b'p',
        }
    }
}

/// The id of the warning of `kind` about `case`'s `deadline`: the same for
/// every watcher, every time.
pub fn warning_id(case: ConcernId, deadline: DateTime<Utc>, passed: bool) -> Uuid {
    let kind = if passed {
        Kind::Passed
    } else {
        Kind::Approaching
    };
    id_of(case, deadline, kind)
}

fn id_of(case: ConcernId, deadline: DateTime<Utc>, kind: Kind) -> Uuid {
    let mut name = Vec::with_capacity(25);
    name.extend_from_slice(case.0.as_bytes());
    name.extend_from_slice(&deadline.timestamp_micros().to_be_bytes());
    name.push(kind.byte());
    Uuid::new_v5(&WATCHER_NAMESPACE, &name)
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchReport {
    /// Ticks so far.
    pub ticks: u64,
    /// The clock's reading at the last tick.
    pub at: Option<DateTime<Utc>>,
    /// Warnings appended by the last tick.
    pub appended: u64,
    /// Warnings the last tick found already in the log.
    pub already: u64,
    /// Why the last tick stopped early, if it did (it retries next tick).
    pub error: Option<String>,
}

/// What a tick reads and writes.
pub(crate) struct Watcher {
    pub log: SledLog,
    pub policy: casebook_domain::Policy,
    pub cases: Arc<crate::worker::Slot<Published>>,
    pub figures: Arc<crate::worker::Slot<Published>>,
    /// Warnings known to be in the log, so that a tick does not resend
    /// them; pruned to the deadlines still open.
    pub given: HashSet<Uuid>,
}

impl Watcher {
    /// Looks once at `now` and appends the warnings that are due.
    pub async fn tick(&mut self, now: DateTime<Utc>, report: &mut WatchReport) -> Result<()> {
        let due = self.due(now)?;
        let mut still_open = HashSet::with_capacity(due.len());
        for (row, kind) in due {
            let Some(deadline) = row.concern.deadline else {
                continue;
            };
            let id = id_of(row.concern.id, deadline, kind);
            still_open.insert(id);
            if self.given.contains(&id) {
                continue;
            }
            if self.append(&row, deadline, kind, id).await? {
                report.appended += 1;
            } else {
                report.already += 1;
            }
            self.given.insert(id);
        }
        self.given.retain(|id| still_open.contains(id));
        Ok(())
    }

    /// The warnings due at `now`, oldest deadline first.
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(CaseRow, Kind)>> {
        let window_max = [
            casebook_domain::Priority::Urgent,
            casebook_domain::Priority::High,
            casebook_domain::Priority::Normal,
            casebook_domain::Priority::Low,
        ]
        .map(|p| self.policy.due_soon_hours.get(p))
        .into_iter()
        .max()
        .unwrap_or(0);
        let horizon = now + TimeDelta::hours(i64::from(window_max)) + TimeDelta::microseconds(1);
        let figures_tree = self.figures.serving().tree();
        let cases_tree = self.cases.serving().tree();
        let mut out = Vec::new();
        for root in units::roots(&figures_tree, FIGURES)? {
            for (case, deadline) in figures::deadlines_before(&figures_tree, root, horizon)? {
                let Some(row) = cases::get(&cases_tree, case)? else {
                    continue;
                };
                if row.concern.deadline != Some(deadline) {
                    continue; // the views disagree for a moment; next tick
                }
                let kinds: &[Kind] = match self.policy.deadline_status(&row.concern, now) {
                    DeadlineStatus::DueSoon => &[Kind::Approaching],
                    DeadlineStatus::Overdue => &[Kind::Approaching, Kind::Passed],
                    _ => &[],
                };
                for kind in kinds {
                    out.push((row.clone(), *kind));
                }
                if out.len() >= TICK_WARNINGS_MAX {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Appends one warning; `false` if the log already had it.
    async fn append(
        &self,
        row: &CaseRow,
        deadline: DateTime<Utc>,
        kind: Kind,
        id: Uuid,
    ) -> Result<bool> {
        let c = &row.concern;
        let handling = c.handling_unit_id;
        let notify = units::node(&self.cases.serving().tree(), CASES, handling)?
            .and_then(|n| n.parent)
            .unwrap_or(handling);
        let (payload, occurred_at) = match kind {
            Kind::Approaching => {
                let window = self.policy.due_soon_hours.get(c.priority);
                let at = deadline - TimeDelta::hours(i64::from(window));
                (
                    Payload::DeadlineApproaching(DeadlineApproaching {
                        deadline,
                        handling_unit_id: handling,
                        notify_unit_id: notify,
                    }),
                    at,
                )
            }
            Kind::Passed => (
                Payload::DeadlinePassed(DeadlinePassed {
                    deadline,
                    handling_unit_id: handling,
                    notify_unit_id: notify,
                }),
                deadline,
            ),
        };
        let event = new_event(id, occurred_at, payload)?;
        let stream = casebook_domain::StreamId::Concern(c.id).name();
        match self
            .log
            .append(&stream, ExpectedRevision::Any, vec![event])
            .await
        {
            Ok(outcome) => Ok(outcome.status == casebook_log::AppendStatus::Appended),
            Err(LogError::IdempotencyConflict { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }
}

fn new_event(id: Uuid, occurred_at: DateTime<Utc>, payload: Payload) -> Result<NewEvent> {
    let event = Event {
        actor: WATCHER_ACTOR,
        occurred_at,
        recorded_at: occurred_at,
        payload,
    };
    let record = to_record(&event)?;
    Ok(NewEvent {
        id,
        event_type: record.event_type,
        schema_version: record.schema_version,
        data: record.data,
        metadata: Metadata {
            actor: WATCHER_ACTOR.0.to_string(),
            correlation_id: None,
            causation_id: None,
            occurred_at,
        },
    })
}

/// Runs `watcher` every `interval` (on tokio's clock; zero means "as
/// often as possible") until `shutdown`, publishing
/// each tick's report. The first tick is at once.
pub(crate) async fn run(
    mut watcher: Watcher,
    clock: Arc<dyn Clock>,
    interval: Duration,
    reports: watch::Sender<WatchReport>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = tokio::time::Instant::now();
    let mut ticks = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        ticks += 1;
        let now = clock.now();
        let mut report = WatchReport {
            ticks,
            at: Some(now),
            ..WatchReport::default()
        };
        if let Err(err) = watcher.tick(now, &mut report).await {
            tracing::warn!(error = %err, "deadline watcher: tick stopped early");
            report.error = Some(err.to_string());
        }
        reports.send_replace(report);
        // The next boundary after now: a late tick skips the missed ones.
        let now = tokio::time::Instant::now();
        while next <= now && !interval.is_zero() {
            next += interval;
        }
    }
}
