//! The province the demo happens in: units, committees, people, roles,
//! households and who is responsible for which.
//!
//! Everything is made through the domain's `decide` by the administrator
//! (who is seeded directly, as the installer does), thirteen months before
//! `now`, so that the year of concerns finds it all in place.

use crate::text;
use crate::{DemoConfig, DemoError, KeyPeople};
use casebook_domain::{
    decide, evolve, Aggregate, Circumstance, CommitteeId, CommitteeKind, Concern, ConcernId,
    Context, Directory, Event, GrantId, HouseholdCommand, HouseholdId, Payload, PersonCommand,
    PersonId, PersonRegistered, PersonalDetails, Policy, Role, RoleGranted, StreamId, UnitCommand,
    UnitId, UnitKind,
};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Households in the province (the brief: nearly 350).
const HOUSEHOLDS: usize = 350;
/// Field members responsible for them (the brief: 75).
const MEMBERS: usize = 75;
/// How long before `now` the structure is set up.
const SETUP_DAYS_BEFORE_NOW: i64 = 400;

/// A hamlet, its party cell and the cell's secretary.
#[derive(Debug, Clone)]
pub struct Hamlet {
    pub id: UnitId,
    pub name: &'static str,
    pub commune: usize,
    pub cell: CommitteeId,
    pub secretary: PersonId,
}

/// A unit above the hamlets with its committee and one member of it.
#[derive(Debug, Clone)]
pub struct Level {
    pub id: UnitId,
    pub committee: CommitteeId,
    pub officer: PersonId,
    /// For a commune, its post; for a post, itself.
    pub post: usize,
}

/// A household and the member responsible for it.
#[derive(Debug, Clone)]
pub struct HouseholdInfo {
    pub id: HouseholdId,
    pub hamlet: usize,
    pub member: PersonId,
}

/// The demo world while it is being made.
#[derive(Debug)]
pub struct World {
    pub directory: Directory,
    pub policy: Policy,
    pub events: Vec<(StreamId, Event)>,
    /// Every case made so far with its last state, in report order.
    pub concerns: Vec<(ConcernId, Option<Concern>)>,
    pub setup_at: DateTime<Utc>,
    pub administrator: PersonId,
    pub auditor: PersonId,
    pub province: Level,
    pub posts: Vec<Level>,
    pub communes: Vec<Level>,
    pub hamlets: Vec<Hamlet>,
    pub households: Vec<HouseholdInfo>,
    /// Ids are derived from the seed so that the same seed gives the same demo.
    seed: u64,
    next_id: u128,
}

impl World {
    /// Makes the province's structure.
    pub fn build(config: &DemoConfig) -> Result<World, DemoError> {
        let setup_at = config.now - TimeDelta::days(SETUP_DAYS_BEFORE_NOW);
        let mut world = World {
            directory: Directory::new(),
            policy: Policy::default(),
            events: Vec::new(),
            concerns: Vec::new(),
            setup_at,
            administrator: PersonId(Uuid::nil()),
            auditor: PersonId(Uuid::nil()),
            province: placeholder_level(),
            posts: Vec::new(),
            communes: Vec::new(),
            hamlets: Vec::new(),
            households: Vec::new(),
            seed: config.seed,
            next_id: 0,
        };
        world.seed_administrator();
        world.build_units()?;
        world.build_members_and_households(config.seed)?;
        world.auditor = world.person("Thanh tra Lê Minh Tâm", Role::Auditor, world.province.id)?;
        Ok(world)
    }

    /// A fresh id, the same for the same seed and call order.
    pub fn new_uuid(&mut self) -> Uuid {
        self.next_id += 1;
        let name = [self.seed.to_be_bytes(), (self.next_id as u64).to_be_bytes()].concat();
        Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
    }

    /// Runs a command through `decide` at `at`, records and folds its events.
    pub fn run<A>(
        &mut self,
        stream: StreamId,
        state: &mut A,
        actor: PersonId,
        at: DateTime<Utc>,
        command: &A::Command,
    ) -> Result<(), DemoError>
    where
        A: Aggregate + Clone,
        A::Command: std::fmt::Debug,
    {
        self.run_recorded_later(stream, state, actor, at, at, command)
    }

    /// Like [`World::run`], for something that happened in the field at
    /// `field_time` and reached the system at `recorded_at` (a member
    /// working offline).
    pub fn run_recorded_later<A>(
        &mut self,
        stream: StreamId,
        state: &mut A,
        actor: PersonId,
        field_time: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
        command: &A::Command,
    ) -> Result<(), DemoError>
    where
        A: Aggregate + Clone,
        A::Command: std::fmt::Debug,
    {
        let at = field_time;
        let events = {
            let ctx = Context::new(actor, recorded_at, &self.policy, &self.directory)
                .with_field_time(field_time);
            decide(&*state, command, &ctx).map_err(|source| DemoError::Refused {
                command: command_name(command),
                at,
                source,
            })?
        };
        for event in events {
            *state = evolve(state.clone(), &event);
            self.directory.apply(stream, &event);
            self.events.push((stream, event));
        }
        Ok(())
    }

