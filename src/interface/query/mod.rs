//! The questions a district asks of its figures, one library call each: statistics, key
//! figures, the hazard ledger, incidents, one incident's trail, fatality-free streaks and
//! promotion projects. The CLI's query commands, `anquan serve` and any host share this module,
//! so a figure means the same everywhere.
//!
//! Two times go into every answer, and they combine:
//! - **as of** (`Moment::as_of`): the audit axis, *what had been recorded by then*. The
//!   projections are folded up to the log position recorded by that instant.
//! - **on** (`Moment::on`): the reference date, *the period up to this day*: year to date,
//!   时序进度, the end of a streak, "overdue on that day". It defaults to the as-of day (or
//!   today), and can lie anywhere: "what did we know on 2011-06-05 about the period up to
//!   2011-05-31" is `as_of = 2011-06-05, on = 2011-05-31`.
//!
//! Invariants:
//! - Every answer carries its [`Basis`]: the log position folded to, the chain hash there, both
//!   times and the anquan version, so [`check`] can recompute it years later from a log that
//!   has grown since, figure by figure.
//! - An unknown code in a query (a category, a community, an enterprise, an incident) is an
//!   error naming it, never an answer of zeros.
//! - [`answer`] is pure: the same projections, query and reference date give the same answer.

pub mod check;
mod hazards;
mod incidents;
mod kpis;
mod projects;
mod stats;
mod streaks;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::time::cst_date;
use crate::projections::AllProjections;
use crate::store::{to_hex, Direction, EventStore, StoreError, Timestamp, GENESIS_HASH};

pub use hazards::{HazardsAnswer, HazardsQuery};
pub use incidents::{IncidentLine, IncidentsAnswer, IncidentsQuery, TrailAnswer, TrailQuery};
pub use kpis::{KpisAnswer, KpisQuery};
pub use projects::{ProjectsAnswer, ProjectsQuery};
pub use stats::{StatsAnswer, StatsBy, StatsQuery};
pub use streaks::{BreakingRule, StreaksAnswer, StreaksQuery};

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A code the store does not know (`field` names the query's field).
    #[error("unknown {field} {value:?}{}", hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default())]
    UnknownCode { field: &'static str, value: String, hint: Option<String> },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Projection(#[from] crate::projections::ProjectionError),
}

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

/// The figures as stored (JSON), for [`check`]: the answer kept as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFigures {
    pub basis: Basis,
    pub query: Query,
    pub result: serde_json::Value,
}

/// The answer to `query` from projections folded to some position, for reference date `on`.
pub fn answer(all: &AllProjections, query: &Query, on: NaiveDate) -> Result<Answer, QueryError> {
    Ok(match query {
        Query::Stats(q) => Answer::Stats(stats::answer(all, q, on)?),
        Query::Kpis(q) => Answer::Kpis(kpis::answer(all, q, on)?),
        Query::Hazards(q) => Answer::Hazards(hazards::answer(all, q, on)?),
        Query::Incidents(q) => Answer::Incidents(incidents::answer(all, q, on)?),
        Query::Trail(q) => Answer::Trail(incidents::trail(all, q, on)?),
        Query::Streaks(q) => Answer::Streaks(streaks::answer(all, q, on)?),
        Query::Projects(q) => Answer::Projects(projects::answer(all, q, on)?),
    })
}

/// The log position a moment folds to.
pub fn position_of(store: &EventStore, moment: &Moment) -> Result<u64, QueryError> {
    Ok(match moment.as_of {
        Some(t) => store.position_as_of(Timestamp::from_chrono(t))?,
        None => store.head().next_position,
    })
}

/// The chain hash after the first `position` events of the store.
pub fn hash_at(store: &EventStore, position: u64) -> Result<String, QueryError> {
    if position == 0 {
        return Ok(to_hex(&GENESIS_HASH));
    }
    match store.read_all(position - 1, Direction::Forward, 1)?.first() {
        Some(e) if e.position == position - 1 => Ok(to_hex(&e.hash)),
        _ => Err(QueryError::Invalid(format!("the log holds fewer than {position} events"))),
    }
}

/// The basis of figures computed at `position` for the moment.
pub fn basis(store: &EventStore, position: u64, moment: &Moment, on: NaiveDate) -> Result<Basis, QueryError> {
    Ok(Basis {
        anquan: env!("CARGO_PKG_VERSION").to_string(),
        position,
        head_hash: hash_at(store, position)?,
        as_of: moment.as_of,
        on,
    })
}

/// Folds the projections up to the moment (from snapshots where they allow) and answers each
/// query; every answer carries the same basis. `now` stands for "today" when the moment names
/// no date.
pub fn ask_all(
    store: &EventStore,
    queries: &[Query],
    moment: &Moment,
    now: DateTime<Utc>,
) -> Result<(AllProjections, Vec<Figures>), QueryError> {
    let position = position_of(store, moment)?;
    let (all, _) = AllProjections::as_of(store, position)?;
    let on = moment.reference_date(now);
    let basis = basis(store, position, moment, on)?;
    let figures = queries
        .iter()
        .map(|q| Ok(Figures { basis: basis.clone(), query: q.clone(), result: answer(&all, q, on)? }))
        .collect::<Result<Vec<_>, QueryError>>()?;
    Ok((all, figures))
}

/// [`ask_all`] for one query.
pub fn ask(store: &EventStore, query: &Query, moment: &Moment, now: DateTime<Utc>) -> Result<Figures, QueryError> {
    let (_, mut figures) = ask_all(store, std::slice::from_ref(query), moment, now)?;
    figures.pop().ok_or_else(|| QueryError::Invalid("no answer".into()))
}

