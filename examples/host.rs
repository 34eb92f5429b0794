//! A host service that mounts anquan's router beside its own routes: the host keeps its own
//! endpoints (here `/host/hello`) and gains anquan's API, metrics, health and dashboard on the
//! same listener, over a store folder it opens itself.
//!
//! ```text
//! anquan init --admin admin-1 --store ./anquan-data
//! anquan token --for admin-1 --store ./anquan-data
//! cargo run --example host -- ./anquan-data 127.0.0.1:8080
//! curl -H "Authorization: Bearer aq_…" http://127.0.0.1:8080/v1/stats
//! ```
//!
//! The router is merged at the root, not nested under a prefix: the dashboard page asks `/v1/…`
//! from the root. Ctrl-C stops taking requests, lets those in flight finish, then
//! [`Service::stop`] writes the live projections' last snapshot.

use std::path::Path;

use anquan::interface::http::{self, ServeOptions, Service};
use axum::routing::get;
use axum::Router;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "./anquan-data".to_string());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());

    let service = Service::open(Path::new(&dir), ServeOptions::default())?;
    // A store that does not enforce roles would let any token's actor do anything.
    if !service.engine.enforces_roles()? {
        return Err(format!("{dir} does not enforce roles: run `anquan init --admin NAME --store {dir}` first").into());
    }
    let app = Router::new()
        .route("/host/hello", get(|| async { "the host's own route\n" }))
        .merge(http::router(service.clone()));

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("host on http://{}: /host/hello and anquan's /v1, /metrics, /healthz, /", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<_, std::io::Error>(())
    })?;
    // The engine is synchronous: stopped outside the runtime.
    service.stop();
    Ok(())
}
