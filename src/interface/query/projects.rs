//! Safety promotion projects (安全促进项目) and their interventions (干预措施): planned,
//! implemented by the reference date, people reached; each project's recorded evaluations
//! (before/after), and for a project aimed at an injury category, that category's accidents in
//! its community in the year before its first intervention against the year after (up to the
//! reference date).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::common::known_community;
use super::error::QueryError;
use crate::projections::accident_stats::{Change, Totals};
use crate::projections::promotion::{BeforeAfter, PromotionProject};
use crate::projections::{AllProjections, Period};

/// `anquan projects`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectsQuery {
    pub community: Option<String>,
}

/// One intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionLine {
    pub intervention_id: String,
    pub what: String,
    pub planned_for: NaiveDate,
    /// Implemented by the reference date.
    pub implemented_on: Option<NaiveDate>,
    pub reach: u32,
}

/// The target category's accidents in the project's community, a year before and a year after
/// its first intervention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryBeforeAfter {
    pub category: String,
    pub before: Period,
    pub after: Period,
    /// The year after is not over on the reference date.
    pub after_partial: bool,
    pub incidents: Change,
    pub deaths: Change,
    pub injuries: Change,
}

/// One project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectLine {
    pub project_id: String,
    pub community_id: String,
    pub name: String,
    pub target_category: Option<String>,
    pub target_group: Option<String>,
    pub target_place: Option<String>,
    pub interventions: Vec<InterventionLine>,
    pub planned: u64,
    pub implemented: u64,
    pub people_reached: u64,
    pub evaluations: Vec<BeforeAfter>,
    pub category_before_after: Option<CategoryBeforeAfter>,
}

/// The answer to a [`ProjectsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectsAnswer {
    pub on: NaiveDate,
    pub community: Option<String>,
    pub projects: u64,
    pub interventions: u64,
    pub implemented: u64,
    pub people_reached: u64,
    pub lines: Vec<ProjectLine>,
}

pub(super) fn answer(all: &AllProjections, q: &ProjectsQuery, on: NaiveDate) -> Result<ProjectsAnswer, QueryError> {
    known_community(all, q.community.as_deref())?;
    let lines: Vec<ProjectLine> = all
        .promotion
        .projects()
        .filter(|p| q.community.as_deref().is_none_or(|c| c == p.community_id))
        .map(|p| line(all, p, on))
        .collect();
    Ok(ProjectsAnswer {
        on,
        community: q.community.clone(),
        projects: lines.len() as u64,
        interventions: lines.iter().map(|l| l.planned).sum(),
        implemented: lines.iter().map(|l| l.implemented).sum(),
        people_reached: lines.iter().map(|l| l.people_reached).sum(),
        lines,
    })
}

fn line(all: &AllProjections, p: &PromotionProject, on: NaiveDate) -> ProjectLine {
    let interventions: Vec<InterventionLine> = p
        .interventions
        .iter()
        .map(|(id, i)| InterventionLine {
            intervention_id: id.clone(),
            what: i.what.clone(),
            planned_for: i.planned_for,
            implemented_on: i.implemented_on.filter(|d| *d <= on),
            reach: i.reach,
        })
        .collect();
    let done: Vec<&InterventionLine> = interventions.iter().filter(|i| i.implemented_on.is_some()).collect();
    let first = done.iter().filter_map(|i| i.implemented_on).min();
    let category_before_after = p.target_category.as_ref().zip(first).and_then(|(category, first)| {
        let before = Period { from: first.checked_sub_signed(chrono::Duration::days(365))?, to: first.pred_opt()? };
        let year_after = Period { from: first, to: first.checked_add_signed(chrono::Duration::days(364))? };
        let after = Period { to: year_after.to.min(on), ..year_after };
        let sum = |period: Period| -> Totals {
            let filter = crate::projections::accident_stats::StatsFilter::new(period)
                .category(category)
                .community(&p.community_id);
            all.accident_stats.totals(&filter)
        };
        let (b, a) = (sum(before), sum(after));
        Some(CategoryBeforeAfter {
            category: category.clone(),
            before,
            after,
            after_partial: after.to < year_after.to,
            incidents: Change::new(b.incidents, a.incidents),
            deaths: Change::new(b.deaths, a.deaths),
            injuries: Change::new(b.injuries(), a.injuries()),
        })
    });
    ProjectLine {
        project_id: p.project_id.clone(),
        community_id: p.community_id.clone(),
        name: p.name.clone(),
        target_category: p.target_category.clone(),
        target_group: p.target_group.clone(),
        target_place: p.target_place.clone(),
        planned: interventions.len() as u64,
        implemented: done.len() as u64,
        people_reached: done.iter().map(|i| u64::from(i.reach)).sum(),
        evaluations: all.promotion.before_after(&p.project_id).into_iter().filter(|e| e.evaluated_on <= on).collect(),
        interventions,
        category_before_after,
    }
}
