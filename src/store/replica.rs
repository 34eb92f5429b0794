//! Cluster mode's node side (feature `cluster`): keeps this store's folder a replica of the
//! tenant's JetStream log and routes appends to the one node whose writer commits.
//!
//! - **Follower**: an ordered consumer delivers every commit of the log, in order, to this
//!   node's writer ([`Request::Replicated`]), which applies the ones it has not applied yet. At
//!   open it catches up to the log's last sequence before the store is handed out.
//! - **Lease**: one expiring message naming a node (`storage::cluster`), written by the first
//!   node to find none and rewritten (compare and swap on its sequence) by its holder every
//!   third of its time to live; its holder is the leader.
//! - **Appends**: the leader's go to its writer, which publishes each group (fenced by the
//!   last sequence it applied) before applying it; any other node forwards the append to the
//!   leader's subject and answers its caller once its own replica shows the positions
//!   (read-your-writes). Errors that may pass (an election, a lagging replica, a dead leader)
//!   are retried with backoff until `append_deadline`; retries are idempotent by event ids.
//!
//! The lease gives liveness only: two nodes that both believe they lead cannot both commit,
//! since the stream accepts one commit after each sequence.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::replication::{Replication, ReplicationError};
use super::reply;
use super::shared::Shared;
use super::types::{AppendOutcome, ExpectedVersion, StreamAppend};
use super::writer::{Request, REPLY_TIMEOUT};
use crate::storage::cluster::{Cluster, ClusterError, ClusterOptions, LogMessage};

/// Room left in a message for its headers (message id, expected sequence).
const HEADER_ROOM: usize = 1_024;
/// Commits handed to the writer and not yet answered, at most.
const FOLLOW_WINDOW: usize = 64;

fn cluster_error(e: ClusterError) -> StoreError {
    let retryable = e.is_retryable();
    StoreError::Cluster { detail: e.to_string(), retryable }
}

/// The writer's way to the cluster: publish, and find out after an ack timeout.
#[derive(Debug)]
pub(crate) struct ClusterReplication {
    pub cluster: Arc<Cluster>,
}

impl Replication for ClusterReplication {
    fn max_commit_bytes(&self) -> usize {
        self.cluster.max_payload().saturating_sub(HEADER_ROOM)
    }

    fn publish_commit(&self, commit: Vec<u8>, expected_last: u64, commit_id: &str) -> Result<u64, ReplicationError> {
        match self.cluster.publish(commit, expected_last, commit_id) {
            // The fence admits nothing else; a server that says otherwise is not trusted.
            Ok(sequence) if sequence == expected_last + 1 => Ok(sequence),
            Ok(sequence) => Err(ReplicationError::Failed {
                detail: format!("the commit was stored at sequence {sequence}, not right after {expected_last}"),
                retryable: false,
            }),
            Err(ClusterError::Stale { detail }) => Err(ReplicationError::Stale { detail }),
            Err(ClusterError::Unknown { timeout }) => {
                // It may have landed: the fence allows it only right after `expected_last`.
                match self.cluster.message(expected_last + 1) {
                    Ok(Some(m)) if m.msg_id.as_deref() == Some(commit_id) => Ok(expected_last + 1),
                    Ok(Some(_)) => Err(ReplicationError::Stale {
                        detail: format!("another commit took sequence {}", expected_last + 1),
                    }),
                    Ok(None) => Err(ReplicationError::Failed {
                        detail: format!("no acknowledgement within {timeout:?} and the commit is not in the log"),
                        retryable: true,
                    }),
                    Err(e) => Err(ReplicationError::Failed {
                        detail: format!("no acknowledgement within {timeout:?}, and the log cannot be read: {e}"),
                        retryable: true,
                    }),
                }
            }
            Err(e) => Err(ReplicationError::Failed { retryable: e.is_retryable(), detail: e.to_string() }),
        }
    }
}

/// A forwarded append's answer, as it travels back from the leader: every refusal of the
/// leader's writer keeps its kind, so a caller on any node gets the error the leader would give
/// (the forwarding node checks the rest before forwarding; the encoded size of an event is known
/// only to the writer, which stamps its position and recorded-at). New variants go at the end:
/// the index is the wire form.
#[derive(Debug, Serialize, Deserialize)]
enum ForwardError {
    WrongExpectedVersion { stream: String, expected: ExpectedVersion, actual: Option<u64> },
    EventIdConflict { event_id: Uuid, position: u64 },
    IdempotencyMismatch { reason: String },
    Cluster { detail: String, retryable: bool },
    Refused { detail: String },
    EventTooLarge { stream: String, index: usize, size: usize, limit: usize },
    InvalidEvent { stream: String, index: usize, reason: String },
}

