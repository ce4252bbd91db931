//! A deterministic generator of realistic histories, for tests and the
//! benchmark: a province of posts, communes and hamlets with committees,
//! members and households, then cases taken through their lifecycle.
//!
//! Every event comes out of the domain's `decide`, so the history is one the
//! service could have written; the same seed gives the same events, ids and
//! times. Only the first administrator is written directly, as the
//! installer does.

use std::collections::BTreeSet;

use casebook_domain::{
    decide, evolve, to_record, ActionKind, Aggregate, Assignee, Circumstance, CommitteeId,
    CommitteeKind, Concern, ConcernCommand, ConcernId, ConcernKind, Confidentiality, Context,
    Directory, EscalateTo, Event, FollowUp, GrantId, Household, HouseholdCommand, HouseholdId,
    NewConcern, Outcome, Payload, Person, PersonCommand, PersonId, PersonRegistered,
    PersonalDetails, Policy, Priority, Role, RoleGranted, Status, StreamId, Subject, TopicCode,
    Unit, UnitCommand, UnitId, UnitKind,
};
use casebook_log::{Metadata, NewEvent};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

/// SplitMix64: tiny, fast and good enough to draw a test history; the same
/// seed always gives the same sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A random UUID (version 4 layout).
    pub fn uuid(&mut self) -> Uuid {
        let bits = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// How big a world to make and how its cases flow.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Border posts under the province.
    pub posts: usize,
    /// Communes under each post.
    pub communes_per_post: usize,
    /// Hamlets in each commune.
    pub hamlets_per_commune: usize,
    /// Households in each hamlet (each assigned to one of the hamlet's members).
    pub households_per_hamlet: usize,
    /// Members in each hamlet.
    pub members_per_hamlet: usize,
    /// Cases open at once: the generator reports a new case when fewer are open.
    pub open_cases: usize,
    /// Field time between two commands, in seconds.
    pub step_seconds: i64,
}

impl Shape {
    /// A small world for unit tests: 2 posts, 4 communes, 8 hamlets.
    pub fn small() -> Self {
        Self {
            posts: 2,
            communes_per_post: 2,
            hamlets_per_commune: 2,
            households_per_hamlet: 4,
            members_per_hamlet: 2,
            open_cases: 20,
            step_seconds: 1_800,
        }
    }

    /// A province the size of the seeds' (Lạng Sơn, Sóc Trăng): 10 posts,
    /// 50 communes, 250 hamlets, 5,000 households, 500 members.
    pub fn province() -> Self {
        Self {
            posts: 10,
            communes_per_post: 5,
            hamlets_per_commune: 5,
            households_per_hamlet: 20,
            members_per_hamlet: 2,
            open_cases: 3_000,
            step_seconds: 30,
        }
    }
}

/// One generated event with its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its id in the log (deterministic from the seed).
    pub id: Uuid,
    /// The event.
    pub event: Event,
}

impl Generated {
    /// The event as the log takes it.
    pub fn new_event(&self) -> NewEvent {
        let record = to_record(&self.event);
        let (event_type, schema_version, data) = match record {
            Ok(r) => (r.event_type, r.schema_version, r.data),
            Err(e) => (
                String::from("invalid"),
                0,
                serde_json::json!({ "error": e.to_string() }),
            ),
        };
        NewEvent {
            id: self.id,
            event_type,
            schema_version,
            data,
            metadata: Metadata {
                actor: self.event.actor.to_string(),
                correlation_id: None,
                causation_id: None,
                occurred_at: self.event.occurred_at,
            },
        }
    }
}

/// A hamlet and who works there.
#[derive(Debug, Clone)]
pub struct Hamlet {
    /// The hamlet.
    pub id: UnitId,
    /// Its commune.
    pub commune: UnitId,
    /// Its party cell.
    pub cell: CommitteeId,
    /// A committee member of the cell.
    pub cell_member: PersonId,
    /// The commune's committee (to escalate to).
    pub commune_committee: CommitteeId,
    /// Its households, each with its member.
    pub households: Vec<(HouseholdId, PersonId)>,
}

