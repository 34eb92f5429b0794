//! `anquan`: the command line. Thin by design: parse, call the library, print.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use anquan::store::{Direction, EventStore, StoreOptions};

#[derive(Parser)]
#[command(name = "anquan", version, about = "Embedded, event-sourced safety incident tracking (安全)")]
struct Cli {
    /// Store folder (a sled store; created by `demo` if missing).
    #[arg(long, global = true, env = "ANQUAN_STORE", default_value = "anquan-data")]
    store: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a seeded sample history (communities, hazards from report to closure) through the
    /// engine, read it back and verify the hash chain.
    ///
    /// Example: anquan demo --store ./anquan-data
    Demo {
        /// How many sample hazards to take through their life.
        #[arg(long, default_value_t = 400)]
        hazards: u64,
    },
    /// Walk the whole log: hash chain, gapless positions, indexes. Exits non-zero on a problem.
    ///
    /// Example: anquan verify --store ./anquan-data
    Verify,
    /// Show the end of the log and its hash (for outside notarisation).
    ///
    /// Example: anquan head
    Head,
    /// List streams whose id starts with a prefix.
    ///
    /// Example: anquan streams --prefix hazard-
    Streams {
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print the events of one stream, oldest first.
    ///
    /// Example: anquan history hazard-000001
    History { stream: String },
    /// Write every event as JSON Lines (envelope, exact payload bytes, decoded event).
    ///
    /// Example: anquan export --out events.jsonl   (or to standard output without --out)
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import JSON Lines: commands from other systems (each validated against schemas/ and the
    /// domain rules; refused lines are reported and write nothing), or an `anquan export`, which
    /// is restored into an empty store with identical hashes.
    ///
    /// Example: anquan import commands.jsonl --all-or-nothing
    Import {
        /// A file, or - for standard input.
        file: String,
        /// Write nothing unless every line is accepted (commands only; one atomic commit).
        #[arg(long)]
        all_or_nothing: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 key for signing heads: writes the secret (hex) to --out, prints the public key.
    ///
    /// Example: anquan keygen --out notary.key
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify the log, then sign its head (event count + head hash + now) for outside notarisation.
    ///
    /// Example: anquan sign --key notary.key --out head.signed.json
    Sign {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a signed head against this store: signature, whole-log integrity, and that the log
    /// still hashes to the signed head at the signed position (it may have grown since).
    ///
    /// Example: anquan check-signature head.signed.json --public-key 3b6a27bc…
    CheckSignature {
        file: PathBuf,
        #[arg(long)]
        public_key: String,
    },
    /// Accident statistics for a year against the year before, by category and in total
    /// (incidents, deaths, injuries, direct loss; absolute and percent change).
    ///
    /// Example: anquan stats --year 2017 --as-of 2018-06-30T00:00:00Z --format json
    Stats {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        community: Option<String>,
        #[command(flatten)]
        view: View,
    },
    /// The hazard ledger (隐患台账): open hazards by grade, community and category, and with
    /// --overdue those past their deadline on the --as-of day (default now).
    ///
    /// Example: anquan hazards --overdue --format json
    Hazards {
        #[arg(long)]
        overdue: bool,
        #[command(flatten)]
        view: View,
    },
    /// The four don't-let-go (四不放过) of one incident: each condition, its evidence, what is missing.
    ///
    /// Example: anquan trail osha-101
    Trail {
        incident: String,
        #[command(flatten)]
        view: View,
    },
    /// Import incident records kept by another system from CSV, through a TOML column mapping.
    /// Reports rows imported, rejected and flagged with reasons, and deaths by year. Re-running
    /// the same file imports nothing twice.
    ///
    /// Example: anquan import-csv tests/data/osha_fatalities/osha_fatalities_09-22_complete.csv --mapping tests/data/osha_fatalities/mapping.toml
    ImportCsv {
        file: PathBuf,
        #[arg(long)]
        mapping: PathBuf,
        /// Print the full report as JSON (every rejected and flagged row).
        #[arg(long)]
        json: bool,
    },
}

/// How a query is asked and shown.
#[derive(clap::Args)]
struct View {
    /// State as recorded up to this time (RFC 3339); default: now, everything recorded.
    #[arg(long)]
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// `table` for people, `json` for machines.
    #[arg(long, default_value = "table")]
    format: String,
}

impl View {
    fn json(&self) -> Result<bool> {
        match self.format.as_str() {
            "table" => Ok(false),
            "json" => Ok(true),
            other => anyhow::bail!("unknown --format {other:?}: use table or json"),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.as_of.unwrap_or_else(chrono::Utc::now)
    }
}

/// Every projection, folded from the log up to the --as-of time.
fn projections(store: &EventStore, view: &View) -> Result<anquan::projections::AllProjections> {
    let end = match view.as_of {
        Some(t) => store.position_as_of(anquan::store::Timestamp::from_chrono(t))?,
        None => store.head().next_position,
    };
    let mut all = anquan::projections::AllProjections::default();
    anquan::projections::replay_all_range(store, &mut all, 0, end)?;
    Ok(all)
}

fn pct(p: Option<f64>) -> String {
    p.map(|v| format!("{v:+.1}%")).unwrap_or_else(|| "—".into())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Progress on stderr, only when a person is watching.
fn progress(label: &'static str) -> impl FnMut(u64) {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    move |n| {
        if tty {
            eprint!("\r{label} {n}");
        }
    }
}

fn open_input(file: &str) -> Result<Box<dyn std::io::BufRead>> {
    if file == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {file}"))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

fn open_existing(dir: &PathBuf) -> Result<EventStore> {
    EventStore::open_dir(dir, StoreOptions { create_if_missing: false, ..StoreOptions::default() })
        .with_context(|| format!("cannot open the store at {}", dir.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Export { out } => {
            let store = open_existing(&cli.store)?;
            let n = match out {
                Some(path) => {
                    let f = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
                    anquan::transfer::export(&store, &mut std::io::BufWriter::new(f), progress("exported"))?
                }
                None => {
                    anquan::transfer::export(&store, &mut std::io::BufWriter::new(std::io::stdout().lock()), |_| {})?
                }
            };
            eprintln!("exported {n} events; head hash {}", store.head().hash_hex());
            Ok(())
        }
        Cmd::Import { file, all_or_nothing, json } => import(&cli.store, &file, all_or_nothing, json),
        Cmd::ImportCsv { file, mapping, json } => import_csv(&cli.store, &file, &mapping, json),
        Cmd::Stats { year, community, view } => {
            let json = view.json()?;
            let store = open_existing(&cli.store)?;
            let all = projections(&store, &view)?;
            let Some(yoy) = all.accident_stats.year_on_year(year, community.as_deref()) else {
                anyhow::bail!("no statistics for {year}")
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&yoy)?);
                return Ok(());
            }
            println!("{year} against {} ({})", year - 1, community.as_deref().unwrap_or("all communities"));
            println!(
                "{:<22} {:>17} {:>17} {:>17} {:>26}",
                "category", "incidents", "deaths", "injuries", "direct loss (yuan)"
            );
            for line in yoy.categories.iter().chain(std::iter::once(&yoy.total)) {
                let name = line.category.as_deref().unwrap_or("TOTAL");
                let cell = |c: &anquan::projections::accident_stats::Change| {
                    format!("{}→{} {}", c.previous, c.current, pct(c.percent))
                };
                println!(
                    "{:<22} {:>17} {:>17} {:>17} {:>26}",
                    name,
                    cell(&line.incidents),
                    cell(&line.deaths),
                    cell(&line.injuries),
                    cell(&line.direct_loss_yuan)
                );
            }
            Ok(())
        }
        Cmd::Hazards { overdue, view } => {
            let json = view.json()?;
            let store = open_existing(&cli.store)?;
            let all = projections(&store, &view)?;
            let open = all.hazard_ledger.open_hazards();
            let late = if overdue { all.hazard_ledger.overdue(view.now()) } else { Vec::new() };
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "open": open, "overdue": late }))?);
                return Ok(());
            }
            println!("open hazards: {} ({} major)", open.total, open.major);
            for (grade, n) in &open.by_grade {
                println!("  grade {grade:<12} {n:>6}");
            }
            for (community, n) in &open.by_community {
                println!("  community {community:<24} {n:>6}");
            }
            if overdue {
                println!("overdue on {}: {}", view.now().date_naive(), late.len());
                for h in late.iter().take(50) {
                    println!(
                        "  {:<20} {:<16} deadline {}  {} days over{}",
                        h.hazard_id,
                        h.community_id,
                        h.deadline,
                        h.days_overdue,
                        if h.listed { "  挂牌督办" } else { "" }
                    );
                }
            }
            Ok(())
        }
        Cmd::Trail { incident, view } => {
            let json = view.json()?;
            let store = open_existing(&cli.store)?;
            let all = projections(&store, &view)?;
            let Some(status) = all.trails.four_status(&incident, view.now()) else {
                anyhow::bail!("no incident {incident} in this store")
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            println!(
                "incident {}: open {} days{}",
                status.incident_id,
                status.days_open,
                if status.closed { ", closed" } else { "" }
            );
            println!("{}", serde_json::to_string_pretty(&status.conditions)?);
            if status.missing.is_empty() {
                println!("all four conditions are met (四不放过)");
            } else {
                println!("missing: {}", status.missing.join(", "));
            }
            Ok(())
        }
        Cmd::Keygen { out } => {
            use std::io::Read;
            anyhow::ensure!(!out.exists(), "{} exists; not overwriting a key", out.display());
            let mut secret = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut secret))
                .context("cannot read randomness from /dev/urandom")?;
            let key = anquan::notary::signing_key_from_secret(&secret);
            std::fs::write(&out, anquan::notary::signing_key_to_hex(&key) + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("public key {}", anquan::notary::verifying_key_to_hex(&key.verifying_key()));
            Ok(())
        }
        Cmd::Sign { key, out } => {
            let store = open_existing(&cli.store)?;
            let hex = std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
            let key = anquan::notary::signing_key_from_hex(hex.trim())?;
            let now = anquan::store::Timestamp::from_chrono(chrono::Utc::now());
            let signed = anquan::notary::sign_head(&store, &key, now)?;
            let json = serde_json::to_string_pretty(&signed)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, json + "\n").with_context(|| format!("cannot write {}", path.display()))?
                }
                None => println!("{json}"),
            }
            eprintln!("signed head: {} events, hash {}", signed.next_position, signed.head_hash);
            Ok(())
        }
        Cmd::CheckSignature { file, public_key } => {
            let store = open_existing(&cli.store)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let signed: anquan::notary::SignedHead =
                serde_json::from_str(&text).with_context(|| format!("{} is not a signed head", file.display()))?;
            let key = anquan::notary::verifying_key_from_hex(public_key.trim())?;
            anquan::notary::verify_signed_head(&store, &signed, &key)?;
            println!("signature valid; the log still hashes to the signed head at {} events", signed.next_position);
            Ok(())
        }
        Cmd::Demo { hazards } => demo(&cli.store, hazards),
        Cmd::Verify => {
            let store = open_existing(&cli.store)?;
            let report = store.verify()?;
            match &report.problem {
                None => {
                    println!(
                        "verified {} events in {} streams ({} segments); head hash {}",
                        report.events, report.streams, report.segments, report.computed_head_hash
                    );
                    Ok(())
                }
                Some(p) => anyhow::bail!("integrity check failed at position {}: {}", p.position, p.detail),
            }
        }
        Cmd::Head => {
            let store = open_existing(&cli.store)?;
            let head = store.head();
            println!(
                "events {}\nhead hash {}\nlast recorded at {}",
                head.next_position,
                head.hash_hex(),
                head.last_recorded_at
            );
            Ok(())
        }
        Cmd::Streams { prefix, limit } => {
            let store = open_existing(&cli.store)?;
            for s in store.list_streams(&prefix, None, limit)? {
                let meta = store.stream_meta(&s)?;
                if let Some(m) = meta {
                    println!("{:<32} {:>6} events  last {}", s, m.event_count, m.last_recorded_at);
                }
            }
            Ok(())
        }
        Cmd::History { stream } => {
            let store = open_existing(&cli.store)?;
            let events = store.read_stream(&stream, 0, Direction::Forward, usize::MAX)?;
            anyhow::ensure!(!events.is_empty(), "stream {stream} has no events");
            for e in events {
                // Payloads are domain events; show them as JSON.
                let body = match anquan::domain::DomainEvent::from_payload(&e.event_type, e.schema_version, &e.payload)
                {
                    Ok(d) => serde_json::to_string(&d)?,
                    Err(err) => format!("({} bytes that do not decode as a domain event: {err})", e.payload.len()),
                };
                println!(
                    "#{:<3} pos {:<7} {:<36} by {:<12} at {}",
                    e.version, e.position, e.event_type, e.actor, e.recorded_at
                );
                println!("     {body}");
            }
            Ok(())
        }
    }
}

