//! Who may do what: roles and scopes granted as events, checked by the engine for every
//! command; every denial is a clear error that writes nothing.

use anquan::domain::policy::denial;
use anquan::engine::privacy::Vault;
use anquan::engine::{Authorization, Engine, EngineError};
use anquan::store::{Direction, EventStore};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

fn engine(dir: &std::path::Path) -> Engine {
    let auth = Authorization::Enforced { administrators: vec![anquan::events::EntityId::new("admin-1").unwrap()] };
    // A hazard's reporter is personal information: sealed under keys in the vault.
    Engine::new(EventStore::open(dir).unwrap())
        .unwrap()
        .with_authorization(auth)
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).unwrap()))
}

fn send(e: &Engine, actor: &str, body: Value) -> Result<(), EngineError> {
    let json = json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": "2025-03-05T08:00:00Z", "command": body });
    e.execute_json(&json.to_string()).map(|_| ())
}

fn grant(e: &Engine, actor: &str, role: &str, scope: Value) -> Result<(), EngineError> {
    send(
        e,
        "admin-1",
        json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": scope, "reason": null}),
    )
}

fn report(id: &str, community: &str, enterprise: Option<&str>) -> Value {
    json!({
        "type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "r", "community_id": community,
        "grid_id": null, "enterprise_id": enterprise, "category": "fire", "location": "l", "description": "d",
        "found_at": "2025-03-02T07:30:00Z"
    })
}

fn denied(r: Result<(), EngineError>, rule: &str) {
    match r {
        Err(EngineError::Denied(rej)) => {
            assert_eq!(rej.rule, rule, "{rej}");
            assert_eq!(rej.field, "/actor");
        }
        other => panic!("expected a denial ({rule}), got {other:?}"),
    }
}

#[test]
fn roles_and_scopes_decide_who_may_send_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());

    // No grant yet: nothing is allowed, and nothing is written.
    let head = e.store().head();
    denied(send(&e, "grid-7", report("H1", "jd-01", Some("ent-9"))), denial::NOT_PERMITTED);
    assert_eq!(e.store().head(), head);

    // Only an administrator grants roles.
    denied(grant_as(&e, "grid-7", "grid-7", "grid_inspector", json!({"community": "jd-01"})), denial::NOT_PERMITTED);
    grant(&e, "grid-7", "grid_inspector", json!({"community": "jd-01"})).unwrap();
    grant(&e, "bureau-1", "bureau_supervisor", json!("district")).unwrap();
    grant(&e, "ent-officer", "enterprise_safety_officer", json!({"enterprise": "ent-9"})).unwrap();
    grant(&e, "auditor-1", "auditor", json!("district")).unwrap();

    // A grid inspector reports in its own community, not in another, and may not grade.
    send(&e, "grid-7", report("H1", "jd-01", Some("ent-9"))).unwrap();
    send(&e, "grid-7", report("H2", "jd-01", Some("ent-5"))).unwrap();
    let head = e.store().head();
    denied(send(&e, "grid-7", report("H3", "jd-02", None)), denial::OUT_OF_SCOPE);
    let grade = |id: &str| json!({"type": "hazard.grade", "hazard_id": id, "grade": "general", "criterion": "SAWS-16", "criterion_version": "2008", "basis": null});
    denied(send(&e, "grid-7", grade("H1")), denial::NOT_PERMITTED);
    assert_eq!(e.store().head(), head, "denials write nothing");

    // The bureau supervisor (district) grades and orders anywhere.
    for h in ["H1", "H2"] {
        send(&e, "bureau-1", grade(h)).unwrap();
        send(&e, "bureau-1", json!({"type": "hazard.order_rectification", "hazard_id": h, "responsible": "r", "measures": "m", "funds_yuan": 1, "deadline": "2025-04-01", "contingency_plan": "p"})).unwrap();
    }
    // The enterprise officer reports done for its own enterprise's hazard only; the scope comes
    // from the hazard's report, not from the command.
    let done = |h: &str| json!({"type": "hazard.report_rectification_done", "hazard_id": h, "summary": "done"});
    send(&e, "ent-officer", done("H1")).unwrap();
    denied(send(&e, "ent-officer", done("H2")), denial::OUT_OF_SCOPE);
    // Auditors read only.
    denied(send(&e, "auditor-1", grade("H2")), denial::NOT_PERMITTED);
    denied(send(&e, "auditor-1", report("H9", "jd-01", None)), denial::NOT_PERMITTED);
    // Segregation still holds whatever the roles: the bureau verifies, the officer cannot.
    denied(
        send(
            &e,
            "ent-officer",
            json!({"type": "hazard.verify_rectification", "hazard_id": "H1", "passed": true, "remarks": "r"}),
        ),
        denial::NOT_PERMITTED,
    );
    send(
        &e,
        "bureau-1",
        json!({"type": "hazard.verify_rectification", "hazard_id": "H1", "passed": true, "remarks": "r"}),
    )
    .unwrap();

    // Revocation is an event too and takes effect at once.
    send(&e, "admin-1", json!({"type": "access.revoke_role", "actor_id": "grid-7", "role": "grid_inspector", "scope": {"community": "jd-01"}, "reason": "transferred"})).unwrap();
    denied(send(&e, "grid-7", report("H4", "jd-01", None)), denial::NOT_PERMITTED);
    let trail = e.store().read_stream("access-grid-7", 0, Direction::Forward, 10).unwrap();
    let types: Vec<&str> = trail.iter().map(|r| &*r.event_type).collect();
    assert_eq!(types, ["access.role_granted", "access.role_revoked"]);
    assert_eq!(&*trail[0].actor, "admin-1");
    // Granting what is held, or revoking what is not, is refused by the access rules.
    assert!(matches!(grant(&e, "bureau-1", "bureau_supervisor", json!("district")), Err(EngineError::Rejected(_))));
}

