//! Prometheus metrics: request latency by route, appends, sync batch sizes,
//! the log's group commits and syncs
//! how far the directory trails the log, and each view's lag and state.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, IntGaugeVec,
    Opts, Registry,
};

use crate::error::ApiError;
use crate::state::AppState;

/// Latency buckets in seconds: from a cached read (1 ms) to the timeout.
const LATENCY_BUCKETS_S: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Sync batch-size buckets, up to the batch limit.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// The service's metrics, in their own registry (no global state).
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Request latency by method, route template and status.
    pub requests: HistogramVec,
    /// Commands that appended new events.
    pub appends: IntCounter,
    /// Commands in each sync batch.
    pub sync_batch: Histogram,
    /// Log positions the directory has not folded yet.
    pub directory_lag: IntGauge,
    /// The log's own counters, read when metrics are rendered.
    log: LogGauges,
    /// Each view's lag and state, read when metrics are rendered.
    views: ViewGauges,
}

/// Each view's lag behind the log's head and whether it stopped, labelled
/// by view.
#[derive(Clone, Debug)]
struct ViewGauges {
    lag_events: IntGaugeVec,
    lag_seconds: GaugeVec,
    stopped: IntGaugeVec,
}

impl ViewGauges {
    fn new(registry: &Registry) -> Result<Self, ApiError> {
        let lag_events = IntGaugeVec::new(
            Opts::new(
                "casebook_projection_lag_events",
                "Durable events a view has not applied yet",
            ),
            &["view"],
        )
        .map_err(internal)?;
        let lag_seconds = GaugeVec::new(
            Opts::new(
                "casebook_projection_lag_seconds",
                "Age of the oldest event a view has not applied yet (0 when caught up)",
            ),
            &["view"],
        )
        .map_err(internal)?;
        let stopped = IntGaugeVec::new(
            Opts::new(
                "casebook_projection_stopped",
                "1 when a view stopped on an event it could not apply (see /readyz)",
            ),
            &["view"],
        )
        .map_err(internal)?;
        registry
            .register(Box::new(lag_events.clone()))
            .map_err(internal)?;
        registry
            .register(Box::new(lag_seconds.clone()))
            .map_err(internal)?;
        registry
            .register(Box::new(stopped.clone()))
            .map_err(internal)?;
        Ok(Self {
            lag_events,
            lag_seconds,
            stopped,
        })
    }
}

/// The event log's counters ([`casebook_log::LogStats`]) as gauges.
#[derive(Clone, Debug)]
struct LogGauges {
    durable_events: IntGauge,
    appended_events: IntGauge,
    group_commits: IntGauge,
    syncs: IntGauge,
}

impl LogGauges {
    fn new(registry: &Registry) -> Result<Self, ApiError> {
        let gauge = |name: &str, help: &str| -> Result<IntGauge, ApiError> {
            let gauge = IntGauge::new(name, help).map_err(internal)?;
            registry
                .register(Box::new(gauge.clone()))
                .map_err(internal)?;
            Ok(gauge)
        };
        Ok(Self {
            durable_events: gauge("casebook_log_events", "Durable events in the log")?,
            appended_events: gauge(
                "casebook_log_appended_events",
                "Events appended since start",
            )?,
            group_commits: gauge("casebook_log_group_commits", "Group commits since start")?,
            syncs: gauge("casebook_log_syncs", "Flush-and-fsync rounds since start")?,
        })
    }

    fn set(&self, stats: &casebook_log::LogStats) {
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.durable_events.set(as_gauge(stats.durable_events));
        self.appended_events.set(as_gauge(stats.appended_events));
        self.group_commits.set(as_gauge(stats.groups));
        self.syncs.set(as_gauge(stats.syncs));
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, ApiError> {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new("casebook_http_request_duration_seconds", "Request latency")
                .buckets(LATENCY_BUCKETS_S.to_vec()),
            &["method", "route", "status"],
        )
        .map_err(internal)?;
        let appends = IntCounter::new("casebook_appends_total", "Commands that appended events")
            .map_err(internal)?;
        let sync_batch = Histogram::with_opts(
            HistogramOpts::new("casebook_sync_batch_commands", "Commands per sync batch")
                .buckets(BATCH_BUCKETS.to_vec()),
        )
        .map_err(internal)?;
        let directory_lag = IntGauge::new(
            "casebook_directory_lag_events",
            "Log positions the directory has not folded yet",
        )
        .map_err(internal)?;
        registry
            .register(Box::new(requests.clone()))
            .map_err(internal)?;
        registry
            .register(Box::new(appends.clone()))
            .map_err(internal)?;
        registry
            .register(Box::new(sync_batch.clone()))
            .map_err(internal)?;
        registry
            .register(Box::new(directory_lag.clone()))
            .map_err(internal)?;
        let log = LogGauges::new(&registry)?;
        let views = ViewGauges::new(&registry)?;
        Ok(Self {
            registry,
            requests,
            appends,
            sync_batch,
            directory_lag,
            log,
            views,
        })
    }

    /// Sets each view's gauges from its status.
    pub fn set_views(&self, views: &[casebook_projections::ViewStatus]) {
        for view in views {
            let label = [view.name.as_str()];
            let lag = i64::try_from(view.lag_events).unwrap_or(i64::MAX);
            self.views.lag_events.with_label_values(&label).set(lag);
            self.views
                .lag_seconds
                .with_label_values(&label)
                .set(view.lag_ms as f64 / 1000.0);
            let stopped = matches!(view.health, casebook_projections::Health::Failed { .. });
            self.views
                .stopped
                .with_label_values(&label)
                .set(i64::from(stopped));
        }
    }

    /// The text exposition of every metric, with the log's counters as
    /// they are now.
    pub fn render(&self, log: &casebook_log::LogStats) -> Result<String, ApiError> {
        self.log.set(log);
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(internal)?;
        String::from_utf8(buffer).map_err(internal)
    }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("metrics: {error}"))
}

/// Middleware: observes every request's latency under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics()
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
