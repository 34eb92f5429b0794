//! Property fuzzing of the hostile-input surfaces (issue 7): the JSON command path, the event
//! payload decoder, and the segment decoder. No input may panic; a rejected command writes
//! nothing. Case counts are modest so the suite stays fast in debug builds.

mod common;

use anquan::engine::Engine;
use anquan::events::DomainEvent;
use anquan::internals::layout::{decode_segment, SegmentView};
use anquan::store::{EventStore, ExpectedVersion};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[a-z_./\\\\:\u{0}-\u{1f}-]{0,12}".prop_map(Value::String),
        Just(json!("2025-03-02T07:30:00Z")),
        Just(json!("+275760-09-13T00:00:00Z")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_commands() -> Vec<Value> {
    let env = |at: &str, body: Value| json!({ "command_id": "0190b7a8-6b2e-7c3d-8e4f-5a6b7c8d9e0f", "actor": "grid-7", "issued_at": at, "command": body });
    vec![
        env(
            "2025-03-02T08:00:00Z",
            json!({
                "type": "hazard.report", "hazard_id": "H-1", "source": "grid_inspection", "reporter": "李网格",
                "community_id": "jd-01", "grid_id": "g-3", "enterprise_id": null, "category": "fire",
                "location": "3号楼地下室", "description": "电动车楼道充电", "found_at": "2025-03-02T07:30:00Z"
            }),
        ),
        env(
            "2025-06-01T03:00:00Z",
            json!({
                "type": "incident.report", "incident_id": "I-1", "occurred_at": "2025-06-01T01:30:00Z",
                "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "jd-01", "enterprise_id": "E1",
                "category": "production", "deaths": 1, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
                "direct_loss_yuan": 100000, "summary": "机械伤害"
            }),
        ),
    ]
}

/// Runs one command; on a rejection the head must not have moved. Panics propagate as failures.
fn run_checked(e: &Engine, json: &str) -> Result<(), TestCaseError> {
    let before = e.store().head();
    if e.execute_json(json).is_err() {
        prop_assert_eq!(e.store().head(), before, "a rejected command wrote something");
    }
    Ok(())
}

#[test]
fn arbitrary_json_into_the_engine_never_panics_and_rejections_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap())
        .unwrap()
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir.path()).unwrap()));
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&prop_oneof![arb_json().prop_map(|v| v.to_string()), any::<String>(), ".{0,64}"], |s| run_checked(&e, &s))
        .unwrap();
}

#[test]
fn valid_commands_with_one_field_replaced_never_panic_and_rejections_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EventStore::open(dir.path()).unwrap())
        .unwrap()
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir.path()).unwrap()));
    let commands = valid_commands();
    let fields: Vec<(usize, bool, String)> = commands
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let top = c.as_object().into_iter().flat_map(|o| o.keys()).map(move |k| (i, true, k.clone()));
            let body = c["command"].as_object().into_iter().flat_map(|o| o.keys()).map(move |k| (i, false, k.clone()));
            top.chain(body).collect::<Vec<_>>()
        })
        .collect();
    let mut runner = TestRunner::new(config(384));
    runner
        .run(&(0..fields.len(), arb_json(), any::<bool>(), any::<u128>()), |(f, value, remove, id)| {
            let (i, top, name) = &fields[f];
            let mut cmd = commands[*i].clone();
            let target = if *top { &mut cmd } else { &mut cmd["command"] };
            if let Some(obj) = target.as_object_mut() {
                if remove {
                    obj.remove(name);
                } else {
                    obj.insert(name.clone(), value);
                }
            }
            if *top && name == "command_id" {
                // leave the fuzzed value
            } else if let Some(obj) = cmd.as_object_mut() {
                obj.insert("command_id".into(), json!(uuid::Uuid::from_u128(id).to_string()));
            }
            run_checked(&e, &cmd.to_string())
        })
        .unwrap();
    assert!(e.store().verify().unwrap().is_ok());
}

