//! Notarisation of the log: an Ed25519 signature over the store's head, checked later against
//! the same log.
//!
//! The hash chain makes every event depend on all events before it, so the pair
//! (number of events `n`, hash of event `n - 1`) commits to the whole prefix `0..n`. Signing that
//! pair — with a caller-given timestamp, and under a domain-separation tag — and handing the
//! [`SignedHead`] to an outside party (a notary, an auditor, a second site) lets anyone holding
//! the public key prove later that the first `n` events are exactly those that were signed.
//!
//! Invariants:
//! - The signed message is `"anquan.notary.head.v1" || n (u64 LE) || head hash (32 bytes) ||
//!   timestamp (i64 LE, microseconds since the Unix epoch)`; nothing else is trusted from a
//!   [`SignedHead`] (the embedded public key is only compared with the caller's key).
//! - [`sign_head`] signs only a log that [`EventStore::verify`] accepts, and signs exactly the
//!   prefix verify walked (a concurrent append cannot slip an unverified event under the
//!   signature).
//! - [`verify_signed_head`] succeeds only if the signature is valid for the caller's key AND the
//!   whole current log verifies AND its event `n - 1` has the signed hash (the genesis hash for
//!   `n = 0`). The log may have grown since signing; any altered, removed, reordered or inserted
//!   event anywhere in the log fails it.
//! - No function panics on its input: malformed hex, keys or signatures are errors.
//! - The library never draws randomness: keys come from 32 secret bytes the caller provides.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey, SECRET_KEY_LENGTH};
use serde::{Deserialize, Serialize};

use crate::store::{to_hex, Direction, EventStore, Hash, StoreError, Timestamp, GENESIS_HASH};

/// The format tag of a [`SignedHead`], also the domain-separation prefix of the signed message.
pub const SIGNED_HEAD_FORMAT: &str = "anquan.notary.head.v1";

