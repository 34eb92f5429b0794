//! The event union, persisted type names, schema versions, payload codec and upcasters.
//!
//! Invariants:
//! - Each event type (e.g. `hazard.reported`) is one struct, encoded alone through
//!   `crate::codec` (bincode) and stored with its type name and `schema_version`; the
//!   [`DomainEvent`] enum is never bincode-encoded (its serde tagging serves JSON only).
//! - bincode does not describe itself: a struct's fields, their order and the order of any enum
//!   variants inside it are its format. Changing them means a new schema version, the old struct
//!   kept here as `…V1`, and an upcaster in [`DomainEvent::from_payload`].
//! - Upcasting happens on read; the store keeps the old bytes untouched (hash chain).
//! - Decoding never panics: unknown types, unknown versions and bad bytes are [`EventError`]s.
//!
//! Versions so far: `incident.reported` v1 → v2 (v2 adds `missing`, 下落不明; v1 reports
//! had no such field and are upcast with `missing = 0`). `incident.responsible_dealt_with` v1 → v2
//! (the person becomes a [`PersonalField`], sealed by the engine, plus an optional ID number; a v1
//! name is upcast as `Plain`). `injury.recorded` / `injury.corrected` v1 → v2 (the data gains
//! `person_id`, `name`, `id_number`; v1 records had none). `hazard.reported`,
//! `hazard.rectification_ordered`, `community.grid_added`, `community.grid_responsible_assigned`
//! and `community.assessed` v1 → v2 (the reporter, the responsible person or unit, the grid's
//! responsible person and the assessor become [`PersonalField`]s, sealed by the engine; a v1 name
//! is upcast as `Plain`). `incident.investigation_report_submitted` v1 → v2 (v2 adds the
//! sign-off deadline, 批复; v1 reports had none and are upcast with `None`). Every other type is
//! at v1.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::access::AccessEvent;
use super::community::{CommunityAssessed, CommunityEvent, GridAdded, GridResponsibleAssigned};
use super::enterprise::EnterpriseEvent;
use super::error::EventError;
use super::hazard::{HazardEvent, HazardReported, HazardSource, RectificationOrdered};
use super::id::EntityId;
use super::incident::{IncidentEvent, IncidentReported, InvestigationReportSubmitted, ResponsibleDealtWith};
use super::injury::InjuryEvent;
use super::injury::{InjuryCorrected, InjuryData, InjuryRecorded, Intent, Outcome, Severity, Sex};
use super::person::{PersonEvent, PersonalField};
use super::promotion::ProjectEvent;
use crate::codec;

/// Every domain event, grouped by aggregate. JSON form: the inner event with its `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum DomainEvent {
    Access(AccessEvent),
    Community(CommunityEvent),
    Enterprise(EnterpriseEvent),
    Hazard(HazardEvent),
    Incident(IncidentEvent),
    Injury(InjuryEvent),
    Person(PersonEvent),
    Project(ProjectEvent),
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            DomainEvent::Access($e) => $body,
            DomainEvent::Community($e) => $body,
            DomainEvent::Enterprise($e) => $body,
            DomainEvent::Hazard($e) => $body,
            DomainEvent::Incident($e) => $body,
            DomainEvent::Injury($e) => $body,
            DomainEvent::Person($e) => $body,
            DomainEvent::Project($e) => $body,
        }
    };
}

