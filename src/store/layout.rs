//! On-disk layout: key spaces, the segment format and the event record.
//!
//! One ordered key space, partitioned by a leading byte (all written by one atomic batch per
//! group commit):
//!
//! | key | value |
//! |---|---|
//! | `S` + first position (u64 BE) | a segment: the events of (part of) one group commit |
//! | `I` + stream + `0x00` + first version (u64 BE) | index entry: segment key (u64 LE) + event count (u32 LE) |
//! | `Mhead` | next position (u64 LE), head hash (32), last recorded-at (i64 LE) |
//! | `Mformat` | layout version (1 byte): [`LAYOUT_VERSION`] |
//!
//! Event ids (idempotency) are indexed in files beside the backend (`store::id_index`), not here.
//!
//! A segment is `format u8 | flags u8 | prev_hash [32] | count u32 LE` followed by `count` entries
//! of `len u32 LE | record [len] | hash [32]`, where `hash = BLAKE3(prev_hash || record)` chains
//! across segments. The record is the bincode encoding of [`RecordBody`]; the hash covers exactly
//! the stored bytes, so verification needs no re-encoding and detects any changed byte.
//! Stream ids cannot contain `0x00` (see `validate_stream_id`), which keeps index keys of
//! different streams from interleaving.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types::{Hash, Head, RecordedEvent, Timestamp};
use crate::codec;

pub const SEGMENT_PREFIX: u8 = b'S';
pub const INDEX_PREFIX: u8 = b'I';
pub const HEAD_KEY: &[u8] = b"Mhead";
pub const FORMAT_KEY: &[u8] = b"Mformat";
/// Cluster mode: the sequence (u64, little-endian) of the last commit of the cluster's log
/// applied here, written in the same batch as the commit.
pub const CLUSTER_SEQUENCE_KEY: &[u8] = b"Mcluster_sequence";
/// The layout this build writes and the only one it reads, recorded when a store is created:
/// segments in the backend's value file, event ids in files (`store::id_index`). Versions 1
/// (segments inside sled) and 2 (event ids under `E` keys in sled) are refused at open.
pub const LAYOUT_VERSION: u8 = 3;

pub const SEGMENT_FORMAT: u8 = 1;
pub const SEGMENT_HEADER_LEN: usize = 1 + 1 + 32 + 4;
pub const ENTRY_OVERHEAD: usize = 4 + 32;

/// A group commit is split into segments of about this size, keeping sled values small.
pub const SEGMENT_TARGET_BYTES: usize = 32 * 1024;

/// A malformed stored structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    #[error("segment header is truncated ({0} bytes)")]
    TruncatedHeader(usize),
    #[error("unknown segment format {0}")]
    UnknownFormat(u8),
    #[error("segment flags {0:#04x} are not defined (reserved, must be 0)")]
    UnknownFlags(u8),
    #[error("entry {index} of the segment is truncated")]
    TruncatedEntry { index: u32 },
    #[error("segment has {0} trailing bytes after its last entry")]
    TrailingBytes(usize),
    #[error("record of entry {index} does not decode: {reason}")]
    Record { index: u32, reason: String },
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    #[error("entry {index} claims position {claimed}, but its place in the segment is position {place}")]
    Misplaced { index: u32, claimed: u64, place: u64 },
}

/// Checks that the event decoded from entry `index` of the segment whose key is `first` holds
/// that place's position: a moved or reordered segment must not be served under its key.
fn at_its_place(ev: &RecordedEvent, first: u64, index: usize) -> Result<(), LayoutError> {
    let place = first.wrapping_add(index as u64);
    if ev.position == place {
        Ok(())
    } else {
        Err(LayoutError::Misplaced { index: index as u32, claimed: ev.position, place })
    }
}

/// The hashed part of an event, as stored (borrowed form for encoding).
#[derive(Debug, Serialize)]
pub struct RecordRef<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    // Ids as byte strings: one length byte and a copy, instead of 16 tuple elements.
    #[serde(with = "serde_bytes")]
    pub event_id: [u8; 16],
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub actor: &'a str,
    #[serde(with = "serde_bytes")]
    pub correlation_id: Option<[u8; 16]>,
    #[serde(with = "serde_bytes")]
    pub causation_id: Option<[u8; 16]>,
    #[serde(with = "serde_bytes")]
    pub payload: &'a [u8],
}

