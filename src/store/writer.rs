//! The single writer: group commit.
//!
//! Callers send [`Request`]s over a crossbeam channel. The writer's state sits behind one lock,
//! so exactly one thread commits at a time: a caller that finds the lock free and the syncer
//! idle right after sending (it then **leads**: commits what is queued, its own request among
//! it, with no thread hand-over); the syncer, which **pulls** everything queued into one group
//! once it has answered a sync's callers (see [`SyncGate`]: while a sync is in progress, new
//! requests wait in the queue rather than being cut into many small groups); or the writer
//! thread, which waits for a request without taking it and commits when the syncer is idle, so
//! no request depends on a leader or a pull. The committing thread takes the first request
//! and everything else already queued (up to [`MAX_GROUP_EVENTS`]), and for each request, in
//! arrival order:
//! 1. validates it against the committed state plus the effects of requests accepted earlier in
//!    the same group (expected versions, event-id idempotency);
//! 2. encodes its records (sizes checked exactly) — a request that fails 1 or 2 is answered
//!    with its error and leaves no trace in the group;
//! 3. assigns gapless positions and versions and chains the hashes.
//!
//! The whole group then goes to the backend as one atomic batch (segments, index entries,
//! event ids, head) and is handed to the **syncer** thread; when the syncer is idle and nothing
//! is queued, the committing thread syncs the group itself. A group committed by a leader or the
//! writer thread is applied while the syncer syncs the one before (pipelining); a group the
//! syncer pulls is applied by the syncer between two syncs, which is what gathers the requests
//! of a whole sync into one group. The syncer takes every
//! group handed over, makes them durable with one `Backend::sync`, then, in order, makes each
//! visible to readers, publishes it to live subscribers and acknowledges its callers. Any storage
//! error in that sequence poisons the store: every caller not yet acknowledged gets the error,
//! and all later requests are refused until the store is reopened, since what reached the disk
//! is unknown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};
use uuid::Uuid;

use super::error::StoreError;
use super::layout::{self, RecordRef, SegmentBuilder, ENTRY_OVERHEAD, SEGMENT_TARGET_BYTES};
use super::options::Durability;
use super::replication::{self, CommitPlan, CommitProblem, IndexRuns, Replication, ReplicationError};
use super::reply::Answerer;
use super::shared::Shared;
use super::types::*;
use crate::storage::WriteBatch;

/// Most events one group commit takes, bounding the batch and its memory.
pub const MAX_GROUP_EVENTS: usize = 16_384;

/// The stream-version cache is dropped when it grows past this many streams.
const STREAM_CACHE_LIMIT: usize = 1_000_000;

pub(crate) enum Request {
    Append {
        appends: Vec<StreamAppend>,
        reply: Answerer<Result<AppendOutcome, StoreError>>,
    },
    /// A durability barrier (for the deferred mode): answered after a sync.
    Sync {
        reply: Answerer<Result<(), StoreError>>,
    },
    /// Cluster mode: the commit at `sequence` of the replicated log, to apply in order
    /// (answered once durable and visible, like a barrier).
    #[cfg_attr(not(feature = "cluster"), expect(dead_code, reason = "sent by the cluster follower only"))]
    Replicated {
        sequence: u64,
        commit: Vec<u8>,
        reply: Answerer<Result<(), StoreError>>,
    },
}

/// What the writer knows about the committed log.
pub(crate) struct WriterState {
    pub head: Head,
    /// Next version per stream (0 for a stream with no events), for streams seen recently.
    pub stream_next: HashMap<Arc<str>, u64>,
    /// Cluster mode: the sequence of the last commit of the replicated log applied here.
    pub applied_sequence: u64,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    state: WriterState,
    rx: Receiver<Request>,
    durability: Durability,
    max_event_bytes: usize,
    /// Cluster mode: where each group is published before it is applied.
    replication: Option<Arc<dyn Replication>>,
    /// To the syncer (durable mode only).
    syncer: Option<(Sender<SyncJob>, std::thread::JoinHandle<()>)>,
    /// Groups handed to the syncer and not yet answered, and whether the syncer is busy.
    gate: Arc<SyncGate>,
    unsynced: bool,
    last_sync: Instant,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("head", &self.state.head.next_position).finish_non_exhaustive()
    }
}

/// A group applied to the backend, waiting for the sync that makes it durable.
struct SyncJob {
    /// The head after this group (None when the group wrote nothing: only retries or barriers).
    head: Option<Head>,
    events: Arc<[RecordedEvent]>,
    accepted: Vec<Accepted>,
    sync_waiters: Vec<Answerer<Result<(), StoreError>>>,
}

/// An accepted request inside the group being built.
struct Accepted {
    reply: Answerer<Result<AppendOutcome, StoreError>>,
    outcome: AppendOutcome,
}

