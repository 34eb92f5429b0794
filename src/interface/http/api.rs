//! The endpoints of `/v1`, `/metrics` and `/healthz`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query as Params, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::auth::{Access, Caller};
use super::metrics::Outcome;
use super::problem::{self, Item, Problem};
use super::service::Service;
use crate::domain::{parse_command_json, CommandEnvelope};
use crate::engine::EngineError;
use crate::interface::query::{
    self, BreakingRule, Figures, HazardsQuery, IncidentsQuery, KpisQuery, Moment, ProjectsQuery, Query, StatsBy,
    StatsQuery, StreaksQuery, TrailQuery,
};
use crate::interface::transfer::ExportedEvent;
use crate::store::{Direction, Timestamp};

type Svc = State<Arc<Service>>;

/// Every endpoint's method, path and handler. The OpenAPI document ([`super::openapi`])
/// describes the same list, and says which endpoints are public (a test checks both agree).
fn handlers() -> Vec<(&'static str, &'static str, MethodRouter<Arc<Service>>)> {
    vec![
        ("post", "/v1/commands", post(command)),
        ("post", "/v1/commands/batch", post(batch)),
        ("get", "/v1/stats", get(stats)),
        ("get", "/v1/kpis", get(kpis)),
        ("get", "/v1/hazards", get(hazards)),
        ("get", "/v1/incidents", get(incidents)),
        ("get", "/v1/incidents/{id}/trail", get(trail)),
        ("get", "/v1/streaks", get(streaks)),
        ("get", "/v1/projects", get(projects)),
        ("get", "/v1/streams/{id}", get(stream)),
        ("get", "/v1/head", get(head)),
        ("get", "/v1/codes", get(codes)),
        ("get", "/v1/events", get(events)),
        ("get", "/v1/events/live", get(live_events)),
        ("get", "/metrics", get(metrics)),
        ("get", "/healthz", get(healthz)),
        ("get", "/openapi.json", get(openapi)),
    ]
}

pub(super) fn routes(service: Arc<Service>) -> Router {
    let (mut protected, mut public) = (Router::new(), Router::new());
    for (_, path, handler) in handlers() {
        // An endpoint the document does not call public needs a token.
        if super::openapi::is_public(path) {
            public = public.route(path, handler);
        } else {
            protected = protected.route(path, handler);
        }
    }
    protected
        .layer(middleware::from_fn_with_state(service.clone(), authenticate))
        .merge(public)
        // The body extractors' limit (axum's default is 2 MB), answered as a problem (`body`).
        .layer(axum::extract::DefaultBodyLimit::max(service.options.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            service.options.request_timeout,
        ))
        .with_state(service)
}

async fn authenticate(State(svc): Svc, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::to_string)
        // The browser's EventSource cannot set headers: the live stream may carry it in the query.
        .or_else(|| {
            (req.uri().path() == "/v1/events/live")
                .then(|| {
                    req.uri()
                        .query()
                        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")))
                        .map(str::to_string)
                })
                .flatten()
        });
    let caller = match token {
        Some(t) => svc.tokens.caller(&t),
        None => None,
    };
    match caller {
        Some(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        None => {
            if req.uri().path().starts_with("/v1/commands") {
                svc.metrics.command(Outcome::Unauthorized, std::time::Duration::ZERO, 0);
            }
            let mut p = Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a bearer token is needed (Authorization: Bearer aq_…; `anquan token` makes one)",
            );
            p.pointer = Some("/headers/authorization".into());
            let mut r = p.into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("a static header value"));
            // The body of a refused request is never read, so the connection closes after this
            // answer; saying so keeps a client from sending its next request into a closed socket.
            r.headers_mut().insert(header::CONNECTION, "close".parse().expect("a static header value"));
            r
        }
    }
}

/// A request's body as read, or why it could not be: over the limit (413), cut off or too slow
/// (400 or 408, as axum tells).
fn body(read: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, Box<Problem>> {
    read.map_err(|e| {
        let status = e.status();
        Box::new(if status == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(status, "too_long", format!("a request body takes at most {limit} bytes"))
        } else {
            Problem::new(status, "unreadable_body", e.body_text())
        })
    })
}

/// A command's body: JSON, nothing else.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Value, Box<Problem>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) {
        return Err(Box::new(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the command as application/json, not {ct:?}"),
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| Box::new(Problem::new(StatusCode::BAD_REQUEST, "not_json", format!("the body is not JSON: {e}"))))
}

