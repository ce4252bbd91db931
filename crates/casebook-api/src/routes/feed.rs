//! The live feed: Server-Sent Events of the changes the caller may see.
//!
//! A catch-up subscription over the whole log, from the position after
//! `Last-Event-ID` (or `?after=`), each event sent with its position as its
//! SSE id, so a client that reconnects resumes exactly where it stopped.
//! Each concern event is shown only if the caller may see its case (the
//! case is folded per connection as events pass); household events only to
//! those who may see the household; unit and person events to
//! administrators and auditors. A sealed informant is withheld. The feed
//! ends when the server shuts down.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use casebook_domain::{evolve, fold, Concern, ConcernId, Context, Lookups, Role, StreamId};
use casebook_log::{
    Direction, EventStore, RecordedEvent, SledLog, Subscription, SubscriptionFilter,
};
use chrono::Utc;
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{grants_at, Principal};
use crate::codec::decode;
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::routes::reads::history_event;
use crate::state::AppState;
use crate::visibility::{case_visible, household_visible, redact};

/// Cases one connection keeps folded; past this the cache starts over
/// (each case is then folded again from its stream when next seen).
const FEED_CASES_CACHED_MAX: usize = 10_000;

/// Query of `GET /v1/feed`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Start after this position (the `Last-Event-ID` header wins if both are given).
    pub after: Option<u64>,
}

struct Feed {
    state: AppState,
    principal: Principal,
    subscription: Subscription<SledLog>,
    cases: HashMap<ConcernId, Option<Concern>>,
}

/// Live feed of the events the caller may see (SSE, resumable with `Last-Event-ID`).
#[utoipa::path(get, path = "/v1/feed", tag = "feed",
    params(FeedQuery, ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position")),
    responses((status = 200, description = "text/event-stream of events; id = position"), (status = "4XX", body = Problem)),
    security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID", "must be a log position"))?,
        ),
        None => query.after,
    };
    let subscription = Subscription::new(state.log().clone(), SubscriptionFilter::All, after);
    let shutdown = state.shutdown().clone();
    let feed = Feed {
        state,
        principal,
        subscription,
        cases: HashMap::new(),
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        loop {
            let recorded = feed.subscription.next().await.ok()?;
            match feed.render(&recorded).await {
                Ok(Some(event)) => return Some((Ok(event), feed)),
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "feed stopped");
                    return None;
                }
            }
        }
    });
    let stream = futures::StreamExt::take_until(stream, shutdown.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

impl Feed {
    /// The SSE event for a record, or `None` if the caller may not see it.
    async fn render(&mut self, recorded: &RecordedEvent) -> Result<Option<SseEvent>, ApiError> {
        let Ok(stream) = StreamId::parse(&recorded.stream) else {
            return Ok(None);
        };
        let event = decode(recorded)?;
        let reveal = match stream {
            StreamId::Concern(id) => {
                let concern = self.case_after(id, recorded, &event).await?;
                match concern.map(|c| self.case_reveal(&c)).transpose()?.flatten() {
                    Some(reveal) => reveal,
                    None => return Ok(None),
                }
            }
            other => {
                if !self.may_see_structure(other)? {
                    return Ok(None);
                }
                false
            }
        };
        let directory = self.state.directory()?;
        let entry = history_event(&*directory, recorded, &event, reveal)?;
        let data = serde_json::to_string(&serde_json::json!({
            "stream": recorded.stream,
            "event": entry,
        }))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Some(
            SseEvent::default()
                .id(recorded.position.to_string())
                .event(recorded.event_type.clone())
                .data(data),
        ))
    }

    /// The case after this event, folded incrementally per connection.
    async fn case_after(
        &mut self,
        id: ConcernId,
        recorded: &RecordedEvent,
        event: &casebook_domain::Event,
    ) -> Result<Option<Concern>, ApiError> {
        if self.cases.len() > FEED_CASES_CACHED_MAX {
            self.cases.clear();
        }
        let concern = match self.cases.remove(&id) {
            Some(before) => evolve(before, event),
            None => self.fold_until(id, recorded.revision).await?,
        };
        self.cases.insert(id, concern.clone());
        Ok(concern)
    }

    async fn fold_until(&self, id: ConcernId, revision: u64) -> Result<Option<Concern>, ApiError> {
        let count = usize::try_from(revision + 1).unwrap_or(usize::MAX);
        let records = self
            .state
            .log()
            .read_stream(&id.stream(), Direction::Forwards, Some(0), count)
            .await?;
        let events = records.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(fold(&events))
    }

    /// `None` if the caller may not see the case, else whether they may
    /// also read its sealed informant.
    fn case_reveal(&self, concern: &Concern) -> Result<Option<bool>, ApiError> {
        let directory = self.state.directory()?;
        let ctx = Context::new(
            self.principal.person_id,
            Utc::now(),
            self.state.policy(),
            &*directory,
        );
        if !case_visible(&ctx, concern) {
            return Ok(None);
        }
        Ok(Some(
            redact(self.principal.person_id, concern)
                .sealed_informant
                .is_some(),
        ))
    }

    fn may_see_structure(&self, stream: StreamId) -> Result<bool, ApiError> {
        let directory = self.state.directory()?;
        let now = Utc::now();
        Ok(match stream {
            StreamId::Household(id) => directory
                .household(id)
                .is_some_and(|h| household_visible(&*directory, self.principal.person_id, &h, now)),
            _ => grants_at(&*directory, self.principal.person_id, now)
                .iter()
                .any(|g| matches!(g.role, Role::Administrator | Role::Auditor)),
        })
    }
}