fn import_csv(dir: &PathBuf, file: &PathBuf, mapping: &PathBuf, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(mapping).with_context(|| format!("cannot read {}", mapping.display()))?;
    let mapping = anquan::csv_import::Mapping::from_toml(&text).with_context(|| format!("in {}", mapping.display()))?;
    let input = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store =
        EventStore::open(dir).with_context(|| format!("cannot open or create the store at {}", dir.display()))?;
    let engine = anquan::engine::Engine::new(store)?;
    let report = anquan::csv_import::import_incidents(&engine, &mapping, input, chrono::Utc::now(), progress("rows"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} rows: {} imported, {} already imported, {} rejected, {} flags",
        report.rows,
        report.imported,
        report.already_imported,
        report.rejected.len(),
        report.flagged.len()
    );
    for (k, n) in &report.rejected_by_kind {
        println!("  rejected  {n:>6}  {k}");
    }
    for (k, n) in &report.flagged_by_kind {
        println!("  flagged   {n:>6}  {k}");
    }
    for r in report.rejected.iter().take(5) {
        println!("  e.g. line {:>6} {:<14} {}", r.line, r.id, r.reason);
    }
    println!("deaths by year:");
    for (y, n) in &report.deaths_by_year {
        println!("  {y}  {n:>6}");
    }
    Ok(())
}

