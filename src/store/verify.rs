//! `verify`: an auditor's walk over the whole log.
//!
//! Checks, in position order: segments are contiguous from 0; every entry frames correctly;
//! every hash equals BLAKE3(previous hash || stored record) (so any modified, deleted,
//! reordered or inserted event breaks the chain at its position); each record's own position
//! matches where it sits; stream versions are gapless; the head record matches the end. Then
//! the two indexes are compared with what the log implies, as order-independent digests; on a
//! mismatch a second pass names the first disagreeing entry.

use std::collections::{BTreeMap, HashMap};

use super::error::StoreError;
use super::layout::{self, IndexEntry, SegmentView};
use super::shared::Shared;
use super::types::{Head, GENESIS_HASH};
use crate::storage::{prefix_bounds, StorageError};

/// The result of [`super::EventStore::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Events walked.
    pub events: u64,
    pub segments: u64,
    pub streams: u64,
    /// The head as recomputed from the log (hash to notarise).
    pub computed_head_hash: String,
    /// The head as recorded by the writer.
    pub recorded_head: Head,
    /// The first problem found, if any.
    pub problem: Option<IntegrityProblem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Where and what the first integrity problem is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IntegrityProblem {
    /// The first bad position.
    pub position: u64,
    pub detail: String,
}

fn digest(parts: &[&[u8]]) -> u128 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let bytes = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&bytes.as_bytes()[..16]);
    u128::from_le_bytes(first)
}

fn index_digest(stream: &str, first_version: u64, entry: &IndexEntry) -> u128 {
    digest(&[stream.as_bytes(), &first_version.to_le_bytes(), &entry.encode()])
}

fn id_digest(id: &[u8], position: u64) -> u128 {
    digest(&[id, &position.to_be_bytes()])
}

/// Expected index entries of one segment: stream -> (first version, count), in the order seen.
type Runs = BTreeMap<String, (u64, u32)>;

