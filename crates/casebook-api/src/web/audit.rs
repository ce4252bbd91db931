//! The auditors' pages: the signed tree head and a check of the whole log
//! on demand, a case's history and state as of a chosen moment (on either
//! clock), and the list of reads of sealed tip identities.
//!
//! An auditor changes nothing (the domain refuses every command from
//! them), so these pages only read. A case outside the auditor's unit
//! answers 404 as in the API ([`load_case`]); sealed-identity reads are
//! listed only for cases the auditor may see.

use askama::Template;
use axum::extract::{Path, Query, State};
use casebook_domain::{fold_as_of, Concern, Context, Event, Lookups, TimeAxis};
use casebook_log::{Direction, EventStore};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::codec::decode;
use crate::error::ApiError;
use crate::routes::reads::{history_event, load_case};
use crate::state::AppState;
use crate::visibility::{case_visible, redact};
use crate::web::cases::{facts, parse_case_id, see_other, timeline_item, CaseFacts, TimelineItem};
use crate::web::format;
use crate::web::i18n::Lang;
use crate::web::page::{render, Chrome, InLang, Notice, PageResult, Posted};
use crate::web::scope::Viewer;
use crate::web::session::WebUser;
use crate::web::steps::local_time;

/// Most sealed-identity reads (and access grants) listed: the latest ones.
pub const SEALED_READS_MAX: usize = 500;
/// The event types the sealed-reads page lists.
const SEALED_EVENT_TYPES: [&str; 2] =
    ["concern.informant_read", "concern.informant_access_granted"];

fn auditor(state: &AppState, user: &WebUser) -> Result<Viewer, ApiError> {
    let viewer = Viewer::load(state, user.principal.person_id)?;
    if viewer.is_auditor() || viewer.admin {
        Ok(viewer)
    } else {
        Err(ApiError::not_found("page"))
    }
}

/// The signed tree head, ready to show.
#[derive(Debug)]
pub struct HeadView {
    /// Leaves (events) covered.
    pub size: u64,
    /// Root hash, hex.
    pub root_hash: String,
    /// When signed.
    pub signed_at: String,
    /// Signature, hex.
    pub signature: String,
}

/// One line of a verification's result.
#[derive(Debug)]
pub struct CheckLine {
    /// What was checked.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct OverviewPage<'a> {
    c: &'a Chrome,
    head: Option<HeadView>,
    public_key: String,
    log_len: u64,
    checks: Vec<CheckLine>,
}

fn head_view(state: &AppState, lang: Lang) -> Option<HeadView> {
    let head = state
        .audit()
        .signed_head(Utc::now().timestamp_millis())
        .map_err(|error| tracing::error!(%error, "no signed tree head"))
        .ok()?;
    let signed_at = DateTime::from_timestamp_millis(head.timestamp_ms)
        .map(|at| format::datetime(lang, state.policy().time_zone, at))
        .unwrap_or_default();
    Some(HeadView {
        size: head.size,
        root_hash: head.root_hash,
        signed_at,
        signature: head.signature,
    })
}

fn overview_page(
    state: &AppState,
    user: &WebUser,
    viewer: &Viewer,
    checks: Vec<CheckLine>,
    notice: Option<Notice>,
) -> PageResult {
    let mut chrome = Chrome::new(user, viewer, "audit.title", "/app/audit");
    chrome.notice = notice;
    Ok(render(&OverviewPage {
        c: &chrome,
        head: head_view(state, user.lang),
        public_key: state.audit().public_key_hex(),
        log_len: state.log().len(),
        checks,
    }))
}

/// `GET /app/audit`.
pub async fn overview(State(state): State<AppState>, user: WebUser) -> PageResult {
    let viewer = auditor(&state, &user).lang(user.lang)?;
    overview_page(&state, &user, &viewer, Vec::new(), None)
}

