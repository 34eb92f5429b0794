//! The projection runner: snapshots (state + checkpoint in one atomic batch), restart from a
//! snapshot, live follow, rebuild equals live (property test), a failed snapshot write, and
//! time travel by position and by recorded-at time.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anquan::engine::Engine;
use anquan::projections::accident_stats::{AccidentStats, StatsFilter};
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::hazard_ledger::{OpenHazards, NO_ENTERPRISE, UNGRADED};
use anquan::projections::injury_surveillance::InjurySurveillance;
use anquan::projections::promotion::PromotionProjects;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{
    as_of_time, decode, rebuild, rebuild_all, replay_until, state_bytes, Period, Projection, ProjectionError,
    ProjectionRunner,
};
use anquan::store::{Backend, ScanIter, SledBackend, StorageError, WriteBatch, WriteOp};
use anquan::store::{EventStore, ManualClock, StoreOptions, Timestamp};
use chrono::{DateTime, Datelike, Duration as Days, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

fn engine(dir: &Path) -> Engine {
    // Responsible persons' names are personal information: sealed under keys in the vault.
    Engine::new(EventStore::open(dir).unwrap())
        .unwrap()
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir).unwrap()))
}

/// Runs a command; `true` when the domain accepted it (rejections write nothing).
fn try_run(e: &Engine, actor: &str, at: DateTime<Utc>, body: Value) -> bool {
    let cmd = json!({ "command_id": Uuid::new_v4().to_string(), "actor": actor, "issued_at": at.to_rfc3339(), "command": body });
    e.execute_json(&cmd.to_string()).is_ok()
}

fn run(e: &Engine, actor: &str, at: &str, body: Value) {
    assert!(try_run(e, actor, at.parse().unwrap(), body.clone()), "rejected: {body}");
}

fn report_hazard(e: &Engine, id: &str, community: &str, at: &str) {
    run(
        e,
        "grid-7",
        at,
        json!({"type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "李网格",
               "community_id": community, "grid_id": null, "enterprise_id": null, "category": "fire",
               "location": "楼道", "description": "堆物", "found_at": at}),
    );
}

fn report_incident(e: &Engine, id: &str, deaths: u32, at: &str) {
    run(
        e,
        "unit-head",
        at,
        json!({"type": "incident.report", "incident_id": id, "occurred_at": at, "reported_at": at, "place": "现场",
               "community_id": "qu-a", "enterprise_id": null, "category": "production", "deaths": deaths,
               "serious_injuries": 0, "minor_injuries": 0, "missing": 0, "direct_loss_yuan": 0, "summary": "事故"}),
    );
}

fn snapshot_keys(store: &EventStore) -> usize {
    store.backend().scan(Bound::Included(b"P".to_vec()), Bound::Excluded(b"Q".to_vec()), false).count()
}

#[test]
fn snapshot_then_restart_resumes_from_the_checkpoint_without_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_hazard(&e, "H1", "jd-01", "2025-01-05T02:00:00Z");
    report_hazard(&e, "H2", "jd-01", "2025-01-06T02:00:00Z");

    let mut r = ProjectionRunner::<HazardLedger>::start(e.store()).unwrap();
    assert_eq!(r.checkpoint(), 2);
    assert_eq!(r.snapshot_checkpoint(), None);
    r.snapshot().unwrap();
    assert_eq!(r.snapshot_checkpoint(), Some(2));
    // Meta + one chunk, all under the projection's `P` prefix.
    assert_eq!(snapshot_keys(e.store()), 2);
    drop(r);

    report_hazard(&e, "H3", "jd-02", "2025-01-07T02:00:00Z");
    let mut r = ProjectionRunner::<HazardLedger>::open(e.store()).unwrap();
    // Loaded from the snapshot: 2 hazards, checkpoint 2; catching up reads only H3.
    assert_eq!(r.checkpoint(), 2);
    assert_eq!(r.projection().open_hazards().total, 2);
    assert_eq!(r.catch_up().unwrap(), 1);
    let open = r.projection().open_hazards();
    assert_eq!(open.total, 3);
    assert_eq!(open.by_community.get("jd-01"), Some(&2));

    // Live: a command committed after the catch-up arrives through the subscription.
    report_hazard(&e, "H4", "jd-02", "2025-01-08T02:00:00Z");
    let mut got = 0;
    while got < 1 {
        got += r.follow(Duration::from_secs(5)).unwrap();
    }
    assert_eq!(r.checkpoint(), 4);
    assert_eq!(r.projection().open_hazards().total, 4);
    assert_eq!(r.state_bytes().unwrap(), state_bytes(&rebuild::<HazardLedger>(e.store()).unwrap()).unwrap());

    // Rebuild from 0 gives the same state and re-snapshots it.
    let before = r.state_bytes().unwrap();
    r.rebuild().unwrap();
    assert_eq!(r.state_bytes().unwrap(), before);
    assert_eq!(r.snapshot_checkpoint(), Some(4));
}

