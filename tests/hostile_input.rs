//! Hostile input through the JSON command path and the store's append API (issue 7).
//!
//! Every rejection must name the field (a JSON pointer) and the rule broken, and must leave the
//! store's head exactly as it was. Findings where the system accepts what it arguably should not
//! are pinned here as they are, with a `FINDING` comment, so a fix shows up as a test change.

mod common;

use anquan::domain::rule;
use anquan::engine::{Engine, EngineError};
use anquan::store::{EventStore, ExpectedVersion, Head, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

fn engine(dir: &std::path::Path) -> Engine {
    // A hazard's reporter is personal information: sealed under keys in the vault.
    Engine::new(EventStore::open(dir).expect("open store"))
        .expect("engine")
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).expect("open vault")))
}

fn envelope(command_id: Uuid, issued_at: &str, body: Value) -> Value {
    json!({ "command_id": command_id.to_string(), "actor": "grid-7", "issued_at": issued_at, "command": body })
}

fn hazard_body(id: &str) -> Value {
    json!({
        "type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
        "community_id": "jd-01", "grid_id": "g-3", "enterprise_id": null, "category": "fire",
        "location": "3号楼地下室", "description": "电动车楼道充电", "found_at": "2025-03-02T07:30:00Z"
    })
}

fn incident_body(id: &str) -> Value {
    json!({
        "type": "incident.report", "incident_id": id, "occurred_at": "2025-06-01T01:30:00Z",
        "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "jd-01", "enterprise_id": "E1",
        "category": "production", "deaths": 1, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
        "direct_loss_yuan": 100000, "summary": "机械伤害"
    })
}

const HAZARD_AT: &str = "2025-03-02T08:00:00Z";
const INCIDENT_AT: &str = "2025-06-01T03:00:00Z";

/// Sets `/command/<field>` (or an envelope member when `field` starts with `$`).
fn with(mut env: Value, field: &str, value: Value) -> Value {
    let target = match field.strip_prefix('$') {
        Some(top) => &mut env[top],
        None => &mut env["command"][field],
    };
    *target = value;
    env
}

fn without(mut env: Value, field: &str) -> Value {
    if let Some(obj) = env["command"].as_object_mut() {
        obj.remove(field);
    }
    env
}

/// A store with one committed event, so "nothing written" is checked against a non-empty log.
fn seeded(dir: &std::path::Path) -> (Engine, Head) {
    let e = engine(dir);
    e.execute_json(&envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("SEED")).to_string()).expect("seed command");
    let head = e.store().head();
    assert_eq!(head.next_position, 1);
    (e, head)
}

/// Runs a command that must be rejected; returns the error after checking nothing was written.
fn rejected(e: &Engine, head: &Head, json: &str) -> EngineError {
    let err = match e.execute_json(json) {
        Ok(out) => panic!("hostile command accepted: {out:?}\n{json:.300}"),
        Err(err) => err,
    };
    assert_eq!(e.store().head(), *head, "a rejected command wrote something: {err}");
    err
}

/// The (field, rule) pairs of a rejection.
fn reasons(err: &EngineError) -> Vec<(String, String)> {
    match err {
        EngineError::Invalid(list) => list.iter().map(|r| (r.field.clone(), r.rule.clone())).collect(),
        EngineError::Rejected(r) => vec![(r.field.clone(), r.rule.clone())],
        other => panic!("expected a field-level rejection, got {other:?}"),
    }
}

/// Asserts one of the reasons is exactly at `field` with a rule satisfying `rule_ok`.
fn assert_reason(err: &EngineError, field: &str, rule_ok: impl Fn(&str) -> bool) {
    let rs = reasons(err);
    assert!(rs.iter().any(|(f, r)| f == field && rule_ok(r)), "expected a rejection at {field}, got {rs:?} ({err})");
}

fn assert_reason_is(err: &EngineError, field: &str, expected_rule: &str) {
    assert_reason(err, field, |r| r == expected_rule);
}

fn schema_rule(keyword: &'static str) -> impl Fn(&str) -> bool {
    move |r: &str| r == format!("schema_{keyword}")
}

