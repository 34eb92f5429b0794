//! Upgrades: a store written before the value file existed (layout version 1, segments inside
//! sled) opens with this build, keeps its segments in sled, takes new appends and verifies.

mod common;

use std::sync::Arc;

use anquan::storage::sled_backend::SledOptions;
use anquan::storage::SledBackend;
use anquan::store::*;
use common::*;

/// Writes a store the way the previous build did: no out-of-line prefixes, layout version 1.
fn write_version_1_store(dir: &std::path::Path) -> Vec<RecordedEvent> {
    {
        let backend = SledBackend::open(dir, &SledOptions::default()).unwrap();
        let store = EventStore::open_with(Arc::new(backend), StoreOptions::default()).unwrap();
        for s in 0..20 {
            store.append(&format!("stream-{}", s % 4), ExpectedVersion::Any, events(5)).unwrap();
        }
        store.close().unwrap();
    }
    let db = raw_sled(dir);
    db.insert(b"Mformat", &[1u8][..]).unwrap();
    db.flush().unwrap();
    let segment = db.scan_prefix(b"S").next().unwrap().unwrap().1;
    assert!(segment.len() > 12, "the old layout keeps segment bytes in sled");
    drop(db);
    assert!(!dir.join(anquan::storage::value_log::VALUE_LOG_FILE).exists());
    let store = open(dir);
    store.read_all(0, Direction::Forward, 1000).unwrap()
}

#[test]
fn a_version_1_store_opens_keeps_its_segments_in_sled_and_takes_new_appends() {
    let dir = tempfile::tempdir().unwrap();
    let before = write_version_1_store(dir.path());
    assert_eq!(before.len(), 100);
    {
        let store = open(dir.path()); // this build's default options name the value file
        assert_eq!(
            store.read_all(0, Direction::Forward, 1000).unwrap(),
            before,
            "the old events read back as they were"
        );
        store.append("stream-9", ExpectedVersion::NoStream, events(7)).unwrap();
        assert!(store.verify().unwrap().is_ok());
        store.close().unwrap();
    }
    // Still the old layout: no value file, and the new segment's bytes are in sled.
    assert!(!dir.path().join(anquan::storage::value_log::VALUE_LOG_FILE).exists());
    {
        let db = raw_sled(dir.path());
        assert_eq!(db.get(b"Mformat").unwrap().unwrap().as_ref(), &[1u8]);
        assert!(db.get(segment_key(100)).unwrap().unwrap().len() > 12, "the new segment is inline too");
    }
    let store = open(dir.path());
    let all = store.read_all(0, Direction::Forward, 1000).unwrap();
    assert_eq!(all.len(), 107);
    assert_eq!(&all[..100], &before[..]);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_new_store_has_layout_version_3_a_value_file_and_an_event_id_folder() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append("s", ExpectedVersion::NoStream, events(3)).unwrap();
        store.close().unwrap();
    }
    let db = raw_sled(dir.path());
    assert_eq!(db.get(b"Mformat").unwrap().unwrap().as_ref(), &[3u8]);
    assert_eq!(db.get(segment_key(0)).unwrap().unwrap().len(), anquan::storage::value_log::POINTER_LEN);
    assert_eq!(db.scan_prefix(b"E").count(), 0, "event ids are indexed in files");
    assert!(dir.path().join(ID_INDEX_FOLDER).join("MANIFEST").exists());
    drop(db);
    assert_eq!(segment_bytes_len(dir.path()), 3, "the value file holds the segment");
}

fn segment_bytes_len(dir: &std::path::Path) -> usize {
    let db = raw_sled(dir);
    let bytes = segment_bytes(dir, &db, &segment_key(0));
    anquan::store::layout::decode_segment(&bytes).unwrap().len()
}

fn segment_key(first: u64) -> Vec<u8> {
    let mut key = b"S".to_vec();
    key.extend_from_slice(&first.to_be_bytes());
    key
}