impl DomainEvent {
    /// Persisted type name, e.g. `hazard.reported`.
    pub fn event_type(&self) -> &'static str {
        each!(self, e => e.event_type())
    }

    /// Current schema version of this event's type.
    pub fn schema_version(&self) -> u16 {
        each!(self, e => e.schema_version())
    }

    /// The stream this event belongs to, e.g. `hazard-H1`.
    pub fn stream_id(&self) -> String {
        each!(self, e => e.stream_id())
    }

    /// Type name, schema version and payload bytes, as the store persists them.
    pub fn to_payload(&self) -> Result<(&'static str, u16, Vec<u8>), EventError> {
        let (t, v) = (self.event_type(), self.schema_version());
        let bytes = each!(self, e => e.encode_payload()).map_err(|source| EventError::Codec {
            event_type: t.to_string(),
            schema_version: v,
            source,
        })?;
        Ok((t, v, bytes))
    }

    /// Decodes a stored payload, upcasting older schema versions to the current one.
    pub fn from_payload(event_type: &str, schema_version: u16, bytes: &[u8]) -> Result<DomainEvent, EventError> {
        if let Some(e) = upcast(event_type, schema_version, bytes) {
            return e;
        }
        // The type's prefix names its aggregate (`hazard.reported`: hazard), so only that family
        // is asked. Asking each family in turn passed the decoded event (424 bytes) along a chain
        // of `or_else`s, and memcpy was the largest item of decoding in a rebuild's profile.
        // A unit test checks that every type reaches its family.
        let family = event_type.split_once('.').map_or("", |(family, _)| family);
        let decoded = match family {
            "access" => AccessEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Access)),
            "community" => {
                CommunityEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Community))
            }
            "enterprise" => {
                EnterpriseEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Enterprise))
            }
            "hazard" => HazardEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Hazard)),
            "incident" => {
                IncidentEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Incident))
            }
            "injury" => InjuryEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Injury)),
            "person" => PersonEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Person)),
            "project" => ProjectEvent::decode_current(event_type, schema_version, bytes).map(|r| r.map(Self::Project)),
            _ => None,
        };
        decoded.unwrap_or_else(|| Err(EventError::UnknownEventType { event_type: event_type.to_string() }))
    }

    /// Every event type with its current schema version.
    pub fn all_types() -> Vec<(&'static str, u16)> {
        [
            AccessEvent::TYPES,
            CommunityEvent::TYPES,
            EnterpriseEvent::TYPES,
            HazardEvent::TYPES,
            IncidentEvent::TYPES,
            InjuryEvent::TYPES,
            PersonEvent::TYPES,
            ProjectEvent::TYPES,
        ]
        .concat()
    }
}

macro_rules! impl_from {
    ($($v:ident($t:ty)),*) => { $(impl From<$t> for DomainEvent { fn from(e: $t) -> Self { DomainEvent::$v(e) } })* };
}
impl_from!(
    Access(AccessEvent),
    Community(CommunityEvent),
    Enterprise(EnterpriseEvent),
    Hazard(HazardEvent),
    Incident(IncidentEvent),
    Injury(InjuryEvent),
    Person(PersonEvent),
    Project(ProjectEvent)
);

// ---- old versions and upcasters ----------------------------------------------------------

/// `incident.reported` as written by schema version 1 (before missing persons were recorded).
/// Kept byte-compatible forever: never edit it; `tests/data/golden/incident.reported.v1.bin`
/// holds bytes it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReportedV1 {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub reported_at: DateTime<Utc>,
    pub place: String,
    pub community_id: EntityId,
    pub enterprise_id: Option<EntityId>,
    pub category: String,
    pub deaths: u32,
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    pub direct_loss_yuan: u64,
    pub summary: String,
    pub report_delay_minutes: i64,
    pub report_limit_minutes: u32,
    pub reported_late: bool,
}

impl From<IncidentReportedV1> for IncidentReported {
    fn from(v1: IncidentReportedV1) -> Self {
        IncidentReported {
            incident_id: v1.incident_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            occurred_at: v1.occurred_at,
            reported_at: v1.reported_at,
            place: v1.place,
            community_id: v1.community_id,
            enterprise_id: v1.enterprise_id,
            category: v1.category,
            deaths: v1.deaths,
            serious_injuries: v1.serious_injuries,
            minor_injuries: v1.minor_injuries,
            // v1 had no field for missing persons: none were recorded.
            missing: 0,
            direct_loss_yuan: v1.direct_loss_yuan,
            summary: v1.summary,
            report_delay_minutes: v1.report_delay_minutes,
            report_limit_minutes: v1.report_limit_minutes,
            reported_late: v1.reported_late,
        }
    }
}

