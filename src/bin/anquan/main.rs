//! `anquan`: the command line. Thin by design: parse, call the library, print.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod cluster;
mod codes;
mod deadlines;
mod demo;
mod out;
mod serve;
mod views;
mod write;

use out::{Labels, Lang};
use views::{open_existing, By, View};
use write::{erase_person, export, import, import_csv, init, verify, write_secret_file, RestoreArgs};

/// The binary's allocator (see `Cargo.toml`): decoding and folding events allocate small strings by
/// the million, and mimalloc's thread-local free lists make that markedly cheaper than glibc's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "anquan",
    version,
    about = "Embedded, event-sourced safety incident tracking (安全): hazards, incidents, statistics, audits",
    after_help = "Start with `anquan demo`, then `anquan stats`, `anquan hazards --overdue`, `anquan incidents --open`.\nRUST_LOG=debug shows tracing on stderr."
)]
struct Cli {
    /// Store folder (a sled store; created by `demo` and `import` if missing).
    #[arg(long, global = true, env = "ANQUAN_STORE", default_value = "anquan-data")]
    store: PathBuf,
    /// Language of labels: zh or en (default: from the locale, LANG=zh_CN.UTF-8 gives zh).
    #[arg(long, global = true, value_enum)]
    lang: Option<Lang>,
    /// Ask a running `anquan serve` instead of opening the store folder (which the service
    /// holds): query commands only, same output.
    #[arg(long, global = true, env = "ANQUAN_SERVER")]
    server: Option<String>,
    /// The bearer token for --server (`anquan token`).
    #[arg(long, global = true, env = "ANQUAN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Who runs a writing command (import, import-csv, erase-person, export --reveal-personal):
    /// authorised by the store's roles like a host's user.
    #[arg(long, global = true, env = "ANQUAN_ACTOR")]
    actor: Option<String>,
    #[command(flatten)]
    cluster: cluster::ClusterArgs,
    #[command(subcommand)]
    command: Cmd,
}

/// `--rule` of `anquan streaks`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum StreakRuleArg {
    /// Any accident with a death (无死亡事故).
    Fatal,
    /// Any accident of grade 较大 or above.
    RelativelySeriousOrAbove,
    /// Any accident of grade 重大 or above.
    SeriousOrAbove,
}

