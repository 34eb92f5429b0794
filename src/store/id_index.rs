//! The event-id index (事件编号索引): event id → position, for idempotency, kept in files of its
//! own beside the backend (`ids/` in the store folder), not as one backend key per event.
//!
//! Why: every append looks up each of its event ids, and every event adds one id. As one sled
//! key per event (random 16-byte keys), the index was the costliest part of a commit: sled
//! inserted each key somewhere in its tree and copied the leaf, so the flush spent most of its
//! time there, and the leaves were about half of the store's bytes. Here ids go into an
//! in-memory table; full tables become sorted, immutable run files, which a background thread
//! merges two at a time (so a store of n events has about log₂(n / table size) runs). A lookup
//! checks the tables, then each run's filter (one cache line, in memory) and only on a hit
//! reads one block of the run.
//!
//! The index is **derived data**: the log is the truth. The manifest (`MANIFEST`) names the
//! runs, the position `covered_end` below which every event's id is in them, and the log's chain
//! hash of the event before it; at open, the store re-reads the log from there (nothing after a
//! clean close; after a crash, what the tables held: at most `MAX_FROZEN` + 1 tables). A run is
//! written only after a backend sync made every event in it durable, so no run names an event a
//! crash can take back. A manifest that is missing, damaged, past the log's end or written for
//! another log (hash) is dropped with its runs and the index is rebuilt from the log. Blocks
//! carry checksums: a damaged block is an error for the lookup that reads it (never a miss), and
//! `verify` reads every block and checks fences, filters, order, and that no id is listed twice.
//! If writing runs fails, the worker stops, removes the manifest (the next open rebuilds) and
//! lookups go on from memory and the runs. Only the index's own files (`MANIFEST`,
//! `MANIFEST.new`, `NNNNNNNNNN.run`) are ever deleted from its folder.
//!
//! Files: runs `NNNNNNNNNN.run` = blocks of up to [`BLOCK_ENTRIES`] entries `id [16] ‖ position
//! u64 LE`, sorted by id, each followed by an 8-byte BLAKE3 checksum of its entries; then the
//! filter (64-byte lines), the first id of every block, and a trailer (counts, `end`, BLAKE3 of
//! filter, fences and trailer fields, magic). The manifest is replaced atomically (written
//! beside, synced, renamed, folder synced).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::types::Hash;
use crate::storage::{Backend, StorageError};

/// Entries per in-memory table before it is written as a run, by default: about 5 MiB of
/// memory per table; after a crash, open re-reads from the log what the tables held.
pub const DEFAULT_TABLE_ENTRIES: usize = 1 << 17;
/// Entries per block of a run (a block plus its checksum fits a 4 KiB page).
pub const BLOCK_ENTRIES: usize = 170;
const ENTRY_LEN: usize = 24;
const CHECKSUM_LEN: usize = 8;
const RUN_MAGIC: &[u8; 8] = b"ANQIDR01";
const MANIFEST_MAGIC: &[u8; 8] = b"ANQIDM01";
const MANIFEST: &str = "MANIFEST";
const MANIFEST_NEW: &str = "MANIFEST.new";
/// Trailer: count u64, end u64, filter lines u64, checksum [32], magic [8].
const TRAILER_LEN: usize = 8 + 8 + 8 + 32 + 8;
/// Filter bits per entry (about 1% false positives with 7 bits set in one 512-bit line).
const FILTER_BITS_PER_ENTRY: usize = 10;
const FILTER_PROBES: u32 = 7;

pub type EventId = [u8; 16];

/// Entries in id order, each read checked.
type EntryIter = dyn Iterator<Item = Result<(EventId, u64), IdIndexError>>;

