//! Snapshots of large projection states (issue 4): a state over the codec's general 16 MiB
//! decode limit snapshots and reloads byte for byte, so startup stays a snapshot load plus a
//! short catch-up however long the log is; a state that encodes small but claims more than 16
//! MiB while decoding (bincode charges 8 bytes per varint `u64`) reloads too; a snapshot whose
//! bytes do not match their hash is reported and rebuilt from the log.
//!
//! The real-projection variant (a hazard ledger over 16 MiB) is `#[ignore]`d: it appends
//! ~300,000 events. Run it with `cargo test --release --test projections_snapshots -- --ignored`.

use anquan::events::hazard::{HazardEvent, HazardGraded, HazardReported, HazardSource, RectificationOrdered};
use anquan::events::{DomainEvent, EntityId};
use anquan::internals::codec::DECODE_LIMIT;
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::{
    load_snapshot, rebuild, state_bytes, Projection, ProjectionError, ProjectionRunner, SNAPSHOT_CHUNK,
};
use anquan::store::WriteBatch;
use anquan::store::{EventStore, ExpectedVersion, ProposedEvent, RecordedEvent, StreamAppend, Timestamp};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

fn id(s: String) -> EntityId {
    EntityId::new(s).unwrap()
}

fn proposed(e: DomainEvent, at: DateTime<Utc>) -> ProposedEvent {
    let (t, v, payload) = e.to_payload().unwrap();
    ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload)
}

/// Appends hazards `from..to` (reported, graded, rectification ordered: 3 events each) in
/// appends of up to ~9,000 events.
fn append_hazards(store: &EventStore, from: usize, to: usize) {
    let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut batch = Vec::new();
    for n in from..to {
        let at = base + Duration::minutes(n as i64);
        let h = id(format!("h{n}"));
        let by = id("loader".into());
        let events = [
            HazardEvent::Reported(HazardReported {
                hazard_id: h.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
                source: HazardSource::GridInspection,
                reporter: "网格员".into(),
                community_id: id(format!("c{}", n % 50)),
                grid_id: None,
                enterprise_id: Some(id(format!("e{}", n % 500))),
                category: "fire".into(),
                location: "楼道".into(),
                description: "堆物".into(),
                found_at: at,
            }),
            HazardEvent::Graded(HazardGraded {
                hazard_id: h.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
                grade: "general".into(),
                major: n % 10 == 0,
                criterion: "MEM-10".into(),
                criterion_version: "2023".into(),
                catalog_version: "1".into(),
                basis: None,
            }),
            HazardEvent::RectificationOrdered(RectificationOrdered {
                hazard_id: h.clone(),
                recorded_by: by,
                recorded_at: at,
                responsible: Some("负责人".into()),
                measures: Some("整改".into()),
                funds_yuan: Some(100),
                deadline: (at + Duration::days(30)).date_naive(),
                contingency_plan: Some("预案".into()),
            }),
        ];
        let stream = DomainEvent::Hazard(events[0].clone()).stream_id();
        let evs = events.into_iter().map(|e| proposed(DomainEvent::Hazard(e), at)).collect();
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, evs));
        if batch.len() >= 3_000 {
            store.append_multi(std::mem::take(&mut batch)).unwrap();
        }
    }
    if !batch.is_empty() {
        store.append_multi(batch).unwrap();
    }
}

/// Per event, `PAD` bytes derived from its position (BLAKE3 output): a state of any size from a
/// few events.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Ballast {
    events: u64,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

const PAD: usize = 40 * 1024;

impl Projection for Ballast {
    const NAME: &'static str = "test_ballast";
    const VERSION: u32 = 1;
    fn apply(&mut self, recorded: &RecordedEvent, _: &DomainEvent) {
        self.events += 1;
        let start = self.bytes.len();
        self.bytes.resize(start + PAD, 0);
        blake3::Hasher::new().update(&recorded.position.to_le_bytes()).finalize_xof().fill(&mut self.bytes[start..]);
    }
}

/// Per event, 10,000 small integers: 10 KB encoded, 80 KB claimed by the decoder.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Counters {
    values: Vec<u64>,
}

impl Projection for Counters {
    const NAME: &'static str = "test_counters";
    const VERSION: u32 = 1;
    fn apply(&mut self, recorded: &RecordedEvent, _: &DomainEvent) {
        self.values.extend((0..10_000u64).map(|i| (recorded.position + i) % 100));
    }
}

