//! The vocabulary of access streams (`access-{actor}`): roles ([`Role`]) granted and revoked within
//! a scope ([`Scope`]), the start of enforcement, and the record of a personal-data export. The
//! rules (who may grant, the permission table) are in `crate::domain::access` and
//! `crate::domain::policy`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};

/// The roles of the safety work, closed: the permission table is written against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员
    GridInspector,
    /// 企业安全员
    EnterpriseSafetyOfficer,
    /// 社区安全促进委员会
    CommunityCommittee,
    /// 应急管理局 / 安监局 监管人员
    BureauSupervisor,
    /// 事故调查组成员
    Investigator,
    /// 督查: reads only
    Auditor,
    /// 系统管理员: grants and revokes roles
    Administrator,
    // Persisted by variant index (bincode): new roles go at the end.
    /// 相关部门: traffic police, fire rescue, health (sentinel hospitals, CDC), statistics, the
    /// 12345 hotline — they report incidents, hazards and injuries of their field
    PartnerDepartment,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The whole district (区).
    District,
    /// One community (街道/乡镇/社区).
    Community(EntityId),
    /// One enterprise (企业).
    Enterprise(EntityId),
}

/// A role within a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// A role was granted. Persisted: no data-losing serde attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleGranted {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grant: Grant,
    pub reason: Option<String>,
}

/// A role was revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleRevoked {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grant: Grant,
    pub reason: Option<String>,
}

/// The store started enforcing roles; `actor_id` is its first administrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolesEnforced {
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// The actor exported the log with personal fields opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PersonalDataExported {
    pub actor_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub reason: String,
    pub events: u64,
    pub head_hash: String,
}

event_enum!(
    /// Events of an actor's access stream (`access-{actor}`).
    AccessEvent, actor_id, StreamKind::Access, {
    Granted(RoleGranted) = "access.role_granted" v 1,
    Revoked(RoleRevoked) = "access.role_revoked" v 1,
    RolesEnforced(RolesEnforced) = "access.roles_enforced" v 1,
    PersonalDataExported(PersonalDataExported) = "access.personal_data_exported" v 1,
});
