//! criterion micro-benches: record encode/decode, segment decode, append (deferred and durable),
//! read_all. `cargo bench --bench store`.

use std::time::Duration;

use anquan::internals::layout::{self, RecordRef, SegmentBuilder};
use anquan::store::{
    Direction, Durability, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, StreamAppend, Timestamp,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// The allocator the `anquan` binary uses (see `Cargo.toml`); `--no-default-features` measures
/// under the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn record(i: u64) -> Vec<u8> {
    layout::encode_record(&RecordRef {
        position: i,
        stream: "hazard-000042",
        version: i,
        event_type: "hazard.reported",
        schema_version: 1,
        event_id: [7; 16],
        occurred_at: 1_767_225_600_000_000,
        recorded_at: 1_767_225_600_000_000,
        actor: "grid-inspector-07",
        correlation_id: None,
        causation_id: None,
        payload: &[b'x'; 100],
    })
    .unwrap()
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_record", |b| b.iter(|| record(std::hint::black_box(5))));
    // What a read would pay per event if the chain hash were recomputed instead of stored.
    let one = record(5);
    g.bench_function(format!("chain_hash_{}_byte_record", one.len()), |b| {
        b.iter(|| layout::chain_hash(std::hint::black_box(&[3; 32]), std::hint::black_box(&one)))
    });
    let mut seg = SegmentBuilder::new(0, &[0; 32]);
    let mut prev = [0u8; 32];
    for i in 0..100 {
        let r = record(i);
        let h = layout::chain_hash(&prev, &r);
        seg.push(&r, &h);
        prev = h;
    }
    let (_, bytes) = seg.finish();
    g.throughput(Throughput::Elements(100));
    g.bench_function("decode_segment_100", |b| {
        b.iter(|| layout::decode_segment(std::hint::black_box(&bytes)).unwrap())
    });
    // What a read pays for a segment stored as it is before decoding it: the frame's check
    // (XXH3-64 over its bytes) and one copy out of the read buffer.
    let frame = anquan::internals::value_log::frame_as_is(&bytes);
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function(format!("unframe_stored_segment_{}_bytes", frame.len()), |b| {
        b.iter(|| anquan::internals::value_log::unframe(std::hint::black_box(&frame)).unwrap())
    });
    g.finish();
}

fn proposed(n: usize) -> Vec<ProposedEvent> {
    (0..n).map(|_| ProposedEvent::new("bench.event", 1, Timestamp(0), "bench", vec![b'x'; 100])).collect()
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let deferred = EventStore::open_dir(
        dir.path(),
        StoreOptions {
            durability: Durability::Deferred { flush_interval: Duration::from_millis(100) },
            ..Default::default()
        },
    )
    .unwrap();
    g.throughput(Throughput::Elements(100));
    g.bench_function("deferred_batch_100", |b| {
        b.iter_batched(
            || proposed(100),
            |evs| deferred.append("s-1", ExpectedVersion::Any, evs).unwrap(),
            BatchSize::SmallInput,
        )
    });
    drop(deferred);
    let dir2 = tempfile::tempdir().unwrap();
    let durable = EventStore::open(dir2.path()).unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("durable_single", |b| {
        b.iter_batched(
            || proposed(1),
            |evs| durable.append("s-1", ExpectedVersion::Any, evs).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EventStore::open_dir(
            dir.path(),
            StoreOptions {
                durability: Durability::Deferred { flush_interval: Duration::from_millis(100) },
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..100 {
            store.append(&format!("s-{}", i % 10), ExpectedVersion::Any, proposed(100)).unwrap();
        }
        // Segments shared by 50 streams, 2 events each: what a host's concurrent commands make.
        for _ in 0..100 {
            let appends =
                (0..50).map(|k| StreamAppend::new(format!("m-{k}"), ExpectedVersion::Any, proposed(2))).collect();
            store.append_multi(appends).unwrap();
        }
    }
    let store = EventStore::open(dir.path()).unwrap();
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("read_all_10k", |b| b.iter(|| store.read_all(0, Direction::Forward, 10_000).unwrap()));
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("read_stream_1k", |b| {
        b.iter(|| store.read_stream("s-3", 0, Direction::Forward, usize::MAX).unwrap())
    });
    g.throughput(Throughput::Elements(200));
    g.bench_function("read_stream_200_of_10k_mixed", |b| {
        b.iter(|| store.read_stream("m-7", 0, Direction::Forward, usize::MAX).unwrap())
    });
    g.finish();
}

criterion_group!(benches, codec, append, read);
criterion_main!(benches);
