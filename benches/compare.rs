//! One harness, four stores, the same seeded workload in one process:
//! - anquan's event store (segments per group commit, sled, fdatasync per commit),
//! - a plain sled log with one key per event (flush + fdatasync per append),
//! - a SQLite WAL table (rusqlite, bundled SQLite, `synchronous=FULL`, one transaction per append),
//! - a PostgreSQL table (its own server from Debian's `postgresql`, `fsync` and
//!   `synchronous_commit` on, one transaction per append, a connection per caller; see
//!   `peers/postgres.rs`). Without a server installed, the bench says so and goes on.
//!
//! Every store keeps the same envelope (position, stream, version, id, type, recorded-at, payload,
//! hash) and is durable when an append returns. Prints a table of figures and ratios.
//!
//! `cargo bench --bench compare` (env `ANQUAN_BENCH_EVENTS`, default 200000, sets the store size
//! for the read workloads; `ANQUAN_BENCH_APPENDS` (default 20000) the durable single-event appends;
//! `ANQUAN_BENCH_READS` (default 1) how many times the cold read reopens and reads, the row being
//! the median).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anquan::store::{Direction, EventStore, ExpectedVersion, ProposedEvent, Timestamp};

#[path = "peers/postgres.rs"]
mod postgres_peer;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// The allocator the `anquan` binary uses (see `Cargo.toml`); `--no-default-features` measures
/// under the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAYLOAD: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn payload(rng: &mut impl Rng) -> Vec<u8> {
    (0..PAYLOAD).map(|_| rng.gen_range(b'a'..=b'z')).collect()
}

/// Current and peak resident memory of this process (Linux), for the log.
fn mem_status() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).map(|l| l[name.len()..].trim().to_string()).unwrap_or_default()
    };
    format!("resident {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let md = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            total += if md.is_dir() { dir_size(&e.path()) } else { md.len() };
        }
    }
    total
}

/// A store under test.
trait Engine: Send + Sync {
    /// Appends `n` events to `stream` durably in one transaction.
    fn append(&self, stream: &str, payloads: Vec<Vec<u8>>);
    /// Reads every event in order, returning how many and a checksum of payload bytes.
    fn read_all(&self) -> (u64, u64);
    /// Engine-specific remarks for the log.
    fn report(&self) -> String {
        String::new()
    }
    /// The mean durable sync so far, where the engine measures it (seconds).
    fn mean_sync(&self) -> Option<f64> {
        None
    }
}

struct Anquan(EventStore);

