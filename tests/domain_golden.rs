//! Upcasting from an old schema version, against bytes written by the old struct and checked in.
//!
//! `tests/data/golden/incident.reported.v1.bin` was produced once by encoding [`v1_fixture`] with
//! `IncidentReportedV1` (run with `ANQUAN_WRITE_GOLDEN=1` to create it when absent; it is never
//! overwritten). If these tests fail, old stored events no longer decode: restore the old struct.

use std::path::PathBuf;

use anquan::codec;
use anquan::domain::event::IncidentReportedV1;
use anquan::domain::incident::{IncidentEvent, IncidentReported};
use anquan::domain::testing::{at, id};
use anquan::domain::DomainEvent;

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