/// The three checks, run off the async threads: the hash chain of every
/// record the head covers, the Merkle root recomputed from the records,
/// and the head's signature.
fn run_checks(state: &AppState, lang: Lang) -> Vec<CheckLine> {
    let catalog = lang.catalog();
    let line = |key: &str, result: Result<String, String>| CheckLine {
        what: catalog.get(key).to_owned(),
        ok: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    };
    let head = match state.audit().signed_head(Utc::now().timestamp_millis()) {
        Ok(head) => head,
        Err(error) => return vec![line("audit.check_head", Err(error.to_string()))],
    };
    let size = head.size;
    let chain = if size == 0 {
        Ok(catalog.get("audit.empty").to_owned())
    } else {
        state
            .log()
            .verify_range(Some(0), Some(size - 1))
            .map(|report| {
                catalog.fill(
                    "audit.chain_ok",
                    &[
                        ("events", &format::number(lang, report.events)),
                        ("bytes", &format::number(lang, report.bytes)),
                    ],
                )
            })
            .map_err(|e| e.to_string())
    };
    let merkle = state
        .audit()
        .check_against_log(state.log(), size)
        .map(|()| catalog.fill("audit.merkle_ok", &[("size", &format::number(lang, size))]))
        .map_err(|e| e.to_string());
    let signature = head
        .verify(&state.audit().public_key_hex())
        .map(|()| catalog.get("audit.signature_ok").to_owned())
        .map_err(|e| e.to_string());
    vec![
        line("audit.check_chain", chain),
        line("audit.check_merkle", merkle),
        line("audit.check_signature", signature),
    ]
}

/// `POST /app/audit/verify`: re-checks the log now and shows the result.
pub async fn verify(State(state): State<AppState>, posted: Posted) -> PageResult {
    let user = posted.user;
    let lang = user.lang;
    let viewer = auditor(&state, &user).lang(lang)?;
    let checking = state.clone();
    let checks = tokio::task::spawn_blocking(move || run_checks(&checking, lang))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
        .lang(lang)?;
    let all_ok = checks.iter().all(|c| c.ok);
    let notice = if all_ok {
        Notice::ok(lang.catalog().get("audit.all_ok"))
    } else {
        Notice::error(lang.catalog().get("audit.failed"))
    };
    overview_page(&state, &user, &viewer, checks, Some(notice))
}

/// Query of the as-of page.
#[derive(Debug, Default, Deserialize)]
pub struct AsOfQuery {
    /// The moment (`datetime-local` in the policy's time zone, or RFC 3339).
    pub at: Option<String>,
    /// `recorded` (what the system knew) or `field` (what had happened).
    pub axis: Option<String>,
    /// A case id typed in the overview's form (path `go`).
    pub id: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_case.html")]
struct AsOfPage<'a> {
    c: &'a Chrome,
    case_id: String,
    at_input: String,
    at_text: String,
    axis: &'static str,
    then: Option<CaseFacts>,
    timeline: Vec<(bool, TimelineItem)>,
}

/// `GET /app/audit/cases/{id}?at=…&axis=recorded|field`.
pub async fn case_as_of(
    State(state): State<AppState>,
    user: WebUser,
    Path(concern_id): Path<String>,
    Query(query): Query<AsOfQuery>,
) -> PageResult {
    let lang = user.lang;
    if concern_id == "go" {
        let typed = query.id.as_deref().unwrap_or("").trim();
        let id = parse_case_id(lang, typed)?;
        return Ok(see_other(&format!("/app/audit/cases/{}", id.0)));
    }
    let concern_id = parse_case_id(lang, &concern_id)?;
    let viewer = auditor(&state, &user).lang(lang)?;
    let case = load_case(&state, &user.principal, concern_id)
        .await
        .lang(lang)?;
    let events = &case.events;
    let tz = state.policy().time_zone;
    let now = Utc::now();
    let at = match query.at.as_deref().filter(|a| !a.trim().is_empty()) {
        Some(text) => local_time("at", text, tz).lang(lang)?,
        None => now,
    };
    let axis = match query.axis.as_deref() {
        Some("field") => TimeAxis::Field,
        _ => TimeAxis::Recorded,
    };
    let domain_events: Vec<&Event> = events.iter().map(|(_, e)| e).collect();
    let then: Option<Concern> = fold_as_of(domain_events.iter().copied(), axis, at);
    let directory = state.directory().lang(lang)?;
    let revision_then = events
        .iter()
        .filter(|(_, e)| axis.time_of(e) <= at)
        .map(|(r, _)| r.revision)
        .max()
        .unwrap_or(0);
    let reveal = then.as_ref().is_some_and(|c| {
        redact(user.principal.person_id, c)
            .sealed_informant
            .is_some()
    });
    let mut timeline = Vec::new();
    for (recorded, event) in events {
        let entry = history_event(&*directory, recorded, event, reveal).lang(lang)?;
        timeline.push((
            axis.time_of(event) <= at,
            timeline_item(&state, lang, &entry),
        ));
    }
    let then = then.map(|concern| {
        facts(
            &state,
            &*directory,
            lang,
            user.principal.person_id,
            &concern,
            revision_then,
            at,
        )
    });
    let here = format!("/app/audit/cases/{}", concern_id.0);
    let chrome = Chrome::new(&user, &viewer, "audit.case_title", &here);
    Ok(render(&AsOfPage {
        c: &chrome,
        case_id: concern_id.0.to_string(),
        at_input: format::datetime_input(tz, at),
        at_text: format::datetime(lang, tz, at),
        axis: match axis {
            TimeAxis::Field => "field",
            TimeAxis::Recorded => "recorded",
        },
        then,
        timeline,
    }))
}

