//! criterion micro-benches of the domain's payload codec: an incident report's payload encoded
//! and decoded (`DomainEvent::to_payload` / `from_payload`), and one stored timestamp decoded
//! by chrono's own `Deserialize` against `events::wire_time` side by side. `cargo bench --bench domain`.

use anquan::events::incident::{IncidentEvent, IncidentReported};
use anquan::events::{DomainEvent, EntityId};
use anquan::internals::codec;
use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::Deserialize;

/// The allocator the `anquan` binary uses (see `Cargo.toml`); `--no-default-features` measures
/// under the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn id(s: &str) -> EntityId {
    EntityId::new(s.to_string()).unwrap()
}

fn incident_reported() -> DomainEvent {
    let at = Utc.with_ymd_and_hms(2025, 3, 5, 8, 30, 0).unwrap();
    DomainEvent::Incident(IncidentEvent::Reported(IncidentReported {
        incident_id: id("i-2025-000123"),
        recorded_by: id("street-office-07"),
        recorded_at: at,
        occurred_at: at,
        reported_at: at,
        place: "幸福路12号仓库".into(),
        community_id: id("c7"),
        enterprise_id: None,
        category: "fire".into(),
        deaths: 1,
        serious_injuries: 1,
        minor_injuries: 2,
        missing: 0,
        direct_loss_yuan: 120_000,
        summary: "仓库电气线路短路起火".into(),
        report_delay_minutes: 10,
        report_limit_minutes: 60,
        reported_late: false,
    }))
}

#[derive(Deserialize)]
struct ByChrono(#[allow(dead_code)] DateTime<Utc>);

#[derive(Deserialize)]
struct ByWireTime(
    #[serde(deserialize_with = "anquan::internals::wire_time::utc")]
    #[allow(dead_code)]
    DateTime<Utc>,
);

fn payload(c: &mut Criterion) {
    let event = incident_reported();
    let (event_type, version, bytes) = event.to_payload().unwrap();
    let mut g = c.benchmark_group("payload");
    g.bench_function("encode_incident_reported", |b| b.iter(|| std::hint::black_box(&event).to_payload().unwrap()));
    g.bench_function("decode_incident_reported", |b| {
        b.iter(|| DomainEvent::from_payload(event_type, version, std::hint::black_box(&bytes)).unwrap())
    });
    g.finish();

    let stored = codec::encode(&Utc.with_ymd_and_hms(2025, 3, 5, 8, 30, 0).unwrap()).unwrap();
    let mut g = c.benchmark_group("timestamp");
    g.bench_function("decode_chrono", |b| b.iter(|| codec::decode::<ByChrono>(std::hint::black_box(&stored)).unwrap()));
    g.bench_function("decode_wire_time", |b| {
        b.iter(|| codec::decode::<ByWireTime>(std::hint::black_box(&stored)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, payload);
criterion_main!(benches);
