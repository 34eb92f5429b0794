//! The question, its two times, its answer and what the answer was computed from.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::hazards::{HazardsAnswer, HazardsQuery};
use super::incidents::{IncidentsAnswer, IncidentsQuery, TrailAnswer, TrailQuery};
use super::kpis::{KpisAnswer, KpisQuery};
use super::projects::{ProjectsAnswer, ProjectsQuery};
use super::stats::{StatsAnswer, StatsQuery};
use super::streaks::{StreaksAnswer, StreaksQuery};
use crate::events::time::cst_date;

/// The two times of a question (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// What had been recorded by this instant; `None`: everything recorded.
    pub as_of: Option<DateTime<Utc>>,
    /// The reference date (CST); `None`: the as-of day, or today.
    pub on: Option<NaiveDate>,
}

impl Moment {
    /// The reference date, given the clock's reading for "now".
    pub fn reference_date(&self, now: DateTime<Utc>) -> NaiveDate {
        self.on.unwrap_or_else(|| cst_date(self.as_of.unwrap_or(now)))
    }
}

/// What the figures were computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// The anquan version that computed them.
    pub anquan: String,
    /// Events folded: positions `0..position`.
    pub position: u64,
    /// The chain hash after those events (all zeros for none): proves which log it was.
    pub head_hash: String,
    /// The recorded-time cut asked for, if any.
    pub as_of: Option<DateTime<Utc>>,
    /// The reference date the figures are for.
    pub on: NaiveDate,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    Stats(StatsQuery),
    Kpis(KpisQuery),
    Hazards(HazardsQuery),
    Incidents(IncidentsQuery),
    Trail(TrailQuery),
    Streaks(StreaksQuery),
    Projects(ProjectsQuery),
}

/// One answer, typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Stats(StatsAnswer),
    Kpis(KpisAnswer),
    Hazards(HazardsAnswer),
    Incidents(IncidentsAnswer),
    Trail(TrailAnswer),
    Streaks(StreaksAnswer),
    Projects(ProjectsAnswer),
}

/// A question, its answer and what it was computed from: what JSON output and reports carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub basis: Basis,
    pub query: Query,
    pub result: Answer,
}

impl Figures {
    /// Typed figures from stored ones: the answer read as the kind its query names.
    pub fn from_stored(stored: StoredFigures) -> Result<Self, serde_json::Error> {
        let result = stored.result;
        let answer = match &stored.query {
            Query::Stats(_) => Answer::Stats(serde_json::from_value(result)?),
            Query::Kpis(_) => Answer::Kpis(serde_json::from_value(result)?),
            Query::Hazards(_) => Answer::Hazards(serde_json::from_value(result)?),
            Query::Incidents(_) => Answer::Incidents(serde_json::from_value(result)?),
            Query::Trail(_) => Answer::Trail(serde_json::from_value(result)?),
            Query::Streaks(_) => Answer::Streaks(serde_json::from_value(result)?),
            Query::Projects(_) => Answer::Projects(serde_json::from_value(result)?),
        };
        Ok(Figures { basis: stored.basis, query: stored.query, result: answer })
    }
}

/// The figures as stored (JSON), for [`check`]: the answer kept as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFigures {
    pub basis: Basis,
    pub query: Query,
    pub result: serde_json::Value,
}
