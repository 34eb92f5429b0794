//! Personal information (个人信息保护法, PIPL): crypto-shredding of names and ID numbers.
//!
//! The log is append-only and hash-chained, so personal data cannot be deleted from it. Instead
//! every name and ID number is stored encrypted under a key that belongs to one person and lives
//! outside the log, in a [`Vault`]; erasing the person destroys the key. The events stay byte for
//! byte what they were (the chain still verifies), figures never read personal fields (they stay
//! the same), and the sealed values become unreadable: [`Personal::Erased`].
//!
//! Shape:
//! - The host sends plain strings. [`seal_envelope`] (called by the engine, before the pure
//!   domain decides) checks each plain value with the domain's rules — errors name the JSON
//!   pointer — then replaces it with a [`SealedValue`]: person id, nonce, XChaCha20-Poly1305
//!   ciphertext. The domain passes sealed values through opaquely.
//! - Person identity: the host's `person_id` if given; else, with an ID number, `p-` + a keyed
//!   BLAKE3 of the normalised ID number under the vault's own pseudonym key (the same person
//!   gets the same id across records, and the id cannot be brute-forced back to the ID number
//!   without the vault); else the mention gets its own id derived from the command id.
//! - Vault layout (a folder beside the sled files, never inside sled — sled keeps overwritten
//!   values in its log until its GC runs, so a key deleted there would not be destroyed):
//!   `pseudonym.key`, `keys/{person}.key` (magic `AQK1` + 32 random bytes), `erased/{person}`
//!   (tombstone). Files are written to a temporary name, fsynced, linked into place without
//!   replacing an existing one, and the folder is fsynced.
//!
//! Invariants:
//! - A plain personal field never reaches the log through the engine: with no vault the engine
//!   refuses commands that carry one.
//! - Sealing is deterministic for one (command, field, plaintext): the nonce is a keyed BLAKE3 of
//!   them under a key derived from the person's key (a synthetic nonce). A retried command thus
//!   decides byte-identical events and is recognised as already committed; different inputs get
//!   different 192-bit nonces. The AEAD's associated data binds person id and field kind, so a
//!   ciphertext moved to another person or field fails to open.
//! - Opening never returns garbage: a changed ciphertext, nonce, person or kind is
//!   [`PrivacyError::Tampered`].
//! - Erasure (`person.erase`, carried out by the engine on every path): tombstone first (from
//!   then on reads say `Erased` and sealing for the person is refused), then the `person.erased`
//!   audit event, then the key file is overwritten, fsynced, unlinked and the folder fsynced. A
//!   refused audit event removes the tombstone again, so a refused erasure changes nothing. A
//!   crash in between is finished by running the erasure again. No existing event is touched.
//! - Limits: overwriting a file does not guarantee the old blocks are gone on SSDs or
//!   copy-on-write file systems, and backups of the vault hold the keys: keep the vault on
//!   storage you can wipe, and back it up apart from the log with its own retention.
//!
//! Cluster mode (feature `cluster`, [`Vault::open_for_store`] with the store's cluster options):
//! the tenant's vault lives in the NATS cluster (`vault_sync`, stream `anquan_vault_<tenant>`)
//! and the `vault` folder is this node's copy of it, written the same careful way.
//! - One pseudonym key and one key per person for the whole tenant: creating either is
//!   first-writer-wins in the cluster and every node adopts the stored one, so the same ID number
//!   gives the same person id on every node, a command retried on another node seals to the same
//!   bytes (already committed), and every node opens what any node sealed. A key this copy lacks
//!   is fetched when it is needed; opening the vault also copies in every key and erasure the
//!   cluster holds (waiting at most the cluster's connect timeout) and follows new ones.
//! - A folder written before cluster mode whose `pseudonym.key` differs from the tenant's is
//!   refused ([`PrivacyError::Cluster`]): its person ids would not match the other nodes'.
//! - Erasure on any node: after the local tombstone and the audit event, the tombstone goes to
//!   the cluster, then the key is purged from the cluster's stream, then this copy's key is
//!   destroyed. Every other node applies the tombstone as its follower receives it (tombstone,
//!   then its copy of the key destroyed); a node that never held the key finds the tombstone in
//!   the cluster. A key created while an erasure runs is purged again.
//! - Window: from the erasure until another running node's follower applies the tombstone
//!   (normally milliseconds; while that node is cut off from the cluster, until it reconnects) that
//!   node can still open the person's values and seal new ones with its copy of the key; the audit
//!   event's position is in the log. A node that is stopped destroys its copy when it next opens
//!   the vault.
//! - Limit: JetStream file storage may keep a purged key's bytes in its block files until it
//!   compacts them, on every server holding a replica (and in their backups), like the SSD limit
//!   above: keep the servers' storage on disks you can wipe.
//! - Without cluster mode nothing of this applies: the vault is the folder.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use crate::domain::community::{AddGrid, AssignGridResponsible, CommunityCommand};
use crate::domain::hazard::HazardCommand;
use crate::domain::incident::IncidentCommand;
use crate::domain::injury::InjuryCommand;
use crate::domain::person::check_personal;
use crate::domain::{self, Command, CommandEnvelope, Rejection};
use crate::events::injury::InjuryData;
use crate::events::person::NONCE_LEN;
use crate::events::{DomainEvent, EntityId};

pub use crate::events::person::{PersonalField, PersonalKind, SealedValue};

use super::vault_sync::{Change, InCluster, Replicated};
use crate::store::StoreOptions;

