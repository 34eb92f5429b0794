//! The HTTP service (`anquan serve`, and a router a host mounts in its own): commands in, the
//! questions of [`crate::interface::query`] out, the log paged and streamed live, health and
//! metrics, and the dashboard page.
//!
//! Invariants:
//! - Every endpoint but `/healthz`, `/openapi.json` and the page's own files (`/`, `/assets/…`:
//!   code and descriptions, no data) needs a bearer token; a command's actor is its token's
//!   ([`auth`]). Which endpoints are public is said once, in the OpenAPI table ([`openapi`]).
//! - The engine is synchronous: commands and folds run on tokio's blocking pool, never on the
//!   runtime's threads. Questions about now are answered from the live projections
//!   ([`live`]); questions about another moment fold the log, at most
//!   [`ServeOptions::heavy_queries`] at a time, so one heavy question cannot starve the rest.
//! - Errors are `application/problem+json` with the engine's pointer and rule ([`problem`]).
//! - A 2xx answer to a command means its events are durable (the store's default durability).

mod api;
pub mod auth;
mod error;
pub mod live;
pub mod metrics;
pub mod openapi;
mod page;
pub mod paths;
pub mod problem;
mod server;
mod service;

pub use auth::{Access, Caller, Tokens};
pub use error::ServeError;
pub use server::{router, serve, MAX_HEADER_BYTES, SHUTDOWN_GRACE};
pub use service::{ServeOptions, Service, HEADER_TIMEOUT};
