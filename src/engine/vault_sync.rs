//! Cluster mode's key vault: the tenant's pseudonym key, per-person keys and erasure tombstones
//! held in the NATS JetStream cluster (`storage::cluster_vault`), so that every node of a tenant
//! derives the same person ids, seals a retried command to the same bytes and opens what any
//! node sealed. [`super::privacy::Vault`] keeps its folder as this node's copy and asks
//! [`Replicated`] for what the copy lacks; this file speaks in keys and persons, the vault in
//! files.
//!
//! Entries (each subject holds at most one message, the first writer's):
//! - `pseudonym`: the tenant's pseudonym key (the bytes of a `pseudonym.key` file);
//! - `key.<person>`: the person's key (the bytes of a `keys/{person}.key` file);
//! - `erased.<person>`: the person's tombstone.
//!
//! Invariants:
//! - Creating a key is first-writer-wins across nodes; a node adopts the stored key.
//! - A key is created only while the cluster holds no tombstone for the person, and is purged
//!   again if a tombstone appeared meanwhile, so an erasure racing a first seal leaves no key.
//! - Erasure publishes the tombstone before it purges the key: a node that misses the key finds
//!   the tombstone.
//!
//! Errors are the cluster client's, as text: the vault reports them as its own.
//! Without the `cluster` feature [`Replicated`] has no value and every vault is local.

#[cfg(feature = "cluster")]
use std::time::Duration;

use crate::events::EntityId;
use crate::store::StoreOptions;

#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
/// A change to the tenant's vault, delivered to [`Replicated::follow`]'s callback.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// The bytes of the person's key file.
    Key(EntityId, Vec<u8>),
    Erased(EntityId),
}

#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
/// Where a person stands in the cluster.
#[derive(Debug, Clone)]
pub(super) enum InCluster {
    /// The bytes of the person's key file.
    Key(Vec<u8>),
    Erased,
    Unknown,
}

#[cfg(feature = "cluster")]
pub(crate) use clustered::Replicated;

#[cfg(not(feature = "cluster"))]
pub(crate) use local::Replicated;

#[cfg(feature = "cluster")]
const PSEUDONYM: &str = "pseudonym";
#[cfg(feature = "cluster")]
const KEY: &str = "key";
#[cfg(feature = "cluster")]
const ERASED: &str = "erased";
#[cfg(feature = "cluster")]
const TOMBSTONE: &[u8] = b"erased\n";

#[cfg(feature = "cluster")]
mod clustered {
    use std::time::Instant;

    use super::*;
    use crate::storage::cluster_vault::ClusterVault;

    /// The tenant's vault in the cluster.
    #[derive(Debug)]
    pub(crate) struct Replicated {
        cluster: ClusterVault,
        /// How long opening waits for this node's copy to catch up.
        catch_up: Duration,
    }

    fn text(e: impl std::fmt::Display) -> String {
        e.to_string()
    }

    impl Replicated {
        /// Connects to the tenant's vault when `options` are cluster mode's; `None` otherwise.
        pub(crate) fn connect(options: &StoreOptions) -> Result<Option<Self>, String> {
            let Some(cluster) = &options.cluster else { return Ok(None) };
            let catch_up = cluster.connect_timeout;
            Ok(Some(Self { cluster: ClusterVault::connect(cluster.clone()).map_err(text)?, catch_up }))
        }

        /// The tenant's pseudonym key file: the cluster's, or `candidate` if the cluster had none.
        pub(crate) fn pseudonym(&self, candidate: &[u8]) -> Result<Vec<u8>, String> {
            self.cluster.create(PSEUDONYM, None, candidate).map(|b| b.to_vec()).map_err(text)
        }

        /// The person's key or tombstone in the cluster.
        pub(crate) fn fetch(&self, person: &EntityId) -> Result<InCluster, String> {
            if let Some(key) = self.cluster.get(KEY, Some(person.as_str())).map_err(text)? {
                return Ok(InCluster::Key(key.to_vec()));
            }
            if self.cluster.get(ERASED, Some(person.as_str())).map_err(text)?.is_some() {
                return Ok(InCluster::Erased);
            }
            Ok(InCluster::Unknown)
        }