impl From<StoreError> for ForwardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WrongExpectedVersion { stream, expected, actual } => {
                ForwardError::WrongExpectedVersion { stream, expected, actual }
            }
            StoreError::EventIdConflict { event_id, position } => ForwardError::EventIdConflict { event_id, position },
            StoreError::IdempotencyMismatch { reason } => ForwardError::IdempotencyMismatch { reason },
            StoreError::Cluster { detail, retryable } => ForwardError::Cluster { detail, retryable },
            StoreError::EventTooLarge { stream, index, size, limit } => {
                ForwardError::EventTooLarge { stream, index, size, limit }
            }
            StoreError::InvalidEvent { stream, index, reason } => ForwardError::InvalidEvent { stream, index, reason },
            other => ForwardError::Refused { detail: other.to_string() },
        }
    }
}

impl From<ForwardError> for StoreError {
    fn from(e: ForwardError) -> Self {
        match e {
            ForwardError::WrongExpectedVersion { stream, expected, actual } => {
                StoreError::WrongExpectedVersion { stream, expected, actual }
            }
            ForwardError::EventIdConflict { event_id, position } => StoreError::EventIdConflict { event_id, position },
            ForwardError::IdempotencyMismatch { reason } => StoreError::IdempotencyMismatch { reason },
            ForwardError::Cluster { detail, retryable } => StoreError::Cluster { detail, retryable },
            ForwardError::EventTooLarge { stream, index, size, limit } => {
                StoreError::EventTooLarge { stream, index, size, limit }
            }
            ForwardError::InvalidEvent { stream, index, reason } => StoreError::InvalidEvent { stream, index, reason },
            ForwardError::Refused { detail } => {
                StoreError::Cluster { detail: format!("the leader refused the append: {detail}"), retryable: false }
            }
        }
    }
}

type ForwardAnswer = Result<AppendOutcome, ForwardError>;

struct Inner {
    cluster: Arc<Cluster>,
    shared: Arc<Shared>,
    /// The writer's queue (dropped at stop, so the writer can end).
    writer: Mutex<Option<Sender<Request>>>,
    options: ClusterOptions,
    /// The lease's revision while this node holds it.
    lease: Mutex<Option<u64>>,
    /// The lease holder last seen.
    leader: RwLock<Option<String>>,
    /// The last sequence of the log applied here and answered by the writer.
    applied: AtomicU64,
    stop: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("node", &self.options.node).finish_non_exhaustive()
    }
}

/// This node's part in the cluster. Stopped before the writer (it holds a sender to it).
#[derive(Debug)]
pub(crate) struct Replica {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

impl Replica {
    /// Starts following the log from `applied + 1`, waits until the replica has caught up with
    /// the log's last sequence, then takes part in the lease and answers forwarded appends.
    pub(crate) fn start(
        cluster: Arc<Cluster>,
        shared: Arc<Shared>,
        writer: Sender<Request>,
        applied: u64,
    ) -> Result<Self, StoreError> {
        let options = cluster.options().clone();
        let last = cluster.last_sequence().map_err(cluster_error)?;
        if last < applied {
            return Err(StoreError::ReplicaMismatch {
                detail: format!(
                    "this replica applied the cluster's log up to commit {applied}, the cluster's stream ends at {last} (was it deleted or recreated?)"
                ),
            });
        }
        let inner = Arc::new(Inner {
            cluster,
            shared,
            writer: Mutex::new(Some(writer)),
            options,
            lease: Mutex::new(None),
            leader: RwLock::new(None),
            applied: AtomicU64::new(applied),
            stop: AtomicBool::new(false),
        });
        let (tx, rx) = crossbeam_channel::bounded(FOLLOW_WINDOW * 4);
        inner.cluster.follow(applied + 1, tx).map_err(cluster_error)?;
        let mut replica = Self { inner: inner.clone(), threads: Vec::new() };
        let follower = inner.clone();
        replica.threads.push(
            std::thread::Builder::new()
                .name("anquan-follower".into())
                .spawn(move || follow(&follower, &rx))
                .map_err(|e| StoreError::Cluster { detail: e.to_string(), retryable: false })?,
        );
        replica.catch_up(last)?;
        inner.lease_step();
        let weak = Arc::downgrade(&inner);
        inner.cluster.serve_forwarded(move |bytes| answer_forwarded(&weak, &bytes)).map_err(cluster_error)?;
        let leaser = inner.clone();
        replica.threads.push(
            std::thread::Builder::new()
                .name("anquan-lease".into())
                .spawn(move || hold_lease(&leaser))
                .map_err(|e| StoreError::Cluster { detail: e.to_string(), retryable: false })?,
        );
        Ok(replica)
    }

