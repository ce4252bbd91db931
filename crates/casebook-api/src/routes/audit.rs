//! The audit routes: the key tree heads are signed with, fresh signed tree
//! heads, and inclusion and consistency proofs over the log's Merkle tree
//! (`casebook-audit`; every byte is specified in `docs/audit.md`).
//!
//! The public key is public: an auditor fetches it once and keeps it. Heads
//! and proofs are for auditors and administrators (others get 403, the
//! way role-only routes such as the token routes refuse). Every query
//! parameter is checked by hand so that a problem names the parameter at
//! fault. The tree follows the log in the background; a request for a size
//! the log holds but the tree has not reached yet waits up to
//! [`AUDIT_WAIT`], then answers 503 with `Retry-After`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use casebook_audit::{AuditError, ConsistencyProof, InclusionProof, SignedTreeHead};
use casebook_domain::Role;
use chrono::Utc;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{grants_at, Principal};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::state::{log_len, AppState};

/// How long a request waits for the tree to reach a size the log already
/// holds. The follower adds thousands of leaves a second, so this covers a
/// burst of writes; it stays far below the request timeout.
pub const AUDIT_WAIT: Duration = Duration::from_secs(2);

/// How often a waiting request looks at the tree's size again. The tree
/// has no change signal; 10 ms keeps the wait short and the polling cheap.
const AUDIT_POLL: Duration = Duration::from_millis(10);

/// The signature algorithm of tree heads.
pub const KEY_ALGORITHM: &str = "Ed25519";

/// What the signed bytes of a head start with (`docs/audit.md`).
pub const HEAD_DOMAIN: &str = "casebook-tree-head-v1";

/// The rule named when a caller may not read heads or proofs.
const AUDIT_RULE: &str = "audit_by_auditors_and_administrators";

/// The key that signs tree heads.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditKey {
    /// Always `Ed25519` (RFC 8032).
    pub algorithm: &'static str,
    /// The 32-byte public key, hex.
    pub public_key: String,
    /// The ASCII prefix of the signed bytes (see `docs/audit.md`).
    pub signed_prefix: &'static str,
}

/// A signed tree head, exactly as `docs/audit.md` specifies.
#[derive(Debug, Serialize, ToSchema)]
pub struct TreeHead {
    /// Leaves in the tree (= events of the log it covers).
    pub size: u64,
    /// The Merkle root, 32 bytes hex.
    pub root_hash: String,
    /// When it was signed, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Ed25519 signature over `casebook-tree-head-v1 ‖ size ‖ timestamp_ms ‖ root`, 64 bytes hex.
    pub signature: String,
}

impl From<SignedTreeHead> for TreeHead {
    fn from(head: SignedTreeHead) -> Self {
        Self {
            size: head.size,
            root_hash: head.root_hash,
            timestamp_ms: head.timestamp_ms,
            signature: head.signature,
        }
    }
}

/// An inclusion proof (RFC 9162, 2.1.3.1), as `docs/audit.md` specifies.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionBody {
    /// The event's log position (= its leaf index).
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// `SHA-256(0x00 ‖ canonical bytes)` of the event, hex.
    pub leaf_hash: String,
    /// The sibling hashes from the leaf up, hex.
    pub audit_path: Vec<String>,
}

impl From<InclusionProof> for InclusionBody {
    fn from(proof: InclusionProof) -> Self {
        Self {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            leaf_hash: proof.leaf_hash,
            audit_path: proof.audit_path,
        }
    }
}

/// A consistency proof (RFC 9162, 2.1.4.1), as `docs/audit.md` specifies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyBody {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The proof's hashes in the RFC's order, hex (empty when the sizes are equal).
    pub proof: Vec<String>,
}

impl From<ConsistencyProof> for ConsistencyBody {
    fn from(proof: ConsistencyProof) -> Self {
        Self {
            old_size: proof.old_size,
            new_size: proof.new_size,
            proof: proof.proof,
        }
    }
}