/// The caller may write, and the command is its own.
fn writer(caller: &Caller, env: &CommandEnvelope, prefix: &str) -> Result<(), Box<Problem>> {
    if caller.access == Access::Read {
        return Err(Box::new(Problem::refusals(
            StatusCode::FORBIDDEN,
            vec![Item {
                pointer: format!("{prefix}/actor"),
                rule: "read_only_token".into(),
                detail: format!("the token of {} may read, not write", caller.actor),
            }],
        )));
    }
    if env.actor != caller.actor {
        return Err(Box::new(Problem::refusals(
            StatusCode::FORBIDDEN,
            vec![Item {
                pointer: format!("{prefix}/actor"),
                rule: "actor_mismatch".into(),
                detail: format!("the token speaks for {}, the command names {}", caller.actor, env.actor),
            }],
        )));
    }
    Ok(())
}

#[derive(Serialize)]
struct Committed {
    stream: String,
    positions: Vec<u64>,
    already_committed: bool,
}

async fn command(
    State(svc): Svc,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    read: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let done = |outcome: Outcome, events: usize, r: Response| {
        svc.metrics.command(outcome, started.elapsed(), events);
        r
    };
    let body = match body(read, svc.options.max_body_bytes) {
        Ok(b) => b,
        Err(p) => return done(Outcome::Invalid, 0, p.into_response()),
    };
    if body.len() > crate::engine::MAX_COMMAND_JSON_BYTES {
        let p = Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_long",
            format!("a command takes at most {} bytes", crate::engine::MAX_COMMAND_JSON_BYTES),
        );
        return done(Outcome::Invalid, 0, p.into_response());
    }
    let value = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(p) => return done(Outcome::Invalid, 0, p.into_response()),
    };
    let env = match parse_command_json(&value.to_string()) {
        Ok(env) => env,
        Err(rs) => {
            let p = Problem::refusals(
                StatusCode::UNPROCESSABLE_ENTITY,
                rs.into_iter().map(|r| problem::item("", r)).collect(),
            );
            return done(Outcome::Invalid, 0, p.into_response());
        }
    };
    if let Err(p) = writer(&caller, &env, "") {
        return done(Outcome::Denied, 0, p.into_response());
    }
    let engine = svc.engine.clone();
    let result = tokio::task::spawn_blocking(move || engine.execute(&env)).await;
    match result {
        Ok(Ok(out)) => {
            let (status, outcome) = if out.already_committed {
                (StatusCode::OK, Outcome::AlreadyCommitted)
            } else {
                (StatusCode::CREATED, Outcome::Committed)
            };
            let n = if out.already_committed { 0 } else { out.positions.len() };
            let body =
                Committed { stream: out.stream, positions: out.positions, already_committed: out.already_committed };
            done(outcome, n, (status, Json(body)).into_response())
        }
        Ok(Err(e)) => {
            let outcome = match &e {
                EngineError::Denied(_) => Outcome::Denied,
                EngineError::Rejected(_) | EngineError::Invalid(_) => Outcome::Refused,
                EngineError::Contended { .. } => Outcome::Conflict,
                _ => Outcome::Failed,
            };
            done(outcome, 0, problem::of_engine("", e).into_response())
        }
        Err(e) => done(
            Outcome::Failed,
            0,
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
        ),
    }
}

#[derive(Serialize)]
struct BatchCommitted {
    commands: usize,
    already_committed: usize,
    positions: Vec<u64>,
}

