//! The router and the accept loop.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use super::error::ServeError;
use super::service::Service;
use super::{api, page};

/// The router of the service, to serve or to mount inside a host's own (`Router::nest`).
pub fn router(service: Arc<Service>) -> Router {
    api::routes(service.clone()).merge(page::routes())
}

/// Serves until `shutdown` completes: then stops taking connections, lets the requests in
/// flight finish (at most [`SHUTDOWN_GRACE`]; live event streams are cut), and stops the service
/// (last snapshot). At most [`ServeOptions::max_connections`] connections are served at once;
/// a connection must send its request headers within [`ServeOptions::header_timeout`].
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
            .header_read_timeout(service.options.header_timeout)
            .max_header_size(MAX_HEADER_BYTES)
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

/// The largest request head (request line and headers) accepted.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a shutdown waits for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