/// The group commit being assembled.
struct Group {
    recorded_at: Timestamp,
    next_position: u64,
    prev_hash: Hash,
    segments: Vec<SegmentBuilder>,
    index: IndexRuns,
    stream_next: HashMap<Arc<str>, u64>,
    /// Event ids written in this group -> index into `events`.
    ids: HashMap<Uuid, usize>,
    events: Vec<RecordedEvent>,
    accepted: Vec<Accepted>,
}

impl Writer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        state: WriterState,
        rx: Receiver<Request>,
        durability: Durability,
        max_event_bytes: usize,
        replication: Option<Arc<dyn Replication>>,
    ) -> Result<Self, std::io::Error> {
        let gate = Arc::new(SyncGate::default());
        let syncer = match durability {
            Durability::EveryCommit => {
                let (tx, jobs) = crossbeam_channel::unbounded();
                let shared = shared.clone();
                let gate = gate.clone();
                let handle = std::thread::Builder::new()
                    .name("anquan-syncer".into())
                    .spawn(move || run_syncer(&shared, &jobs, &gate))?;
                Some((tx, handle))
            }
            Durability::Deferred { .. } => None,
        };
        Ok(Self {
            shared,
            state,
            rx,
            durability,
            max_event_bytes,
            replication,
            syncer,
            gate,
            unsynced: false,
            last_sync: Instant::now(),
        })
    }

    /// Commits `first` and everything queued behind it (up to [`MAX_GROUP_EVENTS`]) as one group.
    fn process(&mut self, first: Request) {
        let _poison_on_panic = PoisonOnPanic(self.shared.clone());
        let mut requests = vec![first];
        let mut queued_events = event_count(&requests[0]);
        while queued_events < MAX_GROUP_EVENTS {
            match self.rx.try_recv() {
                Ok(r) => {
                    queued_events += event_count(&r);
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        match &self.replication {
            None => self.commit_group(requests),
            Some(r) => {
                let limit = r.max_commit_bytes();
                self.commit_replicated(requests, limit);
            }
        }
        self.sync_if_due();
    }

    /// Cluster mode: requests in arrival order, appends in groups that fit one commit message
    /// of at most `limit` bytes (a group too large for one is split into several commits, never
    /// one commit into several messages), other nodes' commits applied between them.
    fn commit_replicated(&mut self, requests: Vec<Request>, limit: usize) {
        let mut group = Vec::new();
        let mut bound = 0usize;
        for request in requests {
            match request {
                Request::Replicated { sequence, commit, reply } => {
                    // A commit applied here already (this node's own, coming back from the log)
                    // changes nothing, so the group being gathered is not cut for it.
                    if sequence > self.state.applied_sequence && !group.is_empty() {
                        self.commit_group(std::mem::take(&mut group));
                        bound = 0;
                    }
                    self.apply_replicated(sequence, &commit, reply);
                }
                Request::Append { appends, reply } => {
                    let size = replication::commit_bytes_bound(&appends);
                    if size > limit {
                        reply.send(Err(StoreError::Cluster {
                            detail: format!(
                                "the append may take up to {size} bytes in one commit, over the cluster's {limit}-byte message limit: send it in smaller appends"
                            ),
                            retryable: false,
                        }));
                        continue;
                    }
                    if bound + size > limit && !group.is_empty() {
                        self.commit_group(std::mem::take(&mut group));
                        bound = 0;
                    }
                    bound += size;
                    group.push(Request::Append { appends, reply });
                }
                sync @ Request::Sync { .. } => group.push(sync),
            }
        }
        if !group.is_empty() {
            self.commit_group(group);
        }
    }

    /// Applies the replicated log's commit at `sequence` if it is the next one, skipping one
    /// applied already (this node's own, or a repeat); poisons the store if it does not
    /// continue this replica (a gap, or other records at the same positions).
    fn apply_replicated(&mut self, sequence: u64, commit: &[u8], reply: Answerer<Result<(), StoreError>>) {
        if let Some(cause) = self.shared.poisoned() {
            reply.send(Err(StoreError::Poisoned { cause }));
            return;
        }
        let applied = self.state.applied_sequence;
        if sequence <= applied {
            reply.send(Ok(()));
            return;
        }
        let mismatch = |this: &mut Self, detail: String, reply: Answerer<Result<(), StoreError>>| {
            let detail = format!("commit {sequence} of the cluster's log: {detail}");
            this.poison(&format!("this replica disagrees with the cluster: {detail}"));
            reply.send(Err(StoreError::ReplicaMismatch { detail }));
        };
        if sequence != applied + 1 {
            mismatch(self, format!("this replica applied up to {applied}: commits in between are missing"), reply);
            return;
        }
        let shared = self.shared.clone();
        let cache = &self.state.stream_next;
        let plan = replication::plan_commit(&self.state.head, commit, |stream| match cache.get(stream) {
            Some(v) => Ok(*v),
            None => shared.stream_next_version_committed(stream).map_err(|e| e.to_string()),
        });
        let plan = match plan {
            Ok(plan) => plan,
            Err(CommitProblem::Mismatch(detail)) => return mismatch(self, detail, reply),
            Err(CommitProblem::NotACommit(detail)) => {
                // Not ours to apply, but its place in the log is taken: skip it for good.
                tracing::error!(sequence, %detail, "a message in the cluster's log is not a commit: skipped");
                let mut batch = WriteBatch::new();
                batch.put(layout::CLUSTER_SEQUENCE_KEY.to_vec(), sequence.to_le_bytes().to_vec());
                if let Err(e) = self.shared.backend.apply(batch) {
                    let cause = e.to_string();
                    self.poison(&cause);
                    reply.send(Err(StoreError::Poisoned { cause }));
                    return;
                }
                self.state.applied_sequence = sequence;
                self.finish_group(SyncJob {
                    head: None,
                    events: Arc::from(Vec::new()),
                    accepted: Vec::new(),
                    sync_waiters: vec![reply],
                });
                return;
            }
        };
        let CommitPlan { segments, index_runs, stream_next, events, head } = plan;
        self.apply_group(segments, &index_runs, stream_next, events, head, sequence, Vec::new(), vec![reply]);
    }

    /// Cluster mode: each group waits for JetStream's acknowledgement before it is applied.
    /// That wait, not the local sync, is what gathers a group, so commits do not wait for the
    /// syncer ([`SyncGate`]): the next group is published while the one before is synced.
    fn publishes(&self) -> bool {
        self.replication.is_some()
    }

    /// Deferred mode: syncs once `flush_interval` has passed since the last sync.
    fn sync_if_due(&mut self) {
        if let Durability::Deferred { flush_interval } = self.durability {
            if self.unsynced && self.last_sync.elapsed() >= flush_interval {
                let _ = self.sync();
            }
        }
    }

    /// A caller that found the writer free commits whatever is queued (its own request among
    /// it), group by group, instead of waking the writer thread and waiting for it: a lone
    /// caller then pays no thread hand-over at all. The writer thread still takes anything a
    /// leader leaves behind, so no request depends on a leader. While the syncer is busy, the
    /// caller leaves its request to the syncer's pull (see [`SyncGate`]); in cluster mode it
    /// leads one pass whatever the syncer does.
    pub(crate) fn lead(&mut self) {
        if self.publishes() {
            // One pass only: with the syncer not gating, the queue refills during every
            // acknowledgement wait, and a caller must not lead other callers' groups for ever.
            if let Ok(first) = self.rx.try_recv() {
                self.process(first);
            }
            return;
        }
        while !self.gate.busy() {
            let Ok(first) = self.rx.try_recv() else { break };
            self.process(first);
        }
    }
}

/// Poisons the store if dropped while its thread panics: a commit that panicked half-way left
/// the writer's view of the log unknown, whichever thread ran it (a caller leading it, or the
/// writer thread).
struct PoisonOnPanic(Arc<Shared>);

impl Drop for PoisonOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.set_poisoned("a commit panicked; reopen the store");
        }
    }
}