        /// Whether the cluster still holds the person's key.
        pub(crate) fn has_key(&self, person: &EntityId) -> Result<bool, String> {
            Ok(self.cluster.get(KEY, Some(person.as_str())).map_err(text)?.is_some())
        }

        /// The person's key file: the one in the cluster, or `candidate` written there. `None`:
        /// the person is erased (a key written while the erasure ran is purged again).
        pub(crate) fn create_key(&self, person: &EntityId, candidate: &[u8]) -> Result<Option<Vec<u8>>, String> {
            let id = Some(person.as_str());
            if self.cluster.get(ERASED, id).map_err(text)?.is_some() {
                return Ok(None);
            }
            let key = self.cluster.create(KEY, id, candidate).map_err(text)?;
            if self.cluster.get(ERASED, id).map_err(text)?.is_some() {
                self.cluster.purge(KEY, id).map_err(text)?;
                return Ok(None);
            }
            Ok(Some(key.to_vec()))
        }

        /// Erases the person in the cluster: the tombstone, then the key purged. Running it again
        /// finishes an erasure that stopped between the two.
        pub(crate) fn erase(&self, person: &EntityId) -> Result<(), String> {
            let id = Some(person.as_str());
            self.cluster.create(ERASED, id, TOMBSTONE).map_err(text)?;
            self.cluster.purge(KEY, id).map_err(text)
        }

        /// Calls `apply` with every key and tombstone of the cluster's vault, then with each new
        /// one as it lands, on a thread of its own, until the vault is dropped. Returns once the
        /// entries stored now were applied, or after the connect timeout (the rest follow).
        pub(crate) fn follow(&self, apply: impl Fn(Change) + Send + 'static) -> Result<(), String> {
            let stored = self.cluster.message_count().map_err(text)?;
            let (tx, rx) = crossbeam_channel::unbounded();
            self.cluster.follow(tx).map_err(text)?;
            let (caught_up, on_caught_up) = crossbeam_channel::bounded::<()>(1);
            if stored == 0 {
                let _ = caught_up.send(());
            }
            std::thread::Builder::new()
                .name("anquan-vault-follow".into())
                .spawn(move || {
                    // Ends when the cluster's vault is dropped (its task drops the sender).
                    for entry in rx {
                        let person = entry.id.as_deref().and_then(|id| EntityId::new(id).ok());
                        match (entry.kind.as_str(), person) {
                            (KEY, Some(p)) => apply(Change::Key(p, entry.payload.to_vec())),
                            (ERASED, Some(p)) => apply(Change::Erased(p)),
                            _ => {}
                        }
                        if entry.pending == 0 {
                            let _ = caught_up.try_send(());
                        }
                    }
                })
                .map_err(text)?;
            let started = Instant::now();
            if on_caught_up.recv_timeout(self.catch_up).is_err() {
                tracing::warn!(waited = ?started.elapsed(), "the cluster's vault is still being copied; reads fetch what is missing");
            }
            Ok(())
        }
    }
}

#[cfg(not(feature = "cluster"))]
mod local {
    use super::*;

    /// Cluster mode is not built in: there is no replicated vault.
    #[derive(Debug)]
    pub(crate) enum Replicated {}

    impl Replicated {
        pub(crate) fn connect(_: &StoreOptions) -> Result<Option<Self>, String> {
            Ok(None)
        }

        pub(crate) fn pseudonym(&self, _: &[u8]) -> Result<Vec<u8>, String> {
            match *self {}
        }

        pub(crate) fn fetch(&self, _: &EntityId) -> Result<InCluster, String> {
            match *self {}
        }

        pub(crate) fn has_key(&self, _: &EntityId) -> Result<bool, String> {
            match *self {}
        }

        pub(crate) fn create_key(&self, _: &EntityId, _: &[u8]) -> Result<Option<Vec<u8>>, String> {
            match *self {}
        }

        pub(crate) fn erase(&self, _: &EntityId) -> Result<(), String> {
            match *self {}
        }

        pub(crate) fn follow(&self, _: impl Fn(Change) + Send + 'static) -> Result<(), String> {
            match *self {}
        }
    }
}
