//! The vocabulary of community streams (`community-{id}`): registration, dated population, grids
//! and their responsible persons, the safe-community milestones, control indicators and economic
//! figures, as events. The rules that decide them are in `crate::domain::community`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};
use super::person::PersonalField;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommunityKind {
    /// 城市街道
    UrbanStreet,
    /// 农村乡镇（涉农）
    RuralTown,
    /// 企业主导型
    EnterpriseLed,
}

/// Deaths allowed for one category within a control indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryLimit {
    pub category: String,
    pub deaths: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunityRegistered {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub name: String,
    pub kind: CommunityKind,
    pub district: String,
    pub population: u32,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub population_as_of: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PopulationRevised {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub population: u32,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub as_of: NaiveDate,
}

/// `community.grid_added` v2 (v1 had the responsible person in plain text; see `event.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GridAdded {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grid_id: EntityId,
    pub name: String,
    /// Sealed name (plain only in events upcast from v1).
    pub responsible_person: PersonalField,
}

/// `community.grid_responsible_assigned` v2 (v1: plain text; see `event.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GridResponsibleAssigned {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grid_id: EntityId,
    /// Sealed name (plain only in events upcast from v1).
    pub responsible_person: PersonalField,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreationStarted {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub started_on: NaiveDate,
}

/// `community.assessed` v2 (v1 had the assessor in plain text; see `event.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunityAssessed {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub assessed_on: NaiveDate,
    /// Sealed assessor (plain only in events upcast from v1).
    pub assessor: PersonalField,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SafeCommunityNamed {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub named_on: NaiveDate,
    pub named_by: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub reassessment_due: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunityReassessed {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub reassessed_on: NaiveDate,
    pub passed: bool,
    /// Next re-assessment when passed; none when the title lapses.
    pub next_due: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ControlIndicatorSet {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub year: i32,
    pub total_deaths: u32,
    pub per_category: Vec<CategoryLimit>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub set_on: NaiveDate,
    pub set_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EconomyRecorded {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub year: i32,
    pub gdp_10k_yuan: u64,
    pub workers: u32,
    pub source: String,
}

event_enum!(
    /// Events of a community stream (`community-{id}`).
    CommunityEvent, community_id, StreamKind::Community, {
    Registered(CommunityRegistered) = "community.registered" v 1,
    PopulationRevised(PopulationRevised) = "community.population_revised" v 1,
    GridAdded(GridAdded) = "community.grid_added" v 2,
    GridResponsibleAssigned(GridResponsibleAssigned) = "community.grid_responsible_assigned" v 2,
    CreationStarted(CreationStarted) = "community.creation_started" v 1,
    Assessed(CommunityAssessed) = "community.assessed" v 2,
    Named(SafeCommunityNamed) = "community.named" v 1,
    Reassessed(CommunityReassessed) = "community.reassessed" v 1,
    ControlIndicatorSet(ControlIndicatorSet) = "community.control_indicator_set" v 1,
    EconomyRecorded(EconomyRecorded) = "community.economy_recorded" v 1,
});
