//! [`ProjectionRunner`]: one projection kept up to date against a store (snapshot, catch-up from
//! its checkpoint, live follow through a subscription, snapshot again).

use std::time::Duration;

use super::error::ProjectionError;
use super::replay::{decode, replay_range, state_bytes, PAGE};
use super::snapshot::{load_snapshot, save_snapshot};
use super::traits::Projection;
use crate::store::{EventStore, Subscription};

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
