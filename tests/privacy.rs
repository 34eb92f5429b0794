//! PIPL crypto-shredding end to end, on the real sled store and real vault files in a tempdir:
//! names and ID numbers never reach the log in plain text, read back through the vault, and
//! erasing a person destroys their key without touching the log, its hashes or the figures.

use std::path::Path;
use std::sync::Arc;

use anquan::domain::rule;
use anquan::engine::privacy::{PersonStatus, Personal, PersonalField, PrivacyError, Vault, RULE_ERASED, RULE_NO_VAULT};
use anquan::engine::{Authorization, Engine, EngineError, EraseRequest};
use anquan::events::incident::{IncidentEvent, ResponsibleDealtWith};
use anquan::events::injury::InjuryEvent;
use anquan::events::{DomainEvent, EntityId};
use anquan::interface::transfer;
use anquan::projections::rebuild_all;
use anquan::store::{Direction, EventStore};
use serde_json::{json, Value};
use uuid::Uuid;

const NAME: &str = "王大锤";
const ID_NUMBER: &str = "11010519491231002X";
const PATIENT: &str = "李小花";

fn engine(dir: &Path) -> Engine {
    Engine::new(EventStore::open(dir).unwrap()).unwrap().with_vault(Arc::new(Vault::open_beside_store(dir).unwrap()))
}

fn run(e: &Engine, actor: &str, at: &str, body: Value) -> Result<anquan::engine::CommandOutcome, EngineError> {
    run_id(e, Uuid::new_v4(), actor, at, body)
}

fn run_id(
    e: &Engine,
    command_id: Uuid,
    actor: &str,
    at: &str,
    body: Value,
) -> Result<anquan::engine::CommandOutcome, EngineError> {
    let cmd = json!({ "command_id": command_id.to_string(), "actor": actor, "issued_at": at, "command": body });
    e.execute_json(&cmd.to_string())
}

fn report_incident(e: &Engine, id: &str) {
    run(
        e,
        "ent-officer",
        "2025-06-01T03:00:00Z",
        json!({"type": "incident.report", "incident_id": id, "occurred_at": "2025-06-01T01:30:00Z",
               "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "jd-01", "enterprise_id": "E1",
               "category": "production", "deaths": 1, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
               "direct_loss_yuan": 100000, "summary": "机械伤害"}),
    )
    .unwrap();
}

/// Today's JSON shape plus the optional `id_number`.
fn deal_with(incident: &str, person: &str, id_number: Option<&str>) -> Value {
    let mut body = json!({"type": "incident.deal_with_responsible", "incident_id": incident, "person": person,
                          "role": "车间主任", "action": "撤职", "evidence": ["处分决定书"]});
    if let Some(n) = id_number {
        body["id_number"] = json!(n);
    }
    body
}

fn injury(id: &str, name: Option<&str>, person_id: Option<&str>) -> Value {
    let mut data = json!({"occurred_at": "2025-05-01T10:00:00Z", "age": 78, "sex": "female", "intent": "unintentional",
        "mechanism": "fall", "place": "home", "activity": "leisure", "nature": "fracture", "body_part": "lower_limb",
        "severity": "serious", "outcome": "admitted", "category": "elderly_fall", "community_id": "jd-01",
        "vulnerable_groups": ["elderly"], "incident_id": null, "note": null});
    if let Some(n) = name {
        data["name"] = json!(n);
    }
    if let Some(p) = person_id {
        data["person_id"] = json!(p);
    }
    json!({"type": "injury.record", "injury_id": id, "data": data})
}

fn dealt_with(e: &Engine, incident: &str) -> ResponsibleDealtWith {
    e.load(&format!("incident-{incident}"))
        .unwrap()
        .into_iter()
        .find_map(|ev| match ev {
            DomainEvent::Incident(IncidentEvent::ResponsibleDealtWith(r)) => Some(r),
            _ => None,
        })
        .unwrap()
}

fn injury_name(e: &Engine, id: &str) -> PersonalField {
    e.load(&format!("injury-{id}"))
        .unwrap()
        .into_iter()
        .find_map(|ev| match ev {
            DomainEvent::Injury(InjuryEvent::Recorded(r)) => r.data.name,
            _ => None,
        })
        .unwrap()
}

