//! Projection lag under a steady write load: one event per append at a
//! fixed rate, and for each the time from its acknowledgement until every
//! view has applied it (what a client doing read-your-writes waits).

use super::fill::History;
use crate::error::{BenchError, Result};
use crate::latency::{Latencies, Percentiles};
use casebook_log::SledLog;
use casebook_projections::testkit::appends;
use casebook_projections::Projections;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long one append may wait for the views before the run is broken.
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the lag phase measured.
#[derive(Debug, Clone, Copy)]
pub struct LagFigures {
    /// Appends measured.
    pub count: u64,
    /// Their lags.
    pub percentiles: Percentiles,
}

/// Appends the history's next events at `per_s` appends a second for
/// `duration`, measuring each one's lag.
pub async fn run(
    log: &SledLog,
    projections: &Projections,
    history: &mut History,
    duration: Duration,
    per_s: u64,
) -> Result<LagFigures> {
    let appends_total = per_s.saturating_mul(duration.as_secs().max(1));
    let events = history.next(usize::try_from(appends_total).unwrap_or(usize::MAX));
    // One stream's consecutive events per append, in history order.
    let mut parts = appends(&events, 1).into_iter();
    let (sent, mut acked) = mpsc::unbounded_channel::<(u64, Instant)>();
    let waiter = {
        let projections = projections.clone();
        tokio::spawn(async move {
            let mut latencies = Latencies::new()?;
            while let Some((position, at)) = acked.recv().await {
                projections.wait_for(position, WAIT_TIMEOUT).await?;
                latencies.record(at.elapsed());
            }
            Ok::<_, BenchError>(latencies)
        })
    };
    let mut ticks =
        tokio::time::interval(Duration::from_secs(1) / u32::try_from(per_s.max(1)).unwrap_or(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..appends_total {
        ticks.tick().await;
        let Some(part) = parts.next() else { break };
        let outcome = log.append_multi(part).await?;
        let _ = sent.send((outcome.last_position(), Instant::now()));
    }
    drop(sent);
    let latencies = waiter.await??;
    Ok(LagFigures {
        count: latencies.count(),
        percentiles: latencies.percentiles(),
    })
}
