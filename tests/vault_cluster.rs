//! The PIPL key vault in cluster mode, against real `nats-server` processes: nodes of one tenant
//! derive the same person ids, a command with personal fields retried on another node is already
//! committed, any node opens what another sealed, racing first seals agree on one key, an erasure
//! on one node reaches the others and leaves no key in the cluster, and an unreachable cluster
//! is a clear error, as is a folder from before cluster mode with another pseudonym key.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anquan::engine::privacy::{Personal, PersonalField, PersonalKind, PrivacyError, Vault, RULE_ERASED};
use anquan::engine::{CommandOutcome, Engine, EngineError, EraseRequest};
use anquan::events::EntityId;
use anquan::store::{ClusterOptions, EventStore, StoreOptions};
use common::nats::NatsCluster;
use serde_json::{json, Value};
use uuid::Uuid;

const NAME: &str = "王大锤";
const ID_NUMBER: &str = "11010519491231002X";
const PATIENT: &str = "李小花";

fn options(nats: &NatsCluster, tenant: &str, node: &str, replicas: usize) -> StoreOptions {
    let mut c = ClusterOptions::new(nats.urls(), tenant, node);
    c.replicas = replicas;
    c.connect_timeout = Duration::from_secs(15);
    StoreOptions { cluster: Some(c), ..StoreOptions::default() }
}

/// A node: its store replica and its copy of the tenant's vault, in `dir`.
fn node(dir: &Path, options: StoreOptions) -> Engine {
    let vault = Arc::new(Vault::open_for_store(dir, &options).unwrap());
    Engine::new(EventStore::open_dir(dir, options).unwrap()).unwrap().with_vault(vault)
}

fn run(e: &Engine, command_id: Uuid, actor: &str, at: &str, body: &Value) -> Result<CommandOutcome, EngineError> {
    let cmd = json!({ "command_id": command_id.to_string(), "actor": actor, "issued_at": at, "command": body });
    e.execute_json(&cmd.to_string())
}

fn report_incident(e: &Engine, id: &str) {
    let body = json!({"type": "incident.report", "incident_id": id, "occurred_at": "2025-06-01T01:30:00Z",
        "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "jd-01", "enterprise_id": "E1",
        "category": "production", "deaths": 1, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
        "direct_loss_yuan": 100000, "summary": "机械伤害"});
    run(e, Uuid::new_v4(), "ent-officer", "2025-06-01T03:00:00Z", &body).unwrap();
}

fn deal_with(incident: &str) -> Value {
    json!({"type": "incident.deal_with_responsible", "incident_id": incident, "person": NAME, "id_number": ID_NUMBER,
           "role": "车间主任", "action": "撤职", "evidence": ["处分决定书"]})
}

fn injury(id: &str, person_id: &str) -> Value {
    json!({"type": "injury.record", "injury_id": id, "data": {"occurred_at": "2025-05-01T10:00:00Z", "age": 78,
        "sex": "female", "intent": "unintentional", "mechanism": "fall", "place": "home", "activity": "leisure",
        "nature": "fracture", "body_part": "lower_limb", "severity": "serious", "outcome": "admitted",
        "category": "elderly_fall", "community_id": "jd-01", "vulnerable_groups": ["elderly"], "incident_id": null,
        "note": null, "name": PATIENT, "person_id": person_id}})
}

