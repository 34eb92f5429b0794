//! Measurement of the HTTP service under load, `cargo bench --bench http` (nothing about time is
//! asserted): N client threads (default 32), each on its own keep-alive connection over
//! loopback, post distinct hazard reports to `POST /v1/commands` for a fixed time, while one
//! more thread asks `GET /v1/stats` in a loop; then the same commands, as JSON, go to the
//! engine called directly from N threads for the same time. Printed: commands/s and p50/p99
//! latency of both, their ratio, and the p50/p99 of the statistics question under the write
//! load. Every command is checked to have been committed (201).
//!
//! `ANQUAN_BENCH_SECONDS` (default 10) and `ANQUAN_BENCH_CONNECTIONS` (default 32) change the
//! run. The store is a real one in a temporary folder, with roles enforced and tokens, as
//! `anquan serve` runs it; the server runs in this process (tokio, two worker threads).

#[path = "../tests/http_common/mod.rs"]
mod http_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_common::{envelope, hazard_report, Client, Served};

/// The allocator the `anquan` binary uses (see `Cargo.toml`); `--no-default-features` measures
/// under the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Latencies of one run, and how long it lasted.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len().max(1)) - 1;
        self.latencies.get(i).copied().unwrap_or_default()
    }

    fn line(&mut self, label: &str) -> String {
        format!(
            "{label:<34} {:>9.0}/s   p50 {:>8.2} ms   p99 {:>8.2} ms   ({} in {:.1} s)",
            self.rate(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.latencies.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs `threads` workers for `duration`, each calling `work(thread, i)` in a loop; the
/// latencies of all calls.
fn drive(threads: usize, duration: Duration, work: impl Fn(usize, usize) + Send + Sync + 'static) -> Run {
    let work = Arc::new(work);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let work = work.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut i = 0;
                while started.elapsed() < duration {
                    let at = Instant::now();
                    work(t, i);
                    latencies.push(at.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let latencies = workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect();
    Run { latencies, elapsed: started.elapsed() }
}

fn command(thread: usize, i: usize) -> String {
    envelope("grid-7", hazard_report(&format!("H-{thread}-{i}"), "jd-01")).to_string()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = setting("ANQUAN_BENCH_SECONDS", 10);
    let connections = setting("ANQUAN_BENCH_CONNECTIONS", 32) as usize;
    let duration = Duration::from_secs(seconds);
    println!("{connections} connections / threads, {seconds} s each run");

    // Over HTTP, with the statistics asked all along.
    let served = Served::start();
    let base = served.base.clone();
    let token = served.tokens.grid.clone();
    let writing = Arc::new(AtomicBool::new(true));
    let reader = {
        let (c, token, writing) = (Client::new(&base), served.tokens.viewer.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let started = Instant::now();
            while writing.load(Ordering::Relaxed) {
                let at = Instant::now();
                let r = c.get("/v1/stats", Some(&token));
                latencies.push(at.elapsed());
                assert_eq!(r.status, 200, "{}", r.body);
            }
            Run { latencies, elapsed: started.elapsed() }
        })
    };
    let clients: Vec<Client> = (0..connections).map(|_| Client::new(&base)).collect();
    let clients = Arc::new(clients);
    let mut http = drive(connections, duration, move |t, i| {
        let r = clients[t].post_raw("/v1/commands", Some(&token), Some("application/json"), command(t, i).as_bytes());
        assert_eq!(r.status, 201, "{}", r.body);
    });
    writing.store(false, Ordering::Relaxed);
    let mut stats = reader.join().expect("the reader");
    let head = served.head();
    drop(served);

    // The engine called directly, on a store seeded the same way.
    let temp = tempfile::tempdir().expect("a temporary folder");
    let dir = temp.path().join("store");
    http_common::seed(&dir);
    let engine = Arc::new(http_common::open_engine(&dir));
    let e = engine.clone();
    let mut direct = drive(connections, duration, move |t, i| {
        let out = e.execute_json(&command(t, i)).expect("committed");
        assert!(!out.already_committed);
    });

    println!("{}", http.line("HTTP POST /v1/commands"));
    println!("{}", direct.line("engine.execute_json (direct)"));
    println!("HTTP / direct: {:.2}x", http.rate() / direct.rate());
    println!("{}", stats.line("GET /v1/stats under that load"));
    println!("log: {head} events after the HTTP run");
}