/// An error of the index files. The store treats a damaged file as data to rebuild.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdIndexError {
    #[error("event-id index file {path} is damaged: {detail}; delete the folder {dir} and reopen the store to rebuild it from the log")]
    Damaged { path: String, dir: String, detail: String },
    /// The log holds one event id at two positions (a retry that was not recognised).
    #[error("event id {} is recorded twice, at positions {first} and {second}", uuid::Uuid::from_bytes(*.id))]
    Repeated { id: EventId, first: u64, second: u64 },
    #[error("event-id index: {0}")]
    Io(#[from] std::io::Error),
    #[error("event-id index: {0}")]
    Storage(#[from] StorageError),
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Two independent 64-bit hashes of an id (ids may be sequential, so they are mixed).
fn hashes(id: &EventId) -> (u64, u64) {
    let (a, b) = (u64_at(id, 0), u64_at(id, 8));
    let h1 = mix(a ^ mix(b.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    (h1, mix(h1 ^ b))
}

/// A blocked Bloom filter: each id sets [`FILTER_PROBES`] bits in one 64-byte line.
#[derive(Debug)]
struct Filter {
    lines: Vec<[u64; 8]>,
}

impl Filter {
    fn with_entries(n: usize) -> Self {
        Self { lines: vec![[0u64; 8]; filter_lines(n)] }
    }

    fn slots(&self, id: &EventId) -> (usize, u64) {
        let (h1, h2) = hashes(id);
        let line = ((u128::from(h1) * self.lines.len() as u128) >> 64) as usize;
        (line, h2)
    }

    fn insert(&mut self, id: &EventId) {
        let (line, h2) = self.slots(id);
        for i in 0..FILTER_PROBES {
            let bit = (h2 >> (i * 9)) & 511;
            self.lines[line][(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    fn may_contain(&self, id: &EventId) -> bool {
        let (line, h2) = self.slots(id);
        (0..FILTER_PROBES).all(|i| {
            let bit = (h2 >> (i * 9)) & 511;
            self.lines[line][(bit / 64) as usize] & (1 << (bit % 64)) != 0
        })
    }
}

/// The little-endian u64 at `at` (callers have checked the length).
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// One stored entry: `id [16] ‖ position u64 LE`.
fn decode_entry(e: &[u8]) -> (EventId, u64) {
    let mut id = [0u8; 16];
    id.copy_from_slice(&e[..16]);
    (id, u64_at(e, 16))
}

fn damaged_file(path: &Path, detail: String) -> IdIndexError {
    IdIndexError::Damaged {
        path: path.display().to_string(),
        dir: path.parent().map(|p| p.display().to_string()).unwrap_or_default(),
        detail,
    }
}

/// 64-byte filter lines for `n` entries.
fn filter_lines(n: usize) -> usize {
    n.saturating_mul(FILTER_BITS_PER_ENTRY).div_ceil(512).max(1)
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let h = blake3::hash(bytes);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&h.as_bytes()[..CHECKSUM_LEN]);
    out
}

/// One immutable run file: sorted entries, its filter and block fences in memory.
#[derive(Debug)]
struct Run {
    number: u64,
    path: PathBuf,
    file: File,
    count: u64,
    /// Every position in the run is below this.
    end: u64,
    filter: Filter,
    /// First id of each block.
    fences: Vec<EventId>,
}

impl Run {
    fn blocks(&self) -> usize {
        self.fences.len()
    }

    fn block_len(&self, b: usize) -> usize {
        let n = (self.count as usize - b * BLOCK_ENTRIES).min(BLOCK_ENTRIES);
        n * ENTRY_LEN + CHECKSUM_LEN
    }

    fn damaged(&self, detail: String) -> IdIndexError {
        damaged_file(&self.path, detail)
    }

    /// The entries of block `b`, checked against their checksum.
    fn read_block(&self, b: usize) -> Result<Vec<u8>, IdIndexError> {
        let stride = BLOCK_ENTRIES * ENTRY_LEN + CHECKSUM_LEN;
        let mut buf = vec![0u8; self.block_len(b)];
        self.file.read_exact_at(&mut buf, (b * stride) as u64).map_err(|e| self.damaged(format!("block {b}: {e}")))?;
        let (entries, sum) = buf.split_at(buf.len() - CHECKSUM_LEN);
        if checksum(entries) != sum {
            return Err(self.damaged(format!("block {b} does not match its checksum")));
        }
        buf.truncate(buf.len() - CHECKSUM_LEN);
        Ok(buf)
    }

    fn get(&self, id: &EventId) -> Result<Option<u64>, IdIndexError> {
        if !self.filter.may_contain(id) {
            return Ok(None);
        }
        let b = self.fences.partition_point(|f| f <= id);
        if b == 0 {
            return Ok(None);
        }
        let block = self.read_block(b - 1)?;
        let entries: Vec<&[u8]> = block.chunks_exact(ENTRY_LEN).collect();
        match entries.binary_search_by(|e| e[..16].cmp(id)) {
            Ok(i) => Ok(Some(decode_entry(entries[i]).1)),
            Err(_) => Ok(None),
        }
    }

    /// Every entry in id order, a block at a time (checked against its checksum and for order).
    fn entries(self: &Arc<Self>) -> RunEntries {
        RunEntries { run: self.clone(), block: 0, buf: Vec::new(), at: 0, last: None }
    }

    /// Opens run `number`: reads its trailer, filter and fences and checks them.
    fn open(dir: &Path, number: u64) -> Result<Run, IdIndexError> {
        let path = run_path(dir, number);
        let file = File::open(&path)?;
        let damaged = |detail: String| damaged_file(&path, detail);
        let len = file.metadata()?.len();
        if len < TRAILER_LEN as u64 {
            return Err(damaged(format!("{len} bytes is shorter than its trailer")));
        }
        let mut trailer = [0u8; TRAILER_LEN];
        file.read_exact_at(&mut trailer, len - TRAILER_LEN as u64)?;
        if &trailer[TRAILER_LEN - 8..] != RUN_MAGIC {
            return Err(damaged("no run trailer".into()));
        }
        let field = |i: usize| u64_at(&trailer, i * 8);
        let (count, end, lines) = (field(0), field(1), field(2));
        // Every size follows from `count`, which the file's length bounds: a damaged trailer is
        // refused before anything is allocated for it.
        let misfit = || damaged(format!("trailer (count {count}, filter lines {lines}) does not fit {len} bytes"));
        if count == 0 || count > len / ENTRY_LEN as u64 || lines != filter_lines(count as usize) as u64 {
            return Err(misfit());
        }
        let blocks = (count as usize).div_ceil(BLOCK_ENTRIES);
        let data_len = count * ENTRY_LEN as u64 + blocks as u64 * CHECKSUM_LEN as u64;
        let meta_len = lines * 64 + blocks as u64 * 16;
        if data_len + meta_len + TRAILER_LEN as u64 != len {
            return Err(misfit());
        }
        let mut meta = vec![0u8; meta_len as usize];
        file.read_exact_at(&mut meta, data_len)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&meta);
        hasher.update(&trailer[..24]);
        if hasher.finalize().as_bytes() != &trailer[24..56] {
            return Err(damaged("filter or fences do not match the trailer's checksum".into()));
        }
        let (filter_bytes, fence_bytes) = meta.split_at(lines as usize * 64);
        let lines = filter_bytes
            .chunks_exact(64)
            .map(|l| {
                let mut line = [0u64; 8];
                for (w, b) in line.iter_mut().zip(l.chunks_exact(8)) {
                    *w = u64_at(b, 0);
                }
                line
            })
            .collect();
        let fences = fence_bytes
            .chunks_exact(16)
            .map(|f| {
                let mut id = [0u8; 16];
                id.copy_from_slice(f);
                id
            })
            .collect();
        Ok(Run { number, path, file, count, end, filter: Filter { lines }, fences })
    }
}

/// Reads a run's entries in id order, one block in memory at a time.
struct RunEntries {
    run: Arc<Run>,
    block: usize,
    buf: Vec<u8>,
    at: usize,
    last: Option<EventId>,
}

impl RunEntries {
    /// Ends the iteration after an error.
    fn stop(&mut self, e: IdIndexError) -> IdIndexError {
        self.block = self.run.blocks();
        self.buf.clear();
        self.at = 0;
        e
    }
}

impl Iterator for RunEntries {
    type Item = Result<(EventId, u64), IdIndexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == self.buf.len() {
            if self.block == self.run.blocks() {
                return None;
            }
            match self.run.read_block(self.block) {
                Ok(b) => self.buf = b,
                Err(e) => return Some(Err(self.stop(e))),
            }
            self.block += 1;
            self.at = 0;
        }
        let b = self.block - 1;
        let (id, position) = decode_entry(&self.buf[self.at..self.at + ENTRY_LEN]);
        let first_of_block = self.at == 0;
        self.at += ENTRY_LEN;
        // What lookups rely on besides the entries: the block is found by its fence, the entry
        // passes the filter, and ids rise (so each block lies below the next fence).
        let problem = if self.last.is_some_and(|last| last >= id) {
            Some(format!("block {b} is out of order"))
        } else if first_of_block && self.run.fences[b] != id {
            Some(format!("the fence of block {b} is not its first id"))
        } else if !self.run.filter.may_contain(&id) {
            Some(format!("the filter misses an id of block {b}"))
        } else {
            None
        };
        if let Some(detail) = problem {
            let err = self.run.damaged(detail);
            return Some(Err(self.stop(err)));
        }
        self.last = Some(id);
        Some(Ok((id, position)))
    }
}

/// Writes a run from entries pushed in id order; memory: one block, the filter and the fences.
struct RunWriter {
    number: u64,
    path: PathBuf,
    out: std::io::BufWriter<File>,
    filter: Filter,
    fences: Vec<EventId>,
    block: Vec<u8>,
    count: u64,
}

impl RunWriter {
    /// A writer for run `number` of at most `capacity` entries (sizes the filter).
    fn create(dir: &Path, number: u64, capacity: usize) -> Result<Self, IdIndexError> {
        let path = run_path(dir, number);
        let file = File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
        Ok(Self {
            number,
            path,
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            filter: Filter::with_entries(capacity),
            fences: Vec::with_capacity(capacity.div_ceil(BLOCK_ENTRIES)),
            block: Vec::with_capacity(BLOCK_ENTRIES * ENTRY_LEN + CHECKSUM_LEN),
            count: 0,
        })
    }

    fn push(&mut self, id: &EventId, position: u64) -> Result<(), IdIndexError> {
        if self.block.is_empty() {
            self.fences.push(*id);
        }
        self.filter.insert(id);
        self.block.extend_from_slice(id);
        self.block.extend_from_slice(&position.to_le_bytes());
        self.count += 1;
        if self.block.len() == BLOCK_ENTRIES * ENTRY_LEN {
            self.end_block()?;
        }
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), IdIndexError> {
        if !self.block.is_empty() {
            let sum = checksum(&self.block);
            self.out.write_all(&self.block)?;
            self.out.write_all(&sum)?;
            self.block.clear();
        }
        Ok(())
    }

    /// Writes the filter, fences and trailer, and syncs: every position in the run is below `end`.
    fn finish(mut self, end: u64) -> Result<Run, IdIndexError> {
        self.end_block()?;
        let mut hasher = blake3::Hasher::new();
        let mut meta = Vec::with_capacity(self.filter.lines.len() * 64);
        for line in &self.filter.lines {
            for w in line {
                meta.extend_from_slice(&w.to_le_bytes());
            }
        }
        for f in &self.fences {
            meta.extend_from_slice(f);
        }
        let mut fields = Vec::with_capacity(24);
        fields.extend_from_slice(&self.count.to_le_bytes());
        fields.extend_from_slice(&end.to_le_bytes());
        fields.extend_from_slice(&(self.filter.lines.len() as u64).to_le_bytes());
        hasher.update(&meta);
        hasher.update(&fields);
        self.out.write_all(&meta)?;
        self.out.write_all(&fields)?;
        self.out.write_all(hasher.finalize().as_bytes())?;
        self.out.write_all(RUN_MAGIC)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(Run {
            number: self.number,
            path: self.path,
            file,
            count: self.count,
            end,
            filter: self.filter,
            fences: self.fences,
        })
    }
}

fn run_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:010}.run"))
}

/// A full in-memory table waiting to be written as a run.
#[derive(Debug)]
struct Frozen {
    entries: HashMap<EventId, u64>,
    /// Every position in it is below this…
    end: u64,
    /// …and this is the chain hash of the event at `end - 1`.
    end_hash: Hash,
}

#[derive(Debug, Default)]
struct State {
    table: HashMap<EventId, u64>,
    /// End of the last group inserted, and the hash of its last event.
    table_end: u64,
    table_end_hash: Hash,
    /// Oldest first.
    frozen: Vec<Arc<Frozen>>,
    /// Newest first.
    runs: Vec<Arc<Run>>,
    /// Every event below this is in `runs` (what the manifest records), and the log's hash of
    /// the event before it: the manifest belongs to this log only if the log agrees.
    covered_end: u64,
    covered_hash: Hash,
    next_number: u64,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    backend: Arc<dyn Backend>,
    state: RwLock<State>,
    /// Why writing runs stopped, if it did: lookups still work from memory, the manifest was
    /// removed so the next open rebuilds from the log.
    failed: Mutex<Option<String>>,
    /// Signalled when the worker wrote a table or stopped: `insert` waits on it for back pressure.
    progress: Condvar,
    progress_lock: Mutex<()>,
    /// Set by `close`: the worker writes what is frozen and skips merges.
    closing: AtomicBool,
    table_entries: usize,
}

/// At most this many full tables (about 6 MiB each) wait for the worker; then `insert` waits
/// (back pressure), so a rebuild or a burst during a long merge cannot fill memory with tables.
const MAX_FROZEN: usize = 8;

/// The event-id index of one store.
#[derive(Debug)]
pub struct IdIndex {
    inner: Arc<Inner>,
    jobs: Mutex<Option<Sender<()>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// What [`IdIndex::open`] found.
#[derive(Debug)]
pub struct Opened {
    pub index: IdIndex,
    /// The store re-reads the log from here and inserts what it finds.
    pub covered_end: u64,
    /// Why the files were dropped and the index is rebuilt from the log, if they were.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests; the store does not report it"))]
    pub rebuilt_because: Option<String>,
}

/// The file names the index owns in its folder; nothing else there is touched.
fn is_index_file(name: &str) -> bool {
    name == MANIFEST
        || name == MANIFEST_NEW
        || name.strip_suffix(".run").is_some_and(|n| n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()))
}

impl IdIndex {
    /// Opens the index in `dir` (creating it) for a log whose durable end is `log_end`; a table
    /// of `table_entries` ids is written as a run. `hash_at(p)` is the log's chain hash of the
    /// event at `p` (`None` if it cannot be read): files written for another log, or an older
    /// copy of this one, are dropped.
    pub fn open(
        dir: &Path,
        backend: Arc<dyn Backend>,
        log_end: u64,
        table_entries: usize,
        hash_at: &dyn Fn(u64) -> Option<Hash>,
    ) -> Result<Opened, IdIndexError> {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            if let Some(parent) = dir.parent() {
                File::open(parent)?.sync_all()?;
            }
        }
        let (mut state, rebuilt_because) = match load(dir, log_end, hash_at) {
            Ok(state) => (state, None),
            Err(why) => {
                tracing::warn!(dir = %dir.display(), %why, "event-id index dropped; rebuilding it from the log");
                (State::default(), Some(why))
            }
        };
        // Files the manifest does not name: left by a write or merge cut short, or dropped above.
        let named: Vec<PathBuf> = state.runs.iter().map(|r| r.path.clone()).collect();
        let mut removed = false;
        for entry in std::fs::read_dir(dir)?.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = (name == MANIFEST && rebuilt_because.is_none()) || named.contains(&p);
            if !keep && is_index_file(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::remove_file(&p)?;
                removed = true;
            }
        }
        if removed {
            // A dropped manifest must not come back after a power cut.
            File::open(dir)?.sync_all()?;
        }
        let covered_end = state.covered_end;
        state.table_end = covered_end;
        state.table_end_hash = state.covered_hash;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            backend,
            state: RwLock::new(state),
            failed: Mutex::new(None),
            progress: Condvar::new(),
            progress_lock: Mutex::new(()),
            closing: AtomicBool::new(false),
            table_entries: table_entries.max(1),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let for_worker = inner.clone();
        let worker =
            std::thread::Builder::new().name("anquan-id-index".into()).spawn(move || run_worker(&for_worker, &rx))?;
        let index = IdIndex { inner, jobs: Mutex::new(Some(tx)), worker: Mutex::new(Some(worker)) };
        Ok(Opened { index, covered_end, rebuilt_because })
    }

    /// Adds the ids of events just applied to the backend; `end` is the position after them and
    /// `end_hash` the chain hash of the event at `end - 1`. Waits while `MAX_FROZEN` full
    /// tables are waiting for the worker.
    pub fn insert(&self, entries: impl IntoIterator<Item = (EventId, u64)>, end: u64, end_hash: Hash) {
        let waiting = {
            let mut st = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
            st.table.extend(entries);
            if end >= st.table_end {
                st.table_end = end;
                st.table_end_hash = end_hash;
            }
            if st.table.len() < self.inner.table_entries {
                return;
            }
            let frozen =
                Frozen { entries: std::mem::take(&mut st.table), end: st.table_end, end_hash: st.table_end_hash };
            st.frozen.push(Arc::new(frozen));
            st.frozen.len()
        };
        self.wake_worker();
        if waiting > MAX_FROZEN {
            let _span = tracing::debug_span!("id_index_back_pressure", waiting).entered();
            let mut guard = self.inner.progress_lock.lock().unwrap_or_else(|e| e.into_inner());
            while self.frozen_len() > MAX_FROZEN && self.inner.failed().is_none() {
                guard = match self.inner.progress.wait_timeout(guard, std::time::Duration::from_millis(50)) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
            }
        }
    }

    fn frozen_len(&self) -> usize {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner()).frozen.len()
    }

    fn wake_worker(&self) {
        if let Some(tx) = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(());
        }
    }

    /// The position recorded for `id`, if any.
    pub fn get(&self, id: &EventId) -> Result<Option<u64>, IdIndexError> {
        let runs = {
            let st = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = st.table.get(id) {
                return Ok(Some(*p));
            }
            if let Some(p) = st.frozen.iter().rev().find_map(|f| f.entries.get(id)) {
                return Ok(Some(*p));
            }
            st.runs.clone()
        };
        for run in &runs {
            if let Some(p) = run.get(id)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Calls `f` with every entry in id order, for verification: tables, then runs merged
    /// block by block. Checks what lookups rely on (block checksums, fences, filters, order) and
    /// that no id is listed twice (`Repeated`: the log holds it twice).
    pub fn for_each(&self, mut f: impl FnMut(&EventId, u64)) -> Result<(), IdIndexError> {
        let (mut tables, runs) = {
            let st = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
            let mut tables: Vec<(EventId, u64)> = st.table.iter().map(|(k, v)| (*k, *v)).collect();
            for fr in &st.frozen {
                tables.extend(fr.entries.iter().map(|(k, v)| (*k, *v)));
            }
            (tables, st.runs.clone())
        };
        tables.sort_unstable();
        let mut sources: Vec<Box<EntryIter>> = vec![Box::new(tables.into_iter().map(Ok))];
        sources.extend(runs.iter().map(|r| Box::new(r.entries()) as Box<EntryIter>));
        // k-way merge: the smallest id first; one block per run in memory.
        let mut heads = std::collections::BinaryHeap::new();
        for (i, src) in sources.iter_mut().enumerate() {
            if let Some(e) = src.next() {
                let (id, p) = e?;
                heads.push(std::cmp::Reverse((id, p, i)));
            }
        }
        let mut last: Option<(EventId, u64)> = None;
        while let Some(std::cmp::Reverse((id, p, i))) = heads.pop() {
            if let Some((lid, lp)) = last.filter(|(lid, _)| *lid == id) {
                return Err(IdIndexError::Repeated { id: lid, first: lp.min(p), second: lp.max(p) });
            }
            f(&id, p);
            last = Some((id, p));
            if let Some(e) = sources[i].next() {
                let (id, p) = e?;
                heads.push(std::cmp::Reverse((id, p, i)));
            }
        }
        Ok(())
    }

    /// Number of run files (for monitoring and tests).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests; nothing monitors it yet"))]
    pub fn runs(&self) -> usize {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner()).runs.len()
    }

    /// Why writing runs stopped, if it did.
    pub fn failed(&self) -> Option<String> {
        self.inner.failed()
    }

    /// Writes what is still in memory as a run (after a sync) without merging, and stops the
    /// worker: a reopen then re-reads nothing from the log. `persist` is false when the store is
    /// poisoned: then nothing more is written.
    pub fn close(&self, persist: bool) {
        self.inner.closing.store(true, Ordering::Release);
        {
            let mut st = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
            if !persist {
                st.frozen.clear();
            } else if !st.table.is_empty() {
                let frozen =
                    Frozen { entries: std::mem::take(&mut st.table), end: st.table_end, end_hash: st.table_end_hash };
                st.frozen.push(Arc::new(frozen));
            }
        }
        self.wake_worker();
        self.stop_worker();
    }

    fn stop_worker(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for IdIndex {
    fn drop(&mut self) {
        self.inner.closing.store(true, Ordering::Release);
        self.stop_worker();
    }
}

impl Inner {
    fn failed(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn signal_progress(&self) {
        let _g = self.progress_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.progress.notify_all();
    }
}

/// Reads the manifest and opens its runs; an error says why the files cannot be used.
fn load(dir: &Path, log_end: u64, hash_at: &dyn Fn(u64) -> Option<Hash>) -> Result<State, String> {
    let path = dir.join(MANIFEST);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if log_end == 0 { Ok(State::default()) } else { Err("it has no manifest".into()) };
        }
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let bad = || format!("{} is damaged", path.display());
    const FIXED: usize = 8 + 8 + 32 + 8 + 4;
    if bytes.len() < FIXED + 32 || &bytes[..8] != MANIFEST_MAGIC {
        return Err(bad());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(body).as_bytes() != sum {
        return Err(bad());
    }
    let covered_end = u64_at(body, 8);
    let mut covered_hash = [0u8; 32];
    covered_hash.copy_from_slice(&body[16..48]);
    let next_number = u64_at(body, 48);
    let n = u32::from_le_bytes(body[56..60].try_into().unwrap_or_default()) as usize;
    if body.len() != FIXED + n * 8 {
        return Err(bad());
    }
    if covered_end > log_end {
        return Err(format!("it covers events up to {covered_end}, but the log ends at {log_end}"));
    }
    if covered_end > 0 && hash_at(covered_end - 1) != Some(covered_hash) {
        return Err(format!("it was written for another log (the event at {} differs)", covered_end - 1));
    }
    let mut runs = Vec::with_capacity(n);
    for i in 0..n {
        let number = u64_at(body, FIXED + i * 8);
        let run = Run::open(dir, number).map_err(|e| e.to_string())?;
        if run.end > covered_end || number >= next_number {
            return Err(format!("run {number} does not agree with the manifest"));
        }
        runs.push(Arc::new(run));
    }
    Ok(State { covered_end, covered_hash, next_number, runs, ..State::default() })
}

/// Replaces the manifest: runs (newest first) and the end they cover with its hash.
fn write_manifest(dir: &Path, runs: &[Arc<Run>], covered: (u64, Hash), next_number: u64) -> Result<(), IdIndexError> {
    let mut body = Vec::with_capacity(60 + runs.len() * 8 + 32);
    body.extend_from_slice(MANIFEST_MAGIC);
    body.extend_from_slice(&covered.0.to_le_bytes());
    body.extend_from_slice(&covered.1);
    body.extend_from_slice(&next_number.to_le_bytes());
    body.extend_from_slice(&(runs.len() as u32).to_le_bytes());
    for r in runs {
        body.extend_from_slice(&r.number.to_le_bytes());
    }
    let sum = blake3::hash(&body);
    body.extend_from_slice(sum.as_bytes());
    let tmp = dir.join(MANIFEST_NEW);
    let mut f = File::create(&tmp)?;
    f.write_all(&body)?;
    f.sync_data()?;
    std::fs::rename(&tmp, dir.join(MANIFEST))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The worker: writes frozen tables (oldest first, always before any merge step), then merges
/// one pair at a time while nothing is frozen, until there is nothing to do or it is closing.
fn run_worker(inner: &Inner, wake: &Receiver<()>) {
    while wake.recv().is_ok() {
        if inner.failed().is_some() {
            continue;
        }
        let result = (|| -> Result<(), IdIndexError> {
            loop {
                if write_oldest(inner)? {
                    inner.signal_progress();
                    continue;
                }
                if inner.closing.load(Ordering::Acquire) || !merge_step(inner)? {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            fail(inner, &e);
        }
    }
}

/// Stops writing runs after an error. The manifest is removed, so the next open rebuilds the
/// index from the log; until then lookups use what is in memory and in the runs (a damaged
/// block is an error, never a miss).
fn fail(inner: &Inner, e: &IdIndexError) {
    tracing::error!(error = %e, "event-id index: writing runs stopped; it will be rebuilt from the log at the next open");
    *inner.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    let removed = std::fs::remove_file(inner.dir.join(MANIFEST));
    if removed.is_ok() {
        let _ = File::open(&inner.dir).and_then(|d| d.sync_all());
    }
    inner.signal_progress();
}

/// Writes the oldest frozen table as the newest run, once the backend made its events durable.
/// `false`: nothing was frozen.
fn write_oldest(inner: &Inner) -> Result<bool, IdIndexError> {
    let (frozen, number) = {
        let st = inner.state.read().unwrap_or_else(|e| e.into_inner());
        match st.frozen.first() {
            Some(f) => (f.clone(), st.next_number),
            None => return Ok(false),
        }
    };
    let _span = tracing::debug_span!("id_index_write", entries = frozen.entries.len()).entered();
    // Every event in the table was applied before it froze: after this sync all are durable,
    // so the run never names an event a crash could take back.
    inner.backend.sync()?;
    let mut entries: Vec<(EventId, u64)> = frozen.entries.iter().map(|(k, v)| (*k, *v)).collect();
    entries.sort_unstable_by_key(|e| e.0);
    let mut writer = RunWriter::create(&inner.dir, number, entries.len())?;
    for (id, p) in &entries {
        writer.push(id, *p)?;
    }
    let run = Arc::new(writer.finish(frozen.end)?);
    // Only this thread changes runs, so the manifest is written outside the lock.
    let (mut runs, covered) = {
        let st = inner.state.read().unwrap_or_else(|e| e.into_inner());
        let covered =
            if frozen.end > st.covered_end { (frozen.end, frozen.end_hash) } else { (st.covered_end, st.covered_hash) };
        (st.runs.clone(), covered)
    };
    runs.insert(0, run);
    write_manifest(&inner.dir, &runs, covered, number + 1)?;
    let mut st = inner.state.write().unwrap_or_else(|e| e.into_inner());
    st.runs = runs;
    (st.covered_end, st.covered_hash) = covered;
    st.next_number = number + 1;
    st.frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
    Ok(true)
}

/// Merges the newest two runs if the newer holds at least half as many entries as the older.
/// `false`: nothing to merge.
fn merge_step(inner: &Inner) -> Result<bool, IdIndexError> {
    let (a, b, number) = {
        let st = inner.state.read().unwrap_or_else(|e| e.into_inner());
        match st.runs.as_slice() {
            [a, b, ..] if a.count * 2 >= b.count => (a.clone(), b.clone(), st.next_number),
            _ => return Ok(false),
        }
    };
    let _span = tracing::debug_span!("id_index_merge", entries = a.count + b.count).entered();
    let mut writer = RunWriter::create(&inner.dir, number, (a.count + b.count) as usize)?;
    let (mut ea, mut eb) = (a.entries().peekable(), b.entries().peekable());
    loop {
        let take_a = match (ea.peek(), eb.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) | (Some(Ok(_)), None) => true,
            (None, Some(_)) | (_, Some(Err(_))) => false,
            (Some(Ok(x)), Some(Ok(y))) if x.0 == y.0 => {
                // Never expected: the log would hold the id twice. Verify names it.
                return Err(IdIndexError::Repeated { id: x.0, first: x.1.min(y.1), second: x.1.max(y.1) });
            }
            (Some(Ok(x)), Some(Ok(y))) => x.0 < y.0,
        };
        let next = if take_a { ea.next() } else { eb.next() };
        if let Some(entry) = next {
            let (id, p) = entry?;
            writer.push(&id, p)?;
        }
    }
    let run = Arc::new(writer.finish(a.end.max(b.end))?);
    let (mut runs, covered) = {
        let st = inner.state.read().unwrap_or_else(|e| e.into_inner());
        (st.runs.clone(), (st.covered_end, st.covered_hash))
    };
    runs.retain(|r| !Arc::ptr_eq(r, &a) && !Arc::ptr_eq(r, &b));
    runs.insert(0, run);
    write_manifest(&inner.dir, &runs, covered, number + 1)?;
    {
        let mut st = inner.state.write().unwrap_or_else(|e| e.into_inner());
        st.runs = runs;
        st.next_number = number + 1;
    }
    // Readers holding the old runs keep their open files; the names can go.
    std::fs::remove_file(&a.path)?;
    std::fs::remove_file(&b.path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sled_backend::{SledBackend, SledOptions};

    fn id(i: u64) -> EventId {
        // Sequential ids, as a host with time-ordered ids would send: the filter must mix them.
        let mut id = [0u8; 16];
        id[8..].copy_from_slice(&i.to_be_bytes());
        id
    }

    /// The stand-in log's chain hash at `p`.
    fn h(p: u64) -> Hash {
        *blake3::hash(&p.to_le_bytes()).as_bytes()
    }

    fn open(dir: &Path, be: &Arc<dyn Backend>, log_end: u64, table: usize) -> Opened {
        IdIndex::open(dir, be.clone(), log_end, table, &|p| Some(h(p))).unwrap()
    }

    fn backend(dir: &Path) -> Arc<dyn Backend> {
        Arc::new(SledBackend::open(dir.join("db"), &SledOptions::default()).unwrap())
    }

    /// An empty index in a new folder, with tables of `table` ids.
    fn fresh(table: usize) -> (tempfile::TempDir, PathBuf, Arc<dyn Backend>, IdIndex) {
        let dir = tempfile::tempdir().unwrap();
        let ids = dir.path().join("ids");
        let be = backend(dir.path());
        let index = open(&ids, &be, 0, table).index;
        (dir, ids, be, index)
    }

    fn fill(index: &IdIndex, from: u64, to: u64) {
        let mut at = from;
        while at < to {
            let end = (at + 37).min(to);
            index.insert((at..end).map(|p| (id(p), p)), end, h(end - 1));
            at = end;
        }
    }

    fn wait_for_runs(index: &IdIndex) {
        for _ in 0..500 {
            let st = index.inner.state.read().unwrap();
            let merge_due = matches!(st.runs.as_slice(), [a, b, ..] if a.count * 2 >= b.count);
            if st.frozen.is_empty() && !merge_due {
                return;
            }
            drop(st);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the worker never wrote and merged its tables");
    }

    #[test]
    fn ids_are_found_in_tables_runs_and_after_reopen_and_unknown_ids_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let ids = dir.path().join("ids");
        let be = backend(dir.path());
        let opened = open(&ids, &be, 0, 100);
        assert_eq!(opened.covered_end, 0);
        let index = opened.index;
        fill(&index, 0, 5_000);
        wait_for_runs(&index);
        // Merging two at a time keeps the count near log2(5000 / 100).
        assert!(index.runs() <= 8, "{} runs", index.runs());
        for p in (0..5_000).step_by(7) {
            assert_eq!(index.get(&id(p)).unwrap(), Some(p), "id {p}");
        }
        for p in 5_000..6_000 {
            assert_eq!(index.get(&id(p)).unwrap(), None);
        }
        let mut seen = std::collections::BTreeMap::new();
        index.for_each(|i, p| assert!(seen.insert(*i, p).is_none(), "id listed twice")).unwrap();
        assert_eq!(seen.len(), 5_000);
        assert!(seen.iter().all(|(i, p)| *i == id(*p)));
        index.close(true);
        drop(index);

        // Closed cleanly: everything is in runs, nothing to re-read.
        let opened = open(&ids, &be, 5_000, 100);
        assert_eq!((opened.covered_end, opened.rebuilt_because.is_none()), (5_000, true));
        for p in (1..5_000).step_by(13) {
            assert_eq!(opened.index.get(&id(p)).unwrap(), Some(p));
        }
        assert_eq!(opened.index.get(&id(5_001)).unwrap(), None);
    }

    #[test]
    fn a_store_closed_without_persisting_reopens_covering_only_what_runs_hold() {
        let (_dir, ids, be, index) = fresh(1_000);
        fill(&index, 0, 2_500);
        wait_for_runs(&index);
        index.close(false); // as after a poison, or a kill: the table in memory is not written
        drop(index);
        let opened = open(&ids, &be, 2_500, 1_000);
        // Tables freeze at the first group that fills them: 28 groups of 37 ids.
        assert_eq!(opened.covered_end, 2 * 28 * 37, "two full tables were written, the rest is re-read from the log");
        assert_eq!(opened.index.get(&id(2_071)).unwrap(), Some(2_071));
        assert_eq!(opened.index.get(&id(2_072)).unwrap(), None);
    }

    #[test]
    fn damaged_or_inconsistent_files_are_dropped_at_open_and_damaged_blocks_are_named() {
        let (_dir, ids, be, index) = fresh(1_000);
        fill(&index, 0, 1_000);
        wait_for_runs(&index);
        index.close(true);
        drop(index);
        let run = run_path(&ids, 0);
        assert!(run.exists());
        std::fs::write(ids.join("0000000099.run"), b"left by a merge cut short").unwrap();

        // A log shorter than the manifest claims (the folder came from elsewhere): rebuilt.
        let opened = open(&ids, &be, 10, 1_000);
        assert_eq!(opened.covered_end, 0);
        assert!(opened.rebuilt_because.unwrap().contains("log ends at 10"));
        drop(opened.index);
        assert_eq!(std::fs::read_dir(&ids).unwrap().count(), 0, "every dropped file is deleted");

        // A damaged block: open does not read blocks, a lookup that needs it names the file.
        let index = open(&ids, &be, 0, 1_000).index;
        fill(&index, 0, 1_000);
        index.close(true);
        drop(index);
        let mut bytes = std::fs::read(&run).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&run, &bytes).unwrap();
        let index = open(&ids, &be, 1_000, 1_000).index;
        let err = (0..1_000).find_map(|p| index.get(&id(p)).err()).expect("a lookup reads the damaged block");
        assert!(err.to_string().contains("does not match its checksum") && err.to_string().contains("0000000000.run"));
        assert!(index.for_each(|_, _| {}).is_err(), "verification reads every block");
        drop(index);

        // A damaged filter: caught by the trailer's checksum at open, and rebuilt.
        let at = bytes.len() - TRAILER_LEN - 20;
        bytes[100] ^= 1;
        bytes[at] ^= 1;
        std::fs::write(&run, &bytes).unwrap();
        let opened = open(&ids, &be, 1_000, 1_000);
        assert!(opened.rebuilt_because.unwrap().contains("checksum"));
        assert_eq!(opened.covered_end, 0);
        drop(opened.index);

        // A damaged manifest: rebuilt.
        let index = open(&ids, &be, 0, 1_000).index;
        fill(&index, 0, 1_000);
        index.close(true);
        drop(index);
        let mut m = std::fs::read(ids.join(MANIFEST)).unwrap();
        m[9] ^= 1;
        std::fs::write(ids.join(MANIFEST), &m).unwrap();
        let opened = open(&ids, &be, 1_000, 1_000);
        assert!(opened.rebuilt_because.unwrap().contains("damaged"));
    }

    #[test]
    fn files_of_another_log_are_dropped_and_files_the_index_does_not_own_are_kept() {
        let (_dir, ids, be, index) = fresh(100);
        fill(&index, 0, 1_000);
        index.close(true);
        drop(index);
        std::fs::write(ids.join("notes.txt"), b"a user's file").unwrap();
        std::fs::create_dir(ids.join("lost+found")).unwrap();
        // Same length of log, other events: the manifest's hash does not match.
        let opened = IdIndex::open(&ids, be.clone(), 1_000, 100, &|p| Some(h(p + 1))).unwrap();
        assert!(opened.rebuilt_because.unwrap().contains("another log"));
        assert_eq!(opened.covered_end, 0);
        assert_eq!(opened.index.get(&id(5)).unwrap(), None);
        drop(opened.index);
        let mut left: Vec<String> =
            std::fs::read_dir(&ids).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["lost+found", "notes.txt"]);
    }

    #[test]
    fn an_id_listed_twice_is_named_and_stops_run_writing_until_a_rebuild() {
        let (_dir, ids, _be, index) = fresh(100);
        fill(&index, 0, 100);
        wait_for_runs(&index);
        // As if a retry had been missed: the same id at a second position, in a later run.
        index.insert((100..200).map(|p| (if p == 150 { id(7) } else { id(p) }, p)), 200, h(199));
        for _ in 0..500 {
            if index.failed().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let why = index.failed().expect("the merge meets the repeated id");
        assert!(why.contains("recorded twice, at positions 7 and 150"), "{why}");
        assert!(!ids.join(MANIFEST).exists(), "the next open rebuilds from the log");
        match index.for_each(|_, _| {}) {
            Err(IdIndexError::Repeated { first: 7, second: 150, .. }) => {}
            other => panic!("expected the repeat, got {other:?}"),
        }
        // Lookups still answer from what the index holds.
        assert_eq!(index.get(&id(150)).unwrap(), None);
        assert!(index.get(&id(7)).unwrap().is_some());
    }

    #[test]
    fn the_filter_has_no_false_negatives_and_few_false_positives() {
        let mut f = Filter::with_entries(10_000);
        for i in 0..10_000 {
            f.insert(&id(i));
        }
        assert!((0..10_000).all(|i| f.may_contain(&id(i))));
        let false_hits = (10_000..110_000).filter(|i| f.may_contain(&id(*i))).count();
        assert!(false_hits < 3_000, "{false_hits} false positives in 100000");
    }
}
