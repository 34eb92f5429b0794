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

mod ask;
pub mod check;
mod common;
mod error;
mod hazards;
mod incidents;
mod kpis;
mod projects;
mod stats;
mod streaks;
mod types;

pub use ask::{answer, ask, ask_all, basis, hash_at, position_of};
pub use error::QueryError;
pub use hazards::{HazardsAnswer, HazardsQuery};
pub use incidents::{IncidentLine, IncidentsAnswer, IncidentsQuery, OutsideLine, TrailAnswer, TrailQuery};
pub use kpis::{KpisAnswer, KpisQuery};
pub use projects::{CategoryBeforeAfter, InterventionLine, ProjectLine, ProjectsAnswer, ProjectsQuery};
pub use stats::{StatsAnswer, StatsBy, StatsQuery};
pub use streaks::{BreakingRule, StreaksAnswer, StreaksQuery};
pub use types::{Answer, Basis, Figures, Moment, Query, StoredFigures};

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::testing::small_district;
    use super::*;

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
