//! The embedded default backend: one sled tree in a local folder.
//!
//! Invariants and why:
//! - Everything lives in sled's default tree, namespaced by key prefixes chosen by the store, so
//!   one `apply_batch` is atomic across segments and indexes (sled batches are atomic per tree;
//!   multi-tree atomicity would need its slower transactions, and many trees bloat files: sled
//!   issue 1484).
//! - sled 0.34.7's `flush` ends in `sync_file_range` on Linux (sled issue 1452): that pushes
//!   dirty pages to the device but flushes neither the device's write cache nor file metadata
//!   (the file's grown size). [`Backend::sync`] therefore follows `flush` with `fdatasync` of the
//!   log file, and of any blob files, whose writes sled never syncs.
//! - sled writes a node as a separate blob file when its serialized size exceeds a quarter of
//!   the sled segment size. The segment size is raised to 8 MiB (2 MiB blob threshold) so that
//!   nodes of the store's bounded values never become blobs; the blob sync above is a backstop.

use std::collections::HashSet;
use std::fs::File;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use super::journal::{self, Journal};
use super::overlay::{MergedScan, Overlay};
use super::{Backend, ScanIter, StorageError, WriteBatch, WriteOp};

/// The overlay is applied to sled in the background once it holds this much…
const FLUSH_AT_BYTES: usize = 8 * 1024 * 1024;
/// …or this long after the last flush; past this size the writer applies it itself (back pressure).
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
const OVERLAY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// How long opening waits for sled's file lock to be released by a handle just dropped.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reserved key holding the sequence number of the last batch applied.
const SEQ_KEY: &[u8] = b"\xFFseq";

/// sled's log segment size: a power of two; persisted by sled, so it must never change for an
/// existing store.
const SLED_SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// Tuning for the sled backend.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
    /// Size of the redo journal; sled is checkpointed each time it fills.
    pub journal_capacity: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self { cache_capacity: 256 * 1024 * 1024, journal_capacity: 16 * 1024 * 1024 }
    }
}

/// Batches applied to sled but not yet in the journal.
#[derive(Debug, Default)]
struct Pending {
    next_seq: u64,
    payloads: Vec<Vec<u8>>,
    bytes: usize,
}

/// What the background flusher shares with the backend.
struct Core {
    db: sled::Db,
    /// Applied batches not yet in sled (see `overlay`).
    overlay: Overlay,
    /// Serialises flushes of the overlay into sled.
    flush_lock: Mutex<()>,
    /// The first failed write, sync, flush or checkpoint. From then on every write and sync
    /// fails with it: queued batches may not have reached the journal, and retrying an fsync
    /// after an error can falsely succeed ("fsyncgate").
    failed: Mutex<Option<String>>,
}

