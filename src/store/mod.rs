//! Layer 2, the event store: streams, expected versions, idempotency, gapless global positions, a
//! hash chain, subscriptions and verification, on any [`Backend`]. Owns the record and segment
//! layout, the event-id index and the single writer. May import `storage` and `codec`; stores
//! payloads as bytes and knows no event type.
//!
//! Invariants (see `ARCHITECTURE.md` for the why):
//! - Positions `0..head.next_position` are gapless; each stream's versions are gapless from 0.
//! - Positions, versions, recorded-at and hashes are assigned only by the single writer, inside
//!   the commit (`writer.rs`), so readers and subscribers never see a later event before an earlier one.
//! - Readers see only events whose commit completed (durable, in the default mode): reads are
//!   clamped to the visible head, which the writer advances after the commit.
//! - recorded-at never decreases along positions (the writer takes `max(clock, last)`), so
//!   "as of a time" maps to "as of a position" by binary search.
//! - After a failed commit the store is poisoned: no further writes until reopened.
//! - Reads serve only bytes that passed the backend's checks: a segment whose stored frame fails
//!   its check is `StoreError::Corrupt` naming the segment's first position, for every read that
//!   reaches it (`read_all`, `read_stream`, subscriptions' catch-up, `verify`), never its events.
//! - One store format: layout `layout::LAYOUT_VERSION`; any other is refused at open before
//!   anything in the folder changes beyond the backend's own open.

mod clock;
mod error;
pub(crate) mod id_index;
pub(crate) mod layout;
mod reply;
mod subscription;
mod types;
mod verify;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use uuid::Uuid;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use subscription::Subscription;
pub use types::*;
pub use verify::{IntegrityProblem, VerifyReport};

use crate::storage::prefix_bounds;
use id_index::IdIndex;
use layout::{IndexEntry, LayoutError};
use writer::{Request, Writer, WriterState};

/// The backend contract a store runs on ([`EventStore::open_with`]), with the embedded default
/// (sled) and its options, for hosts that bring or wrap their own backend.
pub use crate::storage::sled_backend::SledOptions;
/// How segments are stored in the value file (`StoreOptions::segment_compression`).
pub use crate::storage::value_log::Compression;
pub use crate::storage::{Backend, KeyValue, ScanIter, SledBackend, StorageError, WriteBatch, WriteOp};

/// When an acknowledged append is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Default. Every group commit is synced (sled flush + fdatasync) before any caller in it is
    /// acknowledged: an acknowledged append survives kill -9 and power loss.
    EveryCommit,
    /// Opt-in. Callers are acknowledged once the commit is applied in memory; the writer syncs at
    /// most `flush_interval` later (and on [`EventStore::flush`] and on close). A process crash or
    /// power loss can lose the acknowledged appends of that last interval — never a part of
    /// one, and never an event in the middle of the log. For bulk imports that can be re-run.
    Deferred { flush_interval: Duration },
}

/// Settings for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Source of recorded-at.
    pub clock: Arc<dyn Clock>,
    /// Largest encoded event; at most [`MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
    /// Create the store if the folder holds none.
    pub create_if_missing: bool,
    /// sled's page cache in bytes.
    pub cache_capacity: u64,
    /// Size of each of the redo journal's two files (sled is checkpointed, in the background,
    /// each time one fills).
    pub journal_capacity: u64,
    /// Folder of the event-id index files (see `id_index`), needed at every open:
    /// [`EventStore::open_dir`] sets `DIR/ids` when this is `None`; [`EventStore::open_with`]
    /// refuses `None` ([`StoreError::IdIndexFolderNeeded`]).
    pub id_index_dir: Option<std::path::PathBuf>,
    /// Event ids the index holds in memory before writing them as a run file: memory against
    /// the log re-read at open after a crash (what the tables held: up to nine tables' worth).
    pub id_index_table: usize,
    /// How segments are stored in the value file from now on: zstd level 1 by default (about
    /// 40% fewer bytes, about 0.2 µs more per event read); [`Compression::None`] for the fastest
    /// reads. Segments already written keep their form.
    pub segment_compression: Compression,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::EveryCommit,
            clock: Arc::new(SystemClock),
            max_event_bytes: MAX_EVENT_BYTES,
            create_if_missing: true,
            cache_capacity: crate::storage::sled_backend::SledOptions::default().cache_capacity,
            journal_capacity: crate::storage::sled_backend::SledOptions::default().journal_capacity,
            id_index_dir: None,
            id_index_table: id_index::DEFAULT_TABLE_ENTRIES,
            segment_compression: Compression::default(),
        }
    }
}

