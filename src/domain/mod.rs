//! Layer 4, the domain: the rules. What may happen to communities, enterprises, hazards (隐患),
//! incidents (事故), injury records (伤害监测) and safety-promotion projects (安全促进项目); plus
//! the personal fields of persons named in them and the record of their erasure ([`person`],
//! PIPL), and who may send what ([`access`], [`policy`]).
//!
//! Owns: commands (`command`: the union and the envelope; `intake`: reading them from JSON), [`Rejection`] and its
//! [`rule`] codes, [`Aggregate`] (decide/evolve) and each aggregate's state, [`Settings`], the
//! access policy, the references a command makes to other streams, schema generation and its drift check ([`schema`]), the given/when/then test
//! harness. The events, the values they carry and the catalog are vocabulary, one layer down
//! (`crate::events`).
//!
//! May import `events` and `codec`, nothing else of the crate: no store, no storage, no engine.
//! Inside the folder no two files import each other: the aggregate files (`access`, `community`,
//! `enterprise`, `hazard`, `incident`, `injury`, `person`, `promotion`) use only this file's
//! helpers, `settings`, `catalog` and `person`'s checks; `command` unites them; [`policy`] and
//! `dispatch` and [`references`] use the union; [`schema`] generates the schemas from it, and `intake`, which
//! checks JSON against them, sits on top.
//!
//! Shape: every aggregate is a pair of pure functions, `decide(state, command, ctx) -> events |
//! rejection` and `evolve(state, event) -> state` ([`Aggregate`]). An engine (written elsewhere)
//! finds a command's target stream ([`CommandEnvelope::target_stream`]), reads that stream's
//! events, calls [`decide_command`], and appends the result with the expected version.
//!
//! Invariants:
//! - Pure: no I/O, no clock reads (chrono's `clock` feature is not even enabled). The time and the
//!   actor come in with the command ([`DecisionContext`]); the dates of facts are in the commands.
//! - `evolve` is the only place state changes, and it never fails: an event is a fact already
//!   accepted, so evolve trusts it. `decide` is where rules live; it never panics on input and
//!   rejects with a [`Rejection`] naming the field (a JSON pointer into the command envelope) and
//!   a stable rule code.
//! - Codes (categories, hazard grades, criteria, enterprise grades, injury codes) are data in a
//!   versioned `Catalog`; regulation clocks are [`Settings`]. Events record the values they
//!   were decided under (grade, deadline, flags), so a later catalog or setting change never
//!   rewrites history.
//! - Each event type is its own struct, bincode-encoded alone with an explicit schema version
//!   (`DomainEvent::to_payload` / `DomainEvent::from_payload`, in `crate::events`, which upcasts
//!   old versions). Persisted structs use no serde attribute that loses data under bincode.
//! - References across streams: [`references`] says which communities and enterprises a command
//!   names and checks them against a lookup the engine passes in; the domain never reads the
//!   store. Grids and hazards named by a command are not checked.

#[macro_use]
mod macros;

pub mod access;
mod catalog;
mod command;
pub mod community;
mod dispatch;
pub mod enterprise;
pub mod hazard;
pub mod incident;
pub mod injury;
mod intake;
pub mod person;
pub mod policy;
pub mod promotion;
pub mod references;
pub mod schema;
mod settings;
pub(crate) mod testing;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use catalog::CodeLookup;
pub use command::{Command, CommandEnvelope};
pub use dispatch::decide_command;
pub use intake::{parse_command_json, parse_command_value};
pub use settings::Settings;

use crate::events::{time, Catalog, EntityId, EventError};

/// Errors of the domain layer that are not rule rejections: those of the event vocabulary (bad
/// bytes, unknown event types, a broken embedded catalog), schema files that cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("JSON schema error: {0}")]
    Schema(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("command rejected: {0}")]
    Rejected(#[from] Rejection),
}

/// A command refused by a rule. `field` is a JSON pointer into the command envelope (e.g.
/// `/command/funds_yuan`), `rule` a short stable code hosts can match on, `items` names what is
/// missing when a rule is about completeness (五到位, 四不放过).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{field}: {rule}: {message}")]
pub struct Rejection {
    pub field: String,
    pub rule: String,
    pub message: String,
    pub items: Vec<String>,
}

