//! What every handler shares: the log, the directory, the policy, the
//! tokens, the limits, the metrics and the shutdown signal.
//!
//! The [`Directory`] (units, people, households) is a projection kept in
//! memory: a task follows the whole log and folds the events of those three
//! categories. Commands that change the structure wait until it has folded
//! their own events, so the next command sees them.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use casebook_domain::{Directory, Policy, StreamId};
use casebook_log::{EventStore, SledLog, Subscription, SubscriptionFilter};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::codec::decode;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::tokens::TokenStore;

/// Events the directory folds per read while catching up: one log page.
const DIRECTORY_BATCH_EVENTS: usize = 256;

/// The state shared by every handler. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    log: SledLog,
    /// Units, people and households; written only by the directory task.
    directory: Arc<RwLock<Directory>>,
    /// How many log positions the directory task has gone through.
    directory_len: watch::Receiver<u64>,
    policy: Policy,
    config: ApiConfig,
    tokens: TokenStore,
    metrics: Metrics,
    /// One bucket per token: a leaked token cannot swamp the server.
    limiter: DefaultKeyedRateLimiter<Uuid>,
    /// Cancelled on SIGINT/SIGTERM: live feeds end so the server can drain.
    shutdown: CancellationToken,
}

impl AppState {
    /// Folds the whole directory from the log, then starts the task that
    /// keeps it current. Answers the state and that task, which ends when
    /// `shutdown` is cancelled.
    pub async fn start(
        log: SledLog,
        tokens: TokenStore,
        policy: Policy,
        config: ApiConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, JoinHandle<()>), ApiError> {
        let directory = Arc::new(RwLock::new(Directory::new()));
        let mut subscription = Subscription::new(log.clone(), SubscriptionFilter::All, None);
        let (len_tx, len_rx) = watch::channel(0);
        catch_up(&mut subscription, &directory, &len_tx).await?;
        let task = tokio::spawn(follow(
            subscription,
            Arc::clone(&directory),
            len_tx,
            shutdown.clone(),
        ));
        let quota = Quota::per_second(nonzero(config.rate_per_second))
            .allow_burst(nonzero(config.rate_burst));
        let state = Self {
            inner: Arc::new(Inner {
                log,
                directory,
                directory_len: len_rx,
                policy,
                tokens,
                metrics: Metrics::new()?,
                limiter: RateLimiter::keyed(quota),
                config,
                shutdown,
            }),
        };
        Ok((state, task))
    }

    /// The event log.
    pub fn log(&self) -> &SledLog {
        &self.inner.log
    }

    /// The directory, for reading.
    pub fn directory(&self) -> Result<RwLockReadGuard<'_, Directory>, ApiError> {
        self.inner
            .directory
            .read()
            .map_err(|_| ApiError::Internal("the directory lock is poisoned".into()))
    }

    /// The deadline policy and taxonomy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The limits.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The token store.
    pub fn tokens(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The per-token rate limiter.
    pub fn limiter(&self) -> &DefaultKeyedRateLimiter<Uuid> {
        &self.inner.limiter
    }

    /// The shutdown signal.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// How many log positions the directory has gone through.
    pub fn directory_len(&self) -> u64 {
        *self.inner.directory_len.borrow()
    }

    /// Waits, at most `timeout`, until the directory has folded `position`.
    pub async fn wait_directory(&self, position: u64, timeout: Duration) -> Result<(), ApiError> {
        let mut len = self.inner.directory_len.clone();
        let reached = tokio::time::timeout(timeout, len.wait_for(|len| *len > position)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::Unavailable {
                detail: format!("the directory has not reached position {position} yet"),
            }),
        }
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// Folds everything durable now.
async fn catch_up(
    subscription: &mut Subscription<SledLog>,
    directory: &RwLock<Directory>,
    len: &watch::Sender<u64>,
) -> Result<(), ApiError> {
    loop {
        let events = subscription.next_available(DIRECTORY_BATCH_EVENTS).await?;
        if events.is_empty() {
            return Ok(());
        }
        for recorded in &events {
            fold_one(directory, recorded)?;
        }
        if let Some(last) = events.last() {
            len.send_replace(last.position + 1);
        }
    }
}

/// Folds one record into the directory if it is a unit, person or household event.
fn fold_one(
    directory: &RwLock<Directory>,
    recorded: &casebook_log::RecordedEvent,
) -> Result<(), ApiError> {
    let Ok(stream) = StreamId::parse(&recorded.stream) else {
        return Ok(());
    };
    if matches!(stream, StreamId::Concern(_)) {
        return Ok(());
    }
    let event = decode(recorded)?;
    directory
        .write()
        .map_err(|_| ApiError::Internal("the directory lock is poisoned".into()))?
        .apply(stream, &event);
    Ok(())
}

/// Follows the log until shutdown.
async fn follow(
    mut subscription: Subscription<SledLog>,
    directory: Arc<RwLock<Directory>>,
    len: watch::Sender<u64>,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return,
            next = subscription.next() => next,
        };
        let outcome = next
            .map_err(ApiError::from)
            .and_then(|recorded| fold_one(&directory, &recorded).map(|()| recorded.position));
        match outcome {
            Ok(position) => {
                len.send_replace(position + 1);
            }
            Err(error) => {
                tracing::error!(%error, "the directory stopped following the log");
                return;
            }
        }
    }
}

/// Whether the log is still open (for `/readyz`).
pub fn log_len(log: &SledLog) -> u64 {
    *log.durable_len().borrow()
}
