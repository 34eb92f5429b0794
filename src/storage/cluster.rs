//! The NATS JetStream client of cluster mode (feature `cluster`): one stream per tenant that
//! holds the log's commits (`anquan_<tenant>`), a lease naming the node whose writer commits
//! (stream `anquan_lease_<tenant>`: at most one message, expiring after `lease_ttl`, written
//! with an expected last subject sequence, so taking and renewing are compare-and-swap), and
//! request/reply subjects over which the other nodes forward their appends to it.
//!
//! The store above is synchronous; [`Cluster`] owns a private tokio runtime and every call
//! blocks on it. A call hands its future to the runtime and waits on a channel, so it may be
//! made from any thread, inside another runtime's blocking pool too, never from one of this
//! runtime's own tasks (none of which calls back into it).
//!
//! Invariants:
//! - A commit is one message on `anquan.<tenant>.log`, published with `Nats-Expected-Last-Sequence`
//!   (the fence: it lands only if the stream's last sequence is the one the publisher applied)
//!   and `Nats-Msg-Id` (duplicates within the stream's window are dropped by the server).
//! - An acknowledgement that does not come is [`ClusterError::Unknown`], never a refusal: the
//!   message may have landed; the caller reads [`Cluster::message`] to find out.
//! - This module knows bytes and sequences only, never records or events.

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use crossbeam_channel::Sender;
use futures_util::StreamExt;

/// How long the follower waits for a message before asking whether the stream holds more.
const FOLLOW_STALL_CHECK: Duration = Duration::from_secs(1);

/// Where the cluster is and how this node takes part in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Server URLs (`nats://host:port`); the client fails over between them.
    pub urls: Vec<String>,
    /// The tenant: one stream and one lease per tenant. `[A-Za-z0-9_-]`, at most 64 bytes.
    pub tenant: String,
    /// Copies of each commit the stream keeps (3 by default; 1 for a single server).
    pub replicas: usize,
    /// This node's name, unique in the tenant: forwarded appends are addressed to it.
    pub node: String,
    /// How long a publish waits for JetStream's acknowledgement.
    pub ack_timeout: Duration,
    /// How long the lease lives without renewal; its holder renews it three times as often.
    pub lease_ttl: Duration,
    /// How long opening waits for the cluster (connection, stream creation while it elects).
    pub connect_timeout: Duration,
    /// How long an append retries errors that may pass (elections, a new leader) before failing.
    pub append_deadline: Duration,
}

impl ClusterOptions {
    /// Options with the defaults: R3, acks within 2 s, a 3 s lease, 5 s to connect, 30 s to append.
    /// (A quorum acknowledges in milliseconds; an ack that does not come means an election,
    /// which takes nats-server 2.9 about 4 s, so waiting longer only delays the retry.)
    pub fn new(urls: Vec<String>, tenant: impl Into<String>, node: impl Into<String>) -> Self {
        Self {
            urls,
            tenant: tenant.into(),
            replicas: 3,
            node: node.into(),
            ack_timeout: Duration::from_secs(2),
            lease_ttl: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            append_deadline: Duration::from_secs(30),
        }
    }

    /// The stream holding the tenant's log.
    pub fn stream_name(&self) -> String {
        format!("anquan_{}", self.tenant)
    }

    /// The subject commits are published on.
    pub fn log_subject(&self) -> String {
        format!("anquan.{}.log", self.tenant)
    }

    /// The subject a node answers forwarded appends on.
    pub fn node_subject(&self, node: &str) -> String {
        format!("anquan.{}.node.{node}", self.tenant)
    }

    fn lease_stream(&self) -> String {
        format!("anquan_lease_{}", self.tenant)
    }

    fn lease_subject(&self) -> String {
        format!("anquan.{}.lease", self.tenant)
    }
}

