//! The tenant's key vault in the NATS JetStream cluster (feature `cluster`): one stream per
//! tenant, `anquan_vault_<tenant>`, on the subjects `anquan.<tenant>.vault.<kind>[.<id>]`, with
//! as many replicas as the log. The engine's vault (`engine::privacy`) keeps keys there so that
//! every node of a tenant derives the same person ids and seals and opens with the same keys.
//!
//! Entries are named by a kind (`pseudonym`, `key`, `erased` — the engine's words; this module
//! only builds subjects from them) and an optional id, escaped into one subject token (every byte
//! outside `[A-Za-z0-9_-]` is written `%XX`), so an id can hold `.` or `:` without changing the
//! subject's shape.
//!
//! Invariants:
//! - A subject holds at most one message: [`ClusterVault::create`] publishes with
//!   `Nats-Expected-Last-Subject-Sequence: 0`, and when the server refuses (someone was first) it
//!   reads and returns the stored message instead. Racing nodes thus all end with the first
//!   writer's bytes.
//! - [`ClusterVault::purge`] removes every message of one subject from the stream (a purge with a
//!   subject filter). The servers may keep purged bytes in their files until JetStream compacts
//!   the blocks holding them.
//! - This module knows bytes and subjects only, never persons or keys.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use crossbeam_channel::Sender;

use super::cluster::{
    check_name, connect_streams, follow_ordered, nats, stop_runtime, wait_on, ClusterError, ClusterOptions,
};

/// One entry of the vault stream, as delivered by [`ClusterVault::follow`].
#[derive(Debug, Clone)]
pub struct VaultEntry {
    pub kind: String,
    /// The entry's id (unescaped), if its subject has one.
    pub id: Option<String>,
    pub payload: Bytes,
    /// Entries stored after this one when it was delivered (0: the follower has caught up).
    pub pending: u64,
}

/// A connection to the tenant's vault stream. Dropping it stops its tasks.
pub struct ClusterVault {
    options: ClusterOptions,
    runtime: Option<tokio::runtime::Runtime>,
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
}

impl std::fmt::Debug for ClusterVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterVault").field("options", &self.options).finish_non_exhaustive()
    }
}

