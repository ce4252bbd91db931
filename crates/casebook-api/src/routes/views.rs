//! The query routes that read the projections (`casebook-projections`).
//!
//! None of them is served yet: the projections crate is being written, and
//! a route that answered without it would answer made-up data. This module
//! holds the table of what will be registered here once it lands, so that
//! the router, the OpenAPI document and the authorization tests grow in one
//! place. Each view filters by the caller's jurisdiction the same way
//! [`crate::visibility`] does for single objects, and accepts a minimum log
//! position (`Casebook-Min-Position` header or `min_position` parameter)
//! that it waits for, bounded, else answers 503 with `Retry-After`.

/// A planned view route: method, path, and what it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedRoute {
    /// The HTTP method.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// What it answers, and from which view.
    pub answers: &'static str,
}

/// The view routes to register when the projections crate lands.
pub const PLANNED: &[PlannedRoute] = &[
    PlannedRoute {
        method: "GET",
        path: "/v1/concerns",
        answers: "cases list: filters unit, status, topic, priority, assignee, overdue; q= (diacritic-insensitive search); cursor",
    },
    PlannedRoute {
        method: "GET",
        path: "/v1/figures",
        answers: "resolution figures for a unit and period, JSON or CSV (Accept: text/csv)",
    },
    PlannedRoute {
        method: "GET",
        path: "/v1/households",
        answers: "households in the caller's reach, with who is responsible since when",
    },
    PlannedRoute {
        method: "GET",
        path: "/v1/households/{household_id}/concerns",
        answers: "one household's cases",
    },
    PlannedRoute {
        method: "GET",
        path: "/v1/members/{person_id}/workload",
        answers: "a member's households and open cases",
    },
];
