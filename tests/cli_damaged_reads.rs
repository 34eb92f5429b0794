//! One flipped bit in the value file of a store the real binary made: every command that reads
//! the damaged segment fails, naming the segment's position and the failed checksum, and prints
//! no figure folded from the altered bytes.

mod cli_common;

use cli_common::{anquan, text};
mod common;

#[test]
fn one_flipped_bit_in_the_value_file_fails_stats_history_export_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let demo = anquan(&["demo", "--scale", "0.02", "--store", s, "--lang", "en"]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));

    // The segment in the middle of the log, what it holds, and where its frame lies.
    let (first, stream, at) = {
        let db = common::raw_sled(&store);
        // No projection snapshot (`P` keys): `stats` must fold the log itself, from position 0.
        assert_eq!(db.scan_prefix(b"P").count(), 0, "the demo writes no projection snapshot");
        let keys: Vec<_> = db.scan_prefix(b"S").keys().map(Result::unwrap).collect();
        assert!(keys.len() >= 10, "{} segments", keys.len());
        let key = &keys[keys.len() / 2];
        let first = u64::from_be_bytes(key[1..].try_into().unwrap());
        let segment = anquan::internals::layout::decode_segment(&common::segment_bytes(&store, &db, key)).unwrap();
        let (offset, frame) = common::stored_frame(&store, &db, key);
        // The middle of the frame's body: past its 13-byte header, inside the zstd data.
        assert!(frame.len() > 100, "{} bytes", frame.len());
        (first, segment[0].stream.to_string(), offset + frame.len() as u64 / 2)
    };
    let export = dir.path().join("events.jsonl");
    let export = export.to_str().unwrap();
    // Undamaged, every command works.
    for args in [vec!["stats"], vec!["history", &stream], vec!["export", "--out", export], vec!["verify"]] {
        let out = anquan(&[&args[..], &["--store", s, "--lang", "en"]].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }

    common::flip_bit(&store, at, 3);

    let named = format!("segment at position {first}");
    for args in [vec!["stats"], vec!["history", &stream], vec!["export", "--out", export], vec!["verify"]] {
        let out = anquan(&[&args[..], &["--store", s, "--lang", "en"]].concat());
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded on a damaged store: {}", text(&out.stdout));
        assert!(err.contains(&named) && err.contains("checksum"), "{args:?}: {err}");
    }
    // Nothing at or past the damaged segment was exported.
    let exported = std::fs::read_to_string(export).unwrap().lines().count() as u64;
    assert!(exported <= first, "{exported} events exported, the damage is at {first}");
}
