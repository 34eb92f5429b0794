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
//! - [`rebuild_all`] / [`replay_all_range`] fold every projection in **one** read pass,
//!   decoding each wanted event once; the result is the same state as separate rebuilds
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
//!
//! Where things are (this file only declares the modules and re-exports what a host uses):
//! - `traits.rs`: the [`Projection`] trait, and [`Family`], the event types a read model says it
//!   folds (from the event enums' generated `TYPES`);
//! - `error.rs`: [`ProjectionError`]; `period.rs`: [`Period`] and [`percent`];
//!   `staged.rs`: `Staged`, the bulk fold's staging of entries; `state_codec.rs`: how state
//!   fields are laid out in a snapshot;
//! - `replay.rs`: one projection folded over a range ([`replay_range`], [`replay_until`],
//!   [`as_of_time`], [`rebuild`], [`decode`]); `runner.rs`: [`ProjectionRunner`];
//!   `snapshot.rs`: [`save_snapshot`] / [`load_snapshot`] and their keys and checks;
//! - `all.rs`: the registry, [`AllProjections`], every read model declared by one line (its
//!   snapshot loads and bulk ends split over threads by that line); `all_fold.rs`: the one-pass
//!   fold of all of them ([`replay_all_range`], [`rebuild_all`], [`AllProjections::as_of`]);
//! - the read models: [`hazard_ledger`], [`accident_stats`] (with [`kpis`]), [`trails`],
//!   [`injury_surveillance`], [`promotion`].

pub mod accident_stats;
mod all;
mod all_fold;
mod error;
pub mod hazard_ledger;
pub mod injury_surveillance;
pub mod kpis;
mod period;
pub mod promotion;
mod replay;
mod runner;
mod snapshot;
mod staged;
pub(crate) mod state_codec;
pub mod trails;
mod traits;

pub use accident_stats::AccidentStats;
pub use all::AllProjections;
pub use all_fold::{rebuild_all, replay_all_range};
pub use error::ProjectionError;
pub use hazard_ledger::HazardLedger;
pub use injury_surveillance::InjurySurveillance;
pub use period::{percent, Period};
pub use promotion::PromotionProjects;
pub use replay::{as_of_time, decode, rebuild, replay_range, replay_until, state_bytes, PAGE};
pub use runner::ProjectionRunner;
pub use snapshot::{load_snapshot, save_snapshot, snapshot_checkpoint, SNAPSHOT_CHUNK};
pub(crate) use staged::Staged;
pub use trails::AccountabilityTrails;
pub use traits::{Family, Projection};
