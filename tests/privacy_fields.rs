//! The names of natural persons that sealing now covers beyond the 四不放过 and injury records:
//! a hazard's reporter (群众举报), the person or unit responsible in a rectification order, a
//! grid's responsible person (added and reassigned) and a community's on-site assessor.
//!
//! Through the engine with a vault, each is sealed before it reaches the log (read back through
//! the store and scanned in every file of the store folder), opens through the vault, reads as
//! erased once its person is erased (also in the export), and events written before sealing
//! covered it (v1, plain text) still decode, as `Plain`. The domain rules that changed with the
//! types are checked given/when/then.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anquan::domain::{parse_command_json, rule, CommandEnvelope};
use anquan::engine::privacy::{Personal, PersonalField, PersonalKind, Vault, RULE_ERASED, RULE_NO_VAULT};
use anquan::engine::{CommandOutcome, Engine, EngineError};
use anquan::events::community::*;
use anquan::events::hazard::*;
use anquan::events::person::NONCE_LEN;
use anquan::events::{DomainEvent, EntityId};
use anquan::interface::transfer;
use anquan::internals::codec;
use anquan::internals::testing::{at, date, given, history, id};
use anquan::internals::{
    CommunityAssessedV1, GridAddedV1, GridResponsibleAssignedV1, HazardReportedV1, RectificationOrderedV1,
};
use anquan::projections::{rebuild_all, state_bytes};
use anquan::store::{Compression, Direction, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, Timestamp};
use serde_json::{json, Value};
use uuid::Uuid;

const REPORTER: &str = "赵热心群众";
const RESPONSIBLE: &str = "钱责任人";
const GRID_PERSON: &str = "孙网格员";
const NEXT_GRID_PERSON: &str = "李接任员";
const ASSESSOR: &str = "周评定专家";
/// Free text of the same hazard, stored as it is: the file scan must find it, or it reads
/// nothing of the payloads.
const DESCRIPTION: &str = "五号楼楼道堆放杂物堵塞通道";

/// Segments uncompressed, so that plaintext in a payload would show in the raw files.
fn options() -> StoreOptions {
    StoreOptions { segment_compression: Compression::None, ..StoreOptions::default() }
}

fn engine(dir: &Path) -> Engine {
    Engine::new(EventStore::open_dir(dir, options()).unwrap())
        .unwrap()
        .with_vault(Arc::new(Vault::open_beside_store(dir).unwrap()))
}

fn run_id(e: &Engine, command_id: Uuid, at: &str, body: Value) -> Result<CommandOutcome, EngineError> {
    let cmd = json!({ "command_id": command_id.to_string(), "actor": "officer-1", "issued_at": at, "command": body });
    e.execute_json(&cmd.to_string())
}

fn run(e: &Engine, at: &str, body: Value) -> Result<CommandOutcome, EngineError> {
    run_id(e, Uuid::new_v4(), at, body)
}

fn rejected(e: &Engine, at: &str, body: Value) -> (String, String) {
    let head = e.store().head();
    let err = run(e, at, body).unwrap_err();
    assert_eq!(e.store().head(), head, "a refused command wrote something");
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    (r.field, r.rule)
}

fn register() -> Value {
    json!({"type": "community.register", "community_id": "jd-01", "name": "新华街道", "kind": "urban_street",
           "district": "示范区", "population": 86000, "population_as_of": "2024-12-31"})
}

fn add_grid(person: impl Into<Value>) -> Value {
    let person: Value = person.into();
    json!({"type": "community.add_grid", "community_id": "jd-01", "grid_id": "g-1", "name": "第一网格",
           "responsible_person": person})
}

fn assign_grid(person: impl Into<Value>) -> Value {
    let person: Value = person.into();
    json!({"type": "community.assign_grid_responsible", "community_id": "jd-01", "grid_id": "g-1",
           "responsible_person": person})
}

fn start_creation() -> Value {
    json!({"type": "community.start_creation", "community_id": "jd-01", "started_on": "2024-03-01"})
}

