//! Real `nats-server` processes for the cluster tests: one server, or three in a cluster, on
//! free loopback ports with their own temporary folders. Ready when the monitoring port's
//! `/healthz` answers 200; a server can be killed with SIGKILL and started again on the same
//! ports and folder; dropping the cluster kills every server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to be ready (a restarted cluster member catches up first; the
/// machine may be busy with other tests).
const READY_WITHIN: Duration = Duration::from_secs(60);

struct Server {
    name: String,
    client_port: u16,
    monitor_port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// A set of running `nats-server` processes.
pub struct NatsCluster {
    servers: Vec<Server>,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `nats-server` binary: `$NATS_SERVER`, else where Debian's package puts it (`/usr/sbin`,
/// which a user's PATH may lack), else the one on PATH.
fn binary() -> String {
    if let Ok(path) = std::env::var("NATS_SERVER") {
        return path;
    }
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
        .to_string()
}

impl NatsCluster {
    /// Starts `n` servers (a cluster with routes between them when `n > 1`) and waits until all
    /// are ready.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let routes: Vec<String> = ports.iter().map(|(_, c, _)| format!("nats-route://127.0.0.1:{c}")).collect();
        let mut servers = Vec::new();
        for (i, (client, route, monitor)) in ports.iter().enumerate() {
            let name = format!("n{i}");
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store).unwrap();
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\njetstream {{ store_dir: \"{}\" }}\n",
                store.display()
            );
            if n > 1 {
                conf.push_str(&format!(
                    "cluster {{ name: anquan_test, listen: 127.0.0.1:{route}, routes: [{}] }}\n",
                    routes.join(", ")
                ));
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, conf).unwrap();
            servers.push(Server { name, client_port: *client, monitor_port: *monitor, config, child: None });
        }
        let mut cluster = Self { servers, dir };
        for i in 0..n {
            cluster.spawn(i);
        }
        for i in 0..n {
            cluster.wait_ready(i);
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let server = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", server.name)))
            .unwrap();
        let child = Command::new(binary())
            .arg("-c")
            .arg(&server.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server must be installed (apt-get install nats-server)");
        server.child = Some(child);
    }

    /// Waits until server `i` answers 200 on `/healthz`.
    pub fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some((200, _)) = http_get(self.servers[i].monitor_port, "/healthz") {
                return;
            }
            if Instant::now() >= deadline {
                let name = &self.servers[i].name;
                let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "nats-server {name} not ready within {READY_WITHIN:?}; its log ends (newest first):\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every server's client URL.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| format!("nats://127.0.0.1:{}", s.client_port)).collect()
    }

    /// Kills server `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `i` again (same ports, same folder) and waits until it is ready.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready(i);
    }

    /// The index of the server leading `stream`, as the live servers report it.
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        for s in self.servers.iter().filter(|s| s.child.is_some()) {
            let Some((200, body)) = http_get(s.monitor_port, "/jsz?streams=true") else { continue };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else { continue };
            let accounts = json["account_details"].as_array().cloned().unwrap_or_default();
            for account in accounts {
                for detail in account["stream_detail"].as_array().cloned().unwrap_or_default() {
                    if detail["name"] == stream {
                        if let Some(leader) = detail["cluster"]["leader"].as_str() {
                            return self.servers.iter().position(|s| s.name == leader);
                        }
                    }
                }
            }
        }
        None
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}

/// A plain HTTP/1.0 GET on loopback: status and body, or `None` if nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}
