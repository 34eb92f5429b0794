//! The one-pass rebuild of all projections (`rebuild_all`): over more than a page of events it
//! runs as a reading thread and a folding thread (either may decode a page), and must give
//! every projection the state its own rebuild gives; undecodable events are errors only when a
//! projection reads their type.

use anquan::events::hazard::{HazardClosed, HazardEvent, HazardGraded, HazardReported, HazardSource};
use anquan::events::incident::{IncidentEvent, IncidentReported};
use anquan::events::{DomainEvent, EntityId};
use anquan::projections::accident_stats::{AccidentStats, StatsFilter};
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::injury_surveillance::InjurySurveillance;
use anquan::projections::promotion::PromotionProjects;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{
    rebuild, rebuild_all, replay_all_range, state_bytes, AllProjections, Period, ProjectionError, PAGE,
};
use anquan::store::{EventStore, ExpectedVersion, ProposedEvent, StreamAppend, Timestamp};
use chrono::{DateTime, Duration, Utc};

fn id(s: &str) -> EntityId {
    EntityId::new(s.to_string()).unwrap()
}

fn proposed(e: DomainEvent, at: DateTime<Utc>) -> ProposedEvent {
    let (t, v, payload) = e.to_payload().unwrap();
    ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload)
}

/// `hazards` hazards (reported, graded; every third closed) and `incidents` incidents with
/// `n % 3` deaths, in appends of up to 1,000 streams; returns the events written.
fn fill(store: &EventStore, hazards: usize, incidents: usize) -> u64 {
    fill_from(store, 0, hazards, incidents)
}

/// As [`fill`], numbering hazards and incidents from `first` (so a second fill adds new ones).
fn fill_from(store: &EventStore, first: usize, hazards: usize, incidents: usize) -> u64 {
    let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut appends = Vec::new();
    let mut written = 0u64;
    for n in first..first + hazards {
        let at = base + Duration::hours(n as i64);
        let h = id(&format!("h{n}"));
        let mut events = vec![
            HazardEvent::Reported(HazardReported {
                hazard_id: h.clone(),
                recorded_by: id("loader"),
                recorded_at: at,
                source: HazardSource::GridInspection,
                reporter: "网格员".into(),
                community_id: id(&format!("c{}", n % 4)),
                grid_id: None,
                enterprise_id: None,
                category: "fire".into(),
                location: "楼道".into(),
                description: "堆物".into(),
                found_at: at,
            }),
            HazardEvent::Graded(HazardGraded {
                hazard_id: h.clone(),
                recorded_by: id("loader"),
                recorded_at: at,
                grade: "general".into(),
                major: n % 5 == 0,
                criterion: "MEM-10".into(),
                criterion_version: "2023".into(),
                catalog_version: "1".into(),
                basis: None,
            }),
        ];
        if n % 3 == 0 {
            events.push(HazardEvent::Closed(HazardClosed {
                hazard_id: h.clone(),
                recorded_by: id("loader"),
                recorded_at: at + Duration::days(3),
                remarks: None,
            }));
        }
        let stream = DomainEvent::Hazard(events[0].clone()).stream_id();
        written += events.len() as u64;
        let events = events.into_iter().map(|e| proposed(DomainEvent::Hazard(e), at)).collect();
        appends.push(StreamAppend::new(stream, ExpectedVersion::NoStream, events));
    }
    for n in first..first + incidents {
        let at = base + Duration::hours(n as i64 * 5);
        let e = IncidentEvent::Reported(IncidentReported {
            incident_id: id(&format!("i{n}")),
            recorded_by: id("loader"),
            recorded_at: at,
            occurred_at: at,
            reported_at: at,
            place: "现场".into(),
            community_id: id(&format!("c{}", n % 4)),
            enterprise_id: None,
            category: "fire".into(),
            deaths: (n % 3) as u32,
            serious_injuries: 0,
            minor_injuries: 1,
            missing: 0,
            direct_loss_yuan: 100,
            summary: "事故".into(),
            report_delay_minutes: 10,
            report_limit_minutes: 60,
            reported_late: false,
        });
        let stream = DomainEvent::Incident(e.clone()).stream_id();
        written += 1;
        appends.push(StreamAppend::new(
            stream,
            ExpectedVersion::NoStream,
            vec![proposed(DomainEvent::Incident(e), at)],
        ));
    }
    while !appends.is_empty() {
        let rest = appends.split_off(appends.len().min(1000));
        store.append_multi(std::mem::replace(&mut appends, rest)).unwrap();
    }
    written
}

