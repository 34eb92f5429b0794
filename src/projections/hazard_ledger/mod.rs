//! The hazard ledger (隐患台账): every hazard with its grade, place, deadline and closure, and the
//! figures a safety bureau reports from it.
//!
//! Queries:
//! - [`HazardLedger::open_hazards`]: open hazards (reported, not closed/销号) by grade, community,
//!   category and enterprise;
//! - [`HazardLedger::overdue`]: hazards overdue (逾期) at an instant;
//! - [`HazardLedger::listed_for_supervision`]: hazards listed for supervision (挂牌督办);
//! - [`HazardLedger::overdue_checks`]: the bureau's on-site checks of applications to close a
//!   listed or suspended major hazard, made late or due and missing (SAWS Order 16 art. 18; due
//!   by the end of the CST day `check_due`, a check made later than that day is late);
//! - [`HazardLedger::rates`]: rectification rate (整改率 = closed ÷ found) and on-time rate
//!   (按期整改率 = closed within the deadline ÷ those whose deadline has passed) for a period, in
//!   three series: all hazards, major hazards (重大事故隐患) and listed hazards;
//! - [`HazardLedger::five_in_place`]: completeness of the five in place (五到位) of the orders;
//! - [`HazardLedger::repeat_penalties`]: enterprises penalised for a major hazard 3 times within
//!   180 days or 4 times within a year (Work Safety Law 2021 art. 113: to be closed).
//!
//! Invariants and definitions:
//! - All dates are China Standard Time calendar dates of the instants the events carry (the
//!   command's issued time for decisions, `found_at` for discovery): never the reader's clock.
//! - A hazard is *found in* a period when its `found_at` date lies in it; it counts as rectified
//!   for the period when it was closed on or before the period's last day.
//! - The deadline used is the one in force (after approved extensions, 延期): a hazard closed by
//!   its extended deadline is on time. A hazard's deadline has *passed* for a period when it
//!   falls on or before the period's last day; it counts for the period its deadline falls in.
//! - Overdue at `at`: has a deadline, the deadline's CST day has ended by `at`, and it was not
//!   closed by `at` (a hazard closed later was still overdue then).
//! - Five in place: an item is missing when its text is blank or the funds are zero (the rule
//!   the domain applies to major hazards); a general hazard's order may lack items.
//! - A penalty counts for art. 113 when it is an enforcement action naming a hazard that the
//!   ledger knows as major at query time; windows end on the as-of date, inclusive.
//! - State is `BTreeMap`-ordered; nothing depends on the order events of different streams
//!   interleave except through their positions.
//!
//! Running totals (增量汇总): besides the entries, the state keeps a `LedgerIndex` that `apply`
//! maintains: before an event changes a hazard the hazard's contribution is taken out of every
//! total, after it the new contribution is put in. Invariant: the index always equals what a
//! scan of the entries would give (tested against such a scan); a map entry whose count drops
//! to 0 is removed, so an empty bucket never shows in a query. Queries therefore read a handful
//! of map entries: `open_hazards` copies the open counters, `rates` walks the found-day and
//! deadline-day buckets of the period, `overdue(at)` walks open hazards in deadline order up to
//! `at` plus the hazards closed after `at`, `listed_for_supervision` the listed set.
//! `five_in_place` reads the counts of ordered hazards (all, major) and the set of incomplete
//! orders (by id, with the major flag). Invariant: the counts and the set equal a scan of the
//! entries with a rectification order.
//!
//! Penalty index: penalties naming a hazard, by hazard id, and the penalties whose hazard the
//! ledger currently knows as major, counted by decision day and enterprise. A penalty enters
//! the day counts when it arrives naming a major hazard, or when its hazard is graded major
//! later (and leaves when a regrading makes it general), so `repeat_penalties(as_of)` reads
//! only the days of the year before `as_of`. Invariant: the day counts equal a scan of the
//! penalties against the entries' current major flags. Like the totals, both indexes are
//! recomputed when a snapshot loads (tested against the scans with random histories), and at
//! the end of a bulk fold (a rebuild, see [`Projection::begin_bulk`]), which folds the entries
//! only.
//!
//! Files: `entry.rs` one hazard and one penalty as kept; `state.rs` the state and the fold; `index.rs` the derived indexes;
//! `queries.rs` the queries and their result types.

mod entry;
mod index;
mod queries;
mod state;
#[cfg(test)]
mod tests;

pub use entry::{ClosureCheck, HazardEntry, Listing, Penalty, NO_ENTERPRISE, UNGRADED};
pub use index::OpenHazards;
pub use queries::{
    FiveInPlace, HazardFlow, ListedHazard, OverdueCheck, OverdueHazard, RectificationRate, RectificationRates,
    RepeatPenalties,
};
pub use state::HazardLedger;
