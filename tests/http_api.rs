//! The HTTP API against a real service on a loopback port over a real store that enforces roles:
//! every endpoint, every status a command can get, tokens and roles, the live event stream
//! across a reconnect, and the figures equal to the library's.

mod http_common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use anquan::interface::query::{self, HazardsQuery, IncidentsQuery, KpisQuery, Moment, Query, StatsQuery, TrailQuery};
use anquan::store::Direction;
use http_common::{envelope, hazard_report, incident_report, post_bytes, raw, Client, Served};
use serde_json::{json, Value};

/// Every read endpoint, with a representative query.
const READS: [&str; 13] = [
    "/v1/stats",
    "/v1/kpis",
    "/v1/hazards",
    "/v1/incidents",
    "/v1/incidents/I-1/trail",
    "/v1/streaks",
    "/v1/projects",
    "/v1/streams/hazard-H-1",
    "/v1/head",
    "/v1/codes",
    "/v1/events?from=0",
    "/v1/events/live?from=0",
    "/metrics",
];

/// Waits until the live projections have folded the whole log.
fn caught_up(s: &Served) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.service.live.position() < s.head() {
        assert!(Instant::now() < deadline, "the live projections never caught up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The events of the log, as the store has them: (position, stream).
fn log(s: &Served) -> Vec<(u64, String)> {
    let all = s.service.engine.store().read_all(0, Direction::Forward, usize::MAX).unwrap();
    all.iter().map(|e| (e.position, e.stream.to_string())).collect()
}

fn positions(v: &Value) -> Vec<u64> {
    v["positions"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect()
}

#[test]
fn a_command_is_committed_once_201_then_200_already_committed() {
    let s = Served::start();
    let c = s.client();
    let cmd = envelope("grid-7", hazard_report("H-1", "jd-01"));
    let before = s.head();
    let first = c.command(&s.tokens.grid, &cmd);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.content_type, "application/json");
    let body = first.json();
    assert_eq!(body["already_committed"], false);
    let stream = body["stream"].as_str().unwrap().to_string();
    let at = positions(&body);
    assert!(!at.is_empty());
    assert_eq!(s.head(), before + at.len() as u64);
    // The answer's positions are where the log holds the command's events, on its stream.
    let log = log(&s);
    for p in &at {
        assert_eq!(log[*p as usize], (*p, stream.clone()));
    }

    let again = c.command(&s.tokens.grid, &cmd);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["already_committed"], true);
    assert_eq!(positions(&again.json()), at);
    assert_eq!(s.head(), before + at.len() as u64, "the same command again writes nothing");
}

#[test]
fn refusals_are_problems_with_the_pointer_and_the_rule() {
    let s = Served::start();
    let c = s.client();
    assert_eq!(c.command(&s.tokens.grid, &envelope("grid-7", hazard_report("H-1", "jd-01"))).status, 201);
    let head = s.head();

    // A domain rule: the hazard exists already.
    let r = c.command(&s.tokens.grid, &envelope("grid-7", hazard_report("H-1", "jd-01")));
    assert_eq!(r.status, 422, "{}", r.body);
    let p = r.problem();
    assert!(p["rule"].as_str().is_some_and(|r| !r.is_empty()), "{p}");
    assert_eq!(p["errors"][0]["rule"], p["rule"]);
    assert!(p["pointer"].as_str().unwrap().starts_with('/'), "{p}");

    // The schema: a field of the wrong type, with the pointer to it.
    let mut bad = hazard_report("H-2", "jd-01");
    bad["found_at"] = json!("yesterday");
    let r = c.command(&s.tokens.grid, &envelope("grid-7", bad));
    assert_eq!(r.status, 422, "{}", r.body);
    let p = r.problem();
    assert!(p["errors"].as_array().unwrap().iter().any(|e| e["pointer"].as_str().unwrap().contains("found_at")), "{p}");

    // The same command id reused for a different command.
    let first = envelope("grid-7", hazard_report("H-3", "jd-01"));
    assert_eq!(c.command(&s.tokens.grid, &first).status, 201);
    let head_after = s.head();
    let mut reused = first.clone();
    reused["command"]["location"] = json!("5号楼");
    let r = c.command(&s.tokens.grid, &reused);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.problem()["pointer"], "/command_id");
    assert_eq!(s.head(), head_after);
    assert!(head < head_after);
}

