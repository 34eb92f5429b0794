//! Out-of-line values: the bytes of write-once keys, kept in one append-only file beside sled.
//!
//! Why: the event store's segments (≈ 32 KiB each, written once, never replaced) made up almost
//! all of sled's bytes. Inside sled they cost three times: sled copies a whole leaf (up to 16
//! segments) every time it consolidates one, it keeps every segment a scan touched in memory
//! (its cache does not bound a scan), and its log keeps superseded leaf copies until its cleaner
//! runs. Here a segment is written once, in order, and sled holds a 12-byte pointer to it.
//!
//! Which keys: those whose first byte is one of the out-of-line prefixes, fixed when the store is
//! created and recorded in sled. Such keys are meant to be written once: replacing or deleting
//! one leaves its old bytes in the file, unreferenced.
//!
//! Format: the magic `"ANQVLOG3"`, then entries `len u32 LE ‖ frame [len]`, back to back. A frame
//! is `check u64 LE ‖ codec u8 ‖ raw_len u32 LE ‖ body`:
//! - `check` is XXH3-64 of the frame's bytes after it (codec, `raw_len`, body), seeded with `len`:
//!   every stored byte of the entry but the check itself is covered, the length included;
//! - codec 0 stores the value as it is (`body` is the value, `raw_len` its length); codec 1 is one
//!   zstd frame that decompresses to exactly `raw_len` bytes. Which codec a value gets is decided
//!   per value ([`Compression`]; a value that does not shrink is stored as it is).
//!
//! A pointer is `offset u64 LE ‖ len u32 LE`, the offset and length of the frame (after its
//! length prefix). Reads take the length from the pointer (sled checks its own bytes); the prefix
//! is there so that the file can be walked on its own, frame by frame, each with its check.
//!
//! Compression runs where values are written: in the flush that moves the overlay into sled
//! (the background thread; a committing thread only under back pressure) and in the replay at
//! open, never in a commit's own `apply` or `sync`: a commit's segments stay in the overlay,
//! uncompressed, until a flush moves them here. Reading decompresses each value it reads; reads
//! by pointer keep recent decompressed values (`ValueCache`), scans never do.
//!
//! Invariants:
//! - Every frame read from the file, by pointer or by a scan, has its check verified before
//!   anything else is done with its bytes (before decompression, before the cache). A frame whose
//!   check does not match, that does not decompress, or not to its `raw_len`, or with an unknown
//!   codec, is `StorageError::Damaged`, naming the key and the frame (its bytes in the file); its
//!   bytes are never returned. The cache holds only values whose frames passed their check.
//! - Values are written and `fdatasync`ed before any sled batch holding pointers to them is
//!   applied, so a pointer sled holds, even after power loss, names bytes on the disk.
//! - Bytes after the last pointer sled holds (a flush that wrote the file and then stopped before
//!   its sled batch) are never referenced: the batches they came from are still in the journal and
//!   are written again, further on. New values always go after the file's end.
//! - sled records the end of the bytes its pointers reference; a file shorter than that at open
//!   means the file lost data, and the store refuses to open.
//! - Only this format is read: a file with another `ANQVLOG` magic (the checkless formats 1 and 2)
//!   is refused at open with [`StorageError::UnsupportedFormat`], before anything is written.
//! - The check covers the bytes, not their meaning: the event store's hash chain covers every
//!   byte of a segment (as decompressed), and `verify` names a changed one at its position.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::StorageError;

/// The file's name in the store folder.
pub const VALUE_LOG_FILE: &str = "anquan.values";
/// The format this build reads and writes: checked frames.
const MAGIC: &[u8; 8] = b"ANQVLOG3";
/// The start of every value file's magic, whatever its format.
const MAGIC_FAMILY: &[u8] = b"ANQVLOG";
const MAGIC_LEN: u64 = 8;
const ENTRY_HEADER_LEN: u64 = 4;
/// Length of a frame's check, its first field.
const CHECK_LEN: usize = 8;
/// `check u64 LE ‖ codec u8 ‖ raw_len u32 LE` before a frame's body.
const FRAME_HEADER_LEN: usize = CHECK_LEN + 1 + 4;
const CODEC_STORED: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// Values shorter than this are stored as they are: zstd's frame overhead eats the gain.
const COMPRESS_MIN_BYTES: usize = 64;
/// Decompressed values kept for reads by pointer (see [`ValueCache`]).
const CACHE_BYTES: usize = 8 * 1024 * 1024;
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