/// The hashed part of an event, as stored, decoded without copying strings or the payload.
/// Same field order and types as [`RecordRef`], so both encode identically.
///
/// Records are read with [`RecordBody::decode`], a direct reader of the bytes bincode writes for
/// this one struct; the serde derive stays as the reference it is property-tested against
/// (same value for every input bincode accepts, an error for every input it refuses). One
/// difference is left on purpose: bincode also applies the codec's 16 MiB decode limit, which
/// the reader does not; records are at most 64 KiB, so only a tampered record could be larger,
/// and the reader then decodes it (verification still checks its hash).
#[derive(Deserialize)]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "its fields are read by the tests that hold RecordBody::decode to the serde decoder")
)]
pub struct RecordBody<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    #[serde(with = "serde_bytes")]
    pub event_id: [u8; 16],
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub actor: &'a str,
    #[serde(with = "serde_bytes")]
    pub correlation_id: Option<[u8; 16]>,
    #[serde(with = "serde_bytes")]
    pub causation_id: Option<[u8; 16]>,
    #[serde(with = "serde_bytes")]
    pub payload: &'a [u8],
}

/// Reads the encoding of `codec`'s bincode configuration (little-endian, variable-length
/// integers) field by field. Why by hand: the serde path through bincode was the largest single
/// cost of reading the log (a quarter of a cold `read_all`), for a struct whose shape is fixed by
/// the layout version.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Leading bytes of bincode's variable-length integers: values up to 250 are one byte; these
/// announce a little-endian u16, u32, u64 (u128 and 255 are never valid here).
const VARINT_U16: u8 = 251;
const VARINT_U32: u8 = 252;
const VARINT_U64: u8 = 253;

impl<'a> Reader<'a> {
    fn fail(&self, what: &str) -> codec::CodecError {
        codec::CodecError::Decode(format!("{what} at byte {} of a {}-byte record", self.at, self.bytes.len()))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], codec::CodecError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| self.fail(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], codec::CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u64(&mut self, what: &str) -> Result<u64, codec::CodecError> {
        let lead = self.array::<1>(what)?[0];
        Ok(match lead {
            0..=250 => u64::from(lead),
            VARINT_U16 => u64::from(u16::from_le_bytes(self.array(what)?)),
            VARINT_U32 => u64::from(u32::from_le_bytes(self.array(what)?)),
            VARINT_U64 => u64::from_le_bytes(self.array(what)?),
            _ => return Err(self.fail(what)),
        })
    }

    fn u16(&mut self, what: &str) -> Result<u16, codec::CodecError> {
        let lead = self.array::<1>(what)?[0];
        match lead {
            0..=250 => Ok(u16::from(lead)),
            VARINT_U16 => Ok(u16::from_le_bytes(self.array(what)?)),
            _ => Err(self.fail(what)),
        }
    }

    /// Zigzag over the unsigned form: 0, -1, 1, -2, … are 0, 1, 2, 3, …
    fn i64(&mut self, what: &str) -> Result<i64, codec::CodecError> {
        let n = self.u64(what)?;
        Ok(if n % 2 == 0 { (n / 2) as i64 } else { !(n / 2) as i64 })
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], codec::CodecError> {
        let len = usize::try_from(self.u64(what)?).map_err(|_| self.fail(what))?;
        self.take(len, what)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, codec::CodecError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| self.fail(what))
    }

    /// An id written as a byte string (`serde_bytes`): its length must be 16.
    fn id(&mut self, what: &str) -> Result<[u8; 16], codec::CodecError> {
        self.bytes(what)?.try_into().map_err(|_| self.fail(what))
    }

    fn optional_id(&mut self, what: &str) -> Result<Option<[u8; 16]>, codec::CodecError> {
        match self.array::<1>(what)?[0] {
            0 => Ok(None),
            1 => Ok(Some(self.id(what)?)),
            _ => Err(self.fail(what)),
        }
    }
}