#[test]
fn a_command_not_allowed_is_403_and_writes_nothing() {
    let s = Served::start();
    let c = s.client();
    let head = s.head();
    let cases: [(&str, Value, &str); 5] = [
        // Outside the inspector's community.
        (&s.tokens.grid, envelope("grid-7", hazard_report("H-1", "jd-02")), "out_of_scope"),
        // Grading is the bureau's.
        (
            &s.tokens.grid,
            envelope(
                "grid-7",
                json!({"type": "hazard.grade", "hazard_id": "H-1", "grade": "general", "criterion": "SAWS-16",
                       "criterion_version": "2008", "basis": null}),
            ),
            "not_permitted",
        ),
        // A body naming another actor than the token's.
        (&s.tokens.grid, envelope("bureau-1", hazard_report("H-1", "jd-01")), "actor_mismatch"),
        // A read-only token, whatever its actor's roles.
        (&s.tokens.viewer, envelope("bureau-1", hazard_report("H-1", "jd-01")), "read_only_token"),
        // An auditor reads only, whatever its token.
        (&s.tokens.auditor, envelope("auditor-1", hazard_report("H-1", "jd-01")), "not_permitted"),
    ];
    for (token, cmd, rule) in cases {
        let r = c.command(token, &cmd);
        assert_eq!(r.status, 403, "{rule}: {}", r.body);
        let p = r.problem();
        assert_eq!(p["rule"], rule, "{p}");
        assert_eq!(p["pointer"], "/actor", "{p}");
    }
    assert_eq!(s.head(), head, "nothing written");
    // The same through a batch: 403 when every refusal is about who sends it.
    let viewer_batch = json!([envelope("bureau-1", hazard_report("H-1", "jd-01"))]);
    let r = c.post("/v1/commands/batch", &s.tokens.viewer, &viewer_batch);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.problem()["errors"][0]["pointer"], "/0/actor");
    let mixed =
        json!([envelope("grid-7", hazard_report("H-1", "jd-02")), envelope("bureau-1", hazard_report("H-2", "jd-01"))]);
    let r = c.post("/v1/commands/batch", &s.tokens.grid, &mixed);
    assert_eq!(r.status, 403, "{}", r.body);
    let p = r.problem();
    assert_eq!((&p["pointer"], &p["rule"]), (&json!("/1/actor"), &json!("actor_mismatch")), "{p}");
    assert_eq!(s.head(), head);
}