#[test]
fn following_while_another_thread_commits_misses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let mut r = ProjectionRunner::<AccidentStats>::start(e.store()).unwrap();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            // 20 fire incidents (not graded: one event each), 1 death each, on 2025-02-01 … 02-20.
            for n in 0..20 {
                report_fire(&e, &format!("F{n}"), &format!("2025-02-{:02}T02:00:00Z", n + 1));
            }
        });
        let mut snapshots = 0;
        while !(writer.is_finished() && r.checkpoint() == e.store().head().next_position) {
            if r.follow(Duration::from_millis(50)).unwrap() > 0 && snapshots < 3 {
                r.snapshot().unwrap();
                snapshots += 1;
            }
        }
        writer.join().unwrap();
    });
    // 20 incidents, 20 deaths: each event folded exactly once.
    let t = r.projection().totals(&StatsFilter::new(Period::year(2025).unwrap()));
    assert_eq!((t.incidents, t.deaths), (20, 20));
    assert_eq!(r.state_bytes().unwrap(), state_bytes(&rebuild::<AccidentStats>(e.store()).unwrap()).unwrap());
}

fn report_fire(e: &Engine, id: &str, at: &str) {
    run(
        e,
        "unit-head",
        at,
        json!({"type": "incident.report", "incident_id": id, "occurred_at": at, "reported_at": at, "place": "现场",
               "community_id": "qu-a", "enterprise_id": null, "category": "fire", "deaths": 1,
               "serious_injuries": 0, "minor_injuries": 0, "missing": 0, "direct_loss_yuan": 0, "summary": "火灾"}),
    );
}

#[test]
fn a_corrupt_snapshot_is_reported_and_the_runner_rebuilds_instead() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_hazard(&e, "H1", "jd-01", "2025-01-05T02:00:00Z");
    let mut r = ProjectionRunner::<HazardLedger>::start(e.store()).unwrap();
    r.snapshot().unwrap();
    drop(r);
    // Remove the state chunk: the meta record names a chunk that is gone.
    let mut chunk = b"Phazard_ledger\0c".to_vec();
    chunk.extend_from_slice(&0u32.to_be_bytes());
    let mut batch = WriteBatch::new();
    batch.delete(chunk);
    e.store().backend().apply(batch).unwrap();
    let err = anquan::projections::load_snapshot::<HazardLedger>(e.store()).unwrap_err();
    assert!(matches!(err, ProjectionError::CorruptSnapshot { .. }), "{err}");
    // The runner does not trust it: it starts from position 0 and folds the log again.
    let mut r = ProjectionRunner::<HazardLedger>::open(e.store()).unwrap();
    assert_eq!((r.checkpoint(), r.snapshot_checkpoint()), (0, None));
    r.catch_up().unwrap();
    assert_eq!(r.projection().open_hazards().total, 1);
    // Its next snapshot replaces the corrupt one.
    r.snapshot().unwrap();
    assert_eq!(anquan::projections::load_snapshot::<HazardLedger>(e.store()).unwrap().unwrap().1, 1);
}

/// The hazard ledger under a newer state layout: same name, another version.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct LedgerV2 {
    events: u64,
}

impl Projection for LedgerV2 {
    const NAME: &'static str = "hazard_ledger";
    const VERSION: u32 = HazardLedger::VERSION + 1;
    fn apply(&mut self, _: &anquan::store::RecordedEvent, _: &anquan::events::DomainEvent) {
        self.events += 1;
    }
}

#[test]
fn a_snapshot_of_another_version_is_ignored_and_the_projection_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    report_hazard(&e, "H1", "jd-01", "2025-01-05T02:00:00Z");
    report_hazard(&e, "H2", "jd-01", "2025-01-06T02:00:00Z");
    let mut r = ProjectionRunner::<HazardLedger>::start(e.store()).unwrap();
    r.snapshot().unwrap();
    drop(r);
    // The newer version finds the current version's snapshot by its meta record alone (no state
    // is decoded, so this is the version check, not a damaged-snapshot fallback): starts at 0
    // and folds both events itself.
    assert_eq!(anquan::projections::snapshot_checkpoint::<HazardLedger>(e.store()).unwrap(), Some(2));
    assert_eq!(anquan::projections::snapshot_checkpoint::<LedgerV2>(e.store()).unwrap(), None);
    let mut v2 = ProjectionRunner::<LedgerV2>::open(e.store()).unwrap();
    assert_eq!((v2.checkpoint(), v2.snapshot_checkpoint()), (0, None));
    v2.catch_up().unwrap();
    assert_eq!(v2.projection().events, 2);
    v2.snapshot().unwrap();
    // Its own snapshot replaced the old one (same keys): the current version now rebuilds in turn.
    assert_eq!(ProjectionRunner::<HazardLedger>::open(e.store()).unwrap().checkpoint(), 0);
    assert_eq!(ProjectionRunner::<LedgerV2>::open(e.store()).unwrap().checkpoint(), 2);
}