const KEY_MAGIC: &[u8; 4] = b"AQK1";
const PSEUDONYM_MAGIC: &[u8; 4] = b"AQP1";
const KEY_FILE_LEN: usize = 36;
const AAD_CONTEXT: &[u8] = b"anquan.pipl.seal.v1";

/// Rule code of a command naming a person whose information was erased.
pub const RULE_ERASED: &str = "erased";
/// Rule code of a command carrying personal fields to an engine without a vault.
pub const RULE_NO_VAULT: &str = "no_vault";

/// Errors of the vault, of opening sealed values, and of erasure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivacyError {
    #[error("vault I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("vault file {path} is damaged: {detail}")]
    BadKeyFile { path: String, detail: String },
    #[error("no key for person {0} in this vault (not erased here either: wrong vault?)")]
    NoKey(EntityId),
    #[error(
        "sealed {kind} of person {person_id} does not authenticate: the ciphertext, nonce or its person was changed"
    )]
    Tampered { person_id: EntityId, kind: &'static str },
    #[error("derived person id is invalid: {0}")]
    InvalidPersonId(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("reading the log: {0}")]
    Log(String),
    /// Cluster mode: the tenant's vault in the cluster cannot be reached or disagrees with this
    /// node's copy.
    #[error("the cluster's key vault: {0}")]
    Cluster(String),
    /// [`seal_envelope`] refused the command (a personal field is malformed, sent sealed, for an
    /// erased person, or to an engine without a vault); nothing was sealed.
    #[error("command rejected: {0}")]
    Refused(Rejection),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PrivacyError + '_ {
    move |source| PrivacyError::Io { path: path.display().to_string(), source }
}

/// What a personal field reads as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Personal {
    Plain(String),
    /// The person was erased: the key is destroyed and the value can never be read again.
    Erased,
}

/// Where a person stands in the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    Unknown,
    Active,
    Erased,
}

/// Per-person keys, kept apart from the log. Shareable across threads; several processes may
/// use one vault (files are created without replacing, so racing creators agree on one key).
pub struct Vault {
    dir: PathBuf,
    pseudonym_key: [u8; 32],
    /// Cluster mode: the tenant's vault in the cluster, of which `dir` is this node's copy.
    replicated: Option<Replicated>,
}

