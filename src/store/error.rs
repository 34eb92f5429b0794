//! The event store's error enum.

use uuid::Uuid;

use super::layout;
use super::types::{ExpectedVersion, StreamVersion};
use crate::storage::StorageError;

/// An error from the event store. Every rejection of an append writes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("wrong expected version for stream {stream}: expected {expected:?}, actual {}", describe_version(*.actual))]
    WrongExpectedVersion { stream: String, expected: ExpectedVersion, actual: StreamVersion },
    #[error("an append must contain at least one event")]
    EmptyAppend,
    #[error("the append for stream {stream} contains no events")]
    EmptyStreamAppend { stream: String },
    #[error("stream {stream} appears twice in one append; give all its events in one entry")]
    StreamRepeated { stream: String },
    #[error("an append may carry at most {limit} events, this one has {count}")]
    TooManyEvents { count: usize, limit: usize },
    #[error("event {index} of stream {stream} encodes to {size} bytes, over the {limit}-byte limit")]
    EventTooLarge { stream: String, index: usize, size: usize, limit: usize },
    #[error("invalid stream id: {reason}")]
    InvalidStreamId { reason: String },
    #[error("invalid event {index} of stream {stream}: {reason}")]
    InvalidEvent { stream: String, index: usize, reason: String },
    #[error("event id {event_id} appears twice in the same append")]
    DuplicateEventInAppend { event_id: Uuid },
    #[error("event id {event_id} is already stored at position {position} with different content")]
    EventIdConflict { event_id: Uuid, position: u64 },
    #[error("not an idempotent retry: {reason}")]
    IdempotencyMismatch { reason: String },
    #[error("the store refuses writes after a failed commit ({cause}); reopen it to recover")]
    Poisoned { cause: String },
    #[error("the store is closed")]
    Closed,
    #[error("the store directory {path} holds no anquan store")]
    NotFound { path: String },
    #[error("an event store keeps its event-id index in files: give their folder (StoreOptions::id_index_dir), or open it with EventStore::open_dir")]
    IdIndexFolderNeeded,
    #[error("store data is corrupt: {detail}")]
    Corrupt { detail: String },
    /// The folder holds a store of another format (`found` says which). Nothing has been
    /// released before this format, so no conversion is offered; the data moves by export/import.
    #[error(
        "{found}; this version of anquan reads only the current store format: move the data with `anquan export` \
         run by the version that wrote it, then `anquan import` into a new store"
    )]
    UnsupportedFormat { found: String },
    /// Cluster mode: the cluster refused or did not confirm the commit; nothing was written.
    /// `retryable`: the same append may succeed later (an election, another node's commit
    /// being applied here first); it is idempotent by its event ids.
    #[error("cluster mode: {detail}")]
    Cluster { detail: String, retryable: bool },
    /// Cluster mode: this replica's log disagrees with the cluster's; the store stops serving.
    #[error("this replica disagrees with the cluster's log ({detail}); delete the folder and let it catch up")]
    ReplicaMismatch { detail: String },
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for StoreError {
    /// Damaged stored data is corruption of the log, like a damaged segment, named at the
    /// segment's first position when the damaged value is a segment; a folder of another format
    /// is that; everything else the backend reports stays a storage error.
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Damaged { key, detail } => StoreError::Corrupt {
                detail: match layout::parse_segment_key(&key) {
                    Ok(first) => format!("the segment at position {first} is damaged: {detail}"),
                    Err(_) => StorageError::Damaged { key, detail }.to_string(),
                },
            },
            StorageError::UnsupportedFormat { found } => StoreError::UnsupportedFormat { found },
            other => StoreError::Storage(other),
        }
    }
}

fn describe_version(v: StreamVersion) -> String {
    match v {
        None => "no stream".to_string(),
        Some(n) => format!("version {n}"),
    }
}

impl StoreError {
    /// True for an optimistic-concurrency conflict: reload and retry.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::WrongExpectedVersion { .. })
    }
}