impl StoreOptions {
    /// The sled backend's options for an event store: these sizes, and segments (written once,
    /// never replaced) kept out of sled's leaves, in the value file.
    pub fn sled_options(&self) -> crate::storage::sled_backend::SledOptions {
        crate::storage::sled_backend::SledOptions {
            cache_capacity: self.cache_capacity,
            journal_capacity: self.journal_capacity,
            out_of_line_prefixes: vec![layout::SEGMENT_PREFIX],
            value_compression: self.segment_compression,
        }
    }
}

/// Monotonic counters since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StoreStats {
    /// Group commits written.
    pub commits: u64,
    /// Events written by those commits.
    pub events: u64,
    /// Backend syncs (fsync barriers).
    pub syncs: u64,
    /// Time spent inside those syncs, summed, in nanoseconds. `sync_nanos / syncs` is the
    /// disk's mean sync: a durable caller waits for at least one whole sync, so `n` callers
    /// that each append one event at a time get at most `n / mean sync` events per second.
    pub sync_nanos: u64,
    /// Append requests answered (including rejections and idempotent retries).
    pub requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub(crate) commits: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) sync_nanos: AtomicU64,
    pub(crate) requests: AtomicU64,
}

/// Live subscribers hold at most this many undelivered batches before they are dropped back to
/// reading from the store.
const SUBSCRIBER_QUEUE: usize = 256;

/// State shared by the store handle, the writer and subscriptions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    /// The event-id index, in files beside the backend.
    pub(crate) ids: IdIndex,
    pub(crate) clock: Arc<dyn Clock>,
    /// Events below this position are committed and readable.
    visible_next: AtomicU64,
    head: RwLock<Head>,
    subscribers: Mutex<Vec<Sender<Arc<[RecordedEvent]>>>>,
    poisoned: Mutex<Option<String>>,
    /// Counters for monitoring (commits, events, syncs).
    pub(crate) stats: StatsCounters,
    /// Set when the store handle is closed: subscriptions end once drained.
    closed: std::sync::atomic::AtomicBool,
}

/// An open event store. Cheap to share by reference across threads (`append` takes `&self`).
/// Dropping it stops the writer after it has answered every queued request.
#[derive(Debug)]
pub struct EventStore {
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's state: the writer thread or a caller that finds it free commits groups.
    cell: Arc<Mutex<Writer>>,
}