/// The world so far and the cases in flight.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    shape: Shape,
    policy: Policy,
    directory: Directory,
    now: DateTime<Utc>,
    /// The province.
    pub province: UnitId,
    /// Posts, with their communes.
    pub posts: Vec<(UnitId, Vec<UnitId>)>,
    /// Every hamlet.
    pub hamlets: Vec<Hamlet>,
    admin: PersonId,
    open: Vec<(ConcernId, usize, Option<Concern>)>,
    pending: Vec<Generated>,
}

/// Texts residents raise, in Vietnamese (some with đ, to exercise folding).
const TEXTS: [&str; 8] = [
    "Hộ gia đình thiếu vốn sản xuất, đề nghị được vay vốn tạo việc làm",
    "Tâm tư nguyện vọng về chính sách hỗ trợ hộ nghèo",
    "Đường vào ấp bị sạt lở sau mưa lớn, đi lại khó khăn",
    "Phản ánh tình trạng buôn lậu qua đường mòn ban đêm",
    "Kiến nghị sửa chữa cầu dân sinh bị hư hỏng",
    "Đề nghị hỗ trợ học bổng cho con em đồng bào dân tộc",
    "Tranh chấp đất đai giữa hai hộ liền kề",
    "Trạm y tế xã thiếu thuốc điều trị bệnh thông thường",
];

const TOPICS: [&str; 8] = [
    "livelihood_loans",
    "social_security",
    "roads_infrastructure",
    "crime_smuggling",
    "roads_infrastructure",
    "education",
    "land",
    "health",
];

impl Generator {
    /// A generator from a seed; the world is built at once (see [`Generator::drain`]).
    pub fn new(seed: u64, shape: Shape) -> Self {
        let start = Utc
            .with_ymd_and_hms(2024, 1, 1, 1, 0, 0)
            .single()
            .unwrap_or_default();
        let mut g = Self {
            rng: Rng::new(seed),
            shape,
            policy: Policy::default(),
            directory: Directory::new(),
            now: start,
            province: UnitId(Uuid::nil()),
            posts: Vec::new(),
            hamlets: Vec::new(),
            admin: PersonId(Uuid::nil()),
            open: Vec::new(),
            pending: Vec::new(),
        };
        g.build_world();
        g
    }

    /// The policy the history was decided with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The field time of the last command.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The events made so far and not yet taken.
    pub fn drain(&mut self) -> Vec<Generated> {
        std::mem::take(&mut self.pending)
    }

    /// Advances the history by at least `events` events and returns them.
    pub fn events(&mut self, events: usize) -> Vec<Generated> {
        while self.pending.len() < events {
            self.step();
        }
        self.drain()
    }

    fn emit(&mut self, stream: StreamId, events: Vec<Event>) {
        for event in events {
            if let StreamId::Unit(_) | StreamId::Person(_) | StreamId::Household(_) = stream {
                self.directory.apply(stream, &event);
            }
            let id = self.rng.uuid();
            self.pending.push(Generated { stream, id, event });
        }
    }

    fn run<A: Aggregate + Default>(
        &mut self,
        stream: StreamId,
        state: &A,
        actor: PersonId,
        command: &A::Command,
    ) -> Option<Vec<Event>> {
        let ctx = Context::new(actor, self.now, &self.policy, &self.directory);
        match decide(state, command, &ctx) {
            Ok(events) => {
                self.emit(stream, events.clone());
                Some(events)
            }
            Err(err) => {
                tracing::debug!(%err, "generator: command refused");
                None
            }
        }
    }

    fn id(&mut self) -> Uuid {
        self.rng.uuid()
    }

    fn build_world(&mut self) {
        self.seed_admin();
        self.province = self.unit(UnitKind::ProvincialCommand, "BĐBP tỉnh", None);
        let board = self.committee(self.province, CommitteeKind::Command, "Ban chỉ huy");
        let _ = board;
        for p in 0..self.shape.posts {
            let post = self.unit(
                UnitKind::Post,
                &format!("Đồn Biên phòng {p}"),
                Some(self.province),
            );
            self.committee(post, CommitteeKind::PartyCommittee, "Đảng ủy đồn");
            let mut communes = Vec::new();
            for c in 0..self.shape.communes_per_post {
                let commune = self.unit(UnitKind::Commune, &format!("Xã {p}-{c}"), Some(post));
                let commune_committee =
                    self.committee(commune, CommitteeKind::PartyCommittee, "Đảng ủy xã");
                communes.push(commune);
                for h in 0..self.shape.hamlets_per_commune {
                    self.hamlet(commune, commune_committee, &format!("Ấp {p}-{c}-{h}"));
                }
            }
            self.posts.push((post, communes));
        }
    }

