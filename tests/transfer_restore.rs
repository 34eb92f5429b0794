//! Restoring an export proves what it restores: every hash recomputed, positions complete and in
//! order, the trailer present and matching, anchored by a head from outside the file when one is
//! given; and it is all or nothing (a refused restore leaves no store behind).

use std::path::Path;

use anquan::engine::Engine;
use anquan::events::incident::IncidentEvent;
use anquan::events::DomainEvent;
use anquan::interface::transfer::{self, Anchor, RestoreOptions, TransferError};
use anquan::store::EventStore;
use serde_json::{json, Value};
use uuid::Uuid;

fn send(e: &Engine, actor: &str, at: &str, body: Value) {
    let cmd = json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": at, "command": body });
    e.execute_json(&cmd.to_string()).unwrap();
}

/// A small log: a community, an incident with 3 deaths, its investigation opened.
fn exported(dir: &Path, sign: Option<&ed25519_dalek::SigningKey>) -> (String, String) {
    let e = Engine::new(EventStore::open(dir).unwrap()).unwrap();
    send(
        &e,
        "committee-1",
        "2025-01-02T00:00:00Z",
        json!({"type": "community.register", "community_id": "c1", "name": "城关街道", "kind": "urban_street",
               "district": "示范区", "population": 50000, "population_as_of": "2024-12-31"}),
    );
    send(
        &e,
        "duty-1",
        "2025-06-01T03:00:00Z",
        json!({"type": "incident.report", "incident_id": "I1", "occurred_at": "2025-06-01T01:30:00Z",
               "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "c1", "enterprise_id": null,
               "category": "production", "deaths": 3, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
               "direct_loss_yuan": 100000, "summary": "机械伤害"}),
    );
    send(
        &e,
        "bureau-1",
        "2025-06-02T03:00:00Z",
        json!({"type": "incident.open_investigation", "incident_id": "I1", "authority_level": "city", "authority": "市政府"}),
    );
    let mut buf = Vec::new();
    let options = transfer::ExportOptions { reveal: None, sign: sign.map(|k| (k, anquan::store::Timestamp(0))) };
    transfer::export_with(e.store(), &options, &mut buf, |_| {}).unwrap();
    let head = e.store().head().hash_hex();
    (String::from_utf8(buf).unwrap(), head)
}

fn restore(target: &Path, text: &str, options: &RestoreOptions) -> Result<transfer::RestoreReport, TransferError> {
    transfer::restore_export(target, text.as_bytes(), options, |_| {})
}

/// Nothing at the target and no staging folder left beside it.
fn nothing_written(target: &Path) {
    assert!(!target.exists(), "a refused restore left {}", target.display());
    let parent = target.parent().unwrap();
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> String {
    lines.join("\n") + "\n"
}

/// The incident report line with its payload's deaths changed to `deaths`.
fn with_deaths(line: &str, deaths: u32) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    let bytes = hex(v["payload_hex"].as_str().unwrap());
    let DomainEvent::Incident(IncidentEvent::Reported(mut r)) =
        DomainEvent::from_payload("incident.reported", v["schema_version"].as_u64().unwrap() as u16, &bytes).unwrap()
    else {
        panic!("not the report")
    };
    r.deaths = deaths;
    let (_, _, payload) = DomainEvent::Incident(IncidentEvent::Reported(r)).to_payload().unwrap();
    v["payload_hex"] = json!(payload.iter().map(|b| format!("{b:02x}")).collect::<String>());
    v.to_string()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn an_untouched_export_restores_with_the_same_head() {
    let dir = tempfile::tempdir().unwrap();
    let (text, head) = exported(&dir.path().join("a"), None);
    let target = dir.path().join("b");
    let report = restore(&target, &text, &RestoreOptions::default()).unwrap();
    assert_eq!(report.head_hash, head);
    assert_eq!(report.anchors, vec![Anchor::None], "nothing outside the file vouched for it");
    let store = EventStore::open(&target).unwrap();
    assert_eq!(store.head().hash_hex(), head);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn an_altered_payload_or_actor_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = exported(&dir.path().join("a"), None);
    let original = lines(&text);
    let report = original.iter().position(|l| l.contains("incident.reported")).unwrap();

    let mut deaths = original.clone();
    deaths[report] = with_deaths(&deaths[report], 9);
    let target = dir.path().join("deaths");
    let err = restore(&target, &join(&deaths), &RestoreOptions::default()).unwrap_err();
    assert!(
        matches!(err, TransferError::HashMismatch { line, position, .. } if line == report + 1 && position == report as u64),
        "{err}"
    );
    nothing_written(&target);

    let mut actor = original.clone();
    actor[report] = actor[report].replace("\"actor\":\"duty-1\"", "\"actor\":\"bureau-1\"");
    assert_ne!(actor, original);
    let target = dir.path().join("actor");
    let err = restore(&target, &join(&actor), &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::HashMismatch { .. }), "{err}");
    nothing_written(&target);
}

