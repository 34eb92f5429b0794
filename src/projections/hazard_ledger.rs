//! The hazard ledger (隐患台账): every hazard with its grade, place, deadline and closure, and the
//! figures a safety bureau reports from it.
//!
//! Queries:
//! - [`HazardLedger::open_hazards`]: open hazards (reported, not closed/销号) by grade, community,
//!   category and enterprise;
//! - [`HazardLedger::overdue`]: hazards overdue (逾期) at an instant;
//! - [`HazardLedger::listed_for_supervision`]: hazards listed for supervision (挂牌督办);
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

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{percent, Period, Projection};
use crate::domain::enterprise::{EnforcementAction, EnterpriseEvent};
use crate::domain::hazard::{HazardEvent, RectificationOrdered, SupervisionLevel};
use crate::domain::time::{cst_date, end_of_cst_day, plus_years};
use crate::domain::DomainEvent;
use crate::store::RecordedEvent;

/// Grade key for hazards not graded yet.
pub const UNGRADED: &str = "ungraded";
/// Enterprise key for hazards not tied to an enterprise.
pub const NO_ENTERPRISE: &str = "-";

/// One hazard as the ledger keeps it (台账条目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardEntry {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    pub found_at: DateTime<Utc>,
    /// Grade code, once graded (分级).
    pub grade: Option<String>,
    /// 重大事故隐患
    pub major: bool,
    /// Deadline in force (限期), after extensions.
    pub deadline: Option<NaiveDate>,
    /// Deadline of the original order.
    pub original_deadline: Option<NaiveDate>,
    pub extensions: u32,
    /// 挂牌督办: level, by whom, when.
    pub listed: Option<Listing>,
    pub failed_verifications: u32,
    /// Codes of the five (五到位) missing from the rectification order, in canonical order.
    pub five_in_place_missing: Vec<String>,
    /// 销号: when the hazard was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A listing for supervision (挂牌督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub level: SupervisionLevel,
    pub listed_by: String,
    pub listed_at: DateTime<Utc>,
}

impl HazardEntry {
    fn closed_by(&self, at: DateTime<Utc>) -> bool {
        self.closed_at.is_some_and(|c| c <= at)
    }

    fn closed_on_or_before(&self, day: NaiveDate) -> bool {
        self.closed_at.is_some_and(|c| cst_date(c) <= day)
    }

    /// 逾期 at `at`.
    pub fn is_overdue(&self, at: DateTime<Utc>) -> bool {
        match self.deadline.and_then(end_of_cst_day) {
            Some(end) => at >= end && !self.closed_by(at),
            None => false,
        }
    }
}

/// An enforcement action (执法处罚) against an enterprise, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub action: EnforcementAction,
    pub decided_on: NaiveDate,
    pub hazard_id: Option<String>,
}

/// The hazard ledger projection (隐患台账).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardLedger {
    hazards: BTreeMap<String, HazardEntry>,
    /// Enforcement actions by enterprise, in log order.
    penalties: BTreeMap<String, Vec<Penalty>>,
}

/// Completeness of 五到位 over rectification orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiveInPlace {
    /// Hazards with a rectification order.
    pub ordered: u64,
    /// Of those, orders with all five in place.
    pub complete: u64,
    pub completeness_pct: Option<f64>,
    /// Incomplete orders: hazard id and the missing items.
    pub incomplete: Vec<(String, Vec<String>)>,
}

/// An enterprise penalised repeatedly for major hazards (art. 113).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatPenalties {
    pub enterprise_id: String,
    /// Penalties for major hazards in the 180 days ending on the as-of date.
    pub in_180_days: u64,
    /// Penalties for major hazards in the year ending on the as-of date.
    pub in_one_year: u64,
}

/// The five of 五到位 missing from an order: blank text or zero funds.
fn five_missing(o: &RectificationOrdered) -> Vec<String> {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
    let mut missing = Vec::new();
    if blank(&o.responsible) {
        missing.push("responsible".to_string());
    }
    if blank(&o.measures) {
        missing.push("measures".to_string());
    }
    if o.funds_yuan.unwrap_or(0) == 0 {
        missing.push("funds_yuan".to_string());
    }
    // The deadline is required by every order.
    if blank(&o.contingency_plan) {
        missing.push("contingency_plan".to_string());
    }
    missing
}

/// Counts of open hazards, in total and by each dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenHazards {
    pub total: u64,
    pub major: u64,
    /// By grade code ([`UNGRADED`] before grading).
    pub by_grade: BTreeMap<String, u64>,
    pub by_community: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    /// By enterprise ([`NO_ENTERPRISE`] when none).
    pub by_enterprise: BTreeMap<String, u64>,
}

/// An overdue hazard (逾期未整改).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueHazard {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub grade: Option<String>,
    pub major: bool,
    pub listed: bool,
    pub deadline: NaiveDate,
    /// Whole days since the deadline's day ended.
    pub days_overdue: i64,
}

