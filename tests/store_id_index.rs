//! The event-id index in files: retries are recognised across reopens, run files and
//! merges; the index is rebuilt from the log when its files are missing or damaged; verify names
//! a damaged index; a store cannot be opened without its index folder.

mod common;

use std::sync::Arc;

use anquan::store::SledBackend;
use anquan::store::*;
use common::*;

/// Small tables, so a few thousand events make runs and merges.
fn options(dir: &std::path::Path) -> StoreOptions {
    StoreOptions { id_index_table: 200, id_index_dir: Some(dir.join(ID_INDEX_FOLDER)), ..StoreOptions::default() }
}

/// Appends 300 requests of 10 events over 7 streams; returns each request and its positions.
fn fill(store: &EventStore) -> Vec<(String, Vec<ProposedEvent>, Vec<u64>)> {
    (0..300)
        .map(|i| {
            let stream = format!("hazard-{}", i % 7);
            let batch = events(10);
            let out = store.append(&stream, ExpectedVersion::Any, batch.clone()).unwrap();
            assert!(!out.already_committed);
            (stream, batch, out.positions)
        })
        .collect()
}

/// A store of 3000 events in `dir`, closed; returns what [`fill`] wrote.
fn filled_and_closed(dir: &std::path::Path) -> Vec<(String, Vec<ProposedEvent>, Vec<u64>)> {
    let store = EventStore::open_dir(dir, options(dir)).unwrap();
    let written = fill(&store);
    store.close().unwrap();
    written
}

fn run_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join(ID_INDEX_FOLDER))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "run"))
        .count()
}

fn retries_are_recognised(store: &EventStore, written: &[(String, Vec<ProposedEvent>, Vec<u64>)]) {
    for (stream, batch, positions) in written.iter().step_by(17) {
        let again = store.append(stream, ExpectedVersion::Any, batch.clone()).unwrap();
        assert!(again.already_committed, "a retry of {positions:?} was appended again");
        assert_eq!(&again.positions, positions);
    }
    // The same id with other content is a conflict, not a new event.
    let (stream, batch, positions) = &written[150];
    let mut changed = batch[3].clone();
    changed.payload = b"other".to_vec();
    match store.append(stream, ExpectedVersion::Any, vec![changed]) {
        Err(StoreError::EventIdConflict { position, .. }) => assert_eq!(position, positions[3]),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn retries_are_recognised_from_tables_runs_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let written = {
        let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
        let written = fill(&store);
        retries_are_recognised(&store, &written);
        assert!(store.verify().unwrap().is_ok());
        store.close().unwrap();
        written
    };
    {
        let db = raw_sled(dir.path());
        assert_eq!(db.get(b"Mformat").unwrap().unwrap().as_ref(), &[3u8]);
        assert_eq!(db.scan_prefix(b"E").count(), 0, "no id keys in sled");
    }
    let runs = run_files(dir.path());
    assert!((1..=8).contains(&runs), "3000 ids in tables of 200 merge to a few runs, not {runs}");
    let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
    retries_are_recognised(&store, &written);
    let fresh = store.append("hazard-0", ExpectedVersion::Any, events(3)).unwrap();
    assert_eq!(fresh.positions, vec![3000, 3001, 3002]);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_missing_or_damaged_index_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let written = filled_and_closed(dir.path());
    std::fs::remove_dir_all(dir.path().join(ID_INDEX_FOLDER)).unwrap();
    {
        let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
        retries_are_recognised(&store, &written);
        assert!(store.verify().unwrap().is_ok());
        store.close().unwrap();
    }
    assert!(run_files(dir.path()) > 0, "the rebuilt index is written again");

    // A run whose filter no longer matches its checksum is dropped at open and rebuilt.
    let run = std::fs::read_dir(dir.path().join(ID_INDEX_FOLDER))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "run"))
        .unwrap();
    let mut bytes = std::fs::read(&run).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x40;
    std::fs::write(&run, &bytes).unwrap();
    let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
    retries_are_recognised(&store, &written);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn verify_names_a_damaged_index_block_and_lookups_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let written = filled_and_closed(dir.path());
    // Damage an entry (not the filter): open reads only filters, fences and trailers.
    for e in std::fs::read_dir(dir.path().join(ID_INDEX_FOLDER)).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "run") {
            let mut bytes = std::fs::read(e.path()).unwrap();
            bytes[30] ^= 1;
            std::fs::write(e.path(), &bytes).unwrap();
        }
    }
    let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
    let report = store.verify().unwrap();
    let problem = report.problem.expect("a damaged index block is a problem");
    assert!(problem.detail.contains("checksum") && problem.detail.contains(".run"), "{}", problem.detail);
    // Some retry needs the damaged block; it is refused as corrupt, never appended again.
    let mut refused = 0;
    for (stream, batch, _) in &written {
        match store.append(stream, ExpectedVersion::Any, batch.clone()) {
            Ok(out) => assert!(out.already_committed),
            Err(StoreError::Corrupt { detail }) => {
                assert!(detail.contains("delete the folder"), "{detail}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused > 0);
    assert_eq!(store.head().next_position, 3000, "nothing was appended twice");
}

#[test]
fn a_store_needs_its_event_id_folder_and_open_with_without_one_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(SledBackend::open(dir.path(), &StoreOptions::default().sled_options()).unwrap());
    match EventStore::open_with(backend.clone(), StoreOptions::default()) {
        Err(StoreError::IdIndexFolderNeeded) => {}
        other => panic!("expected IdIndexFolderNeeded, got {:?}", other.map(|_| ())),
    }
    use anquan::store::Backend;
    assert_eq!(backend.get(b"Mhead").unwrap(), None, "no store was created");
    drop(backend);

    let other = tempfile::tempdir().unwrap();
    open(other.path()).close().unwrap();
    let backend = Arc::new(SledBackend::open(other.path(), &StoreOptions::default().sled_options()).unwrap());
    match EventStore::open_with(backend, StoreOptions::default()) {
        Err(StoreError::IdIndexFolderNeeded) => {}
        other => panic!("expected IdIndexFolderNeeded, got {:?}", other.map(|_| ())),
    }
}

/// The index's folder removed under an open store: writing the next run fails, the store says
/// so through `degraded()`, and appends and retries go on from memory; reopening rebuilds the
/// files from the log and the store is whole again.
#[test]
fn a_failed_run_write_is_reported_and_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
    assert_eq!(store.degraded(), None);
    std::fs::remove_dir_all(dir.path().join(ID_INDEX_FOLDER)).unwrap();
    let written = fill(&store);
    // The worker writes tables in the background: wait for it to meet the missing folder.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let why = loop {
        if let Some(why) = store.degraded() {
            break why;
        }
        assert!(std::time::Instant::now() < deadline, "the failed run write was never reported");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(why.contains("event-id index"), "{why}");
    assert_eq!(store.poisoned(), None, "a failed index write does not stop appends");
    retries_are_recognised(&store, &written);
    let more = store.append("hazard-new", ExpectedVersion::NoStream, events(5)).unwrap();
    assert!(!more.already_committed);
    store.close().unwrap();

    let store = EventStore::open_dir(dir.path(), options(dir.path())).unwrap();
    assert_eq!(store.degraded(), None);
    retries_are_recognised(&store, &written);
    assert!(store.verify().unwrap().is_ok());
    assert_eq!(store.head().next_position, 3005);
}
