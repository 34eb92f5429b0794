//! Layer 4, beside the domain: projections (读模型), checkpointed read models folded from the event
//! log. May import `events` (what the log says), `store`, `storage` (snapshots are atomic batches
//! on the store's backend) and `codec`; never the domain: a read model reads events, it does not
//! decide.
//!
//! A [`Projection`] is a deterministic fold of the global log: `apply` sees every event in
//! position order, exactly once, and changes only its own state. The [`ProjectionRunner`] keeps a
//! projection up to date against an [`EventStore`]:
//! - at open it loads the projection's snapshot (state + checkpoint) from the backend, or starts
//!   from the default state at position 0 when there is none (or it was written by another
//!   [`Projection::VERSION`]);
//! - [`ProjectionRunner::catch_up`] reads the log in pages from the checkpoint to the head;
//! - [`ProjectionRunner::follow`] then follows live commits through a subscription;
//! - [`ProjectionRunner::snapshot`] writes state and checkpoint in **one** atomic
//!   [`WriteBatch`], then syncs, so after a crash the state found always matches its checkpoint:
//!   no event is counted twice or skipped.
//!
//! Invariants:
//! - Keys live under the prefix `P` + projection name + `\0` (the store owns `S`, `I`, `E`, `M`;
//!   `0xFF` is the backend's). The meta record (`…\0m`) holds format version, checkpoint, chunk
//!   count and a BLAKE3 hash of the state bytes; the state is split into chunks (`…\0c` + u32 BE)
//!   so no single value grows past [`SNAPSHOT_CHUNK`] bytes.
//! - State is built from ordered containers only (`BTreeMap`, `Vec`), never `HashMap`, so the
//!   encoded state after a rebuild from 0 is byte-identical to the incrementally maintained one.
//!   (A bulk fold stages entries behind a hash index, but only as a lookup: they are sorted
//!   into the `BTreeMap` before anything reads the state.)
//! - Long replays ([`replay_range`], [`replay_all_range`] over more than a page and at least as
//!   many events as folded before) are **bulk folds** ([`Projection::begin_bulk`] /
//!   [`Projection::end_bulk`]): the ledger, statistics and trails stage their entries in
//!   arrival order behind a hash index and keep only the stored state per event; the derived
//!   indexes are built once at the end from the stored state, by the same code that builds them
//!   when a snapshot loads. The result equals a fold event by event (property-tested in each
//!   module); live `apply` (runners following the log, short catch-ups) moves the indexes per
//!   event as before.
//! - Events whose type no domain aggregate knows are skipped (other layers may write to the log);
//!   an event of a known type that does not decode is an error, never silently dropped — as long
//!   as some projection being folded [wants](Projection::wants) that type: payloads of types no
//!   projection reads are not decoded at all (that is most of the rebuild saving).
//! - [`rebuild_all`] / [`replay_all_range`] fold all five projections in **one** read pass,
//!   decoding each wanted event once; the result is the same state as five separate rebuilds
//!   (each projection sees the same events in the same order).
//! - Nothing here panics on data: every failure is a [`ProjectionError`].
//!
//! Time travel (查询任意时点): [`replay_until`] folds a fresh projection over positions
//! `0..end`; [`as_of_time`] first turns a recorded-at time into such an end position with
//! [`EventStore::position_as_of`]. Its cost grows with the position (a replay from 0).
//!
//! Snapshot integrity: the state is decoded with `codec::decode_snapshot`, whose limit
//! (`codec::SNAPSHOT_DECODE_LIMIT`) is far above the codec's general 16 MiB one, so a read model
//! over millions of events still snapshots; the bytes are checked against the BLAKE3 hash in the
//! meta record first. A snapshot that fails that check or does not decode (torn by hand, a bug,
//! bit rot) is not trusted: [`ProjectionRunner::open`] logs a warning and rebuilds from position 0
//! ([`load_snapshot`] itself reports it as an error). Chunks are only read up to the meta
//! record's count, and a smaller snapshot deletes the larger one's surplus chunks in its own batch.
//!
//! Limits: an encoded state must fit `codec::SNAPSHOT_STATE_LIMIT` (1 GiB); a larger one is
//! refused with [`ProjectionError::SnapshotTooLarge`] (the live state is kept).
//!
//! The projections: [`hazard_ledger`] (隐患台账), [`accident_stats`] (事故统计),
//! [`trails`] (四不放过), [`injury_surveillance`] (伤害监测), [`promotion`] (安全促进项目).

pub mod accident_stats;
pub mod hazard_ledger;
pub mod injury_surveillance;
pub mod kpis;
pub mod promotion;
pub(crate) mod state_codec;
pub mod trails;

pub use accident_stats::AccidentStats;
pub use hazard_ledger::HazardLedger;
pub use injury_surveillance::InjurySurveillance;
pub use promotion::PromotionProjects;
pub use trails::AccountabilityTrails;

