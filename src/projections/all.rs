//! The registry of read models: [`AllProjections`], every projection in one struct, declared by
//! one list (`all_projections!` below). Each entry names the field, the type and the threads its
//! once-per-projection work runs on; the list generates the struct, [`AllProjections::NAMES`],
//! the per-event fold (statically dispatched, as by hand) and the member list that bulk ends,
//! snapshot loads and saves walk (a trait object per projection, never per event).
//!
//! Adding a projection: write its module, add one line to the list. Nothing else here names one.
//!
//! The fold over the log that feeds them (one read pass, two threads) is `all_fold.rs`.

use std::sync::{Mutex, PoisonError};

use super::accident_stats::AccidentStats;
use super::error::ProjectionError;
use super::hazard_ledger::HazardLedger;
use super::injury_surveillance::InjurySurveillance;
use super::promotion::PromotionProjects;
use super::replay::decode;
use super::snapshot::{load_snapshot, save_snapshot, snapshot_checkpoint};
use super::trails::AccountabilityTrails;
use super::traits::Projection;
use crate::events::DomainEvent;
use crate::store::{EventStore, RecordedEvent};

/// A thread the once-per-projection work of [`AllProjections`] runs on: the caller's, or one of
/// two helpers started for the call (only when some projection is given to it).
///
/// The split is each entry's: the three large snapshots (ledger, statistics, trails) cost about
/// the same to load, so each has a thread (the trails with the two small ones), which on two
/// cores the scheduler shares evenly where two threads would leave one with two of the three;
/// the derived-index rebuilds that end a bulk fold are a rebuild's single-threaded tail (about a
/// quarter of it at 1M events), so the statistics' runs on a helper beside the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Caller,
    First,
    Second,
}

/// Lanes, so their work can be grouped by index.
const LANES: usize = 3;

/// Declares the read models folded together: `field: Type { load: Lane, end_bulk: Lane }`, one
/// line each. Generates [`AllProjections`] and the code that walks its fields.
macro_rules! all_projections {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty { load: $load:ident, end_bulk: $end:ident } ),* $(,)?) => {
        /// Every projection, folded together in one pass over the log (一次回放全部读模型).
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct AllProjections {
            $( $(#[$doc])* pub $field: $ty, )*
        }

        impl AllProjections {
            /// The projections' names ([`Projection::NAME`], their snapshots' keys), in field order.
            pub const NAMES: &'static [&'static str] = &[$( <$ty as Projection>::NAME ),*];

            /// Whether some projection wants an event type.
            #[inline]
            fn wanted(event_type: &str) -> bool {
                $( <$ty as Projection>::wants(event_type) )||*
            }

            /// Feeds an event decoded already to every projection that wants its type.
            #[inline]
            pub(super) fn apply_decoded(&mut self, recorded: &RecordedEvent, event: &DomainEvent) {
                $( if <$ty as Projection>::wants(&recorded.event_type) {
                    self.$field.apply(recorded, event);
                } )*
            }

            pub(super) fn begin_bulk(&mut self) {
                $( self.$field.begin_bulk(); )*
            }

            /// Every projection as a [`Member`], in field order, with its lane for `work`.
            fn members_mut(&mut self, work: Work) -> Vec<(Lane, &mut dyn Member)> {
                vec![$( (match work { Work::Load => Lane::$load, Work::EndBulk => Lane::$end }, &mut self.$field as &mut dyn Member) ),*]
            }

            /// Every projection as a [`Member`], in field order.
            fn members(&self) -> Vec<&dyn Member> {
                vec![$( &self.$field as &dyn Member ),*]
            }
        }
    };
}

all_projections! {
    /// 隐患台账.
    hazard_ledger: HazardLedger { load: Caller, end_bulk: Caller },
    /// 事故统计.
    accident_stats: AccidentStats { load: First, end_bulk: First },
    /// 四不放过.
    trails: AccountabilityTrails { load: Second, end_bulk: Caller },
    /// 伤害监测.
    injury_surveillance: InjurySurveillance { load: Second, end_bulk: Caller },
    /// 安全促进项目.
    promotion: PromotionProjects { load: Second, end_bulk: Caller },
}

/// Which once-per-projection work a lane split is for.
#[derive(Debug, Clone, Copy)]
enum Work {
    Load,
    EndBulk,
}

/// A projection as the registry walks it for the work done once per projection (a bulk's end,
/// a snapshot's load, save or checkpoint): object-safe, so the list is a slice; the per-event
/// fold does not go through it.
trait Member: Send {
    fn end_bulk(&mut self);
    /// Replaces the state with the snapshot's; its checkpoint, `None` when there is none.
    fn load_snapshot(&mut self, store: &EventStore) -> Result<Option<u64>, ProjectionError>;
    fn save_snapshot(&self, store: &EventStore, checkpoint: u64) -> Result<(), ProjectionError>;
    fn snapshot_checkpoint(&self, store: &EventStore) -> Result<Option<u64>, ProjectionError>;
}

impl<P: Projection + Send> Member for P {
    fn end_bulk(&mut self) {
        Projection::end_bulk(self);
    }