/// `incident.investigation_report_submitted` v1, before the sign-off deadline (批复, art. 32) was
/// decided with the report. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationReportSubmittedV1 {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub submitted_at: DateTime<Utc>,
    pub summary: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
}

impl From<InvestigationReportSubmittedV1> for InvestigationReportSubmitted {
    fn from(v1: InvestigationReportSubmittedV1) -> Self {
        InvestigationReportSubmitted {
            incident_id: v1.incident_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            submitted_at: v1.submitted_at,
            summary: v1.summary,
            deadline: v1.deadline,
            overdue: v1.overdue,
            // No deadline was decided then; inventing one would rewrite history.
            sign_off_days: None,
            sign_off_due: None,
        }
    }
}

/// `incident.responsible_dealt_with` v1: the person's name in plain text, no ID number. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibleDealtWithV1 {
    pub incident_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub person: String,
    pub role: String,
    pub action: String,
    pub evidence: Vec<String>,
}

impl From<ResponsibleDealtWithV1> for ResponsibleDealtWith {
    fn from(v1: ResponsibleDealtWithV1) -> Self {
        ResponsibleDealtWith {
            incident_id: v1.incident_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            // Written before sealing existed: the name stays what it was, plain.
            person: PersonalField::Plain(v1.person),
            id_number: None,
            role: v1.role,
            action: v1.action,
            evidence: v1.evidence,
        }
    }
}

/// The injury data of `injury.recorded` / `injury.corrected` v1 (no personal fields). Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjuryDataV1 {
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub occurred_at: DateTime<Utc>,
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
    pub category: String,
    pub community_id: EntityId,
    pub vulnerable_groups: Vec<String>,
    pub incident_id: Option<EntityId>,
    pub note: Option<String>,
}

impl From<InjuryDataV1> for InjuryData {
    fn from(v1: InjuryDataV1) -> Self {
        InjuryData {
            occurred_at: v1.occurred_at,
            age: v1.age,
            sex: v1.sex,
            intent: v1.intent,
            mechanism: v1.mechanism,
            place: v1.place,
            activity: v1.activity,
            nature: v1.nature,
            body_part: v1.body_part,
            severity: v1.severity,
            outcome: v1.outcome,
            category: v1.category,
            community_id: v1.community_id,
            vulnerable_groups: v1.vulnerable_groups,
            incident_id: v1.incident_id,
            note: v1.note,
            // v1 records carried no personal fields.
            person_id: None,
            name: None,
            id_number: None,
        }
    }
}

/// `injury.recorded` v1. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjuryRecordedV1 {
    pub injury_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub data: InjuryDataV1,
}

/// `injury.corrected` v1. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjuryCorrectedV1 {
    pub injury_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub data: InjuryDataV1,
    pub reason: String,
}

/// `hazard.reported` v1: the reporter's name in plain text. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardReportedV1 {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub source: HazardSource,
    pub reporter: String,
    pub community_id: EntityId,
    pub grid_id: Option<EntityId>,
    pub enterprise_id: Option<EntityId>,
    pub category: String,
    pub location: String,
    pub description: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub found_at: DateTime<Utc>,
}

impl From<HazardReportedV1> for HazardReported {
    fn from(v1: HazardReportedV1) -> Self {
        HazardReported {
            hazard_id: v1.hazard_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            source: v1.source,
            // Written before the reporter was sealed: the name stays what it was, plain.
            reporter: PersonalField::Plain(v1.reporter),
            community_id: v1.community_id,
            grid_id: v1.grid_id,
            enterprise_id: v1.enterprise_id,
            category: v1.category,
            location: v1.location,
            description: v1.description,
            found_at: v1.found_at,
        }
    }
}

