//! After an I/O error during a commit the store refuses writes until reopened, and the reopened
//! store holds exactly the acknowledged events.
//!
//! The fault is injected by a thin wrapper around the real sled backend that fails one chosen
//! call with an I/O error, as a full disk or a dying device would.

mod common;

use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anquan::store::*;
use anquan::store::{Backend, ScanIter, SledBackend, StorageError, WriteBatch};
use common::*;

#[derive(Debug)]
struct FailingBackend {
    inner: SledBackend,
    /// Fail the n-th apply (1-based) and every sync after it; 0 = never.
    fail_apply_at: u32,
    /// Panic in the n-th apply, as a bug would; 0 = never.
    panic_apply_at: u32,
    /// Once set, panic in every apply made on the store's writer thread (commits a caller leads
    /// go through), and record that it happened.
    panic_on_writer_thread: std::sync::atomic::AtomicBool,
    panicked: std::sync::atomic::AtomicBool,
    fail_sync_at: u32,
    applies: AtomicU32,
    syncs: AtomicU32,
}

impl Backend for FailingBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key)
    }
    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_> {
        self.inner.scan(start, end, reverse)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let n = self.applies.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.panic_apply_at {
            panic!("injected: a bug in the backend");
        }
        if self.panic_on_writer_thread.load(Ordering::SeqCst) && std::thread::current().name() == Some("anquan-writer")
        {
            self.panicked.store(true, Ordering::SeqCst);
            panic!("injected: a bug in the backend, on the writer thread");
        }
        if n == self.fail_apply_at {
            return Err(StorageError::Io(std::io::Error::other("injected: no space left on device")));
        }
        self.inner.apply(batch)
    }
    fn sync(&self) -> Result<(), StorageError> {
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_sync_at != 0 && n >= self.fail_sync_at {
            return Err(StorageError::Io(std::io::Error::other("injected: fsync failed (EIO)")));
        }
        self.inner.sync()
    }
    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.inner.size_on_disk()
    }
}

fn failing(dir: &std::path::Path, fail_apply_at: u32, fail_sync_at: u32) -> Arc<dyn Backend> {
    failing_or_panicking(dir, fail_apply_at, fail_sync_at, 0)
}

fn failing_or_panicking(
    dir: &std::path::Path,
    fail_apply_at: u32,
    fail_sync_at: u32,
    panic_apply_at: u32,
) -> Arc<FailingBackend> {
    Arc::new(FailingBackend {
        inner: SledBackend::open(dir, &StoreOptions::default().sled_options()).unwrap(),
        fail_apply_at,
        fail_sync_at,
        panic_apply_at,
        panic_on_writer_thread: Default::default(),
        panicked: Default::default(),
        applies: AtomicU32::new(0),
        syncs: AtomicU32::new(0),
    })
}

#[test]
fn a_commit_that_panics_poisons_the_store_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // apply #1 is the store's own initialisation, #2 an append; #3 panics.
    let store =
        EventStore::open_with(failing_or_panicking(dir.path(), 0, 0, 3), common::with_id_folder(dir.path())).unwrap();
    store.append("hazard-1", ExpectedVersion::Any, events(1)).unwrap();
    // The panic unwinds on the committing thread: this caller's, if it led the commit.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.append("hazard-1", ExpectedVersion::Any, events(1))
    }));
    assert!(!matches!(panicked, Ok(Ok(_))), "the commit that panicked is not acknowledged");
    let err = store.append("hazard-2", ExpectedVersion::Any, events(1)).unwrap_err();
    assert!(matches!(err, StoreError::Poisoned { .. }), "later writes are refused: {err}");
    assert!(store.poisoned().is_some_and(|cause| cause.contains("panicked")), "{:?}", store.poisoned());
    drop(store);
    let store = EventStore::open(dir.path()).unwrap();
    assert_eq!(store.read_all(0, Direction::Forward, 10).unwrap().len(), 1, "only the acknowledged event");
}

