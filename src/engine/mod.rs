//! Layer 5, the engine: commands in, events appended ([`Engine`], this file), personal fields
//! sealed and opened under per-person keys ([`privacy`]; in cluster mode the keys are the
//! tenant's, shared through the cluster by `vault_sync`), the log's head signed ([`notary`]).
//! It is where the pure domain meets I/O and a clock.
//!
//! May import every layer below: `domain`, `projections`, `events`, `store`, `storage`, `codec`.
//! Inside the folder, [`privacy`], `vault_sync` and [`notary`] never import this file: the engine
//! uses them.
//!
//! The host-service API: commands in, events appended, with optimistic concurrency.
//!
//! [`Engine::execute`] finds the command's target stream, reads and decodes its events, lets the
//! pure domain decide, and appends the decided events with the expected version it read. On a
//! concurrent write it reloads and decides again (a bounded number of times).
//!
//! Invariants:
//! - A rejected command (schema, domain rule, codec) writes nothing.
//! - Event ids are derived from the command id (BLAKE3 of command id and index), so executing
//!   the same command again — a host retrying after a timeout — finds its events already in the
//!   stream and returns them (`already_committed`) instead of deciding twice. Two racing
//!   retries are settled by the store's own id idempotency.
//! - The engine owns no state beyond the store (and, with [`Engine::with_vault`], the key vault
//!   beside it): any number of engines may share one store.
//! - Personal fields (PIPL: names, ID numbers) are checked on their plaintext and sealed by
//!   [`privacy::seal_envelope`] before the domain decides; without a vault a command that
//!   carries them is refused, so no plain personal field reaches the log through the engine.
//! - `person.erase` erases on every path: the engine writes the vault's tombstone, appends the
//!   audit event and destroys the key ([`Engine::execute`]); without a vault it is refused. It is
//!   never part of an all-or-nothing batch (the key lives outside the log's atomic commit).
//! - Roles: a store that holds `access.roles_enforced` enforces them for every engine on it;
//!   otherwise the host's [`Authorization`] decides. Who holds which role comes from
//!   [`AccessIndex`], which counts a grant only if its recorder could grant at that moment.

pub mod notary;
pub mod privacy;
mod vault_sync;

use uuid::Uuid;

use crate::domain::access::{self, AccessCommand, AccessIndex};
use crate::domain::person::{ErasePerson, PersonCommand};
use crate::domain::{self, policy, Command, CommandEnvelope, DomainError, Rejection, Settings};
use crate::events::access::Grant;
use crate::events::{Catalog, DomainEvent, EntityId, EventError, StreamKind};
use crate::store::{
    Clock, Direction, EventStore, ExpectedVersion, ProposedEvent, RecordedEvent, StoreError, StreamAppend, SystemClock,
    Timestamp,
};
use privacy::{seal_envelope, PersonStatus, Vault};

/// How long a command keeps being decided again after losing optimistic-concurrency races
/// before giving up with [`EngineError::Contended`] (a stream written that hard is a bug upstream).
pub const MAX_RETRY_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest JSON command accepted (a command is a few KiB; the store caps an event at 64 KiB).
pub const MAX_COMMAND_JSON_BYTES: usize = 1024 * 1024;

/// How far a command's `issued_at` may lie ahead of the engine's clock (clock skew between the
/// host and this machine); later is refused.
pub const ISSUED_AT_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// The earliest `issued_at` accepted: 1949-10-01 (China time). Earlier is a typo or an attack.
pub fn earliest_issued_at() -> chrono::DateTime<chrono::Utc> {
    crate::events::time::earliest_instant()
}

/// Why a command was not carried out. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The JSON did not match the command schemas; every problem is listed with its field.
    #[error("invalid command: {}", describe(.0))]
    Invalid(Vec<Rejection>),
    /// A domain rule refused the command.
    #[error("command rejected: {0}")]
    Rejected(Rejection),
    /// The actor may not send this command (no permitted role, or not in this scope).
    #[error("not allowed: {0}")]
    Denied(Rejection),
    #[error("stream {stream} kept changing: gave up after {attempts} attempts in {}s", MAX_RETRY_TIME.as_secs())]
    Contended { stream: String, attempts: usize },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key vault failed (I/O, damaged key file); nothing was written.
    #[error(transparent)]
    Privacy(Box<privacy::PrivacyError>),
}

