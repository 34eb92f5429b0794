//! The hazard ledger (隐患台账) on the reference date: hazards open that day by grade, category
//! and community, those overdue that day (most overdue first), those listed for supervision
//! (挂牌督办) and still open, and the year's rectification and on-time rates up to that day —
//! for the whole district or one community.
//!
//! "Open on a day" is found by that day's end and not closed by it, so a reference date in the
//! past shows the ledger as it stood then (by the facts' own dates), whatever was recorded
//! since.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::common::known_community;
use super::error::QueryError;
use crate::events::time::{cst_date, end_of_cst_day};
use crate::projections::hazard_ledger::{
    HazardEntry, ListedHazard, OverdueCheck, OverdueHazard, RectificationRate, RectificationRates,
};
use crate::projections::{percent, AllProjections, Period};

/// `anquan hazards`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardsQuery {
    pub community: Option<String>,
}

/// Hazards open on the reference date, counted by dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOnDay {
    pub total: u64,
    pub major: u64,
    /// By grade code (`ungraded` before grading).
    pub by_grade: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_community: BTreeMap<String, u64>,
}

/// The answer to a [`HazardsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardsAnswer {
    pub on: NaiveDate,
    pub community: Option<String>,
    pub open: OpenOnDay,
    /// Overdue at the end of the reference date, most days overdue first.
    pub overdue: Vec<OverdueHazard>,
    /// Listed for supervision by then and not closed by then.
    pub listed_open: Vec<ListedHazard>,
    /// Found from 1 January of the reference year up to the reference date.
    pub rates: RectificationRates,
    /// The bureau's on-site checks of applications to close a listed or suspended major hazard
    /// (10 days, SAWS Order 16 art. 18) made late by the reference date, or due and missing on
    /// it; by hazard.
    pub overdue_checks: Vec<OverdueCheck>,
}

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    end_of_cst_day(day).map(|t| t - chrono::Duration::microseconds(1)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn answer(all: &AllProjections, q: &HazardsQuery, on: NaiveDate) -> Result<HazardsAnswer, QueryError> {
    known_community(all, q.community.as_deref())?;
    let ledger = &all.hazard_ledger;
    let at = end_of(on);
    let in_scope = |h: &HazardEntry| q.community.as_deref().is_none_or(|c| c == h.community_id);
    let open_at = |h: &HazardEntry| h.found_at <= at && h.closed_at.is_none_or(|c| c > at);

    let mut open = OpenOnDay::default();
    let mut listed_open = Vec::new();
    for h in ledger.hazards().filter(|h| in_scope(h) && open_at(h)) {
        open.total += 1;
        open.major += u64::from(h.major);
        *open.by_grade.entry(h.grade.clone().unwrap_or_else(|| "ungraded".into())).or_default() += 1;
        *open.by_category.entry(h.category.clone()).or_default() += 1;
        *open.by_community.entry(h.community_id.clone()).or_default() += 1;
        if let Some(listing) = h.listed.as_ref().filter(|l| l.listed_at <= at) {
            listed_open.push(ListedHazard {
                hazard_id: h.hazard_id.clone(),
                community_id: h.community_id.clone(),
                enterprise_id: h.enterprise_id.clone(),
                listing: listing.clone(),
                deadline: h.deadline,
                closed_at: None,
            });
        }
    }
    let mut overdue: Vec<OverdueHazard> =
        ledger.overdue(at).into_iter().filter(|o| q.community.as_deref().is_none_or(|c| c == o.community_id)).collect();
    overdue.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then_with(|| a.hazard_id.cmp(&b.hazard_id)));

    let year = Period::year(on.year())
        .ok_or_else(|| QueryError::Invalid(format!("{} is not a year the calendar holds", on.year())))?;
    let so_far = Period { to: on.min(year.to), ..year };
    let rates = match q.community.as_deref() {
        None => ledger.rates(so_far),
        Some(_) => rates_of(ledger.hazards().filter(|h| in_scope(h)), so_far),
    };
    let overdue_checks = ledger
        .overdue_checks(at)
        .into_iter()
        .filter(|c| q.community.as_deref().is_none_or(|x| x == c.community_id))
        .collect();
    Ok(HazardsAnswer { on, community: q.community.clone(), open, overdue, listed_open, rates, overdue_checks })
}

/// 整改率 and 按期整改率 of some hazards for a period, counted one by one, with the ledger's own
/// rules (found in the period and closed by its end; deadline in the period and closed on or
/// before it).
fn rates_of<'h>(hazards: impl Iterator<Item = &'h HazardEntry>, period: Period) -> RectificationRates {
    let mut s: [RectificationRate; 3] = Default::default();
    for h in hazards {
        let series = [true, h.major, h.listed.is_some()];
        let found = period.contains(cst_date(h.found_at));
        let rectified = h.closed_at.is_some_and(|c| cst_date(c) <= period.to);
        let due = h.deadline.filter(|d| period.contains(*d));
        let on_time = due.is_some_and(|d| h.closed_at.is_some_and(|c| cst_date(c) <= d));
        for (r, counts) in s.iter_mut().zip(series) {
            if !counts {
                continue;
            }
            r.found += u64::from(found);
            r.rectified += u64::from(found && rectified);
            r.due += u64::from(due.is_some());
            r.on_time += u64::from(on_time);
        }
    }
    let finish = |mut r: RectificationRate| {
        r.rectification_rate = percent(r.rectified, r.found);
        r.on_time_rate = percent(r.on_time, r.due);
        r
    };
    let [all, major, listed] = s;
    RectificationRates { period, all: finish(all), major: finish(major), listed: finish(listed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counted one by one over every hazard, the rates equal the ledger's own index.
    #[test]
    fn rates_counted_one_by_one_equal_the_ledgers() {
        let all = super::super::testing::small_district();
        for (year, month, day) in [(2025, 12, 31), (2026, 6, 30), (2026, 11, 30)] {
            let to = NaiveDate::from_ymd_opt(year, month, day).unwrap();
            let period = Period { from: NaiveDate::from_ymd_opt(year, 1, 1).unwrap(), to };
            assert_eq!(rates_of(all.hazard_ledger.hazards(), period), all.hazard_ledger.rates(period), "{period:?}");
        }
    }
}