/// A hazard listed for supervision, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedHazard {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub listing: Listing,
    pub deadline: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Rectification figures of one series for one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RectificationRate {
    /// Hazards found in the period (排查发现).
    pub found: u64,
    /// Of those, closed by the period's end (已整改销号).
    pub rectified: u64,
    /// 整改率, percent; `None` when nothing was found.
    pub rectification_rate: Option<f64>,
    /// Hazards whose deadline in force fell in the period (到期应改).
    pub due: u64,
    /// Of those, closed on or before their deadline (按期整改).
    pub on_time: u64,
    /// 按期整改率, percent; `None` when nothing fell due.
    pub on_time_rate: Option<f64>,
}

impl RectificationRate {
    fn finish(mut self) -> Self {
        self.rectification_rate = percent(self.rectified, self.found);
        self.on_time_rate = percent(self.on_time, self.due);
        self
    }
}

/// The three series of rectification figures for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RectificationRates {
    pub period: Period,
    pub all: RectificationRate,
    /// 重大事故隐患
    pub major: RectificationRate,
    /// 挂牌督办 hazards.
    pub listed: RectificationRate,
}

impl HazardLedger {
    /// One hazard's ledger entry.
    pub fn hazard(&self, hazard_id: &str) -> Option<&HazardEntry> {
        self.hazards.get(hazard_id)
    }

    /// Every hazard, by id.
    pub fn hazards(&self) -> impl Iterator<Item = &HazardEntry> {
        self.hazards.values()
    }

    /// Open hazards (not closed/销号) by grade, community, category and enterprise.
    pub fn open_hazards(&self) -> OpenHazards {
        let mut out = OpenHazards::default();
        for h in self.hazards.values().filter(|h| h.closed_at.is_none()) {
            out.total += 1;
            out.major += u64::from(h.major);
            *out.by_grade.entry(h.grade.clone().unwrap_or_else(|| UNGRADED.to_string())).or_default() += 1;
            *out.by_community.entry(h.community_id.clone()).or_default() += 1;
            *out.by_category.entry(h.category.clone()).or_default() += 1;
            *out.by_enterprise
                .entry(h.enterprise_id.clone().unwrap_or_else(|| NO_ENTERPRISE.to_string()))
                .or_default() += 1;
        }
        out
    }

    /// Hazards overdue (逾期) at `at`, by hazard id.
    pub fn overdue(&self, at: DateTime<Utc>) -> Vec<OverdueHazard> {
        self.hazards
            .values()
            .filter(|h| h.is_overdue(at))
            .filter_map(|h| {
                let deadline = h.deadline?;
                let end = end_of_cst_day(deadline)?;
                Some(OverdueHazard {
                    hazard_id: h.hazard_id.clone(),
                    community_id: h.community_id.clone(),
                    enterprise_id: h.enterprise_id.clone(),
                    grade: h.grade.clone(),
                    major: h.major,
                    listed: h.listed.is_some(),
                    deadline,
                    days_overdue: (at - end).num_days(),
                })
            })
            .collect()
    }

    /// Hazards listed for supervision (挂牌督办); `open_only` leaves out closed ones.
    pub fn listed_for_supervision(&self, open_only: bool) -> Vec<ListedHazard> {
        self.hazards
            .values()
            .filter(|h| !(open_only && h.closed_at.is_some()))
            .filter_map(|h| {
                Some(ListedHazard {
                    hazard_id: h.hazard_id.clone(),
                    community_id: h.community_id.clone(),
                    enterprise_id: h.enterprise_id.clone(),
                    listing: h.listed.clone()?,
                    deadline: h.deadline,
                    closed_at: h.closed_at,
                })
            })
            .collect()
    }

    /// 整改率 and 按期整改率 for a period, for all, major and listed hazards.
    pub fn rates(&self, period: Period) -> RectificationRates {
        let mut all = RectificationRate::default();
        let mut major = RectificationRate::default();
        let mut listed = RectificationRate::default();
        for h in self.hazards.values() {
            let mut series: Vec<&mut RectificationRate> = vec![&mut all];
            if h.major {
                series.push(&mut major);
            }
            if h.listed.is_some() {
                series.push(&mut listed);
            }
            let found = period.contains(cst_date(h.found_at));
            let rectified = found && h.closed_on_or_before(period.to);
            let due = h.deadline.filter(|d| period.contains(*d));
            let on_time = due.is_some_and(|d| h.closed_on_or_before(d));
            for s in series {
                s.found += u64::from(found);
                s.rectified += u64::from(rectified);
                s.due += u64::from(due.is_some());
                s.on_time += u64::from(on_time);
            }
        }
        RectificationRates { period, all: all.finish(), major: major.finish(), listed: listed.finish() }
    }
}