fn assess(assessor: impl Into<Value>) -> Value {
    let assessor: Value = assessor.into();
    json!({"type": "community.record_assessment", "community_id": "jd-01", "assessed_on": "2025-01-10",
           "assessor": assessor, "passed": true})
}

fn report(hazard: &str, reporter: impl Into<Value>) -> Value {
    let reporter: Value = reporter.into();
    json!({"type": "hazard.report", "hazard_id": hazard, "source": "resident_report", "reporter": reporter,
           "community_id": "jd-01", "grid_id": "g-1", "enterprise_id": null, "category": "fire",
           "location": "五号楼", "description": DESCRIPTION, "found_at": "2025-03-02T07:30:00Z"})
}

fn grade(hazard: &str, grade: &str) -> Value {
    json!({"type": "hazard.grade", "hazard_id": hazard, "grade": grade, "criterion": "MEM-10",
           "criterion_version": "2023", "basis": null})
}

fn order(hazard: &str, responsible: Option<impl Into<Value>>) -> Value {
    let responsible: Option<Value> = responsible.map(Into::into);
    json!({"type": "hazard.order_rectification", "hazard_id": hazard, "responsible": responsible,
           "measures": "清理杂物，恢复通道", "funds_yuan": 3000, "deadline": "2025-04-01",
           "contingency_plan": "整改期间专人值守"})
}

/// A community with its grid reassigned and assessed, and a major hazard reported and ordered:
/// each of the five newly sealed fields once.
fn record_all(e: &Engine) {
    run(e, "2025-01-02T00:00:00Z", register()).unwrap();
    run(e, "2025-01-03T00:00:00Z", add_grid(GRID_PERSON)).unwrap();
    run(e, "2025-01-04T00:00:00Z", assign_grid(NEXT_GRID_PERSON)).unwrap();
    run(e, "2025-01-05T00:00:00Z", start_creation()).unwrap();
    run(e, "2025-01-11T00:00:00Z", assess(ASSESSOR)).unwrap();
    run(e, "2025-03-02T08:00:00Z", report("H1", REPORTER)).unwrap();
    run(e, "2025-03-02T09:00:00Z", grade("H1", "major")).unwrap();
    run(e, "2025-03-03T09:00:00Z", order("H1", Some(RESPONSIBLE))).unwrap();
}

/// The five fields: event type, JSON member and the plaintext sent, in the order `record_all`
/// wrote them.
const FIELDS: [(&str, &str, &str); 5] = [
    ("community.grid_added", "responsible_person", GRID_PERSON),
    ("community.grid_responsible_assigned", "responsible_person", NEXT_GRID_PERSON),
    ("community.assessed", "assessor", ASSESSOR),
    ("hazard.reported", "reporter", REPORTER),
    ("hazard.rectification_ordered", "responsible", RESPONSIBLE),
];

/// One of the five fields as the log holds it.
struct Stored {
    event_type: &'static str,
    member: &'static str,
    plaintext: &'static str,
    value: PersonalField,
}

