//! PostgreSQL as a peer of the compare bench: its own server, started from Debian's
//! `postgresql` package in a temporary folder (initdb, a Unix socket, no TCP), with `fsync` and
//! `synchronous_commit` on, so an append is durable when its transaction commits.
//!
//! The table holds the same envelope as the other peers (position, stream, version, id, type,
//! recorded-at, payload, hash). Positions, versions and the hash chain are assigned in this
//! process under one lock, as the SQLite and plain-sled peers do; the insert and the commit run
//! outside it, on a connection per caller, so PostgreSQL's group commit shares a WAL flush among
//! concurrent commits. That favours PostgreSQL: a reader could see position n + 1 committed before
//! n, an order anquan's store never shows.
//!
//! When no server binaries are found (or the server does not start), `PgServer::start` says why
//! and the bench goes on without this peer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Where Debian puts the server's binaries (`/usr/lib/postgresql/<major>/bin`), newest first, or
/// `initdb` on the PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A running server in a temporary folder; stopped (fast shutdown) when dropped.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
    /// The server runs as this user when the bench runs as root (PostgreSQL refuses root).
    run_as: Option<String>,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}

impl PgServer {
    /// initdb in `dir`, then start the server. `Err` says why there is no PostgreSQL peer.
    pub fn start(dir: &Path) -> Result<Self, String> {
        let bin = find_bin_dir().ok_or("no PostgreSQL server found (Debian package `postgresql`)")?;
        let run_as = is_root().then(|| "postgres".to_string());
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        if let Some(user) = &run_as {
            // The server's folders must belong to the user it runs as.
            let status = Command::new("chown").args(["-R", user]).arg(dir).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("cannot hand {} to user {user}", dir.display()));
            }
        }
        let (data, socket) = (dir.join("data"), dir.join("socket"));
        let mut server = PgServer { bin, data, socket, child: None, run_as };
        server.run("mkdir", &["-p", &server.socket.display().to_string()])?;
        let initdb = server.bin.join("initdb").display().to_string();
        server
            .run(&initdb, &["-D", &server.data.display().to_string(), "-U", "bench", "--auth=trust", "-E", "UTF8"])?;
        server.launch()?;
        Ok(server)
    }

    /// Runs a command as the server's user, waiting for it.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut c = self.command(program, args);
        let out = c.stdout(Stdio::null()).output().map_err(|e| format!("{program}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{program} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(())
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", program]).args(args);
                c
            }
            None => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let postgres = self.bin.join("postgres").display().to_string();
        let (data, socket) = (self.data.display().to_string(), self.socket.display().to_string());
        let child = self
            .command(
                &postgres,
                &[
                    "-D",
                    &data,
                    "-k",
                    &socket,
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=on",
                    "-c",
                    "synchronous_commit=on",
                    "-c",
                    "max_connections=64",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if self.connect().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("the PostgreSQL server did not accept connections within 30 s".into())
    }

    /// Stops the server (fast shutdown) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pg_ctl = self.bin.join("pg_ctl").display().to_string();
            let data = self.data.display().to_string();
            if self.run(&pg_ctl, &["stop", "-D", &data, "-m", "fast", "-w"]).is_err() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Stops and starts the server, so the next read finds its shared buffers empty.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    pub fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new().host_path(&self.socket).user("bench").dbname("postgres").connect(postgres::NoTls)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The envelope in a PostgreSQL table; one connection per concurrent caller.
pub struct Postgres {
    server: PgServer,
    pool: Mutex<Vec<postgres::Client>>,
    state: Mutex<(u64, [u8; 32], std::collections::HashMap<String, u64>)>,
}

impl Postgres {
    pub fn open(server: PgServer) -> Result<Self, String> {
        let mut client = server.connect().map_err(|e| e.to_string())?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS events (
                   position BIGINT PRIMARY KEY, stream TEXT NOT NULL, version BIGINT NOT NULL,
                   event_id BYTEA NOT NULL UNIQUE, event_type TEXT NOT NULL, recorded_at BIGINT NOT NULL,
                   payload BYTEA NOT NULL, hash BYTEA NOT NULL, UNIQUE (stream, version));",
            )
            .map_err(|e| e.to_string())?;
        let next: i64 = client.query_one("SELECT COUNT(*) FROM events", &[]).map_err(|e| e.to_string())?.get(0);
        Ok(Postgres {
            server,
            pool: Mutex::new(vec![client]),
            state: Mutex::new((next as u64, [0; 32], Default::default())),
        })
    }

    fn client(&self) -> postgres::Client {
        let pooled = self.pool.lock().unwrap().pop();
        pooled.unwrap_or_else(|| self.server.connect().expect("connect to the bench's PostgreSQL"))
    }

    /// Restarts the server (cold shared buffers); the pool's connections are dropped.
    pub fn restart(&mut self) -> Result<(), String> {
        self.pool.lock().unwrap().clear();
        self.server.restart()
    }

    /// Bytes of the table with its indexes and TOAST (`pg_total_relation_size`).
    pub fn table_bytes(&self) -> u64 {
        let mut c = self.client();
        let n: i64 = c.query_one("SELECT pg_total_relation_size('events')", &[]).expect("size").get(0);
        self.pool.lock().unwrap().push(c);
        n as u64
    }
}

/// One row to insert: position, version, event id, payload, hash.
type Row = (i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);

impl super::Engine for Postgres {
    fn append(&self, stream: &str, payloads: Vec<Vec<u8>>) {
        // Assigned in order under the lock; inserted and committed outside it.
        let rows: Vec<Row> = {
            let mut st = self.state.lock().unwrap();
            let mut rows = Vec::with_capacity(payloads.len());
            for p in payloads {
                let version = st.2.entry(stream.to_string()).or_insert(0);
                let v = *version as i64;
                *version += 1;
                let hash = *blake3::hash(&[&st.1[..], &p].concat()).as_bytes();
                rows.push((st.0 as i64, v, Uuid::new_v4().as_bytes().to_vec(), p, hash.to_vec()));
                st.0 += 1;
                st.1 = hash;
            }
            rows
        };
        let mut client = self.client();
        let mut tx = client.transaction().expect("begin");
        let insert = tx.prepare("INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)").expect("prepare");
        for (position, version, id, payload, hash) in &rows {
            tx.execute(&insert, &[position, &stream, version, id, &"bench.event", &0i64, payload, hash])
                .expect("insert");
        }
        tx.commit().expect("commit");
        self.pool.lock().unwrap().push(client);
    }

    fn read_all(&self) -> (u64, u64) {
        use postgres::fallible_iterator::FallibleIterator;
        let mut client = self.client();
        let (mut n, mut sum) = (0u64, 0u64);
        {
            let mut rows = client
                .query_raw(
                    "SELECT position, stream, version, event_id, event_type, recorded_at, payload, hash FROM events ORDER BY position",
                    std::iter::empty::<i64>(),
                )
                .expect("query");
            while let Some(r) = rows.next().expect("row") {
                let rec = super::PlainRecord {
                    position: r.get::<_, i64>(0) as u64,
                    stream: r.get(1),
                    version: r.get::<_, i64>(2) as u64,
                    event_id: r.get::<_, Vec<u8>>(3).try_into().expect("id"),
                    event_type: r.get(4),
                    recorded_at: r.get(5),
                    payload: r.get(6),
                    hash: r.get::<_, Vec<u8>>(7).try_into().expect("hash"),
                };
                n += 1;
                sum = sum.wrapping_add(rec.payload[0] as u64);
            }
        }
        self.pool.lock().unwrap().push(client);
        (n, sum)
    }
}
