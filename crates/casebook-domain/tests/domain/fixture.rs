//! A small world to test in, and the given/when/then helper.
//!
//! The world is one province with two posts, two communes (one under post A,
//! one under the province and covered by post B), two hamlets, committees,
//! members, a committee member at each level, an auditor and an
//! administrator, and three households. It is built through `decide` itself,
//! so building it also tests the structure commands.

use casebook_domain::{
    decide, evolve, fold, Aggregate, Circumstance, CommitteeId, CommitteeKind, Concern,
    ConcernCommand, ConcernId, ConcernKind, Confidentiality, Context, Directory, DomainError,
    Event, GrantId, Household, HouseholdCommand, HouseholdId, NewConcern, Payload, PersonCommand,
    PersonId, PersonRegistered, PersonalDetails, Policy, Priority, Role, RoleGranted, Rule,
    StreamId, Subject, TopicCode, Unit, UnitCommand, UnitId, UnitKind,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeSet;
use std::fmt::Debug;
use uuid::Uuid;

pub const PROVINCE: UnitId = UnitId(Uuid::from_u128(0x100));
pub const POST_A: UnitId = UnitId(Uuid::from_u128(0x110));
pub const POST_B: UnitId = UnitId(Uuid::from_u128(0x120));
pub const COMMUNE_X: UnitId = UnitId(Uuid::from_u128(0x111));
pub const COMMUNE_Y: UnitId = UnitId(Uuid::from_u128(0x101));
pub const HAMLET_1: UnitId = UnitId(Uuid::from_u128(0x1111));
pub const HAMLET_2: UnitId = UnitId(Uuid::from_u128(0x1011));

pub const PROVINCE_BOARD: CommitteeId = CommitteeId(Uuid::from_u128(0x200));
pub const POST_A_COMMITTEE: CommitteeId = CommitteeId(Uuid::from_u128(0x210));
pub const POST_B_COMMITTEE: CommitteeId = CommitteeId(Uuid::from_u128(0x220));
pub const COMMUNE_X_COMMITTEE: CommitteeId = CommitteeId(Uuid::from_u128(0x211));
pub const HAMLET_1_CELL: CommitteeId = CommitteeId(Uuid::from_u128(0x2111));
pub const HAMLET_2_CELL: CommitteeId = CommitteeId(Uuid::from_u128(0x2011));

pub const ADMIN: PersonId = PersonId(Uuid::from_u128(0x300));
pub const MEMBER_1: PersonId = PersonId(Uuid::from_u128(0x301));
pub const MEMBER_2: PersonId = PersonId(Uuid::from_u128(0x302));
pub const CELL_1: PersonId = PersonId(Uuid::from_u128(0x303));
pub const CELL_2: PersonId = PersonId(Uuid::from_u128(0x304));
pub const POST_A_CHIEF: PersonId = PersonId(Uuid::from_u128(0x305));
pub const POST_B_CHIEF: PersonId = PersonId(Uuid::from_u128(0x306));
pub const PROVINCE_CHIEF: PersonId = PersonId(Uuid::from_u128(0x307));
pub const AUDITOR: PersonId = PersonId(Uuid::from_u128(0x308));
pub const COMMUNE_X_CHIEF: PersonId = PersonId(Uuid::from_u128(0x309));
pub const STRANGER: PersonId = PersonId(Uuid::from_u128(0x3ff));

pub const HOUSEHOLD_1: HouseholdId = HouseholdId(Uuid::from_u128(0x401));
pub const HOUSEHOLD_2: HouseholdId = HouseholdId(Uuid::from_u128(0x402));
pub const HOUSEHOLD_3: HouseholdId = HouseholdId(Uuid::from_u128(0x403));

pub const CONCERN: ConcernId = ConcernId(Uuid::from_u128(0x501));
pub const OTHER_CONCERN: ConcernId = ConcernId(Uuid::from_u128(0x502));

/// Monday 4 March 2024, 10:00 in Hồ Chí Minh time.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 4, 3, 0, 0)
        .single()
        .expect("a valid instant")
}

/// `t0` plus some hours.
pub fn hours(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(n)
}

/// When the world was set up: two months before `t0`.
pub fn setup_time() -> DateTime<Utc> {
    t0() - TimeDelta::days(60)
}

pub fn topic(code: &str) -> TopicCode {
    TopicCode::new(code).expect("a valid topic code")
}

/// The state an aggregate's commands act on, so the helper can infer it.
pub trait Command: Clone + Debug {
    type State: Aggregate<Command = Self> + Default + Clone + Debug + PartialEq;
}
impl Command for ConcernCommand {
    type State = Option<Concern>;
}
impl Command for HouseholdCommand {
    type State = Option<Household>;
}
impl Command for UnitCommand {
    type State = Option<Unit>;
}
impl Command for PersonCommand {
    type State = Option<casebook_domain::Person>;
}

