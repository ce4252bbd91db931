//! The SSE feed: only what the caller may see, resumable by position.

use std::time::Duration;

use futures::StreamExt;

use crate::world::{reported, world};

/// Reads SSE frames until `count` events arrived; answers (id, event type) pairs.
async fn read_events(
    server: &crate::server::Server,
    token: &str,
    last_event_id: Option<u64>,
    count: usize,
) -> Vec<(u64, String)> {
    let client = reqwest::Client::new();
    let mut request = client
        .get(format!("{}/v1/feed", server.base))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.expect("feed");
    assert_eq!(response.status().as_u16(), 200);
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events in time")
            .expect("chunk")
            .expect("bytes");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let id = frame
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|v| v.trim().parse().unwrap());
            let kind = frame
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(|v| v.trim().to_owned());
            if let (Some(id), Some(kind)) = (id, kind) {
                events.push((id, kind));
            }
        }
    }
    events
}

#[tokio::test]
async fn the_feed_shows_what_the_caller_may_see_and_resumes_after_the_last_id() {
    let w = world().await;
    let s = &w.server;
    reported(&w).await;
    reported(&w).await;
    let member = read_events(s, w.token("member_in"), None, 4).await;
    assert!(
        member
            .iter()
            .all(|(_, kind)| kind == "concern.reported" || kind.starts_with("household.")),
        "{member:?}"
    );
    let concerns: Vec<u64> = member
        .iter()
        .filter(|(_, k)| k == "concern.reported")
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(concerns.len(), 2, "{member:?}");
    let after = read_events(s, w.token("member_in"), Some(member[0].0), 1).await;
    assert!(after[0].0 > member[0].0);
    let admin = read_events(s, w.token("admin"), None, 3).await;
    assert!(
        admin.iter().all(|(_, k)| !k.starts_with("concern.")),
        "{admin:?}"
    );
    let committee = read_events(
        s,
        w.token("committee_in"),
        concerns.first().map(|p| p - 1),
        1,
    )
    .await;
    assert_eq!(committee[0].1, "concern.reported");
}
