//! anquan (安全): an embedded, event-sourced incident-tracking engine for community and workplace
//! safety work — hazards and their rectification (隐患排查治理), incidents and the four
//! don't-let-go (四不放过), injury surveillance and safe-community statistics (安全社区).
//!
//! Layers, bottom to top; a file imports only its own layer and the layers listed for it
//! (`tests/layers.rs` checks every import, and that no two files import each other):
//!
//! | rank | module | owns | may import |
//! |---|---|---|---|
//! | 0 | `codec` (internal) | serde + bincode 2 behind one door | nothing of the crate |
//! | 1 | `storage` (internal) | the backend: sled, redo journal, value file | codec |
//! | 2 | [`store`] | the event store: streams, positions, hash chain, subscriptions | storage, codec |
//! | 3 | [`events`] | the event vocabulary: ids, time, catalog, personal fields, events | codec |
//! | 4 | [`domain`] | the rules: commands, decide/evolve, rejections, access policy | events, codec |
//! | 4 | [`projections`] | read models folded from the log (never the domain) | events, store, storage, codec |
//! | 5 | [`engine`] | commands in, events out; [`engine::privacy`], [`engine::notary`] | all of the above |
//! | 6 | [`interface`] | report, export/restore/import, CSV import, the demo | all of the above |
//!
//! The binary (`src/bin/anquan/`) sits on top and uses only this public API. See
//! `ARCHITECTURE.md` for the map.
//!
//! A host needs: [`store::EventStore`] (open a store), [`engine::Engine`] (send commands),
//! [`domain`] (commands and their JSON intake), [`events`] (read what the log says),
//! [`projections`] (figures), and [`interface`] for the ways in and out. The backend contract
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
