//! Crash campaign for projection snapshots and subscription checkpoints (issues 4 and 7), with
//! real processes: a child process appends domain events (JSON commands through the
//! [`Engine`] from one thread, bulk hazard/incident appends through the store from another,
//! printing each acknowledgement) while one [`ProjectionRunner`] per projection follows the log
//! live and snapshots after every batch it folds (state + checkpoint in one atomic batch, so a
//! kill often lands in a snapshot write). The parent SIGKILLs the child at a random moment,
//! reopens the store and checks:
//! - every acknowledged event is at its acknowledged position; positions are gapless; `verify`
//!   passes;
//! - per projection (hazard ledger, accident statistics, 四不放过 trails, and a delivery
//!   consumer): the durable snapshot checkpoint is at most the head; the snapshot state is
//!   byte-identical to a fold of exactly the positions before its checkpoint (never ahead of,
//!   nor behind, the state it describes); a snapshot the child reported complete is never lost;
//!   a snapshot in flight at the kill is either wholly there or wholly absent (the previous one
//!   stays); a runner restarted from the snapshot and caught up equals a full rebuild byte for byte;
//! - the delivery consumer (the store has no durable subscription-checkpoint API, so the runner's
//!   snapshot checkpoint is the durable one): its durable state records positions `0..checkpoint`,
//!   each exactly once, with the hash of the payload it saw there; after a restart it resumes
//!   delivering at exactly its durable checkpoint, and each run delivers contiguous positions.
//!
//! `ANQUAN_CRASH_ROUNDS=N` runs N rounds (default 4); a fresh store every 10 rounds keeps the
//! per-round checks (several folds of the whole log) bounded. Figures are printed at the end.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anquan::engine::{derived_event_id, Engine};
use anquan::events::hazard::{HazardClosed, HazardEvent, HazardGraded, HazardReported, HazardSource};
use anquan::events::incident::{IncidentEvent, IncidentReported};
use anquan::events::{DomainEvent, EntityId};
use anquan::projections::accident_stats::AccidentStats;
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{load_snapshot, rebuild, replay_until, state_bytes, Projection, ProjectionRunner};
use anquan::store::SledBackend;
use anquan::store::{
    Direction, EventStore, ExpectedVersion, ProposedEvent, RecordedEvent, StoreOptions, StreamAppend, Timestamp,
};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const CHILD_ENV: &str = "ANQUAN_CRASH_PROJECTIONS_CHILD_DIR";

/// The delivery consumer: what it was handed, in order — each position with the BLAKE3 hash of
/// the payload it saw there. Its snapshot checkpoint is its durable subscription checkpoint.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Deliveries {
    delivered: Vec<(u64, [u8; 32])>,
}

impl Projection for Deliveries {
    const NAME: &'static str = "crash_deliveries";
    const VERSION: u32 = 1;
    fn apply(&mut self, recorded: &RecordedEvent, _: &DomainEvent) {
        self.delivered.push((recorded.position, *blake3::hash(&recorded.payload).as_bytes()));
    }
}

const NAMES: [&str; 4] = [HazardLedger::NAME, AccidentStats::NAME, AccountabilityTrails::NAME, Deliveries::NAME];

type Out = Arc<Mutex<std::io::Stdout>>;

fn say(out: &Out, line: String) {
    let mut o = out.lock().unwrap();
    o.write_all(line.as_bytes()).unwrap();
    o.write_all(b"\n").unwrap();
    o.flush().unwrap();
}

fn id(s: String) -> EntityId {
    EntityId::new(s).unwrap()
}

fn proposed(e: DomainEvent, at: DateTime<Utc>) -> ProposedEvent {
    let (t, v, payload) = e.to_payload().unwrap();
    ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload)
}