/// Never prints key material (an `Engine` holding a vault may be debug-printed).
impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens (or creates) a vault in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, PrivacyError> {
        Self::open_with(dir.as_ref().to_path_buf(), None)
    }

    /// Opens the folder `dir`, as the copy of `replicated` when given: the pseudonym key is then
    /// the cluster's (this node's candidate is written there if the cluster has none yet).
    fn open_with(dir: PathBuf, replicated: Option<Replicated>) -> Result<Self, PrivacyError> {
        for d in [dir.clone(), dir.join("keys"), dir.join("erased")] {
            if !d.is_dir() {
                create_private_dir(&d)?;
                if let Some(parent) = d.parent() {
                    sync_dir(parent)?;
                }
            }
        }
        let path = dir.join("pseudonym.key");
        let local = read_key_file(&path, PSEUDONYM_MAGIC)?;
        let candidate = match local {
            Some(k) => k,
            None => random_key()?,
        };
        let agreed = match &replicated {
            Some(r) => {
                let file = r.pseudonym(&key_file_bytes(PSEUDONYM_MAGIC, &candidate)).map_err(PrivacyError::Cluster)?;
                let agreed = parse_key_file(Path::new("the cluster's pseudonym key"), &file, PSEUDONYM_MAGIC)?;
                if local.is_some_and(|k| k != agreed) {
                    return Err(PrivacyError::Cluster(format!(
                        "{} differs from the tenant's pseudonym key in the cluster: ID numbers would map to other person ids on this node (a vault from before cluster mode?)",
                        path.display()
                    )));
                }
                agreed
            }
            None => candidate,
        };
        let pseudonym_key = match local {
            Some(k) => k,
            None => {
                write_new_key_file(&dir, &path, PSEUDONYM_MAGIC, &agreed)?;
                // Another process may have won the race: use whichever landed.
                let stored = read_key_file(&path, PSEUDONYM_MAGIC)?.ok_or_else(|| PrivacyError::BadKeyFile {
                    path: path.display().to_string(),
                    detail: "vanished after creation".into(),
                })?;
                if replicated.is_some() && stored != agreed {
                    return Err(PrivacyError::Cluster(format!(
                        "{} was written by a process outside cluster mode and differs from the tenant's",
                        path.display()
                    )));
                }
                stored
            }
        };
        Ok(Vault { dir, pseudonym_key, replicated })
    }

    /// The vault of a store opened with `options`: in cluster mode the tenant's vault in the
    /// cluster, with the store's `vault` folder as this node's copy (it waits, at most the
    /// connect timeout, for the copy to take in the keys and erasures the cluster holds, and
    /// follows new ones from then on); otherwise [`Vault::open_beside_store`].
    pub fn open_for_store(store_dir: impl AsRef<Path>, options: &StoreOptions) -> Result<Self, PrivacyError> {
        let replicated = Replicated::connect(options).map_err(PrivacyError::Cluster)?;
        let vault = Self::open_with(store_dir.as_ref().join("vault"), replicated)?;
        if let Some(r) = &vault.replicated {
            let copy = Vault { dir: vault.dir.clone(), pseudonym_key: vault.pseudonym_key, replicated: None };
            r.follow(move |change| {
                let applied = match &change {
                    Change::Key(person, file) => copy.cache_key(person, file),
                    Change::Erased(person) => copy.erase_locally(person),
                };
                if let Err(e) = applied {
                    tracing::warn!(error = %e, ?change, "a change of the cluster's vault was not applied here");
                }
            })
            .map_err(PrivacyError::Cluster)?;
        }
        Ok(vault)
    }

    /// Takes in what the cluster holds for a person this copy does not know.
    fn fetch(&self, replicated: &Replicated, person: &EntityId) -> Result<(), PrivacyError> {
        match replicated.fetch(person).map_err(PrivacyError::Cluster)? {
            InCluster::Key(file) => self.cache_key(person, &file),
            InCluster::Erased => self.erase_locally(person),
            InCluster::Unknown => Ok(()),
        }
    }

    /// The conventional vault of a store: the `vault` folder inside the store's folder, beside
    /// (not inside) sled's files.
    pub fn open_beside_store(store_dir: impl AsRef<Path>) -> Result<Self, PrivacyError> {
        Self::open(store_dir.as_ref().join("vault"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self, person: &EntityId) -> PathBuf {
        // EntityId holds only [A-Za-z0-9_.:-] and a suffix is added, so it is a plain file name.
        self.dir.join("keys").join(format!("{person}.key"))
    }

    fn tombstone_path(&self, person: &EntityId) -> PathBuf {
        self.dir.join("erased").join(format!("{person}.erased"))
    }

    /// Whether the vault holds a key for the person, has erased them, or never saw them.
    /// In cluster mode a person this copy does not know is looked up in the cluster (and
    /// cached here).
    pub fn status(&self, person: &EntityId) -> Result<PersonStatus, PrivacyError> {
        let status = self.local_status(person)?;
        match &self.replicated {
            Some(r) if status == PersonStatus::Unknown => {
                self.fetch(r, person)?;
                self.local_status(person)
            }
            _ => Ok(status),
        }
    }

    fn local_status(&self, person: &EntityId) -> Result<PersonStatus, PrivacyError> {
        if exists(&self.tombstone_path(person))? {
            Ok(PersonStatus::Erased)
        } else if exists(&self.key_path(person))? {
            Ok(PersonStatus::Active)
        } else {
            Ok(PersonStatus::Unknown)
        }
    }

    /// Whether the vault still holds the person's key file (in cluster mode: here, or in the
    /// cluster).
    pub fn has_key(&self, person: &EntityId) -> Result<bool, PrivacyError> {
        if exists(&self.key_path(person))? {
            return Ok(true);
        }
        match &self.replicated {
            Some(r) => r.has_key(person).map_err(PrivacyError::Cluster),
            None => Ok(false),
        }
    }

    /// The person id for an ID number: `p-` + 32 hex digits of a keyed hash (see module docs).
    pub fn person_id_for_id_number(&self, id_number: &str) -> Result<EntityId, PrivacyError> {
        let normal = id_number.trim().to_ascii_uppercase();
        self.derive_id(b"id-number", normal.as_bytes())
    }

    fn derive_id(&self, what: &[u8], input: &[u8]) -> Result<EntityId, PrivacyError> {
        let mut h = blake3::Hasher::new_keyed(&self.pseudonym_key);
        h.update(b"anquan.pipl.person-id.v1\0");
        h.update(&(what.len() as u64).to_le_bytes());
        h.update(what);
        h.update(input);
        let hex: String = h.finalize().as_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect();
        // 34 characters of [a-z0-9-]: always a valid id.
        EntityId::new(format!("p-{hex}")).map_err(PrivacyError::InvalidPersonId)
    }

    /// The person's key; `None` when erased or unknown. In cluster mode a key this copy lacks
    /// is fetched from the cluster (and cached here).
    fn key(&self, person: &EntityId) -> Result<Option<[u8; 32]>, PrivacyError> {
        if exists(&self.tombstone_path(person))? {
            return Ok(None);
        }
        let local = read_key_file(&self.key_path(person), KEY_MAGIC)?;
        match &self.replicated {
            Some(r) if local.is_none() => {
                self.fetch(r, person)?;
                self.local_key(person)
            }
            _ => Ok(local),
        }
    }

    fn local_key(&self, person: &EntityId) -> Result<Option<[u8; 32]>, PrivacyError> {
        if exists(&self.tombstone_path(person))? {
            return Ok(None);
        }
        read_key_file(&self.key_path(person), KEY_MAGIC)
    }

    /// The person's key, created if the person is new. `Ok(None)`: the person was erased.
    fn key_or_create(&self, person: &EntityId) -> Result<Option<[u8; 32]>, PrivacyError> {
        if exists(&self.tombstone_path(person))? {
            return Ok(None);
        }
        if let Some(k) = read_key_file(&self.key_path(person), KEY_MAGIC)? {
            return Ok(Some(k));
        }
        match &self.replicated {
            Some(r) => match r.create_key(person, &key_file_bytes(KEY_MAGIC, &random_key()?)) {
                Ok(Some(file)) => self.cache_key(person, &file)?,
                Ok(None) => self.erase_locally(person)?,
                Err(e) => return Err(PrivacyError::Cluster(e)),
            },
            None => write_new_key_file(&self.dir.join("keys"), &self.key_path(person), KEY_MAGIC, &random_key()?)?,
        }
        self.local_key(person)
    }

    /// Keeps a key the cluster holds (the bytes of a key file) in this copy, unless the person is
    /// erased here or a key is already here (a different one is named in the log).
    fn cache_key(&self, person: &EntityId, file: &[u8]) -> Result<(), PrivacyError> {
        let path = self.key_path(person);
        let key = parse_key_file(&path, file, KEY_MAGIC)?;
        if exists(&self.tombstone_path(person))? {
            return Ok(());
        }
        // Opening the vault replays every key the cluster holds: one already here costs a read.
        if read_key_file(&path, KEY_MAGIC)?.is_none() {
            write_new_key_file(&self.dir.join("keys"), &path, KEY_MAGIC, &key)?;
        }
        if read_key_file(&path, KEY_MAGIC)? != Some(key) {
            tracing::warn!(%person, "this node's key differs from the cluster's; the cluster's is not used here");
        }
        Ok(())
    }

    /// Applies an erasure made on another node: tombstone, then the key destroyed.
    fn erase_locally(&self, person: &EntityId) -> Result<(), PrivacyError> {
        self.write_tombstone(person)?;
        self.shred_local_key(person)
    }

    /// Seals `plaintext` for `person`. `context` (command id and field) feeds the synthetic
    /// nonce so the same command seals to the same bytes. `Ok(None)`: the person was erased.
    pub fn seal(
        &self,
        person: &EntityId,
        kind: PersonalKind,
        plaintext: &str,
        context: &[u8],
    ) -> Result<Option<SealedValue>, PrivacyError> {
        let Some(key) = self.key_or_create(person)? else { return Ok(None) };
        let nonce_key = blake3::derive_key("anquan.pipl.nonce.v1", &key);
        let mut h = blake3::Hasher::new_keyed(&nonce_key);
        h.update(&(context.len() as u64).to_le_bytes());
        h.update(context);
        h.update(kind.as_str().as_bytes());
        h.update(b"\0");
        h.update(plaintext.as_bytes());
        let nonce = h.finalize().as_bytes()[..NONCE_LEN].to_vec();
        let aad = associated_data(person, kind);
        let ciphertext = XChaCha20Poly1305::new(Key::from_slice(&key))
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .map_err(|_| PrivacyError::Tampered { person_id: person.clone(), kind: kind.as_str() })?;
        Ok(Some(SealedValue { person_id: person.clone(), kind, nonce, ciphertext }))
    }

    /// Opens a sealed value: the plaintext, or [`Personal::Erased`] once the person was erased.
    pub fn open_sealed(&self, sealed: &SealedValue) -> Result<Personal, PrivacyError> {
        let person = &sealed.person_id;
        let tampered = || PrivacyError::Tampered { person_id: person.clone(), kind: sealed.kind.as_str() };
        let Some(key) = self.key(person)? else {
            return match self.status(person)? {
                PersonStatus::Erased => Ok(Personal::Erased),
                _ => Err(PrivacyError::NoKey(person.clone())),
            };
        };
        if sealed.nonce.len() != NONCE_LEN {
            return Err(tampered());
        }
        let aad = associated_data(person, sealed.kind);
        let plain = XChaCha20Poly1305::new(Key::from_slice(&key))
            .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| tampered())?;
        String::from_utf8(plain).map(Personal::Plain).map_err(|_| tampered())
    }

    /// Opens any personal field (a plain one, written before sealing existed, reads as itself).
    pub fn open_field(&self, field: &PersonalField) -> Result<Personal, PrivacyError> {
        match field {
            PersonalField::Plain(s) => Ok(Personal::Plain(s.clone())),
            PersonalField::Sealed(s) => self.open_sealed(s),
        }
    }

    /// Marks the person erased (durably). Returns whether this call created the tombstone.
    pub(crate) fn write_tombstone(&self, person: &EntityId) -> Result<bool, PrivacyError> {
        let path = self.tombstone_path(person);
        if exists(&path)? {
            return Ok(false);
        }
        // In cluster mode the follower of the cluster's vault may write it at the same moment.
        let mut f = match private_file(&path, true) {
            Err(PrivacyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok(false)
            }
            other => other?,
        };
        f.write_all(b"erased\n").map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
        sync_dir(&self.dir.join("erased"))?;
        Ok(true)
    }

    pub(crate) fn remove_tombstone(&self, person: &EntityId) -> Result<(), PrivacyError> {
        let path = self.tombstone_path(person);
        fs::remove_file(&path).map_err(io(&path))?;
        sync_dir(&self.dir.join("erased"))
    }

    /// Destroys the person's key: overwrite, fsync, unlink, fsync the folder. In cluster mode
    /// first the tombstone goes to the cluster and the key is purged from it.
    pub(crate) fn shred_key(&self, person: &EntityId) -> Result<(), PrivacyError> {
        if let Some(r) = &self.replicated {
            r.erase(person).map_err(PrivacyError::Cluster)?;
        }
        self.shred_local_key(person)
    }

    fn shred_local_key(&self, person: &EntityId) -> Result<(), PrivacyError> {
        let path = self.key_path(person);
        if !exists(&path)? {
            return Ok(());
        }
        // In cluster mode the follower of the cluster's vault may shred it at the same moment:
        // a file gone in between is destroyed all the same.
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        match OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&[0u8; KEY_FILE_LEN]).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            Err(e) if gone(&e) => {}
            Err(e) => return Err(io(&path)(e)),
        }
        match fs::remove_file(&path) {
            Err(e) if !gone(&e) => return Err(io(&path)(e)),
            _ => {}
        }
        sync_dir(&self.dir.join("keys"))
    }
}

