//! The vocabulary of injury record streams (`injury-{id}`): the WHO core minimum data set of one
//! injury ([`InjuryData`] with its closed lists [`Sex`], [`Intent`], [`Severity`], [`Outcome`]) and
//! the events that record and correct it. The rules that decide them are in
//! `crate::domain::injury`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::id::{EntityId, StreamKind};
use super::person::PersonalField;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Unknown,
}

/// WHO intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// 非故意
    Unintentional,
    /// 自害
    SelfHarm,
    /// 他害/攻击
    Assault,
    /// 不确定
    Undetermined,
    Other,
}

/// Severity (GB 6441: serious ≥ 105 lost workdays; death counts 6000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Serious,
    Death,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    TreatedAndReleased,
    Admitted,
    Transferred,
    Died,
    Other,
    Unknown,
}

/// The core data of one injury.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjuryData {
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub occurred_at: DateTime<Utc>,
    /// Age in whole years; none when unknown.
    pub age: Option<u16>,
    pub sex: Sex,
    pub intent: Intent,
    pub mechanism: String,
    pub place: String,
    pub activity: String,
    pub nature: String,
    pub body_part: String,
    pub severity: Severity,
    pub outcome: Outcome,
    /// Injury category (catalog), for statistics by category.
    pub category: String,
    pub community_id: EntityId,
    pub vulnerable_groups: Vec<String>,
    pub incident_id: Option<EntityId>,
    pub note: Option<String>,
    /// A stable id for the injured person, chosen by the host. When absent and a name or ID
    /// number is given, the engine derives one from `id_number`, or gives the record its own.
    pub person_id: Option<EntityId>,
    /// The injured person's name (PIPL personal information: sealed before it is stored).
    pub name: Option<PersonalField>,
    /// 身份证号 or another document number (sealed before it is stored).
    pub id_number: Option<PersonalField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InjuryRecorded {
    pub injury_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub data: InjuryData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InjuryCorrected {
    pub injury_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub data: InjuryData,
    pub reason: String,
}

event_enum!(
    /// Events of an injury record stream (`injury-{id}`).
    InjuryEvent, injury_id, StreamKind::Injury, {
    Recorded(InjuryRecorded) = "injury.recorded" v 2,
    Corrected(InjuryCorrected) = "injury.corrected" v 2,
});