/// A bulk append: `n` hazards (reported, graded, half closed) and `n` incidents, one commit.
fn bulk(nonce: &str, k: u64, n: u64) -> Vec<StreamAppend> {
    let base: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let by = || id("loader".into());
    let mut appends = Vec::new();
    for j in 0..n {
        let at = base + chrono::Duration::minutes((k * n + j) as i64);
        let h = id(format!("h{nonce}-{k}-{j}"));
        let mut events = vec![
            HazardEvent::Reported(HazardReported {
                hazard_id: h.clone(),
                recorded_by: by(),
                recorded_at: at,
                source: HazardSource::GridInspection,
                reporter: "网格员".into(),
                community_id: id(format!("c{}", j % 7)),
                grid_id: None,
                enterprise_id: Some(id(format!("e{}", j % 11))),
                category: "fire".into(),
                location: "楼道".into(),
                description: "堆物".into(),
                found_at: at,
            }),
            HazardEvent::Graded(HazardGraded {
                hazard_id: h.clone(),
                recorded_by: by(),
                recorded_at: at,
                grade: "general".into(),
                major: j % 5 == 0,
                criterion: "MEM-10".into(),
                criterion_version: "2023".into(),
                catalog_version: "1".into(),
                basis: None,
            }),
        ];
        if j % 2 == 0 {
            events.push(HazardEvent::Closed(HazardClosed {
                hazard_id: h.clone(),
                recorded_by: by(),
                recorded_at: at,
                remarks: None,
            }));
        }
        let stream = DomainEvent::Hazard(events[0].clone()).stream_id();
        let evs = events.into_iter().map(|e| proposed(DomainEvent::Hazard(e), at)).collect();
        appends.push(StreamAppend::new(stream, ExpectedVersion::NoStream, evs));
        let e = IncidentEvent::Reported(IncidentReported {
            incident_id: id(format!("i{nonce}-{k}-{j}")),
            recorded_by: by(),
            recorded_at: at,
            occurred_at: at,
            reported_at: at,
            place: "现场".into(),
            community_id: id(format!("c{}", j % 7)),
            enterprise_id: None,
            category: if j % 3 == 0 { "fire".into() } else { "road_traffic".into() },
            deaths: (j % 4) as u32,
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
        appends.push(StreamAppend::new(
            stream,
            ExpectedVersion::NoStream,
            vec![proposed(DomainEvent::Incident(e), at)],
        ));
    }
    appends
}

/// The JSON commands of one incident taken through its 四不放过 steps up to `stage`, or one
/// hazard report.
fn commands(nonce: &str, k: u64, stage: usize) -> Vec<(&'static str, serde_json::Value)> {
    let now = Utc::now();
    let at = now.to_rfc3339();
    let earlier = (now - chrono::Duration::hours(1)).to_rfc3339();
    let id = format!("x{nonce}-{k}");
    if k.is_multiple_of(3) {
        return vec![(
            "grid-7",
            json!({"type": "hazard.report", "hazard_id": id, "source": "resident_report", "reporter": "居民",
                   "community_id": "c1", "grid_id": null, "enterprise_id": null, "category": "fire",
                   "location": "楼道", "description": "堆物", "found_at": earlier}),
        )];
    }
    let steps = vec![
        (
            "unit",
            json!({"type": "incident.report", "incident_id": id, "occurred_at": earlier, "reported_at": at,
                   "place": "现场", "community_id": "c2", "enterprise_id": null, "category": "production",
                   "deaths": k % 3, "serious_injuries": 0, "minor_injuries": 1, "missing": 0,
                   "direct_loss_yuan": 1000, "summary": "事故"}),
        ),
        (
            "gov",
            json!({"type": "incident.open_investigation", "incident_id": id, "authority_level": "state_council",
                   "authority": "调查组"}),
        ),
        ("team", json!({"type": "incident.determine_cause", "incident_id": id, "cause": "原因", "evidence": ["报告"]})),
        (
            "gov",
            json!({"type": "incident.deal_with_responsible", "incident_id": id, "person": "某", "role": "主任",
                   "action": "处分", "evidence": ["决定"]}),
        ),
        (
            "gov",
            json!({"type": "incident.implement_corrective_measures", "incident_id": id, "measures": "整改",
                   "hazard_ids": [], "evidence": ["验收"]}),
        ),
        (
            "team",
            json!({"type": "incident.conduct_education", "incident_id": id, "audience": "职工",
                   "people_reached": 30, "method": "警示教育", "evidence": ["签到表"]}),
        ),
    ];
    steps.into_iter().take(stage + 1).collect()
}

/// One runner: open (snapshot), catch up, then follow and snapshot after every batch folded.
/// Prints `OPEN name checkpoint`, `DLV name from to` for each range folded, and `SNAPBEGIN` /
/// `SNAP name checkpoint` around each snapshot write (`SNAP` only once it is durable).
fn run_projection<P: Projection>(store: &EventStore, out: &Out) {
    let mut r = ProjectionRunner::<P>::open(store).expect("runner opens");
    say(out, format!("OPEN {} {}", P::NAME, r.checkpoint()));
    let mut from = r.checkpoint();
    r.catch_up().expect("catch up");
    loop {
        if r.checkpoint() > from {
            say(out, format!("DLV {} {from} {}", P::NAME, r.checkpoint()));
            say(out, format!("SNAPBEGIN {} {}", P::NAME, r.checkpoint()));
            r.snapshot().expect("snapshot");
            say(out, format!("SNAP {} {}", P::NAME, r.checkpoint()));
        }
        from = r.checkpoint();
        r.follow(Duration::from_millis(20)).expect("follow");
    }
}

/// The child's body: runs only when the parent re-executes this test binary.
#[test]
fn crash_projections_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    // A failure in any thread ends the child at once and says why (the parent then sees an
    // abort instead of its own SIGKILL), rather than leaving the other threads running.
    std::panic::set_hook(Box::new(|info| {
        println!("\nPANIC {}", info.to_string().replace('\n', " "));
        std::process::abort();
    }));
    let vault =
        std::sync::Arc::new(anquan::engine::privacy::Vault::open_beside_store(&dir).expect("child opens vault"));
    let engine = Engine::new(EventStore::open(&dir).expect("child opens store")).expect("engine").with_vault(vault);
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    let nonce = format!("{:08x}", rand::random::<u32>());
    // Ends the line libtest started with the test's name, so the first report is a line of its own.
    say(&out, String::new());
    std::thread::scope(|s| {
        let store = engine.store();
        s.spawn(|| run_projection::<HazardLedger>(store, &out));
        s.spawn(|| run_projection::<AccidentStats>(store, &out));
        s.spawn(|| run_projection::<AccountabilityTrails>(store, &out));
        s.spawn(|| run_projection::<Deliveries>(store, &out));
        // Bulk writer: large commits so the states (and their snapshot batches) grow fast.
        s.spawn(|| {
            let mut rng = rand::rngs::StdRng::from_entropy();
            for k in 0.. {
                let appends = bulk(&nonce, k, rng.gen_range(100..1000));
                let ids: Vec<String> =
                    appends.iter().flat_map(|a| a.events.iter().map(|e| e.event_id.to_string())).collect();
                let outcome = store.append_multi(appends).expect("append");
                let positions: Vec<String> = outcome.positions.iter().map(u64::to_string).collect();
                say(&out, format!("ACK {} {}", positions.join(","), ids.join(",")));
            }
        });
        // Command writer: real JSON commands through the engine.
        s.spawn(|| {
            let mut rng = rand::rngs::StdRng::from_entropy();
            for k in 0.. {
                for (actor, body) in commands(&nonce, k, rng.gen_range(0..6)) {
                    let command_id = Uuid::new_v4();
                    let cmd = json!({"command_id": command_id.to_string(), "actor": actor,
                                     "issued_at": Utc::now().to_rfc3339(), "command": body});
                    let outcome = engine.execute_json(&cmd.to_string()).expect("command accepted");
                    let positions: Vec<String> = outcome.positions.iter().map(u64::to_string).collect();
                    let ids: Vec<String> = (0..outcome.positions.len() as u32)
                        .map(|i| derived_event_id(&command_id, i).to_string())
                        .collect();
                    say(&out, format!("ACK {} {}", positions.join(","), ids.join(",")));
                }
            }
        });
    });
}

/// What one child run printed (complete lines only).
#[derive(Debug, Default)]
struct Report {
    acks: Vec<(u64, Uuid)>,
    opened: HashMap<String, u64>,
    /// Per projection, the ranges folded, in order.
    delivered: HashMap<String, Vec<(u64, u64)>>,
    /// Per projection, the last snapshot begun and the last one reported durable.
    begun: HashMap<String, u64>,
    done: HashMap<String, u64>,
    snapshots: usize,
}

fn parse(lines: Vec<String>) -> Report {
    let mut r = Report::default();
    for line in lines {
        let mut w = line.split(' ');
        match w.next() {
            Some("ACK") => {
                let positions = w.next().unwrap().split(',');
                let ids = w.next().unwrap().split(',');
                r.acks.extend(positions.zip(ids).map(|(p, i)| (p.parse().unwrap(), i.parse().unwrap())));
            }
            Some(kind @ ("OPEN" | "DLV" | "SNAPBEGIN" | "SNAP")) => {
                let name = w.next().unwrap().to_string();
                let a: u64 = w.next().unwrap().parse().unwrap();
                match kind {
                    "OPEN" => {
                        r.opened.insert(name, a);
                    }
                    "DLV" => {
                        let b: u64 = w.next().unwrap().parse().unwrap();
                        r.delivered.entry(name).or_default().push((a, b));
                    }
                    "SNAPBEGIN" => {
                        r.begun.insert(name, a);
                    }
                    _ => {
                        r.done.insert(name, a);
                        r.snapshots += 1;
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// Campaign figures.
#[derive(Debug, Default)]
struct Figures {
    acked_events: usize,
    snapshots_completed: usize,
    /// A snapshot write was in flight at the kill and the reopened store has the previous one.
    torn_ignored: usize,
    /// A snapshot write was in flight at the kill and made it whole (reached sled before the kill).
    in_flight_kept: usize,
    redelivered: u64,
}

/// Checks one projection's durable snapshot after a kill; returns its durable checkpoint.
fn check_projection<P: Projection>(
    store: &EventStore,
    round: usize,
    last_durable: u64,
    report: &Report,
    figures: &mut Figures,
) -> u64 {
    let head = store.head().next_position;
    let loaded = load_snapshot::<P>(store).unwrap_or_else(|e| panic!("round {round}: {}: {e}", P::NAME));
    let found = loaded.as_ref().map(|(_, c)| *c);
    let (state, c) = match loaded {
        Some((p, c)) => (state_bytes(&p).unwrap(), c),
        None => (state_bytes(&P::default()).unwrap(), 0),
    };
    let name = P::NAME;
    assert!(c <= head, "round {round}: {name} snapshot checkpoint {c} is past the head {head}");
    // The state describes exactly positions 0..c.
    assert_eq!(state, state_bytes(&replay_until::<P>(store, c).unwrap()).unwrap(), "round {round}: {name} at {c}");
    // Completed snapshots are never lost; one in flight is all there or not at all.
    let done = report.done.get(name).copied().unwrap_or(last_durable).max(last_durable);
    let begun = report.begun.get(name).copied().filter(|&b| b > done);
    assert!(
        c == done || Some(c) == begun,
        "round {round}: {name} snapshot at {c}; last durable {done}, in flight {begun:?}"
    );
    if let Some(b) = begun {
        if c == b {
            figures.in_flight_kept += 1;
        } else {
            figures.torn_ignored += 1;
        }
    }
    // Restart from the snapshot + catch-up equals a full rebuild.
    let mut r = ProjectionRunner::<P>::open(store).unwrap();
    assert_eq!((r.checkpoint(), r.snapshot_checkpoint()), (c, found), "round {round}: {name} runner opened elsewhere");
    r.catch_up().unwrap();
    assert_eq!(
        r.state_bytes().unwrap(),
        state_bytes(&rebuild::<P>(store).unwrap()).unwrap(),
        "round {round}: {name} snapshot + catch-up differs from a rebuild"
    );
    c
}

#[test]
fn projection_snapshots_and_checkpoints_survive_sigkill() {
    let rounds: usize = std::env::var("ANQUAN_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xc4ec);
    let mut dir = tempfile::tempdir().unwrap();
    let mut acked: HashMap<Uuid, u64> = HashMap::new();
    let mut durable: BTreeMap<&str, u64> = NAMES.iter().map(|n| (*n, 0)).collect();
    let mut figures = Figures::default();
    let mut max_head = 0u64;
    for round in 0..rounds {
        if round > 0 && round % 50 == 0 {
            eprintln!("round {round}: {} events acknowledged so far", figures.acked_events);
        }
        if round > 0 && round % 10 == 0 {
            acked.clear();
            durable.values_mut().for_each(|c| *c = 0);
            dir = tempfile::tempdir().unwrap();
        }
        let mut child = common::child::child("crash_projections_child_entry", CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, acked_once) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut buf = String::new();
            // Only complete lines count: a line cut by the kill was never fully reported.
            while let Ok(n) = r.read_line(&mut buf) {
                if n == 0 || !buf.ends_with('\n') {
                    break;
                }
                if buf.starts_with("ACK ") {
                    let _ = first_ack.send(());
                }
                lines.push(buf.trim_end().to_string());
                buf.clear();
            }
            lines
        });
        // Mostly, the kill comes a random moment after the child's first acknowledgement (on a
        // loaded machine a fixed delay may end every child before it wrote anything); one
        // round in eight kills at a random moment from the start (during open or catch-up).
        if rng.gen_ratio(1, 8) {
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..400)));
        } else {
            let _ = acked_once.recv_timeout(Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..800)));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        let panic = lines.iter().find(|l| l.starts_with("PANIC"));
        assert!(panic.is_none(), "round {round}: the child failed: {}", panic.unwrap());
        assert_eq!(status.signal(), Some(9), "round {round}: the child ended on its own: {status}");
        let report = parse(lines);
        figures.acked_events += report.acks.len();
        figures.snapshots_completed += report.snapshots;
        acked.extend(report.acks.iter().map(|(p, i)| (*i, *p)));

        // The child resumed each runner at the durable checkpoint found after the last kill, and
        // delivered contiguous positions from there.
        for name in NAMES {
            if let Some(&opened) = report.opened.get(name) {
                assert_eq!(opened, durable[name], "round {round}: {name} resumed elsewhere");
                let mut next = opened;
                for &(a, b) in report.delivered.get(name).map(Vec::as_slice).unwrap_or(&[]) {
                    assert_eq!(a, next, "round {round}: {name} delivered {a}..{b} after {next}");
                    assert!(b > a);
                    next = b;
                }
            }
        }

        let backend = SledBackend::open(dir.path(), &StoreOptions::default().sled_options())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let store = EventStore::open_with(
            Arc::new(backend),
            StoreOptions { id_index_dir: Some(dir.path().join("ids")), ..StoreOptions::default() },
        )
        .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let head = store.head().next_position;
        max_head = max_head.max(head);
        let all = store.read_all(0, Direction::Forward, usize::MAX).unwrap();
        assert_eq!(all.len() as u64, head, "round {round}");
        assert!(all.iter().enumerate().all(|(i, e)| e.position == i as u64), "round {round}: gapless");
        for (id, pos) in &acked {
            let e = all.get(*pos as usize).unwrap_or_else(|| panic!("round {round}: acknowledged {pos} lost"));
            assert_eq!(e.event_id, *id, "round {round}: position {pos} holds another event");
        }
        let verify = store.verify().unwrap();
        assert!(verify.is_ok(), "round {round}: {verify:?}");

        let mut now = BTreeMap::new();
        let last = |n: &str| durable[n];
        now.insert(
            HazardLedger::NAME,
            check_projection::<HazardLedger>(&store, round, last(NAMES[0]), &report, &mut figures),
        );
        now.insert(
            AccidentStats::NAME,
            check_projection::<AccidentStats>(&store, round, last(NAMES[1]), &report, &mut figures),
        );
        now.insert(
            AccountabilityTrails::NAME,
            check_projection::<AccountabilityTrails>(&store, round, last(NAMES[2]), &report, &mut figures),
        );
        now.insert(
            Deliveries::NAME,
            check_projection::<Deliveries>(&store, round, last(NAMES[3]), &report, &mut figures),
        );

        // The consumer's durable record: positions 0..c, each exactly once, each with the payload
        // that is at that position now.
        let c = now[Deliveries::NAME];
        let d = load_snapshot::<Deliveries>(&store).unwrap().map(|(d, _)| d).unwrap_or_default();
        assert_eq!(d.delivered.len() as u64, c, "round {round}: deliveries recorded");
        for (i, (p, h)) in d.delivered.iter().enumerate() {
            assert_eq!(*p, i as u64, "round {round}: delivery {i} is position {p}");
            assert_eq!(h, blake3::hash(&all[i].payload).as_bytes(), "round {round}: delivery {i} saw other bytes");
        }
        // Folded by the killed child but not covered by its durable checkpoint: delivered again.
        let reached = report.delivered.get(Deliveries::NAME).and_then(|v| v.last()).map_or(c, |&(_, b)| b);
        figures.redelivered += reached.saturating_sub(c);
        durable = now;
        store.close().unwrap();
    }
    let f = &figures;
    eprintln!(
        "crash_projections: {rounds} rounds, {} events acknowledged (all present), largest log {max_head} events, \
         {} snapshots completed, {} snapshot writes cut by the kill and ignored (previous snapshot used), {} in \
         flight at the kill and found whole, {} deliveries past the durable checkpoint redelivered after restart",
        f.acked_events, f.snapshots_completed, f.torn_ignored, f.in_flight_kept, f.redelivered
    );
    assert!(f.acked_events > 0, "the child never acknowledged anything");
    assert!(f.snapshots_completed > 0, "the child never completed a snapshot");
}