impl Engine for Anquan {
    fn append(&self, stream: &str, payloads: Vec<Vec<u8>>) {
        let events =
            payloads.into_iter().map(|p| ProposedEvent::new("bench.event", 1, Timestamp(0), "bench", p)).collect();
        self.0.append(stream, ExpectedVersion::Any, events).expect("append");
    }
    fn report(&self) -> String {
        let s = self.0.stats();
        format!(
            " ({} commits, {:.1} events per commit, {} syncs of {:.0} µs on average)",
            s.commits,
            s.events as f64 / s.commits.max(1) as f64,
            s.syncs,
            self.mean_sync().unwrap_or(0.0) * 1e6
        )
    }
    fn mean_sync(&self) -> Option<f64> {
        let s = self.0.stats();
        (s.syncs > 0).then(|| s.sync_nanos as f64 / s.syncs as f64 / 1e9)
    }
    fn read_all(&self) -> (u64, u64) {
        let (mut n, mut sum, mut from) = (0u64, 0u64, 0u64);
        loop {
            let page = self.0.read_all(from, Direction::Forward, 8192).expect("read");
            if page.is_empty() {
                return (n, sum);
            }
            for e in &page {
                n += 1;
                sum = sum.wrapping_add(e.payload[0] as u64);
            }
            from = page[page.len() - 1].position + 1;
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PlainRecord {
    position: u64,
    stream: String,
    version: u64,
    event_id: [u8; 16],
    event_type: String,
    recorded_at: i64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    hash: [u8; 32],
}

/// sled with one key per event (position → record), stream versions in a side key, hash chained.
struct PlainSled {
    db: sled::Db,
    file: std::fs::File,
    state: Mutex<(u64, [u8; 32], std::collections::HashMap<String, u64>)>,
}

impl PlainSled {
    fn open(dir: &Path) -> Self {
        let db = sled::Config::new().path(dir).flush_every_ms(None).open().expect("sled");
        let file = std::fs::File::open(dir.join("db")).expect("db file");
        let next = db.len() as u64;
        Self { db, file, state: Mutex::new((next, [0; 32], Default::default())) }
    }
}

impl Engine for PlainSled {
    fn append(&self, stream: &str, payloads: Vec<Vec<u8>>) {
        {
            let mut st = self.state.lock().unwrap();
            let mut batch = sled::Batch::default();
            for p in payloads {
                let (pos, prev) = (st.0, st.1);
                let v = st.2.entry(stream.to_string()).or_insert(0);
                let mut rec = PlainRecord {
                    position: pos,
                    stream: stream.into(),
                    version: *v,
                    event_id: *Uuid::new_v4().as_bytes(),
                    event_type: "bench.event".into(),
                    recorded_at: 0,
                    payload: p,
                    hash: [0; 32],
                };
                *v += 1;
                let bytes = anquan::internals::codec::encode(&rec).unwrap();
                rec.hash = *blake3::hash(&[&prev[..], &bytes].concat()).as_bytes();
                batch.insert(&pos.to_be_bytes(), anquan::internals::codec::encode(&rec).unwrap());
                st.0 += 1;
                st.1 = rec.hash;
            }
            self.db.apply_batch(batch).unwrap();
        }
        self.db.flush().unwrap();
        self.file.sync_data().unwrap();
    }
    fn read_all(&self) -> (u64, u64) {
        let (mut n, mut sum) = (0, 0u64);
        for kv in self.db.iter() {
            let (_, v) = kv.unwrap();
            let r: PlainRecord = anquan::internals::codec::decode(&v).unwrap();
            n += 1;
            sum = sum.wrapping_add(r.payload[0] as u64);
        }
        (n, sum)
    }
}

/// SQLite WAL, synchronous=FULL, one transaction per append.
struct Sqlite {
    conn: Mutex<rusqlite::Connection>,
    state: Mutex<(u64, [u8; 32])>,
}

impl Sqlite {
    fn open(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let conn = rusqlite::Connection::open(dir.join("events.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS events (
               position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL,
               event_id BLOB NOT NULL UNIQUE, event_type TEXT NOT NULL, recorded_at INTEGER NOT NULL,
               payload BLOB NOT NULL, hash BLOB NOT NULL, UNIQUE(stream, version));",
        )
        .unwrap();
        let next: u64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0)).unwrap() as u64;
        Self { conn: Mutex::new(conn), state: Mutex::new((next, [0; 32])) }
    }
}

impl Engine for Sqlite {
    fn append(&self, stream: &str, payloads: Vec<Vec<u8>>) {
        let mut conn = self.conn.lock().unwrap();
        let mut st = self.state.lock().unwrap();
        let tx = conn.transaction().unwrap();
        {
            let version: i64 = tx
                .query_row("SELECT COALESCE(MAX(version)+1, 0) FROM events WHERE stream = ?1", [stream], |r| r.get(0))
                .unwrap();
            let mut ins = tx.prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)").unwrap();
            for (i, p) in payloads.into_iter().enumerate() {
                let hash = *blake3::hash(&[&st.1[..], &p].concat()).as_bytes();
                ins.execute(rusqlite::params![
                    st.0 as i64,
                    stream,
                    version + i as i64,
                    &Uuid::new_v4().as_bytes()[..],
                    "bench.event",
                    0i64,
                    p,
                    &hash[..]
                ])
                .unwrap();
                st.0 += 1;
                st.1 = hash;
            }
        }
        tx.commit().unwrap();
    }
    fn read_all(&self) -> (u64, u64) {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare("SELECT position, stream, version, event_id, event_type, recorded_at, payload, hash FROM events ORDER BY position").unwrap();
        let mut rows = stmt.query([]).unwrap();
        let (mut n, mut sum) = (0, 0u64);
        while let Some(r) = rows.next().unwrap() {
            let rec = PlainRecord {
                position: r.get::<_, i64>(0).unwrap() as u64,
                stream: r.get(1).unwrap(),
                version: r.get::<_, i64>(2).unwrap() as u64,
                event_id: r.get::<_, Vec<u8>>(3).unwrap().try_into().unwrap(),
                event_type: r.get(4).unwrap(),
                recorded_at: r.get(5).unwrap(),
                payload: r.get(6).unwrap(),
                hash: r.get::<_, Vec<u8>>(7).unwrap().try_into().unwrap(),
            };
            n += 1;
            sum = sum.wrapping_add(rec.payload[0] as u64);
        }
        (n, sum)
    }
}