use std::hash::BuildHasher;
use std::ops::Bound;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::events::{DomainEvent, EventError};
use crate::storage::{prefix_bounds, StorageError, WriteBatch};
use crate::store::{Direction, EventStore, RecordedEvent, StoreError, Subscription, Timestamp};

/// Events read from the log per catch-up page.
pub const PAGE: usize = 4096;

/// Largest value one snapshot chunk occupies in the backend: small enough that a sled leaf of
/// them (≤ 17 items) stays far below sled's blob threshold (see `storage::sled_backend`).
pub const SNAPSHOT_CHUNK: usize = 32 * 1024;

/// Format of the snapshot meta record itself.
const META_FORMAT: u32 = 1;

/// An error of the projections layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("snapshot of projection {projection} could not be encoded or decoded: {source}")]
    Codec {
        projection: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("event at position {position} ({event_type}) could not be decoded: {source}")]
    Decode {
        position: u64,
        event_type: String,
        #[source]
        source: Box<EventError>,
    },
    #[error("snapshot of projection {projection} is corrupt: {detail}")]
    CorruptSnapshot { projection: &'static str, detail: String },
    #[error("snapshot of projection {projection} is {size} bytes, over the {limit}-byte snapshot limit")]
    SnapshotTooLarge { projection: &'static str, size: usize, limit: usize },
    #[error("projection {projection} expected position {expected} but was given {got}")]
    OutOfOrder { projection: &'static str, expected: u64, got: u64 },
}

/// A read model folded from the log.
///
/// `apply` must be deterministic (no clock, no randomness, no hash-ordered containers) and total:
/// an event it does not care about is ignored, not an error.
pub trait Projection: Default + Serialize + DeserializeOwned {
    /// Stable name, used in backend keys: `[a-z0-9_]`, unique per projection.
    const NAME: &'static str;
    /// Version of the state layout; a snapshot of another version is discarded and rebuilt.
    const VERSION: u32;

    /// Whether `apply` can do anything with events of this type. Runners decode the payload only
    /// for types some projection wants, so this must be `true` for every type `apply` reads (a
    /// `false` for a type it reads would silently drop events). Default: every type.
    fn wants(event_type: &str) -> bool {
        let _ = event_type;
        true
    }

    /// Folds one event. `recorded` is the envelope (position, recorded-at, actor), `event` its
    /// decoded, upcast payload.
    fn apply(&mut self, recorded: &RecordedEvent, event: &DomainEvent);

    /// Starts a bulk fold: until [`Projection::end_bulk`], `apply` may leave derived state
    /// (indexes recomputed when a snapshot loads) stale and keep only the stored state. Runners
    /// call it before folding many events at once and always call `end_bulk` after, also on an
    /// error. Default: nothing (every `apply` keeps everything up to date).
    fn begin_bulk(&mut self) {}

    /// Ends a bulk fold: derived state is recomputed from the stored state in one pass, so the
    /// projection equals one folded event by event. Default: nothing.
    fn end_bulk(&mut self) {}
}

/// Whether folding `from..end` is worth a bulk fold ([`Projection::begin_bulk`]): more than a
/// page of events, and at least as many as folded before (the index rebuild at the end costs
/// about as much as the state, which grows with the events folded).
fn bulk_worth_it(from: u64, end: u64) -> bool {
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

/// Entries keyed by id, staged during a bulk fold ([`Projection::begin_bulk`]): appended in
/// arrival order behind a hash index, then sorted into a `BTreeMap` once at the end. A bulk fold
/// inserts many ids in no particular order; into a `BTreeMap` of large values every such insert
/// searches a deep tree and shifts values inside its nodes, here it is a hash lookup and a push.
///
/// The index keeps each id's hash beside its slot, so the table's growth moves slots without
/// hashing an id again (with std's `HashMap<String, _>`, rehashing on growth was most of the
/// staging's time in a 1M-event rebuild), and ids are hashed with foldhash, seeded per table.
#[derive(Debug, Clone)]
pub(crate) struct Staged<V> {
    /// (hash of the id, slot in `ids` and `entries`).
    index: hashbrown::HashTable<(u64, usize)>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Ids in arrival order; `entries[i]` is `ids[i]`'s.
    ids: Vec<String>,
    entries: Vec<V>,
}

/// Equal when the same ids hold the same entries in the same arrival order (the index is
/// derived from the ids).
impl<V: PartialEq> PartialEq for Staged<V> {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids && self.entries == other.entries
    }
}

impl<V: Eq> Eq for Staged<V> {}

impl<V> Staged<V> {
    /// Takes the entries of `map` (which is left empty) as the start of the staging.
    pub(crate) fn take(map: &mut std::collections::BTreeMap<String, V>) -> Self {
        let n = map.len();
        let mut staged = Self {
            index: hashbrown::HashTable::with_capacity(n),
            hasher: hashbrown::DefaultHashBuilder::default(),
            ids: Vec::with_capacity(n),
            entries: Vec::with_capacity(n),
        };
        for (id, v) in std::mem::take(map) {
            let hash = staged.hasher.hash_one(id.as_str());
            staged.index.insert_unique(hash, (hash, staged.ids.len()), |&(h, _)| h);
            staged.ids.push(id);
            staged.entries.push(v);
        }
        staged
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        let hash = self.hasher.hash_one(id);
        let ids = &self.ids;
        let &(_, slot) = self.index.find(hash, |&(h, i)| h == hash && ids.get(i).is_some_and(|k| k == id))?;
        self.entries.get_mut(slot)
    }

    /// Adds an entry for an id not staged yet (`make` gets the id); `None` when it is staged.
    pub(crate) fn insert_new(&mut self, id: &str, make: impl FnOnce(String) -> V) -> Option<&mut V> {
        let Self { index, hasher, ids, entries } = self;
        let hash = hasher.hash_one(id);
        let same = |&(h, i): &(u64, usize)| h == hash && ids.get(i).is_some_and(|k| k == id);
        match index.entry(hash, same, |&(h, _)| h) {
            hashbrown::hash_table::Entry::Occupied(_) => None,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((hash, entries.len()));
                ids.push(id.to_string());
                entries.push(make(id.to_string()));
                entries.last_mut()
            }
        }
    }

    /// The staged entries as a map, by id. The ids are sorted by their first 8 bytes as a
    /// big-endian number (zero-padded: the same order as the bytes, up to ties, which compare
    /// the whole ids) through a permutation, so the values move a fixed number of times.
    pub(crate) fn into_map(self) -> std::collections::BTreeMap<String, V> {
        let prefix = |id: &str| {
            let mut b = [0u8; 8];
            let n = id.len().min(8);
            b[..n].copy_from_slice(&id.as_bytes()[..n]);
            u64::from_be_bytes(b)
        };
        let ids = self.ids;
        let mut order: Vec<(u64, usize)> = ids.iter().enumerate().map(|(i, id)| (prefix(id), i)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| ids.get(a.1).cmp(&ids.get(b.1))));
        let mut slots: Vec<Option<(String, V)>> = ids.into_iter().zip(self.entries).map(Some).collect();
        order.into_iter().filter_map(|(_, i)| slots.get_mut(i)?.take()).collect()
    }
}