/// A batch's refusals are 403 when every one is about who may send it (as a single command's
/// would be), else 422.
fn batch_status(refused: &[Item]) -> StatusCode {
    const WHO: [&str; 4] = ["not_permitted", "out_of_scope", "read_only_token", "actor_mismatch"];
    if refused.iter().all(|i| WHO.contains(&i.rule.as_str())) {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// All or nothing: every refusal listed by the command's index, nothing written unless all pass.
async fn batch(
    State(svc): Svc,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    read: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match body(read, svc.options.max_body_bytes) {
        Ok(b) => b,
        Err(p) => {
            svc.metrics.command(Outcome::Invalid, started.elapsed(), 0);
            return p.into_response();
        }
    };
    let value = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(p) => {
            svc.metrics.command(Outcome::Invalid, started.elapsed(), 0);
            return p.into_response();
        }
    };
    let Some(items) = value.as_array() else {
        return Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "schema", "a batch is a JSON array of commands")
            .into_response();
    };
    let mut envelopes = Vec::with_capacity(items.len());
    let mut refused = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("/{i}");
        match parse_command_json(&item.to_string()) {
            Ok(env) => match writer(&caller, &env, &prefix) {
                Ok(()) => envelopes.push(env),
                Err(p) => refused.extend(p.errors),
            },
            Err(rs) => refused.extend(rs.into_iter().map(|r| problem::item(&prefix, r))),
        }
    }
    if !refused.is_empty() {
        svc.metrics.command(Outcome::Invalid, started.elapsed(), 0);
        return Problem::refusals(batch_status(&refused), refused).into_response();
    }
    let engine = svc.engine.clone();
    let result = tokio::task::spawn_blocking(move || {
        // Every line decided first, so every refusal is listed; then one atomic commit.
        let checks = engine.check_commands(&envelopes)?;
        let mut refused = Vec::new();
        for (i, c) in checks.into_iter().enumerate() {
            if let Err(e) = c {
                refused.extend(problem::of_engine(&format!("/{i}"), e).errors);
            }
        }
        if !refused.is_empty() {
            return Ok(Err(refused));
        }
        Ok::<_, EngineError>(Ok(engine.execute_all_or_nothing(&envelopes)))
    })
    .await;
    match result {
        Ok(Ok(Ok(Ok(out)))) => {
            let n = out.positions.len();
            svc.metrics.command(Outcome::Committed, started.elapsed(), n);
            let status = if n > 0 { StatusCode::CREATED } else { StatusCode::OK };
            let body =
                BatchCommitted { commands: out.commands, already_committed: out.skipped, positions: out.positions };
            (status, Json(body)).into_response()
        }
        Ok(Ok(Ok(Err(batch)))) => {
            svc.metrics.command(Outcome::Refused, started.elapsed(), 0);
            problem::of_engine(&format!("/{}", batch.index), batch.error).into_response()
        }
        Ok(Ok(Err(refused))) => {
            svc.metrics.command(Outcome::Refused, started.elapsed(), 0);
            Problem::refusals(batch_status(&refused), refused).into_response()
        }
        Ok(Err(e)) => problem::of_engine("", e).into_response(),
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

// ---- questions ---------------------------------------------------------------------------------

/// The two times of a question, as query parameters.
#[derive(Debug, Default, Deserialize)]
struct When {
    as_of: Option<String>,
    on: Option<NaiveDate>,
}

fn moment(w: &When) -> Result<Moment, Box<Problem>> {
    let as_of = match &w.as_of {
        None => None,
        Some(s) => Some(parse_instant(s).map_err(|e| {
            let mut p = Problem::new(StatusCode::BAD_REQUEST, "invalid_query", e);
            p.pointer = Some("/as_of".into());
            Box::new(p)
        })?),
    };
    Ok(Moment { as_of, on: w.on })
}

/// An RFC 3339 instant, or a date meaning the end of that CST day.
pub(super) fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is neither a date (2025-06-30) nor an RFC 3339 time"))?;
    crate::events::time::end_of_cst_day(day)
        .and_then(|t| t.checked_sub_signed(chrono::Duration::microseconds(1)))
        .ok_or_else(|| format!("{s:?} is outside the calendar"))
}