fn associated_data(person: &EntityId, kind: PersonalKind) -> Vec<u8> {
    let mut aad = AAD_CONTEXT.to_vec();
    aad.push(0);
    aad.extend_from_slice(person.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(kind.as_str().as_bytes());
    aad
}

fn exists(path: &Path) -> Result<bool, PrivacyError> {
    path.try_exists().map_err(io(path))
}

fn random_key() -> Result<[u8; 32], PrivacyError> {
    let mut k = [0u8; 32];
    getrandom::getrandom(&mut k).map_err(|e| PrivacyError::Random(e.to_string()))?;
    Ok(k)
}

fn create_private_dir(dir: &Path) -> Result<(), PrivacyError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io(dir))
}

fn private_file(path: &Path, create_new: bool) -> Result<File, PrivacyError> {
    let mut o = OpenOptions::new();
    o.write(true);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<(), PrivacyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Reads a 36-byte key file; `None` if it does not exist.
fn read_key_file(path: &Path, magic: &[u8; 4]) -> Result<Option<[u8; 32]>, PrivacyError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut buf = Vec::with_capacity(KEY_FILE_LEN);
    Read::by_ref(&mut f).take(KEY_FILE_LEN as u64 + 1).read_to_end(&mut buf).map_err(io(path))?;
    parse_key_file(path, &buf, magic).map(Some)
}

