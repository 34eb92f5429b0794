//! What the single writer needs from a replicated log (cluster mode): [`Replication`] publishes a
//! group commit as one message before the writer applies it, and [`plan_commit`] checks a
//! commit published by another node and turns it into the batch this node applies.
//!
//! A commit message is `ANQCMT01`, a u32 count of segments, then for each segment its first
//! position (u64), its length (u32) and the segment value exactly as the store writes it
//! (little-endian integers). Every node therefore holds byte-identical segments, the same
//! positions and the same hash chain.
//!
//! Invariants:
//! - A commit is published before anything of it is written locally; a refused or unknown
//!   publish writes nothing and fails the whole group.
//! - A commit is applied only if it starts at this replica's next position, links to its head
//!   hash and every record's hash recomputes; anything else is a replica that disagrees with the
//!   cluster ([`CommitProblem::Mismatch`]), never served.
//! - This file knows no transport: the `cluster` feature brings one (`store::replica`).

use std::collections::HashMap;
use std::sync::Arc;

use super::layout::{self, IndexEntry, Interner, SegmentView};
use super::types::{Head, RecordedEvent};

/// The first bytes of every commit message.
pub const COMMIT_MAGIC: &[u8; 8] = b"ANQCMT01";

/// Bytes a commit message adds around its segments: magic and count, then per segment its
/// position and length.
pub(crate) const COMMIT_OVERHEAD: usize = 8 + 4;
pub(crate) const SEGMENT_FRAME_OVERHEAD: usize = 8 + 4;

/// A replicated log the writer publishes its commits to.
pub trait Replication: Send + Sync + std::fmt::Debug {
    /// The largest commit message the log accepts, in bytes.
    fn max_commit_bytes(&self) -> usize;

    /// Publishes one commit, fenced: it must land right after `expected_last` (the sequence of
    /// the last commit this node applied), under the message id `commit_id`. Returns the
    /// commit's sequence. When the publisher cannot tell whether it landed, it finds out
    /// before answering.
    fn publish_commit(&self, commit: Vec<u8>, expected_last: u64, commit_id: &str) -> Result<u64, ReplicationError>;
}

/// Why a commit was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// The log holds commits this node has not applied yet; retry once it has.
    #[error("another node committed first ({detail}); retry")]
    Stale { detail: String },
    #[error("the commit was not replicated: {detail}")]
    Failed { detail: String, retryable: bool },
}

