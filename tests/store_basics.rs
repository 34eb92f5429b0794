//! Appends, expected versions, idempotent retries, limits, multi-stream atomicity, reads, reopen,
//! deferred durability: the shared store suite (`store_suite`) on the embedded sled store.

mod common;
#[macro_use]
mod store_suite;

store_suite!(basics, store_suite::Sled);
