//! The one place where bytes meet types: serde + bincode 2 with a fixed configuration.
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

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
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

/// Appends the encoding of a value to `out` (used to build segments without extra copies).
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let bytes = encode(value)?;
    out.extend_from_slice(&bytes);
    Ok(())
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

/// Decodes a value that borrows from `bytes` (strings and byte slices without copies), which
/// must occupy all of `bytes`.
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
    fn huge_length_prefix_is_refused_not_allocated() {
        // A Vec<u8> claiming u64::MAX elements.
        let mut bytes = vec![0xFF];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}
