//! Measurement of projection speed, `cargo bench --bench projections` (nothing about time is
//! asserted): fills a store (deferred durability, large multi-stream appends) with hazard and
//! incident events, then prints
//! - the rate of a bare read pass over the log (what the store alone costs),
//! - the rebuild rate of each projection alone, and of all five in one pass (`rebuild_all`),
//! - with `ANQUAN_BENCH_FOLDS` set, the folds alone (events decoded beforehand) per projection,
//!   event by event and as a bulk fold, in wall and thread CPU time,
//! - snapshot write/load times, and startup from snapshots (all five runners opened and caught
//!   up) against a full one-pass rebuild,
//! - p50/p99/max latency of each query over many calls on the rebuilt projections, a
//!   time-travel query (statistics as of the middle of the log), and the peak resident memory.
//!
//! The figures (counts) are asserted. `ANQUAN_BENCH_HAZARDS` / `ANQUAN_BENCH_INCIDENTS` change
//! the scale (default 120,000 hazards of 3–4 events and 150,000 incidents of 3–6 events, over 50
//! registered communities: about 1,020,000 events). Incidents run their course as in a district's
//! books: a third (fire, standing in for a graded category) are graded and investigated, all but
//! 1 in 500 are closed 30 days after the accident, and most closed ones are evaluated, so the
//! 四不放过 queries return the few open cases, not the whole history.

use std::time::{Duration as StdDuration, Instant};

use anquan::events::community::{CommunityEvent, CommunityKind, CommunityRegistered};
use anquan::events::hazard::{
    HazardClosed, HazardEvent, HazardGraded, HazardReported, HazardSource, RectificationOrdered,
};
use anquan::events::incident::{
    AuthorityLevel, IncidentClosed, IncidentEvent, IncidentGrade, IncidentGraded, IncidentReported,
    InvestigationOpened, InvestigationReportSubmitted, PostClosureEvaluated,
};
use anquan::events::{DomainEvent, EntityId};
use anquan::projections::accident_stats::{AccidentStats, GroupBy, StatsFilter, StreakRule};
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::injury_surveillance::InjurySurveillance;
use anquan::projections::promotion::PromotionProjects;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{
    decode, load_snapshot, rebuild, rebuild_all, replay_until, save_snapshot, state_bytes, AllProjections, Period,
    Projection, ProjectionRunner, PAGE,
};
use anquan::store::{
    Direction, Durability, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, StreamAppend, Timestamp,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The allocator the `anquan` binary uses (see `Cargo.toml`); `--no-default-features` measures
/// under the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scale(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn id(s: String) -> EntityId {
    EntityId::new(s).unwrap()
}

fn proposed(e: DomainEvent, at: DateTime<Utc>) -> ProposedEvent {
    let (t, v, payload) = e.to_payload().unwrap();
    ProposedEvent::new(t, v, Timestamp::from_chrono(at), "loader", payload)
}