/// The five fields as `Engine::load` decodes them from the log.
fn stored(e: &Engine) -> Vec<Stored> {
    let events: Vec<DomainEvent> = ["community-jd-01", "hazard-H1"].iter().flat_map(|s| e.load(s).unwrap()).collect();
    FIELDS
        .iter()
        .map(|&(event_type, member, plaintext)| {
            let event = events.iter().find(|ev| ev.event_type() == event_type).unwrap();
            let json = serde_json::to_value(event).unwrap()[member].clone();
            Stored { event_type, member, plaintext, value: serde_json::from_value(json).unwrap() }
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The files below `dir` (the vault included: it holds keys, never names) whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if contains(&std::fs::read(&path).unwrap(), needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// The export (opened with the engine's vault), one line per event type (the last of a type).
fn exported(e: &Engine) -> BTreeMap<String, Value> {
    let mut out = Vec::new();
    transfer::export_with_vault(e.store(), e.vault(), &mut out, |_| {}).unwrap();
    let mut by_type = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("trailer").is_some() {
            continue;
        }
        by_type.insert(v["event_type"].as_str().unwrap().to_string(), v);
    }
    by_type
}

fn erase(e: &Engine, person: &EntityId) -> Result<CommandOutcome, EngineError> {
    e.erase_person(&anquan::engine::EraseRequest {
        person_id: person.clone(),
        actor: id("admin-1"),
        reason: "本人申请删除个人信息 (PIPL 第四十七条)".into(),
        issued_at: at("2025-07-01T00:00:00Z"),
        command_id: Uuid::new_v4(),
    })
}

#[test]
fn each_new_personal_field_is_sealed_in_the_log_and_in_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    record_all(&e);
    let secrets = [REPORTER, RESPONSIBLE, GRID_PERSON, NEXT_GRID_PERSON, ASSESSOR];

    // Every payload, read back through the store (decompressed there).
    let events = e.store().read_all(0, Direction::Forward, usize::MAX).unwrap();
    assert!(events.iter().any(|r| contains(&r.payload, DESCRIPTION)), "free text is stored as it is");
    for r in &events {
        for s in secrets {
            assert!(!contains(&r.payload, s), "{s} in plain text in the payload of {}", r.event_type);
        }
    }

    // Each field is sealed, each mention under its own person, and opens to what was sent.
    let vault = e.vault().unwrap();
    let fields = stored(&e);
    let mut persons: Vec<&EntityId> = fields.iter().map(|f| f.value.person_id().expect("sealed")).collect();
    persons.sort();
    persons.dedup();
    assert_eq!(persons.len(), 5, "no host person ids: one mention id each");
    for f in &fields {
        assert_eq!(f.value.sealed().unwrap().kind, PersonalKind::Name, "{}", f.event_type);
        assert_eq!(vault.open_field(&f.value).unwrap(), Personal::Plain(f.plaintext.into()), "{}", f.event_type);
    }

    // Read models hold none of them; the sealed responsible counts as in place (五到位).
    let all = rebuild_all(e.store()).unwrap();
    let five = all.hazard_ledger.five_in_place(true);
    assert_eq!((five.ordered, five.complete), (1, 1), "{five:?}");
    let states = [
        state_bytes(&all.hazard_ledger).unwrap(),
        state_bytes(&all.accident_stats).unwrap(),
        state_bytes(&all.trails).unwrap(),
        state_bytes(&all.injury_surveillance).unwrap(),
        state_bytes(&all.promotion).unwrap(),
    ];
    for (i, bytes) in states.iter().enumerate() {
        for s in secrets {
            assert!(!contains(bytes, s), "{s} in projection {i}");
        }
    }

    // Every file of the store folder, after a close (segments uncompressed: see `options`).
    e.into_store().close().unwrap();
    assert!(!files_holding(dir.path(), DESCRIPTION).is_empty(), "the scan reads the stored payloads");
    for s in secrets {
        assert_eq!(files_holding(dir.path(), s), Vec::<String>::new(), "{s} in plain text");
    }
}

#[test]
fn erasing_each_person_erases_their_field_only_and_the_export_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    record_all(&e);
    let vault = e.vault().unwrap();
    let fields = stored(&e);
    let head_before = e.store().head();
    let before = exported(&e);
    for f in &fields {
        let member = &before[f.event_type]["event"][f.member];
        assert_eq!(member["personal"], "plain", "{}", f.event_type);
        assert_eq!(member["value"], f.plaintext, "{}", f.event_type);
    }

    for (i, f) in fields.iter().enumerate() {
        let person = f.value.person_id().unwrap();
        erase(&e, person).unwrap();
        assert_eq!(vault.open_field(&f.value).unwrap(), Personal::Erased, "{}", f.event_type);
        for later in &fields[i + 1..] {
            assert_eq!(vault.open_field(&later.value).unwrap(), Personal::Plain(later.plaintext.into()));
        }
        let lines = exported(&e);
        let line = &lines[f.event_type];
        assert_eq!(
            line["event"][f.member],
            json!({"personal": "erased", "person_id": person.as_str(), "kind": "name"}),
            "{}",
            f.event_type
        );
        assert!(!line.to_string().contains(f.plaintext), "{line}");
        // The payload bytes are those written before any erasure.
        assert_eq!(line["payload_hex"], before[f.event_type]["payload_hex"]);
    }
    // Five audit events appended, nothing else changed, the chain verifies.
    assert_eq!(e.store().head().next_position, head_before.next_position + 5);
    assert!(e.store().verify().unwrap().problem.is_none());
}

#[test]
fn a_host_person_id_links_mentions_and_one_erasure_covers_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    run(&e, "2025-01-02T00:00:00Z", register()).unwrap();
    let mut grid = add_grid(GRID_PERSON);
    grid["responsible_person_id"] = json!("resident-42");
    run(&e, "2025-01-03T00:00:00Z", grid).unwrap();
    let mut hazard = report("H1", GRID_PERSON);
    hazard["reporter_person_id"] = json!("resident-42");
    run(&e, "2025-03-02T08:00:00Z", hazard).unwrap();
    let mut other = report("H2", REPORTER);
    other["reporter_person_id"] = json!("resident-7");
    run(&e, "2025-03-02T08:10:00Z", other).unwrap();

    let reporter_of = |hazard: &str| {
        e.load(&format!("hazard-{hazard}"))
            .unwrap()
            .into_iter()
            .find_map(|ev| match ev {
                DomainEvent::Hazard(HazardEvent::Reported(r)) => Some(r.reporter),
                _ => None,
            })
            .unwrap()
    };
    let grid_person = e
        .load("community-jd-01")
        .unwrap()
        .into_iter()
        .find_map(|ev| match ev {
            DomainEvent::Community(CommunityEvent::GridAdded(g)) => Some(g.responsible_person),
            _ => None,
        })
        .unwrap();
    let resident = id("resident-42");
    assert_eq!(grid_person.person_id(), Some(&resident));
    assert_eq!(reporter_of("H1").person_id(), Some(&resident));

    erase(&e, &resident).unwrap();
    let vault = e.vault().unwrap();
    assert_eq!(vault.open_field(&grid_person).unwrap(), Personal::Erased);
    assert_eq!(vault.open_field(&reporter_of("H1")).unwrap(), Personal::Erased);
    assert_eq!(vault.open_field(&reporter_of("H2")).unwrap(), Personal::Plain(REPORTER.into()));

    // An erased person is not collected again under that id.
    let mut again = assign_grid(GRID_PERSON);
    again["responsible_person_id"] = json!("resident-42");
    let (field, code) = rejected(&e, "2025-07-02T00:00:00Z", again);
    assert_eq!((field.as_str(), code.as_str()), ("/command/responsible_person_id", RULE_ERASED));
}