    fn seed_admin(&mut self) {
        self.admin = PersonId(self.id());
        let stream = StreamId::Person(self.admin);
        let at = self.now;
        let payloads = [
            Payload::PersonRegistered(PersonRegistered {
                person_id: self.admin,
                name: "Quản trị".into(),
            }),
            Payload::RoleGranted(RoleGranted {
                grant_id: GrantId(self.admin.0),
                role: Role::Administrator,
                unit_id: UnitId(Uuid::nil()),
                from: at,
                until: None,
            }),
        ];
        let events = payloads
            .into_iter()
            .map(|payload| Event {
                actor: self.admin,
                occurred_at: at,
                recorded_at: at,
                payload,
            })
            .collect();
        self.emit(stream, events);
    }

    fn unit(&mut self, kind: UnitKind, name: &str, parent_id: Option<UnitId>) -> UnitId {
        let unit_id = UnitId(self.id());
        let command = UnitCommand::Create {
            unit_id,
            kind,
            name: name.to_owned(),
            parent_id,
        };
        self.run(StreamId::Unit(unit_id), &None::<Unit>, self.admin, &command);
        if kind == UnitKind::ProvincialCommand {
            self.grant_admin_in(unit_id);
        }
        unit_id
    }

    /// The administrator's seeded grant names the nil unit; grant it in the
    /// province too so that it may manage the tree below.
    fn grant_admin_in(&mut self, province: UnitId) {
        let at = self.now;
        let payload = Payload::RoleGranted(RoleGranted {
            grant_id: GrantId(self.id()),
            role: Role::Administrator,
            unit_id: province,
            from: at,
            until: None,
        });
        let event = Event {
            actor: self.admin,
            occurred_at: at,
            recorded_at: at,
            payload,
        };
        self.emit(StreamId::Person(self.admin), vec![event]);
    }

    fn committee(&mut self, unit: UnitId, kind: CommitteeKind, name: &str) -> CommitteeId {
        let committee_id = CommitteeId(self.id());
        let state = self.directory.lookup_unit(unit);
        let command = UnitCommand::FormCommittee {
            committee_id,
            kind,
            name: name.to_owned(),
        };
        self.run(StreamId::Unit(unit), &state, self.admin, &command);
        committee_id
    }

    fn person(&mut self, name: &str, role: Role, unit_id: UnitId) -> PersonId {
        let person_id = PersonId(self.id());
        let stream = StreamId::Person(person_id);
        self.run(
            stream,
            &None::<Person>,
            self.admin,
            &PersonCommand::Register {
                person_id,
                name: name.to_owned(),
            },
        );
        let state = self.directory.lookup_person(person_id);
        let grant = PersonCommand::GrantRole {
            grant_id: GrantId(self.id()),
            role,
            unit_id,
            until: None,
        };
        self.run(stream, &state, self.admin, &grant);
        person_id
    }

