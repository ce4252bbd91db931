//! Sign-in names and passwords for the web pages, stored as argon2id hashes.
//!
//! Like tokens, passwords are not domain facts and must really be gone when
//! changed, so they live in the `accounts` tree of the token database
//! (`<data>/auth`), never in the log that auditors export. Each person has
//! at most one username, and each username belongs to one person. Setting a
//! password (CLI: `casebook user set-password`, or the demo) hashes it with
//! argon2id and a random salt; nothing else of it is kept.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use casebook_domain::PersonId;
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::tokens::TokenStore;

/// Shortest password: ten characters keep an offline guess of a stolen
/// hash expensive even with argon2's cost.
pub const PASSWORD_CHARS_MIN: usize = 10;
/// Longest password: argon2 hashes any length, but a bound keeps one
/// sign-in from costing more than another.
pub const PASSWORD_BYTES_MAX: usize = 1_024;
/// Shortest username.
pub const USERNAME_CHARS_MIN: usize = 3;
/// Longest username.
pub const USERNAME_CHARS_MAX: usize = 64;
/// Bytes of salt per hash (argon2's recommended 16).
const SALT_BYTES: usize = 16;

/// Key prefix of username → account records.
const BY_NAME: &[u8] = b"u/";
/// Key prefix of person → username records.
const BY_PERSON: &[u8] = b"p/";

/// What is kept of an account: never the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The sign-in name (lower case).
    pub username: String,
    /// The person it signs in as.
    pub person_id: PersonId,
    /// The argon2id hash in PHC string format (salt and parameters inside).
    pub hash: String,
    /// When the password was last set.
    pub set_at: DateTime<Utc>,
}

/// The account store, over the `accounts` tree of the token database.
#[derive(Clone, Debug)]
pub struct Accounts {
    tokens: TokenStore,
}