#[test]
fn an_engine_without_a_vault_refuses_each_new_personal_field() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    run(&e, "2025-01-02T00:00:00Z", register()).unwrap();
    let cases = [
        (add_grid(GRID_PERSON), "/command/responsible_person"),
        (assign_grid(NEXT_GRID_PERSON), "/command/responsible_person"),
        (assess(ASSESSOR), "/command/assessor"),
        (report("H1", REPORTER), "/command/reporter"),
        (order("H1", Some(RESPONSIBLE)), "/command/responsible"),
    ];
    for (body, field) in cases {
        let got = rejected(&e, "2025-03-03T09:00:00Z", body);
        assert_eq!((got.0.as_str(), got.1.as_str()), (field, RULE_NO_VAULT));
    }
    // An order naming nobody carries no personal field: it reaches the domain (which finds no
    // hazard H1 here), so no vault is asked for.
    let got = rejected(&e, "2025-03-03T09:00:00Z", order("H1", None::<&str>));
    assert_eq!((got.0.as_str(), got.1.as_str()), ("/command/hazard_id", rule::NOT_FOUND));
}

#[test]
fn plaintext_is_checked_before_sealing_and_a_blank_responsible_is_left_to_five_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    run(&e, "2025-01-02T00:00:00Z", register()).unwrap();
    run(&e, "2025-01-03T00:00:00Z", add_grid(GRID_PERSON)).unwrap();
    run(&e, "2025-01-05T00:00:00Z", start_creation()).unwrap();
    for (h, g) in [("H1", "major"), ("H2", "general")] {
        run(&e, "2025-03-02T08:00:00Z", report(h, REPORTER)).unwrap();
        run(&e, "2025-03-02T09:00:00Z", grade(h, g)).unwrap();
    }
    let cases = [
        (report("H3", "  "), "/command/reporter", rule::REQUIRED),
        (add_grid("张".repeat(201)), "/command/responsible_person", rule::TOO_LONG),
        // A host may not send a pre-sealed value.
        (assign_grid(sealed("p-1", "name")), "/command/responsible_person", rule::MALFORMED),
        (assess("周\u{202E}某"), "/command/assessor", rule::MALFORMED),
        (order("H2", Some(" ")), "/command/responsible", rule::REQUIRED),
        (order("H1", Some(" ")), "/command/responsible", rule::FIVE_IN_PLACE_MISSING),
    ];
    for (body, field, code) in cases {
        let got = rejected(&e, "2025-03-03T09:00:00Z", body);
        assert_eq!((got.0.as_str(), got.1.as_str()), (field, code));
    }
    // 五到位 names the blank responsible as the one missing item, as it did before sealing.
    let Err(EngineError::Rejected(r)) = run(&e, "2025-03-03T09:00:00Z", order("H1", Some(""))) else { panic!() };
    assert_eq!(r.items, ["responsible"]);
}