#[test]
fn every_endpoint_but_healthz_needs_a_known_token() {
    let s = Served::start();
    let c = s.client();
    for path in READS {
        for token in [None, Some("aq_0123"), Some("")] {
            let r = c.get(path, token);
            assert_eq!(r.status, 401, "{path} with {token:?}: {}", r.body);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{path}");
            assert_eq!(r.problem()["rule"], "unauthorized");
        }
    }
    let head = s.head();
    let cmd = envelope("grid-7", hazard_report("H-1", "jd-01"));
    for path in ["/v1/commands", "/v1/commands/batch"] {
        let r = c.post_raw(path, None, Some("application/json"), cmd.to_string().as_bytes());
        assert_eq!(r.status, 401, "{path}");
        let r = c.post_raw(path, Some("aq_wrong"), Some("application/json"), cmd.to_string().as_bytes());
        assert_eq!(r.status, 401, "{path}");
    }
    assert_eq!(s.head(), head);
    let h = c.get("/healthz", None);
    assert_eq!(h.status, 200, "{}", h.body);
    assert_eq!(h.json()["status"], "ready");
    // A token in the query is taken by the live stream only (a browser's EventSource cannot set
    // headers), never by the other endpoints.
    let viewer = &s.tokens.viewer;
    assert_eq!(c.get(&format!("/v1/head?token={viewer}"), None).status, 401);
    assert_eq!(c.get(&format!("/v1/events?from=0&token={viewer}"), None).status, 401);
    let (status, _) = http_common::raw(
        s.addr,
        format!("GET /v1/events/live?from=0&token={viewer} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        Duration::from_millis(500),
    );
    assert_eq!(status, 200);
}

#[test]
fn auditors_and_viewers_read_everything() {
    let s = Served::start();
    let c = s.client();
    assert_eq!(c.command(&s.tokens.grid, &envelope("grid-7", hazard_report("H-1", "jd-01"))).status, 201);
    assert_eq!(c.command(&s.tokens.grid, &envelope("grid-7", incident_report("I-1", "jd-01"))).status, 201);
    caught_up(&s);
    for token in [&s.tokens.auditor, &s.tokens.viewer, &s.tokens.grid] {
        for path in READS.iter().filter(|p| !p.contains("/live")) {
            let r = c.get(path, Some(token));
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
    }
}

#[test]
fn bodies_that_are_not_commands_get_their_status() {
    let s = Served::start();
    let c = s.client();
    let t = &s.tokens.grid;
    let head = s.head();
    let cmd = envelope("grid-7", hazard_report("H-1", "jd-01")).to_string();

    for path in ["/v1/commands", "/v1/commands/batch"] {
        // Not JSON by its content type: 415.
        for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
            let r = c.post_raw(path, Some(t), ct, cmd.as_bytes());
            assert_eq!(r.status, 415, "{path} {ct:?}: {}", r.body);
            assert_eq!(r.problem()["rule"], "unsupported_media_type");
        }
        // Said to be JSON, is not: 400.
        for body in ["{\"command_id\":", "", "\u{feff}{}", "[1,2"] {
            let r = c.post_raw(path, Some(t), Some("application/json; charset=utf-8"), body.as_bytes());
            assert_eq!(r.status, 400, "{path} {body:?}: {}", r.body);
            assert_eq!(r.problem()["rule"], "not_json");
        }
    }
    // Over a command's size limit (1 MiB): 413.
    let mut big = hazard_report("H-1", "jd-01");
    big["description"] = json!("x".repeat(anquan::engine::MAX_COMMAND_JSON_BYTES));
    let r = c.command(t, &envelope("grid-7", big));
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.problem()["rule"], "too_long");
    // Over the service's body limit (either endpoint): 413, a problem too.
    // (Raw: the server answers before the body is sent and closes, which cuts a plain client's
    // write short.)
    let huge = vec![b' '; s.service.options.max_body_bytes + 1];
    let auth = format!("Bearer {t}");
    for path in ["/v1/commands", "/v1/commands/batch"] {
        let request = post_bytes(path, &[("Authorization", &auth), ("Content-Type", "application/json")], &huge);
        let (status, text) = raw(s.addr, &request, Duration::from_secs(20));
        assert_eq!(status, 413, "{path}: {text}");
        assert!(text.to_ascii_lowercase().contains("content-type: application/problem+json"), "{text}");
    }
    // A batch under the service's limit but larger than a command is read in full (here: refused
    // line by line, not for its size).
    let lines: Vec<Value> = (0..3000).map(|i| json!({"not": "a command", "pad": "y".repeat(1000), "i": i})).collect();
    let batch = serde_json::to_vec(&lines).unwrap();
    assert!(batch.len() > 2 * 1024 * 1024 && batch.len() < s.service.options.max_body_bytes);
    let r = c.post_raw("/v1/commands/batch", Some(t), Some("application/json"), &batch);
    assert_eq!(r.status, 422, "{}", &r.body[..r.body.len().min(300)]);
    let lines: std::collections::BTreeSet<u64> = r.problem()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().split('/').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, (0..3000).collect(), "every line refused");
    // A batch that is not an array.
    let r = c.post("/v1/commands/batch", t, &json!({"commands": []}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(s.head(), head, "nothing written");
}

#[test]
fn a_batch_is_all_or_nothing_with_refusals_per_line() {
    let s = Served::start();
    let c = s.client();
    let head = s.head();
    let good = [
        envelope("grid-7", hazard_report("H-1", "jd-01")),
        envelope("grid-7", hazard_report("H-2", "jd-01")),
        envelope("grid-7", incident_report("I-1", "jd-01")),
    ];
    let mut lines: Vec<Value> = good.to_vec();
    // Line 3 outside the inspector's scope, line 4 refused by a rule (H-1 twice in one batch),
    // line 5 by the schema.
    lines.push(envelope("grid-7", hazard_report("H-3", "jd-02")));
    lines.push(envelope("grid-7", hazard_report("H-1", "jd-01")));
    let mut bad = hazard_report("H-4", "jd-01");
    bad["source"] = json!("rumour");
    lines.push(envelope("grid-7", bad));
    let r = c.post("/v1/commands/batch", &s.tokens.grid, &Value::Array(lines));
    assert_eq!(r.status, 422, "{}", r.body);
    let p = r.problem();
    let pointers: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert!(pointers.iter().any(|p| p.starts_with("/5/")), "the schema refusal of line 5: {p}");
    assert_eq!(s.head(), head, "nothing written");

    // Valid lines, one of them not allowed: every denied line listed, nothing written.
    let mut lines: Vec<Value> = good.to_vec();
    lines.push(envelope("grid-7", hazard_report("H-3", "jd-02")));
    lines.push(envelope("grid-7", hazard_report("H-1", "jd-01")));
    let r = c.post("/v1/commands/batch", &s.tokens.grid, &Value::Array(lines));
    assert!(r.status == 403 || r.status == 422, "{}", r.body);
    let p = r.problem();
    let listed: Vec<(&str, &str)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["rule"].as_str().unwrap()))
        .collect();
    assert!(listed.contains(&("/3/actor", "out_of_scope")), "{p}");
    assert!(listed.iter().any(|(ptr, _)| ptr.starts_with("/4/")), "line 4 repeats H-1: {p}");
    assert!(listed.iter().all(|(ptr, _)| ptr.starts_with("/3/") || ptr.starts_with("/4/")), "{p}");
    assert_eq!(s.head(), head, "nothing written");

    // All good: one commit, every event's position given.
    let r = c.post("/v1/commands/batch", &s.tokens.grid, &Value::Array(good.to_vec()));
    assert_eq!(r.status, 201, "{}", r.body);
    let b = r.json();
    assert_eq!(b["commands"], 3);
    assert_eq!(b["already_committed"], 0);
    let at = positions(&b);
    assert_eq!(at, (head..s.head()).collect::<Vec<_>>());
    // The same batch again: all already committed, nothing written.
    let r = c.post("/v1/commands/batch", &s.tokens.grid, &Value::Array(good.to_vec()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["already_committed"], 3);
    assert_eq!(s.head(), head + at.len() as u64);
}

