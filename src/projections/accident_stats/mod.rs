//! Accident statistics (事故统计): counts, casualties and loss by category × community × period
//! and by grade; year-on-year change (同比); rates per 100k population; control-indicator
//! consumption beside the elapsed share of the year (控制指标 vs 时序进度); fatality-free streaks.
//!
//! The state keeps one fact row per incident (its figures as last reported or revised, 补报) and
//! per community its population figures and control indicators; every query aggregates the rows
//! it needs, so a casualty revision moves the figures of the period the accident belongs to.
//!
//! Definitions and invariants:
//! - An incident belongs to the CST calendar date of its `occurred_at`; periods are CST dates.
//! - Deaths are the reported/revised deaths; missing persons (下落不明) are counted apart.
//!   Injuries = serious (incl. acute industrial poisoning) + minor.
//! - Population in force for a period: the community's latest figure whose `as_of` date is on or
//!   before the period's last day (a later `population_revised` with the same date replaces an
//!   earlier one). A rate for several communities uses those with a population in force, and
//!   only their incidents.
//! - Control indicator: the latest one set for the community and year. Consumption = deaths of
//!   the year up to the as-of date ÷ indicator; elapsed share = day of year ÷ days in the year.
//! - Fatality-free streak: days from the CST date of the last matching accident (or, when there
//!   was none, the community's registration date) to the as-of date; whole years by calendar.
//! - State is ordered (`BTreeMap`), so a rebuild is byte-identical to the live state.
//!
//! Running totals (增量汇总): `apply` also keeps, per cell (community or all) × (category or
//! all), the incident figures summed by year, by month and by day (`Buckets`); a revision
//! takes the old casualties out and puts the new ones in. A period is read as its leading days,
//! leading months, whole years, trailing months and trailing days, so `totals`, `by_month`,
//! `year_on_year`, `breakdown`, `rate_per_100k` and `indicator_consumption` read a handful of
//! buckets instead of every incident. Invariant: every bucket equals the sum of the facts it
//! covers (tested against a scan), and a bucket (or cell) that covers no incident is removed,
//! so the live state equals one recomputed from the facts. A bulk fold (a rebuild, see
//! [`Projection::begin_bulk`]) and a snapshot load recompute the cells from the facts once: each
//! incident's figures go into the day figures of its finest cell (community, category), the
//! coarser cells' days are summed from those, and the month and year buckets from the days.
//!
//! Grade cells: the same `Buckets`, per (community or all) × (category or all) × Decree 493
//! grade, over the graded incidents only; `incident.graded` moves an incident from its old
//! grade's cells to the new one's, a casualty revision of a graded incident takes its old
//! figures out of its grade cells and puts the new ones in. Invariant: each grade cell equals
//! the sum of the facts with that grade (tested against a scan with random histories).
//!
//! What reads which index:
//! - `by_grade` and `compare(.., GroupBy::Grade, ..)` sum the grade cells over the period(s);
//! - `compare(.., GroupBy::Month, ..)` walks the cell's month buckets the period covers (whole
//!   months) and the day buckets of a partial first or last month: work is bounded by the months
//!   that hold incidents, so even an unbounded period needs no scan;
//! - `by_day` reads the cell's day buckets of the period;
//! - `streak` finds the last day on or before `as_of` with a death (or, by grade, with an
//!   incident in a grade cell at or above the rule's grade) by walking the cell's buckets
//!   backwards coarse to fine: the days of the as-of month, then months of the as-of year, then
//!   years, descending into the first one that holds a match; `streak_share` does so per
//!   community; `economic_rates` reads the grade cells for work deaths.
//!
//! No query above touches every incident; `incidents()` is the listing iterator.
//! Neither the buckets nor the grade cells are stored in snapshots (which hold the facts and the
//! denominators); both are recomputed from the facts when a snapshot is loaded.

//!
//! Files: `facts.rs` the rows kept per incident and community; `state.rs` the state, what a
//! snapshot stores, and the fold; `index.rs` the derived cells and buckets; `queries.rs` the
//! queries and their result types; `streaks.rs` the fatality-free streaks.

mod facts;
mod index;
mod queries;
mod state;
mod streaks;
#[cfg(test)]
mod tests;

pub use facts::{grade_code, CommunityFacts, ControlIndicator, IncidentFacts, PopulationFigure, Totals};
pub use queries::{
    BreakdownRow, Change, Comparison, ComparisonLine, GradeRow, GroupBy, IndicatorConsumption, IndicatorLine,
    PopulationRate, StatsFilter, YearOnYear, YearOnYearLine,
};
pub use state::AccidentStats;
pub use streaks::{Streak, StreakRule, StreakShare};
