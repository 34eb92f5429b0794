//! The one-pass fold of every projection: [`replay_all_range`] reads the log once (above a page,
//! one thread reads while another folds in position order, and payloads are decoded by
//! whichever would otherwise wait), [`rebuild_all`], and [`AllProjections::as_of`], time travel
//! from the snapshots when they can be used.

use super::all::{decode_wanted, AllProjections};
use super::error::ProjectionError;
use super::replay::{bulk_worth_it, PAGE};
use crate::events::DomainEvent;
use crate::store::{Direction, EventStore, RecordedEvent};

impl AllProjections {
    /// Every projection as of position `end` (time travel for audits and reports): folded
    /// from the snapshots when they all share a checkpoint at or before `end`, else from
    /// position 0. Snapshot state is read only when it will be used, so a query of the past
    /// does not pay for loading the present. A damaged snapshot is logged and the fold starts
    /// from 0 (the log is the truth); storage errors are returned. Also returns the position
    /// the fold started from.
    pub fn as_of(store: &EventStore, end: u64) -> Result<(Self, u64), ProjectionError> {
        let loaded = match Self::snapshots_checkpoint(store) {
            Ok(Some(c)) if c <= end => Self::load_snapshots(store),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        };
        let (mut all, from) = match loaded {
            // The metas were read again with the state: they may have moved meanwhile.
            Ok(Some((all, checkpoint))) if checkpoint <= end => (all, checkpoint),
            Ok(_) => (Self::default(), 0),
            Err(e @ (ProjectionError::CorruptSnapshot { .. } | ProjectionError::Codec { .. })) => {
                tracing::warn!(error = %e, "projection snapshots unusable; folding from the start of the log");
                (Self::default(), 0)
            }
            Err(e) => return Err(e),
        };
        replay_all_range(store, &mut all, from, end)?;
        Ok((all, from))
    }
}

/// A page of events in position order, as the store returned it, with the wanted payloads
/// decoded (`decoded[i]` for `events[i]`, `None` where no projection wants the type) or, when
/// the reader left that to the folder, no decoded payloads at all.
///
/// Two vectors, not a vector of pairs: a recorded event (224 bytes) and a decoded one (424) were
/// each moved into a pair per event, and the copies were a tenth of a rebuild's reader thread.
struct Page {
    events: Vec<RecordedEvent>,
    decoded: Option<Vec<Option<DomainEvent>>>,
}

/// Pages in flight between the reading and the folding thread.
const PIPELINE_DEPTH: usize = 4;

/// Which thread of a pipelined fold decodes the payloads (see [`replay_all_range_each`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoding {
    /// The reader, while the folder has pages waiting; the folder, when it has caught up.
    Balanced,
    /// Always the reader (tests: the other extreme).
    #[cfg_attr(not(test), allow(dead_code))]
    OnReader,
    /// Always the folder (tests: every failure found by the folder).
    #[cfg_attr(not(test), allow(dead_code))]
    OnFolder,
}

