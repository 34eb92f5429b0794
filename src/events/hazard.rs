//! The vocabulary of hazard streams (`hazard-{id}`): the events of a hazard's life (reported,
//! graded, rectification ordered … closed) and the values they carry ([`HazardSource`],
//! [`SupervisionLevel`]). The rules that decide them are in `crate::domain::hazard`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};
use super::person::PersonalField;

/// Who found the hazard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HazardSource {
    /// 网格员巡查
    GridInspection,
    /// 企业自查
    EnterpriseSelfCheck,
    /// 部门检查
    DepartmentInspection,
    /// 群众举报
    ResidentReport,
}

/// Level of government that lists a major hazard for supervision (挂牌督办).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionLevel {
    Province,
    City,
    County,
}

/// `hazard.reported` v2 (v1 had the reporter in plain text; see `event.rs` for the upcaster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardReported {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub source: HazardSource,
    /// Sealed name (plain only in events upcast from v1).
    pub reporter: PersonalField,
    pub community_id: EntityId,
    pub grid_id: Option<EntityId>,
    pub enterprise_id: Option<EntityId>,
    pub category: String,
    pub location: String,
    pub description: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub found_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardGraded {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grade: String,
    /// Whether the grade was a major one in the catalog at the time.
    pub major: bool,
    pub criterion: String,
    pub criterion_version: String,
    pub catalog_version: String,
    pub basis: Option<String>,
}

/// `hazard.rectification_ordered` v2 (v1 had `responsible` in plain text; see `event.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RectificationOrdered {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    /// Sealed person or unit responsible (plain only in events upcast from v1).
    pub responsible: Option<PersonalField>,
    pub measures: Option<String>,
    pub funds_yuan: Option<u64>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub deadline: NaiveDate,
    pub contingency_plan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RectificationDeadlineExtended {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub previous_deadline: NaiveDate,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub new_deadline: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardListedForSupervision {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub level: SupervisionLevel,
    pub listed_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RectificationProgressNoted {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RectificationReportedDone {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RectificationVerified {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub passed: bool,
    pub remarks: String,
}

/// A failed verification sends the hazard back to rectification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardReopened {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardClosed {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub remarks: Option<String>,
}

/// `hazard.closure_applied` (SAWS Order 16 art. 18): after rectification and its assessment,
/// the unit's written application to close a listed or suspended major hazard and resume; the
/// bureau's on-site check is due by `check_due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClosureApplied {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    /// When the bureau received the application.
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub applied_at: DateTime<Utc>,
    /// Listed for supervision (挂牌督办) when applying, at this level.
    pub listed: Option<SupervisionLevel>,
    /// The unit was suspended for the hazard (停产停业整改).
    pub suspended: bool,
    pub summary: String,
    /// Days the bureau has for its on-site check (setting; 10).
    pub check_days: u32,
    /// Check due by this CST date: the application's date plus `check_days`.
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub check_due: NaiveDate,
}

/// `hazard.onsite_checked`: the bureau's on-site check (现场审查) of a closure application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OnsiteChecked {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub checked_at: DateTime<Utc>,
    pub passed: bool,
    pub findings: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub check_due: NaiveDate,
    /// Checked after the due day ended.
    pub late: bool,
}

event_enum!(
    /// Events of a hazard stream (`hazard-{id}`).
    HazardEvent, hazard_id, StreamKind::Hazard, {
    Reported(HazardReported) = "hazard.reported" v 2,
    Graded(HazardGraded) = "hazard.graded" v 1,
    RectificationOrdered(RectificationOrdered) = "hazard.rectification_ordered" v 2,
    DeadlineExtended(RectificationDeadlineExtended) = "hazard.deadline_extended" v 1,
    ListedForSupervision(HazardListedForSupervision) = "hazard.listed_for_supervision" v 1,
    ProgressNoted(RectificationProgressNoted) = "hazard.progress_noted" v 1,
    RectificationReportedDone(RectificationReportedDone) = "hazard.rectification_reported_done" v 1,
    RectificationVerified(RectificationVerified) = "hazard.rectification_verified" v 1,
    Reopened(HazardReopened) = "hazard.reopened" v 1,
    Closed(HazardClosed) = "hazard.closed" v 1,
    ClosureApplied(ClosureApplied) = "hazard.closure_applied" v 1,
    OnsiteChecked(OnsiteChecked) = "hazard.onsite_checked" v 1,
});
