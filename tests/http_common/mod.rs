//! Helpers shared by the HTTP tests: a real service on a loopback port over a real store that
//! enforces roles (its actors, their grants and their tokens), a plain HTTP client, and the
//! commands the tests send.
//!
//! The store of [`Served`] holds communities `jd-01` and `jd-02`, and `admin-1` (administrator), `grid-7` (grid inspector of
//! community `jd-01`), `bureau-1` (bureau supervisor, district) and `auditor-1` (auditor,
//! district). Its tokens: `grid` and `bureau` write as those actors, `auditor` is a writing
//! token of an actor whose role only reads, `viewer` a read-only token of `bureau-1`.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anquan::engine::Engine;
use anquan::events::EntityId;
use anquan::interface::http::{self, auth, Access, ServeOptions, Service, Tokens};
use anquan::store::EventStore;
use serde_json::{json, Value};
use uuid::Uuid;

/// The tokens of a seeded store.
#[derive(Debug, Clone)]
pub struct SeedTokens {
    pub grid: String,
    pub bureau: String,
    pub auditor: String,
    pub viewer: String,
}

/// A command envelope from `actor`, issued now, with a fresh id.
pub fn envelope(actor: &str, command: Value) -> Value {
    json!({
        "command_id": Uuid::new_v4().to_string(),
        "actor": actor,
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "command": command,
    })
}

/// A hazard report in `community`, found at a fixed time in the past.
pub fn hazard_report(id: &str, community: &str) -> Value {
    json!({
        "type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
        "community_id": community, "grid_id": null, "enterprise_id": null, "category": "fire",
        "location": "3号楼", "description": "消防通道堵塞", "found_at": "2026-11-02T08:00:00Z"
    })
}

/// An incident report in `community` (one minor injury).
pub fn incident_report(id: &str, community: &str) -> Value {
    json!({
        "type": "incident.report", "incident_id": id, "occurred_at": "2026-11-03T06:00:00Z",
        "reported_at": "2026-11-03T06:30:00Z", "place": "现场", "community_id": community,
        "enterprise_id": null, "category": "fire", "deaths": 0, "serious_injuries": 0,
        "minor_injuries": 1, "missing": 0, "direct_loss_yuan": 1000, "summary": "事故"
    })
}

fn grant(engine: &Engine, actor: &str, role: &str, scope: Value) {
    let cmd = envelope(
        "admin-1",
        json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": scope, "reason": null}),
    );
    engine.execute_json(&cmd.to_string()).unwrap_or_else(|e| panic!("grant {role} to {actor}: {e}"));
}

/// Creates a store in `dir` that enforces roles, with the actors above and their tokens in
/// `dir/tokens.json`.
pub fn seed(dir: &Path) -> SeedTokens {
    let engine = open_engine(dir);
    let enforce = envelope("admin-1", json!({"type": "access.enforce_roles", "actor_id": "admin-1", "reason": null}));
    engine.execute_json(&enforce.to_string()).expect("enforce roles");
    grant(&engine, "grid-7", "grid_inspector", json!({"community": "jd-01"}));
    grant(&engine, "bureau-1", "bureau_supervisor", json!("district"));
    grant(&engine, "auditor-1", "auditor", json!("district"));
    for (id, name) in [("jd-01", "东湖社区"), ("jd-02", "西湖社区")] {
        let register = envelope(
            "admin-1",
            json!({"type": "community.register", "community_id": id, "name": name, "kind": "urban_street",
                   "district": "武昌区", "population": 12000, "population_as_of": "2025-12-31"}),
        );
        engine.execute_json(&register.to_string()).expect("register a community");
    }
    engine.into_store().close().expect("close the seeded store");
    let path = dir.join("tokens.json");
    let token = |actor: &str, access| auth::add_token(&path, EntityId::new(actor).unwrap(), access, None).unwrap();
    SeedTokens {
        grid: token("grid-7", Access::Write),
        bureau: token("bureau-1", Access::Write),
        auditor: token("auditor-1", Access::Write),
        viewer: token("bureau-1", Access::Read),
    }
}

/// An engine on the store in `dir` with its vault.
pub fn open_engine(dir: &Path) -> Engine {
    let vault = Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).expect("vault"));
    Engine::new(EventStore::open(dir).expect("store")).expect("engine").with_vault(vault)
}

