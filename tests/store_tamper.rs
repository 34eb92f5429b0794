//! Tamper evidence: bytes altered, events removed or indexes edited behind the store's back are
//! named by `verify()` at the first bad position.

mod common;

use anquan::store::*;
use common::*;

fn raw_sled(dir: &std::path::Path) -> sled::Db {
    common::raw_sled(dir)
}

/// Writes 10 segments of 5 events each; event payloads are `marker-<position>`.
fn build(dir: &std::path::Path) -> Vec<RecordedEvent> {
    let store = open(dir);
    for s in 0..10 {
        let evs: Vec<_> = (0..5).map(|i| event("test.event", format!("marker-{:03}", s * 5 + i).as_bytes())).collect();
        store.append(&format!("stream-{}", s % 3), ExpectedVersion::Any, evs).unwrap();
    }
    let all = store.read_all(0, Direction::Forward, 100).unwrap();
    assert!(store.verify().unwrap().is_ok());
    store.close().unwrap();
    all
}

fn segment_key(first: u64) -> Vec<u8> {
    let mut k = vec![b'S'];
    k.extend_from_slice(&first.to_be_bytes());
    k
}

#[test]
fn one_altered_byte_is_named_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        // Position 23 sits in the segment starting at 20.
        let key = segment_key(20);
        let mut value = segment_bytes(dir.path(), &db, &key);
        let needle = b"marker-023";
        let at = value.windows(needle.len()).position(|w| w == needle).unwrap();
        value[at + 7] = b'9'; // marker-923
        overwrite_segment(dir.path(), &db, &key, &value);
    }
    let store = open(dir.path());
    let report = store.verify().unwrap();
    let problem = report.problem.expect("tampering must be detected");
    assert_eq!(problem.position, 23, "{problem:?}");
    assert!(problem.detail.contains("hash mismatch"), "{problem:?}");
}

#[test]
fn an_altered_hash_or_a_rewritten_chain_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        let key = segment_key(35);
        let mut value = segment_bytes(dir.path(), &db, &key);
        // Flip a byte in the last 32 bytes: the stored hash of position 39.
        let n = value.len();
        value[n - 5] ^= 0x01;
        overwrite_segment(dir.path(), &db, &key, &value);
    }
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 39, "{problem:?}");
}

#[test]
fn a_truncated_tail_is_refused_at_open_with_a_specific_error() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        db.remove(segment_key(45)).unwrap();
        db.flush().unwrap();
    }
    match EventStore::open(dir.path()) {
        Err(StoreError::Corrupt { detail }) => {
            assert!(detail.contains("position 45") && detail.contains("50"), "{detail}")
        }
        other => panic!("expected a corrupt-store error, got {other:?}"),
    }
}

#[test]
fn a_deleted_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        db.remove(segment_key(15)).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 15, "{problem:?}");
}

#[test]
fn swapped_segments_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        let a = db.get(segment_key(10)).unwrap().unwrap();
        let b = db.get(segment_key(15)).unwrap().unwrap();
        db.insert(segment_key(10), b).unwrap();
        db.insert(segment_key(15), a).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 10, "{problem:?}");
    // Reads refuse the moved events instead of serving them under the wrong positions.
    match store.read_all(0, Direction::Forward, 100) {
        Err(StoreError::Corrupt { detail }) => {
            assert!(detail.contains("segment at position 10") && detail.contains("claims position 15"), "{detail}")
        }
        other => panic!("expected a corrupt-log error, got {other:?}"),
    }
    assert_eq!(store.read_all(0, Direction::Forward, 10).unwrap().len(), 10, "the intact prefix still reads");
    match store.read_all(49, Direction::Backward, 100) {
        Err(StoreError::Corrupt { detail }) => assert!(detail.contains("claims position"), "{detail}"),
        other => panic!("expected a corrupt-log error reading backwards, got {other:?}"),
    }
    // Segments 10 and 15 belong to streams 2 and 0 (one segment per append, stream = append % 3):
    // after the swap the index names events the segment does not hold.
    for stream in ["stream-2", "stream-0"] {
        match store.read_stream(stream, 0, Direction::Forward, 100) {
            Err(StoreError::Corrupt { detail }) => assert!(detail.contains("the index names 5 events"), "{detail}"),
            other => panic!("expected a corrupt-log error reading {stream}, got {other:?}"),
        }
    }
    assert_eq!(store.read_stream("stream-1", 0, Direction::Forward, 100).unwrap().len(), 15, "others still read");
}

#[test]
fn an_edited_event_id_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let all = build(dir.path());
    // The store closed cleanly, so its 50 ids are in one run file. Point the entry of position
    // 31 at position 32 and recompute the block's checksum, as someone who knows the format
    // would: the checksum catches accidents, verify catches this.
    let run = dir.path().join(ID_INDEX_FOLDER).join("0000000000.run");
    let mut bytes = std::fs::read(&run).unwrap();
    let n = all.len();
    assert!(n <= anquan::internals::BLOCK_ENTRIES, "one block");
    let at = (0..n).find(|i| bytes[i * 24..i * 24 + 16] == *all[31].event_id.as_bytes()).expect("entry of 31");
    bytes[at * 24 + 16..at * 24 + 24].copy_from_slice(&32u64.to_le_bytes());
    let sum = blake3::hash(&bytes[..n * 24]);
    bytes[n * 24..n * 24 + 8].copy_from_slice(&sum.as_bytes()[..8]);
    std::fs::write(&run, &bytes).unwrap();
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 31, "{problem:?}");
    assert!(problem.detail.contains("event-id"), "{problem:?}");
}