    fn hamlet(&mut self, commune: UnitId, commune_committee: CommitteeId, name: &str) {
        let hamlet = self.unit(UnitKind::Hamlet, name, Some(commune));
        let cell = self.committee(hamlet, CommitteeKind::PartyCell, "Chi bộ ấp");
        let cell_member = self.person(
            "Bí thư chi bộ",
            Role::CommitteeMember { committee_id: cell },
            hamlet,
        );
        let members: Vec<PersonId> = (0..self.shape.members_per_hamlet)
            .map(|i| self.person(&format!("Đảng viên {i}"), Role::Member, hamlet))
            .collect();
        let mut households = Vec::new();
        for i in 0..self.shape.households_per_hamlet {
            let household_id = HouseholdId(self.id());
            let stream = StreamId::Household(household_id);
            let register = HouseholdCommand::Register {
                household_id,
                hamlet_id: hamlet,
                personal: PersonalDetails {
                    head_of_household: format!("Chủ hộ {i}"),
                    phone: None,
                    address: None,
                    note: None,
                },
                size: 4,
                circumstances: BTreeSet::from([Circumstance::PoorHousehold]),
            };
            self.run(stream, &None::<Household>, self.admin, &register);
            let member = members
                .get(i % members.len().max(1))
                .copied()
                .unwrap_or(cell_member);
            let state = self.directory.lookup_household(household_id);
            self.run(
                stream,
                &state,
                self.admin,
                &HouseholdCommand::AssignMember { member_id: member },
            );
            households.push((household_id, member));
        }
        self.hamlets.push(Hamlet {
            id: hamlet,
            commune,
            cell,
            cell_member,
            commune_committee,
            households,
        });
    }

    /// One command: a new case while fewer than `open_cases` are open, else
    /// the next step of a random open case.
    fn step(&mut self) {
        self.now += TimeDelta::seconds(self.shape.step_seconds);
        if self.open.len() < self.shape.open_cases || self.rng.chance(5) {
            self.report();
        } else {
            let i = self.rng.below(self.open.len());
            self.advance(i);
        }
    }

    fn report(&mut self) {
        let Some(hamlet) = self.rng.pick(&self.hamlets).cloned() else {
            return;
        };
        let Some(&(household_id, member)) = self.rng.pick(&hamlet.households) else {
            return;
        };
        let t = self.rng.below(TEXTS.len());
        let Some(topic) = topic(TOPICS[t]) else {
            return;
        };
        let concern_id = ConcernId(self.id());
        let command = ConcernCommand::Report(NewConcern {
            concern_id,
            subject: Subject::Household { household_id },
            hamlet_id: Some(hamlet.id),
            coordinates: None,
            kind: [
                ConcernKind::Concern,
                ConcernKind::Aspiration,
                ConcernKind::Petition,
                ConcernKind::RequestForHelp,
            ][t % 4],
            topic,
            priority: self.priority(),
            confidentiality: Confidentiality::Normal,
            sealed_informant: None,
            text: TEXTS[t].to_owned(),
            personal_note: None,
        });
        let hamlet_index = self
            .hamlets
            .iter()
            .position(|h| h.id == hamlet.id)
            .unwrap_or(0);
        if let Some(events) = self.run(
            StreamId::Concern(concern_id),
            &None::<Concern>,
            member,
            &command,
        ) {
            let state = events.iter().fold(None, evolve);
            self.open.push((concern_id, hamlet_index, state));
        }
    }

    fn priority(&mut self) -> Priority {
        match self.rng.below(10) {
            0 => Priority::Urgent,
            1 | 2 => Priority::High,
            9 => Priority::Low,
            _ => Priority::Normal,
        }
    }

    fn advance(&mut self, i: usize) {
        let Some((id, hamlet_index, Some(concern))) = self.open.get(i).cloned() else {
            return;
        };
        let Some(hamlet) = self.hamlets.get(hamlet_index).cloned() else {
            return;
        };
        let member = hamlet
            .households
            .iter()
            .find(|(h, _)| concern.subject.households().contains(h))
            .map_or(hamlet.cell_member, |(_, m)| *m);
        let (actor, command) = self.next_command(&concern, &hamlet, member);
        let state = Some(concern);
        let events = self.run(StreamId::Concern(id), &state, actor, &command);
        let next = events.map_or(state.clone(), |events| events.iter().fold(state, evolve));
        match next {
            Some(c)
                if !matches!(
                    c.status,
                    Status::Closed | Status::Withdrawn | Status::Merged
                ) =>
            {
                if let Some(slot) = self.open.get_mut(i) {
                    slot.2 = Some(c);
                }
            }
            _ => {
                self.open.swap_remove(i);
            }
        }
    }