/// The engines, by the index `ANQUAN_BENCH_ENGINES` uses.
const NAMES: [&str; 4] =
    ["anquan", "plain sled (key per event)", "SQLite WAL (synchronous=FULL)", "PostgreSQL (fsync, synchronous_commit)"];

/// Opens engine `kind` in `dir`; `None` when PostgreSQL is not available (said once on stderr).
fn open_engine(kind: usize, dir: &Path) -> Option<Box<dyn Engine>> {
    Some(match kind {
        0 => Box::new(Anquan(EventStore::open(dir).unwrap())),
        1 => Box::new(PlainSled::open(dir)),
        2 => Box::new(Sqlite::open(dir)),
        _ => return open_postgres(dir).map(|p| Box::new(p) as Box<dyn Engine>),
    })
}

fn open_postgres(dir: &Path) -> Option<postgres_peer::Postgres> {
    static SAID: std::sync::Once = std::sync::Once::new();
    match postgres_peer::PgServer::start(dir).and_then(postgres_peer::Postgres::open) {
        Ok(p) => Some(p),
        Err(why) => {
            SAID.call_once(|| eprintln!("PostgreSQL peer skipped: {why}"));
            None
        }
    }
}

/// Events per second, and the latency of single appends (p50, p99, max), as one run measured them.
struct AppendRun {
    rate: f64,
    latencies: Vec<Duration>,
    /// Events written, wall time and the process's CPU time (user + system) over the run.
    events: usize,
    wall: Duration,
    cpu: Option<Duration>,
}

impl AppendRun {
    fn latency(&self) -> String {
        let at = |q: f64| self.latencies[((self.latencies.len() - 1) as f64 * q) as usize];
        if self.latencies.is_empty() {
            return String::new();
        }
        format!("append latency p50 {:?}, p99 {:?}, max {:?}; {}", at(0.5), at(0.99), at(1.0), self.cpu_use())
    }

    /// CPU per event and cores busy over the run.
    fn cpu_use(&self) -> String {
        match self.cpu {
            Some(cpu) => format!(
                "CPU {:.1} µs per event, {:.2} cores busy",
                cpu.as_secs_f64() * 1e6 / self.events.max(1) as f64,
                cpu.as_secs_f64() / self.wall.as_secs_f64()
            ),
            None => "CPU unknown".to_string(),
        }
    }
}

/// The process's CPU time so far, user and system (`getrusage`).
fn process_cpu() -> Option<Duration> {
    // SAFETY: `getrusage` only writes the struct it is given, which lives on this stack.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Some(tv(usage.ru_utime) + tv(usage.ru_stime))
}

/// The process's CPU time since `before` (a `process_cpu` reading).
fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    process_cpu().zip(before).map(|(after, before)| after.saturating_sub(before))
}

/// `threads` threads append `per_append`-event batches until `total` events are written.
fn run_appends(engine: &dyn Engine, threads: usize, per_append: usize, total: usize, seed: u64) -> AppendRun {
    let counter = AtomicU64::new(0);
    let appends = (total / per_append) as u64;
    let cpu_before = process_cpu();
    let start = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let counter = &counter;
                s.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + t as u64);
                    let mut mine = Vec::new();
                    while counter.fetch_add(1, Ordering::Relaxed) < appends {
                        let stream = format!("stream-{}", rng.gen_range(0..1000));
                        let p = (0..per_append).map(|_| payload(&mut rng)).collect();
                        let began = Instant::now();
                        engine.append(&stream, p);
                        mine.push(began.elapsed());
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let wall = start.elapsed();
    let cpu = cpu_since(cpu_before);
    let events = appends as usize * per_append;
    let rate = events as f64 / wall.as_secs_f64();
    latencies.sort_unstable();
    AppendRun { rate, latencies, events, wall, cpu }
}