#[test]
fn a_removed_stream_index_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_sled(dir.path());
        // Stream stream-1 got segments 5..10 (versions 0..5) and 20..25 (versions 5..10).
        let mut k = vec![b'I'];
        k.extend_from_slice(b"stream-1");
        k.push(0);
        k.extend_from_slice(&5u64.to_be_bytes());
        assert!(db.remove(k).unwrap().is_some());
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 20, "{problem:?}");
}

#[test]
fn a_damaged_segment_pointer_is_named_at_its_position_and_reads_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        // sled holds a 12-byte pointer per segment; make segment 20's name bytes far past the
        // value file's end.
        let db = raw_sled(dir.path());
        let mut pointer = db.get(segment_key(20)).unwrap().unwrap().to_vec();
        assert_eq!(pointer.len(), 12);
        pointer[11] = 0x7f;
        db.insert(segment_key(20), pointer).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let problem = store.verify().unwrap().problem.expect("detected");
    assert_eq!(problem.position, 20, "{problem:?}");
    assert!(problem.detail.contains("cannot be read"), "{problem:?}");
    match store.read_all(0, Direction::Forward, 100) {
        Err(StoreError::Corrupt { detail }) => assert!(detail.contains("damaged"), "{detail}"),
        other => panic!("expected a corrupt-log error, got {other:?}"),
    }
    assert_eq!(store.read_all(0, Direction::Forward, 20).unwrap().len(), 20, "the intact prefix still reads");
}

/// One bit flipped in place inside the stored frame of segment 20 (in a payload byte of event
/// 23 where the frame holds the segment as it is; mid-body where it is compressed), store closed
/// and reopened: every read that reaches the segment fails naming its position and the failed
/// checksum, never serving the altered bytes, and `verify` names the segment's position.
#[test]
fn one_flipped_bit_in_a_stored_frame_is_refused_by_every_read_and_named_by_verify() {
    for compression in [Compression::None, Compression::default()] {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EventStore::open_dir(
                dir.path(),
                StoreOptions { segment_compression: compression, ..StoreOptions::default() },
            )
            .unwrap();
            for s in 0..10 {
                let evs: Vec<_> =
                    (0..5).map(|i| event("test.event", format!("marker-{:03}", s * 5 + i).as_bytes())).collect();
                store.append(&format!("stream-{}", s % 3), ExpectedVersion::Any, evs).unwrap();
            }
            store.close().unwrap();
        }
        let (offset, frame) = stored_frame(dir.path(), &raw_sled(dir.path()), &segment_key(20));
        let at = match compression {
            // "marker-023" becomes "marker-033": a change that decodes, and once was served.
            Compression::None => frame.windows(10).position(|w| w == b"marker-023").unwrap() + 8,
            _ => frame.len() / 2,
        };
        flip_bit(dir.path(), offset + at as u64, 0);

        let store = open(dir.path());
        let refused = |what: &str, result: Result<Vec<RecordedEvent>, StoreError>| match result {
            Err(StoreError::Corrupt { detail }) => assert!(
                detail.contains("segment at position 20") && detail.contains("checksum"),
                "{compression:?}, {what}: {detail}"
            ),
            other => panic!(
                "{compression:?}, {what}: expected a corrupt-log error, got {:?}",
                other.map(|events| events
                    .iter()
                    .map(|e| String::from_utf8_lossy(&e.payload).to_string())
                    .collect::<Vec<_>>())
            ),
        };
        refused("read_all forward", store.read_all(0, Direction::Forward, 100));
        refused("read_all from inside the segment", store.read_all(23, Direction::Forward, 1));
        refused("read_all backward", store.read_all(49, Direction::Backward, 100));
        // Segment 20 is the fifth append, to stream-1 (versions 5..10).
        refused("read_stream forward", store.read_stream("stream-1", 0, Direction::Forward, 100));
        refused("read_stream backward", store.read_stream("stream-1", u64::MAX, Direction::Backward, 100));
        refused("read_stream of the damaged events", store.read_stream("stream-1", 7, Direction::Forward, 1));
        let problem = store.verify().unwrap().problem.expect("the damage must be named");
        assert_eq!(problem.position, 20, "{compression:?}: {problem:?}");
        assert!(problem.detail.contains("checksum"), "{compression:?}: {problem:?}");
        // What does not reach the segment still reads.
        assert_eq!(store.read_all(0, Direction::Forward, 20).unwrap().len(), 20);
        assert_eq!(store.read_all(25, Direction::Forward, 100).unwrap().len(), 25);
        assert_eq!(store.read_stream("stream-0", 0, Direction::Forward, 100).unwrap().len(), 20);
    }
}
