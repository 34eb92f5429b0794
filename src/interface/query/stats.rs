//! Accident statistics: one period against another (同比), grouped by category, community,
//! month or grade, with deaths per 100,000 population.
//!
//! A year not finished on the reference date is compared **year to date** (同期: both years up
//! to the same month and day) unless whole years are asked for, and the answer says so
//! (`partial`). By grade, a line `ungraded` holds the incidents of categories that are not
//! graded, so the total always counts every incident matching the filters.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::common::{known_category, known_community};
use super::error::QueryError;
use crate::projections::accident_stats::{Change, Comparison, ComparisonLine, GroupBy, PopulationRate, Totals};
use crate::projections::{AllProjections, Period};

/// How the lines of a comparison are grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsBy {
    #[default]
    Category,
    Community,
    Month,
    Grade,
}

/// `anquan stats`: a year against another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsQuery {
    /// The statistics year; default: the reference date's year.
    pub year: Option<i32>,
    /// The year compared against; default: the year before.
    pub compare: Option<i32>,
    pub community: Option<String>,
    pub category: Option<String>,
    pub by: StatsBy,
    /// `Some(true)`: both years up to the reference date's month and day; `Some(false)`: whole
    /// years; `None`: year to date when the year is not finished on the reference date.
    pub year_to_date: Option<bool>,
}

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsAnswer {
    pub current: Period,
    pub baseline: Period,
    /// Both periods were cut to the same days (同期).
    pub year_to_date: bool,
    /// The statistics year is not finished on the reference date (its figures are partial).
    pub partial: bool,
    pub comparison: Comparison,
    pub rate_per_100k: Rates,
    /// What the total line counts.
    pub total_counts: String,
}

/// Deaths and injuries per 100,000 population in both periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub current: PopulationRate,
    pub baseline: PopulationRate,
}

/// The day `day` of `month` in `year`, or the month's last day when it has fewer (29 February).
fn same_day(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    (0..4).find_map(|back| NaiveDate::from_ymd_opt(year, month, day.saturating_sub(back)))
}

pub(super) fn answer(all: &AllProjections, q: &StatsQuery, on: NaiveDate) -> Result<StatsAnswer, QueryError> {
    known_category(q.category.as_deref())?;
    known_community(all, q.community.as_deref())?;
    let year = q.year.unwrap_or(on.year());
    let baseline_year = q.compare.unwrap_or(year - 1);
    let whole =
        |y: i32| Period::year(y).ok_or_else(|| QueryError::Invalid(format!("{y} is not a year the calendar holds")));
    let (mut current, mut baseline) = (whole(year)?, whole(baseline_year)?);
    let partial = current.contains(on) && on < current.to;
    let year_to_date = q.year_to_date.unwrap_or(partial);
    if year_to_date {
        let cut_day = if current.contains(on) { on } else { current.to };
        for p in [&mut current, &mut baseline] {
            if let Some(to) = same_day(p.from.year(), cut_day.month(), cut_day.day()) {
                p.to = to;
            }
        }
    }
    let (category, community) = (q.category.as_deref(), q.community.as_deref());
    let stats = &all.accident_stats;
    let by = match q.by {
        StatsBy::Category => GroupBy::Category,
        StatsBy::Community => GroupBy::Community,
        StatsBy::Month => GroupBy::Month,
        StatsBy::Grade => GroupBy::Grade,
    };
    let mut comparison = stats.compare(current, baseline, by, category, community);
    let total_counts = if by == GroupBy::Grade {
        // The grade lines cover graded categories; the rest is one more line, so the total is
        // every incident again.
        let every = stats.compare(current, baseline, GroupBy::Category, category, community).total;
        let graded = &comparison.total;
        let rest = |a: &Totals, b: &Totals| Totals {
            incidents: a.incidents.saturating_sub(b.incidents),
            deaths: a.deaths.saturating_sub(b.deaths),
            serious_injuries: a.serious_injuries.saturating_sub(b.serious_injuries),
            minor_injuries: a.minor_injuries.saturating_sub(b.minor_injuries),
            missing: a.missing.saturating_sub(b.missing),
            direct_loss_yuan: a.direct_loss_yuan.saturating_sub(b.direct_loss_yuan),
        };
        let (b, n) = (rest(&every.baseline, &graded.baseline), rest(&every.current, &graded.current));
        if b.incidents > 0 || n.incidents > 0 {
            comparison.lines.push(line(Some("ungraded".into()), b, n));
        }
        comparison.total = every;
        "every incident: the graded ones by grade, the others as ungraded".to_string()
    } else {
        "every incident matching the filters".to_string()
    };
    let rate = |p: Period| stats.rate_per_100k(p, community, category);
    Ok(StatsAnswer {
        current,
        baseline,
        year_to_date,
        partial,
        rate_per_100k: Rates { current: rate(current), baseline: rate(baseline) },
        comparison,
        total_counts,
    })
}

fn line(key: Option<String>, baseline: Totals, current: Totals) -> ComparisonLine {
    ComparisonLine {
        key,
        incidents: Change::new(baseline.incidents, current.incidents),
        deaths: Change::new(baseline.deaths, current.deaths),
        injuries: Change::new(baseline.injuries(), current.injuries()),
        direct_loss_yuan: Change::new(baseline.direct_loss_yuan, current.direct_loss_yuan),
        current,
        baseline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_day_of_another_year_falls_back_to_the_months_last() {
        assert_eq!(same_day(2023, 2, 29), NaiveDate::from_ymd_opt(2023, 2, 28));
        assert_eq!(same_day(2024, 2, 29), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(same_day(2025, 5, 31), NaiveDate::from_ymd_opt(2025, 5, 31));
    }
}
