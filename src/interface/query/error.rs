//! Why a question got no answer.

use crate::store::StoreError;

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A code the store does not know (`field` names the query's field).
    #[error("unknown {field} {value:?}{}", hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default())]
    UnknownCode { field: &'static str, value: String, hint: Option<String> },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Projection(#[from] crate::projections::ProjectionError),
}
