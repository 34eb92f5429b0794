//! The engine end to end on a real store: JSON commands validated, decided and appended;
//! rejections write nothing; repeated commands are idempotent; concurrent commands retry.

use std::sync::Arc;

use anquan::engine::{Engine, EngineError};
use anquan::events::DomainEvent;
use anquan::store::{Direction, EventStore};
use serde_json::{json, Value};
use uuid::Uuid;

fn engine(dir: &std::path::Path) -> Engine {
    // A hazard's reporter is personal information: sealed under keys in the vault.
    Engine::new(EventStore::open(dir).unwrap())
        .unwrap()
        .with_vault(Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).unwrap()))
}

fn cmd(actor: &str, at: &str, body: Value) -> String {
    json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": at, "command": body }).to_string()
}

fn report(id: &str) -> String {
    cmd(
        "grid-7",
        "2025-03-02T08:00:00Z",
        json!({
            "type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
            "community_id": "jd-01", "grid_id": "g-3", "enterprise_id": null, "category": "fire",
            "location": "3号楼地下室", "description": "电动车楼道充电", "found_at": "2025-03-02T07:30:00Z"
        }),
    )
}

fn grade_major(id: &str) -> String {
    cmd(
        "bureau-1",
        "2025-03-02T09:00:00Z",
        json!({ "type": "hazard.grade", "hazard_id": id, "grade": "major", "criterion": "MEM-10", "criterion_version": "2023", "basis": null }),
    )
}

fn order(id: &str, funds: Option<u64>) -> String {
    cmd(
        "bureau-1",
        "2025-03-03T09:00:00Z",
        json!({
            "type": "hazard.order_rectification", "hazard_id": id, "responsible": "企业主要负责人",
            "measures": "拆除违规充电线路", "funds_yuan": funds, "deadline": "2025-04-01",
            "contingency_plan": "整改期间封闭地下室"
        }),
    )
}

fn simple(actor: &str, at: &str, body: Value) -> String {
    cmd(actor, at, body)
}

#[test]
fn a_hazard_goes_from_report_to_closure_through_json_commands() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    e.execute_json(&report("HZ-1")).unwrap();
    e.execute_json(&grade_major("HZ-1")).unwrap();
    e.execute_json(&order("HZ-1", Some(50_000))).unwrap();
    e.execute_json(&simple(
        "ent-officer",
        "2025-03-20T10:00:00Z",
        json!({"type": "hazard.report_rectification_done", "hazard_id": "HZ-1", "summary": "已整改"}),
    ))
    .unwrap();
    // The verifier must not be the one who reported it done.
    let err = e
        .execute_json(&simple(
            "ent-officer",
            "2025-03-21T10:00:00Z",
            json!({"type": "hazard.verify_rectification", "hazard_id": "HZ-1", "passed": true, "remarks": "ok"}),
        ))
        .unwrap_err();
    assert!(matches!(&err, EngineError::Rejected(r) if r.rule == "verifier_is_rectifier"), "{err}");
    e.execute_json(&simple(
        "bureau-2",
        "2025-03-21T10:00:00Z",
        json!({"type": "hazard.verify_rectification", "hazard_id": "HZ-1", "passed": true, "remarks": "验收合格"}),
    ))
    .unwrap();
    let closed = e
        .execute_json(&simple(
            "bureau-2",
            "2025-03-21T11:00:00Z",
            json!({"type": "hazard.close", "hazard_id": "HZ-1", "remarks": null}),
        ))
        .unwrap();
    assert!(!closed.events.is_empty());

    let events = e.load("hazard-HZ-1").unwrap();
    assert!(events.iter().all(|ev| matches!(ev, DomainEvent::Hazard(_))));
    let recorded = e.store().read_stream("hazard-HZ-1", 0, Direction::Forward, 100).unwrap();
    assert_eq!(&*recorded.first().unwrap().event_type, "hazard.reported");
    assert_eq!(&*recorded.first().unwrap().actor, "grid-7");
    assert!(e.store().verify().unwrap().is_ok());
}

#[test]
fn rejected_commands_write_nothing_and_name_field_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    e.execute_json(&report("HZ-2")).unwrap();
    e.execute_json(&grade_major("HZ-2")).unwrap();
    let head = e.store().head();

    // 五到位: a major hazard's order without funds names the missing item.
    let err = e.execute_json(&order("HZ-2", None)).unwrap_err();
    match &err {
        EngineError::Rejected(r) => {
            assert_eq!(r.rule, "five_in_place_missing");
            assert!(r.items.iter().any(|i| i.contains("fund")), "{r:?}");
        }
        other => panic!("expected a rule rejection, got {other}"),
    }
    // Schema: wrong type and unknown field, each named.
    let mut bad: Value = serde_json::from_str(&report("HZ-3")).unwrap();
    bad["command"]["found_at"] = json!(12);
    bad["command"]["colour"] = json!("red");
    match e.execute_json(&bad.to_string()).unwrap_err() {
        EngineError::Invalid(list) => {
            let fields: Vec<_> = list.iter().map(|r| r.field.as_str()).collect();
            assert!(fields.contains(&"/command/found_at"), "{fields:?}");
            assert!(fields.contains(&"/command/colour"), "{fields:?}");
        }
        other => panic!("expected schema errors, got {other}"),
    }
    assert!(matches!(e.execute_json("{not json").unwrap_err(), EngineError::Invalid(_)));
    // A hazard reported twice.
    assert!(matches!(e.execute_json(&report("HZ-2")).unwrap_err(), EngineError::Rejected(_)));
    assert_eq!(e.store().head(), head, "nothing written by any rejection");
}

#[test]
fn executing_the_same_command_again_returns_the_first_result() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let json = report("HZ-4");
    let first = e.execute_json(&json).unwrap();
    assert!(!first.already_committed);
    let again = e.execute_json(&json).unwrap();
    assert!(again.already_committed);
    assert_eq!(again.positions, first.positions);
    assert_eq!(again.events, first.events);
    assert_eq!(e.store().head().next_position, first.positions.len() as u64);
}

#[test]
fn concurrent_commands_on_one_stream_all_land_by_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(engine(dir.path()));
    e.execute_json(&report("HZ-5")).unwrap();
    e.execute_json(&grade_major("HZ-5")).unwrap();
    e.execute_json(&order("HZ-5", Some(1_000))).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let note = simple("ent-officer", "2025-03-10T10:00:00Z", json!({"type": "hazard.note_progress", "hazard_id": "HZ-5", "note": format!("thread {t} note {i}")}));
                    e.execute_json(&note).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let recorded = e.store().read_stream("hazard-HZ-5", 0, Direction::Forward, 1000).unwrap();
    let notes = recorded.iter().filter(|r| r.event_type.contains("progress")).count();
    assert_eq!(notes, 60);
    assert!(recorded.windows(2).all(|w| w[1].version == w[0].version + 1));
}
