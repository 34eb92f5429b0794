//! The HTTP service (`anquan serve`, and a router a host mounts in its own): commands in, the
//! questions of [`crate::interface::query`] out, the log paged and streamed live, health and
//! metrics, and the dashboard page.
//!
//! Invariants:
//! - Every endpoint but `/healthz` and the page's own files (`/`, `/assets/…`: code, no data)
//!   needs a bearer token; a command's actor is its token's ([`auth`]).
//! - The engine is synchronous: commands and folds run on tokio's blocking pool, never on the
//!   runtime's threads. Questions about now are answered from the live projections
//!   ([`live`]); questions about another moment fold the log, at most
//!   [`ServeOptions::heavy_queries`] at a time, so one heavy question cannot starve the rest.
//! - Errors are `application/problem+json` with the engine's pointer and rule ([`problem`]).
//! - A 2xx answer to a command means its events are durable (the store's default durability).

mod api;
pub mod auth;
pub mod live;
pub mod metrics;
pub mod openapi;
mod page;
pub mod problem;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::engine::Engine;
use crate::store::{EventStore, StoreError};

pub use auth::{Access, Caller, Tokens};

/// Why a service could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Projection(#[from] crate::projections::ProjectionError),
    #[error(transparent)]
    Query(#[from] crate::interface::query::QueryError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Privacy(#[from] crate::engine::privacy::PrivacyError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Bounds of a service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest request body (a command is at most 1 MiB; a batch up to this).
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408 (slow clients included).
    pub request_timeout: Duration,
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
    heavy: tokio::sync::Semaphore,
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
        let store =
            EventStore::open_dir(dir, crate::store::StoreOptions { create_if_missing: false, ..Default::default() })?;
        let vault = Arc::new(crate::engine::privacy::Vault::open_beside_store(dir)?);
        let engine = Arc::new(Engine::new(store)?.with_vault(vault));
        Self::new(engine, Tokens::beside_store(dir)?, options)
    }

    /// Stops following the log and writes a last snapshot.
    pub fn stop(&self) {
        self.live.stop(self.engine.store());
    }
}

/// The router of the service, to serve or to mount inside a host's own (`Router::nest`).
pub fn router(service: Arc<Service>) -> Router {
    api::routes(service.clone()).merge(page::routes())
}

/// Serves until `shutdown` completes: then stops taking connections, lets the requests in
/// flight finish (at most [`SHUTDOWN_GRACE`]; live event streams are cut), and stops the service
/// (last snapshot). At most [`ServeOptions::max_connections`] connections are served at once;
/// a connection must send its request headers within [`HEADER_TIMEOUT`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use tower::ServiceExt;
    let app = router(service.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(service.options.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p.map_err(|e| std::io::Error::other(e.to_string()))?,
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let handler = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES);
        let conn = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), handler));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?} of shutdown: closed");
    }
    let s = service.clone();
    tokio::task::spawn_blocking(move || s.stop()).await.map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

/// A request's headers must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) accepted.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a shutdown waits for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