impl HazardLedger {
    /// 五到位 completeness over hazards with a rectification order (major ones only if asked).
    pub fn five_in_place(&self, major_only: bool) -> FiveInPlace {
        let mut ordered = 0u64;
        let mut incomplete = Vec::new();
        for h in self.hazards.values().filter(|h| h.original_deadline.is_some() && (h.major || !major_only)) {
            ordered += 1;
            if !h.five_in_place_missing.is_empty() {
                incomplete.push((h.hazard_id.clone(), h.five_in_place_missing.clone()));
            }
        }
        let complete = ordered - incomplete.len() as u64;
        FiveInPlace { ordered, complete, completeness_pct: percent(complete, ordered), incomplete }
    }

    /// Enterprises with 3 penalties for major hazards within 180 days or 4 within a year,
    /// windows ending on `as_of` (inclusive); by enterprise id.
    pub fn repeat_penalties(&self, as_of: NaiveDate) -> Vec<RepeatPenalties> {
        let mut out = Vec::new();
        for (enterprise_id, list) in &self.penalties {
            let mut in_180_days = 0u64;
            let mut in_one_year = 0u64;
            for p in list {
                let major = p.hazard_id.as_deref().and_then(|id| self.hazards.get(id)).is_some_and(|h| h.major);
                if !major || p.decided_on > as_of {
                    continue;
                }
                if (as_of - p.decided_on).num_days() < 180 {
                    in_180_days += 1;
                }
                if plus_years(p.decided_on, 1).is_some_and(|end| end > as_of) {
                    in_one_year += 1;
                }
            }
            if in_180_days >= 3 || in_one_year >= 4 {
                out.push(RepeatPenalties { enterprise_id: enterprise_id.clone(), in_180_days, in_one_year });
            }
        }
        out
    }
}

impl Projection for HazardLedger {
    const NAME: &'static str = "hazard_ledger";
    const VERSION: u32 = 1;

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        let e = match event {
            DomainEvent::Hazard(e) => e,
            DomainEvent::Enterprise(EnterpriseEvent::EnforcementActionTaken(a)) => {
                self.penalties.entry(a.enterprise_id.as_str().to_string()).or_default().push(Penalty {
                    action: a.action,
                    decided_on: a.decided_on,
                    hazard_id: a.hazard_id.as_ref().map(|h| h.as_str().to_string()),
                });
                return;
            }
            _ => return,
        };
        if let HazardEvent::Reported(r) = e {
            self.hazards.entry(r.hazard_id.as_str().to_string()).or_insert_with(|| HazardEntry {
                hazard_id: r.hazard_id.as_str().to_string(),
                community_id: r.community_id.as_str().to_string(),
                enterprise_id: r.enterprise_id.as_ref().map(|e| e.as_str().to_string()),
                category: r.category.clone(),
                found_at: r.found_at,
                grade: None,
                major: false,
                deadline: None,
                original_deadline: None,
                extensions: 0,
                listed: None,
                failed_verifications: 0,
                five_in_place_missing: Vec::new(),
                closed_at: None,
            });
            return;
        }
        let id = match e {
            HazardEvent::Reported(x) => &x.hazard_id,
            HazardEvent::Graded(x) => &x.hazard_id,
            HazardEvent::RectificationOrdered(x) => &x.hazard_id,
            HazardEvent::DeadlineExtended(x) => &x.hazard_id,
            HazardEvent::ListedForSupervision(x) => &x.hazard_id,
            HazardEvent::ProgressNoted(x) => &x.hazard_id,
            HazardEvent::RectificationReportedDone(x) => &x.hazard_id,
            HazardEvent::RectificationVerified(x) => &x.hazard_id,
            HazardEvent::Reopened(x) => &x.hazard_id,
            HazardEvent::Closed(x) => &x.hazard_id,
        };
        // Events of a hazard never reported cannot be decided by the domain; ignore them.
        let Some(h) = self.hazards.get_mut(id.as_str()) else {
            return;
        };
        match e {
            HazardEvent::Graded(g) => {
                h.grade = Some(g.grade.clone());
                h.major = g.major;
            }
            HazardEvent::RectificationOrdered(o) => {
                h.deadline = Some(o.deadline);
                h.original_deadline = Some(o.deadline);
                h.five_in_place_missing = five_missing(o);
            }
            HazardEvent::DeadlineExtended(x) => {
                h.deadline = Some(x.new_deadline);
                h.extensions += 1;
            }
            HazardEvent::ListedForSupervision(l) => {
                h.listed = Some(Listing { level: l.level, listed_by: l.listed_by.clone(), listed_at: l.recorded_at });
            }
            HazardEvent::RectificationVerified(v) if !v.passed => h.failed_verifications += 1,
            HazardEvent::Closed(c) => h.closed_at = Some(c.recorded_at),
            _ => {}
        }
    }
}