pub(crate) fn verify(shared: &Shared) -> Result<VerifyReport, StoreError> {
    // Only what is visible counts: the writer may already have applied later groups (segments
    // and index entries beyond the visible end) that are still being made durable.
    let (recorded_head, visible) = shared.head_and_visible();
    let mut report = VerifyReport {
        events: 0,
        segments: 0,
        streams: 0,
        computed_head_hash: String::new(),
        recorded_head,
        problem: None,
    };
    let problem = |position: u64, detail: String| Some(IntegrityProblem { position, detail });

    let mut expected = 0u64;
    let mut prev = GENESIS_HASH;
    let mut stream_next: HashMap<String, u64> = HashMap::new();
    let (mut want_index, mut want_index_n) = (0u128, 0u64);
    let (mut want_ids, mut want_ids_n) = (0u128, 0u64);

    let (lo, _) = prefix_bounds(&[layout::SEGMENT_PREFIX]);
    let hi = std::ops::Bound::Excluded(layout::segment_key(visible));
    'walk: for item in shared.backend.scan(lo, hi, false) {
        let (k, v) = match item {
            Ok(kv) => kv,
            // A segment whose stored bytes cannot be reached (a damaged pointer): the scan is
            // in key order, so it is the next segment, at `expected` if the log is whole.
            Err(StorageError::Damaged { key, detail }) => {
                let at = layout::parse_segment_key(&key).map_or(expected, |first| first.min(expected));
                report.problem = problem(at, format!("segment at position {at} cannot be read: {detail}"));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let first = match layout::parse_segment_key(&k) {
            Ok(f) => f,
            Err(e) => {
                report.problem = problem(expected, format!("malformed segment key: {e}"));
                break;
            }
        };
        if first != expected {
            report.problem =
                problem(expected, format!("position {expected} is missing: the next segment starts at {first}"));
            break;
        }
        let view = match SegmentView::parse(&v) {
            Ok(view) => view,
            Err(e) => {
                let at = match &e {
                    layout::LayoutError::TruncatedEntry { index } | layout::LayoutError::Record { index, .. } => {
                        first + *index as u64
                    }
                    _ => first,
                };
                report.problem = problem(at, format!("segment starting at {first} is damaged: {e}"));
                break;
            }
        };
        if view.prev_hash != prev {
            report.problem = problem(first, "segment header's previous hash does not continue the chain".into());
            break;
        }
        report.segments += 1;
        let mut runs: Runs = BTreeMap::new();
        for (i, (record, hash)) in view.entries.iter().enumerate() {
            let position = first + i as u64;
            if layout::chain_hash(&prev, record) != *hash {
                report.problem = problem(position, "hash mismatch: the event's bytes or its link were altered".into());
                break 'walk;
            }
            let mut cache = layout::Interner::default();
            let ev = match layout::decode_record(record, prev, *hash, &mut cache) {
                Ok(ev) => ev,
                Err(e) => {
                    report.problem = problem(position, format!("record does not decode: {e}"));
                    break 'walk;
                }
            };
            if ev.position != position {
                report.problem =
                    problem(position, format!("record claims position {} (moved or reordered)", ev.position));
                break 'walk;
            }
            let next = stream_next.entry(ev.stream.to_string()).or_insert(0);
            if ev.version != *next {
                report.problem = problem(
                    position,
                    format!(
                        "stream {} jumps from version {} to {}",
                        ev.stream,
                        next.wrapping_sub(1) as i64,
                        ev.version
                    ),
                );
                break 'walk;
            }
            *next += 1;
            runs.entry(ev.stream.to_string()).and_modify(|r| r.1 += 1).or_insert((ev.version, 1));
            want_ids = want_ids.wrapping_add(id_digest(ev.event_id.as_bytes(), position));
            want_ids_n += 1;
            prev = *hash;
        }
        for (stream, (first_version, count)) in &runs {
            want_index = want_index.wrapping_add(index_digest(
                stream,
                *first_version,
                &IndexEntry { segment: first, count: *count },
            ));
            want_index_n += 1;
        }
        expected = first + view.entries.len() as u64;
    }
    report.events = expected;
    report.streams = stream_next.len() as u64;
    report.computed_head_hash = super::types::to_hex(&prev);
    if report.problem.is_some() {
        return Ok(report);
    }
    if expected != visible || recorded_head.next_position != expected || recorded_head.hash != prev {
        report.problem = problem(
            expected.min(recorded_head.next_position),
            format!(
                "the log ends at position {expected} but the head record says {} (hash {})",
                recorded_head.next_position,
                recorded_head.hash_hex()
            ),
        );
        return Ok(report);
    }

    // Indexes. Entries beyond the visible end belong to groups still being made durable; they
    // must all lie below the applied end, read after the scans (the writer only moves it on).
    let mut beyond: Option<u64> = None;
    let (mut got_index, mut got_index_n) = (0u128, 0u64);
    let (ilo, ihi) = prefix_bounds(&[layout::INDEX_PREFIX]);
    for item in shared.backend.scan(ilo, ihi, false) {
        let (k, v) = item?;
        match (layout::parse_index_key(&k), IndexEntry::decode(&v)) {
            (Ok(_), Ok(entry)) if entry.segment >= visible => beyond = beyond.max(Some(entry.segment)),
            (Ok((stream, first_version)), Ok(entry)) => {
                got_index = got_index.wrapping_add(index_digest(stream, first_version, &entry));
                got_index_n += 1;
            }
            _ => {
                report.problem = problem(0, "malformed stream-index entry".into());
                return Ok(report);
            }
        }
    }
    if (got_index, got_index_n) != (want_index, want_index_n) {
        report.problem = Some(locate_index_problem(shared, visible)?);
        return Ok(report);
    }
    let (mut got_ids, mut got_ids_n) = (0u128, 0u64);
    let mut take = |id: &[u8], pos: u64| {
        if pos >= visible {
            beyond = beyond.max(Some(pos)); // an event still being made durable, if below the applied end
            return;
        }
        got_ids = got_ids.wrapping_add(id_digest(id, pos));
        got_ids_n += 1;
    };
    match shared.ids.for_each(|id, pos| take(id, pos)) {
        Ok(()) => {}
        Err(e @ super::id_index::IdIndexError::Repeated { second, .. }) => {
            report.problem = problem(second, e.to_string());
            return Ok(report);
        }
        Err(e) => {
            report.problem = problem(0, format!("the event-id index cannot be read: {e}"));
            return Ok(report);
        }
    }
    if (got_ids, got_ids_n) != (want_ids, want_ids_n) {
        report.problem = Some(locate_id_problem(shared, visible)?);
        return Ok(report);
    }
    if let Some(p) = beyond {
        let applied_end = match shared.backend.get(layout::HEAD_KEY)? {
            Some(bytes) => layout::decode_head(&bytes).map(|h| h.next_position).unwrap_or(0),
            None => 0,
        };
        if p >= applied_end {
            report.problem =
                problem(p, format!("an index names position {p}, beyond the end of the log ({applied_end})"));
        }
    }
    Ok(report)
}

/// Second pass after an index digest mismatch: compare entry by entry.
fn locate_index_problem(shared: &Shared, visible: u64) -> Result<IntegrityProblem, StoreError> {
    let mut want: BTreeMap<(String, u64), IndexEntry> = BTreeMap::new();
    let events = shared.read_all(0, super::Direction::Forward, visible as usize)?;
    for ev in &events {
        let seg_first = segment_of(shared, ev.position)?;
        let key = (ev.stream.to_string(), ev.version);
        // Merge into the run that started earlier in the same segment.
        let run_start = want
            .range((ev.stream.to_string(), 0)..=key.clone())
            .next_back()
            .filter(|((s, v), e)| *s == *ev.stream && e.segment == seg_first && v + e.count as u64 == ev.version)
            .map(|(k, _)| k.clone());
        match run_start {
            Some(k) => {
                if let Some(e) = want.get_mut(&k) {
                    e.count += 1;
                }
            }
            None => {
                want.insert(key, IndexEntry { segment: seg_first, count: 1 });
            }
        }
    }
    let (ilo, ihi) = prefix_bounds(&[layout::INDEX_PREFIX]);
    let mut got: BTreeMap<(String, u64), IndexEntry> = BTreeMap::new();
    for item in shared.backend.scan(ilo, ihi, false) {
        let (k, v) = item?;
        if let (Ok((s, fv)), Ok(e)) = (layout::parse_index_key(&k), IndexEntry::decode(&v)) {
            if e.segment < visible {
                got.insert((s.to_string(), fv), e);
            }
        }
    }
    let mut first_bad: Option<IntegrityProblem> = None;
    let mut consider = |position: u64, detail: String| {
        if first_bad.as_ref().is_none_or(|p| position < p.position) {
            first_bad = Some(IntegrityProblem { position, detail });
        }
    };
    for ((s, v), e) in &want {
        match got.get(&(s.clone(), *v)) {
            Some(g) if g == e => {}
            Some(g) => consider(
                e.segment,
                format!(
                    "stream index of {s} from version {v} says segment {} × {}, the log says segment {} × {}",
                    g.segment, g.count, e.segment, e.count
                ),
            ),
            None => consider(e.segment, format!("stream index of {s} lacks the entry for version {v}")),
        }
    }
    for ((s, v), g) in &got {
        if !want.contains_key(&(s.clone(), *v)) {
            consider(g.segment, format!("stream index of {s} has an entry for version {v} that the log does not have"));
        }
    }
    Ok(first_bad.unwrap_or(IntegrityProblem { position: 0, detail: "stream index disagrees with the log".into() }))
}

fn segment_of(shared: &Shared, position: u64) -> Result<u64, StoreError> {
    let (k, _) = shared
        .backend
        .last_at_or_before(&[layout::SEGMENT_PREFIX], &layout::segment_key(position))?
        .ok_or_else(|| StoreError::Corrupt { detail: format!("no segment holds position {position}") })?;
    layout::parse_segment_key(&k).map_err(|e| StoreError::Corrupt { detail: e.to_string() })
}

/// Second pass after an event-id digest mismatch.
fn locate_id_problem(shared: &Shared, visible: u64) -> Result<IntegrityProblem, StoreError> {
    let events = shared.read_all(0, super::Direction::Forward, visible as usize)?;
    for ev in &events {
        match shared.position_of_event_id(&ev.event_id, visible) {
            Ok(Some(p)) if p == ev.position => {}
            Ok(Some(p)) => {
                return Ok(IntegrityProblem {
                    position: ev.position,
                    detail: format!("event-id index maps {} to position {p}", ev.event_id),
                })
            }
            Ok(None) => {
                return Ok(IntegrityProblem {
                    position: ev.position,
                    detail: format!("event-id index lacks {}", ev.event_id),
                })
            }
            Err(e) => {
                return Ok(IntegrityProblem {
                    position: ev.position,
                    detail: format!("event-id index entry for {} is damaged: {e}", ev.event_id),
                })
            }
        }
    }
    Ok(IntegrityProblem { position: visible, detail: "event-id index holds ids of no event in the log".into() })
}