/// A username as stored: trimmed, lower case; refused unless it is 3–64
/// characters of `a-z`, `0-9`, `.`, `_`, `-`.
pub fn normalize_username(username: &str) -> Result<String, ApiError> {
    let name = username.trim().to_lowercase();
    let length = name.chars().count();
    if !(USERNAME_CHARS_MIN..=USERNAME_CHARS_MAX).contains(&length) {
        return Err(ApiError::validation(
            "username",
            format!("must be {USERNAME_CHARS_MIN} to {USERNAME_CHARS_MAX} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !name.chars().all(allowed) {
        return Err(ApiError::validation(
            "username",
            "only letters a-z, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(name)
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(ApiError::validation(
            "password",
            format!("must be at least {PASSWORD_CHARS_MIN} characters"),
        ));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(ApiError::validation(
            "password",
            format!("must be at most {PASSWORD_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

fn storage(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("account store: {error}"))
}

fn key(prefix: &[u8], part: &[u8]) -> Vec<u8> {
    [prefix, part].concat()
}

/// Hashes a password with argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; SALT_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| ApiError::Internal(format!("random source: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(storage)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(storage)
}

/// Characters of a generated password (demo and first passwords): 16 from
/// 32 symbols is 80 bits.
const GENERATED_PASSWORD_CHARS: usize = 16;
/// Letters and digits that cannot be mistaken for one another when read
/// aloud or off paper (no 0/o, 1/l/i).
const PASSWORD_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";

/// A random password of [`GENERATED_PASSWORD_CHARS`] unambiguous characters.
pub fn random_password() -> Result<String, ApiError> {
    let mut bytes = [0u8; GENERATED_PASSWORD_CHARS];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("random source: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(PASSWORD_ALPHABET[usize::from(*b) % PASSWORD_ALPHABET.len()]))
        .collect())
}

/// Whether `password` matches the stored hash.
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of nothing anyone types, checked when the username is unknown so
/// that an unknown name costs as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that no account has").unwrap_or_default())
}

impl Accounts {
    /// The accounts kept beside `tokens`.
    pub fn new(tokens: &TokenStore) -> Self {
        Self {
            tokens: tokens.clone(),
        }
    }

    fn tree(&self) -> &sled::Tree {
        self.tokens.accounts_tree()
    }

    /// Gives `person` the username and password (replacing the person's
    /// previous username and password). Refuses a username that belongs to
    /// someone else, and passwords shorter than ten characters. Durable when
    /// it returns. Hashing takes tens of milliseconds: call it off the
    /// async threads in a server.
    pub async fn set_password(
        &self,
        username: &str,
        person_id: PersonId,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Account, ApiError> {
        let username = normalize_username(username)?;
        check_password(password)?;
        if let Some(existing) = self.find(&username)? {
            if existing.person_id != person_id {
                return Err(ApiError::Conflict {
                    detail: format!("the username {username} belongs to another person"),
                });
            }
        }
        let account = Account {
            username: username.clone(),
            person_id,
            hash: hash_password(password)?,
            set_at: now,
        };
        let mut batch = sled::Batch::default();
        if let Some(old) = self.username_of(person_id)? {
            if old != username {
                batch.remove(key(BY_NAME, old.as_bytes()));
            }
        }
        let record = serde_json::to_vec(&account).map_err(storage)?;
        batch.insert(key(BY_NAME, username.as_bytes()), record);
        batch.insert(key(BY_PERSON, person_id.0.as_bytes()), username.as_bytes());
        self.tree().apply_batch(batch).map_err(storage)?;
        self.tokens.flush().await.map_err(storage)?;
        Ok(account)
    }

    /// The account of a username, if any.
    pub fn find(&self, username: &str) -> Result<Option<Account>, ApiError> {
        let Ok(username) = normalize_username(username) else {
            return Ok(None);
        };
        match self
            .tree()
            .get(key(BY_NAME, username.as_bytes()))
            .map_err(storage)?
        {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(storage)?)),
            None => Ok(None),
        }
    }

    /// The username of a person, if they have one.
    pub fn username_of(&self, person_id: PersonId) -> Result<Option<String>, ApiError> {
        let stored = self
            .tree()
            .get(key(BY_PERSON, person_id.0.as_bytes()))
            .map_err(storage)?;
        Ok(stored.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The person a username and password sign in as, or `None` if either
    /// is wrong (which one is not told). Costs one argon2 check either way.
    pub fn verify(&self, username: &str, password: &str) -> Result<Option<PersonId>, ApiError> {
        if password.len() > PASSWORD_BYTES_MAX {
            return Ok(None);
        }
        match self.find(username)? {
            Some(account) if password_matches(password, &account.hash) => {
                Ok(Some(account.person_id))
            }
            Some(_) => Ok(None),
            None => {
                let _ = password_matches(password, decoy_hash());
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use uuid::Uuid;

    fn store() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let tokens = TokenStore::open(&dir.path().join("auth")).unwrap();
        (dir, Accounts::new(&tokens))
    }

    #[tokio::test]
    async fn a_set_password_signs_in_and_nothing_else_does() {
        let (_dir, accounts) = store();
        let person = PersonId(Uuid::new_v4());
        let account = accounts
            .set_password("Lan.Nguyen", person, "mật khẩu dài đủ", Utc::now())
            .await
            .unwrap();
        assert_eq!(account.username, "lan.nguyen");
        assert!(!account.hash.contains("mật khẩu"), "only a hash is kept");
        assert!(account.hash.starts_with("$argon2id$"));
        assert_eq!(
            accounts.verify("LAN.NGUYEN", "mật khẩu dài đủ").unwrap(),
            Some(person)
        );
        assert_eq!(
            accounts.verify("lan.nguyen", "mat khau dai du").unwrap(),
            None
        );
        assert_eq!(accounts.verify("someone", "mật khẩu dài đủ").unwrap(), None);
    }

    #[tokio::test]
    async fn a_new_username_replaces_the_old_and_names_are_not_shared() {
        let (_dir, accounts) = store();
        let (a, b) = (PersonId(Uuid::new_v4()), PersonId(Uuid::new_v4()));
        accounts
            .set_password("first", a, "password-one", Utc::now())
            .await
            .unwrap();
        accounts
            .set_password("second", a, "password-two", Utc::now())
            .await
            .unwrap();
        assert_eq!(accounts.verify("first", "password-one").unwrap(), None);
        assert_eq!(accounts.verify("second", "password-two").unwrap(), Some(a));
        assert_eq!(accounts.username_of(a).unwrap().as_deref(), Some("second"));
        let taken = accounts
            .set_password("second", b, "password-three", Utc::now())
            .await;
        assert!(matches!(taken, Err(ApiError::Conflict { .. })), "{taken:?}");
        assert_eq!(accounts.verify("second", "password-two").unwrap(), Some(a));
    }

    #[tokio::test]
    async fn bad_usernames_and_short_passwords_are_refused_and_change_nothing() {
        let (_dir, accounts) = store();
        let person = PersonId(Uuid::new_v4());
        for (username, password, field) in [
            ("ab", "long enough password", "username"),
            ("has space", "long enough password", "username"),
            ("lan", "short", "password"),
        ] {
            let refused = accounts
                .set_password(username, person, password, Utc::now())
                .await;
            match refused {
                Err(ApiError::Validation { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{username}: {other:?}"),
            }
        }
        assert_eq!(accounts.username_of(person).unwrap(), None);
    }
}