/// A backend that refuses projection batches (keys under `P`) while `fail` is set.
#[derive(Debug)]
struct FailingSnapshots {
    inner: SledBackend,
    fail: Arc<AtomicBool>,
}

impl Backend for FailingSnapshots {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(key)
    }
    fn scan(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, reverse: bool) -> ScanIter<'_> {
        self.inner.scan(start, end, reverse)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let projection = batch.ops().iter().any(|op| match op {
            WriteOp::Put(k, _) | WriteOp::Delete(k) => k.first() == Some(&b'P'),
        });
        if projection && self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Fault("injected: snapshot write failed".into()));
        }
        self.inner.apply(batch)
    }
    fn sync(&self) -> Result<(), StorageError> {
        self.inner.sync()
    }
    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.inner.size_on_disk()
    }
}

#[test]
fn a_failed_snapshot_write_leaves_the_previous_snapshot_whole() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let backend = FailingSnapshots {
        inner: SledBackend::open(dir.path(), &StoreOptions::default().sled_options()).unwrap(),
        fail: fail.clone(),
    };
    let store = EventStore::open_with(
        Arc::new(backend),
        StoreOptions { id_index_dir: Some(dir.path().join("ids")), ..StoreOptions::default() },
    )
    .unwrap();
    let e = Engine::new(store).unwrap();
    report_incident(&e, "I1", 2, "2025-02-01T02:00:00Z");
    let mut r = ProjectionRunner::<AccidentStats>::start(e.store()).unwrap();
    r.snapshot().unwrap();
    report_incident(&e, "I2", 3, "2025-02-02T02:00:00Z");
    r.catch_up().unwrap();
    fail.store(true, Ordering::SeqCst);
    assert!(matches!(r.snapshot(), Err(ProjectionError::Storage(_))));
    // I1 is reported + graded (production is graded): the first snapshot is at checkpoint 2.
    assert_eq!(r.snapshot_checkpoint(), Some(2));
    drop(r);
    fail.store(false, Ordering::SeqCst);

    // Reopened: the first snapshot (I1 only, checkpoint 2), then I2 is folded exactly once.
    let year = StatsFilter::new(Period::year(2025).unwrap());
    let mut r = ProjectionRunner::<AccidentStats>::open(e.store()).unwrap();
    assert_eq!((r.checkpoint(), r.projection().totals(&year).deaths), (2, 2));
    r.catch_up().unwrap();
    assert_eq!(r.projection().totals(&year).deaths, 5);
    assert_eq!(r.state_bytes().unwrap(), state_bytes(&rebuild::<AccidentStats>(e.store()).unwrap()).unwrap());
}

#[test]
fn time_travel_by_recorded_at_time_and_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_chrono("2025-03-01T00:00:00Z".parse().unwrap()));
    let opts = StoreOptions { clock: Arc::new(clock.clone()), ..StoreOptions::default() };
    let e = Engine::new(EventStore::open_dir(dir.path(), opts).unwrap())
        .unwrap()
        .with_vault(std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(dir.path()).unwrap()));
    // Recorded on 03-01: I1 (2 deaths; production is graded, so reported + graded = positions
    // 0, 1). Recorded on 03-10: I2 (positions 2, 3), then H1 reported (position 4).
    report_incident(&e, "I1", 2, "2025-02-01T02:00:00Z");
    clock.set(Timestamp::from_chrono("2025-03-10T00:00:00Z".parse().unwrap()));
    report_incident(&e, "I2", 3, "2025-02-02T02:00:00Z");
    report_hazard(&e, "H1", "jd-01", "2025-03-09T02:00:00Z");

    let year = StatsFilter::new(Period::year(2025).unwrap());
    // As of 03-05 (recorded-at): positions 0..2, only I1 → 1 incident, 2 deaths.
    assert_eq!(e.store().position_as_of(Timestamp::from_chrono("2025-03-05T00:00:00Z".parse().unwrap())).unwrap(), 2);
    let then: AccidentStats =
        as_of_time(e.store(), Timestamp::from_chrono("2025-03-05T00:00:00Z".parse().unwrap())).unwrap();
    assert_eq!((then.totals(&year).incidents, then.totals(&year).deaths), (1, 2));
    // Now: 2 incidents, 5 deaths.
    let now: AccidentStats = rebuild(e.store()).unwrap();
    assert_eq!((now.totals(&year).incidents, now.totals(&year).deaths), (2, 5));
    // By position: the ledger before H1 (position 4) is empty, with it it holds H1.
    assert_eq!(replay_until::<HazardLedger>(e.store(), 4).unwrap().open_hazards().total, 0);
    assert_eq!(replay_until::<HazardLedger>(e.store(), 5).unwrap().open_hazards().total, 1);
    // Before anything was recorded: nothing.
    let before: AccidentStats =
        as_of_time(e.store(), Timestamp::from_chrono("2025-02-01T00:00:00Z".parse().unwrap())).unwrap();
    assert_eq!(before.totals(&year).incidents, 0);
}

