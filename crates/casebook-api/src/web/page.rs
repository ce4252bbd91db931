//! What every page shares: the layout's data ([`Chrome`]), rendering,
//! error pages, and posted forms checked for their CSRF token.

use askama::Template;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Catalog, Lang};
use crate::web::scope::Viewer;
use crate::web::session::{WebUser, CSRF_FIELD};

/// A link of the navigation bar.
#[derive(Clone, Debug)]
pub struct NavLink {
    /// Where it goes.
    pub href: &'static str,
    /// Its catalogue key.
    pub key: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// A message shown above the page's content.
#[derive(Clone, Debug)]
pub struct Notice {
    /// `ok` or `error` (a CSS class).
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

impl Notice {
    /// A success message.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            kind: "ok",
            text: text.into(),
        }
    }

    /// An error message.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            kind: "error",
            text: text.into(),
        }
    }
}

/// What the layout needs: language, title, the signed-in person, the
/// navigation, the CSRF token for its forms, a notice.
#[derive(Clone, Debug)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The page's title.
    pub title: String,
    /// The session's CSRF token (empty when signed out).
    pub csrf: String,
    /// The signed-in person's name, if any.
    pub user: Option<String>,
    /// The signed-in person's id (the offline queue keeps each person's own).
    pub person_id: String,
    /// The navigation links this person's roles open.
    pub nav: Vec<NavLink>,
    /// The current path and query (the language switch comes back to it).
    pub here: String,
    /// A message to show, if any.
    pub notice: Option<Notice>,
}

impl Chrome {
    /// The layout of a signed-in person's page.
    pub fn new(user: &WebUser, viewer: &Viewer, title_key: &str, here: &str) -> Self {
        let section = here.split('?').next().unwrap_or(here);
        let nav = viewer
            .nav()
            .into_iter()
            .map(|(href, key)| NavLink {
                href,
                key,
                current: section == href || section.starts_with(&format!("{href}/")),
            })
            .collect();
        Self {
            lang: user.lang,
            title: user.lang.catalog().get(title_key).to_owned(),
            csrf: user.session.csrf.clone(),
            user: Some(viewer.name.clone()),
            person_id: viewer.person_id.0.to_string(),
            nav,
            here: here.to_owned(),
            notice: None,
        }
    }

    /// The layout of a page for someone not signed in.
    pub fn anonymous(lang: Lang, title_key: &str, here: &str) -> Self {
        Self {
            lang,
            title: lang.catalog().get(title_key).to_owned(),
            csrf: String::new(),
            user: None,
            person_id: String::new(),
            nav: Vec::new(),
            here: here.to_owned(),
            notice: None,
        }
    }

    /// The message of `key` in the page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.catalog().get(key)
    }

    /// The catalogue of the page's language.
    pub fn catalog(&self) -> &'static Catalog {
        self.lang.catalog()
    }

    /// The link that switches to the other language and comes back here.
    pub fn switch_href(&self) -> String {
        format!(
            "/app/lang?to={}&next={}",
            self.lang.other().tag(),
            url_encode(&self.here)
        )
    }

    /// The other language's own name.
    pub fn switch_label(&self) -> &'static str {
        self.lang.other().catalog().get("lang.self")
    }
}

/// Renders a template as an HTML answer (500 if it fails, which the tests
/// rule out for every page).
pub fn render(template: &impl Template) -> Response {
    render_with(StatusCode::OK, template)
}

/// Renders a template with a status.
pub fn render_with(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "a page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: &'a Chrome,
    status: u16,
    heading: &'a str,
    detail: String,
}

/// The catalogue key of an error's heading.
fn error_key(error: &ApiError) -> &'static str {
    match error {
        ApiError::NotFound { .. } => "error.not_found",
        ApiError::Forbidden { .. } => "error.forbidden",
        ApiError::Conflict { .. } | ApiError::PreconditionFailed { .. } => "error.conflict",
        ApiError::Validation { .. } | ApiError::BadRequest { .. } => "error.invalid",
        ApiError::TooManyRequests { .. } => "error.too_many",
        ApiError::Unavailable { .. } => "error.unavailable",
        _ => "error.internal",
    }
}

