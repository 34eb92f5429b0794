//! `anquan serve` and `anquan token`.

use std::path::Path;

use anyhow::{Context, Result};

use anquan::events::EntityId;
use anquan::interface::http::{self, auth, ServeOptions, Service};

pub fn run(dir: &Path, listen: &str, max_connections: usize) -> Result<()> {
    let options = ServeOptions { max_connections, ..ServeOptions::default() };
    let service = Service::open_with(dir, crate::cluster::store_options(false), options)
        .with_context(|| format!("cannot serve the store at {}", dir.display()))?;
    anyhow::ensure!(
        service.engine.enforces_roles()?,
        "the store at {} does not enforce roles, so a token could do anything; run `anquan init --admin NAME --store {}` first",
        dir.display(),
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "serving {} on http://{} (events {}); SIGTERM or Ctrl-C to stop",
            dir.display(),
            listener.local_addr()?,
            service.engine.store().head().next_position
        );
        let shutdown = async {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        };
        http::serve(listener, service, shutdown).await?;
        eprintln!("stopped: requests finished, snapshot written");
        Ok(())
    })
}

pub fn token(dir: &Path, actor: &str, read_only: bool, note: Option<String>) -> Result<()> {
    let actor = EntityId::new(actor).map_err(|e| anyhow::anyhow!("--for: {e}"))?;
    if crate::cluster::clustered() && !crate::write::is_store(dir) {
        // A new node's folder: joining the tenant's log (and catching up) makes it a store.
        crate::write::open_or_create(dir)?.close()?;
    }
    anyhow::ensure!(crate::write::is_store(dir), "{} holds no anquan store", dir.display());
    let access = if read_only { auth::Access::Read } else { auth::Access::Write };
    let path = dir.join("tokens.json");
    let token = auth::add_token(&path, actor.clone(), access, note)?;
    println!("{token}");
    eprintln!(
        "token for {actor} ({}) added to {}; it is shown only now",
        if read_only { "read only" } else { "read and write" },
        path.display()
    );
    Ok(())
}
