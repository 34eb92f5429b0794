//! Measurement of projection speed, `cargo bench --bench projections` (nothing about time is
//! asserted): fills a store with hazard and incident events, then prints the rebuild rate of each
//! projection, snapshot write/load times and query times. The figures (counts) are asserted.

use std::time::Instant;

use anquan::domain::hazard::{HazardEvent, HazardGraded, HazardReported, HazardSource, RectificationOrdered};
use anquan::domain::incident::{IncidentEvent, IncidentReported};
use anquan::domain::{DomainEvent, EntityId};
use anquan::projections::accident_stats::{AccidentStats, StatsFilter};
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{load_snapshot, rebuild, save_snapshot, Period, Projection};
use anquan::store::{EventStore, ExpectedVersion, ProposedEvent, StreamAppend, Timestamp};
use chrono::{DateTime, Duration, NaiveDate, Utc};

const HAZARDS: usize = 60_000; // 3 events each
const INCIDENTS: usize = 60_000; // 1 event each

fn id(s: String) -> EntityId {
    EntityId::new(s).unwrap()
}

fn proposed(e: DomainEvent, at: DateTime<Utc>) -> ProposedEvent {
    let (t, v, payload) = e.to_payload().unwrap();
    ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload)
}

fn fill(store: &EventStore) {
    let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut batch: Vec<StreamAppend> = Vec::new();
    let mut in_batch = 0;
    let flush = |batch: &mut Vec<StreamAppend>, in_batch: &mut usize, force: bool| {
        if *in_batch >= 9_000 || (force && *in_batch > 0) {
            store.append_multi(std::mem::take(batch)).unwrap();
            *in_batch = 0;
        }
    };
    for n in 0..HAZARDS {
        let at = base + Duration::minutes(n as i64 * 7);
        let h = id(format!("h{n}"));
        let by = id("loader".into());
        let events = vec![
            HazardEvent::Reported(HazardReported {
                hazard_id: h.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
                source: HazardSource::GridInspection,
                reporter: "网格员".into(),
                community_id: id(format!("c{}", n % 50)),
                grid_id: None,
                enterprise_id: Some(id(format!("e{}", n % 500))),
                category: "fire".into(),
                location: "楼道".into(),
                description: "堆物".into(),
                found_at: at,
            }),
            HazardEvent::Graded(HazardGraded {
                hazard_id: h.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
                grade: if n % 10 == 0 { "major".into() } else { "general".into() },
                major: n % 10 == 0,
                criterion: "MEM-10".into(),
                criterion_version: "2023".into(),
                catalog_version: "1".into(),
                basis: None,
            }),
            HazardEvent::RectificationOrdered(RectificationOrdered {
                hazard_id: h.clone(),
                recorded_by: by,
                recorded_at: at,
                responsible: Some("负责人".into()),
                measures: Some("整改".into()),
                funds_yuan: Some(100),
                deadline: (at + Duration::days(30)).date_naive(),
                contingency_plan: Some("预案".into()),
            }),
        ];
        let stream = DomainEvent::Hazard(events[0].clone()).stream_id();
        let proposed = events.into_iter().map(|e| proposed(DomainEvent::Hazard(e), at)).collect();
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, proposed));
        in_batch += 3;
        flush(&mut batch, &mut in_batch, false);
    }
    for n in 0..INCIDENTS {
        let at = base + Duration::minutes(n as i64 * 11);
        let e = IncidentEvent::Reported(IncidentReported {
            incident_id: id(format!("i{n}")),
            recorded_by: id("loader".into()),
            recorded_at: at,
            occurred_at: at,
            reported_at: at,
            place: "现场".into(),
            community_id: id(format!("c{}", n % 50)),
            enterprise_id: None,
            category: if n % 3 == 0 { "fire".into() } else { "road_traffic".into() },
            deaths: (n % 4) as u32,
            serious_injuries: 1,
            minor_injuries: 2,
            missing: 0,
            direct_loss_yuan: 1000,
            summary: "事故".into(),
            report_delay_minutes: 10,
            report_limit_minutes: 60,
            reported_late: false,
        });
        let stream = DomainEvent::Incident(e.clone()).stream_id();
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, vec![proposed(DomainEvent::Incident(e), at)]));
        in_batch += 1;
        flush(&mut batch, &mut in_batch, false);
    }
    flush(&mut batch, &mut in_batch, true);
}

fn time_rebuild<P: Projection>(store: &EventStore) -> P {
    let n = store.head().next_position;
    let t = Instant::now();
    let p: P = rebuild(store).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!("rebuild {:<24} {n} events in {s:.3} s = {:.0} events/s", P::NAME, n as f64 / s);
    let t = Instant::now();
    save_snapshot(store, &p, n).unwrap();
    let w = t.elapsed();
    let t = Instant::now();
    let (_, c) = load_snapshot::<P>(store).unwrap().unwrap();
    println!("  snapshot write {w:?}, load {:?} (checkpoint {c})", t.elapsed());
    p
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    let t = Instant::now();
    fill(&store);
    println!("filled {} events in {:?}", store.head().next_position, t.elapsed());
    assert_eq!(store.head().next_position, (HAZARDS * 3 + INCIDENTS) as u64);

    let ledger: HazardLedger = time_rebuild(&store);
    let stats: AccidentStats = time_rebuild(&store);
    let _trails: AccountabilityTrails = time_rebuild(&store);

    let t = Instant::now();
    let open = ledger.open_hazards();
    println!("query open_hazards {:?}", t.elapsed());
    assert_eq!(open.total, HAZARDS as u64);
    let t = Instant::now();
    let rates = ledger.rates(Period::year(2024).unwrap());
    println!("query rates(2024) {:?}", t.elapsed());
    assert!(rates.all.found > 0);
    let t = Instant::now();
    let yoy = stats.year_on_year(2025, None).unwrap();
    println!("query year_on_year {:?}", t.elapsed());
    let t = Instant::now();
    let total = stats.totals(&StatsFilter::new(Period { from: NaiveDate::MIN, to: NaiveDate::MAX }));
    println!("query totals(all) {:?}", t.elapsed());
    assert_eq!(total.incidents, INCIDENTS as u64);
    assert!(yoy.total.incidents.previous > 0);
}
