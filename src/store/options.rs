//! How a store is opened and what it counts: [`Durability`], [`StoreOptions`] and the
//! [`StoreStats`] counters a host reads.

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::id_index;
use super::layout;
use super::types::MAX_EVENT_BYTES;
use crate::storage::value_log::Compression;

/// When an acknowledged append is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Default. Every group commit is synced (sled flush + fdatasync) before any caller in it is
    /// acknowledged: an acknowledged append survives kill -9 and power loss.
    EveryCommit,
    /// Opt-in. Callers are acknowledged once the commit is applied in memory; the writer syncs at
    /// most `flush_interval` later (and on [`EventStore::flush`] and on close). A process crash or
    /// power loss can lose the acknowledged appends of that last interval — never a part of
    /// one, and never an event in the middle of the log. For bulk imports that can be re-run.
    Deferred { flush_interval: Duration },
}

/// Settings for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Source of recorded-at.
    pub clock: Arc<dyn Clock>,
    /// Largest encoded event; at most [`MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
    /// Create the store if the folder holds none.
    pub create_if_missing: bool,
    /// sled's page cache in bytes.
    pub cache_capacity: u64,
    /// Size of each of the redo journal's two files (sled is checkpointed, in the background,
    /// each time one fills).
    pub journal_capacity: u64,
    /// Folder of the event-id index files (see `id_index`), needed at every open:
    /// [`EventStore::open_dir`] sets `DIR/ids` when this is `None`; [`EventStore::open_with`]
    /// refuses `None` ([`StoreError::IdIndexFolderNeeded`]).
    pub id_index_dir: Option<std::path::PathBuf>,
    /// Event ids the index holds in memory before writing them as a run file: memory against
    /// the log re-read at open after a crash (what the tables held: up to nine tables' worth).
    pub id_index_table: usize,
    /// How segments are stored in the value file from now on: zstd level 1 by default (about
    /// 40% fewer bytes, about 0.2 µs more per event read); [`Compression::None`] for the fastest
    /// reads. Segments already written keep their form.
    pub segment_compression: Compression,
    /// Cluster mode: the log's truth is this NATS JetStream cluster and the folder is a replica
    /// of it (ARCHITECTURE.md, "Beyond one machine"). `None`: the folder alone, as always.
    #[cfg(feature = "cluster")]
    pub cluster: Option<crate::storage::cluster::ClusterOptions>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::EveryCommit,
            clock: Arc::new(SystemClock),
            max_event_bytes: MAX_EVENT_BYTES,
            create_if_missing: true,
            cache_capacity: crate::storage::sled_backend::SledOptions::default().cache_capacity,
            journal_capacity: crate::storage::sled_backend::SledOptions::default().journal_capacity,
            id_index_dir: None,
            id_index_table: id_index::DEFAULT_TABLE_ENTRIES,
            segment_compression: Compression::default(),
            #[cfg(feature = "cluster")]
            cluster: None,
        }
    }
}

impl StoreOptions {
    /// The sled backend's options for an event store: these sizes, and segments (written once,
    /// never replaced) kept out of sled's leaves, in the value file.
    pub fn sled_options(&self) -> crate::storage::sled_backend::SledOptions {
        crate::storage::sled_backend::SledOptions {
            cache_capacity: self.cache_capacity,
            journal_capacity: self.journal_capacity,
            out_of_line_prefixes: vec![layout::SEGMENT_PREFIX],
            value_compression: self.segment_compression,
        }
    }
}

/// Monotonic counters since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StoreStats {
    /// Group commits written.
    pub commits: u64,
    /// Events written by those commits.
    pub events: u64,
    /// Backend syncs (fsync barriers).
    pub syncs: u64,
    /// Time spent inside those syncs, summed, in nanoseconds. `sync_nanos / syncs` is the
    /// disk's mean sync: a durable caller waits for at least one whole sync, so `n` callers
    /// that each append one event at a time get at most `n / mean sync` events per second.
    pub sync_nanos: u64,
    /// Append requests answered (including rejections and idempotent retries).
    pub requests: u64,
    /// Cluster mode: commit messages this node published (its own groups; other nodes' commits
    /// it applies are not counted).
    pub published: u64,
    /// Cluster mode: events in those messages; `published_events / published` is the events
    /// per message that group commit achieves.
    pub published_events: u64,
}