/// How values written from now on are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Values as they are: reads copy them, no decompression.
    None,
    /// zstd at this level (1 = fastest; higher levels shrink a little more and write slower;
    /// reading speed barely depends on the level).
    Zstd { level: i32 },
}

impl Default for Compression {
    /// zstd level 1: about 40% fewer bytes for the store's segments at about 0.1–0.2 µs more
    /// per event read in a scan, measured side by side with uncompressed segments.
    fn default() -> Self {
        Compression::Zstd { level: 1 }
    }
}

fn encode_pointer(offset: u64, len: u32) -> [u8; POINTER_LEN] {
    let mut p = [0u8; POINTER_LEN];
    p[..8].copy_from_slice(&offset.to_le_bytes());
    p[8..].copy_from_slice(&len.to_le_bytes());
    p
}

/// The check of a frame of `frame_len` bytes whose bytes after the check are `checked`.
fn frame_check(checked: &[u8], frame_len: usize) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(checked, frame_len as u64)
}

/// Appends a frame (without its length prefix) holding `body` under `codec` to `out`.
fn put_frame(out: &mut Vec<u8>, codec: u8, raw_len: usize, body: &[u8]) {
    let at = out.len();
    out.extend_from_slice(&[0u8; CHECK_LEN]);
    out.push(codec);
    // Values are at most MAX_VALUE_BYTES (checked before they get here), far below u32::MAX.
    out.extend_from_slice(&(raw_len as u32).to_le_bytes());
    out.extend_from_slice(body);
    let check = frame_check(&out[at + CHECK_LEN..], out.len() - at);
    out[at..at + CHECK_LEN].copy_from_slice(&check.to_le_bytes());
}

/// A frame holding `value` as it is (codec 0), with its check: what the file stores for a value
/// that does not shrink. For tools and tests that write frames of their own.
pub fn frame_as_is(value: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + value.len());
    put_frame(&mut frame, CODEC_STORED, value.len(), value);
    frame
}

/// The value file of one store.
pub struct ValueLog {
    file: File,
    path: PathBuf,
    prefixes: Vec<u8>,
    /// End of the bytes written and synced; the next values go here.
    end: AtomicU64,
    compression: Compression,
    /// Kept between writes (a zstd context is a few hundred KiB to set up); taken by `stage`.
    compressor: Mutex<Option<zstd::bulk::Compressor<'static>>>,
    cache: Mutex<ValueCache>,
}

/// Compressed values read by pointer lately, decompressed, up to [`CACHE_BYTES`], the oldest
/// dropped first; keyed by the whole pointer (offset and length), so a pointer naming other
/// bytes never meets another's value. Only values whose frames passed their check go in.
///
/// Why: reading a stream reads one segment per commit that touched it, and a host reads the same
/// streams again and again (each command loads its own); decompressing a 20–30 KiB segment costs
/// about ten times copying it. Scans never use it or fill it (in file order each segment is read
/// once), so `verify`, which scans, always reads the file: bytes changed behind the store's back
/// after they were cached are still found. A point read of such bytes may return what was read
/// (and checked) before the change, as a read a moment earlier would have.
#[derive(Debug, Default)]
struct ValueCache {
    values: HashMap<(u64, u32), Arc<[u8]>>,
    order: VecDeque<(u64, u32)>,
    bytes: usize,
}

impl ValueCache {
    fn get(&self, at: (u64, u32)) -> Option<Arc<[u8]>> {
        self.values.get(&at).cloned()
    }

    fn insert(&mut self, at: (u64, u32), value: Arc<[u8]>) {
        if value.len() > CACHE_BYTES / 4 || self.values.contains_key(&at) {
            return;
        }
        self.bytes += value.len();
        self.values.insert(at, value);
        self.order.push_back(at);
        while self.bytes > CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else { break };
            if let Some(v) = self.values.remove(&oldest) {
                self.bytes -= v.len();
            }
        }
    }
}

impl std::fmt::Debug for ValueLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueLog")
            .field("path", &self.path)
            .field("prefixes", &self.prefixes)
            .field("end", &self.end)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// Values gathered for one write, and the pointers handed out for them.
pub struct Staged {
    base: u64,
    buf: Vec<u8>,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    /// Compressed bytes of the value being pushed.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").field("base", &self.base).field("bytes", &self.buf.len()).finish_non_exhaustive()
    }
}

