//! The next steps of a case: which ones the domain allows this person now,
//! and how a posted form becomes the API's command body.
//!
//! Which steps to offer is asked of the domain itself: each step's
//! command, with harmless sample fields, is given to `decide` on the
//! case's current state and the person's context. A step the domain
//! refuses by a permission rule or because of the case's state is not
//! offered; one it refuses only for its sample fields is (the person will
//! fill them in). So the pages never copy the lifecycle's rules, and what
//! they offer cannot drift from what the API accepts. The posted form is
//! then turned into the same [`ConcernCommandBody`] the API's JSON
//! becomes, and run through the same command path.

use casebook_domain::{
    decide, ActionKind, Assignee, CommitteeId, Concern, ConcernCommand, ConcernId, Context,
    DomainError, EscalateTo, Outcome, PersonId, Priority, TopicCode,
};
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::body::*;
use crate::error::ApiError;
use crate::web::page::Fields;

/// A step of a case's life that a page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Triage.
    Acknowledge,
    /// Assign a handler.
    Assign,
    /// Record a visit, advice, support or meeting.
    RecordAction,
    /// Escalate.
    Escalate,
    /// Refer to a body outside the tree.
    ReferOut,
    /// Record a referral's answer.
    AnswerReferral,
    /// Stop the clock.
    PauseClock,
    /// Start the clock again.
    ResumeClock,
    /// Interim reply with a new deadline.
    InterimReply,
    /// Resolve.
    Resolve,
    /// The resident's feedback.
    RecordFeedback,
    /// Close.
    Close,
    /// Reopen.
    Reopen,
    /// Merge into another case.
    MergeInto,
    /// Withdraw.
    Withdraw,
    /// Let someone read a tip's informant.
    GrantInformantAccess,
}

impl Step {
    /// Every step, in the order the case page lists them.
    pub const ALL: [Step; 16] = [
        Step::Acknowledge,
        Step::Assign,
        Step::RecordAction,
        Step::RecordFeedback,
        Step::Resolve,
        Step::Escalate,
        Step::ReferOut,
        Step::AnswerReferral,
        Step::InterimReply,
        Step::PauseClock,
        Step::ResumeClock,
        Step::Close,
        Step::Reopen,
        Step::MergeInto,
        Step::Withdraw,
        Step::GrantInformantAccess,
    ];