#[test]
fn one_pass_over_several_pages_equals_each_projection_rebuilt_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    // 3,000 hazards: 2 events each plus 1,000 closures = 7,000; 2,000 incidents: 9,000 events.
    let written = fill(&store, 3_000, 2_000);
    assert_eq!(written, 9_000);
    assert!(written > 2 * PAGE as u64, "more than two pages, so the two-thread path runs");
    let all = rebuild_all(&store).unwrap();
    let ledger: HazardLedger = rebuild(&store).unwrap();
    let stats: AccidentStats = rebuild(&store).unwrap();
    assert_eq!(all.hazard_ledger, ledger);
    assert_eq!(all.accident_stats, stats);
    assert_eq!(all.trails, rebuild::<AccountabilityTrails>(&store).unwrap());
    assert_eq!(all.injury_surveillance, rebuild::<InjurySurveillance>(&store).unwrap());
    assert_eq!(all.promotion, rebuild::<PromotionProjects>(&store).unwrap());
    assert_eq!(state_bytes(&all.hazard_ledger).unwrap(), state_bytes(&ledger).unwrap());
    // By hand: 1,000 of 3,000 closed (n % 3 == 0) → 2,000 open; majors are n % 5 == 0 (600), of
    // which n % 15 == 0 (200) are closed → 400 open majors; community c0 has n % 4 == 0 (750),
    // of which n % 12 == 0 (250) are closed → 500 open.
    let open = all.hazard_ledger.open_hazards();
    assert_eq!((open.total, open.major), (2_000, 400));
    assert_eq!(open.by_community.get("c0"), Some(&500));
    // Deaths n % 3 over 2,000 incidents: 666 × (0+1+2) + (n = 1998: 0, 1999: 1) = 1,999.
    let t = all
        .accident_stats
        .totals(&StatsFilter::new(Period { from: chrono::NaiveDate::MIN, to: chrono::NaiveDate::MAX }));
    assert_eq!((t.incidents, t.deaths, t.minor_injuries), (2_000, 1_999, 2_000));
    // Catching up in two steps gives the same state: 0..5,001 runs on two threads, the
    // remaining 3,999 (under a page) on one.
    let mut stepwise = AllProjections::default();
    let mid = replay_all_range(&store, &mut stepwise, 0, 5_001).unwrap();
    assert_eq!(mid, 5_001);
    assert_eq!(replay_all_range(&store, &mut stepwise, mid, written).unwrap(), written);
    assert_eq!(stepwise, all);
}

