//! Layer 6, the ways in and out of a store for people and other systems: the statistics report
//! ([`report`]), the questions asked of the figures, with their provenance and their check
//! ([`query`]), JSON Lines export, restore and command import ([`transfer`]), CSV import of
//! records kept elsewhere ([`csv_import`]) and the seeded demo district ([`demo`]).
//!
//! May import every layer below: `engine` (commands go through it, never around it), `domain`,
//! `projections`, `events`, `store`, `storage`, `codec`. Nothing below imports this folder; the
//! binary (`src/bin/anquan/`) sits on top of it.

pub mod csv_import;
pub mod demo;
#[cfg(feature = "http")]
pub mod http;
pub mod query;
pub mod report;
pub mod transfer;