fn import(dir: &PathBuf, file: &str, all_or_nothing: bool, json: bool) -> Result<()> {
    use std::io::{BufRead, Read};
    let mut input = open_input(file)?;
    // The first line tells an export (restore) from commands.
    let mut first = String::new();
    while first.trim().is_empty() {
        first.clear();
        if input.read_line(&mut first)? == 0 {
            anyhow::bail!("{file} holds no lines to import");
        }
    }
    let is_export =
        serde_json::from_str::<serde_json::Value>(&first).ok().is_some_and(|v| v.get("payload_hex").is_some());
    let whole = std::io::BufReader::new(std::io::Cursor::new(first.into_bytes()).chain(input));
    if is_export {
        anyhow::ensure!(!all_or_nothing, "--all-or-nothing applies to commands; a restore is all or nothing by nature");
        let head = anquan::transfer::restore(dir, whole, progress("restored"))
            .with_context(|| format!("cannot restore into {}", dir.display()))?;
        println!("restored {} events into {}; head hash {}", head.next_position, dir.display(), head.hash_hex());
        return Ok(());
    }
    let store =
        EventStore::open(dir).with_context(|| format!("cannot open or create the store at {}", dir.display()))?;
    let engine = anquan::engine::Engine::new(store)?;
    let mut tick = progress("commands");
    let report = anquan::transfer::import_commands(&engine, whole, all_or_nothing, |n| tick(n as u64))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} lines: {} commands accepted ({} events), {} already done, {} refusals{}",
            report.lines,
            report.accepted,
            report.events_written,
            report.already_done,
            report.refused.len(),
            if report.rolled_back { "; nothing written (all-or-nothing)" } else { "" }
        );
        for r in &report.refused {
            println!("  line {:>6}  {:<32} {:<28} {}", r.line, r.field, r.rule, r.message);
        }
    }
    if report.refused.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} lines refused",
            report.refused.iter().map(|r| r.line).collect::<std::collections::BTreeSet<_>>().len(),
            report.lines
        )
    }
}