/// Reads positions `from..end` page by page, checks they are gapless, and decodes the wanted
/// payloads of each page for which `decode_here()` says so (the others go out undecoded, for the
/// receiver to decode); `emit` gets each page (or the error that ends the read) and returns
/// `false` to stop early.
fn read_decoded(
    store: &EventStore,
    from: u64,
    end: u64,
    decode_here: impl Fn() -> bool,
    mut emit: impl FnMut(Result<Page, ProjectionError>) -> bool,
) {
    let mut next = from;
    while next < end {
        let want = usize::try_from(end - next).unwrap_or(usize::MAX).min(PAGE);
        let mut events = match store.read_all(next, Direction::Forward, want) {
            Ok(p) => p,
            Err(e) => {
                emit(Err(e.into()));
                return;
            }
        };
        if events.is_empty() {
            return;
        }
        let mut failure = None;
        let mut decoded = decode_here().then(|| Vec::with_capacity(events.len()));
        // The events kept: up to `end`, up to a gap or up to the first that does not decode.
        let mut kept = events.len();
        for (i, recorded) in events.iter().enumerate() {
            if recorded.position >= end {
                kept = i;
                break;
            }
            if recorded.position != next {
                failure =
                    Some(ProjectionError::OutOfOrder { projection: "all", expected: next, got: recorded.position });
                kept = i;
                break;
            }
            if let Some(decoded) = &mut decoded {
                match decode_wanted(recorded) {
                    Ok(event) => decoded.push(event),
                    Err(e) => {
                        failure = Some(e);
                        kept = i;
                        break;
                    }
                }
            }
            next += 1;
        }
        events.truncate(kept);
        // The events before a failure are folded, then the failure is reported.
        let full = kept == want;
        if !emit(Ok(Page { events, decoded })) {
            return;
        }
        if let Some(e) = failure {
            emit(Err(e));
            return;
        }
        if !full {
            return;
        }
    }
}

/// Folds positions `from..end` into every projection in one read pass, decoding each
/// wanted event once; returns the next position owed.
///
/// For more than a page of events the work is split over two threads: one reads pages, the
/// other folds them in position order (a bounded channel of `PIPELINE_DEPTH` pages between
/// them), and each page is decoded by whichever of the two would otherwise wait (see
/// `read_decoded`), so the result is that of a sequential fold. On an error the events
/// before the failing one stay folded and the error is returned. A long replay is a bulk fold
/// (see [`replay_range`](super::replay_range)).
pub fn replay_all_range(
    store: &EventStore,
    all: &mut AllProjections,
    from: u64,
    end: u64,
) -> Result<u64, ProjectionError> {
    if !bulk_worth_it(from, end) {
        return replay_all_range_each(store, all, from, end, Decoding::Balanced);
    }
    all.begin_bulk();
    let result = replay_all_range_each(store, all, from, end, Decoding::Balanced);
    all.end_bulk();
    result
}

/// [`replay_all_range`] as it folds, event by event.
fn replay_all_range_each(
    store: &EventStore,
    all: &mut AllProjections,
    from: u64,
    end: u64,
    decoding: Decoding,
) -> Result<u64, ProjectionError> {
    let mut next = from;
    // A page the reader left undecoded is decoded here; a failure ends the fold after the
    // events before it, as it would have on the reader.
    let mut fold = |page: Page, next: &mut u64| -> Result<(), ProjectionError> {
        match &page.decoded {
            Some(decoded) => {
                for (recorded, event) in page.events.iter().zip(decoded) {
                    if let Some(event) = event {
                        all.apply_decoded(recorded, event);
                    }
                    *next += 1;
                }
            }
            None => {
                for recorded in &page.events {
                    if let Some(event) = decode_wanted(recorded)? {
                        all.apply_decoded(recorded, &event);
                    }
                    *next += 1;
                }
            }
        }
        Ok(())
    };
    if end.saturating_sub(from) <= PAGE as u64 {
        let mut result = Ok(());
        read_decoded(
            store,
            from,
            end,
            || true,
            |page| match page.and_then(|page| fold(page, &mut next)) {
                Ok(()) => true,
                Err(e) => {
                    result = Err(e);
                    false
                }
            },
        );
        return result.map(|()| next);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded::<Result<Page, ProjectionError>>(PIPELINE_DEPTH);
        // The reader decodes a page itself only while the folder has pages waiting; when the
        // folder has caught up (nothing queued) it gets the page undecoded and decodes it, so
        // decoding goes to whichever thread would otherwise wait (reading and decoding take
        // longer than folding, and a rebuild is otherwise bound by the reader).
        let decode_here = |tx: &crossbeam_channel::Sender<_>| match decoding {
            Decoding::Balanced => !tx.is_empty(),
            Decoding::OnReader => true,
            Decoding::OnFolder => false,
        };
        scope.spawn(move || read_decoded(store, from, end, || decode_here(&tx), |page| tx.send(page).is_ok()));
        // Ends when the reader is done (its sender dropped); dropping `rx` on an early return
        // makes the reader's next send fail, so it stops too.
        for page in rx {
            fold(page?, &mut next)?;
        }
        Ok(next)
    })
}