impl Staged {
    /// Adds a value; returns the pointer sled is to hold for it.
    pub fn push(&mut self, value: &[u8]) -> Result<[u8; POINTER_LEN], StorageError> {
        check_value_size(value.len())?;
        let compressed = match self.compressor.as_mut() {
            Some(compressor) if value.len() >= COMPRESS_MIN_BYTES => {
                self.scratch.clear();
                self.scratch.reserve(zstd::zstd_safe::compress_bound(value.len()));
                // A compression error is not the commit's problem: the value is stored as it is.
                matches!(compressor.compress_to_buffer(value, &mut self.scratch), Ok(n) if n < value.len())
            }
            _ => false,
        };
        let (codec, body) = if compressed { (CODEC_ZSTD, &self.scratch[..]) } else { (CODEC_STORED, value) };
        let len = (FRAME_HEADER_LEN + body.len()) as u32;
        self.buf.extend_from_slice(&len.to_le_bytes());
        let offset = self.base + self.buf.len() as u64;
        put_frame(&mut self.buf, codec, value.len(), body);
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
    /// `compression` applies to values written from now on.
    pub fn open(
        dir: &Path,
        prefixes: Vec<u8>,
        referenced_end: u64,
        compression: Compression,
    ) -> Result<Self, StorageError> {
        if let Compression::Zstd { level } = compression {
            let range = zstd::compression_level_range();
            if !range.contains(&level) {
                return Err(StorageError::Fault(format!(
                    "zstd compression level {level} is outside zstd's levels ({}..={})",
                    range.start(),
                    range.end()
                )));
            }
        }
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
        if len < MAGIC_LEN {
            // New, or cut before its magic was complete (nothing can refer to it yet). The
            // folder is synced too: replay at open may write acknowledged values here before
            // anything else syncs the folder.
            file.write_all_at(MAGIC, 0)?;
            file.set_len(MAGIC.len() as u64)?;
            file.sync_all()?;
            File::open(dir)?.sync_all()?;
            len = MAGIC_LEN;
        } else {
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0)?;
            if &magic != MAGIC {
                if magic.starts_with(MAGIC_FAMILY) {
                    return Err(StorageError::UnsupportedFormat {
                        found: format!(
                            "{name} is a value file of format {}, not {}",
                            String::from_utf8_lossy(&magic),
                            String::from_utf8_lossy(MAGIC)
                        ),
                    });
                }
                return Err(StorageError::Fault(format!("{name} is not an anquan value file (magic {magic:02x?})")));
            }
        }
        Ok(Self {
            file,
            path,
            prefixes,
            end: AtomicU64::new(len),
            compression,
            compressor: Mutex::new(None),
            cache: Mutex::new(ValueCache::default()),
        })
    }

