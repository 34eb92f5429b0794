//! Shutdown and faults of `anquan serve`, as a real process: SIGTERM stops taking connections,
//! finishes the request in flight, writes the log and a snapshot, exits 0; SIGKILL under load
//! loses no command that was answered 2xx.

mod http_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anquan::engine::derived_event_id;
use anquan::projections::AllProjections;
use anquan::store::{Direction, EventStore};
use http_common::{envelope, hazard_report, post_bytes, seed, spawn_serve, Client};
use serde_json::Value;

/// `anquan serve` on a free loopback port; killed when dropped.
struct ServeProcess {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl ServeProcess {
    fn start(dir: &Path) -> Self {
        let (child, addr, mut lines) = spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_anquan"))
                .args(["serve", "--store", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
                .env_remove("ANQUAN_STORE"),
        );
        // The rest of its output is kept (the pipe never fills).
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = lines.read_to_string(&mut rest);
            kept.lock().unwrap().push_str(&rest);
        });
        Self { child, addr, stderr }
    }

    fn client(&self) -> Client {
        Client::new(&format!("http://{}", self.addr))
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: a signal to our own child process, by its id.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
    }

    /// Waits (bounded) for the process to end.
    fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the store a stopped or killed service left (sled's lock goes with the process).
fn reopen(dir: &Path) -> EventStore {
    for _ in 0..100 {
        match EventStore::open(dir) {
            Ok(s) => return s,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    EventStore::open(dir).expect("the store reopens")
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_writes_a_snapshot_and_exits_0() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let tokens = seed(&dir);
    let mut serve = ServeProcess::start(&dir);
    let c = serve.client();
    for i in 0..3 {
        let r = c.command(&tokens.grid, &envelope("grid-7", hazard_report(&format!("H-{i}"), "jd-01")));
        assert_eq!(r.status, 201, "{}", r.body);
    }

    // A command half sent when the signal comes.
    let cmd = envelope("grid-7", hazard_report("H-late", "jd-01"));
    let body = cmd.to_string();
    let auth = format!("Bearer {}", tokens.grid);
    let request =
        post_bytes("/v1/commands", &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes());
    let split = request.len() - body.len() / 2;
    let mut in_flight = TcpStream::connect(serve.addr).unwrap();
    in_flight.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    in_flight.write_all(&request[..split]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    serve.signal(libc::SIGTERM);
    // New connections are no longer taken.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&serve.addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "still taking connections after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The one in flight is finished and answered.
    in_flight.write_all(&request[split..]).unwrap();
    let mut answer = String::new();
    let _ = in_flight.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let committed: Value = serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap();

    let status = serve.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}: {}", serve.stderr.lock().unwrap());
    assert!(serve.stderr.lock().unwrap().contains("snapshot written"));

    let store = reopen(&dir);
    let head = store.head().next_position;
    let at = committed["positions"][0].as_u64().unwrap();
    let e = store.read_all(at, Direction::Forward, 1).unwrap();
    assert_eq!(e[0].event_id, derived_event_id(&cmd["command_id"].as_str().unwrap().parse().unwrap(), 0));
    // The live projections' snapshot is at the head: a restart folds nothing.
    assert_eq!(AllProjections::snapshots_checkpoint(&store).unwrap(), Some(head));
}

/// What a client was told: the command and the positions of its events.
type Acknowledged = Vec<(Value, Vec<u64>)>;

#[test]
fn sigkill_under_load_loses_no_command_answered_2xx() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let tokens = seed(&dir);
    let serve = ServeProcess::start(&dir);
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let clients: Vec<_> = (0..6)
        .map(|t| {
            let (c, token, acknowledged) = (serve.client(), tokens.grid.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let cmd = envelope("grid-7", hazard_report(&format!("H-{t}-{i}"), "jd-01"));
                    let Ok(r) =
                        c.try_post("/v1/commands", Some(&token), Some("application/json"), cmd.to_string().as_bytes())
                    else {
                        return;
                    };
                    if r.status / 100 == 2 {
                        let at =
                            r.json()["positions"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
                        acknowledged.lock().unwrap().push((cmd, at));
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 60 {
        assert!(Instant::now() < deadline, "no load");
        std::thread::sleep(Duration::from_millis(10));
    }
    serve.signal(libc::SIGKILL);
    for c in clients {
        c.join().unwrap();
    }
    drop(serve);
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());

    // Restarted: every acknowledged command is in the log where its answer said.
    let serve = ServeProcess::start(&dir);
    let c = serve.client();
    let mut log = Vec::new();
    let mut from = 0;
    loop {
        let page = c.get(&format!("/v1/events?from={from}&limit=10000"), Some(&tokens.viewer)).json();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        from = page["next"].as_u64().unwrap();
        log.extend(events);
    }
    for (cmd, positions) in &acknowledged {
        let id: uuid::Uuid = cmd["command_id"].as_str().unwrap().parse().unwrap();
        for (i, p) in positions.iter().enumerate() {
            let e = &log[*p as usize];
            assert_eq!(e["position"], *p);
            assert_eq!(e["event_id"], derived_event_id(&id, i as u32).to_string(), "{cmd}");
        }
    }
    // And sent again, each is already committed, at the same positions.
    for (cmd, positions) in acknowledged.iter().take(20) {
        let r = c.command(&tokens.grid, cmd);
        assert_eq!(r.status, 200, "{}", r.body);
        let again: Vec<u64> = r.json()["positions"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
        assert_eq!(&again, positions);
    }
}