#[test]
fn cut_reordered_and_gapped_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = exported(&dir.path().join("a"), None);
    let original = lines(&text);
    let n = original.len();

    // Cut after two events: no trailer.
    let target = dir.path().join("cut");
    let err = restore(&target, &join(&original[..2]), &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::Truncated { .. }) && err.to_string().contains("without its trailer"), "{err}");
    nothing_written(&target);

    // The last event removed, trailer kept: the trailer counts one more.
    let mut short = original[..n - 2].to_vec();
    short.push(original[n - 1].clone());
    let target = dir.path().join("short");
    let err = restore(&target, &join(&short), &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::Truncated { .. }), "{err}");
    nothing_written(&target);

    // Two events swapped.
    let mut swapped = original.clone();
    swapped.swap(0, 1);
    let target = dir.path().join("swapped");
    let err = restore(&target, &join(&swapped), &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::PositionMismatch { line: 1, expected: 0, actual: 1 }), "{err}");
    nothing_written(&target);

    // A gap in the middle.
    let mut gapped = original.clone();
    gapped.remove(1);
    let target = dir.path().join("gapped");
    let err = restore(&target, &join(&gapped), &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::PositionMismatch { line: 2, expected: 1, actual: 2 }), "{err}");
    nothing_written(&target);

    // Anything after the trailer.
    let mut after = original.clone();
    after.push(original[0].clone());
    let target = dir.path().join("after");
    let err = restore(&target, &join(&after), &RestoreOptions::default()).unwrap_err();
    assert!(err.to_string().contains("after the trailer"), "{err}");
    nothing_written(&target);
}

/// A forger who recomputes every hash and the trailer passes the chain checks: only a head from
/// outside the file catches it, and without one the restore says nothing vouched for it.
#[test]
fn a_recomputed_forgery_is_caught_only_by_an_outside_head() {
    let dir = tempfile::tempdir().unwrap();
    let key = anquan::engine::notary::signing_key_from_secret(&[7u8; 32]);
    let (text, head) = exported(&dir.path().join("a"), Some(&key));
    let original = lines(&text);
    let report = original.iter().position(|l| l.contains("incident.reported")).unwrap();
    let mut forged = original.clone();
    forged[report] = with_deaths(&forged[report], 9);
    let forged = rechain(&forged);

    let target = dir.path().join("unanchored");
    let r = restore(&target, &forged, &RestoreOptions::default()).unwrap();
    assert_eq!(r.anchors, vec![Anchor::None]);
    assert_ne!(r.head_hash, head);

    let expect =
        RestoreOptions { expect_head: anquan::interface::transfer::from_hex_hash(&head), ..Default::default() };
    let target = dir.path().join("expected");
    let err = restore(&target, &forged, &expect).unwrap_err();
    assert!(matches!(err, TransferError::Anchor { .. }), "{err}");
    nothing_written(&target);
    // The genuine file passes the same check.
    let r = restore(&dir.path().join("genuine"), &text, &expect).unwrap();
    assert_eq!(r.anchors, vec![Anchor::ExpectedHead]);

    // The export's own signed trailer: the forger could not re-sign it.
    let signed = RestoreOptions { trailer_key: Some(key.verifying_key()), ..Default::default() };
    let target = dir.path().join("signed");
    let err = restore(&target, &forged, &signed).unwrap_err();
    assert!(matches!(err, TransferError::Anchor { .. }), "{err}");
    nothing_written(&target);
    let r = restore(&dir.path().join("genuine-signed"), &text, &signed).unwrap();
    let events = (original.len() - 1) as u64;
    assert!(matches!(&r.anchors[..], [Anchor::SignedHead { events: n, .. }] if *n == events), "{:?}", r.anchors);
}

/// Recomputes every hash and the trailer as a forger would (the trailer's signature is left as
/// it was: it cannot be recomputed without the key).
fn rechain(lines: &[String]) -> String {
    use anquan::internals::layout::{chain_hash, encode_record, RecordRef};
    let mut prev = [0u8; 32];
    let mut out = Vec::new();
    let to_hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for l in lines {
        let mut v: Value = serde_json::from_str(l).unwrap();
        if let Some(t) = v.get_mut("trailer") {
            t["head_hash"] = json!(to_hex(&prev));
            out.push(v.to_string());
            continue;
        }
        let id = |k: &str| v[k].as_str().map(|s| *Uuid::parse_str(s).unwrap().as_bytes());
        let payload = hex(v["payload_hex"].as_str().unwrap());
        let record = encode_record(&RecordRef {
            position: v["position"].as_u64().unwrap(),
            stream: v["stream"].as_str().unwrap(),
            version: v["version"].as_u64().unwrap(),
            event_type: v["event_type"].as_str().unwrap(),
            schema_version: v["schema_version"].as_u64().unwrap() as u16,
            event_id: id("event_id").unwrap(),
            occurred_at: v["occurred_at"].as_i64().unwrap(),
            recorded_at: v["recorded_at"].as_i64().unwrap(),
            actor: v["actor"].as_str().unwrap(),
            correlation_id: id("correlation_id"),
            causation_id: id("causation_id"),
            payload: &payload,
        })
        .unwrap();
        prev = chain_hash(&prev, &record);
        v["hash"] = json!(to_hex(&prev));
        out.push(v.to_string());
    }
    join(&out)
}

#[test]
fn a_check_writes_nothing_and_a_full_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (text, head) = exported(&dir.path().join("a"), None);
    let target = dir.path().join("checked");
    let r = restore(&target, &text, &RestoreOptions { check_only: true, ..Default::default() }).unwrap();
    assert!(!r.written);
    assert_eq!((r.events, r.head_hash.as_str()), (text.lines().count() as u64 - 1, head.as_str()));
    nothing_written(&target);

    // A folder holding anything is not a restore target; a stale staging folder is cleared.
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let err = restore(&full, &text, &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, TransferError::Target { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(full.join("notes.txt")).unwrap(), "mine");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(dir.path().join(".empty.restoring")).unwrap();
    std::fs::write(dir.path().join(".empty.restoring/half"), "left by a killed restore").unwrap();
    restore(&empty, &text, &RestoreOptions::default()).unwrap();
    assert_eq!(EventStore::open(&empty).unwrap().head().hash_hex(), head);
    nothing_written(&dir.path().join("never"));
}
