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
//! - The redo journal is two files used in turn ([`JOURNAL_FILES`]). When the active one is
//!   full, commits move on to the other at once and the background thread checkpoints sled
//!   behind them, retiring the full file; a commit waits for a checkpoint only if the second
//!   file fills before the first one's checkpoint ends. So at any moment the batches sled has
//!   not made durable lie in at most two files: the retired one (checkpoint in flight) and the
//!   active one, and the active one's generation is the higher.
//! - Values of write-once keys (the prefixes recorded when the store was created; the event
//!   store's segments) live in the value file, `value_log`, and sled holds pointers to them. A
//!   flush writes and syncs the values before it applies the sled batch with the pointers, so
//!   sled never points at bytes the disk may lack. Every store has a value file and records its
//!   prefixes at creation (`0xFF values`); a folder whose sled holds data without that record
//!   keeps its values inside sled, a format this build does not read, and is refused at open
//!   before anything in it changes.
//!
//! Recovery at open:
//! - sled recovers what it wrote itself; then the live records of both journal files, the older
//!   generation first, whose batch numbers are above sled's (`0xFF seq`) are applied again in
//!   order, up to the first torn record (never acknowledged): their segments go to the value file
//!   and are synced first, then the sled batches are applied. A checkpoint follows (overlay into
//!   sled, sled `flush` + `fdatasync` of `db`, blobs and folder, then the active file's header
//!   with the next generation and the last batch it made durable).
//! - If sled holds fewer batches than a header says a checkpoint made durable, or the value file
//!   is shorter than the end sled records for it, the folder lost data (truncated, replaced,
//!   restored from an old copy): the open is refused rather than a shorter log served as whole.
//! - `conf`, `db` and the folder are synced at open, and a value file created at open syncs the
//!   folder before journal replay can write acknowledged segments into it.
//!
//! Costs, measured (`BENCHMARKS.md` has the figures):
//! - every sled `apply_batch` rolls sled's IO buffer and waits for the device
//!   (`PageCache::pin_log`), which is why batches reach sled through the overlay, in the
//!   background, once per many commits;
//! - each sled insert costs about 10 µs (one per stream per segment, paid by the flusher); sled
//!   frees replaced nodes through crossbeam-epoch, so a per-event key in sled would also cost
//!   memory — event ids are in `ids/` files for that reason;
//! - sled's cache does not bound a scan, and sled never returns file space (`db` is 2–2.5× its
//!   keys and values), which is why the segments live in the value file and sled holds pointers.

use std::collections::HashSet;
use std::fs::File;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::journal::{self, Journal};
use super::overlay::{MergedScan, Overlay};
use super::value_log::{self, Staged, ValueLog};
use super::{sled_error, Backend, ScanIter, StorageError, WriteBatch, WriteOp};

/// The overlay is applied to sled in the background once it holds this much…
const FLUSH_AT_BYTES: usize = 8 * 1024 * 1024;
/// …or this long after the last flush; past this size the writer applies it itself (back pressure).
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
const OVERLAY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// How long opening waits for sled's file lock to be released by a handle just dropped.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reserved key holding the sequence number of the last batch applied.
const SEQ_KEY: &[u8] = b"\xFFseq";
/// Reserved key holding the key prefixes whose values live in the value file (see `value_log`),
/// written when the store is created.
const VALUES_KEY: &[u8] = b"\xFFvalues";
/// Reserved key holding the end of the value file's bytes that sled's pointers reference.
const VALUES_END_KEY: &[u8] = b"\xFFvalues-end";

/// The journal's two files, used in turn: commits go to the active one while the other waits,
/// or is being retired by a checkpoint running behind the commits.
pub const JOURNAL_FILES: [&str; 2] = ["anquan.journal", "anquan.journal.b"];

/// sled's log segment size: a power of two; persisted by sled, so it must never change for an
/// existing store.
const SLED_SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// Tuning for the sled backend.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
    /// Size of each of the two journal files. When the active one fills, commits move on to the
    /// other and sled is checkpointed in the background.
    pub journal_capacity: u64,
    /// First bytes of the keys whose values are written once and kept out of sled, in the value
    /// file (see `value_log`). Used when the store is created and recorded in it; an existing
    /// store keeps what it was created with. The event store's segments go there
    /// (`StoreOptions::sled_options`).
    pub out_of_line_prefixes: Vec<u8>,
    /// How values written to the value file from now on are stored (see `value_log`).
    pub value_compression: value_log::Compression,
}