#[test]
fn wrong_json_types_are_named_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), INCIDENT_AT, incident_body("I-1"));

    let err = rejected(&e, &head, &with(base(), "deaths", json!("three")).to_string());
    assert_reason(&err, "/command/deaths", schema_rule("type"));
    let err = rejected(&e, &head, &with(base(), "incident_id", json!(42)).to_string());
    assert_reason(&err, "/command/incident_id", schema_rule("type"));
    let err = rejected(&e, &head, &with(base(), "deaths", json!(1.5)).to_string());
    assert_reason(&err, "/command/deaths", |r| r.starts_with("schema_"));
    let err = rejected(&e, &head, &with(base(), "$issued_at", json!(1_700_000_000)).to_string());
    assert_reason(&err, "/issued_at", schema_rule("type"));
    let err = rejected(&e, &head, &with(base(), "$command_id", json!("not-a-uuid")).to_string());
    assert_reason(&err, "/command_id", schema_rule("format"));
    // The whole document of the wrong shape, and not JSON at all.
    let err = rejected(&e, &head, "[1,2,3]");
    assert!(!reasons(&err).is_empty());
    let err = rejected(&e, &head, "{\"command_id\":");
    assert_reason_is(&err, "", rule::MALFORMED);
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1"));

    let err = rejected(&e, &head, &without(base(), "description").to_string());
    assert_reason(&err, "/command/description", schema_rule("required"));
    let err = rejected(&e, &head, &with(base(), "smuggled", json!("x")).to_string());
    assert_reason(&err, "/command/smuggled", schema_rule("additionalProperties"));
    let err = rejected(&e, &head, &with(base(), "$role", json!("admin")).to_string());
    assert_reason(&err, "/role", schema_rule("additionalProperties"));
    let mut no_actor = base();
    no_actor.as_object_mut().unwrap().remove("actor");
    let err = rejected(&e, &head, &no_actor.to_string());
    assert_reason(&err, "/actor", schema_rule("required"));
    let err = rejected(&e, &head, &with(base(), "type", json!("hazard.delete_everything")).to_string());
    // The envelope schema lists the known types, so this is caught there (the body step's
    // `unknown_command_type` is a second line of defence).
    assert_reason(&err, "/command/type", |r| r == "schema_enum" || r == rule::UNKNOWN_COMMAND);
}

#[test]
fn negative_and_absurd_casualty_numbers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), INCIDENT_AT, incident_body("I-1"));

    for field in ["deaths", "serious_injuries", "minor_injuries", "missing", "direct_loss_yuan"] {
        let err = rejected(&e, &head, &with(base(), field, json!(-1)).to_string());
        assert_reason(&err, &format!("/command/{field}"), schema_rule("minimum"));
    }
    // Beyond u32: the schema's bound, not a wrap-around.
    let err = rejected(&e, &head, &with(base(), "deaths", json!(4_294_967_296u64)).to_string());
    assert_reason(&err, "/command/deaths", schema_rule("maximum"));
    // Fits the type, but not the world: the domain's plausibility bound.
    let err = rejected(&e, &head, &with(base(), "deaths", json!(4_000_000_000u32)).to_string());
    assert_reason_is(&err, "/command/deaths", rule::OUT_OF_RANGE);
    let err = rejected(&e, &head, &with(base(), "missing", json!(100_001)).to_string());
    assert_reason_is(&err, "/command/missing", rule::OUT_OF_RANGE);
    let err = rejected(&e, &head, &with(base(), "direct_loss_yuan", json!(u64::MAX)).to_string());
    assert_reason_is(&err, "/command/direct_loss_yuan", rule::OUT_OF_RANGE);
    // A huge float is not an integer.
    let err = rejected(&e, &head, &with(base(), "deaths", json!(1e300)).to_string());
    assert_reason(&err, "/command/deaths", |r| r.starts_with("schema_"));
}

#[test]
fn dates_out_of_range_or_after_issue_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1"));

    let err = rejected(&e, &head, &with(base(), "found_at", json!("2025-13-45T99:00:00Z")).to_string());
    assert_reason(&err, "/command/found_at", schema_rule("format"));
    let err = rejected(&e, &head, &with(base(), "found_at", json!("yesterday")).to_string());
    assert_reason(&err, "/command/found_at", schema_rule("format"));
    let err = rejected(&e, &head, &with(base(), "$issued_at", json!("0000-00-00T00:00:00Z")).to_string());
    assert_reason(&err, "/issued_at", schema_rule("format"));
    // Found one second after the command was issued.
    let err = rejected(&e, &head, &with(base(), "found_at", json!("2025-03-02T08:00:01Z")).to_string());
    assert_reason_is(&err, "/command/found_at", rule::IN_FUTURE);
    // An incident reported before it occurred.
    let inc =
        with(envelope(Uuid::new_v4(), INCIDENT_AT, incident_body("I-1")), "reported_at", json!("2025-06-01T01:00:00Z"));
    let err = rejected(&e, &head, &inc.to_string());
    assert_reason(&err, "/command/reported_at", |r| r == rule::TIME_ORDER || r == rule::IN_FUTURE);
}

