//! The members' pages: "my households" (each with its cases and last
//! visit), a household's page with the short forms to report a concern and
//! to record a visit or the resident's feedback, and the page shown
//! offline when a page was never saved. The report form offers a personal
//! note (sealed with the household's key, shown on the case page only),
//! unless the household's personal data was erased.
//!
//! With scripts on, those forms do not post: `assets/app.js` queues each
//! one in IndexedDB with an id and a field time made on the device, shows
//! it as waiting to send, and sends the queue through `POST /v1/sync`
//! (idempotent by command id) whenever the connection is there. Without
//! scripts they post to the same command path as every other form. A
//! household outside the person's reach answers 404, as in the API.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use casebook_domain::{
    Concern, ConcernKind, Confidentiality, Context, HouseholdId, Lookups, Priority,
    SealedInformant, Subject,
};
use chrono::Utc;
use uuid::Uuid;

use crate::body::{new_concern_id, ConcernCommandBody, ReportBody};
use crate::error::ApiError;
use crate::routes::concerns::run;
use crate::state::AppState;
use crate::visibility::household_visible;
use crate::web::cases::{
    choices, label, refusal_text, see_other, snake, topic_choices, topic_label, view_error,
    visible_row,
};
use crate::web::format;
use crate::web::i18n::Lang;
use crate::web::page::{
    fresh_views, render, render_with, Chrome, InLang, Notice, PageError, PageResult, Posted,
};
use crate::web::scope::Viewer;
use crate::web::session::{lang_of, WebUser};
use crate::web::steps::{allowed_steps, choice, local_time, topic, Step};

/// "Not visited for" this many days marks a household on "my households".
pub const NOT_VISITED_DAYS: u32 = 30;

/// One household on "my households".
#[derive(Debug)]
pub struct HouseholdCard {
    /// Its id.
    pub id: String,
    /// The head of household.
    pub head: String,
    /// Its hamlet.
    pub hamlet: String,
    /// Its open cases.
    pub open_cases: usize,
    /// All its cases.
    pub all_cases: usize,
    /// "N open of M cases".
    pub cases_text: String,
    /// Its last visit, if any.
    pub last_visit: String,
    /// Whether it was not visited lately.
    pub not_visited: bool,
}

#[derive(Template)]
#[template(path = "my.html")]
struct MyPage<'a> {
    c: &'a Chrome,
    cards: Vec<HouseholdCard>,
    open_cases: u64,
    overdue_cases: u64,
    visits: u64,
    fresh: bool,
    queue: QueueText,
}

/// The queue's words, handed to the script (all text from the catalogue).
#[derive(Debug)]
pub struct QueueText {
    /// JSON of the messages the script shows.
    pub json: String,
}

impl QueueText {
    fn new(lang: Lang) -> Self {
        let catalog = lang.catalog();
        let keys = [
            "queue.waiting",
            "queue.sending",
            "queue.sent",
            "queue.already",
            "queue.conflict",
            "queue.rejected",
            "queue.sign_in_again",
            "queue.empty",
            "queue.saved_offline",
            "queue.report",
            "queue.record_action",
            "queue.record_feedback",
            "queue.open_case",
            "queue.made_at",
            "queue.dismiss",
        ];
        let map: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|key| ((*key).to_owned(), catalog.get(key).into()))
            .collect();
        Self {
            json: serde_json::Value::Object(map)
                .to_string()
                .replace("</", "<\\/"),
        }
    }
}