impl Default for SledOptions {
    fn default() -> Self {
        // Two 8 MiB journal files: as much disk as the single 16 MiB file they replaced.
        Self {
            cache_capacity: 256 * 1024 * 1024,
            journal_capacity: 8 * 1024 * 1024,
            out_of_line_prefixes: Vec::new(),
            value_compression: value_log::Compression::default(),
        }
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
    /// The values kept out of sled.
    values: ValueLog,
    /// Serialises flushes of the overlay into sled.
    flush_lock: Mutex<()>,
    /// The first failed write, sync, flush or checkpoint. From then on every write and sync
    /// fails with it: queued batches may not have reached the journal, and retrying an fsync
    /// after an error can falsely succeed ("fsyncgate").
    failed: Mutex<Option<String>>,
    dir: PathBuf,
    /// sled's log file, synced by checkpoints (sled's own flush is not a durability barrier).
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
}

/// A full journal file handed to the background thread: once sled durably holds every batch up
/// to `durable_seq`, the file's header says so, its records are dead, and it comes back as the
/// standby.
struct Retire {
    journal: Journal,
    durable_seq: u64,
}

/// The two journal files.
struct Journals {
    /// Takes the records of every sync.
    active: Journal,
    /// The other file, ready to take over; `None` while the background thread retires it.
    standby: Option<Journal>,
    /// To the background thread, and back from it.
    retire: Sender<Retire>,
    retired: Receiver<Result<Journal, StorageError>>,
}

/// sled behind a write-back overlay and a redo journal, made durable on [`Backend::sync`].
pub struct SledBackend {
    core: Arc<Core>,
    /// Wakes the background flusher; dropping it stops the thread.
    flusher: Option<(Sender<()>, std::thread::JoinHandle<()>)>,
    /// Lock order: `journals` before `pending`.
    journals: Mutex<Journals>,
    pending: Mutex<Pending>,
    replayed_at_open: usize,
    replayed_from_retiring_at_open: usize,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend").field("dir", &self.core.dir).finish_non_exhaustive()
    }
}

/// Opens sled in `dir` with the store's settings.
///
/// Another handle in this process that was just dropped can hold sled's file lock for a moment
/// (sled's own threads release it asynchronously): retry briefly before calling the folder locked.
fn open_sled(dir: &Path, cache_capacity: u64) -> Result<sled::Db, StorageError> {
    let mut waited = std::time::Duration::ZERO;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .segment_size(SLED_SEGMENT_SIZE)
            .cache_capacity(cache_capacity)
            // The store decides when to flush; sled's timer would only add unsynced flushes.
            .flush_every_ms(None)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                if waited >= LOCK_WAIT {
                    return Err(StorageError::Locked { path: dir.display().to_string(), reason: io.to_string() });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                waited += std::time::Duration::from_millis(20);
            }
            Err(other) => return Err(sled_error(other)),
        }
    }
}

