//! Incidents on the reference date (newest first: grade, casualties, which of the four
//! conditions 四不放过 are missing, investigation overdue or closed), and one incident's trail.
//!
//! "On the reference date" uses the facts' own times: an incident that occurred after the day
//! is left out, evidence recorded after the day's end does not count, days open count to it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::common::known_community;
use super::error::QueryError;
use crate::events::time::end_of_cst_day;
use crate::projections::accident_stats::grade_code;
use crate::projections::trails::{FourStatus, IncidentTrail};
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
    pub closed: bool,
}

/// The answer to an [`IncidentsQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentsAnswer {
    pub on: NaiveDate,
    pub community: Option<String>,
    /// Newest first.
    pub incidents: Vec<IncidentLine>,
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
            four_missing: status.missing,
            days_open: status.days_open,
            investigation_overdue: overdue.contains(&f.incident_id),
            closed: status.closed,
        });
    }
    incidents.sort_by(|a, b| b.occurred_on.cmp(&a.occurred_on).then_with(|| a.incident_id.cmp(&b.incident_id)));
    Ok(IncidentsAnswer { on, community: q.community.clone(), incidents })
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