/// `hazard.rectification_ordered` v1: the responsible person or unit in plain text. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationOrderedV1 {
    pub hazard_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub responsible: Option<String>,
    pub measures: Option<String>,
    pub funds_yuan: Option<u64>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub deadline: NaiveDate,
    pub contingency_plan: Option<String>,
}

impl From<RectificationOrderedV1> for RectificationOrdered {
    fn from(v1: RectificationOrderedV1) -> Self {
        RectificationOrdered {
            hazard_id: v1.hazard_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            responsible: v1.responsible.map(PersonalField::Plain),
            measures: v1.measures,
            funds_yuan: v1.funds_yuan,
            deadline: v1.deadline,
            contingency_plan: v1.contingency_plan,
        }
    }
}

/// `community.grid_added` v1: the responsible person's name in plain text. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAddedV1 {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grid_id: EntityId,
    pub name: String,
    pub responsible_person: String,
}

impl From<GridAddedV1> for GridAdded {
    fn from(v1: GridAddedV1) -> Self {
        GridAdded {
            community_id: v1.community_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            grid_id: v1.grid_id,
            name: v1.name,
            responsible_person: PersonalField::Plain(v1.responsible_person),
        }
    }
}

/// `community.grid_responsible_assigned` v1: the name in plain text. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridResponsibleAssignedV1 {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    pub grid_id: EntityId,
    pub responsible_person: String,
}

impl From<GridResponsibleAssignedV1> for GridResponsibleAssigned {
    fn from(v1: GridResponsibleAssignedV1) -> Self {
        GridResponsibleAssigned {
            community_id: v1.community_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            grid_id: v1.grid_id,
            responsible_person: PersonalField::Plain(v1.responsible_person),
        }
    }
}

/// `community.assessed` v1: the assessor in plain text. Never edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityAssessedV1 {
    pub community_id: EntityId,
    pub recorded_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub recorded_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub assessed_on: NaiveDate,
    pub assessor: String,
    pub passed: bool,
}

impl From<CommunityAssessedV1> for CommunityAssessed {
    fn from(v1: CommunityAssessedV1) -> Self {
        CommunityAssessed {
            community_id: v1.community_id,
            recorded_by: v1.recorded_by,
            recorded_at: v1.recorded_at,
            assessed_on: v1.assessed_on,
            assessor: PersonalField::Plain(v1.assessor),
            passed: v1.passed,
        }
    }
}

/// Old (type, version) pairs and how they become current events; `None` when not an old one.
fn upcast(event_type: &str, schema_version: u16, bytes: &[u8]) -> Option<Result<DomainEvent, EventError>> {
    let upcast = match (event_type, schema_version) {
        ("incident.reported", 1) => old(bytes, |v1: IncidentReportedV1| IncidentEvent::Reported(v1.into()).into()),
        ("incident.responsible_dealt_with", 1) => {
            old(bytes, |v1: ResponsibleDealtWithV1| IncidentEvent::ResponsibleDealtWith(v1.into()).into())
        }
        ("incident.investigation_report_submitted", 1) => old(bytes, |v1: InvestigationReportSubmittedV1| {
            IncidentEvent::InvestigationReportSubmitted(v1.into()).into()
        }),
        ("hazard.reported", 1) => old(bytes, |v1: HazardReportedV1| HazardEvent::Reported(v1.into()).into()),
        ("hazard.rectification_ordered", 1) => {
            old(bytes, |v1: RectificationOrderedV1| HazardEvent::RectificationOrdered(v1.into()).into())
        }
        ("community.grid_added", 1) => old(bytes, |v1: GridAddedV1| CommunityEvent::GridAdded(v1.into()).into()),
        ("community.grid_responsible_assigned", 1) => {
            old(bytes, |v1: GridResponsibleAssignedV1| CommunityEvent::GridResponsibleAssigned(v1.into()).into())
        }
        ("community.assessed", 1) => old(bytes, |v1: CommunityAssessedV1| CommunityEvent::Assessed(v1.into()).into()),
        ("injury.recorded", 1) => old(bytes, |v1: InjuryRecordedV1| {
            InjuryEvent::Recorded(InjuryRecorded {
                injury_id: v1.injury_id,
                recorded_by: v1.recorded_by,
                recorded_at: v1.recorded_at,
                data: v1.data.into(),
            })
            .into()
        }),
        ("injury.corrected", 1) => old(bytes, |v1: InjuryCorrectedV1| {
            InjuryEvent::Corrected(InjuryCorrected {
                injury_id: v1.injury_id,
                recorded_by: v1.recorded_by,
                recorded_at: v1.recorded_at,
                data: v1.data.into(),
                reason: v1.reason,
            })
            .into()
        }),
        _ => return None,
    };
    Some(upcast.map_err(|source| EventError::Codec { event_type: event_type.to_string(), schema_version, source }))
}

