//! Web sessions: a cookie holding a random secret, a record kept by the
//! secret's hash, and a CSRF token per session.
//!
//! The cookie (`cb_session`) is `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//! `Secure` when the request came over TLS (directly, or through a proxy
//! that says so with `X-Forwarded-Proto: https` or `Forwarded: proto=https`).
//! Only the SHA-256 hash of its secret is stored (in the `sessions` tree of
//! `<data>/auth`), so a copy of the data directory opens no session; the
//! record names the person and holds the session's CSRF token, which every
//! form carries as `_csrf` and every script sends as `X-CSRF-Token`. The
//! sign-in form, which has no session yet, is protected by a second cookie
//! whose value the form must repeat (double submit).
//!
//! A session lasts [`SESSION_HOURS`]; the roles are read from the
//! directory at each request, as for tokens, so a role ended a minute ago
//! no longer counts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use casebook_domain::PersonId;
use chrono::{DateTime, TimeDelta, Utc};
use governor::clock::Clock;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::TokenStore;
use crate::web::i18n::Lang;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cb_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "cb_signin";
/// The language cookie (not secret).
pub const LANG_COOKIE: &str = "cb_lang";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field forms send the CSRF token in.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a session lasts: a week, because members work offline for
/// days and their queued reports are sent under the session they made
/// them in; a phone is a personal device here.
pub const SESSION_HOURS: i64 = 7 * 24;
/// Expired sessions removed per new session, so the tree stays small
/// without a sweeper task.
const SWEEP_SESSIONS_MAX: usize = 64;
/// Bytes of randomness in a session secret and a CSRF token.
const SECRET_BYTES: usize = 32;

/// What is kept of a session: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Its id (rate limiting and logs).
    pub session_id: Uuid,
    /// The person signed in.
    pub person_id: PersonId,
    /// The token every form and script must send back.
    pub csrf: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// A random secret, hex.
pub fn random_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("random source: {e}")))?;
    Ok(hex::encode(bytes))
}

