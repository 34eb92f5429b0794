//! Layer 1, storage backends: an ordered, durable key-value space under the event store. Owns the
//! `Backend` contract and its sled implementation (the redo journal, the write-back overlay, the
//! value file). May import `codec` only; knows nothing of events. Internal to the crate: the store
//! re-exports what a host needs to bring its own backend.
//!
//! The event store above owns every rule about events (versions, idempotency, hashing,
//! subscriptions); a backend only has to provide an ordered byte-keyed map with
//! - atomic batches: [`Backend::apply`] makes all of a batch visible or none of it, across any
//!   keys, and after a crash either the whole batch or none of it is found;
//! - explicit durability: [`Backend::sync`] returns only when everything applied before it
//!   survives power loss.
//!
//! That is all a replicated backend on an existing distributed engine has to offer to pass the
//! same tests. sled ([`sled_backend::SledBackend`]) is the embedded default.
//!
//! Reads check what they read. Every byte the sled backend serves from disk is covered by a
//! check that is verified when the bytes are read, and a mismatch is an error, never a value:
//!
//! | bytes on disk | covered by | verified |
//! |---|---|---|
//! | `anquan.values`: the event store's segments | XXH3-64 per frame (`value_log`) | on every read of a frame, by pointer or by a scan, before decompression and before the cache; a mismatch is [`StorageError::Damaged`] naming the key and the frame |
//! | sled's `db` and `snap.*`: value-file pointers, stream index entries, the head record, the layout version, projection snapshots, the backend's `0xFF` keys | sled's CRC32 on every log message and on its snapshot file | by sled when it reads a page from disk ([`StorageError::Engine`]); at recovery a damaged message ends sled's log there, and the backend refuses to open as lost data if a checkpoint had made later batches durable (the journal header says which) |
//! | `anquan.journal`, `anquan.journal.b` | 16 bytes of BLAKE3 per record and on the header (`journal`) | at open: replay stops at the first record that fails (a torn write); a damaged header refuses the open |
//!
//! The event store above adds its own: id-index run files carry BLAKE3 per block
//! (`store::id_index`), a projection snapshot's state is checked against the BLAKE3 in its meta
//! record, each read checks that a segment's records hold their places' positions and that a
//! stream's index entries match its segments, and `verify` recomputes the hash chain over every
//! record (the check of meaning: a value rewritten with a valid frame is named there).

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "cluster")]
pub mod cluster_vault;
mod journal;
mod overlay;
pub(crate) mod sled_backend;
pub(crate) mod value_log;

use std::ops::Bound;

pub use sled_backend::SledBackend;

/// An error from the storage layer. The embedded engine's own error types stay inside this
/// module: sled's I/O errors arrive as [`StorageError::Io`], everything else it reports as text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The embedded engine (sled) failed other than by I/O: its own checksums found damaged data
    /// in its files, or it reports a bug. Its message, as text.
    #[error("sled error: {0}")]
    Engine(String),
    #[error("the store directory {path} is in use by another process or could not be locked: {reason}")]
    Locked { path: String, reason: String },
    #[error("storage fault: {0}")]
    Fault(String),
    /// A stored value cannot be read back as written (for the sled backend: its frame in the
    /// value file fails its checksum or does not decode, or its pointer is damaged). Its bytes are
    /// never returned. The store reports it as corruption at the key's place.
    #[error("the stored value of key {} is damaged: {detail}", display_key(key))]
    Damaged { key: Vec<u8>, detail: String },
    /// The folder holds files of a format this build does not read (`found` says which); it is
    /// refused before anything in it is changed.
    #[error("{found}; this version reads only the current format")]
    UnsupportedFormat { found: String },
}

/// A key for messages: its printable prefix byte, then hex.
fn display_key(key: &[u8]) -> String {
    match key.split_first() {
        Some((first, rest)) if first.is_ascii_graphic() => {
            format!("{}{}", *first as char, rest.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
        _ => key.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// sled's error as this layer's: I/O stays I/O (its kind, such as a full disk, is kept), anything
/// else becomes text, so sled's types stay out of the storage API.
fn sled_error(e: sled::Error) -> StorageError {
    match e {
        sled::Error::Io(io) => StorageError::Io(io),
        other => StorageError::Engine(other.to_string()),
    }
}

/// One write inside an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// A set of writes applied atomically by [`Backend::apply`].
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
    bytes: usize,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.bytes += key.len() + value.len();
        self.ops.push(WriteOp::Put(key, value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.bytes += key.len();
        self.ops.push(WriteOp::Delete(key));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Sum of key and value lengths, for tracing and limits.
    pub fn payload_bytes(&self) -> usize {
        self.bytes
    }

    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// A key and its value, as returned by scans.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over a key range, in key order or in reverse.
pub type ScanIter<'a> = Box<dyn Iterator<Item = Result<KeyValue, StorageError>> + Send + 'a>;

/// The ordered, durable key-value space the event store is built on. Keys starting with `0xFF`
/// are reserved for the backend itself.
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Keys in `[start, end)`-style bounds, ascending, or descending when `reverse`.
    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_>;

    /// Applies every write of `batch` atomically (all visible, or none; after a crash, all or none).
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Makes everything applied so far durable against process crash and power loss.
    fn sync(&self) -> Result<(), StorageError>;

    /// Bytes the backend occupies on disk (0 if it cannot tell).
    fn size_on_disk(&self) -> Result<u64, StorageError>;

    /// The last key-value pair whose key starts with `prefix` and is at most `upper`
    /// (inclusive), if any. Used to find the segment holding a position and a stream's head.
    fn last_at_or_before(&self, prefix: &[u8], upper: &[u8]) -> Result<Option<KeyValue>, StorageError> {
        let mut it = self.scan(Bound::Included(prefix.to_vec()), Bound::Included(upper.to_vec()), true);
        match it.next() {
            Some(Ok((k, v))) if k.starts_with(prefix) => Ok(Some((k, v))),
            Some(Ok(_)) | None => Ok(None),
            Some(Err(e)) => Err(e),
        }
    }
}

/// The exclusive upper bound of all keys starting with `prefix` (None if there is none,
/// i.e. the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Bounds covering exactly the keys that start with `prefix`.
pub fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let end = match prefix_end(prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    (Bound::Included(prefix.to_vec()), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte_and_carries() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
    }
}