/// What an error says to a person: the domain's reason for a refusal, a
/// generic sentence for our own faults (logged).
pub fn error_text(lang: Lang, error: &ApiError) -> String {
    let catalog = lang.catalog();
    match error {
        ApiError::Internal(_) => catalog.get("error.internal_detail").to_owned(),
        ApiError::NotFound { .. } => catalog.get("error.not_found_detail").to_owned(),
        ApiError::PreconditionFailed { .. } => catalog.get("error.stale_detail").to_owned(),
        other => other.to_string(),
    }
}

/// An error as a page, with the error's status.
pub fn error_page(lang: Lang, error: &ApiError) -> Response {
    if let ApiError::Internal(detail) = error {
        tracing::error!(%detail, "internal error on a page");
    }
    let chrome = Chrome::anonymous(lang, error_key(error), "/app");
    let page = ErrorPage {
        c: &chrome,
        status: error.status().as_u16(),
        heading: lang.catalog().get(error_key(error)),
        detail: error_text(lang, error),
    };
    render_with(error.status(), &page)
}

/// An error raised while building a page, shown in the reader's language.
#[derive(Debug)]
pub struct PageError {
    lang: Lang,
    error: ApiError,
}

impl PageError {
    /// The error, for the reader's language.
    pub fn new(lang: Lang, error: impl Into<ApiError>) -> Self {
        Self {
            lang,
            error: error.into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.lang, &self.error)
    }
}

/// The answer of a page handler.
pub type PageResult = Result<Response, PageError>;

/// Lets `?` turn an [`ApiError`] into a page in the reader's language.
pub trait InLang<T> {
    /// Attaches the language.
    fn lang(self, lang: Lang) -> Result<T, PageError>;
}

impl<T, E: Into<ApiError>> InLang<T> for Result<T, E> {
    fn lang(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(lang, e))
    }
}

/// How long a page that reads the views waits for them to reach the log's
/// head (read-your-writes after a form); past it, the page shows what they
/// hold and says they may lag.
pub const VIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits, at most [`VIEW_WAIT`], until the views have applied everything
/// durable now; answers whether they did.
pub async fn fresh_views(state: &AppState) -> bool {
    let len = state.log().len();
    if len == 0 {
        return true;
    }
    state
        .projections()
        .wait_for(len - 1, VIEW_WAIT)
        .await
        .is_ok()
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char);
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A local path to come back to: only `/app…`, never another site.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with("/app")
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.contains("://") =>
        {
            path.to_owned()
        }
        _ => "/app".to_owned(),
    }
}

/// The fields of a posted form.
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl From<Vec<(String, String)>> for Fields {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

impl Fields {
    /// A field's value, trimmed; `None` if absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// A field's value as typed (text areas keep their lines); `""` if absent.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    }

    /// Every value of a repeated field (check boxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// A form posted by a signed-in person, its CSRF token checked.
#[derive(Debug)]
pub struct Posted {
    /// Who posted it.
    pub user: WebUser,
    /// Its fields.
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|rejection| {
                error_page(
                    user.lang,
                    &ApiError::bad_request("body", rejection.body_text()),
                )
            })?;
        let fields = Fields(fields);
        if !user.csrf_ok(fields.get(CSRF_FIELD)) {
            return Err(error_page(user.lang, &csrf_refused()));
        }
        Ok(Posted { user, fields })
    }
}

/// The refusal of a form without this session's CSRF token.
pub fn csrf_refused() -> ApiError {
    ApiError::Forbidden {
        rule: Some("csrf_token_required".to_owned()),
        detail: "the form is stale or did not come from this site; reload the page and try again"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/app/cases?q=a")), "/app/cases?q=a");
        for bad in [
            "https://evil.example/app",
            "//evil.example",
            "/other",
            "/app\\..",
        ] {
            assert_eq!(local_path(Some(bad)), "/app", "{bad}");
        }
        assert_eq!(local_path(None), "/app");
    }

    #[test]
    fn url_encoding_keeps_paths_and_escapes_the_rest() {
        assert_eq!(
            url_encode("/app/cases?q=tâm tư"),
            "/app/cases%3Fq%3Dt%C3%A2m%20t%C6%B0"
        );
    }
}
