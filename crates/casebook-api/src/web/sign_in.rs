//! Signing in and out, the language switch, and the landing pages.
//!
//! Sign-in checks a username and password against the argon2 hashes of
//! [`Accounts`] (off the async threads: a check costs tens of
//! milliseconds), at most [`SIGN_IN_PER_MINUTE`] attempts per username per
//! minute, and opens a session. The form is protected by a double-submit
//! cookie, since there is no session yet to hold a CSRF token.

use std::num::NonZeroU32;
use std::sync::LazyLock;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use crate::auth::grants_at;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::accounts::{Accounts, USERNAME_CHARS_MAX};
use crate::web::i18n::Lang;
use crate::web::page::{
    error_page, local_path, render, render_with, Chrome, InLang, Notice, PageResult, Posted,
};
use crate::web::scope::Viewer;
use crate::web::session::{
    cookie, is_https, lang_of, random_secret, same_secret, set_cookie, Sessions, WebUser,
    LANG_COOKIE, SESSION_COOKIE, SESSION_HOURS, SIGN_IN_COOKIE,
};

/// Sign-in attempts per username per minute: enough for typing mistakes,
/// too few for guessing (each guess also costs an argon2 check).
pub const SIGN_IN_PER_MINUTE: u32 = 5;
/// How long the sign-in form's cookie lives: one sitting.
const SIGN_IN_COOKIE_S: i64 = 3_600;
/// How long the language cookie lives: a year.
const LANG_COOKIE_S: i64 = 365 * 24 * 3_600;
/// Usernames the sign-in limiter remembers before it forgets idle ones.
const LIMITER_KEYS_MAX: usize = 10_000;

static SIGN_IN_LIMITER: LazyLock<DefaultKeyedRateLimiter<String>> = LazyLock::new(|| {
    let per_minute = NonZeroU32::new(SIGN_IN_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per_minute))
});

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    c: &'a Chrome,
    token: &'a str,
    next: &'a str,
    username: &'a str,
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    /// Where to go after signing in.
    pub next: Option<String>,
}