impl<'a> RecordBody<'a> {
    /// The stream of a stored record, reading only the two fields up to it (the rest is not
    /// checked: a record that matters is decoded whole afterwards).
    pub fn stream_of(bytes: &'a [u8]) -> Result<&'a str, codec::CodecError> {
        let mut r = Reader { bytes, at: 0 };
        r.u64("position")?;
        r.str("stream")
    }

    /// Decodes a stored record, which must occupy all of `bytes`; strings and the payload
    /// borrow from it.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "reads decode RawRecord directly; the tests compare this with serde")
    )]
    pub fn decode(bytes: &'a [u8]) -> Result<Self, codec::CodecError> {
        let raw = RawRecord::decode(bytes)?;
        Ok(RecordBody {
            position: raw.position,
            stream: text(raw.stream, "stream")?,
            version: raw.version,
            event_type: text(raw.event_type, "event type")?,
            schema_version: raw.schema_version,
            event_id: raw.event_id,
            occurred_at: raw.occurred_at,
            recorded_at: raw.recorded_at,
            actor: text(raw.actor, "actor")?,
            correlation_id: raw.correlation_id,
            causation_id: raw.causation_id,
            payload: raw.payload,
        })
    }
}

/// A record read field by field with its three strings left as bytes, for [`decode_record`]:
/// a string equal to the one its [`Interner`] holds needs no UTF-8 check again (that check was
/// the largest single item of decoding records in a cold read). [`RecordBody::decode`] checks
/// all three.
struct RawRecord<'a> {
    position: u64,
    stream: &'a [u8],
    version: u64,
    event_type: &'a [u8],
    schema_version: u16,
    event_id: [u8; 16],
    occurred_at: i64,
    recorded_at: i64,
    actor: &'a [u8],
    correlation_id: Option<[u8; 16]>,
    causation_id: Option<[u8; 16]>,
    payload: &'a [u8],
}

impl<'a> RawRecord<'a> {
    /// The fields of a stored record, which must occupy all of `bytes`.
    fn decode(bytes: &'a [u8]) -> Result<Self, codec::CodecError> {
        let mut r = Reader { bytes, at: 0 };
        let raw = RawRecord {
            position: r.u64("position")?,
            stream: r.bytes("stream")?,
            version: r.u64("version")?,
            event_type: r.bytes("event type")?,
            schema_version: r.u16("schema version")?,
            event_id: r.id("event id")?,
            occurred_at: r.i64("occurred at")?,
            recorded_at: r.i64("recorded at")?,
            actor: r.bytes("actor")?,
            correlation_id: r.optional_id("correlation id")?,
            causation_id: r.optional_id("causation id")?,
            payload: r.bytes("payload")?,
        };
        if r.at != bytes.len() {
            return Err(codec::CodecError::TrailingBytes { trailing: bytes.len() - r.at });
        }
        Ok(raw)
    }
}

/// Reuses the `Arc<str>` of strings that repeat from one event to the next while decoding
/// (stream, event type, actor), so a replay allocates once per distinct value, not per event.
#[derive(Default)]
pub struct Interner {
    stream: Option<Arc<str>>,
    actor: Option<Arc<str>>,
    event_types: Vec<Arc<str>>,
}

impl Interner {
    /// The string in `slot` when `bytes` are its bytes (checked for UTF-8 when it was made), else
    /// `bytes` checked and made the new one.
    fn last(slot: &mut Option<Arc<str>>, bytes: &[u8], what: &str) -> Result<Arc<str>, codec::CodecError> {
        match slot {
            Some(a) if a.as_bytes() == bytes => Ok(a.clone()),
            _ => {
                let a: Arc<str> = Arc::from(text(bytes, what)?);
                *slot = Some(a.clone());
                Ok(a)
            }
        }
    }

    fn event_type(&mut self, bytes: &[u8]) -> Result<Arc<str>, codec::CodecError> {
        if let Some(a) = self.event_types.iter().find(|a| a.as_bytes() == bytes) {
            return Ok(a.clone());
        }
        let a: Arc<str> = Arc::from(text(bytes, "event type")?);
        // Event types are few (tens); bound the list anyway.
        if self.event_types.len() < 256 {
            self.event_types.push(a.clone());
        }
        Ok(a)
    }
}

/// `bytes` as text, or the error naming the field.
fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, codec::CodecError> {
    std::str::from_utf8(bytes).map_err(|e| codec::CodecError::Decode(format!("{what} is not UTF-8: {e}")))
}

/// Chains `record` onto `prev`.
pub fn chain_hash(prev: &Hash, record: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(record);
    *h.finalize().as_bytes()
}

pub fn segment_key(first_position: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(SEGMENT_PREFIX);
    k.extend_from_slice(&first_position.to_be_bytes());
    k
}

