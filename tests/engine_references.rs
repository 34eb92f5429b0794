//! References across streams on a real store: with reference checks on, an incident or hazard
//! naming a community or enterprise the log does not hold is refused (`not_found`, the field
//! named) and writes nothing, unless the same all-or-nothing batch creates it first.

use std::sync::Arc;

use anquan::domain::{parse_command_json, rule, CommandEnvelope};
use anquan::engine::{Engine, EngineError};
use anquan::store::EventStore;
use serde_json::{json, Value};
use uuid::Uuid;

fn engine(dir: &std::path::Path) -> Engine {
    Engine::new(EventStore::open(dir).unwrap())
        .unwrap()
        .with_vault(Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).unwrap()))
        .with_reference_checks()
}

fn cmd(actor: &str, body: Value) -> CommandEnvelope {
    let json = json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": "2025-03-02T08:00:00Z", "command": body });
    parse_command_json(&json.to_string()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn register_community(id: &str) -> CommandEnvelope {
    cmd(
        "admin-1",
        json!({"type": "community.register", "community_id": id, "name": "一号街道", "kind": "urban_street",
            "district": "示范区", "population": 20000, "population_as_of": "2024-12-31"}),
    )
}

fn register_enterprise(id: &str, community: &str) -> CommandEnvelope {
    cmd(
        "bureau-1",
        json!({"type": "enterprise.register", "enterprise_id": id, "name": "某机械厂", "community_id": community,
            "industry": "manufacturing"}),
    )
}

fn incident(id: &str, community: &str, enterprise: Option<&str>) -> CommandEnvelope {
    cmd(
        "bureau-1",
        json!({"type": "incident.report", "incident_id": id, "occurred_at": "2025-03-02T06:00:00Z",
            "reported_at": "2025-03-02T06:30:00Z", "place": "车间", "community_id": community, "enterprise_id": enterprise,
            "category": "production", "deaths": 0, "serious_injuries": 1, "minor_injuries": 0, "missing": 0,
            "direct_loss_yuan": 0, "summary": "机械伤害"}),
    )
}

fn hazard(id: &str, community: &str) -> CommandEnvelope {
    cmd(
        "grid-7",
        json!({"type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
            "community_id": community, "grid_id": null, "enterprise_id": null, "category": "fire",
            "location": "地下室", "description": "电动车充电", "found_at": "2025-03-02T07:30:00Z"}),
    )
}

fn refused_at(result: Result<impl std::fmt::Debug, EngineError>, field: &str) {
    match result {
        Err(EngineError::Rejected(r)) => assert_eq!((r.field.as_str(), r.rule.as_str()), (field, rule::NOT_FOUND)),
        other => panic!("expected not_found at {field}, got {other:?}"),
    }
}

#[test]
fn naming_an_unregistered_community_or_enterprise_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    refused_at(e.execute(&incident("I1", "c1", None)), "/command/community_id");
    refused_at(e.execute(&hazard("H1", "c1")), "/command/community_id");
    refused_at(e.execute(&register_enterprise("e1", "c1")), "/command/community_id");
    assert_eq!(e.store().head().next_position, 0, "a refused command writes nothing");
    e.execute(&register_community("c1")).unwrap();
    e.execute(&hazard("H1", "c1")).unwrap();
    refused_at(e.execute(&incident("I1", "c1", Some("e1"))), "/command/enterprise_id");
    e.execute(&register_enterprise("e1", "c1")).unwrap();
    e.execute(&incident("I1", "c1", Some("e1"))).unwrap();
}

#[test]
fn a_batch_may_create_the_community_before_the_incident_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    // Named before it is created: the whole batch is refused, at the incident.
    let wrong_order = [incident("I1", "c2", None), register_community("c2")];
    let err = e.execute_all_or_nothing(&wrong_order).unwrap_err();
    assert_eq!(err.index, 0);
    refused_at(Err::<(), _>(err.error), "/command/community_id");
    assert_eq!(e.store().head().next_position, 0);
    // The same check in a dry run.
    let checks = e.check_commands(&wrong_order).unwrap();
    refused_at(checks.into_iter().next().unwrap(), "/command/community_id");
    // Created first in the same batch: accepted, with the enterprise that names it.
    let right_order = [register_community("c2"), register_enterprise("e2", "c2"), incident("I2", "c2", Some("e2"))];
    assert!(e.check_commands(&right_order).unwrap().iter().all(Result::is_ok));
    let out = e.execute_all_or_nothing(&right_order).unwrap();
    assert_eq!(out.commands, 3);
}

#[test]
fn without_reference_checks_the_engine_accepts_what_imports_name() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    e.execute(&incident("I1", "c9", None)).unwrap();
}
