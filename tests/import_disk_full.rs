//! A full disk in the middle of an import of commands: the child process opens the store, then
//! runs under a file-size limit (RLIMIT_FSIZE, as on a full disk) and imports until the store
//! refuses. The import must stop with one sentence naming the line and how many lines were
//! committed before it; importing the same file again afterwards commits exactly the rest.

mod common;

use anquan::interface::transfer::{import_commands, ImportOptions};
use anquan::store::EventStore;
use common::commands::engine;

const CHILD_ENV: &str = "ANQUAN_IMPORT_DISK_FULL_DIR";
const LINES: usize = 1500;

/// Hazard reports with 4,000 characters of text no compressor shrinks, so the files grow.
fn file() -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..LINES)
        .map(|i| {
            let text: String = (0..4000).map(|_| char::from_u32(0x4E00 + (next() % 20_000) as u32).unwrap()).collect();
            serde_json::json!({
                "command_id": format!("00000000-0000-4000-8000-{i:012}"), "actor": "grid-7", "issued_at": "2025-03-02T08:00:00Z",
                "command": {"type": "hazard.report", "hazard_id": format!("F{i}"), "source": "grid_inspection", "reporter": "网格员",
                    "community_id": "c1", "grid_id": null, "enterprise_id": null, "category": "fire", "location": "l",
                    "description": text, "found_at": "2025-03-02T07:30:00Z"}
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An engine with the store's vault (a hazard's reporter is sealed).
#[test]
fn import_disk_full_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let engine = engine(std::path::Path::new(&dir));
    let largest =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).max().unwrap_or(0);
    common::child::limit_file_size(largest + 1024 * 1024);
    match import_commands(&engine, file().as_bytes(), &ImportOptions::default(), |_| {}) {
        Ok(report) => println!("DONE {}", report.accepted),
        Err(e) => println!("ERR {e}"),
    }
}

#[test]
fn a_full_disk_stops_an_import_with_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    EventStore::open(dir.path()).unwrap().close().unwrap();
    let out = common::child::child("import_disk_full_child_entry", CHILD_ENV, dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The child's line follows the test harness's "test … ... " on the same line.
    let said = |tag: &str| stdout.lines().find_map(|l| l.split_once(tag).map(|(_, rest)| rest.to_string()));
    if let Some(done) = said("DONE ") {
        panic!("the limit was never reached: {done} lines accepted");
    }
    let err = said("ERR ")
        .unwrap_or_else(|| panic!("the child said nothing: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(err.starts_with("stopped at line "), "{err}");
    let line_no: usize = err["stopped at line ".len()..].split(':').next().unwrap().parse().unwrap();
    let committed: usize = err
        .split("; the ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {err}"));
    assert_eq!(committed, line_no - 1, "every line before the failing one was accepted: {err}");
    assert!(committed > 0, "{err}");

    // Without the limit: the same file commits exactly the rest.
    let engine = engine(dir.path());
    let report = import_commands(&engine, file().as_bytes(), &ImportOptions::default(), |_| {}).unwrap();
    assert_eq!((report.already_done, report.accepted), (committed, LINES - committed), "{report:?}");
    assert!(engine.store().verify().unwrap().is_ok());
}