/// FINDING: `issued_at` is the domain's only "now" and is trusted as sent. A command issued in
/// the year 9999, about facts in 9999, is accepted and written; there is no tolerance against a
/// real clock anywhere (domain or engine). This test pins the current behaviour.
#[test]
fn an_issued_at_beyond_the_clock_tolerance_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let future = "9999-12-31T23:00:00Z";
    let cmd = with(envelope(Uuid::new_v4(), future, hazard_body("H-FUTURE")), "found_at", json!(future));
    let err = rejected(&e, &head, &cmd.to_string());
    assert_reason_is(&err, "/issued_at", rule::IN_FUTURE);
}

#[test]
fn oversized_strings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1"));
    let mega = "危".repeat(350_000); // ~1 MB of UTF-8

    // Over the engine's 1 MiB input cap: refused before parsing.
    let err = rejected(&e, &head, &with(base(), "description", json!(mega)).to_string());
    assert_reason_is(&err, "", rule::TOO_LONG);
    let err = rejected(&e, &head, &with(base(), "description", json!("危".repeat(50_000))).to_string());
    assert_reason(&err, "/command/description", |r| r == rule::TOO_LONG || r == "schema_maxLength");
    let err = rejected(&e, &head, &with(base(), "reporter", json!("x".repeat(201))).to_string());
    assert_reason(&err, "/command/reporter", |r| r == rule::TOO_LONG || r == "schema_maxLength");
    let err = rejected(&e, &head, &with(base(), "hazard_id", json!("x".repeat(65))).to_string());
    assert_reason(&err, "/command/hazard_id", schema_rule("maxLength"));
    let err = rejected(&e, &head, &with(base(), "$actor", json!("x".repeat(1 << 20))).to_string());
    assert_reason_is(&err, "", rule::TOO_LONG);
    let err = rejected(&e, &head, &with(base(), "$actor", json!("x".repeat(129))).to_string());
    assert_reason(&err, "/actor", schema_rule("maxLength"));
    // Exactly at the limit passes (so the bound above is the rule, not something else).
    let ok = with(base(), "description", json!("危".repeat(anquan::domain::MAX_TEXT)));
    e.execute_json(&ok.to_string()).expect("4000 characters are allowed");
}

#[test]
fn control_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1"));

    for bad in ["bell\u{7}", "nul\u{0}inside", "esc\u{1b}[31m", "del\u{7f}", "c1\u{85}"] {
        let err = rejected(&e, &head, &with(base(), "description", json!(bad)).to_string());
        assert_reason_is(&err, "/command/description", rule::MALFORMED);
        let err = rejected(&e, &head, &with(base(), "location", json!(bad)).to_string());
        assert_reason_is(&err, "/command/location", rule::MALFORMED);
    }
    let err = rejected(&e, &head, &with(base(), "description", json!(" \n\t ")).to_string());
    assert_reason_is(&err, "/command/description", rule::REQUIRED);
}

#[test]
fn ids_with_separators_or_path_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let base = || envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1"));

    for bad in ["../x", "a/b", "a\\b", "a\u{0}b", "a b", "", "社区", "x\n", "%2e%2e"] {
        let err = rejected(&e, &head, &with(base(), "hazard_id", json!(bad)).to_string());
        assert_reason(&err, "/command/hazard_id", |r| r == "schema_pattern" || r == "schema_minLength");
        let err = rejected(&e, &head, &with(base(), "community_id", json!(bad)).to_string());
        assert_reason(&err, "/command/community_id", |r| r == "schema_pattern" || r == "schema_minLength");
        let err = rejected(&e, &head, &with(base(), "$actor", json!(bad)).to_string());
        assert_reason(&err, "/actor", |r| r == "schema_pattern" || r == "schema_minLength");
    }
    // The store is the last line of defence for callers that bypass the engine.
    let store = e.store();
    for bad in ["../x", "a/b", "a\u{0}b", "", "hazard-社区"] {
        let err = store.append(bad, ExpectedVersion::Any, vec![common::event("test.event", b"x")]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidStreamId { .. }), "{bad:?}: {err:?}");
    }
    assert_eq!(store.head(), head);
}

