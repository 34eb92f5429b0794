//! The vocabulary of enterprise streams (`enterprise-{id}`): registration, supervision grade,
//! enforcement actions ([`EnforcementAction`], 四个一律), work hours and work injury cases
//! ([`WorkCaseClass`]), as events. The rules that decide them are in `crate::domain::enterprise`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};

/// 四个一律: the four enforcement actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementAction {
    /// 停产整顿
    SuspendForRectification,
    /// 关闭取缔
    CloseAndBan,
    /// 经济处罚（上限）
    Fine,
    /// 追究法律责任
    LegalLiability,
}

/// How a work injury case counts (recordability as in OSHA 29 CFR 1904; lost workdays as in
/// GB 6441).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkCaseClass {
    /// 死亡
    Death,
    /// Days away from work (歇工, lost time).
    DaysAway,
    /// Restricted work or job transfer (调岗/限制工作).
    RestrictedOrTransfer,
    /// Other recordable: medical treatment beyond first aid, no lost or restricted days.
    OtherRecordable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnterpriseRegistered {
    pub enterprise_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub name: String,
    pub community_id: EntityId,
    pub industry: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionGradeAssigned {
    pub enterprise_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grade: String,
    pub previous_grade: Option<String>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub effective_on: NaiveDate,
    pub reason: String,
    pub catalog_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnforcementActionTaken {
    pub enterprise_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub action: EnforcementAction,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub decided_on: NaiveDate,
    pub decided_by: String,
    pub decision_no: Option<String>,
    pub reason: String,
    pub hazard_id: Option<EntityId>,
    pub fine_yuan: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkHoursRecorded {
    pub enterprise_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub year: i32,
    pub month: u32,
    pub hours_worked: u64,
    pub headcount: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkInjuryCaseRecorded {
    pub enterprise_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub case_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub occurred_on: NaiveDate,
    pub class: WorkCaseClass,
    pub days_away: u32,
    pub restricted_days: u32,
    pub incident_id: Option<EntityId>,
    pub description: String,
}

event_enum!(
    /// Events of an enterprise stream (`enterprise-{id}`).
    EnterpriseEvent, enterprise_id, StreamKind::Enterprise, {
    Registered(EnterpriseRegistered) = "enterprise.registered" v 1,
    GradeAssigned(SupervisionGradeAssigned) = "enterprise.grade_assigned" v 1,
    EnforcementActionTaken(EnforcementActionTaken) = "enterprise.enforcement_action_taken" v 1,
    WorkHoursRecorded(WorkHoursRecorded) = "enterprise.work_hours_recorded" v 1,
    WorkInjuryCaseRecorded(WorkInjuryCaseRecorded) = "enterprise.work_injury_case_recorded" v 1,
});