fn household_card(
    state: &AppState,
    lookups: &dyn Lookups,
    lang: Lang,
    household: HouseholdId,
    not_visited: bool,
) -> Result<Option<HouseholdCard>, ApiError> {
    let Some(h) = lookups.household(household) else {
        return Ok(None);
    };
    let row = state
        .projections()
        .household(household)
        .map_err(view_error)?;
    let (open, all, last_visit) = row.map_or((0, 0, None), |row| {
        let open = row.cases.values().filter(|s| s.is_open()).count();
        (open, row.cases.len(), row.last_visit)
    });
    Ok(Some(HouseholdCard {
        id: household.0.to_string(),
        head: h.personal.head_of_household.clone(),
        hamlet: lookups
            .unit(h.hamlet_id)
            .map(|u| u.name)
            .unwrap_or_default(),
        open_cases: open,
        all_cases: all,
        cases_text: lang.catalog().fill(
            "my.cases",
            &[("open", &open.to_string()), ("all", &all.to_string())],
        ),
        last_visit: last_visit
            .map(|at| format::datetime(lang, state.policy().time_zone, at))
            .unwrap_or_else(|| lang.catalog().get("my.never_visited").to_owned()),
        not_visited,
    }))
}

/// `GET /app/my`: the households assigned to the member now.
pub async fn my_households(State(state): State<AppState>, user: WebUser) -> PageResult {
    let lang = user.lang;
    let viewer = Viewer::load(&state, user.principal.person_id).lang(lang)?;
    if !viewer.member {
        return Err(PageError::new(lang, ApiError::not_found("page")));
    }
    let fresh = fresh_views(&state).await;
    let now = Utc::now();
    let workload = state
        .projections()
        .member(user.principal.person_id, now, NOT_VISITED_DAYS)
        .map_err(view_error)
        .lang(lang)?;
    let mut cards = Vec::new();
    let (mut open_cases, mut overdue_cases, mut visits) = (0, 0, 0);
    if let Some(workload) = workload {
        open_cases = workload.open_cases;
        overdue_cases = workload.overdue_cases;
        visits = workload.visits_last_30_days;
        let directory = state.directory().lang(lang)?;
        for household in &workload.households {
            let visible = directory
                .household(*household)
                .is_some_and(|h| household_visible(&*directory, user.principal.person_id, &h, now));
            if !visible {
                continue;
            }
            let stale = workload.not_visited.contains(household);
            if let Some(card) =
                household_card(&state, &*directory, lang, *household, stale).lang(lang)?
            {
                cards.push(card);
            }
        }
    }
    let chrome = Chrome::new(&user, &viewer, "my.title", "/app/my");
    Ok(render(&MyPage {
        c: &chrome,
        cards,
        open_cases,
        overdue_cases,
        visits,
        fresh,
        queue: QueueText::new(lang),
    }))
}

/// One case on a household's page, with the member's short forms.
#[derive(Debug)]
pub struct HouseholdCase {
    /// Its id.
    pub id: String,
    /// When reported.
    pub reported: String,
    /// Topic label.
    pub topic: String,
    /// Kind label.
    pub kind: String,
    /// Status label.
    pub status: String,
    /// Status code.
    pub status_code: String,
    /// Its text.
    pub text: String,
    /// Whether a visit may be recorded now.
    pub may_visit: bool,
    /// Whether the resident's feedback may be recorded now.
    pub may_feedback: bool,
    /// Fresh command ids for its two forms.
    pub visit_command_id: String,
    /// Same, for feedback.
    pub feedback_command_id: String,
}

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage<'a> {
    c: &'a Chrome,
    id: String,
    head: String,
    hamlet: String,
    size: u16,
    circumstances: Vec<String>,
    phone: String,
    address: String,
    member: String,
    member_since: String,
    last_visit: String,
    cases: Vec<HouseholdCase>,
    kinds: Vec<(String, String)>,
    topics: Vec<(String, String)>,
    priorities: Vec<(String, String)>,
    confidentialities: Vec<(String, String)>,
    actions: Vec<(String, String)>,
    report_command_id: String,
    now_local: String,
    may_report: bool,
    may_note: bool,
    queue: QueueText,
}

const KINDS: [ConcernKind; 6] = [
    ConcernKind::Concern,
    ConcernKind::Aspiration,
    ConcernKind::Complaint,
    ConcernKind::Petition,
    ConcernKind::Tip,
    ConcernKind::RequestForHelp,
];