/// All five projections, folded together in one pass over the log (一次回放全部读模型).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllProjections {
    pub hazard_ledger: hazard_ledger::HazardLedger,
    pub accident_stats: accident_stats::AccidentStats,
    pub trails: trails::AccountabilityTrails,
    pub injury_surveillance: injury_surveillance::InjurySurveillance,
    pub promotion: promotion::PromotionProjects,
}

/// Which of the five projections (in [`AllProjections`] field order) want an event type.
fn wanted_by(event_type: &str) -> [bool; 5] {
    [
        hazard_ledger::HazardLedger::wants(event_type),
        accident_stats::AccidentStats::wants(event_type),
        trails::AccountabilityTrails::wants(event_type),
        injury_surveillance::InjurySurveillance::wants(event_type),
        promotion::PromotionProjects::wants(event_type),
    ]
}

/// Decodes an event if some projection wants its type: `None` when none does or the type is
/// unknown.
fn decode_wanted(recorded: &RecordedEvent) -> Result<Option<DomainEvent>, ProjectionError> {
    if wanted_by(&recorded.event_type).contains(&true) {
        decode(recorded)
    } else {
        Ok(None)
    }
}

impl AllProjections {
    /// Feeds one recorded event to every projection that wants its type, decoding it once.
    pub fn apply_recorded(&mut self, recorded: &RecordedEvent) -> Result<(), ProjectionError> {
        if let Some(event) = decode_wanted(recorded)? {
            self.apply_decoded(recorded, &event);
        }
        Ok(())
    }

    /// Feeds an event decoded already to every projection that wants its type.
    fn apply_decoded(&mut self, recorded: &RecordedEvent, event: &DomainEvent) {
        let [ledger, stats, trails, injuries, projects] = wanted_by(&recorded.event_type);
        if ledger {
            self.hazard_ledger.apply(recorded, event);
        }
        if stats {
            self.accident_stats.apply(recorded, event);
        }
        if trails {
            self.trails.apply(recorded, event);
        }
        if injuries {
            self.injury_surveillance.apply(recorded, event);
        }
        if projects {
            self.promotion.apply(recorded, event);
        }
    }

    fn begin_bulk(&mut self) {
        self.hazard_ledger.begin_bulk();
        self.accident_stats.begin_bulk();
        self.trails.begin_bulk();
        self.injury_surveillance.begin_bulk();
        self.promotion.begin_bulk();
    }