impl SledBackend {
    /// Opens (creating if needed) a sled store in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: &SledOptions) -> Result<Self, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        if options.out_of_line_prefixes.contains(&0xFF) {
            return Err(StorageError::Fault(
                "keys starting with 0xFF are reserved for the backend; they cannot be kept out of line".into(),
            ));
        }
        std::fs::create_dir_all(&dir)?;
        remove_unfinished_sled_snapshots(&dir)?;
        let db = open_sled(&dir, options.cache_capacity)?;
        let recorded_prefixes = db.get(VALUES_KEY).map_err(sled_error)?;
        if recorded_prefixes.is_none() && !db.is_empty() {
            return Err(StorageError::UnsupportedFormat {
                found: format!("the store at {} keeps its values inside sled, without a value file", dir.display()),
            });
        }
        let log_file = File::options().read(true).write(true).open(dir.join("db"))?;
        let mut files = Vec::with_capacity(JOURNAL_FILES.len());
        for name in JOURNAL_FILES {
            files.push(Journal::open(&dir.join(name), options.journal_capacity)?);
        }
        // Oldest generation first: a lower file still holding records sled lacks was being
        // retired when the process stopped, and its records precede the active file's.
        files.sort_by_key(|(journal, _)| journal.generation());
        let applied_seq = match db.get(SEQ_KEY).map_err(sled_error)? {
            Some(v) => u64::from_le_bytes(
                v.as_ref().try_into().map_err(|_| StorageError::Fault("malformed sequence key".into()))?,
            ),
            None => 0,
        };
        // A checkpoint made batches up to `expected_durable` durable in sled. If sled holds
        // fewer, even after the redo, its files lost data (truncated, replaced, restored from an
        // old copy): refuse rather than serve a shorter log as if it were whole.
        let expected_durable = files.iter().map(|(journal, _)| journal.durable_seq()).max().unwrap_or(0);
        let lost = |present: u64| {
            StorageError::Fault(format!(
                "the store's files lost data: the last checkpoint made batch {expected_durable} durable, but only batches up \
                 to {present} are present; restore the folder from a backup (or export what remains with a copy of it)"
            ))
        };
        let prefixes = match recorded_prefixes {
            Some(prefixes) => prefixes.to_vec(),
            // An empty sled that no checkpoint ever made durable is a new store (its journal,
            // if any, is replayed below): record the prefixes, made durable by the checkpoint
            // that ends `open`, before anything is acknowledged.
            None if expected_durable == 0 => {
                db.insert(VALUES_KEY, options.out_of_line_prefixes.as_slice()).map_err(sled_error)?;
                options.out_of_line_prefixes.clone()
            }
            // An empty sled although a checkpoint made batches durable: its files were lost.
            // Refused as it is, with nothing recorded.
            None => return Err(lost(applied_seq)),
        };
        let values = open_value_log(&db, &dir, prefixes, options.value_compression)?;
        // Redo what the journal holds beyond what sled recovered by itself, in order.
        let mut next_seq = applied_seq + 1;
        let mut redo = Vec::new();
        let mut replayed = 0usize;
        let mut from_retiring = 0usize;
        for (file, payload) in files
            .iter_mut()
            .enumerate()
            .flat_map(|(i, (_, live))| std::mem::take(live).into_iter().map(move |p| (i, p)))
        {
            // The record passed its checksum, so it is what was written: failing to parse it is a
            // bug or a format mismatch, never a torn write. Refuse rather than drop the rest.
            let Some((seq, batch)) = split_seq(&payload) else {
                return Err(StorageError::Fault(format!("journal record after batch {} does not parse", next_seq - 1)));
            };
            if seq <= applied_seq {
                continue;
            }
            if seq != next_seq {
                if next_seq - 1 < expected_durable {
                    return Err(lost(next_seq - 1));
                }
                return Err(StorageError::Fault(format!("journal skips from batch {} to {seq}", next_seq - 1)));
            }
            redo.push(batch);
            next_seq += 1;
            replayed += 1;
            from_retiring += usize::from(file == 0);
        }
        // Out-of-line values first, durably, then the sled batches pointing at them.
        let mut staged = values.stage();
        let mut batches = Vec::with_capacity(redo.len());
        for batch in &redo {
            batches.push(to_sled_batch(writes_of(batch), &values, &mut staged)?);
        }
        drop(redo);
        if !staged.is_empty() {
            let end = values.commit(staged)?;
            for batch in &mut batches {
                batch.insert(VALUES_END_KEY, &end.to_le_bytes()[..]);
            }
        }
        for batch in batches {
            db.apply_batch(batch).map_err(sled_error)?;
        }
        if replayed > 0 {
            tracing::info!(replayed, from_retiring, "replayed journaled batches into sled");
        }
        if next_seq - 1 < expected_durable {
            return Err(lost(next_seq - 1));
        }
        let core = Arc::new(Core {
            db,
            overlay: Overlay::default(),
            values,
            flush_lock: Mutex::new(()),
            failed: Mutex::new(None),
            dir,
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
        });
        let (retire, jobs) = crossbeam_channel::unbounded();
        let (done, retired) = crossbeam_channel::unbounded();
        let flusher = spawn_flusher(core.clone(), jobs, done)?;
        let mut files = files.into_iter().map(|(journal, _)| journal);
        let (Some(standby), Some(active)) = (files.next(), files.next()) else {
            return Err(StorageError::Fault(format!("expected {} journal files", JOURNAL_FILES.len())));
        };
        let backend = Self {
            core,
            flusher: Some(flusher),
            journals: Mutex::new(Journals { active, standby: Some(standby), retire, retired }),
            pending: Mutex::new(Pending { next_seq, ..Default::default() }),
            replayed_at_open: replayed,
            replayed_from_retiring_at_open: from_retiring,
        };
        // Make sled hold everything (and its files, conf and directory entries be durable)
        // before the first acknowledged commit relies on them; start a fresh journal generation.
        backend.checkpoint()?;
        sync_path(&backend.core.dir.join("conf"))?;
        sync_path(&backend.core.dir)?;
        Ok(backend)
    }

    /// Makes sled itself durable and empties the journal (waiting for a background checkpoint
    /// in flight, if any).
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        self.check_failed()?;
        let r = self.checkpoint_unlatched();
        self.latch(r)
    }

    fn checkpoint_unlatched(&self) -> Result<(), StorageError> {
        let mut journals = self.journals.lock().map_err(|_| lock_poisoned())?;
        let taken = std::mem::take(&mut self.pending.lock().map_err(|_| lock_poisoned())?.payloads);
        drop(taken); // everything applied is covered by the flush below
        self.checkpoint_locked(&mut journals)
    }

    fn checkpoint_locked(&self, journals: &mut Journals) -> Result<(), StorageError> {
        let standby = take_standby(journals)?;
        let standby_generation = standby.generation();
        journals.standby = Some(standby);
        // Read before the flush: every batch numbered up to here was applied before it.
        let durable_seq = self.pending.lock().map_err(|_| lock_poisoned())?.next_seq.saturating_sub(1);
        self.core.make_durable()?;
        let generation = journals.active.generation().max(standby_generation) + 1;
        journals.active.write_header(generation, durable_seq)
    }

    /// How many journaled batches recovery had to redo into sled when this backend opened
    /// (non-zero after a crash).
    pub fn replayed_at_open(&self) -> usize {
        self.replayed_at_open
    }

    /// How many of those came from the journal file a background checkpoint was retiring when
    /// the process stopped (the older of the two files).
    pub fn replayed_from_retiring_at_open(&self) -> usize {
        self.replayed_from_retiring_at_open
    }

    /// The folder this store lives in.
    pub fn dir(&self) -> &Path {
        &self.core.dir
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

/// The store's value file (see `value_log`), for the keys starting with one of `prefixes` (the
/// ones recorded at creation).
fn open_value_log(
    db: &sled::Db,
    dir: &Path,
    prefixes: Vec<u8>,
    compression: value_log::Compression,
) -> Result<ValueLog, StorageError> {
    if prefixes.contains(&0xFF) {
        return Err(StorageError::Fault("the recorded out-of-line prefixes include the reserved 0xFF".into()));
    }
    let referenced_end = match db.get(VALUES_END_KEY).map_err(sled_error)? {
        Some(v) => u64::from_le_bytes(
            v.as_ref().try_into().map_err(|_| StorageError::Fault("malformed value-file end key".into()))?,
        ),
        None => 0,
    };
    ValueLog::open(dir, prefixes, referenced_end, compression)
}

fn writes_of(batch: &WriteBatch) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    batch.ops().iter().map(|op| match op {
        WriteOp::Put(k, v) => (k.as_slice(), Some(v.as_slice())),
        WriteOp::Delete(k) => (k.as_slice(), None),
    })
}