// ---- checks shared by the queries ----------------------------------------------------------

/// A category code the catalog knows.
pub(crate) fn known_category(code: Option<&str>) -> Result<(), QueryError> {
    let Some(code) = code else { return Ok(()) };
    let catalog = crate::events::catalog::Catalog::builtin()
        .map_err(|e| QueryError::Invalid(format!("the built-in catalog does not load: {e}")))?;
    if catalog.categories.iter().any(|c| c.code == code) {
        return Ok(());
    }
    Err(QueryError::UnknownCode {
        field: "category",
        value: code.to_string(),
        hint: Some(format!(
            "the catalog's categories are {} (anquan codes)",
            catalog.categories.iter().map(|c| c.code.as_str()).collect::<Vec<_>>().join(", ")
        )),
    })
}

/// A community the statistics know.
pub(crate) fn known_community(all: &AllProjections, id: Option<&str>) -> Result<(), QueryError> {
    let Some(id) = id else { return Ok(()) };
    if all.accident_stats.community(id).is_some() {
        return Ok(());
    }
    let known: Vec<String> = all.accident_stats.communities().map(|c| c.community_id.clone()).take(30).collect();
    Err(QueryError::UnknownCode {
        field: "community",
        value: id.to_string(),
        hint: Some(if known.is_empty() {
            "no community is registered in this store".into()
        } else {
            format!("registered communities include {} (anquan codes)", known.join(", "))
        }),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::engine::Engine;
    use crate::store::{Durability, ManualClock, StoreOptions};

    /// The projections of a small demo district (built once per test process).
    pub(crate) fn small_district() -> &'static AllProjections {
        static ALL: OnceLock<AllProjections> = OnceLock::new();
        ALL.get_or_init(|| {
            let config = crate::interface::demo::DemoConfig { seed: 5, scale: 0.05, ..Default::default() };
            let history = crate::interface::demo::district_history(&config);
            let dir = tempfile::tempdir().unwrap();
            let clock = Arc::new(ManualClock::new(Timestamp::from_chrono(history.as_of)));
            let options = StoreOptions {
                durability: Durability::Deferred { flush_interval: std::time::Duration::from_secs(1) },
                clock: clock.clone(),
                ..StoreOptions::default()
            };
            let vault = Arc::new(crate::engine::privacy::Vault::open_beside_store(dir.path()).unwrap());
            let engine = Engine::new(EventStore::open_dir(dir.path(), options).unwrap())
                .unwrap()
                .with_clock(clock)
                .with_vault(vault);
            for json in &history.commands {
                let _ = engine.execute_json(json);
            }
            AllProjections::as_of(engine.store(), engine.store().head().next_position).unwrap().0
        })
    }

    /// Every query answers on the demo district, and an unknown code is named, not zeros.
    #[test]
    fn every_query_answers_and_unknown_codes_are_named() {
        let all = small_district();
        let on = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let community = all.accident_stats.communities().next().unwrap().community_id.clone();
        for q in [
            Query::Stats(StatsQuery::default()),
            Query::Stats(StatsQuery { by: StatsBy::Grade, community: Some(community.clone()), ..Default::default() }),
            Query::Kpis(KpisQuery::default()),
            Query::Hazards(HazardsQuery { community: Some(community.clone()) }),
            Query::Incidents(IncidentsQuery { community: None, open_only: true }),
            Query::Streaks(StreaksQuery::default()),
            Query::Projects(ProjectsQuery::default()),
        ] {
            answer(all, &q, on).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        }
        for (q, field) in [
            (Query::Stats(StatsQuery { category: Some("Fire".into()), ..Default::default() }), "category"),
            (Query::Stats(StatsQuery { community: Some("C999".into()), ..Default::default() }), "community"),
            (Query::Hazards(HazardsQuery { community: Some("C999".into()) }), "community"),
            (Query::Trail(TrailQuery { incident: "nope".into() }), "incident"),
        ] {
            match answer(all, &q, on) {
                Err(QueryError::UnknownCode { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{q:?}: {other:?}"),
            }
        }
    }

    /// By grade, the total counts every incident: the ungraded ones are a line of their own.
    #[test]
    fn the_total_by_grade_counts_every_incident() {
        let all = small_district();
        let on = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let by_grade = stats::answer(all, &StatsQuery { by: StatsBy::Grade, ..Default::default() }, on).unwrap();
        let by_category = stats::answer(all, &StatsQuery::default(), on).unwrap();
        assert_eq!(by_grade.comparison.total, by_category.comparison.total);
        let lines: u64 = by_grade.comparison.lines.iter().map(|l| l.current.incidents).sum();
        assert_eq!(lines, by_grade.comparison.total.current.incidents);
    }

    /// An unfinished year is compared year to date, and says so.
    #[test]
    fn an_unfinished_year_is_compared_year_to_date() {
        let all = small_district();
        let on = NaiveDate::from_ymd_opt(2026, 5, 31).unwrap();
        let a = stats::answer(all, &StatsQuery::default(), on).unwrap();
        assert!(a.partial && a.year_to_date);
        assert_eq!((a.current.to, a.baseline.to), (on, NaiveDate::from_ymd_opt(2025, 5, 31).unwrap()));
        let whole = stats::answer(all, &StatsQuery { year_to_date: Some(false), ..Default::default() }, on).unwrap();
        assert!(whole.partial && !whole.year_to_date);
        assert_eq!(whole.current.to, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        let past = stats::answer(all, &StatsQuery { year: Some(2025), ..Default::default() }, on).unwrap();
        assert!(!past.partial && !past.year_to_date);
    }
}