/// An event that does not encode or decode, or a catalog that does not load: reported as the
/// domain's error, as before the event vocabulary had its own layer.
impl From<EventError> for EngineError {
    fn from(e: EventError) -> Self {
        EngineError::Domain(DomainError::Event(e))
    }
}

impl From<privacy::PrivacyError> for EngineError {
    fn from(e: privacy::PrivacyError) -> Self {
        match e {
            // Sealing refused the command: a rejection like any other.
            privacy::PrivacyError::Refused(rejection) => EngineError::Rejected(rejection),
            e => EngineError::Privacy(Box::new(e)),
        }
    }
}

fn describe(rejections: &[Rejection]) -> String {
    rejections.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub stream: String,
    /// Positions of the events written (or found, for a repeated command).
    pub positions: Vec<u64>,
    pub events: Vec<DomainEvent>,
    /// The command had already been carried out; nothing new was written.
    pub already_committed: bool,
}

/// What a command would do, found by [`Engine::check_commands`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandCheck {
    /// Events it would write.
    pub events: usize,
    /// It was carried out before: nothing would be written.
    pub already_committed: bool,
}

/// What an all-or-nothing batch wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub positions: Vec<u64>,
    pub commands: usize,
    /// Commands found already carried out, so not decided again.
    pub skipped: usize,
}

/// Why an all-or-nothing batch wrote nothing: the command at `index` (or, for `index ==
/// commands`, the commit itself) failed.
#[derive(Debug, thiserror::Error)]
#[error("command {index}: {error}")]
pub struct BatchError {
    pub index: usize,
    pub error: EngineError,
}

/// Whether the engine checks who may send what (权限).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Authorization {
    /// No checks: the host service authorises requests itself.
    #[default]
    Off,
    /// Every command needs a permitted role in scope ([`domain::policy`]). `administrators` hold
    /// the administrator role for the whole district by configuration, so the first grants can
    /// be made; every other role comes from grant events.
    Enforced { administrators: Vec<EntityId> },
}

/// Commands against a store, with the catalog and settings they are decided under.
#[derive(Debug)]
pub struct Engine {
    store: EventStore,
    catalog: Catalog,
    settings: Settings,
    authorization: Authorization,
    clock: std::sync::Arc<dyn Clock>,
    vault: Option<std::sync::Arc<Vault>>,
    /// Access events folded so far (`None` until first needed); kept up with the log lazily.
    access: std::sync::Mutex<Option<AccessIndex>>,
    /// Refuse commands naming a community or enterprise the log does not hold
    /// ([`Engine::with_reference_checks`]).
    reference_checks: bool,
}

impl Engine {
    /// An engine over `store` with the built-in catalog and default settings.
    pub fn new(store: EventStore) -> Result<Self, EngineError> {
        Ok(Self::with_reference_data(store, Catalog::builtin()?, Settings::default()))
    }

    pub fn with_reference_data(store: EventStore, catalog: Catalog, settings: Settings) -> Self {
        Self {
            store,
            catalog,
            settings,
            authorization: Authorization::Off,
            clock: std::sync::Arc::new(SystemClock),
            vault: None,
            access: std::sync::Mutex::new(None),
            reference_checks: false,
        }
    }

    /// The clock `issued_at` is checked against (the system clock by default).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses an `issued_at` beyond the clock tolerance, or before the earliest date accepted.
    fn check_issued_at(&self, envelope: &CommandEnvelope) -> Result<(), EngineError> {
        let now = self.clock.now().to_chrono().unwrap_or_default();
        if envelope.issued_at > now + ISSUED_AT_TOLERANCE {
            return Err(EngineError::Rejected(Rejection::new(
                "/issued_at",
                domain::rule::IN_FUTURE,
                format!(
                    "issued_at {} is more than {} minutes after this machine's clock ({now})",
                    envelope.issued_at,
                    ISSUED_AT_TOLERANCE.num_minutes()
                ),
            )));
        }
        if envelope.issued_at < earliest_issued_at() {
            return Err(EngineError::Rejected(Rejection::new(
                "/issued_at",
                domain::rule::OUT_OF_RANGE,
                format!("issued_at {} is before {}", envelope.issued_at, earliest_issued_at()),
            )));
        }
        Ok(())
    }