/// The writer thread: waits for a request without taking it or holding the writer, then, once
/// the syncer is idle, commits what is queued under the writer's lock (callers may lead, and
/// the syncer pull, commits in between: see [`Writer::lead`], [`SyncGate`]). Ends when the
/// store drops its sender, after a last sync.
pub(crate) fn run(cell: Arc<Mutex<Writer>>, rx: Receiver<Request>, durability: Durability) {
    let (gate, publishes) = match cell.lock() {
        Ok(w) => (w.gate.clone(), w.publishes()),
        Err(e) => {
            let w = e.into_inner();
            (w.gate.clone(), w.publishes())
        }
    };
    loop {
        // Wait for a request without taking it: the syncer's pull may commit it first.
        let mut select = Select::new();
        select.recv(&rx);
        let ready = match durability {
            // Wake at least every interval: a caller may have led a commit that is not synced.
            Durability::Deferred { flush_interval } => select.ready_timeout(flush_interval).is_ok(),
            Durability::EveryCommit => {
                select.ready();
                true
            }
        };
        if ready && !publishes {
            gate.wait_until_idle();
        }
        let mut writer = match cell.lock() {
            Ok(w) => w,
            Err(_) => {
                // A commit a caller led panicked half-way (and poisoned the store as it unwound):
                // what the writer knows can no longer be trusted.
                match rx.try_recv() {
                    Ok(r) => refuse(r, "the writer failed; reopen the store"),
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {}
                }
                continue;
            }
        };
        let first = match rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => break,
        };
        // A panic in a commit poisons the store (`PoisonOnPanic`); the thread lives on to refuse
        // what is queued and what comes later, so no caller waits for an answer that never comes.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match first {
            Some(r) => writer.process(r),
            None => writer.sync_if_due(),
        }));
    }
    // Channel closed: the store is being dropped. Leave nothing acknowledged unsynced.
    if let Ok(mut writer) = cell.lock() {
        if writer.unsynced {
            let _ = writer.sync();
        }
        if let Some((tx, handle)) = writer.syncer.take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

/// Answers a request that will not be processed.
fn refuse(request: Request, cause: &str) {
    match request {
        Request::Append { reply, .. } => {
            reply.send(Err(StoreError::Poisoned { cause: cause.to_string() }));
        }
        Request::Sync { reply } | Request::Replicated { reply, .. } => {
            reply.send(Err(StoreError::Poisoned { cause: cause.to_string() }));
        }
    }
}

impl Writer {
    /// Deferred mode's inline sync.
    fn sync(&mut self) -> Result<(), StoreError> {
        if let Some(cause) = self.shared.poisoned() {
            return Err(StoreError::Poisoned { cause });
        }
        match self.shared.timed_sync() {
            Ok(()) => {
                self.unsynced = false;
                self.last_sync = Instant::now();
                Ok(())
            }
            Err(e) => {
                let cause = e.to_string();
                self.poison(&cause);
                Err(StoreError::Poisoned { cause })
            }
        }
    }

    /// Durable mode: a group goes to the syncer, or, when the syncer is idle and no request is
    /// waiting, is synced right here: with nothing to overlap, the hand-over would only add a
    /// thread wake-up to the caller's wait. Order is kept either way (inline only with nothing
    /// in flight).
    fn hand_over(&mut self, job: SyncJob) {
        let Some((tx, _)) = &self.syncer else { return };
        if self.gate.in_flight.load(Ordering::Acquire) == 0 && self.rx.is_empty() {
            sync_jobs(&self.shared, vec![job]);
            return;
        }
        self.gate.in_flight.fetch_add(1, Ordering::AcqRel);
        if let Err(crossbeam_channel::SendError(job)) = tx.send(job) {
            self.gate.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.poison("the syncer stopped");
            fail_job(job, "the syncer stopped");
        }
    }

    fn poison(&mut self, cause: &str) {
        self.shared.set_poisoned(cause);
    }

    fn commit_group(&mut self, requests: Vec<Request>) {
        let mut group = Group {
            recorded_at: Timestamp(self.shared.clock.now().0.max(self.state.head.last_recorded_at.0)),
            next_position: self.state.head.next_position,
            prev_hash: self.state.head.hash,
            segments: Vec::new(),
            index: IndexRuns::default(),
            stream_next: HashMap::new(),
            ids: HashMap::new(),
            events: Vec::new(),
            accepted: Vec::new(),
        };
        let mut sync_waiters = Vec::new();
        let n_requests = requests.len();
        self.shared.stats.requests.fetch_add(n_requests as u64, Ordering::Relaxed);
        for request in requests {
            match request {
                Request::Sync { reply } => sync_waiters.push(reply),
                Request::Replicated { sequence, reply, .. } => {
                    // Never queued in a group: `commit_replicated` applies them in between.
                    reply.send(Err(StoreError::Poisoned {
                        cause: format!("commit {sequence} of the cluster's log reached a store not in cluster mode"),
                    }));
                }
                Request::Append { appends, reply } => {
                    if let Some(cause) = self.shared.poisoned() {
                        reply.send(Err(StoreError::Poisoned { cause }));
                        continue;
                    }
                    if self.replication.is_none() && self.state.applied_sequence > 0 {
                        // A local write would fork this replica from the cluster's log.
                        reply.send(Err(StoreError::Cluster {
                            detail: "this folder is a replica of a cluster's log: append in cluster mode (--cluster), reads work as they are".into(),
                            retryable: false,
                        }));
                        continue;
                    }
                    match self.stage(&mut group, appends) {
                        Ok(outcome) => group.accepted.push(Accepted { reply, outcome }),
                        Err(e) => {
                            reply.send(Err(e));
                        }
                    }
                }
            }
        }

        if group.events.is_empty() {
            // Only idempotent retries and barriers. In durable mode they queue behind the groups
            // being synced (a retry of an event still in flight is answered after its sync).
            self.finish_group(SyncJob {
                head: None,
                events: Arc::from(Vec::new()),
                accepted: group.accepted,
                sync_waiters,
            });
            return;
        }

        let first_position = self.state.head.next_position;
        let last_position = group.next_position - 1;
        let span = tracing::info_span!(
            "commit",
            requests = n_requests,
            events = group.events.len(),
            first_position,
            last_position
        );
        let _enter = span.enter();

        let new_head =
            Head { next_position: group.next_position, hash: group.prev_hash, last_recorded_at: group.recorded_at };
        let segments: Vec<(u64, Vec<u8>)> = group.segments.into_iter().map(SegmentBuilder::finish).collect();
        let mut sequence = self.state.applied_sequence;
        if let Some(replication) = &self.replication {
            // Published before anything is written here: a refused group leaves no trace.
            let commit = replication::encode_commit(&segments);
            let published = if commit.len() > replication.max_commit_bytes() {
                Err((
                    format!(
                        "the group's commit takes {} bytes, over the cluster's {}-byte message limit",
                        commit.len(),
                        replication.max_commit_bytes()
                    ),
                    false,
                ))
            } else {
                let id = replication::commit_id(first_position, &new_head.hash);
                replication.publish_commit(commit, sequence, &id).map_err(|e| match e {
                    ReplicationError::Stale { .. } => (e.to_string(), true),
                    ReplicationError::Failed { retryable, .. } => (e.to_string(), retryable),
                })
            };
            match published {
                Ok(s) => {
                    sequence = s;
                    self.shared.stats.published.fetch_add(1, Ordering::Relaxed);
                    self.shared.stats.published_events.fetch_add(group.events.len() as u64, Ordering::Relaxed);
                }
                Err((detail, retryable)) => {
                    for a in group.accepted {
                        a.reply.send(Err(StoreError::Cluster { detail: detail.clone(), retryable }));
                    }
                    self.finish_group(SyncJob {
                        head: None,
                        events: Arc::from(Vec::new()),
                        accepted: Vec::new(),
                        sync_waiters,
                    });
                    return;
                }
            }
        }
        self.apply_group(
            segments,
            &group.index.runs,
            group.stream_next,
            group.events,
            new_head,
            sequence,
            group.accepted,
            sync_waiters,
        );
    }

    /// Writes a group (this node's or a replicated commit) as one atomic batch, then hands it
    /// over to be made durable, visible and answered.
    #[allow(clippy::too_many_arguments)]
    fn apply_group(
        &mut self,
        segments: Vec<(u64, Vec<u8>)>,
        index_runs: &[(Arc<str>, u64, layout::IndexEntry)],
        stream_next: HashMap<Arc<str>, u64>,
        events: Vec<RecordedEvent>,
        new_head: Head,
        sequence: u64,
        accepted: Vec<Accepted>,
        sync_waiters: Vec<Answerer<Result<(), StoreError>>>,
    ) {
        let mut batch = WriteBatch::new();
        for (first, bytes) in segments {
            batch.put(layout::segment_key(first), bytes);
        }
        for (stream, first_version, entry) in index_runs {
            batch.put(layout::index_key(stream, *first_version), entry.encode());
        }
        batch.put(layout::HEAD_KEY.to_vec(), layout::encode_head(&new_head));
        if sequence != self.state.applied_sequence {
            batch.put(layout::CLUSTER_SEQUENCE_KEY.to_vec(), sequence.to_le_bytes().to_vec());
        }

        let stats = &self.shared.stats;
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
        if let Err(e) = self.shared.backend.apply(batch) {
            let cause = e.to_string();
            self.poison(&cause);
            fail_job(SyncJob { head: None, events: Arc::from(Vec::new()), accepted, sync_waiters }, &cause);
            return;
        }
        // Applied: later groups are decided against it, though readers see it only once durable.
        let ids_of = events.iter().map(|e| (*e.event_id.as_bytes(), e.position));
        self.shared.ids.insert(ids_of, new_head.next_position, new_head.hash);
        self.state.head = new_head;
        self.state.applied_sequence = sequence;
        if self.state.stream_next.len() + stream_next.len() > STREAM_CACHE_LIMIT {
            self.state.stream_next.clear();
        }
        self.state.stream_next.extend(stream_next);
        self.finish_group(SyncJob { head: Some(new_head), events: events.into(), accepted, sync_waiters });
    }

    /// Hands an applied group to the syncer (durable mode), or publishes and answers it
    /// (deferred mode: acknowledged once applied; synced on the interval).
    fn finish_group(&mut self, job: SyncJob) {
        if self.syncer.is_some() {
            self.hand_over(job);
            return;
        }
        if let Some(head) = job.head {
            self.unsynced = true;
            self.shared.publish(head, job.events);
        }
        let synced = if job.sync_waiters.is_empty() { Ok(()) } else { self.sync().map_err(|e| e.to_string()) };
        finish(job.accepted, job.sync_waiters, Ok(()), synced);
    }

    /// The stream's next version as seen by this group.
    fn next_version(&mut self, group: &Group, stream: &str) -> Result<u64, StoreError> {
        if let Some(v) = group.stream_next.get(stream) {
            return Ok(*v);
        }
        if let Some(v) = self.state.stream_next.get(stream) {
            return Ok(*v);
        }
        let v = self.shared.stream_next_version_committed(stream)?;
        self.state.stream_next.insert(Arc::from(stream), v);
        Ok(v)
    }

    /// Validates and stages one request into the group. On error the group is unchanged.
    fn stage(&mut self, group: &mut Group, appends: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError> {
        // 1. Idempotency: are these ids known?
        let mut known: Vec<Option<u64>> = Vec::new();
        for a in &appends {
            for e in &a.events {
                let pos = match group.ids.get(&e.event_id) {
                    Some(i) => Some(group.events[*i].position),
                    None => self.shared.position_of_event_id(&e.event_id, self.state.head.next_position)?,
                };
                known.push(pos);
            }
        }
        let n_known = known.iter().filter(|p| p.is_some()).count();
        if n_known > 0 {
            return self.check_retry(group, &appends, &known);
        }

        // 2. Expected versions.
        let mut firsts = Vec::with_capacity(appends.len());
        for a in &appends {
            let next = self.next_version(group, &a.stream)?;
            let actual = next.checked_sub(1);
            let ok = match a.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => actual.is_none(),
                ExpectedVersion::StreamExists => actual.is_some(),
                ExpectedVersion::Exact(n) => actual == Some(n),
            };
            if !ok {
                return Err(StoreError::WrongExpectedVersion {
                    stream: a.stream.clone(),
                    expected: a.expected,
                    actual,
                });
            }
            firsts.push(next);
        }

        // 3. Encode every record (exact size check) before touching the group.
        let mut position = group.next_position;
        let mut records: Vec<Vec<u8>> = Vec::new();
        for (a, first_version) in appends.iter().zip(&firsts) {
            for (i, e) in a.events.iter().enumerate() {
                let record = layout::encode_record(&RecordRef {
                    position,
                    stream: &a.stream,
                    version: first_version + i as u64,
                    event_type: &e.event_type,
                    schema_version: e.schema_version,
                    event_id: *e.event_id.as_bytes(),
                    occurred_at: e.occurred_at.0,
                    recorded_at: group.recorded_at.0,
                    actor: &e.actor,
                    correlation_id: e.correlation_id.map(|u| *u.as_bytes()),
                    causation_id: e.causation_id.map(|u| *u.as_bytes()),
                    payload: &e.payload,
                })
                .map_err(|err| StoreError::InvalidEvent {
                    stream: a.stream.clone(),
                    index: i,
                    reason: err.to_string(),
                })?;
                if record.len() > self.max_event_bytes {
                    return Err(StoreError::EventTooLarge {
                        stream: a.stream.clone(),
                        index: i,
                        size: record.len(),
                        limit: self.max_event_bytes,
                    });
                }
                records.push(record);
                position += 1;
            }
        }

        // 4. Commit into the group (infallible from here).
        let mut outcome = AppendOutcome { positions: Vec::new(), streams: Vec::new(), already_committed: false };
        let mut records = records.into_iter();
        for (a, first_version) in appends.into_iter().zip(firsts) {
            let stream: Arc<str> = Arc::from(a.stream.as_str());
            let first_position = group.next_position;
            let n = a.events.len() as u64;
            for (i, (e, record)) in a.events.into_iter().zip(records.by_ref()).enumerate() {
                let version = first_version + i as u64;
                let position = group.next_position;
                let hash = layout::chain_hash(&group.prev_hash, &record);
                let need_new = match group.segments.last() {
                    None => true,
                    Some(s) => s.count() > 0 && s.len_bytes() + record.len() + ENTRY_OVERHEAD > SEGMENT_TARGET_BYTES,
                };
                if need_new {
                    group.segments.push(SegmentBuilder::new(position, &group.prev_hash));
                }
                // The vector is non-empty: a segment was pushed above if there was none.
                if let Some(seg) = group.segments.last_mut() {
                    seg.push(&record, &hash);
                }
                let segment = group.segments.last().map(|s| s.first_position).unwrap_or(position);
                group.index.add(&stream, version, segment);
                group.ids.insert(e.event_id, group.events.len());
                group.events.push(RecordedEvent {
                    position,
                    stream: stream.clone(),
                    version,
                    event_type: Arc::from(e.event_type),
                    schema_version: e.schema_version,
                    event_id: e.event_id,
                    occurred_at: e.occurred_at,
                    recorded_at: group.recorded_at,
                    actor: Arc::from(e.actor),
                    correlation_id: e.correlation_id,
                    causation_id: e.causation_id,
                    payload: e.payload,
                    prev_hash: group.prev_hash,
                    hash,
                });
                group.prev_hash = hash;
                group.next_position += 1;
                outcome.positions.push(position);
            }
            group.stream_next.insert(stream.clone(), first_version + n);
            outcome.streams.push(StreamWritten {
                stream: a.stream,
                first_version,
                last_version: first_version + n - 1,
                first_position,
                last_position: group.next_position - 1,
            });
        }
        Ok(outcome)
    }

    /// Some ids of the request are already stored: it must be an exact retry of one earlier
    /// append at the same place, else it is refused.
    fn check_retry(
        &mut self,
        group: &Group,
        appends: &[StreamAppend],
        known: &[Option<u64>],
    ) -> Result<AppendOutcome, StoreError> {
        let mut outcome = AppendOutcome { positions: Vec::new(), streams: Vec::new(), already_committed: true };
        let mut k = known.iter();
        for a in appends {
            let mut versions = Vec::with_capacity(a.events.len());
            for (i, e) in a.events.iter().enumerate() {
                let Some(Some(position)) = k.next().copied() else {
                    return Err(StoreError::IdempotencyMismatch {
                        reason: format!(
                            "event {} of stream {} ({}) is new while others of the same append are already stored",
                            i, a.stream, e.event_id
                        ),
                    });
                };
                let stored = match group.ids.get(&e.event_id) {
                    Some(idx) => group.events[*idx].clone(),
                    None => self.shared.event_at(position)?,
                };
                if !stored.same_content_as(e) {
                    return Err(StoreError::EventIdConflict { event_id: e.event_id, position });
                }
                if *stored.stream != *a.stream {
                    return Err(StoreError::IdempotencyMismatch {
                        reason: format!("event {} is stored in stream {}, not {}", e.event_id, stored.stream, a.stream),
                    });
                }
                if let Some(prev) = versions.last() {
                    if stored.version != prev + 1 {
                        return Err(StoreError::IdempotencyMismatch {
                            reason: format!(
                                "events of stream {} were stored at versions that are not consecutive in this order",
                                a.stream
                            ),
                        });
                    }
                }
                versions.push(stored.version);
                outcome.positions.push(position);
            }
            let (Some(first), Some(last)) = (versions.first().copied(), versions.last().copied()) else {
                return Err(StoreError::EmptyStreamAppend { stream: a.stream.clone() });
            };
            let same_place = match a.expected {
                ExpectedVersion::Any | ExpectedVersion::StreamExists => true,
                ExpectedVersion::NoStream => first == 0,
                ExpectedVersion::Exact(n) => n.checked_add(1) == Some(first),
            };
            if !same_place {
                return Err(StoreError::IdempotencyMismatch {
                    reason: format!("stream {} holds these events from version {first}, which expected version {:?} does not describe", a.stream, a.expected),
                });
            }
            let first_position = outcome.positions[outcome.positions.len() - versions.len()];
            outcome.streams.push(StreamWritten {
                stream: a.stream.clone(),
                first_version: first,
                last_version: last,
                first_position,
                last_position: outcome.positions.last().copied().unwrap_or(first_position),
            });
        }
        Ok(outcome)
    }
}

/// The syncer: one `Backend::sync` for every group queued, then visibility, publication and
/// acknowledgement in commit order, then its pull of what queued up meanwhile ([`SyncGate`]).
fn run_syncer(shared: &Shared, jobs: &Receiver<SyncJob>, gate: &SyncGate) {
    // If this thread ever dies (a bug), the gate must not stay busy: callers would stop leading
    // and wait for a pull that never comes.
    let _idle_on_exit = IdleOnExit(gate);
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while let Ok(j) = jobs.try_recv() {
            batch.push(j);
        }
        let n = batch.len();
        gate.set_cycling(true);
        let started = Instant::now();
        sync_jobs(shared, batch);
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        gate.last_sync_micros.store(took, Ordering::Relaxed);
        gate.in_flight.fetch_sub(n, Ordering::AcqRel);
        gate.pull();
        gate.set_cycling(false);
    }
}