#[test]
fn questions_answer_what_the_library_answers() {
    let s = Served::start();
    let c = s.client();
    for (i, community) in ["jd-01", "jd-01", "jd-01"].iter().enumerate() {
        let r = c.command(&s.tokens.grid, &envelope("grid-7", hazard_report(&format!("H-{i}"), community)));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(c.command(&s.tokens.grid, &envelope("grid-7", incident_report("I-1", "jd-01"))).status, 201);
    caught_up(&s);
    let on = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
    let cases: Vec<(String, Query)> = vec![
        (
            "/v1/stats?by=month&on=2026-11-30".into(),
            Query::Stats(StatsQuery { by: query::StatsBy::Month, ..Default::default() }),
        ),
        (
            "/v1/kpis?year=2026&on=2026-11-30".into(),
            Query::Kpis(KpisQuery { year: Some(2026), community: None, ltifr_base: 1_000_000 }),
        ),
        ("/v1/hazards?on=2026-11-30".into(), Query::Hazards(HazardsQuery { community: None })),
        (
            "/v1/incidents?open=true&on=2026-11-30".into(),
            Query::Incidents(IncidentsQuery { community: None, open_only: true }),
        ),
        ("/v1/incidents/I-1/trail?on=2026-11-30".into(), Query::Trail(TrailQuery { incident: "I-1".into() })),
    ];
    let now = chrono::Utc::now();
    for (path, q) in cases {
        let r = c.get(&path, Some(&s.tokens.viewer));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let expected = query::ask(s.service.engine.store(), &q, &Moment { as_of: None, on }, now).unwrap();
        assert_eq!(r.json(), serde_json::to_value(&expected).unwrap(), "{path}");
        // The same question about an earlier moment folds the log: before anything was reported.
        let past = format!("{path}&as_of=2026-01-01T00:00:00Z");
        let r = c.get(&past, Some(&s.tokens.viewer));
        if path.contains("/trail") {
            assert_eq!(r.status, 404, "no incident then: {}", r.body);
            continue;
        }
        assert_eq!(r.status, 200, "{past}: {}", r.body);
        assert_eq!(r.json()["basis"]["position"], 0, "{past}");
    }
    // The path of a question is the one the library makes (the CLI's --server uses it).
    let q = Query::Hazards(HazardsQuery { community: Some("jd-01".into()) });
    let path = anquan::interface::http::paths::path_of(&q, &Moment { as_of: None, on });
    let r = c.get(&path, Some(&s.tokens.viewer));
    let expected = query::ask(s.service.engine.store(), &q, &Moment { as_of: None, on }, now).unwrap();
    assert_eq!(r.json(), serde_json::to_value(&expected).unwrap());
    // Malformed and unknown parameters.
    assert_eq!(c.get("/v1/stats?as_of=yesterday", Some(&s.tokens.viewer)).problem()["status"], 400);
    assert_eq!(c.get("/v1/stats?year=two", Some(&s.tokens.viewer)).status, 400);
    assert_eq!(c.get("/v1/stats?category=nonesuch", Some(&s.tokens.viewer)).problem()["status"], 404);
}

#[test]
fn a_stream_history_and_as_of() {
    let s = Served::start();
    let c = s.client();
    let r = c.command(&s.tokens.grid, &envelope("grid-7", hazard_report("H-1", "jd-01")));
    let stream = r.json()["stream"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(5));
    let cut = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    std::thread::sleep(Duration::from_millis(5));
    let grade = json!({"type": "hazard.grade", "hazard_id": "H-1", "grade": "general", "criterion": "SAWS-16",
                       "criterion_version": "2008", "basis": null});
    assert_eq!(c.command(&s.tokens.bureau, &envelope("bureau-1", grade)).status, 201);

    let all = c.get(&format!("/v1/streams/{stream}"), Some(&s.tokens.viewer));
    assert_eq!(all.status, 200, "{}", all.body);
    let all = all.json();
    let recorded = s.service.engine.store().read_stream(&stream, 0, Direction::Forward, usize::MAX).unwrap();
    assert_eq!(all.as_array().unwrap().len(), recorded.len());
    for (a, e) in all.as_array().unwrap().iter().zip(&recorded) {
        assert_eq!(a["position"], e.position);
        assert_eq!(a["event_type"], &*e.event_type);
    }
    let then = c.get(&format!("/v1/streams/{stream}?as_of={}", cut.replace('+', "%2B")), Some(&s.tokens.viewer)).json();
    let then: Vec<&str> = then.as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(then, ["hazard.reported"]);
    assert_eq!(c.get("/v1/streams/hazard-nonesuch", Some(&s.tokens.viewer)).problem()["status"], 404);
    assert_eq!(c.get(&format!("/v1/streams/{stream}?as_of=soon"), Some(&s.tokens.viewer)).problem()["status"], 400);
}

#[test]
fn the_head_and_pages_of_the_log() {
    let s = Served::start();
    let c = s.client();
    for i in 0..5 {
        assert_eq!(
            c.command(&s.tokens.grid, &envelope("grid-7", hazard_report(&format!("H-{i}"), "jd-01"))).status,
            201
        );
    }
    let head = c.get("/v1/head", Some(&s.tokens.viewer)).json();
    let store_head = s.service.engine.store().head();
    assert_eq!(head["events"], store_head.next_position);
    assert_eq!(head["head_hash"], store_head.hash_hex());

    let mut from = 0;
    let mut seen = Vec::new();
    loop {
        let page = c.get(&format!("/v1/events?from={from}&limit=3"), Some(&s.tokens.viewer)).json();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 3);
        if events.is_empty() {
            assert_eq!(page["next"], from);
            break;
        }
        seen.extend(events.iter().map(|e| e["position"].as_u64().unwrap()));
        from = page["next"].as_u64().unwrap();
        assert_eq!(page["head"], store_head.next_position);
    }
    assert_eq!(seen, (0..store_head.next_position).collect::<Vec<_>>());
}