/// What a durable single-event append costs before any store work: `threads` callers each queue
/// a request and sleep on their own reply slot (a mutex and a condition variable, as the store's
/// callers do), one thread takes what is queued and wakes each caller. No I/O, no encoding; so
/// its CPU per hand-off is the floor under the store's CPU per event for 32 threads x 1 event.
fn hand_off_floor(threads: usize, rounds: u64) -> AppendRun {
    use std::sync::Condvar;
    let slots: Vec<(Mutex<u64>, Condvar)> = (0..threads).map(|_| (Mutex::new(0), Condvar::new())).collect();
    let queue: (Mutex<Vec<usize>>, Condvar) = (Mutex::new(Vec::new()), Condvar::new());
    let total = threads as u64 * rounds;
    let cpu_before = process_cpu();
    let start = Instant::now();
    std::thread::scope(|s| {
        for (i, slot) in slots.iter().enumerate() {
            let queue = &queue;
            s.spawn(move || {
                for round in 0..rounds {
                    queue.0.lock().unwrap().push(i);
                    queue.1.notify_one();
                    let mut answered = slot.0.lock().unwrap();
                    while *answered <= round {
                        answered = slot.1.wait(answered).unwrap();
                    }
                }
            });
        }
        let mut done = 0;
        while done < total {
            let batch = {
                let mut queued = queue.0.lock().unwrap();
                while queued.is_empty() {
                    queued = queue.1.wait(queued).unwrap();
                }
                std::mem::take(&mut *queued)
            };
            for i in batch {
                *slots[i].0.lock().unwrap() += 1;
                slots[i].1.notify_one();
                done += 1;
            }
        }
    });
    let wall = start.elapsed();
    let cpu = cpu_since(cpu_before);
    AppendRun { rate: total as f64 / wall.as_secs_f64(), latencies: Vec::new(), events: total as usize, wall, cpu }
}

/// `ANQUAN_BENCH_ONLY=32 threads` runs only workloads whose label contains the text.
fn wanted(label: &str) -> bool {
    std::env::var("ANQUAN_BENCH_ONLY").map(|w| label.contains(&w)).unwrap_or(true)
}