fn sign_in_page(
    lang: Lang,
    secure: bool,
    next: &str,
    username: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let token = random_secret()?;
    let mut chrome = Chrome::anonymous(lang, "sign_in.title", "/app/sign-in");
    chrome.notice = notice;
    let page = SignInPage {
        c: &chrome,
        token: &token,
        next,
        username,
    };
    let mut response = render_with(status, &page);
    let cookie = set_cookie(SIGN_IN_COOKIE, &token, SIGN_IN_COOKIE_S, secure);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /app/sign-in`.
pub async fn form(headers: HeaderMap, uri: Uri, Query(query): Query<NextQuery>) -> PageResult {
    let lang = lang_of(&headers);
    let next = local_path(query.next.as_deref());
    sign_in_page(
        lang,
        is_https(&headers, &uri),
        &next,
        "",
        None,
        StatusCode::OK,
    )
    .lang(lang)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /app/sign-in`.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let lang = lang_of(&headers);
    let secure = is_https(&headers, &uri);
    let next = local_path(form.next.as_deref());
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.csrf) {
        let notice = Notice::error(lang.catalog().get("sign_in.stale"));
        return sign_in_page(
            lang,
            secure,
            &next,
            &form.username,
            Some(notice),
            StatusCode::FORBIDDEN,
        )
        .lang(lang);
    }
    let username: String = form
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(USERNAME_CHARS_MAX)
        .collect();
    if SIGN_IN_LIMITER.len() > LIMITER_KEYS_MAX {
        SIGN_IN_LIMITER.retain_recent();
    }
    if SIGN_IN_LIMITER.check_key(&username).is_err() {
        let notice = Notice::error(lang.catalog().get("sign_in.too_many"));
        return sign_in_page(
            lang,
            secure,
            &next,
            &username,
            Some(notice),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .lang(lang);
    }
    let accounts = Accounts::new(state.tokens());
    let (name, password) = (username.clone(), form.password);
    let person = tokio::task::spawn_blocking(move || accounts.verify(&name, &password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
        .lang(lang)?
        .lang(lang)?;
    let Some(person) = person.filter(|p| has_any_role(&state, *p)) else {
        let notice = Notice::error(lang.catalog().get("sign_in.wrong"));
        return sign_in_page(
            lang,
            secure,
            &next,
            &username,
            Some(notice),
            StatusCode::UNAUTHORIZED,
        )
        .lang(lang);
    };
    let (secret, _) = Sessions::new(state.tokens())
        .create(person, Utc::now())
        .await
        .lang(lang)?;
    let viewer = Viewer::load(&state, person).lang(lang)?;
    let target = if next == "/app" {
        viewer.home().to_owned()
    } else {
        next
    };
    let mut response = Redirect::to(&target).into_response();
    let headers = response.headers_mut();
    for cookie in [
        set_cookie(SESSION_COOKIE, &secret, SESSION_HOURS * 3_600, secure),
        set_cookie(SIGN_IN_COOKIE, "", 0, secure),
    ] {
        if let Ok(value) = cookie.parse() {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Whether the person holds any role now (someone whose roles all ended
/// may not sign in).
fn has_any_role(state: &AppState, person: casebook_domain::PersonId) -> bool {
    state
        .directory()
        .map(|d| !grants_at(&*d, person, Utc::now()).is_empty())
        .unwrap_or(false)
}

/// `POST /app/sign-out`: ends the session, clears its cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted,
) -> PageResult {
    let lang = posted.user.lang;
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        Sessions::new(state.tokens())
            .end(&secret)
            .await
            .lang(lang)?;
    }
    let mut response = Redirect::to("/app/sign-in").into_response();
    let clear = set_cookie(SESSION_COOKIE, "", 0, posted.user.secure);
    if let Ok(value) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Query of the language switch.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    /// `vi` or `en`.
    pub to: Option<String>,
    /// Where to come back to.
    pub next: Option<String>,
}

/// `GET /app/lang?to=en&next=…`: remembers the language in a cookie and
/// comes back. A preference, not a change of any record, so a link.
pub async fn switch_lang(headers: HeaderMap, uri: Uri, Query(query): Query<LangQuery>) -> Response {
    let lang = Lang::from_tag(query.to.as_deref().unwrap_or("vi"));
    let mut response = Redirect::to(&local_path(query.next.as_deref())).into_response();
    let cookie = set_cookie(
        LANG_COOKIE,
        lang.tag(),
        LANG_COOKIE_S,
        is_https(&headers, &uri),
    );
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /app/csrf`: the session's CSRF token, for a script whose page came
/// from the offline cache of an earlier session.
pub async fn csrf(user: WebUser) -> Response {
    Json(serde_json::json!({ "csrf": user.session.csrf, "person_id": user.session.person_id }))
        .into_response()
}

/// `GET /`: the pages.
pub async fn root() -> Redirect {
    Redirect::to("/app")
}

/// `GET /app`: each person's landing page.
pub async fn home(State(state): State<AppState>, user: WebUser) -> PageResult {
    let viewer = Viewer::load(&state, user.principal.person_id).lang(user.lang)?;
    Ok(Redirect::to(viewer.home()).into_response())
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    c: &'a Chrome,
    viewer: &'a Viewer,
}

/// `GET /app/account`: who is signed in and with which roles (the landing
/// page of someone with no page of their own, such as an administrator).
pub async fn account(State(state): State<AppState>, user: WebUser) -> PageResult {
    let viewer = Viewer::load(&state, user.principal.person_id).lang(user.lang)?;
    let chrome = Chrome::new(&user, &viewer, "account.title", "/app/account");
    Ok(render(&AccountPage {
        c: &chrome,
        viewer: &viewer,
    }))
}

/// Any other `/app/…` path: a page, not a JSON problem.
pub async fn not_found(headers: HeaderMap) -> Response {
    error_page(lang_of(&headers), &ApiError::not_found("page"))
}
