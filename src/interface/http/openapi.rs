//! The OpenAPI document of the service, built from its table of endpoints and the command
//! schemas the domain generates, served at `/openapi.json` and checked in as
//! [`CHECKED_IN`] (`tests/http_api.rs` fails when they drift; `ANQUAN_UPDATE_SCHEMAS=1 cargo
//! test --test http_api` rewrites it).
//!
//! Invariants:
//! - The table lists exactly the router's endpoints (a unit test of `api` compares them), and it
//!   decides which are public: the router asks [`is_public`], so the document cannot promise a
//!   token that is not asked for.

use serde_json::{json, Value};

/// One endpoint.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Query parameters: (name, type, description).
    params: &'static [(&'static str, &'static str, &'static str)],
    /// (status, description).
    responses: &'static [(u16, &'static str)],
    body: Option<&'static str>,
    public: bool,
}

const WHEN: [(&str, &str, &str); 2] = [
    ("as_of", "string", "what had been recorded by this instant (RFC 3339, or a date: the end of that CST day)"),
    ("on", "string", "the reference date (YYYY-MM-DD, CST): year to date, 时序进度, streak end, overdue that day"),
];

const ANSWER: &[(u16, &str)] = &[
    (200, "the figures with their basis"),
    (400, "a malformed parameter"),
    (401, "no or unknown token"),
    (404, "an unknown code"),
];

