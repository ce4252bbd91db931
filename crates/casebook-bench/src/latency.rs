//! Latency recording for the benchmarks: one histogram per writer, merged at
//! the end, read out as p50/p99/p99.9 in milliseconds.
//!
//! hdrhistogram keeps the tail exact to three significant digits at a fixed
//! memory cost, whatever the number of samples, so every operation is
//! recorded (no sampling).

use crate::error::{BenchError, Result};
use hdrhistogram::Histogram;
use std::time::Duration;

/// Smallest latency recorded, in microseconds (the histogram's unit).
const LATENCY_US_MIN: u64 = 1;
/// Largest latency recorded, in microseconds: one minute. Anything longer is
/// clamped to it; no configuration runs that long.
const LATENCY_US_MAX: u64 = 60_000_000;
/// Significant digits kept: 0.1 % resolution, enough for p99.9.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Microseconds per millisecond, for the read-out.
const US_PER_MS: f64 = 1000.0;

/// Latencies of one writer, or of all writers merged.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

/// The percentiles the report shows, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
}

impl Latencies {
    /// An empty recorder.
    pub fn new() -> Result<Self> {
        let histogram =
            Histogram::new_with_bounds(LATENCY_US_MIN, LATENCY_US_MAX, SIGNIFICANT_DIGITS)
                .map_err(|err| BenchError::Histogram(err.to_string()))?;
        Ok(Latencies { histogram })
    }

    /// Records one operation's latency (clamped to the recordable range).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(LATENCY_US_MAX);
        self.histogram
            .saturating_record(micros.clamp(LATENCY_US_MIN, LATENCY_US_MAX));
    }

    /// Adds another recorder's samples to this one.
    pub fn merge(&mut self, other: &Latencies) -> Result<()> {
        self.histogram
            .add(&other.histogram)
            .map_err(|err| BenchError::Histogram(err.to_string()))
    }

    /// Number of samples recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// p50, p99 and p99.9 in milliseconds (zeros if nothing was recorded).
    pub fn percentiles(&self) -> Percentiles {
        let at = |quantile: f64| self.histogram.value_at_quantile(quantile) as f64 / US_PER_MS;
        Percentiles {
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
        }
    }
}
