//! Layer 2, the event store: streams, expected versions, idempotency, gapless global positions, a
//! hash chain, subscriptions and verification, on any [`Backend`]. Owns the record and segment
//! layout, the event-id index and the single writer. May import `storage` and `codec`; stores
//! payloads as bytes and knows no event type.
//!
//! Invariants (see `ARCHITECTURE.md` for the why):
//! - Positions `0..head.next_position` are gapless; each stream's versions are gapless from 0.
//! - Positions, versions, recorded-at and hashes are assigned only by the single writer, inside
//!   the commit (`writer.rs`), so readers and subscribers never see a later event before an earlier one.
//! - Readers see only events whose commit completed (durable, in the default mode): reads are
//!   clamped to the visible head, which the writer advances after the commit.
//! - recorded-at never decreases along positions (the writer takes `max(clock, last)`), so
//!   "as of a time" maps to "as of a position" by binary search.
//! - After a failed commit the store is poisoned: no further writes until reopened.
//! - Reads serve only bytes that passed the backend's checks: a segment whose stored frame fails
//!   its check is `StoreError::Corrupt` naming the segment's first position, for every read that
//!   reaches it (`read_all`, `read_stream`, subscriptions' catch-up, `verify`), never its events.
//! - One store format: layout `layout::LAYOUT_VERSION`; any other is refused at open before
//!   anything in the folder changes beyond the backend's own open.
//!
//! Files: `event_store.rs` the [`EventStore`] handle; `options.rs` its options and counters;
//! `shared.rs` the state the handle, writer, subscriptions and verify share, with the reads;
//! `writer.rs` the single writer (group commit); `subscription.rs`; `verify.rs`; `types.rs`
//! the envelope and limits; `layout.rs` keys, segments and records; `id_index.rs`; `reply.rs`;
//! `clock.rs`; `error.rs`; `validate.rs` the checks before the writer; `replication.rs` what the
//! writer needs from a replicated log (commit messages, applying other nodes' commits);
//! `replica.rs` (feature `cluster`) the follower, lease and forwarding of cluster mode. This file
//! only declares them and re-exports the API.

mod clock;
mod error;
mod event_store;
pub(crate) mod id_index;
pub(crate) mod layout;
mod options;
#[cfg(feature = "cluster")]
mod replica;
mod replication;
mod reply;
mod shared;
mod subscription;
mod types;
mod validate;
mod verify;
mod writer;

/// Cluster mode's options and the errors of its client.
#[cfg(feature = "cluster")]
pub use crate::storage::cluster::{Cluster, ClusterError, ClusterOptions};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use event_store::{EventStore, ID_INDEX_FOLDER};
pub use options::{Durability, StoreOptions, StoreStats};
pub use replication::{Replication, ReplicationError, COMMIT_MAGIC};
pub use subscription::Subscription;
pub use types::*;
pub use verify::{IntegrityProblem, VerifyReport};

/// The backend contract a store runs on ([`EventStore::open_with`]), with the embedded default
/// (sled) and its options, for hosts that bring or wrap their own backend.
pub use crate::storage::sled_backend::SledOptions;
/// How segments are stored in the value file (`StoreOptions::segment_compression`).
pub use crate::storage::value_log::Compression;
pub use crate::storage::{Backend, KeyValue, ScanIter, SledBackend, StorageError, WriteBatch, WriteOp};
