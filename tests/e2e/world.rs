//! A small province built through the API by the bootstrap administrator:
//!
//! ```text
//! province (root)
//! ├── post A ── commune X ── hamlet 1 (household H1, member M1)
//! │                        └ hamlet 2
//! └── post B ── commune Y ── hamlet 3 (household H3, member M3)
//! ```
//!
//! and one token per role: member M1 (inside: H1 is theirs), member M3
//! (outside), hamlet-1 cell (inside), post-B committee (outside), auditor of
//! post A (inside), auditor of post B (outside), and the administrator.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::server::Server;

/// Ids and tokens of the world.
#[allow(dead_code)]
pub struct World {
    pub server: Server,
    pub post_a: String,
    pub post_b: String,
    pub commune_x: String,
    pub commune_y: String,
    pub hamlet_1: String,
    pub hamlet_2: String,
    pub hamlet_3: String,
    pub cell_1_committee: String,
    pub post_a_committee: String,
    pub post_b_committee: String,
    pub household_1: String,
    pub household_3: String,
    pub member_1: String,
    pub member_3: String,
    pub cell_1: String,
    pub post_a_chief: String,
    pub admin: String,
    /// Tokens by role name.
    pub tokens: Vec<(&'static str, String)>,
}

impl World {
    /// The token of a role (`member_in`, `member_out`, `committee_in`,
    /// `committee_out`, `auditor_in`, `auditor_out`, `admin`, `post_a_chief`).
    pub fn token(&self, role: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(r, _)| *r == role)
            .unwrap_or_else(|| panic!("no role {role}"))
            .1
    }
}

fn id_of(answer: &crate::server::Answer, field: &str) -> String {
    assert!(answer.status.is_success(), "{:?}", answer.body);
    answer.body[field].as_str().expect(field).to_owned()
}