    fn run_structure<A>(&mut self, stream: StreamId, command: A::Command) -> Result<(), DemoError>
    where
        A: Aggregate + Clone + Default,
        A::Command: std::fmt::Debug,
    {
        // Structure streams are short: fold them from what was recorded.
        let mut state: A = A::default();
        for (_, event) in self.events.iter().filter(|(s, _)| *s == stream) {
            state = evolve(state, event);
        }
        let (admin, at) = (self.administrator, self.setup_at);
        self.run(stream, &mut state, admin, at, &command)
    }

    /// The installer's two events: the first administrator and their role.
    fn seed_administrator(&mut self) {
        let admin = PersonId(self.new_uuid());
        self.administrator = admin;
        let root = UnitId(self.new_uuid());
        self.province.id = root;
        let payloads = [
            Payload::PersonRegistered(PersonRegistered {
                person_id: admin,
                name: "Quản trị hệ thống".into(),
            }),
            Payload::RoleGranted(RoleGranted {
                grant_id: GrantId(admin.0),
                role: Role::Administrator,
                unit_id: root,
                from: self.setup_at,
                until: None,
            }),
        ];
        for payload in payloads {
            let event = Event {
                actor: admin,
                occurred_at: self.setup_at,
                recorded_at: self.setup_at,
                payload,
            };
            self.directory.apply(StreamId::Person(admin), &event);
            self.events.push((StreamId::Person(admin), event));
        }
    }

    fn unit(
        &mut self,
        unit_id: UnitId,
        kind: UnitKind,
        name: &str,
        parent_id: Option<UnitId>,
    ) -> Result<(), DemoError> {
        let command = UnitCommand::Create {
            unit_id,
            kind,
            name: name.to_owned(),
            parent_id,
        };
        self.run_structure::<Option<casebook_domain::Unit>>(StreamId::Unit(unit_id), command)
    }

    fn committee(
        &mut self,
        unit_id: UnitId,
        kind: CommitteeKind,
        name: String,
    ) -> Result<CommitteeId, DemoError> {
        let committee_id = CommitteeId(self.new_uuid());
        let command = UnitCommand::FormCommittee {
            committee_id,
            kind,
            name,
        };
        self.run_structure::<Option<casebook_domain::Unit>>(StreamId::Unit(unit_id), command)?;
        Ok(committee_id)
    }

    /// Registers a person and grants them one role in a unit.
    fn person(&mut self, name: &str, role: Role, unit_id: UnitId) -> Result<PersonId, DemoError> {
        let person_id = PersonId(self.new_uuid());
        let stream = StreamId::Person(person_id);
        let register = PersonCommand::Register {
            person_id,
            name: name.to_owned(),
        };
        self.run_structure::<Option<casebook_domain::Person>>(stream, register)?;
        let grant = PersonCommand::GrantRole {
            grant_id: GrantId(self.new_uuid()),
            role,
            unit_id,
            until: None,
        };
        self.run_structure::<Option<casebook_domain::Person>>(stream, grant)?;
        Ok(person_id)
    }

    /// A unit with its committee and one officer of that committee.
    fn level(
        &mut self,
        id: UnitId,
        kind: CommitteeKind,
        committee_name: String,
        officer: &str,
        post: usize,
    ) -> Result<Level, DemoError> {
        let committee = self.committee(id, kind, committee_name)?;
        let officer = self.person(
            officer,
            Role::CommitteeMember {
                committee_id: committee,
            },
            id,
        )?;
        Ok(Level {
            id,
            committee,
            officer,
            post,
        })
    }

    fn build_units(&mut self) -> Result<(), DemoError> {
        let root = self.province.id;
        self.unit(root, UnitKind::ProvincialCommand, text::PROVINCE, None)?;
        let committee_name = format!("Đảng ủy {}", text::PROVINCE);
        self.province = self.level(
            root,
            CommitteeKind::PartyCommittee,
            committee_name,
            "Đại tá Trần Văn Hùng",
            0,
        )?;
        for (index, name) in text::POSTS.iter().enumerate() {
            let id = UnitId(self.new_uuid());
            self.unit(id, UnitKind::Post, name, Some(root))?;
            let officer = format!("Thiếu tá {} (Chính trị viên)", person_name(index * 7 + 3));
            let post = self.level(
                id,
                CommitteeKind::PartyCommittee,
                format!("Đảng ủy {name}"),
                &officer,
                index,
            )?;
            self.posts.push(post);
        }
        let mut hamlet_names = text::HAMLETS.iter();
        for (commune_index, (post_index, name)) in text::COMMUNES.iter().enumerate() {
            let id = UnitId(self.new_uuid());
            self.unit(
                id,
                UnitKind::Commune,
                name,
                Some(self.posts[*post_index].id),
            )?;
            let officer = format!("Bí thư {}", person_name(commune_index * 5 + 1));
            let commune = self.level(
                id,
                CommitteeKind::PartyCommittee,
                format!("Đảng ủy {name}"),
                &officer,
                *post_index,
            )?;
            self.communes.push(commune);
            for _ in 0..text::HAMLETS_PER_COMMUNE[commune_index] {
                let Some(hamlet_name) = hamlet_names.next() else {
                    break;
                };
                self.hamlet(hamlet_name, commune_index)?;
            }
        }
        Ok(())
    }