/// Fills the store; returns the number of events written.
fn fill(store: &EventStore, hazards: usize, incidents: usize) -> u64 {
    let mut written = 0u64;
    let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut batch: Vec<StreamAppend> = Vec::new();
    let mut in_batch = 0;
    let flush = |batch: &mut Vec<StreamAppend>, in_batch: &mut usize, force: bool| {
        if *in_batch >= 9_990 || (force && *in_batch > 0) {
            store.append_multi(std::mem::take(batch)).unwrap();
            *in_batch = 0;
        }
    };
    for n in 0..50 {
        let e = CommunityEvent::Registered(CommunityRegistered {
            community_id: id(format!("c{n}")),
            recorded_by: id("loader".into()),
            recorded_at: base - Duration::days(4 * 365),
            name: format!("社区{n}"),
            kind: CommunityKind::UrbanStreet,
            district: "区".into(),
            population: 50_000,
            population_as_of: "2020-01-01".parse().unwrap(),
        });
        let stream = DomainEvent::Community(e.clone()).stream_id();
        let p = proposed(DomainEvent::Community(e), base);
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, vec![p]));
        in_batch += 1;
        written += 1;
    }
    for n in 0..hazards {
        let at = base + Duration::minutes(n as i64 * 5);
        let h = id(format!("h{n}"));
        let by = id("loader".into());
        let mut events = vec![
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
                recorded_by: by.clone(),
                recorded_at: at,
                responsible: Some("负责人".into()),
                measures: Some("整改".into()),
                funds_yuan: Some(100),
                deadline: (at + Duration::days(30)).date_naive(),
                contingency_plan: Some("预案".into()),
            }),
        ];
        // Half of the hazards are closed (销号) 20 days after they were found.
        if n % 2 == 0 {
            events.push(HazardEvent::Closed(HazardClosed {
                hazard_id: h.clone(),
                recorded_by: by,
                recorded_at: at + Duration::days(20),
                remarks: None,
            }));
        }
        let stream = DomainEvent::Hazard(events[0].clone()).stream_id();
        in_batch += events.len();
        written += events.len() as u64;
        let proposed = events.into_iter().map(|e| proposed(DomainEvent::Hazard(e), at)).collect();
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, proposed));
        flush(&mut batch, &mut in_batch, false);
    }
    for n in 0..incidents {
        let at = base + Duration::minutes(n as i64 * 8);
        let i = id(format!("i{n}"));
        let by = id("loader".into());
        let deaths = (n % 4) as u32;
        let mut events = vec![IncidentEvent::Reported(IncidentReported {
            incident_id: i.clone(),
            recorded_by: id("loader".into()),
            recorded_at: at,
            occurred_at: at,
            reported_at: at,
            place: "现场".into(),
            community_id: id(format!("c{}", n % 50)),
            enterprise_id: None,
            category: if n % 3 == 0 { "fire".into() } else { "road_traffic".into() },
            deaths,
            serious_injuries: 1,
            minor_injuries: 2,
            missing: 0,
            direct_loss_yuan: 1000,
            summary: "事故".into(),
            report_delay_minutes: 10,
            report_limit_minutes: 60,
            reported_late: false,
        })];
        let closed = n % 500 != 0;
        if n % 3 == 0 {
            let grade = if deaths >= 3 { IncidentGrade::RelativelySerious } else { IncidentGrade::Ordinary };
            events.push(IncidentEvent::Graded(IncidentGraded {
                incident_id: i.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
                grade,
                previous_grade: None,
                deaths_counted: deaths,
                missing_counted_as_dead: false,
                serious_injuries: 1,
                direct_loss_yuan: 1000,
                decided_by: Vec::new(),
            }));
            events.push(IncidentEvent::InvestigationOpened(InvestigationOpened {
                incident_id: i.clone(),
                recorded_by: by.clone(),
                recorded_at: at + Duration::days(1),
                authority_level: AuthorityLevel::County,
                authority: "县政府".into(),
                required_level: Some(AuthorityLevel::County),
                deadline: at + Duration::days(60),
            }));
            if closed {
                events.push(IncidentEvent::InvestigationReportSubmitted(InvestigationReportSubmitted {
                    incident_id: i.clone(),
                    recorded_by: by.clone(),
                    recorded_at: at + Duration::days(25),
                    submitted_at: at + Duration::days(25),
                    summary: "调查报告".into(),
                    deadline: at + Duration::days(60),
                    overdue: false,
                    sign_off_days: Some(15),
                    sign_off_due: Some(at + Duration::days(40)),
                }));
            }
        }
        if closed {
            let signed_off_at = at + Duration::days(30);
            events.push(IncidentEvent::Closed(IncidentClosed {
                incident_id: i.clone(),
                recorded_by: by.clone(),
                recorded_at: signed_off_at,
                signed_off_at,
                signed_off_by: "县政府".into(),
                evaluation_due: (signed_off_at + Duration::days(365)).date_naive(),
            }));
            if n % 100 != 1 {
                events.push(IncidentEvent::Evaluated(PostClosureEvaluated {
                    incident_id: i.clone(),
                    recorded_by: by.clone(),
                    recorded_at: signed_off_at + Duration::days(200),
                    evaluated_at: signed_off_at + Duration::days(200),
                    findings: "已落实".into(),
                    published: true,
                    overdue: false,
                }));
            }
        }
        let stream = DomainEvent::Incident(events[0].clone()).stream_id();
        in_batch += events.len();
        written += events.len() as u64;
        let proposed = events.into_iter().map(|e| proposed(DomainEvent::Incident(e), at)).collect();
        batch.push(StreamAppend::new(stream, ExpectedVersion::NoStream, proposed));
        flush(&mut batch, &mut in_batch, false);
    }
    flush(&mut batch, &mut in_batch, true);
    written
}

