//! `anquan`: the command line. Thin by design: parse, call the library, print.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use anquan::store::{Direction, EventStore, ExpectedVersion, ProposedEvent, StoreOptions, StreamAppend, Timestamp};

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
    /// Append a batch of sample events, read them back and verify the hash chain.
    ///
    /// Example: anquan demo --store ./anquan-data
    Demo {
        /// How many sample hazards to report.
        #[arg(long, default_value_t = 1000)]
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

fn open_existing(dir: &PathBuf) -> Result<EventStore> {
    EventStore::open_dir(dir, StoreOptions { create_if_missing: false, ..StoreOptions::default() })
        .with_context(|| format!("cannot open the store at {}", dir.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
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
                println!(
                    "#{:<4} pos {:<8} {:<24} by {:<12} at {}  {}",
                    e.version,
                    e.position,
                    e.event_type,
                    e.actor,
                    e.recorded_at,
                    String::from_utf8_lossy(&e.payload)
                );
            }
            Ok(())
        }
    }
}

/// Appends sample hazard reports and rectification orders (multi-stream commits), reads them
/// back and verifies the chain. Later issues grow this into the full district demo.
fn demo(dir: &PathBuf, hazards: u64) -> Result<()> {
    let store =
        EventStore::open(dir).with_context(|| format!("cannot open or create the store at {}", dir.display()))?;
    let start_head = store.head();
    let started = Instant::now();
    let occurred = Timestamp::from_micros(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
    let base = start_head.next_position;
    let mut written = 0u64;
    for i in 0..hazards {
        let id = base + i;
        let hazard = format!("hazard-{id:06}");
        let community = format!("community-{:02}", id % 20);
        let report = ProposedEvent::new(
            "hazard.reported",
            1,
            occurred,
            "grid-inspector-07",
            format!(
                "{{\"community\":\"{community}\",\"grade\":\"{}\"}}",
                if id % 17 == 0 { "major" } else { "general" }
            )
            .into_bytes(),
        );
        let order = ProposedEvent::new(
            "hazard.rectification_ordered",
            1,
            occurred,
            "bureau-supervisor-02",
            format!("{{\"deadline_days\":{}}}", 7 + id % 30).into_bytes(),
        );
        let mut note = ProposedEvent::new(
            "community.hazard_noted",
            1,
            occurred,
            "bureau-supervisor-02",
            hazard.clone().into_bytes(),
        );
        note.correlation_id = Some(report.event_id);
        // One atomic commit across the hazard and its community.
        let out = store.append_multi(vec![
            StreamAppend::new(hazard, ExpectedVersion::NoStream, vec![report, order]),
            StreamAppend::new(community, ExpectedVersion::Any, vec![note]),
        ])?;
        written += out.positions.len() as u64;
    }
    let appended_in = started.elapsed();
    let read_started = Instant::now();
    let events = store.read_all(start_head.next_position, Direction::Forward, usize::MAX)?;
    anyhow::ensure!(events.len() as u64 == written, "read back {} events, wrote {written}", events.len());
    let read_in = read_started.elapsed();
    let report = store.verify()?;
    if let Some(p) = &report.problem {
        anyhow::bail!("integrity check failed at position {}: {}", p.position, p.detail);
    }
    println!("store      {}", dir.display());
    println!(
        "appended   {written} events ({hazards} hazards, each one atomic commit across two streams) in {:.2?}, durable",
        appended_in
    );
    println!("read back  {} events in {:.2?}", events.len(), read_in);
    println!(
        "verified   {} events, {} streams: hash chain intact, positions gapless, indexes agree",
        report.events, report.streams
    );
    println!("head hash  {}", report.computed_head_hash);
    Ok(())
}
