//! The ledger's queries and their result types: open hazards, overdue ones, the listed set,
//! found and closed counts, rectification and on-time rates, 五到位 completeness and art. 113
//! repeat penalties; each reads the indexes, not every entry.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::entry::{HazardEntry, Listing, SERIES};
use super::index::OpenHazards;
use super::state::HazardLedger;
use crate::events::time::{cst_date, end_of_cst_day, plus_years};
use crate::projections::{percent, Period};

pub(super) fn overdue_line(h: &HazardEntry, at: DateTime<Utc>) -> Option<OverdueHazard> {
    if !h.is_overdue(at) {
        return None;
    }
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
    pub(super) fn finish(mut self) -> Self {
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

/// Hazards found and hazards closed (销号) in one period: the flow through the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardFlow {
    /// Hazards whose CST found day lies in the period (排查发现).
    pub found: u64,
    /// Hazards whose CST closing day lies in the period, whenever they were found (销号).
    pub closed: u64,
}

/// A bureau on-site check (现场审查) of an application to close a listed or suspended major
/// hazard, made after its due day or due and missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueCheck {
    pub hazard_id: String,
    pub community_id: String,
    pub applied_at: DateTime<Utc>,
    pub check_due: NaiveDate,
    /// When the check was made; `None`: not by the query's instant.
    pub checked_at: Option<DateTime<Utc>>,
    /// CST days after the due day (to the check, or to the query's instant).
    pub days_overdue: i64,
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

    /// Open hazards (not closed/销号) by grade, community, category and enterprise (a copy of
    /// the running counters).
    pub fn open_hazards(&self) -> OpenHazards {
        self.index.open.clone()
    }

    /// Hazards overdue (逾期) at `at`, by hazard id. Touches the open hazards whose deadline
    /// ended by `at` and the hazards closed after `at` (those may have been overdue then).
    pub fn overdue(&self, at: DateTime<Utc>) -> Vec<OverdueHazard> {
        let mut out = Vec::new();
        for (deadline, id) in &self.index.open_by_deadline {
            if end_of_cst_day(*deadline).is_none_or(|end| end > at) {
                break;
            }
            out.extend(self.hazards.get(id).and_then(|h| overdue_line(h, at)));
        }
        for (_, id) in self.index.closed_by_time.range((at, String::new())..).filter(|(c, _)| *c > at) {
            out.extend(self.hazards.get(id).and_then(|h| overdue_line(h, at)));
        }
        out.sort_by(|a, b| a.hazard_id.cmp(&b.hazard_id));
        out
    }

    /// On-site checks late at `at`, by hazard id then application: made by then after the due
    /// CST day ended, or not made by then with the due day ended. Reads the applied set.
    pub fn overdue_checks(&self, at: DateTime<Utc>) -> Vec<OverdueCheck> {
        self.index.applied.iter().filter_map(|id| self.hazards.get(id)).flat_map(|h| overdue_checks_of(h, at)).collect()
    }

    /// Hazards listed for supervision (挂牌督办); `open_only` leaves out closed ones.
    pub fn listed_for_supervision(&self, open_only: bool) -> Vec<ListedHazard> {
        self.index
            .listed
            .iter()
            .filter_map(|id| self.hazards.get(id))
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

    /// Hazards found and hazards closed in a period (CST days). Unlike [`Self::rates`], a
    /// closure counts in the period it happened in, not in the period of its discovery.
    /// Reads the found-day buckets and the closed-by-time set of the period.
    pub fn found_and_closed(&self, period: Period) -> HazardFlow {
        let mut flow = HazardFlow::default();
        if period.from > period.to {
            return flow;
        }
        for by_close in self.index.found.range(period.from..=period.to).map(|(_, m)| m) {
            flow.found += by_close.values().map(|counts| counts[0]).sum::<u64>();
        }
        // The period's instants: from the end of the day before `from` to the end of `to`.
        let start = period.from.pred_opt().and_then(end_of_cst_day).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let end = end_of_cst_day(period.to).unwrap_or(DateTime::<Utc>::MAX_UTC);
        flow.closed =
            self.index.closed_by_time.range((start, String::new())..).take_while(|(c, _)| *c < end).count() as u64;
        flow
    }

    /// 整改率 and 按期整改率 for a period, for all, major and listed hazards (reads the period's
    /// found-day and deadline-day buckets).
    pub fn rates(&self, period: Period) -> RectificationRates {
        let mut s: [RectificationRate; SERIES] = Default::default();
        if period.from <= period.to {
            for by_close in self.index.found.range(period.from..=period.to).map(|(_, m)| m) {
                for (close, counts) in by_close {
                    let rectified = close.is_some_and(|d| d <= period.to);
                    for (r, n) in s.iter_mut().zip(counts) {
                        r.found += n;
                        if rectified {
                            r.rectified += n;
                        }
                    }
                }
            }
            for counts in self.index.due.range(period.from..=period.to).map(|(_, c)| c) {
                for (i, r) in s.iter_mut().enumerate() {
                    r.due += counts.get(i).copied().unwrap_or(0);
                    r.on_time += counts.get(SERIES + i).copied().unwrap_or(0);
                }
            }
        }
        let [all, major, listed] = s;
        RectificationRates { period, all: all.finish(), major: major.finish(), listed: listed.finish() }
    }
}

impl HazardLedger {
    /// 五到位 completeness over hazards with a rectification order (major ones only if asked).
    /// Reads the ordered counts and the incomplete orders.
    pub fn five_in_place(&self, major_only: bool) -> FiveInPlace {
        let ordered = self.index.ordered[usize::from(major_only)];
        let incomplete: Vec<(String, Vec<String>)> = self
            .index
            .incomplete
            .iter()
            .filter(|(_, major)| **major || !major_only)
            .filter_map(|(id, _)| self.hazards.get(id).map(|h| (id.clone(), h.five_in_place_missing.clone())))
            .collect();
        let complete = ordered.saturating_sub(incomplete.len() as u64);
        FiveInPlace { ordered, complete, completeness_pct: percent(complete, ordered), incomplete }
    }

    /// Enterprises with 3 penalties for major hazards within 180 days or 4 within a year,
    /// windows ending on `as_of` (inclusive); by enterprise id. Reads the major penalties of
    /// the days in the year before `as_of`.
    pub fn repeat_penalties(&self, as_of: NaiveDate) -> Vec<RepeatPenalties> {
        // A year ending on `as_of` starts after `as_of` − 367 days, whatever the leap days.
        let from = as_of.checked_sub_days(chrono::Days::new(367)).unwrap_or(NaiveDate::MIN);
        let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (day, by_enterprise) in self.penalty_index.major_by_day.range(from..=as_of) {
            let in_180 = (as_of - *day).num_days() < 180;
            let in_year = plus_years(*day, 1).is_some_and(|end| end > as_of);
            for (enterprise_id, n) in by_enterprise {
                let c = counts.entry(enterprise_id).or_default();
                c.0 += if in_180 { *n } else { 0 };
                c.1 += if in_year { *n } else { 0 };
            }
        }
        counts
            .into_iter()
            .filter(|(_, (in_180_days, in_one_year))| *in_180_days >= 3 || *in_one_year >= 4)
            .map(|(enterprise_id, (in_180_days, in_one_year))| RepeatPenalties {
                enterprise_id: enterprise_id.to_string(),
                in_180_days,
                in_one_year,
            })
            .collect()
    }
}

/// One hazard's late on-site checks at `at` (see [`HazardLedger::overdue_checks`]).
pub(super) fn overdue_checks_of(h: &HazardEntry, at: DateTime<Utc>) -> Vec<OverdueCheck> {
    h.closure_checks
        .iter()
        .filter(|c| c.applied_at <= at)
        .filter_map(|c| {
            let checked = c.checked_at.filter(|t| *t <= at);
            let end = checked.unwrap_or(at);
            let due_end = end_of_cst_day(c.check_due)?;
            (end >= due_end).then(|| OverdueCheck {
                hazard_id: h.hazard_id.clone(),
                community_id: h.community_id.clone(),
                applied_at: c.applied_at,
                check_due: c.check_due,
                checked_at: checked,
                days_overdue: (cst_date(end) - c.check_due).num_days(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::hazard_ledger::index::part;

    /// Found and closed count by their own CST days: a hazard found in January and closed in
    /// February is found in January and closed in February; CST day edges decide the month.
    #[test]
    fn found_and_closed_count_each_by_its_own_cst_day() {
        let mut ledger = HazardLedger::default();
        for h in [
            HazardEntry::sample("A", "2025-01-10T02:00:00Z", Some("2025-02-03T02:00:00Z")),
            // 2025-01-31T16:30Z is 02-01 00:30 CST: found in February.
            HazardEntry::sample("B", "2025-01-31T16:30:00Z", None),
            // Closed 2025-02-28T15:59Z = 23:59 CST, still February; C found in December.
            HazardEntry::sample("C", "2024-12-20T02:00:00Z", Some("2025-02-28T15:59:00Z")),
            // Closed 2025-02-28T16:00Z = 03-01 00:00 CST: March.
            HazardEntry::sample("D", "2025-02-10T02:00:00Z", Some("2025-02-28T16:00:00Z")),
        ] {
            ledger.index.account(&h, true, part::ALL);
            ledger.hazards.insert(h.hazard_id.clone(), h);
        }
        let month = |m| ledger.found_and_closed(Period::month(2025, m).unwrap());
        assert_eq!(month(1), HazardFlow { found: 1, closed: 0 });
        assert_eq!(month(2), HazardFlow { found: 2, closed: 2 });
        assert_eq!(month(3), HazardFlow { found: 0, closed: 1 });
        assert_eq!(ledger.found_and_closed(Period::year(2024).unwrap()), HazardFlow { found: 1, closed: 0 });
        let empty = Period {
            from: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
        };
        assert_eq!(ledger.found_and_closed(empty), HazardFlow::default());
    }
}