#[test]
fn a_retried_report_seals_to_the_same_bytes_and_is_found_committed() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let command_id = Uuid::new_v4();
    let first = run_id(&e, command_id, "2025-03-02T08:00:00Z", report("H1", REPORTER)).unwrap();
    let again = run_id(&e, command_id, "2025-03-02T08:00:00Z", report("H1", REPORTER)).unwrap();
    assert!(!first.already_committed && again.already_committed);
    assert_eq!(first.positions, again.positions);
    let err = run_id(&e, command_id, "2025-03-02T08:00:00Z", report("H1", "别人")).unwrap_err();
    let EngineError::Rejected(r) = err else { panic!("{err}") };
    assert_eq!(r.rule, rule::DUPLICATE);
}

// ---- events written before sealing (v1) ---------------------------------------------------

/// Payloads as the code before sealing wrote them (encoded from the then current structs, with
/// the values of the fixtures below), so the `…V1` structs are held to the real old format.
const GOLDEN_V1: [(&str, &str); 5] = [
    (
        "hazard.reported",
        "08485a2d4f4c442d310d686f746c696e652d313233343514323032342d30352d30365430323a30303a30305a0309e8b5b5e783ade5bf83056a642d303101086a642d30312d67320004666972650d35e58fb7e6a5bce6a5bce9819312e6a5bce98193e5a086e694bee69d82e789a914323032342d30352d30365430313a30303a30305a",
    ),
    (
        "hazard.rectification_ordered",
        "08485a2d4f4c442d31086275726561752d3114323032342d30352d30375430323a30303a30305a0109e992b1e8b49fe8b4a3010ce6b885e79086e69d82e789a901fb20030a323032342d30352d323000",
    ),
    (
        "community.grid_added",
        "056a642d30310c636f6d6d69747465652d303114323032342d30312d30325430323a30303a30305a086a642d30312d67320ae7acac32e7bd91e6a0bc09e5ad99e7bd91e6a0bc",
    ),
    (
        "community.grid_responsible_assigned",
        "056a642d30310c636f6d6d69747465652d303114323032342d30332d30325430323a30303a30305a086a642d30312d673209e69d8ee68ea5e4bbbb",
    ),
    (
        "community.assessed",
        "056a642d30310c636f6d6d69747465652d303114323032342d30362d30325430323a30303a30305a0a323032342d30362d303109e591a8e8af84e5ae9a01",
    ),
];

