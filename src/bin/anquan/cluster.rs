//! `--cluster URLS --tenant NAME [--node NAME] [--replicas N]`: cluster mode for every command
//! that opens the store folder (the folder becomes this node's replica of the tenant's log held
//! by a NATS JetStream cluster). Read once from the command line; the store's options come from
//! [`store_options`].

use std::sync::OnceLock;

use anquan::store::StoreOptions;
use anyhow::Result;

/// The cluster options of the command line, shared by every command.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Cluster mode: NATS servers (nats://host:port, comma-separated) whose JetStream holds the
    /// log; the store folder is this node's replica. Needs a build with `--features cluster`.
    #[arg(long, global = true, env = "ANQUAN_CLUSTER", value_delimiter = ',')]
    pub cluster: Vec<String>,
    /// The tenant (one log per tenant) in cluster mode: 1 to 64 of [A-Za-z0-9_-].
    #[arg(long, global = true, env = "ANQUAN_TENANT")]
    pub tenant: Option<String>,
    /// This node's name in cluster mode, unique among running nodes (default: node-PID).
    #[arg(long, global = true, env = "ANQUAN_NODE")]
    pub node: Option<String>,
    /// Copies of each commit the cluster keeps: 3 (a quorum of a 3-server cluster), or 1 for
    /// a single server (not power-loss durable).
    #[arg(long, global = true, default_value_t = 3)]
    pub replicas: usize,
}

static BASE: OnceLock<StoreOptions> = OnceLock::new();

/// Checks the cluster options and keeps them for [`store_options`].
pub fn configure(args: &ClusterArgs) -> Result<()> {
    let base = StoreOptions::default();
    if args.cluster.is_empty() {
        anyhow::ensure!(args.tenant.is_none() && args.node.is_none(), "--tenant and --node need --cluster");
        let _ = BASE.set(base);
        return Ok(());
    }
    let Some(tenant) = args.tenant.clone() else {
        anyhow::bail!("--cluster needs --tenant NAME (the log to join)");
    };
    #[cfg(feature = "cluster")]
    {
        let node = args.node.clone().unwrap_or_else(|| format!("node-{}", std::process::id()));
        let mut cluster = anquan::store::ClusterOptions::new(args.cluster.clone(), tenant, node);
        cluster.replicas = args.replicas;
        // A command started while the cluster elects a stream leader (seconds after a server's
        // loss) waits for it rather than failing.
        cluster.connect_timeout = std::time::Duration::from_secs(20);
        let _ = BASE.set(StoreOptions { cluster: Some(cluster), ..base });
        Ok(())
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (tenant, base);
        anyhow::bail!("this anquan was built without cluster mode: build it with `cargo build --features cluster`")
    }
}

/// Whether the command line asked for cluster mode.
pub fn clustered() -> bool {
    #[cfg(feature = "cluster")]
    {
        BASE.get().is_some_and(|o| o.cluster.is_some())
    }
    #[cfg(not(feature = "cluster"))]
    {
        false
    }
}

/// The options every command opens the store with. In cluster mode a missing folder is
/// created (the cluster holds the log; the folder catches up).
pub fn store_options(create_if_missing: bool) -> StoreOptions {
    let base = BASE.get().cloned().unwrap_or_default();
    StoreOptions { create_if_missing: create_if_missing || clustered(), ..base }
}
