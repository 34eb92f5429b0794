//! The 四不放过 queries and their result types: one incident's four as of an instant, the
//! incidents with one of the four missing, investigations past their deadline, evaluations due,
//! late reports.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::state::AccountabilityTrails;
use super::trail::{Evidence, IncidentTrail};
use crate::events::incident::FOUR_NOT_LET_GO;
use crate::events::time::end_of_cst_day;

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

impl AccountabilityTrails {
    /// Every incident's trail, by incident id.
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentTrail> {
        self.incidents.values().map(|t| &**t)
    }

    pub fn trail(&self, incident_id: &str) -> Option<&IncidentTrail> {
        self.incidents.get(incident_id).map(|t| &**t)
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
    /// Reads the incidents the settling index has unsettled at `at` (see the module docs).
    pub fn missing_conditions(&self, at: DateTime<Utc>) -> Vec<FourStatus> {
        // `days_open >= 0` holds for reports up to a day after `at` (whole days truncate).
        let reported_by = at.checked_add_signed(chrono::Duration::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.index
            .settling
            .candidates(reported_by, at)
            .into_iter()
            .filter_map(|id| self.four_status(id, at))
            .filter(|s| !s.closed && !s.missing.is_empty() && s.days_open >= 0)
            .collect()
    }

    /// Investigations past their deadline at `at` (appraisal pauses excluded); by id. Reads
    /// the investigations whose deadline month has begun and that were pending after `at`.
    pub fn past_investigation_deadline(&self, at: DateTime<Utc>) -> Vec<OverdueInvestigation> {
        self.index
            .investigations
            .candidates(at, at)
            .into_iter()
            .filter_map(|id| self.incidents.get(id))
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

    /// Closed incidents whose post-closure evaluation is not recorded; by id (reads the
    /// awaiting-evaluation set; `at` only decides `overdue`).
    pub fn evaluations_due(&self, at: DateTime<Utc>) -> Vec<EvaluationDue> {
        self.index
            .awaiting_evaluation
            .iter()
            .map(|(id, due)| EvaluationDue {
                incident_id: id.clone(),
                due: *due,
                overdue: end_of_cst_day(*due).is_some_and(|end| at >= end),
            })
            .collect()
    }

    /// Incidents reported late, or with a late casualty revision; by id.
    pub fn late_reports(&self) -> Vec<&IncidentTrail> {
        self.index.late.iter().filter_map(|id| self.trail(id)).collect()
    }
}