fn household_case(
    state: &AppState,
    lookups: &dyn Lookups,
    lang: Lang,
    person: casebook_domain::PersonId,
    concern: &Concern,
) -> HouseholdCase {
    let now = Utc::now();
    let ctx = Context::new(person, now, state.policy(), lookups);
    let steps = allowed_steps(concern, &ctx);
    HouseholdCase {
        id: concern.id.0.to_string(),
        reported: format::datetime(lang, state.policy().time_zone, concern.reported_at),
        topic: topic_label(state, lang, concern.topic.as_str()),
        kind: label(lang, "kind", &concern.kind),
        status: label(lang, "status", &concern.status),
        status_code: snake(&concern.status),
        text: concern.text.clone(),
        may_visit: steps.contains(&Step::RecordAction),
        may_feedback: steps.contains(&Step::RecordFeedback),
        visit_command_id: Uuid::new_v4().to_string(),
        feedback_command_id: Uuid::new_v4().to_string(),
    }
}

/// `GET /app/households/{id}`.
pub async fn household(
    State(state): State<AppState>,
    user: WebUser,
    Path(household_id): Path<String>,
) -> PageResult {
    household_page(&state, &user, &household_id, None, StatusCode::OK).await
}

async fn household_page(
    state: &AppState,
    user: &WebUser,
    household_id: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> PageResult {
    let lang = user.lang;
    let not_found = || PageError::new(lang, ApiError::not_found("household"));
    let id = Uuid::parse_str(household_id)
        .map(HouseholdId)
        .map_err(|_| not_found())?;
    let viewer = Viewer::load(state, user.principal.person_id).lang(lang)?;
    fresh_views(state).await;
    let now = Utc::now();
    let person = user.principal.person_id;
    let directory = state.directory().lang(lang)?;
    let household = directory
        .household(id)
        .filter(|h| household_visible(&*directory, person, h, now))
        .ok_or_else(not_found)?;
    let row = state
        .projections()
        .household(id)
        .map_err(view_error)
        .lang(lang)?;
    let mut dated = Vec::new();
    if let Some(row) = &row {
        for case in row.cases.keys() {
            if let Some(case_row) = visible_row(state, person, *case).lang(lang)? {
                let concern = &case_row.concern;
                let line = household_case(state, &*directory, lang, person, concern);
                dated.push((concern.reported_at, line));
            }
        }
    }
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let cases = dated.into_iter().map(|(_, line)| line).collect();
    let tz = state.policy().time_zone;
    let assignment = household.current_assignment().cloned();
    let member_name = assignment
        .as_ref()
        .and_then(|a| directory.person(a.member_id))
        .map(|p| p.name)
        .unwrap_or_default();
    let here = format!("/app/households/{}", id.0);
    let mut chrome = Chrome::new(user, &viewer, "household.title", &here);
    chrome.notice = notice;
    let page = HouseholdPage {
        c: &chrome,
        id: id.0.to_string(),
        head: household.personal.head_of_household.clone(),
        hamlet: directory
            .unit(household.hamlet_id)
            .map(|u| u.name)
            .unwrap_or_default(),
        size: household.size,
        circumstances: household
            .circumstances
            .iter()
            .map(|c| label(lang, "circumstance", c))
            .collect(),
        phone: household.personal.phone.clone().unwrap_or_default(),
        address: household.personal.address.clone().unwrap_or_default(),
        member: member_name,
        member_since: assignment
            .map(|a| format::date(lang, a.from.with_timezone(&tz).date_naive()))
            .unwrap_or_default(),
        last_visit: row
            .and_then(|r| r.last_visit)
            .map(|at| format::datetime(lang, tz, at))
            .unwrap_or_else(|| lang.catalog().get("my.never_visited").to_owned()),
        cases,
        kinds: choices(lang, "kind", &KINDS),
        topics: topic_choices(state, lang),
        priorities: choices(
            lang,
            "priority",
            &[
                Priority::Urgent,
                Priority::High,
                Priority::Normal,
                Priority::Low,
            ],
        ),
        confidentialities: choices(
            lang,
            "confidentiality",
            &[
                Confidentiality::Normal,
                Confidentiality::Sensitive,
                Confidentiality::ConfidentialTip,
            ],
        ),
        actions: choices(
            lang,
            "action",
            &[
                casebook_domain::ActionKind::Visit,
                casebook_domain::ActionKind::Advice,
                casebook_domain::ActionKind::Support,
            ],
        ),
        report_command_id: Uuid::new_v4().to_string(),
        now_local: format::datetime_input(tz, now),
        may_report: viewer.member || viewer.is_committee(),
        may_note: household.erasure.is_none(),
        queue: QueueText::new(lang),
    };
    Ok(render_with(status, &page))
}

/// The report form (without scripts) as the API's report body.
fn report_body(
    posted: &Posted,
    household: HouseholdId,
    tz: chrono_tz::Tz,
) -> Result<ReportBody, ApiError> {
    let fields = &posted.fields;
    let command_id = fields
        .get("command_id")
        .map(|id| {
            Uuid::parse_str(id).map_err(|_| ApiError::validation("command_id", "not a valid id"))
        })
        .transpose()?;
    let confidentiality = choice::<Confidentiality>(fields, "confidentiality")?;
    let sealed_informant = match fields.get("informant_name") {
        Some(name) if confidentiality == Confidentiality::ConfidentialTip => {
            Some(SealedInformant {
                name: name.to_owned(),
                contact: fields.get("informant_contact").map(str::to_owned),
                note: fields.get("informant_note").map(str::to_owned),
            })
        }
        _ => None,
    };
    Ok(ReportBody {
        command_id,
        occurred_at: fields
            .get("occurred_at")
            .map(|at| local_time("occurred_at", at, tz))
            .transpose()?,
        concern_id: None,
        subject: Subject::Household {
            household_id: household,
        },
        hamlet_id: None,
        coordinates: None,
        kind: choice::<ConcernKind>(fields, "kind")?,
        topic: topic(fields)?,
        priority: choice::<Priority>(fields, "priority")?,
        confidentiality,
        sealed_informant,
        text: fields.text("text"),
        personal_note: fields.get("personal_note").map(str::to_owned),
    })
}

/// `POST /app/households/{id}/report`: the report form without scripts.
pub async fn report(
    State(state): State<AppState>,
    Path(household_id): Path<String>,
    posted: Posted,
) -> PageResult {
    let lang = posted.user.lang;
    let household = Uuid::parse_str(&household_id)
        .map(HouseholdId)
        .map_err(|_| PageError::new(lang, ApiError::not_found("household")))?;
    let outcome = match report_body(&posted, household, state.policy().time_zone) {
        Ok(body) => {
            let concern_id = new_concern_id(&body.meta());
            run(
                &state,
                &posted.user.principal,
                concern_id,
                None,
                ConcernCommandBody::Report(body),
            )
            .await
            .map(|_| concern_id)
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(concern_id) => Ok(see_other(&format!(
            "/app/cases/{}?done=report",
            concern_id.0
        ))),
        Err(error) if error.status().is_server_error() => Err(PageError::new(lang, error)),
        Err(error) => {
            let notice = Notice::error(refusal_text(lang, &error));
            let status = error.status();
            household_page(&state, &posted.user, &household_id, Some(notice), status).await
        }
    }
}

#[derive(Template)]
#[template(path = "offline.html")]
struct OfflinePage<'a> {
    c: &'a Chrome,
}

/// `GET /app/offline`: what the service worker shows for a page it never
/// saved while the connection is gone.
pub async fn offline(headers: HeaderMap) -> PageResult {
    let lang = lang_of(&headers);
    let chrome = Chrome::anonymous(lang, "offline.title", "/app/offline");
    Ok(render(&OfflinePage { c: &chrome }))
}
