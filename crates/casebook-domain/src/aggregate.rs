//! The two functions of event sourcing, shared by every aggregate.
//!
//! `decide(state, command, context)` checks a command against the state and
//! the rules and returns the events it causes, or the reason it is refused;
//! `evolve(state, event)` folds one event into the state. Each aggregate
//! (concern, household, unit, person) implements [`Aggregate`]; its state is
//! `Option<T>`, `None` before its first event.

use crate::context::Context;
use crate::error::DomainError;
use crate::event::{Event, Payload};

/// One kind of aggregate: a state folded from its stream, and its commands.
pub trait Aggregate: Sized {
    /// The commands it accepts.
    type Command;

    /// The facts a command causes, before they are wrapped with actor and times.
    /// The field time has already been checked.
    fn decide_payloads(
        &self,
        command: &Self::Command,
        ctx: &Context<'_>,
    ) -> Result<Vec<Payload>, DomainError>;

    /// The state after one event. Events of another kind of aggregate leave
    /// it unchanged.
    fn apply(self, event: &Event) -> Self;
}

/// The events a command causes, or the reason it is refused.
pub fn decide<A: Aggregate>(
    state: &A,
    command: &A::Command,
    ctx: &Context<'_>,
) -> Result<Vec<Event>, DomainError> {
    ctx.check_field_time()?;
    let payloads = state.decide_payloads(command, ctx)?;
    Ok(payloads
        .into_iter()
        .map(|payload| ctx.event(payload))
        .collect())
}

/// The state after one event.
pub fn evolve<A: Aggregate>(state: A, event: &Event) -> A {
    state.apply(event)
}

/// The state after a whole history, from the empty state.
pub fn fold<'e, A: Aggregate + Default>(events: impl IntoIterator<Item = &'e Event>) -> A {
    events.into_iter().fold(A::default(), evolve)
}