/// One `Backend::sync` for `batch`, then, in order, visibility, publication and answers.
fn sync_jobs(shared: &Shared, batch: Vec<SyncJob>) {
    let result = match shared.poisoned() {
        Some(cause) => Err(cause),
        None => {
            let _span = tracing::debug_span!("sync", groups = batch.len()).entered();
            shared.timed_sync().map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => {
            for job in batch {
                if let Some(head) = job.head {
                    shared.publish(head, job.events);
                }
                finish(job.accepted, job.sync_waiters, Ok(()), Ok(()));
            }
        }
        Err(cause) => {
            shared.set_poisoned(&cause);
            for job in batch {
                fail_job(job, &cause);
            }
        }
    }
}

/// Commit gating. While the syncer is busy (a group in its queue, or a sync and its answers in
/// progress), requests that arrive cannot be durable before its next sync, so committing each
/// at once only cuts that sync's work into many small groups (a segment, index entries, a
/// journal record and a wake-up each). Instead they wait in the queue: callers do not lead,
/// and the syncer, once it has answered a sync's callers, commits what is queued as one group
/// (up to [`MAX_GROUP_EVENTS`]; its `pull`) and syncs it next. The writer thread commits only when the syncer is
/// idle (or after [`SyncGate::patience`], a safety net). In cluster mode commits do not wait
/// for the syncer: the acknowledgement a group waits for gathers the next one already
/// ([`Writer::publishes`]).
#[derive(Default)]
pub(crate) struct SyncGate {
    /// Groups handed to the syncer and not yet answered.
    in_flight: AtomicUsize,
    /// How long the last sync took, in µs (the writer thread's patience scales with it).
    last_sync_micros: AtomicU64,
    /// The syncer is between taking a batch and finishing its answers and its pull.
    cycling: AtomicBool,
    lock: Mutex<()>,
    idle: Condvar,
    /// The writer, for the syncer's pull (weak: the writer owns the gate).
    cell: OnceLock<Weak<Mutex<Writer>>>,
}

/// Least the writer thread waits for a busy syncer before committing anyway…
const GATE_WAIT_MIN: Duration = Duration::from_millis(20);
/// …and most, however slow the disk's syncs.
const GATE_WAIT_MAX: Duration = Duration::from_secs(1);

impl SyncGate {
    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0 || self.cycling.load(Ordering::Acquire)
    }

    fn set_cycling(&self, cycling: bool) {
        self.cycling.store(cycling, Ordering::Release);
        if !cycling {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.idle.notify_all();
        }
    }

    /// How long the writer thread waits for a busy syncer: two of its last syncs, within
    /// [`GATE_WAIT_MIN`]..=[`GATE_WAIT_MAX`], so that on a slow disk (tens of ms per sync) the
    /// gate still holds requests until the sync in progress ends.
    fn patience(&self) -> Duration {
        let last = Duration::from_micros(self.last_sync_micros.load(Ordering::Relaxed));
        last.saturating_mul(2).clamp(GATE_WAIT_MIN, GATE_WAIT_MAX)
    }

    /// Waits (at most [`Self::patience`]) until the syncer is idle.
    fn wait_until_idle(&self) {
        if !self.busy() {
            return;
        }
        let deadline = Instant::now() + self.patience();
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.busy() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { return };
            guard = match self.idle.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// The syncer's pull: commits what is queued as one group, if the writer is free.
    fn pull(&self) {
        let Some(cell) = self.cell.get().and_then(Weak::upgrade) else { return };
        let Ok(mut writer) = cell.try_lock() else { return };
        if let Ok(first) = writer.rx.try_recv() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| writer.process(first)));
        }
    }
}