// ---- rebuild equals live (property) ---------------------------------------------------------

/// A generated step of history. Flows drive one entity through its life up to `stage`; steps
/// it already took are rejected by the domain and write nothing, so histories go deep.
#[derive(Debug, Clone)]
enum Cmd {
    Register {
        c: u8,
        pop: u32,
    },
    Population {
        c: u8,
        pop: u32,
    },
    Indicator {
        c: u8,
        total: u32,
    },
    /// report → grade → order → list → done → verify (pass or fail) → close.
    HazardFlow {
        h: u8,
        c: u8,
        major: bool,
        days: u32,
        stage: u8,
        pass: bool,
    },
    Extend {
        h: u8,
        days: u32,
    },
    /// report → open investigation → cause → responsible → measures → education → close → evaluate.
    IncidentFlow {
        i: u8,
        c: u8,
        fire: bool,
        deaths: u32,
        stage: u8,
    },
    Revise {
        i: u8,
        deaths: u32,
    },
    Penalise {
        n: u8,
        h: u8,
    },
    /// Records an injury, or corrects it when it exists already.
    Injury {
        r: u8,
        c: u8,
        age: u16,
        serious: bool,
    },
    /// plan → plan intervention → implement it → evaluate.
    ProjectFlow {
        p: u8,
        c: u8,
        k: u8,
        stage: u8,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Cmd(Cmd),
    Snapshot,
    Restart,
    Follow,
}

fn cmd_strategy() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        1 => (0u8..3, 1u32..100_000).prop_map(|(c, pop)| Cmd::Register { c, pop }),
        1 => (0u8..3, 1u32..100_000).prop_map(|(c, pop)| Cmd::Population { c, pop }),
        1 => (0u8..3, 1u32..50).prop_map(|(c, total)| Cmd::Indicator { c, total }),
        3 => (0u8..5, 0u8..3, any::<bool>(), 0u32..20, 0u8..7, any::<bool>())
            .prop_map(|(h, c, major, days, stage, pass)| Cmd::HazardFlow { h, c, major, days, stage, pass }),
        1 => (0u8..5, 1u32..40).prop_map(|(h, days)| Cmd::Extend { h, days }),
        3 => (0u8..5, 0u8..3, any::<bool>(), 0u32..5, 0u8..8)
            .prop_map(|(i, c, fire, deaths, stage)| Cmd::IncidentFlow { i, c, fire, deaths, stage }),
        1 => (0u8..5, 0u32..6).prop_map(|(i, deaths)| Cmd::Revise { i, deaths }),
        1 => (0u8..2, 0u8..5).prop_map(|(n, h)| Cmd::Penalise { n, h }),
        1 => (0u8..4, 0u8..3, 0u16..90, any::<bool>()).prop_map(|(r, c, age, serious)| Cmd::Injury { r, c, age, serious }),
        2 => (0u8..3, 0u8..3, 0u8..3, 0u8..4).prop_map(|(p, c, k, stage)| Cmd::ProjectFlow { p, c, k, stage }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => cmd_strategy().prop_map(Op::Cmd),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Restart),
        1 => Just(Op::Follow),
    ]
}

