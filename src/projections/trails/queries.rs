//! The 四不放过 queries and their result types: one incident's four as of an instant, the
//! incidents with one of the four missing, investigations past their deadline, evaluations due,
//! late reports, late escalations, late sign-offs, incidents closed elsewhere.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::state::AccountabilityTrails;
use super::trail::{EscalationStep, Evidence, IncidentTrail};
use crate::events::incident::{AuthorityLevel, FOUR_NOT_LET_GO};
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
    /// Signed off, or closed elsewhere.
    pub closed: bool,
    /// Closed in another system, its case file not held here (外部结案).
    pub closed_elsewhere: bool,
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

/// An escalation (逐级上报) that came late, or is due and missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateEscalation {
    pub incident_id: String,
    /// The level the report reached late, or the next level it has yet to reach.
    pub level: AuthorityLevel,
    pub due: DateTime<Utc>,
    /// When it reached that level; `None`: not yet.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Whole minutes after the due time (to the escalation, or to the query's instant).
    pub minutes_late: i64,
}

/// A sign-off (批复, Decree 493 art. 32) after its due time, or due and missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueSignOff {
    pub incident_id: String,
    pub due: DateTime<Utc>,
    /// When it was signed off; `None`: not by the query's instant.
    pub signed_off_at: Option<DateTime<Utc>>,
    /// Whole days after the due time (to the sign-off, or to the query's instant).
    pub days_late: i64,
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
            closed: t.closed_at().is_some_and(|s| s <= at),
            closed_elsewhere: t.closed_elsewhere.as_ref().is_some_and(|c| c.closed_from <= at),
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
                let closed = t.closed_at().is_some_and(|s| s <= at);
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

    /// Escalations late at `at` (Decree 493 art. 10–11), by incident id then due time: each
    /// one recorded late by then, and, for an incident not signed off by then whose grade calls
    /// for a higher level than its report has reached, the next level once `limit` has passed
    /// since the last receipt. Reads the late set and the incidents the escalating index has
    /// pending at `at`.
    pub fn late_escalations(&self, at: DateTime<Utc>, limit: chrono::Duration) -> Vec<LateEscalation> {
        let mut ids: Vec<&str> = self.index.escalating.candidates(at, at);
        ids.extend(self.index.late_escalations.iter().map(String::as_str));
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.incidents.get(id))
            .flat_map(|t| late_escalations_of(t, at, limit))
            .collect()
    }

    /// Sign-offs (批复) late at `at`, by id: signed off by then after the due time decided with
    /// the report (extensions included), or not signed off by then with the due time passed.
    /// Reads the late set and the sign-offs whose due month has begun and that were pending
    /// after `at`.
    pub fn overdue_sign_offs(&self, at: DateTime<Utc>) -> Vec<OverdueSignOff> {
        let mut ids: Vec<&str> = self.index.sign_offs.candidates(at, at);
        ids.extend(self.index.signed_off_late.iter().map(String::as_str));
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().filter_map(|id| self.incidents.get(id)).filter_map(|t| overdue_sign_off_of(t, at)).collect()
    }

    /// Incidents closed in another system by `at` (外部结案), by id: listed apart, never as
    /// open. Reads the outside set.
    pub fn closed_elsewhere(&self, at: DateTime<Utc>) -> Vec<&IncidentTrail> {
        self.index
            .outside
            .iter()
            .filter_map(|id| self.trail(id))
            .filter(|t| t.closed_elsewhere.as_ref().is_some_and(|c| c.closed_from <= at))
            .collect()
    }

    /// Incidents reported late, or with a late casualty revision; by id.
    pub fn late_reports(&self) -> Vec<&IncidentTrail> {
        self.index.late.iter().filter_map(|id| self.trail(id)).collect()
    }
}

/// One incident's late escalations at `at` (see [`AccountabilityTrails::late_escalations`]).
pub(super) fn late_escalations_of(
    t: &IncidentTrail,
    at: DateTime<Utc>,
    limit: chrono::Duration,
) -> Vec<LateEscalation> {
    let line = |level, due: DateTime<Utc>, escalated_at: Option<DateTime<Utc>>| LateEscalation {
        incident_id: t.incident_id.clone(),
        level,
        due,
        escalated_at,
        minutes_late: (escalated_at.unwrap_or(at) - due).num_minutes(),
    };
    let done: Vec<&EscalationStep> = t.escalations.iter().filter(|s| s.escalated_at <= at).collect();
    let mut out: Vec<LateEscalation> =
        done.iter().filter(|s| s.late).map(|s| line(s.level, s.deadline, Some(s.escalated_at))).collect();
    let signed_off = t.closed_at().is_some_and(|s| s <= at);
    // The highest level reached by `at` (the earliest receipt there): escalations only climb.
    let top = done.iter().min_by_key(|s| (std::cmp::Reverse(s.level), s.escalated_at));
    let (reached, since) = top.map_or((AuthorityLevel::County, t.reported_at), |s| (s.level, s.escalated_at));
    if let (Some(required), false, true) = (t.escalation_required, signed_off, t.reported_at <= at) {
        let next = [AuthorityLevel::City, AuthorityLevel::Province, AuthorityLevel::StateCouncil]
            .into_iter()
            .find(|l| *l > reached);
        if let Some(next) = next.filter(|n| *n <= required) {
            let due = since.checked_add_signed(limit).unwrap_or(DateTime::<Utc>::MAX_UTC);
            if at > due {
                out.push(line(next, due, None));
            }
        }
    }
    out
}

/// One incident's sign-off, if late at `at` (see [`AccountabilityTrails::overdue_sign_offs`]).
pub(super) fn overdue_sign_off_of(t: &IncidentTrail, at: DateTime<Utc>) -> Option<OverdueSignOff> {
    let inv = t.investigation.as_ref()?;
    let due = inv.sign_off_due?;
    if inv.report_submitted_at.is_none_or(|s| s > at) {
        return None;
    }
    let signed = t.signed_off_at.filter(|s| *s <= at);
    if signed.is_none() && t.closed_at().is_some_and(|c| c <= at) {
        // Closed elsewhere: no sign-off is due here.
        return None;
    }
    let end = signed.unwrap_or(at);
    (end > due).then(|| OverdueSignOff {
        incident_id: t.incident_id.clone(),
        due,
        signed_off_at: signed,
        days_late: (end - due).num_days(),
    })
}
