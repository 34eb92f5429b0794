//! Helpers shared by the integration tests.
#![allow(dead_code)]

use anquan::store::{EventStore, ManualClock, ProposedEvent, StoreOptions, Timestamp};
use std::sync::Arc;
use uuid::Uuid;

/// 2026-01-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_767_225_600_000_000;

pub fn event(kind: &str, payload: &[u8]) -> ProposedEvent {
    ProposedEvent {
        event_id: Uuid::new_v4(),
        event_type: kind.to_string(),
        schema_version: 1,
        occurred_at: Timestamp(T0),
        actor: "tester".into(),
        correlation_id: None,
        causation_id: None,
        payload: payload.to_vec(),
    }
}

pub fn events(n: usize) -> Vec<ProposedEvent> {
    (0..n).map(|i| event("test.event", format!("payload {i}").as_bytes())).collect()
}

pub fn options_with_clock() -> (StoreOptions, ManualClock) {
    let clock = ManualClock::new(Timestamp(T0));
    let opts = StoreOptions { clock: Arc::new(clock.clone()), ..StoreOptions::default() };
    (opts, clock)
}

/// Default options with the event-id index in `DIR/ids`, as `EventStore::open_dir` sets them,
/// for tests that open a store on a backend of their own.
pub fn with_id_folder(dir: &std::path::Path) -> StoreOptions {
    StoreOptions { id_index_dir: Some(dir.join("ids")), ..StoreOptions::default() }
}

pub fn open(dir: &std::path::Path) -> EventStore {
    EventStore::open(dir).expect("open store")
}

/// Opens the store's sled folder directly, as an attacker with file access would (same segment
/// size as the store's backend; sled refuses another). Retries while a store handle dropped a
/// moment ago still holds sled's lock.
pub fn raw_sled(dir: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        match sled::Config::new().path(dir).segment_size(8 * 1024 * 1024).open() {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("raw sled open failed: {e}"),
        }
    }
    panic!("sled's lock was never released")
}

/// The stored bytes of the segment under `key`, as an attacker with file access finds them:
/// sled holds a pointer, the bytes are in the store's value file.
pub fn segment_bytes(dir: &std::path::Path, db: &sled::Db, key: &[u8]) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let pointer = db.get(key).unwrap().expect("segment key in sled");
    let (offset, len) = anquan::storage::value_log::decode_pointer(&pointer).expect("a value-file pointer");
    let file = std::fs::File::open(dir.join(anquan::storage::value_log::VALUE_LOG_FILE)).unwrap();
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, offset).unwrap();
    bytes
}

/// Overwrites the stored bytes of the segment under `key` in place (same length), as an attacker
/// with file access would.
pub fn overwrite_segment(dir: &std::path::Path, db: &sled::Db, key: &[u8], bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let pointer = db.get(key).unwrap().expect("segment key in sled");
    let (offset, len) = anquan::storage::value_log::decode_pointer(&pointer).expect("a value-file pointer");
    assert_eq!(len as usize, bytes.len(), "in-place rewrite keeps the length");
    let file =
        std::fs::OpenOptions::new().write(true).open(dir.join(anquan::storage::value_log::VALUE_LOG_FILE)).unwrap();
    file.write_all_at(bytes, offset).unwrap();
    file.sync_all().unwrap();
}
