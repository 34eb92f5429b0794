//! Accountability trails (四不放过): per incident, the four conditions with the events that
//! evidence them (who, when, which position), what is still missing and for how long; the
//! investigation clock (60 days, one extension, appraisal pauses excluded); post-closure
//! evaluations due (1 year after sign-off); late reports and late casualty revisions.
//!
//! Invariants and definitions:
//! - The four, in canonical order ([`FOUR_NOT_LET_GO`]): cause determined (事故原因未查清不放过),
//!   those responsible dealt with (责任人员未处理不放过), corrective measures implemented
//!   (整改措施未落实不放过), education conducted (有关人员未受到教育不放过).
//! - A condition is satisfied at an instant when an evidencing event was recorded (the command's
//!   issued time) at or before it; so an as-of query shows what was missing then.
//! - "Missing for how long" counts whole days from the incident's report (`reported_at`) to the
//!   as-of instant.
//! - Investigation overdue at `at`: opened, report not submitted nor the case closed by `at`, and `at` is past the
//!   deadline in force, where a technical appraisal (技术鉴定) under way stops the clock.
//! - State is ordered (`BTreeMap`, `Vec` in log order): a rebuild is byte-identical.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Projection;
use crate::domain::incident::{IncidentEvent, FOUR_NOT_LET_GO};
use crate::domain::time::end_of_cst_day;
use crate::domain::DomainEvent;
use crate::store::RecordedEvent;

/// An event that evidences one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub position: u64,
    pub event_type: String,
    /// Who recorded it (the command's actor).
    pub actor: String,
    /// When (the command's issued time).
    pub at: DateTime<Utc>,
    /// What was established or done, in words.
    pub summary: String,
    /// Document references.
    pub documents: Vec<String>,
}

/// The investigation clock as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationTrail {
    pub opened_at: DateTime<Utc>,
    pub authority: String,
    /// Deadline in force, moved by extensions and finished appraisal pauses.
    pub deadline: DateTime<Utc>,
    pub extensions: u32,
    /// Start of a technical appraisal under way.
    pub paused_since: Option<DateTime<Utc>>,
    pub report_submitted_at: Option<DateTime<Utc>>,
    pub report_overdue: bool,
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

/// One incident's trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTrail {
    pub incident_id: String,
    pub community_id: String,
    pub category: String,
    pub occurred_at: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
    /// Reported more than the limit (1 hour) after the accident.
    pub reported_late: bool,
    pub report_delay_minutes: i64,
    /// Casualty revisions after the supplementary window (迟报/补报逾期).
    pub late_revisions: u32,
    /// Evidence per condition, in [`FOUR_NOT_LET_GO`] order, each list in log order.
    pub four: [Vec<Evidence>; 4],
    pub investigation: Option<InvestigationTrail>,
    /// Sign-off (结案批复) time.
    pub signed_off_at: Option<DateTime<Utc>>,
    /// Post-closure evaluation due date (CST).
    pub evaluation_due: Option<NaiveDate>,
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// One of the four, as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionStatus {
    pub code: String,
    pub label: String,
    pub satisfied: bool,
    /// Evidence recorded by then, in log order.
    pub evidence: Vec<Evidence>,
}

/// The four of one incident as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FourStatus {
    pub incident_id: String,
    pub as_of: DateTime<Utc>,
    pub conditions: Vec<ConditionStatus>,
    /// Codes of the conditions not yet satisfied.
    pub missing: Vec<String>,
    /// Whole days since the incident was reported.
    pub days_open: i64,
    pub closed: bool,
}

/// An investigation past its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueInvestigation {
    pub incident_id: String,
    pub due: DateTime<Utc>,
    pub days_past: i64,
}

/// A post-closure evaluation not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationDue {
    pub incident_id: String,
    pub due: NaiveDate,
    pub overdue: bool,
}

