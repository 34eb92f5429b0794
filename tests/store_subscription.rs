//! Subscriptions: catch-up then live under concurrent writers, slow subscribers, the end at
//! close: the shared store suite (`store_suite`) on the embedded sled store.

mod common;
#[macro_use]
mod store_suite;

store_suite!(subscriptions, store_suite::Sled);