    fn load_snapshot(&mut self, store: &EventStore) -> Result<Option<u64>, ProjectionError> {
        Ok(load_snapshot::<P>(store)?.map(|(state, checkpoint)| {
            *self = state;
            checkpoint
        }))
    }

    fn save_snapshot(&self, store: &EventStore, checkpoint: u64) -> Result<(), ProjectionError> {
        save_snapshot(store, self, checkpoint)
    }

    fn snapshot_checkpoint(&self, store: &EventStore) -> Result<Option<u64>, ProjectionError> {
        snapshot_checkpoint::<P>(store)
    }
}

/// Runs `work` on every member, the caller's lane here and each other lane that has members on
/// a helper thread named `thread`; returns the results in member order. A lane whose thread
/// could not be had runs on this thread afterwards; a panic on a helper resumes here.
fn on_lanes<'a, R: Send>(
    thread: &str,
    members: Vec<(Lane, &'a mut dyn Member)>,
    work: impl Fn(&mut dyn Member) -> R + Sync,
) -> Vec<R> {
    type Lanes<'m> = Vec<(usize, &'m mut dyn Member)>;
    let n = members.len();
    let mut lanes: [Lanes<'a>; LANES] = Default::default();
    for (i, (lane, member)) in members.into_iter().enumerate() {
        if let Some(l) = lanes.get_mut(lane as usize) {
            l.push((i, member));
        }
    }
    let [mut here, helped @ ..] = lanes;
    let run = |lane: &mut Lanes<'a>| -> Vec<(usize, R)> { lane.drain(..).map(|(i, m)| (i, work(m))).collect() };
    let helped = helped.map(Mutex::new);
    let mut done = std::thread::scope(|scope| {
        let spawned: Vec<_> = helped
            .iter()
            .filter(|lane| !lane.lock().unwrap_or_else(PoisonError::into_inner).is_empty())
            .map(|lane| {
                std::thread::Builder::new()
                    .name(thread.into())
                    .spawn_scoped(scope, || run(&mut lane.lock().unwrap_or_else(PoisonError::into_inner)))
            })
            .collect();
        let mut done = run(&mut here);
        for h in spawned.into_iter().flatten() {
            done.extend(h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        done
    });
    // No thread to be had: that lane's closure never ran, so its members are still there.
    for lane in helped {
        done.extend(run(&mut lane.into_inner().unwrap_or_else(PoisonError::into_inner)));
    }
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (i, r) in done {
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    results.into_iter().flatten().collect()
}

/// Decodes an event if some projection wants its type: `None` when none does or the type is
/// unknown.
pub(super) fn decode_wanted(recorded: &RecordedEvent) -> Result<Option<DomainEvent>, ProjectionError> {
    if AllProjections::wanted(&recorded.event_type) {
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

    /// The index rebuilds are independent (each projection's own) and come after the last event
    /// is folded: each runs on its entry's `end_bulk` lane.
    pub(super) fn end_bulk(&mut self) {
        on_lanes("anquan-end-bulk", self.members_mut(Work::EndBulk), |m| m.end_bulk());
    }

    /// Every projection from its snapshot, with their common checkpoint: `Ok(None)` unless each
    /// has one (of its current version) at the same checkpoint, as [`Self::save_snapshots`]
    /// writes them; a crash between its batches leaves them apart, and the caller then folds
    /// from position 0. A damaged snapshot is an error, as from [`load_snapshot`].
    ///
    /// The loads are independent; each runs on its entry's `load` lane (see [`Lane`]).
    pub fn load_snapshots(store: &EventStore) -> Result<Option<(Self, u64)>, ProjectionError> {
        let mut all = Self::default();
        let loaded = on_lanes("anquan-snapshot-load", all.members_mut(Work::Load), |m| m.load_snapshot(store));
        let mut checkpoints = Vec::with_capacity(loaded.len());
        for checkpoint in loaded {
            let Some(checkpoint) = checkpoint? else { return Ok(None) };
            checkpoints.push(checkpoint);
        }
        match checkpoints.first() {
            Some(&first) if checkpoints.iter().all(|c| *c == first) => Ok(Some((all, first))),
            _ => Ok(None),
        }
    }

    /// The checkpoint the snapshots share, from their meta records alone (no state is read):
    /// `None` unless every projection has one at the same position.
    pub fn snapshots_checkpoint(store: &EventStore) -> Result<Option<u64>, ProjectionError> {
        let empty = Self::default();
        let mut checkpoints = Vec::with_capacity(Self::NAMES.len());
        for member in empty.members() {
            checkpoints.push(member.snapshot_checkpoint(store)?);
        }
        Ok(checkpoints.first().copied().flatten().filter(|c| checkpoints.iter().all(|x| *x == Some(*c))))
    }

    /// Writes each projection's snapshot at `checkpoint` (one atomic batch per projection), in
    /// field order, stopping at the first error.
    pub fn save_snapshots(&self, store: &EventStore, checkpoint: u64) -> Result<(), ProjectionError> {
        for member in self.members() {
            member.save_snapshot(store, checkpoint)?;
        }
        Ok(())
    }
}
