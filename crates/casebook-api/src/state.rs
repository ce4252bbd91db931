//! What every handler shares: the log, the directory, the views, the audit
//! tree, the policy, the tokens, the limits, the metrics and the shutdown
//! signal.
//!
//! The [`Directory`] (units, people, households) is a projection kept in
//! memory: a task follows the log and folds the events of those three
//! categories, read through the log's category indexes, so the concerns
//! (nearly every event) are never read for it. Commands that change the
//! structure wait until it has folded their own events, so the next
//! command sees them.

use crate::case_cache::CaseCache;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use casebook_audit::Audit;
use casebook_domain::{Directory, HouseholdId, Payload, PersonId, Policy, StreamId, UnitId};
use casebook_log::{EventStore, LogOptions, SledLog};
use casebook_privacy::{KeyStore, MasterKey, KEYS_DIR, MASTER_KEY_FILE};
use casebook_projections::{Projections, SystemClock, WATCH_INTERVAL};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::codec::decode_personal;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::tokens::TokenStore;

/// Log positions the directory reads through the category indexes at once:
/// bounds what one read holds in memory while it catches up.
const DIRECTORY_WINDOW_POSITIONS: u64 = 65_536;

/// The categories of the streams the directory folds; it never reads the
/// others (concerns: nearly every event of the log).
const DIRECTORY_CATEGORIES: [&str; 3] =
    [UnitId::CATEGORY, PersonId::CATEGORY, HouseholdId::CATEGORY];

/// The stores a server works on, opened by the caller (one process per
/// data directory): the log, the token store, the views over the log and
/// the audit tree over the log.
#[derive(Clone, Debug)]
pub struct Stores {
    /// The event log (`<data>/log`).
    pub log: SledLog,
    /// Token hashes (`<data>/auth`).
    pub tokens: TokenStore,
    /// The views (`<data>/views`), opened but not started.
    pub projections: Projections,
    /// The Merkle tree and signing key (`<data>/audit`).
    pub audit: Arc<Audit>,
    /// The keys that seal residents' personal data (`<data>/keys`).
    pub keys: Arc<KeyStore>,
}

impl Stores {
    /// Opens every store under `data_dir` with the standard layout, with
    /// the master key file in the data directory (made on first use); for
    /// tests and the defaults. See [`Stores::open_with_master`].
    pub fn open(data_dir: &std::path::Path, policy: Policy) -> Result<Self, ApiError> {
        let master = MasterKey::load_or_create(&data_dir.join(MASTER_KEY_FILE))
            .map_err(|e| ApiError::Internal(format!("the master key cannot be read: {e}")))?;
        Self::open_with_master(data_dir, policy, master, LogOptions::default())
    }

    /// Opens every store under `data_dir` with the standard layout; the
    /// key store's keys are wrapped by `master`, the log opened with
    /// `log_options` (its durability mode, its cache).
    pub fn open_with_master(
        data_dir: &std::path::Path,
        policy: Policy,
        master: MasterKey,
        log_options: LogOptions,
    ) -> Result<Self, ApiError> {
        let log = SledLog::open_with(data_dir.join("log"), log_options)?;
        let tokens = TokenStore::open(&data_dir.join("auth"))
            .map_err(|e| ApiError::Internal(format!("the token store cannot be opened: {e}")))?;
        let projections = Projections::open(log.clone(), data_dir, policy)
            .map_err(|e| ApiError::Internal(format!("the views cannot be opened: {e}")))?;
        let audit = Audit::open(&data_dir.join("audit"))
            .map_err(|e| ApiError::Internal(format!("the audit tree cannot be opened: {e}")))?;
        let keys = KeyStore::open(&data_dir.join(KEYS_DIR), master)
            .map_err(|e| ApiError::Internal(format!("the key store cannot be opened: {e}")))?;
        Ok(Self {
            log,
            tokens,
            projections,
            audit: Arc::new(audit),
            keys: Arc::new(keys),
        })
    }
}

/// The state shared by every handler. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    log: SledLog,
    /// The views that queries read (cases, figures, households, members, search).
    projections: Projections,
    /// The Merkle tree over the log and the key that signs its heads.
    audit: Arc<Audit>,
    /// The keys that seal personal data.
    keys: Arc<KeyStore>,
    /// The audit follower; it ends (after a flush) once `shutdown` is cancelled.
    audit_task: std::sync::Mutex<Option<JoinHandle<()>>>,
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
    /// Cases read recently, opened and folded.
    cases: CaseCache,
    /// Cancelled on SIGINT/SIGTERM: live feeds end so the server can drain.
    shutdown: CancellationToken,
}