    /// The index rebuilds are independent (each projection's own) and come after the last event
    /// is folded, so they would otherwise be a rebuild's single-threaded tail (about a quarter of
    /// it at 1M events): the statistics' runs on a second thread beside the others.
    fn end_bulk(&mut self) {
        let stats = &mut self.accident_stats;
        let helped = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("anquan-end-bulk".into())
                .spawn_scoped(scope, move || stats.end_bulk());
            self.hazard_ledger.end_bulk();
            self.trails.end_bulk();
            self.injury_surveillance.end_bulk();
            self.promotion.end_bulk();
            helper.map(|h| h.join())
        });
        match helped {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread to be had: the closure never ran, so this thread does it.
            Err(_) => self.accident_stats.end_bulk(),
        }
    }

    /// All five projections from their snapshots, with their common checkpoint: `Ok(None)` unless
    /// each has one (of its current version) at the same checkpoint, as [`Self::save_snapshots`]
    /// writes them; a crash between its five batches leaves them apart, and the caller then
    /// folds from position 0. A damaged snapshot is an error, as from [`load_snapshot`].
    ///
    /// The loads are independent, and the three large ones (ledger, statistics and trails) cost
    /// about the same, so each has a thread: the ledger loads here, the statistics on a second
    /// thread and the trails with the two small ones on a third. On two cores the scheduler then
    /// shares the work evenly between them, where two threads would leave one with two of the three.
    pub fn load_snapshots(store: &EventStore) -> Result<Option<(Self, u64)>, ProjectionError> {
        type Loaded<P> = Result<Option<(P, u64)>, ProjectionError>;
        let stats = || -> Loaded<accident_stats::AccidentStats> { load_snapshot(store) };
        let others = || -> (Loaded<trails::AccountabilityTrails>, Loaded<injury_surveillance::InjurySurveillance>, Loaded<promotion::PromotionProjects>) {
            (load_snapshot(store), load_snapshot(store), load_snapshot(store))
        };
        let (ledger, stats, (trails, injuries, projects)) = std::thread::scope(|scope| {
            let helper = || std::thread::Builder::new().name("anquan-snapshot-load".into());
            let stats_helper = helper().spawn_scoped(scope, stats);
            let others_helper = helper().spawn_scoped(scope, others);
            let ledger = load_snapshot::<hazard_ledger::HazardLedger>(store);
            (ledger, joined(stats_helper, stats), joined(others_helper, others))
        });
        let Some((hazard_ledger, checkpoint)) = ledger? else { return Ok(None) };
        let Some((accident_stats, c1)) = stats? else { return Ok(None) };
        let Some((trails, c2)) = trails? else { return Ok(None) };
        let Some((injury_surveillance, c3)) = injuries? else { return Ok(None) };
        let Some((promotion, c4)) = projects? else { return Ok(None) };
        if [c1, c2, c3, c4].iter().any(|c| *c != checkpoint) {
            return Ok(None);
        }
        Ok(Some((Self { hazard_ledger, accident_stats, trails, injury_surveillance, promotion }, checkpoint)))
    }

    /// The checkpoint the five snapshots share, from their meta records alone (no state is
    /// read): `None` unless all five have one at the same position.
    pub fn snapshots_checkpoint(store: &EventStore) -> Result<Option<u64>, ProjectionError> {
        let checkpoints = [
            snapshot_checkpoint::<hazard_ledger::HazardLedger>(store)?,
            snapshot_checkpoint::<accident_stats::AccidentStats>(store)?,
            snapshot_checkpoint::<trails::AccountabilityTrails>(store)?,
            snapshot_checkpoint::<injury_surveillance::InjurySurveillance>(store)?,
            snapshot_checkpoint::<promotion::PromotionProjects>(store)?,
        ];
        Ok(checkpoints[0].filter(|c| checkpoints.iter().all(|x| *x == Some(*c))))
    }

    /// The five projections as of position `end` (time travel for audits and reports): folded
    /// from the snapshots when the five share a checkpoint at or before `end`, else from
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

    /// Writes each projection's snapshot at `checkpoint` (one atomic batch per projection).
    pub fn save_snapshots(&self, store: &EventStore, checkpoint: u64) -> Result<(), ProjectionError> {
        save_snapshot(store, &self.hazard_ledger, checkpoint)?;
        save_snapshot(store, &self.accident_stats, checkpoint)?;
        save_snapshot(store, &self.trails, checkpoint)?;
        save_snapshot(store, &self.injury_surveillance, checkpoint)?;
        save_snapshot(store, &self.promotion, checkpoint)
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

/// Folds positions `from..end` into all five projections in one read pass, decoding each
/// wanted event once; returns the next position owed.
///
/// For more than a page of events the work is split over two threads: one reads pages, the
/// other folds them in position order (a bounded channel of `PIPELINE_DEPTH` pages between
/// them), and each page is decoded by whichever of the two would otherwise wait (see
/// `read_decoded`), so the result is that of a sequential fold. On an error the events
/// before the failing one stay folded and the error is returned. A long replay is a bulk fold
/// (see [`replay_range`]).
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

/// The result of a scoped helper thread, or, when no thread could be had (the closure never
/// ran), of running `work` on this one. A panic on the helper resumes here.
fn joined<T>(spawned: std::io::Result<std::thread::ScopedJoinHandle<'_, T>>, work: impl FnOnce() -> T) -> T {
    match spawned {
        Ok(h) => h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(_) => work(),
    }
}

/// All five projections rebuilt from position 0 to the visible head in one read pass.
pub fn rebuild_all(store: &EventStore) -> Result<AllProjections, ProjectionError> {
    let mut all = AllProjections::default();
    replay_all_range(store, &mut all, 0, store.head().next_position)?;
    Ok(all)
}

/// The snapshot meta record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SnapshotMeta {
    format: u32,
    projection_version: u32,
    /// The next position the state owes (every event before it is folded in).
    checkpoint: u64,
    chunks: u32,
    state_len: u64,
    state_hash: [u8; 32],
}