    /// Its name in URLs, form ids and the catalogue (`step.<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            Step::Acknowledge => "acknowledge",
            Step::Assign => "assign",
            Step::RecordAction => "record_action",
            Step::Escalate => "escalate",
            Step::ReferOut => "refer_out",
            Step::AnswerReferral => "answer_referral",
            Step::PauseClock => "pause_clock",
            Step::ResumeClock => "resume_clock",
            Step::InterimReply => "interim_reply",
            Step::Resolve => "resolve",
            Step::RecordFeedback => "record_feedback",
            Step::Close => "close",
            Step::Reopen => "reopen",
            Step::MergeInto => "merge",
            Step::Withdraw => "withdraw",
            Step::GrantInformantAccess => "grant_informant_access",
        }
    }

    /// The step of a URL's name.
    pub fn from_slug(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }

    /// The step's command with harmless sample fields, to ask `decide`
    /// whether the step is open at all.
    fn sample(self, concern: &Concern, actor: PersonId, now: DateTime<Utc>) -> ConcernCommand {
        let text = || "-".to_owned();
        match self {
            Step::Acknowledge => ConcernCommand::Acknowledge {
                topic: concern.topic.clone(),
                priority: concern.priority,
                deadline: None,
            },
            Step::Assign => ConcernCommand::Assign(Assignee::Person { person_id: actor }),
            Step::RecordAction => ConcernCommand::RecordAction {
                action: ActionKind::Visit,
                summary: text(),
            },
            Step::Escalate => ConcernCommand::Escalate {
                to: EscalateTo::StateBody(text()),
                reason: text(),
            },
            Step::ReferOut => ConcernCommand::ReferOut {
                body: text(),
                reason: text(),
            },
            Step::AnswerReferral => ConcernCommand::AnswerReferral {
                referral_no: open_referrals(concern).first().copied().unwrap_or(0),
                answer: text(),
            },
            Step::PauseClock => ConcernCommand::PauseClock { reason: text() },
            Step::ResumeClock => ConcernCommand::ResumeClock,
            Step::InterimReply => ConcernCommand::InterimReply {
                message: text(),
                deadline: now + TimeDelta::days(30),
                reason: text(),
            },
            Step::Resolve => ConcernCommand::Resolve {
                outcome: Outcome::Resolved,
                summary: text(),
            },
            Step::RecordFeedback => ConcernCommand::RecordFeedback {
                satisfied: true,
                comment: text(),
                follow_up: None,
            },
            Step::Close => ConcernCommand::Close { note: text() },
            Step::Reopen => ConcernCommand::Reopen { reason: text() },
            Step::MergeInto => ConcernCommand::MergeInto {
                concern_id: ConcernId(Uuid::nil()),
            },
            Step::Withdraw => ConcernCommand::Withdraw { reason: text() },
            Step::GrantInformantAccess => ConcernCommand::GrantInformantAccess {
                person_id: actor,
                reason: text(),
            },
        }
    }

    /// Builds the API's command body from a posted form.
    pub fn body(self, fields: &Fields, tz: Tz) -> Result<ConcernCommandBody, ApiError> {
        let command_id = fields
            .get("command_id")
            .map(|id| parse_uuid("command_id", id))
            .transpose()?;
        let occurred_at = fields
            .get("occurred_at")
            .map(|at| local_time("occurred_at", at, tz))
            .transpose()?;
        let meta = (command_id, occurred_at);
        Ok(match self {
            Step::Acknowledge => ConcernCommandBody::Acknowledge(AcknowledgeBody {
                command_id: meta.0,
                occurred_at: meta.1,
                topic: topic(fields)?,
                priority: choice::<Priority>(fields, "priority")?,
                deadline: fields
                    .get("deadline")
                    .map(|d| local_time("deadline", d, tz))
                    .transpose()?,
            }),
            Step::Assign => ConcernCommandBody::Assign(AssignBody {
                command_id: meta.0,
                occurred_at: meta.1,
                assignee: assignee(fields)?,
            }),
            Step::RecordAction => ConcernCommandBody::RecordAction(RecordActionBody {
                command_id: meta.0,
                occurred_at: meta.1,
                action: choice::<ActionKind>(fields, "action")?,
                summary: fields.text("summary"),
            }),
            Step::Escalate => ConcernCommandBody::Escalate(EscalateBody {
                command_id: meta.0,
                occurred_at: meta.1,
                to: escalate_to(fields)?,
                reason: fields.text("reason"),
            }),
            Step::ReferOut => ConcernCommandBody::ReferOut(ReferOutBody {
                command_id: meta.0,
                occurred_at: meta.1,
                body: fields.text("body"),
                reason: fields.text("reason"),
            }),
            Step::AnswerReferral => ConcernCommandBody::AnswerReferral(AnswerReferralBody {
                command_id: meta.0,
                occurred_at: meta.1,
                referral_no: required(fields, "referral_no")?
                    .parse()
                    .map_err(|_| ApiError::validation("referral_no", "not a number"))?,
                answer: fields.text("answer"),
            }),
            Step::PauseClock => ConcernCommandBody::PauseClock(PauseClockBody {
                command_id: meta.0,
                occurred_at: meta.1,
                reason: fields.text("reason"),
            }),
            Step::ResumeClock => ConcernCommandBody::ResumeClock(ResumeClockBody {
                command_id: meta.0,
                occurred_at: meta.1,
            }),
            Step::InterimReply => ConcernCommandBody::InterimReply(InterimReplyBody {
                command_id: meta.0,
                occurred_at: meta.1,
                message: fields.text("message"),
                deadline: local_time("deadline", required(fields, "deadline")?, tz)?,
                reason: fields.text("reason"),
            }),
            Step::Resolve => ConcernCommandBody::Resolve(ResolveBody {
                command_id: meta.0,
                occurred_at: meta.1,
                outcome: outcome(fields)?,
                summary: fields.text("summary"),
            }),
            Step::RecordFeedback => feedback(fields, meta)?,
            Step::Close => ConcernCommandBody::Close(CloseBody {
                command_id: meta.0,
                occurred_at: meta.1,
                note: fields.text("note"),
            }),
            Step::Reopen => ConcernCommandBody::Reopen(ReopenBody {
                command_id: meta.0,
                occurred_at: meta.1,
                reason: fields.text("reason"),
            }),
            Step::MergeInto => ConcernCommandBody::MergeInto(MergeBody {
                command_id: meta.0,
                occurred_at: meta.1,
                into_concern_id: ConcernId(parse_uuid(
                    "into_concern_id",
                    required(fields, "into_concern_id")?,
                )?),
            }),
            Step::Withdraw => ConcernCommandBody::Withdraw(WithdrawBody {
                command_id: meta.0,
                occurred_at: meta.1,
                reason: fields.text("reason"),
            }),
            Step::GrantInformantAccess => {
                ConcernCommandBody::GrantInformantAccess(GrantInformantBody {
                    command_id: meta.0,
                    occurred_at: meta.1,
                    person_id: PersonId(parse_uuid("person_id", required(fields, "person_id")?)?),
                    reason: fields.text("reason"),
                })
            }
        })
    }
}