/// Why signing or checking a head failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotaryError {
    #[error("{field} is not {expected} bytes of hex")]
    Hex { field: &'static str, expected: usize },
    #[error("invalid Ed25519 public key: {reason}")]
    InvalidKey { reason: String },
    #[error("unsupported signed head format {format:?} (expected {SIGNED_HEAD_FORMAT:?})")]
    UnsupportedFormat { format: String },
    #[error("the signed head names public key {signed}, not the expected key {expected}")]
    KeyMismatch { signed: String, expected: String },
    #[error("the signature does not verify for this key and head")]
    BadSignature,
    #[error("the log fails verification at position {position}: {detail}")]
    LogCorrupt { position: u64, detail: String },
    #[error("the signed head covers {signed} events but the log holds only {actual}")]
    LogTooShort { signed: u64, actual: u64 },
    #[error("the log's hash after {position} events is {actual}, the signed hash is {signed}")]
    HashMismatch { position: u64, signed: String, actual: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed statement "this log's first `next_position` events hash to `head_hash`", as of
/// `timestamp`. Serialises to small JSON with hex strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Always [`SIGNED_HEAD_FORMAT`].
    pub format: String,
    /// Number of events covered (the position of the next event).
    pub next_position: u64,
    /// Hex BLAKE3 chain hash of event `next_position - 1` (all zeros for an empty log).
    pub head_hash: String,
    /// Caller-given time of signing, microseconds since the Unix epoch (UTC).
    pub timestamp: Timestamp,
    /// Hex of the signer's Ed25519 public key (32 bytes), for the reader's convenience.
    pub public_key: String,
    /// Hex of the Ed25519 signature (64 bytes) over the message described in the module docs.
    pub signature: String,
}

/// A signing key from 32 secret bytes (e.g. from a hardware token or a key file).
pub fn signing_key_from_secret(secret: &[u8; SECRET_KEY_LENGTH]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// The 32 secret bytes of a signing key as hex (keep it secret).
pub fn signing_key_to_hex(key: &SigningKey) -> String {
    to_hex(&key.to_bytes())
}

/// A signing key from 64 hex digits.
pub fn signing_key_from_hex(hex: &str) -> Result<SigningKey, NotaryError> {
    Ok(SigningKey::from_bytes(&from_hex::<SECRET_KEY_LENGTH>(hex, "signing key")?))
}

/// A public key as 64 hex digits.
pub fn verifying_key_to_hex(key: &VerifyingKey) -> String {
    to_hex(key.as_bytes())
}

/// A public key from 64 hex digits; refuses bytes that are not a valid curve point.
pub fn verifying_key_from_hex(hex: &str) -> Result<VerifyingKey, NotaryError> {
    let bytes = from_hex::<32>(hex, "public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| NotaryError::InvalidKey { reason: e.to_string() })
}

/// The exact bytes that are signed.
fn message(next_position: u64, head_hash: &Hash, timestamp: Timestamp) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_HEAD_FORMAT.len() + 8 + 32 + 8);
    m.extend_from_slice(SIGNED_HEAD_FORMAT.as_bytes());
    m.extend_from_slice(&next_position.to_le_bytes());
    m.extend_from_slice(head_hash);
    m.extend_from_slice(&timestamp.0.to_le_bytes());
    m
}

/// Signs an explicit (position, hash) pair. [`sign_head`] is the safe way to sign a store.
pub fn sign_position(key: &SigningKey, next_position: u64, head_hash: &Hash, timestamp: Timestamp) -> SignedHead {
    let signature = key.sign(&message(next_position, head_hash, timestamp));
    SignedHead {
        format: SIGNED_HEAD_FORMAT.to_string(),
        next_position,
        head_hash: to_hex(head_hash),
        timestamp,
        public_key: verifying_key_to_hex(&key.verifying_key()),
        signature: to_hex(&signature.to_bytes()),
    }
}

/// Verifies the whole log, then signs the head that verification walked to.
pub fn sign_head(store: &EventStore, key: &SigningKey, timestamp: Timestamp) -> Result<SignedHead, NotaryError> {
    let report = store.verify()?;
    if let Some(p) = report.problem {
        return Err(NotaryError::LogCorrupt { position: p.position, detail: p.detail });
    }
    let hash = if report.events == 0 {
        GENESIS_HASH
    } else {
        from_hex::<32>(&report.computed_head_hash, "computed head hash")?
    };
    Ok(sign_position(key, report.events, &hash, timestamp))
}

/// Checks only the signature of a signed head (and its format and key), not any log.
pub fn verify_signature(signed: &SignedHead, key: &VerifyingKey) -> Result<Hash, NotaryError> {
    if signed.format != SIGNED_HEAD_FORMAT {
        return Err(NotaryError::UnsupportedFormat { format: signed.format.clone() });
    }
    let expected = verifying_key_to_hex(key);
    if !signed.public_key.eq_ignore_ascii_case(&expected) {
        return Err(NotaryError::KeyMismatch { signed: signed.public_key.clone(), expected });
    }
    let hash = from_hex::<32>(&signed.head_hash, "head_hash")?;
    let signature = Signature::from_bytes(&from_hex::<64>(&signed.signature, "signature")?);
    key.verify_strict(&message(signed.next_position, &hash, signed.timestamp), &signature)
        .map_err(|_| NotaryError::BadSignature)?;
    Ok(hash)
}

/// Checks the signature with `key`, then that `store`'s log still hashes to the signed head at
/// the signed position (the log may have grown since).
pub fn verify_signed_head(store: &EventStore, signed: &SignedHead, key: &VerifyingKey) -> Result<(), NotaryError> {
    let signed_hash = verify_signature(signed, key)?;
    let report = store.verify()?;
    if let Some(p) = report.problem {
        return Err(NotaryError::LogCorrupt { position: p.position, detail: p.detail });
    }
    let n = signed.next_position;
    if n > report.events {
        return Err(NotaryError::LogTooShort { signed: n, actual: report.events });
    }
    let actual = if n == 0 {
        GENESIS_HASH
    } else {
        let events = store.read_all(n - 1, Direction::Forward, 1)?;
        match events.first() {
            Some(e) if e.position == n - 1 => e.hash,
            _ => return Err(NotaryError::LogTooShort { signed: n, actual: n - 1 }),
        }
    };
    if actual != signed_hash {
        return Err(NotaryError::HashMismatch { position: n, signed: to_hex(&signed_hash), actual: to_hex(&actual) });
    }
    Ok(())
}

/// Exactly `N` bytes from `2N` hex digits (either case).
fn from_hex<const N: usize>(hex: &str, field: &'static str) -> Result<[u8; N], NotaryError> {
    let err = || NotaryError::Hex { field, expected: N };
    let digits = hex.as_bytes();
    if digits.len() != 2 * N {
        return Err(err());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (nibble(pair[0]).ok_or_else(err)?, nibble(pair[1]).ok_or_else(err)?);
        *byte = (hi << 4) | lo;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_bad_input() {
        let bytes = [0u8, 0xAB, 0x1F, 0xFF];
        assert_eq!(from_hex::<4>(&to_hex(&bytes), "x").unwrap(), bytes);
        assert_eq!(from_hex::<4>("00AB1fFF", "x").unwrap(), bytes);
        for bad in ["", "00ab1f", "00ab1fff00", "00ab1fzz", "éé00ab"] {
            assert!(from_hex::<4>(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_message_binds_every_field() {
        let h = [7u8; 32];
        let base = message(3, &h, Timestamp(10));
        assert_ne!(base, message(4, &h, Timestamp(10)));
        assert_ne!(base, message(3, &[8u8; 32], Timestamp(10)));
        assert_ne!(base, message(3, &h, Timestamp(11)));
    }
}