fn golden(event_type: &str) -> Vec<u8> {
    let hex = GOLDEN_V1.iter().find(|(t, _)| *t == event_type).unwrap().1;
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn reported_v1() -> HazardReportedV1 {
    HazardReportedV1 {
        hazard_id: id("HZ-OLD-1"),
        recorded_by: id("hotline-12345"),
        recorded_at: at("2024-05-06T02:00:00Z"),
        source: HazardSource::ResidentReport,
        reporter: "赵热心".into(),
        community_id: id("jd-01"),
        grid_id: Some(id("jd-01-g2")),
        enterprise_id: None,
        category: "fire".into(),
        location: "5号楼楼道".into(),
        description: "楼道堆放杂物".into(),
        found_at: at("2024-05-06T01:00:00Z"),
    }
}

fn ordered_v1() -> RectificationOrderedV1 {
    RectificationOrderedV1 {
        hazard_id: id("HZ-OLD-1"),
        recorded_by: id("bureau-1"),
        recorded_at: at("2024-05-07T02:00:00Z"),
        responsible: Some("钱负责".into()),
        measures: Some("清理杂物".into()),
        funds_yuan: Some(800),
        deadline: date("2024-05-20"),
        contingency_plan: None,
    }
}

fn grid_added_v1() -> GridAddedV1 {
    GridAddedV1 {
        community_id: id("jd-01"),
        recorded_by: id("committee-01"),
        recorded_at: at("2024-01-02T02:00:00Z"),
        grid_id: id("jd-01-g2"),
        name: "第2网格".into(),
        responsible_person: "孙网格".into(),
    }
}

fn grid_assigned_v1() -> GridResponsibleAssignedV1 {
    GridResponsibleAssignedV1 {
        community_id: id("jd-01"),
        recorded_by: id("committee-01"),
        recorded_at: at("2024-03-02T02:00:00Z"),
        grid_id: id("jd-01-g2"),
        responsible_person: "李接任".into(),
    }
}

fn assessed_v1() -> CommunityAssessedV1 {
    CommunityAssessedV1 {
        community_id: id("jd-01"),
        recorded_by: id("committee-01"),
        recorded_at: at("2024-06-02T02:00:00Z"),
        assessed_on: date("2024-06-01"),
        assessor: "周评定".into(),
        passed: true,
    }
}

/// Each old payload: (type, bytes encoded with its `…V1` struct, the current event it must become).
fn old_events() -> Vec<(&'static str, Vec<u8>, DomainEvent)> {
    let (r, o, g, a, s) = (reported_v1(), ordered_v1(), grid_added_v1(), grid_assigned_v1(), assessed_v1());
    vec![
        (
            "hazard.reported",
            codec::encode(&r).unwrap(),
            HazardEvent::Reported(HazardReported {
                hazard_id: r.hazard_id,
                recorded_by: r.recorded_by,
                recorded_at: r.recorded_at,
                source: r.source,
                reporter: PersonalField::Plain(r.reporter),
                community_id: r.community_id,
                grid_id: r.grid_id,
                enterprise_id: r.enterprise_id,
                category: r.category,
                location: r.location,
                description: r.description,
                found_at: r.found_at,
            })
            .into(),
        ),
        (
            "hazard.rectification_ordered",
            codec::encode(&o).unwrap(),
            HazardEvent::RectificationOrdered(RectificationOrdered {
                hazard_id: o.hazard_id,
                recorded_by: o.recorded_by,
                recorded_at: o.recorded_at,
                responsible: Some(PersonalField::Plain("钱负责".into())),
                measures: o.measures,
                funds_yuan: o.funds_yuan,
                deadline: o.deadline,
                contingency_plan: o.contingency_plan,
            })
            .into(),
        ),
        (
            "community.grid_added",
            codec::encode(&g).unwrap(),
            CommunityEvent::GridAdded(GridAdded {
                community_id: g.community_id,
                recorded_by: g.recorded_by,
                recorded_at: g.recorded_at,
                grid_id: g.grid_id,
                name: g.name,
                responsible_person: PersonalField::Plain(g.responsible_person),
            })
            .into(),
        ),
        (
            "community.grid_responsible_assigned",
            codec::encode(&a).unwrap(),
            CommunityEvent::GridResponsibleAssigned(GridResponsibleAssigned {
                community_id: a.community_id,
                recorded_by: a.recorded_by,
                recorded_at: a.recorded_at,
                grid_id: a.grid_id,
                responsible_person: PersonalField::Plain(a.responsible_person),
            })
            .into(),
        ),
        (
            "community.assessed",
            codec::encode(&s).unwrap(),
            CommunityEvent::Assessed(CommunityAssessed {
                community_id: s.community_id,
                recorded_by: s.recorded_by,
                recorded_at: s.recorded_at,
                assessed_on: s.assessed_on,
                assessor: PersonalField::Plain(s.assessor),
                passed: s.passed,
            })
            .into(),
        ),
    ]
}

#[test]
fn old_plain_events_upcast_to_the_current_version_as_plain() {
    for (event_type, bytes, expected) in old_events() {
        assert_eq!(bytes, golden(event_type), "{event_type}: the V1 struct no longer writes the old format");
        let event = DomainEvent::from_payload(event_type, 1, &bytes).unwrap();
        assert_eq!(event, expected);
        assert_eq!((event.event_type(), event.schema_version()), (event_type, 2));
        // The current version is a different format: v1 bytes do not pass for v2.
        assert!(DomainEvent::from_payload(event_type, 2, &bytes).is_err(), "{event_type}");
    }
}

#[test]
fn a_store_holding_old_plain_events_reads_exports_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let proposed = |event_type: &str| {
        ProposedEvent::new(
            event_type,
            1,
            Timestamp::from_chrono(at("2024-05-06T01:00:00Z")),
            "legacy",
            golden(event_type),
        )
    };
    let hazard = ["hazard.reported", "hazard.rectification_ordered"].map(proposed).to_vec();
    e.store().append("hazard-HZ-OLD-1", ExpectedVersion::NoStream, hazard).unwrap();
    let community =
        ["community.grid_added", "community.grid_responsible_assigned", "community.assessed"].map(proposed).to_vec();
    e.store().append("community-jd-01", ExpectedVersion::NoStream, community).unwrap();

    let mut loaded = e.load("hazard-HZ-OLD-1").unwrap();
    loaded.extend(e.load("community-jd-01").unwrap());
    let expected: Vec<DomainEvent> = old_events().into_iter().map(|(_, _, ev)| ev).collect();
    assert_eq!(loaded, expected);

    // The export shows the old plain names as they are (there is nothing to open).
    let lines = exported(&e);
    assert_eq!(lines["hazard.reported"]["event"]["reporter"], "赵热心");
    assert_eq!(lines["community.assessed"]["event"]["assessor"], "周评定");
    assert_eq!(
        rebuild_all(e.store()).unwrap().hazard_ledger.hazard("HZ-OLD-1").map(|h| h.found_at.to_rfc3339()),
        Some("2024-05-06T01:00:00+00:00".to_string())
    );

    // Decisions fold the upcast events: the old order put the hazard under rectification.
    let done = json!({"type": "hazard.report_rectification_done", "hazard_id": "HZ-OLD-1", "summary": "已清理"});
    run(&e, "2024-05-10T00:00:00Z", done).unwrap();
}