fn key_prefix(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 2);
    k.push(b'P');
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut k = key_prefix(name);
    k.push(b'm');
    k
}

fn chunk_key(name: &str, i: u32) -> Vec<u8> {
    let mut k = key_prefix(name);
    k.push(b'c');
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// Loads a projection's snapshot: `Ok(None)` when there is none or it has another version.
///
/// A snapshot whose chunks are missing, whose length or BLAKE3 hash disagrees with the meta
/// record, or whose state does not decode is [`ProjectionError::CorruptSnapshot`] /
/// [`ProjectionError::Codec`]; [`ProjectionRunner::open`] rebuilds instead of failing on those.
pub fn load_snapshot<P: Projection>(store: &EventStore) -> Result<Option<(P, u64)>, ProjectionError> {
    let backend = store.backend();
    let Some(meta) = snapshot_meta::<P>(store)? else {
        return Ok(None);
    };
    let corrupt = |detail: String| ProjectionError::CorruptSnapshot { projection: P::NAME, detail };
    let len = usize::try_from(meta.state_len)
        .ok()
        .filter(|&l| l <= codec::SNAPSHOT_STATE_LIMIT)
        .ok_or_else(|| corrupt(format!("meta claims {} state bytes, over the snapshot limit", meta.state_len)))?;
    if u64::from(meta.chunks) != chunks_for(len) {
        return Err(corrupt(format!("meta claims {} chunks for {len} bytes", meta.chunks)));
    }
    let mut state = Vec::with_capacity(len);
    for i in 0..meta.chunks {
        let chunk = backend.get(&chunk_key(P::NAME, i))?.ok_or_else(|| corrupt(format!("chunk {i} is missing")))?;
        if state.len() + chunk.len() > len {
            return Err(corrupt(format!("chunk {i} runs past the {len} state bytes")));
        }
        state.extend_from_slice(&chunk);
    }
    if state.len() != len {
        return Err(corrupt(format!("state is {} bytes, meta says {len}", state.len())));
    }
    if *blake3::hash(&state).as_bytes() != meta.state_hash {
        return Err(corrupt("state bytes do not match their hash".into()));
    }
    let p: P =
        codec::decode_snapshot(&state).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })?;
    Ok(Some((p, meta.checkpoint)))
}

/// A projection's snapshot meta record: `None` when there is none or it is of another format or
/// projection version (a snapshot [`load_snapshot`] skips).
fn snapshot_meta<P: Projection>(store: &EventStore) -> Result<Option<SnapshotMeta>, ProjectionError> {
    let Some(meta_bytes) = store.backend().get(&meta_key(P::NAME))? else {
        return Ok(None);
    };
    let meta: SnapshotMeta =
        codec::decode(&meta_bytes).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })?;
    Ok((meta.format == META_FORMAT && meta.projection_version == P::VERSION).then_some(meta))
}

/// The checkpoint of a projection's usable snapshot, read from its meta record alone (no state
/// is read or checked): what [`load_snapshot`] would start from, if the state is intact.
pub fn snapshot_checkpoint<P: Projection>(store: &EventStore) -> Result<Option<u64>, ProjectionError> {
    Ok(snapshot_meta::<P>(store)?.map(|m| m.checkpoint))
}

/// Chunks a state of `len` bytes occupies.
fn chunks_for(len: usize) -> u64 {
    (len as u64).div_ceil(SNAPSHOT_CHUNK as u64)
}

/// Writes state and checkpoint in one atomic batch, then syncs the backend.
///
/// A state over `codec::SNAPSHOT_STATE_LIMIT` encoded bytes is refused with
/// [`ProjectionError::SnapshotTooLarge`] and nothing is written (the previous snapshot stays).
pub fn save_snapshot<P: Projection>(
    store: &EventStore,
    projection: &P,
    checkpoint: u64,
) -> Result<(), ProjectionError> {
    save_snapshot_within(store, projection, checkpoint, codec::SNAPSHOT_STATE_LIMIT)
}