/// A server-sent-events connection.
struct Sse {
    lines: BufReader<Box<dyn std::io::Read + Send>>,
}

impl Sse {
    fn open(c: &Client, token: &str, from: Option<u64>, last_event_id: Option<u64>) -> Self {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(20))).build().into();
        let path = match from {
            Some(f) => format!("/v1/events/live?from={f}"),
            None => "/v1/events/live".to_string(),
        };
        let mut r = agent.get(c.url(&path)).header("Authorization", format!("Bearer {token}"));
        if let Some(id) = last_event_id {
            r = r.header("Last-Event-ID", id.to_string());
        }
        let resp = r.call().expect("the live stream");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
        Self { lines: BufReader::new(Box::new(resp.into_body().into_reader())) }
    }

    /// The next event's id and data (keep-alive comments skipped).
    fn next(&mut self) -> (u64, Value) {
        let (mut id, mut data) = (None, String::new());
        loop {
            let mut line = String::new();
            assert!(self.lines.read_line(&mut line).unwrap() > 0, "the stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(id) = id {
                    return (id, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse().unwrap());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }
}

#[test]
fn the_live_stream_resumes_after_a_reconnect_with_nothing_lost_or_repeated() {
    let s = Served::start();
    let c = s.client();
    let start = s.head();
    let t = s.tokens.viewer.clone();
    let mut got = Vec::new();
    {
        // From the head: only what comes next.
        let mut live = Sse::open(&c, &t, None, None);
        for i in 0..3 {
            assert_eq!(
                c.command(&s.tokens.grid, &envelope("grid-7", hazard_report(&format!("H-{i}"), "jd-01"))).status,
                201
            );
        }
        while got.len() < (s.head() - start) as usize {
            let (id, data) = live.next();
            assert_eq!(data["position"], id);
            got.push(id);
        }
        // The connection drops here, and commands keep coming.
    }
    for i in 3..6 {
        assert_eq!(
            c.command(&s.tokens.grid, &envelope("grid-7", hazard_report(&format!("H-{i}"), "jd-01"))).status,
            201
        );
    }
    let mut live = Sse::open(&c, &t, Some(0), got.last().copied());
    let writer = {
        let (c, token) = (c.clone(), s.tokens.grid.clone());
        std::thread::spawn(move || {
            for i in 6..9 {
                assert_eq!(
                    c.command(&token, &envelope("grid-7", hazard_report(&format!("H-{i}"), "jd-01"))).status,
                    201
                );
            }
        })
    };
    writer.join().unwrap();
    while got.len() < (s.head() - start) as usize {
        got.push(live.next().0);
    }
    assert_eq!(got, (start..s.head()).collect::<Vec<_>>(), "Last-Event-ID wins over from; nothing lost or repeated");
    // A client from position 0 gets the whole log in order.
    let mut all = Sse::open(&c, &t, Some(0), None);
    let whole: Vec<u64> = (0..s.head()).map(|_| all.next().0).collect();
    assert_eq!(whole, (0..s.head()).collect::<Vec<_>>());
}

/// The value of a sample line of `/metrics`.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_commands_by_outcome_with_latency_and_lag() {
    let s = Served::start();
    let c = s.client();
    let g = &s.tokens.grid;
    let cmd = envelope("grid-7", hazard_report("H-1", "jd-01"));
    assert_eq!(c.command(g, &cmd).status, 201);
    assert_eq!(c.command(g, &envelope("grid-7", hazard_report("H-2", "jd-01"))).status, 201);
    assert_eq!(c.command(g, &cmd).status, 200);
    assert_eq!(c.command(g, &envelope("grid-7", hazard_report("H-1", "jd-01"))).status, 422);
    assert_eq!(c.command(g, &envelope("grid-7", hazard_report("H-9", "jd-02"))).status, 403);
    assert_eq!(c.command("aq_wrong", &cmd).status, 401);
    assert_eq!(c.post_raw("/v1/commands", Some(g), Some("text/plain"), b"x").status, 415);
    caught_up(&s);
    let m = c.get("/metrics", Some(&s.tokens.viewer));
    assert_eq!(m.status, 200);
    assert!(m.content_type.starts_with("text/plain"), "{}", m.content_type);
    let text = &m.body;
    let by = |o: &str| sample(text, &format!("anquan_commands_total{{outcome=\"{o}\"}}"));
    assert_eq!(by("committed"), 2.0);
    assert_eq!(by("already_committed"), 1.0);
    assert_eq!(by("refused"), 1.0);
    assert_eq!(by("denied"), 1.0);
    assert_eq!(by("unauthorized"), 1.0);
    assert_eq!(by("invalid"), 1.0);
    assert_eq!(sample(text, "anquan_command_seconds_count"), 7.0);
    assert_eq!(sample(text, "anquan_command_seconds_bucket{le=\"+Inf\"}"), 7.0);
    assert!(sample(text, "anquan_command_seconds_sum") > 0.0);
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("anquan_command_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(sample(text, "anquan_events_appended_total"), 2.0);
    assert_eq!(sample(text, "anquan_log_position"), s.head() as f64);
    assert_eq!(sample(text, "anquan_projection_lag_events"), 0.0);
    for family in ["anquan_commands_total", "anquan_command_seconds", "anquan_events_appended_total"] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
    }
}