/// Waits until `e`'s replica holds `next_position` events.
fn wait_for_head(e: &Engine, next_position: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while e.store().head().next_position < next_position {
        assert!(Instant::now() < deadline, "replica stuck at {} of {next_position}", e.store().head().next_position);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first sealed name in the events of `stream`, as `e` reads them.
fn sealed_name(e: &Engine, stream: &str) -> PersonalField {
    fn find(v: &Value) -> Option<PersonalField> {
        match v {
            Value::Object(m) if m.contains_key("ciphertext") => serde_json::from_value::<PersonalField>(v.clone())
                .ok()
                .filter(|f| matches!(f, PersonalField::Sealed(s) if s.kind == PersonalKind::Name)),
            Value::Object(m) => m.values().find_map(find),
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    e.load(stream).unwrap().iter().find_map(|ev| find(&serde_json::to_value(ev).unwrap())).unwrap()
}

#[test]
fn nodes_derive_the_same_person_ids_answer_retries_and_open_each_others_values() {
    let nats = NatsCluster::start(3);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path(), options(&nats, "t1", "a", 3));
    let b = node(db.path(), options(&nats, "t1", "b", 3));
    report_incident(&a, "T1");

    let command_id = Uuid::new_v4();
    let body = deal_with("T1");
    let first = run(&a, command_id, "investigator-1", "2025-06-10T00:00:00Z", &body).unwrap();
    assert!(!first.already_committed);
    let person = sealed_name(&a, "incident-T1").person_id().unwrap().clone();
    // The same ID number gives the same pseudonymous person id on both nodes.
    assert_eq!(b.vault().unwrap().person_id_for_id_number(ID_NUMBER).unwrap(), person);
    assert_eq!(a.vault().unwrap().person_id_for_id_number(ID_NUMBER).unwrap(), person);

    // The same command retried on the other node seals to the same bytes: already committed.
    wait_for_head(&b, a.store().head().next_position);
    let retry = run(&b, command_id, "investigator-1", "2025-06-10T00:00:00Z", &body).unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.positions, first.positions);
    assert_eq!(b.store().head().next_position, a.store().head().next_position);

    // B opens what A sealed, and its copy of the vault then holds the key.
    assert_eq!(b.vault().unwrap().open_field(&sealed_name(&b, "incident-T1")).unwrap(), Personal::Plain(NAME.into()));
    assert!(db.path().join("vault").join("keys").join(format!("{person}.key")).exists());
    let report = anquan::engine::privacy::verify_vault(b.store(), &db.path().join("vault")).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.keys_good, 1);

    // A node that joins later takes the pseudonym key and the person's key from the cluster.
    let dc = tempfile::tempdir().unwrap();
    let c = node(dc.path(), options(&nats, "t1", "c", 3));
    assert_eq!(c.vault().unwrap().person_id_for_id_number(ID_NUMBER).unwrap(), person);
    wait_for_head(&c, a.store().head().next_position);
    assert_eq!(c.vault().unwrap().open_field(&sealed_name(&c, "incident-T1")).unwrap(), Personal::Plain(NAME.into()));
}

#[test]
fn racing_nodes_agree_on_one_pseudonym_key_and_one_key_per_person() {
    let nats = NatsCluster::start(1);
    for round in 0..3 {
        let tenant = format!("race{round}");
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let barrier = Arc::new(Barrier::new(dirs.len()));
        let sealed: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = dirs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let (barrier, options) = (barrier.clone(), options(&nats, &tenant, &format!("n{i}"), 1));
                    s.spawn(move || {
                        barrier.wait();
                        let vault = Vault::open_for_store(d.path(), &options).unwrap();
                        barrier.wait();
                        let person = EntityId::new("patient-9").unwrap();
                        let value = vault.seal(&person, PersonalKind::Name, PATIENT, b"ctx").unwrap().unwrap();
                        (vault.person_id_for_id_number(ID_NUMBER).unwrap(), value, vault)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (person, value, _) = &sealed[0];
        for (other_person, other_value, vault) in &sealed {
            assert_eq!(other_person, person, "round {round}: one pseudonym key");
            // Same key, same context: byte-identical seals, and each opens the others'.
            assert_eq!(other_value, value, "round {round}: one key for the person");
            assert_eq!(vault.open_sealed(value).unwrap(), Personal::Plain(PATIENT.into()));
        }
    }
}

#[test]
fn an_erasure_on_one_node_reaches_the_others_and_leaves_no_key_in_the_cluster() {
    let nats = NatsCluster::start(1);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path(), options(&nats, "t3", "a", 1));
    let b = node(db.path(), options(&nats, "t3", "b", 1));
    run(&a, Uuid::new_v4(), "hospital-1", "2025-05-02T00:00:00Z", &injury("INJ-1", "patient-7")).unwrap();
    wait_for_head(&b, a.store().head().next_position);
    let name = sealed_name(&b, "injury-INJ-1");
    assert_eq!(b.vault().unwrap().open_field(&name).unwrap(), Personal::Plain(PATIENT.into()));
    let b_key = db.path().join("vault").join("keys").join("patient-7.key");
    assert!(b_key.exists(), "B cached the key it opened with");

    let person = EntityId::new("patient-7").unwrap();
    a.erase_person(&EraseRequest {
        person_id: person.clone(),
        actor: EntityId::new("admin-1").unwrap(),
        reason: "本人申请删除个人信息 (PIPL 第四十七条)".into(),
        issued_at: "2025-07-01T00:00:00Z".parse().unwrap(),
        command_id: Uuid::new_v4(),
    })
    .unwrap();
    assert_eq!(a.vault().unwrap().open_field(&name).unwrap(), Personal::Erased);

    // B learns the tombstone by following the cluster's vault and destroys its copy of the key.
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.vault().unwrap().open_field(&name).unwrap() != Personal::Erased || b_key.exists() {
        assert!(Instant::now() < deadline, "B still opens the erased person's name, or keeps their key");
        std::thread::sleep(Duration::from_millis(20));
    }
    // And refuses to collect the person's information again.
    let again = run(&b, Uuid::new_v4(), "hospital-1", "2025-05-03T00:00:00Z", &injury("INJ-2", "patient-7"));
    match again {
        Err(EngineError::Rejected(r)) => assert_eq!(r.rule, RULE_ERASED, "{r:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The key is gone from the cluster: a fresh node reads the name as erased, never as plain.
    let dc = tempfile::tempdir().unwrap();
    let c = Vault::open_for_store(dc.path(), &options(&nats, "t3", "c", 1)).unwrap();
    assert!(!c.has_key(&person).unwrap());
    assert_eq!(c.open_field(&name).unwrap(), Personal::Erased);
    assert!(!dc.path().join("vault").join("keys").join("patient-7.key").exists());
}

#[test]
fn an_unreachable_cluster_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = ClusterOptions::new(vec![format!("nats://127.0.0.1:{port}")], "t4", "a");
    c.connect_timeout = Duration::from_secs(1);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err =
        Vault::open_for_store(dir.path(), &StoreOptions { cluster: Some(c), ..StoreOptions::default() }).unwrap_err();
    assert!(matches!(err, PrivacyError::Cluster(_)), "{err:?}");
    assert!(err.to_string().contains("cannot be reached"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing was created in the folder on a failed open.
    assert!(!dir.path().join("vault").exists());
}

#[test]
fn a_vault_from_before_cluster_mode_with_another_pseudonym_key_is_refused() {
    let nats = NatsCluster::start(1);
    let (joined, older) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Vault::open_for_store(joined.path(), &options(&nats, "t5", "a", 1)).unwrap();
    let before = Vault::open_beside_store(older.path()).unwrap();
    assert_ne!(before.person_id_for_id_number(ID_NUMBER).unwrap(), first.person_id_for_id_number(ID_NUMBER).unwrap());
    drop(before);
    let err = Vault::open_for_store(older.path(), &options(&nats, "t5", "b", 1)).unwrap_err();
    assert!(matches!(err, PrivacyError::Cluster(_)), "{err:?}");
    assert!(err.to_string().contains("differs from the tenant's pseudonym key"), "{err}");
}
