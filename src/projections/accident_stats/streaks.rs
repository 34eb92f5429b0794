//! Fatality-free streaks (无死亡事故天数): the days since the last accident a [`StreakRule`]
//! counts, for a community or the area, and the share of communities with a streak of whole
//! years; found by walking a cell's buckets backwards, coarse to fine.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::facts::IncidentFacts;
use super::index::GRADES;
use super::state::AccidentStats;
use crate::events::incident::IncidentGrade;
use crate::events::time::plus_years;
use crate::projections::percent;

/// Which accidents break a streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreakRule {
    /// Any accident with a death (无死亡事故).
    Fatal,
    /// Any accident of this grade or above (e.g. 较大及以上).
    GradeAtLeast(IncidentGrade),
}

impl StreakRule {
    /// The scan the streak index replaces (kept for the tests that compare them).
    #[cfg(test)]
    pub(super) fn breaks(self, f: &IncidentFacts) -> bool {
        match self {
            StreakRule::Fatal => f.casualties.deaths > 0,
            StreakRule::GradeAtLeast(g) => f.grade.is_some_and(|x| x >= g),
        }
    }
}

/// A streak without a matching accident, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    pub community: Option<String>,
    pub category: Option<String>,
    pub rule: StreakRule,
    pub as_of: NaiveDate,
    /// CST date of the last matching accident on or before `as_of`.
    pub last_accident: Option<NaiveDate>,
    /// Where the streak counts from: the last accident's date, else the registration date.
    pub since: NaiveDate,
    pub days: i64,
    pub whole_years: u32,
}

/// Share of communities with a streak of at least `years` whole years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreakShare {
    pub years: u32,
    pub communities: u64,
    pub with_streak: u64,
    pub share_pct: Option<f64>,
    /// Community ids with the streak, by id.
    pub community_ids: Vec<String>,
}

pub(super) fn whole_years(since: NaiveDate, as_of: NaiveDate) -> u32 {
    let mut n = 0u32;
    while plus_years(since, n + 1).is_some_and(|d| d <= as_of) {
        n += 1;
    }
    n
}

impl AccidentStats {
    /// The streak without a matching accident for a community (or the whole area, `None`) and
    /// category (or all), as of a date. `None` when there is nothing to count from.
    pub fn streak(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        rule: StreakRule,
        as_of: NaiveDate,
    ) -> Option<Streak> {
        let last_accident = self.last_breaking_day(community, category, rule, as_of);
        let registered = self
            .communities
            .values()
            .filter(|c| community.is_none_or(|x| x == c.community_id))
            .map(|c| c.registered_on)
            .min();
        let since = last_accident.or(registered.filter(|d| *d <= as_of))?;
        Some(Streak {
            community: community.map(str::to_string),
            category: category.map(str::to_string),
            rule,
            as_of,
            last_accident,
            since,
            days: (as_of - since).num_days(),
            whole_years: whole_years(since, as_of),
        })
    }

    /// CST day of the last accident on or before `as_of` that breaks a streak under `rule`:
    /// the cell's day buckets with a death, or the grade cells at or above the rule's grade
    /// with an incident, walked backwards coarse to fine ([`Buckets::last_day`]).
    pub(super) fn last_breaking_day(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        rule: StreakRule,
        as_of: NaiveDate,
    ) -> Option<NaiveDate> {
        match rule {
            StreakRule::Fatal => self.cell(community, category)?.last_day(as_of, |t| t.deaths > 0),
            StreakRule::GradeAtLeast(min) => GRADES
                .iter()
                .filter(|g| **g >= min)
                .filter_map(|g| self.grade_cell(community, category, *g)?.last_day(as_of, |t| t.incidents > 0))
                .max(),
        }
    }

    /// Share of registered communities with a streak of at least `years` whole years
    /// (e.g. "87.5% of communities had no production fatality for three consecutive years").
    pub fn streak_share(&self, category: Option<&str>, rule: StreakRule, years: u32, as_of: NaiveDate) -> StreakShare {
        let mut communities = 0u64;
        let mut community_ids = Vec::new();
        for id in self.communities.keys() {
            communities += 1;
            if self.streak(Some(id), category, rule, as_of).is_some_and(|s| s.whole_years >= years) {
                community_ids.push(id.clone());
            }
        }
        let with_streak = community_ids.len() as u64;
        StreakShare { years, communities, with_streak, share_pct: percent(with_streak, communities), community_ids }
    }
}