/// A service on a loopback port, in this process, stopped (gracefully) when dropped.
pub struct Served {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub dir: PathBuf,
    pub tokens: SeedTokens,
    pub service: Arc<Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _temp: tempfile::TempDir,
}

impl Served {
    /// A seeded store served with default bounds.
    pub fn start() -> Self {
        Self::with_options(ServeOptions::default())
    }

    pub fn with_options(options: ServeOptions) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("store");
        let tokens = seed(&dir);
        let engine = Arc::new(open_engine(&dir));
        let service = Service::new(engine, Tokens::beside_store(&dir).unwrap(), options).expect("service");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = service.clone();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(http::serve(listener, s, async {
                    let _ = stopped.await;
                }))
                .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            addr,
            dir,
            tokens,
            service,
            stop: Some(stop),
            thread: Some(thread),
            _temp: temp,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Events in the log.
    pub fn head(&self) -> u64 {
        self.service.engine.store().head().next_position
    }

    /// Stops the service (requests in flight finish, last snapshot) and waits for it.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the server thread");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An answer: status, content type, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The problem document of an error answer, checked to be `application/problem+json`.
    pub fn problem(&self) -> Value {
        assert_eq!(self.content_type, "application/problem+json", "{} {}", self.status, self.body);
        let p = self.json();
        assert_eq!(p["status"].as_u64(), Some(u64::from(self.status)), "{p}");
        p
    }
}

/// A plain HTTP/1.1 client (ureq, the CLI's) that reports every status as an answer.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let status = r.status().as_u16();
    let headers: Vec<(String, String)> =
        r.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default();
    Answer { status, content_type, headers, body }
}

impl Client {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self { agent, base: base.to_string() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut r = self.agent.get(self.url(path));
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        answer(r.call().unwrap_or_else(|e| panic!("GET {path}: {e}")))
    }

    /// Posts `body` with the given content type (none if `None`).
    pub fn post_raw(&self, path: &str, token: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Answer {
        self.try_post(path, token, content_type, body).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Posts `body`; a connection that fails is an error, not a panic.
    pub fn try_post(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Answer, ureq::Error> {
        let mut r = self.agent.post(self.url(path));
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            r = r.header("Content-Type", ct);
        }
        r.send(body).map(answer)
    }

    /// Posts a JSON value.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.post_raw(path, Some(token), Some("application/json"), body.to_string().as_bytes())
    }

    /// Posts one command.
    pub fn command(&self, token: &str, envelope: &Value) -> Answer {
        self.post("/v1/commands", token, envelope)
    }
}

/// A raw exchange on a fresh connection: writes `request` (a server that answers early and closes
/// may cut the write short), then reads the answer until the server closes or `wait` passes.
/// Returns the status (0 when there was no answer) and the whole answer as text.
pub fn raw(addr: std::net::SocketAddr, request: &[u8], wait: Duration) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).unwrap();
    s.set_write_timeout(Some(wait)).unwrap();
    let _ = s.write_all(request);
    let _ = s.flush();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        // One answer is enough: stop at the end of a body whose length is given.
        if let Some(end) = answer_end(&got) {
            got.truncate(end);
            break;
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// Where the first answer in `got` ends, when its head is complete and gives a content length.
fn answer_end(got: &[u8]) -> Option<usize> {
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:"))?.trim().parse().ok()?;
    (got.len() >= head_end + len).then_some(head_end + len)
}

/// A POST's bytes: the request line, the headers given (and a content length), the body.
pub fn post_bytes(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Spawns `command` (an `anquan … serve --listen 127.0.0.1:0`) with its stderr piped and reads
/// that until the line announcing the address (tracing may come first). Returns the process,
/// the address, and its stderr from there on (the caller must keep reading it, or the pipe fills).
// The child is handed to the caller, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn spawn_serve(command: &mut Command) -> (Child, std::net::SocketAddr, std::io::BufReader<ChildStderr>) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn anquan serve");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("serve stopped before serving ({status:?}):\n{seen}");
        }
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            let addr = url.trim_start_matches("http://").parse().expect("a socket address");
            return (child, addr, lines);
        }
        seen.push_str(&line);
    }
}
