//! Layer 3, the event vocabulary: what the log says, in the types both the rules above
//! (`crate::domain`) and the read models beside them (`crate::projections`) read.
//!
//! Owns: identifiers ([`EntityId`], [`StreamKind`]); time helpers for regulation clocks and CST
//! dates ([`time`]) and the fast decoding of stored timestamps (`wire_time`); the catalog of codes
//! and labels ([`catalog`], `catalog.json`); the personal-field types and their serde forms
//! ([`person`]); every event struct and the enums and constants events carry, one file per
//! aggregate ([`access`], [`community`], [`enterprise`], [`hazard`], [`incident`], [`injury`],
//! [`person`], [`promotion`]), each with its `event_enum!` table; [`DomainEvent`] with type
//! names, schema versions, `to_payload` / `from_payload` and the upcasters of old versions; the
//! decode error ([`EventError`]).
//!
//! May import `codec` only: no store, no storage, no rule. Commands, `decide` and rejections are
//! the domain's; nothing here knows them. Inside the folder, the aggregate files use `id`-level
//! types, `time`, `wire_time` and `person`; `event.rs` unites them.

#[macro_use]
mod macros;

pub mod access;
pub mod catalog;
pub mod community;
pub mod enterprise;
mod error;
pub(crate) mod event;
pub mod hazard;
mod id;
pub mod incident;
pub mod injury;
pub(crate) mod json_schema;
pub mod person;
pub mod promotion;
pub mod time;
pub(crate) mod wire_time;

pub use crate::codec::CodecError;
pub use catalog::Catalog;
pub use error::EventError;
pub use event::DomainEvent;
pub use id::{EntityId, StreamKind};