fn grant_as(e: &Engine, by: &str, actor: &str, role: &str, scope: Value) -> Result<(), EngineError> {
    send(e, by, json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": scope, "reason": null}))
}

#[test]
fn without_enforcement_the_host_authorises() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap())
        .unwrap()
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir.path()).unwrap()));
    send(&e, "anyone", report("H1", "jd-01", None)).unwrap();
}

/// A store whose log holds `access.roles_enforced` enforces roles for every engine on it, also
/// one whose host configuration says nothing; the first administrator is named by the event.
#[test]
fn a_store_that_enforces_roles_does_so_for_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_engine(dir.path());
    send(&e, "anyone", report("H1", "jd-01", None)).unwrap();
    send(&e, "boss", json!({"type": "access.enforce_roles", "actor_id": "boss", "reason": null})).unwrap();
    assert!(e.enforces_roles().unwrap());
    denied(send(&e, "anyone", report("H2", "jd-01", None)), denial::NOT_PERMITTED);
    // A second engine, configured with nothing, enforces as well.
    let vault = Arc::new(Vault::open_beside_store(dir.path()).unwrap());
    let e = Engine::new(e.into_store()).unwrap().with_vault(vault);
    denied(send(&e, "anyone", report("H2", "jd-01", None)), denial::NOT_PERMITTED);
    grant_as(&e, "boss", "anyone", "grid_inspector", json!({"community": "jd-01"})).unwrap();
    send(&e, "anyone", report("H2", "jd-01", None)).unwrap();
    // Enforcement starts once: a second start is refused, even by the administrator.
    let again = send(&e, "boss", json!({"type": "access.enforce_roles", "actor_id": "boss", "reason": null}));
    assert!(matches!(&again, Err(EngineError::Rejected(r)) if r.rule == "already_exists"), "{again:?}");
}

/// A grant counts only if its recorder could grant at that moment: an administrator whose role
/// was revoked grants nothing afterwards, and what it granted before keeps counting.
#[test]
fn grants_count_only_from_those_who_could_grant_at_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_engine(dir.path());
    send(&e, "boss", json!({"type": "access.enforce_roles", "actor_id": "boss", "reason": null})).unwrap();
    grant_as(&e, "boss", "deputy", "administrator", json!("district")).unwrap();
    grant_as(&e, "deputy", "grid-1", "grid_inspector", json!({"community": "jd-01"})).unwrap();
    send(&e, "boss", json!({"type": "access.revoke_role", "actor_id": "deputy", "role": "administrator", "scope": "district", "reason": "调离"})).unwrap();
    denied(grant_as(&e, "deputy", "grid-2", "grid_inspector", json!({"community": "jd-01"})), denial::NOT_PERMITTED);
    send(&e, "grid-1", report("H1", "jd-01", None)).unwrap();
    assert!(e.uncounted_access_events().unwrap().is_empty());
}

/// Recording one's own disclosure of personal data is an administrator's act, for oneself only.
#[test]
fn personal_exports_are_recorded_by_administrators_for_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    grant(&e, "auditor-1", "auditor", json!("district")).unwrap();
    let record = |by: &str, actor: &str| {
        send(
            &e,
            by,
            json!({"type": "access.record_personal_export", "actor_id": actor, "reason": "核查", "events": 3, "head_hash": "0".repeat(64)}),
        )
    };
    denied(record("auditor-1", "auditor-1"), denial::NOT_PERMITTED);
    assert!(matches!(record("admin-1", "auditor-1"), Err(EngineError::Rejected(r)) if r.rule == "wrong_stream"));
    record("admin-1", "admin-1").unwrap();
}

/// An engine with a vault and no authorisation configured: the log decides.
fn open_engine(dir: &std::path::Path) -> Engine {
    let vault = Arc::new(Vault::open_beside_store(dir).unwrap());
    Engine::new(EventStore::open(dir).unwrap()).unwrap().with_vault(vault)
}
