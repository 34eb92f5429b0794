//! The vocabulary of incident streams (`incident-{id}`): the events of an incident (reported,
//! casualties revised, graded, investigation, the four don't-let-go, closed, evaluated) and the
//! values they carry: the Decree 493 grade ([`IncidentGrade`]), the investigating authority,
//! [`Casualties`], and [`FOUR_NOT_LET_GO`] (四不放过) in its canonical order. The rules that decide
//! them are in `crate::domain::incident`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};
use super::person::PersonalField;

/// Accident grade of Decree 493 art. 3, lowest first (so `Ord` means "more serious").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentGrade {
    /// 一般事故
    Ordinary,
    /// 较大事故
    RelativelySerious,
    /// 重大事故
    Serious,
    /// 特别重大事故
    ExtraordinarilySerious,
}

impl IncidentGrade {
    pub fn zh(self) -> &'static str {
        match self {
            IncidentGrade::Ordinary => "一般事故",
            IncidentGrade::RelativelySerious => "较大事故",
            IncidentGrade::Serious => "重大事故",
            IncidentGrade::ExtraordinarilySerious => "特别重大事故",
        }
    }

    /// Who investigates (art. 19).
    pub fn investigating_authority(self) -> AuthorityLevel {
        match self {
            IncidentGrade::Ordinary => AuthorityLevel::County,
            IncidentGrade::RelativelySerious => AuthorityLevel::City,
            IncidentGrade::Serious => AuthorityLevel::Province,
            IncidentGrade::ExtraordinarilySerious => AuthorityLevel::StateCouncil,
        }
    }

    /// How far the bureaus pass the report up (art. 10): 一般 to the city, 较大 to the province,
    /// 重大 and 特别重大 to the State Council's department.
    pub fn escalation_level(self) -> AuthorityLevel {
        match self {
            IncidentGrade::Ordinary => AuthorityLevel::City,
            IncidentGrade::RelativelySerious => AuthorityLevel::Province,
            IncidentGrade::Serious | IncidentGrade::ExtraordinarilySerious => AuthorityLevel::StateCouncil,
        }
    }
}

/// Level of a government (or of its safety bureau), lowest first: who investigates (art. 19),
/// and how far a report climbs (art. 10, where `StateCouncil` stands for the State Council's
/// work-safety department, 国务院安全生产监督管理部门).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityLevel {
    /// 县级人民政府
    County,
    /// 设区的市级人民政府
    City,
    /// 省级人民政府
    Province,
    /// 国务院
    StateCouncil,
}

impl AuthorityLevel {
    /// Steps above the county (0 for the county, 3 for the State Council).
    pub fn rank(self) -> u32 {
        match self {
            AuthorityLevel::County => 0,
            AuthorityLevel::City => 1,
            AuthorityLevel::Province => 2,
            AuthorityLevel::StateCouncil => 3,
        }
    }
}

/// The dimension(s) that decided a grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GradeDimension {
    Deaths,
    SeriousInjuries,
    DirectLoss,
}

/// Casualty figures as reported or revised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Casualties {
    pub deaths: u32,
    /// Serious injuries, including acute industrial poisoning (急性工业中毒).
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    /// 下落不明
    pub missing: u32,
    /// Direct economic loss, whole yuan.
    pub direct_loss_yuan: u64,
}