/// Where the document is checked in, relative to the repository. Not under `schemas/`: the
/// domain's schema writer owns every `.json` file there.
pub const CHECKED_IN: &str = "api/openapi.json";

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "post",
        path: "/v1/commands",
        summary: "Send one command (its actor must be the token's).",
        params: &[],
        responses: &[
            (201, "committed: the stream and the positions of its events"),
            (200, "the same command again: already committed, nothing written"),
            (400, "the body is not JSON"),
            (401, "no or unknown token"),
            (403, "the actor may not send it, or the token is another actor's or read-only"),
            (409, "the stream kept changing; send it again"),
            (413, "over the size limit"),
            (415, "not application/json"),
            (422, "refused by the schema or a domain rule (pointer and rule given)"),
            (503, "the store refuses writes after a failed commit"),
        ],
        body: Some("CommandEnvelope"),
        public: false,
    },
    Endpoint {
        method: "post",
        path: "/v1/commands/batch",
        summary: "Send commands all or nothing; every refusal listed by index.",
        params: &[],
        responses: &[
            (201, "all committed in one atomic commit"),
            (200, "all were committed before"),
            (400, "the body is not JSON"),
            (401, "no or unknown token"),
            (403, "every refusal is about who sends: the actor's roles or scope, a read-only token, another actor"),
            (409, "the streams kept changing; send the batch again"),
            (413, "over the size limit"),
            (415, "not application/json"),
            (422, "refusals, each with the command's index in its pointer; nothing written"),
            (503, "the store refuses writes after a failed commit"),
        ],
        body: Some("CommandBatch"),
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/stats",
        summary: "A year against another, grouped.",
        params: &[
            ("year", "integer", "statistics year"),
            ("compare", "integer", "year compared against"),
            ("community", "string", "community id"),
            ("category", "string", "category code"),
            ("by", "string", "category | community | month | grade"),
            ("year_to_date", "boolean", "both years up to the reference day"),
        ],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/kpis",
        summary: "The year's key figures.",
        params: &[
            ("year", "integer", "statistics year"),
            ("community", "string", "community id"),
            ("ltifr_base", "integer", "hours base of LTIFR"),
        ],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/hazards",
        summary: "The hazard ledger on the reference date.",
        params: &[("community", "string", "community id")],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/incidents",
        summary: "Incidents, newest first.",
        params: &[("community", "string", "community id"), ("open", "boolean", "only those not closed")],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/incidents/{id}/trail",
        summary: "One incident's four conditions (四不放过).",
        params: &[],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/streaks",
        summary: "Fatality-free streaks per community.",
        params: &[
            ("community", "string", "community id"),
            ("category", "string", "category code"),
            ("rule", "string", "fatal | relatively_serious_or_above | serious_or_above"),
            ("years", "integer", "whole years for the share"),
        ],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/projects",
        summary: "Promotion projects and their interventions.",
        params: &[("community", "string", "community id")],
        responses: ANSWER,
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/streams/{id}",
        summary: "A stream's events (with as_of: as recorded by then).",
        params: &[("as_of", "string", "cut by recorded time")],
        responses: &[(200, "the events"), (401, "no or unknown token"), (404, "no such stream")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/head",
        summary: "The log's length and head hash.",
        params: &[],
        responses: &[(200, "the head"), (401, "no or unknown token")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/events",
        summary: "A page of the log from a position.",
        params: &[("from", "integer", "first position"), ("limit", "integer", "at most this many (1–10,000)")],
        responses: &[(200, "events and the next position"), (401, "no or unknown token")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/events/live",
        summary: "The log as server-sent events from a position; resumable with Last-Event-ID.",
        params: &[
            ("from", "integer", "first position (default: the head)"),
            ("token", "string", "the bearer token, for EventSource clients that cannot set headers"),
        ],
        responses: &[(200, "text/event-stream; each event's id is its position"), (401, "no or unknown token")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/metrics",
        summary: "Prometheus text: commands by outcome, latency, events, projection lag.",
        params: &[],
        responses: &[(200, "text/plain"), (401, "no or unknown token")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/v1/codes",
        summary: "The codes questions take: the catalog's categories and the store's communities.",
        params: &[],
        responses: &[(200, "categories and communities"), (401, "no or unknown token")],
        body: None,
        public: false,
    },
    Endpoint {
        method: "get",
        path: "/openapi.json",
        summary: "This document (public: it describes the service and holds no data).",
        params: &[],
        responses: &[(200, "the OpenAPI document")],
        body: None,
        public: true,
    },
    Endpoint {
        method: "get",
        path: "/healthz",
        summary: "ready, degraded or poisoned.",
        params: &[],
        responses: &[(200, "ready or degraded"), (503, "poisoned")],
        body: None,
        public: true,
    },
];

/// Whether the endpoint at `path` answers without a token. Unknown paths are not public.
pub fn is_public(path: &str) -> bool {
    ENDPOINTS.iter().any(|e| e.path == path && e.public)
}

/// The (method, path) of every operation the document describes.
pub fn operations() -> Vec<(String, String)> {
    ENDPOINTS.iter().map(|e| (e.method.to_string(), e.path.to_string())).collect()
}

/// The document as checked in: pretty JSON and a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

/// The command envelope's schema (generated from the Rust types) with its definitions moved to
/// the document's components: (the envelope, its definitions).
fn envelope_components() -> (Value, serde_json::Map<String, Value>) {
    components(crate::domain::schema::envelope_schema())
}

/// A root schema with its definitions moved to the document's components.
fn components(root: Value) -> (Value, serde_json::Map<String, Value>) {
    let text = root.to_string().replace("\"#/$defs/", "\"#/components/schemas/");
    let mut schema: Value = serde_json::from_str(&text).unwrap_or_default();
    let defs = schema
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        })
        .and_then(|d| match d {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    (schema, defs)
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let mut params: Vec<Value> = e
            .params
            .iter()
            .map(|(name, ty, d)| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}, "description": d}))
            .collect();
        if e.path.contains("{id}") {
            params.push(json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}));
        }
        if e.responses == ANSWER || e.path.ends_with("/trail") {
            params.extend(WHEN.iter().map(|(name, ty, d)| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}, "description": d})));
        }
        let responses: serde_json::Map<String, Value> = e
            .responses
            .iter()
            .map(|(code, d)| {
                let content = if *code >= 400 {
                    json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}})
                } else if e.responses == ANSWER || e.path.ends_with("/trail") {
                    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Figures"}}})
                } else {
                    json!({"application/json": {}})
                };
                (code.to_string(), json!({"description": d, "content": content}))
            })
            .collect();
        let mut op = json!({"summary": e.summary, "parameters": params, "responses": responses});
        if let Some(body) = e.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        if !e.public {
            op["security"] = json!([{"bearer": []}]);
        }
        paths.entry(e.path.to_string()).or_insert_with(|| json!({}))[e.method] = op;
    }
    let (envelope, mut defs) = envelope_components();
    let (problem, problem_defs) = components(schemars::schema_for!(super::problem::Problem).to_value());
    defs.extend(problem_defs);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "anquan", "version": env!("CARGO_PKG_VERSION"), "description": "Safety incidents, hazards and statistics: commands in, figures out."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "CommandEnvelope": envelope,
                "CommandBatch": {"type": "array", "items": {"$ref": "#/components/schemas/CommandEnvelope"}},
                "Problem": problem,
                "Figures": {
                    "type": "object",
                    "required": ["basis", "query", "result"],
                    "properties": {
                        "basis": {"type": "object", "required": ["anquan", "position", "head_hash", "on"], "properties": {
                            "anquan": {"type": "string"}, "position": {"type": "integer"}, "head_hash": {"type": "string"},
                            "as_of": {"type": ["string", "null"]}, "on": {"type": "string", "format": "date"}}},
                        "query": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
                        "result": {"type": "object"}
                    }
                }
            }
        }
    });
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (name, schema) in defs {
            schemas.entry(name).or_insert(schema);
        }
    }
    doc
}