/// An error from the cluster client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error("the NATS cluster at {urls} cannot be reached: {detail}")]
    Unreachable { urls: String, detail: String },
    #[error("bad tenant or node name {name:?}: use 1 to 64 of [A-Za-z0-9_-]")]
    BadTenant { name: String },
    /// The fence refused the publish: the stream holds commits this node has not applied.
    #[error("the stream moved on: {detail}")]
    Stale { detail: String },
    /// No acknowledgement came in time: the message may or may not have been stored.
    #[error("no acknowledgement from JetStream within {timeout:?}: the outcome is unknown")]
    Unknown { timeout: Duration },
    #[error("node {node} does not answer on its subject (not running, or not connected)")]
    NoResponder { node: String },
    #[error("NATS: {0}")]
    Nats(String),
}

impl ClusterError {
    /// True for an error that may pass by itself (an election, a reconnection, a lagging replica).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ClusterError::BadTenant { .. })
    }
}

pub(crate) fn nats(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Nats(e.to_string())
}

pub(crate) fn check_name(name: &str) -> Result<(), ClusterError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ClusterError::BadTenant { name: name.to_string() })
    }
}

/// A message of the log stream: its sequence, message id and payload.
#[derive(Debug, Clone)]
pub struct LogMessage {
    pub sequence: u64,
    pub msg_id: Option<String>,
    pub payload: Bytes,
}

/// A connection to the cluster for one tenant. Dropping it stops its tasks.
pub struct Cluster {
    options: ClusterOptions,
    runtime: Option<tokio::runtime::Runtime>,
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    /// The lease: a stream keeping one message (the holder's node name) that expires after
    /// `lease_ttl`; its sequence is the lease's revision.
    lease: stream::Stream,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("options", &self.options).finish_non_exhaustive()
    }
}

/// Runs `fut` on `runtime` and waits for its output on this thread.
pub(crate) fn wait_on<F>(runtime: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded(1);
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    // The task always sends unless the runtime is shutting down, which happens only in drop.
    rx.recv().expect("the cluster runtime dropped a task it was running")
}

