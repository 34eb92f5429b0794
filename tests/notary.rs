//! Notarisation: a signed head verifies against the same log (also after it grew), and fails
//! for a tampered log, a wrong key, or a forged statement.

mod common;

use anquan::engine::notary::*;
use anquan::store::{EventStore, ExpectedVersion, Timestamp};
use common::*;

const SECRET: [u8; 32] = [0x42; 32];
const SIGNED_AT: Timestamp = Timestamp(T0 + 3_600_000_000);

fn key() -> ed25519_dalek::SigningKey {
    signing_key_from_secret(&SECRET)
}

/// Appends `segments` appends of 5 events; payloads are `marker-<n>`.
fn fill(store: &EventStore, from: usize, appends: usize) {
    for s in from..from + appends {
        let evs = (0..5).map(|i| event("test.event", format!("marker-{:03}", s * 5 + i).as_bytes())).collect();
        store.append(&format!("stream-{}", s % 3), ExpectedVersion::Any, evs).unwrap();
    }
}

#[test]
fn sign_then_verify_and_the_json_form_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 0, 4);
    let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
    assert_eq!(signed.next_position, 20);
    assert_eq!(signed.head_hash, store.head().hash_hex());
    assert_eq!(signed.timestamp, SIGNED_AT);

    let json = serde_json::to_string(&signed).unwrap();
    let back: SignedHead = serde_json::from_str(&json).unwrap();
    assert_eq!(back, signed);
    let public = key().verifying_key();
    verify_signed_head(&store, &back, &public).unwrap();
    // Key hex round trips, and a reloaded key verifies too.
    let reloaded = verifying_key_from_hex(&verifying_key_to_hex(&public)).unwrap();
    verify_signed_head(&store, &back, &reloaded).unwrap();
    assert_eq!(signing_key_from_hex(&signing_key_to_hex(&key())).unwrap().to_bytes(), SECRET);
}

#[test]
fn an_empty_log_can_be_signed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
    assert_eq!(signed.next_position, 0);
    verify_signed_head(&store, &signed, &key().verifying_key()).unwrap();
    fill(&store, 0, 1);
    verify_signed_head(&store, &signed, &key().verifying_key()).unwrap();
}

#[test]
fn a_signed_prefix_still_verifies_after_more_appends_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let signed = {
        let store = open(dir.path());
        fill(&store, 0, 3);
        let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
        fill(&store, 3, 4);
        assert_eq!(store.head().next_position, 35);
        assert_ne!(store.head().hash_hex(), signed.head_hash);
        verify_signed_head(&store, &signed, &key().verifying_key()).unwrap();
        store.close().unwrap();
        signed
    };
    let store = open(dir.path());
    verify_signed_head(&store, &signed, &key().verifying_key()).unwrap();
}

#[test]
fn a_tampered_event_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let signed = {
        let store = open(dir.path());
        fill(&store, 0, 6);
        let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
        store.close().unwrap();
        signed
    };
    {
        // As an attacker with file access: rewrite one byte of event 12's payload in the value file.
        let db = common::raw_sled(dir.path());
        let mut key = vec![b'S'];
        key.extend_from_slice(&10u64.to_be_bytes());
        let mut value = common::segment_bytes(dir.path(), &db, &key);
        let at = value.windows(10).position(|w| w == b"marker-012").expect("marker");
        value[at + 7] = b'9';
        common::overwrite_segment(dir.path(), &db, &key, &value);
    }
    let store = open(dir.path());
    let err = verify_signed_head(&store, &signed, &key().verifying_key()).unwrap_err();
    assert!(matches!(err, NotaryError::LogCorrupt { position: 12, .. }), "{err:?}");
    // And a tampered log is never signed.
    let err = sign_head(&store, &key(), SIGNED_AT).unwrap_err();
    assert!(matches!(err, NotaryError::LogCorrupt { position: 12, .. }), "{err:?}");
}

#[test]
fn a_wrong_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 0, 2);
    let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
    let other = signing_key_from_secret(&[0x43; 32]);
    let err = verify_signed_head(&store, &signed, &other.verifying_key()).unwrap_err();
    assert!(matches!(err, NotaryError::KeyMismatch { .. }), "{err:?}");
    // Even with the embedded key swapped to match, the signature itself refuses the other key.
    let mut relabelled = signed.clone();
    relabelled.public_key = verifying_key_to_hex(&other.verifying_key());
    let err = verify_signed_head(&store, &relabelled, &other.verifying_key()).unwrap_err();
    assert!(matches!(err, NotaryError::BadSignature), "{err:?}");
    // A statement signed by another key, checked against ours.
    let theirs = sign_head(&store, &other, SIGNED_AT).unwrap();
    assert!(verify_signed_head(&store, &theirs, &key().verifying_key()).is_err());
}

#[test]
fn forged_signed_heads_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 0, 4);
    let signed = sign_head(&store, &key(), SIGNED_AT).unwrap();
    let public = key().verifying_key();
    let hash_of = |pos: u64| store.read_all(pos, anquan::store::Direction::Forward, 1).unwrap()[0].hash;

    // Changed position (a shorter prefix that really exists), hash kept: signature fails.
    let mut f = signed.clone();
    f.next_position = 10;
    assert!(matches!(verify_signed_head(&store, &f, &public).unwrap_err(), NotaryError::BadSignature));
    // Changed hash to the real hash of another position: signature fails.
    let mut f = signed.clone();
    f.head_hash = anquan::store::to_hex(&hash_of(5));
    assert!(matches!(verify_signed_head(&store, &f, &public).unwrap_err(), NotaryError::BadSignature));
    // Changed timestamp: signature fails.
    let mut f = signed.clone();
    f.timestamp = Timestamp(SIGNED_AT.0 + 1);
    assert!(matches!(verify_signed_head(&store, &f, &public).unwrap_err(), NotaryError::BadSignature));
    // One bit of the signature flipped.
    let mut f = signed.clone();
    let flipped = if f.signature.starts_with('0') { '1' } else { '0' };
    f.signature.replace_range(0..1, &flipped.to_string());
    assert!(matches!(verify_signed_head(&store, &f, &public).unwrap_err(), NotaryError::BadSignature));
    // Malformed hex and an unknown format are clear errors, not panics.
    let mut f = signed.clone();
    f.signature = "zz".into();
    assert!(matches!(
        verify_signed_head(&store, &f, &public).unwrap_err(),
        NotaryError::Hex { field: "signature", .. }
    ));
    let mut f = signed.clone();
    f.format = "anquan.notary.head.v0".into();
    assert!(matches!(verify_signed_head(&store, &f, &public).unwrap_err(), NotaryError::UnsupportedFormat { .. }));
    // Validly signed, but for a position or hash this log does not have.
    let ahead = sign_position(&key(), 21, &hash_of(19), SIGNED_AT);
    assert!(matches!(
        verify_signed_head(&store, &ahead, &public).unwrap_err(),
        NotaryError::LogTooShort { signed: 21, actual: 20 }
    ));
    let wrong = sign_position(&key(), 10, &hash_of(5), SIGNED_AT);
    assert!(matches!(
        verify_signed_head(&store, &wrong, &public).unwrap_err(),
        NotaryError::HashMismatch { position: 10, .. }
    ));
    // The real one still passes (the forgeries above were refused for their forgery).
    verify_signed_head(&store, &signed, &public).unwrap();
    assert!(verifying_key_from_hex("00").is_err());
}