/// Decodes the payload as the old struct `V` and turns it into the current event.
fn old<V: serde::de::DeserializeOwned>(
    bytes: &[u8],
    current: impl FnOnce(V) -> DomainEvent,
) -> Result<DomainEvent, codec::CodecError> {
    codec::decode::<V>(bytes).map(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_unique_and_prefixed_by_their_stream_kind() {
        let all = DomainEvent::all_types();
        let mut names: Vec<_> = all.iter().map(|(t, _)| *t).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for t in names {
            let prefix = t.split('.').next().unwrap_or("");
            assert!(
                ["access", "community", "enterprise", "hazard", "incident", "injury", "person", "project"]
                    .contains(&prefix),
                "{t}"
            );
        }
    }

    /// `from_payload` asks only the family its type's prefix names: every current type must
    /// reach its own decoder (bytes that cannot decode are a codec error, not an unknown type).
    #[test]
    fn every_type_reaches_its_families_decoder() {
        for (t, v) in DomainEvent::all_types() {
            let got = DomainEvent::from_payload(t, v, &[]);
            assert!(matches!(got, Err(EventError::Codec { .. })), "{t} v{v}: {got:?}");
        }
        for t in ["hazard", "", ".reported", "zone.reported", "hazardx.reported"] {
            let got = DomainEvent::from_payload(t, 1, &[]);
            assert!(matches!(got, Err(EventError::UnknownEventType { .. })), "{t:?}: {got:?}");
        }
    }

    #[test]
    fn unknown_types_versions_and_bytes_are_errors_not_panics() {
        assert!(matches!(DomainEvent::from_payload("hazard.nope", 1, &[]), Err(EventError::UnknownEventType { .. })));
        assert!(matches!(
            DomainEvent::from_payload("hazard.reported", 9, &[]),
            Err(EventError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            DomainEvent::from_payload("hazard.reported", 1, &[0xff, 0x00]),
            Err(EventError::Codec { .. })
        ));
        assert!(matches!(DomainEvent::from_payload("incident.reported", 1, &[1, 2, 3]), Err(EventError::Codec { .. })));
    }

    #[test]
    fn a_v1_investigation_report_upcasts_with_no_sign_off_deadline() {
        let t: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().unwrap_or_default();
        let id = EntityId::new("INC-1").unwrap_or_else(|e| panic!("{e}"));
        let v1 = InvestigationReportSubmittedV1 {
            incident_id: id.clone(),
            recorded_by: id.clone(),
            recorded_at: t,
            submitted_at: t,
            summary: "调查报告".into(),
            deadline: t,
            overdue: false,
        };
        let bytes = codec::encode(&v1).unwrap_or_else(|e| panic!("{e}"));
        let got = DomainEvent::from_payload("incident.investigation_report_submitted", 1, &bytes);
        let Ok(DomainEvent::Incident(IncidentEvent::InvestigationReportSubmitted(e))) = got else { panic!("{got:?}") };
        assert_eq!((e.sign_off_days, e.sign_off_due, e.summary.as_str()), (None, None, "调查报告"));
        assert_eq!(e, v1.into());
    }
}
