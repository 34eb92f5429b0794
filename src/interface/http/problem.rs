//! Errors as `application/problem+json` (RFC 9457), carrying the engine's JSON pointer and its
//! stable rule code, so a client reacts to `rule`, never to the wording.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Rejection;
use crate::engine::EngineError;
use crate::interface::query::QueryError;
use crate::store::StoreError;

/// One refusal inside a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Item {
    /// JSON pointer into the request (`/command/funds_yuan`); for a batch, prefixed by the
    /// command's index (`/3/command/funds_yuan`).
    pub pointer: String,
    pub rule: String,
    pub detail: String,
}

/// A problem document (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The first refusal's rule and pointer, repeated at the top for clients that read one.
    pub rule: Option<String>,
    pub pointer: Option<String>,
    pub errors: Vec<Item>,
}

impl Problem {
    pub fn new(status: StatusCode, rule: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:anquan:problem:{rule}"),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            rule: Some(rule.to_string()),
            pointer: None,
            errors: Vec::new(),
        }
    }

    /// A problem made of refusals (the first one sets `rule` and `pointer`).
    pub fn refusals(status: StatusCode, items: Vec<Item>) -> Self {
        let first = items.first().cloned();
        let rule = first.as_ref().map(|i| i.rule.clone()).unwrap_or_else(|| "refused".into());
        let detail =
            items.iter().map(|i| format!("{} ({}): {}", i.pointer, i.rule, i.detail)).collect::<Vec<_>>().join("; ");
        let mut p = Self::new(status, &rule, detail);
        p.pointer = first.map(|i| i.pointer);
        p.errors = items;
        p
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

impl IntoResponse for Box<Problem> {
    fn into_response(self) -> Response {
        (*self).into_response()
    }
}

pub(super) fn item(prefix: &str, r: Rejection) -> Item {
    Item { pointer: format!("{prefix}{}", r.field), rule: r.rule, detail: r.message }
}

/// The status and problem of an engine error for the command at `prefix` (empty for a single
/// command).
pub(super) fn of_engine(prefix: &str, e: EngineError) -> Problem {
    match e {
        EngineError::Invalid(rs) => {
            Problem::refusals(StatusCode::UNPROCESSABLE_ENTITY, rs.into_iter().map(|r| item(prefix, r)).collect())
        }
        EngineError::Rejected(r) => Problem::refusals(StatusCode::UNPROCESSABLE_ENTITY, vec![item(prefix, r)]),
        EngineError::Denied(r) => Problem::refusals(StatusCode::FORBIDDEN, vec![item(prefix, r)]),
        EngineError::Contended { stream, attempts } => Problem::new(
            StatusCode::CONFLICT,
            "contended",
            format!("stream {stream} kept changing; gave up after {attempts} attempts: send the command again"),
        ),
        EngineError::Store(StoreError::Poisoned { cause }) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "poisoned",
            format!("the store refuses writes after a failed commit ({cause}); the service must reopen it"),
        ),
        other => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

pub(super) fn of_query(e: QueryError) -> Problem {
    match e {
        QueryError::UnknownCode { field, .. } => {
            let mut p = Problem::new(StatusCode::NOT_FOUND, "unknown_code", e.to_string());
            p.pointer = Some(format!("/{field}"));
            p
        }
        QueryError::Invalid(_) => Problem::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string()),
        other => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_get_their_status_pointer_and_rule() {
        let contended = of_engine("", EngineError::Contended { stream: "hazard-H-1".into(), attempts: 40 });
        assert_eq!((contended.status, contended.rule.as_deref()), (409, Some("contended")));
        let denied = of_engine("/3", EngineError::Denied(Rejection::new("/actor", "not_permitted", "no")));
        assert_eq!((denied.status, denied.pointer.as_deref()), (403, Some("/3/actor")));
        let refused =
            of_engine("", EngineError::Rejected(Rejection::new("/command/grade", "invalid_transition", "no")));
        assert_eq!((refused.status, refused.rule.as_deref()), (422, Some("invalid_transition")));
        assert_eq!(refused.errors.len(), 1);
        let poisoned = of_engine("", EngineError::Store(StoreError::Poisoned { cause: "disk".into() }));
        assert_eq!(poisoned.status, 503);
    }
}
