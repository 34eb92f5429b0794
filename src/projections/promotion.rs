//! Safety-promotion projects (安全促进项目) and their intervention measures (干预措施), per
//! community and target category, with each project's before/after figures.
//!
//! Invariants and definitions:
//! - One row per project; interventions keyed by id within it; evaluations in log order.
//! - A project counts under its target category, or `none` when it targets only a group or a
//!   place; an intervention counts as implemented once its implementation event is in the log.
//! - State is ordered (`BTreeMap`, `Vec` in log order), so a rebuild is byte-identical.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::accident_stats::Change;
use super::{Family, Projection};
use crate::events::promotion::ProjectEvent;
use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// Category key of projects without a target category.
pub const NO_CATEGORY: &str = "none";

/// One intervention measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intervention {
    pub what: String,
    #[serde(with = "super::state_codec::date")]
    pub planned_for: NaiveDate,
    #[serde(default, with = "super::state_codec::date_opt")]
    pub implemented_on: Option<NaiveDate>,
    /// People reached.
    pub reach: u32,
}

/// One evaluation (before/after) of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub indicator: String,
    pub before: u64,
    pub after: u64,
    #[serde(with = "super::state_codec::date")]
    pub evaluated_on: NaiveDate,
    pub conclusion: String,
}

/// One promotion project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionProject {
    pub project_id: String,
    pub community_id: String,
    pub name: String,
    pub target_category: Option<String>,
    pub target_group: Option<String>,
    pub target_place: Option<String>,
    pub interventions: BTreeMap<String, Intervention>,
    pub evaluations: Vec<Evaluation>,
}

/// Projects and interventions of one community and category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionLine {
    pub community_id: String,
    pub category: String,
    pub projects: u64,
    pub interventions_planned: u64,
    pub interventions_implemented: u64,
    pub people_reached: u64,
}

/// A before/after figure of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    pub indicator: String,
    pub evaluated_on: NaiveDate,
    pub change: Change,
}

/// The promotion projects projection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionProjects {
    projects: BTreeMap<String, PromotionProject>,
}

impl PromotionProjects {
    pub fn project(&self, project_id: &str) -> Option<&PromotionProject> {
        self.projects.get(project_id)
    }

    /// Every project, by project id.
    pub fn projects(&self) -> impl Iterator<Item = &PromotionProject> {
        self.projects.values()
    }

    /// Lines by community then category, optionally for one community.
    pub fn summary(&self, community: Option<&str>) -> Vec<PromotionLine> {
        let mut lines: BTreeMap<(String, String), PromotionLine> = BTreeMap::new();
        for p in self.projects.values().filter(|p| community.is_none_or(|c| c == p.community_id)) {
            let category = p.target_category.clone().unwrap_or_else(|| NO_CATEGORY.to_string());
            let line = lines.entry((p.community_id.clone(), category.clone())).or_insert_with(|| PromotionLine {
                community_id: p.community_id.clone(),
                category,
                ..PromotionLine::default()
            });
            line.projects += 1;
            line.interventions_planned += p.interventions.len() as u64;
            for i in p.interventions.values().filter(|i| i.implemented_on.is_some()) {
                line.interventions_implemented += 1;
                line.people_reached += u64::from(i.reach);
            }
        }
        lines.into_values().collect()
    }

    /// Before/after figures of a project, in the order they were recorded.
    pub fn before_after(&self, project_id: &str) -> Vec<BeforeAfter> {
        self.projects
            .get(project_id)
            .map(|p| {
                p.evaluations
                    .iter()
                    .map(|e| BeforeAfter {
                        indicator: e.indicator.clone(),
                        evaluated_on: e.evaluated_on,
                        change: Change::new(e.before, e.after),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every event of the family this read model folds.
const PROJECT: Family = Family::of(ProjectEvent::TYPES);

impl Projection for PromotionProjects {
    const NAME: &'static str = "promotion_projects";
    /// 2: dates as integers (`state_codec`).
    const VERSION: u32 = 2;

    fn wants(event_type: &str) -> bool {
        PROJECT.contains(event_type)
    }

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        let DomainEvent::Project(e) = event else {
            return;
        };
        match e {
            ProjectEvent::Planned(p) => {
                let id = p.project_id.as_str().to_string();
                self.projects.entry(id.clone()).or_insert_with(|| PromotionProject {
                    project_id: id,
                    community_id: p.community_id.as_str().to_string(),
                    name: p.name.clone(),
                    target_category: p.target_category.clone(),
                    target_group: p.target_group.clone(),
                    target_place: p.target_place.clone(),
                    interventions: BTreeMap::new(),
                    evaluations: Vec::new(),
                });
            }
            ProjectEvent::InterventionPlanned(i) => {
                if let Some(p) = self.projects.get_mut(i.project_id.as_str()) {
                    p.interventions.entry(i.intervention_id.as_str().to_string()).or_insert_with(|| Intervention {
                        what: i.what.clone(),
                        planned_for: i.planned_for,
                        implemented_on: None,
                        reach: 0,
                    });
                }
            }
            ProjectEvent::InterventionImplemented(i) => {
                if let Some(x) = self
                    .projects
                    .get_mut(i.project_id.as_str())
                    .and_then(|p| p.interventions.get_mut(i.intervention_id.as_str()))
                {
                    x.implemented_on = Some(i.implemented_on);
                    x.reach = i.reach;
                }
            }
            ProjectEvent::Evaluated(v) => {
                if let Some(p) = self.projects.get_mut(v.project_id.as_str()) {
                    p.evaluations.push(Evaluation {
                        indicator: v.indicator.clone(),
                        before: v.before,
                        after: v.after,
                        evaluated_on: v.evaluated_on,
                        conclusion: v.conclusion.clone(),
                    });
                }
            }
        }
    }
}