#[test]
fn duplicate_event_ids_at_the_store_level() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path());
    store.append("seed", ExpectedVersion::Any, vec![common::event("test.event", b"seed")]).unwrap();
    let head = store.head();

    // The same id twice in one append.
    let a = common::event("test.event", b"a");
    let mut twin = common::event("test.event", b"b");
    twin.event_id = a.event_id;
    let err = store.append("s-1", ExpectedVersion::Any, vec![a.clone(), twin]).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateEventInAppend { event_id } if event_id == a.event_id), "{err:?}");
    assert_eq!(store.head(), head);

    // Stored once; the same id with the same content again is an idempotent retry.
    let first = store.append("s-1", ExpectedVersion::Any, vec![a.clone()]).unwrap();
    let head = store.head();
    let again = store.append("s-1", ExpectedVersion::Any, vec![a.clone()]).unwrap();
    assert!(again.already_committed);
    assert_eq!(again.positions, first.positions);
    assert_eq!(store.head(), head);

    // The same id in another stream is a conflict, not a second copy.
    let err = store.append("s-2", ExpectedVersion::Any, vec![a.clone()]).unwrap_err();
    assert!(
        matches!(err, StoreError::EventIdConflict { .. } | StoreError::IdempotencyMismatch { .. }),
        "same id in another stream: {err:?}"
    );
    // The same id, same stream, different payload.
    let mut changed = a.clone();
    changed.payload = b"changed".to_vec();
    let err = store.append("s-1", ExpectedVersion::Any, vec![changed]).unwrap_err();
    assert!(
        matches!(err, StoreError::EventIdConflict { .. } | StoreError::IdempotencyMismatch { .. }),
        "same id, other content: {err:?}"
    );
    // Across streams inside one multi-stream append.
    let b = common::event("test.event", b"b");
    let mut b2 = common::event("test.event", b"b2");
    b2.event_id = b.event_id;
    let err = store
        .append_multi(vec![
            anquan::store::StreamAppend::new("s-3", ExpectedVersion::Any, vec![b]),
            anquan::store::StreamAppend::new("s-4", ExpectedVersion::Any, vec![b2]),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateEventInAppend { .. }), "{err:?}");
    assert_eq!(store.head(), head);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_replayed_command_returns_the_original_result_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = seeded(dir.path());
    let json = envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-1")).to_string();
    let first = e.execute_json(&json).unwrap();
    assert!(!first.already_committed);
    let head = e.store().head();
    for _ in 0..3 {
        let again = e.execute_json(&json).unwrap();
        assert!(again.already_committed);
        assert_eq!((&again.positions, &again.events, &again.stream), (&first.positions, &first.events, &first.stream));
        assert_eq!(e.store().head(), head);
    }
}

/// FINDING: the same command_id with a different body aimed at the same stream is answered as a
/// replay of the original (`already_committed`, the original events) — the new body is silently
/// ignored, not refused as a conflicting reuse of the id. Nothing is written, which is safe, but
/// the host is told its (different) command succeeded.
#[test]
fn the_same_command_id_with_another_body_on_the_same_stream_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = seeded(dir.path());
    let id = Uuid::new_v4();
    let first = e.execute_json(&envelope(id, HAZARD_AT, hazard_body("H-1")).to_string()).unwrap();
    let head = e.store().head();
    // The same command again is a retry: its first result, nothing written.
    let again = e.execute_json(&envelope(id, HAZARD_AT, hazard_body("H-1")).to_string()).unwrap();
    assert!(again.already_committed);
    assert_eq!(again.events, first.events);
    // Another body under the same id is refused, naming the field.
    let altered = with(envelope(id, HAZARD_AT, hazard_body("H-1")), "description", json!("完全不同的描述"));
    let err = rejected(&e, &head, &altered.to_string());
    assert_reason_is(&err, "/command_id", rule::DUPLICATE);
}

/// The same command_id with a body aimed at another stream: the derived event id is already
/// stored elsewhere, so the store refuses it, nothing is written, and the engine says so as a
/// rejection naming the field (so an import reports the line and goes on).
#[test]
fn same_command_id_with_another_body_other_stream_is_refused_by_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = seeded(dir.path());
    let id = Uuid::new_v4();
    e.execute_json(&envelope(id, HAZARD_AT, hazard_body("H-1")).to_string()).unwrap();
    let head = e.store().head();
    let err = rejected(&e, &head, &envelope(id, HAZARD_AT, hazard_body("H-2")).to_string());
    assert_reason_is(&err, "/command_id", rule::DUPLICATE);
}

