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
use chrono::{DateTime, Datelike, Utc};

use anquan::domain::CommandEnvelope;
use anquan::engine::{BatchError, Engine, EngineError};
use anquan::events::time::cst_date;
use anquan::projections::AllProjections;
use anquan::store::{Direction, Durability, EventStore, ManualClock, StoreOptions, Timestamp, VerifyReport};

use crate::out::{share, Cell, Labels, Table};

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
        ..crate::cluster::store_options(true)
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

    use anquan::interface::query::{
        self, Answer, BreakingRule, HazardsQuery, IncidentsQuery, KpisQuery, ProjectsQuery, Query, StatsQuery,
        StreaksQuery,
    };
    let ask = |q: Query| query::answer(all, &q, today);

    // 1. This year against the same days of last year (同期), by category.
    let Answer::Stats(a) = ask(Query::Stats(StatsQuery::default()))? else { anyhow::bail!("no statistics") };
    let year = a.current.from.year();
    writeln!(w)?;
    let title = format!(
        "1. {year} {} {} ({} 1-1 … {}-{})",
        labels.t("against", "对比"),
        year - 1,
        labels.t("same days", "同期"),
        a.current.to.month(),
        a.current.to.day()
    );
    crate::views::comparison_table(
        &a.comparison,
        labels,
        &all.accident_stats.communities().map(|c| (c.community_id.clone(), c.name.clone())).collect(),
    )
    .titled(title)
    .write_text(w)?;
    if let (Some(before), Some(now)) =
        (a.rate_per_100k.baseline.deaths_per_100k, a.rate_per_100k.current.deaths_per_100k)
    {
        writeln!(w, "  {} {before:.2} → {now:.2}", labels.t("deaths per 100,000 population:", "每十万人口死亡率:"))?;
    }

    // 2. Control indicators against the elapsed share of the year (控制指标 vs 时序进度).
    let Answer::Kpis(k) = ask(Query::Kpis(KpisQuery::default()))? else { anyhow::bail!("no key figures") };
    writeln!(w)?;
    if let Some(i) = &k.indicator_total {
        writeln!(
            w,
            "2. {} {year}: {} / {} {} ({}) — {} {}",
            labels.t("control indicator (控制指标)", "控制指标"),
            i.deaths_so_far,
            i.limit,
            labels.t("deaths", "人死亡"),
            share(i.consumption_pct),
            labels.t("time elapsed (时序进度)", "时序进度"),
            share(i.elapsed_pct)
        )?;
        let mut t = Table::new(
            "ahead",
            [
                ("community_id", labels.t("community ahead of time", "超时序进度的社区").to_string()),
                ("deaths", labels.t("deaths", "死亡").to_string()),
                ("limit", labels.t("indicator", "指标").to_string()),
                ("consumed_pct", labels.t("consumed", "消耗").to_string()),
            ],
        );
        for c in k.indicators.iter().filter(|c| c.total.ahead_of_time) {
            t.row([
                Cell::plain(community_name(all, &c.community_id)),
                Cell::num(c.total.deaths_so_far),
                Cell::num(c.total.limit),
                Cell::share(c.total.consumption_pct),
            ]);
        }
        if t.is_empty() {
            writeln!(w, "  {}", labels.t("no community is ahead of time", "没有社区超时序进度"))?;
        } else {
            t.write_text(w)?;
        }
    } else {
        writeln!(w, "2. {}", labels.t("no control indicators set for this year", "本年度未下达控制指标"))?;
    }

    // 3. Fatality-free streaks (无死亡事故), production safety, and "no accident of 较大 or above".
    writeln!(w)?;
    let streaks =
        |category: Option<&str>, rule: BreakingRule, years: u32| -> Result<anquan::interface::query::StreaksAnswer> {
            match ask(Query::Streaks(StreaksQuery {
                community: None,
                category: category.map(str::to_string),
                rule,
                years,
            }))? {
                Answer::Streaks(a) => Ok(a),
                _ => anyhow::bail!("no streaks"),
            }
        };
    let shares: Vec<String> = (1..=3)
        .map(|y| {
            let s = streaks(None, BreakingRule::Fatal, y)?.share;
            Ok(format!("≥{y} {}: {}/{}", labels.t("yr", "年"), s.with_streak, s.communities))
        })
        .collect::<Result<_>>()?;
    writeln!(w, "3. {} {}", labels.t("communities without a fatal accident:", "无死亡事故社区:"), shares.join(", "))?;
    let all_categories = streaks(None, BreakingRule::Fatal, 3)?;
    let names: Vec<String> = all_categories
        .communities
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
    // The N-year share by category (the N-year counts from the one answer's streaks).
    let mut t = Table::new(
        "streaks_by_category",
        [
            ("category", labels.t("no death of the category for", "连续无该类死亡事故").to_string()),
            ("years_1", labels.t("≥1 yr", "≥1年").to_string()),
            ("years_2", labels.t("≥2 yr", "≥2年").to_string()),
            ("years_3", labels.t("≥3 yr", "≥3年").to_string()),
        ],
    );
    for category in anquan::events::Catalog::builtin()?.categories {
        let a = streaks(Some(&category.code), BreakingRule::Fatal, 3)?;
        let n = |years: u32| {
            let with = a.communities.iter().filter(|s| s.whole_years >= years).count();
            Cell::shown(format!("{with}/{}", a.share.communities), with.to_string())
        };
        t.row([Cell::code(category.code.clone(), labels.category(&category.code)), n(1), n(2), n(3)]);
    }
    t.write_text(w)?;
    let mut broken: Vec<_> = all_categories.communities.iter().filter(|s| s.last_accident.is_some()).collect();
    broken.sort_by_key(|s| std::cmp::Reverse(s.last_accident));
    let names: Vec<String> = broken
        .iter()
        .take(4)
        .map(|s| {
            let day = s.last_accident.map(|d| d.to_string()).unwrap_or_default();
            format!("{} {day}", community_name(all, s.community.as_deref().unwrap_or("")))
        })
        .collect();
    writeln!(w, "  {} {}", labels.t("broken most recently:", "最近中断:"), names.join(", "))?;
    if let Some(s) = streaks(None, BreakingRule::RelativelySeriousOrAbove, 1)?.district {
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
    let Answer::Hazards(h) = ask(Query::Hazards(HazardsQuery::default()))? else { anyhow::bail!("no ledger") };
    writeln!(w)?;
    writeln!(
        w,
        "4. {} {} ({} {}), {} {}, {} {}",
        labels.t("open hazards", "未销号隐患"),
        h.open.total,
        labels.t("major", "重大"),
        h.open.major,
        labels.t("overdue", "逾期"),
        h.overdue.len(),
        labels.t("listed for supervision (挂牌督办)", "挂牌督办"),
        h.listed_open.len()
    )?;
    let r = &h.rates;
    crate::views::rates_table(r, labels)
        .titled(format!("{} {} … {}", labels.t("rectification", "整改情况"), r.period.from, r.period.to))
        .write_text(w)?;

    // 5. Incidents whose four conditions are incomplete (四不放过).
    let Answer::Incidents(i) = ask(Query::Incidents(IncidentsQuery { community: None, open_only: true }))? else {
        anyhow::bail!("no incidents")
    };
    let mut missing: Vec<_> = i.incidents.iter().filter(|l| !l.four_missing.is_empty()).collect();
    missing.sort_by_key(|l| std::cmp::Reverse(l.days_open));
    writeln!(w)?;
    writeln!(
        w,
        "5. {} {}",
        labels.t("incidents with the four conditions (四不放过) incomplete:", "四不放过未落实的事故:"),
        missing.len()
    )?;
    let mut t = Table::new(
        "incomplete",
        [
            ("incident_id", labels.t("incident", "事故").to_string()),
            ("category", labels.t("category", "类别").to_string()),
            ("missing", labels.t("missing", "缺项").to_string()),
            ("days_open", labels.t("days open", "已过天数").to_string()),
        ],
    );
    for l in missing.iter().take(8) {
        t.row([
            Cell::plain(l.incident_id.clone()),
            Cell::code(l.category.clone(), labels.category(&l.category)),
            Cell::num(l.four_missing.len()),
            Cell::num(l.days_open),
        ]);
    }
    if !t.is_empty() {
        t.write_text(w)?;
    }
    if missing.len() > 8 {
        writeln!(w, "  … {} (anquan incidents --open)", labels.t("and more", "更多见"))?;
    }

    // 6. Safety promotion projects (安全促进项目).
    let Answer::Projects(p) = ask(Query::Projects(ProjectsQuery::default()))? else { anyhow::bail!("no projects") };
    writeln!(w)?;
    writeln!(
        w,
        "6. {} {} {} {} ({} {}, {} {})",
        p.projects,
        labels.t("promotion projects with", "个安全促进项目，"),
        p.interventions,
        labels.t("interventions", "项干预措施"),
        p.implemented,
        labels.t("implemented", "已实施"),
        p.people_reached,
        labels.t("people reached", "人受益")
    )?;
    // Before/after: the target category's incidents in the year before each project's first
    // intervention and the year after (to date while that year runs).
    let compared: Vec<_> = p.lines.iter().filter_map(|l| l.category_before_after.as_ref()).collect();
    if !compared.is_empty() {
        let before: u64 = compared.iter().map(|c| c.incidents.previous).sum();
        let after: u64 = compared.iter().map(|c| c.incidents.current).sum();
        let fewer = compared.iter().filter(|c| c.incidents.current < c.incidents.previous).count();
        let more = compared.iter().filter(|c| c.incidents.current > c.incidents.previous).count();
        let partial = compared.iter().filter(|c| c.after_partial).count();
        writeln!(
            w,
            "  {} {before} → {after} ({} {fewer}, {} {more}; {partial} {})",
            labels.t("target-category incidents, year before → year after:", "目标类别事故 干预前一年 → 后一年:"),
            labels.t("fewer in", "减少的项目"),
            labels.t("more in", "增加的项目"),
            labels.t("with the year after still running", "个项目的后一年尚未结束")
        )?;
    }

    // 7. Integrity.
    writeln!(w)?;
    writeln!(
        w,
        "7. verify: {} {}, {} {} — {}",
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
    crate::views::community_label_of(all, id)
}
