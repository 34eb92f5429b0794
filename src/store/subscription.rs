//! Subscriptions: catch up from the store, then follow live commits.
//!
//! Invariant: a subscription delivers positions `from, from+1, …` exactly once each, in order.
//! It keeps `next` (the next position owed) and accepts an event only if its position equals
//! `next`: live batches that overlap what was already read are skipped, and a gap (after the
//! writer dropped a slow subscriber's queue) is filled by reading the store. The writer never
//! waits on a subscriber: live queues are bounded and a full one is dropped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::error::StoreError;
use super::shared::Shared;
use super::types::{Direction, RecordedEvent};

/// Events read from the store per catch-up page.
const CATCH_UP_PAGE: usize = 4096;

/// A position-ordered feed of committed events. See [`super::EventStore::subscribe`].
pub struct Subscription {
    shared: Arc<Shared>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    live: Option<Receiver<Arc<[RecordedEvent]>>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("next", &self.next).field("live", &self.live.is_some()).finish()
    }
}

impl Subscription {
    pub(crate) fn new(shared: Arc<Shared>, from: u64) -> Self {
        Self { shared, next: from, buffer: VecDeque::new(), live: None }
    }

    /// The position of the next event this subscription will deliver.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// The next event, waiting at most `timeout` for one to commit. `Ok(None)` on timeout.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<RecordedEvent>, StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.buffer.pop_front() {
                self.next = ev.position + 1;
                return Ok(Some(ev));
            }
            if self.next < self.shared.visible_next() {
                self.catch_up()?;
                continue;
            }
            // Caught up: follow live commits. Register first, then re-check the head, so a commit
            // between the check above and the registration is read from the store.
            let rx = match &self.live {
                Some(rx) => rx.clone(),
                None => {
                    let rx = self.shared.register_subscriber();
                    self.live = Some(rx.clone());
                    if self.next < self.shared.visible_next() {
                        continue;
                    }
                    rx
                }
            };
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(batch) => self.take_live(&batch),
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                // Dropped for being slow, or the store closed: fall back to the store.
                Err(RecvTimeoutError::Disconnected) => {
                    self.live = None;
                    if self.next >= self.shared.visible_next() {
                        if Instant::now() >= deadline {
                            return Ok(None);
                        }
                        // Nothing to read and no live feed: poll gently until the deadline.
                        std::thread::sleep(Duration::from_millis(1).min(wait));
                    }
                }
            }
        }
    }

    /// Events available now, without waiting (up to `max`).
    pub fn poll(&mut self, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.next_timeout(Duration::ZERO)? {
                Some(ev) => out.push(ev),
                None => break,
            }
        }
        Ok(out)
    }

    fn catch_up(&mut self) -> Result<(), StoreError> {
        let page = self.shared.read_all(self.next, Direction::Forward, CATCH_UP_PAGE)?;
        for (expect, ev) in (self.next..).zip(page) {
            if ev.position != expect {
                return Err(StoreError::Corrupt {
                    detail: format!("read_all returned position {} where {expect} was due", ev.position),
                });
            }
            self.buffer.push_back(ev);
        }
        Ok(())
    }

    fn take_live(&mut self, batch: &[RecordedEvent]) {
        let mut expect = self.next;
        for ev in batch {
            if ev.position < expect {
                continue; // already delivered from the store
            }
            if ev.position > expect {
                // A gap: leave the rest to the store, which has it.
                self.live = None;
                return;
            }
            self.buffer.push_back(ev.clone());
            expect += 1;
        }
    }
}

impl Iterator for Subscription {
    type Item = Result<RecordedEvent, StoreError>;

    /// Blocks until the next event commits. Ends only if the store is closed and drained.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_timeout(Duration::from_millis(200)) {
                Ok(Some(ev)) => return Some(Ok(ev)),
                Ok(None) => {
                    if self.shared.is_closed() && self.next >= self.shared.visible_next() {
                        return None;
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