impl EventStore {
    /// Opens (or creates) the embedded sled store in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_dir(dir, StoreOptions::default())
    }

    /// Opens the embedded sled store in `dir`.
    pub fn open_dir(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        if !options.create_if_missing && !dir.join("db").exists() {
            return Err(StoreError::NotFound { path: dir.display().to_string() });
        }
        let backend = SledBackend::open(dir, &options.sled_options())?;
        let mut options = options;
        if options.id_index_dir.is_none() {
            options.id_index_dir = Some(dir.join(ID_INDEX_FOLDER));
        }
        Self::open_with(Arc::new(backend), options)
    }

    /// Opens a store on any backend, with its event-id index in `options.id_index_dir` (which
    /// must be given). A sled backend for it is opened with [`StoreOptions::sled_options`], which
    /// keeps segments in the value file.
    pub fn open_with(backend: Arc<dyn Backend>, options: StoreOptions) -> Result<Self, StoreError> {
        let id_index_dir = options.id_index_dir.as_deref().ok_or(StoreError::IdIndexFolderNeeded)?;
        let head = match backend.get(layout::HEAD_KEY)? {
            Some(bytes) => {
                check_layout(backend.get(layout::FORMAT_KEY)?.as_deref())?;
                layout::decode_head(&bytes).map_err(corrupt)?
            }
            None => {
                if backend.scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, false).next().is_some() {
                    return Err(StoreError::Corrupt {
                        detail: "the folder holds data but no anquan head record".into(),
                    });
                }
                if !options.create_if_missing {
                    return Err(StoreError::NotFound { path: format!("{backend:?}") });
                }
                let mut batch = crate::storage::WriteBatch::new();
                batch.put(layout::FORMAT_KEY.to_vec(), vec![layout::LAYOUT_VERSION]);
                batch.put(layout::HEAD_KEY.to_vec(), layout::encode_head(&Head::EMPTY));
                backend.apply(batch)?;
                backend.sync()?;
                Head::EMPTY
            }
        };
        let hash_at = |p: u64| event_at(backend.as_ref(), p).ok().map(|e| e.hash);
        let ids = IdIndex::open(id_index_dir, backend.clone(), head.next_position, options.id_index_table, &hash_at)
            .map_err(id_index_error)?;
        let shared = Arc::new(Shared {
            ids: ids.index,
            backend,
            clock: options.clock.clone(),
            visible_next: AtomicU64::new(head.next_position),
            head: RwLock::new(head),
            subscribers: Mutex::new(Vec::new()),
            poisoned: Mutex::new(None),
            stats: StatsCounters::default(),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        shared.check_tail(&head)?;
        shared.reindex_ids(ids.covered_end, head.next_position)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let state = WriterState { head, stream_next: Default::default() };
        let durability = options.durability;
        let writer =
            Writer::new(shared.clone(), state, rx.clone(), durability, options.max_event_bytes.min(MAX_EVENT_BYTES))
                .map_err(StorageError::from)?;
        let cell = Arc::new(Mutex::new(writer));
        writer::attach(&cell);
        let for_thread = cell.clone();
        let handle = std::thread::Builder::new()
            .name("anquan-writer".into())
            .spawn(move || writer::run(for_thread, rx, durability))
            .map_err(StorageError::from)?;
        tracing::info!(next_position = head.next_position, head = %head.hash_hex(), "event store opened");
        Ok(Self { shared, tx: Some(tx), writer: Some(handle), cell })
    }

    /// Appends events to one stream. See [`EventStore::append_multi`].
    pub fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<ProposedEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_multi(vec![StreamAppend { stream: stream.to_string(), expected, events }])
    }

    /// Appends events to one or more streams in one atomic commit: all are written, or none.
    ///
    /// Each stream's expected version is checked inside the commit; a mismatch fails the whole
    /// append with [`StoreError::WrongExpectedVersion`] naming the actual version. Appending
    /// event ids that are already stored, with the same content at the same place, returns the
    /// original positions and writes nothing (`already_committed`).
    pub fn append_multi(&self, appends: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError> {
        let total: usize = appends.iter().map(|a| a.events.len()).sum();
        let span = tracing::debug_span!(
            "append",
            streams = appends.len(),
            events = total,
            first_stream = appends.first().map(|a| a.stream.as_str()).unwrap_or("")
        );
        let _enter = span.enter();
        validate_request(&appends, total)?;
        if let Some(cause) = self.shared.poisoned() {
            return Err(StoreError::Poisoned { cause });
        }
        let tx = self.tx.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = reply::slot();
        tx.send(Request::Append { appends, reply }).map_err(|_| StoreError::Closed)?;
        self.lead();
        let outcome = answer.recv_timeout(writer::REPLY_TIMEOUT).map_err(|_| self.unanswered())??;
        tracing::debug!(
            first_position = outcome.positions.first().copied(),
            last_position = outcome.last_position(),
            already_committed = outcome.already_committed,
            "appended"
        );
        Ok(outcome)
    }

    /// Waits until everything acknowledged so far is durable (a no-op cost in the default mode).
    pub fn flush(&self) -> Result<(), StoreError> {
        let tx = self.tx.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = reply::slot();
        tx.send(Request::Sync { reply }).map_err(|_| StoreError::Closed)?;
        self.lead();
        answer.recv_timeout(writer::REPLY_TIMEOUT).map_err(|_| self.unanswered())?
    }

    /// Why a request got no answer: the commit carrying it panicked (the store is poisoned), or
    /// the store closed.
    fn unanswered(&self) -> StoreError {
        match self.shared.poisoned() {
            Some(cause) => StoreError::Poisoned { cause },
            None => StoreError::Closed,
        }
    }

    /// If no one is committing, commits what is queued on this thread (see `Writer::lead`).
    fn lead(&self) {
        if let Ok(mut writer) = self.cell.try_lock() {
            writer.lead();
        }
    }

    /// Stops the writer after it has answered every queued request, and syncs.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown();
        if let Some(cause) = self.shared.poisoned() {
            return Err(StoreError::Poisoned { cause });
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        self.shared.ids.close(self.shared.poisoned().is_none());
        self.shared.closed.store(true, Ordering::Release);
        // Wake live subscribers so they notice the end.
        if let Ok(mut subs) = self.shared.subscribers.lock() {
            subs.clear();
        }
    }

    /// The committed end of the log.
    pub fn head(&self) -> Head {
        self.shared.head()
    }

    /// Counters since open: average group size is `events / commits`.
    pub fn stats(&self) -> StoreStats {
        let c = &self.shared.stats;
        StoreStats {
            commits: c.commits.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            sync_nanos: c.sync_nanos.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
        }
    }

    /// Why the store refuses writes, if it does.
    pub fn poisoned(&self) -> Option<String> {
        self.shared.poisoned()
    }

    /// A background failure that does not stop appends but needs attention, if there is one:
    /// today, the event-id index could not write its files (a full disk, its folder removed, a
    /// damaged run met by a merge, or the backend sync it makes before each run failing — then
    /// the store's own next sync fails too and poisons it). Appends and retries go on, answered from memory, which grows
    /// with every event until the store is reopened; reopening rebuilds the files from the log.
    /// A host should report it as it reports a full disk.
    pub fn degraded(&self) -> Option<String> {
        let failure = self.shared.ids.failed()?;
        Some(format!(
            "the event-id index stopped writing its files after an error ({failure}); event ids are kept in memory until the store is reopened"
        ))
    }

    /// The backend, for layers that keep their own keys beside the log (projection checkpoints).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.backend
    }

    /// Up to `limit` events of the whole log starting at `from` (inclusive), forward or backward.
    pub fn read_all(&self, from: u64, direction: Direction, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let _span = tracing::debug_span!("read_all", from, ?direction, limit).entered();
        self.shared.read_all(from, direction, limit)
    }

    /// Up to `limit` events of `stream` starting at version `from_version` (inclusive), forward
    /// or backward (use `u64::MAX` to read backward from the end).
    pub fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let _span = tracing::debug_span!("read_stream", stream, from_version, ?direction, limit).entered();
        self.shared.read_stream(stream, from_version, direction, limit)
    }

    /// What the store knows about a stream, or `None` if it has no events.
    pub fn stream_meta(&self, stream: &str) -> Result<Option<StreamMeta>, StoreError> {
        let first = self.shared.read_stream(stream, 0, Direction::Forward, 1)?;
        let last = self.shared.read_stream(stream, u64::MAX, Direction::Backward, 1)?;
        Ok(match (first.first(), last.first()) {
            (Some(f), Some(l)) => Some(StreamMeta {
                stream: stream.to_string(),
                last_version: l.version,
                event_count: l.version + 1,
                first_position: f.position,
                last_position: l.position,
                first_recorded_at: f.recorded_at,
                last_recorded_at: l.recorded_at,
            }),
            _ => None,
        })
    }

    /// Stream ids starting with `prefix`, in byte order, after `after` (exclusive) if given.
    pub fn list_streams(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        self.shared.list_streams(prefix, after, limit)
    }

    /// Delivers every event from `from` in order, then live events as they commit.
    pub fn subscribe(&self, from: u64) -> Subscription {
        Subscription::new(self.shared.clone(), from)
    }

    /// The number of events recorded at or before `t`: the position "as of" that time.
    pub fn position_as_of(&self, t: Timestamp) -> Result<u64, StoreError> {
        self.shared.position_as_of(t)
    }

    /// Walks the whole log and its indexes; names the first bad position.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let _span = tracing::info_span!("verify").entered();
        verify::verify(&self.shared)
    }
}