#[test]
fn a_state_over_16_mib_snapshots_reloads_identically_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    append_hazards(&store, 0, 150); // 450 events × 40 KiB = 18 MiB of state
    let mut r = ProjectionRunner::<Ballast>::start(&store).unwrap();
    let bytes = r.state_bytes().unwrap();
    assert!(bytes.len() > DECODE_LIMIT, "state is only {} bytes", bytes.len());
    r.snapshot().unwrap();
    drop(r);

    let (loaded, checkpoint) = load_snapshot::<Ballast>(&store).unwrap().unwrap();
    assert_eq!(checkpoint, 450);
    assert_eq!(state_bytes(&loaded).unwrap(), bytes);
    let mut r = ProjectionRunner::<Ballast>::open(&store).unwrap();
    assert_eq!((r.checkpoint(), r.snapshot_checkpoint()), (450, Some(450)));
    append_hazards(&store, 150, 160);
    assert_eq!(r.catch_up().unwrap(), 30);
    assert_eq!(r.state_bytes().unwrap(), state_bytes(&rebuild::<Ballast>(&store).unwrap()).unwrap());

    // Survives a close and reopen of the store (the batch went through the journal or a
    // checkpoint: it is larger than a quarter of the journal).
    r.snapshot().unwrap();
    let want = r.state_bytes().unwrap();
    drop(r);
    store.close().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    let r = ProjectionRunner::<Ballast>::open(&store).unwrap();
    assert_eq!((r.checkpoint(), r.state_bytes().unwrap()), (480, want));
}

#[test]
fn a_state_that_claims_more_than_16_mib_while_decoding_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    append_hazards(&store, 0, 100); // 300 events × 10,000 values: 3 MB encoded, 24 MB claimed
    let mut r = ProjectionRunner::<Counters>::start(&store).unwrap();
    let bytes = r.state_bytes().unwrap();
    assert!(bytes.len() < DECODE_LIMIT);
    assert!(anquan::internals::codec::decode::<Counters>(&bytes).is_err(), "the general limit would refuse it");
    r.snapshot().unwrap();
    let (loaded, checkpoint) = load_snapshot::<Counters>(&store).unwrap().unwrap();
    assert_eq!((checkpoint, state_bytes(&loaded).unwrap()), (300, bytes));
}

#[test]
fn a_snapshot_that_fails_its_hash_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    append_hazards(&store, 0, 4);
    let mut r = ProjectionRunner::<Ballast>::start(&store).unwrap();
    r.snapshot().unwrap();
    let want = r.state_bytes().unwrap();
    drop(r);
    // Flip one byte in the middle chunk (same length: only the hash can tell).
    let mut key = b"Ptest_ballast\0c".to_vec();
    key.extend_from_slice(&2u32.to_be_bytes());
    let mut chunk = store.backend().get(&key).unwrap().unwrap();
    assert_eq!(chunk.len(), SNAPSHOT_CHUNK);
    chunk[100] ^= 1;
    let mut batch = WriteBatch::new();
    batch.put(key, chunk);
    store.backend().apply(batch).unwrap();

    let err = load_snapshot::<Ballast>(&store).unwrap_err();
    assert!(matches!(err, ProjectionError::CorruptSnapshot { .. }), "{err}");
    let mut r = ProjectionRunner::<Ballast>::open(&store).unwrap();
    assert_eq!((r.checkpoint(), r.snapshot_checkpoint()), (0, None));
    r.catch_up().unwrap();
    assert_eq!(r.state_bytes().unwrap(), want);
    r.snapshot().unwrap();
    assert_eq!(load_snapshot::<Ballast>(&store).unwrap().map(|(p, c)| (state_bytes(&p).unwrap(), c)), Some((want, 12)));
}

#[test]
#[ignore = "appends ~300,000 events; run in release"]
fn a_hazard_ledger_over_16_mib_snapshots_and_reloads_identically() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    let mut hazards = 0;
    let mut r = ProjectionRunner::<HazardLedger>::open(&store).unwrap();
    // Grow until the ledger's state is over the general limit.
    while r.state_bytes().unwrap().len() <= DECODE_LIMIT {
        append_hazards(&store, hazards, hazards + 20_000);
        hazards += 20_000;
        r.catch_up().unwrap();
    }
    let bytes = r.state_bytes().unwrap();
    eprintln!("{hazards} hazards, {} events: ledger state {} bytes", r.checkpoint(), bytes.len());
    r.snapshot().unwrap();
    drop(r);
    let r = ProjectionRunner::<HazardLedger>::open(&store).unwrap();
    assert_eq!(r.checkpoint(), 3 * hazards as u64);
    assert_eq!(r.state_bytes().unwrap(), bytes);
    // Running totals are recomputed on load: the loaded ledger equals a rebuild.
    assert_eq!(r.projection(), &rebuild::<HazardLedger>(&store).unwrap());
}