/// sled behind a write-back overlay and a redo journal, made durable on [`Backend::sync`].
pub struct SledBackend {
    core: Arc<Core>,
    /// Wakes the background flusher; dropping it stops the thread.
    flusher: Option<(Sender<()>, std::thread::JoinHandle<()>)>,
    dir: PathBuf,
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
    /// Lock order: `journal` before `pending`.
    journal: Mutex<Journal>,
    pending: Mutex<Pending>,
    replayed_at_open: usize,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SledBackend {
    /// Opens (creating if needed) a sled store in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: &SledOptions) -> Result<Self, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        remove_unfinished_sled_snapshots(&dir)?;
        // Another handle in this process that was just dropped can hold sled's file lock for a
        // moment (sled's own threads release it asynchronously): retry briefly before calling
        // the folder locked.
        let mut waited = std::time::Duration::ZERO;
        let db = loop {
            let opened = sled::Config::new()
                .path(&dir)
                .segment_size(SLED_SEGMENT_SIZE)
                .cache_capacity(options.cache_capacity)
                // The store decides when to flush; sled's timer would only add unsynced flushes.
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                    if waited >= LOCK_WAIT {
                        return Err(StorageError::Locked { path: dir.display().to_string(), reason: io.to_string() });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    waited += std::time::Duration::from_millis(20);
                }
                Err(other) => return Err(StorageError::Sled(other)),
            }
        };
        let log_file = File::options().read(true).write(true).open(dir.join("db"))?;
        let (journal, live) = Journal::open(&dir.join("anquan.journal"), options.journal_capacity)?;
        let applied_seq = match db.get(SEQ_KEY)? {
            Some(v) => u64::from_le_bytes(
                v.as_ref().try_into().map_err(|_| StorageError::Fault("malformed sequence key".into()))?,
            ),
            None => 0,
        };
        // Redo what the journal holds beyond what sled recovered by itself, in order.
        let mut next_seq = applied_seq + 1;
        let expected_durable = journal.durable_seq();
        let mut replayed = 0usize;
        for payload in live {
            // The record passed its checksum, so it is what was written: failing to parse it is a
            // bug or a format mismatch, never a torn write. Refuse rather than drop the rest.
            let Some((seq, batch)) = split_seq(&payload) else {
                return Err(StorageError::Fault(format!("journal record after batch {} does not parse", next_seq - 1)));
            };
            if seq <= applied_seq {
                continue;
            }
            if seq != next_seq {
                return Err(StorageError::Fault(format!("journal skips from batch {} to {seq}", next_seq - 1)));
            }
            db.apply_batch(to_sled_batch(batch))?;
            next_seq += 1;
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(replayed, "replayed journaled batches into sled");
        }
        // A checkpoint made batches up to `expected_durable` durable in sled. If sled now holds
        // fewer, its files lost data (truncated, replaced, restored from an old copy): refuse
        // rather than serve a shorter log as if it were whole.
        if next_seq - 1 < expected_durable {
            return Err(StorageError::Fault(format!(
                "the store's files lost data: the last checkpoint made batch {expected_durable} durable, but only batches up \
                 to {} are present; restore the folder from a backup (or export what remains with a copy of it)",
                next_seq - 1
            )));
        }
        let core =
            Arc::new(Core { db, overlay: Overlay::default(), flush_lock: Mutex::new(()), failed: Mutex::new(None) });
        let flusher = spawn_flusher(core.clone())?;
        let backend = Self {
            core,
            flusher: Some(flusher),
            dir,
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            journal: Mutex::new(journal),
            pending: Mutex::new(Pending { next_seq, ..Default::default() }),
            replayed_at_open: replayed,
        };
        // Make sled hold everything (and its files, conf and directory entries be durable)
        // before the first acknowledged commit relies on them; start a fresh journal generation.
        backend.checkpoint()?;
        sync_path(&backend.dir.join("conf"))?;
        sync_path(&backend.dir)?;
        Ok(backend)
    }

    /// Makes sled itself durable and empties the journal.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        self.check_failed()?;
        let r = self.checkpoint_unlatched();
        self.latch(r)
    }

    fn checkpoint_unlatched(&self) -> Result<(), StorageError> {
        let mut journal = self.journal.lock().map_err(|_| lock_poisoned())?;
        let taken = std::mem::take(&mut self.pending.lock().map_err(|_| lock_poisoned())?.payloads);
        drop(taken); // everything applied is covered by the flush below
        self.checkpoint_locked(&mut journal)
    }

    fn checkpoint_locked(&self, journal: &mut Journal) -> Result<(), StorageError> {
        // Read before the flush: every batch numbered up to here was applied before it.
        let durable_seq = self.pending.lock().map_err(|_| lock_poisoned())?.next_seq.saturating_sub(1);
        self.core.flush_overlay()?;
        self.core.db.flush()?;
        // See the module docs: sled's flush is not a durability barrier on Linux.
        self.log_file.sync_data()?;
        self.sync_blobs()?;
        journal.write_header(journal.generation() + 1, durable_seq)
    }

    /// How many journaled batches recovery had to redo into sled when this backend opened
    /// (non-zero after a crash).
    pub fn replayed_at_open(&self) -> usize {
        self.replayed_at_open
    }

    /// The folder this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sync_blobs(&self) -> Result<(), StorageError> {
        let blob_dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blob_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut synced = self.synced_blobs.lock().map_err(|_| StorageError::Fault("blob set lock poisoned".into()))?;
        let mut any_new = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if synced.contains(&name) {
                continue;
            }
            match File::open(entry.path()) {
                Ok(f) => f.sync_data()?,
                // sled removes obsolete blobs lazily; one gone between listing and opening is fine.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
            synced.insert(name);
            any_new = true;
        }
        if any_new {
            sync_path(&blob_dir)?;
        }
        Ok(())
    }
}