/// Query of `GET /v1/audit/inclusion` (for the OpenAPI document; the
/// handler reads the parameters itself to name the one at fault).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct InclusionParams {
    /// The event's log position (required).
    position: u64,
    /// The tree size to prove it in (≥ 1, > `position`, ≤ the log's length);
    /// by default the log's length now.
    size: Option<u64>,
}

/// Query of `GET /v1/audit/consistency` (for the OpenAPI document).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConsistencyParams {
    /// The older tree's size (required, ≥ 1).
    from: u64,
    /// The newer tree's size (required, ≥ `from`, ≤ the log's length).
    to: u64,
}

/// The key that tree heads are signed with. No token needed.
#[utoipa::path(get, path = "/.well-known/casebook-audit-key", tag = "audit",
    responses((status = 200, body = AuditKey)))]
pub async fn audit_key(State(state): State<AppState>) -> impl IntoResponse {
    let key = AuditKey {
        algorithm: KEY_ALGORITHM,
        public_key: state.audit().public_key_hex(),
        signed_prefix: HEAD_DOMAIN,
    };
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(key))
}

/// A signed tree head covering at least every event durable when the
/// request arrived (auditors and administrators).
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses((status = 200, body = TreeHead), (status = "4XX", body = Problem),
        (status = 503, description = "the tree is catching up; Retry-After", body = Problem)),
    security(("bearer" = [])))]
pub async fn head(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<TreeHead>, ApiError> {
    require_auditor(&state, &principal)?;
    read_params(&pairs, &[])?;
    wait_for_tree(&state, log_len(state.log())).await?;
    let head = state
        .audit()
        .signed_head(Utc::now().timestamp_millis())
        .map_err(audit_error)?;
    Ok(Json(head.into()))
}

/// The proof that the event at `position` is in the tree of `size`
/// (auditors and administrators).
#[utoipa::path(get, path = "/v1/audit/inclusion", tag = "audit", params(InclusionParams),
    responses((status = 200, body = InclusionBody), (status = "4XX", body = Problem),
        (status = 503, description = "the tree is catching up; Retry-After", body = Problem)),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<InclusionBody>, ApiError> {
    require_auditor(&state, &principal)?;
    let params = read_params(&pairs, &["position", "size"])?;
    let (position, size) = check_inclusion(&params, log_len(state.log()))?;
    wait_for_tree(&state, size).await?;
    let proof = state
        .audit()
        .inclusion_proof(position, size)
        .map_err(audit_error)?;
    Ok(Json(proof.into()))
}

/// The proof that the tree of `from` is a prefix of the tree of `to`
/// (auditors and administrators).
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "audit", params(ConsistencyParams),
    responses((status = 200, body = ConsistencyBody), (status = "4XX", body = Problem),
        (status = 503, description = "the tree is catching up; Retry-After", body = Problem)),
    security(("bearer" = [])))]
pub async fn consistency(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<ConsistencyBody>, ApiError> {
    require_auditor(&state, &principal)?;
    let params = read_params(&pairs, &["from", "to"])?;
    let (from, to) = check_consistency(&params, log_len(state.log()))?;
    wait_for_tree(&state, to).await?;
    let proof = state
        .audit()
        .consistency_proof(from, to)
        .map_err(audit_error)?;
    Ok(Json(proof.into()))
}

/// Refuses anyone but an auditor or an administrator (any unit: the tree
/// covers the whole log and holds hashes only).
fn require_auditor(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let directory = state.directory()?;
    let allowed = grants_at(&*directory, principal.person_id, Utc::now())
        .iter()
        .any(|g| matches!(g.role, Role::Auditor | Role::Administrator));
    if allowed {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        rule: Some(AUDIT_RULE.to_owned()),
        detail: "only an auditor or an administrator may read tree heads and proofs".to_owned(),
    })
}

