//! A real write error: the child process runs under a file-size limit (RLIMIT_FSIZE, as on a
//! full disk), appends until the store refuses, and reports what was acknowledged. The store
//! must answer with a clear error, refuse every later write (poisoned), and after reopening
//! without the limit hold every acknowledged event, verify, and accept appends again.

mod common;

use std::collections::HashSet;
use std::process::Stdio;

use anquan::store::*;
use common::*;

const CHILD_ENV: &str = "ANQUAN_DISK_FULL_CHILD_DIR";

#[test]
fn disk_full_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let store = EventStore::open(&dir).expect("child opens store");
    let used: u64 = std::fs::metadata(std::path::Path::new(&dir).join("db")).map(|m| m.len()).unwrap_or(0);
    common::child::limit_file_size(used + 1024 * 1024);
    let mut first_error = None;
    for i in 0..200_000u64 {
        let e = event("fill.event", &vec![(i % 251) as u8; 2000]);
        let id = e.event_id;
        match store.append(&format!("fill-{}", i % 16), ExpectedVersion::Any, vec![e]) {
            Ok(out) => println!("ACK {} {id}", out.positions[0]),
            Err(err) => {
                println!("ERR {err}");
                first_error = Some(err);
                break;
            }
        }
    }
    let Some(_) = first_error else {
        println!("NOERROR");
        return;
    };
    // Every later write is refused.
    match store.append("after-error", ExpectedVersion::Any, events(1)) {
        Ok(_) => println!("LATER ok"),
        Err(e) => println!("LATER {e}"),
    }
    std::process::exit(0);
}

#[test]
fn a_full_disk_poisons_the_store_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append("seed", ExpectedVersion::NoStream, events(3)).unwrap();
    }
    let out = common::child::child("disk_full_child_entry", CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("NOERROR"), "the limit was never hit:\n{stdout}");
    let err_line = stdout.lines().find(|l| l.starts_with("ERR ")).unwrap_or_else(|| {
        panic!("child gave no error line; status {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr))
    });
    assert!(err_line.contains("refuses writes") || err_line.contains("error"), "{err_line}");
    let later = stdout.lines().find(|l| l.starts_with("LATER ")).expect("later write attempted");
    assert!(later.contains("refuses writes"), "writes after the error must be refused: {later}");
    let acked: Vec<(u64, uuid::Uuid)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ACK "))
        .map(|l| {
            let (p, id) = l.split_once(' ').unwrap();
            (p.parse().unwrap(), id.parse().unwrap())
        })
        .collect();
    assert!(acked.len() > 50, "the child wrote too little before the limit: {}", acked.len());

    let store = open(dir.path());
    let all = store.read_all(0, Direction::Forward, usize::MAX).unwrap();
    let ids: HashSet<_> = all.iter().map(|e| (e.position, e.event_id)).collect();
    for a in &acked {
        assert!(ids.contains(a), "acknowledged event {a:?} lost");
    }
    assert!(store.verify().unwrap().is_ok());
    store.append("after-reopen", ExpectedVersion::NoStream, events(1)).unwrap();
    eprintln!("disk full: {} appends acknowledged before the limit; first error: {err_line}", acked.len());
}