// ---- domain rules, given/when/then ----------------------------------------------------------

/// A command envelope for the pure domain, built from the same JSON a host sends.
fn domain(at: &str, body: Value) -> CommandEnvelope {
    let cmd =
        json!({ "command_id": Uuid::new_v4().to_string(), "actor": "officer-1", "issued_at": at, "command": body });
    parse_command_json(&cmd.to_string()).unwrap_or_else(|r| panic!("{r:?}"))
}

/// The JSON form of a well-formed sealed value (the domain checks its shape, never opens it).
fn sealed(person: &str, kind: &str) -> Value {
    json!({"sealed": "xchacha20poly1305", "person_id": person, "kind": kind,
           "nonce": "07".repeat(NONCE_LEN), "ciphertext": "09".repeat(20)})
}

fn with(mut body: Value, member: &str, value: &str) -> Value {
    body[member] = json!(value);
    body
}

fn graded(grade_code: &str) -> Vec<DomainEvent> {
    history([
        domain("2025-03-02T08:00:00Z", report("H1", "李某")),
        domain("2025-03-02T09:00:00Z", grade("H1", grade_code)),
    ])
}

fn registered() -> Vec<DomainEvent> {
    history([domain("2025-01-02T00:00:00Z", register())])
}

fn with_grid() -> Vec<DomainEvent> {
    history([domain("2025-01-02T00:00:00Z", register()), domain("2025-01-03T00:00:00Z", add_grid("王某"))])
}

