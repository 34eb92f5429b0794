//! Live projections: the five read models kept up with the log while a service runs, so "now"
//! questions are answered from memory.
//!
//! A follower thread subscribes to the store from the position the projections were loaded at
//! (from snapshots when they allow), folds every event in order under a write lock, publishes
//! the position it reached on a watch channel (what the event stream's clients wait on), and
//! writes snapshots from time to time, so a restart loads them instead of folding from 0.
//!
//! Invariants:
//! - Readers see the projections at one position, with the chain hash there, never between two
//!   events of a group.
//! - The state owns what it needs (no borrow of the store): the service keeps it in an `Arc`.
//! - A fold error (an event the projections cannot read) stops the follower and is reported by
//!   [`Live::fault`]; the service says so in `/healthz` rather than serve figures that stopped
//!   moving silently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::error::ServeError;
use crate::engine::Engine;
use crate::interface::query::hash_at;
use crate::projections::AllProjections;
use crate::store::{to_hex, EventStore};

/// The projections at one position.
#[derive(Debug)]
pub struct View {
    pub all: AllProjections,
    /// Events folded: positions `0..position`.
    pub position: u64,
    /// Chain hash after them.
    pub head_hash: String,
}

/// Live projections and their follower.
#[derive(Debug)]
pub struct Live {
    view: Arc<RwLock<View>>,
    stop: Arc<AtomicBool>,
    fault: Arc<Mutex<Option<String>>>,
    follower: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The position folded so far, for clients that wait for new events.
    pub positions: tokio::sync::watch::Receiver<u64>,
}

/// How often the follower writes snapshots (when something changed since the last).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(60);

impl Live {
    /// Loads the projections at the head (from snapshots where they allow) and starts following.
    pub fn start(engine: Arc<Engine>) -> Result<Self, ServeError> {
        let store = engine.store();
        let position = store.head().next_position;
        let (all, _) = AllProjections::as_of(store, position)?;
        let head_hash = hash_at(store, position)?;
        let view = Arc::new(RwLock::new(View { all, position, head_hash }));
        let stop = Arc::new(AtomicBool::new(false));
        let fault = Arc::new(Mutex::new(None));
        let (tx, positions) = tokio::sync::watch::channel(position);
        let follower = {
            let (view, stop, fault) = (view.clone(), stop.clone(), fault.clone());
            std::thread::Builder::new()
                .name("anquan-live".into())
                .spawn(move || {
                    if let Err(e) = follow(engine.store(), &view, &stop, &tx) {
                        tracing::error!("live projections stopped: {e}");
                        if let Ok(mut f) = fault.lock() {
                            *f = Some(e);
                        }
                    }
                })
                .map_err(ServeError::Io)?
        };
        Ok(Self { view, stop, fault, follower: Mutex::new(Some(follower)), positions })
    }

    /// Reads the projections at their current position.
    pub fn read<T>(&self, f: impl FnOnce(&View) -> T) -> T {
        let guard = self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// The position folded so far.
    pub fn position(&self) -> u64 {
        *self.positions.borrow()
    }

    /// Why the follower stopped, if it did.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().ok().and_then(|f| f.clone())
    }

    /// Stops the follower and writes a last snapshot.
    pub fn stop(&self, store: &EventStore) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.follower.lock().ok().and_then(|mut f| f.take()) {
            let _ = h.join();
        }
        let view = self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = view.all.save_snapshots(store, view.position) {
            tracing::warn!("no snapshot at shutdown: {e}");
        }
    }
}

fn follow(
    store: &EventStore,
    view: &RwLock<View>,
    stop: &AtomicBool,
    tx: &tokio::sync::watch::Sender<u64>,
) -> Result<(), String> {
    let start = view.read().map_err(|e| e.to_string())?.position;
    let mut sub = store.subscribe(start);
    let mut last_snapshot = (Instant::now(), start);
    let mut batch = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        batch.clear();
        if let Some(e) = sub.next_timeout(Duration::from_millis(100)).map_err(|e| e.to_string())? {
            batch.push(e);
        }
        // Whatever else is ready, up to a bound, folds under the same lock.
        while batch.len() < 1024 && !batch.is_empty() {
            match sub.next_timeout(Duration::ZERO).map_err(|e| e.to_string())? {
                Some(e) => batch.push(e),
                None => break,
            }
        }
        if let Some(last) = batch.last() {
            let mut v = view.write().map_err(|e| e.to_string())?;
            for e in &batch {
                v.all.apply_recorded(e).map_err(|err| format!("event at position {}: {err}", e.position))?;
            }
            v.position = last.position + 1;
            v.head_hash = to_hex(&last.hash);
            let _ = tx.send(v.position);
        }
        if last_snapshot.0.elapsed() >= SNAPSHOT_EVERY {
            let v = view.read().map_err(|e| e.to_string())?;
            if v.position != last_snapshot.1 {
                if let Err(e) = v.all.save_snapshots(store, v.position) {
                    tracing::warn!("snapshot at {} not written: {e}", v.position);
                }
            }
            last_snapshot = (Instant::now(), v.position);
        }
    }
    Ok(())
}