/// FINDING: there is no lower plausibility bound on dates either: a command issued in year 1
/// about a hazard found in year 1 is accepted and written.
#[test]
fn dates_before_the_earliest_accepted_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let ancient = "0001-01-01T00:00:00Z";
    let cmd = with(envelope(Uuid::new_v4(), ancient, hazard_body("H-OLD")), "found_at", json!(ancient));
    let err = rejected(&e, &head, &cmd.to_string());
    assert_reason_is(&err, "/issued_at", rule::OUT_OF_RANGE);
}

/// FINDING: Unicode format characters (bidi overrides such as U+202E, zero-width U+200B) are
/// not control characters to `char::is_control`, so free text carrying them is accepted. They
/// can make a description display differently from what is stored (spoofing in exports).
#[test]
fn bidi_and_zero_width_characters_are_refused_in_free_text() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    for bad in ["已整改\u{202e}未", "已\u{200b}整改", "\u{feff}说明"] {
        let cmd = with(envelope(Uuid::new_v4(), HAZARD_AT, hazard_body("H-BIDI")), "description", json!(bad));
        let err = rejected(&e, &head, &cmd.to_string());
        assert_reason_is(&err, "/command/description", rule::MALFORMED);
    }
}

/// FINDING: duplicate JSON member names are not refused: the last one wins, so an invalid
/// first `actor` is silently discarded (a validator and a logger that read the first member
/// would disagree with what was executed). The reverse order is refused at `/actor`.
#[test]
fn duplicate_json_members_are_refused_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    let body = hazard_body("H-DUP").to_string();
    let doc = |first: &str, second: &str| {
        format!(
            r#"{{"command_id":"{}","actor":"{first}","actor":"{second}","issued_at":"{HAZARD_AT}","command":{body}}}"#,
            Uuid::new_v4()
        )
    };
    for (a, b) in [("grid-8", "evil/../x"), ("evil/../x", "grid-8"), ("grid-8", "grid-8")] {
        let err = rejected(&e, &head, &doc(a, b));
        assert_reason_is(&err, "/actor", rule::DUPLICATE);
    }
    // Nested too: a repeated member inside the command body.
    let nested = hazard_body("H-DUP").to_string().replacen('{', r#"{"category":"fire","#, 1);
    let doc = format!(
        r#"{{"command_id":"{}","actor":"grid-8","issued_at":"{HAZARD_AT}","command":{nested}}}"#,
        Uuid::new_v4()
    );
    let err = rejected(&e, &head, &doc);
    assert_reason_is(&err, "/command/category", rule::DUPLICATE);
}

/// Pathological JSON is refused by the parser with a clear `malformed` error.
#[test]
fn pathological_json_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let (e, head) = seeded(dir.path());
    for doc in [
        "[".repeat(100_000),
        r#"{"command_id":"\ud800"}"#.into(),
        r#"{"command_id":1e400}"#.into(),
        "\u{feff}{}".into(),
    ] {
        let err = rejected(&e, &head, &doc);
        assert_reason_is(&err, "", rule::MALFORMED);
    }
}

/// FINDING: the domain's per-field limits admit events larger than the store's 64 KiB event
/// limit (here 100 evidence references of 4000 characters each). The store refuses the append
/// and nothing is written, but the error is `EngineError::Store(EventTooLarge)`, with no field
/// or rule for the host.
#[test]
fn within_field_limits_but_over_the_event_size_limit_is_a_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    e.execute_json(&envelope(Uuid::new_v4(), INCIDENT_AT, incident_body("I-BIG")).to_string()).unwrap();
    let head = e.store().head();
    let body = json!({
        "type": "incident.determine_cause", "incident_id": "I-BIG", "cause": "设备老化",
        // 20 × 4000 characters: within every field limit and the 1 MiB input cap, but the event
        // would take ~240 KB, over the store's 64 KiB.
        "evidence": vec!["证".repeat(anquan::domain::MAX_TEXT); 20],
    });
    let err = rejected(&e, &head, &envelope(Uuid::new_v4(), "2025-06-02T03:00:00Z", body).to_string());
    assert_reason_is(&err, "/command", rule::TOO_LONG);
}