/// A sled batch for `writes`; values the value file holds are added to `staged` and sled gets
/// their pointers. The caller commits `staged` before applying the batch.
fn to_sled_batch<'w>(
    writes: impl Iterator<Item = (&'w [u8], Option<&'w [u8]>)>,
    log: &ValueLog,
    staged: &mut Staged,
) -> Result<sled::Batch, StorageError> {
    let mut batch = sled::Batch::default();
    for (key, value) in writes {
        match value {
            Some(value) if log.holds(key) => batch.insert(key, &staged.push(value)?[..]),
            Some(value) => batch.insert(key, value),
            None => batch.remove(key),
        }
    }
    Ok(batch)
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
        let values = &self.core.values;
        match self.core.db.get(key).map_err(sled_error)? {
            Some(pointer) if values.holds(key) => Ok(Some(values.read(key, &pointer)?)),
            value => Ok(value.map(|v| v.to_vec())),
        }
    }

    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_> {
        let core = &self.core;
        Box::new(MergedScan::new(&core.overlay, &core.db, &core.values, start, clamp_end(end), reverse))
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.check_failed()?;
        // A batch refused here changes nothing and does not fail the backend.
        self.validate(&batch)?;
        let r = self.apply_inner(batch);
        self.latch(r)
    }

    fn sync(&self) -> Result<(), StorageError> {
        // The failure is checked and latched under the journal lock: a sync waiting for the lock
        // must not write after one whose fsync failed (it would overwrite the failed records and
        // report its own, later batches durable while the earlier ones are not).
        let mut journals = self.journals.lock().map_err(|_| lock_poisoned())?;
        self.check_failed()?;
        let r = self.sync_locked(&mut journals);
        self.latch(r)
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.core.db.size_on_disk().map_err(sled_error)? + self.core.values.len())
    }
}