/// Reads whole-number query parameters: each at most once, none unknown.
pub fn read_params<'a>(
    pairs: &'a [(String, String)],
    allowed: &[&str],
) -> Result<BTreeMap<&'a str, u64>, ApiError> {
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            let expected = match allowed {
                [] => "this route takes no parameters".to_owned(),
                names => format!("expected {}", names.join(", ")),
            };
            return Err(ApiError::bad_request(
                name.as_str(),
                format!("unknown parameter `{name}`; {expected}"),
            ));
        }
        let number = value.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                name.as_str(),
                format!("`{name}` must be a whole number, not {value:?}"),
            )
        })?;
        if params.insert(name.as_str(), number).is_some() {
            return Err(ApiError::bad_request(
                name.as_str(),
                format!("`{name}` is given more than once"),
            ));
        }
    }
    Ok(params)
}

fn required(params: &BTreeMap<&str, u64>, name: &str) -> Result<u64, ApiError> {
    params
        .get(name)
        .copied()
        .ok_or_else(|| ApiError::bad_request(name, format!("`{name}` is required")))
}

/// The position and tree size of an inclusion proof, checked against each
/// other (400) and against the log's length `log_len` (404).
pub fn check_inclusion(params: &BTreeMap<&str, u64>, log_len: u64) -> Result<(u64, u64), ApiError> {
    let position = required(params, "position")?;
    let size = match params.get("size").copied() {
        Some(0) => {
            return Err(ApiError::bad_request(
                "size",
                "`size` must be at least 1: a tree of size 0 holds no event",
            ))
        }
        Some(size) if position >= size => {
            return Err(ApiError::bad_request(
                "position",
                format!(
                    "`position` {position} is not in a tree of size {size} (positions 0 to {})",
                    size - 1
                ),
            ))
        }
        Some(size) if size > log_len => return Err(beyond_log("size", size, log_len)),
        Some(size) => size,
        None if position >= log_len => {
            return Err(ApiError::not_found(format!(
                "an event at `position` {position} (the log holds {log_len} events)"
            )))
        }
        None => log_len,
    };
    Ok((position, size))
}

/// The two sizes of a consistency proof, checked against each other (400)
/// and against the log's length `log_len` (404).
pub fn check_consistency(
    params: &BTreeMap<&str, u64>,
    log_len: u64,
) -> Result<(u64, u64), ApiError> {
    let from = required(params, "from")?;
    let to = required(params, "to")?;
    if from == 0 {
        return Err(ApiError::bad_request(
            "from",
            "`from` must be at least 1: every tree extends the empty one, there is nothing to prove",
        ));
    }
    if from > to {
        return Err(ApiError::bad_request(
            "from",
            format!("`from` ({from}) is larger than `to` ({to}): a log only grows"),
        ));
    }
    if to > log_len {
        return Err(beyond_log("to", to, log_len));
    }
    Ok((from, to))
}

fn beyond_log(name: &str, size: u64, log_len: u64) -> ApiError {
    ApiError::not_found(format!(
        "a tree of size {size} (`{name}`; the log holds {log_len} events)"
    ))
}

/// Waits until the tree holds `size` leaves, at most [`AUDIT_WAIT`];
/// else 503 with `Retry-After`.
async fn wait_for_tree(state: &AppState, size: u64) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + AUDIT_WAIT;
    loop {
        let have = state.audit().tree().size().map_err(audit_error)?;
        if have >= size {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Unavailable {
                detail: format!(
                    "the audit tree holds {have} of the {size} events asked for and is catching up; retry shortly"
                ),
            });
        }
        tokio::time::sleep(AUDIT_POLL).await;
    }
}

