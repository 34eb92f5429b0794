//! The service's state: the engine, its tokens, the live projections, the counters, its bounds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::auth::Tokens;
use super::error::ServeError;
use super::{live, metrics};
use crate::engine::Engine;
use crate::store::{EventStore, StoreOptions};

/// A request's headers must arrive within this, by default.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Bounds of a service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest request body (a command is at most 1 MiB; a batch up to this).
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408 (slow clients included).
    pub request_timeout: Duration,
    /// A connection must send a request's headers within this, or is closed (slow clients, and
    /// connections opened to hold a slot).
    pub header_timeout: Duration,
    /// Connections served at once; more wait in the kernel's queue.
    pub max_connections: usize,
    /// Questions about another moment than now folding the log at once.
    pub heavy_queries: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: HEADER_TIMEOUT,
            max_connections: 512,
            heavy_queries: 2,
        }
    }
}

/// A running service's state: the engine, its tokens, live projections, counters.
#[derive(Debug)]
pub struct Service {
    pub engine: Arc<Engine>,
    pub tokens: Tokens,
    pub live: live::Live,
    pub metrics: metrics::Metrics,
    pub options: ServeOptions,
    pub(super) heavy: tokio::sync::Semaphore,
}

impl Service {
    /// A service over an engine (which owns its store and vault) with a token file.
    pub fn new(engine: Arc<Engine>, tokens: Tokens, options: ServeOptions) -> Result<Arc<Self>, ServeError> {
        let live = live::Live::start(engine.clone())?;
        let heavy = tokio::sync::Semaphore::new(options.heavy_queries.max(1));
        Ok(Arc::new(Self { engine, tokens, live, metrics: metrics::Metrics::default(), options, heavy }))
    }

    /// The service of the store in `dir`: its vault and `tokens.json` beside it.
    pub fn open(dir: &Path, options: ServeOptions) -> Result<Arc<Self>, ServeError> {
        Self::open_with(dir, StoreOptions { create_if_missing: false, ..Default::default() }, options)
    }

    /// [`Service::open`] with the store's options given (cluster mode among them: the service
    /// then serves this node's replica and its commands go through the tenant's log).
    pub fn open_with(dir: &Path, store: StoreOptions, options: ServeOptions) -> Result<Arc<Self>, ServeError> {
        let vault_options = store.clone();
        let store = EventStore::open_dir(dir, store)?;
        let vault = Arc::new(crate::engine::privacy::Vault::open_for_store(dir, &vault_options)?);
        let engine = Arc::new(Engine::new(store)?.with_vault(vault));
        Self::new(engine, Tokens::beside_store(dir)?, options)
    }

    /// Stops following the log and writes a last snapshot.
    pub fn stop(&self) {
        self.live.stop(self.engine.store());
    }
}
