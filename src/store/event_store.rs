//! [`EventStore`], the store's handle: open (layout check, tail check, event-id index), append
//! (validated here, committed by the writer), flush, close, reads, subscriptions, verify.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::error::StoreError;
use super::id_index::IdIndex;
use super::layout;
use super::options::{StoreOptions, StoreStats};
use super::replication::Replication;
use super::reply;
use super::shared::{corrupt, event_at, id_index_error, Shared, StatsCounters};
use super::subscription::Subscription;
use super::types::*;
use super::validate::validate_request;
use super::verify::{self, VerifyReport};
use super::writer::{self, Request, Writer, WriterState};
use crate::storage::{Backend, SledBackend, StorageError};

/// An open event store. Cheap to share by reference across threads (`append` takes `&self`).
/// Dropping it stops the writer after it has answered every queued request.
#[derive(Debug)]
pub struct EventStore {
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's state: the writer thread or a caller that finds it free commits groups.
    cell: Arc<Mutex<Writer>>,
    /// Cluster mode: this node's follower, lease and forwarding.
    #[cfg(feature = "cluster")]
    replica: Option<super::replica::Replica>,
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
        // Cluster mode connects before the folder is touched: an unreachable cluster writes nothing.
        #[cfg(feature = "cluster")]
        let cluster = match &options.cluster {
            Some(c) => Some(Arc::new(
                super::Cluster::connect(c.clone())
                    .map_err(|e| StoreError::Cluster { retryable: e.is_retryable(), detail: e.to_string() })?,
            )),
            None => None,
        };
        let backend = SledBackend::open(dir, &options.sled_options())?;
        let mut options = options;
        if options.id_index_dir.is_none() {
            options.id_index_dir = Some(dir.join(ID_INDEX_FOLDER));
        }
        #[cfg(feature = "cluster")]
        if let Some(cluster) = cluster {
            let replication = Arc::new(super::replica::ClusterReplication { cluster: cluster.clone() });
            let (mut store, applied) = Self::open_inner(Arc::new(backend), options, Some(replication))?;
            let writer = store.tx.clone().ok_or(StoreError::Closed)?;
            store.replica = Some(super::replica::Replica::start(cluster, store.shared.clone(), writer, applied)?);
            return Ok(store);
        }
        Self::open_with(Arc::new(backend), options)
    }

    /// Opens a store on any backend, with its event-id index in `options.id_index_dir` (which
    /// must be given). A sled backend for it is opened with [`StoreOptions::sled_options`], which
    /// keeps segments in the value file.
    pub fn open_with(backend: Arc<dyn Backend>, options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_inner(backend, options, None).map(|(store, _)| store)
    }

    /// Opens a store whose writer publishes each group to `replication` first (cluster mode),
    /// with the sequence of the last replicated commit the folder holds.
    fn open_inner(
        backend: Arc<dyn Backend>,
        options: StoreOptions,
        replication: Option<Arc<dyn Replication>>,
    ) -> Result<(Self, u64), StoreError> {
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
        let applied_sequence = match backend.get(layout::CLUSTER_SEQUENCE_KEY)? {
            None => 0,
            Some(bytes) => u64::from_le_bytes(bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                detail: format!("the cluster sequence record holds {} bytes, not 8", bytes.len()),
            })?),
        };
        if replication.is_some() && applied_sequence == 0 && head.next_position > 0 {
            return Err(StoreError::Cluster {
                detail: format!(
                    "the folder holds {} events that did not come from the cluster: give cluster mode an empty folder (move the data in with `anquan export`, then `anquan import` on a cluster node)",
                    head.next_position
                ),
                retryable: false,
            });
        }
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
        let state = WriterState { head, stream_next: Default::default(), applied_sequence };
        let durability = options.durability;
        let max_event_bytes = options.max_event_bytes.min(MAX_EVENT_BYTES);
        let writer = Writer::new(shared.clone(), state, rx.clone(), durability, max_event_bytes, replication)
            .map_err(StorageError::from)?;
        let cell = Arc::new(Mutex::new(writer));
        writer::attach(&cell);
        let for_thread = cell.clone();
        let handle = std::thread::Builder::new()
            .name("anquan-writer".into())
            .spawn(move || writer::run(for_thread, rx, durability))
            .map_err(StorageError::from)?;
        tracing::info!(next_position = head.next_position, head = %head.hash_hex(), "event store opened");
        let store = Self {
            shared,
            tx: Some(tx),
            writer: Some(handle),
            cell,
            #[cfg(feature = "cluster")]
            replica: None,
        };
        Ok((store, applied_sequence))
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
        #[cfg(feature = "cluster")]
        if let Some(replica) = &self.replica {
            return replica.append(appends, |a| self.append_local(a));
        }
        self.append_local(appends)
    }

    /// Commits through this process's writer.
    fn append_local(&self, appends: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError> {
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
        // The replica holds a sender to the writer: it stops first.
        #[cfg(feature = "cluster")]
        if let Some(mut replica) = self.replica.take() {
            replica.stop();
        }
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

    /// Cluster mode: whether this node holds the lease (its writer commits for every node).
    #[cfg(feature = "cluster")]
    pub fn is_cluster_leader(&self) -> bool {
        self.replica.as_ref().is_some_and(|r| r.is_leader())
    }

    /// Cluster mode: the node holding the lease, as this node last saw it.
    #[cfg(feature = "cluster")]
    pub fn cluster_leader(&self) -> Option<String> {
        self.replica.as_ref().and_then(|r| r.leader())
    }

    /// Cluster mode: this node's name.
    #[cfg(feature = "cluster")]
    pub fn cluster_node(&self) -> Option<String> {
        self.replica.as_ref().map(|r| r.node().to_string())
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
            published: c.published.load(Ordering::Relaxed),
            published_events: c.published_events.load(Ordering::Relaxed),
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