/// sled 0.34.7 writes a snapshot to `snap.<lsn>.generating`, syncs it, then renames it to
/// `snap.<lsn>`. At open it reads the name that sorts last among `snap.*` — which can be a
/// `.generating` file left half-written by a process killed mid-snapshot — and then refuses to
/// open with "Read corrupted data at file offset None" (sled issue 1527; our 1000-round kill -9
/// campaign hit it once). Such a file is never authoritative (the finished snapshot is the
/// renamed one, and the log holds everything after it), so it is removed before sled opens.
fn remove_unfinished_sled_snapshots(dir: &Path) -> Result<(), StorageError> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing an unfinished sled snapshot left by an interrupted process");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn lock_poisoned() -> StorageError {
    StorageError::Fault("a backend lock was poisoned by a panic".into())
}

fn to_sled_batch(batch: WriteBatch) -> sled::Batch {
    let mut sled_batch = sled::Batch::default();
    for op in batch.into_ops() {
        match op {
            WriteOp::Put(k, v) => sled_batch.insert(k, v),
            WriteOp::Delete(k) => sled_batch.remove(k),
        }
    }
    sled_batch
}

/// A journal payload is `seq u64 LE ‖ encoded batch`.
fn split_seq(payload: &[u8]) -> Option<(u64, WriteBatch)> {
    let seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    Some((seq, journal::decode_batch(payload.get(8..)?)?))
}

/// Scans never reach the backend's reserved keys (`0xFF…`).
fn clamp_end(end: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match end {
        Bound::Unbounded => Bound::Excluded(vec![0xFF]),
        Bound::Included(k) | Bound::Excluded(k) if k.first() == Some(&0xFF) => Bound::Excluded(vec![0xFF]),
        other => other,
    }
}