/// One read of a sealed identity (or a grant of access to one).
#[derive(Debug)]
pub struct SealedRead {
    /// `read` or `grant`.
    pub kind: &'static str,
    /// The label of that.
    pub what: String,
    /// Who read it (or granted access).
    pub actor: String,
    /// When the log recorded it.
    pub recorded: String,
    /// When it happened in the field.
    pub occurred: String,
    /// The case.
    pub case_id: String,
    /// Who was granted access, and why (grants only).
    pub detail: String,
    /// Its position in the log.
    pub position: u64,
}

#[derive(Template)]
#[template(path = "audit_sealed.html")]
struct SealedPage<'a> {
    c: &'a Chrome,
    reads: Vec<SealedRead>,
    limit_text: String,
}

/// `GET /app/audit/sealed`: the latest reads of sealed tip identities and
/// grants of access, for cases the auditor may see.
pub async fn sealed_reads(State(state): State<AppState>, user: WebUser) -> PageResult {
    let lang = user.lang;
    let viewer = auditor(&state, &user).lang(lang)?;
    let mut recorded = Vec::new();
    for event_type in SEALED_EVENT_TYPES {
        let page = state
            .log()
            .read_event_type(event_type, Direction::Backwards, None, SEALED_READS_MAX)
            .await
            .lang(lang)?;
        recorded.extend(page);
    }
    recorded.sort_by_key(|r| std::cmp::Reverse(r.position));
    recorded.truncate(SEALED_READS_MAX);
    let tz = state.policy().time_zone;
    let now = Utc::now();
    let directory = state.directory().lang(lang)?;
    let ctx = Context::new(user.principal.person_id, now, state.policy(), &*directory);
    let catalog = lang.catalog();
    let mut reads = Vec::new();
    for record in recorded {
        let Ok(casebook_domain::StreamId::Concern(case)) =
            casebook_domain::StreamId::parse(&record.stream)
        else {
            continue;
        };
        let visible = state
            .projections()
            .case(case)
            .ok()
            .flatten()
            .is_some_and(|row| case_visible(&ctx, &row.concern));
        if !visible {
            continue;
        }
        let event = decode(&record).lang(lang)?;
        let actor = directory
            .person(event.actor)
            .map(|p| p.name)
            .unwrap_or_else(|| event.actor.0.to_string());
        let (kind, detail) = match &event.payload {
            casebook_domain::Payload::InformantAccessGranted(grant) => {
                let grantee = directory
                    .person(grant.person_id)
                    .map(|p| p.name)
                    .unwrap_or_else(|| grant.person_id.0.to_string());
                ("grant", format!("{grantee}: {}", grant.reason))
            }
            _ => ("read", String::new()),
        };
        reads.push(SealedRead {
            kind,
            what: catalog.get(&format!("audit.sealed_{kind}")).to_owned(),
            actor,
            recorded: format::datetime(lang, tz, record.recorded_at),
            occurred: format::datetime(lang, tz, event.occurred_at),
            case_id: case.0.to_string(),
            detail,
            position: record.position,
        });
    }
    let chrome = Chrome::new(&user, &viewer, "audit.sealed_title", "/app/audit/sealed");
    Ok(render(&SealedPage {
        c: &chrome,
        reads,
        limit_text: catalog.fill(
            "audit.sealed_limit",
            &[("n", &SEALED_READS_MAX.to_string())],
        ),
    }))
}
