//! Cluster mode against real `nats-server` processes on loopback, side by side with the sled
//! backend in one run: appends on one node (32 callers of one event each, and 100-event
//! batches) with R1 and R3, three nodes of one R3 cluster appending at once (the 32 callers
//! split across them) next to one node of the same cluster, a fresh replica catching up (R1 and
//! R3), and failover: the stream leader's server killed with SIGKILL under appends, measured and
//! printed (not timed by criterion: each round kills and restarts a server). The catch-up log is
//! fixed: 200,000 events in 100-event commits, written to a tenant of its own.
//! `cargo bench --features cluster --bench cluster` (needs `nats-server`).
//!
//! After each append row the bench prints the events per published message of the node that
//! committed (`StoreStats::published_events / published`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anquan::store::{
    ClusterOptions, Durability, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, StoreStats, Timestamp,
};
use criterion::{criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion, Throughput};

#[path = "../tests/common/nats.rs"]
#[allow(dead_code)]
mod nats;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CALLERS: usize = 32;
const PER_CALLER: usize = 50;

fn proposed(n: usize) -> Vec<ProposedEvent> {
    (0..n).map(|_| ProposedEvent::new("bench.event", 1, Timestamp(0), "bench", vec![b'x'; 100])).collect()
}

fn options(cluster: &nats::NatsCluster, tenant: &str, node: &str, replicas: usize) -> StoreOptions {
    let mut c = ClusterOptions::new(cluster.urls(), tenant, node);
    c.replicas = replicas;
    c.connect_timeout = Duration::from_secs(20);
    StoreOptions { cluster: Some(c), ..StoreOptions::default() }
}

/// `CALLERS` threads, caller `t` appending `PER_CALLER` single events through `stores[t % n]`.
fn callers(stores: &[&EventStore]) {
    std::thread::scope(|s| {
        for t in 0..CALLERS {
            let store = stores[t % stores.len()];
            s.spawn(move || {
                for _ in 0..PER_CALLER {
                    store.append(&format!("s-{t}"), ExpectedVersion::Any, proposed(1)).unwrap();
                }
            });
        }
    });
}

/// Prints what group commit achieved between `before` and now on `store`, and its local syncs.
fn report_grouping(row: &str, store: &EventStore, before: StoreStats) {
    let now = store.stats();
    let (messages, published) = (now.published - before.published, now.published_events - before.published_events);
    let (commits, events) = (now.commits - before.commits, now.events - before.events);
    let (syncs, sync_nanos) = (now.syncs - before.syncs, now.sync_nanos - before.sync_nanos);
    let grouping = if messages > 0 {
        format!(
            "{published} events in {messages} messages, {:.1} events per message",
            published as f64 / messages as f64
        )
    } else {
        format!("{events} events in {commits} group commits, {:.1} per commit", events as f64 / commits.max(1) as f64)
    };
    println!(
        "{row}: {grouping}; {syncs} local syncs of {:.0} µs on average",
        sync_nanos as f64 / syncs.max(1) as f64 / 1e3
    );
}

/// The 32×1 and batch-100 rows for `stores` (the callers split across them; the batches and the
/// events-per-message report on the first).
fn append_rows(g: &mut BenchmarkGroup<'_, WallTime>, prefix: &str, stores: &[&EventStore], batches: bool) {
    g.throughput(Throughput::Elements((CALLERS * PER_CALLER) as u64));
    let before = stores[0].stats();
    let row = format!("{prefix}_{CALLERS}_callers_x1");
    g.bench_function(&row, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                callers(stores);
            }
            started.elapsed()
        })
    });
    report_grouping(&row, stores[0], before);
    if batches {
        g.throughput(Throughput::Elements(100));
        let before = stores[0].stats();
        let row = format!("{prefix}_batch_100");
        g.bench_function(&row, |b| b.iter(|| stores[0].append("batch", ExpectedVersion::Any, proposed(100)).unwrap()));
        report_grouping(&row, stores[0], before);
    }
}

/// Whether the run's filter (criterion's first free argument) can select `row`: the catch-up log
/// and the failover rounds are set up only when they are measured.
fn wanted(row: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|f| row.contains(&f) || f.contains(row))
}

/// Events in the log a fresh replica replays, written in appends of 100 (one message each).
const CATCH_UP_EVENTS: u64 = 200_000;