    /// Seals personal fields (PIPL) under per-person keys kept in `vault` (see [`privacy`]).
    /// Without a vault, commands carrying names or ID numbers are refused.
    pub fn with_vault(mut self, vault: std::sync::Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The key vault, if any.
    pub fn vault(&self) -> Option<&Vault> {
        self.vault.as_deref()
    }

    /// Turns permission checks on (or off). A store whose log holds `access.roles_enforced`
    /// enforces roles whatever this says.
    pub fn with_authorization(mut self, authorization: Authorization) -> Self {
        self.authorization = authorization;
        *self.access.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self
    }

    fn configured_administrators(&self) -> Vec<EntityId> {
        match &self.authorization {
            Authorization::Enforced { administrators } => administrators.clone(),
            Authorization::Off => Vec::new(),
        }
    }

    /// The access index, brought up to the log's head, passed to `f`.
    fn with_access<T>(&self, f: impl FnOnce(&AccessIndex) -> T) -> Result<T, EngineError> {
        let mut slot = self.access.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = match slot.as_mut() {
            Some(index) => {
                catch_up_access(&self.store, index)?;
                index
            }
            None => slot.insert(load_access(&self.store, self.configured_administrators())?),
        };
        Ok(f(index))
    }

    /// Whether commands on this store are checked against roles: by the log
    /// (`access.roles_enforced`) or by this engine's [`Authorization`].
    pub fn enforces_roles(&self) -> Result<bool, EngineError> {
        if self.authorization != Authorization::Off {
            return Ok(true);
        }
        self.with_access(|a| a.enforced_at().is_some())
    }

    /// The roles the actor holds now: configured administrators plus the grants that counted.
    pub fn grants_of(&self, actor: &EntityId) -> Result<Vec<Grant>, EngineError> {
        self.with_access(|a| a.grants_of(actor))
    }

    /// Every access event of the log that did not count (granted by someone who could not).
    pub fn uncounted_access_events(&self) -> Result<Vec<access::Uncounted>, EngineError> {
        self.with_access(|a| a.uncounted().to_vec())
    }

    /// Refuses the command if roles are enforced and the actor may not send it here.
    fn authorize(&self, envelope: &CommandEnvelope, history: &[DomainEvent]) -> Result<(), EngineError> {
        self.with_access(|a| self.authorize_with(a, envelope, history))?
    }

    fn authorize_with(
        &self,
        index: &AccessIndex,
        envelope: &CommandEnvelope,
        history: &[DomainEvent],
    ) -> Result<(), EngineError> {
        let configured = self.authorization != Authorization::Off;
        if let Command::Access(AccessCommand::EnforceRoles(_)) = &envelope.command {
            return match index.enforced_at() {
                None => Ok(()),
                Some(at) => Err(EngineError::Rejected(Rejection::new(
                    "/command/type",
                    domain::rule::ALREADY_EXISTS,
                    format!("this store has enforced roles since position {at}; grant the administrator role instead"),
                ))),
            };
        }
        if !configured && index.enforced_at().is_none() {
            return Ok(());
        }
        let grants = index.grants_of(&envelope.actor);
        let target = policy::target_scope(history, &envelope.command);
        policy::authorize(&envelope.actor, &grants, &envelope.command, &target).map_err(EngineError::Denied)
    }

    /// Decides every command in order, as [`Engine::execute`] one after the other would, and
    /// writes nothing: neither to the log nor to the vault. Each command is decided against the
    /// state the commands before it that would be accepted leave, roles they grant included.
    /// Not seen here: a command id already used by an event in another stream (the store refuses
    /// that when it is written).
    pub fn check_commands(
        &self,
        envelopes: &[CommandEnvelope],
    ) -> Result<Vec<Result<CommandCheck, EngineError>>, EngineError> {
        let mut index = self.with_access(AccessIndex::clone)?;
        let mut next_position = self.store.head().next_position.max(index.folded_to());
        let mut streams: std::collections::HashMap<String, (Vec<RecordedEvent>, Vec<DomainEvent>)> =
            std::collections::HashMap::new();
        let mut out = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            out.push(self.check_one(envelope, &mut index, &mut streams, &mut next_position));
        }
        Ok(out)
    }