fn erase(e: &Engine, person: &EntityId) -> Result<anquan::engine::CommandOutcome, EngineError> {
    e.erase_person(&EraseRequest {
        person_id: person.clone(),
        actor: EntityId::new("admin-1").unwrap(),
        reason: "本人申请删除个人信息 (PIPL 第四十七条)".into(),
        issued_at: "2025-07-01T00:00:00Z".parse().unwrap(),
        command_id: Uuid::new_v4(),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of every file in the store folder, except the vault.
fn store_file_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "vault") {
                    stack.push(path);
                }
            } else {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// The exported events (the trailer left out), personal fields opened with the engine's vault.
fn export_lines(e: &Engine) -> Vec<Value> {
    let mut buf = Vec::new();
    transfer::export_with_vault(e.store(), e.vault(), &mut buf, |_| {}).unwrap();
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("trailer").is_none())
        .collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hashes(e: &Engine) -> Vec<anquan::store::Hash> {
    e.store().read_all(0, Direction::Forward, usize::MAX).unwrap().iter().map(|r| r.hash).collect()
}

#[test]
fn personal_fields_are_sealed_read_back_and_erased_without_touching_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T1", NAME, Some(ID_NUMBER))).unwrap();
    run(&e, "hospital-1", "2025-05-02T00:00:00Z", injury("INJ-1", Some(PATIENT), Some("patient-7"))).unwrap();
    e.store().flush().unwrap();

    // Nothing in the store's files or in the exported payloads holds the plaintext.
    for (path, bytes) in store_file_bytes(dir.path()) {
        for secret in [NAME, ID_NUMBER, PATIENT] {
            assert!(!contains(&bytes, secret.as_bytes()), "{secret} in plain text in {path}");
        }
    }
    let lines = export_lines(&e);
    for l in &lines {
        let payload = from_hex(l["payload_hex"].as_str().unwrap());
        for secret in [NAME, ID_NUMBER, PATIENT] {
            assert!(!contains(&payload, secret.as_bytes()), "{secret} in payload of {}", l["event_type"]);
        }
    }

    // Read back through the vault.
    let vault = e.vault().unwrap();
    let r = dealt_with(&e, "T1");
    let person = r.person.person_id().unwrap().clone();
    assert!(person.as_str().starts_with("p-"), "derived from the ID number: {person}");
    assert!(!person.as_str().contains("110105"));
    assert_eq!(vault.open_field(&r.person).unwrap(), Personal::Plain(NAME.into()));
    assert_eq!(vault.open_field(r.id_number.as_ref().unwrap()).unwrap(), Personal::Plain(ID_NUMBER.into()));
    assert_eq!(injury_name(&e, "INJ-1").person_id().unwrap().as_str(), "patient-7");
    // The export shows the opened values.
    let dealt_line = lines.iter().find(|l| l["event_type"] == "incident.responsible_dealt_with").unwrap();
    assert_eq!(
        dealt_line["event"]["person"],
        json!({"personal": "plain", "person_id": person.as_str(), "kind": "name", "value": NAME})
    );

    // Before the erasure.
    let before_hashes = hashes(&e);
    let before_verify = e.store().verify().unwrap();
    assert!(before_verify.problem.is_none());
    let before_figures = rebuild_all(e.store()).unwrap();
    let key_file = vault.dir().join("keys").join(format!("{person}.key"));
    assert!(key_file.exists());

    let out = erase(&e, &person).unwrap();
    assert_eq!(out.positions, vec![before_hashes.len() as u64], "one audit event, appended at the end");

    // The key is gone, the value reads as erased, and a tampered value is still an error.
    assert!(!key_file.exists());
    assert_eq!(vault.status(&person).unwrap(), PersonStatus::Erased);
    let r = dealt_with(&e, "T1");
    assert_eq!(vault.open_field(&r.person).unwrap(), Personal::Erased);
    assert_eq!(vault.open_field(r.id_number.as_ref().unwrap()).unwrap(), Personal::Erased);
    assert_eq!(vault.open_field(&injury_name(&e, "INJ-1")).unwrap(), Personal::Plain(PATIENT.into()));

    // The log is untouched: same records and hashes up to the audit event, the chain verifies.
    let after_hashes = hashes(&e);
    assert_eq!(after_hashes[..before_hashes.len()], before_hashes[..]);
    let after_verify = e.store().verify().unwrap();
    assert!(after_verify.problem.is_none(), "{:?}", after_verify.problem);
    assert_eq!(after_verify.events, before_verify.events + 1);
    // Figures do not depend on personal fields.
    assert_eq!(rebuild_all(e.store()).unwrap(), before_figures);

    // The audit event says who, when, why.
    let audit = e.load(&format!("person-{person}")).unwrap();
    let [DomainEvent::Person(anquan::events::person::PersonEvent::Erased(a))] = audit.as_slice() else {
        panic!("{audit:?}")
    };
    assert_eq!((a.erased_by.as_str(), a.erased_at.to_rfc3339().as_str()), ("admin-1", "2025-07-01T00:00:00+00:00"));
    assert!(a.reason.contains("PIPL"));

    // The export marks the erased values and still carries the exact payload bytes.
    let after_lines = export_lines(&e);
    let dealt_after = after_lines.iter().find(|l| l["event_type"] == "incident.responsible_dealt_with").unwrap();
    assert_eq!(
        dealt_after["event"]["person"],
        json!({"personal": "erased", "person_id": person.as_str(), "kind": "name"})
    );
    assert_eq!(dealt_after["event"]["id_number"]["personal"], "erased");
    assert_eq!(dealt_after["payload_hex"], dealt_line["payload_hex"]);
    let injury_after = after_lines.iter().find(|l| l["event_type"] == "injury.recorded").unwrap();
    assert_eq!(injury_after["event"]["data"]["name"]["value"], PATIENT);

    // Restoring the export gives the same hashes.
    let mut buf = Vec::new();
    transfer::export_with_vault(e.store(), e.vault(), &mut buf, |_| {}).unwrap();
    let restored = tempfile::tempdir().unwrap();
    let report = transfer::restore_export(&restored.path().join("s"), &buf[..], &Default::default(), |_| {}).unwrap();
    assert_eq!(report.head_hash, e.store().head().hash_hex());
}

#[test]
fn erasing_an_unknown_person_is_an_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    let head = e.store().head();
    let nobody = EntityId::new("p-nobody").unwrap();
    let err = erase(&e, &nobody).unwrap_err();
    assert!(matches!(&err, EngineError::Rejected(r) if r.rule == rule::NOT_FOUND), "{err}");
    assert!(err.to_string().contains("p-nobody"));
    assert_eq!(e.store().head(), head);
    assert_eq!(e.vault().unwrap().status(&nobody).unwrap(), PersonStatus::Unknown);
}

