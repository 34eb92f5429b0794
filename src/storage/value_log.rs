//! Out-of-line values: the bytes of write-once keys, kept in one append-only file beside sled.
//!
//! Why: the event store's segments (≈ 32 KiB each, written once, never replaced) made up almost
//! all of sled's bytes. Inside sled they cost three times: sled copies a whole leaf (up to 16
//! segments) every time it consolidates one, it keeps every segment a scan touched in memory
//! (its cache does not bound a scan), and its log keeps superseded leaf copies until its cleaner
//! runs. Here a segment is written once, in order, and sled holds a 12-byte pointer to it.
//!
//! Which keys: those whose first byte is one of the store's out-of-line prefixes, fixed when the
//! store is created and recorded in sled (a store created before this file existed keeps every
//! value in sled). Such keys are meant to be written once: replacing or deleting one leaves its
//! old bytes in the file, unreferenced.
//!
//! Format: `magic "ANQVLOG1"`, then entries `len u32 LE ‖ value [len]`, back to back. A pointer is
//! `offset u64 LE ‖ len u32 LE`, the offset of the value itself (after its length).
//!
//! Invariants:
//! - Values are written and `fdatasync`ed before any sled batch holding pointers to them is
//!   applied, so a pointer sled holds, even after power loss, names bytes on the disk.
//! - Bytes after the last pointer sled holds (a flush that wrote the file and then stopped before
//!   its sled batch) are never referenced: the batches they came from are still in the journal and
//!   are written again, further on. New values always go after the file's end.
//! - sled records the end of the bytes its pointers reference; a file shorter than that at open
//!   means the file lost data, and the store refuses to open.
//! - Nothing here checks the values' contents: the event store's hash chain covers every byte of
//!   a segment, so a changed byte is named by `verify` at its position, as it was inside sled.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StorageError;

/// The file's name in the store folder.
pub const VALUE_LOG_FILE: &str = "anquan.values";
const MAGIC: &[u8; 8] = b"ANQVLOG1";
const ENTRY_HEADER_LEN: u64 = 4;
/// Length of a pointer as sled stores it.
pub const POINTER_LEN: usize = 12;
/// Largest value the file takes. The store's values are far smaller (segments ≈ 32 KiB, one
/// event ≤ 64 KiB); the bound keeps a damaged pointer from asking for gigabytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// A scan that reads values in file order reads ahead, from this much…
const READ_AHEAD_MIN_BYTES: u64 = 256 * 1024;
/// …doubling up to this much.
const READ_AHEAD_BYTES: u64 = 1024 * 1024;

/// Where a value lies in the file: `(offset, len)`, or `None` if `pointer` is not one.
pub fn decode_pointer(pointer: &[u8]) -> Option<(u64, u32)> {
    if pointer.len() != POINTER_LEN {
        return None;
    }
    let offset = u64::from_le_bytes(pointer[..8].try_into().ok()?);
    let len = u32::from_le_bytes(pointer[8..].try_into().ok()?);
    Some((offset, len))
}

/// Refuses a value larger than the file takes ([`MAX_VALUE_BYTES`]).
pub fn check_value_size(len: usize) -> Result<(), StorageError> {
    if len > MAX_VALUE_BYTES {
        return Err(StorageError::Fault(format!(
            "a value of {len} bytes is larger than the value file takes ({MAX_VALUE_BYTES})"
        )));
    }
    Ok(())
}

fn encode_pointer(offset: u64, len: u32) -> [u8; POINTER_LEN] {
    let mut p = [0u8; POINTER_LEN];
    p[..8].copy_from_slice(&offset.to_le_bytes());
    p[8..].copy_from_slice(&len.to_le_bytes());
    p
}

/// The value file of one store.
#[derive(Debug)]
pub struct ValueLog {
    file: File,
    path: PathBuf,
    prefixes: Vec<u8>,
    /// End of the bytes written and synced; the next values go here.
    end: AtomicU64,
}

/// Values gathered for one write, and the pointers handed out for them.
#[derive(Debug)]
pub struct Staged {
    base: u64,
    buf: Vec<u8>,
}