/// A small deterministic generator, so the demo is the same history on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs a seeded history of one district through the engine — communities, hazards from report
/// to closure, incidents with casualties — from 4 threads, reads it back and verifies the chain.
fn demo(dir: &PathBuf, hazards: u64) -> Result<()> {
    let store =
        EventStore::open(dir).with_context(|| format!("cannot open or create the store at {}", dir.display()))?;
    let start_head = store.head();
    let engine = anquan::engine::Engine::new(store)?;
    let run = format!("{:x}", start_head.next_position);
    let started = Instant::now();
    let kinds = ["urban_street", "rural_town", "enterprise_led"];
    for c in 0..20u64 {
        let body = serde_json::json!({
            "type": "community.register", "community_id": format!("c{run}-{c:02}"), "name": format!("示范社区 {c:02}"),
            "kind": kinds[(c % 3) as usize], "district": "示范区", "population": 8_000 + c * 1_500, "population_as_of": "2025-01-01"
        });
        engine.execute_json(&command("committee-1", "2025-01-02T09:00:00Z", body))?;
    }
    let rejected = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let (engine, run, rejected) = (&engine, &run, &rejected);
                s.spawn(move || -> Result<()> {
                    let mut rng = Lcg(0x5afe_0000 + t);
                    for h in (t..hazards).step_by(4) {
                        for json in hazard_story(&mut rng, &format!("h{run}-{h:05}"), &format!("c{run}-{:02}", h % 20))
                        {
                            match engine.execute_json(&json) {
                                Ok(_) => {}
                                Err(anquan::engine::EngineError::Rejected(_)) => {
                                    rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a demo thread panicked"))??;
        }
        Ok(())
    })?;
    let appended_in = started.elapsed();
    let store = engine.store();
    let read_started = Instant::now();
    let events = store.read_all(start_head.next_position, Direction::Forward, usize::MAX)?;
    let read_in = read_started.elapsed();
    let mut by_type = std::collections::BTreeMap::<&str, u64>::new();
    for e in &events {
        *by_type.entry(&*e.event_type).or_default() += 1;
    }
    let report = store.verify()?;
    if let Some(p) = &report.problem {
        anyhow::bail!("integrity check failed at position {}: {}", p.position, p.detail);
    }
    let stats = store.stats();
    println!("store      {}", dir.display());
    println!(
        "appended   {} events from {} commands ({} refused by a domain rule, as the story intends) in {:.2?}; {} durable group commits",
        events.len(),
        stats.requests,
        rejected.load(std::sync::atomic::Ordering::Relaxed),
        appended_in,
        stats.syncs
    );
    for (t, n) in &by_type {
        println!("           {n:>6}  {t}");
    }
    println!("read back  {} events in {:.2?}", events.len(), read_in);
    println!(
        "verified   {} events, {} streams: hash chain intact, positions gapless, indexes agree",
        report.events, report.streams
    );
    println!("head hash  {}", report.computed_head_hash);
    Ok(())
}

fn command(actor: &str, at: &str, body: serde_json::Value) -> String {
    serde_json::json!({ "command_id": uuid::Uuid::new_v4().to_string(), "actor": actor, "issued_at": at, "command": body }).to_string()
}

/// One hazard's life: reported, graded, ordered rectified (五到位), done, verified, closed —
/// with a few majors, a few failed verifications that reopen, and one refused shortcut.
fn hazard_story(rng: &mut Lcg, id: &str, community: &str) -> Vec<String> {
    let categories = ["fire", "production", "electricity", "construction", "road_traffic", "hazardous_chemicals"];
    let category = categories[rng.below(categories.len() as u64) as usize];
    let major = rng.below(100) < 6;
    let day = 1 + rng.below(27);
    let at = |d: u64, h: u64| format!("2025-03-{:02}T{:02}:00:00Z", d.min(28), 8 + h);
    let mut out = vec![command(
        "grid-07",
        &at(day, 0),
        serde_json::json!({
            "type": "hazard.report", "hazard_id": id, "source": "grid_inspection", "reporter": "网格员",
            "community_id": community, "grid_id": null, "enterprise_id": null, "category": category,
            "location": "示范楼栋", "description": "巡查发现隐患", "found_at": at(day, 0)
        }),
    )];
    out.push(command(
        "bureau-01",
        &at(day, 1),
        serde_json::json!({ "type": "hazard.grade", "hazard_id": id, "grade": if major { "major" } else { "general" }, "criterion": "SAWS-16", "criterion_version": "2008", "basis": null }),
    ));
    if major && rng.below(2) == 0 {
        // Missing funds: refused (五到位), then ordered properly.
        out.push(order(id, &at(day, 2), None));
    }
    out.push(order(id, &at(day, 2), Some(10_000 + rng.below(90_000))));
    if rng.below(10) < 8 {
        out.push(command(
            "ent-officer",
            &at(day + 1, 3),
            serde_json::json!({ "type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已整改" }),
        ));
        let passed = rng.below(10) != 0;
        out.push(command("bureau-02", &at(day + 1, 4), serde_json::json!({ "type": "hazard.verify_rectification", "hazard_id": id, "passed": passed, "remarks": "现场验收" })));
        if passed {
            out.push(command(
                "bureau-02",
                &at(day + 1, 5),
                serde_json::json!({ "type": "hazard.close", "hazard_id": id, "remarks": null }),
            ));
        }
    }
    out
}

fn order(id: &str, at: &str, funds: Option<u64>) -> String {
    command(
        "bureau-01",
        at,
        serde_json::json!({
            "type": "hazard.order_rectification", "hazard_id": id, "responsible": "单位主要负责人", "measures": "限期整改",
            "funds_yuan": funds, "deadline": "2025-04-30", "contingency_plan": "整改期间专人值守"
        }),
    )
}