    fn check_one(
        &self,
        envelope: &CommandEnvelope,
        index: &mut AccessIndex,
        streams: &mut std::collections::HashMap<String, (Vec<RecordedEvent>, Vec<DomainEvent>)>,
        next_position: &mut u64,
    ) -> Result<CommandCheck, EngineError> {
        self.check_issued_at(envelope)?;
        let stream = envelope.target_stream();
        let (recorded, history) = match streams.entry(stream.clone()) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let recorded = self.store.read_stream(&stream, 0, Direction::Forward, usize::MAX)?;
                let history = decode_all(&recorded)?;
                v.insert((recorded, history))
            }
        };
        if recorded.iter().any(|e| e.event_id == derived_event_id(&envelope.command_id, 0)) {
            // Its events were stored with personal fields sealed, so the retry is compared
            // sealed too; sealing writes no key here, its persons' keys were made when it was.
            let sealed = seal_envelope(self.vault(), envelope)?;
            if already_done(self, &stream, recorded, sealed.as_ref())?.is_some() {
                return Ok(CommandCheck { events: 0, already_committed: true });
            }
        }
        if let Command::Person(PersonCommand::Erase(c)) = &envelope.command {
            let Some(vault) = self.vault() else {
                return Err(EngineError::Rejected(Rejection::at(
                    "person_id",
                    privacy::RULE_NO_VAULT,
                    "erasing a person destroys their key in the store's vault, and this engine has no vault",
                )));
            };
            if vault.status(&c.person_id)? == PersonStatus::Unknown && history.is_empty() {
                return Err(EngineError::Rejected(Rejection::at(
                    "person_id",
                    domain::rule::NOT_FOUND,
                    format!("no person {} in this store's vault: nothing to erase", c.person_id),
                )));
            }
        }
        // Personal fields are checked on their plaintext by the domain; sealing would write keys.
        if self.vault.is_none() {
            seal_envelope(None, envelope)?;
        }
        self.authorize_with(index, envelope, history)?;
        self.check_references(envelope, &|s| streams.get(s).is_some_and(|(_, h)| !h.is_empty()))?;
        let (_, history) = streams.get_mut(&stream).ok_or_else(|| {
            EngineError::Rejected(Rejection::new("", domain::rule::NOT_FOUND, "the command's stream vanished"))
        })?;
        let decided =
            domain::decide_command(history, envelope, &self.catalog, &self.settings).map_err(EngineError::Rejected)?;
        for e in &decided {
            if let DomainEvent::Access(a) = e {
                index.apply(*next_position, a);
            }
            *next_position += 1;
        }
        let events = decided.len();
        history.extend(decided);
        Ok(CommandCheck { events, already_committed: false })
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Refuses a command that names a community or enterprise no stream of the log holds
    /// (`not_found`, at the field), unless a command earlier in the same all-or-nothing batch (or
    /// the same [`Engine::check_commands`] run) creates it ([`domain::references`]). Off by
    /// default: histories imported from elsewhere name communities they never registered.
    pub fn with_reference_checks(mut self) -> Self {
        self.reference_checks = true;
        self
    }

    /// With reference checks on, refuses `envelope` if it names an entity neither the log nor
    /// `created` (streams created earlier in the same batch) holds.
    fn check_references(&self, envelope: &CommandEnvelope, created: &dyn Fn(&str) -> bool) -> Result<(), EngineError> {
        if !self.reference_checks {
            return Ok(());
        }
        let failed: std::cell::RefCell<Option<StoreError>> = std::cell::RefCell::new(None);
        let known = |kind: StreamKind, id: &EntityId| {
            let stream = kind.stream_id(id);
            if created(&stream) {
                return true;
            }
            match self.store.read_stream(&stream, 0, Direction::Forward, 1) {
                Ok(events) => !events.is_empty(),
                Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    true
                }
            }
        };
        let checked = domain::references::check_references(&envelope.command, &known);
        if let Some(e) = failed.into_inner() {
            return Err(e.into());
        }
        checked.map_err(EngineError::Rejected)
    }

    /// Hands the store back (to close it).
    pub fn into_store(self) -> EventStore {
        self.store
    }

    /// Validates a JSON command against the schemas, then executes it.
    pub fn execute_json(&self, json: &str) -> Result<CommandOutcome, EngineError> {
        if json.len() > MAX_COMMAND_JSON_BYTES {
            return Err(EngineError::Invalid(vec![Rejection::new(
                "",
                domain::rule::TOO_LONG,
                format!("the command is {} bytes; at most {MAX_COMMAND_JSON_BYTES} are accepted", json.len()),
            )]));
        }
        let envelope = domain::parse_command_json(json).map_err(EngineError::Invalid)?;
        self.execute(&envelope)
    }

    /// Decides and appends one command. `person.erase` also destroys the person's key (see
    /// `Engine::erase`).
    pub fn execute(&self, envelope: &CommandEnvelope) -> Result<CommandOutcome, EngineError> {
        let _span = tracing::debug_span!("execute", command = envelope.command.command_type()).entered();
        self.check_issued_at(envelope)?;
        match &envelope.command {
            Command::Person(PersonCommand::Erase(c)) => self.erase(envelope, &c.person_id),
            _ => self.decide_and_append(envelope),
        }
    }

    /// Erases a person (PIPL crypto-shredding): tombstone in the vault, the `person.erased`
    /// audit event, then the key destroyed. A refusal at any step before the event removes the
    /// tombstone it wrote, so it changes nothing; a crash after the event is finished by sending
    /// the same command again (or any erasure of the person: the key of an audited erasure is
    /// always destroyed).
    fn erase(&self, envelope: &CommandEnvelope, person: &EntityId) -> Result<CommandOutcome, EngineError> {
        let Some(vault) = self.vault() else {
            return Err(EngineError::Rejected(Rejection::at(
                "person_id",
                privacy::RULE_NO_VAULT,
                "erasing a person destroys their key in the store's vault, and this engine has no vault (Engine::with_vault)",
            )));
        };
        let stream = envelope.target_stream();
        let recorded = self.store.read_stream(&stream, 0, Direction::Forward, usize::MAX)?;
        if let Some(done) = already_done(self, &stream, &recorded, envelope)? {
            vault.shred_key(person)?;
            return Ok(done);
        }
        let audit = recorded.iter().find(|r| &*r.event_type == "person.erased");
        match (vault.status(person)?, audit) {
            (_, Some(first)) => {
                if vault.has_key(person)? {
                    // An erasure recorded but not finished (a crash, or an older binary that
                    // recorded without shredding): finish it.
                    vault.write_tombstone(person)?;
                    vault.shred_key(person)?;
                    return Ok(CommandOutcome {
                        stream,
                        positions: vec![first.position],
                        events: decode_all(std::slice::from_ref(first))?,
                        already_committed: true,
                    });
                }
                return Err(EngineError::Rejected(Rejection::at(
                    "person_id",
                    domain::rule::ALREADY_EXISTS,
                    format!("person {person} was already erased (audit event at position {})", first.position),
                )));
            }
            (PersonStatus::Unknown, None) => {
                return Err(EngineError::Rejected(Rejection::at(
                    "person_id",
                    domain::rule::NOT_FOUND,
                    format!("no person {person} in this store's vault: nothing to erase"),
                )))
            }
            _ => {}
        }
        // Authorised before anything is touched (the append below checks again).
        self.authorize(envelope, &decode_all(&recorded)?)?;
        let created = vault.write_tombstone(person)?;
        match self.decide_and_append(envelope) {
            Ok(outcome) => {
                vault.shred_key(person)?;
                Ok(outcome)
            }
            Err(e) => {
                if created {
                    vault.remove_tombstone(person)?;
                }
                Err(e)
            }
        }
    }

    /// Seals, decides and appends one command, deciding again after a lost race.
    fn decide_and_append(&self, envelope: &CommandEnvelope) -> Result<CommandOutcome, EngineError> {
        let stream = envelope.target_stream();
        let sealed = seal_envelope(self.vault(), envelope)?;
        let envelope = sealed.as_ref();
        let started = std::time::Instant::now();
        let mut attempt = 0;
        while attempt == 0 || started.elapsed() < MAX_RETRY_TIME {
            if attempt > 0 {
                backoff(&envelope.command_id, attempt);
            }
            attempt += 1;
            let recorded = self.store.read_stream(&stream, 0, Direction::Forward, usize::MAX)?;
            if let Some(done) = already_done(self, &stream, &recorded, envelope)? {
                return Ok(done);
            }
            let history = decode_all(&recorded)?;
            self.authorize(envelope, &history)?;
            self.check_references(envelope, &|_| false)?;
            let decided = domain::decide_command(&history, envelope, &self.catalog, &self.settings)
                .map_err(EngineError::Rejected)?;
            if decided.is_empty() {
                return Ok(CommandOutcome { stream, positions: Vec::new(), events: decided, already_committed: false });
            }
            let proposed = decided
                .iter()
                .enumerate()
                .map(|(i, e)| propose(envelope, i as u32, e))
                .collect::<Result<Vec<_>, _>>()?;
            let expected = match recorded.last() {
                Some(last) => ExpectedVersion::Exact(last.version),
                None => ExpectedVersion::NoStream,
            };
            match self.store.append(&stream, expected, proposed) {
                Ok(out) => {
                    return Ok(CommandOutcome {
                        stream,
                        positions: out.positions,
                        events: decided,
                        already_committed: out.already_committed,
                    })
                }
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(store_refusal(e)),
            }
        }
        Err(EngineError::Contended { stream, attempts: attempt })
    }

    /// Decides every command in order, each against the state left by the ones before it, and
    /// appends all their events in **one** atomic commit — or nothing, if any command is refused
    /// (the error names its index). Commands already carried out are skipped. At most
    /// [`crate::store::MAX_EVENTS_PER_APPEND`] events in all.
    pub fn execute_all_or_nothing(&self, envelopes: &[CommandEnvelope]) -> Result<BatchOutcome, BatchError> {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        'attempt: while attempt == 0 || started.elapsed() < MAX_RETRY_TIME {
            attempt += 1;
            if attempt > 1 {
                if let Some(first) = envelopes.first() {
                    backoff(&first.command_id, attempt);
                }
            }
            // stream -> (expected version, decoded history, proposed events, decided so far)
            let mut streams: Vec<(String, ExpectedVersion, Vec<DomainEvent>, Vec<ProposedEvent>)> = Vec::new();
            let mut skipped = 0usize;
            for (index, envelope) in envelopes.iter().enumerate() {
                let at = |error: EngineError| BatchError { index, error };
                self.check_issued_at(envelope).map_err(at)?;
                if let Command::Person(PersonCommand::Erase(_)) = &envelope.command {
                    return Err(at(EngineError::Rejected(Rejection::new(
                        "/command/type",
                        domain::rule::NOT_BATCHABLE,
                        "person.erase destroys a key outside the log, so it cannot be part of an all-or-nothing batch; send it alone",
                    ))));
                }
                let sealed = seal_envelope(self.vault(), envelope).map_err(|e| at(e.into()))?;
                let envelope = sealed.as_ref();
                let stream = envelope.target_stream();
                let slot = match streams.iter().position(|s| s.0 == stream) {
                    Some(i) => i,
                    None => {
                        let recorded = self
                            .store
                            .read_stream(&stream, 0, Direction::Forward, usize::MAX)
                            .map_err(|e| at(e.into()))?;
                        if already_done(self, &stream, &recorded, envelope).map_err(at)?.is_some() {
                            skipped += 1;
                            continue;
                        }
                        let expected = match recorded.last() {
                            Some(last) => ExpectedVersion::Exact(last.version),
                            None => ExpectedVersion::NoStream,
                        };
                        streams.push((stream.clone(), expected, decode_all(&recorded).map_err(at)?, Vec::new()));
                        streams.len() - 1
                    }
                };
                self.authorize(envelope, &streams[slot].2).map_err(at)?;
                self.check_references(envelope, &|s| streams.iter().any(|(id, _, h, _)| id == s && !h.is_empty()))
                    .map_err(at)?;
                let (_, _, history, proposed) = &mut streams[slot];
                let decided = domain::decide_command(history, envelope, &self.catalog, &self.settings)
                    .map_err(|r| at(EngineError::Rejected(r)))?;
                for (i, e) in decided.iter().enumerate() {
                    proposed.push(propose(envelope, i as u32, e).map_err(at)?);
                }
                history.extend(decided);
            }
            let total: usize = streams.iter().map(|s| s.3.len()).sum();
            if total == 0 {
                return Ok(BatchOutcome { positions: Vec::new(), commands: envelopes.len(), skipped });
            }
            let appends: Vec<StreamAppend> = streams
                .into_iter()
                .filter(|s| !s.3.is_empty())
                .map(|(stream, expected, _, events)| StreamAppend::new(stream, expected, events))
                .collect();
            match self.store.append_multi(appends) {
                Ok(out) => return Ok(BatchOutcome { positions: out.positions, commands: envelopes.len(), skipped }),
                Err(e) if e.is_conflict() => continue 'attempt,
                Err(e) => return Err(BatchError { index: envelopes.len(), error: store_refusal(e) }),
            }
        }
        Err(BatchError {
            index: envelopes.len(),
            error: EngineError::Contended { stream: "(batch)".into(), attempts: attempt },
        })
    }

    /// The decoded events of a stream, oldest first.
    pub fn load(&self, stream: &str) -> Result<Vec<DomainEvent>, EngineError> {
        decode_all(&self.store.read_stream(stream, 0, Direction::Forward, usize::MAX)?)
    }
}

