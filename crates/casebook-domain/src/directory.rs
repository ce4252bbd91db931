//! An in-memory [`Lookups`]: the unit tree, people and households, folded
//! from their events.
//!
//! Tests use it, and so can any caller small enough to keep the whole
//! directory in memory (a province is a few thousand units, people and
//! households). It is a projection: it folds events with the same `evolve`
//! as everything else.

use std::collections::BTreeMap;

use crate::aggregate::evolve;
use crate::context::Lookups;
use crate::event::{Event, Payload};
use crate::household::Household;
use crate::ids::{CommitteeId, HouseholdId, PersonId, StreamId, UnitId};
use crate::person::Person;
use crate::unit::{Committee, Unit};

/// Units, people and households, in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directory {
    units: BTreeMap<UnitId, Unit>,
    /// Which unit each committee belongs to, so a committee is found without a scan.
    committee_units: BTreeMap<CommitteeId, UnitId>,
    people: BTreeMap<PersonId, Person>,
    households: BTreeMap<HouseholdId, Household>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event of the stream `stream` in. Events of concern streams
    /// are ignored.
    pub fn apply(&mut self, stream: StreamId, event: &Event) {
        match stream {
            StreamId::Unit(id) => {
                let unit = evolve(self.units.remove(&id), event);
                if let (Some(unit), Payload::CommitteeFormed(e)) = (&unit, &event.payload) {
                    self.committee_units.insert(e.committee_id, unit.id);
                }
                self.units.extend(unit.map(|u| (id, u)));
            }
            StreamId::Person(id) => {
                let person = evolve(self.people.remove(&id), event);
                self.people.extend(person.map(|p| (id, p)));
            }
            StreamId::Household(id) => {
                let household = evolve(self.households.remove(&id), event);
                self.households.extend(household.map(|h| (id, h)));
            }
            StreamId::Concern(_) => {}
        }
    }

    /// Folds a batch of events, each with its stream.
    pub fn apply_all<'e>(&mut self, events: impl IntoIterator<Item = (StreamId, &'e Event)>) {
        for (stream, event) in events {
            self.apply(stream, event);
        }
    }

    /// Every unit, in id order (for listings).
    pub fn units(&self) -> impl Iterator<Item = &Unit> + '_ {
        self.units.values()
    }

    /// Every person, in id order (for listings).
    pub fn people(&self) -> impl Iterator<Item = &Person> + '_ {
        self.people.values()
    }

    /// Every household in id order, starting after `after` when given (for
    /// lists paged by household id).
    pub fn households_after(
        &self,
        after: Option<HouseholdId>,
    ) -> impl Iterator<Item = &Household> + '_ {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.households
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, household)| household)
    }
}

impl Lookups for Directory {
    fn unit(&self, id: UnitId) -> Option<Unit> {
        self.units.get(&id).cloned()
    }

    fn committee(&self, id: CommitteeId) -> Option<Committee> {
        let unit = self.units.get(self.committee_units.get(&id)?)?;
        unit.committees
            .iter()
            .find(|c| c.committee_id == id)
            .cloned()
    }

    fn household(&self, id: HouseholdId) -> Option<Household> {
        self.households.get(&id).cloned()
    }

    fn person(&self, id: PersonId) -> Option<Person> {
        self.people.get(&id).cloned()
    }
}