/// Answers a question: from the live projections when it is about now, else by folding the log
/// (a bounded number at a time).
async fn ask(svc: Arc<Service>, query: Query, moment: Moment) -> Response {
    svc.metrics.query();
    if moment.as_of.is_none() {
        let now = Utc::now();
        let on = moment.reference_date(now);
        let answered = svc.live.read(|v| -> Result<Figures, query::QueryError> {
            let basis = query::Basis {
                anquan: env!("CARGO_PKG_VERSION").to_string(),
                position: v.position,
                head_hash: v.head_hash.clone(),
                as_of: None,
                on,
            };
            Ok(Figures { basis, result: query::answer(&v.all, &query, on)?, query: query.clone() })
        });
        return match answered {
            Ok(f) => Json(f).into_response(),
            Err(e) => problem::of_query(e).into_response(),
        };
    }
    let Ok(_permit) = svc.heavy.acquire().await else {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the service is stopping")
            .into_response();
    };
    let s = svc.clone();
    match tokio::task::spawn_blocking(move || query::ask(s.engine.store(), &query, &moment, Utc::now())).await {
        Ok(Ok(f)) => Json(f).into_response(),
        Ok(Err(e)) => problem::of_query(e).into_response(),
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct StatsParams {
    year: Option<i32>,
    compare: Option<i32>,
    community: Option<String>,
    category: Option<String>,
    #[serde(default)]
    by: StatsBy,
    year_to_date: Option<bool>,
    #[serde(flatten)]
    when: When,
}

async fn stats(State(svc): Svc, Params(p): Params<StatsParams>) -> Response {
    let m = match moment(&p.when) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let q = StatsQuery {
        year: p.year,
        compare: p.compare,
        community: p.community,
        category: p.category,
        by: p.by,
        year_to_date: p.year_to_date,
    };
    ask(svc, Query::Stats(q), m).await
}

#[derive(Deserialize)]
struct KpisParams {
    year: Option<i32>,
    community: Option<String>,
    ltifr_base: Option<u64>,
    #[serde(flatten)]
    when: When,
}

async fn kpis(State(svc): Svc, Params(p): Params<KpisParams>) -> Response {
    let m = match moment(&p.when) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let q = KpisQuery { year: p.year, community: p.community, ltifr_base: p.ltifr_base.unwrap_or(1_000_000) };
    ask(svc, Query::Kpis(q), m).await
}

#[derive(Deserialize)]
struct CommunityParams {
    community: Option<String>,
    #[serde(default)]
    open: bool,
    #[serde(flatten)]
    when: When,
}

async fn hazards(State(svc): Svc, Params(p): Params<CommunityParams>) -> Response {
    match moment(&p.when) {
        Ok(m) => ask(svc, Query::Hazards(HazardsQuery { community: p.community }), m).await,
        Err(e) => e.into_response(),
    }
}

async fn incidents(State(svc): Svc, Params(p): Params<CommunityParams>) -> Response {
    match moment(&p.when) {
        Ok(m) => ask(svc, Query::Incidents(IncidentsQuery { community: p.community, open_only: p.open }), m).await,
        Err(e) => e.into_response(),
    }
}

async fn projects(State(svc): Svc, Params(p): Params<CommunityParams>) -> Response {
    match moment(&p.when) {
        Ok(m) => ask(svc, Query::Projects(ProjectsQuery { community: p.community }), m).await,
        Err(e) => e.into_response(),
    }
}

async fn trail(State(svc): Svc, Path(id): Path<String>, Params(w): Params<When>) -> Response {
    match moment(&w) {
        Ok(m) => ask(svc, Query::Trail(TrailQuery { incident: id }), m).await,
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct StreaksParams {
    community: Option<String>,
    category: Option<String>,
    rule: Option<BreakingRule>,
    years: Option<u32>,
    #[serde(flatten)]
    when: When,
}

async fn streaks(State(svc): Svc, Params(p): Params<StreaksParams>) -> Response {
    let m = match moment(&p.when) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let q = StreaksQuery {
        community: p.community,
        category: p.category,
        rule: p.rule.unwrap_or_default(),
        years: p.years.unwrap_or(3),
    };
    ask(svc, Query::Streaks(q), m).await
}

/// A community's id and name.
#[derive(Serialize)]
struct CommunityName {
    community_id: String,
    name: String,
}

/// The codes questions take: the catalog's categories (with whether they are graded) and the
/// store's communities.
#[derive(Serialize)]
struct Codes {
    categories: Vec<crate::events::catalog::Category>,
    communities: Vec<CommunityName>,
}

async fn codes(State(svc): Svc) -> Response {
    let categories = match crate::events::Catalog::builtin() {
        Ok(c) => c.categories,
        Err(e) => return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    };
    let communities = svc.live.read(|v| {
        v.all
            .accident_stats
            .communities()
            .map(|c| CommunityName { community_id: c.community_id.clone(), name: c.name.clone() })
            .collect()
    });
    Json(Codes { categories, communities }).into_response()
}

// ---- the log -----------------------------------------------------------------------------------

#[derive(Serialize)]
struct HeadAnswer {
    events: u64,
    head_hash: String,
    last_recorded_at: Option<DateTime<Utc>>,
}

async fn head(State(svc): Svc) -> Response {
    let h = svc.engine.store().head();
    Json(HeadAnswer {
        events: h.next_position,
        head_hash: h.hash_hex(),
        last_recorded_at: h.last_recorded_at.to_chrono(),
    })
    .into_response()
}

#[derive(Deserialize)]
struct StreamParams {
    as_of: Option<String>,
}

async fn stream(State(svc): Svc, Path(id): Path<String>, Params(p): Params<StreamParams>) -> Response {
    let cut = match p.as_of.as_deref().map(parse_instant).transpose() {
        Ok(c) => c.map(Timestamp::from_chrono),
        Err(e) => return Problem::new(StatusCode::BAD_REQUEST, "invalid_query", e).into_response(),
    };
    let s = svc.clone();
    let read =
        tokio::task::spawn_blocking(move || s.engine.store().read_stream(&id, 0, Direction::Forward, usize::MAX)).await;
    match read {
        Ok(Ok(events)) if events.is_empty() => {
            Problem::new(StatusCode::NOT_FOUND, "not_found", "the stream has no events").into_response()
        }
        Ok(Ok(events)) => {
            let shown: Vec<ExportedEvent> = events
                .iter()
                .filter(|e| cut.is_none_or(|c| e.recorded_at <= c))
                .map(|e| ExportedEvent::of(e, None))
                .collect();
            Json(shown).into_response()
        }
        Ok(Err(e)) => Problem::new(StatusCode::BAD_REQUEST, "invalid_stream", e.to_string()).into_response(),
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct PageParams {
    #[serde(default)]
    from: u64,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Page {
    events: Vec<ExportedEvent>,
    /// The position to ask from next.
    next: u64,
    head: u64,
}

async fn events(State(svc): Svc, Params(p): Params<PageParams>) -> Response {
    let limit = p.limit.unwrap_or(1000).clamp(1, 10_000);
    let s = svc.clone();
    let read = tokio::task::spawn_blocking(move || s.engine.store().read_all(p.from, Direction::Forward, limit)).await;
    match read {
        Ok(Ok(page)) => {
            let next = page.last().map(|e| e.position + 1).unwrap_or(p.from);
            let head = svc.engine.store().head().next_position;
            Json(Page { events: page.iter().map(|e| ExportedEvent::of(e, None)).collect(), next, head }).into_response()
        }
        Ok(Err(e)) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()).into_response(),
        Err(e) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct LiveParams {
    from: Option<u64>,
}

/// Server-sent events from a position: each event's id is its position, so a client that
/// reconnects with `Last-Event-ID: n` resumes at `n + 1`, nothing lost or repeated. Events are
/// read from the store in order, after the live projections announce that they exist.
async fn live_events(State(svc): Svc, headers: HeaderMap, Params(p): Params<LiveParams>) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|last| last + 1);
    let mut next = resume.or(p.from).unwrap_or_else(|| svc.engine.store().head().next_position);
    let mut positions = svc.live.positions.clone();
    let stream = async_stream(move |tx| async move {
        loop {
            let s = svc.clone();
            let from = next;
            let page =
                tokio::task::spawn_blocking(move || s.engine.store().read_all(from, Direction::Forward, 512)).await;
            let Ok(Ok(page)) = page else { return };
            if page.is_empty() {
                if positions.changed().await.is_err() {
                    return;
                }
                continue;
            }
            for e in &page {
                let data = serde_json::to_string(&ExportedEvent::of(e, None)).unwrap_or_default();
                let event = Event::default().id(e.position.to_string()).event(&*e.event_type).data(data);
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
                next = e.position + 1;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// A stream fed by a task through a small channel (the task ends when the client goes).
fn async_stream<F, Fut>(f: F) -> tokio_stream::wrappers::ReceiverStream<Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

// ---- health --------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Health {
    status: &'static str,
    events: u64,
    projections_at: u64,
    detail: Option<String>,
    /// Cluster mode only: this node and the node whose writer commits (holds the lease).
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterHealth>,
}

#[derive(Serialize)]
struct ClusterHealth {
    node: String,
    leader: Option<String>,
}

#[cfg(feature = "cluster")]
fn cluster_health(store: &crate::store::EventStore) -> Option<ClusterHealth> {
    store.cluster_node().map(|node| ClusterHealth { node, leader: store.cluster_leader() })
}

#[cfg(not(feature = "cluster"))]
fn cluster_health(_: &crate::store::EventStore) -> Option<ClusterHealth> {
    None
}

async fn healthz(State(svc): Svc) -> Response {
    let store = svc.engine.store();
    let (status, detail, code) = if let Some(cause) = store.poisoned() {
        ("poisoned", Some(cause), StatusCode::SERVICE_UNAVAILABLE)
    } else if let Some(fault) = svc.live.fault() {
        ("degraded", Some(format!("live projections stopped: {fault}")), StatusCode::OK)
    } else if let Some(why) = store.degraded() {
        ("degraded", Some(why), StatusCode::OK)
    } else {
        ("ready", None, StatusCode::OK)
    };
    let body = Health {
        status,
        events: store.head().next_position,
        projections_at: svc.live.position(),
        detail,
        cluster: cluster_health(store),
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(svc): Svc) -> Response {
    let text = svc.metrics.render(svc.engine.store().head().next_position, svc.live.position());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Response {
    Json(super::openapi::document()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let mut routed: Vec<(String, String)> =
            super::handlers().into_iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        let mut documented = super::super::openapi::operations();
        routed.sort();
        documented.sort();
        assert_eq!(routed, documented);
    }
}