/// The accountability trail projection (四不放过).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountabilityTrails {
    incidents: BTreeMap<String, IncidentTrail>,
}

impl AccountabilityTrails {
    /// Every incident's trail, by incident id.
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentTrail> {
        self.incidents.values()
    }

    pub fn trail(&self, incident_id: &str) -> Option<&IncidentTrail> {
        self.incidents.get(incident_id)
    }

    /// The four of one incident as of `at`.
    pub fn four_status(&self, incident_id: &str, at: DateTime<Utc>) -> Option<FourStatus> {
        let t = self.incidents.get(incident_id)?;
        let mut conditions = Vec::with_capacity(4);
        let mut missing = Vec::new();
        for ((code, label), list) in FOUR_NOT_LET_GO.iter().zip(&t.four) {
            let evidence: Vec<Evidence> = list.iter().filter(|e| e.at <= at).cloned().collect();
            let satisfied = !evidence.is_empty();
            if !satisfied {
                missing.push(code.to_string());
            }
            conditions.push(ConditionStatus { code: code.to_string(), label: label.to_string(), satisfied, evidence });
        }
        Some(FourStatus {
            incident_id: t.incident_id.clone(),
            as_of: at,
            conditions,
            missing,
            days_open: (at - t.reported_at).num_days(),
            closed: t.signed_off_at.is_some_and(|s| s <= at),
        })
    }

    /// Incidents reported by `at`, not closed by then, with a condition missing; by id.
    pub fn missing_conditions(&self, at: DateTime<Utc>) -> Vec<FourStatus> {
        self.incidents
            .keys()
            .filter_map(|id| self.four_status(id, at))
            .filter(|s| !s.closed && !s.missing.is_empty() && s.days_open >= 0)
            .collect()
    }

    /// Investigations past their deadline at `at` (appraisal pauses excluded); by id.
    pub fn past_investigation_deadline(&self, at: DateTime<Utc>) -> Vec<OverdueInvestigation> {
        self.incidents
            .values()
            .filter_map(|t| {
                let inv = t.investigation.as_ref()?;
                let closed = t.signed_off_at.is_some_and(|s| s <= at);
                if closed || inv.report_submitted_at.is_some_and(|s| s <= at) {
                    return None;
                }
                let due = inv.due_as_of(at);
                (at > due).then(|| OverdueInvestigation {
                    incident_id: t.incident_id.clone(),
                    due,
                    days_past: (at - due).num_days(),
                })
            })
            .collect()
    }

    /// Closed incidents whose post-closure evaluation is not recorded; by id.
    pub fn evaluations_due(&self, at: DateTime<Utc>) -> Vec<EvaluationDue> {
        self.incidents
            .values()
            .filter(|t| t.evaluated_at.is_none())
            .filter_map(|t| {
                let due = t.evaluation_due?;
                Some(EvaluationDue {
                    incident_id: t.incident_id.clone(),
                    due,
                    overdue: end_of_cst_day(due).is_some_and(|end| at >= end),
                })
            })
            .collect()
    }

    /// Incidents reported late, or with a late casualty revision; by id.
    pub fn late_reports(&self) -> Vec<&IncidentTrail> {
        self.incidents.values().filter(|t| t.reported_late || t.late_revisions > 0).collect()
    }
}

fn evidence(
    recorded: &RecordedEvent,
    actor: &str,
    at: DateTime<Utc>,
    summary: String,
    documents: &[String],
) -> Evidence {
    Evidence {
        position: recorded.position,
        event_type: recorded.event_type.to_string(),
        actor: actor.to_string(),
        at,
        summary,
        documents: documents.to_vec(),
    }
}

impl Projection for AccountabilityTrails {
    const NAME: &'static str = "accountability_trails";
    const VERSION: u32 = 1;

    fn wants(event_type: &str) -> bool {
        event_type.starts_with("incident.")
    }