/// A key file's bytes (magic + 32 bytes of key), as stored in a file or in the cluster.
fn key_file_bytes(magic: &[u8; 4], key: &[u8; 32]) -> Vec<u8> {
    [magic.as_slice(), key.as_slice()].concat()
}

/// The key in a key file's bytes; `path` names where they come from.
fn parse_key_file(path: &Path, buf: &[u8], magic: &[u8; 4]) -> Result<[u8; 32], PrivacyError> {
    if buf.len() != KEY_FILE_LEN || &buf[..4] != magic {
        return Err(PrivacyError::BadKeyFile {
            path: path.display().to_string(),
            detail: format!("expected {KEY_FILE_LEN} bytes starting with {magic:?}, found {} bytes", buf.len()),
        });
    }
    let mut k = [0u8; 32];
    k.copy_from_slice(&buf[4..]);
    Ok(k)
}

/// Writes a key file durably under a temporary name and links it into place without replacing
/// an existing file (a racing writer's key wins; the caller re-reads).
fn write_new_key_file(dir: &Path, path: &Path, magic: &[u8; 4], key: &[u8; 32]) -> Result<(), PrivacyError> {
    let tmp = dir.join(format!(".tmp-{}", Uuid::new_v4()));
    let result = (|| {
        let mut f = private_file(&tmp, true)?;
        f.write_all(magic).map_err(io(&tmp))?;
        f.write_all(key).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io(path)(e)),
        }
    })();
    let removed = fs::remove_file(&tmp).map_err(io(&tmp));
    result?;
    removed?;
    sync_dir(dir)
}

// ---- sealing commands (engine side) ----------------------------------------------------------

/// One personal field of a command: its path under `/command`, the value, its kind.
struct FieldRef<'a> {
    name: &'static str,
    value: &'a mut PersonalField,
    kind: PersonalKind,
}

/// Replaces the plain personal fields of a command with sealed values (the list is in
/// `crate::domain::person`'s docs). Commands without personal fields come back borrowed.
/// Refusals are [`PrivacyError::Refused`] with a rejection naming the field (the engine reports
/// them as `EngineError::Rejected`); vault I/O failures are the other [`PrivacyError`]s.
///
/// One exception: a blank `responsible` of a rectification order is left as it is, for the
/// domain to refuse (it names every missing item of 五到位 at once, or `required`); it carries
/// no personal information, and no blank value is ever accepted into an event.
pub fn seal_envelope<'e>(
    vault: Option<&Vault>,
    envelope: &'e CommandEnvelope,
) -> Result<Cow<'e, CommandEnvelope>, PrivacyError> {
    if !has_personal_fields(&envelope.command) {
        return Ok(Cow::Borrowed(envelope));
    }
    let mut sealed = envelope.clone();
    let command_id = envelope.command_id;
    match &mut sealed.command {
        Command::Incident(IncidentCommand::DealWithResponsible(c)) => {
            let mut fields = vec![FieldRef { name: "person", value: &mut c.person, kind: PersonalKind::Name }];
            if let Some(v) = c.id_number.as_mut() {
                fields.push(FieldRef { name: "id_number", value: v, kind: PersonalKind::IdNumber });
            }
            seal_fields(vault, &command_id, "person_id", c.person_id.as_ref(), fields)?;
        }
        Command::Injury(InjuryCommand::Record(c)) => seal_injury(vault, &command_id, &mut c.data)?,
        Command::Injury(InjuryCommand::Correct(c)) => seal_injury(vault, &command_id, &mut c.data)?,
        Command::Hazard(HazardCommand::Report(c)) => {
            let who = ("reporter_person_id", c.reporter_person_id.as_ref());
            seal_name(vault, &command_id, ("reporter", &mut c.reporter), who)?
        }
        Command::Hazard(HazardCommand::OrderRectification(c)) => {
            let who = ("responsible_person_id", c.responsible_person_id.as_ref());
            if let Some(v) = c.responsible.as_mut().filter(|v| !v.is_blank()) {
                seal_name(vault, &command_id, ("responsible", v), who)?
            }
        }
        Command::Community(
            CommunityCommand::AddGrid(AddGrid { responsible_person: v, responsible_person_id: p, .. })
            | CommunityCommand::AssignGridResponsible(AssignGridResponsible {
                responsible_person: v,
                responsible_person_id: p,
                ..
            }),
        ) => seal_name(vault, &command_id, ("responsible_person", v), ("responsible_person_id", p.as_ref()))?,
        Command::Community(CommunityCommand::RecordAssessment(c)) => {
            let who = ("assessor_person_id", c.assessor_person_id.as_ref());
            seal_name(vault, &command_id, ("assessor", &mut c.assessor), who)?
        }
        _ => {}
    }
    Ok(Cow::Owned(sealed))
}