impl Rejection {
    pub fn new(field: impl Into<String>, rule: &str, message: impl Into<String>) -> Self {
        Rejection { field: field.into(), rule: rule.to_string(), message: message.into(), items: Vec::new() }
    }

    /// A rejection about a field of the command body (`/command/<name>`).
    pub fn at(name: &str, rule: &str, message: impl Into<String>) -> Self {
        Rejection::new(field(name), rule, message)
    }

    pub fn with_items(mut self, items: Vec<String>) -> Self {
        self.items = items;
        self
    }
}

/// JSON pointer of a command body field.
pub fn field(name: &str) -> String {
    if name.is_empty() {
        "/command".to_string()
    } else {
        format!("/command/{name}")
    }
}

/// Stable rule codes, so hosts and tests never match on prose.
pub mod rule {
    pub const ALREADY_EXISTS: &str = "already_exists";
    pub const NOT_FOUND: &str = "not_found";
    pub const REQUIRED: &str = "required";
    pub const TOO_LONG: &str = "too_long";
    pub const OUT_OF_RANGE: &str = "out_of_range";
    pub const UNKNOWN_CODE: &str = "unknown_code";
    pub const IN_FUTURE: &str = "in_future";
    pub const TIME_ORDER: &str = "time_order";
    pub const INVALID_ID: &str = "invalid_id";
    pub const WRONG_STREAM: &str = "wrong_stream";
    pub const CLOSED: &str = "closed";
    pub const INVALID_STATE: &str = "invalid_state";
    pub const NOT_GRADED: &str = "not_graded";
    pub const NOT_MAJOR: &str = "not_major";
    pub const FIVE_IN_PLACE_MISSING: &str = "five_in_place_missing";
    pub const DEADLINE_NOT_LATER: &str = "deadline_not_later";
    pub const VERIFIER_IS_RECTIFIER: &str = "verifier_is_rectifier";
    pub const NOT_VERIFIED: &str = "not_verified";
    pub const FOUR_NOT_LET_GO_MISSING: &str = "four_not_let_go_missing";
    pub const AUTHORITY_TOO_LOW: &str = "authority_too_low";
    pub const EXTENSION_LIMIT: &str = "extension_limit";
    pub const EXTENSION_TOO_LONG: &str = "extension_too_long";
    pub const ALREADY_PAUSED: &str = "already_paused";
    pub const NOT_PAUSED: &str = "not_paused";
    pub const SCHEMA: &str = "schema";
    pub const UNKNOWN_COMMAND: &str = "unknown_command_type";
    pub const MALFORMED: &str = "malformed";
    pub const DUPLICATE: &str = "duplicate";
    /// A command that must be sent alone was part of an all-or-nothing batch.
    pub const NOT_BATCHABLE: &str = "not_batchable";
}

/// Everything `decide` may know besides state and command: who, when, and the reference data.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    pub actor: &'a EntityId,
    pub issued_at: DateTime<Utc>,
    pub catalog: &'a Catalog,
    pub settings: &'a Settings,
}

/// One aggregate: its state is a left fold of `evolve` over its stream's events.
pub trait Aggregate {
    type State: Default + Clone;
    type Command;
    type Event;
    fn decide(
        state: &Self::State,
        cmd: &Self::Command,
        ctx: &DecisionContext<'_>,
    ) -> Result<Vec<Self::Event>, Rejection>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// Folds a stream's events into state.
    fn fold<'e>(events: impl IntoIterator<Item = &'e Self::Event>) -> Self::State
    where
        Self::Event: 'e,
    {
        events.into_iter().fold(Self::State::default(), |s, e| Self::evolve(s, e))
    }
}

// ---- small validation helpers shared by the aggregates -------------------------------------

/// Longest free text accepted in one field (characters).
pub const MAX_TEXT: usize = 4000;
/// Longest name-like field (characters).
pub const MAX_NAME: usize = 200;