#[derive(Debug)]
pub struct World {
    pub directory: Directory,
    pub policy: Policy,
    /// Every event that built the world, with its stream.
    pub log: Vec<(StreamId, Event)>,
}

impl World {
    pub fn ctx(&self, actor: PersonId, now: DateTime<Utc>) -> Context<'_> {
        Context::new(actor, now, &self.policy, &self.directory)
    }

    /// Runs a command on an aggregate of the directory and folds its events in.
    pub fn run<C: Command>(&mut self, stream: StreamId, actor: PersonId, command: C) {
        let state: C::State = fold(
            self.log
                .iter()
                .filter(|(s, _)| *s == stream)
                .map(|(_, e)| e),
        );
        let events = {
            let ctx = self.ctx(actor, setup_time());
            decide(&state, &command, &ctx).unwrap_or_else(|e| panic!("{command:?} failed: {e}"))
        };
        for event in &events {
            self.directory.apply(stream, event);
        }
        self.log.extend(events.into_iter().map(|e| (stream, e)));
    }

    /// Writes an event without `decide`: how the installer seeds the first administrator.
    fn seed(&mut self, stream: StreamId, payload: Payload) {
        let event = Event {
            actor: ADMIN,
            occurred_at: setup_time(),
            recorded_at: setup_time(),
            payload,
        };
        self.directory.apply(stream, &event);
        self.log.push((stream, event));
    }

    fn unit(&mut self, unit_id: UnitId, kind: UnitKind, name: &str, parent_id: Option<UnitId>) {
        let name = name.to_owned();
        self.run(
            StreamId::Unit(unit_id),
            ADMIN,
            UnitCommand::Create {
                unit_id,
                kind,
                name,
                parent_id,
            },
        );
    }

    fn committee(
        &mut self,
        unit_id: UnitId,
        committee_id: CommitteeId,
        kind: CommitteeKind,
        name: &str,
    ) {
        let name = name.to_owned();
        self.run(
            StreamId::Unit(unit_id),
            ADMIN,
            UnitCommand::FormCommittee {
                committee_id,
                kind,
                name,
            },
        );
    }

    fn person(&mut self, person_id: PersonId, name: &str, role: Role, unit_id: UnitId) {
        let stream = StreamId::Person(person_id);
        let name = name.to_owned();
        self.run(stream, ADMIN, PersonCommand::Register { person_id, name });
        let grant_id = GrantId(person_id.0);
        self.run(
            stream,
            ADMIN,
            PersonCommand::GrantRole {
                grant_id,
                role,
                unit_id,
                until: None,
            },
        );
    }

    fn household(
        &mut self,
        household_id: HouseholdId,
        hamlet_id: UnitId,
        head: &str,
        member_id: PersonId,
    ) {
        let stream = StreamId::Household(household_id);
        let command = HouseholdCommand::Register {
            household_id,
            hamlet_id,
            personal: personal(head),
            size: 4,
            circumstances: BTreeSet::from([Circumstance::PoorHousehold]),
        };
        self.run(stream, ADMIN, command);
        self.run(stream, ADMIN, HouseholdCommand::AssignMember { member_id });
    }
}

pub fn personal(head: &str) -> PersonalDetails {
    PersonalDetails {
        head_of_household: head.to_owned(),
        phone: Some("0912 345 678".to_owned()),
        address: None,
        note: None,
    }
}