fn has_personal_fields(command: &Command) -> bool {
    match command {
        Command::Incident(IncidentCommand::DealWithResponsible(_)) => true,
        Command::Hazard(HazardCommand::Report(_)) => true,
        Command::Hazard(HazardCommand::OrderRectification(c)) => c.responsible.as_ref().is_some_and(|v| !v.is_blank()),
        Command::Community(
            CommunityCommand::AddGrid(_)
            | CommunityCommand::AssignGridResponsible(_)
            | CommunityCommand::RecordAssessment(_),
        ) => true,
        Command::Injury(InjuryCommand::Record(c)) => c.data.name.is_some() || c.data.id_number.is_some(),
        Command::Injury(InjuryCommand::Correct(c)) => c.data.name.is_some() || c.data.id_number.is_some(),
        _ => false,
    }
}

fn seal_injury(vault: Option<&Vault>, command_id: &Uuid, d: &mut InjuryData) -> Result<(), PrivacyError> {
    let mut fields = Vec::new();
    if let Some(v) = d.name.as_mut() {
        fields.push(FieldRef { name: "data/name", value: v, kind: PersonalKind::Name });
    }
    if let Some(v) = d.id_number.as_mut() {
        fields.push(FieldRef { name: "data/id_number", value: v, kind: PersonalKind::IdNumber });
    }
    seal_fields(vault, command_id, "data/person_id", d.person_id.as_ref(), fields)
}

/// Seals one name (`field`: its path under `/command` and its value) under the person the command
/// names (`who`: the id field's path and its value), or under a mention id of its own.
fn seal_name(
    vault: Option<&Vault>,
    command_id: &Uuid,
    field: (&'static str, &mut PersonalField),
    who: (&str, Option<&EntityId>),
) -> Result<(), PrivacyError> {
    let (name, value) = field;
    seal_fields(vault, command_id, who.0, who.1, vec![FieldRef { name, value, kind: PersonalKind::Name }])
}

fn seal_fields(
    vault: Option<&Vault>,
    command_id: &Uuid,
    person_id_field: &str,
    person_id: Option<&EntityId>,
    fields: Vec<FieldRef<'_>>,
) -> Result<(), PrivacyError> {
    let Some(first) = fields.first() else { return Ok(()) };
    // 1. Plain text only, and valid: checked on the plaintext, before anything is sealed.
    for f in &fields {
        if matches!(f.value, PersonalField::Sealed(_)) {
            return Err(PrivacyError::Refused(Rejection::at(
                f.name,
                domain::rule::MALFORMED,
                format!("send {} as plain text; the engine seals personal fields itself", f.name),
            )));
        }
        check_personal(f.name, f.value, f.kind).map_err(PrivacyError::Refused)?;
    }
    let Some(vault) = vault else {
        return Err(PrivacyError::Refused(Rejection::at(
            first.name,
            RULE_NO_VAULT,
            "personal information (PIPL) is stored only encrypted, and this engine has no key vault: open it with Engine::with_vault",
        )));
    };
    // 2. Who: the host's id, or one derived from the ID number, or one for this mention.
    let person = match person_id {
        Some(p) => p.clone(),
        None => match fields.iter().find(|f| f.kind == PersonalKind::IdNumber) {
            Some(FieldRef { value: PersonalField::Plain(n), .. }) => vault.person_id_for_id_number(n)?,
            _ => vault.derive_id(b"mention", &[command_id.as_bytes().as_slice(), first.name.as_bytes()].concat())?,
        },
    };
    // 3. Seal each field under the person's key.
    for f in fields {
        let PersonalField::Plain(plain) = &*f.value else { continue };
        let context = [command_id.as_bytes().as_slice(), b"\0", f.name.as_bytes()].concat();
        match vault.seal(&person, f.kind, plain, &context)? {
            Some(s) => *f.value = PersonalField::Sealed(Box::new(s)),
            None => {
                return Err(PrivacyError::Refused(Rejection::at(
                    if person_id.is_some() { person_id_field } else { f.name },
                    RULE_ERASED,
                    format!(
                        "person {person} was erased (PIPL); their information is not collected again under that id"
                    ),
                )))
            }
        }
    }
    Ok(())
}

// ---- reading -----------------------------------------------------------------------------------

/// Replaces every sealed value inside a JSON document (an event as JSON) with a readable form:
/// `{"personal": "plain", "person_id", "kind", "value"}`, `{"personal": "erased", …}`, or, when
/// it cannot be opened, `"no_key"`, `"tampered"`, `"sealed"` (no vault given) with no value.
pub fn reveal_json(value: &mut serde_json::Value, vault: Option<&Vault>) {
    match value {
        serde_json::Value::Object(map) if map.contains_key("sealed") && map.contains_key("ciphertext") => {
            let Ok(PersonalField::Sealed(s)) = serde_json::from_value::<PersonalField>(value.clone()) else { return };
            let (status, plain) = match vault.map(|v| v.open_sealed(&s)) {
                None => ("sealed", None),
                Some(Ok(Personal::Plain(p))) => ("plain", Some(p)),
                Some(Ok(Personal::Erased)) => ("erased", None),
                Some(Err(PrivacyError::NoKey(_))) => ("no_key", None),
                Some(Err(_)) => ("tampered", None),
            };
            let mut out = serde_json::json!({
                "personal": status,
                "person_id": s.person_id.as_str(),
                "kind": s.kind.as_str(),
            });
            if let Some(p) = plain {
                out["value"] = serde_json::Value::String(p);
            }
            *value = out;
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| reveal_json(v, vault)),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| reveal_json(v, vault)),
        _ => {}
    }
}