/// Every projection rebuilt from position 0 to the visible head in one read pass.
pub fn rebuild_all(store: &EventStore) -> Result<AllProjections, ProjectionError> {
    let mut all = AllProjections::default();
    replay_all_range(store, &mut all, 0, store.head().next_position)?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ExpectedVersion, ProposedEvent, StreamAppend, Timestamp};

    /// `n` hazards reported (one event each), in appends of 1,000 streams.
    fn report_hazards(store: &EventStore, first: usize, n: usize) {
        use crate::events::hazard::{HazardEvent, HazardReported, HazardSource};
        let at: chrono::DateTime<chrono::Utc> = "2024-03-01T08:00:00Z".parse().unwrap();
        let id = |s: String| crate::events::EntityId::new(s).unwrap();
        let appends: Vec<_> = (first..first + n)
            .map(|k| {
                let event = DomainEvent::Hazard(HazardEvent::Reported(HazardReported {
                    hazard_id: id(format!("h{k}")),
                    recorded_by: id("loader".into()),
                    recorded_at: at,
                    source: HazardSource::GridInspection,
                    reporter: "网格员".into(),
                    community_id: id(format!("c{}", k % 4)),
                    grid_id: None,
                    enterprise_id: None,
                    category: "fire".into(),
                    location: "楼道".into(),
                    description: "堆物".into(),
                    found_at: at,
                }));
                let (t, v, payload) = event.to_payload().unwrap();
                let proposed = ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload);
                StreamAppend::new(event.stream_id(), ExpectedVersion::NoStream, vec![proposed])
            })
            .collect();
        for chunk in appends.chunks(1_000) {
            store.append_multi(chunk.to_vec()).unwrap();
        }
    }

    #[test]
    fn decoding_on_either_thread_folds_the_same_and_fails_at_the_same_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        report_hazards(&store, 0, 2 * PAGE + 500);
        let end = store.head().next_position;
        let fold = |decoding| {
            let mut all = AllProjections::default();
            let next = replay_all_range_each(&store, &mut all, 0, end, decoding).unwrap();
            (all, next)
        };
        let reference = fold(Decoding::OnReader);
        assert_eq!(reference.0.hazard_ledger.open_hazards().total, (2 * PAGE + 500) as u64);
        assert_eq!(fold(Decoding::OnFolder), reference);
        assert_eq!(fold(Decoding::Balanced), reference);

        // A payload the ledger cannot decode, in the third page, then more events after it.
        let at = Timestamp::from_micros(0);
        let junk = ProposedEvent::new("hazard.closed", 1, at, "x", vec![0xFF; 3]);
        store.append_multi(vec![StreamAppend::new("hazard-junk", ExpectedVersion::Any, vec![junk])]).unwrap();
        report_hazards(&store, 100_000, 1_500);
        let end = store.head().next_position;
        let failed = |decoding| {
            let mut all = AllProjections::default();
            match replay_all_range_each(&store, &mut all, 0, end, decoding) {
                Err(ProjectionError::Decode { position, .. }) => (position, all),
                other => panic!("expected a decode error, got {:?}", other.map(|_| ())),
            }
        };
        let (position, before) = failed(Decoding::OnReader);
        assert_eq!(position, (2 * PAGE + 500) as u64);
        assert_eq!(before, reference.0, "every event before the bad one is folded, none after");
        for decoding in [Decoding::OnFolder, Decoding::Balanced] {
            assert_eq!(failed(decoding), (position, before.clone()), "{decoding:?}");
        }
    }
}