/// The commands of one generated step, as (actor, body); run in order at `at`.
fn commands(cmd: &Cmd, at: DateTime<Utc>) -> Vec<(&'static str, Value)> {
    let day = |d: u32| (at + Days::days(i64::from(d))).date_naive().to_string();
    let earlier = (at - Days::hours(1)).to_rfc3339();
    match cmd {
        Cmd::Register { c, pop } => vec![
            (
                "district",
                json!({"type": "community.register", "community_id": format!("c{c}"), "name": "社区",
                "kind": "urban_street", "district": "区", "population": pop, "population_as_of": day(0)}),
            ),
            (
                "district",
                json!({"type": "enterprise.register", "enterprise_id": format!("e{c}"), "name": "企业",
                "community_id": format!("c{c}"), "industry": "manufacturing"}),
            ),
        ],
        Cmd::Population { c, pop } => vec![(
            "district",
            json!({"type": "community.revise_population",
            "community_id": format!("c{c}"), "population": pop, "as_of": day(0)}),
        )],
        Cmd::Indicator { c, total } => vec![(
            "city",
            json!({"type": "community.set_control_indicator",
            "community_id": format!("c{c}"), "year": 2025, "total_deaths": total,
            "per_category": [{"category": "fire", "deaths": total / 2}], "set_on": day(0), "set_by": "市"}),
        )],
        Cmd::HazardFlow { h, c, major, days, stage, pass } => {
            let id = format!("h{h}");
            let steps = vec![
                (
                    "grid-7",
                    json!({"type": "hazard.report", "hazard_id": id, "source": "resident_report",
                    "reporter": "居民", "community_id": format!("c{c}"), "grid_id": null,
                    "enterprise_id": format!("e{c}"), "category": "fire", "location": "楼道", "description": "堆物",
                    "found_at": earlier}),
                ),
                (
                    "bureau",
                    json!({"type": "hazard.grade", "hazard_id": id,
                    "grade": if *major { "major" } else { "general" }, "criterion": "MEM-10",
                    "criterion_version": "2023", "basis": null}),
                ),
                (
                    "bureau",
                    json!({"type": "hazard.order_rectification", "hazard_id": id, "responsible": "负责人",
                    "measures": "整改", "funds_yuan": 100, "deadline": day(*days), "contingency_plan": "预案"}),
                ),
                (
                    "city",
                    json!({"type": "hazard.list_for_supervision", "hazard_id": id, "level": "city",
                    "listed_by": "市政府"}),
                ),
                ("officer", json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "完成"})),
                (
                    "bureau",
                    json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": pass,
                    "remarks": "验收"}),
                ),
                ("bureau", json!({"type": "hazard.close", "hazard_id": id, "remarks": null})),
            ];
            steps.into_iter().take(usize::from(*stage) + 1).collect()
        }
        Cmd::Extend { h, days } => vec![(
            "bureau",
            json!({"type": "hazard.extend_deadline",
            "hazard_id": format!("h{h}"), "new_deadline": day(*days + 40), "reason": "延期"}),
        )],
        Cmd::IncidentFlow { i, c, fire, deaths, stage } => {
            let id = format!("i{i}");
            let steps = vec![
                (
                    "unit",
                    json!({"type": "incident.report", "incident_id": id, "occurred_at": earlier,
                    "reported_at": at.to_rfc3339(), "place": "现场", "community_id": format!("c{c}"),
                    "enterprise_id": null, "category": if *fire { "fire" } else { "production" }, "deaths": deaths,
                    "serious_injuries": 0, "minor_injuries": 1, "missing": 0, "direct_loss_yuan": 1000,
                    "summary": "事故"}),
                ),
                (
                    "gov",
                    json!({"type": "incident.open_investigation", "incident_id": id,
                    "authority_level": "state_council", "authority": "调查组"}),
                ),
                (
                    "team",
                    json!({"type": "incident.determine_cause", "incident_id": id, "cause": "原因",
                    "evidence": ["报告"]}),
                ),
                (
                    "gov",
                    json!({"type": "incident.deal_with_responsible", "incident_id": id, "person": "某",
                    "role": "主任", "action": "处分", "evidence": ["决定"]}),
                ),
                (
                    "gov",
                    json!({"type": "incident.implement_corrective_measures", "incident_id": id,
                    "measures": "整改", "hazard_ids": [], "evidence": ["验收"]}),
                ),
                (
                    "team",
                    json!({"type": "incident.conduct_education", "incident_id": id, "audience": "职工",
                    "people_reached": 30, "method": "警示教育", "evidence": ["签到表"]}),
                ),
                (
                    "gov",
                    json!({"type": "incident.close", "incident_id": id, "signed_off_at": at.to_rfc3339(),
                    "signed_off_by": "政府"}),
                ),
                (
                    "gov",
                    json!({"type": "incident.record_evaluation", "incident_id": id,
                    "evaluated_at": at.to_rfc3339(), "findings": "落实", "published": true}),
                ),
            ];
            steps.into_iter().take(usize::from(*stage) + 1).collect()
        }
        Cmd::Revise { i, deaths } => vec![(
            "unit",
            json!({"type": "incident.revise_casualties",
            "incident_id": format!("i{i}"), "deaths": deaths, "serious_injuries": 0, "minor_injuries": 1,
            "missing": 0, "direct_loss_yuan": 1000, "reason": "补报"}),
        )],
        Cmd::Penalise { n, h } => vec![(
            "bureau",
            json!({"type": "enterprise.take_enforcement_action",
            "enterprise_id": format!("e{n}"), "action": "suspend_for_rectification", "decided_on": day(0),
            "decided_by": "局", "decision_no": null, "reason": "隐患", "hazard_id": format!("h{h}"),
            "fine_yuan": null}),
        )],
        Cmd::Injury { r, c, age, serious } => {
            let data = json!({"occurred_at": earlier, "age": age, "sex": "female", "intent": "unintentional",
                "mechanism": "fall", "place": "home", "activity": "leisure", "nature": "fracture",
                "body_part": "lower_limb", "severity": if *serious { "serious" } else { "minor" },
                "outcome": "admitted", "category": "elderly_fall", "community_id": format!("c{c}"),
                "vulnerable_groups": ["elderly"], "incident_id": null, "note": null});
            vec![
                ("hospital", json!({"type": "injury.record", "injury_id": format!("r{r}"), "data": data})),
                (
                    "hospital",
                    json!({"type": "injury.correct", "injury_id": format!("r{r}"), "data": data,
                    "reason": "更正"}),
                ),
            ]
        }
        Cmd::ProjectFlow { p, c, k, stage } => {
            let id = format!("p{p}");
            let steps = vec![
                (
                    "committee",
                    json!({"type": "project.plan", "project_id": id, "community_id": format!("c{c}"),
                    "name": "项目", "objective": "降低伤害", "baseline_from": "2024-01-01", "baseline_to": "2024-12-31",
                    "target_category": "elderly_fall", "target_group": null, "target_place": null}),
                ),
                (
                    "committee",
                    json!({"type": "project.plan_intervention", "project_id": id,
                    "intervention_id": format!("m{k}"), "what": "改造", "planned_for": day(0)}),
                ),
                (
                    "committee",
                    json!({"type": "project.implement_intervention", "project_id": id,
                    "intervention_id": format!("m{k}"), "implemented_on": day(0), "reach": 10 + u32::from(*k)}),
                ),
                (
                    "committee",
                    json!({"type": "project.evaluate", "project_id": id, "indicator": "跌倒",
                    "before": 40, "after": 30 + u64::from(*k), "evaluated_on": day(0), "conclusion": "有效"}),
                ),
            ];
            steps.into_iter().take(usize::from(*stage) + 1).collect()
        }
    }
}