fn hash_of(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn storage(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("session store: {error}"))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session store, over the `sessions` tree of the token database.
#[derive(Clone, Debug)]
pub struct Sessions {
    tokens: TokenStore,
}

impl Sessions {
    /// The sessions kept beside `tokens`.
    pub fn new(tokens: &TokenStore) -> Self {
        Self {
            tokens: tokens.clone(),
        }
    }

    fn tree(&self) -> &sled::Tree {
        self.tokens.sessions_tree()
    }

    /// Opens a session for `person_id`; answers the cookie's secret and the record.
    pub async fn create(
        &self,
        person_id: PersonId,
        now: DateTime<Utc>,
    ) -> Result<(String, SessionRecord), ApiError> {
        self.sweep(now)?;
        let secret = random_secret()?;
        let record = SessionRecord {
            session_id: Uuid::new_v4(),
            person_id,
            csrf: random_secret()?,
            created_at: now,
            expires_at: now + TimeDelta::hours(SESSION_HOURS),
        };
        let bytes = serde_json::to_vec(&record).map_err(storage)?;
        self.tree()
            .insert(hash_of(&secret), bytes)
            .map_err(storage)?;
        self.tokens.flush().await.map_err(storage)?;
        Ok((secret, record))
    }

    /// The live session of a cookie secret, if any.
    pub fn find(
        &self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let Some(bytes) = self.tree().get(hash_of(secret)).map_err(storage)? else {
            return Ok(None);
        };
        let record: SessionRecord = serde_json::from_slice(&bytes).map_err(storage)?;
        Ok((now < record.expires_at).then_some(record))
    }

    /// Ends a session (sign-out).
    pub async fn end(&self, secret: &str) -> Result<(), ApiError> {
        self.tree().remove(hash_of(secret)).map_err(storage)?;
        self.tokens.flush().await.map_err(storage)
    }

    /// Removes a bounded number of expired sessions.
    fn sweep(&self, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut expired = Vec::new();
        for entry in self.tree().iter() {
            let (key, value) = entry.map_err(storage)?;
            let live = serde_json::from_slice::<SessionRecord>(&value)
                .is_ok_and(|record| now < record.expires_at);
            if !live {
                expired.push(key);
                if expired.len() == SWEEP_SESSIONS_MAX {
                    break;
                }
            }
        }
        for key in expired {
            self.tree().remove(key).map_err(storage)?;
        }
        Ok(())
    }
}

/// The value of a cookie, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// Whether the request came over TLS (directly or through a proxy that says so).
pub fn is_https(parts_headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    let forwarded_proto = parts_headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = parts_headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded || uri.scheme_str() == Some("https")
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`
/// over TLS; `max_age_s` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// The language of a request: its cookie, else Vietnamese.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE).map_or(Lang::Vi, |tag| Lang::from_tag(&tag))
}

/// A signed-in person, from the session cookie.
#[derive(Clone, Debug)]
pub struct WebUser {
    /// The person, as the API's handlers know callers (the token id is the session id).
    pub principal: Principal,
    /// The session.
    pub session: SessionRecord,
    /// The language asked for.
    pub lang: Lang,
    /// Whether the request came over TLS (cookies get `Secure`).
    pub secure: bool,
}

impl WebUser {
    /// Whether `token` is this session's CSRF token.
    pub fn csrf_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| same_secret(token, &self.session.csrf))
    }
}

/// The session of a request, if its cookie names a live one.
pub fn session_of(parts: &Parts, state: &AppState) -> Result<Option<SessionRecord>, ApiError> {
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Sessions::new(state.tokens()).find(&secret, Utc::now())
}

fn rate_limited(state: &AppState, session: &SessionRecord) -> Option<u64> {
    state
        .limiter()
        .check_key(&session.session_id)
        .err()
        .map(|not_until| {
            not_until
                .wait_time_from(state.limiter().clock().now())
                .as_secs()
                .max(1)
        })
}

/// For the API's bearer-less requests (`POST /v1/sync` from the member
/// pages' script): the session's principal, if a session cookie is sent.
/// A request that changes something must also carry the session's CSRF
/// token in `X-CSRF-Token`, else it is refused (403).
pub fn cookie_principal(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let Some(session) = session_of(parts, state)? else {
        return Ok(None);
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !safe && !token.is_some_and(|token| same_secret(token, &session.csrf)) {
        return Err(ApiError::Forbidden {
            rule: Some("csrf_token_required".to_owned()),
            detail: "a request with a session cookie must carry the session's X-CSRF-Token"
                .to_owned(),
        });
    }
    if let Some(retry_after_s) = rate_limited(state, &session) {
        return Err(ApiError::TooManyRequests { retry_after_s });
    }
    Ok(Some(Principal {
        person_id: session.person_id,
        token_id: session.session_id,
    }))
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(&parts.headers);
        let session = match session_of(parts, state) {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in(parts)),
            Err(error) => return Err(crate::web::page::error_page(lang, &error)),
        };
        if let Some(retry_after_s) = rate_limited(state, &session) {
            let error = ApiError::TooManyRequests { retry_after_s };
            return Err(crate::web::page::error_page(lang, &error));
        }
        Ok(WebUser {
            principal: Principal {
                person_id: session.person_id,
                token_id: session.session_id,
            },
            session,
            lang,
            secure: is_https(&parts.headers, &parts.uri),
        })
    }
}

/// A redirect to the sign-in page that comes back to this page after.
fn to_sign_in(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map_or("/app", |p| p.as_str())
            .to_owned()
    } else {
        "/app".to_owned()
    };
    let target = format!("/app/sign-in?next={}", crate::web::page::url_encode(&back));
    Redirect::to(&target).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn a_session_is_found_by_its_secret_until_it_ends_or_expires() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = TokenStore::open(&dir.path().join("auth")).unwrap();
        let sessions = Sessions::new(&tokens);
        let person = PersonId(Uuid::new_v4());
        let now = Utc::now();
        let (secret, record) = sessions.create(person, now).await.unwrap();
        assert_eq!(sessions.find(&secret, now).unwrap(), Some(record.clone()));
        assert_ne!(record.csrf, secret);
        let later = now + TimeDelta::hours(SESSION_HOURS);
        assert_eq!(sessions.find(&secret, later).unwrap(), None, "expired");
        assert_eq!(sessions.find("not-a-secret", now).unwrap(), None);
        sessions.end(&secret).await.unwrap();
        assert_eq!(sessions.find(&secret, now).unwrap(), None, "ended");
        let stored: Vec<_> = tokens.sessions_tree().iter().collect();
        assert!(stored.iter().all(|entry| {
            let (key, value) = entry.as_ref().unwrap();
            !String::from_utf8_lossy(key).contains(&secret)
                && !String::from_utf8_lossy(value).contains(&secret)
        }));
    }

    #[test]
    fn cookies_are_read_by_name_and_set_with_their_flags() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; cb_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
        let plain = set_cookie(SESSION_COOKIE, "v", 60, false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, "v", 60, true).ends_with("; Secure"));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(is_https(&proxied, &"/app".parse().unwrap()));
        assert!(!is_https(&HeaderMap::new(), &"/app".parse().unwrap()));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