    fn next_command(
        &mut self,
        c: &Concern,
        h: &Hamlet,
        member: PersonId,
    ) -> (PersonId, ConcernCommand) {
        let cell = h.cell_member;
        match c.status {
            Status::Reported if self.rng.chance(3) => (
                cell,
                ConcernCommand::Withdraw {
                    reason: "Hộ dân rút lại".into(),
                },
            ),
            Status::Reported => (
                cell,
                ConcernCommand::Acknowledge {
                    topic: c.topic.clone(),
                    priority: c.priority,
                    deadline: None,
                },
            ),
            Status::Acknowledged if self.rng.chance(15) => (
                cell,
                ConcernCommand::Escalate {
                    to: EscalateTo::Committee(h.commune_committee),
                    reason: "Vượt thẩm quyền chi bộ".into(),
                },
            ),
            Status::Acknowledged => (
                cell,
                ConcernCommand::Assign(Assignee::Committee {
                    committee_id: h.cell,
                }),
            ),
            Status::InProgress if c.actions_recorded < 2 || self.rng.chance(30) => (
                member,
                ConcernCommand::RecordAction {
                    action: if self.rng.chance(70) {
                        ActionKind::Visit
                    } else {
                        ActionKind::Advice
                    },
                    summary: "Đến thăm hộ, nắm tình hình".into(),
                },
            ),
            Status::InProgress if c.referrals.is_empty() && self.rng.chance(10) => (
                cell,
                ConcernCommand::ReferOut {
                    body: "Ngân hàng Chính sách xã hội".into(),
                    reason: "Vay vốn".into(),
                },
            ),
            Status::InProgress => (
                cell,
                ConcernCommand::Resolve {
                    outcome: if self.rng.chance(90) {
                        Outcome::Resolved
                    } else {
                        Outcome::PartlyResolved
                    },
                    summary: "Đã giải quyết".into(),
                },
            ),
            Status::Resolved if c.feedback.is_none() => {
                let satisfied = self.rng.chance(85);
                let follow_up = (!satisfied).then_some(FollowUp::Reopen);
                (
                    cell,
                    ConcernCommand::RecordFeedback {
                        satisfied,
                        comment: "Ý kiến hộ dân".into(),
                        follow_up,
                    },
                )
            }
            _ => (
                cell,
                ConcernCommand::Close {
                    note: "Hoàn thành".into(),
                },
            ),
        }
    }
}

/// A topic code, if valid.
pub fn topic(code: &str) -> Option<TopicCode> {
    TopicCode::new(code).ok()
}

/// Lookups of single aggregates' current state, for running their commands.
trait DirectoryState {
    fn lookup_unit(&self, id: UnitId) -> Option<Unit>;
    fn lookup_person(&self, id: PersonId) -> Option<Person>;
    fn lookup_household(&self, id: HouseholdId) -> Option<Household>;
}

impl DirectoryState for Directory {
    fn lookup_unit(&self, id: UnitId) -> Option<Unit> {
        casebook_domain::Lookups::unit(self, id)
    }
    fn lookup_person(&self, id: PersonId) -> Option<Person> {
        casebook_domain::Lookups::person(self, id)
    }
    fn lookup_household(&self, id: HouseholdId) -> Option<Household> {
        casebook_domain::Lookups::household(self, id)
    }
}

/// Groups events into appends the log accepts: consecutive events of one
/// stream in one part, no stream twice in one append, at most `parts_max`
/// parts per append. Order is kept.
pub fn appends(events: &[Generated], parts_max: usize) -> Vec<Vec<casebook_log::StreamAppend>> {
    let mut out: Vec<Vec<casebook_log::StreamAppend>> = Vec::new();
    let mut current: Vec<casebook_log::StreamAppend> = Vec::new();
    for g in events {
        let stream = g.stream.name();
        if let Some(last) = current.last_mut().filter(|p| p.stream == stream) {
            last.events.push(g.new_event());
            continue;
        }
        if current.len() >= parts_max || current.iter().any(|p| p.stream == stream) {
            out.push(std::mem::take(&mut current));
        }
        current.push(casebook_log::StreamAppend {
            stream,
            expected: casebook_log::ExpectedRevision::Any,
            events: vec![g.new_event()],
        });
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