/// Writes `id` as one subject token: bytes outside `[A-Za-z0-9_-]` become `%XX`.
fn escape(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl ClusterVault {
    /// Connects and creates (or finds) the tenant's vault stream, waiting at most
    /// `connect_timeout` for the cluster.
    pub fn connect(options: ClusterOptions) -> Result<Self, ClusterError> {
        check_name(&options.tenant)?;
        check_name(&options.node)?;
        let config = stream::Config {
            name: Self::stream_name(&options),
            subjects: vec![format!("{}.>", Self::prefix(&options))],
            storage: stream::StorageType::File,
            num_replicas: options.replicas,
            allow_direct: true,
            ..Default::default()
        };
        let (runtime, client, js, streams) = connect_streams(&options, vec![("the vault stream", config)])?;
        let [stream] =
            <[stream::Stream; 1]>::try_from(streams).map_err(|s| nats(format!("{} streams opened", s.len())))?;
        Ok(Self { options, runtime: Some(runtime), client, js, stream })
    }

    /// The stream holding the tenant's vault.
    pub fn stream_name(options: &ClusterOptions) -> String {
        format!("anquan_vault_{}", options.tenant)
    }

    fn prefix(options: &ClusterOptions) -> String {
        format!("anquan.{}.vault", options.tenant)
    }

    fn subject(&self, kind: &str, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{}.{kind}.{}", Self::prefix(&self.options), escape(id)),
            None => format!("{}.{kind}", Self::prefix(&self.options)),
        }
    }

    fn run<F>(&self, fut: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Present until drop.
        wait_on(self.runtime.as_ref().expect("cluster runtime"), fut)
    }

    /// The entry `kind`/`id`, or `None` when the stream holds none (never written, or purged).
    pub fn get(&self, kind: &str, id: Option<&str>) -> Result<Option<Bytes>, ClusterError> {
        let stream = self.stream.clone();
        let subject = self.subject(kind, id);
        self.run(async move {
            match stream.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Ok(Some(m.payload)),
                Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => Ok(None),
                Err(e) => Err(nats(e)),
            }
        })
    }

    /// Writes `payload` as the entry `kind`/`id` unless the entry exists; returns the entry the
    /// stream holds afterwards (this payload, or the first writer's). Retries an unanswered or
    /// refused publish until `append_deadline`.
    pub fn create(&self, kind: &str, id: Option<&str>, payload: &[u8]) -> Result<Bytes, ClusterError> {
        let deadline = Instant::now() + self.options.append_deadline;
        let timeout = self.options.ack_timeout;
        let mut last_error;
        loop {
            let js = self.js.clone();
            let subject = self.subject(kind, id);
            let body = Bytes::copy_from_slice(payload);
            let published = self.run(async move {
                let message =
                    jetstream::message::PublishMessage::build().payload(body).expected_last_subject_sequence(0);
                let ack = js.send_publish(subject, message).await.map_err(nats)?;
                match tokio::time::timeout(timeout, std::future::IntoFuture::into_future(ack)).await {
                    Err(_) => Err(ClusterError::Unknown { timeout }),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(match e.kind() {
                        jetstream::context::PublishErrorKind::WrongLastSequence => {
                            ClusterError::Stale { detail: e.to_string() }
                        }
                        jetstream::context::PublishErrorKind::TimedOut => ClusterError::Unknown { timeout },
                        _ => nats(e),
                    }),
                }
            });
            match published {
                Ok(()) => return Ok(Bytes::copy_from_slice(payload)),
                // Someone was first, or an earlier unanswered try of ours landed: read it. (Absent
                // again: purged in between; publish once more.)
                Err(e @ (ClusterError::Stale { .. } | ClusterError::Unknown { .. })) => {
                    if let Some(stored) = self.get(kind, id)? {
                        return Ok(stored);
                    }
                    last_error = e;
                }
                Err(e) if e.is_retryable() => last_error = e,
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(last_error);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Removes every message of the entry `kind`/`id` from the stream.
    pub fn purge(&self, kind: &str, id: Option<&str>) -> Result<(), ClusterError> {
        let stream = self.stream.clone();
        let subject = self.subject(kind, id);
        self.run(async move { stream.purge().filter(subject).await.map(|_| ()).map_err(nats) })
    }

    /// How many entries the stream holds.
    pub fn message_count(&self) -> Result<u64, ClusterError> {
        let stream = self.stream.clone();
        self.run(async move { stream.get_info().await.map(|i| i.state.messages).map_err(nats) })
    }

    /// Delivers every entry of the stream, in order, then new ones as they land, to `out` (an
    /// unbounded channel: the runtime's task never waits on it), until `out` is dropped or the
    /// vault is. An ordered consumer, created again after the
    /// entry it last delivered whenever it fails, so no entry is skipped or delivered twice.
    pub fn follow(&self, out: Sender<VaultEntry>) -> Result<(), ClusterError> {
        let stream = self.stream.clone();
        let prefix = format!("{}.", Self::prefix(&self.options));
        let runtime = self.runtime.as_ref().expect("cluster runtime");
        runtime.spawn(follow_ordered(stream, format!("{prefix}>"), 1, "vault", move |message, _, pending| {
            let delivered = match message.subject.as_str().strip_prefix(&prefix) {
                // An entry whose subject this module did not write is passed over.
                None => true,
                Some(name) => {
                    let (kind, id) = match name.split_once('.') {
                        Some((kind, token)) => (kind, unescape(token)),
                        None => (name, None),
                    };
                    let entry = VaultEntry { kind: kind.to_string(), id, payload: message.payload.clone(), pending };
                    out.send(entry).is_ok()
                }
            };
            std::future::ready(delivered)
        }));
        Ok(())
    }
}

impl Drop for ClusterVault {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            stop_runtime(runtime, self.client.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_escape_into_one_token_and_back() {
        for id in ["p-0123abcd", "HZ-2025:001_a.b", "a..b", "%"] {
            let token = escape(id);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'%'), "{token}");
            assert_eq!(unescape(&token).as_deref(), Some(id));
        }
        assert_eq!(unescape("%4"), None);
    }
}
