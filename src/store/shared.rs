//! [`Shared`]: the state the store handle, the writer, subscriptions and verify all run on
//! (backend, event-id index, visible head, subscribers, poison, counters), and the reads done
//! on it (by position, by stream, stream listing, time to position).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crossbeam_channel::Sender;
use uuid::Uuid;

use super::clock::Clock;
use super::error::StoreError;
use super::id_index::{self, IdIndex};
use super::layout::{self, IndexEntry, LayoutError};
use super::types::*;
use crate::storage::{prefix_bounds, Backend, StorageError};

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub(crate) commits: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) sync_nanos: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) published_events: AtomicU64,
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
    pub(super) visible_next: AtomicU64,
    pub(super) head: RwLock<Head>,
    pub(super) subscribers: Mutex<Vec<Sender<Arc<[RecordedEvent]>>>>,
    pub(super) poisoned: Mutex<Option<String>>,
    /// Counters for monitoring (commits, events, syncs).
    pub(crate) stats: StatsCounters,
    /// Set when the store handle is closed: subscriptions end once drained.
    pub(super) closed: std::sync::atomic::AtomicBool,
}

pub(super) fn id_index_error(e: id_index::IdIndexError) -> StoreError {
    match e {
        id_index::IdIndexError::Storage(s) => StoreError::from(s),
        id_index::IdIndexError::Io(e) => StoreError::Storage(StorageError::Io(e)),
        other => StoreError::Corrupt { detail: other.to_string() },
    }
}

/// The event at `position` as the backend holds it (committed, not necessarily visible).
pub(super) fn event_at(backend: &dyn Backend, position: u64) -> Result<RecordedEvent, StoreError> {
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

pub(super) fn corrupt(e: LayoutError) -> StoreError {
    StoreError::Corrupt { detail: e.to_string() }
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
    pub(super) fn check_tail(&self, head: &Head) -> Result<(), StoreError> {
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
    pub(super) fn reindex_ids(&self, from: u64, to: u64) -> Result<(), StoreError> {
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