impl Staged {
    /// Adds a value; returns the pointer sled is to hold for it.
    pub fn push(&mut self, value: &[u8]) -> Result<[u8; POINTER_LEN], StorageError> {
        check_value_size(value.len())?;
        let len = value.len() as u32;
        self.buf.extend_from_slice(&len.to_le_bytes());
        let offset = self.base + self.buf.len() as u64;
        self.buf.extend_from_slice(value);
        Ok(encode_pointer(offset, len))
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A scan's read buffer: values read in file order are read ahead, up to a MiB at a time.
#[derive(Debug, Default)]
pub struct ReadAhead {
    start: u64,
    buf: Vec<u8>,
    /// How far the last read-ahead reached; doubles while values come in file order.
    window: u64,
    /// End of the last value read, to recognise the next one in the file.
    last_end: u64,
}

impl ValueLog {
    /// Opens (creating if needed) the value file in `dir` for keys starting with one of
    /// `prefixes`. `referenced_end` is the end of the bytes sled's pointers reference.
    pub fn open(dir: &Path, prefixes: Vec<u8>, referenced_end: u64) -> Result<Self, StorageError> {
        let path = dir.join(VALUE_LOG_FILE);
        let file = File::options().read(true).write(true).create(true).truncate(false).open(&path)?;
        let mut len = file.metadata()?.len();
        let name = path.display();
        if len < referenced_end {
            return Err(StorageError::Fault(format!(
                "the store's files lost data: {name} holds {len} bytes, but the store refers to bytes up to {referenced_end}; \
                 restore the folder from a backup"
            )));
        }
        if len < MAGIC.len() as u64 {
            // New, or cut before its magic was complete (nothing can refer to it yet). The
            // folder is synced too: replay at open may write acknowledged values here before
            // anything else syncs the folder.
            file.write_all_at(MAGIC, 0)?;
            file.set_len(MAGIC.len() as u64)?;
            file.sync_all()?;
            File::open(dir)?.sync_all()?;
            len = MAGIC.len() as u64;
        } else {
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0)?;
            if &magic != MAGIC {
                return Err(StorageError::Fault(format!("{name} is not an anquan value file (magic {magic:02x?})")));
            }
        }
        Ok(Self { file, path, prefixes, end: AtomicU64::new(len) })
    }

    /// Whether `key`'s values live in this file.
    pub fn holds(&self, key: &[u8]) -> bool {
        key.first().is_some_and(|b| self.prefixes.contains(b))
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= MAGIC.len() as u64
    }

    /// Starts gathering values to write at the end of the file. One write at a time: the caller
    /// serialises `stage` … `commit`.
    pub fn stage(&self) -> Staged {
        Staged { base: self.len(), buf: Vec::new() }
    }

    /// Writes what `staged` gathered and makes it durable; returns the new end of the file.
    pub fn commit(&self, staged: Staged) -> Result<u64, StorageError> {
        if staged.buf.is_empty() {
            return Ok(staged.base);
        }
        let _span = tracing::debug_span!("value_log_write", bytes = staged.buf.len()).entered();
        self.file.write_all_at(&staged.buf, staged.base)?;
        // `fdatasync` also commits the grown size: without it the data would not be found.
        self.file.sync_data()?;
        let end = staged.base + staged.buf.len() as u64;
        self.end.store(end, Ordering::Release);
        Ok(end)
    }

    /// The value `pointer` (stored under `key`) names.
    pub fn read(&self, key: &[u8], pointer: &[u8]) -> Result<Vec<u8>, StorageError> {
        let (offset, len) = self.locate(key, pointer)?;
        let mut out = vec![0u8; len as usize];
        self.file.read_exact_at(&mut out, offset)?;
        Ok(out)
    }

    /// As [`ValueLog::read`], reading ahead when values are read in file order.
    pub fn read_ahead(&self, key: &[u8], pointer: &[u8], ahead: &mut ReadAhead) -> Result<Vec<u8>, StorageError> {
        let (offset, len) = self.locate(key, pointer)?;
        let end = offset + u64::from(len);
        let buffered = |a: &ReadAhead| offset >= a.start && end <= a.start + a.buf.len() as u64;
        if !buffered(ahead) {
            if offset != ahead.last_end + ENTRY_HEADER_LEN {
                ahead.last_end = end;
                ahead.window = 0;
                return self.read(key, pointer);
            }
            // In file order: read ahead, twice as far each time, so a short page reads little.
            ahead.window = (ahead.window * 2).clamp(READ_AHEAD_MIN_BYTES, READ_AHEAD_BYTES);
            let want = (u64::from(len).max(ahead.window)).min(self.len() - offset);
            ahead.buf.resize(want as usize, 0);
            if let Err(e) = self.file.read_exact_at(&mut ahead.buf, offset) {
                ahead.buf.clear();
                return Err(e.into());
            }
            ahead.start = offset;
        }
        ahead.last_end = end;
        let from = (offset - ahead.start) as usize;
        Ok(ahead.buf[from..from + len as usize].to_vec())
    }

    fn locate(&self, key: &[u8], pointer: &[u8]) -> Result<(u64, u32), StorageError> {
        let damaged = |detail: String| StorageError::Damaged { key: key.to_vec(), detail };
        let (offset, len) = decode_pointer(pointer).ok_or_else(|| {
            damaged(format!("malformed pointer into {} ({} bytes)", self.path.display(), pointer.len()))
        })?;
        if offset < MAGIC.len() as u64 + ENTRY_HEADER_LEN
            || len as usize > MAX_VALUE_BYTES
            || offset.saturating_add(u64::from(len)) > self.len()
        {
            return Err(damaged(format!(
                "its pointer names bytes {offset}..+{len} of {}, which holds {} bytes",
                self.path.display(),
                self.len()
            )));
        }
        Ok((offset, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_by_pointer_and_in_order_with_read_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0).unwrap();
        assert!(log.holds(b"S123") && !log.holds(b"E123") && !log.holds(b""));
        let values: Vec<Vec<u8>> = (0..300u32).map(|i| vec![i as u8; 1000 + i as usize * 37]).collect();
        let mut pointers = Vec::new();
        for chunk in values.chunks(100) {
            let mut staged = log.stage();
            for v in chunk {
                pointers.push(staged.push(v).unwrap());
            }
            log.commit(staged).unwrap();
        }
        for (p, v) in pointers.iter().zip(&values) {
            assert_eq!(&log.read(b"S", p).unwrap(), v);
        }
        let mut ahead = ReadAhead::default();
        for (p, v) in pointers.iter().zip(&values) {
            assert_eq!(&log.read_ahead(b"S", p, &mut ahead).unwrap(), v);
        }
        // Backwards and skipping: still exact.
        let mut ahead = ReadAhead::default();
        for (p, v) in pointers.iter().zip(&values).rev().step_by(7) {
            assert_eq!(&log.read_ahead(b"S", p, &mut ahead).unwrap(), v);
        }
        let end = log.len();
        drop(log);
        let log = ValueLog::open(dir.path(), vec![b'S'], end).unwrap();
        assert_eq!(log.read(b"S", &pointers[299]).unwrap(), values[299]);
    }

    #[test]
    fn a_file_shorter_than_what_sled_refers_to_is_lost_data_and_bad_pointers_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0).unwrap();
        let mut staged = log.stage();
        let p = staged.push(b"hello").unwrap();
        let end = log.commit(staged).unwrap();
        assert!(log.read(b"S", &p[..11]).is_err(), "short pointer");
        let mut past = p;
        past[..8].copy_from_slice(&(end - 2).to_le_bytes());
        let err = log.read(b"S", &past).unwrap_err().to_string();
        assert!(err.contains("which holds"), "{err}");
        let mut huge = p;
        huge[8..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(log.read(b"S", &huge).is_err(), "a damaged length is refused, not allocated");
        assert!(log.stage().push(&vec![0u8; MAX_VALUE_BYTES + 1]).is_err());
        drop(log);
        let file = File::options().write(true).open(dir.path().join(VALUE_LOG_FILE)).unwrap();
        file.set_len(end - 1).unwrap();
        let err = ValueLog::open(dir.path(), vec![b'S'], end).unwrap_err().to_string();
        assert!(err.contains("lost data"), "{err}");
        std::fs::write(dir.path().join(VALUE_LOG_FILE), b"NOTAVLOGxxxx").unwrap();
        let err = ValueLog::open(dir.path(), vec![b'S'], 0).unwrap_err().to_string();
        assert!(err.contains("not an anquan value file"), "{err}");
    }
}