fn audit_error(error: AuditError) -> ApiError {
    match error {
        AuditError::OutOfRange(what) => ApiError::not_found(what),
        other => ApiError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A rule over the parameters and the log's length.
    type Rule = fn(&BTreeMap<&str, u64>, u64) -> Result<(u64, u64), ApiError>;
    /// What a check answers: the two numbers, or the status and the field named.
    type Checked = Result<(u64, u64), (u16, Option<String>)>;

    /// The status and the field named, or the two numbers.
    fn check(query: &[(&str, &str)], allowed: &[&str], log_len: u64, rule: Rule) -> Checked {
        let pairs = pairs(query);
        read_params(&pairs, allowed)
            .and_then(|params| rule(&params, log_len))
            .map_err(|e| (e.status().as_u16(), e.problem().field))
    }

    fn inclusion(query: &[(&str, &str)]) -> Checked {
        check(query, &["position", "size"], 10, check_inclusion)
    }

    fn consistency(query: &[(&str, &str)]) -> Checked {
        check(query, &["from", "to"], 10, check_consistency)
    }

    fn bad(field: &str) -> Checked {
        Err((400, Some(field.to_owned())))
    }

    #[test]
    fn inclusion_parameters_are_checked_and_the_one_at_fault_named() {
        assert_eq!(inclusion(&[("position", "3")]), Ok((3, 10)));
        assert_eq!(inclusion(&[("position", "3"), ("size", "4")]), Ok((3, 4)));
        assert_eq!(inclusion(&[("position", "9"), ("size", "10")]), Ok((9, 10)));
        assert_eq!(inclusion(&[]), bad("position"));
        assert_eq!(inclusion(&[("size", "4")]), bad("position"));
        assert_eq!(inclusion(&[("position", "x")]), bad("position"));
        assert_eq!(inclusion(&[("position", "-1")]), bad("position"));
        assert_eq!(inclusion(&[("position", "1"), ("size", "0")]), bad("size"));
        assert_eq!(
            inclusion(&[("position", "4"), ("size", "4")]),
            bad("position")
        );
        assert_eq!(
            inclusion(&[("position", "1"), ("position", "2")]),
            bad("position")
        );
        assert_eq!(inclusion(&[("position", "1"), ("leaf", "2")]), bad("leaf"));
        assert_eq!(inclusion(&[("position", "10")]), Err((404, None)));
        assert_eq!(
            inclusion(&[("position", "1"), ("size", "11")]),
            Err((404, None))
        );
    }

    #[test]
    fn consistency_parameters_are_checked_and_the_one_at_fault_named() {
        assert_eq!(consistency(&[("from", "3"), ("to", "10")]), Ok((3, 10)));
        assert_eq!(consistency(&[("from", "4"), ("to", "4")]), Ok((4, 4)));
        assert_eq!(consistency(&[("to", "4")]), bad("from"));
        assert_eq!(consistency(&[("from", "4")]), bad("to"));
        assert_eq!(consistency(&[("from", "0"), ("to", "4")]), bad("from"));
        assert_eq!(consistency(&[("from", "0"), ("to", "0")]), bad("from"));
        assert_eq!(consistency(&[("from", "5"), ("to", "4")]), bad("from"));
        assert_eq!(consistency(&[("from", "1"), ("to", "4.5")]), bad("to"));
        assert_eq!(
            consistency(&[("from", "1"), ("to", "4"), ("x", "1")]),
            bad("x")
        );
        assert_eq!(
            consistency(&[("from", "1"), ("to", "11")]),
            Err((404, None))
        );
    }

    struct Fixture {
        app: axum::Router,
        state: AppState,
        token: String,
        shutdown: tokio_util::sync::CancellationToken,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let policy = casebook_domain::Policy::default();
        let stores = crate::Stores::open(dir.path(), policy.clone()).unwrap();
        let names = crate::bootstrap::BootstrapNames {
            root_unit: "Tỉnh".to_owned(),
            admin: "Quản trị".to_owned(),
        };
        let lifetime = chrono::TimeDelta::days(1);
        let done = crate::bootstrap::bootstrap(&stores.log, &stores.tokens, &names, lifetime)
            .await
            .unwrap()
            .unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let config = crate::ApiConfig::default();
        let (state, _task) = AppState::start(stores, policy, config, shutdown.clone())
            .await
            .unwrap();
        Fixture {
            app: crate::router(state.clone()),
            state,
            token: done.token,
            shutdown,
            _dir: dir,
        }
    }

    async fn get(f: &Fixture, path: &str, token: Option<&str>) -> axum::response::Response {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        f.app.clone().oneshot(request).await.unwrap()
    }

    async fn json(response: axum::response::Response) -> serde_json::Value {
        use http_body_util::BodyExt;
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_key_is_public_and_a_head_covering_the_log_verifies_with_it() {
        let f = fixture().await;
        let key = json(get(&f, "/.well-known/casebook-audit-key", None).await).await;
        assert_eq!(key["algorithm"], KEY_ALGORITHM);
        let response = get(&f, "/v1/audit/head", Some(&f.token)).await;
        assert_eq!(response.status(), 200);
        let head: SignedTreeHead = serde_json::from_value(json(response).await).unwrap();
        assert_eq!(head.size, log_len(f.state.log()));
        head.verify(key["public_key"].as_str().unwrap()).unwrap();
        let anonymous = get(&f, "/v1/audit/head", None).await;
        assert_eq!(anonymous.status(), 401);
    }

    #[tokio::test]
    async fn a_tree_behind_the_log_answers_503_with_retry_after() {
        let f = fixture().await;
        // A head waits until the tree covers the log; then the follower stops.
        assert_eq!(
            get(&f, "/v1/audit/head", Some(&f.token)).await.status(),
            200
        );
        f.shutdown.cancel();
        f.state.stop_workers().await;
        let covered = f.state.audit().tree().size().unwrap();
        let event = casebook_log::NewEvent {
            id: uuid::Uuid::new_v4(),
            event_type: "test.appended".to_owned(),
            schema_version: 1,
            data: serde_json::json!({}),
            metadata: casebook_log::Metadata {
                actor: "test".to_owned(),
                correlation_id: None,
                causation_id: None,
                occurred_at: Utc::now(),
            },
        };
        let any = casebook_log::ExpectedRevision::Any;
        f.state
            .log()
            .append("test-1", any, vec![event])
            .await
            .unwrap();
        assert_eq!(log_len(f.state.log()), covered + 1);
        // The waits below run on the paused clock: instant, and exact.
        tokio::time::pause();
        let behind = [
            "/v1/audit/head".to_owned(),
            format!("/v1/audit/inclusion?position={covered}"),
            format!("/v1/audit/consistency?from=1&to={}", covered + 1),
        ];
        for path in behind {
            let response = get(&f, &path, Some(&f.token)).await;
            assert_eq!(response.status(), 503, "{path}");
            assert!(response.headers().contains_key("retry-after"), "{path}");
        }
        let within = format!("/v1/audit/inclusion?position=0&size={covered}");
        assert_eq!(get(&f, &within, Some(&f.token)).await.status(), 200);
    }

    #[test]
    fn the_openapi_document_lists_the_audit_routes_and_only_the_key_is_public() {
        use utoipa::OpenApi;
        let document = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
        let paths = &document["paths"];
        for path in [
            "/v1/audit/head",
            "/v1/audit/inclusion",
            "/v1/audit/consistency",
        ] {
            let get = &paths[path]["get"];
            assert!(get["security"].is_array(), "{path} needs a token");
        }
        let key = &paths["/.well-known/casebook-audit-key"]["get"];
        assert!(key.is_object() && key["security"].is_null());
        let names: Vec<&str> = paths["/v1/audit/inclusion"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["position", "size"]);
    }

    #[test]
    fn the_head_takes_no_parameters() {
        assert!(read_params(&pairs(&[]), &[]).is_ok());
        let error = read_params(&pairs(&[("size", "3")]), &[]).unwrap_err();
        assert_eq!(error.problem().field.as_deref(), Some("size"));
    }
}