/// Writes [`CATCH_UP_EVENTS`] to tenant `catchup` of `servers`, then times a fresh replica (an
/// empty folder) replaying them.
fn catch_up_row(g: &mut BenchmarkGroup<'_, WallTime>, servers: &nats::NatsCluster, replicas: usize) {
    let row = format!("r{replicas}_fresh_replica_catch_up");
    if !wanted(&row) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let writer = EventStore::open_dir(dir.path(), options(servers, "catchup", "w", replicas)).unwrap();
    for i in 0..CATCH_UP_EVENTS / 100 {
        writer.append(&format!("c-{}", i % 1_000), ExpectedVersion::Any, proposed(100)).unwrap();
    }
    drop(writer);
    g.throughput(Throughput::Elements(CATCH_UP_EVENTS));
    g.bench_function(&row, |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for i in 0..iters {
                let fresh = tempfile::tempdir().unwrap();
                let started = Instant::now();
                let copy =
                    EventStore::open_dir(fresh.path(), options(servers, "catchup", &format!("fresh{i}"), replicas))
                        .unwrap();
                took += started.elapsed();
                assert_eq!(copy.head().next_position, CATCH_UP_EVENTS);
            }
            took
        })
    });
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("cluster_append");
    g.sample_size(10).measurement_time(Duration::from_secs(10));

    // The embedded default, for the ratios.
    {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open_dir(dir.path(), StoreOptions::default()).unwrap();
        append_rows(&mut g, "sled", &[&store], true);
    }

    {
        let servers = nats::NatsCluster::start(1);
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open_dir(dir.path(), options(&servers, "bench", "a", 1)).unwrap();
        append_rows(&mut g, "r1", &[&store], true);
        catch_up_row(&mut g, &servers, 1);
    }

    {
        let servers = nats::NatsCluster::start(3);
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let a = EventStore::open_dir(dirs[0].path(), options(&servers, "bench", "a", 3)).unwrap();
        append_rows(&mut g, "r3", &[&a], true);
        {
            // Diagnostic: the same node with its local folder synced on a timer, not per commit
            // (`Durability::Deferred`), to show what the local fsync costs on top of the quorum.
            let dir = tempfile::tempdir().unwrap();
            let mut o = options(&servers, "deferred", "d", 3);
            o.durability = Durability::Deferred { flush_interval: Duration::from_millis(100) };
            let d = EventStore::open_dir(dir.path(), o).unwrap();
            append_rows(&mut g, "r3_local_deferred", &[&d], false);
        }
        // Two more nodes of the tenant: they follow the log, and take their share of the callers.
        let b = EventStore::open_dir(dirs[1].path(), options(&servers, "bench", "b", 3)).unwrap();
        let c = EventStore::open_dir(dirs[2].path(), options(&servers, "bench", "c", 3)).unwrap();
        // The leader first, so the events-per-message report is of the node that publishes.
        let mut nodes = [&a, &b, &c];
        nodes.sort_by_key(|s| !s.is_cluster_leader());
        append_rows(&mut g, "r3_one_of_3_nodes", &[nodes[0]], false);
        append_rows(&mut g, "r3_3_nodes", &nodes, false);
        drop((b, c));
        catch_up_row(&mut g, &servers, 3);
    }
    g.finish();
}

/// Kills the stream leader's server under 8 appending callers, three rounds, and prints, per
/// round: the time from the kill until an append started after the kill is acknowledged, and
/// the longest time between two acknowledgements (any caller) around the kill.
fn failover(_: &mut Criterion) {
    if !wanted("failover") {
        return;
    }
    const ROUNDS: usize = 3;
    const FAILOVER_CALLERS: usize = 8;
    let mut servers = nats::NatsCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open_dir(dir.path(), options(&servers, "failover", "a", 3)).unwrap();
    store.append("warm", ExpectedVersion::Any, proposed(1)).unwrap();
    let mut resumed = Vec::new();
    let mut gaps = Vec::new();
    for round in 0..ROUNDS {
        let leader = servers.stream_leader("anquan_failover").expect("the stream has a leader");
        let stop = AtomicBool::new(false);
        // (started, acknowledged) of every append that succeeded.
        let acks: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());
        let mut killed_at = Instant::now();
        std::thread::scope(|s| {
            for t in 0..FAILOVER_CALLERS {
                let (store, stop, acks) = (&store, &stop, &acks);
                s.spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let started = Instant::now();
                        if store.append(&format!("f-{t}"), ExpectedVersion::Any, proposed(1)).is_ok() {
                            acks.lock().unwrap().push((started, Instant::now()));
                        }
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(1));
            killed_at = Instant::now();
            servers.kill(leader);
            let deadline = killed_at + Duration::from_secs(60);
            while Instant::now() < deadline && !acks.lock().unwrap().iter().any(|(started, _)| *started > killed_at) {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_secs(1));
            stop.store(true, Ordering::Release);
        });
        let mut acks = acks.into_inner().unwrap();
        acks.sort_by_key(|(_, acked)| *acked);
        let resume = acks.iter().filter(|(started, _)| *started > killed_at).map(|(_, acked)| *acked - killed_at).min();
        let gap = acks.windows(2).map(|w| w[1].1 - w[0].1).max().unwrap_or_default();
        println!(
            "failover round {round}: killed server n{leader} (stream leader); an append started after the kill acknowledged {resume:?} after it; longest gap between acknowledgements {gap:?}; {} appends acknowledged",
            acks.len()
        );
        resumed.push(resume.unwrap_or(Duration::MAX));
        gaps.push(gap);
        servers.restart(leader);
        // Let the restarted server catch up before the next round kills another.
        std::thread::sleep(Duration::from_secs(3));
    }
    resumed.sort();
    gaps.sort();
    println!(
        "failover median of {ROUNDS}: writes resumed {:?} after the kill; longest gap {:?}",
        resumed[ROUNDS / 2],
        gaps[ROUNDS / 2]
    );
}

criterion_group!(benches, append, failover);
criterion_main!(benches);