/// A request to erase a person's information (PIPL), for hosts that do not build the command.
#[derive(Debug, Clone)]
pub struct EraseRequest {
    pub person_id: EntityId,
    /// Who erases (recorded in the audit event; authorised like any command).
    pub actor: EntityId,
    pub reason: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// Reusing the id of an erasure that was interrupted finishes it.
    pub command_id: Uuid,
}

impl Engine {
    /// Sends `person.erase` for the request (see [`Engine::execute`]).
    pub fn erase_person(&self, request: &EraseRequest) -> Result<CommandOutcome, EngineError> {
        self.execute(&CommandEnvelope {
            command_id: request.command_id,
            actor: request.actor.clone(),
            issued_at: request.issued_at,
            correlation_id: None,
            causation_id: None,
            command: Command::Person(PersonCommand::Erase(ErasePerson {
                person_id: request.person_id.clone(),
                reason: request.reason.clone(),
            })),
        })
    }
}

/// Store refusals that are the command's fault come back as rejections naming the field: an
/// event over the size limit, and a command id already used for events elsewhere (its derived
/// event ids are taken).
fn store_refusal(e: StoreError) -> EngineError {
    match e {
        StoreError::EventTooLarge { size, limit, .. } => EngineError::Rejected(Rejection::new(
            "/command",
            domain::rule::TOO_LONG,
            format!("the command's event would take {size} bytes; an event may take at most {limit}"),
        )),
        StoreError::EventIdConflict { position, .. } => EngineError::Rejected(Rejection::new(
            "/command_id",
            domain::rule::DUPLICATE,
            format!("this command id was already used at position {position} for a different command; send a new id"),
        )),
        StoreError::IdempotencyMismatch { reason } => EngineError::Rejected(Rejection::new(
            "/command_id",
            domain::rule::DUPLICATE,
            format!("this command id was already used for a different command ({reason}); send a new id"),
        )),
        other => other.into(),
    }
}