pub fn parse_segment_key(key: &[u8]) -> Result<u64, LayoutError> {
    match key {
        [SEGMENT_PREFIX, rest @ ..] if rest.len() == 8 => {
            Ok(u64::from_be_bytes(rest.try_into().map_err(|_| LayoutError::Malformed { what: "segment key" })?))
        }
        _ => Err(LayoutError::Malformed { what: "segment key" }),
    }
}

/// `I` + stream + 0x00: the prefix of all index entries of a stream.
pub fn index_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 2);
    k.push(INDEX_PREFIX);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

pub fn index_key(stream: &str, first_version: u64) -> Vec<u8> {
    let mut k = index_prefix(stream);
    k.extend_from_slice(&first_version.to_be_bytes());
    k
}

/// Splits an index key into (stream, first version).
pub fn parse_index_key(key: &[u8]) -> Result<(&str, u64), LayoutError> {
    let bad = LayoutError::Malformed { what: "index key" };
    if key.len() < 1 + 1 + 1 + 8 || key[0] != INDEX_PREFIX {
        return Err(bad);
    }
    let (head, version) = key.split_at(key.len() - 8);
    let stream = match head {
        [INDEX_PREFIX, stream @ .., 0] => stream,
        _ => return Err(bad),
    };
    let stream = std::str::from_utf8(stream).map_err(|_| LayoutError::Malformed { what: "index key" })?;
    let version = u64::from_be_bytes(version.try_into().map_err(|_| LayoutError::Malformed { what: "index key" })?);
    Ok((stream, version))
}

/// Index entry value: which segment holds the stream's events `first_version ..` and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub segment: u64,
    pub count: u32,
}

impl IndexEntry {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(12);
        v.extend_from_slice(&self.segment.to_le_bytes());
        v.extend_from_slice(&self.count.to_le_bytes());
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, LayoutError> {
        let bad = LayoutError::Malformed { what: "index entry" };
        if bytes.len() != 12 {
            return Err(bad);
        }
        let segment = u64::from_le_bytes(bytes[0..8].try_into().map_err(|_| bad.clone())?);
        let count = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| bad)?);
        Ok(Self { segment, count })
    }
}

pub fn encode_head(head: &Head) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&head.next_position.to_le_bytes());
    v.extend_from_slice(&head.hash);
    v.extend_from_slice(&head.last_recorded_at.0.to_le_bytes());
    v
}

pub fn decode_head(bytes: &[u8]) -> Result<Head, LayoutError> {
    let bad = || LayoutError::Malformed { what: "head record" };
    if bytes.len() != 48 {
        return Err(bad());
    }
    let next_position = u64::from_le_bytes(bytes[0..8].try_into().map_err(|_| bad())?);
    let hash: Hash = bytes[8..40].try_into().map_err(|_| bad())?;
    let last = i64::from_le_bytes(bytes[40..48].try_into().map_err(|_| bad())?);
    Ok(Head { next_position, hash, last_recorded_at: Timestamp(last) })
}

/// Builds one segment value.
#[derive(Debug)]
pub struct SegmentBuilder {
    pub first_position: u64,
    buf: Vec<u8>,
    count: u32,
}

impl SegmentBuilder {
    pub fn new(first_position: u64, prev_hash: &Hash) -> Self {
        let mut buf = Vec::with_capacity(SEGMENT_TARGET_BYTES + 1024);
        buf.push(SEGMENT_FORMAT);
        buf.push(0); // flags: reserved (compression)
        buf.extend_from_slice(prev_hash);
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self { first_position, buf, count: 0 }
    }

    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn push(&mut self, record: &[u8], hash: &Hash) {
        // Records are bounded by MAX_EVENT_BYTES, far below u32::MAX.
        self.buf.extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(record);
        self.buf.extend_from_slice(hash);
        self.count += 1;
    }

    pub fn finish(mut self) -> (u64, Vec<u8>) {
        self.buf[34..38].copy_from_slice(&self.count.to_le_bytes());
        (self.first_position, self.buf)
    }
}

/// A parsed segment: header and the byte ranges of its entries (no record decoded yet).
#[derive(Debug)]
pub struct SegmentView<'a> {
    pub prev_hash: Hash,
    pub entries: Vec<(&'a [u8], Hash)>,
}

