//! Cluster mode against real `nats-server` processes on loopback: appends on one node (32
//! callers of one event each, and 100-event batches) with R1 and R3, and a fresh replica
//! catching up. `cargo bench --features cluster --bench cluster` (needs `nats-server`).

use std::time::{Duration, Instant};

use anquan::store::{ClusterOptions, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, Timestamp};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

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

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("cluster_append");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for replicas in [1, 3] {
        let servers = nats::NatsCluster::start(replicas);
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open_dir(dir.path(), options(&servers, "bench", "a", replicas)).unwrap();
        g.throughput(Throughput::Elements((CALLERS * PER_CALLER) as u64));
        g.bench_function(format!("r{replicas}_{CALLERS}_callers_x1"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    std::thread::scope(|s| {
                        for t in 0..CALLERS {
                            let store = &store;
                            s.spawn(move || {
                                for _ in 0..PER_CALLER {
                                    store.append(&format!("s-{t}"), ExpectedVersion::Any, proposed(1)).unwrap();
                                }
                            });
                        }
                    });
                }
                started.elapsed()
            })
        });
        g.throughput(Throughput::Elements(100));
        g.bench_function(format!("r{replicas}_batch_100"), |b| {
            b.iter(|| store.append("batch", ExpectedVersion::Any, proposed(100)).unwrap())
        });

        // A fresh replica replays the whole log written above.
        let events = store.head().next_position;
        g.throughput(Throughput::Elements(events));
        g.sample_size(10);
        g.bench_function(format!("r{replicas}_fresh_replica_catch_up"), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for i in 0..iters {
                    let fresh = tempfile::tempdir().unwrap();
                    let started = Instant::now();
                    let copy =
                        EventStore::open_dir(fresh.path(), options(&servers, "bench", &format!("r{i}"), replicas))
                            .unwrap();
                    took += started.elapsed();
                    assert_eq!(copy.head().next_position, events);
                }
                took
            })
        });
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
