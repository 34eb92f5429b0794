//! One store format: a folder holding an older layout or value file is refused at open, in one
//! sentence naming what was found and how to move the data, and nothing in it is changed.

mod common;

use anquan::internals::value_log::VALUE_LOG_FILE;
use anquan::store::*;
use common::*;

fn segment_key(first: u64) -> Vec<u8> {
    let mut key = b"S".to_vec();
    key.extend_from_slice(&first.to_be_bytes());
    key
}

/// A current store of 3 appends (15 events), closed.
fn current_store(dir: &std::path::Path) {
    let store = open(dir);
    for s in 0..3 {
        store.append(&format!("stream-{s}"), ExpectedVersion::Any, events(5)).unwrap();
    }
    store.close().unwrap();
}

/// Opens `dir` (with `EventStore::open`, as every host and the CLI do) expecting the refusal of
/// an older format; checks it is one sentence naming `found` and the way out, and returns it.
fn refused(dir: &std::path::Path, found: &str) -> String {
    let message = match EventStore::open(dir) {
        Err(e @ StoreError::UnsupportedFormat { .. }) => e.to_string(),
        Err(other) => panic!("expected UnsupportedFormat, got {other:?}"),
        Ok(_) => panic!("a store of an older format opened"),
    };
    assert!(message.contains(found), "{message}");
    assert!(message.contains("reads only the current store format"), "{message}");
    assert!(message.contains("`anquan export`") && message.contains("`anquan import`"), "{message}");
    assert!(!message.contains('\n') && !message.contains(". "), "one sentence: {message}");
    message
}

/// The files of `dir` that anquan writes (sled's own are left to sled) whose names start with
/// one of `names`, with their bytes (a folder: its listing).
fn anquan_files(dir: &std::path::Path, names: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| names.iter().any(|n| e.file_name().to_string_lossy().starts_with(n)))
        .map(|e| {
            let bytes = match e.path().is_dir() {
                true => format!("{:?}", std::fs::read_dir(e.path()).unwrap().count()).into_bytes(),
                false => std::fs::read(e.path()).unwrap(),
            };
            (e.file_name().to_string_lossy().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Everything anquan writes: the journals, the value file, the id folder.
const ALL: &[&str] = &["anquan.", ID_INDEX_FOLDER];

#[test]
fn a_layout_1_store_with_its_segments_inside_sled_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    current_store(dir.path());
    {
        // What layout 1 was: each segment's bytes under its key, no value file, no id folder.
        let db = raw_sled(dir.path());
        for key in db.scan_prefix(b"S").keys().map(Result::unwrap).collect::<Vec<_>>() {
            let bytes = segment_bytes(dir.path(), &db, &key);
            db.insert(key, bytes).unwrap();
        }
        for reserved in [&b"\xFFvalues"[..], b"\xFFvalues-end"] {
            db.remove(reserved).unwrap();
        }
        db.insert(b"Mformat", &[1u8][..]).unwrap();
        db.flush().unwrap();
    }
    std::fs::remove_file(dir.path().join(VALUE_LOG_FILE)).unwrap();
    std::fs::remove_dir_all(dir.path().join(ID_INDEX_FOLDER)).unwrap();
    let before = anquan_files(dir.path(), ALL);
    refused(dir.path(), "keeps its values inside sled");
    assert_eq!(anquan_files(dir.path(), ALL), before, "no value file, no id folder, journals as they were");
    let db = raw_sled(dir.path());
    assert!(db.get(segment_key(0)).unwrap().unwrap().len() > 12, "the segments are still in sled");
    assert_eq!(db.get(b"Mformat").unwrap().unwrap().as_ref(), &[1u8]);
}

#[test]
fn value_files_of_the_checkless_formats_are_refused_untouched() {
    for magic in ["ANQVLOG1", "ANQVLOG2"] {
        let dir = tempfile::tempdir().unwrap();
        current_store(dir.path());
        // Only the magic differs: the refusal comes before any frame is read.
        let path = dir.path().join(VALUE_LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..8].copy_from_slice(magic.as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let before = anquan_files(dir.path(), ALL);
        refused(dir.path(), &format!("is a value file of format {magic}, not ANQVLOG3"));
        assert_eq!(anquan_files(dir.path(), ALL), before, "{magic}");
    }
}

#[test]
fn layouts_1_and_2_recorded_beside_a_current_value_file_are_refused_untouched() {
    for (version, what) in [(1u8, "segments kept inside sled"), (2, "event ids kept inside sled")] {
        let dir = tempfile::tempdir().unwrap();
        current_store(dir.path());
        {
            let db = raw_sled(dir.path());
            db.insert(b"Mformat", &[version][..]).unwrap();
            db.flush().unwrap();
        }
        // The backend opens first and checkpoints (a new journal generation); the store then
        // reads the layout and refuses before it touches the value file or the id folder.
        let kept = [VALUE_LOG_FILE, ID_INDEX_FOLDER];
        let before = anquan_files(dir.path(), &kept);
        refused(dir.path(), &format!("the store has layout version {version} ({what}), not 3"));
        assert_eq!(anquan_files(dir.path(), &kept), before, "layout {version}");
        assert_eq!(raw_sled(dir.path()).get(b"Mformat").unwrap().unwrap().as_ref(), &[version]);
    }
}

#[test]
fn an_unknown_layout_version_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    current_store(dir.path());
    {
        let db = raw_sled(dir.path());
        db.insert(b"Mformat", &[9u8][..]).unwrap();
        db.flush().unwrap();
    }
    match EventStore::open(dir.path()) {
        Err(StoreError::Corrupt { detail }) => assert!(detail.contains("unknown layout version"), "{detail}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_new_store_has_layout_version_3_a_checked_value_file_and_an_event_id_folder() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append("s", ExpectedVersion::NoStream, events(3)).unwrap();
        store.close().unwrap();
    }
    assert_eq!(&std::fs::read(dir.path().join(VALUE_LOG_FILE)).unwrap()[..8], b"ANQVLOG3");
    assert!(dir.path().join(ID_INDEX_FOLDER).join("MANIFEST").exists());
    let db = raw_sled(dir.path());
    assert_eq!(db.get(b"Mformat").unwrap().unwrap().as_ref(), &[3u8]);
    assert_eq!(db.get(segment_key(0)).unwrap().unwrap().len(), anquan::internals::value_log::POINTER_LEN);
    assert_eq!(db.scan_prefix(b"E").count(), 0, "event ids are indexed in files");
    let bytes = segment_bytes(dir.path(), &db, &segment_key(0));
    assert_eq!(anquan::internals::layout::decode_segment(&bytes).unwrap().len(), 3, "the value file holds the segment");
}
