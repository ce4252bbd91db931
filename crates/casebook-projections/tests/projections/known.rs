//! A small history written by hand, and every view's exact answers on it.
//!
//! The province P has one post, one commune C with hamlets H and H2.
//! Members M1 (households A and B in H) and M2 (household K in H2).
//! Three cases, all in March 2024 (UTC; the policy counts days in
//! Asia/Ho_Chi_Minh, which keeps every event in the same local day here):
//! - X (household A): reported day 1, acknowledged 2 h later (normal,
//!   due day 16), assigned to H's cell, visited by M1 on day 2, resolved
//!   on day 5, resident satisfied on day 6.
//! - Y (household B): reported day 3, acknowledged 1 h later (high, due
//!   day 6 00:00), assigned to M1 in person. Still open; overdue on day 10.
//! - Z (household K): reported day 4, never acknowledged.

use casebook_domain::{
    ActionKind, ActionRecorded, Assignee, CommitteeFormed, CommitteeId, CommitteeKind,
    ConcernAcknowledged, ConcernAssigned, ConcernId, ConcernKind, ConcernReported, ConcernResolved,
    Confidentiality, Event, FeedbackRecorded, HouseholdId, HouseholdRegistered, MemberAssigned,
    Outcome, Payload, PersonId, PersonalDetails, Priority, Status, StreamId, Subject, UnitCreated,
    UnitId, UnitKind,
};
use casebook_projections::testkit::{topic, Generated};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

pub const P: UnitId = UnitId(Uuid::from_u128(1));
pub const POST: UnitId = UnitId(Uuid::from_u128(2));
pub const C: UnitId = UnitId(Uuid::from_u128(3));
pub const H: UnitId = UnitId(Uuid::from_u128(4));
pub const H2: UnitId = UnitId(Uuid::from_u128(5));
pub const CELL: CommitteeId = CommitteeId(Uuid::from_u128(10));
pub const M1: PersonId = PersonId(Uuid::from_u128(20));
pub const M2: PersonId = PersonId(Uuid::from_u128(21));
pub const ADMIN: PersonId = PersonId(Uuid::from_u128(22));
pub const A: HouseholdId = HouseholdId(Uuid::from_u128(30));
pub const B: HouseholdId = HouseholdId(Uuid::from_u128(31));
pub const K: HouseholdId = HouseholdId(Uuid::from_u128(32));
pub const X: ConcernId = ConcernId(Uuid::from_u128(40));
pub const Y: ConcernId = ConcernId(Uuid::from_u128(41));
pub const Z: ConcernId = ConcernId(Uuid::from_u128(42));

pub const TEXT_X: &str = "Tâm tư nguyện vọng về chính sách hỗ trợ hộ nghèo";
pub const TEXT_Y: &str = "Đường ra cánh đồng bị sạt lở, đi lại khó khăn";
pub const TEXT_Z: &str = "Ruộng dong riềng bị sâu bệnh";

/// 2024-03-`day` `hour`:00 UTC.
pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap()
}

pub fn march() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
    )
}

/// The deadline of X (normal) and of Y (high).
pub fn deadline_x() -> DateTime<Utc> {
    at(16, 0)
}
pub fn deadline_y() -> DateTime<Utc> {
    at(6, 0)
}

struct History(Vec<Generated>);

impl History {
    fn push(&mut self, stream: StreamId, actor: PersonId, at: DateTime<Utc>, payload: Payload) {
        let n = self.0.len() as u128;
        self.0.push(Generated {
            stream,
            id: Uuid::from_u128(0x1000 + n),
            event: Event {
                actor,
                occurred_at: at,
                recorded_at: at,
                payload,
            },
        });
    }

    fn unit(&mut self, id: UnitId, kind: UnitKind, name: &str, parent: Option<UnitId>) {
        let payload = Payload::UnitCreated(UnitCreated {
            unit_id: id,
            kind,
            name: name.into(),
            parent_id: parent,
        });
        self.push(StreamId::Unit(id), ADMIN, at(1, 0), payload);
    }

