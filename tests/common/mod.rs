//! Helpers shared by the integration tests: store events and options, raw access to the files
//! (here); child processes (`child.rs`); hand-built command histories (`commands.rs`).
#![allow(dead_code)]

pub mod child;
pub mod commands;
pub mod nats;

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

/// The frame stored for the segment under `key` (its check, codec, length and body, compressed
/// or not) and where it lies in the store's value file.
pub fn stored_frame(dir: &std::path::Path, db: &sled::Db, key: &[u8]) -> (u64, Vec<u8>) {
    use std::os::unix::fs::FileExt;
    let pointer = db.get(key).unwrap().expect("segment key in sled");
    let (offset, len) = anquan::internals::value_log::decode_pointer(&pointer).expect("a value-file pointer");
    let file = std::fs::File::open(dir.join(anquan::internals::value_log::VALUE_LOG_FILE)).unwrap();
    let mut frame = vec![0u8; len as usize];
    file.read_exact_at(&mut frame, offset).unwrap();
    (offset, frame)
}

/// The bytes of the segment under `key`, as an attacker with file access finds them: sled holds
/// a pointer, the value file the segment's frame, here decompressed.
pub fn segment_bytes(dir: &std::path::Path, db: &sled::Db, key: &[u8]) -> Vec<u8> {
    let (_, frame) = stored_frame(dir, db, key);
    anquan::internals::value_log::unframe(&frame).expect("the stored frame decodes")
}

/// Replaces the segment under `key` with `bytes`, as an attacker with file access who knows the
/// format would: a new frame (stored as it is, with a valid check) at the end of the value file,
/// and sled's pointer moved to it.
pub fn overwrite_segment(dir: &std::path::Path, db: &sled::Db, key: &[u8], bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(anquan::internals::value_log::VALUE_LOG_FILE);
    let mut magic = [0u8; 8];
    std::fs::File::open(&path).unwrap().read_exact_at(&mut magic, 0).unwrap();
    assert_eq!(&magic, b"ANQVLOG3", "a value file of the current format");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let end = file.metadata().unwrap().len();
    let frame = anquan::internals::value_log::frame_as_is(bytes);
    let len = frame.len() as u32;
    let mut entry = len.to_le_bytes().to_vec();
    entry.extend_from_slice(&frame);
    file.write_all_at(&entry, end).unwrap();
    file.sync_all().unwrap();
    let mut pointer = (end + 4).to_le_bytes().to_vec();
    pointer.extend_from_slice(&len.to_le_bytes());
    db.insert(key, pointer).unwrap();
    db.flush().unwrap();
}

/// Flips one bit of the store's value file at `offset`, as a failing disk or an editor would,
/// in place: no pointer moves.
pub fn flip_bit(dir: &std::path::Path, offset: u64, bit: u8) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(anquan::internals::value_log::VALUE_LOG_FILE);
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 1 << bit;
    file.write_all_at(&byte, offset).unwrap();
    file.sync_all().unwrap();
}
