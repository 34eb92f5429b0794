//! One incident's trail as the 四不放过 projection keeps it ([`IncidentTrail`]): the report and
//! revisions, the escalations ([`EscalationStep`]), the investigation clock ([`InvestigationTrail`]) and the [`Evidence`] of each of
//! the four.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::incident::AuthorityLevel;

/// An event that evidences one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub position: u64,
    pub event_type: String,
    /// Who recorded it (the command's actor).
    pub actor: String,
    /// When (the command's issued time).
    #[serde(with = "crate::projections::state_codec::utc")]
    pub at: DateTime<Utc>,
    /// What was established or done, in words.
    pub summary: String,
    /// Document references.
    pub documents: Vec<String>,
}

/// The investigation clock as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationTrail {
    #[serde(with = "crate::projections::state_codec::utc")]
    pub opened_at: DateTime<Utc>,
    pub authority: String,
    /// Deadline in force, moved by extensions and finished appraisal pauses.
    #[serde(with = "crate::projections::state_codec::utc")]
    pub deadline: DateTime<Utc>,
    pub extensions: u32,
    /// Start of a technical appraisal under way.
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub paused_since: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub report_submitted_at: Option<DateTime<Utc>>,
    pub report_overdue: bool,
    /// Sign-off (批复) due, decided with the report (none for reports recorded before the rule).
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub sign_off_due: Option<DateTime<Utc>>,
}

impl InvestigationTrail {
    /// Deadline as of `at`, an appraisal still under way counted as paused time.
    pub fn due_as_of(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.paused_since {
            Some(p) if at > p => self.deadline.checked_add_signed(at - p).unwrap_or(self.deadline),
            _ => self.deadline,
        }
    }
}

/// One step of 逐级上报 (Decree 493 art. 10–11) as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    pub level: AuthorityLevel,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub escalated_at: DateTime<Utc>,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub deadline: DateTime<Utc>,
    pub late: bool,
}

/// An imported incident closed in another system, its case file not held here (外部结案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideClosure {
    /// From when it counts as closed: the start of the CST day it was closed there, or the
    /// report when that day is unknown.
    #[serde(with = "crate::projections::state_codec::utc")]
    pub closed_from: DateTime<Utc>,
    #[serde(default, with = "crate::projections::state_codec::date_opt")]
    pub closed_on: Option<NaiveDate>,
    pub held_by: String,
}

/// One incident's trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTrail {
    pub incident_id: String,
    pub community_id: String,
    pub category: String,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(with = "crate::projections::state_codec::utc")]
    pub reported_at: DateTime<Utc>,
    /// Reported more than the limit (1 hour) after the accident.
    pub reported_late: bool,
    pub report_delay_minutes: i64,
    /// Casualty revisions after the supplementary window (迟报/补报逾期).
    pub late_revisions: u32,
    /// Evidence per condition, in [`FOUR_NOT_LET_GO`] order, each list in log order.
    pub four: [Vec<Evidence>; 4],
    pub investigation: Option<InvestigationTrail>,
    /// How far the report must climb, from the current grade (none while ungraded).
    pub escalation_required: Option<AuthorityLevel>,
    /// Escalations recorded, in log order.
    pub escalations: Vec<EscalationStep>,
    /// Sign-off (结案批复) time.
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub signed_off_at: Option<DateTime<Utc>>,
    /// Post-closure evaluation due date (CST).
    #[serde(default, with = "crate::projections::state_codec::date_opt")]
    pub evaluation_due: Option<NaiveDate>,
    #[serde(default, with = "crate::projections::state_codec::utc_opt")]
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Closed in another system (imported), if so.
    pub closed_elsewhere: Option<OutsideClosure>,
}

impl IncidentTrail {
    /// When the case ended here or elsewhere: the earlier of the sign-off and the outside
    /// closure.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        [self.signed_off_at, self.closed_elsewhere.as_ref().map(|c| c.closed_from)].into_iter().flatten().min()
    }
}