/// [`save_snapshot`] with the size limit as a parameter (tests lower it).
fn save_snapshot_within<P: Projection>(
    store: &EventStore,
    projection: &P,
    checkpoint: u64,
    limit: usize,
) -> Result<(), ProjectionError> {
    let state = codec::encode(projection).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })?;
    let too_large = || ProjectionError::SnapshotTooLarge { projection: P::NAME, size: state.len(), limit };
    if state.len() > limit.min(codec::SNAPSHOT_STATE_LIMIT) {
        return Err(too_large());
    }
    let chunks = u32::try_from(chunks_for(state.len())).map_err(|_| too_large())?;
    let backend = store.backend();
    let mut batch = WriteBatch::new();
    for (i, chunk) in (0u32..).zip(state.chunks(SNAPSHOT_CHUNK)) {
        batch.put(chunk_key(P::NAME, i), chunk.to_vec());
    }
    // Chunks left over from a larger earlier snapshot are deleted in the same batch (they are
    // never read anyway: loading stops at the meta record's count). Chunk keys sort by index, so
    // the scan starts at the first surplus one instead of reading the current ones.
    let (_, end) = prefix_bounds(&{
        let mut k = key_prefix(P::NAME);
        k.push(b'c');
        k
    });
    for kv in backend.scan(Bound::Included(chunk_key(P::NAME, chunks)), end, false) {
        let (key, _) = kv?;
        batch.delete(key);
    }
    let meta = SnapshotMeta {
        format: META_FORMAT,
        projection_version: P::VERSION,
        checkpoint,
        chunks,
        state_len: state.len() as u64,
        state_hash: *blake3::hash(&state).as_bytes(),
    };
    let meta_bytes = codec::encode(&meta).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })?;
    batch.put(meta_key(P::NAME), meta_bytes);
    backend.apply(batch)?;
    backend.sync()?;
    Ok(())
}

/// Keeps one projection up to date against a store: snapshot, catch-up, live follow.
pub struct ProjectionRunner<'s, P: Projection> {
    store: &'s EventStore,
    projection: P,
    /// The next position owed: every event before it is folded in.
    checkpoint: u64,
    /// The checkpoint of the last snapshot written or loaded.
    snapshot_checkpoint: Option<u64>,
    subscription: Option<Subscription>,
}

impl<'s, P: Projection> std::fmt::Debug for ProjectionRunner<'s, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("projection", &P::NAME)
            .field("checkpoint", &self.checkpoint)
            .field("snapshot_checkpoint", &self.snapshot_checkpoint)
            .finish()
    }
}

impl<'s, P: Projection> ProjectionRunner<'s, P> {
    /// Loads the projection's snapshot (or starts empty at 0). Does not read the log yet.
    ///
    /// A snapshot that is corrupt or does not decode is set aside with a warning and the
    /// projection starts from position 0 (its next snapshot replaces the bad one); a storage
    /// error is returned.
    pub fn open(store: &'s EventStore) -> Result<Self, ProjectionError> {
        let loaded = match load_snapshot::<P>(store) {
            Ok(loaded) => loaded,
            Err(e @ (ProjectionError::CorruptSnapshot { .. } | ProjectionError::Codec { .. })) => {
                tracing::warn!(projection = P::NAME, error = %e, "snapshot not usable; rebuilding from position 0");
                None
            }
            Err(e) => return Err(e),
        };
        let (projection, checkpoint, snapshot_checkpoint) = match loaded {
            Some((p, c)) => (p, c, Some(c)),
            None => (P::default(), 0, None),
        };
        Ok(Self { store, projection, checkpoint, snapshot_checkpoint, subscription: None })
    }

    /// Opens and catches up to the head.
    pub fn start(store: &'s EventStore) -> Result<Self, ProjectionError> {
        let mut r = Self::open(store)?;
        r.catch_up()?;
        Ok(r)
    }

    /// The projection as maintained so far.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The next position owed (the number of log events folded in, counting skipped ones).
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The checkpoint of the last snapshot written or loaded, if any.
    pub fn snapshot_checkpoint(&self) -> Option<u64> {
        self.snapshot_checkpoint
    }