/// `ANQUAN_BENCH_ENGINES=0,2` runs only those engines (0 anquan, 1 plain sled, 2 SQLite, 3 PostgreSQL).
fn engine_wanted(k: usize) -> bool {
    std::env::var("ANQUAN_BENCH_ENGINES").map(|e| e.split(',').any(|x| x.trim() == k.to_string())).unwrap_or(true)
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if !filter.is_empty() && !filter.iter().any(|f| "compare".contains(f.as_str())) {
        return;
    }
    let single = env_usize("ANQUAN_BENCH_APPENDS", 20_000);
    let big = env_usize("ANQUAN_BENCH_EVENTS", 200_000);
    let reads = env_usize("ANQUAN_BENCH_READS", 1).max(1);
    let root = tempfile::tempdir().unwrap();
    // The PostgreSQL server may run as another user (it refuses root): it must reach its folder.
    std::fs::set_permissions(root.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let names = NAMES;
    let mut rows: Vec<(String, [f64; 4], &str)> = Vec::new();

    for (label, threads, per_append, total) in [
        ("durable append, 32 threads x 1 event (events/s)", 32, 1, single),
        ("durable append, 1 thread x 1 event (events/s)", 1, 1, single / 10),
        ("durable append, 1 thread x 100 events (events/s)", 1, 100, big),
        ("durable append, 32 threads x 100 events (events/s)", 32, 100, big),
    ] {
        let mut fig = [0.0; 4];
        if !wanted(label) {
            continue;
        }
        for (k, f) in fig.iter_mut().enumerate() {
            if !engine_wanted(k) {
                continue;
            }
            let dir = root.path().join(format!("{label}-{k}").replace([' ', '(', ')', '/', ','], "_"));
            let Some(engine) = open_engine(k, &dir) else { continue };
            let run = run_appends(engine.as_ref(), threads, per_append, total, 42);
            *f = run.rate;
            eprintln!("{label}: {} {:.0}{}; {}", names[k], f, engine.report(), run.latency());
            // A caller of one event waits for at least one whole sync, and syncs do not overlap,
            // so `threads` such callers get at most `threads / mean sync` events per second.
            if let (1, Some(sync)) = (per_append, engine.mean_sync()) {
                let ceiling = threads as f64 / sync;
                eprintln!(
                    "  ceiling set by the disk's syncs: {threads} / {:.0} µs = {ceiling:.0} events/s; reached {:.0}%",
                    sync * 1e6,
                    100.0 * *f / ceiling
                );
            }
        }
        rows.push((label.to_string(), fig, "higher is better"));
    }
    if wanted("32 threads x 1 event") {
        let floor = hand_off_floor(32, 3_000);
        eprintln!(
            "hand-off floor, no store: 32 threads each sleeping on a reply slot, one thread answering: {:.0} hand-offs/s; {} (one hand-off per event)",
            floor.rate,
            floor.cpu_use()
        );
    }

    // Cold read and size: build a `big`-event store per engine with 100-event appends, reopen, read.
    let mut read = [0.0; 4];
    let mut bytes = [0.0; 4];
    for k in (0..4).filter(|k| engine_wanted(*k) && wanted("cold read")) {
        let dir = root.path().join(format!("read-{k}"));
        // PostgreSQL keeps its server between the fill and the reads, restarted before each read.
        let mut pg = if k == 3 {
            match open_postgres(&dir) {
                Some(p) => Some(p),
                None => continue,
            }
        } else {
            None
        };
        {
            let rate = match &pg {
                Some(p) => run_appends(p, 1, 100, big, 7).rate,
                None => run_appends(open_engine(k, &dir).expect("engine").as_ref(), 1, 100, big, 7).rate,
            };
            eprintln!("filled {big} events at {rate:.0} events/s (1 thread x 100 events): {}", names[k]);
        }
        eprintln!("after fill: {}", mem_status());
        // PostgreSQL: the table with its indexes (its folder holds a catalogue and WAL segments
        // of fixed size besides); the others: their whole folder.
        bytes[k] = match &pg {
            Some(p) => p.table_bytes() as f64,
            None => dir_size(&dir) as f64,
        } / big as f64;
        // One read takes a fraction of a second, so on a shared machine one sample says little:
        // the row is the median of `reads` reopen-and-read samples.
        let mut rates = Vec::with_capacity(reads);
        for _ in 0..reads {
            let reopened = match pg.as_mut() {
                Some(p) => {
                    p.restart().expect("restart PostgreSQL");
                    None
                }
                None => open_engine(k, &dir),
            };
            let engine: &dyn Engine = match (&pg, &reopened) {
                (Some(p), _) => p,
                (None, Some(e)) => e.as_ref(),
                (None, None) => unreachable!("only PostgreSQL opens as None, and it is in `pg`"),
            };
            let start = Instant::now();
            let (n, _) = engine.read_all();
            assert_eq!(n as usize, big, "{} read back {n} events", names[k]);
            rates.push(n as f64 / start.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        read[k] = rates[rates.len() / 2];
        let samples: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        eprintln!(
            "cold read_all: {} {:.0} events/s (median of {reads}: {}), {:.0} bytes/event",
            names[k],
            read[k],
            samples.join(" "),
            bytes[k]
        );
        eprintln!("after read: {}", mem_status());
    }
    rows.push((format!("cold read_all after reopen, {big} events (events/s)"), read, "higher is better"));
    rows.push(("bytes on disk per event".to_string(), bytes, "lower is better"));

    println!();
    println!(
        "payload {PAYLOAD} bytes; {} cores; one run, same process, same disk; Rust allocator: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        if cfg!(feature = "mimalloc") { "mimalloc" } else { "system" }
    );
    println!(
        "| workload | anquan | plain sled | SQLite WAL | PostgreSQL | anquan / SQLite | anquan / PostgreSQL | anquan / plain sled |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.2}x", a / b) } else { "—".to_string() };
    for (label, f, _) in &rows {
        println!(
            "| {label} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
            f[0],
            f[1],
            f[2],
            f[3],
            ratio(f[0], f[2]),
            ratio(f[0], f[3]),
            ratio(f[0], f[1])
        );
    }
    // Meaningful per engine when one engine runs (`ANQUAN_BENCH_ENGINES=0`).
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_string()))
    {
        println!("peak resident memory of this process (VmHWM): {peak}");
    }
}
