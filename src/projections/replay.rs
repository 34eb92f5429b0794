//! Folding one projection over a range of the log: [`replay_range`] (a bulk fold when long),
//! time travel by position or recorded-at time ([`replay_until`], [`as_of_time`]), a rebuild, and
//! [`decode`], which every fold uses to read a payload.

use super::error::ProjectionError;
use super::traits::Projection;
use crate::codec;
use crate::events::{DomainEvent, EventError};
use crate::store::{Direction, EventStore, RecordedEvent, Timestamp};

/// Events read from the log per catch-up page.
pub const PAGE: usize = 4096;

/// Whether folding `from..end` is worth a bulk fold ([`Projection::begin_bulk`]): more than a
/// page of events, and at least as many as folded before (the index rebuild at the end costs
/// about as much as the state, which grows with the events folded).
pub(super) fn bulk_worth_it(from: u64, end: u64) -> bool {
    let n = end.saturating_sub(from);
    n > PAGE as u64 && n >= from
}

/// Decodes a recorded event; `Ok(None)` for a type no domain aggregate knows.
pub fn decode(recorded: &RecordedEvent) -> Result<Option<DomainEvent>, ProjectionError> {
    match DomainEvent::from_payload(&recorded.event_type, recorded.schema_version, &recorded.payload) {
        Ok(e) => Ok(Some(e)),
        Err(EventError::UnknownEventType { .. }) => Ok(None),
        Err(source) => Err(ProjectionError::Decode {
            position: recorded.position,
            event_type: recorded.event_type.to_string(),
            source: Box::new(source),
        }),
    }
}

/// Folds positions `from..end` of the log into `projection`; returns the next position owed.
///
/// A long replay is a bulk fold ([`Projection::begin_bulk`]): the derived indexes are rebuilt
/// once at the end (also when an error stops the fold), not moved per event.
pub fn replay_range<P: Projection>(
    store: &EventStore,
    projection: &mut P,
    from: u64,
    end: u64,
) -> Result<u64, ProjectionError> {
    if !bulk_worth_it(from, end) {
        return replay_range_each(store, projection, from, end);
    }
    projection.begin_bulk();
    let result = replay_range_each(store, projection, from, end);
    projection.end_bulk();
    result
}

/// [`replay_range`] as it folds, event by event.
fn replay_range_each<P: Projection>(
    store: &EventStore,
    projection: &mut P,
    from: u64,
    end: u64,
) -> Result<u64, ProjectionError> {
    let mut next = from;
    while next < end {
        let want = usize::try_from(end - next).unwrap_or(usize::MAX).min(PAGE);
        let page = store.read_all(next, Direction::Forward, want)?;
        if page.is_empty() {
            break;
        }
        for recorded in &page {
            if recorded.position >= end {
                return Ok(next);
            }
            if recorded.position != next {
                return Err(ProjectionError::OutOfOrder {
                    projection: P::NAME,
                    expected: next,
                    got: recorded.position,
                });
            }
            if P::wants(&recorded.event_type) {
                if let Some(event) = decode(recorded)? {
                    projection.apply(recorded, &event);
                }
            }
            next += 1;
        }
    }
    Ok(next)
}

/// A fresh projection folded over every event before `end` (time travel by position).
pub fn replay_until<P: Projection>(store: &EventStore, end: u64) -> Result<P, ProjectionError> {
    let mut p = P::default();
    replay_range(store, &mut p, 0, end)?;
    Ok(p)
}

/// A fresh projection folded over the whole visible log (a rebuild from position 0).
pub fn rebuild<P: Projection>(store: &EventStore) -> Result<P, ProjectionError> {
    replay_until(store, store.head().next_position)
}

/// A fresh projection as of a recorded-at time: every event recorded at or before `t`.
pub fn as_of_time<P: Projection>(store: &EventStore, t: Timestamp) -> Result<P, ProjectionError> {
    replay_until(store, store.position_as_of(t)?)
}

/// The encoded state of a projection (what a snapshot stores).
pub fn state_bytes<P: Projection>(projection: &P) -> Result<Vec<u8>, ProjectionError> {
    codec::encode(projection).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })
}