    /// Reads the log from the checkpoint to the visible head in pages; returns events consumed.
    pub fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let before = self.checkpoint;
        let head = self.store.head().next_position;
        self.checkpoint = replay_range(self.store, &mut self.projection, self.checkpoint, head)?;
        Ok(self.checkpoint - before)
    }

    /// Follows live commits: waits up to `timeout` for the next event, then takes whatever else
    /// is already available (up to [`PAGE`] events). Returns events consumed (0 on timeout).
    pub fn follow(&mut self, timeout: Duration) -> Result<usize, ProjectionError> {
        let sub = match &mut self.subscription {
            Some(s) if s.next_position() == self.checkpoint => s,
            _ => self.subscription.insert(self.store.subscribe(self.checkpoint)),
        };
        let Some(first) = sub.next_timeout(timeout)? else {
            return Ok(0);
        };
        let mut batch = vec![first];
        batch.extend(sub.poll(PAGE)?);
        let n = batch.len();
        for recorded in &batch {
            if recorded.position != self.checkpoint {
                // The subscription is re-created from the checkpoint next time.
                self.subscription = None;
                return Err(ProjectionError::OutOfOrder {
                    projection: P::NAME,
                    expected: self.checkpoint,
                    got: recorded.position,
                });
            }
            if P::wants(&recorded.event_type) {
                if let Some(event) = decode(recorded)? {
                    self.projection.apply(recorded, &event);
                }
            }
            self.checkpoint += 1;
        }
        Ok(n)
    }

    /// Writes state and checkpoint atomically and durably (skipped when nothing changed).
    pub fn snapshot(&mut self) -> Result<(), ProjectionError> {
        if self.snapshot_checkpoint == Some(self.checkpoint) {
            return Ok(());
        }
        save_snapshot(self.store, &self.projection, self.checkpoint)?;
        self.snapshot_checkpoint = Some(self.checkpoint);
        Ok(())
    }

    /// Discards the state, folds the whole log again from position 0, and snapshots the result.
    pub fn rebuild(&mut self) -> Result<(), ProjectionError> {
        self.projection = P::default();
        self.checkpoint = 0;
        self.subscription = None;
        self.catch_up()?;
        self.snapshot_checkpoint = None;
        self.snapshot()
    }

    /// The encoded state, for comparing a live projection with a rebuild byte for byte.
    pub fn state_bytes(&self) -> Result<Vec<u8>, ProjectionError> {
        state_bytes(&self.projection)
    }
}

/// The encoded state of a projection (what a snapshot stores).
pub fn state_bytes<P: Projection>(projection: &P) -> Result<Vec<u8>, ProjectionError> {
    codec::encode(projection).map_err(|source| ProjectionError::Codec { projection: P::NAME, source })
}

/// A period of CST calendar dates, both ends included: `from..=to` (统计期).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: chrono::NaiveDate,
    /// Last day included.
    pub to: chrono::NaiveDate,
}

impl Period {
    /// A calendar year (统计年度).
    pub fn year(year: i32) -> Option<Self> {
        Some(Self {
            from: chrono::NaiveDate::from_ymd_opt(year, 1, 1)?,
            to: chrono::NaiveDate::from_ymd_opt(year, 12, 31)?,
        })
    }

    /// A quarter, 1–4 (季度).
    pub fn quarter(year: i32, quarter: u32) -> Option<Self> {
        if !(1..=4).contains(&quarter) {
            return None;
        }
        let from = chrono::NaiveDate::from_ymd_opt(year, (quarter - 1) * 3 + 1, 1)?;
        let to = crate::events::time::plus_months(from, 3)?.pred_opt()?;
        Some(Self { from, to })
    }

    /// A month, 1–12.
    pub fn month(year: i32, month: u32) -> Option<Self> {
        let from = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
        let to = crate::events::time::plus_months(from, 1)?.pred_opt()?;
        Some(Self { from, to })
    }

    pub fn contains(&self, d: chrono::NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// `part ÷ whole × 100`, or `None` when the whole is 0.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    if whole == 0 {
        None
    } else {
        Some(part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    use crate::store::{ExpectedVersion, ProposedEvent, StreamAppend};

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

    #[test]
    fn keys_sit_under_the_projection_prefix_and_chunks_sort_by_index() {
        assert_eq!(meta_key("x"), b"Px\0m".to_vec());
        assert!(chunk_key("x", 1) < chunk_key("x", 256));
        assert!(chunk_key("x", 0).starts_with(b"Px\0c"));
    }

    /// A projection that keeps a counter and `pad` bytes per event (to size its state at will).
    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    struct Padded {
        events: u64,
        #[serde(with = "serde_bytes")]
        pad: Vec<u8>,
    }

    impl Projection for Padded {
        const NAME: &'static str = "test_padded";
        const VERSION: u32 = 1;
        fn apply(&mut self, _: &RecordedEvent, _: &DomainEvent) {
            self.events += 1;
        }
    }

    fn chunk_keys(store: &EventStore) -> Vec<Vec<u8>> {
        let mut p = key_prefix(Padded::NAME);
        p.push(b'c');
        let (a, b) = prefix_bounds(&p);
        store.backend().scan(a, b, false).map(|kv| kv.unwrap().0).collect()
    }

    #[test]
    fn a_state_over_the_limit_is_refused_and_the_previous_snapshot_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        let small = Padded { events: 1, pad: vec![7; 100] };
        save_snapshot_within(&store, &small, 3, 1000).unwrap();
        let big = Padded { events: 2, pad: vec![9; 5000] };
        let err = save_snapshot_within(&store, &big, 9, 1000).unwrap_err();
        assert!(matches!(err, ProjectionError::SnapshotTooLarge { limit: 1000, .. }), "{err}");
        assert_eq!(load_snapshot::<Padded>(&store).unwrap(), Some((small, 3)));
    }

    #[test]
    fn a_smaller_snapshot_deletes_the_surplus_chunks_of_a_larger_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        let big = Padded { events: 5, pad: (0..5 * SNAPSHOT_CHUNK).map(|i| i as u8).collect() };
        save_snapshot(&store, &big, 5).unwrap();
        assert_eq!(chunk_keys(&store).len(), 6);
        assert_eq!(load_snapshot::<Padded>(&store).unwrap(), Some((big, 5)));
        let small = Padded { events: 6, pad: vec![1; SNAPSHOT_CHUNK] };
        save_snapshot(&store, &small, 6).unwrap();
        assert_eq!(chunk_keys(&store), vec![chunk_key(Padded::NAME, 0), chunk_key(Padded::NAME, 1)]);
        assert_eq!(load_snapshot::<Padded>(&store).unwrap(), Some((small, 6)));
        // An empty-ish state: one chunk, and back to many.
        save_snapshot(&store, &Padded::default(), 7).unwrap();
        assert_eq!(chunk_keys(&store).len(), 1);
        assert_eq!(load_snapshot::<Padded>(&store).unwrap(), Some((Padded::default(), 7)));
    }