/// The world every test starts from.
pub fn world() -> World {
    let mut w = World {
        directory: Directory::new(),
        policy: Policy::default(),
        log: Vec::new(),
    };
    let admin = StreamId::Person(ADMIN);
    w.seed(
        admin,
        Payload::PersonRegistered(PersonRegistered {
            person_id: ADMIN,
            name: "Quản trị".to_owned(),
        }),
    );
    w.seed(
        admin,
        Payload::RoleGranted(RoleGranted {
            grant_id: GrantId(ADMIN.0),
            role: Role::Administrator,
            unit_id: PROVINCE,
            from: setup_time(),
            until: None,
        }),
    );
    w.unit(
        PROVINCE,
        UnitKind::ProvincialCommand,
        "BĐBP Sóc Trăng",
        None,
    );
    w.unit(
        POST_A,
        UnitKind::Post,
        "Đồn Biên phòng Vĩnh Hải",
        Some(PROVINCE),
    );
    w.unit(
        POST_B,
        UnitKind::Post,
        "Đồn Biên phòng Lai Hòa",
        Some(PROVINCE),
    );
    w.unit(COMMUNE_X, UnitKind::Commune, "Xã Vĩnh Hải", Some(POST_A));
    w.unit(COMMUNE_Y, UnitKind::Commune, "Xã Lai Hòa", Some(PROVINCE));
    w.run(
        StreamId::Unit(POST_B),
        ADMIN,
        UnitCommand::CoverCommune {
            commune_id: COMMUNE_Y,
        },
    );
    w.unit(HAMLET_1, UnitKind::Hamlet, "Ấp Âu Thọ A", Some(COMMUNE_X));
    w.unit(HAMLET_2, UnitKind::Hamlet, "Ấp Đại Bái", Some(COMMUNE_Y));
    w.committee(
        PROVINCE,
        PROVINCE_BOARD,
        CommitteeKind::Command,
        "Ban chỉ huy",
    );
    w.committee(
        POST_A,
        POST_A_COMMITTEE,
        CommitteeKind::PartyCommittee,
        "Đảng ủy đồn Vĩnh Hải",
    );
    w.committee(
        POST_B,
        POST_B_COMMITTEE,
        CommitteeKind::PartyCommittee,
        "Đảng ủy đồn Lai Hòa",
    );
    w.committee(
        COMMUNE_X,
        COMMUNE_X_COMMITTEE,
        CommitteeKind::PartyCommittee,
        "Đảng ủy xã Vĩnh Hải",
    );
    w.committee(
        HAMLET_1,
        HAMLET_1_CELL,
        CommitteeKind::PartyCell,
        "Chi bộ ấp Âu Thọ A",
    );
    w.committee(
        HAMLET_2,
        HAMLET_2_CELL,
        CommitteeKind::PartyCell,
        "Chi bộ ấp Đại Bái",
    );
    w.person(MEMBER_1, "Thiếu úy Lê Văn A", Role::Member, POST_A);
    w.person(MEMBER_2, "Trung úy Trần Văn B", Role::Member, POST_B);
    w.person(
        CELL_1,
        "Bí thư chi bộ Âu Thọ A",
        Role::CommitteeMember {
            committee_id: HAMLET_1_CELL,
        },
        HAMLET_1,
    );
    w.person(
        CELL_2,
        "Bí thư chi bộ Đại Bái",
        Role::CommitteeMember {
            committee_id: HAMLET_2_CELL,
        },
        HAMLET_2,
    );
    w.person(
        COMMUNE_X_CHIEF,
        "Bí thư xã Vĩnh Hải",
        Role::CommitteeMember {
            committee_id: COMMUNE_X_COMMITTEE,
        },
        COMMUNE_X,
    );
    w.person(
        POST_A_CHIEF,
        "Chính trị viên đồn Vĩnh Hải",
        Role::CommitteeMember {
            committee_id: POST_A_COMMITTEE,
        },
        POST_A,
    );
    w.person(
        POST_B_CHIEF,
        "Chính trị viên đồn Lai Hòa",
        Role::CommitteeMember {
            committee_id: POST_B_COMMITTEE,
        },
        POST_B,
    );
    w.person(
        PROVINCE_CHIEF,
        "Chỉ huy trưởng",
        Role::CommitteeMember {
            committee_id: PROVINCE_BOARD,
        },
        PROVINCE,
    );
    w.person(AUDITOR, "Thanh tra", Role::Auditor, PROVINCE);
    w.household(HOUSEHOLD_1, HAMLET_1, "Nguyễn Thị C", MEMBER_1);
    w.household(HOUSEHOLD_2, HAMLET_1, "Phạm Văn D", MEMBER_2);
    w.household(HOUSEHOLD_3, HAMLET_2, "Lâm Thị E", MEMBER_2);
    w
}

/// A report by member 1 for household 1: a request for help about a loan.
pub fn report() -> ConcernCommand {
    ConcernCommand::Report(new_concern())
}

pub fn new_concern() -> NewConcern {
    NewConcern {
        concern_id: CONCERN,
        subject: Subject::Household {
            household_id: HOUSEHOLD_1,
        },
        hamlet_id: None,
        coordinates: None,
        kind: ConcernKind::RequestForHelp,
        topic: topic("livelihood_loans"),
        priority: Priority::Normal,
        confidentiality: Confidentiality::Normal,
        sealed_informant: None,
        text: "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm.".to_owned(),
        personal_note: None,
    }
}

pub fn acknowledge() -> ConcernCommand {
    ConcernCommand::Acknowledge {
        topic: topic("livelihood_loans"),
        priority: Priority::Normal,
        deadline: None,
    }
}

pub fn assign_cell() -> ConcernCommand {
    ConcernCommand::Assign(casebook_domain::Assignee::Committee {
        committee_id: HAMLET_1_CELL,
    })
}

/// A history built by running each (actor, command) through `decide`, one
/// hour apart from `t0`.
pub fn history(world: &World, steps: &[(PersonId, ConcernCommand)]) -> Vec<Event> {
    let mut state: Option<Concern> = None;
    let mut events = Vec::new();
    for (index, (actor, command)) in steps.iter().enumerate() {
        let now = hours(i64::try_from(index).expect("few steps"));
        let new = decide(&state, command, &world.ctx(*actor, now))
            .unwrap_or_else(|e| panic!("step {index} {command:?} failed: {e}"));
        state = new.iter().fold(state, evolve);
        events.extend(new);
    }
    events
}

