//! Layer 0, the codec: the one place where bytes meet types, serde + bincode 2 with a fixed
//! configuration. Imports nothing of the crate; every layer above may use it.
//!
//! Invariants:
//! - Every persisted structure goes through [`encode`] / [`decode`], so the binary format can be
//!   replaced in one module (bincode is flagged unmaintained by RUSTSEC-2025-0141).
//! - bincode does not describe its own format: callers version what they store explicitly
//!   (an event's `schema_version`, the segment format byte), never through serde defaults.
//!   Serde attributes that silently lose data under bincode (`flatten`, `skip*`, `tag`,
//!   `untagged`) are not used on persisted types.
//! - Decoding never panics on hostile bytes; it fails with [`CodecError`], and a size limit
//!   bounds the allocation any length prefix can ask for.
//! - The limit counts what decoding *claims*, not the bytes it reads: bincode charges every
//!   primitive its in-memory size (8 for a `u64` even when its varint took one byte, 8 for each
//!   length prefix) plus the bytes of strings and byte strings. So a value can need a limit
//!   several times its encoded length; at most 16 times (a one-byte varint `u128`/`i128`).
//! - Projection snapshot state is decoded under its own, larger limit ([`decode_snapshot`],
//!   [`SNAPSHOT_DECODE_LIMIT`]): those bytes are written by this crate and their BLAKE3 hash is
//!   checked before they are decoded, and a read model over 1M events is larger than
//!   [`DECODE_LIMIT`].

use serde::{de::DeserializeOwned, Serialize};

/// Upper bound on what one decode may allocate, so a corrupt length prefix cannot exhaust memory.
pub const DECODE_LIMIT: usize = 16 * 1024 * 1024;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;

const CONFIG: Config =
    bincode::config::standard().with_little_endian().with_variable_int_encoding().with_limit::<DECODE_LIMIT>();

/// Largest encoded projection snapshot state (1 GiB); a larger one is not snapshotted.
pub const SNAPSHOT_STATE_LIMIT: usize = 1 << 30;

/// Decode limit for snapshot state: 16 × [`SNAPSHOT_STATE_LIMIT`] (saturating on 32-bit
/// targets), so every state within [`SNAPSHOT_STATE_LIMIT`] decodes whatever it is made of (a
/// byte claims at most 16; see the module docs).
pub const SNAPSHOT_DECODE_LIMIT: usize = SNAPSHOT_STATE_LIMIT.saturating_mul(16);

type SnapshotConfig = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<SNAPSHOT_DECODE_LIMIT>,
>;

/// The same encoding as [`CONFIG`] (snapshots are written with [`encode`]); only the limit differs.
const SNAPSHOT_CONFIG: SnapshotConfig =
    bincode::config::standard().with_little_endian().with_variable_int_encoding().with_limit::<SNAPSHOT_DECODE_LIMIT>();

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("could not encode value: {0}")]
    Encode(String),
    #[error("could not decode value: {0}")]
    Decode(String),
    #[error("{trailing} unexpected trailing bytes after the decoded value")]
    TrailingBytes { trailing: usize },
}

/// Encodes a value with the crate's fixed bincode configuration.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, CONFIG).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a value that must occupy all of `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) =
        bincode::serde::decode_from_slice(bytes, CONFIG).map_err(|e| CodecError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes { trailing: bytes.len() - read });
    }
    Ok(value)
}

/// Decodes projection snapshot state (written by [`encode`]) under [`SNAPSHOT_DECODE_LIMIT`];
/// the value must occupy all of `bytes`. Only for bytes whose integrity was checked first
/// (the snapshot's BLAKE3 hash): the larger limit is a backstop, not the defence.
pub fn decode_snapshot<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) =
        bincode::serde::decode_from_slice(bytes, SNAPSHOT_CONFIG).map_err(|e| CodecError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes { trailing: bytes.len() - read });
    }
    Ok(value)
}

/// Decodes a value that borrows from `bytes` (strings and byte slices without copies), which
/// must occupy all of `bytes`.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the reference the store's hand-written record reader is tested against")
)]
pub fn decode_borrowed<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    let (value, read) =
        bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(|e| CodecError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes { trailing: bytes.len() - read });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        a: u64,
        b: String,
        c: Option<Vec<u8>>,
        d: i64,
    }

    proptest! {
        #[test]
        fn round_trips(a in any::<u64>(), b in ".{0,40}", c in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)), d in any::<i64>()) {
            let s = Sample { a, b, c, d };
            let bytes = encode(&s).unwrap();
            prop_assert_eq!(decode::<Sample>(&bytes).unwrap(), s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<Sample>(&bytes);
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&7u32).unwrap();
        bytes.push(0);
        assert!(matches!(decode::<u32>(&bytes), Err(CodecError::TrailingBytes { trailing: 1 })));
    }

    #[test]
    fn the_limit_counts_claims_not_encoded_bytes() {
        // 3 Mi one-byte varints: 3 MiB encoded, but 24 MiB claimed (8 per u64).
        let v = vec![1u64; 3 << 20];
        let bytes = encode(&v).unwrap();
        assert!(bytes.len() < DECODE_LIMIT);
        assert!(decode::<Vec<u64>>(&bytes).is_err());
        assert_eq!(decode_snapshot::<Vec<u64>>(&bytes).unwrap(), v);
    }

    #[test]
    fn snapshot_decoding_is_the_same_format_and_still_exact() {
        let s = Sample { a: 1, b: "安全".into(), c: Some(vec![1, 2]), d: -3 };
        let mut bytes = encode(&s).unwrap();
        assert_eq!(decode_snapshot::<Sample>(&bytes).unwrap(), s);
        bytes.push(0);
        assert!(matches!(decode_snapshot::<Sample>(&bytes), Err(CodecError::TrailingBytes { trailing: 1 })));
        let mut huge = vec![0xFF];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_snapshot::<Vec<u8>>(&huge).is_err());
    }

    #[test]
    fn huge_length_prefix_is_refused_not_allocated() {
        // A Vec<u8> claiming u64::MAX elements.
        let mut bytes = vec![0xFF];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}