#[test]
fn a_failed_batch_write_poisons_the_store_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    // apply #1 is the store's own initialisation; #2..#4 are appends; #5 fails.
    let store = EventStore::open_with(failing(dir.path(), 5, 0), common::with_id_folder(dir.path())).unwrap();
    for _ in 0..3 {
        store.append("hazard-1", ExpectedVersion::Any, events(2)).unwrap();
    }
    let err = store.append("hazard-1", ExpectedVersion::Any, events(2)).unwrap_err();
    assert!(matches!(err, StoreError::Poisoned { ref cause } if cause.contains("no space")), "{err}");
    let err = store.append("hazard-2", ExpectedVersion::Any, events(1)).unwrap_err();
    assert!(matches!(err, StoreError::Poisoned { .. }), "later writes are refused: {err}");
    assert!(err.to_string().contains("reopen"));
    assert!(store.poisoned().is_some());
    // Reads still work and show only acknowledged events.
    assert_eq!(store.read_all(0, Direction::Forward, 100).unwrap().len(), 6);
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.head().next_position, 6);
    assert!(store.verify().unwrap().is_ok());
    store.append("hazard-1", ExpectedVersion::Exact(5), events(1)).unwrap();
}

#[test]
fn a_failed_sync_acknowledges_nothing_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    // sync #1 at backend open is not counted (inner), #1 is store init, #2 first append, #3 fails.
    let store = EventStore::open_with(failing(dir.path(), 0, 3), common::with_id_folder(dir.path())).unwrap();
    store.append("incident-1", ExpectedVersion::Any, events(1)).unwrap();
    let err = store.append("incident-1", ExpectedVersion::Any, events(1)).unwrap_err();
    assert!(matches!(err, StoreError::Poisoned { ref cause } if cause.contains("fsync")), "{err}");
    // The failed group is not visible to readers: it was never acknowledged.
    assert_eq!(store.read_all(0, Direction::Forward, 100).unwrap().len(), 1);
    assert!(matches!(
        store.append("incident-2", ExpectedVersion::Any, events(1)).unwrap_err(),
        StoreError::Poisoned { .. }
    ));
}

#[test]
fn a_panic_on_the_writer_thread_poisons_the_store_and_no_caller_is_left_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let backend = failing_or_panicking(dir.path(), 0, 0, 0);
    let store = Arc::new(EventStore::open_with(backend.clone(), common::with_id_folder(dir.path())).unwrap());
    backend.panic_on_writer_thread.store(true, Ordering::SeqCst);
    // Concurrent callers, so that some commit is taken over by the writer thread: which thread
    // commits is the scheduler's choice, so they append until one has (or 30 s have passed; the
    // assertion below then says the test did not test). Every append must be answered
    // (acknowledged, refused, or its commit failed) well before the store's 10-minute reply
    // timeout.
    let (done, finished) = std::sync::mpsc::channel();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for t in 0..8 {
        let (store, backend) = (store.clone(), backend.clone());
        let done = done.clone();
        std::thread::spawn(move || {
            let mut appended = 0;
            while appended < 50 || (!backend.panicked.load(Ordering::SeqCst) && std::time::Instant::now() < until) {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.append(&format!("hazard-{t}"), ExpectedVersion::Any, events(1))
                }));
                appended += 1;
            }
            let _ = done.send(());
        });
    }
    for _ in 0..8 {
        finished.recv_timeout(std::time::Duration::from_secs(90)).expect("every append is answered");
    }
    assert!(backend.panicked.load(Ordering::SeqCst), "no commit reached the writer thread: the test did not test");
    assert!(store.poisoned().is_some_and(|cause| cause.contains("panicked")), "{:?}", store.poisoned());
    let err = store.append("hazard-9", ExpectedVersion::Any, events(1)).unwrap_err();
    assert!(matches!(err, StoreError::Poisoned { .. }), "{err}");
}