/// Reads the access events of the whole log (their streams, merged in position order) up to the
/// head seen before reading.
fn load_access(store: &EventStore, roots: Vec<EntityId>) -> Result<AccessIndex, EngineError> {
    let end = store.head().next_position;
    let prefix = format!("{}-", StreamKind::Access.prefix());
    let mut events: Vec<RecordedEvent> = Vec::new();
    for stream in store.list_streams(&prefix, None, usize::MAX)? {
        events.extend(
            store.read_stream(&stream, 0, Direction::Forward, usize::MAX)?.into_iter().filter(|e| e.position < end),
        );
    }
    events.sort_by_key(|e| e.position);
    let mut index = AccessIndex::new(roots);
    for e in &events {
        if let DomainEvent::Access(a) = decode(e)? {
            index.apply(e.position, &a);
        }
    }
    index.advance_to(end);
    Ok(index)
}

/// Folds the access events appended since the index was last brought up to date.
fn catch_up_access(store: &EventStore, index: &mut AccessIndex) -> Result<(), EngineError> {
    loop {
        let page = store.read_all(index.folded_to(), Direction::Forward, 4096)?;
        let Some(last) = page.last().map(|e| e.position) else { return Ok(()) };
        for e in page.iter().filter(|e| e.event_type.starts_with("access.")) {
            if let DomainEvent::Access(a) = decode(e)? {
                index.apply(e.position, &a);
            }
        }
        index.advance_to(last + 1);
    }
}

