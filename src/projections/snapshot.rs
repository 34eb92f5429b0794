//! Snapshots: a projection's state and checkpoint in one atomic batch under `P` + name + `\0`
//! (a meta record with format, version, checkpoint, chunk count and BLAKE3 hash, then the state
//! in chunks of at most [`SNAPSHOT_CHUNK`] bytes), and loading them back only when every check
//! passes.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::error::ProjectionError;
use super::traits::Projection;
use crate::codec;
use crate::storage::{prefix_bounds, WriteBatch};
use crate::store::EventStore;

/// Largest value one snapshot chunk occupies in the backend: small enough that a sled leaf of
/// them (≤ 17 items) stays far below sled's blob threshold (see `storage::sled_backend`).
pub const SNAPSHOT_CHUNK: usize = 32 * 1024;

/// Format of the snapshot meta record itself.
const META_FORMAT: u32 = 1;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DomainEvent;
    use crate::store::RecordedEvent;

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
}
