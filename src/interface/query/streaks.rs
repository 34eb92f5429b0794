//! Fatality-free and serious-accident-free streaks (安全生产无死亡事故 N 年): per community, for
//! a category or all, under a rule (any death, or any accident of a grade or above), ending on
//! the reference date; the share of communities with at least N whole years; the longest
//! streaks and the communities short of N years, with their last accident.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::common::{known_category, known_community};
use super::error::QueryError;
use crate::events::incident::IncidentGrade;
use crate::projections::accident_stats::{Streak, StreakRule, StreakShare};
use crate::projections::AllProjections;

/// Which accidents break a streak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakingRule {
    /// Any accident with a death (无死亡事故).
    #[default]
    Fatal,
    /// Any accident of grade 较大 or above (无较大及以上事故).
    RelativelySeriousOrAbove,
    /// Any accident of grade 重大 or above.
    SeriousOrAbove,
}

impl BreakingRule {
    pub fn rule(self) -> StreakRule {
        match self {
            BreakingRule::Fatal => StreakRule::Fatal,
            BreakingRule::RelativelySeriousOrAbove => StreakRule::GradeAtLeast(IncidentGrade::RelativelySerious),
            BreakingRule::SeriousOrAbove => StreakRule::GradeAtLeast(IncidentGrade::Serious),
        }
    }
}

/// `anquan streaks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreaksQuery {
    /// One community, or every registered one.
    pub community: Option<String>,
    pub category: Option<String>,
    pub rule: BreakingRule,
    /// The whole years a streak must reach to count in the share.
    pub years: u32,
}

impl Default for StreaksQuery {
    fn default() -> Self {
        Self { community: None, category: None, rule: BreakingRule::Fatal, years: 3 }
    }
}

/// The answer to a [`StreaksQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreaksAnswer {
    pub on: NaiveDate,
    pub rule: BreakingRule,
    pub category: Option<String>,
    pub years: u32,
    /// Communities with at least `years` whole years, of all registered (all communities, also
    /// when one is asked for).
    pub share: StreakShare,
    /// The whole district's streak.
    pub district: Option<Streak>,
    /// Each community's streak (the one asked for, or all), longest first.
    pub communities: Vec<Streak>,
    /// Of those, the ones short of `years` whole years (their streak was broken, or is young).
    pub short: Vec<String>,
}

pub(super) fn answer(all: &AllProjections, q: &StreaksQuery, on: NaiveDate) -> Result<StreaksAnswer, QueryError> {
    known_category(q.category.as_deref())?;
    known_community(all, q.community.as_deref())?;
    let stats = &all.accident_stats;
    let (category, rule) = (q.category.as_deref(), q.rule.rule());
    let mut communities: Vec<Streak> = stats
        .communities()
        .filter(|c| q.community.as_deref().is_none_or(|x| x == c.community_id))
        .filter_map(|c| stats.streak(Some(&c.community_id), category, rule, on))
        .collect();
    communities.sort_by(|a, b| b.days.cmp(&a.days).then_with(|| a.community.cmp(&b.community)));
    let short = communities.iter().filter(|s| s.whole_years < q.years).filter_map(|s| s.community.clone()).collect();
    Ok(StreaksAnswer {
        on,
        rule: q.rule,
        category: q.category.clone(),
        years: q.years,
        share: stats.streak_share(category, rule, q.years, on),
        district: stats.streak(None, category, rule, on),
        communities,
        short,
    })
}
