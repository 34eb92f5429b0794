//! Incidents on the reference date (newest first: grade, casualties, which of the four
//! conditions 四不放过 are missing, investigation overdue or closed), and one incident's trail.
//!
//! "On the reference date" uses the facts' own times: an incident that occurred after the day
//! is left out, evidence recorded after the day's end does not count, days open count to it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::common::known_community;
use super::error::QueryError;
use crate::domain::Settings;
use crate::events::time::end_of_cst_day;
use crate::projections::accident_stats::grade_code;
use crate::projections::trails::{FourStatus, IncidentTrail, LateEscalation, OverdueSignOff};
use crate::projections::AllProjections;

/// `anquan incidents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentsQuery {
    pub community: Option<String>,
    /// Only those not closed on the reference date.
    pub open_only: bool,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentLine {
    pub incident_id: String,
    pub occurred_on: NaiveDate,
    pub community_id: String,
    pub category: String,
    pub grade: Option<String>,
    pub deaths: u32,
    pub injuries: u32,
    pub missing: u32,
    pub direct_loss_yuan: u64,
    /// Codes of the four conditions (四不放过) not met on the reference date.
    pub four_missing: Vec<String>,
    pub days_open: i64,
    pub investigation_overdue: bool,
    /// Signed off, or closed elsewhere, by the reference date.
    pub closed: bool,
    /// Closed in another system, its case file not held here (外部结案): the four are not
    /// known here, so `four_missing` is empty.
    pub closed_elsewhere: bool,
}

/// An imported incident closed in another system (外部结案), listed apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideLine {
    pub incident_id: String,
    pub community_id: String,
    pub category: String,
    pub occurred_on: NaiveDate,
    /// The day it was closed there, when known.
    pub closed_on: Option<NaiveDate>,
    /// Who holds the case file.
    pub held_by: String,
}

/// The answer to an [`IncidentsQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentsAnswer {
    pub on: NaiveDate,
    pub community: Option<String>,
    /// Newest first.
    pub incidents: Vec<IncidentLine>,
    /// Escalations (逐级上报, 2 hours per level) recorded late by the reference date, or due and
    /// missing on it; by incident, then due time.
    pub late_escalations: Vec<LateEscalation>,
    /// Sign-offs (批复, 15 days, 30 for 特别重大) made late by the reference date, or due and
    /// missing on it; by incident.
    pub overdue_sign_offs: Vec<OverdueSignOff>,
    /// Incidents closed in another system by the reference date (外部结案), by id; they are
    /// also in `incidents`, marked, and never counted as open.
    pub closed_elsewhere: Vec<OutsideLine>,
}

/// The end of a CST day, as the last instant inside it.
pub(super) fn end_of(day: NaiveDate) -> DateTime<Utc> {
    end_of_cst_day(day).map(|t| t - chrono::Duration::microseconds(1)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn answer(all: &AllProjections, q: &IncidentsQuery, on: NaiveDate) -> Result<IncidentsAnswer, QueryError> {
    known_community(all, q.community.as_deref())?;
    let at = end_of(on);
    let overdue: std::collections::BTreeSet<String> =
        all.trails.past_investigation_deadline(at).into_iter().map(|o| o.incident_id).collect();
    let mut incidents = Vec::new();
    for f in all.accident_stats.incidents() {
        if f.occurred_at > at || q.community.as_deref().is_some_and(|c| c != f.community_id) {
            continue;
        }
        let Some(status) = all.trails.four_status(&f.incident_id, at) else { continue };
        if q.open_only && status.closed {
            continue;
        }
        let c = &f.casualties;
        incidents.push(IncidentLine {
            incident_id: f.incident_id.clone(),
            occurred_on: f.day(),
            community_id: f.community_id.clone(),
            category: f.category.clone(),
            grade: f.grade.map(|g| grade_code(g).to_string()),
            deaths: c.deaths,
            injuries: c.serious_injuries + c.minor_injuries,
            missing: c.missing,
            direct_loss_yuan: c.direct_loss_yuan,
            four_missing: if status.closed_elsewhere { Vec::new() } else { status.missing },
            days_open: status.days_open,
            investigation_overdue: overdue.contains(&f.incident_id),
            closed: status.closed,
            closed_elsewhere: status.closed_elsewhere,
        });
    }
    incidents.sort_by(|a, b| b.occurred_on.cmp(&a.occurred_on).then_with(|| a.incident_id.cmp(&b.incident_id)));
    // The limit is the regulation's: the store does not record a deployment's settings.
    let limit = chrono::Duration::minutes(i64::from(Settings::default().escalation_limit_minutes));
    let in_scope =
        |id: &str| all.trails.trail(id).is_some_and(|t| q.community.as_deref().is_none_or(|c| c == t.community_id));
    let late_escalations =
        all.trails.late_escalations(at, limit).into_iter().filter(|l| in_scope(&l.incident_id)).collect();
    let overdue_sign_offs = all.trails.overdue_sign_offs(at).into_iter().filter(|l| in_scope(&l.incident_id)).collect();
    let closed_elsewhere = all
        .trails
        .closed_elsewhere(at)
        .into_iter()
        .filter(|t| q.community.as_deref().is_none_or(|c| c == t.community_id))
        .map(|t| OutsideLine {
            incident_id: t.incident_id.clone(),
            community_id: t.community_id.clone(),
            category: t.category.clone(),
            occurred_on: crate::events::time::cst_date(t.occurred_at),
            closed_on: t.closed_elsewhere.as_ref().and_then(|c| c.closed_on),
            held_by: t.closed_elsewhere.as_ref().map(|c| c.held_by.clone()).unwrap_or_default(),
        })
        .collect();
    Ok(IncidentsAnswer {
        on,
        community: q.community.clone(),
        incidents,
        late_escalations,
        overdue_sign_offs,
        closed_elsewhere,
    })
}

/// `anquan trail`: one incident's four conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailQuery {
    pub incident: String,
}

/// The answer to a [`TrailQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailAnswer {
    pub on: NaiveDate,
    pub four: FourStatus,
    pub trail: IncidentTrail,
}

pub(super) fn trail(all: &AllProjections, q: &TrailQuery, on: NaiveDate) -> Result<TrailAnswer, QueryError> {
    let unknown = || QueryError::UnknownCode {
        field: "incident",
        value: q.incident.clone(),
        hint: Some("see `anquan incidents` for the incidents of this store".into()),
    };
    let four = all.trails.four_status(&q.incident, end_of(on)).ok_or_else(unknown)?;
    let trail = all.trails.trail(&q.incident).cloned().ok_or_else(unknown)?;
    Ok(TrailAnswer { on, four, trail })
}
