//! anquan (安全): an embedded, event-sourced incident-tracking engine for community and workplace
//! safety work — hazards and their rectification (隐患排查治理), incidents and the four
//! don't-let-go (四不放过), injury surveillance and safe-community statistics (安全社区).
//!
//! Layers, top to bottom (a lower layer never imports a higher one):
//! CLI / host API ([`engine`]) → [`domain`] → projections → [`store`] → [`storage`] backend (sled).
//! See `ARCHITECTURE.md` for the map.

pub mod codec;
pub mod domain;
pub mod engine;
pub mod events;
pub mod interface;
pub mod projections;
pub mod storage;
pub mod store;

/// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