/// Executes one generated step; the domain may reject any command (nothing is written then).
/// Returns how many commands were accepted.
fn execute(e: &Engine, cmd: &Cmd, at: DateTime<Utc>) -> usize {
    commands(cmd, at).into_iter().filter(|(actor, body)| try_run(e, actor, at, body.clone())).count()
}

/// One projection kept live through snapshots, restarts and follows.
struct Live<'s, P: Projection> {
    store: &'s EventStore,
    runner: ProjectionRunner<'s, P>,
}

impl<'s, P: Projection + Clone> Live<'s, P> {
    fn new(store: &'s EventStore) -> Self {
        Self { store, runner: ProjectionRunner::open(store).unwrap() }
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Cmd(_) => {}
            Op::Snapshot => self.runner.snapshot().unwrap(),
            // A crash: drop the runner with whatever it had not snapshotted, reopen.
            Op::Restart => self.runner = ProjectionRunner::open(self.store).unwrap(),
            Op::Follow => {
                self.runner.follow(Duration::from_millis(1)).unwrap();
            }
        }
    }

    /// Catches up; the encoded state and the live projection (running totals included).
    fn finish(mut self) -> (Vec<u8>, P) {
        self.runner.catch_up().unwrap();
        assert_eq!(self.runner.checkpoint(), self.store.head().next_position);
        (self.runner.state_bytes().unwrap(), self.runner.projection().clone())
    }
}

/// Every event decoded and given to `apply`, ignoring [`Projection::wants`]: a `wants` that
/// leaves out a type `apply` reads makes this differ from [`rebuild`].
fn fold_unfiltered<P: Projection>(store: &EventStore) -> P {
    let mut p = P::default();
    for r in store.read_all(0, anquan::store::Direction::Forward, usize::MAX).unwrap() {
        if let Some(e) = decode(&r).unwrap() {
            p.apply(&r, &e);
        }
    }
    p
}