impl Drop for EventStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn id_index_error(e: id_index::IdIndexError) -> StoreError {
    match e {
        id_index::IdIndexError::Storage(s) => StoreError::from(s),
        id_index::IdIndexError::Io(e) => StoreError::Storage(StorageError::Io(e)),
        other => StoreError::Corrupt { detail: other.to_string() },
    }
}

/// The event at `position` as the backend holds it (committed, not necessarily visible).
fn event_at(backend: &dyn Backend, position: u64) -> Result<RecordedEvent, StoreError> {
    let (k, v) = backend
        .last_at_or_before(&[layout::SEGMENT_PREFIX], &layout::segment_key(position))?
        .ok_or_else(|| StoreError::Corrupt { detail: format!("no segment holds position {position}") })?;
    let first = layout::parse_segment_key(&k).map_err(corrupt)?;
    let skip = usize::try_from(position - first).unwrap_or(usize::MAX);
    let mut events = Vec::with_capacity(1);
    layout::decode_segment_into(&v, first, skip, 1, &mut layout::Interner::default(), &mut events)
        .map_err(|e| StoreError::Corrupt { detail: format!("segment at position {first}: {e}") })?;
    events.pop().ok_or_else(|| StoreError::Corrupt { detail: format!("no segment holds position {position}") })
}