/// Hands every page of the log to `f`, in order; returns the events read.
fn for_each_page(store: &EventStore, mut f: impl FnMut(Vec<anquan::store::RecordedEvent>)) -> u64 {
    let n = store.head().next_position;
    let mut next = 0u64;
    while next < n {
        let page = store.read_all(next, Direction::Forward, PAGE).unwrap();
        if page.is_empty() {
            break;
        }
        next += page.len() as u64;
        f(page);
    }
    next
}

/// A bare read pass over the whole log, no decoding: what the store alone costs.
fn time_read_pass(store: &EventStore) {
    let n = store.head().next_position;
    let (t, c) = (Instant::now(), process_cpu());
    let mut bytes = 0usize;
    let next = for_each_page(store, |page| bytes += page.iter().map(|e| e.payload.len()).sum::<usize>());
    let s = t.elapsed().as_secs_f64();
    println!(
        "read pass (no decode)            {next} events in {s:.3} s = {:.0} events/s ({bytes} payload bytes; {:.3} s cpu)",
        n as f64 / s,
        (process_cpu() - c).as_secs_f64()
    );
}

/// A read pass that decodes every payload, no projection: what decoding adds.
fn time_decode_pass(store: &EventStore) {
    let n = store.head().next_position;
    let (t, c) = (Instant::now(), process_cpu());
    let next = for_each_page(store, |page| {
        for r in &page {
            std::hint::black_box(decode(r).unwrap());
        }
    });
    let s = t.elapsed().as_secs_f64();
    println!(
        "read + decode pass               {next} events in {s:.3} s = {:.0} events/s ({:.3} s cpu)",
        n as f64 / s,
        (process_cpu() - c).as_secs_f64()
    );
}

/// CPU time of the whole process, all threads (what a pass costs, whatever else the machine
/// runs; steadier than wall time on a shared machine). The store's background flusher is
/// counted too, but it is idle while these passes only read.
fn process_cpu() -> StdDuration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    StdDuration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of the calling thread (what a fold costs, whatever else the machine runs).
fn thread_cpu() -> StdDuration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    StdDuration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Folds events decoded already into a fresh projection, event by event or as one bulk fold;
/// returns (wall s, thread CPU s).
fn fold_only<P: Projection>(events: &[(anquan::store::RecordedEvent, DomainEvent)], bulk: bool) -> (P, f64, f64) {
    let (t, c) = (Instant::now(), thread_cpu());
    let mut p = P::default();
    if bulk {
        p.begin_bulk();
    }
    for (r, e) in events {
        if P::wants(&r.event_type) {
            p.apply(r, e);
        }
    }
    let end = thread_cpu();
    p.end_bulk();
    if bulk {
        println!("  {} end_bulk (index rebuild) {:.3} s cpu", P::NAME, (thread_cpu() - end).as_secs_f64());
    }
    (p, t.elapsed().as_secs_f64(), (thread_cpu() - c).as_secs_f64())
}