#[test]
fn an_undecodable_event_is_an_error_only_if_a_projection_reads_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    let written = fill(&store, 3_000, 0);
    let at = Timestamp::from_chrono("2025-01-01T00:00:00Z".parse().unwrap());
    // No projection reads enterprise registrations: skipped without decoding.
    let junk = ProposedEvent::new("enterprise.registered", 1, at, "x", vec![0xFF; 3]);
    store.append_multi(vec![StreamAppend::new("enterprise-x", ExpectedVersion::Any, vec![junk])]).unwrap();
    let all = rebuild_all(&store).unwrap();
    assert_eq!(all.hazard_ledger.open_hazards().total, 2_000);
    // The ledger reads hazard events: a broken one is an error naming its position.
    let junk = ProposedEvent::new("hazard.closed", 1, at, "x", vec![0xFF; 3]);
    store.append_multi(vec![StreamAppend::new("hazard-x", ExpectedVersion::Any, vec![junk])]).unwrap();
    match rebuild_all(&store) {
        Err(ProjectionError::Decode { position, event_type, .. }) => {
            assert_eq!((position, event_type.as_str()), (written + 1, "hazard.closed"));
        }
        other => panic!("expected a decode error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn all_five_load_from_snapshots_at_one_checkpoint_and_catch_up_to_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    assert_eq!(AllProjections::load_snapshots(&store).unwrap(), None, "no snapshots yet");
    fill(&store, 300, 60);
    let checkpoint = store.head().next_position;
    rebuild_all(&store).unwrap().save_snapshots(&store, checkpoint).unwrap();

    // Loaded: the state a rebuild at the checkpoint gives.
    let (loaded, at) = AllProjections::load_snapshots(&store).unwrap().expect("five snapshots");
    assert_eq!(at, checkpoint);
    assert_eq!(loaded, rebuild_all(&store).unwrap());

    // More events, folded on top of the snapshots: the state a rebuild from 0 gives.
    fill_from(&store, 1_000, 50, 10);
    let mut caught_up = loaded;
    replay_all_range(&store, &mut caught_up, at, store.head().next_position).unwrap();
    assert_eq!(caught_up, rebuild_all(&store).unwrap());

    // One projection snapshotted at another checkpoint (as a crash between the five batches
    // would leave it): the set is not used.
    anquan::projections::save_snapshot(&store, &rebuild::<HazardLedger>(&store).unwrap(), store.head().next_position)
        .unwrap();
    assert_eq!(AllProjections::load_snapshots(&store).unwrap(), None);
}

#[test]
fn as_of_starts_from_the_snapshots_only_when_they_lie_at_or_before_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path()).unwrap();
    fill(&store, 200, 40);
    let past = store.head().next_position;
    fill_from(&store, 1_000, 100, 20);
    let checkpoint = store.head().next_position;
    rebuild_all(&store).unwrap().save_snapshots(&store, checkpoint).unwrap();
    fill_from(&store, 2_000, 50, 10);
    let end = store.head().next_position;
    assert_eq!(AllProjections::snapshots_checkpoint(&store).unwrap(), Some(checkpoint));

    let folded_from_zero = |end: u64| {
        let mut all = AllProjections::default();
        replay_all_range(&store, &mut all, 0, end).unwrap();
        all
    };
    // Before the snapshots: folded from 0, never from the (later) snapshot state.
    let (then, from) = AllProjections::as_of(&store, past).unwrap();
    assert_eq!(from, 0);
    assert_eq!(then, folded_from_zero(past));
    // At and after them: from the snapshots, equal to a fold from 0.
    for target in [checkpoint, end] {
        let (state, from) = AllProjections::as_of(&store, target).unwrap();
        assert_eq!(from, checkpoint);
        assert_eq!(state, folded_from_zero(target));
    }

    // A damaged chunk of one snapshot: the fold starts from 0 and the answer is still right.
    let mut chunk = b"Paccountability_trails\0c".to_vec();
    chunk.extend_from_slice(&0u32.to_be_bytes());
    let mut batch = anquan::store::WriteBatch::new();
    batch.put(chunk, b"not the state".to_vec());
    store.backend().apply(batch).unwrap();
    store.backend().sync().unwrap();
    assert!(AllProjections::load_snapshots(&store).is_err(), "the damage is seen");
    let (state, from) = AllProjections::as_of(&store, end).unwrap();
    assert_eq!(from, 0);
    assert_eq!(state, folded_from_zero(end));

    // A meta record that does not decode: the same, and `anquan snapshot` can then replace it.
    let mut batch = anquan::store::WriteBatch::new();
    batch.put(b"Phazard_ledger\0m".to_vec(), vec![0xFF, 0x00, 0x07]);
    store.backend().apply(batch).unwrap();
    assert!(AllProjections::snapshots_checkpoint(&store).is_err(), "the damage is seen");
    let (state, from) = AllProjections::as_of(&store, end).unwrap();
    assert_eq!(from, 0);
    assert_eq!(state, folded_from_zero(end));
    state.save_snapshots(&store, end).unwrap();
    assert_eq!(AllProjections::as_of(&store, end).unwrap().1, end, "the new snapshots are used");
}
