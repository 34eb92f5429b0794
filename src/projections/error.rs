//! [`ProjectionError`]: every way folding, snapshotting or loading a projection fails.

use crate::codec::CodecError;
use crate::events::EventError;
use crate::storage::StorageError;
use crate::store::StoreError;

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