/// The event-id index's folder inside a store folder.
pub const ID_INDEX_FOLDER: &str = "ids";

/// Refuses a store of any layout but this build's ([`layout::LAYOUT_VERSION`]).
fn check_layout(recorded: Option<&[u8]>) -> Result<(), StoreError> {
    let older = |v: u8, what: &str| StoreError::UnsupportedFormat {
        found: format!("the store has layout version {v} ({what}), not {}", layout::LAYOUT_VERSION),
    };
    match recorded {
        Some([layout::LAYOUT_VERSION]) => Ok(()),
        Some([1]) => Err(older(1, "segments kept inside sled")),
        Some([2]) => Err(older(2, "event ids kept inside sled")),
        other => Err(StoreError::Corrupt { detail: format!("unknown layout version {other:?}") }),
    }
}

fn corrupt(e: LayoutError) -> StoreError {
    StoreError::Corrupt { detail: e.to_string() }
}

/// Checks what can be checked without the writer: shape, sizes, ids, names.
fn validate_request(appends: &[StreamAppend], total: usize) -> Result<(), StoreError> {
    if appends.is_empty() || total == 0 {
        return Err(StoreError::EmptyAppend);
    }
    if total > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::TooManyEvents { count: total, limit: MAX_EVENTS_PER_APPEND });
    }
    let mut streams = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for a in appends {
        validate_stream_id(&a.stream).map_err(|reason| StoreError::InvalidStreamId { reason })?;
        if !streams.insert(a.stream.as_str()) {
            return Err(StoreError::StreamRepeated { stream: a.stream.clone() });
        }
        if a.events.is_empty() {
            return Err(StoreError::EmptyStreamAppend { stream: a.stream.clone() });
        }
        for (index, e) in a.events.iter().enumerate() {
            let invalid = |reason: String| StoreError::InvalidEvent { stream: a.stream.clone(), index, reason };
            validate_event_type(&e.event_type).map_err(invalid)?;
            validate_actor(&e.actor).map_err(invalid)?;
            if e.payload.len() > MAX_EVENT_BYTES {
                return Err(StoreError::EventTooLarge {
                    stream: a.stream.clone(),
                    index,
                    size: e.payload.len(),
                    limit: MAX_EVENT_BYTES,
                });
            }
            if !ids.insert(e.event_id) {
                return Err(StoreError::DuplicateEventInAppend { event_id: e.event_id });
            }
        }
    }
    Ok(())
}