    fn household(&mut self, id: HouseholdId, hamlet: UnitId, head: &str, member: PersonId) {
        let registered = Payload::HouseholdRegistered(HouseholdRegistered {
            household_id: id,
            hamlet_id: hamlet,
            personal: PersonalDetails {
                head_of_household: head.into(),
                phone: None,
                address: None,
                note: None,
            },
            size: 4,
            circumstances: Default::default(),
        });
        self.push(StreamId::Household(id), ADMIN, at(1, 0), registered);
        let assigned = Payload::MemberAssigned(MemberAssigned {
            member_id: member,
            from: at(1, 0),
        });
        self.push(StreamId::Household(id), ADMIN, at(1, 0), assigned);
    }

    fn report(&mut self, case: ConcernId, h: HouseholdId, hamlet: UnitId, text: &str, day: u32) {
        let payload = Payload::ConcernReported(ConcernReported {
            concern_id: case,
            subject: Subject::Household { household_id: h },
            hamlet_id: hamlet,
            coordinates: None,
            kind: ConcernKind::Concern,
            topic: topic("social_security").unwrap(),
            priority: Priority::Normal,
            confidentiality: Confidentiality::Normal,
            sealed_informant: None,
            text: text.into(),
            personal_note: None,
        });
        self.push(StreamId::Concern(case), M1, at(day, 3), payload);
    }

    fn case(&mut self, case: ConcernId, actor: PersonId, at: DateTime<Utc>, payload: Payload) {
        self.push(StreamId::Concern(case), actor, at, payload);
    }
}

/// The history, in log order.
pub fn history() -> Vec<Generated> {
    let mut h = History(Vec::new());
    h.unit(P, UnitKind::ProvincialCommand, "BĐBP tỉnh", None);
    h.unit(POST, UnitKind::Post, "Đồn Vĩnh Hải", Some(P));
    h.unit(C, UnitKind::Commune, "Xã Vĩnh Hải", Some(POST));
    h.unit(H, UnitKind::Hamlet, "Ấp Âu Thọ A", Some(C));
    h.unit(H2, UnitKind::Hamlet, "Ấp Âu Thọ B", Some(C));
    let cell = Payload::CommitteeFormed(CommitteeFormed {
        committee_id: CELL,
        kind: CommitteeKind::PartyCell,
        name: "Chi bộ ấp".into(),
    });
    h.push(StreamId::Unit(H), ADMIN, at(1, 0), cell);
    h.household(A, H, "Chủ hộ A", M1);
    h.household(B, H, "Chủ hộ B", M1);
    h.household(K, H2, "Chủ hộ K", M2);

    h.report(X, A, H, TEXT_X, 1);
    let ack = |priority, deadline| {
        Payload::ConcernAcknowledged(ConcernAcknowledged {
            topic: topic("social_security").unwrap(),
            priority,
            deadline,
        })
    };
    h.case(X, M1, at(1, 5), ack(Priority::Normal, deadline_x()));
    let to_cell = Payload::ConcernAssigned(ConcernAssigned {
        assignee: Assignee::Committee { committee_id: CELL },
        handling_unit_id: H,
    });
    h.case(X, M1, at(1, 6), to_cell);
    let visit = Payload::ActionRecorded(ActionRecorded {
        action: ActionKind::Visit,
        summary: "Đến thăm hộ".into(),
    });
    h.case(X, M1, at(2, 9), visit);
    let resolved = Payload::ConcernResolved(ConcernResolved {
        outcome: Outcome::Resolved,
        summary: "Đã vay vốn".into(),
    });
    h.case(X, M1, at(5, 3), resolved);
    let feedback = Payload::FeedbackRecorded(FeedbackRecorded {
        satisfied: true,
        comment: "Hài lòng".into(),
    });
    h.case(X, M1, at(6, 3), feedback);

    h.report(Y, B, H, TEXT_Y, 3);
    h.case(Y, M1, at(3, 4), ack(Priority::High, deadline_y()));
    let to_m1 = Payload::ConcernAssigned(ConcernAssigned {
        assignee: Assignee::Person { person_id: M1 },
        handling_unit_id: H,
    });
    h.case(Y, M1, at(3, 5), to_m1);

    h.report(Z, K, H2, TEXT_Z, 4);
    h.0
}

/// The status of each case at the end of the history.
pub const STATUSES: [(ConcernId, Status); 3] = [
    (X, Status::Resolved),
    (Y, Status::InProgress),
    (Z, Status::Reported),
];