/// The steps the domain would take from this person on this case now.
/// `concern` is the case as folded, with its sealed informant (the
/// domain's rules need it); what is shown is redacted separately.
pub fn allowed_steps(concern: &Concern, ctx: &Context<'_>) -> Vec<Step> {
    let state = Some(concern.clone());
    Step::ALL
        .into_iter()
        .filter(|step| {
            // Only a confidential tip has an informant to grant access to;
            // the domain refuses the others for their field, not their
            // state, so the dry run alone would offer it everywhere.
            if *step == Step::GrantInformantAccess
                && concern.confidentiality != casebook_domain::Confidentiality::ConfidentialTip
            {
                return false;
            }
            let command = step.sample(concern, ctx.actor, ctx.now);
            match decide(&state, &command, ctx) {
                Ok(_) => true,
                Err(DomainError::Refused { .. } | DomainError::IllegalTransition { .. }) => false,
                Err(_) => true,
            }
        })
        .collect()
}

/// The numbers of a case's referrals still waiting for an answer.
pub fn open_referrals(concern: &Concern) -> Vec<u32> {
    concern
        .referrals
        .iter()
        .filter(|r| r.answer.is_none())
        .map(|r| r.referral_no)
        .collect()
}

fn required<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, ApiError> {
    fields
        .get(name)
        .ok_or_else(|| ApiError::validation(name, "required"))
}

fn parse_uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| ApiError::validation(name, "not a valid id"))
}

/// A snake_case choice (`priority`, `action`…) as the domain's enum.
pub fn choice<T: DeserializeOwned>(fields: &Fields, name: &str) -> Result<T, ApiError> {
    let value = required(fields, name)?;
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| ApiError::validation(name, format!("`{value}` is not a valid choice")))
}

/// The topic field.
pub fn topic(fields: &Fields) -> Result<TopicCode, ApiError> {
    TopicCode::new(required(fields, "topic")?).map_err(ApiError::from)
}

/// A time typed in an `<input type="datetime-local">`, in the policy's
/// time zone; RFC 3339 is accepted too (scripts send it).
pub fn local_time(name: &str, text: &str, tz: Tz) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| ApiError::validation(name, "not a date and time"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
        .ok_or_else(|| ApiError::validation(name, "not a time that exists there"))
}

fn committee_id(name: &str, text: &str) -> Result<CommitteeId, ApiError> {
    parse_uuid(name, text).map(CommitteeId)
}

/// `committee:<id>` or `person:<id>`.
fn assignee(fields: &Fields) -> Result<Assignee, ApiError> {
    let value = required(fields, "assignee")?;
    match value.split_once(':') {
        Some(("committee", id)) => Ok(Assignee::Committee {
            committee_id: committee_id("assignee", id)?,
        }),
        Some(("person", id)) => Ok(Assignee::Person {
            person_id: PersonId(parse_uuid("assignee", id)?),
        }),
        _ => Err(ApiError::validation(
            "assignee",
            "choose a committee or a person",
        )),
    }
}

/// A committee chosen in `to`, else the state body named in `state_body`.
fn escalate_to(fields: &Fields) -> Result<EscalateTo, ApiError> {
    match (fields.get("to"), fields.get("state_body")) {
        (Some(id), _) => Ok(EscalateTo::Committee(committee_id("to", id)?)),
        (None, Some(body)) => Ok(EscalateTo::StateBody(body.to_owned())),
        (None, None) => Err(ApiError::validation(
            "to",
            "choose a committee above, or name a state body",
        )),
    }
}

fn outcome(fields: &Fields) -> Result<Outcome, ApiError> {
    match required(fields, "outcome")? {
        "resolved" => Ok(Outcome::Resolved),
        "partly_resolved" => Ok(Outcome::PartlyResolved),
        "referred" => Ok(Outcome::Referred {
            body: fields.text("referred_body"),
        }),
        "declined" => Ok(Outcome::Declined {
            reason: fields.text("declined_reason"),
        }),
        other => Err(ApiError::validation(
            "outcome",
            format!("`{other}` is not a valid choice"),
        )),
    }
}

fn feedback(
    fields: &Fields,
    meta: (Option<Uuid>, Option<DateTime<Utc>>),
) -> Result<ConcernCommandBody, ApiError> {
    let satisfied = match required(fields, "satisfied")? {
        "yes" | "true" => true,
        "no" | "false" => false,
        _ => return Err(ApiError::validation("satisfied", "answer yes or no")),
    };
    let follow_up = match fields.get("follow_up") {
        None | Some("") => None,
        Some("reopen") => Some(casebook_domain::FollowUp::Reopen),
        Some(other) => {
            let id = other.strip_prefix("appeal:").unwrap_or(other);
            Some(casebook_domain::FollowUp::Appeal(committee_id(
                "follow_up",
                id,
            )?))
        }
    };
    Ok(ConcernCommandBody::RecordFeedback(FeedbackBody {
        command_id: meta.0,
        occurred_at: meta.1,
        satisfied,
        comment: fields.text("comment"),
        follow_up,
    }))
}
