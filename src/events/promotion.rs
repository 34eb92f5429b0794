//! The vocabulary of safety-promotion project streams (`project-{id}`): a project planned, its
//! interventions planned and implemented, the project evaluated. The rules that decide them are in
//! `crate::domain::promotion`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectPlanned {
    pub project_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub community_id: EntityId,
    pub name: String,
    pub target_category: Option<String>,
    pub target_group: Option<String>,
    pub target_place: Option<String>,
    pub objective: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub baseline_from: NaiveDate,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub baseline_to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InterventionPlanned {
    pub project_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub intervention_id: EntityId,
    pub what: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub planned_for: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InterventionImplemented {
    pub project_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub intervention_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub implemented_on: NaiveDate,
    pub reach: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectEvaluated {
    pub project_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub indicator: String,
    pub before: u64,
    pub after: u64,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub evaluated_on: NaiveDate,
    pub conclusion: String,
}

event_enum!(
    /// Events of a promotion project stream (`project-{id}`).
    ProjectEvent, project_id, StreamKind::Project, {
    Planned(ProjectPlanned) = "project.planned" v 1,
    InterventionPlanned(InterventionPlanned) = "project.intervention_planned" v 1,
    InterventionImplemented(InterventionImplemented) = "project.intervention_implemented" v 1,
    Evaluated(ProjectEvaluated) = "project.evaluated" v 1,
});
