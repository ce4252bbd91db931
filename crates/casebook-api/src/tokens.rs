//! Bearer tokens: random 256-bit secrets, stored only as SHA-256 hashes.
//!
//! Tokens are not domain facts, and a revoked token must really be gone, so
//! they live beside the log in their own small sled database
//! (`<data>/auth`), not in the append-only log that auditors export. The
//! secret is shown once, when created; only its hash is kept, so a copy of
//! the data directory gives nobody a working token.
//!
//! Every request looks its token up, so the records are also kept in
//! memory (a few hundred at most), loaded when the store opens and changed
//! with the tree: a lookup never waits on sled, whose reads all stop while
//! the log writes a group. One process owns the store (sled locks it), so
//! the copy never misses a change made elsewhere.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use casebook_domain::PersonId;
use chrono::{DateTime, TimeDelta, Utc};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// Bytes of randomness in a token: 256 bits, beyond any guessing.
const TOKEN_RANDOM_BYTES: usize = 32;

/// Every secret starts with this, so that a leaked one is easy to grep for.
const TOKEN_PREFIX: &str = "cbk_";

/// Longest label: a note on what the token is for.
pub const TOKEN_LABEL_CHARS_MAX: usize = 200;

/// Everything that can go wrong with the token store.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The store failed to read or write. HTTP 500.
    #[error("token store: {0}")]
    Storage(#[from] sled::Error),
    /// A stored record does not parse. HTTP 500.
    #[error("token store record: {0}")]
    Record(#[from] serde_json::Error),
    /// The system's random source failed. HTTP 500.
    #[error("random source: {0}")]
    Random(String),
}

/// What is kept of a token: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenRecord {
    /// Its id, to list and revoke it.
    pub token_id: Uuid,
    /// The person it acts for.
    #[schema(value_type = Uuid)]
    pub person_id: PersonId,
    /// What it is for.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token works at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// The token store.
#[derive(Clone, Debug)]
pub struct TokenStore {
    db: sled::Db,
    /// Hash of the secret → record.
    by_hash: sled::Tree,
    /// The same, in memory, for lookups.
    known: Arc<RwLock<HashMap<[u8; 32], TokenRecord>>>,
    /// The web pages' sign-in names and argon2 password hashes (see
    /// `web::accounts`): kept here because one sled database may be opened
    /// only once per process.
    accounts: sled::Tree,
    /// The web pages' sessions, by hash of the cookie's secret (see `web::session`).
    sessions: sled::Tree,
}

fn hash_of(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl TokenStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, TokenError> {
        let db = casebook_log::open_sled_when_released(&sled::Config::new().path(dir))?;
        let by_hash = db.open_tree(b"tokens")?;
        let accounts = db.open_tree(b"accounts")?;
        let sessions = db.open_tree(b"sessions")?;
        let mut known = HashMap::new();
        for entry in by_hash.iter() {
            let (key, value) = entry?;
            if let Ok(hash) = <[u8; 32]>::try_from(key.as_ref()) {
                known.insert(hash, serde_json::from_slice(&value)?);
            }
        }
        Ok(Self {
            db,
            by_hash,
            known: Arc::new(RwLock::new(known)),
            accounts,
            sessions,
        })
    }

    /// The tree of web sign-in names and password hashes.
    pub fn accounts_tree(&self) -> &sled::Tree {
        &self.accounts
    }

    /// The tree of web sessions.
    pub fn sessions_tree(&self) -> &sled::Tree {
        &self.sessions
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), TokenError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Makes a token for `person_id`, valid for `lifetime`; answers the
    /// secret (shown once) and the record.
    pub async fn create(
        &self,
        person_id: PersonId,
        label: &str,
        lifetime: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<(String, TokenRecord), TokenError> {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut random)
            .map_err(|e| TokenError::Random(e.to_string()))?;
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(random));
        let record = TokenRecord {
            token_id: Uuid::new_v4(),
            person_id,
            label: label.to_owned(),
            created_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        let hash = hash_of(&secret);
        self.by_hash.insert(hash, serde_json::to_vec(&record)?)?;
        self.db.flush_async().await?;
        self.remember(hash, record.clone());
        Ok((secret, record))
    }

    /// The record of a secret, if it exists (valid or not).
    pub fn find(&self, secret: &str) -> Result<Option<TokenRecord>, TokenError> {
        let known = match self.known.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(known.get(&hash_of(secret)).cloned())
    }

    fn remember(&self, hash: [u8; 32], record: TokenRecord) {
        match self.known.write() {
            Ok(mut guard) => guard.insert(hash, record),
            Err(poisoned) => poisoned.into_inner().insert(hash, record),
        };
    }

    /// Every token, oldest first.
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        let mut records = self
            .by_hash
            .iter()
            .values()
            .map(|value| Ok(serde_json::from_slice::<TokenRecord>(&value?)?))
            .collect::<Result<Vec<_>, TokenError>>()?;
        records.sort_by_key(|r| r.created_at);
        Ok(records)
    }

    /// Revokes a token by id; answers its record, or `None` if no such token.
    pub async fn revoke(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, TokenError> {
        for entry in self.by_hash.iter() {
            let (key, value) = entry?;
            let mut record: TokenRecord = serde_json::from_slice(&value)?;
            if record.token_id != token_id {
                continue;
            }
            record.revoked_at.get_or_insert(now);
            self.by_hash.insert(&key, serde_json::to_vec(&record)?)?;
            // Refused from now on, even before the revocation is durable.
            if let Ok(hash) = <[u8; 32]>::try_from(key.as_ref()) {
                self.remember(hash, record.clone());
            }
            self.db.flush_async().await?;
            return Ok(Some(record));
        }
        Ok(None)
    }
}
