//! The event store's vocabulary: envelopes, expected versions, results and limits.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest encoded event record (envelope + payload) the store accepts: 64 KiB.
///
/// Safety records are small (a hazard report is a few hundred bytes); the limit keeps segments,
/// and so sled's nodes, bounded. Attachments (photos, PDFs) belong in a blob store, referenced by
/// hash from the event.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Most events one append request may carry.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;

/// Longest stream id, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 128;

/// A hash-chain link: BLAKE3 over the previous link and the event's encoded record.
pub type Hash = [u8; 32];

/// The link before the first event.
pub const GENESIS_HASH: Hash = [0u8; 32];

/// Microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub fn from_chrono(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self(t.timestamp_micros())
    }

    /// The same instant as a chrono time (None only for instants chrono cannot represent).
    pub fn to_chrono(self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_micros(self.0)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_chrono() {
            Some(t) => write!(f, "{}", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            None => write!(f, "{}µs", self.0),
        }
    }
}

/// What the caller believes about a stream before appending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's last event must have exactly this version (versions start at 0).
    Exact(u64),
}

/// The version a stream is at: `None` before its first event.
pub type StreamVersion = Option<u64>;

/// An event as a caller proposes it; the store adds position, version, recorded-at and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedEvent {
    /// Unique id; appending the same id again at the same place is an idempotent retry.
    pub event_id: Uuid,
    /// Dotted type name, e.g. `hazard.reported`.
    pub event_type: String,
    /// Version of the payload's schema for this event type.
    pub schema_version: u16,
    /// When the fact happened in the world (may be long before it was recorded).
    pub occurred_at: Timestamp,
    /// Who caused it.
    pub actor: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The encoded domain event.
    pub payload: Vec<u8>,
}

impl ProposedEvent {
    /// A proposed event with a fresh v7 id and no correlation.
    pub fn new(
        event_type: impl Into<String>,
        schema_version: u16,
        occurred_at: Timestamp,
        actor: impl Into<String>,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            occurred_at,
            actor: actor.into(),
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }
}

/// A committed event with its full envelope (DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Gapless global position, from 0.
    pub position: u64,
    pub stream: Arc<str>,
    /// Gapless version within the stream, from 0.
    pub version: u64,
    pub event_type: Arc<str>,
    pub schema_version: u16,
    pub event_id: Uuid,
    pub occurred_at: Timestamp,
    /// Assigned by the store's clock inside the commit; never decreases along positions.
    pub recorded_at: Timestamp,
    pub actor: Arc<str>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub payload: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl RecordedEvent {
    /// True when `proposed` carries the same content (what an idempotent retry must match).
    pub fn same_content_as(&self, proposed: &ProposedEvent) -> bool {
        self.event_id == proposed.event_id
            && *self.event_type == *proposed.event_type
            && self.schema_version == proposed.schema_version
            && self.occurred_at == proposed.occurred_at
            && *self.actor == *proposed.actor
            && self.correlation_id == proposed.correlation_id
            && self.causation_id == proposed.causation_id
            && self.payload == proposed.payload
    }
}

/// Events for one stream inside an append request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamAppend {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<ProposedEvent>,
}

impl StreamAppend {
    pub fn new(stream: impl Into<String>, expected: ExpectedVersion, events: Vec<ProposedEvent>) -> Self {
        Self { stream: stream.into(), expected, events }
    }
}

/// Where one stream's events of an append landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamWritten {
    pub stream: String,
    pub first_version: u64,
    pub last_version: u64,
    pub first_position: u64,
    pub last_position: u64,
}

/// The acknowledgement of an append: every event is durable (in the default durability mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Global positions of the request's events, in request order.
    pub positions: Vec<u64>,
    /// Per stream, in request order.
    pub streams: Vec<StreamWritten>,
    /// True when this was a retry of an append already committed: nothing was written.
    pub already_committed: bool,
}

impl AppendOutcome {
    /// Position of the last event of the append.
    pub fn last_position(&self) -> Option<u64> {
        self.positions.last().copied()
    }
}

/// Read direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// What the store knows about one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub stream: String,
    pub last_version: u64,
    pub event_count: u64,
    pub first_position: u64,
    pub last_position: u64,
    pub first_recorded_at: Timestamp,
    pub last_recorded_at: Timestamp,
}

/// The end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Number of committed events; the next event gets this position.
    pub next_position: u64,
    /// Hash of the last event (the genesis hash for an empty log): export it for notarisation.
    pub hash: Hash,
    /// Recorded-at of the last event.
    pub last_recorded_at: Timestamp,
}

impl Head {
    pub const EMPTY: Head = Head { next_position: 0, hash: GENESIS_HASH, last_recorded_at: Timestamp(i64::MIN) };

    /// Hex form of the head hash.
    pub fn hash_hex(&self) -> String {
        to_hex(&self.hash)
    }
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xF) as usize] as char);
    }
    s
}

/// Checks a stream id: 1–128 bytes of ASCII letters, digits and `_ . : @ -`.
///
/// The store is the last line of defence: ids become sled keys and file-safe labels, so no
/// separators, path characters, control characters or NUL (which ends the stream part of index keys).
pub fn validate_stream_id(stream: &str) -> Result<(), String> {
    if stream.is_empty() {
        return Err("stream id is empty".into());
    }
    if stream.len() > MAX_STREAM_ID_LEN {
        return Err(format!("stream id is {} bytes, the limit is {MAX_STREAM_ID_LEN}", stream.len()));
    }
    if let Some(c) = stream.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '@' | '-'))) {
        return Err(format!("stream id {stream:?} contains {c:?}; allowed are ASCII letters, digits and _ . : @ -"));
    }
    Ok(())
}

/// Checks an event type name: 1–64 bytes of lower-case ASCII letters, digits and `_ . -`.
pub fn validate_event_type(event_type: &str) -> Result<(), String> {
    if event_type.is_empty() || event_type.len() > 64 {
        return Err(format!("event type must be 1–64 bytes, got {}", event_type.len()));
    }
    if let Some(c) =
        event_type.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!("event type {event_type:?} contains {c:?}; allowed are a-z, 0-9 and _ . -"));
    }
    Ok(())
}

/// Checks an actor id: 1–128 bytes, no control characters.
pub fn validate_actor(actor: &str) -> Result<(), String> {
    if actor.is_empty() || actor.len() > 128 {
        return Err(format!("actor must be 1–128 bytes, got {}", actor.len()));
    }
    if actor.chars().any(char::is_control) {
        return Err("actor contains a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids() {
        assert!(validate_stream_id("hazard-42").is_ok());
        assert!(validate_stream_id("").is_err());
        assert!(validate_stream_id("a/b").is_err());
        assert!(validate_stream_id("a\0b").is_err());
        assert!(validate_stream_id("..\\x").is_err());
        assert!(validate_stream_id(&"x".repeat(129)).is_err());
        assert!(validate_stream_id("社区").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0, 0xAB, 0x1F]), "00ab1f");
    }
}