/// Clears the syncer's busy flag when the syncer's loop ends, however it ends.
struct IdleOnExit<'a>(&'a SyncGate);

impl Drop for IdleOnExit<'_> {
    fn drop(&mut self) {
        self.0.set_cycling(false);
    }
}

/// Lets the syncer reach the writer it serves (see [`SyncGate::pull`]).
pub(crate) fn attach(cell: &Arc<Mutex<Writer>>) {
    if let Ok(writer) = cell.lock() {
        let _ = writer.gate.cell.set(Arc::downgrade(cell));
    }
}

/// Answers every caller of a group that will never be durable.
fn fail_job(job: SyncJob, cause: &str) {
    finish(job.accepted, job.sync_waiters, Err(cause.to_string()), Err(cause.to_string()));
}

fn event_count(r: &Request) -> usize {
    match r {
        Request::Append { appends, .. } => appends.iter().map(|a| a.events.len()).sum(),
        Request::Sync { .. } => 0,
        // A commit message holds about a segment's worth of events: bounds how many commits
        // one pass takes.
        Request::Replicated { .. } => 1_024,
    }
}

/// Answers the group's callers: appends with `appended`, durability barriers with `synced`.
fn finish(
    accepted: Vec<Accepted>,
    sync_waiters: Vec<Answerer<Result<(), StoreError>>>,
    appended: Result<(), String>,
    synced: Result<(), String>,
) {
    for a in accepted {
        a.reply.send(match &appended {
            Ok(()) => Ok(a.outcome),
            Err(cause) => Err(StoreError::Poisoned { cause: cause.clone() }),
        });
    }
    for w in sync_waiters {
        w.send(synced.clone().map_err(|cause| StoreError::Poisoned { cause }));
    }
}

/// How long callers wait for the writer at most before reporting it gone (a stuck disk).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(600);