/// Connects to the cluster on a runtime of its own and creates (or finds) each stream of
/// `configs` (named for errors), retrying while the cluster elects its leaders, for at most
/// `connect_timeout`. The connection of [`Cluster`] and of the vault's stream
/// (`cluster_vault`).
#[allow(clippy::type_complexity)]
pub(crate) fn connect_streams(
    options: &ClusterOptions,
    configs: Vec<(&'static str, stream::Config)>,
) -> Result<(tokio::runtime::Runtime, async_nats::Client, jetstream::Context, Vec<stream::Stream>), ClusterError> {
    let urls = options.urls.join(",");
    let unreachable = |detail: String| ClusterError::Unreachable { urls: urls.clone(), detail };
    if options.urls.is_empty() {
        return Err(unreachable("no server URL given".into()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("anquan-nats")
        .enable_all()
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let opts = options.clone();
    let setup = wait_on(&runtime, async move {
        let deadline = Instant::now() + opts.connect_timeout;
        let connect = async_nats::ConnectOptions::new()
            .name(format!("anquan-{}", opts.node))
            .connection_timeout(opts.connect_timeout)
            .connect(opts.urls.clone());
        let client = tokio::time::timeout(opts.connect_timeout, connect)
            .await
            .map_err(|_| format!("no connection within {:?}", opts.connect_timeout))?
            .map_err(|e| e.to_string())?;
        let js = jetstream::ContextBuilder::new().ack_timeout(opts.ack_timeout).build(client.clone());
        // A fresh cluster answers "no leader" or times out until its meta group elects.
        let mut last_error;
        loop {
            let attempt = async {
                let mut streams = Vec::with_capacity(configs.len());
                for (what, config) in &configs {
                    streams.push(js.get_or_create_stream(config.clone()).await.map_err(|e| format!("{what}: {e}"))?);
                }
                Ok::<_, String>(streams)
            };
            match tokio::time::timeout(Duration::from_secs(2), attempt).await {
                Ok(Ok(streams)) => return Ok((client, js, streams)),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "the stream was not created within 2 s".to_string(),
            }
            if Instant::now() >= deadline {
                return Err(last_error);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let (client, js, streams) = setup.map_err(unreachable)?;
    Ok((runtime, client, js, streams))
}

/// Follows the messages of `stream` on `filter` from `from_sequence` on with an ordered consumer,
/// created again after the message it last handed over whenever it fails (a server restarted, a
/// lost connection), so none is skipped or handed over twice. `deliver` gets each message with
/// its stream sequence and the number of messages pending after it, and ends the following by
/// answering false. `what` names the stream in the logs.
pub(crate) async fn follow_ordered<F, Fut>(
    stream: stream::Stream,
    filter: String,
    from_sequence: u64,
    what: &'static str,
    mut deliver: F,
) where
    F: FnMut(jetstream::Message, u64, u64) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut next = from_sequence.max(1);
    loop {
        let config = consumer::pull::OrderedConfig {
            filter_subject: filter.clone(),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: next },
            ..Default::default()
        };
        // Bounded: during an election the request can hang for the client's whole timeout.
        let created = tokio::time::timeout(FOLLOW_STALL_CHECK * 2, stream.create_consumer(config)).await;
        let messages = match created {
            Ok(Ok(consumer)) => consumer.messages().await.map_err(nats),
            Ok(Err(e)) => Err(nats(e)),
            Err(_) => Err(ClusterError::Unknown { timeout: FOLLOW_STALL_CHECK * 2 }),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, next, what, "the cluster's stream cannot be followed yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        loop {
            let item = match tokio::time::timeout(FOLLOW_STALL_CHECK, messages.next()).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                // Quiet: nothing new, or the consumer stalled (after a stream leader's loss
                // nats-server 2.9 can leave it silent for about a minute). Created again when the
                // stream holds what it has not delivered.
                Err(_) => match tokio::time::timeout(FOLLOW_STALL_CHECK, stream.get_info()).await {
                    Ok(Ok(info)) if info.state.last_sequence >= next => {
                        tracing::warn!(
                            next,
                            last = info.state.last_sequence,
                            what,
                            "following the cluster's stream stalled: restarting it"
                        );
                        break;
                    }
                    _ => continue,
                },
            };
            let message = match item {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, next, what, "following the cluster's stream restarts");
                    break;
                }
            };
            let Ok((sequence, pending)) = message.info().map(|i| (i.stream_sequence, i.pending)) else { continue };
            if sequence < next {
                continue;
            }
            if !deliver(message, sequence, pending).await {
                return;
            }
            next = sequence + 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Flushes what `client` buffered and stops `runtime`'s tasks.
pub(crate) fn stop_runtime(runtime: tokio::runtime::Runtime, client: async_nats::Client) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    runtime.spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(2));
    // A runtime cannot be shut down from inside another one's task (a host dropping the
    // store in async code): that is left to a thread of its own.
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::Builder::new()
            .name("anquan-nats-stop".into())
            .spawn(move || runtime.shutdown_timeout(Duration::from_secs(1)));
    } else {
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

impl Cluster {
    /// Connects and creates (or finds) the tenant's stream and lease bucket, retrying while
    /// the cluster elects its leaders, for at most `connect_timeout`.
    pub fn connect(options: ClusterOptions) -> Result<Self, ClusterError> {
        check_name(&options.tenant)?;
        check_name(&options.node)?;
        let config = stream::Config {
            name: options.stream_name(),
            subjects: vec![options.log_subject()],
            storage: stream::StorageType::File,
            num_replicas: options.replicas,
            duplicate_window: Duration::from_secs(120),
            allow_direct: true,
            ..Default::default()
        };
        // Not a key-value bucket: async-nats 0.46 cannot read nats-server 2.9's answer to
        // creating one. The same thing from stream primitives 2.9 has: one message per
        // subject, expiring, written with an expected last subject sequence.
        let lease_config = stream::Config {
            name: options.lease_stream(),
            subjects: vec![options.lease_subject()],
            storage: stream::StorageType::File,
            num_replicas: options.replicas,
            max_messages_per_subject: 1,
            max_age: options.lease_ttl,
            duplicate_window: options.lease_ttl,
            allow_direct: true,
            ..Default::default()
        };
        let (runtime, client, js, streams) =
            connect_streams(&options, vec![("the log stream", config), ("the lease stream", lease_config)])?;
        let [stream, lease] = <[stream::Stream; 2]>::try_from(streams)
            .map_err(|s| nats(format!("{} streams opened instead of 2", s.len())))?;
        Ok(Self { options, runtime: Some(runtime), client, js, stream, lease })
    }

    fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Present until drop.
        wait_on(self.runtime.as_ref().expect("cluster runtime"), fut)
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// The largest message the server accepts.
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Publishes one commit, fenced: it lands only if the stream's last sequence is
    /// `expected_last`. Returns its sequence.
    pub fn publish(&self, payload: Vec<u8>, expected_last: u64, msg_id: &str) -> Result<u64, ClusterError> {
        let js = self.js.clone();
        let subject = self.options.log_subject();
        let msg_id = msg_id.to_string();
        let timeout = self.options.ack_timeout;
        self.run(async move {
            let message = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(payload))
                .message_id(msg_id)
                .expected_last_sequence(expected_last);
            let ack = js.send_publish(subject, message).await.map_err(nats)?;
            match tokio::time::timeout(timeout + Duration::from_millis(100), std::future::IntoFuture::into_future(ack))
                .await
            {
                Err(_) => Err(ClusterError::Unknown { timeout }),
                Ok(Ok(ack)) => {
                    // A duplicate (the same commit published before, within the dedupe window)
                    // carries the first copy's sequence: it is this commit's place only if it is
                    // the one right after the fence.
                    if ack.duplicate && ack.sequence != expected_last + 1 {
                        return Err(ClusterError::Stale {
                            detail: format!("this commit is already stored at sequence {}", ack.sequence),
                        });
                    }
                    Ok(ack.sequence)
                }
                Ok(Err(e)) => Err(match e.kind() {
                    jetstream::context::PublishErrorKind::WrongLastSequence => {
                        ClusterError::Stale { detail: e.to_string() }
                    }
                    jetstream::context::PublishErrorKind::TimedOut => ClusterError::Unknown { timeout },
                    _ => nats(e),
                }),
            }
        })
    }

    /// The stream's last sequence (0 when empty).
    pub fn last_sequence(&self) -> Result<u64, ClusterError> {
        let stream = self.stream.clone();
        self.run(async move { stream.get_info().await.map(|i| i.state.last_sequence).map_err(nats) })
    }

    /// The message at `sequence`, or `None` if the stream holds none there. Waits at most
    /// `ack_timeout` (during an election the request would hang for the client's own timeout).
    pub fn message(&self, sequence: u64) -> Result<Option<LogMessage>, ClusterError> {
        let stream = self.stream.clone();
        let timeout = self.options.ack_timeout;
        self.run(async move {
            let Ok(answer) = tokio::time::timeout(timeout, stream.get_raw_message(sequence)).await else {
                return Err(ClusterError::Unknown { timeout });
            };
            match answer {
                Ok(m) => Ok(Some(LogMessage {
                    sequence: m.sequence,
                    msg_id: m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_string()),
                    payload: m.payload,
                })),
                Err(e) if matches!(e.kind(), stream::RawMessageErrorKind::NoMessageFound) => Ok(None),
                Err(e) => Err(nats(e)),
            }
        })
    }

    /// Delivers every message from `from_sequence` on, in order, then new ones as they land,
    /// to `out`, until `out` is dropped or the cluster is. An ordered consumer, created again
    /// after the message it last delivered whenever it fails (a server restarted, a lost
    /// connection), so no message is skipped or delivered twice.
    pub fn follow(&self, from_sequence: u64, out: Sender<LogMessage>) -> Result<(), ClusterError> {
        let stream = self.stream.clone();
        let subject = self.options.log_subject();
        let runtime = self.runtime.as_ref().expect("cluster runtime");
        runtime.spawn(follow_ordered(stream, subject, from_sequence, "log", move |message, sequence, _| {
            let out = out.clone();
            async move {
                let mut pending = LogMessage {
                    sequence,
                    msg_id: message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_string()),
                    payload: message.payload.clone(),
                };
                loop {
                    match out.try_send(pending) {
                        Ok(()) => return true,
                        Err(crossbeam_channel::TrySendError::Full(m)) => {
                            pending = m;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        Err(crossbeam_channel::TrySendError::Disconnected(_)) => return false,
                    }
                }
            }
        }));
        Ok(())
    }

    /// Writes the lease naming this node, if its last revision is `after` (0: nobody holds it).
    fn write_lease(&self, after: u64) -> Result<u64, ClusterError> {
        let js = self.js.clone();
        let subject = self.options.lease_subject();
        let node = Bytes::from(self.options.node.clone());
        let timeout = self.options.ack_timeout;
        self.run(async move {
            let message =
                jetstream::message::PublishMessage::build().payload(node).expected_last_subject_sequence(after);
            let ack = js.send_publish(subject, message).await.map_err(nats)?;
            match tokio::time::timeout(timeout, std::future::IntoFuture::into_future(ack)).await {
                Err(_) => Err(ClusterError::Unknown { timeout }),
                Ok(Ok(ack)) => Ok(ack.sequence),
                Ok(Err(e)) => Err(match e.kind() {
                    jetstream::context::PublishErrorKind::WrongLastSequence => {
                        ClusterError::Stale { detail: e.to_string() }
                    }
                    _ => nats(e),
                }),
            }
        })
    }

    /// Takes the lease if no one holds it; returns its revision when taken.
    pub fn try_lease(&self) -> Result<Option<u64>, ClusterError> {
        match self.write_lease(0) {
            Ok(revision) => Ok(Some(revision)),
            Err(ClusterError::Stale { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Renews the lease held at `revision` (compare and swap); returns the new revision, or
    /// [`ClusterError::Stale`] when another node holds it now.
    pub fn renew(&self, revision: u64) -> Result<u64, ClusterError> {
        self.write_lease(revision)
    }

    /// Gives the lease up (if still held at `revision`), so another node need not wait for it
    /// to expire.
    pub fn release(&self, revision: u64) -> Result<(), ClusterError> {
        let lease = self.lease.clone();
        self.run(async move { lease.delete_message(revision).await.map(|_| ()).map_err(nats) })
    }

    /// The node holding the lease and the lease's revision, if anyone holds it.
    pub fn leader(&self) -> Result<Option<(String, u64)>, ClusterError> {
        let lease = self.lease.clone();
        let subject = self.options.lease_subject();
        self.run(async move {
            match lease.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Ok(Some((String::from_utf8_lossy(&m.payload).into_owned(), m.sequence))),
                Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => Ok(None),
                Err(e) => Err(nats(e)),
            }
        })
    }

    /// Sends `payload` to `node`'s forward subject and waits at most `timeout` for its answer.
    pub fn forward(&self, node: &str, payload: Vec<u8>, timeout: Duration) -> Result<Bytes, ClusterError> {
        let client = self.client.clone();
        let subject = self.options.node_subject(node);
        let node = node.to_string();
        self.run(async move {
            let request = async_nats::Request::new().payload(Bytes::from(payload)).timeout(Some(timeout));
            match client.send_request(subject, request).await {
                Ok(m) => Ok(m.payload),
                Err(e) => Err(match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => ClusterError::NoResponder { node },
                    async_nats::RequestErrorKind::TimedOut => ClusterError::Unknown { timeout },
                    _ => nats(e),
                }),
            }
        })
    }

    /// Answers requests on this node's forward subject with `handler`, each on a blocking
    /// thread of the runtime, until the cluster is dropped.
    pub fn serve_forwarded<H>(&self, handler: H) -> Result<(), ClusterError>
    where
        H: Fn(Bytes) -> Vec<u8> + Send + Sync + 'static,
    {
        let client = self.client.clone();
        let subject = self.options.node_subject(&self.options.node);
        let mut requests = self.run(async move { client.subscribe(subject).await.map_err(nats) })?;
        let client = self.client.clone();
        let handler = std::sync::Arc::new(handler);
        let runtime = self.runtime.as_ref().expect("cluster runtime");
        runtime.spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply.clone() else { continue };
                let handler = handler.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    let Ok(answer) = tokio::task::spawn_blocking(move || handler(request.payload)).await else {
                        return;
                    };
                    if let Err(e) = client.publish(reply, Bytes::from(answer)).await {
                        tracing::warn!(error = %e, "a forwarded append's answer was not sent");
                    }
                });
            }
        });
        Ok(())
    }

    /// Flushes what the client buffered and stops the runtime's tasks.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            stop_runtime(runtime, self.client.clone());
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
