//! Why a service could not start or run.

use crate::store::StoreError;

use super::auth;

/// Why a service could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Projection(#[from] crate::projections::ProjectionError),
    #[error(transparent)]
    Query(#[from] crate::interface::query::QueryError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Privacy(#[from] crate::engine::privacy::PrivacyError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
