//! anquan (安全): an embedded, event-sourced incident-tracking engine for community and workplace
//! safety work — hazards and their rectification (隐患排查治理), incidents and the four
//! don't-let-go (四不放过), injury surveillance and safe-community statistics (安全社区).
//!
//! Layers, bottom to top (which may import which: `ARCHITECTURE.md`, checked by
//! `tests/layers.rs`, which also refuses import cycles between files):
//!
//! | rank | module | owns |
//! |---|---|---|
//! | 0 | `codec` (internal) | serde + bincode 2 behind one door |
//! | 1 | `storage` (internal) | the backend: sled, redo journal, value file |
//! | 2 | [`store`] | the event store: streams, positions, hash chain, subscriptions, verify |
//! | 3 | [`events`] | the event vocabulary: ids, time, catalog, personal fields, every event |
//! | 4 | [`domain`] | the rules: commands, decide/evolve, rejections, access policy |
//! | 4 | [`projections`] | read models folded from the log (beside the domain, never using it) |
//! | 5 | [`engine`] | commands in, events out; [`engine::privacy`], [`engine::notary`] |
//! | 6 | [`interface`] | report, export / restore / command import, CSV import, the demo |
//!
//! The binary (`src/bin/anquan/`, the default `cli` feature) sits on top and uses only this
//! public API: [`store::EventStore`] to open a store, [`engine::Engine`] to send commands,
//! [`domain`] for commands and their JSON intake, [`events`] to read what the log says,
//! [`projections`] for figures and [`interface`] for the ways in and out. The backend contract
//! ([`store::Backend`]) is re-exported by the store for hosts that bring their own.

// The library has no unsafe code (the binary, tests and benches call libc; see Cargo.toml).
#![forbid(unsafe_code)]

pub(crate) mod codec;
pub mod domain;
pub mod engine;
pub mod events;
pub mod interface;
pub mod projections;
pub(crate) mod storage;
pub mod store;

/// Not API: internals that this crate's own integration tests and benches reach for (byte
/// layouts, file names, the codec, the domain's given/when/then harness, old event versions).
/// Nothing here is stable, documented or meant for hosts; it exists so that `tests/` and
/// `benches/` need no other door into the crate's private modules.
#[doc(hidden)]
pub mod internals {
    /// The codec (`codec`).
    pub mod codec {
        pub use crate::codec::{decode, encode, DECODE_LIMIT};
    }

    /// The value file: its name, pointers and frames (`storage::value_log`).
    pub mod value_log {
        pub use crate::storage::value_log::{decode_pointer, frame_as_is, unframe, POINTER_LEN, VALUE_LOG_FILE};
    }

    /// Record and segment encoding (`store::layout`).
    pub mod layout {
        pub use crate::store::layout::{
            chain_hash, decode_segment, encode_record, RecordRef, SegmentBuilder, SegmentView,
        };
    }

    /// The domain's given/when/then harness (`domain::testing`).
    pub mod testing {
        pub use crate::domain::testing::{at, catalog, date, envelope, given, history, id};
    }

    /// Stored timestamps decoded without chrono's parser (`events::wire_time`).
    pub mod wire_time {
        pub use crate::events::wire_time::utc;
    }

    /// Old event versions, for golden bytes (`events::event`).
    pub use crate::events::event::{
        CommunityAssessedV1, GridAddedV1, GridResponsibleAssignedV1, HazardReportedV1, IncidentReportedV1,
        InjuryCorrectedV1, InjuryDataV1, InjuryRecordedV1, RectificationOrderedV1, ResponsibleDealtWithV1,
    };
    /// The redo journal's file names (`storage::sled_backend`).
    pub use crate::storage::sled_backend::JOURNAL_FILES;
    /// Event ids per block of an id-index run file (`store::id_index`).
    pub use crate::store::id_index::BLOCK_ENTRIES;
}

/// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