/// Reported, acknowledged and assigned to the hamlet-1 cell.
pub fn in_progress(world: &World) -> Vec<Event> {
    history(
        world,
        &[
            (MEMBER_1, report()),
            (CELL_1, acknowledge()),
            (CELL_1, assign_cell()),
        ],
    )
}

pub fn with(
    mut events: Vec<Event>,
    world: &World,
    steps: &[(PersonId, ConcernCommand)],
) -> Vec<Event> {
    let offset = i64::try_from(events.len()).expect("few events") + 1;
    let mut state: Option<Concern> = fold(&events);
    for (index, (actor, command)) in steps.iter().enumerate() {
        let now = hours(offset + i64::try_from(index).expect("few steps"));
        let new = decide(&state, command, &world.ctx(*actor, now))
            .unwrap_or_else(|e| panic!("step {index} {command:?} failed: {e}"));
        state = new.iter().fold(state, evolve);
        events.extend(new);
    }
    events
}

// ---- given / when / then ----

pub struct Given<'w> {
    world: &'w World,
    history: Vec<Event>,
    now: Option<DateTime<Utc>>,
    field_time: Option<DateTime<Utc>>,
}

pub fn given(world: &World, history: Vec<Event>) -> Given<'_> {
    Given {
        world,
        history,
        now: None,
        field_time: None,
    }
}

impl<'w> Given<'w> {
    /// The clock reading of the command (default: an hour after the last event).
    pub fn at(self, now: DateTime<Utc>) -> Self {
        Self {
            now: Some(now),
            ..self
        }
    }

    /// The field time of the command (default: the clock reading).
    pub fn field_time(self, at: DateTime<Utc>) -> Self {
        Self {
            field_time: Some(at),
            ..self
        }
    }

    pub fn when<C: Command>(self, actor: PersonId, command: C) -> Then<C::State> {
        let last = self
            .history
            .iter()
            .map(|e| e.recorded_at)
            .max()
            .unwrap_or(t0() - TimeDelta::hours(1));
        let now = self.now.unwrap_or(last + TimeDelta::hours(1));
        let ctx = self
            .world
            .ctx(actor, now)
            .with_field_time(self.field_time.unwrap_or(now));
        let state: C::State = fold(&self.history);
        let result = decide(&state, &command, &ctx);
        Then { state, result }
    }
}

pub struct Then<S> {
    state: S,
    result: Result<Vec<Event>, DomainError>,
}

impl<S: Aggregate + Clone + Debug> Then<S> {
    /// Expects exactly these payloads, and returns the state after them.
    pub fn then_expect(self, expected: Vec<Payload>) -> S {
        let events = self
            .result
            .unwrap_or_else(|e| panic!("expected events, got error: {e}"));
        let payloads: Vec<Payload> = events.iter().map(|e| e.payload.clone()).collect();
        assert_eq!(payloads, expected);
        events.iter().fold(self.state, evolve)
    }

    /// Expects success, and returns the events decided.
    pub fn then_events(self) -> Vec<Event> {
        self.result
            .unwrap_or_else(|e| panic!("expected events, got error: {e}"))
    }

    /// Expects events of these types, and returns the state after them.
    pub fn then_expect_types(self, expected: &[&str]) -> S {
        let events = self
            .result
            .unwrap_or_else(|e| panic!("expected events, got error: {e}"));
        let types: Vec<&str> = events.iter().map(|e| e.payload.event_type()).collect();
        assert_eq!(types, expected);
        events.iter().fold(self.state, evolve)
    }

    /// Expects this error.
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Err(actual) => assert_eq!(actual, expected),
            Ok(events) => panic!("expected {expected:?}, got events {events:?}"),
        }
    }

    /// Expects a refusal by this rule.
    pub fn then_refused(self, expected: Rule) {
        match self.result {
            Err(DomainError::Refused { rule, .. }) => assert_eq!(rule, expected),
            other => panic!("expected a refusal by {expected}, got {other:?}"),
        }
    }

    /// Expects an illegal-transition error naming this state and command.
    pub fn then_illegal(self, state: &str, command: &str) {
        match self.result {
            Err(DomainError::IllegalTransition {
                state: s,
                command: c,
                ..
            }) => {
                assert_eq!((s, c), (state, command));
            }
            other => panic!("expected an illegal transition, got {other:?}"),
        }
    }

    /// Expects an invalid field.
    pub fn then_invalid(self, field: &str) {
        match self.result {
            Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid `{field}`, got {other:?}"),
        }
    }
}
