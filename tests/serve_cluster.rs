//! `anquan serve` in cluster mode: three separate anquan processes serve one tenant of a
//! three-server R3 JetStream cluster while clients write through all of them at once. The
//! stream's leader (a nats-server) is SIGKILLed, then the anquan node holding the lease. After
//! the killed node is restarted with its folder deleted (it catches up from the cluster):
//! - every acknowledged command is in the log exactly once, where its answer said;
//! - positions are gapless and every node holds the same events;
//! - every node has the same head hash and verifies;
//! - every node's live projections give the same `stats` JSON.
//!
//! The longest pause in acknowledgements after each kill is printed (the failover
//! figure is measured here, on real processes, not asserted).

mod common;
mod http_common;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anquan::engine::{derived_event_id, Engine};
use anquan::interface::http::auth::{self, Access};
use anquan::store::{ClusterOptions, Direction, EventStore, StoreOptions};
use common::nats::NatsCluster;
use http_common::{envelope, hazard_report, incident_report, spawn_serve, Client};
use serde_json::{json, Value};

const TENANT: &str = "province";

fn store_options(nats: &NatsCluster, node: &str) -> StoreOptions {
    let mut cluster = ClusterOptions::new(nats.urls(), TENANT, node);
    cluster.connect_timeout = Duration::from_secs(20);
    StoreOptions { cluster: Some(cluster), ..StoreOptions::default() }
}

/// Node `a`'s folder gets the tenant's first commands (roles enforced, a bureau supervisor and
/// an auditor granted, two communities); every node's folder joins the log and gets its own
/// `tokens.json`. Returns each node's (write, read) tokens.
fn seed(nats: &NatsCluster, dirs: &[PathBuf]) -> Vec<(String, String)> {
    {
        let store = EventStore::open_dir(&dirs[0], store_options(nats, "a")).unwrap();
        let vault =
            Arc::new(anquan::engine::privacy::Vault::open_for_store(&dirs[0], &store_options(nats, "a")).unwrap());
        let engine = Engine::new(store).unwrap().with_vault(vault);
        let run = |cmd: Value| engine.execute_json(&envelope("admin-1", cmd).to_string()).unwrap();
        run(json!({"type": "access.enforce_roles", "actor_id": "admin-1", "reason": null}));
        for (actor, role) in [("bureau-1", "bureau_supervisor"), ("auditor-1", "auditor")] {
            run(
                json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": "district", "reason": null}),
            );
        }
        for (id, name) in [("jd-01", "东湖社区"), ("jd-02", "西湖社区")] {
            run(json!({"type": "community.register", "community_id": id, "name": name, "kind": "urban_street",
                       "district": "武昌区", "population": 12000, "population_as_of": "2025-12-31"}));
        }
        engine.into_store().close().unwrap();
    }
    dirs.iter()
        .zip(["a", "b", "c"])
        .map(|(dir, node)| {
            // The other folders join the log (and catch up) before their tokens are written.
            EventStore::open_dir(dir, store_options(nats, node)).unwrap().close().unwrap();
            let path = dir.join("tokens.json");
            let id = anquan::events::EntityId::new("bureau-1").unwrap();
            (
                auth::add_token(&path, id.clone(), Access::Write, None).unwrap(),
                auth::add_token(&path, id, Access::Read, None).unwrap(),
            )
        })
        .collect()
}