#[test]
fn healthz_tells_ready_without_a_token() {
    let s = Served::start();
    let c = s.client();
    assert_eq!(c.command(&s.tokens.grid, &envelope("grid-7", hazard_report("H-1", "jd-01"))).status, 201);
    caught_up(&s);
    let h = c.get("/healthz", None);
    assert_eq!(h.status, 200);
    let h = h.json();
    assert_eq!(h["status"], "ready");
    assert_eq!(h["events"], s.head());
    assert_eq!(h["projections_at"], s.head());
}

#[test]
fn the_openapi_document_is_served_checked_in_and_names_every_route() {
    use anquan::interface::http::openapi;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(openapi::CHECKED_IN);
    let text = openapi::document_text();
    if std::env::var_os(anquan::domain::schema::UPDATE_ENV).is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &text).unwrap();
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == text,
        "{} is out of date ({}=1 cargo test --test http_api regenerates it)",
        openapi::CHECKED_IN,
        anquan::domain::schema::UPDATE_ENV
    );

    let s = Served::start();
    let c = s.client();
    let served = c.get("/openapi.json", None);
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), openapi::document());
    // Every operation exists on the router: never axum's own 404 or 405; and a token is asked
    // for exactly where the document says.
    let doc = served.json();
    for (method, path) in openapi::operations() {
        let concrete = path.replace("{id}", "x");
        let secured = doc["paths"][&path][&method].get("security").is_some();
        let ask = |token: Option<&str>| match method.as_str() {
            "get" => c.get(&concrete, token),
            _ => c.post_raw(&concrete, token, Some("application/json"), b"[]"),
        };
        let anonymous = ask(None);
        assert_eq!(anonymous.status == 401, secured, "{method} {path}: {}", anonymous.status);
        if concrete.ends_with("/live") {
            // Answered with a stream that does not end (the SSE test reads it).
            continue;
        }
        let known = ask(Some(if method == "get" { &s.tokens.viewer } else { &s.tokens.grid }));
        assert_ne!(known.status, 405, "{method} {path}");
        assert!(known.status != 404 || known.content_type == "application/problem+json", "{method} {path}");
    }
    // The command schema is the domain's, its references resolved inside the document.
    let envelope = &doc["components"]["schemas"]["CommandEnvelope"];
    assert!(envelope["properties"]["command"].is_object(), "{envelope}");
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let target = &r[..r.find('"').unwrap()];
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{target}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{target} resolves");
    }
}
