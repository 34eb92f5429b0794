//! Compressed segments: a store written with and without compression, and reopened with the
//! other setting, reads back the same events, verifies clean, and compression takes fewer bytes.

mod common;

use anquan::store::*;
use common::*;

/// Payloads like a host's: JSON-ish text that repeats field names and codes.
fn payload(i: usize) -> Vec<u8> {
    format!(
        r#"{{"hazard_id":"h-{i}","community":"c-{}","grade":"general","found_by":"grid inspector {}","description":"blocked fire exit on floor {}"}}"#,
        i % 17,
        i % 5,
        i % 30
    )
    .into_bytes()
}

fn write(store: &EventStore, from: usize, to: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(50) {
        let events = chunk.iter().map(|&i| event("hazard.reported", &payload(i))).collect();
        store.append(&format!("hazard-{}", chunk[0] % 7), ExpectedVersion::Any, events).unwrap();
    }
}

fn options(compression: Compression) -> StoreOptions {
    StoreOptions { segment_compression: compression, ..StoreOptions::default() }
}

fn values_file_len(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(anquan::internals::value_log::VALUE_LOG_FILE)).unwrap().len()
}

#[test]
fn either_setting_reads_back_the_same_log_and_compression_is_smaller() {
    let plain = tempfile::tempdir().unwrap();
    let packed = tempfile::tempdir().unwrap();
    for (dir, compression) in [(&plain, Compression::None), (&packed, Compression::default())] {
        let store = EventStore::open_dir(dir.path(), options(compression)).unwrap();
        write(&store, 0, 3000);
        store.close().unwrap();
    }
    let (plain_len, packed_len) = (values_file_len(plain.path()), values_file_len(packed.path()));
    assert!(packed_len * 2 < plain_len, "compressed {packed_len} bytes against {plain_len}");
    let payloads = |dir: &std::path::Path| -> Vec<Vec<u8>> {
        let store = open(dir);
        assert!(store.verify().unwrap().is_ok());
        store.read_all(0, Direction::Forward, 10_000).unwrap().into_iter().map(|e| e.payload).collect()
    };
    let expected: Vec<Vec<u8>> = (0..3000).map(payload).collect();
    assert_eq!(payloads(plain.path()), expected);
    assert_eq!(payloads(packed.path()), expected);
}

#[test]
fn a_store_reopened_with_the_other_setting_holds_both_forms_and_reads_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [Compression::None, Compression::default(), Compression::None, Compression::Zstd { level: 3 }];
    for (round, compression) in settings.into_iter().enumerate() {
        let store = EventStore::open_dir(dir.path(), options(compression)).unwrap();
        write(&store, round * 1000, (round + 1) * 1000);
        store.close().unwrap();
    }
    let store = EventStore::open_dir(dir.path(), options(Compression::default())).unwrap();
    assert!(store.verify().unwrap().is_ok());
    let all = store.read_all(0, Direction::Forward, 10_000).unwrap();
    assert_eq!(all.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), (0..4000).map(payload).collect::<Vec<_>>());
    // Reads by stream go through the segments one by one (and the cache of decompressed ones).
    for _ in 0..2 {
        let stream = store.read_stream("hazard-3", 0, Direction::Forward, usize::MAX).unwrap();
        let want: Vec<_> = all.iter().filter(|e| &*e.stream == "hazard-3").map(|e| e.payload.clone()).collect();
        assert_eq!(stream.into_iter().map(|e| e.payload).collect::<Vec<_>>(), want);
    }
}