    /// `Padded`'s next layout: same name, another version.
    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    struct PaddedV2 {
        events: u64,
    }

    impl Projection for PaddedV2 {
        const NAME: &'static str = "test_padded";
        const VERSION: u32 = 2;
        fn apply(&mut self, _: &RecordedEvent, _: &DomainEvent) {
            self.events += 1;
        }
    }

    #[test]
    fn a_snapshot_of_another_version_is_ignored_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        save_snapshot(&store, &Padded { events: 4, pad: vec![3; 10] }, 4).unwrap();
        assert_eq!(snapshot_checkpoint::<Padded>(&store).unwrap(), Some(4));
        assert_eq!(snapshot_checkpoint::<PaddedV2>(&store).unwrap(), None);
        assert_eq!(load_snapshot::<PaddedV2>(&store).unwrap(), None);
        // The new layout's snapshot replaces it, and the old reader then finds none of its own.
        save_snapshot(&store, &PaddedV2 { events: 5 }, 5).unwrap();
        assert_eq!(load_snapshot::<PaddedV2>(&store).unwrap(), Some((PaddedV2 { events: 5 }, 5)));
        assert_eq!(load_snapshot::<Padded>(&store).unwrap(), None);
    }

    #[test]
    fn periods_cover_their_days() {
        let q = Period::quarter(2024, 1).unwrap();
        assert_eq!(q.to, NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        assert_eq!(Period::month(2024, 2).unwrap().to, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert!(Period::quarter(2024, 5).is_none());
        assert_eq!(percent(1, 0), None);
        assert_eq!(percent(1, 4), Some(25.0));
    }

    mod staged {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::super::Staged;

        #[derive(Debug, Clone)]
        enum Op {
            /// Stage a new id with this value (nothing when it is staged).
            Insert(String, u32),
            /// Add to a staged id's value (nothing when it is not).
            Add(String, u32),
        }

        fn op() -> impl Strategy<Value = Op> {
            // Few distinct ids, with shared prefixes longer and shorter than 8 bytes, so inserts
            // meet staged ids and the final sort meets prefix ties.
            let id = prop_oneof!["[ab]{0,3}", "hazard-00[0-9]{1,2}", "[ab]{8}[ab]{0,2}"];
            prop_oneof![
                (id.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
                (id, 0u32..1000).prop_map(|(k, v)| Op::Add(k, v))
            ]
        }

        proptest! {
            /// Staging, from any map, behaves as the map itself and ends as it would.
            #[test]
            fn staging_is_the_map_it_ends_as(
                start in proptest::collection::btree_map("[ab]{0,9}", any::<u32>(), 0..20),
                ops in proptest::collection::vec(op(), 0..200),
            ) {
                let mut model = start.clone();
                let mut from = start;
                let mut staged = Staged::take(&mut from);
                prop_assert!(from.is_empty());
                for op in ops {
                    match op {
                        Op::Insert(k, v) => {
                            let fresh = !model.contains_key(&k);
                            if fresh {
                                model.insert(k.clone(), v);
                            }
                            let got = staged.insert_new(&k, |_| v).map(|e| *e);
                            prop_assert_eq!(got, fresh.then_some(v));
                        }
                        Op::Add(k, v) => {
                            let want = model.get_mut(&k).map(|e| {
                                *e = e.wrapping_add(v);
                                *e
                            });
                            let got = staged.get_mut(&k).map(|e| {
                                *e = e.wrapping_add(v);
                                *e
                            });
                            prop_assert_eq!(got, want);
                        }
                    }
                }
                let ended: BTreeMap<String, u32> = staged.into_map();
                prop_assert_eq!(ended, model);
            }
        }

        #[test]
        fn make_gets_the_id() {
            let mut staged = Staged::take(&mut BTreeMap::<String, String>::new());
            assert_eq!(staged.insert_new("h1", |id| id).cloned(), Some("h1".to_string()));
            assert_eq!(staged.insert_new("h1", |_| unreachable!()), None);
        }
    }
}
