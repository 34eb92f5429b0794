//! Accountability trails (四不放过): per incident, the four conditions with the events that
//! evidence them (who, when, which position), what is still missing and for how long; the
//! investigation clock (60 days, one extension, appraisal pauses excluded); post-closure
//! evaluations due (1 year after sign-off); late reports and late casualty revisions; escalations
//! (逐级上报, 2 hours per level) late or missing; sign-offs (批复, 15 or 30 days) late or missing.
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
//!
//! Indexes (derived, kept by `apply`, not stored in snapshots — a snapshot holds the trails
//! alone and the indexes are recomputed from them when one loads, and at the end of a bulk
//! fold, see [`Projection::begin_bulk`]):
//! - *settling*: every incident with the instant it stops being listed by
//!   [`AccountabilityTrails::missing_conditions`] — the earlier of its sign-off and the moment
//!   the last of the four got its first evidence (`MAX_UTC` while neither happened) — grouped by
//!   the UTC month of `reported_at`. Listed at `at` implies settled after `at` and reported
//!   before `at` + 1 day, so the query reads, in each month up to that of `at` + 1 day, only the
//!   incidents settled after `at`: the open ones for today, the then-open ones for a past `at`.
//! - *investigations*: every incident with an investigation, with the earlier of its sign-off
//!   and its report's submission (`MAX_UTC` while neither), grouped by the UTC month of the
//!   deadline in force. Past its deadline at `at` implies the deadline is before `at` (an
//!   appraisal under way only moves the due time later) and neither happened by `at`.
//! - *awaiting evaluation*: closed incidents with no post-closure evaluation recorded, by id,
//!   with their due date (the query then reads no trail).
//! - *late*: ids of incidents reported late or with a late casualty revision.
//! - *escalating*: every incident whose grade calls for escalation (逐级上报), with the earlier of
//!   its sign-off and the moment its report reached the level the grade calls for (`MAX_UTC`
//!   while neither), grouped by the UTC month of `reported_at`; and *late escalations*, ids of
//!   incidents with an escalation recorded late. An escalation missing at `at` implies reported
//!   by `at` and not settled by `at`.
//! - *sign-offs*: every incident whose report carries a sign-off due time (批复), with its
//!   sign-off (`MAX_UTC` while none), grouped by the UTC month of the due time; and *signed off
//!   late*, ids signed off after it. A sign-off missing and due at `at` implies the due time is
//!   before `at` and the sign-off after it.
//! - *outside*: ids of incidents closed in another system (外部结案). Such an incident counts as
//!   closed from the start of the CST day it was closed there (from its report when that day is
//!   unknown): it leaves the open, missing-four, investigation, escalation and sign-off lists.
//!
//! Cost: for today's `at`, the still-open incidents and pending investigations; for a past
//! `at`, those open then, plus at most the incidents reported (or investigations due) in the
//! month of `at`, which the full check then drops.
//!
//! Each index is a superset filter: the queries still apply their full definition to the
//! candidates it yields, so an answer equals the scan's for any `at`, past or future (tested
//! against the scans with random histories). Invariant: each index equals what
//! `TrailKeys::of` derives from the trails (checked by the same test via a snapshot round
//! trip). No query here touches every incident; `incidents()` is the listing iterator.

//!
//! Files: `trail.rs` one incident's trail; `state.rs` the state and the fold; `index.rs` the derived index; `queries.rs` the
//! queries and their result types.

mod index;
mod queries;
mod state;
#[cfg(test)]
mod tests;
mod trail;

pub use queries::{ConditionStatus, EvaluationDue, FourStatus, LateEscalation, OverdueInvestigation, OverdueSignOff};
pub use state::AccountabilityTrails;
pub use trail::{EscalationStep, Evidence, IncidentTrail, InvestigationTrail, OutsideClosure};