#[test]
fn arbitrary_bytes_into_every_event_decoder_never_panic() {
    let mut types = DomainEvent::all_types();
    types.push(("incident.reported", 1)); // the upcast path
    types.push(("no.such.event", 1));
    let mut runner = TestRunner::new(config(64));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..256), |bytes| {
            for (t, v) in &types {
                for version in [*v, v.wrapping_add(1), 0, u16::MAX] {
                    let _ = DomainEvent::from_payload(t, version, &bytes);
                }
            }
            Ok(())
        })
        .unwrap();
    // Real payloads with bytes flipped, truncated or extended, per event type.
    let golden = std::fs::read("tests/data/golden/incident.reported.v1.bin").unwrap();
    let mut runner = TestRunner::new(config(64));
    runner
        .run(&(any::<prop::sample::Index>(), any::<u8>(), 0..golden.len() + 8), |(at, x, cut)| {
            let mut b = golden.clone();
            let i = at.index(b.len());
            b[i] ^= x;
            b.resize(cut, 0xFF);
            for (t, v) in &types {
                let _ = DomainEvent::from_payload(t, *v, &b);
            }
            let _ = DomainEvent::from_payload("incident.reported", 1, &b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_into_the_segment_decoder_never_panic() {
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            let _ = SegmentView::parse(&bytes);
            let _ = decode_segment(&bytes);
            Ok(())
        })
        .unwrap();
    // With a well-formed header and a huge or odd entry count.
    let mut runner = TestRunner::new(config(128));
    runner
        .run(&(any::<u32>(), prop::collection::vec(any::<u8>(), 0..256)), |(count, tail)| {
            let mut b = vec![0u8; 38];
            b[0] = valid_segments()[0][0];
            b[1] = valid_segments()[0][1];
            b[34..38].copy_from_slice(&count.to_le_bytes());
            b.extend_from_slice(&tail);
            let _ = SegmentView::parse(&b);
            let _ = decode_segment(&b);
            Ok(())
        })
        .unwrap();
}

/// Raw segment values of a small real store.
fn valid_segments() -> &'static Vec<Vec<u8>> {
    static SEGMENTS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEGMENTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = common::open(dir.path());
            for s in 0..3 {
                let evs = (0..4).map(|i| common::event("test.event", format!("payload-{s}-{i}").as_bytes())).collect();
                store.append(&format!("stream-{s}"), ExpectedVersion::Any, evs).unwrap();
            }
            store.close().unwrap();
        }
        let db = common::raw_sled(dir.path());
        let segments: Vec<Vec<u8>> =
            db.scan_prefix(b"S").map(|kv| common::segment_bytes(dir.path(), &db, &kv.unwrap().0)).collect();
        assert_eq!(segments.len(), 3);
        for s in &segments {
            assert_eq!(decode_segment(s).unwrap().len(), 4, "the seed segments decode");
        }
        segments
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
    Remove(prop::sample::Index, usize),
    Splice(prop::sample::Index, prop::sample::Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<prop::sample::Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

fn apply(mut b: Vec<u8>, m: &Mutation, other: &[u8]) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    match m {
        Mutation::Flip(i, x) => {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        Mutation::Truncate(i) => b.truncate(i.index(b.len())),
        Mutation::Insert(i, bytes) => {
            let i = i.index(b.len());
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = i.index(b.len());
            let end = (i + n).min(b.len());
            b.drain(i..end);
        }
        Mutation::Splice(i, j) => {
            // Head of this segment, tail of another.
            let i = i.index(b.len());
            let j = j.index(other.len().max(1)).min(other.len());
            b.truncate(i);
            b.extend_from_slice(&other[j..]);
        }
    }
    b
}

#[test]
fn mutated_valid_segments_never_panic_and_changes_never_decode_to_the_same_events() {
    let segments = valid_segments();
    let mut runner = TestRunner::new(config(1024));
    runner
        .run(&(0..segments.len(), prop::collection::vec(arb_mutation(), 1..4), 0..segments.len()), |(s, ms, o)| {
            let original = &segments[s];
            let mut b = original.clone();
            for m in &ms {
                b = apply(b, m, &segments[o]);
            }
            let _ = SegmentView::parse(&b);
            if let Ok(events) = decode_segment(&b) {
                // A change that still decodes must show in the events (their content or hashes),
                // except in the reserved flags byte (see the finding test below).
                let only_flags = b.len() == original.len()
                    && b.iter().zip(original.iter()).enumerate().all(|(i, (x, y))| x == y || i == 1);
                if !only_flags {
                    let before = decode_segment(original).unwrap();
                    prop_assert!(events != before, "changed bytes decoded to identical events: {:?}", ms);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// FINDING: byte 1 of a segment (reserved flags, "compression") is covered neither by the hash
/// chain nor by a check: changing it decodes to the same events and `verify()` still passes.
/// Harmless today (no flag has a meaning); it must be checked or hashed before a flag gets one.
#[test]
fn an_altered_reserved_segment_flags_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = common::open(dir.path());
        store.append("s-1", ExpectedVersion::Any, common::events(3)).unwrap();
        store.close().unwrap();
    }
    {
        let db = common::raw_sled(dir.path());
        let (key, _) = db.scan_prefix(b"S").next().unwrap().unwrap();
        let mut changed = common::segment_bytes(dir.path(), &db, &key);
        changed[1] ^= 0x80;
        assert!(decode_segment(&changed).is_err(), "undefined flags must not decode");
        common::overwrite_segment(dir.path(), &db, &key, &changed);
    }
    // The tail segment is checked at open; either way the damage is named, never accepted.
    match EventStore::open(dir.path()) {
        Ok(store) => assert_eq!(store.verify().unwrap().problem.expect("detected").position, 0),
        Err(e) => assert!(e.to_string().contains("flags"), "{e}"),
    }
}