#[test]
fn a_refused_erasure_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(Vault::open(dir.path().join("vault")).unwrap());
    let open = Engine::new(EventStore::open(dir.path().join("a")).unwrap()).unwrap().with_vault(vault.clone());
    run(&open, "hospital-1", "2025-05-02T00:00:00Z", injury("INJ-9", Some(PATIENT), Some("patient-9"))).unwrap();
    // A second engine on the same vault, with permissions enforced: "admin-1" is no administrator.
    let e = Engine::new(EventStore::open(dir.path().join("b")).unwrap())
        .unwrap()
        .with_vault(vault.clone())
        .with_authorization(Authorization::Enforced { administrators: vec![EntityId::new("root").unwrap()] });
    let person = EntityId::new("patient-9").unwrap();
    let head = e.store().head();
    let err = erase(&e, &person).unwrap_err();
    assert!(matches!(&err, EngineError::Denied(_)), "{err}");
    assert_eq!(e.store().head(), head);
    assert_eq!(vault.status(&person).unwrap(), PersonStatus::Active);
    assert_eq!(vault.open_field(&injury_name(&open, "INJ-9")).unwrap(), Personal::Plain(PATIENT.into()));
}

#[test]
fn erasure_survives_reopen_and_the_person_is_not_collected_again() {
    let dir = tempfile::tempdir().unwrap();
    let person;
    let sealed;
    {
        let e = engine(dir.path());
        report_incident(&e, "T1");
        run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T1", NAME, Some(ID_NUMBER))).unwrap();
        let r = dealt_with(&e, "T1");
        person = r.person.person_id().unwrap().clone();
        sealed = r.person;
        erase(&e, &person).unwrap();
        e.into_store().close().unwrap();
    }
    let e = engine(dir.path());
    let vault = e.vault().unwrap();
    assert_eq!(vault.open_field(&sealed).unwrap(), Personal::Erased);
    assert!(matches!(erase(&e, &person), Err(EngineError::Rejected(r)) if r.rule == rule::ALREADY_EXISTS));
    assert!(e.store().verify().unwrap().problem.is_none());
    // The same ID number maps to the same (erased) person: refused, nothing written.
    report_incident(&e, "T2");
    let head = e.store().head();
    let err = run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T2", NAME, Some(ID_NUMBER))).unwrap_err();
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/person", RULE_ERASED));
    assert_eq!(e.store().head(), head);
}

