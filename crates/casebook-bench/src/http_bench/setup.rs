//! What the loads need from the demo, asked through the API itself: the
//! member's household (the subject of every report), a case to read, and
//! the commune whose list is read.

use super::server::Server;
use crate::error::{BenchError, Result};
use serde_json::{json, Value};
use uuid::Uuid;

/// Where a case's report goes.
pub const CONCERNS: &str = "/v1/concerns";

/// The ids the loads use.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The demo member's first household.
    pub household: String,
    /// A case reported for it, read by the read load.
    pub concern: String,
    /// The demo commune committee's commune.
    pub commune: String,
}

/// The body of a report, `command_id` given.
pub fn report_body(command_id: &str, household: &str) -> Value {
    json!({
        "command_id": command_id,
        "subject": {"household": {"household_id": household}},
        "kind": "request_for_help",
        "topic": "livelihood_loans",
        "priority": "normal",
        "confidentiality": "normal",
        "text": "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.",
    })
}

/// Finds the household and the commune, and reports the case to read.
pub async fn prepare(server: &Server) -> Result<Fixture> {
    let client = reqwest::Client::new();
    let member = server.token("member")?;
    let households = get(&client, server, "/v1/households?member=me&limit=1", member).await?;
    let household = text_at(&households, "/items/0/household_id")?;
    let me = get(
        &client,
        server,
        "/v1/me",
        server.token("commune_committee")?,
    )
    .await?;
    let commune = text_at(&me, "/roles/0/unit_id")?;
    let (concern, _) = report(&client, server, &household).await?;
    Ok(Fixture {
        household,
        concern,
        commune,
    })
}

/// Reports one case as the member; answers its id and log position.
pub async fn report(
    client: &reqwest::Client,
    server: &Server,
    household: &str,
) -> Result<(String, u64)> {
    let body = report_body(&Uuid::new_v4().to_string(), household);
    let answer = client
        .post(format!("{}{CONCERNS}", server.base))
        .bearer_auth(server.token("member")?)
        .json(&body)
        .send()
        .await;
    let answer = read(answer, CONCERNS).await?;
    let stream = text_at(&answer, "/stream")?;
    let id = stream
        .strip_prefix("concern-")
        .unwrap_or(&stream)
        .to_owned();
    let position = answer
        .pointer("/position")
        .and_then(Value::as_u64)
        .ok_or_else(|| BenchError::Server(format!("no position in {answer}")))?;
    Ok((id, position))
}

async fn get(client: &reqwest::Client, server: &Server, path: &str, token: &str) -> Result<Value> {
    let answer = client
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await;
    read(answer, path).await
}

/// A 2xx JSON body, or the error with the path and the body.
async fn read(answer: reqwest::Result<reqwest::Response>, path: &str) -> Result<Value> {
    let failed = |e: &dyn std::fmt::Display| BenchError::Server(format!("{path}: {e}"));
    let answer = answer.map_err(|e| failed(&e))?;
    let status = answer.status();
    let body = answer.text().await.map_err(|e| failed(&e))?;
    if !status.is_success() {
        return Err(failed(&format!("{status}: {body}")));
    }
    serde_json::from_str(&body).map_err(|e| failed(&e))
}

fn text_at(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Server(format!("no {pointer} in {value}")))
}