/// Required, non-blank text of at most `max` characters.
pub(crate) fn text(name: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::at(name, rule::REQUIRED, format!("{name} must not be empty")));
    }
    let n = value.chars().count();
    if n > max {
        return Err(Rejection::at(name, rule::TOO_LONG, format!("{name} has {n} characters, at most {max} allowed")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(Rejection::at(name, rule::MALFORMED, format!("{name} contains control characters")));
    }
    if let Some(c) = value.chars().find(|c| is_invisible_format(*c)) {
        return Err(Rejection::at(
            name,
            rule::MALFORMED,
            format!("{name} contains the invisible formatting character U+{:04X}, which can make text display differently from what is stored", c as u32),
        ));
    }
    Ok(())
}

/// Bidirectional overrides and isolates, zero-width characters and the BOM: they change how text
/// displays without being visible (Unicode category Cf, the ones that matter in records).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Optional text: when present it must satisfy [`text`].
pub(crate) fn opt_text(name: &str, value: &Option<String>, max: usize) -> Result<(), Rejection> {
    match value {
        Some(v) => text(name, v, max),
        None => Ok(()),
    }
}

/// A count of people, bounded so absurd input is refused rather than believed.
pub(crate) fn people(name: &str, n: u32, settings: &Settings) -> Result<(), Rejection> {
    if n > settings.max_people {
        return Err(Rejection::at(
            name,
            rule::OUT_OF_RANGE,
            format!("{name} = {n} exceeds the plausible maximum {}", settings.max_people),
        ));
    }
    Ok(())
}

/// An amount in whole yuan (元), bounded.
pub(crate) fn yuan(name: &str, n: u64, settings: &Settings) -> Result<(), Rejection> {
    if n > settings.max_yuan {
        return Err(Rejection::at(
            name,
            rule::OUT_OF_RANGE,
            format!("{name} = {n} yuan exceeds the plausible maximum {}", settings.max_yuan),
        ));
    }
    Ok(())
}

/// A fact's time may not lie after the moment the command was issued, nor before
/// [`time::EARLIEST_DATE`].
pub(crate) fn not_future(name: &str, at: DateTime<Utc>, ctx: &DecisionContext<'_>) -> Result<(), Rejection> {
    not_before_earliest(name, time::cst_date(at))?;
    if at > ctx.issued_at {
        return Err(Rejection::at(
            name,
            rule::IN_FUTURE,
            format!("{name} {at} is after the command's issued_at {}", ctx.issued_at),
        ));
    }
    Ok(())
}

/// Any date or time field: not before [`time::EARLIEST_DATE`] (1949-10-01).
pub(crate) fn not_before_earliest(name: &str, date: chrono::NaiveDate) -> Result<(), Rejection> {
    if date < time::EARLIEST_DATE {
        return Err(Rejection::at(
            name,
            rule::OUT_OF_RANGE,
            format!("{name} {date} is before {}: no record can be that old", time::EARLIEST_DATE),
        ));
    }
    Ok(())
}

/// A calendar fact (CST date) may not lie after the day the command was issued, nor before
/// [`time::EARLIEST_DATE`].
pub(crate) fn not_future_date(name: &str, date: chrono::NaiveDate, ctx: &DecisionContext<'_>) -> Result<(), Rejection> {
    not_before_earliest(name, date)?;
    let today = time::cst_date(ctx.issued_at);
    if date > today {
        return Err(Rejection::at(
            name,
            rule::IN_FUTURE,
            format!("{name} {date} is after the day the command was issued ({today})"),
        ));
    }
    Ok(())
}

/// A command whose id does not match the stream it is decided against.
pub(crate) fn same_id(name: &str, existing: &Option<EntityId>, given: &EntityId) -> Result<(), Rejection> {
    match existing {
        Some(id) if id != given => {
            Err(Rejection::at(name, rule::WRONG_STREAM, format!("command targets {given} but the stream holds {id}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_name_the_field() {
        let e = text("summary", "  ", 10).unwrap_err();
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("/command/summary", rule::REQUIRED));
        let e = text("summary", "abcdefghijk", 10).unwrap_err();
        assert_eq!(e.rule, rule::TOO_LONG);
        assert!(text("summary", "十个字以内", 10).is_ok());
    }
}
