//! Given/when/then harness for domain tests: `given(events).when(envelope).then(events)` or
//! `.then_reject(field, rule)`.
//!
//! Public (not `cfg(test)`) so integration tests and, later, projection tests can use it. It is
//! test support: its helpers panic on failed expectations and on malformed literals written in
//! tests, which is what a test wants; no production path calls it.
//!
//! Besides deciding, `when` checks what every test would otherwise forget: each produced event
//! belongs to the command's target stream, and survives payload encoding (bincode, with its type
//! and version) and JSON unchanged.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{decide_command, Command, CommandEnvelope, Rejection, Settings};
use crate::events::{Catalog, DomainEvent, EntityId};

/// Parses an RFC 3339 instant written in a test.
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("bad instant {s:?} in test: {e}"))
}

/// Parses a `YYYY-MM-DD` date written in a test.
pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("bad date {s:?} in test: {e}"))
}

/// An id written in a test.
pub fn id(s: &str) -> EntityId {
    EntityId::new(s).unwrap_or_else(|e| panic!("bad id {s:?} in test: {e}"))
}

/// A command envelope from `actor` issued at `issued_at` (RFC 3339), with a fresh command id.
pub fn envelope(actor: &str, issued_at: &str, command: impl Into<Command>) -> CommandEnvelope {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    CommandEnvelope {
        command_id: Uuid::from_u128(u128::from(NEXT.fetch_add(1, Ordering::Relaxed))),
        actor: id(actor),
        issued_at: at(issued_at),
        correlation_id: None,
        causation_id: None,
        command: command.into(),
    }
}

/// The built-in catalog (tests fail loudly if it does not load).
pub fn catalog() -> Catalog {
    Catalog::builtin().unwrap_or_else(|e| panic!("builtin catalog: {e}"))
}

/// Events produced by deciding `commands` in order against one growing history (each must be
/// accepted). Handy to build the "given" part from the commands that lead there.
pub fn history(commands: impl IntoIterator<Item = CommandEnvelope>) -> Vec<DomainEvent> {
    let (catalog, settings) = (catalog(), Settings::default());
    let mut events: Vec<DomainEvent> = Vec::new();
    for env in commands {
        let stream = env.target_stream();
        let mine: Vec<DomainEvent> = events.iter().filter(|e| e.stream_id() == stream).cloned().collect();
        match decide_command(&mine, &env, &catalog, &settings) {
            Ok(new) => events.extend(new),
            Err(r) => panic!("history command {} rejected: {r}", env.command.command_type()),
        }
    }
    events
}

/// Starts a scenario from the events already recorded.
pub fn given(events: impl IntoIterator<Item = DomainEvent>) -> Given {
    Given { events: events.into_iter().collect(), catalog: catalog(), settings: Settings::default() }
}

#[derive(Debug)]
pub struct Given {
    events: Vec<DomainEvent>,
    catalog: Catalog,
    settings: Settings,
}

impl Given {
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = catalog;
        self
    }

    /// Decides `env` against the given events of its target stream.
    pub fn when(self, env: CommandEnvelope) -> Then {
        let stream = env.target_stream();
        let mine: Vec<DomainEvent> = self.events.iter().filter(|e| e.stream_id() == stream).cloned().collect();
        let result = decide_command(&mine, &env, &self.catalog, &self.settings);
        if let Ok(events) = &result {
            for e in events {
                assert_eq!(e.stream_id(), stream, "{} emitted outside the target stream", e.event_type());
                let (t, v, bytes) = e.to_payload().unwrap_or_else(|err| panic!("encode {}: {err}", e.event_type()));
                let back = DomainEvent::from_payload(t, v, &bytes).unwrap_or_else(|err| panic!("decode {t}: {err}"));
                assert_eq!(&back, e, "{t} does not survive its payload codec");
                let json = serde_json::to_string(e).unwrap_or_else(|err| panic!("json {t}: {err}"));
                let back: DomainEvent = serde_json::from_str(&json).unwrap_or_else(|err| panic!("json {t}: {err}"));
                assert_eq!(&back, e, "{t} does not survive JSON");
            }
        }
        Then { result }
    }
}

#[derive(Debug)]
pub struct Then {
    result: Result<Vec<DomainEvent>, Rejection>,
}

impl Then {
    /// Expects exactly these events.
    pub fn then(self, expected: impl IntoIterator<Item = DomainEvent>) -> Vec<DomainEvent> {
        let expected: Vec<DomainEvent> = expected.into_iter().collect();
        match self.result {
            Ok(got) => {
                assert_eq!(got, expected);
                got
            }
            Err(r) => panic!("expected events, got rejection {r}"),
        }
    }

    /// Expects acceptance and returns the events for closer inspection.
    pub fn accepted(self) -> Vec<DomainEvent> {
        self.result.unwrap_or_else(|r| panic!("expected acceptance, got rejection {r}"))
    }

    /// Expects a rejection on `field` (JSON pointer) for `rule`, and returns it.
    pub fn then_reject(self, field: &str, rule: &str) -> Rejection {
        match self.result {
            Ok(events) => {
                let types: Vec<_> = events.iter().map(DomainEvent::event_type).collect();
                panic!("expected rejection {rule} on {field}, got events {types:?}")
            }
            Err(r) => {
                assert_eq!((r.field.as_str(), r.rule.as_str()), (field, rule), "rejection was: {r}");
                r
            }
        }
    }
}