impl Shared {
    /// One `Backend::sync`, counted and timed in the stats (a failed sync counts too: callers
    /// waited on it all the same).
    pub(crate) fn timed_sync(&self) -> Result<(), StorageError> {
        let started = std::time::Instant::now();
        let result = self.backend.sync();
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.stats.sync_nanos.fetch_add(took, Ordering::Relaxed);
        result
    }

    pub(crate) fn visible_next(&self) -> u64 {
        self.visible_next.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The head and the visible end, read together.
    pub(crate) fn head_and_visible(&self) -> (Head, u64) {
        let h = self.head.read().unwrap_or_else(|p| p.into_inner());
        (*h, self.visible_next())
    }

    pub(crate) fn head(&self) -> Head {
        match self.head.read() {
            Ok(h) => *h,
            Err(p) => *p.into_inner(),
        }
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        self.poisoned.lock().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(crate) fn set_poisoned(&self, cause: &str) {
        let mut p = self.poisoned.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none() {
            tracing::error!(cause, "event store poisoned: refusing further writes until reopened");
            *p = Some(cause.to_string());
        }
    }

    /// Makes a committed group visible and hands it to live subscribers. Head first, then
    /// publish: a subscriber that registers in between finds the events in the store.
    pub(crate) fn publish(&self, head: Head, events: Arc<[RecordedEvent]>) {
        {
            // Both under the lock, so `head()` and `visible_next()` read together agree.
            let mut h = self.head.write().unwrap_or_else(|p| p.into_inner());
            *h = head;
            self.visible_next.store(head.next_position, Ordering::Release);
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        // A full queue means a slow subscriber: drop it; it falls back to reading the store.
        subs.retain(|s| s.try_send(events.clone()).is_ok());
    }

    pub(crate) fn register_subscriber(&self) -> crossbeam_channel::Receiver<Arc<[RecordedEvent]>> {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_QUEUE);
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    /// After opening: the last segment must end exactly at the head.
    fn check_tail(&self, head: &Head) -> Result<(), StoreError> {
        let last = self.backend.last_at_or_before(&[layout::SEGMENT_PREFIX], &layout::segment_key(u64::MAX))?;
        match last {
            None if head.next_position == 0 => Ok(()),
            None => Err(StoreError::Corrupt {
                detail: format!("head says {} events but the log holds no segment", head.next_position),
            }),
            Some((k, v)) => {
                let first = layout::parse_segment_key(&k).map_err(corrupt)?;
                let view = layout::SegmentView::parse(&v)
                    .map_err(|e| StoreError::Corrupt { detail: format!("segment at position {first}: {e}") })?;
                let end = first.saturating_add(view.entries.len() as u64);
                let last_hash = view.entries.last().map(|(_, h)| *h);
                if end != head.next_position || last_hash != Some(head.hash) {
                    return Err(StoreError::Corrupt {
                        detail: format!(
                            "the log ends at position {end} but the head record says {}; run verify",
                            head.next_position
                        ),
                    });
                }
                Ok(())
            }
        }
    }

    /// The next version of `stream` from committed data (0 if it has no events).
    pub(crate) fn stream_next_version_committed(&self, stream: &str) -> Result<u64, StoreError> {
        let prefix = layout::index_prefix(stream);
        match self.backend.last_at_or_before(&prefix, &layout::index_key(stream, u64::MAX))? {
            None => Ok(0),
            Some((k, v)) => {
                let (_, first) = layout::parse_index_key(&k).map_err(corrupt)?;
                let entry = IndexEntry::decode(&v).map_err(corrupt)?;
                Ok(first + entry.count as u64)
            }
        }
    }

    /// Where the event `id` is, among the events below `end` (the writer passes the applied end,
    /// readers the visible one).
    pub(crate) fn position_of_event_id(&self, id: &Uuid, end: u64) -> Result<Option<u64>, StoreError> {
        let Some(position) = self.ids.get(id.as_bytes()).map_err(id_index_error)? else {
            return Ok(None);
        };
        // The index is derived data: an answer counts only if the log agrees.
        if position >= end {
            return Ok(None);
        }
        let stored = self.event_at(position)?;
        if stored.event_id != *id {
            tracing::warn!(%id, position, "event-id index names an event with another id; ignored");
            return Ok(None);
        }
        Ok(Some(position))
    }

    /// Puts the ids of events `from..to` into the event-id index (at open: what its files do
    /// not cover yet).
    fn reindex_ids(&self, from: u64, to: u64) -> Result<(), StoreError> {
        let _span = (from < to).then(|| tracing::info_span!("reindex_event_ids", from, to).entered());
        let mut at = from;
        while at < to {
            let want = usize::try_from(to - at).unwrap_or(usize::MAX).min(8192);
            let page = self.read_all(at, Direction::Forward, want)?;
            let Some(last) = page.last() else { break };
            at = last.position + 1;
            self.ids.insert(page.iter().map(|e| (*e.event_id.as_bytes(), e.position)), at, last.hash);
        }
        Ok(())
    }

    /// Loads the segment whose key is `segment` and decodes the events of `stream` in it.
    fn load_stream_events(&self, segment: u64, stream: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let bytes = self.backend.get(&layout::segment_key(segment))?.ok_or_else(|| StoreError::Corrupt {
            detail: format!("index names segment {segment}, which is missing"),
        })?;
        let mut out = Vec::new();
        layout::decode_stream_events(&bytes, segment, stream, &mut layout::Interner::default(), &mut out)
            .map_err(|e| StoreError::Corrupt { detail: format!("segment at position {segment}: {e}") })?;
        Ok(out)
    }

    /// The event at `position` (committed, not necessarily visible yet: the writer's own reads).
    pub(crate) fn event_at(&self, position: u64) -> Result<RecordedEvent, StoreError> {
        event_at(self.backend.as_ref(), position)
    }

    pub(crate) fn read_all(
        &self,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let visible = self.visible_next();
        let mut out = Vec::new();
        if limit == 0 || visible == 0 {
            return Ok(out);
        }
        match direction {
            Direction::Forward => {
                if from >= visible {
                    return Ok(out);
                }
                let start =
                    match self.backend.last_at_or_before(&[layout::SEGMENT_PREFIX], &layout::segment_key(from))? {
                        Some((k, _)) => k,
                        None => layout::segment_key(0),
                    };
                let iter = self.backend.scan(
                    std::ops::Bound::Included(start),
                    std::ops::Bound::Excluded(layout::segment_key(visible)),
                    false,
                );
                // Sized once: growing a page of events by doubling copied each event several
                // times and faulted in fresh memory at every step (a fifth of a cold read).
                let want = limit.min(usize::try_from(visible - from).unwrap_or(usize::MAX));
                out.reserve_exact(want);
                let mut strings = layout::Interner::default();
                for item in iter {
                    let (k, v) = item?;
                    let first = layout::parse_segment_key(&k).map_err(corrupt)?;
                    // A segment holds consecutive positions from its key, so entries before
                    // `from` and past the page need not be decoded.
                    let skip = usize::try_from(from.saturating_sub(first)).unwrap_or(usize::MAX);
                    let at = out.len();
                    layout::decode_segment_into(&v, first, skip, want - at, &mut strings, &mut out)
                        .map_err(|e| StoreError::Corrupt { detail: format!("segment at position {first}: {e}") })?;
                    if let Some(end) = out[at..].iter().position(|ev| ev.position >= visible) {
                        out.truncate(at + end);
                        return Ok(out);
                    }
                    if out.len() >= want {
                        return Ok(out);
                    }
                }
            }
            Direction::Backward => {
                let from = from.min(visible - 1);
                let mut strings = layout::Interner::default();
                let iter = self.backend.scan(
                    std::ops::Bound::Included(vec![layout::SEGMENT_PREFIX]),
                    std::ops::Bound::Included(layout::segment_key(from)),
                    true,
                );
                for item in iter {
                    let (k, v) = item?;
                    let first = layout::parse_segment_key(&k).map_err(corrupt)?;
                    let mut events = Vec::new();
                    layout::decode_segment_into(&v, first, 0, usize::MAX, &mut strings, &mut events)
                        .map_err(|e| StoreError::Corrupt { detail: format!("segment at position {first}: {e}") })?;
                    for ev in events.into_iter().rev() {
                        if ev.position <= from {
                            out.push(ev);
                            if out.len() >= limit {
                                return Ok(out);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        validate_stream_id(stream).map_err(|reason| StoreError::InvalidStreamId { reason })?;
        let visible = self.visible_next();
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let prefix = layout::index_prefix(stream);
        let (lo, hi) = prefix_bounds(&prefix);
        let entries: crate::storage::ScanIter<'_> = match direction {
            Direction::Forward => {
                let start = match self.backend.last_at_or_before(&prefix, &layout::index_key(stream, from_version))? {
                    Some((k, _)) => std::ops::Bound::Included(k),
                    None => lo,
                };
                Box::new(self.backend.scan(start, hi, false))
            }
            Direction::Backward => Box::new(self.backend.scan(
                lo,
                std::ops::Bound::Included(layout::index_key(stream, from_version)),
                true,
            )),
        };
        for item in entries {
            let (_, v) = item?;
            let entry = IndexEntry::decode(&v).map_err(corrupt)?;
            if entry.segment >= visible {
                if direction == Direction::Forward {
                    break;
                }
                continue;
            }
            let events = self.load_stream_events(entry.segment, stream)?;
            if events.len() != entry.count as usize {
                return Err(StoreError::Corrupt {
                    detail: format!(
                        "the index names {} events of stream {stream} in the segment at position {}, which holds {}",
                        entry.count,
                        entry.segment,
                        events.len()
                    ),
                });
            }
            let mine = events.into_iter().filter(|e| e.position < visible);
            let mine: Vec<RecordedEvent> = match direction {
                Direction::Forward => mine.filter(|e| e.version >= from_version).collect(),
                Direction::Backward => {
                    let mut v: Vec<_> = mine.filter(|e| e.version <= from_version).collect();
                    v.reverse();
                    v
                }
            };
            for ev in mine {
                out.push(ev);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn list_streams(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let visible = self.visible_next();
        let mut out = Vec::new();
        let mut key_prefix = vec![layout::INDEX_PREFIX];
        key_prefix.extend_from_slice(prefix.as_bytes());
        // Start at the prefix, or just past every key of stream `after` (`I after 0x01`) if that
        // is later.
        let mut start = key_prefix.clone();
        if let Some(a) = after {
            let mut past = vec![layout::INDEX_PREFIX];
            past.extend_from_slice(a.as_bytes());
            past.push(1);
            start = start.max(past);
        }
        let (_, hi) = prefix_bounds(&key_prefix);
        while out.len() < limit {
            let next = self.backend.scan(std::ops::Bound::Included(start.clone()), hi.clone(), false).next();
            let Some(item) = next else { break };
            let (k, v) = item?;
            let (stream, _) = layout::parse_index_key(&k).map_err(corrupt)?;
            if !stream.starts_with(prefix) {
                break;
            }
            let entry = IndexEntry::decode(&v).map_err(corrupt)?;
            if entry.segment < visible {
                out.push(stream.to_string());
            }
            // Skip the rest of this stream's entries: the byte after its 0x00 separator.
            start = layout::index_prefix(stream);
            if let Some(last) = start.last_mut() {
                *last = 1;
            }
        }
        Ok(out)
    }

    pub(crate) fn position_as_of(&self, t: Timestamp) -> Result<u64, StoreError> {
        // Smallest position whose recorded-at is after t; recorded-at is monotonic.
        let (mut lo, mut hi) = (0u64, self.visible_next());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.event_at(mid)?.recorded_at <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}
