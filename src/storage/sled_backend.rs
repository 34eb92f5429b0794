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
use std::sync::Mutex;

use super::{Backend, ScanIter, StorageError, WriteBatch, WriteOp};

/// sled's log segment size: a power of two; persisted by sled, so it must never change for an
/// existing store.
const SLED_SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// Tuning for the sled backend.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self { cache_capacity: 256 * 1024 * 1024 }
    }
}

/// sled, made durable on [`Backend::sync`].
pub struct SledBackend {
    db: sled::Db,
    dir: PathBuf,
    log_file: File,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
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
        let db = sled::Config::new()
            .path(&dir)
            .segment_size(SLED_SEGMENT_SIZE)
            .cache_capacity(options.cache_capacity)
            // The store decides when to flush; sled's timer would only add unsynced flushes.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    StorageError::Locked { path: dir.display().to_string(), reason: io.to_string() }
                }
                other => StorageError::Sled(other),
            })?;
        let log_file = File::options().read(true).write(true).open(dir.join("db"))?;
        let backend = Self { db, dir, log_file, synced_blobs: Mutex::new(HashSet::new()) };
        // Files sled may have just created (conf, db) and their directory entries must be durable
        // before the first acknowledged commit relies on them.
        backend.sync()?;
        sync_path(&backend.dir.join("conf"))?;
        sync_path(&backend.dir)?;
        Ok(backend)
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

fn sync_path(path: &Path) -> Result<(), StorageError> {
    match File::open(path) {
        Ok(f) => f.sync_all().map_err(StorageError::from),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn to_sled_bound(b: Bound<Vec<u8>>) -> Bound<sled::IVec> {
    match b {
        Bound::Included(k) => Bound::Included(k.into()),
        Bound::Excluded(k) => Bound::Excluded(k.into()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_> {
        let range = self.db.range::<sled::IVec, _>((to_sled_bound(start), to_sled_bound(end)));
        let map = |r: sled::Result<(sled::IVec, sled::IVec)>| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(StorageError::from)
        };
        if reverse {
            Box::new(range.rev().map(map))
        } else {
            Box::new(range.map(map))
        }
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut sled_batch = sled::Batch::default();
        for op in batch.into_ops() {
            match op {
                WriteOp::Put(k, v) => sled_batch.insert(k, v),
                WriteOp::Delete(k) => sled_batch.remove(k),
            }
        }
        self.db.apply_batch(sled_batch)?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        // See the module docs: sled's flush is not a durability barrier on Linux.
        self.log_file.sync_data()?;
        self.sync_blobs()
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.db.size_on_disk()?)
    }
}