    fn hamlet(&mut self, name: &'static str, commune: usize) -> Result<(), DemoError> {
        let id = UnitId(self.new_uuid());
        let commune_id = self.communes[commune].id;
        self.unit(
            id,
            UnitKind::Hamlet,
            &format!("Ấp {name}"),
            Some(commune_id),
        )?;
        let cell = self.committee(id, CommitteeKind::PartyCell, format!("Chi bộ ấp {name}"))?;
        let secretary_name = format!("Bí thư chi bộ {}", person_name(self.hamlets.len() * 3 + 11));
        let secretary = self.person(
            &secretary_name,
            Role::CommitteeMember { committee_id: cell },
            id,
        )?;
        self.hamlets.push(Hamlet {
            id,
            name,
            commune,
            cell,
            secretary,
        });
        Ok(())
    }

    /// Members of each post, and households spread over the hamlets, each
    /// assigned to a member of the post that covers its commune.
    fn build_members_and_households(&mut self, seed: u64) -> Result<(), DemoError> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut members_by_post: Vec<Vec<PersonId>> = vec![Vec::new(); self.posts.len()];
        for index in 0..MEMBERS {
            let post = index % self.posts.len();
            let rank = text::RANKS[rng.usize(..text::RANKS.len())];
            let name = format!("{rank} {}", person_name(index * 13 + 5));
            let member = self.person(&name, Role::Member, self.posts[post].id)?;
            members_by_post[post].push(member);
        }
        for index in 0..HOUSEHOLDS {
            let hamlet = index % self.hamlets.len();
            let post = self.communes[self.hamlets[hamlet].commune].post;
            let candidates = &members_by_post[post];
            let member = candidates[(index / self.hamlets.len() + hamlet) % candidates.len()];
            self.household(&mut rng, hamlet, member, index)?;
        }
        Ok(())
    }

    fn household(
        &mut self,
        rng: &mut fastrand::Rng,
        hamlet: usize,
        member: PersonId,
        index: usize,
    ) -> Result<(), DemoError> {
        let id = HouseholdId(self.new_uuid());
        let stream = StreamId::Household(id);
        let personal = PersonalDetails {
            head_of_household: person_name(index * 17 + rng.usize(..7)),
            phone: Some(format!(
                "09{:02} {:03} {:03}",
                rng.u32(10..99),
                rng.u32(..1000),
                rng.u32(..1000)
            )),
            address: Some(format!("Ấp {}", self.hamlets[hamlet].name)),
            note: None,
        };
        let command = HouseholdCommand::Register {
            household_id: id,
            hamlet_id: self.hamlets[hamlet].id,
            personal,
            size: rng.u16(2..8),
            circumstances: circumstances(rng),
        };
        self.run_structure::<Option<casebook_domain::Household>>(stream, command)?;
        self.run_structure::<Option<casebook_domain::Household>>(
            stream,
            HouseholdCommand::AssignMember { member_id: member },
        )?;
        self.households.push(HouseholdInfo { id, hamlet, member });
        Ok(())
    }

    pub fn key_people(&self) -> KeyPeople {
        let household = &self.households[0];
        let hamlet = &self.hamlets[household.hamlet];
        let commune = &self.communes[hamlet.commune];
        KeyPeople {
            administrator: self.administrator,
            member: household.member,
            hamlet_committee: hamlet.secretary,
            commune_committee: commune.officer,
            post_committee: self.posts[commune.post].officer,
            province_committee: self.province.officer,
            auditor: self.auditor,
        }
    }

    pub fn into_events(self) -> Vec<(StreamId, Event)> {
        self.events
    }
}

fn placeholder_level() -> Level {
    Level {
        id: UnitId(Uuid::nil()),
        committee: CommitteeId(Uuid::nil()),
        officer: PersonId(Uuid::nil()),
        post: 0,
    }
}

/// A Vietnamese (or Khmer Vietnamese) full name, picked by a number.
pub fn person_name(pick: usize) -> String {
    let family = text::FAMILY_NAMES[pick % text::FAMILY_NAMES.len()];
    let middle = text::MIDDLE_NAMES[(pick / 3) % text::MIDDLE_NAMES.len()];
    let given = text::GIVEN_NAMES[(pick / 7) % text::GIVEN_NAMES.len()];
    format!("{family} {middle} {given}")
}

fn circumstances(rng: &mut fastrand::Rng) -> BTreeSet<Circumstance> {
    let mut set = BTreeSet::new();
    let odds = [
        (Circumstance::PoorHousehold, 20),
        (Circumstance::NearPoorHousehold, 15),
        (Circumstance::EthnicMinority, 35),
        (Circumstance::PolicyFamily, 5),
        (Circumstance::ElderlyAlone, 3),
        (Circumstance::Disability, 4),
    ];
    for (circumstance, percent) in odds {
        if rng.u8(..100) < percent {
            set.insert(circumstance);
        }
    }
    set
}

fn command_name(command: &impl std::fmt::Debug) -> String {
    let debug = format!("{command:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}