fn started() -> Vec<DomainEvent> {
    history([domain("2025-01-02T00:00:00Z", register()), domain("2025-01-05T00:00:00Z", start_creation())])
}

const LATER: &str = "2025-03-03T09:00:00Z";

#[test]
fn a_sealed_reporter_is_recorded_as_it_came() {
    let body = with(report("H1", sealed("resident-7", "name")), "reporter_person_id", "resident-7");
    let events = given([]).when(domain(LATER, body)).accepted();
    let [DomainEvent::Hazard(HazardEvent::Reported(r))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.reporter, serde_json::from_value::<PersonalField>(sealed("resident-7", "name")).unwrap());
}

#[test]
fn a_major_order_with_a_sealed_responsible_has_all_five_in_place() {
    let events = given(graded("major")).when(domain(LATER, order("H1", Some(sealed("p-9", "name"))))).accepted();
    let [DomainEvent::Hazard(HazardEvent::RectificationOrdered(o))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(o.responsible, Some(serde_json::from_value(sealed("p-9", "name")).unwrap()));
}

#[test]
fn a_blank_plain_responsible_is_missing_from_five_in_place() {
    let r = given(graded("major"))
        .when(domain(LATER, order("H1", Some("   "))))
        .then_reject("/command/responsible", rule::FIVE_IN_PLACE_MISSING);
    assert_eq!(r.items, ["responsible"]);
    given(graded("general"))
        .when(domain(LATER, order("H1", Some("   "))))
        .then_reject("/command/responsible", rule::REQUIRED);
}

#[test]
fn a_sealed_value_of_another_person_than_the_one_named_is_rejected() {
    let other = || sealed("p-1", "name");
    let cases = [
        (vec![], with(report("H1", other()), "reporter_person_id", "p-2"), "/command/reporter"),
        (graded("general"), with(order("H1", Some(other())), "responsible_person_id", "p-2"), "/command/responsible"),
        (registered(), with(add_grid(other()), "responsible_person_id", "p-2"), "/command/responsible_person"),
        (with_grid(), with(assign_grid(other()), "responsible_person_id", "p-2"), "/command/responsible_person"),
        (started(), with(assess(other()), "assessor_person_id", "p-2"), "/command/assessor"),
    ];
    for (history, body, field) in cases {
        given(history).when(domain(LATER, body)).then_reject(field, rule::MALFORMED);
    }
    // The person named is fine.
    given(started()).when(domain(LATER, with(assess(sealed("p-2", "name")), "assessor_person_id", "p-2"))).accepted();
}

#[test]
fn a_sealed_id_number_where_a_name_belongs_is_rejected() {
    let id_number = || sealed("p-1", "id_number");
    let cases = [
        (vec![], report("H1", id_number()), "/command/reporter"),
        (graded("major"), order("H1", Some(id_number())), "/command/responsible"),
        (registered(), add_grid(id_number()), "/command/responsible_person"),
        (started(), assess(id_number()), "/command/assessor"),
    ];
    for (history, body, field) in cases {
        given(history).when(domain(LATER, body)).then_reject(field, rule::MALFORMED);
    }
}

#[test]
fn plain_names_keep_the_text_rules() {
    let cases = [
        (vec![], report("H1", " "), "/command/reporter", rule::REQUIRED),
        (registered(), add_grid("张".repeat(201)), "/command/responsible_person", rule::TOO_LONG),
        (with_grid(), assign_grid(""), "/command/responsible_person", rule::REQUIRED),
        (started(), assess("周\u{0007}"), "/command/assessor", rule::MALFORMED),
    ];
    for (history, body, field, code) in cases {
        given(history).when(domain(LATER, body)).then_reject(field, code);
    }
}