/// Waits a little before deciding again, growing with the attempt and spread by the command id,
/// so writers racing for one stream stop colliding in lockstep.
fn backoff(command_id: &Uuid, attempt: usize) {
    // Full jitter over a window that doubles up to ~13 ms: racers spread out instead of
    // colliding again in lockstep. The jitter is derived, not random (no RNG in the library).
    let window = 100u64 << attempt.min(7);
    let mut h = blake3::Hasher::new();
    h.update(command_id.as_bytes());
    h.update(&(attempt as u64).to_le_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.finalize().as_bytes()[..8]);
    let micros = window / 2 + u64::from_le_bytes(b) % window;
    std::thread::sleep(std::time::Duration::from_micros(micros));
}

/// The id of the `index`-th event decided for a command: stable across retries. Reusing a
/// command id elsewhere collides in the store's global event-id index and is refused there.
pub fn derived_event_id(command_id: &Uuid, index: u32) -> Uuid {
    let mut h = blake3::Hasher::new();
    h.update(b"anquan.event-id.v1");
    h.update(command_id.as_bytes());
    h.update(&index.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn propose(envelope: &CommandEnvelope, index: u32, event: &DomainEvent) -> Result<ProposedEvent, EngineError> {
    let (event_type, schema_version, payload) = event.to_payload()?;
    Ok(ProposedEvent {
        event_id: derived_event_id(&envelope.command_id, index),
        event_type: event_type.to_string(),
        schema_version,
        occurred_at: Timestamp::from_chrono(envelope.issued_at),
        actor: envelope.actor.as_str().to_string(),
        correlation_id: Some(envelope.correlation_id.unwrap_or(envelope.command_id)),
        causation_id: Some(envelope.causation_id.unwrap_or(envelope.command_id)),
        payload,
    })
}

fn decode(e: &RecordedEvent) -> Result<DomainEvent, EngineError> {
    Ok(DomainEvent::from_payload(&e.event_type, e.schema_version, &e.payload)?)
}

fn decode_all(recorded: &[RecordedEvent]) -> Result<Vec<DomainEvent>, EngineError> {
    recorded.iter().map(decode).collect()
}

/// If the command's first event is already in the stream, the command was carried out before:
/// its events are the run from there whose ids derive from the same command.
fn already_done(
    engine: &Engine,
    stream: &str,
    recorded: &[RecordedEvent],
    envelope: &CommandEnvelope,
) -> Result<Option<CommandOutcome>, EngineError> {
    let command_id = &envelope.command_id;
    let Some(start) = recorded.iter().position(|e| e.event_id == derived_event_id(command_id, 0)) else {
        return Ok(None);
    };
    let run: Vec<&RecordedEvent> = recorded[start..]
        .iter()
        .zip(0u32..)
        .take_while(|(e, i)| e.event_id == derived_event_id(command_id, *i))
        .map(|(e, _)| e)
        .collect();
    let stored: Vec<DomainEvent> = run.iter().map(|e| decode(e)).collect::<Result<_, _>>()?;
    // A retry decides, against the state before its events, exactly what was stored; a
    // different command reusing the id does not.
    let before = decode_all(&recorded[..start])?;
    let same = domain::decide_command(&before, envelope, &engine.catalog, &engine.settings).is_ok_and(|d| d == stored);
    if !same {
        return Err(EngineError::Rejected(Rejection::new(
            "/command_id",
            domain::rule::DUPLICATE,
            format!(
                "command id {command_id} was already used at position {} for a different command; send a new id",
                run.first().map(|e| e.position).unwrap_or_default()
            ),
        )));
    }
    Ok(Some(CommandOutcome {
        stream: stream.to_string(),
        positions: run.iter().map(|e| e.position).collect(),
        events: stored,
        already_committed: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let c = Uuid::from_u128(7);
        assert_eq!(derived_event_id(&c, 0), derived_event_id(&c, 0));
        assert_ne!(derived_event_id(&c, 0), derived_event_id(&c, 1));
        assert_ne!(derived_event_id(&c, 0), derived_event_id(&Uuid::from_u128(8), 0));
        assert_eq!(derived_event_id(&c, 0).get_version_num(), 8);
    }
}