fn sync_path(path: &Path) -> Result<(), StorageError> {
    match File::open(path) {
        Ok(f) => f.sync_all().map_err(StorageError::from),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if key.first() == Some(&0xFF) {
            return Ok(None);
        }
        // Overlay first: a flush applies to sled before it removes from the overlay.
        if let Some(newest) = self.core.overlay.get(key)? {
            return Ok(newest);
        }
        Ok(self.core.db.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_> {
        Box::new(MergedScan::new(&self.core.overlay, &self.core.db, start, clamp_end(end), reverse))
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.check_failed()?;
        let r = self.apply_inner(batch);
        self.latch(r)
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.check_failed()?;
        let r = self.sync_inner();
        self.latch(r)
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.core.db.size_on_disk()?)
    }
}

impl SledBackend {
    fn check_failed(&self) -> Result<(), StorageError> {
        self.core.check_failed()
    }

    fn latch(&self, r: Result<(), StorageError>) -> Result<(), StorageError> {
        self.core.latch(r)
    }

    fn apply_inner(&self, mut batch: WriteBatch) -> Result<(), StorageError> {
        if batch
            .ops()
            .iter()
            .any(|op| matches!(op, WriteOp::Put(k, _) | WriteOp::Delete(k) if k.first() == Some(&0xFF)))
        {
            return Err(StorageError::Fault("keys starting with 0xFF are reserved for the backend".into()));
        }
        // Sequence and sled order must agree with journal order: both under the pending lock.
        let mut pending = self.pending.lock().map_err(|_| lock_poisoned())?;
        let seq = pending.next_seq;
        batch.put(SEQ_KEY.to_vec(), seq.to_le_bytes().to_vec());
        let mut payload = Vec::with_capacity(batch.payload_bytes() + batch.len() * 9 + 12);
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&journal::encode_batch(&batch));
        self.core.overlay.put_batch(batch.into_ops())?;
        pending.next_seq += 1;
        pending.bytes += payload.len();
        pending.payloads.push(payload);
        drop(pending);
        let held = self.core.overlay.bytes();
        if held >= OVERLAY_LIMIT_BYTES {
            // The flusher is behind: apply here rather than let memory grow.
            self.core.flush_overlay()?;
        } else if held >= FLUSH_AT_BYTES {
            if let Some((wake, _)) = &self.flusher {
                match wake.try_send(()) {
                    Ok(()) | Err(TrySendError::Full(())) => {}
                    Err(TrySendError::Disconnected(())) => {
                        return Err(StorageError::Fault("the background flusher stopped".into()))
                    }
                }
            }
        }
        Ok(())
    }

    fn sync_inner(&self) -> Result<(), StorageError> {
        let mut journal = self.journal.lock().map_err(|_| lock_poisoned())?;
        let payloads = {
            let mut pending = self.pending.lock().map_err(|_| lock_poisoned())?;
            pending.bytes = 0;
            std::mem::take(&mut pending.payloads)
        };
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        if journal.fits(bytes, payloads.len()) {
            journal.append_durably(&payloads)
        } else {
            // Full: make sled durable instead (it holds every applied batch) and start over.
            self.checkpoint_locked(&mut journal)
        }
    }
}

impl Core {
    fn check_failed(&self) -> Result<(), StorageError> {
        match &*self.failed.lock().map_err(|_| lock_poisoned())? {
            Some(cause) => Err(StorageError::Fault(format!("an earlier write failed ({cause}); reopen the store"))),
            None => Ok(()),
        }
    }

    fn latch(&self, r: Result<(), StorageError>) -> Result<(), StorageError> {
        if let Err(e) = &r {
            if let Ok(mut f) = self.failed.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
        }
        r
    }

    /// Applies everything the overlay holds to sled as one atomic batch, then releases it.
    fn flush_overlay(&self) -> Result<(), StorageError> {
        let _one_at_a_time = self.flush_lock.lock().map_err(|_| lock_poisoned())?;
        let cut = self.overlay.cut()?;
        if cut.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (k, v) in cut.writes() {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        let _span = tracing::debug_span!("overlay_flush", keys = cut.len()).entered();
        self.db.apply_batch(batch)?;
        self.overlay.release(&cut)
    }
}

/// The background flusher: applies the overlay to sled when woken (it grew past
/// [`FLUSH_AT_BYTES`]) or every [`FLUSH_INTERVAL`]; stops when the backend drops its sender.
fn spawn_flusher(core: Arc<Core>) -> Result<(Sender<()>, std::thread::JoinHandle<()>), StorageError> {
    let (wake, woken) = crossbeam_channel::bounded::<()>(1);
    let handle = std::thread::Builder::new().name("anquan-sled-flush".into()).spawn(move || loop {
        match woken.recv_timeout(FLUSH_INTERVAL) {
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if core.check_failed().is_ok() && core.overlay.bytes() > 0 {
                    let r = core.flush_overlay();
                    if let Err(e) = &r {
                        tracing::error!(error = %e, "applying the overlay to sled failed; the store refuses writes");
                    }
                    let _ = core.latch(r);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
    })?;
    Ok((wake, handle))
}

impl Drop for SledBackend {
    /// A clean close leaves sled complete, so the next open replays nothing.
    fn drop(&mut self) {
        if let Some((wake, handle)) = self.flusher.take() {
            drop(wake);
            let _ = handle.join();
        }
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, "checkpoint at close failed; the journal will be replayed at next open");
        }
    }
}
