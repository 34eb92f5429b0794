//! `anquan demo`: runs the library's seeded district history (`anquan::interface::demo`) through the engine
//! into a store, then prints the bureau head's screen from the projections.
//!
//! The history spans three years, so the store is opened with a clock that follows the
//! commands: each day's commands are recorded at that day's time, which is what makes
//! `--as-of` queries on the demo store show the district as it was. Each day's commands go in
//! one atomic, durable commit; a command the story means the domain to refuse is reported and
//! the rest of its day is committed without it.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use anquan::domain::CommandEnvelope;
use anquan::engine::{BatchError, Engine, EngineError};
use anquan::events::time::cst_date;
use anquan::projections::accident_stats::{GroupBy, StreakRule};
use anquan::projections::{AllProjections, Period};
use anquan::store::{Direction, Durability, EventStore, ManualClock, StoreOptions, Timestamp, VerifyReport};

use crate::out::{share, Format, Labels, Table};

/// What loading the demo did.
struct Loaded {
    commands: usize,
    refused: usize,
    already_done: usize,
    events: u64,
    took: std::time::Duration,
}

pub fn run(dir: &Path, seed: u64, scale: f64, labels: &Labels) -> Result<()> {
    anyhow::ensure!((0.001..=10.0).contains(&scale), "--scale {scale} is outside 0.001–10");
    let config = anquan::interface::demo::DemoConfig { seed, scale, ..anquan::interface::demo::DemoConfig::default() };
    let history = anquan::interface::demo::district_history(&config);
    let first = first_envelope(&history.commands)?.map(|e| e.issued_at);
    let clock = ManualClock::new(Timestamp::from_chrono(first.unwrap_or(history.as_of)));
    // Each day's commit is atomic; durability is deferred while loading and made whole by the
    // flush below. A demo killed midway resumes where it stopped: the engine skips what is done.
    let options = StoreOptions {
        clock: Arc::new(clock.clone()),
        durability: Durability::Deferred { flush_interval: std::time::Duration::from_secs(1) },
        ..StoreOptions::default()
    };
    crate::write::refuse_foreign_folder(dir, "the demo")?;
    let store = EventStore::open_dir(dir, options)
        .with_context(|| format!("cannot open or create the store at {}", dir.display()))?;
    // A store holding this demo already (a re-run, or a run that was stopped) is resumed: the
    // engine skips what is done. Anything else is someone's data; leave it alone.
    if store.head().next_position > 0 {
        let ours = match (first_envelope(&history.commands)?, store.read_all(0, Direction::Forward, 1)?.first()) {
            (Some(envelope), Some(event)) => {
                event.event_id == anquan::engine::derived_event_id(&envelope.command_id, 0)
            }
            _ => false,
        };
        anyhow::ensure!(
            ours,
            "the store at {} already holds events of its own; the demo needs an empty folder (--store DIR)",
            dir.display()
        );
    }
    let engine = Engine::new(store)?.with_clock(Arc::new(clock.clone())).with_vault(crate::open_vault(dir)?);
    let loaded = load(&engine, &clock, &history.commands)?;
    let store = engine.into_store();
    store.flush()?;
    let all = {
        let mut all = AllProjections::default();
        anquan::projections::replay_all_range(&store, &mut all, 0, store.head().next_position)?;
        all
    };
    let report = store.verify()?;
    if let Some(p) = &report.problem {
        anyhow::bail!("integrity check failed at position {}: {}", p.position, p.detail);
    }
    print!("{}", screen(&all, history.as_of, labels, &report, dir, &loaded, history.intended_refusals)?);
    Ok(())
}

fn first_envelope(commands: &[String]) -> Result<Option<CommandEnvelope>> {
    commands.first().map(|c| parse(c)).transpose()
}

fn parse(json: &str) -> Result<CommandEnvelope> {
    anquan::domain::parse_command_json(json).map_err(|r| {
        anyhow::anyhow!(
            "the demo generated a malformed command: {}",
            r.first().map(|r| r.to_string()).unwrap_or_default()
        )
    })
}

/// Commits the history one CST day at a time, the clock set to the day's last command.
fn load(engine: &Engine, clock: &ManualClock, commands: &[String]) -> Result<Loaded> {
    let started = Instant::now();
    let envelopes = commands.iter().map(|c| parse(c)).collect::<Result<Vec<_>>>()?;
    let tty = std::io::stderr().is_terminal();
    let (mut refused, mut already_done, mut events) = (0usize, 0usize, 0u64);
    let mut done = 0usize;
    for day in envelopes.chunk_by(|a, b| cst_date(a.issued_at) == cst_date(b.issued_at)) {
        let mut batch: Vec<CommandEnvelope> = day.to_vec();
        if let Some(last) = batch.last() {
            clock.set(Timestamp::from_chrono(last.issued_at));
        }
        loop {
            match engine.execute_all_or_nothing(&batch) {
                Ok(outcome) => {
                    events += outcome.positions.len() as u64;
                    already_done += outcome.skipped;
                    break;
                }
                Err(BatchError { index, error: EngineError::Rejected(_) | EngineError::Denied(_) }) => {
                    // The story's intended refusals: drop the command, commit the rest of the day.
                    refused += 1;
                    batch.remove(index);
                    if batch.is_empty() {
                        break;
                    }
                }
                Err(BatchError { index, error }) => {
                    return Err(anyhow::anyhow!("demo command {} failed: {error}", done + index + 1));
                }
            }
        }
        done += day.len();
        if tty {
            let width = 40;
            let filled = done * width / envelopes.len().max(1);
            eprint!("\r[{}{}] {done}/{} commands", "#".repeat(filled), " ".repeat(width - filled), envelopes.len());
        }
    }
    if tty {
        eprintln!();
    }
    Ok(Loaded { commands: envelopes.len(), refused, already_done, events, took: started.elapsed() })
}