/// The folds alone, on events read and decoded beforehand: each projection event by event
/// (as live `apply` does) and as a bulk fold (as a rebuild does).
fn time_folds(store: &EventStore) {
    let n = store.head().next_position;
    let mut events = Vec::with_capacity(n as usize);
    for_each_page(store, |page| {
        for r in page {
            if let Some(e) = decode(&r).unwrap() {
                events.push((r, e));
            }
        }
    });
    fn one<P: Projection + PartialEq>(events: &[(anquan::store::RecordedEvent, DomainEvent)], n: u64) -> [f64; 2] {
        let (each, w1, c1) = fold_only::<P>(events, false);
        let (bulk, w2, c2) = fold_only::<P>(events, true);
        assert!(each == bulk, "{}: bulk fold differs", P::NAME);
        println!(
            "fold only {:<24} each {w1:.3} s wall {c1:.3} s cpu = {:.0} ev/cpu-s; bulk {w2:.3} s wall {c2:.3} s cpu = {:.0} ev/cpu-s",
            P::NAME,
            n as f64 / c1,
            n as f64 / c2
        );
        [c1, c2]
    }
    let sums = [
        one::<HazardLedger>(&events, n),
        one::<AccidentStats>(&events, n),
        one::<AccountabilityTrails>(&events, n),
        one::<InjurySurveillance>(&events, n),
        one::<PromotionProjects>(&events, n),
    ]
    .iter()
    .fold([0.0, 0.0], |a, c| [a[0] + c[0], a[1] + c[1]]);
    println!(
        "fold only, all five                each {:.3} s cpu = {:.0} ev/cpu-s; bulk {:.3} s cpu = {:.0} ev/cpu-s",
        sums[0],
        n as f64 / sums[0],
        sums[1],
        n as f64 / sums[1]
    );
}