// ---- checking the vault against the log -------------------------------------------------------

/// Every sealed value in a JSON document, with its JSON path.
fn sealed_values(value: &serde_json::Value, out: &mut Vec<SealedValue>) {
    match value {
        serde_json::Value::Object(map) if map.contains_key("sealed") && map.contains_key("ciphertext") => {
            if let Ok(PersonalField::Sealed(s)) = serde_json::from_value::<PersonalField>(value.clone()) {
                out.push(*s);
            }
        }
        serde_json::Value::Object(map) => map.values().for_each(|v| sealed_values(v, out)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| sealed_values(v, out)),
        _ => {}
    }
}

/// Every plain string in a JSON document outside sealed values (free text, codes, ids).
fn plain_strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Object(map) if map.contains_key("sealed") && map.contains_key("ciphertext") => {}
        serde_json::Value::Object(map) => map.values().for_each(|v| plain_strings(v, out)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| plain_strings(v, out)),
        _ => {}
    }
}

/// Calls `f` with the position, type and JSON form of every domain event of the log.
fn each_event_json(
    store: &crate::store::EventStore,
    mut f: impl FnMut(u64, &str, &serde_json::Value) -> Result<(), PrivacyError>,
) -> Result<(), PrivacyError> {
    let end = store.head().next_position;
    let mut from = 0;
    while from < end {
        let page = store
            .read_all(from, crate::store::Direction::Forward, 4096)
            .map_err(|e| PrivacyError::Log(e.to_string()))?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in page.iter().filter(|e| e.position < end) {
            let Ok(event) = DomainEvent::from_payload(&e.event_type, e.schema_version, &e.payload) else { continue };
            let Ok(json) = serde_json::to_value(&event) else { continue };
            f(e.position, &e.event_type, &json)?;
        }
    }
    Ok(())
}

/// One thing wrong between the vault and the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultProblem {
    pub person_id: Option<String>,
    /// A position in the log where it shows (the first sealed value, or the erasure event).
    pub position: Option<u64>,
    pub detail: String,
}

/// What [`verify_vault`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VaultReport {
    /// Persons with sealed values in the log.
    pub persons: usize,
    /// Of those, with a key that opens their values.
    pub keys_good: usize,
    /// Of those, erased (tombstone and audit event).
    pub erased: usize,
    /// There is no vault folder at all (a copy made without it): sealed values cannot be opened
    /// here, and nothing was checked.
    pub no_vault: bool,
    pub problems: Vec<VaultProblem>,
}

/// Checks the vault against the log: every person with sealed values has a key that opens them
/// (damaged, replaced or deleted keys are named), or is erased with a `person.erased` event; an
/// erasure recorded in the log has no key left; the pseudonym key is present and whole.
pub fn verify_vault(store: &crate::store::EventStore, vault_dir: &Path) -> Result<VaultReport, PrivacyError> {
    use std::collections::BTreeMap;
    let mut first_value: BTreeMap<EntityId, (u64, SealedValue)> = BTreeMap::new();
    let mut erasures: BTreeMap<EntityId, u64> = BTreeMap::new();
    each_event_json(store, |position, event_type, json| {
        if event_type == "person.erased" {
            if let Some(p) = json.get("person_id").and_then(|p| p.as_str()).and_then(|p| EntityId::new(p).ok()) {
                erasures.entry(p).or_insert(position);
            }
        }
        let mut found = Vec::new();
        sealed_values(json, &mut found);
        for v in found {
            first_value.entry(v.person_id.clone()).or_insert((position, v));
        }
        Ok(())
    })?;
    let mut report = VaultReport { persons: first_value.len(), ..VaultReport::default() };
    let problem = |person: Option<&EntityId>, position, detail: String| VaultProblem {
        person_id: person.map(|p| p.to_string()),
        position,
        detail,
    };
    if !vault_dir.is_dir() {
        // A copy without its vault (a restored export, an auditor's copy): nothing to check
        // against, which is not damage. The caller says so.
        report.no_vault = true;
        return Ok(report);
    }
    let vault = Vault { dir: vault_dir.to_path_buf(), pseudonym_key: [0; 32], replicated: None };
    match read_key_file(&vault_dir.join("pseudonym.key"), PSEUDONYM_MAGIC) {
        Ok(Some(_)) => {}
        Ok(None) => report.problems.push(problem(
            None,
            None,
            "the vault's pseudonym.key is missing: ID numbers would map to new person ids".into(),
        )),
        Err(e) => report.problems.push(problem(None, None, e.to_string())),
    }
    for (person, (position, value)) in &first_value {
        let erased_in_log = erasures.get(person);
        match (vault.status(person), erased_in_log) {
            (Err(e), _) => report.problems.push(problem(Some(person), Some(*position), e.to_string())),
            (Ok(PersonStatus::Erased), Some(_)) if !vault.has_key(person)? => report.erased += 1,
            (Ok(PersonStatus::Erased), None) => report.problems.push(problem(
                Some(person),
                Some(*position),
                format!("{person} is erased in the vault but the log holds no person.erased event for them"),
            )),
            (Ok(PersonStatus::Unknown), None) => report.problems.push(problem(
                Some(person),
                Some(*position),
                format!("the key of {person} is missing and no erasure was recorded: their values can no longer be opened"),
            )),
            (Ok(PersonStatus::Unknown), Some(at)) => report.problems.push(problem(
                Some(person),
                Some(*at),
                format!("{person} was erased (event at {at}) but the vault holds no tombstone for them"),
            )),
            // Active, or a tombstone with the key still there.
            (Ok(_), Some(at)) => report.problems.push(problem(
                Some(person),
                Some(*at),
                format!("the erasure of {person} is recorded at {at} but their key still exists: run erase-person again to finish it"),
            )),
            (Ok(PersonStatus::Active), None) => match vault.open_sealed(value) {
                Ok(_) => report.keys_good += 1,
                Err(e) => report.problems.push(problem(Some(person), Some(*position), e.to_string())),
            },
        }
    }
    Ok(report)
}