impl AppState {
    /// Folds the whole directory from the log, then starts the task that
    /// keeps it current, the projection workers, the deadline watcher and
    /// the audit tree's follower. Answers the state and the directory task,
    /// which ends when `shutdown` is cancelled (call
    /// [`AppState::stop_workers`] after it to stop the others).
    pub async fn start(
        stores: Stores,
        policy: Policy,
        config: ApiConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, JoinHandle<()>), ApiError> {
        let Stores {
            log,
            tokens,
            projections,
            audit,
            keys,
        } = stores;
        projections.start();
        projections.watch_deadlines(SystemClock, WATCH_INTERVAL);
        let audit_task = spawn_audit_follower(Arc::clone(&audit), log.clone(), shutdown.clone());
        let directory = Arc::new(RwLock::new(Directory::new()));
        let (len_tx, len_rx) = watch::channel(0);
        catch_up(&log, log_len(&log), &directory, &keys, &len_tx).await?;
        let task = tokio::spawn(follow(
            log.clone(),
            Arc::clone(&directory),
            Arc::clone(&keys),
            len_tx,
            shutdown.clone(),
        ));
        let quota = Quota::per_second(nonzero(config.rate_per_second))
            .allow_burst(nonzero(config.rate_burst));
        let state = Self {
            inner: Arc::new(Inner {
                log,
                projections,
                audit,
                keys,
                audit_task: std::sync::Mutex::new(Some(audit_task)),
                directory,
                directory_len: len_rx,
                policy,
                tokens,
                metrics: Metrics::new()?,
                limiter: RateLimiter::keyed(quota),
                cases: CaseCache::default(),
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

    /// The views.
    pub fn projections(&self) -> &Projections {
        &self.inner.projections
    }

    /// Cases read recently, opened and folded.
    pub fn case_cache(&self) -> &CaseCache {
        &self.inner.cases
    }

    /// The keys that seal residents' personal data.
    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// The audit tree and signer.
    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// Stops the projection workers, the deadline watcher and (once
    /// `shutdown` is cancelled) the audit follower, waiting for them: what
    /// they applied is durable.
    pub async fn stop_workers(&self) {
        self.inner.projections.shutdown().await;
        let audit_task = match self.inner.audit_task.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = audit_task {
            let _ = task.await;
        }
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

/// Keeps the audit tree up with the log until shutdown, then flushes it.
/// A record that fails its check stops it, loudly: proofs then cover only
/// what was checked.
fn spawn_audit_follower(
    audit: Arc<Audit>,
    log: SledLog,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            followed = audit.follow(log) => {
                if let Err(error) = followed {
                    tracing::error!(%error, "the audit tree stopped following the log");
                }
            }
        }
        if let Err(error) = audit.tree().flush() {
            tracing::error!(%error, "the audit tree could not be flushed");
        }
    })
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// Folds every directory event below `head` that it has not folded yet, a
/// window of positions at a time, and marks each window as folded (every
/// position in it, whatever its category).
async fn catch_up(
    log: &SledLog,
    head: u64,
    directory: &RwLock<Directory>,
    keys: &KeyStore,
    len: &watch::Sender<u64>,
) -> Result<(), ApiError> {
    let mut from = *len.borrow();
    while from < head {
        let end = head.min(from.saturating_add(DIRECTORY_WINDOW_POSITIONS));
        let reader = log.clone();
        let events = tokio::task::spawn_blocking(move || {
            reader.read_categories_range(&DIRECTORY_CATEGORIES, from, end)
        })
        .await
        .map_err(|error| ApiError::Internal(format!("a directory read failed: {error}")))??;
        for recorded in &events {
            fold_one(directory, keys, recorded)?;
        }
        len.send_replace(end);
        from = end;
    }
    Ok(())
}

/// Folds one record into the directory if it is a unit, person or household
/// event, with households' personal data opened. An erasure destroys the
/// household's key as it is folded: the event is durable by then, and a
/// crash before the key was destroyed is made good at the next start.
fn fold_one(
    directory: &RwLock<Directory>,
    keys: &KeyStore,
    recorded: &casebook_log::RecordedEvent,
) -> Result<(), ApiError> {
    let Ok(stream) = StreamId::parse(&recorded.stream) else {
        return Ok(());
    };
    if matches!(stream, StreamId::Concern(_)) {
        return Ok(());
    }
    let event = decode_personal(recorded, keys)?;
    if let (StreamId::Household(id), Payload::PersonalDataErased(_)) = (&stream, &event.payload) {
        keys.forget(id.0)?;
    }
    directory
        .write()
        .map_err(|_| ApiError::Internal("the directory lock is poisoned".into()))?
        .apply(stream, &event);
    Ok(())
}

/// Follows the log until shutdown: each time the durable head moves, folds
/// the directory events up to it.
async fn follow(
    log: SledLog,
    directory: Arc<RwLock<Directory>>,
    keys: Arc<KeyStore>,
    len: watch::Sender<u64>,
    shutdown: CancellationToken,
) {
    let mut durable_len = log.durable_len();
    loop {
        // Marked seen before the read, so a commit after it wakes the wait.
        let head = *durable_len.borrow_and_update();
        if let Err(error) = catch_up(&log, head, &directory, &keys, &len).await {
            tracing::error!(%error, "the directory stopped following the log");
            return;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = durable_len.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether the log is still open (for `/readyz`).
pub fn log_len(log: &SledLog) -> u64 {
    *log.durable_len().borrow()
}