    /// Waits until commits up to `last` are applied here, as long as they keep coming.
    fn catch_up(&self, last: u64) -> Result<(), StoreError> {
        let stall = self.inner.options.append_deadline;
        let mut seen = self.inner.applied.load(Ordering::Acquire);
        let mut progress = Instant::now();
        while seen < last {
            if let Some(cause) = self.inner.shared.poisoned() {
                return Err(StoreError::Poisoned { cause });
            }
            if progress.elapsed() > stall {
                return Err(StoreError::Cluster {
                    detail: format!("catching up stopped at commit {seen} of {last} for {stall:?}"),
                    retryable: true,
                });
            }
            std::thread::sleep(Duration::from_millis(2));
            let now = self.inner.applied.load(Ordering::Acquire);
            if now > seen {
                seen = now;
                progress = Instant::now();
            }
        }
        tracing::info!(applied = seen, "replica caught up with the cluster");
        Ok(())
    }

    /// Whether this node holds the lease now.
    pub(crate) fn is_leader(&self) -> bool {
        self.inner.is_leader()
    }

    /// This node's name in the tenant.
    pub(crate) fn node(&self) -> &str {
        &self.inner.options.node
    }

    /// The node holding the lease, as last seen.
    pub(crate) fn leader(&self) -> Option<String> {
        self.inner.leader.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Appends through the leader: `local` when this node holds the lease, else forwarded.
    /// Retries errors that may pass until `append_deadline`.
    pub(crate) fn append(
        &self,
        appends: Vec<StreamAppend>,
        local: impl Fn(Vec<StreamAppend>) -> Result<AppendOutcome, StoreError>,
    ) -> Result<AppendOutcome, StoreError> {
        let deadline = Instant::now() + self.inner.options.append_deadline;
        let mut backoff = Duration::from_millis(5);
        loop {
            let attempt = if self.is_leader() {
                local(appends.clone())
            } else {
                match self.leader() {
                    Some(node) if node != self.inner.options.node => self.forward(&node, &appends, deadline),
                    _ => Err(StoreError::Cluster { detail: "no node holds the lease".into(), retryable: true }),
                }
            };
            match attempt {
                Err(StoreError::Cluster { detail, retryable: true }) => {
                    if Instant::now() + backoff >= deadline {
                        return Err(StoreError::Cluster {
                            detail: format!("{detail} (still failing after {:?})", self.inner.options.append_deadline),
                            retryable: true,
                        });
                    }
                    tracing::debug!(%detail, ?backoff, "append retried");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                    if self.inner.shared.poisoned().is_some() {
                        return Err(StoreError::Poisoned { cause: self.inner.shared.poisoned().unwrap_or_default() });
                    }
                }
                other => return other,
            }
        }
    }

    fn forward(&self, node: &str, appends: &[StreamAppend], deadline: Instant) -> Result<AppendOutcome, StoreError> {
        let payload = crate::codec::encode(appends)
            .map_err(|e| StoreError::Cluster { detail: e.to_string(), retryable: false })?;
        let limit = self.inner.cluster.max_payload().saturating_sub(HEADER_ROOM);
        if payload.len() > limit {
            return Err(StoreError::Cluster {
                detail: format!(
                    "the append takes {} bytes, over the cluster's {limit}-byte message limit: send it in smaller appends",
                    payload.len()
                ),
                retryable: false,
            });
        }
        let wait = deadline.saturating_duration_since(Instant::now()).min(self.inner.options.ack_timeout * 3);
        let answer = self.inner.cluster.forward(node, payload, wait).map_err(cluster_error)?;
        let answer: ForwardAnswer = crate::codec::decode(&answer).map_err(|e| StoreError::Cluster {
            detail: format!("the leader's answer cannot be read: {e}"),
            retryable: false,
        })?;
        let outcome = answer.map_err(StoreError::from)?;
        // Read-your-writes: answer once this replica shows the append.
        if let Some(last) = outcome.last_position() {
            while self.inner.shared.visible_next() <= last {
                if Instant::now() >= deadline {
                    tracing::warn!(last, "a forwarded append is committed but not yet applied here");
                    break;
                }
                if let Some(cause) = self.inner.shared.poisoned() {
                    return Err(StoreError::Poisoned { cause });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(outcome)
    }

    /// Stops following and leasing, gives the lease up and lets go of the writer.
    pub(crate) fn stop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let held = self.inner.lease.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(revision) = held {
            let _ = self.inner.cluster.release(revision);
        }
        self.inner.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn is_leader(&self) -> bool {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn set_leader(&self, leader: Option<String>) {
        *self.leader.write().unwrap_or_else(|e| e.into_inner()) = leader;
    }

    /// One round of the lease: renew it if held, else take it if free, else note who holds it.
    fn lease_step(&self) {
        let mut lease = self.lease.lock().unwrap_or_else(|e| e.into_inner());
        let me = &self.options.node;
        match *lease {
            Some(revision) => match self.cluster.renew(revision) {
                Ok(next) => *lease = Some(next),
                Err(e) => {
                    tracing::warn!(error = %e, "the lease was lost");
                    *lease = None;
                    self.set_leader(None);
                }
            },
            None => match self.cluster.try_lease() {
                Ok(Some(revision)) => {
                    tracing::info!(node = %me, "this node holds the lease");
                    *lease = Some(revision);
                    self.set_leader(Some(me.clone()));
                }
                Ok(None) => match self.cluster.leader() {
                    // Still named after a lost renewal: take it back at its revision.
                    Ok(Some((node, revision))) if &node == me => {
                        *lease = Some(revision);
                        self.set_leader(Some(node));
                    }
                    Ok(holder) => self.set_leader(holder.map(|(node, _)| node)),
                    Err(e) => tracing::debug!(error = %e, "the lease holder cannot be read"),
                },
                Err(e) => tracing::debug!(error = %e, "the lease cannot be taken"),
            },
        }
    }

    fn submit(&self, appends: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError> {
        let tx = self.writer.lock().unwrap_or_else(|e| e.into_inner()).clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = reply::slot();
        tx.send(Request::Append { appends, reply }).map_err(|_| StoreError::Closed)?;
        answer.recv_timeout(REPLY_TIMEOUT).map_err(|_| StoreError::Closed)?
    }
}

/// The leader's side of a forwarded append: checked and committed like a local one.
fn answer_forwarded(inner: &Weak<Inner>, bytes: &[u8]) -> Vec<u8> {
    let answer: ForwardAnswer = (|| {
        let inner =
            inner.upgrade().ok_or(ForwardError::Cluster { detail: "the node is closing".into(), retryable: true })?;
        if !inner.is_leader() {
            return Err(ForwardError::Cluster {
                detail: format!("node {} does not hold the lease", inner.options.node),
                retryable: true,
            });
        }
        let appends: Vec<StreamAppend> =
            crate::codec::decode(bytes).map_err(|e| ForwardError::Refused { detail: format!("not an append: {e}") })?;
        super::validate::validate_appends(&appends).map_err(ForwardError::from)?;
        inner.submit(appends).map_err(ForwardError::from)
    })();
    crate::codec::encode(&answer).unwrap_or_default()
}

/// The follower thread: hands each commit to the writer, in order, keeping at most
/// [`FOLLOW_WINDOW`] unanswered; stops at the first refusal (the store is poisoned then).
fn follow(inner: &Inner, messages: &crossbeam_channel::Receiver<LogMessage>) {
    let mut pending: VecDeque<(u64, reply::Answer<Result<(), StoreError>>)> = VecDeque::new();
    let settle = |pending: &mut VecDeque<(u64, reply::Answer<Result<(), StoreError>>)>, all: bool| -> bool {
        while let Some((sequence, answer)) = pending.pop_front() {
            if !all && pending.len() < FOLLOW_WINDOW && !answer.is_ready() {
                pending.push_front((sequence, answer));
                return true;
            }
            match answer.recv_timeout(REPLY_TIMEOUT) {
                Ok(Ok(())) => inner.applied.store(sequence, Ordering::Release),
                Ok(Err(e)) => {
                    tracing::error!(sequence, error = %e, "a commit of the cluster's log was not applied; following stops");
                    return false;
                }
                Err(_) => return false,
            }
        }
        true
    };
    while !inner.stop.load(Ordering::Acquire) {
        match messages.recv_timeout(Duration::from_millis(20)) {
            Ok(m) => {
                let Some(tx) = inner.writer.lock().unwrap_or_else(|e| e.into_inner()).clone() else { return };
                let (reply, answer) = reply::slot();
                let request = Request::Replicated { sequence: m.sequence, commit: m.payload.to_vec(), reply };
                if tx.send(request).is_err() {
                    return;
                }
                pending.push_back((m.sequence, answer));
                if !settle(&mut pending, false) {
                    return;
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if !settle(&mut pending, true) {
                    return;
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The lease thread: a round every third of the lease's time to live.
fn hold_lease(inner: &Inner) {
    let period = inner.options.lease_ttl / 3;
    while !inner.stop.load(Ordering::Acquire) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            if inner.stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        inner.lease_step();
    }
}