/// Periods the running totals are checked over: around the generated history (January 2025)
/// and across its month and year edges.
fn check_periods() -> Vec<Period> {
    let d = |s: &str| s.parse().unwrap();
    vec![
        Period { from: chrono::NaiveDate::MIN, to: chrono::NaiveDate::MAX },
        Period::year(2025).unwrap(),
        Period::year(2024).unwrap(),
        Period::month(2025, 1).unwrap(),
        Period::quarter(2025, 1).unwrap(),
        Period { from: d("2025-01-03"), to: d("2025-01-09") },
        Period { from: d("2024-12-31"), to: d("2025-01-05") },
        Period { from: d("2025-01-06"), to: d("2026-03-01") },
    ]
}

/// The open-hazard counters the ledger keeps, worked out again by scanning its entries.
fn scan_open(l: &HazardLedger) -> OpenHazards {
    let mut o = OpenHazards::default();
    for h in l.hazards().filter(|h| h.closed_at.is_none()) {
        o.total += 1;
        o.major += u64::from(h.major);
        *o.by_grade.entry(h.grade.clone().unwrap_or_else(|| UNGRADED.into())).or_default() += 1;
        *o.by_community.entry(h.community_id.clone()).or_default() += 1;
        *o.by_category.entry(h.category.clone()).or_default() += 1;
        *o.by_enterprise.entry(h.enterprise_id.clone().unwrap_or_else(|| NO_ENTERPRISE.into())).or_default() += 1;
    }
    o
}

/// Which hazards a rectification series covers.
type Keep = dyn Fn(&anquan::projections::hazard_ledger::HazardEntry) -> bool;

/// Every ledger query answered from running totals equals a scan of the entries.
fn check_ledger_totals(l: &HazardLedger) {
    assert_eq!(l.open_hazards(), scan_open(l));
    let cst = |t: DateTime<Utc>| (t + Days::hours(8)).date_naive();
    for p in check_periods() {
        let r = l.rates(p);
        let series: [(&Keep, _); 3] =
            [(&|_| true, &r.all), (&|h| h.major, &r.major), (&|h| h.listed.is_some(), &r.listed)];
        for (keep, got) in series {
            let hs: Vec<_> = l.hazards().filter(|h| keep(h)).collect();
            let found = hs.iter().filter(|h| p.contains(cst(h.found_at))).count() as u64;
            let rectified = hs
                .iter()
                .filter(|h| p.contains(cst(h.found_at)) && h.closed_at.is_some_and(|c| cst(c) <= p.to))
                .count() as u64;
            let due: Vec<_> = hs.iter().filter(|h| h.deadline.is_some_and(|d| p.contains(d))).collect();
            let on_time =
                due.iter().filter(|h| h.closed_at.is_some_and(|c| h.deadline.is_some_and(|d| cst(c) <= d))).count();
            assert_eq!(
                (got.found, got.rectified, got.due, got.on_time),
                (found, rectified, due.len() as u64, on_time as u64),
                "{p:?}"
            );
        }
    }
    let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    for k in 0..12 {
        let at = start + Days::days(5 * k);
        let want: Vec<String> = l.hazards().filter(|h| h.is_overdue(at)).map(|h| h.hazard_id.clone()).collect();
        let got: Vec<String> = l.overdue(at).into_iter().map(|o| o.hazard_id).collect();
        assert_eq!(got, want, "overdue at {at}");
    }
    for open_only in [false, true] {
        let want: Vec<String> = l
            .hazards()
            .filter(|h| h.listed.is_some() && !(open_only && h.closed_at.is_some()))
            .map(|h| h.hazard_id.clone())
            .collect();
        let got: Vec<String> = l.listed_for_supervision(open_only).into_iter().map(|x| x.hazard_id).collect();
        assert_eq!(got, want);
    }
}