/// Calls `f` repeatedly (at least 5 times, up to `calls` or about 2 s) and prints p50/p99/max.
fn latency<T>(name: &str, calls: usize, mut f: impl FnMut() -> T) {
    let mut times: Vec<StdDuration> = Vec::with_capacity(calls);
    let budget = Instant::now();
    while times.len() < calls && (times.len() < 5 || budget.elapsed() < StdDuration::from_secs(2)) {
        let t = Instant::now();
        std::hint::black_box(f());
        times.push(t.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "query {name:<40} n={:<5} p50 {:>10.1?} p99 {:>10.1?} max {:>10.1?}",
        times.len(),
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
}

fn time_rebuild<P: Projection>(store: &EventStore) -> P {
    let n = store.head().next_position;
    let t = Instant::now();
    let p: P = rebuild(store).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!("rebuild {:<24} {n} events in {s:.3} s = {:.0} events/s", P::NAME, n as f64 / s);
    let t = Instant::now();
    // A state over the snapshot limit is refused (reported, not a bench failure).
    match save_snapshot(store, &p, n) {
        Ok(()) => {
            let w = t.elapsed();
            let t = Instant::now();
            // A state the writer accepted can still exceed the decoder's limits (reported).
            let size = state_bytes(&p).unwrap().len();
            match load_snapshot::<P>(store) {
                Ok(Some((_, c))) => {
                    println!("  snapshot of {size} bytes: write {w:?}, load {:?} (checkpoint {c})", t.elapsed())
                }
                Ok(None) => println!("  snapshot write {w:?}, load found none"),
                Err(e) => println!("  snapshot write {w:?}, load failed: {e}"),
            }
        }
        Err(e) => println!("  snapshot not written: {e}"),
    }
    p
}

/// Opens one runner from its snapshot and catches it up; returns the runner, so that the caller
/// times its start without its drop.
fn start_runner<P: Projection>(store: &EventStore) -> ProjectionRunner<'_, P> {
    let r = ProjectionRunner::<P>::start(store).unwrap();
    assert!(r.snapshot_checkpoint().is_some(), "{} started without a snapshot", P::NAME);
    r
}

/// Startup of all five projections from their snapshots (written at the head) against a
/// one-pass rebuild of all five.
fn time_startup(store: &EventStore, rebuild_s: f64) {
    let n = store.head().next_position;
    let all = rebuild_all(store).unwrap();
    let t = Instant::now();
    all.save_snapshots(store, n).unwrap();
    println!("snapshots of all five written in {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let runners = (
        start_runner::<HazardLedger>(store),
        start_runner::<AccidentStats>(store),
        start_runner::<AccountabilityTrails>(store),
        start_runner::<InjurySurveillance>(store),
        start_runner::<PromotionProjects>(store),
    );
    let s = t.elapsed().as_secs_f64();
    let checkpoints = [
        runners.0.checkpoint(),
        runners.1.checkpoint(),
        runners.2.checkpoint(),
        runners.3.checkpoint(),
        runners.4.checkpoint(),
    ];
    drop(runners);
    assert!(checkpoints.iter().all(|&c| c == n));
    println!(
        "startup from snapshots (5 runners opened + caught up) {s:.3} s; full rebuild_all {rebuild_s:.3} s ({:.1}x)",
        rebuild_s / s
    );
    // What the CLI does: all five at once, their snapshots loaded on three threads. Five loads,
    // each timed without the drop of its state afterwards (a fifth or more of the earlier figure).
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let (loaded, from) = AllProjections::as_of(store, n).unwrap();
            let s = t.elapsed().as_secs_f64();
            drop(loaded);
            assert_eq!(from, n, "AllProjections::as_of did not start from the snapshots");
            s
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let (median, best) = (times[2], times[0]);
    println!(
        "startup from snapshots (AllProjections::as_of at the head, 5 loads) median {median:.3} s, best {best:.3} s ({:.1}x faster than rebuild_all)",
        rebuild_s / median
    );
}

fn main() {
    let hazards = scale("ANQUAN_BENCH_HAZARDS", 120_000);
    let incidents = scale("ANQUAN_BENCH_INCIDENTS", 150_000);
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        durability: Durability::Deferred { flush_interval: StdDuration::from_millis(500) },
        ..StoreOptions::default()
    };
    let store = EventStore::open_dir(dir.path(), options).unwrap();
    println!("allocator: {}", if cfg!(feature = "mimalloc") { "mimalloc" } else { "system" });
    let t = Instant::now();
    let written = fill(&store, hazards, incidents);
    store.flush().unwrap();
    println!("filled {} events in {:?}", store.head().next_position, t.elapsed());
    assert_eq!(store.head().next_position, written);

    time_read_pass(&store);
    time_decode_pass(&store);
    if std::env::var_os("ANQUAN_BENCH_FOLDS").is_some() {
        time_folds(&store);
    }
    let n = store.head().next_position;
    let (t, c) = (Instant::now(), process_cpu());
    let all = rebuild_all(&store).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "rebuild_all (5 projections, 1 pass) {n} events in {s:.3} s = {:.0} events/s ({:.3} s cpu)",
        n as f64 / s,
        (process_cpu() - c).as_secs_f64()
    );
    time_startup(&store, s);
    let ledger: HazardLedger = time_rebuild(&store);
    let stats: AccidentStats = time_rebuild(&store);
    let trails: AccountabilityTrails = time_rebuild(&store);

    assert_eq!(all.hazard_ledger, ledger);
    assert_eq!(all.accident_stats, stats);
    assert_eq!(all.trails, trails);

    let open_total = hazards as u64 / 2;
    let open = ledger.open_hazards();
    assert_eq!(open.total, open_total);
    let everything = Period { from: NaiveDate::MIN, to: NaiveDate::MAX };
    let total = stats.totals(&StatsFilter::new(everything));
    assert_eq!(total.incidents, incidents as u64);
    let yoy = stats.year_on_year(2025, None).unwrap();
    assert!(yoy.total.incidents.previous > 0);
    let now: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    let mid: DateTime<Utc> = "2024-06-01T00:00:00Z".parse().unwrap();

    const CALLS: usize = 2_000;
    latency("open_hazards", CALLS, || ledger.open_hazards());
    latency("rates(year 2024)", CALLS, || ledger.rates(Period::year(2024).unwrap()));
    latency("rates(month 2024-03)", CALLS, || ledger.rates(Period::month(2024, 3).unwrap()));
    latency("overdue(2024-06-01) [returns rows]", CALLS, || ledger.overdue(mid).len());
    latency("overdue(2026-06-01) [returns rows]", 200, || ledger.overdue(now).len());
    latency("listed_for_supervision(open)", CALLS, || ledger.listed_for_supervision(true));
    latency("five_in_place(major)", CALLS, || ledger.five_in_place(true));
    latency("repeat_penalties", CALLS, || ledger.repeat_penalties(now.date_naive()));
    latency("totals(all)", CALLS, || stats.totals(&StatsFilter::new(everything)));
    latency("totals(2024-03-05..2025-02-11, fire, c7)", CALLS, || {
        let p = Period { from: "2024-03-05".parse().unwrap(), to: "2025-02-11".parse().unwrap() };
        stats.totals(&StatsFilter::new(p).category("fire").community("c7"))
    });
    latency("year_on_year(2025, all)", CALLS, || stats.year_on_year(2025, None));
    latency("year_on_year(2025, c7)", CALLS, || stats.year_on_year(2025, Some("c7")));
    latency("by_month(2024, fire, all)", CALLS, || stats.by_month(2024, Some("fire"), None));
    latency("breakdown(year 2024)", CALLS, || stats.breakdown(Period::year(2024).unwrap()));
    latency("rate_per_100k(2024)", CALLS, || stats.rate_per_100k(Period::year(2024).unwrap(), None, None));
    let (y24, y25) = (Period::year(2024).unwrap(), Period::year(2025).unwrap());
    latency("by_grade(2024)", CALLS, || stats.by_grade(y24));
    latency("compare(2025 vs 2024, by month)", CALLS, || stats.compare(y25, y24, GroupBy::Month, None, None));
    latency("compare(2025 vs 2024, by month, fire, c7)", CALLS, || {
        stats.compare(y25, y24, GroupBy::Month, Some("fire"), Some("c7"))
    });
    latency("compare(2025 vs 2024, by grade)", CALLS, || stats.compare(y25, y24, GroupBy::Grade, None, None));
    latency("compare(2025 vs 2024, by grade, c7)", CALLS, || stats.compare(y25, y24, GroupBy::Grade, None, Some("c7")));
    let today = now.date_naive();
    latency("streak(c7, all, fatal)", CALLS, || stats.streak(Some("c7"), None, StreakRule::Fatal, today));
    latency("streak(all, fire, >= relatively serious)", CALLS, || {
        stats.streak(None, Some("fire"), StreakRule::GradeAtLeast(IncidentGrade::RelativelySerious), today)
    });
    latency("streak_share(fire, fatal, 3 years)", CALLS, || {
        stats.streak_share(Some("fire"), StreakRule::Fatal, 3, today)
    });
    latency("streak_share(all, >= serious, 3 years)", CALLS, || {
        stats.streak_share(None, StreakRule::GradeAtLeast(IncidentGrade::Serious), 3, today)
    });
    latency("missing_conditions(2026-06-01) [returns rows]", CALLS, || trails.missing_conditions(now).len());
    latency("missing_conditions(2024-06-01) [returns rows]", CALLS, || trails.missing_conditions(mid).len());
    latency("past_investigation_deadline(2026-06-01) [returns rows]", CALLS, || {
        trails.past_investigation_deadline(now).len()
    });
    latency("past_investigation_deadline(2024-06-01) [returns rows]", CALLS, || {
        trails.past_investigation_deadline(mid).len()
    });
    latency("evaluations_due(2026-06-01) [returns rows]", CALLS, || trails.evaluations_due(now).len());
    println!(
        "rows: missing_conditions(now) {}, (mid) {}; past_investigation_deadline(now) {}, (mid) {}; evaluations_due {}",
        trails.missing_conditions(now).len(),
        trails.missing_conditions(mid).len(),
        trails.past_investigation_deadline(now).len(),
        trails.past_investigation_deadline(mid).len(),
        trails.evaluations_due(now).len()
    );
    println!("open hazards {}; incidents {}; deaths {}", open.total, total.incidents, total.deaths);

    // Time travel (查询任意时点): the statistics as they stood halfway through the log, then a
    // query on them. A replay from 0, so its cost grows with the point in time asked for.
    let half = n / 2;
    latency("time travel: stats as of position n/2 + year_on_year", 5, || {
        let past: AccidentStats = replay_until(&store, half).unwrap();
        past.year_on_year(2025, None).map(|y| y.total.incidents.current)
    });
    println!("peak resident memory (VmHWM) {}", peak_memory().unwrap_or_else(|| "unknown".into()));
}

/// The process's peak resident set, from /proc (Linux).
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_string())
}