    /// Whether `key`'s values live in this file.
    pub fn holds(&self, key: &[u8]) -> bool {
        key.first().is_some_and(|b| self.prefixes.contains(b))
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Starts gathering values to write at the end of the file. One write at a time: the caller
    /// serialises `stage` … `commit`.
    pub fn stage(&self) -> Staged {
        let compressor = match self.compression {
            Compression::Zstd { level } => {
                let kept = self.compressor.lock().ok().and_then(|mut c| c.take());
                // Without a context (zstd could not allocate one) values are stored as they are.
                kept.or_else(|| match zstd::bulk::Compressor::new(level) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "no zstd context: this flush stores its values uncompressed");
                        None
                    }
                })
            }
            Compression::None => None,
        };
        Staged { base: self.len(), buf: Vec::new(), compressor, scratch: Vec::new() }
    }

    /// Writes what `staged` gathered and makes it durable; returns the new end of the file.
    pub fn commit(&self, mut staged: Staged) -> Result<u64, StorageError> {
        if let (Some(compressor), Ok(mut kept)) = (staged.compressor.take(), self.compressor.lock()) {
            *kept = Some(compressor);
        }
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

    /// The value `pointer` (stored under `key`) names. Compressed values come from (and go to)
    /// the cache of recent ones (see `ValueCache`).
    pub fn read(&self, key: &[u8], pointer: &[u8]) -> Result<Vec<u8>, StorageError> {
        let (offset, len) = self.locate(key, pointer)?;
        if let Some(value) = self.cache.lock().ok().and_then(|c| c.get((offset, len))) {
            return Ok(value.to_vec());
        }
        let mut frame = vec![0u8; len as usize];
        self.file.read_exact_at(&mut frame, offset)?;
        let value = self.unframe(key, offset, frame)?;
        if value.compressed {
            let shared: Arc<[u8]> = Arc::from(&value.bytes[..]);
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert((offset, len), shared);
            }
        }
        Ok(value.bytes)
    }

    /// The value of the frame at `offset`, `len`, read from the file (no cache).
    fn read_file(&self, key: &[u8], offset: u64, len: u32) -> Result<Vec<u8>, StorageError> {
        let mut frame = vec![0u8; len as usize];
        self.file.read_exact_at(&mut frame, offset)?;
        Ok(self.unframe(key, offset, frame)?.bytes)
    }

    /// The value a frame read from `offset` holds, once its check passed (see the module's
    /// format); a frame stored as it is gives up its own buffer.
    fn unframe(&self, key: &[u8], offset: u64, mut frame: Vec<u8>) -> Result<Unframed, StorageError> {
        let len = frame.len();
        let (codec, raw_len, body) = checked_parts(&frame).map_err(|detail| self.damaged(key, offset, len, detail))?;
        if codec == CODEC_STORED && raw_len == body.len() {
            frame.drain(..FRAME_HEADER_LEN);
            return Ok(Unframed { bytes: frame, compressed: false });
        }
        let bytes = value_of(codec, raw_len, body).map_err(|detail| self.damaged(key, offset, len, detail))?;
        Ok(Unframed { bytes, compressed: true })
    }

    /// What a damaged frame is: its key, and where its bytes are.
    fn damaged(&self, key: &[u8], offset: u64, len: usize, detail: String) -> StorageError {
        StorageError::Damaged {
            key: key.to_vec(),
            detail: format!("its frame at bytes {offset}..{} of {} {detail}", offset + len as u64, self.path.display()),
        }
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
                // Not the cached point read: scans (and `verify`) read what the file holds.
                return self.read_file(key, offset, len);
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
        let frame = &ahead.buf[from..from + len as usize];
        unframe(frame).map_err(|detail| self.damaged(key, offset, frame.len(), detail))
    }

    fn locate(&self, key: &[u8], pointer: &[u8]) -> Result<(u64, u32), StorageError> {
        let damaged = |detail: String| StorageError::Damaged { key: key.to_vec(), detail };
        let (offset, len) = decode_pointer(pointer).ok_or_else(|| {
            damaged(format!("malformed pointer into {} ({} bytes)", self.path.display(), pointer.len()))
        })?;
        if offset < MAGIC_LEN + ENTRY_HEADER_LEN
            || len as usize > MAX_VALUE_BYTES + FRAME_HEADER_LEN
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

/// A value read from a frame, and whether it was stored compressed (only those are cached).
struct Unframed {
    bytes: Vec<u8>,
    compressed: bool,
}

thread_local! {
    /// One zstd decompression context per reading thread (setting one up costs more than
    /// decompressing a segment).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decompresses a zstd body that must hold at most `raw_len` bytes, with this thread's context.
fn decompress(body: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
    let with_context = |d: &mut zstd::bulk::Decompressor<'static>| {
        d.decompress(body, raw_len).map_err(|e| format!("does not decompress: {e}"))
    };
    let fresh = || zstd::bulk::Decompressor::new().map_err(|e| format!("cannot be decompressed: {e}"));
    DECOMPRESSOR
        .try_with(|cell| {
            let mut slot = cell.try_borrow_mut().map_err(|_| "cannot be decompressed: context in use".to_string())?;
            if slot.is_none() {
                *slot = Some(fresh()?);
            }
            match slot.as_mut() {
                Some(d) => with_context(d),
                None => Err("cannot be decompressed: no zstd context".to_string()),
            }
        })
        // The thread is exiting and its context is gone: a context for this one value.
        .unwrap_or_else(|_| with_context(&mut fresh()?))
}

/// A frame's codec, claimed length (`raw_len`) and body, once its check matches its bytes; or
/// what is wrong with it.
fn checked_parts(frame: &[u8]) -> Result<(u8, usize, &[u8]), String> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(format!("is {} bytes, shorter than a frame's header", frame.len()));
    }
    let (check, checked) = frame.split_at(CHECK_LEN);
    let mut stored = [0u8; CHECK_LEN];
    stored.copy_from_slice(check);
    let stored = u64::from_le_bytes(stored);
    let computed = frame_check(checked, frame.len());
    if stored != computed {
        return Err(format!(
            "fails its checksum: its bytes hash to {computed:016x}, the frame says {stored:016x}; \
             the file was changed or damaged"
        ));
    }
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&checked[1..5]);
    Ok((checked[0], u32::from_le_bytes(raw) as usize, &checked[5..]))
}