/// A token for `bureau-1` on a node, written by `anquan --cluster … token` (a new folder joins
/// the log first).
fn new_token(nats: &NatsCluster, node: &str, dir: &Path, read_only: bool) -> String {
    let urls = nats.urls().join(",");
    let mut args = vec!["--cluster", &urls, "--tenant", TENANT, "--node", node, "token", "--for", "bureau-1"];
    if read_only {
        args.push("--read-only");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_anquan"))
        .args(&args)
        .args(["--store", dir.to_str().unwrap()])
        .env_remove("ANQUAN_STORE")
        .env_remove("ANQUAN_CLUSTER")
        .env_remove("ANQUAN_TENANT")
        .env_remove("ANQUAN_NODE")
        .output()
        .unwrap();
    assert!(out.status.success(), "anquan token: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One `anquan --cluster … serve` process on a free loopback port; killed when dropped.
struct Node {
    name: &'static str,
    child: Child,
    client: Client,
}

impl Node {
    fn start(nats: &NatsCluster, name: &'static str, dir: &Path) -> Self {
        let urls = nats.urls().join(",");
        let (child, addr, lines) = spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_anquan"))
                .args(["--cluster", &urls, "--tenant", TENANT, "--node", name])
                .args(["serve", "--store", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
                .env_remove("ANQUAN_STORE")
                .env_remove("ANQUAN_CLUSTER")
                .env_remove("ANQUAN_TENANT")
                .env_remove("ANQUAN_NODE")
                .env("RUST_LOG", std::env::var("ANQUAN_TEST_LOG").unwrap_or_else(|_| "info".into())),
        );
        let client = Client::new(&format!("http://{addr}"));
        // The rest of its output is kept for a failure's post-mortem (the pipe never fills).
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("serve_cluster-{name}.log"));
        std::thread::spawn(move || {
            let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log) else { return };
            for line in lines.lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
            }
        });
        Self { name, child, client }
    }

    fn health(&self) -> Value {
        let r = self.client.get("/healthz", None);
        assert_eq!(r.status, 200, "{}: {}", self.name, r.body);
        r.json()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What clients were told: the command, its positions, and when the answer came.
#[derive(Default)]
struct Acknowledged {
    commands: Vec<(Value, Vec<u64>, Instant)>,
}

/// Waits (bounded) until `count` more commands are acknowledged after `since`; returns the
/// longest pause between acknowledgements from `since` on (the kill's effect on writers).
fn wait_for_acks(acks: &Mutex<Acknowledged>, since: Instant, count: usize, what: &str) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut after: Vec<Instant> =
            acks.lock().unwrap().commands.iter().map(|c| c.2).filter(|t| *t > since).collect();
        if after.len() >= count {
            after.sort();
            let mut longest = after[0].duration_since(since);
            for w in after.windows(2) {
                longest = longest.max(w[1].duration_since(w[0]));
            }
            return longest;
        }
        assert!(Instant::now() < deadline, "{what}: only {} commands acknowledged within 60 s", after.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every event of the log, as one node serves it (paged).
fn log_of(node: &Node, token: &str) -> Vec<Value> {
    let mut log = Vec::new();
    let mut from = 0;
    loop {
        let page = node.client.get(&format!("/v1/events?from={from}&limit=10000"), Some(token)).json();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return log;
        }
        from = page["next"].as_u64().unwrap();
        log.extend(events);
    }
}

#[test]
fn three_serving_nodes_lose_nothing_acknowledged_when_a_server_and_the_leading_node_are_killed() {
    let mut nats = NatsCluster::start(3);
    let temp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| temp.path().join(n)).collect();
    let mut tokens = seed(&nats, &dirs);
    let names = ["a", "b", "c"];
    let nodes: Vec<Arc<Mutex<Node>>> =
        (0..3).map(|i| Arc::new(Mutex::new(Node::start(&nats, names[i], &dirs[i])))).collect();
    let clients: Vec<(Client, String)> =
        (0..3).map(|i| (nodes[i].lock().unwrap().client.clone(), tokens[i].0.clone())).collect();

    // Six writers, two per node. A command whose answer does not come (its node died, or the
    // cluster was electing) is sent again, same id, to the next node: it must then be
    // answered as committed once, wherever it landed.
    let acks: Arc<Mutex<Acknowledged>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|t| {
            let (clients, acks, stop) = (clients.clone(), acks.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut target = t % 3;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // Hazard reports carry a personal field (the reporter), sealed with the
                    // tenant's vault: a retry on another node must seal to the same bytes.
                    let cmd = if i % 2 == 0 {
                        envelope("bureau-1", hazard_report(&format!("H-{t}-{i}"), "jd-01"))
                    } else {
                        envelope("bureau-1", incident_report(&format!("I-{t}-{i}"), "jd-01"))
                    };
                    let body = cmd.to_string();
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        assert!(Instant::now() < deadline, "command {i} of writer {t} never answered");
                        let (client, token) = &clients[target];
                        match client.try_post("/v1/commands", Some(token), Some("application/json"), body.as_bytes()) {
                            Ok(r) if r.status / 100 == 2 => {
                                let at = r.json()["positions"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|p| p.as_u64().unwrap())
                                    .collect();
                                acks.lock().unwrap().commands.push((cmd, at, Instant::now()));
                                break;
                            }
                            Ok(r) if r.status >= 500 || r.status == 409 || r.status == 408 => {}
                            Ok(r) => panic!("writer {t}: {} {}", r.status, r.body),
                            Err(_) => {}
                        }
                        target = (target + 1) % 3;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    wait_for_acks(&acks, started, 60, "before any kill");

    // The stream's leader among the servers.
    let leader = nats.stream_leader(&format!("anquan_{TENANT}")).expect("a stream leader");
    let killed = Instant::now();
    nats.kill(leader);
    let resumed = wait_for_acks(&acks, killed, 60, "after the stream leader's kill");
    eprintln!("stream leader (nats-server {leader}) SIGKILLed: writes paused at most {resumed:?}");

    // The anquan node whose writer commits for all.
    let holder = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = nodes[0].lock().unwrap().health();
            if let Some(l) = h["cluster"]["leader"].as_str() {
                break names.iter().position(|n| *n == l).unwrap();
            }
            assert!(Instant::now() < deadline, "no node holds the lease: {h}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let killed = Instant::now();
    nodes[holder].lock().unwrap().kill();
    let resumed = wait_for_acks(&acks, killed, 60, "after the leading node's kill");
    eprintln!("lease holder (node {}) SIGKILLed: writes paused at most {resumed:?}", names[holder]);
    let after_takeover = nodes[(holder + 1) % 3].lock().unwrap().health();
    assert_ne!(after_takeover["cluster"]["leader"].as_str(), Some(names[holder]), "{after_takeover}");

    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    // The killed node comes back with its folder deleted: `anquan token` joins the log (the
    // folder catches up) and writes the node's tokens, then it serves again.
    std::fs::remove_dir_all(&dirs[holder]).unwrap();
    tokens[holder] =
        (new_token(&nats, names[holder], &dirs[holder], false), new_token(&nats, names[holder], &dirs[holder], true));
    *nodes[holder].lock().unwrap() = Node::start(&nats, names[holder], &dirs[holder]);

    let acknowledged = std::mem::take(&mut acks.lock().unwrap().commands);
    let deadline = Instant::now() + Duration::from_secs(60);
    let heads = loop {
        let h: Vec<Value> = nodes.iter().map(|n| n.lock().unwrap().health()).collect();
        let events: Vec<u64> = h.iter().map(|h| h["events"].as_u64().unwrap()).collect();
        let folded: Vec<u64> = h.iter().map(|h| h["projections_at"].as_u64().unwrap()).collect();
        if events.iter().all(|e| *e == events[0]) && folded == events {
            break events;
        }
        assert!(Instant::now() < deadline, "nodes do not converge: {h:?}");
        std::thread::sleep(Duration::from_millis(100));
    };

    // The same gapless log on every node.
    let logs: Vec<Vec<Value>> = (0..3).map(|i| log_of(&nodes[i].lock().unwrap(), &tokens[i].1)).collect();
    for (i, log) in logs.iter().enumerate() {
        assert_eq!(log.len() as u64, heads[i]);
        for (p, e) in log.iter().enumerate() {
            assert_eq!(e["position"].as_u64(), Some(p as u64), "node {}", names[i]);
        }
        assert_eq!(log, &logs[0], "node {} serves another log", names[i]);
    }
    // Every acknowledged command exactly once, where its answer said.
    let mut where_: HashMap<String, Vec<u64>> = HashMap::new();
    for e in &logs[0] {
        where_.entry(e["event_id"].as_str().unwrap().to_string()).or_default().push(e["position"].as_u64().unwrap());
    }
    assert!(acknowledged.len() >= 180, "{}", acknowledged.len());
    for (cmd, positions, _) in &acknowledged {
        let id: uuid::Uuid = cmd["command_id"].as_str().unwrap().parse().unwrap();
        for (i, p) in positions.iter().enumerate() {
            let event = derived_event_id(&id, i as u32).to_string();
            assert_eq!(where_.get(&event), Some(&vec![*p]), "{cmd}");
        }
    }
    // Every node's live projections answer the same.
    let stats: Vec<String> = (0..3)
        .map(|i| {
            let r = nodes[i].lock().unwrap().client.get("/v1/stats?on=2026-12-31&by=category", Some(&tokens[i].1));
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        })
        .collect();
    assert!(stats[0].contains(&format!("\"position\":{}", heads[0])), "{}", stats[0]);
    assert_eq!(stats[1], stats[0]);
    assert_eq!(stats[2], stats[0]);

    // Stopped, each folder holds the same head and verifies on its own.
    for n in &nodes {
        n.lock().unwrap().kill();
    }
    let mut hashes = Vec::new();
    for dir in &dirs {
        let store = reopen(dir);
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "{}: {report:?}", dir.display());
        assert_eq!(store.head().next_position, heads[0]);
        hashes.push(store.head().hash);
        let last = store.read_all(u64::MAX, Direction::Backward, 1).unwrap();
        assert_eq!(last[0].position, heads[0] - 1);
    }
    assert!(hashes.iter().all(|h| *h == hashes[0]));
}

/// Opens a folder a killed node left, read only (no cluster: a replica opened alone reads).
fn reopen(dir: &Path) -> EventStore {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match EventStore::open(dir) {
            Ok(s) => return s,
            Err(e) => {
                assert!(Instant::now() < deadline, "{}: {e}", dir.display());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
