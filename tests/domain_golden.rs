//! Upcasting from an old schema version, against bytes written by the old struct and checked in.
//!
//! `tests/data/golden/incident.reported.v1.bin` was produced once by encoding [`v1_fixture`] with
//! `IncidentReportedV1` (run with `ANQUAN_WRITE_GOLDEN=1` to create it when absent; it is never
//! overwritten). If these tests fail, old stored events no longer decode: restore the old struct.

use std::path::PathBuf;

use anquan::events::incident::{IncidentEvent, IncidentReported};
use anquan::events::DomainEvent;
use anquan::internals::codec;
use anquan::internals::testing::{at, id};
use anquan::internals::IncidentReportedV1;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden/incident.reported.v1.bin")
}

fn v1_fixture() -> IncidentReportedV1 {
    IncidentReportedV1 {
        incident_id: id("INC-2019-07"),
        recorded_by: id("ent-officer"),
        recorded_at: at("2019-07-03T01:40:00Z"),
        occurred_at: at("2019-07-03T01:05:00Z"),
        reported_at: at("2019-07-03T01:35:00Z"),
        place: "仓库装卸区".into(),
        community_id: id("jd-01"),
        enterprise_id: Some(id("ent-9")),
        category: "production".into(),
        deaths: 1,
        serious_injuries: 3,
        minor_injuries: 2,
        direct_loss_yuan: 1_250_000,
        summary: "叉车倾覆".into(),
        report_delay_minutes: 30,
        report_limit_minutes: 60,
        reported_late: false,
    }
}

fn golden_bytes() -> Vec<u8> {
    let path = golden_path();
    if std::env::var_os("ANQUAN_WRITE_GOLDEN").is_some() && !path.exists() {
        let bytes = codec::encode(&v1_fixture()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Write then rename, so a test running in parallel never reads a half-written file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("golden file {} must be checked in: {e}", path.display()))
}

#[test]
fn a_v1_incident_report_upcasts_to_the_current_version() {
    let event = DomainEvent::from_payload("incident.reported", 1, &golden_bytes()).unwrap();
    let v1 = v1_fixture();
    let expected = IncidentReported {
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
        missing: 0,
        direct_loss_yuan: v1.direct_loss_yuan,
        summary: v1.summary,
        report_delay_minutes: v1.report_delay_minutes,
        report_limit_minutes: v1.report_limit_minutes,
        reported_late: v1.reported_late,
    };
    assert_eq!(event, DomainEvent::Incident(IncidentEvent::Reported(expected)));
    assert_eq!((event.event_type(), event.schema_version()), ("incident.reported", 2));
    assert_eq!(event.stream_id(), "incident-INC-2019-07");
}

#[test]
fn the_v1_struct_still_writes_the_golden_bytes() {
    assert_eq!(codec::encode(&v1_fixture()).unwrap(), golden_bytes());
}

#[test]
fn re_encoding_an_upcast_event_writes_the_current_version() {
    let event = DomainEvent::from_payload("incident.reported", 1, &golden_bytes()).unwrap();
    let (t, v, bytes) = event.to_payload().unwrap();
    assert_eq!((t, v), ("incident.reported", 2));
    assert_ne!(bytes, golden_bytes(), "v2 carries the missing-persons field");
    assert_eq!(DomainEvent::from_payload(t, v, &bytes).unwrap(), event);
    // The v1 bytes are not a valid v2 payload, which is why the version tag matters.
    assert!(DomainEvent::from_payload("incident.reported", 2, &golden_bytes()).is_err());
}

// ---- v1 events with persons' names (before PIPL sealing) ---------------------------------------

/// Golden bytes `tests/data/golden/{name}.v1.bin`, written from `fresh` only with
/// `ANQUAN_WRITE_GOLDEN=1` when absent.
fn golden_named(name: &str, fresh: &[u8]) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/golden/{name}.v1.bin"));
    if std::env::var_os("ANQUAN_WRITE_GOLDEN").is_some() && !path.exists() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, fresh).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("golden file {} must be checked in: {e}", path.display()))
}

fn responsible_v1() -> anquan::internals::ResponsibleDealtWithV1 {
    anquan::internals::ResponsibleDealtWithV1 {
        incident_id: id("INC-2019-07"),
        recorded_by: id("inv-1"),
        recorded_at: at("2019-08-01T00:00:00Z"),
        person: "车间主任 张某".into(),
        role: "直接管理责任".into(),
        action: "撤职".into(),
        evidence: vec!["处分决定书".into()],
    }
}

fn injury_v1() -> anquan::internals::InjuryRecordedV1 {
    use anquan::events::injury::{Intent, Outcome, Severity, Sex};
    anquan::internals::InjuryRecordedV1 {
        injury_id: id("INJ-1"),
        recorded_by: id("hospital-1"),
        recorded_at: at("2019-08-02T00:00:00Z"),
        data: anquan::internals::InjuryDataV1 {
            occurred_at: at("2019-08-01T10:00:00Z"),
            age: Some(78),
            sex: Sex::Female,
            intent: Intent::Unintentional,
            mechanism: "fall".into(),
            place: "home".into(),
            activity: "leisure".into(),
            nature: "fracture".into(),
            body_part: "lower_limb".into(),
            severity: Severity::Serious,
            outcome: Outcome::Admitted,
            category: "elderly_fall".into(),
            community_id: id("jd-01"),
            vulnerable_groups: vec!["elderly".into()],
            incident_id: None,
            note: Some("n".into()),
        },
    }
}

#[test]
fn a_v1_responsible_person_upcasts_with_the_name_as_plain_text() {
    use anquan::events::person::PersonalField;
    let fresh = codec::encode(&responsible_v1()).unwrap();
    let golden = golden_named("incident.responsible_dealt_with", &fresh);
    assert_eq!(fresh, golden, "the v1 struct still writes the golden bytes");
    let event = DomainEvent::from_payload("incident.responsible_dealt_with", 1, &golden).unwrap();
    let DomainEvent::Incident(IncidentEvent::ResponsibleDealtWith(r)) = &event else { panic!("{event:?}") };
    assert_eq!(r.person, PersonalField::Plain("车间主任 张某".into()));
    assert_eq!((r.id_number.as_ref(), r.evidence.len()), (None, 1));
    assert_eq!(event.schema_version(), 2);
    assert!(DomainEvent::from_payload("incident.responsible_dealt_with", 2, &golden).is_err());
}

#[test]
fn a_v1_injury_record_upcasts_without_personal_fields() {
    let fresh = codec::encode(&injury_v1()).unwrap();
    let golden = golden_named("injury.recorded", &fresh);
    assert_eq!(fresh, golden, "the v1 struct still writes the golden bytes");
    let event = DomainEvent::from_payload("injury.recorded", 1, &golden).unwrap();
    let DomainEvent::Injury(anquan::events::injury::InjuryEvent::Recorded(r)) = &event else { panic!("{event:?}") };
    assert_eq!((r.data.name.as_ref(), r.data.id_number.as_ref(), r.data.person_id.as_ref()), (None, None, None));
    assert_eq!((r.data.age, r.data.note.as_deref()), (Some(78), Some("n")));
    let corrected = anquan::internals::InjuryCorrectedV1 {
        injury_id: id("INJ-1"),
        recorded_by: id("hospital-1"),
        recorded_at: at("2019-08-03T00:00:00Z"),
        data: injury_v1().data,
        reason: "typo".into(),
    };
    let event = DomainEvent::from_payload("injury.corrected", 1, &codec::encode(&corrected).unwrap()).unwrap();
    assert_eq!(event.schema_version(), 2);
}
