//! JSON commands sent through an engine, for tests that build a history by hand and work out
//! every expected figure beside it (`tests/report.rs`, `tests/projections_figures.rs`).

use anquan::engine::Engine;
use anquan::store::EventStore;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// An engine on a store in `dir`, with the vault beside it (responsible persons' names are
/// personal information, sealed under keys in the vault).
pub fn engine(dir: &std::path::Path) -> Engine {
    let vault = std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).unwrap());
    Engine::new(EventStore::open(dir).unwrap()).unwrap().with_vault(vault)
}

/// Sends one command; panics when it is refused.
pub fn run(e: &Engine, actor: &str, at: &str, body: Value) {
    let cmd = json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": at, "command": body });
    if let Err(err) = e.execute_json(&cmd.to_string()) {
        panic!("command {body} rejected: {err}");
    }
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A hazard reported by a grid inspector, found at `found`.
pub fn report_hazard(e: &Engine, id: &str, community: &str, enterprise: Option<&str>, category: &str, found: &str) {
    run(
        e,
        "grid-7",
        found,
        json!({"type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
               "community_id": community, "grid_id": null, "enterprise_id": enterprise, "category": category,
               "location": "3号楼", "description": "隐患", "found_at": found}),
    );
}

pub fn grade(e: &Engine, id: &str, grade: &str, at: &str) {
    run(
        e,
        "bureau-1",
        at,
        json!({"type": "hazard.grade", "hazard_id": id, "grade": grade, "criterion": "MEM-10",
               "criterion_version": "2023", "basis": null}),
    );
}

/// A rectification order with all five in place (五到位).
pub fn order(e: &Engine, id: &str, at: &str, deadline: &str) {
    run(
        e,
        "bureau-1",
        at,
        json!({"type": "hazard.order_rectification", "hazard_id": id, "responsible": "负责人",
               "measures": "整改", "funds_yuan": 10000, "deadline": deadline, "contingency_plan": "预案"}),
    );
}

/// Done, verified by someone else, closed (销号) — all on `at`'s day.
pub fn close(e: &Engine, id: &str, at: &str) {
    run(
        e,
        "ent-officer",
        at,
        json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已整改"}),
    );
    run(
        e,
        "bureau-2",
        at,
        json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "验收合格"}),
    );
    run(e, "bureau-2", at, json!({"type": "hazard.close", "hazard_id": id, "remarks": null}));
}

/// An incident with one minor injury besides the given deaths and serious injuries, reported
/// 30 minutes after it occurred; the command is issued `issued_after` the accident.
pub fn incident(
    e: &Engine,
    id: &str,
    community: &str,
    category: &str,
    occurred: &str,
    (deaths, serious, loss): (u32, u32, u64),
    issued_after: chrono::Duration,
) {
    let occurred_at = t(occurred);
    let reported = (occurred_at + chrono::Duration::minutes(30)).to_rfc3339();
    let issued = (occurred_at + issued_after).to_rfc3339();
    run(
        e,
        "unit-head",
        &issued,
        json!({"type": "incident.report", "incident_id": id, "occurred_at": occurred, "reported_at": reported,
               "place": "现场", "community_id": community, "enterprise_id": null, "category": category,
               "deaths": deaths, "serious_injuries": serious, "minor_injuries": 1, "missing": 0,
               "direct_loss_yuan": loss, "summary": "事故"}),
    );
}