/// Accident figures answered from running totals equal a scan of the incidents (ids `i0`–`i4`).
fn check_stats_totals(s: &AccidentStats) {
    let facts: Vec<_> = (0..5).filter_map(|i| s.incident(&format!("i{i}"))).collect();
    let cst = |t: DateTime<Utc>| (t + Days::hours(8)).date_naive();
    let communities = [None, Some("c0"), Some("c1"), Some("c2")];
    let categories = [None, Some("fire"), Some("production"), Some("road_traffic")];
    for p in check_periods() {
        for community in communities {
            for category in categories {
                let mut f = StatsFilter::new(p);
                f.community = community.map(str::to_string);
                f.category = category.map(str::to_string);
                let hits: Vec<_> = facts
                    .iter()
                    .filter(|x| p.contains(cst(x.occurred_at)))
                    .filter(|x| community.is_none_or(|c| c == x.community_id))
                    .filter(|x| category.is_none_or(|c| c == x.category))
                    .collect();
                let t = s.totals(&f);
                assert_eq!(t.incidents, hits.len() as u64, "{f:?}");
                assert_eq!(t.deaths, hits.iter().map(|x| u64::from(x.casualties.deaths)).sum::<u64>(), "{f:?}");
                assert_eq!(t.minor_injuries, hits.iter().map(|x| u64::from(x.casualties.minor_injuries)).sum::<u64>());
            }
        }
    }
    for community in communities {
        let y = s.year_on_year(2025, community).unwrap();
        let hits: Vec<_> = facts
            .iter()
            .filter(|x| cst(x.occurred_at).year() == 2025 && community.is_none_or(|c| c == x.community_id))
            .collect();
        assert_eq!(y.total.incidents.current, hits.len() as u64);
        assert_eq!(y.total.deaths.current, hits.iter().map(|x| u64::from(x.casualties.deaths)).sum::<u64>());
        let mut cats: Vec<String> = hits.iter().map(|x| x.category.clone()).collect();
        cats.sort();
        cats.dedup();
        assert_eq!(y.categories.iter().map(|l| l.category.clone().unwrap()).collect::<Vec<_>>(), cats);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn rebuild_from_zero_equals_the_live_state(ops in prop::collection::vec(op_strategy(), 10..60)) {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let store = e.store();
        let mut ledger = Live::<HazardLedger>::new(store);
        let mut stats = Live::<AccidentStats>::new(store);
        let mut trails = Live::<AccountabilityTrails>::new(store);
        let mut injuries = Live::<InjurySurveillance>::new(store);
        let mut projects = Live::<PromotionProjects>::new(store);
        let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
        let mut accepted = 0;
        for (k, op) in ops.iter().enumerate() {
            if let Op::Cmd(c) = op {
                accepted += execute(&e, c, start + Days::hours(6 * k as i64));
            }
            ledger.step(op);
            stats.step(op);
            trails.step(op);
            injuries.step(op);
            projects.step(op);
        }
        // Sanity: the generated history is not empty (every case has at least one flow step).
        prop_assert!(accepted > 0 || !ops.iter().any(|o| matches!(o, Op::Cmd(_))));
        let (ledger_bytes, live_ledger) = ledger.finish();
        let (stats_bytes, live_stats) = stats.finish();
        let (trails_bytes, live_trails) = trails.finish();
        let (injuries_bytes, live_injuries) = injuries.finish();
        let (projects_bytes, live_projects) = projects.finish();
        let rebuilt_ledger = rebuild::<HazardLedger>(store).unwrap();
        let rebuilt_stats = rebuild::<AccidentStats>(store).unwrap();
        prop_assert_eq!(&ledger_bytes, &state_bytes(&rebuilt_ledger).unwrap());
        prop_assert_eq!(&stats_bytes, &state_bytes(&rebuilt_stats).unwrap());
        prop_assert_eq!(&trails_bytes, &state_bytes(&rebuild::<AccountabilityTrails>(store).unwrap()).unwrap());
        prop_assert_eq!(&injuries_bytes, &state_bytes(&rebuild::<InjurySurveillance>(store).unwrap()).unwrap());
        prop_assert_eq!(&projects_bytes, &state_bytes(&rebuild::<PromotionProjects>(store).unwrap()).unwrap());
        // Running totals: kept live across snapshots and restarts (recomputed on load) they equal
        // the rebuilt ones, and both equal a scan of the entries.
        prop_assert_eq!(&live_ledger, &rebuilt_ledger);
        prop_assert_eq!(&live_stats, &rebuilt_stats);
        check_ledger_totals(&live_ledger);
        check_stats_totals(&live_stats);
        // One pass over the log gives every projection the state its own rebuild gives.
        let all = rebuild_all(store).unwrap();
        prop_assert_eq!(&all.hazard_ledger, &live_ledger);
        prop_assert_eq!(&all.accident_stats, &live_stats);
        prop_assert_eq!(&all.trails, &live_trails);
        prop_assert_eq!(&all.injury_surveillance, &live_injuries);
        prop_assert_eq!(&all.promotion, &live_projects);
        prop_assert_eq!(state_bytes(&all.trails).unwrap(), trails_bytes);
        // Skipping undecoded types loses nothing.
        prop_assert_eq!(&fold_unfiltered::<HazardLedger>(store), &live_ledger);
        prop_assert_eq!(&fold_unfiltered::<AccidentStats>(store), &live_stats);
        prop_assert_eq!(&fold_unfiltered::<AccountabilityTrails>(store), &live_trails);
        prop_assert_eq!(&fold_unfiltered::<InjurySurveillance>(store), &live_injuries);
        prop_assert_eq!(&fold_unfiltered::<PromotionProjects>(store), &live_projects);
    }
}
