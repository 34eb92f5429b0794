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

/// A port free now, below Linux's ephemeral range (32768 and up by default), so the kernel does
/// not hand it to an outgoing connection before the server binds it. Another test may still
/// take it first: [`NatsCluster::start`] then starts again on other ports.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    loop {
        // A small xorshift over a per-process seed: parallel test processes spread out.
        let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20_000 + (x % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
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
        for _ in 0..5 {
            let mut cluster = Self::configure(n);
            for i in 0..n {
                cluster.spawn(i);
            }
            match (0..n).try_for_each(|i| cluster.ready_or_exited(i)) {
                Ok(()) => return cluster,
                // A port taken between choosing and binding: every server again, on new ports.
                Err(log) if log.contains("address already in use") => continue,
                Err(log) => panic!("nats-server stopped while starting; its log ends (newest first):\n{log}"),
            }
        }
        panic!("nats-server found its ports taken five times")
    }

    /// Ports, folders and configuration files for `n` servers, none started.
    fn configure(n: usize) -> Self {
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
        Self { servers, dir }
    }

    /// Waits until server `i` answers 200 on `/healthz`; its log's last lines if it exits first.
    fn ready_or_exited(&mut self, i: usize) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some((200, _)) = http_get(self.servers[i].monitor_port, "/healthz") {
                return Ok(());
            }
            let exited = self.servers[i].child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited || Instant::now() >= deadline {
                let log = self.log_tail(i);
                if exited {
                    return Err(log);
                }
                panic!(
                    "nats-server {} not ready within {READY_WITHIN:?}; its log ends (newest first):\n{log}",
                    self.servers[i].name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last 15 lines of server `i`'s log, newest first.
    fn log_tail(&self, i: usize) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.servers[i].name))).unwrap_or_default();
        log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
    }

    fn spawn(&mut self, i: usize) {
        let server = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", server.name)))
            .unwrap();
        let mut command = Command::new(binary());
        // SAFETY: only an async-signal-safe syscall between fork and exec. The server dies with
        // the thread that started it, so a test killed by a timeout leaves no server behind.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
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
    pub fn wait_ready(&mut self, i: usize) {
        if let Err(log) = self.ready_or_exited(i) {
            panic!("nats-server {} stopped while starting; its log ends (newest first):\n{log}", self.servers[i].name);
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