impl<'a> SegmentView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, LayoutError> {
        if bytes.len() < SEGMENT_HEADER_LEN {
            return Err(LayoutError::TruncatedHeader(bytes.len()));
        }
        if bytes[0] != SEGMENT_FORMAT {
            return Err(LayoutError::UnknownFormat(bytes[0]));
        }
        // The flags byte is outside the hash chain, so it must hold exactly what format 1 defines.
        if bytes[1] != 0 {
            return Err(LayoutError::UnknownFlags(bytes[1]));
        }
        let prev_hash: Hash = bytes[2..34].try_into().map_err(|_| LayoutError::TruncatedHeader(bytes.len()))?;
        let count =
            u32::from_le_bytes(bytes[34..38].try_into().map_err(|_| LayoutError::TruncatedHeader(bytes.len()))?);
        let mut entries = Vec::with_capacity(count.min(65_536) as usize);
        let mut at = SEGMENT_HEADER_LEN;
        for index in 0..count {
            let truncated = LayoutError::TruncatedEntry { index };
            let len_bytes = bytes.get(at..at + 4).ok_or(truncated.clone())?;
            let len = u32::from_le_bytes(len_bytes.try_into().map_err(|_| truncated.clone())?) as usize;
            at += 4;
            let record = bytes.get(at..at.checked_add(len).ok_or(truncated.clone())?).ok_or(truncated.clone())?;
            at += len;
            let hash: Hash = bytes.get(at..at + 32).ok_or(truncated.clone())?.try_into().map_err(|_| truncated)?;
            at += 32;
            entries.push((record, hash));
        }
        if at != bytes.len() {
            return Err(LayoutError::TrailingBytes(bytes.len() - at));
        }
        Ok(Self { prev_hash, entries })
    }
}

/// Encodes the hashed record of an event.
pub fn encode_record(r: &RecordRef<'_>) -> Result<Vec<u8>, codec::CodecError> {
    codec::encode(r)
}

/// Decodes a stored record into an envelope, given its chain links.
pub fn decode_record(
    record: &[u8],
    prev_hash: Hash,
    hash: Hash,
    strings: &mut Interner,
) -> Result<RecordedEvent, codec::CodecError> {
    let body = RawRecord::decode(record)?;
    Ok(RecordedEvent {
        position: body.position,
        stream: Interner::last(&mut strings.stream, body.stream, "stream")?,
        version: body.version,
        event_type: strings.event_type(body.event_type)?,
        schema_version: body.schema_version,
        event_id: Uuid::from_bytes(body.event_id),
        occurred_at: Timestamp(body.occurred_at),
        recorded_at: Timestamp(body.recorded_at),
        actor: Interner::last(&mut strings.actor, body.actor, "actor")?,
        correlation_id: body.correlation_id.map(Uuid::from_bytes),
        causation_id: body.causation_id.map(Uuid::from_bytes),
        payload: body.payload.to_vec(),
        prev_hash,
        hash,
    })
}

/// Decodes every event of a segment value, whatever key it is stored under (no position
/// check: for tools and tests; the store reads through `decode_segment_into`).
pub fn decode_segment(bytes: &[u8]) -> Result<Vec<RecordedEvent>, LayoutError> {
    let view = SegmentView::parse(bytes)?;
    let mut out = Vec::with_capacity(view.entries.len());
    let mut prev = view.prev_hash;
    let mut strings = Interner::default();
    for (index, (record, hash)) in view.entries.into_iter().enumerate() {
        out.push(
            decode_record(record, prev, hash, &mut strings)
                .map_err(|e| LayoutError::Record { index: index as u32, reason: e.to_string() })?,
        );
        prev = hash;
    }
    Ok(out)
}

/// Decodes the entries of the segment value whose key is `first`, from index `skip`, at most
/// `max` of them, onto the end of `out`; each must hold its place's position
/// ([`LayoutError::Misplaced`]). Entries outside the range are not decoded (a page boundary
/// usually falls inside a segment), and the events go straight into the caller's vector: a
/// page read moves each event once.
pub fn decode_segment_into(
    bytes: &[u8],
    first: u64,
    skip: usize,
    max: usize,
    strings: &mut Interner,
    out: &mut Vec<RecordedEvent>,
) -> Result<(), LayoutError> {
    let view = SegmentView::parse(bytes)?;
    let mut prev = match skip.checked_sub(1) {
        None => view.prev_hash,
        Some(i) => match view.entries.get(i) {
            Some((_, hash)) => *hash,
            None => return Ok(()),
        },
    };
    for (index, (record, hash)) in view.entries.into_iter().enumerate().skip(skip).take(max) {
        let ev = decode_record(record, prev, hash, strings)
            .map_err(|e| LayoutError::Record { index: index as u32, reason: e.to_string() })?;
        at_its_place(&ev, first, index)?;
        prev = hash;
        out.push(ev);
    }
    Ok(())
}