#[test]
fn a_tampered_ciphertext_is_an_error_not_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T1", NAME, None)).unwrap();
    let PersonalField::Sealed(mut s) = dealt_with(&e, "T1").person else { panic!("stored plain") };
    s.ciphertext[2] ^= 0x40;
    let err = e.vault().unwrap().open_sealed(&s).unwrap_err();
    assert!(matches!(err, PrivacyError::Tampered { .. }), "{err}");
}

#[test]
fn plaintext_is_validated_before_sealing_at_the_right_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    let head = e.store().head();
    let cases = [
        (deal_with("T1", &"张".repeat(201), None), "/command/person", rule::TOO_LONG),
        (deal_with("T1", "  ", None), "/command/person", rule::REQUIRED),
        (deal_with("T1", "张某", Some("110105194912310021")), "/command/id_number", rule::MALFORMED),
        (injury("INJ-1", Some("a\u{202E}b"), None), "/command/data/name", rule::MALFORMED),
    ];
    for (body, field, code) in cases {
        let err = run(&e, "x", "2025-06-10T00:00:00Z", body).unwrap_err();
        let EngineError::Rejected(r) = err else { panic!("{err}") };
        assert_eq!((r.field.as_str(), r.rule.as_str()), (field, code), "{r}");
    }
    // A host may not send a pre-sealed value.
    let mut body = deal_with("T1", "x", None);
    body["person"] = json!({"sealed": "xchacha20poly1305", "person_id": "p-1", "kind": "name",
                            "nonce": "00".repeat(24), "ciphertext": "00".repeat(20)});
    let EngineError::Rejected(r) = run(&e, "x", "2025-06-10T00:00:00Z", body).unwrap_err() else { panic!() };
    assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/person", rule::MALFORMED));
    assert_eq!(e.store().head(), head);
}

#[test]
fn an_engine_without_a_vault_refuses_personal_fields_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    report_incident(&e, "T1");
    let head = e.store().head();
    let err = run(&e, "x", "2025-06-10T00:00:00Z", deal_with("T1", NAME, None)).unwrap_err();
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/person", RULE_NO_VAULT));
    assert_eq!(e.store().head(), head);
    // Injury records without personal fields need no vault (today's commands are unchanged).
    run(&e, "hospital-1", "2025-05-02T00:00:00Z", injury("INJ-1", None, None)).unwrap();
}

#[test]
fn a_retried_command_seals_to_the_same_bytes_and_is_found_committed() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    let id = Uuid::new_v4();
    let first = run_id(&e, id, "inv", "2025-06-10T00:00:00Z", deal_with("T1", NAME, Some(ID_NUMBER))).unwrap();
    let again = run_id(&e, id, "inv", "2025-06-10T00:00:00Z", deal_with("T1", NAME, Some(ID_NUMBER))).unwrap();
    assert!(!first.already_committed);
    assert!(again.already_committed);
    assert_eq!(first.positions, again.positions);
    // The same command id with another name is a different command.
    let err = run_id(&e, id, "inv", "2025-06-10T00:00:00Z", deal_with("T1", "别人", Some(ID_NUMBER))).unwrap_err();
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    assert_eq!(r.rule, rule::DUPLICATE);
}