impl From<StreakRuleArg> for anquan::interface::query::BreakingRule {
    fn from(r: StreakRuleArg) -> Self {
        match r {
            StreakRuleArg::Fatal => Self::Fatal,
            StreakRuleArg::RelativelySeriousOrAbove => Self::RelativelySeriousOrAbove,
            StreakRuleArg::SeriousOrAbove => Self::SeriousOrAbove,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Fill a store with a seeded, reproducible three-year history of one district, then print
    /// what a bureau head wants on one screen.
    ///
    /// Example: anquan demo --store ./anquan-data
    Demo {
        /// Seed of the generated history (same seed, same events).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Size of the district's history against the default (about 1,000 hazards and 150
        /// incidents a year): 0.05 for a quick try, 10 for a large store.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Create a store that enforces roles (权限), with its first administrator. Every writing
    /// command then runs as a named actor (--actor) and is authorised by the roles granted in the
    /// log; the administrator grants them (access.grant_role commands through `anquan import`).
    /// On an existing store that does not enforce roles yet, starts enforcing them.
    ///
    /// Example: anquan init --admin admin-1 --store ./district-data
    Init {
        /// The first administrator (district-wide).
        #[arg(long)]
        admin: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Walk the whole log (hash chain, gapless positions, indexes, every frame's checksum) and
    /// check the key vault against it. Exits non-zero on a problem.
    ///
    /// Example: anquan verify --store ./anquan-data
    Verify,
    /// Show the end of the log and its hash (for outside notarisation).
    ///
    /// Example: anquan head
    Head,
    /// Snapshot the five projections at the end of the log, so that later queries (stats,
    /// hazards, incidents, kpis, report) fold only the events after it. Queries with --as-of
    /// before the snapshot still fold from the start. Run it again whenever the log has grown.
    ///
    /// Example: anquan snapshot --store ./anquan-data
    Snapshot,
    /// List streams whose id starts with a prefix.
    ///
    /// Example: anquan streams --prefix hazard-
    Streams {
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print the events of one stream, oldest first (with --as-of: as recorded by then).
    ///
    /// Example: anquan history incident-I-2026-0007 --as-of 2026-03-31
    History {
        stream: String,
        #[command(flatten)]
        view: View,
    },
    /// Write every event as JSON Lines (envelope, exact payload bytes, decoded event), then a
    /// trailer with the event count and head hash. Personal fields stay sealed unless
    /// --reveal-personal (an administrator's act, recorded in the log with --reason).
    ///
    /// Example: anquan export --out events.jsonl --sign-key notary.key   (standard output without --out)
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        /// Open names and ID numbers with the vault (PIPL disclosure; needs --actor and --reason).
        #[arg(long)]
        reveal_personal: bool,
        /// Why personal fields are opened (recorded in the log).
        #[arg(long)]
        reason: Option<String>,
        /// Sign the trailer's head with this notary key (from `anquan keygen`).
        #[arg(long)]
        sign_key: Option<PathBuf>,
    },
    /// Import JSON Lines: commands from other systems (each validated against schemas/ and the
    /// domain rules and authorised as its actor; refused lines are reported with their number and
    /// write nothing), or an `anquan export`, which is checked (every hash, every position, the
    /// trailer) and restored into a new store with identical hashes — all or nothing.
    ///
    /// Example: anquan import commands.jsonl --actor bureau-1 --all-or-nothing
    /// Example: anquan import events.jsonl --store restored --expect-head 0851b10c…
    Import {
        /// A file, or - for standard input.
        file: String,
        /// Write nothing unless every line is accepted (commands only; one atomic commit).
        #[arg(long)]
        all_or_nothing: bool,
        /// Check every line and report; write nothing.
        #[arg(long)]
        check: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Restore: the head hash the export must end with (from a record kept elsewhere).
        #[arg(long)]
        expect_head: Option<String>,
        /// Restore: a signed head (`anquan sign`) the export must match; needs --public-key.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Restore: the notary's public key, for --signature and for a signed trailer.
        #[arg(long)]
        public_key: Option<String>,
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
    /// Accident statistics: a year against another (default the year before), grouped by
    /// category, community, month or grade — incidents, deaths, injuries, direct loss, with
    /// absolute and percent change, and deaths per 100,000 population.
    ///
    /// Example: anquan stats --year 2026 --compare 2025 --by community --category road_traffic --format csv
    Stats {
        /// Statistics year (default: the year of --as-of, or this year).
        #[arg(long)]
        year: Option<i32>,
        /// Year to compare against (default: the year before --year).
        #[arg(long)]
        compare: Option<i32>,
        #[arg(long)]
        community: Option<String>,
        /// A category code (e.g. road_traffic, fire, production).
        #[arg(long)]
        category: Option<String>,
        #[arg(long, value_enum, default_value = "category")]
        by: By,
        /// Compare both years only up to the reference day and month (同期); the default for a
        /// year not over on the reference date.
        #[arg(long, conflicts_with = "whole_years")]
        year_to_date: bool,
        /// Compare whole years even when the current one is not over.
        #[arg(long)]
        whole_years: bool,
        #[command(flatten)]
        view: View,
    },
    /// The year's key figures (DESIGN.md §3): deaths per 100,000 population, per 100 million
    /// yuan of GDP and per 100,000 workers; control-indicator consumption against time;
    /// rectification and on-time rates; enterprise TRIR, DART, LTIFR and GB 6441 rates.
    ///
    /// Example: anquan kpis --year 2025 --format json
    Kpis {
        /// Statistics year (default: the year of --as-of, or this year).
        #[arg(long)]
        year: Option<i32>,
        /// One community's figures (population, economy, control indicator).
        #[arg(long)]
        community: Option<String>,
        /// Hours base of LTIFR (1,000,000 as in GB 6441; 200,000 as in OSHA).
        #[arg(long, default_value_t = 1_000_000)]
        ltifr_base: u64,
        #[command(flatten)]
        view: View,
    },
    /// The hazard ledger (隐患台账): open hazards by grade, category and community, the year's
    /// rectification and on-time rates; --overdue lists those past their deadline on the as-of
    /// day, --listed those under listed supervision (挂牌督办).
    ///
    /// Example: anquan hazards --overdue --listed --as-of 2026-06-30
    Hazards {
        /// List the hazards overdue on the reference date, most days over first.
        #[arg(long)]
        overdue: bool,
        /// List the hazards under listed supervision, open on the reference date.
        #[arg(long)]
        listed: bool,
        #[arg(long)]
        community: Option<String>,
        #[command(flatten)]
        lists: deadlines::HazardLists,
        #[command(flatten)]
        view: View,
    },
    /// Incidents, newest first: grade, casualties, how many of the four conditions (四不放过)
    /// are missing, and whether the investigation is overdue or closed.
    ///
    /// Example: anquan incidents --open --format json
    Incidents {
        /// Only incidents not closed on the reference date.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        community: Option<String>,
        #[command(flatten)]
        lists: deadlines::IncidentLists,
        #[command(flatten)]
        view: View,
    },
    /// Streaks without a fatal (or serious) accident, per community, ending on the reference
    /// date: the share of communities with at least N whole years, the longest, those short.
    ///
    /// Example: anquan streaks --category production --years 3 --on 2025-12-31
    Streaks {
        #[arg(long)]
        community: Option<String>,
        /// A category code (anquan codes lists them); default: every category.
        #[arg(long)]
        category: Option<String>,
        /// What breaks a streak.
        #[arg(long, value_enum, default_value = "fatal")]
        rule: StreakRuleArg,
        /// Whole years a streak must reach to count in the share.
        #[arg(long, default_value_t = 3)]
        years: u32,
        #[command(flatten)]
        view: View,
    },
    /// Safety promotion projects (安全促进项目): their interventions (planned, implemented,
    /// reach) and the target category's accidents before and after.
    ///
    /// Example: anquan projects --community c03
    Projects {
        #[arg(long)]
        community: Option<String>,
        #[command(flatten)]
        view: View,
    },
    /// The codes queries take: accident categories (and whether they are graded), hazard grades,
    /// and the communities of this store.
    ///
    /// Example: anquan codes --store ./anquan-data
    Codes,
    /// Serve the store over HTTP: commands in, the figures out, the log live, the dashboard at /.
    /// Every endpoint but /healthz needs a bearer token (`anquan token`); SIGTERM or Ctrl-C stop
    /// taking requests, finish those in flight and write a snapshot.
    ///
    /// Example: anquan serve --store ./anquan-data --listen 127.0.0.1:8080
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Connections served at once.
        #[arg(long, default_value_t = 512)]
        max_connections: usize,
    },
    /// Make a bearer token for an actor of the store (shown once; only its hash is kept, in
    /// tokens.json beside the store).
    ///
    /// Example: anquan token --for grid-7 --store ./anquan-data
    Token {
        /// The actor the token speaks for.
        #[arg(long = "for")]
        for_actor: String,
        /// The token may read, not write (dashboards, auditors).
        #[arg(long)]
        read_only: bool,
        /// What it is for (a device, a system), kept beside the hash.
        #[arg(long)]
        note: Option<String>,
    },
    /// Recompute published figures from the log (which may have grown since): a JSON output of
    /// a query command or an HTML report; says, figure by figure, whether each still holds, and
    /// for a signed report whether the signature is good.
    ///
    /// Example: anquan check-figures stats-2025.json
    CheckFigures {
        file: PathBuf,
        /// The notary's public key, to check a signed report.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// The four don't-let-go (四不放过) of one incident: each condition, its evidence (who,
    /// when, what), what is missing.
    ///
    /// Example: anquan trail osha-101 --lang zh
    Trail {
        incident: String,
        #[command(flatten)]
        view: View,
    },
    /// Write a self-contained HTML report with SVG charts (deaths and injuries by category by
    /// year, control indicators vs time, hazards found vs closed by month, on-time rectification
    /// rate, fatality-free streaks by category, promotion projects before/after) to
    /// DIR/index.html, printable on A4. No network is needed to view it. It carries its
    /// provenance and figures: `anquan check-figures DIR/index.html` recomputes them.
    ///
    /// Example: anquan report --out report --lang zh --as-of 2026-11-30 --on 2026-05-31
    Report {
        #[arg(long)]
        out: PathBuf,
        /// Report title (default: the district's figures as of the day).
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        view: View,
    },
    /// Erase a person's personal information (PIPL 个人信息保护法): destroys their key in the
    /// vault and records a person.erased audit event. No event is changed: the hash chain still
    /// verifies and the statistics stay as they were; exports show the fields as erased.
    ///
    /// Free text (descriptions, summaries, remarks) cannot be sealed: the command says how many
    /// free-text fields mention the person, so they can be reviewed.
    ///
    /// Example: anquan erase-person p-3f2a9c… --reason "本人申请删除" --actor admin-1
    ErasePerson {
        /// The person id (shown as "person_id" in exports).
        person: String,
        #[arg(long)]
        reason: String,
    },
    /// Import incident records kept by another system from CSV, through a TOML column mapping.
    /// Reports rows imported, rejected and flagged with reasons, and deaths by year. Re-running
    /// the same file imports nothing twice. Runs as --actor: the mapping's source actor, or a
    /// district administrator importing on its behalf.
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

fn main() -> ExitCode {
    // A reader that stops early (`anquan history … | head`) ends us quietly, as it does any
    // Unix filter, instead of a panic inside println!.
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cluster::configure(&cli.cluster).and_then(|()| run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_sentence(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, outermost first, leaving out a cause whose text an
/// outer message already carries (libraries often print their source inside their own text).
fn one_sentence(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out.replace('\n', " ")
}

/// Progress on stderr, only when a person is watching.
/// A progress bar on stderr when the total is known (a file's lines), else a running count;
/// only when a person is watching, and redrawn at most once per percent.
fn progress_of(label: &'static str, total: Option<u64>) -> impl FnMut(u64) {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let mut drawn = u64::MAX;
    move |n| {
        if !tty {
            return;
        }
        match total.filter(|t| *t > 0) {
            Some(t) => {
                let pct = (n.min(t) * 100) / t;
                if pct != drawn {
                    drawn = pct;
                    let filled = (pct * 40 / 100) as usize;
                    eprint!("\r[{}{}] {pct:>3}% {n}/{t} {label}", "#".repeat(filled), " ".repeat(40 - filled));
                }
            }
            None => eprint!("\r{label} {n}"),
        }
    }
}

/// Ends the progress line, if one was drawn.
fn end_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// Where queries are answered: the store folder, or `--server` with its token.
fn source(dir: &std::path::Path, server: &Option<String>, token: &Option<String>) -> Result<views::Source> {
    Ok(match server {
        None => views::Source::Local(open_existing(dir)?),
        Some(url) => {
            let token = token.clone().context("--server needs --token (or ANQUAN_TOKEN): every request carries one")?;
            views::Source::Remote(views::Remote { base: url.clone(), token })
        }
    })
}

/// The key vault for personal information (`DIR/vault`, beside the sled files; in cluster mode
/// this node's copy of the tenant's vault in the cluster).
pub fn open_vault(dir: &std::path::Path) -> Result<std::sync::Arc<anquan::engine::privacy::Vault>> {
    let vault = anquan::engine::privacy::Vault::open_for_store(dir, &cluster::store_options(false))
        .with_context(|| format!("cannot open the key vault in {}", dir.join("vault").display()))?;
    Ok(std::sync::Arc::new(vault))
}

fn open_input(file: &str) -> Result<Box<dyn std::io::BufRead>> {
    if file == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {file}"))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

fn run(cli: Cli) -> Result<()> {
    let labels = Labels::new(cli.lang.unwrap_or_else(Lang::from_locale));
    match cli.command {
        Cmd::Export { out, reveal_personal, reason, sign_key } => {
            export(&cli.store, cli.actor.as_deref(), out, reveal_personal, reason, sign_key)
        }
        Cmd::Init { admin, reason } => init(&cli.store, &admin, reason),
        Cmd::Import { file, all_or_nothing, check, json, expect_head, signature, public_key } => {
            let restore = RestoreArgs { expect_head, signature, public_key };
            import(&cli.store, cli.actor.as_deref(), &file, all_or_nothing, check, json, restore)
        }
        Cmd::ImportCsv { file, mapping, json } => import_csv(&cli.store, cli.actor.as_deref(), &file, &mapping, json),
        Cmd::Snapshot => {
            let store = open_existing(&cli.store)?;
            let started = std::time::Instant::now();
            let (checkpoint, from) = views::snapshot(&store)?;
            println!(
                "{} {checkpoint} ({} {from}, {:.1} s)",
                labels.t("projection snapshots written at position", "读模型快照已写入，位置"),
                labels.t("folded from position", "回放起点"),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Stats { year, compare, community, category, by, year_to_date, whole_years, view } => {
            let args = views::StatsArgs { year, compare, community, category, by, year_to_date, whole_years };
            views::stats(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, &args)
        }
        Cmd::Hazards { overdue, listed, community, lists, view } => {
            let source = source(&cli.store, &cli.server, &cli.token)?;
            views::hazards(&source, &view, &labels, community, overdue, listed, lists)
        }
        Cmd::Streaks { community, category, rule, years, view } => {
            let q = anquan::interface::query::StreaksQuery { community, category, rule: rule.into(), years };
            views::streaks(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, q)
        }
        Cmd::Projects { community, view } => {
            views::projects(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, community)
        }
        Cmd::Codes => codes::list(&open_existing(&cli.store)?, &labels),
        Cmd::Serve { listen, max_connections } => serve::run(&cli.store, &listen, max_connections),
        Cmd::Token { for_actor, read_only, note } => serve::token(&cli.store, &for_actor, read_only, note),
        Cmd::CheckFigures { file, public_key } => codes::check_figures(&cli.store, &file, public_key.as_deref()),
        Cmd::Report { out, title, view } => {
            let store = open_existing(&cli.store)?;
            let moment = view.moment();
            let position = anquan::interface::query::position_of(&store, &moment)?;
            let (all, _) = anquan::projections::AllProjections::as_of(&store, position)?;
            let lang = match labels.lang() {
                Lang::Zh => anquan::interface::report::Lang::Zh,
                Lang::En => anquan::interface::report::Lang::En,
            };
            let basis = anquan::interface::query::basis(&store, position, &moment, view.today())?;
            let options = anquan::interface::report::ReportOptions {
                as_of: view.now(),
                on: Some(view.today()),
                lang,
                title,
                basis: Some(basis),
            };
            let path =
                anquan::interface::report::write_report(&out, &anquan::interface::report::render_html(&all, &options))?;
            println!("{} {}", labels.t("report written to", "报告已写入"), path.display());
            Ok(())
        }
        Cmd::ErasePerson { person, reason } => erase_person(&cli.store, cli.actor.as_deref(), &person, reason),
        Cmd::Kpis { year, community, ltifr_base, view } => {
            views::kpis(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, year, community, ltifr_base)
        }
        Cmd::Incidents { open, community, lists, view } => {
            views::incidents(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, community, open, lists)
        }
        Cmd::Trail { incident, view } => {
            views::trail(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, &incident)
        }
        Cmd::History { stream, view } => {
            views::history(&source(&cli.store, &cli.server, &cli.token)?, &view, &labels, &stream)
        }
        Cmd::Keygen { out } => {
            use std::io::Read;
            anyhow::ensure!(!out.exists(), "{} exists; not overwriting a key", out.display());
            let mut secret = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut secret))
                .context("cannot read randomness from /dev/urandom")?;
            let key = anquan::engine::notary::signing_key_from_secret(&secret);
            write_secret_file(&out, &(anquan::engine::notary::signing_key_to_hex(&key) + "\n"))?;
            println!("public key {}", anquan::engine::notary::verifying_key_to_hex(&key.verifying_key()));
            Ok(())
        }
        Cmd::Sign { key, out } => {
            let store = open_existing(&cli.store)?;
            let hex = std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
            let key = anquan::engine::notary::signing_key_from_hex(hex.trim())?;
            let now = anquan::store::Timestamp::from_chrono(chrono::Utc::now());
            let signed = anquan::engine::notary::sign_head(&store, &key, now)?;
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
            let signed: anquan::engine::notary::SignedHead =
                serde_json::from_str(&text).with_context(|| format!("{} is not a signed head", file.display()))?;
            let key = anquan::engine::notary::verifying_key_from_hex(public_key.trim())?;
            anquan::engine::notary::verify_signed_head(&store, &signed, &key)?;
            println!("signature valid; the log still hashes to the signed head at {} events", signed.next_position);
            Ok(())
        }
        Cmd::Demo { seed, scale } => demo::run(&cli.store, seed, scale, &labels),
        Cmd::Verify => verify(&cli.store),
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
            let mut streams = store.list_streams(&prefix, None, limit.saturating_add(1))?;
            let cut = streams.len() > limit;
            streams.truncate(limit);
            for s in &streams {
                if let Some(m) = store.stream_meta(s)? {
                    let last = m.last_recorded_at.to_chrono().map(views::china_time).unwrap_or_default();
                    println!("{:<32} {:>6} events  last stored {last} (China time)", s, m.event_count);
                }
            }
            if cut {
                println!("… more streams start with {prefix:?}: the first {limit} are shown (--limit N)");
            }
            Ok(())
        }
    }
}
