//! Safety-promotion projects (安全促进项目): planned for a community against a target (an injury
//! category, a high-risk group or a place), with intervention measures (干预措施) planned,
//! implemented (what, when, reach) and the project evaluated with before/after figures.
//!
//! Invariants enforced by `decide`:
//! - A project names at least one target; target codes come from the catalog.
//! - The baseline window is ordered (from ≤ to).
//! - An intervention is implemented only after it was planned, and once; intervention ids are
//!   unique within a project.
//! - Evaluation needs at least one implemented intervention.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::{rule, text, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::promotion::*;
use crate::events::{EntityId, StreamKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanProject {
    pub project_id: EntityId,
    pub community_id: EntityId,
    pub name: String,
    /// Injury category code (catalog).
    pub target_category: Option<String>,
    /// High-risk group code (catalog `groups`).
    pub target_group: Option<String>,
    /// Place code (catalog `target_places`).
    pub target_place: Option<String>,
    pub objective: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub baseline_from: NaiveDate,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub baseline_to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanIntervention {
    pub project_id: EntityId,
    pub intervention_id: EntityId,
    pub what: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub planned_for: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImplementIntervention {
    pub project_id: EntityId,
    pub intervention_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub implemented_on: NaiveDate,
    /// People reached.
    pub reach: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateProject {
    pub project_id: EntityId,
    /// What was measured (e.g. "falls among over-65s per year").
    pub indicator: String,
    pub before: u64,
    pub after: u64,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub evaluated_on: NaiveDate,
    pub conclusion: String,
}

command_enum!(
    /// Commands addressed to a promotion project stream.
    ProjectCommand, project_id, StreamKind::Project, {
    Plan(PlanProject) = "project.plan",
    PlanIntervention(PlanIntervention) = "project.plan_intervention",
    ImplementIntervention(ImplementIntervention) = "project.implement_intervention",
    Evaluate(EvaluateProject) = "project.evaluate",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectState {
    pub id: Option<EntityId>,
    /// Interventions and whether each was implemented.
    pub interventions: Vec<(EntityId, bool)>,
    pub evaluations: u32,
}

/// The promotion-project aggregate.
#[derive(Debug)]
pub struct Project;

impl Aggregate for Project {
    type State = ProjectState;
    type Command = ProjectCommand;
    type Event = ProjectEvent;

    fn decide(
        s: &ProjectState,
        cmd: &ProjectCommand,
        ctx: &DecisionContext<'_>,
    ) -> Result<Vec<ProjectEvent>, Rejection> {
        super::same_id("project_id", &s.id, cmd.target_id())?;
        let (project_id, recorded_by, recorded_at) = (cmd.target_id().clone(), ctx.actor.clone(), ctx.issued_at);
        match (s.id.is_some(), cmd) {
            (true, ProjectCommand::Plan(_)) => {
                return Err(Rejection::at("project_id", rule::ALREADY_EXISTS, format!("project {project_id} exists")))
            }
            (false, ProjectCommand::Plan(_)) | (true, _) => {}
            (false, _) => {
                return Err(Rejection::at(
                    "project_id",
                    rule::NOT_FOUND,
                    format!("project {project_id} was not planned"),
                ))
            }
        }
        let find = |id: &EntityId| s.interventions.iter().find(|(i, _)| i == id);
        let ev = match cmd {
            ProjectCommand::Plan(c) => {
                text("name", &c.name, MAX_NAME)?;
                text("objective", &c.objective, MAX_TEXT)?;
                if c.target_category.is_none() && c.target_group.is_none() && c.target_place.is_none() {
                    return Err(Rejection::at(
                        "target_category",
                        rule::REQUIRED,
                        "a project targets a category, a high-risk group or a place",
                    ));
                }
                if let Some(x) = &c.target_category {
                    ctx.catalog.category("target_category", x)?;
                }
                if let Some(x) = &c.target_group {
                    ctx.catalog.group("target_group", x)?;
                }
                if let Some(x) = &c.target_place {
                    ctx.catalog.target_place("target_place", x)?;
                }
                if c.baseline_to < c.baseline_from {
                    return Err(Rejection::at(
                        "baseline_to",
                        rule::TIME_ORDER,
                        "baseline window ends before it starts",
                    ));
                }
                ProjectEvent::Planned(ProjectPlanned {
                    project_id,
                    recorded_by,
                    recorded_at,
                    community_id: c.community_id.clone(),
                    name: c.name.clone(),
                    target_category: c.target_category.clone(),
                    target_group: c.target_group.clone(),
                    target_place: c.target_place.clone(),
                    objective: c.objective.clone(),
                    baseline_from: c.baseline_from,
                    baseline_to: c.baseline_to,
                })
            }
            ProjectCommand::PlanIntervention(c) => {
                if find(&c.intervention_id).is_some() {
                    return Err(Rejection::at("intervention_id", rule::DUPLICATE, "intervention already planned"));
                }
                text("what", &c.what, MAX_TEXT)?;
                ProjectEvent::InterventionPlanned(InterventionPlanned {
                    project_id,
                    recorded_by,
                    recorded_at,
                    intervention_id: c.intervention_id.clone(),
                    what: c.what.clone(),
                    planned_for: c.planned_for,
                })
            }
            ProjectCommand::ImplementIntervention(c) => {
                match find(&c.intervention_id) {
                    None => {
                        return Err(Rejection::at("intervention_id", rule::NOT_FOUND, "intervention was not planned"))
                    }
                    Some((_, true)) => {
                        return Err(Rejection::at(
                            "intervention_id",
                            rule::DUPLICATE,
                            "intervention already implemented",
                        ))
                    }
                    Some((_, false)) => {}
                }
                super::people("reach", c.reach, ctx.settings)?;
                super::not_future_date("implemented_on", c.implemented_on, ctx)?;
                ProjectEvent::InterventionImplemented(InterventionImplemented {
                    project_id,
                    recorded_by,
                    recorded_at,
                    intervention_id: c.intervention_id.clone(),
                    implemented_on: c.implemented_on,
                    reach: c.reach,
                })
            }
            ProjectCommand::Evaluate(c) => {
                if !s.interventions.iter().any(|(_, done)| *done) {
                    return Err(Rejection::at(
                        "project_id",
                        rule::INVALID_STATE,
                        "evaluate after at least one intervention is implemented",
                    ));
                }
                text("indicator", &c.indicator, MAX_NAME)?;
                super::not_future_date("evaluated_on", c.evaluated_on, ctx)?;
                text("conclusion", &c.conclusion, MAX_TEXT)?;
                ProjectEvent::Evaluated(ProjectEvaluated {
                    project_id,
                    recorded_by,
                    recorded_at,
                    indicator: c.indicator.clone(),
                    before: c.before,
                    after: c.after,
                    evaluated_on: c.evaluated_on,
                    conclusion: c.conclusion.clone(),
                })
            }
        };
        Ok(vec![ev])
    }

    fn evolve(mut s: ProjectState, e: &ProjectEvent) -> ProjectState {
        match e {
            ProjectEvent::Planned(e) => s.id = Some(e.project_id.clone()),
            ProjectEvent::InterventionPlanned(e) => s.interventions.push((e.intervention_id.clone(), false)),
            ProjectEvent::InterventionImplemented(e) => {
                if let Some(x) = s.interventions.iter_mut().find(|(i, _)| *i == e.intervention_id) {
                    x.1 = true;
                }
            }
            ProjectEvent::Evaluated(_) => s.evaluations += 1,
        }
        s
    }
}