/// Decodes the events of `stream` in the segment value whose key is `first` onto the end of
/// `out`; the records of other streams are only peeked at (a segment holds a whole group
/// commit, often of many streams, while a stream read wants one). Each decoded event must hold
/// its place's position ([`LayoutError::Misplaced`]).
pub fn decode_stream_events(
    bytes: &[u8],
    first: u64,
    stream: &str,
    strings: &mut Interner,
    out: &mut Vec<RecordedEvent>,
) -> Result<(), LayoutError> {
    let view = SegmentView::parse(bytes)?;
    let mut prev = view.prev_hash;
    for (index, (record, hash)) in view.entries.into_iter().enumerate() {
        let failed = |e: codec::CodecError| LayoutError::Record { index: index as u32, reason: e.to_string() };
        if RecordBody::stream_of(record).map_err(failed)? == stream {
            let ev = decode_record(record, prev, hash, strings).map_err(failed)?;
            at_its_place(&ev, first, index)?;
            out.push(ev);
        }
        prev = hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fields =
        (u64, String, u64, String, u16, [u8; 16], i64, i64, String, Option<[u8; 16]>, Option<[u8; 16]>, Vec<u8>);

    fn fields(b: &RecordBody<'_>) -> Fields {
        (
            b.position,
            b.stream.to_string(),
            b.version,
            b.event_type.to_string(),
            b.schema_version,
            b.event_id,
            b.occurred_at,
            b.recorded_at,
            b.actor.to_string(),
            b.correlation_id,
            b.causation_id,
            b.payload.to_vec(),
        )
    }

    fn recorded_fields(e: &RecordedEvent) -> Fields {
        (
            e.position,
            e.stream.to_string(),
            e.version,
            e.event_type.to_string(),
            e.schema_version,
            *e.event_id.as_bytes(),
            e.occurred_at.0,
            e.recorded_at.0,
            e.actor.to_string(),
            e.correlation_id.map(|u| *u.as_bytes()),
            e.causation_id.map(|u| *u.as_bytes()),
            e.payload.clone(),
        )
    }

    /// What the hand reader must match: bincode's own serde decoder for the same struct.
    fn reference(bytes: &[u8]) -> Option<Fields> {
        codec::decode_borrowed::<RecordBody<'_>>(bytes).ok().map(|b| fields(&b))
    }

    fn any_record() -> impl Strategy<Value = Fields> {
        // Integers across every varint width, strings with multi-byte characters.
        let int = prop_oneof![0u64..=250, 251u64..=65_535, 65_536u64..=u32::MAX as u64, any::<u64>()];
        let small = prop_oneof![0i64..300, -300i64..0, any::<i64>()];
        (
            (int.clone(), "[a-z0-9:-]{1,12}|安全-[0-9]{1,3}", int, "[a-z.]{1,20}", any::<u16>(), any::<[u8; 16]>()),
            (small.clone(), small, ".{0,8}", any::<Option<[u8; 16]>>(), any::<Option<[u8; 16]>>()),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|((p, s, v, t, sv, id), (o, r, a, c, k), payload)| (p, s, v, t, sv, id, o, r, a, c, k, payload))
    }

    fn encode_fields(f: &Fields) -> Vec<u8> {
        encode_record(&RecordRef {
            position: f.0,
            stream: &f.1,
            version: f.2,
            event_type: &f.3,
            schema_version: f.4,
            event_id: f.5,
            occurred_at: f.6,
            recorded_at: f.7,
            actor: &f.8,
            correlation_id: f.9,
            causation_id: f.10,
            payload: &f.11,
        })
        .unwrap()
    }

    /// Seven events of two interleaved streams in one segment starting at position 10.
    fn two_stream_segment() -> Vec<u8> {
        let mut prev = [0u8; 32];
        let mut b = SegmentBuilder::new(10, &prev);
        for i in 0..7u64 {
            let rec = RecordRef {
                position: 10 + i,
                stream: if i % 3 == 0 { "s-a" } else { "s-b" },
                version: i,
                event_type: "t.x",
                schema_version: 1,
                event_id: [i as u8; 16],
                occurred_at: 0,
                recorded_at: 0,
                actor: "a",
                correlation_id: None,
                causation_id: None,
                payload: b"p",
            };
            let bytes = encode_record(&rec).unwrap();
            let h = chain_hash(&prev, &bytes);
            b.push(&bytes, &h);
            prev = h;
        }
        b.finish().1
    }

    /// A read starting or stopping inside a segment gets exactly the events (with their chain
    /// links) a whole-segment decode gives for that range.
    #[test]
    fn partial_and_per_stream_decodes_equal_the_whole_segment_decode() {
        let seg = two_stream_segment();
        let all = decode_segment(&seg).unwrap();
        for skip in 0..10usize {
            for max in [0usize, 1, 2, 6, usize::MAX] {
                let mut out = Vec::new();
                decode_segment_into(&seg, 10, skip, max, &mut Interner::default(), &mut out).unwrap();
                let want: Vec<_> = all.iter().skip(skip).take(max).cloned().collect();
                assert_eq!(out, want, "skip {skip}, max {max}");
            }
        }
        for stream in ["s-a", "s-b", "s-c"] {
            let mut out = Vec::new();
            decode_stream_events(&seg, 10, stream, &mut Interner::default(), &mut out).unwrap();
            let want: Vec<_> = all.iter().filter(|e| &*e.stream == stream).cloned().collect();
            assert_eq!(out, want, "{stream}");
        }
        // The same bytes under another key (a moved segment) are refused.
        let moved = decode_stream_events(&seg, 15, "s-a", &mut Interner::default(), &mut Vec::new());
        assert_eq!(moved, Err(LayoutError::Misplaced { index: 0, claimed: 10, place: 15 }));
        let moved = decode_segment_into(&seg, 15, 2, 3, &mut Interner::default(), &mut Vec::new());
        assert_eq!(moved, Err(LayoutError::Misplaced { index: 2, claimed: 12, place: 17 }));
        // A length prefix of u64::MAX is refused, not trusted.
        let mut huge = vec![0u8, VARINT_U64];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(RecordBody::decode(&huge).is_err());
        assert!(RecordBody::stream_of(&huge).is_err());
    }

    proptest! {
        #[test]
        fn the_record_reader_decodes_what_bincode_encodes(f in any_record()) {
            let bytes = encode_fields(&f);
            let body = RecordBody::decode(&bytes).unwrap();
            prop_assert_eq!(&fields(&body), &f);
            prop_assert_eq!(RecordBody::stream_of(&bytes).unwrap(), f.1.as_str());
            prop_assert_eq!(Some(fields(&body)), reference(&bytes));
        }

        /// Damaged records (bytes changed, cut, inserted) and arbitrary bytes: the reader accepts
        /// exactly what bincode accepts, with the same values, and never panics.
        #[test]
        fn the_record_reader_agrees_with_bincode_on_damaged_bytes(
            f in any_record(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
            noise in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = encode_fields(&f);
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
            }
            // `decode_record` reads through an interner; warmed with the undamaged record's
            // strings, it must still agree (strings equal to the interned ones skip the UTF-8
            // check, any other is checked).
            let mut strings = Interner::default();
            decode_record(&encode_fields(&f), [0; 32], [0; 32], &mut strings).unwrap();
            for input in [&bytes[..], &noise[..]] {
                let ours = RecordBody::decode(input).ok().map(|b| fields(&b));
                prop_assert_eq!(&ours, &reference(input));
                let interned = decode_record(input, [0; 32], [0; 32], &mut strings).ok().map(|e| recorded_fields(&e));
                prop_assert_eq!(interned, ours);
            }
        }
    }

    /// `v` as a bincode varint of a chosen width (0: one byte, 1: u16, 2: u32, 3: u64), also the
    /// wider, non-canonical ones bincode's encoder never writes; `None` if `v` does not fit.
    fn varint(v: u64, width: u8) -> Option<Vec<u8>> {
        match width {
            0 => (v <= 250).then(|| vec![v as u8]),
            1 => u16::try_from(v).ok().map(|x| [&[VARINT_U16][..], &x.to_le_bytes()].concat()),
            2 => u32::try_from(v).ok().map(|x| [&[VARINT_U32][..], &x.to_le_bytes()].concat()),
            _ => Some([&[VARINT_U64][..], &v.to_le_bytes()].concat()),
        }
    }

    fn zigzag(v: i64) -> u64 {
        ((v << 1) ^ (v >> 63)) as u64
    }

    proptest! {
        /// Every integer field written at every width: the reader takes the wide forms of u64
        /// and i64 fields as bincode does and refuses u32/u64 forms of the u16 schema version.
        #[test]
        fn the_record_reader_agrees_with_bincode_on_every_integer_width(
            f in any_record(),
            widths in proptest::array::uniform5(0u8..4),
        ) {
            let canonical = encode_fields(&f);
            let len = |n: usize| varint(n as u64, 0).or_else(|| varint(n as u64, 1)).or_else(|| varint(n as u64, 2)).unwrap();
            let parts: Option<Vec<Vec<u8>>> = (|| {
                let id = |i: &[u8; 16]| [&len(16)[..], i].concat();
                let opt = |o: &Option<[u8; 16]>| match o { None => vec![0], Some(i) => [&[1u8][..], &id(i)].concat() };
                Some(vec![
                    varint(f.0, widths[0])?,
                    [len(f.1.len()), f.1.as_bytes().to_vec()].concat(),
                    varint(f.2, widths[1])?,
                    [len(f.3.len()), f.3.as_bytes().to_vec()].concat(),
                    varint(u64::from(f.4), widths[2])?,
                    id(&f.5),
                    varint(zigzag(f.6), widths[3])?,
                    varint(zigzag(f.7), widths[4])?,
                    [len(f.8.len()), f.8.as_bytes().to_vec()].concat(),
                    opt(&f.9),
                    opt(&f.10),
                    [len(f.11.len()), f.11.clone()].concat(),
                ])
            })();
            let Some(parts) = parts else { return Ok(()) };
            let bytes = parts.concat();
            let ours = RecordBody::decode(&bytes).ok().map(|b| fields(&b));
            prop_assert_eq!(&ours, &reference(&bytes));
            if widths == [0; 5] || bytes == canonical {
                prop_assert_eq!(ours, Some(f));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Every varint lead byte and option tag, written over and inserted at every offset: the
        /// cases random edits rarely hit (a wider integer where a narrow one belongs, tag 2).
        #[test]
        fn the_record_reader_agrees_with_bincode_on_every_lead_byte_at_every_offset(f in any_record()) {
            let bytes = encode_fields(&f);
            for i in 0..bytes.len() {
                for lead in [0u8, 1, 2, 250, 251, 252, 253, 254, 255] {
                    let mut over = bytes.clone();
                    over[i] = lead;
                    let mut inserted = bytes.clone();
                    inserted.insert(i, lead);
                    for input in [over, inserted] {
                        let ours = RecordBody::decode(&input).ok().map(|b| fields(&b));
                        prop_assert_eq!(ours, reference(&input), "lead {} at {}", lead, i);
                    }
                }
            }
        }
    }

    #[test]
    fn index_keys_round_trip_and_sort_by_stream_then_version() {
        let k = index_key("hazard-1", 300);
        assert_eq!(parse_index_key(&k).unwrap(), ("hazard-1", 300));
        assert!(index_key("a", u64::MAX) < index_key("a-", 0));
        assert!(index_key("a", 1) < index_key("a", 256));
    }

    #[test]
    fn segment_round_trip_and_truncation_is_detected() {
        let rec = RecordRef {
            position: 7,
            stream: "s-1",
            version: 0,
            event_type: "t.x",
            schema_version: 1,
            event_id: [1; 16],
            occurred_at: 5,
            recorded_at: 6,
            actor: "a",
            correlation_id: None,
            causation_id: Some([2; 16]),
            payload: b"hello",
        };
        let bytes = encode_record(&rec).unwrap();
        let h = chain_hash(&[0; 32], &bytes);
        let mut b = SegmentBuilder::new(7, &[0; 32]);
        b.push(&bytes, &h);
        let (first, seg) = b.finish();
        assert_eq!(first, 7);
        let evs = decode_segment(&seg).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].payload, b"hello");
        assert_eq!(&*evs[0].stream, "s-1");
        assert_eq!(evs[0].hash, h);
        for cut in 0..seg.len() {
            assert!(decode_segment(&seg[..cut]).is_err(), "truncated at {cut} must fail");
        }
    }
}