/// The message id of the commit that starts at `first_position` and ends at `head_hash`.
pub(crate) fn commit_id(first_position: u64, head_hash: &[u8; 32]) -> String {
    let mut id = format!("anquan-{first_position}-");
    for b in &head_hash[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// The commit message of `segments` (first position, segment value).
pub(crate) fn encode_commit(segments: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let size = COMMIT_OVERHEAD + segments.iter().map(|(_, s)| SEGMENT_FRAME_OVERHEAD + s.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(COMMIT_MAGIC);
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    for (first, bytes) in segments {
        out.extend_from_slice(&first.to_le_bytes());
        // A segment is about 32 KiB plus one record of at most 64 KiB.
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// The segments of a commit message, or why it is not one.
pub(crate) fn decode_commit(bytes: &[u8]) -> Result<Vec<(u64, &[u8])>, String> {
    let rest = bytes.strip_prefix(COMMIT_MAGIC.as_slice()).ok_or("it does not start with ANQCMT01")?;
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if rest.len() < n {
            return Err(format!("it ends {} bytes early", n - rest.len()));
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    let mut rest = rest;
    let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "bad count")?);
    let mut out = Vec::new();
    for _ in 0..count {
        let first = u64::from_le_bytes(take(&mut rest, 8)?.try_into().map_err(|_| "bad position")?);
        let len = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "bad length")?) as usize;
        if rest.len() < len {
            return Err(format!("segment {first} ends {} bytes early", len - rest.len()));
        }
        let (segment, tail) = rest.split_at(len);
        out.push((first, segment));
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes follow its last segment", rest.len()));
    }
    if out.is_empty() {
        return Err("it holds no segment".into());
    }
    Ok(out)
}

/// Why a commit message cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommitProblem {
    /// Not a commit at all (another writer's message on the subject): skipped, never applied.
    NotACommit(String),
    /// A well-formed commit that does not continue this replica's log.
    Mismatch(String),
}

/// A checked commit: what the writer writes and publishes for it.
pub(crate) struct CommitPlan {
    pub segments: Vec<(u64, Vec<u8>)>,
    pub index_runs: Vec<(Arc<str>, u64, IndexEntry)>,
    pub stream_next: HashMap<Arc<str>, u64>,
    pub events: Vec<RecordedEvent>,
    pub head: Head,
}

/// Index runs of a group: consecutive events of one stream inside one segment share an entry.
#[derive(Default)]
pub(crate) struct IndexRuns {
    pub runs: Vec<(Arc<str>, u64, IndexEntry)>,
    /// Stream -> index of its last run in `runs`.
    last_run: HashMap<Arc<str>, usize>,
}

impl IndexRuns {
    /// Adds the event of `stream` at `version`, stored in the segment starting at `segment`.
    pub fn add(&mut self, stream: &Arc<str>, version: u64, segment: u64) {
        match self.last_run.get(stream).copied() {
            Some(r) if self.runs[r].2.segment == segment => self.runs[r].2.count += 1,
            _ => {
                self.last_run.insert(stream.clone(), self.runs.len());
                self.runs.push((stream.clone(), version, IndexEntry { segment, count: 1 }));
            }
        }
    }
}

/// Checks that `bytes` is a commit continuing `head` (positions, links, every hash), and plans
/// its batch. `next_version` gives a stream's next version before this commit.
pub(crate) fn plan_commit(
    head: &Head,
    bytes: &[u8],
    mut next_version: impl FnMut(&str) -> Result<u64, String>,
) -> Result<CommitPlan, CommitProblem> {
    let segments = decode_commit(bytes).map_err(|e| CommitProblem::NotACommit(format!("not a commit: {e}")))?;
    let mismatch = CommitProblem::Mismatch;
    let mut next_position = head.next_position;
    let mut prev = head.hash;
    let mut last_recorded_at = head.last_recorded_at;
    let mut events = Vec::new();
    let mut runs = IndexRuns::default();
    let mut stream_next: HashMap<Arc<str>, u64> = HashMap::new();
    let mut strings = Interner::default();
    for (first, segment) in &segments {
        if *first != next_position {
            return Err(mismatch(format!(
                "the commit's segment starts at position {first}, this replica's next position is {next_position}"
            )));
        }
        let view = SegmentView::parse(segment).map_err(|e| mismatch(format!("segment {first}: {e}")))?;
        if view.prev_hash != prev {
            return Err(mismatch(format!(
                "the commit at position {first} links to another hash than this replica's head"
            )));
        }
        for (record, hash) in view.entries {
            if layout::chain_hash(&prev, record) != hash {
                return Err(mismatch(format!(
                    "the record at position {next_position} does not hash to its stored hash"
                )));
            }
            let event = layout::decode_record(record, prev, hash, &mut strings)
                .map_err(|e| mismatch(format!("the record at position {next_position}: {e}")))?;
            if event.position != next_position {
                return Err(mismatch(format!("the record at position {next_position} says {}", event.position)));
            }
            let expected_version = match stream_next.get(&event.stream) {
                Some(v) => *v,
                None => next_version(&event.stream).map_err(mismatch)?,
            };
            if event.version != expected_version {
                return Err(mismatch(format!(
                    "the record at position {next_position} has version {} of stream {}, this replica expects {expected_version}",
                    event.version, event.stream
                )));
            }
            runs.add(&event.stream, event.version, *first);
            stream_next.insert(event.stream.clone(), event.version + 1);
            last_recorded_at = last_recorded_at.max(event.recorded_at);
            prev = hash;
            next_position += 1;
            events.push(event);
        }
    }
    Ok(CommitPlan {
        segments: segments.into_iter().map(|(first, s)| (first, s.to_vec())).collect(),
        index_runs: runs.runs,
        stream_next,
        events,
        head: Head { next_position, hash: prev, last_recorded_at },
    })
}

/// An upper bound of the bytes `events` take in a commit message: each record's fields, its
/// framing, and a segment header per event at worst.
pub(crate) fn commit_bytes_bound(appends: &[super::types::StreamAppend]) -> usize {
    const PER_EVENT: usize = 256;
    appends
        .iter()
        .map(|a| {
            a.events
                .iter()
                .map(|e| PER_EVENT + a.stream.len() + e.event_type.len() + e.actor.len() + e.payload.len())
                .sum::<usize>()
        })
        .sum::<usize>()
        + COMMIT_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_message_round_trips_and_refuses_damage() {
        let segments = vec![(5u64, vec![1u8, 2, 3]), (9, vec![4u8; 10])];
        let bytes = encode_commit(&segments);
        let back = decode_commit(&bytes).unwrap();
        assert_eq!(back, vec![(5u64, &[1u8, 2, 3][..]), (9, &[4u8; 10][..])]);
        assert!(decode_commit(&bytes[..bytes.len() - 1]).unwrap_err().contains("early"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_commit(&longer).unwrap_err().contains("follow"));
        assert!(decode_commit(b"ANQCMT02\0\0\0\0").unwrap_err().contains("ANQCMT01"));
    }
}