/// `person.erase` sent as a command (as `anquan import` or a host sends it) erases: the key is
/// destroyed, the audit event recorded, and the export shows the field erased.
#[test]
fn person_erase_sent_as_a_command_destroys_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T1", NAME, Some(ID_NUMBER))).unwrap();
    let person = dealt_with(&e, "T1").person.person_id().unwrap().clone();
    let out = run(
        &e,
        "admin-1",
        "2025-07-01T00:00:00Z",
        json!({"type": "person.erase", "person_id": person.as_str(), "reason": "本人申请"}),
    )
    .unwrap();
    assert_eq!(out.positions.len(), 1, "the audit event is recorded");
    let vault = e.vault().unwrap();
    assert_eq!(vault.status(&person).unwrap(), PersonStatus::Erased);
    assert!(!vault.has_key(&person).unwrap());
    assert_eq!(vault.open_field(&dealt_with(&e, "T1").person).unwrap(), Personal::Erased);
    let mut buf = Vec::new();
    transfer::export_with_vault(e.store(), e.vault(), &mut buf, |_| {}).unwrap();
    assert!(!contains(&buf, NAME.as_bytes()), "the export no longer holds the name");
    // A second erasure of the same person is refused and writes nothing.
    let head = e.store().head();
    let err = erase(&e, &person).unwrap_err();
    assert!(matches!(&err, EngineError::Rejected(r) if r.rule == rule::ALREADY_EXISTS), "{err}");
    assert_eq!(e.store().head(), head);
}

/// Without a vault, `person.erase` cannot destroy anything, so it is refused (it used to record an
/// erasure that erased nothing).
#[test]
fn person_erase_without_a_vault_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    let head = e.store().head();
    let err =
        run(&e, "admin-1", "2025-07-01T00:00:00Z", json!({"type": "person.erase", "person_id": "p-1", "reason": "x"}))
            .unwrap_err();
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/person_id", RULE_NO_VAULT));
    assert_eq!(e.store().head(), head);
}

/// An erasure recorded without its key destroyed (a crash between the two, or a log written by an
/// older binary) is finished by the next erasure: the key goes, the existing event is reported.
#[test]
fn an_unfinished_erasure_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_incident(&e, "T1");
    run(&e, "investigator-1", "2025-06-10T00:00:00Z", deal_with("T1", NAME, None)).unwrap();
    let person = dealt_with(&e, "T1").person.person_id().unwrap().clone();
    // The audit event alone, appended straight to the store.
    let event = anquan::events::DomainEvent::Person(anquan::events::person::PersonEvent::Erased(
        anquan::events::person::PersonErased {
            person_id: person.clone(),
            erased_by: EntityId::new("admin-1").unwrap(),
            erased_at: "2025-07-01T00:00:00Z".parse().unwrap(),
            reason: "x".into(),
        },
    ));
    let (event_type, version, payload) = event.to_payload().unwrap();
    let recorded = e
        .store()
        .append(
            &format!("person-{person}"),
            anquan::store::ExpectedVersion::NoStream,
            vec![anquan::store::ProposedEvent {
                event_id: Uuid::new_v4(),
                event_type: event_type.to_string(),
                schema_version: version,
                occurred_at: anquan::store::Timestamp(0),
                actor: "admin-1".into(),
                correlation_id: None,
                causation_id: None,
                payload,
            }],
        )
        .unwrap();
    assert!(e.vault().unwrap().has_key(&person).unwrap(), "recorded, not yet erased");
    let out = erase(&e, &person).unwrap();
    assert!(out.already_committed);
    assert_eq!(out.positions, recorded.positions, "the existing audit event is named");
    assert!(!e.vault().unwrap().has_key(&person).unwrap());
    assert_eq!(e.vault().unwrap().open_field(&dealt_with(&e, "T1").person).unwrap(), Personal::Erased);
}