/// Where a person's name or ID number appears in free text of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Mentions {
    /// Plain text fields (descriptions, summaries, remarks, …) holding it.
    pub fields: usize,
    /// The positions of the events holding them (at most the first 100).
    pub positions: Vec<u64>,
}

/// Counts the free-text fields of the log that mention any of the person's sealed values in
/// plain text (they cannot be sealed: the erasure cannot reach them). Needs the person's key,
/// so it is asked before an erasure.
pub fn free_text_mentions(
    store: &crate::store::EventStore,
    vault: &Vault,
    person: &EntityId,
) -> Result<Mentions, PrivacyError> {
    let mut texts: Vec<String> = Vec::new();
    each_event_json(store, |_, _, json| {
        let mut found = Vec::new();
        sealed_values(json, &mut found);
        for v in found.iter().filter(|v| v.person_id == *person) {
            if let Ok(Personal::Plain(p)) = vault.open_sealed(v) {
                // A one-character name would match everywhere; it says nothing.
                if p.chars().count() >= 2 && !texts.contains(&p) {
                    texts.push(p);
                }
            }
        }
        Ok(())
    })?;
    let mut mentions = Mentions::default();
    if texts.is_empty() {
        return Ok(mentions);
    }
    each_event_json(store, |position, _, json| {
        let mut strings = Vec::new();
        plain_strings(json, &mut strings);
        let hits = strings.iter().filter(|s| texts.iter().any(|t| s.contains(t.as_str()))).count();
        if hits > 0 {
            mentions.fields += hits;
            if mentions.positions.len() < 100 {
                mentions.positions.push(position);
            }
        }
        Ok(())
    })?;
    Ok(mentions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    #[test]
    fn seal_open_and_shred() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let p = person("p-1");
        assert_eq!(vault.status(&p).unwrap(), PersonStatus::Unknown);
        let s = vault.seal(&p, PersonalKind::Name, "王小明", b"ctx").unwrap().unwrap();
        assert_eq!(vault.status(&p).unwrap(), PersonStatus::Active);
        assert!(!s.ciphertext.windows(3).any(|w| w == &"王".as_bytes()[..3]));
        assert_eq!(vault.open_sealed(&s).unwrap(), Personal::Plain("王小明".into()));
        // Deterministic for the same context, different for another.
        assert_eq!(vault.seal(&p, PersonalKind::Name, "王小明", b"ctx").unwrap().unwrap(), s);
        assert_ne!(vault.seal(&p, PersonalKind::Name, "王小明", b"other").unwrap().unwrap().nonce, s.nonce);
        assert!(vault.write_tombstone(&p).unwrap());
        vault.shred_key(&p).unwrap();
        assert!(!vault.key_path(&p).exists());
        assert_eq!(vault.open_sealed(&s).unwrap(), Personal::Erased);
        assert_eq!(vault.seal(&p, PersonalKind::Name, "x", b"c").unwrap(), None);
    }

    #[test]
    fn tampering_and_moving_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let s = vault.seal(&person("a"), PersonalKind::Name, "张三", b"c").unwrap().unwrap();
        vault.seal(&person("b"), PersonalKind::Name, "x", b"c").unwrap();
        let mut bad = s.clone();
        bad.ciphertext[0] ^= 1;
        assert!(matches!(vault.open_sealed(&bad), Err(PrivacyError::Tampered { .. })));
        let mut moved = s.clone();
        moved.person_id = person("b");
        assert!(matches!(vault.open_sealed(&moved), Err(PrivacyError::Tampered { .. })));
        let mut kind = s.clone();
        kind.kind = PersonalKind::IdNumber;
        assert!(matches!(vault.open_sealed(&kind), Err(PrivacyError::Tampered { .. })));
        let mut short = s;
        short.nonce.truncate(3);
        assert!(matches!(vault.open_sealed(&short), Err(PrivacyError::Tampered { .. })));
    }

    #[test]
    fn person_ids_from_id_numbers_are_stable_per_vault_and_keyed() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let v1 = Vault::open(d1.path()).unwrap();
        let a = v1.person_id_for_id_number("11010519491231002x").unwrap();
        assert_eq!(a, v1.person_id_for_id_number(" 11010519491231002X").unwrap());
        assert_eq!(a, Vault::open(d1.path()).unwrap().person_id_for_id_number("11010519491231002X").unwrap());
        assert_ne!(a, Vault::open(d2.path()).unwrap().person_id_for_id_number("11010519491231002X").unwrap());
        assert!(!a.as_str().contains("1101"));
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let shown = format!("{vault:?}");
        assert!(!shown.contains("pseudonym_key"), "{shown}");
    }

    #[test]
    fn damaged_key_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let p = person("p");
        std::fs::write(vault.key_path(&p), b"short").unwrap();
        assert!(matches!(vault.seal(&p, PersonalKind::Name, "x", b""), Err(PrivacyError::BadKeyFile { .. })));
    }
}