    fn apply(&mut self, recorded: &RecordedEvent, event: &DomainEvent) {
        let DomainEvent::Incident(e) = event else {
            return;
        };
        if let IncidentEvent::Reported(r) = e {
            let id = r.incident_id.as_str().to_string();
            self.incidents.entry(id.clone()).or_insert_with(|| IncidentTrail {
                incident_id: id,
                community_id: r.community_id.as_str().to_string(),
                category: r.category.clone(),
                occurred_at: r.occurred_at,
                reported_at: r.reported_at,
                reported_late: r.reported_late,
                report_delay_minutes: r.report_delay_minutes,
                late_revisions: 0,
                four: Default::default(),
                investigation: None,
                signed_off_at: None,
                evaluation_due: None,
                evaluated_at: None,
            });
            return;
        }
        let id = match e {
            IncidentEvent::Reported(x) => &x.incident_id,
            IncidentEvent::CasualtiesRevised(x) => &x.incident_id,
            IncidentEvent::Graded(x) => &x.incident_id,
            IncidentEvent::InvestigationOpened(x) => &x.incident_id,
            IncidentEvent::InvestigationExtended(x) => &x.incident_id,
            IncidentEvent::AppraisalStarted(x) => &x.incident_id,
            IncidentEvent::AppraisalEnded(x) => &x.incident_id,
            IncidentEvent::InvestigationReportSubmitted(x) => &x.incident_id,
            IncidentEvent::CauseDetermined(x) => &x.incident_id,
            IncidentEvent::ResponsibleDealtWith(x) => &x.incident_id,
            IncidentEvent::CorrectiveMeasuresImplemented(x) => &x.incident_id,
            IncidentEvent::EducationConducted(x) => &x.incident_id,
            IncidentEvent::Closed(x) => &x.incident_id,
            IncidentEvent::Evaluated(x) => &x.incident_id,
        };
        let Some(t) = self.incidents.get_mut(id.as_str()) else {
            return;
        };
        match e {
            IncidentEvent::CasualtiesRevised(r) if r.late => t.late_revisions += 1,
            IncidentEvent::InvestigationOpened(o) => {
                t.investigation = Some(InvestigationTrail {
                    opened_at: o.recorded_at,
                    authority: o.authority.clone(),
                    deadline: o.deadline,
                    extensions: 0,
                    paused_since: None,
                    report_submitted_at: None,
                    report_overdue: false,
                });
            }
            IncidentEvent::InvestigationExtended(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.deadline = x.new_deadline;
                    inv.extensions += 1;
                }
            }
            IncidentEvent::AppraisalStarted(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.paused_since = Some(x.started_at);
                }
            }
            IncidentEvent::AppraisalEnded(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.paused_since = None;
                    inv.deadline = x.new_deadline;
                }
            }
            IncidentEvent::InvestigationReportSubmitted(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.report_submitted_at = Some(x.submitted_at);
                    inv.report_overdue = x.overdue;
                }
            }
            IncidentEvent::CauseDetermined(x) => {
                t.four[0].push(evidence(recorded, x.recorded_by.as_str(), x.recorded_at, x.cause.clone(), &x.evidence))
            }
            IncidentEvent::ResponsibleDealtWith(x) => t.four[1].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                format!("{} ({}): {}", x.person, x.role, x.action),
                &x.evidence,
            )),
            IncidentEvent::CorrectiveMeasuresImplemented(x) => t.four[2].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                x.measures.clone(),
                &x.evidence,
            )),
            IncidentEvent::EducationConducted(x) => t.four[3].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                format!("{} ({} people, {})", x.audience, x.people_reached, x.method),
                &x.evidence,
            )),
            IncidentEvent::Closed(c) => {
                t.signed_off_at = Some(c.signed_off_at);
                t.evaluation_due = Some(c.evaluation_due);
            }
            IncidentEvent::Evaluated(v) => t.evaluated_at = Some(v.evaluated_at),
            _ => {}
        }
    }
}