/// The bureau head's one screen, as text.
fn screen(
    all: &AllProjections,
    as_of: DateTime<Utc>,
    labels: &Labels,
    verified: &VerifyReport,
    dir: &Path,
    loaded: &Loaded,
    intended_refusals: usize,
) -> Result<String> {
    let mut out = Vec::new();
    let w = &mut out;
    use std::io::Write;
    let today = cst_date(as_of);
    let stats = &all.accident_stats;
    writeln!(
        w,
        "{} {} — {} {today} ({})",
        labels.t("store", "存储"),
        dir.display(),
        labels.t("district as of", "全区截至"),
        labels.t("demo clock", "演示时钟")
    )?;
    writeln!(
        w,
        "{} {} {} → {} {} ({} {}, {} {}) {:.1?}",
        labels.t("loaded", "载入"),
        loaded.commands,
        labels.t("commands", "条命令"),
        loaded.events,
        labels.t("events", "个事件"),
        loaded.refused,
        labels.t("refused by a domain rule as the story intends", "条按剧情被业务规则拒绝"),
        loaded.already_done,
        labels.t("already in the store", "条已存在"),
        loaded.took
    )?;
    if loaded.refused != intended_refusals && loaded.already_done == 0 {
        writeln!(w, "  ({} {intended_refusals})", labels.t("the story intends", "剧情预期拒绝"))?;
    }

    // 1. This year against the same days of last year (同期), by category.
    let year = today.year();
    let ytd = |y: i32| -> Option<Period> {
        let from = NaiveDate::from_ymd_opt(y, 1, 1)?;
        let to =
            NaiveDate::from_ymd_opt(y, today.month(), today.day()).or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))?;
        Some(Period { from, to })
    };
    let (Some(current), Some(baseline)) = (ytd(year), ytd(year - 1)) else {
        anyhow::bail!("the demo's last day {today} has no year before it")
    };
    let cmp = stats.compare(current, baseline, GroupBy::Category, None, None);
    writeln!(w)?;
    let title = format!(
        "1. {year} {} {} ({} 1-1 … {}-{})",
        labels.t("against", "对比"),
        year - 1,
        labels.t("same days", "同期"),
        today.month(),
        today.day()
    );
    crate::views::comparison_table(&cmp, labels, Format::Table, all).titled(title).print(Format::Table, w)?;
    let (r_now, r_before) = (stats.rate_per_100k(current, None, None), stats.rate_per_100k(baseline, None, None));
    if let (Some(a), Some(b)) = (r_before.deaths_per_100k, r_now.deaths_per_100k) {
        writeln!(w, "  {} {a:.2} → {b:.2}", labels.t("deaths per 100,000 population:", "每十万人口死亡率:"))?;
    }

    // 2. Control indicators against the elapsed share of the year (控制指标 vs 时序进度).
    let consumption: Vec<_> =
        stats.communities().filter_map(|c| stats.indicator_consumption(&c.community_id, today)).collect();
    writeln!(w)?;
    if let Some(first) = consumption.first() {
        let limit: u64 = consumption.iter().map(|c| u64::from(c.total.limit)).sum();
        let deaths: u64 = consumption.iter().map(|c| c.total.deaths_so_far).sum();
        let used = anquan::projections::percent(deaths, limit);
        writeln!(
            w,
            "2. {} {year}: {deaths} / {limit} {} ({}) — {} {}",
            labels.t("control indicator (控制指标)", "控制指标"),
            labels.t("deaths", "人死亡"),
            share(used),
            labels.t("time elapsed (时序进度)", "时序进度"),
            share(Some(first.elapsed_pct))
        )?;
        let ahead: Vec<_> = consumption.iter().filter(|c| c.total.ahead_of_time).collect();
        let mut t = Table::new([
            labels.t("community ahead of time", "超时序进度的社区"),
            labels.t("deaths", "死亡"),
            labels.t("indicator", "指标"),
            labels.t("consumed", "消耗"),
        ]);
        for c in &ahead {
            t.row([
                community_name(all, &c.community_id),
                c.total.deaths_so_far.to_string(),
                c.total.limit.to_string(),
                share(c.total.consumption_pct),
            ]);
        }
        if ahead.is_empty() {
            writeln!(w, "  {}", labels.t("no community is ahead of time", "没有社区超时序进度"))?;
        } else {
            t.print(Format::Table, w)?;
        }
    } else {
        writeln!(w, "2. {}", labels.t("no control indicators set for this year", "本年度未下达控制指标"))?;
    }

    // 3. Fatality-free streaks (无死亡事故) and "no accident of grade 较大 or above".
    writeln!(w)?;
    let shares: Vec<String> = (1..=3)
        .map(|y| {
            let s = stats.streak_share(None, StreakRule::Fatal, y, today);
            format!("≥{y} {}: {}/{}", labels.t("yr", "年"), s.with_streak, s.communities)
        })
        .collect();
    writeln!(w, "3. {} {}", labels.t("communities without a fatal accident:", "无死亡事故社区:"), shares.join(", "))?;
    let mut longest: Vec<_> = stats
        .communities()
        .filter_map(|c| stats.streak(Some(&c.community_id), None, StreakRule::Fatal, today))
        .collect();
    longest.sort_by_key(|s| std::cmp::Reverse(s.days));
    let names: Vec<String> = longest
        .iter()
        .take(3)
        .map(|s| {
            format!(
                "{} {} {}",
                community_name(all, s.community.as_deref().unwrap_or("")),
                s.days,
                labels.t("days", "天")
            )
        })
        .collect();
    writeln!(w, "  {} {}", labels.t("longest:", "最长:"), names.join(", "))?;
    let rule = StreakRule::GradeAtLeast(anquan::events::incident::IncidentGrade::RelativelySerious);
    if let Some(s) = stats.streak(None, None, rule, today) {
        writeln!(
            w,
            "  {} {} {} ({} {})",
            labels.t("no accident of grade 较大 or above for", "无较大及以上事故"),
            s.days,
            labels.t("days", "天"),
            labels.t("since", "自"),
            s.since
        )?;
    }

    // 4. Hazards (隐患): open, overdue, listed, this year's rates.
    let ledger = &all.hazard_ledger;
    let open = ledger.open_hazards();
    let overdue = ledger.overdue(as_of);
    let listed = ledger.listed_for_supervision(true);
    writeln!(w)?;
    writeln!(
        w,
        "4. {} {} ({} {}), {} {}, {} {}",
        labels.t("open hazards", "未销号隐患"),
        open.total,
        labels.t("major", "重大"),
        open.major,
        labels.t("overdue", "逾期"),
        overdue.len(),
        labels.t("listed for supervision (挂牌督办)", "挂牌督办"),
        listed.len()
    )?;
    if let Some(p) = Period::year(year) {
        let r = ledger.rates(Period { to: today, ..p });
        writeln!(
            w,
            "  {year}: {} {} / {} {} ({}), {} {} ({}: {})",
            labels.t("found", "排查"),
            r.all.found,
            labels.t("rectified", "整改"),
            r.all.rectified,
            share(r.all.rectification_rate),
            labels.t("on time", "按期整改率"),
            share(r.all.on_time_rate),
            labels.t("major", "重大"),
            share(r.major.on_time_rate)
        )?;
    }

    // 5. Incidents whose four conditions are incomplete (四不放过).
    let missing = all.trails.missing_conditions(as_of);
    writeln!(w)?;
    writeln!(
        w,
        "5. {} {}",
        labels.t("incidents with the four conditions (四不放过) incomplete:", "四不放过未落实的事故:"),
        missing.len()
    )?;
    let mut t = Table::new([
        labels.t("incident", "事故"),
        labels.t("category", "类别"),
        labels.t("missing", "缺项"),
        labels.t("days open", "已过天数"),
    ]);
    let mut sorted = missing.clone();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.days_open));
    for s in sorted.iter().take(8) {
        let category = all.trails.trail(&s.incident_id).map(|t| labels.category(&t.category)).unwrap_or_default();
        t.row([s.incident_id.clone(), category, s.missing.len().to_string(), s.days_open.to_string()]);
    }
    if !t.is_empty() {
        t.print(Format::Table, w)?;
    }
    if missing.len() > 8 {
        writeln!(w, "  … {} (anquan incidents --open)", labels.t("and more", "更多见"))?;
    }

    // 6. Integrity.
    writeln!(w)?;
    writeln!(
        w,
        "6. verify: {} {}, {} {} — {}",
        verified.events,
        labels.t("events", "个事件"),
        verified.streams,
        labels.t("streams", "个流"),
        labels.t("hash chain intact, positions gapless, indexes agree", "哈希链完整，位置连续，索引一致")
    )?;
    writeln!(w, "   {} {}", labels.t("head hash", "头哈希"), verified.computed_head_hash)?;
    Ok(String::from_utf8(out)?)
}

fn community_name(all: &AllProjections, id: &str) -> String {
    crate::views::community_label(all, id)
}