/// `incident.reported` v2 (v1 had no `missing`; see `event.rs` for the upcaster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentReported {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub reported_at: DateTime<Utc>,
    pub place: String,
    pub community_id: EntityId,
    pub enterprise_id: Option<EntityId>,
    pub category: String,
    pub deaths: u32,
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    pub missing: u32,
    pub direct_loss_yuan: u64,
    pub summary: String,
    /// Minutes from the accident to the report.
    pub report_delay_minutes: i64,
    /// The limit in force (art. 9: 60).
    pub report_limit_minutes: u32,
    pub reported_late: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CasualtiesRevised {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub deaths: u32,
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    pub missing: u32,
    pub direct_loss_yuan: u64,
    pub reason: String,
    /// Whole days from the accident to the revision.
    pub days_after_accident: i64,
    /// The supplementary-report window that applied (30, or 7 for road traffic and fire).
    pub window_days: u32,
    /// Revised after the window (accepted, flagged).
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentGraded {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grade: IncidentGrade,
    pub previous_grade: Option<IncidentGrade>,
    /// Deaths as counted for grading (incl. missing persons once they count).
    pub deaths_counted: u32,
    pub missing_counted_as_dead: bool,
    pub serious_injuries: u32,
    pub direct_loss_yuan: u64,
    pub decided_by: Vec<GradeDimension>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvestigationOpened {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub authority_level: AuthorityLevel,
    pub authority: String,
    /// The level the grade calls for (none for ungraded categories).
    pub required_level: Option<AuthorityLevel>,
    /// Report due: accident + 60 days (art. 29).
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvestigationExtended {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub days: u32,
    pub reason: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub new_deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppraisalStarted {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub started_at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppraisalEnded {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub started_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub ended_at: DateTime<Utc>,
    /// The pause added to the deadline, in seconds.
    pub paused_seconds: i64,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub new_deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvestigationReportSubmitted {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub submitted_at: DateTime<Utc>,
    pub summary: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
    /// Days the government has to sign off (批复, art. 32: 15, or 30 for 特别重大); `None` in
    /// reports recorded before the rule was enforced (upcast from v1).
    pub sign_off_days: Option<u32>,
    /// Sign-off due: the report's submission plus `sign_off_days`.
    pub sign_off_due: Option<DateTime<Utc>>,
}

/// `incident.sign_off_extended` (art. 32): the sign-off of a 特别重大 accident extended once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignOffExtended {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub days: u32,
    pub reason: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub new_due: DateTime<Utc>,
}

/// `incident.escalated` (逐级上报, art. 10–11): the report passed up to `level`, with the deadline
/// it was judged against and whether it came late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentEscalated {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    /// The level that held the report before (the county bureau first).
    pub from_level: AuthorityLevel,
    /// The level it reached.
    pub level: AuthorityLevel,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub escalated_at: DateTime<Utc>,
    /// The limit per level in force (art. 10: 120 minutes).
    pub limit_minutes: u32,
    /// The previous level's receipt plus the limit once per level climbed.
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub deadline: DateTime<Utc>,
    pub late: bool,
    /// The level the grade calls for at this moment (none for ungraded categories).
    pub required_level: Option<AuthorityLevel>,
}

/// `incident.closed_elsewhere`: an imported incident closed in another system, whose evidence
/// (the four don't-let-go, the sign-off) is not held here. It is listed apart, never as open
/// with the four missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClosedElsewhere {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    /// The CST day it was closed there, when known.
    pub closed_on: Option<NaiveDate>,
    /// The system or organisation that holds the case file (an organisation, not a person).
    pub held_by: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CauseDetermined {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub cause: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResponsibleDealtWith {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    /// Sealed name (plain only in events upcast from v1).
    pub person: PersonalField,
    /// Sealed ID number, if one was given.
    pub id_number: Option<PersonalField>,
    pub role: String,
    pub action: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CorrectiveMeasuresImplemented {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub measures: String,
    pub hazard_ids: Vec<EntityId>,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EducationConducted {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub audience: String,
    pub people_reached: u32,
    pub method: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentClosed {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub signed_off_at: DateTime<Utc>,
    pub signed_off_by: String,
    /// Post-closure evaluation due by this CST date (sign-off + 1 year).
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub evaluation_due: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostClosureEvaluated {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub evaluated_at: DateTime<Utc>,
    pub findings: String,
    pub published: bool,
    pub overdue: bool,
}

event_enum!(
    /// Events of an incident stream (`incident-{id}`).
    IncidentEvent, incident_id, StreamKind::Incident, {
    Reported(IncidentReported) = "incident.reported" v 2,
    CasualtiesRevised(CasualtiesRevised) = "incident.casualties_revised" v 1,
    Graded(IncidentGraded) = "incident.graded" v 1,
    InvestigationOpened(InvestigationOpened) = "incident.investigation_opened" v 1,
    InvestigationExtended(InvestigationExtended) = "incident.investigation_extended" v 1,
    AppraisalStarted(AppraisalStarted) = "incident.appraisal_started" v 1,
    AppraisalEnded(AppraisalEnded) = "incident.appraisal_ended" v 1,
    InvestigationReportSubmitted(InvestigationReportSubmitted) = "incident.investigation_report_submitted" v 2,
    CauseDetermined(CauseDetermined) = "incident.cause_determined" v 1,
    ResponsibleDealtWith(ResponsibleDealtWith) = "incident.responsible_dealt_with" v 2,
    CorrectiveMeasuresImplemented(CorrectiveMeasuresImplemented) = "incident.corrective_measures_implemented" v 1,
    EducationConducted(EducationConducted) = "incident.education_conducted" v 1,
    Closed(IncidentClosed) = "incident.closed" v 1,
    Evaluated(PostClosureEvaluated) = "incident.evaluated" v 1,
    Escalated(IncidentEscalated) = "incident.escalated" v 1,
    SignOffExtended(SignOffExtended) = "incident.sign_off_extended" v 1,
    ClosedElsewhere(ClosedElsewhere) = "incident.closed_elsewhere" v 1,
});

/// The four don't-let-go (四不放过), in their canonical order.
pub const FOUR_NOT_LET_GO: [(&str, &str); 4] = [
    ("cause_determined", "事故原因未查清不放过 cause determined"),
    ("responsible_dealt_with", "责任人员未处理不放过 those responsible dealt with"),
    ("corrective_measures_implemented", "整改措施未落实不放过 corrective measures implemented"),
    ("education_conducted", "有关人员未受到教育不放过 education conducted"),
];
