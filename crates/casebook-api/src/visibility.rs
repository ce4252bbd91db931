//! Who may see what: object-level checks for reads, built on the domain's
//! permission rules. Whatever a caller may not see answers 404, never 403,
//! so that its existence does not leak.

use casebook_domain::permission::{is_within, may_read_sealed_informant, may_view_case};
use casebook_domain::{Concern, Context, Household, Lookups, PersonId, Role};
use chrono::{DateTime, Utc};

use crate::auth::grants_at;

/// Whether the actor may see the case now, or could at the command's
/// field time (a member logging last week's visit to a household since
/// reassigned).
pub fn case_visible(ctx: &Context<'_>, concern: &Concern) -> bool {
    let now = ctx.with_field_time(ctx.now);
    may_view_case(&now, concern).is_ok() || may_view_case(ctx, concern).is_ok()
}

/// The case as this actor may read it: never with its sealed informant.
/// Whoever may read the informant (the taker, or a person granted access)
/// asks for it on its own route, which records the read first (see
/// `routes::privacy`); a case answer is read too often to log each one.
pub fn redact(_actor: PersonId, concern: &Concern) -> Concern {
    concern.without_sealed_informant()
}

/// Whether the actor may ask for a tip's informant (and so be shown that
/// there is one to read).
pub fn may_read_informant(actor: PersonId, concern: &Concern) -> bool {
    concern.sealed_informant.is_some() && may_read_sealed_informant(actor, concern).is_ok()
}

/// Whether the actor may see a household: an administrator, the member
/// responsible for it now, a committee or an auditor whose unit's
/// jurisdiction holds its hamlet.
pub fn household_visible(
    lookups: &dyn Lookups,
    actor: PersonId,
    household: &Household,
    now: DateTime<Utc>,
) -> bool {
    if household.member_at(now) == Some(actor) {
        return true;
    }
    grants_at(lookups, actor, now).iter().any(|g| match g.role {
        Role::Administrator => true,
        Role::Auditor => is_within(lookups, g.unit_id, household.hamlet_id),
        Role::CommitteeMember { committee_id } => lookups
            .committee(committee_id)
            .is_some_and(|c| is_within(lookups, c.unit_id, household.hamlet_id)),
        Role::Member => false,
    })
}
