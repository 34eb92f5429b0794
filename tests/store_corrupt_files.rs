//! Corrupt or truncated files: opening either recovers a consistent prefix (everything it
//! holds verifies) or reports what is wrong — never a panic, never silently wrong data.

mod common;

use anquan::store::*;
use common::*;

/// Builds a store with a few hundred events (399) and returns its folder.
fn build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..200 {
        store.append(&format!("s-{}", i % 7), ExpectedVersion::Any, events(1 + i % 3)).unwrap();
    }
    store.close().unwrap();
    dir
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Opens a damaged copy; Ok(events) if it opened and verified, Err(message) if refused.
fn open_damaged(dir: &std::path::Path) -> Result<u64, String> {
    let outcome = std::panic::catch_unwind(|| match EventStore::open(dir) {
        Ok(store) => {
            let report = store.verify().map_err(|e| e.to_string())?;
            match report.problem {
                None => Ok(report.events),
                Some(p) => Err(format!("verify: position {}: {}", p.position, p.detail)),
            }
        }
        Err(e) => Err(e.to_string()),
    });
    match outcome {
        Ok(r) => r,
        Err(_) => panic!("opening a damaged store panicked"),
    }
}

/// Cuts `file` in copies of a built store at six lengths; returns each cut and what opening said.
/// Opening is accepted only with every event, or with a clear error.
fn open_with_file_cut(file: &str) -> Vec<(u64, Result<u64, String>)> {
    let original = build();
    let total = 399; // 200 appends of 1, 2 or 3 events
    let len = std::fs::metadata(original.path().join(file)).unwrap().len();
    let mut outcomes = Vec::new();
    for cut in [len * 9 / 10, len / 2, len / 10, 4096, 100, 0] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(original.path(), copy.path());
        let f = std::fs::OpenOptions::new().write(true).open(copy.path().join(file)).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let outcome = open_damaged(copy.path());
        match &outcome {
            // Opening is fine only if nothing was lost.
            Ok(events) => assert_eq!(*events, total, "{file} cut at {cut}: opened with fewer events and said nothing"),
            Err(msg) => assert!(
                msg.contains("lost data") || msg.contains("corrupt"),
                "{file} cut at {cut}: unclear error {msg}"
            ),
        }
        outcomes.push((cut, outcome));
    }
    outcomes
}

#[test]
fn truncated_log_files_open_to_a_verified_prefix_or_a_clear_error() {
    let outcomes = open_with_file_cut("db");
    // The deep cuts lose data, and say so.
    assert!(outcomes.iter().filter(|(_, o)| o.is_err()).count() >= 4, "{outcomes:#?}");
}

#[test]
fn a_truncated_value_file_is_refused_as_lost_data_naming_the_file() {
    // After a clean close sled refers to every byte of the value file: any cut loses segments.
    for (cut, outcome) in open_with_file_cut(anquan::internals::value_log::VALUE_LOG_FILE) {
        let msg = outcome.expect_err("a cut value file must not open");
        assert!(msg.contains("lost data") && msg.contains("anquan.values"), "cut at {cut}: {msg}");
    }
}

#[test]
fn a_damaged_journal_header_is_reported_with_its_file() {
    let original = build();
    for name in anquan::internals::JOURNAL_FILES {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(original.path(), copy.path());
        let path = copy.path().join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[9] ^= 0xFF;
        std::fs::write(&path, bytes).unwrap();
        let err = open_damaged(copy.path()).unwrap_err();
        assert!(err.contains("journal header") && err.contains(name), "{name}: {err}");
    }
}

#[test]
fn a_half_written_sled_snapshot_left_by_a_kill_does_not_block_opening() {
    // What a process killed while sled wrote a snapshot leaves behind (sled issue 1527).
    let original = build();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(original.path(), copy.path());
    std::fs::write(copy.path().join("snap.FFFFFFFFFFFFFFFF.generating"), b"half-written").unwrap();
    assert_eq!(open_damaged(copy.path()), Ok(399));
    assert!(!copy.path().join("snap.FFFFFFFFFFFFFFFF.generating").exists());
}