impl SledBackend {
    fn check_failed(&self) -> Result<(), StorageError> {
        self.core.check_failed()
    }

    fn latch(&self, r: Result<(), StorageError>) -> Result<(), StorageError> {
        self.core.latch(r)
    }

    fn validate(&self, batch: &WriteBatch) -> Result<(), StorageError> {
        for op in batch.ops() {
            let (WriteOp::Put(key, _) | WriteOp::Delete(key)) = op;
            if key.first() == Some(&0xFF) {
                return Err(StorageError::Fault("keys starting with 0xFF are reserved for the backend".into()));
            }
            if let WriteOp::Put(key, value) = op {
                // Refused before it is journaled: a flush could never write it, and replaying it
                // would fail every open.
                if self.core.values.holds(key) {
                    value_log::check_value_size(value.len())?;
                }
            }
        }
        Ok(())
    }

    fn apply_inner(&self, mut batch: WriteBatch) -> Result<(), StorageError> {
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

    fn sync_locked(&self, journals: &mut Journals) -> Result<(), StorageError> {
        let (payloads, last_seq) = {
            let mut pending = self.pending.lock().map_err(|_| lock_poisoned())?;
            pending.bytes = 0;
            (std::mem::take(&mut pending.payloads), pending.next_seq.saturating_sub(1))
        };
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        if journals.active.fits(bytes, payloads.len()) {
            return journals.active.append_durably(&payloads);
        }
        // Full: go on in the other file at once, and let the background thread make sled
        // durable up to here and retire the full one. This waits only if the other file's own
        // retirement has not ended yet (back pressure).
        let mut fresh = take_standby(journals)?;
        if !fresh.fits_when_empty(bytes, payloads.len()) {
            // More than the other file holds (the two may differ in size: a file grown past a
            // `journal_capacity` changed since): make sled durable instead, which covers every
            // batch applied.
            journals.standby = Some(fresh);
            return self.checkpoint_locked(journals);
        }
        let generation = fresh.generation().max(journals.active.generation()) + 1;
        fresh.write_header(generation, journals.active.durable_seq().max(fresh.durable_seq()))?;
        let full = std::mem::replace(&mut journals.active, fresh);
        // The flush behind the retirement covers every batch applied so far, `last_seq` included.
        journals
            .retire
            .send(Retire { journal: full, durable_seq: last_seq })
            .map_err(|_| StorageError::Fault("the background checkpoint thread stopped".into()))?;
        journals.active.append_durably(&payloads)
    }
}

/// The standby journal file, waiting for the background thread to finish retiring it if needed.
fn take_standby(journals: &mut Journals) -> Result<Journal, StorageError> {
    match journals.standby.take() {
        Some(journal) => Ok(journal),
        None => {
            let _span = tracing::debug_span!("wait_for_checkpoint").entered();
            journals
                .retired
                .recv()
                .map_err(|_| StorageError::Fault("the background checkpoint thread stopped".into()))?
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

    /// Makes everything applied so far durable in sled itself: the overlay applied, sled
    /// flushed, its files synced.
    fn make_durable(&self) -> Result<(), StorageError> {
        let _span = tracing::debug_span!("checkpoint").entered();
        self.flush_overlay()?;
        self.db.flush().map_err(sled_error)?;
        // See the module docs: sled's flush is not a durability barrier on Linux.
        self.log_file.sync_data()?;
        self.sync_blobs()
    }

    /// The background half of a journal switch: sled made durable, then the full file retired.
    fn retire(&self, mut job: Retire) -> Result<Journal, StorageError> {
        self.check_failed()?;
        let r = self.make_durable().and_then(|()| job.journal.retire(job.durable_seq));
        if let Err(e) = &r {
            tracing::error!(error = %e, "background checkpoint failed; the store refuses writes");
        }
        self.latch(r)?;
        Ok(job.journal)
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

    /// Applies everything the overlay holds to sled as one atomic batch, then releases it.
    fn flush_overlay(&self) -> Result<(), StorageError> {
        let _one_at_a_time = self.flush_lock.lock().map_err(|_| lock_poisoned())?;
        let cut = self.overlay.cut()?;
        if cut.is_empty() {
            return Ok(());
        }
        let _span = tracing::debug_span!("overlay_flush", keys = cut.len()).entered();
        let mut staged = self.values.stage();
        let mut batch = to_sled_batch(cut.writes(), &self.values, &mut staged)?;
        if !staged.is_empty() {
            // Durable before sled can hold a pointer to it (see `value_log`).
            let end = self.values.commit(staged)?;
            batch.insert(VALUES_END_KEY, &end.to_le_bytes()[..]);
        }
        self.db.apply_batch(batch).map_err(sled_error)?;
        self.overlay.release(&cut)
    }
}

/// The background thread: applies the overlay to sled when woken (it grew past
/// [`FLUSH_AT_BYTES`]) or every [`FLUSH_INTERVAL`], and retires full journal files (a checkpoint
/// each) in the order it gets them, answering each on `done`. When the backend drops its wake
/// sender it retires what is still queued and stops.
fn spawn_flusher(
    core: Arc<Core>,
    jobs: Receiver<Retire>,
    done: Sender<Result<Journal, StorageError>>,
) -> Result<(Sender<()>, std::thread::JoinHandle<()>), StorageError> {
    let (wake, woken) = crossbeam_channel::bounded::<()>(1);
    let flush = |core: &Core| {
        if core.check_failed().is_ok() && core.overlay.bytes() > 0 {
            let r = core.flush_overlay();
            if let Err(e) = &r {
                tracing::error!(error = %e, "applying the overlay to sled failed; the store refuses writes");
            }
            let _ = core.latch(r);
        }
    };
    let handle = std::thread::Builder::new().name("anquan-sled-flush".into()).spawn(move || loop {
        crossbeam_channel::select! {
            recv(jobs) -> job => match job {
                // The backend waits for the answer; if it is gone, so is the need.
                Ok(job) => drop(done.send(core.retire(job))),
                Err(_) => return,
            },
            recv(woken) -> wake => match wake {
                Ok(()) => flush(&core),
                Err(_) => {
                    for job in jobs.try_iter() {
                        drop(done.send(core.retire(job)));
                    }
                    return;
                }
            },
            default(FLUSH_INTERVAL) => flush(&core),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn small_journal() -> SledOptions {
        SledOptions { journal_capacity: 32 * 1024, ..SledOptions::default() }
    }

    fn value(i: u32) -> Vec<u8> {
        vec![i as u8; 400]
    }

    #[test]
    fn full_journal_files_are_retired_in_the_background_and_everything_reopens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let backend = SledBackend::open(dir.path(), &small_journal()).unwrap();
            for i in 0..300u32 {
                let mut batch = WriteBatch::new();
                batch.put(i.to_be_bytes().to_vec(), value(i));
                backend.apply(batch).unwrap();
                backend.sync().unwrap();
                assert_eq!(backend.get(&i.to_be_bytes()).unwrap(), Some(value(i)));
            }
            // 300 records of about 450 bytes through 28 KiB files: the files took turns.
            let generation = backend.journals.lock().unwrap().active.generation();
            assert!(generation >= 5, "generation {generation}");
        }
        let backend = SledBackend::open(dir.path(), &small_journal()).unwrap();
        assert_eq!(backend.replayed_at_open(), 0, "a clean close leaves nothing to redo");
        for i in 0..300u32 {
            assert_eq!(backend.get(&i.to_be_bytes()).unwrap(), Some(value(i)), "key {i}");
        }
    }

    fn out_of_line() -> SledOptions {
        SledOptions { out_of_line_prefixes: vec![b'S'], ..small_journal() }
    }

    fn key(prefix: u8, i: u32) -> Vec<u8> {
        let mut k = vec![prefix];
        k.extend_from_slice(&i.to_be_bytes());
        k
    }

    #[test]
    fn values_under_out_of_line_prefixes_live_in_the_value_file_and_read_back_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> =
            (0..200u32).flat_map(|i| [(key(b'E', i), value(i)[..8].to_vec()), (key(b'S', i), value(i))]).collect();
        {
            // Stored as they are, so the file's size shows they are there (compression has its
            // own tests in `value_log`).
            let options = SledOptions { value_compression: value_log::Compression::None, ..out_of_line() };
            let backend = SledBackend::open(dir.path(), &options).unwrap();
            for pair in expected.chunks(10) {
                let mut batch = WriteBatch::new();
                for (k, v) in pair {
                    batch.put(k.clone(), v.clone());
                }
                backend.apply(batch).unwrap();
                backend.sync().unwrap();
            }
            backend.checkpoint().unwrap();
            // sled holds a pointer for `S` keys and the value itself for the others.
            assert_eq!(backend.core.db.get(key(b'S', 7)).unwrap().unwrap().len(), value_log::POINTER_LEN);
            assert_eq!(backend.core.db.get(key(b'E', 7)).unwrap().unwrap().as_ref(), &value(7)[..8]);
            assert_eq!(backend.get(&key(b'S', 7)).unwrap(), Some(value(7)));
        }
        let backend = SledBackend::open(dir.path(), &small_journal()).unwrap();
        assert!(backend.core.values.holds(&key(b'S', 0)), "the store keeps the prefixes it was created with");
        let mut sorted = expected.clone();
        sorted.sort();
        let scanned: Vec<_> = backend.scan(Bound::Unbounded, Bound::Unbounded, false).map(Result::unwrap).collect();
        assert_eq!(scanned, sorted);
        let reversed: Vec<_> = backend.scan(Bound::Unbounded, Bound::Unbounded, true).map(Result::unwrap).collect();
        assert_eq!(reversed, sorted.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!(
            backend.last_at_or_before(b"S", &key(b'S', 150)).unwrap(),
            Some((key(b'S', 150), value(150))),
            "a point lookup by reverse scan"
        );
        let on_disk = std::fs::metadata(dir.path().join(value_log::VALUE_LOG_FILE)).unwrap().len();
        assert!(on_disk >= 200 * 400, "{on_disk} bytes in the value file");
    }

    /// Creates a store holding `S 1` and closes it.
    fn write_one_and_close(dir: &Path, options: &SledOptions) {
        let backend = SledBackend::open(dir, options).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(key(b'S', 1), value(1));
        backend.apply(batch).unwrap();
        backend.sync().unwrap();
    }

    #[test]
    fn a_folder_keeping_its_values_inside_sled_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        write_one_and_close(dir.path(), &small_journal());
        {
            // What a store of layout 1 is: data in sled, no value file, no record of one.
            let db = open_sled(dir.path(), small_journal().cache_capacity).unwrap();
            db.remove(VALUES_KEY).unwrap();
            db.flush().unwrap();
        }
        let values = dir.path().join(value_log::VALUE_LOG_FILE);
        std::fs::remove_file(&values).unwrap();
        match SledBackend::open(dir.path(), &out_of_line()) {
            Err(StorageError::UnsupportedFormat { found }) => assert!(found.contains("inside sled"), "{found}"),
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        }
        assert!(!values.exists(), "no value file was created");
        let db = open_sled(dir.path(), small_journal().cache_capacity).unwrap();
        assert!(db.get(VALUES_KEY).unwrap().is_none(), "nothing was recorded");
        assert_eq!(db.get(key(b'S', 1)).unwrap().unwrap().as_ref(), &value(1)[..], "the data is as it was");
    }

    #[test]
    fn a_value_file_shorter_than_sled_refers_to_is_refused_as_lost_data() {
        let dir = tempfile::tempdir().unwrap();
        write_one_and_close(dir.path(), &out_of_line());
        let path = dir.path().join(value_log::VALUE_LOG_FILE);
        let len = std::fs::metadata(&path).unwrap().len();
        File::options().write(true).open(&path).unwrap().set_len(len - 1).unwrap();
        let err = SledBackend::open(dir.path(), &out_of_line()).unwrap_err().to_string();
        assert!(err.contains("lost data") && err.contains("anquan.values"), "{err}");
    }

    #[test]
    fn an_oversized_out_of_line_value_is_refused_before_it_is_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions { journal_capacity: 24 * 1024 * 1024, ..out_of_line() };
        {
            let backend = SledBackend::open(dir.path(), &options).unwrap();
            let mut batch = WriteBatch::new();
            batch.put(key(b'S', 1), vec![7u8; value_log::MAX_VALUE_BYTES + 1]);
            let err = backend.apply(batch).unwrap_err().to_string();
            assert!(err.contains("larger than the value file takes"), "{err}");
            // Refused, not failed: the backend goes on.
            let mut batch = WriteBatch::new();
            batch.put(key(b'S', 2), value(2));
            backend.apply(batch).unwrap();
            backend.sync().unwrap();
        }
        let backend = SledBackend::open(dir.path(), &options).unwrap();
        assert_eq!(backend.get(&key(b'S', 1)).unwrap(), None);
        assert_eq!(backend.get(&key(b'S', 2)).unwrap(), Some(value(2)));
    }

    #[test]
    fn the_reserved_prefix_cannot_be_kept_out_of_line() {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions { out_of_line_prefixes: vec![b'S', 0xFF], ..small_journal() };
        let err = SledBackend::open(dir.path(), &options).unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn refusing_a_store_whose_sled_files_were_lost_does_not_convert_it() {
        let dir = tempfile::tempdir().unwrap();
        write_one_and_close(dir.path(), &small_journal());
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            if name == "db" || name == "conf" || name.starts_with("snap.") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        let values = std::fs::read(dir.path().join(value_log::VALUE_LOG_FILE)).unwrap();
        let err = SledBackend::open(dir.path(), &out_of_line()).unwrap_err().to_string();
        assert!(err.contains("lost data"), "{err}");
        assert_eq!(std::fs::read(dir.path().join(value_log::VALUE_LOG_FILE)).unwrap(), values, "nor the value file");
        // Through the store's own opener: the refused open's sled threads may still hold the lock.
        let db = open_sled(dir.path(), small_journal().cache_capacity).unwrap();
        assert!(db.get(VALUES_KEY).unwrap().is_none(), "the refused open recorded no value-file marker");
    }

    #[test]
    fn scans_and_gets_racing_flushes_see_whole_values() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(SledBackend::open(dir.path(), &out_of_line()).unwrap());
        let writer = {
            let backend = backend.clone();
            std::thread::spawn(move || {
                for i in 0..3000u32 {
                    let mut batch = WriteBatch::new();
                    batch.put(key(b'S', i), value(i));
                    batch.put(key(b'E', i), i.to_le_bytes().to_vec());
                    backend.apply(batch).unwrap();
                    if i % 100 == 99 {
                        backend.sync().unwrap();
                        backend.core.flush_overlay().unwrap();
                    }
                }
            })
        };
        let mut rounds = 0;
        while !writer.is_finished() || rounds < 3 {
            for reverse in [false, true] {
                let seen: Vec<_> = backend
                    .scan(Bound::Included(vec![b'S']), Bound::Excluded(vec![b'T']), reverse)
                    .map(Result::unwrap)
                    .collect();
                for (k, v) in &seen {
                    let i = u32::from_be_bytes(k[1..].try_into().unwrap());
                    assert_eq!(v, &value(i), "key {i}");
                }
                if let Some((k, v)) = seen.first() {
                    assert_eq!(backend.get(k).unwrap().as_ref(), Some(v));
                }
            }
            rounds += 1;
        }
        writer.join().unwrap();
        assert_eq!(backend.scan(Bound::Included(vec![b'S']), Bound::Excluded(vec![b'T']), false).count(), 3000);
    }

    #[test]
    fn a_sync_larger_than_a_journal_file_checkpoints_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let backend = SledBackend::open(dir.path(), &small_journal()).unwrap();
            let mut batch = WriteBatch::new();
            for i in 0..200u32 {
                batch.put(i.to_be_bytes().to_vec(), value(i));
            }
            backend.apply(batch).unwrap();
            let before = backend.journals.lock().unwrap().active.generation();
            backend.sync().unwrap();
            let journals = backend.journals.lock().unwrap();
            assert_eq!(journals.active.generation(), before + 1, "same file, next generation");
            assert!(journals.standby.is_some(), "nothing handed to the background thread");
        }
        let backend = SledBackend::open(dir.path(), &small_journal()).unwrap();
        assert_eq!(backend.get(&199u32.to_be_bytes()).unwrap(), Some(value(199)));
    }
}