async fn unit(s: &Server, kind: &str, name: &str, parent: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let a = s
        .post(
            "/v1/units",
            &s.admin_token,
            json!({"unit_id": id, "kind": kind, "name": name, "parent_id": parent}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    id
}

async fn committee(s: &Server, unit: &str, kind: &str, name: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let a = s
        .post(
            &format!("/v1/units/{unit}/committees"),
            &s.admin_token,
            json!({"committee_id": id, "kind": kind, "name": name}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    id
}

async fn person(s: &Server, name: &str, role: Value, unit: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let a = s
        .post(
            "/v1/people",
            &s.admin_token,
            json!({"person_id": id, "name": name}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let a = s
        .post(
            &format!("/v1/people/{id}/roles"),
            &s.admin_token,
            json!({"role": role, "unit_id": unit}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    id
}

async fn household(s: &Server, hamlet: &str, head: &str, member: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let a = s
        .post(
            "/v1/households",
            &s.admin_token,
            json!({"household_id": id, "hamlet_id": hamlet, "size": 4,
                "personal": {"head_of_household": head, "phone": null, "address": null, "note": null},
                "circumstances": ["poor_household"]}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let a = s
        .post(
            &format!("/v1/households/{id}/assignment"),
            &s.admin_token,
            json!({"member_id": member}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    id
}

async fn token(s: &Server, person: &str) -> String {
    let a = s
        .post(
            "/v1/tokens",
            &s.admin_token,
            json!({"person_id": person, "label": "e2e"}),
        )
        .await;
    assert_eq!(a.status.as_u16(), 201, "{:?}", a.body);
    id_of(&a, "token")
}

/// Builds the world on a fresh server.
pub async fn world() -> World {
    world_on(Server::start()).await
}

/// Builds the world on a given server.
pub async fn world_on(s: Server) -> World {
    let root = s.root_unit.clone();
    let post_a = unit(&s, "post", "Đồn Biên phòng Vĩnh Hải", &root).await;
    let post_b = unit(&s, "post", "Đồn Biên phòng Lai Hòa", &root).await;
    let commune_x = unit(&s, "commune", "Xã Vĩnh Hải", &post_a).await;
    let commune_y = unit(&s, "commune", "Xã Lai Hòa", &post_b).await;
    let hamlet_1 = unit(&s, "hamlet", "Ấp Âu Thọ A", &commune_x).await;
    let hamlet_2 = unit(&s, "hamlet", "Ấp Âu Thọ B", &commune_x).await;
    let hamlet_3 = unit(&s, "hamlet", "Ấp Hòa Giang", &commune_y).await;
    let cell_1_committee = committee(&s, &hamlet_1, "party_cell", "Chi bộ ấp Âu Thọ A").await;
    let post_a_committee = committee(&s, &post_a, "party_committee", "Đảng ủy đồn Vĩnh Hải").await;
    let post_b_committee = committee(&s, &post_b, "party_committee", "Đảng ủy đồn Lai Hòa").await;
    let member_1 = person(&s, "Thiếu úy Lê Văn An", json!({"role": "member"}), &post_a).await;
    let member_3 = person(
        &s,
        "Thiếu úy Trần Văn Ba",
        json!({"role": "member"}),
        &post_b,
    )
    .await;
    let cell_1 = person(
        &s,
        "Bí thư chi bộ Nguyễn Thị Cúc",
        json!({"role": "committee_member", "committee_id": cell_1_committee}),
        &hamlet_1,
    )
    .await;
    let post_a_chief = person(
        &s,
        "Đồn trưởng Phạm Văn Dũng",
        json!({"role": "committee_member", "committee_id": post_a_committee}),
        &post_a,
    )
    .await;
    let post_b_chief = person(
        &s,
        "Đồn trưởng Võ Văn Em",
        json!({"role": "committee_member", "committee_id": post_b_committee}),
        &post_b,
    )
    .await;
    let auditor_a = person(
        &s,
        "Kiểm tra viên Hồ Thị Gấm",
        json!({"role": "auditor"}),
        &post_a,
    )
    .await;
    let auditor_b = person(
        &s,
        "Kiểm tra viên Đỗ Văn Hải",
        json!({"role": "auditor"}),
        &post_b,
    )
    .await;
    let household_1 = household(&s, &hamlet_1, "Nguyễn Văn Hòa", &member_1).await;
    let household_3 = household(&s, &hamlet_3, "Trần Thị Lan", &member_3).await;
    let admin = s.body_admin().await;
    let tokens = vec![
        ("member_in", token(&s, &member_1).await),
        ("member_out", token(&s, &member_3).await),
        ("committee_in", token(&s, &cell_1).await),
        ("committee_out", token(&s, &post_b_chief).await),
        ("auditor_in", token(&s, &auditor_a).await),
        ("auditor_out", token(&s, &auditor_b).await),
        ("post_a_chief", token(&s, &post_a_chief).await),
        ("admin", s.admin_token.clone()),
    ];
    World {
        server: s,
        post_a,
        post_b,
        commune_x,
        commune_y,
        hamlet_1,
        hamlet_2,
        hamlet_3,
        cell_1_committee,
        post_a_committee,
        post_b_committee,
        household_1,
        household_3,
        member_1,
        member_3,
        cell_1,
        post_a_chief,
        admin,
        tokens,
    }
}

impl Server {
    /// The administrator's person id.
    pub async fn body_admin(&self) -> String {
        let me = self.get("/v1/me", &self.admin_token).await;
        me.body["person_id"].as_str().expect("person_id").to_owned()
    }
}

/// A report body for household 1 (or any household), with a fresh command id.
pub fn report_body(household: &str) -> Value {
    json!({
        "command_id": Uuid::new_v4(),
        "subject": {"household": {"household_id": household}},
        "kind": "request_for_help",
        "topic": "livelihood_loans",
        "priority": "normal",
        "confidentiality": "normal",
        "text": "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.",
    })
}

/// Reports a case for household 1 as member M1; answers its id.
pub async fn reported(w: &World) -> String {
    let a = w
        .server
        .post(
            "/v1/concerns",
            w.token("member_in"),
            report_body(&w.household_1),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    a.body["stream"]
        .as_str()
        .and_then(|s| s.strip_prefix("concern-"))
        .expect("stream")
        .to_owned()
}

/// Reports, acknowledges and assigns (to the hamlet cell) a case; answers its id.
pub async fn in_progress(w: &World) -> String {
    let id = reported(w).await;
    let s = &w.server;
    let c = w.token("committee_in");
    let a = s
        .post(
            &format!("/v1/concerns/{id}/acknowledge"),
            c,
            json!({"topic": "livelihood_loans", "priority": "high"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    let a = s
        .post(
            &format!("/v1/concerns/{id}/assign"),
            c,
            json!({"assignee": {"committee": {"committee_id": w.cell_1_committee}}}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    id
}