/// The value a frame holds, once its check passed, or what is wrong with the frame.
pub fn unframe(frame: &[u8]) -> Result<Vec<u8>, String> {
    let (codec, raw_len, body) = checked_parts(frame)?;
    value_of(codec, raw_len, body)
}

/// The value a checked frame's parts hold, or what is wrong with them.
fn value_of(codec: u8, raw_len: usize, body: &[u8]) -> Result<Vec<u8>, String> {
    if raw_len > MAX_VALUE_BYTES {
        return Err(format!("claims {raw_len} bytes, more than a value may hold"));
    }
    match codec {
        CODEC_STORED if body.len() == raw_len => Ok(body.to_vec()),
        CODEC_STORED => Err(format!("claims {raw_len} bytes but holds {}", body.len())),
        CODEC_ZSTD => {
            let out = decompress(body, raw_len)?;
            if out.len() != raw_len {
                return Err(format!("decompresses to {} bytes, not the {raw_len} it claims", out.len()));
            }
            Ok(out)
        }
        other => Err(format!("has unknown codec {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_by_pointer_and_in_order_with_read_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::default()).unwrap();
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
        let log = ValueLog::open(dir.path(), vec![b'S'], end, Compression::default()).unwrap();
        assert_eq!(log.read(b"S", &pointers[299]).unwrap(), values[299]);
    }

    #[test]
    fn a_file_shorter_than_what_sled_refers_to_is_lost_data_and_bad_pointers_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::default()).unwrap();
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
        let err = ValueLog::open(dir.path(), vec![b'S'], end, Compression::default()).unwrap_err().to_string();
        assert!(err.contains("lost data"), "{err}");
        std::fs::write(dir.path().join(VALUE_LOG_FILE), b"NOTAVLOGxxxx").unwrap();
        let err = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::default()).unwrap_err().to_string();
        assert!(err.contains("not an anquan value file"), "{err}");
    }

    #[test]
    fn a_file_of_an_older_format_is_refused_at_open_and_left_as_it_was() {
        for magic in [&b"ANQVLOG1"[..], b"ANQVLOG2"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(VALUE_LOG_FILE);
            let mut bytes = magic.to_vec();
            bytes.extend_from_slice(&5u32.to_le_bytes());
            bytes.extend_from_slice(b"hello");
            std::fs::write(&path, &bytes).unwrap();
            match ValueLog::open(dir.path(), vec![b'S'], bytes.len() as u64, Compression::default()) {
                Err(StorageError::UnsupportedFormat { found }) => {
                    assert!(
                        found.contains(VALUE_LOG_FILE) && found.contains(std::str::from_utf8(magic).unwrap()),
                        "{found}"
                    )
                }
                other => panic!("expected UnsupportedFormat, got {other:?}"),
            }
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "the refused file is not touched");
        }
    }

    /// Text-like values (what segments mostly are) and their stored frames.
    fn text(i: u32, len: usize) -> Vec<u8> {
        (0..len).map(|j| b"hazard rectification incident "[(j + i as usize) % 30]).collect()
    }

    /// A new value file (default compression) holding `value`, and its pointer.
    fn log_holding(dir: &Path, value: &[u8]) -> (ValueLog, [u8; POINTER_LEN]) {
        let log = ValueLog::open(dir, vec![b'S'], 0, Compression::default()).unwrap();
        let mut staged = log.stage();
        let p = staged.push(value).unwrap();
        log.commit(staged).unwrap();
        (log, p)
    }

    fn frame_of(log: &ValueLog, pointer: &[u8]) -> Vec<u8> {
        let (offset, len) = decode_pointer(pointer).unwrap();
        let mut frame = vec![0u8; len as usize];
        log.file.read_exact_at(&mut frame, offset).unwrap();
        frame
    }

    /// Where a frame's codec byte is.
    const CODEC_AT: usize = CHECK_LEN;

    /// `frame` with its check computed again, as someone who knows the format would after
    /// editing it: what is left to catch the edit is the decoding.
    fn rechecked(mut frame: Vec<u8>) -> Vec<u8> {
        if frame.len() >= CHECK_LEN {
            let check = frame_check(&frame[CHECK_LEN..], frame.len());
            frame[..CHECK_LEN].copy_from_slice(&check.to_le_bytes());
        }
        frame
    }

    #[test]
    fn compressible_values_are_stored_compressed_others_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::default()).unwrap();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let values = [text(1, 30_000), random.clone(), b"short".to_vec(), Vec::new()];
        let mut staged = log.stage();
        let pointers: Vec<_> = values.iter().map(|v| staged.push(v).unwrap()).collect();
        log.commit(staged).unwrap();
        let codecs: Vec<u8> = pointers.iter().map(|p| frame_of(&log, p)[CODEC_AT]).collect();
        assert_eq!(codecs, [CODEC_ZSTD, CODEC_STORED, CODEC_STORED, CODEC_STORED]);
        assert!(decode_pointer(&pointers[0]).unwrap().1 < 3_000, "30 KB of text shrinks");
        for (p, v) in pointers.iter().zip(&values) {
            assert_eq!(&log.read(b"S", p).unwrap(), v);
            assert_eq!(&log.read_ahead(b"S", p, &mut ReadAhead::default()).unwrap(), v);
        }
        // The context is kept for the next write.
        assert!(log.compressor.lock().unwrap().is_some());
    }

    #[test]
    fn without_compression_values_are_kept_as_they_are_and_a_reopened_file_takes_both() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::None).unwrap();
        let mut staged = log.stage();
        let p = staged.push(&text(2, 10_000)).unwrap();
        log.commit(staged).unwrap();
        assert_eq!(frame_of(&log, &p), frame_as_is(&text(2, 10_000)), "codec 0: the value as it is, checked");
        assert_eq!(log.read(b"S", &p).unwrap(), text(2, 10_000));
        let end = log.len();
        drop(log);
        // Reopened with compression: the old value reads, new ones are compressed.
        let log = ValueLog::open(dir.path(), vec![b'S'], end, Compression::default()).unwrap();
        let mut staged = log.stage();
        let q = staged.push(&text(3, 10_000)).unwrap();
        log.commit(staged).unwrap();
        assert_eq!(frame_of(&log, &q)[CODEC_AT], CODEC_ZSTD);
        assert_eq!(log.read(b"S", &p).unwrap(), text(2, 10_000));
        assert_eq!(log.read(b"S", &q).unwrap(), text(3, 10_000));
    }

    /// Every single bit of a stored frame flipped in the file, in its check, header or body, of a
    /// compressed frame and of one stored as it is: each read, by pointer and by scan, is
    /// `Damaged`, names the frame's bytes in the file and the failed checksum, and caches nothing.
    #[test]
    fn any_flipped_bit_of_a_frame_is_damage_named_by_every_read() {
        for compression in [Compression::default(), Compression::None] {
            let dir = tempfile::tempdir().unwrap();
            let log = ValueLog::open(dir.path(), vec![b'S'], 0, compression).unwrap();
            let mut staged = log.stage();
            let p = staged.push(&text(10, 3_000)).unwrap();
            log.commit(staged).unwrap();
            let frame = frame_of(&log, &p);
            let (offset, len) = decode_pointer(&p).unwrap();
            let named = format!("its frame at bytes {offset}..{} of", offset + u64::from(len));
            for bit in 0..frame.len() * 8 {
                let mut flipped = frame.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                log.file.write_all_at(&flipped, offset).unwrap();
                for read in [log.read(b"S", &p), log.read_ahead(b"S", &p, &mut ReadAhead::default())] {
                    match read {
                        Err(StorageError::Damaged { key, detail }) => {
                            assert_eq!(key, b"S");
                            assert!(detail.contains(&named) && detail.contains("fails its checksum"), "{detail}");
                        }
                        other => panic!("{compression:?}, bit {bit}: expected Damaged, got {other:?}"),
                    }
                }
            }
            assert_eq!(log.cache.lock().unwrap().bytes, 0, "nothing unchecked was cached");
            log.file.write_all_at(&frame, offset).unwrap();
            assert_eq!(log.read(b"S", &p).unwrap(), text(10, 3_000), "the frame restored reads again");
        }
    }

    /// Frames edited with their check computed again (the check passes): the decoding still
    /// names what is wrong.
    #[test]
    fn a_damaged_frame_with_a_valid_check_is_an_error_naming_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let (log, p) = log_holding(dir.path(), &text(6, 20_000));
        let frame = frame_of(&log, &p);
        let damaged = |f: Vec<u8>| unframe(&rechecked(f)).unwrap_err();
        let raw_len = CODEC_AT + 1..FRAME_HEADER_LEN;
        let mut longer = frame.clone();
        longer[raw_len.clone()].copy_from_slice(&20_001u32.to_le_bytes());
        assert!(damaged(longer).contains("decompresses to 20000 bytes"));
        let mut shorter = frame.clone();
        shorter[raw_len.clone()].copy_from_slice(&100u32.to_le_bytes());
        assert!(damaged(shorter).contains("does not decompress"));
        let mut huge = frame.clone();
        huge[raw_len].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(damaged(huge).contains("more than a value may hold"));
        let mut codec = frame.clone();
        codec[CODEC_AT] = 7;
        assert!(damaged(codec).contains("unknown codec 7"));
        assert!(damaged(frame[..CHECK_LEN + 3].to_vec()).contains("shorter than a frame's header"));
        let mut stored = frame_as_is(b"nine byte");
        stored[CODEC_AT + 1..FRAME_HEADER_LEN].copy_from_slice(&10u32.to_le_bytes());
        assert!(damaged(stored).contains("claims 10 bytes but holds 9"));
        // Cut and read through the log: `Damaged`, naming the file.
        let mut cut = frame.clone();
        cut.truncate(frame.len() - 3);
        let (offset, _) = decode_pointer(&p).unwrap();
        log.file.write_all_at(&cut, offset).unwrap();
        log.file.write_all_at(&[0, 0, 0], offset + cut.len() as u64).unwrap();
        match log.read(b"S", &p) {
            Err(StorageError::Damaged { detail, .. }) => assert!(detail.contains(VALUE_LOG_FILE), "{detail}"),
            other => panic!("expected Damaged, got {other:?}"),
        }
    }

    use proptest::prelude::*;

    #[test]
    fn reads_by_pointer_keep_recent_decompressed_values_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::default()).unwrap();
        let mut staged = log.stage();
        // 600 values of 30 KB: twice what the cache holds.
        let pointers: Vec<_> = (0..600).map(|i| staged.push(&text(i, 30_000)).unwrap()).collect();
        log.commit(staged).unwrap();
        for (i, p) in pointers.iter().enumerate() {
            assert_eq!(log.read(b"S", p).unwrap(), text(i as u32, 30_000));
        }
        let cache = log.cache.lock().unwrap();
        assert!(cache.bytes <= CACHE_BYTES && cache.bytes > CACHE_BYTES / 2, "{} bytes", cache.bytes);
        assert_eq!(cache.values.len(), cache.order.len());
        let newest = decode_pointer(&pointers[599]).unwrap();
        let oldest = decode_pointer(&pointers[0]).unwrap();
        assert!(cache.values.contains_key(&newest) && !cache.values.contains_key(&oldest));
        drop(cache);
        // A cached value reads back exactly, and scans do not add to the cache.
        assert_eq!(log.read(b"S", &pointers[599]).unwrap(), text(599, 30_000));
        let before = log.cache.lock().unwrap().bytes;
        let mut ahead = ReadAhead::default();
        for (i, p) in pointers.iter().enumerate().take(50) {
            assert_eq!(log.read_ahead(b"S", p, &mut ahead).unwrap(), text(i as u32, 30_000));
        }
        assert_eq!(log.cache.lock().unwrap().bytes, before);
        // Nor do reads out of file order inside a scan (a backward scan).
        let mut ahead = ReadAhead::default();
        for (i, p) in pointers.iter().enumerate().take(60).rev() {
            assert_eq!(log.read_ahead(b"S", p, &mut ahead).unwrap(), text(i as u32, 30_000));
        }
        assert_eq!(log.cache.lock().unwrap().bytes, before);
    }

    #[test]
    fn a_cached_value_hides_nothing_from_scans_and_is_never_served_for_another_length() {
        let dir = tempfile::tempdir().unwrap();
        let (log, p) = log_holding(dir.path(), &text(8, 20_000));
        assert_eq!(log.read(b"S", &p).unwrap(), text(8, 20_000), "now cached");
        // Another length at the same offset is that length's frame: cut short, it is damaged.
        let (offset, len) = decode_pointer(&p).unwrap();
        let shorter = encode_pointer(offset, len - 1);
        assert!(matches!(log.read(b"S", &shorter), Err(StorageError::Damaged { .. })));
        // The frame changed in the file behind the log's back: a scan reads the file, not the cache.
        log.file.write_all_at(&[0xEE], offset + FRAME_HEADER_LEN as u64).unwrap();
        assert!(log.read_ahead(b"S", &p, &mut ReadAhead::default()).is_err(), "zstd's magic is gone");
    }

    #[test]
    fn levels_outside_zstds_are_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let err = ValueLog::open(dir.path(), vec![b'S'], 0, Compression::Zstd { level: 99 }).unwrap_err();
        assert!(err.to_string().contains("zstd compression level 99"), "{err}");
        assert!(ValueLog::open(dir.path(), vec![b'S'], 0, Compression::Zstd { level: 19 }).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the values and however they are compressed, each reads back exactly, by
        /// pointer and in a forward scan.
        #[test]
        fn values_read_back_exactly(
            values in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..3000),
                    (0u32..50, 0usize..40_000).prop_map(|(i, n)| text(i, n)),
                ],
                1..12,
            ),
            level in prop_oneof![Just(None), (1i32..4).prop_map(Some)],
        ) {
            let dir = tempfile::tempdir().unwrap();
            let compression = level.map_or(Compression::None, |level| Compression::Zstd { level });
            let log = ValueLog::open(dir.path(), vec![b'S'], 0, compression).unwrap();
            let mut staged = log.stage();
            let pointers: Vec<_> = values.iter().map(|v| staged.push(v).unwrap()).collect();
            log.commit(staged).unwrap();
            let mut ahead = ReadAhead::default();
            for (p, v) in pointers.iter().zip(&values) {
                prop_assert_eq!(&log.read(b"S", p).unwrap(), v);
                prop_assert_eq!(&log.read_ahead(b"S", p, &mut ahead).unwrap(), v);
            }
        }

        /// Any bytes as a frame, as they are or with a valid check: a value or an error, never
        /// a panic.
        #[test]
        fn arbitrary_frames_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = unframe(&frame);
            let _ = unframe(&rechecked(frame));
        }

        /// A real compressed frame with bytes changed, cut or grown: its check fails; with the
        /// check computed again, read through the file by pointer and by scan, a value or
        /// `Damaged`, never a panic, and never more bytes than the frame claims.
        #[test]
        fn hostile_compressed_frames_are_values_or_damaged(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in 0usize..40,
            grow in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (log, p) = log_holding(dir.path(), &text(9, 5_000));
            let original = frame_of(&log, &p);
            let mut frame = original.clone();
            prop_assert_eq!(frame[CODEC_AT], CODEC_ZSTD);
            for (at, byte) in &edits {
                let i = at.index(frame.len());
                frame[i] = *byte;
            }
            frame.truncate(frame.len().saturating_sub(cut));
            frame.extend_from_slice(&grow);
            // As edited, the check fails (unless the edits changed nothing); with the check
            // computed again, the decoding is what stands between the edit and a reader.
            prop_assert!(frame == original || unframe(&frame).unwrap_err().contains("checksum"));
            let frame = rechecked(frame);
            prop_assert!(unframe(&frame).map_or(true, |v| v.len() <= MAX_VALUE_BYTES));
            // Written as a new entry and read through the log.
            let end = log.len();
            let mut entry = (frame.len() as u32).to_le_bytes().to_vec();
            entry.extend_from_slice(&frame);
            log.file.write_all_at(&entry, end).unwrap();
            log.end.store(end + entry.len() as u64, Ordering::Release);
            let q = encode_pointer(end + ENTRY_HEADER_LEN, frame.len() as u32);
            let claimed = checked_parts(&frame).map_or(usize::MAX, |(_, raw_len, _)| raw_len);
            for result in [log.read(b"S", &q), log.read_ahead(b"S", &q, &mut ReadAhead::default())] {
                match result {
                    Ok(v) => prop_assert!(v.len() == claimed),
                    Err(StorageError::Damaged { .. }) => {}
                    Err(other) => prop_assert!(false, "{other}"),
                }
            }
        }
    }
}
