//! The query commands: ask the library's [`anquan::interface::query`] one question at the
//! moment given (`--as-of`: what had been recorded by then; `--on`: the reference date), print
//! the answer as tables for people, CSV (one table, code headers, numbers as numbers) or JSON
//! (the figures with what they were computed from, which `anquan check-figures` proves later).
//! No figure is computed here.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use anquan::events::time::{cst, cst_date};
use anquan::interface::query::{
    self, Answer, Figures, HazardsQuery, IncidentsQuery, KpisQuery, Moment, ProjectsQuery, Query, StatsBy, StatsQuery,
    StreaksQuery, TrailQuery,
};
use anquan::interface::transfer::ExportedEvent;
use anquan::projections::accident_stats::{Comparison, GroupBy};
use anquan::projections::{AllProjections, Period};
use anquan::store::{Direction, EventStore, Timestamp};

use crate::out::{Cell, Format, Labels, Table};

/// How a query is asked and shown.
#[derive(clap::Args)]
pub struct View {
    /// What had been recorded by this instant (the audit axis; RFC 3339, or a date meaning the
    /// end of that day in China Standard Time); default: everything recorded.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,
    /// The reference date the figures are for (year to date, 时序进度, streak end, overdue on
    /// that day), China Standard Time; default: the --as-of day, or today.
    #[arg(long, value_parser = parse_date)]
    pub on: Option<NaiveDate>,
    /// `table` for people; `json` (the figures with their basis) or `csv` (one table) for machines.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// With --format csv: which of the answer's tables (default: the first).
    #[arg(long)]
    pub table: Option<String>,
}

/// `2025-06-30` (end of that CST day) or an RFC 3339 instant.
pub fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = parse_date(s)
        .map_err(|_| format!("{s:?} is neither a date (2025-06-30) nor an RFC 3339 time (2025-06-30T08:00:00Z)"))?;
    // The last instant of that day, so the day itself is included.
    anquan::events::time::end_of_cst_day(day)
        .and_then(|t| t.checked_sub_signed(chrono::Duration::microseconds(1)))
        .ok_or_else(|| format!("{s:?} is outside the calendar anquan keeps"))
}

/// A calendar date, `2025-06-30`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date like 2025-06-30"))
}

impl View {
    pub fn moment(&self) -> Moment {
        Moment { as_of: self.as_of, on: self.on }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or_else(Utc::now)
    }

    /// The reference date.
    pub fn today(&self) -> NaiveDate {
        self.moment().reference_date(Utc::now())
    }
}

/// Where the answers come from: the store folder, or a running `anquan serve` (which holds the
/// folder's lock) asked over HTTP.
pub enum Source {
    Local(EventStore),
    Remote(Remote),
}

/// A running service and the token to ask it with.
pub struct Remote {
    pub base: String,
    pub token: String,
}

impl Remote {
    fn get(&self, path: &str) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut response = ureq::get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().with_context(|| format!("cannot read {url}'s answer"))?;
        let body: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{url} answered {status} without JSON"))?;
        if status >= 400 {
            let detail = body.get("detail").and_then(|d| d.as_str()).unwrap_or("no detail");
            anyhow::bail!("{url} answered {status}: {detail}");
        }
        Ok(body)
    }
}

/// Community names by id, for labels.
pub type Names = std::collections::BTreeMap<String, String>;

fn names_of(all: &AllProjections) -> Names {
    all.accident_stats.communities().map(|c| (c.community_id.clone(), c.name.clone())).collect()
}

/// Asks the questions at the view's moment.
fn ask(source: &Source, view: &View, queries: &[Query]) -> Result<(Names, Vec<Figures>)> {
    match source {
        Source::Local(store) => {
            let (all, figures) = query::ask_all(store, queries, &view.moment(), Utc::now())?;
            Ok((names_of(&all), figures))
        }
        Source::Remote(remote) => {
            let codes = remote.get("/v1/codes")?;
            let names = codes["communities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c["community_id"].as_str()?.to_string(), c["name"].as_str()?.to_string())))
                .collect();
            let figures = queries
                .iter()
                .map(|q| {
                    let path = anquan::interface::http::paths::path_of(q, &view.moment());
                    let stored: query::StoredFigures = serde_json::from_value(remote.get(&path)?)
                        .with_context(|| format!("{path}: the answer is not figures"))?;
                    Ok(Figures::from_stored(stored)?)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((names, figures))
        }
    }
}

/// Brings the five projections to the head and snapshots them there, so later queries fold
/// only what came after; returns the checkpoint and the position the fold started from.
pub fn snapshot(store: &EventStore) -> Result<(u64, u64)> {
    let end = store.head().next_position;
    let (all, from) = AllProjections::as_of(store, end)?;
    all.save_snapshots(store, end)?;
    Ok((end, from))
}

/// Prints an answer: JSON (the figures), CSV (one table), or the tables and notes.
fn emit(view: &View, figures: &Figures, tables: &[Table], notes: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match view.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, figures)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let table = match &view.table {
                None => tables.first(),
                Some(name) => tables.iter().find(|t| t.name() == name),
            };
            let Some(table) = table else {
                anyhow::bail!(
                    "no table {:?} in this answer; its tables are {}",
                    view.table.as_deref().unwrap_or_default(),
                    tables.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                )
            };
            table.write_csv(&mut out)?;
        }
        Format::Table => {
            for (i, t) in tables.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                t.write_text(&mut out)?;
            }
            for n in notes {
                writeln!(out, "{n}")?;
            }
        }
    }
    Ok(())
}

fn one<T>(figures: Vec<Figures>, pick: impl Fn(&Answer) -> Option<&T>) -> Result<(Figures, T)>
where
    T: Clone,
{
    let f = figures.into_iter().next().context("no answer")?;
    let a = pick(&f.result).cloned().context("the answer is of another kind")?;
    Ok((f, a))
}

// ---- stats --------------------------------------------------------------------------------

/// `--by` of `anquan stats`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum By {
    Category,
    Community,
    Month,
    Grade,
}

pub struct StatsArgs {
    pub year: Option<i32>,
    pub compare: Option<i32>,
    pub community: Option<String>,
    pub category: Option<String>,
    pub by: By,
    pub year_to_date: bool,
    pub whole_years: bool,
}

fn period_label(p: &Period) -> String {
    if p.from.month() == 1 && p.from.day() == 1 && p.to.month() == 12 && p.to.day() == 31 {
        p.from.year().to_string()
    } else {
        format!("{}…{}", p.from, p.to)
    }
}

pub fn stats(source: &Source, view: &View, labels: &Labels, args: &StatsArgs) -> Result<()> {
    let q = StatsQuery {
        year: args.year,
        compare: args.compare,
        community: args.community.clone(),
        category: args.category.clone(),
        by: match args.by {
            By::Category => StatsBy::Category,
            By::Community => StatsBy::Community,
            By::Month => StatsBy::Month,
            By::Grade => StatsBy::Grade,
        },
        year_to_date: match (args.year_to_date, args.whole_years) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let (names, figures) = ask(source, view, &[Query::Stats(q)])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Stats(a) => Some(a),
        _ => None,
    })?;
    let by = match args.by {
        By::Category => labels.t("by category", "按类别"),
        By::Community => labels.t("by community", "按社区"),
        By::Month => labels.t("by month", "按月份"),
        By::Grade => labels.t("by grade", "按等级"),
    };
    let title = format!(
        "{} {} {} {by} ({}, {}){}",
        period_label(&a.current),
        labels.t("against", "对比"),
        period_label(&a.baseline),
        args.community
            .as_deref()
            .map(|c| community_label(&names, c))
            .unwrap_or(labels.t("all communities", "全部社区").into()),
        args.category
            .as_deref()
            .map(|c| labels.category(c))
            .unwrap_or_else(|| labels.t("all categories", "全部类别").into()),
        if a.year_to_date { labels.t(", same days (同期)", "，同期") } else { "" },
    );
    let mut notes = Vec::new();
    if let (Some(now), Some(before)) =
        (a.rate_per_100k.current.deaths_per_100k, a.rate_per_100k.baseline.deaths_per_100k)
    {
        notes.push(format!(
            "  {} {before:.2} → {now:.2}",
            labels.t("deaths per 100,000 population:", "每十万人口死亡率:")
        ));
    }
    if a.partial {
        notes.push(format!(
            "  {} {} {}",
            a.current.from.year(),
            labels.t("is not over on", "年未结束，截至"),
            view.today()
        ));
        if !a.year_to_date {
            notes.push(format!(
                "  {}",
                labels.t(
                    "the current year is partial and is compared with a whole year (--whole-years)",
                    "本年为部分年度，正与完整年度比较 (--whole-years)"
                )
            ));
        }
    }
    notes.push(format!(
        "  {} {}",
        labels.t("TOTAL counts", "合计口径:"),
        labels.t(&a.total_counts, total_counts_zh(&a.total_counts))
    ));
    let table = comparison_table(&a.comparison, labels, &names).titled(title);
    emit(view, &figures, &[table], &notes)
}

fn total_counts_zh(en: &str) -> &'static str {
    if en.starts_with("every incident: the graded") {
        "全部事故：分级事故按等级，其余计入未分级"
    } else {
        "符合条件的全部事故"
    }
}

/// A comparison: `before→now` cells for people; for machines one column per figure and period.
pub fn comparison_table(cmp: &Comparison, labels: &Labels, names: &Names) -> Table {
    let key_header = match cmp.by {
        GroupBy::Category => ("category", labels.t("category", "类别")),
        GroupBy::Community => ("community", labels.t("community", "社区")),
        GroupBy::Month => ("month", labels.t("month", "月份")),
        GroupBy::Grade => ("grade", labels.t("grade", "等级")),
    };
    let key = |k: &Option<String>| match (k, cmp.by) {
        (None, _) => Cell::code("total", labels.t("TOTAL", "合计")),
        (Some(k), _) if k == "ungraded" => Cell::code("ungraded", labels.t("ungraded", "未分级")),
        (Some(k), GroupBy::Category) => Cell::code(k.clone(), labels.category(k)),
        (Some(k), GroupBy::Grade) => Cell::code(k.clone(), labels.grade(k)),
        (Some(k), GroupBy::Community) => Cell::code(k.clone(), community_label(names, k)),
        (Some(k), _) => Cell::plain(k.clone()),
    };
    let mut t = Table::new(
        "comparison",
        [
            (key_header.0, key_header.1.to_string()),
            ("incidents_baseline", labels.t("incidents", "事故起数").to_string()),
            ("incidents_current", String::new()),
            ("incidents_change_pct", "±".to_string()),
            ("deaths_baseline", labels.t("deaths", "死亡").to_string()),
            ("deaths_current", String::new()),
            ("deaths_change_pct", "±".to_string()),
            ("injuries_baseline", labels.t("injuries", "受伤").to_string()),
            ("injuries_current", String::new()),
            ("injuries_change_pct", "±".to_string()),
            ("direct_loss_yuan_baseline", labels.t("direct loss (yuan)", "直接经济损失(元)").to_string()),
            ("direct_loss_yuan_current", String::new()),
            ("direct_loss_yuan_change_pct", "±".to_string()),
        ],
    );
    for l in cmp.lines.iter().chain(std::iter::once(&cmp.total)) {
        let mut row = vec![key(&l.key)];
        for (c, money) in [(&l.incidents, false), (&l.deaths, false), (&l.injuries, false), (&l.direct_loss_yuan, true)]
        {
            let show = |n: u64| if money { Cell::yuan(n) } else { Cell::num(n) };
            let (b, n) = (show(c.previous), show(c.current));
            // People read one cell `before→now`; machines get both numbers.
            row.push(Cell::shown(format!("{}→{}", b.text, n.text), b.raw));
            row.push(Cell::shown(String::new(), n.raw));
            row.push(Cell::change(c.percent));
        }
        t.row(row);
    }
    t
}

// ---- kpis ---------------------------------------------------------------------------------

pub fn kpis(
    source: &Source,
    view: &View,
    labels: &Labels,
    year: Option<i32>,
    community: Option<String>,
    ltifr_base: u64,
) -> Result<()> {
    let q = KpisQuery { year, community, ltifr_base };
    let (_, figures) = ask(source, view, &[Query::Kpis(q)])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Kpis(a) => Some(a),
        _ => None,
    })?;
    let mut t = Table::new(
        "kpis",
        [
            ("indicator", labels.t("indicator", "指标").to_string()),
            ("value", labels.t("value", "数值").to_string()),
            ("numerator", labels.t("from", "计算依据").to_string()),
            ("denominator", String::new()),
        ],
    );
    let row = |t: &mut Table, code: &str, label: &str, value: Cell, num: String, den: String| {
        t.row([
            Cell::code(code, label),
            value,
            Cell::shown(format!("{num} / {den}"), num),
            Cell::shown(String::new(), den),
        ]);
    };
    let p = &a.population;
    row(
        &mut t,
        "deaths_per_100k",
        labels.t("deaths per 100,000 population", "每十万人口死亡率"),
        Cell::rate(p.deaths_per_100k),
        p.deaths.to_string(),
        p.population.to_string(),
    );
    row(
        &mut t,
        "injuries_per_100k",
        labels.t("injuries per 100,000 population", "每十万人口受伤率"),
        Cell::rate(p.injuries_per_100k),
        p.injuries.to_string(),
        p.population.to_string(),
    );
    if let Some(e) = a.economy.as_ref().filter(|e| !e.communities.is_empty()) {
        row(
            &mut t,
            "deaths_per_100m_yuan_gdp",
            labels.t("deaths per 100 million yuan GDP", "亿元GDP死亡率"),
            Cell::rate(e.deaths_per_100m_yuan_gdp),
            e.deaths.to_string(),
            format!("{:.2}", e.gdp_10k_yuan as f64 / 10_000.0),
        );
        row(
            &mut t,
            "work_deaths_per_100k_workers",
            labels.t("work deaths per 100,000 workers", "工矿商贸十万从业人员死亡率"),
            Cell::rate(e.work_deaths_per_100k_workers),
            e.work_deaths.to_string(),
            e.workers.to_string(),
        );
    }
    if let Some(i) = &a.indicator_total {
        row(
            &mut t,
            "control_indicator_consumed_pct",
            labels.t("control indicator consumed", "控制指标消耗"),
            Cell::share(i.consumption_pct),
            i.deaths_so_far.to_string(),
            i.limit.to_string(),
        );
        t.row([
            Cell::code("time_elapsed_pct", labels.t("time elapsed (时序进度)", "时序进度")),
            Cell::share(i.elapsed_pct),
            Cell::shown(
                if i.ahead_of_time { labels.t("consumption ahead of time", "消耗超时序进度") } else { "" },
                if i.ahead_of_time { "ahead" } else { "" },
            ),
            Cell::plain(String::new()),
        ]);
    }
    for (code, name, r) in [
        ("", labels.t("", ""), &a.rectification.all),
        ("_major", labels.t(" (major)", "（重大）"), &a.rectification.major),
    ] {
        let c1: &'static str = if code.is_empty() { "rectification_rate" } else { "rectification_rate_major" };
        let c2: &'static str = if code.is_empty() { "on_time_rate" } else { "on_time_rate_major" };
        row(
            &mut t,
            c1,
            &format!("{}{name}", labels.t("rectification rate", "整改率")),
            Cell::share(r.rectification_rate),
            r.rectified.to_string(),
            r.found.to_string(),
        );
        row(
            &mut t,
            c2,
            &format!("{}{name}", labels.t("on-time rate", "按期整改率")),
            Cell::share(r.on_time_rate),
            r.on_time.to_string(),
            r.due.to_string(),
        );
    }
    let w = &a.work_injury;
    let hours = w.hours_worked;
    row(&mut t, "trir", "TRIR", Cell::rate(w.trir), format!("{} × 200,000", w.recordable_cases), format!("{hours} h"));
    row(
        &mut t,
        "dart",
        "DART",
        Cell::rate(w.dart),
        format!("{} × 200,000", w.days_away_cases + w.restricted_cases),
        format!("{hours} h"),
    );
    row(
        &mut t,
        "ltifr",
        "LTIFR",
        Cell::rate(w.ltifr),
        format!("{} × {}", w.deaths + w.days_away_cases, a_ltifr(&figures)),
        format!("{hours} h"),
    );
    row(
        &mut t,
        "injuries_per_1000_workers",
        labels.t("injuries per 1,000 workers (GB 6441)", "千人负伤率 (GB 6441)"),
        Cell::rate(w.injuries_per_1000_workers),
        w.recordable_cases.to_string(),
        w.average_headcount.map(|h| format!("{h:.0}")).unwrap_or_default(),
    );
    let title = format!(
        "{} {} … {}{}{}",
        labels.t("key figures", "主要指标"),
        a.period.from,
        a.period.to,
        a.community.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        if a.partial { labels.t(" — the year is not over", "（年度未结束）") } else { "" }
    );
    emit(view, &figures, &[t.titled(title)], &[])
}

fn a_ltifr(f: &Figures) -> u64 {
    match &f.query {
        Query::Kpis(q) => q.ltifr_base,
        _ => 0,
    }
}

// ---- hazards -------------------------------------------------------------------------------

pub fn hazards(
    source: &Source,
    view: &View,
    labels: &Labels,
    community: Option<String>,
    show_overdue: bool,
    show_listed: bool,
    lists: crate::deadlines::HazardLists,
) -> Result<()> {
    let (names, figures) = ask(source, view, &[Query::Hazards(HazardsQuery { community })])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Hazards(a) => Some(a),
        _ => None,
    })?;
    let mut open = Table::new(
        "open",
        [
            ("dimension", labels.t("open hazards by", "未销号隐患").to_string()),
            ("code", labels.t("value", "分项").to_string()),
            ("count", labels.t("count", "数量").to_string()),
        ],
    );
    let dim = |code: &'static str, en: &'static str, zh: &'static str| Cell::code(code, labels.t(en, zh));
    open.row([dim("total", "total", "合计"), Cell::plain(""), Cell::num(a.open.total)]);
    open.row([dim("major", "major", "重大"), Cell::plain(""), Cell::num(a.open.major)]);
    open.row([dim("overdue", "overdue", "逾期"), Cell::plain(""), Cell::num(a.overdue.len())]);
    open.row([dim("listed", "listed (挂牌督办)", "挂牌督办"), Cell::plain(""), Cell::num(a.listed_open.len())]);
    for (g, n) in &a.open.by_grade {
        open.row([dim("grade", "grade", "等级"), Cell::code(g.clone(), labels.hazard_grade(g)), Cell::num(n)]);
    }
    for (c, n) in &a.open.by_category {
        open.row([dim("category", "category", "类别"), Cell::code(c.clone(), labels.category(c)), Cell::num(n)]);
    }
    for (c, n) in &a.open.by_community {
        open.row([
            dim("community", "community", "社区"),
            Cell::code(c.clone(), community_label(&names, c)),
            Cell::num(n),
        ]);
    }
    let open = open.titled(format!(
        "{} {}{}",
        labels.t("hazard ledger (隐患台账) on", "隐患台账"),
        a.on,
        a.community.as_deref().map(|c| format!(" ({})", community_label(&names, c))).unwrap_or_default()
    ));
    let rates = rates_table(&a.rates, labels);
    let rates = rates.titled(format!(
        "{} {} … {}",
        labels.t("rectification", "整改情况"),
        a.rates.period.from,
        a.rates.period.to
    ));
    let mut overdue = Table::new(
        "overdue",
        [
            ("hazard_id", labels.t("hazard", "隐患").to_string()),
            ("community_id", labels.t("community", "社区").to_string()),
            ("grade", labels.t("grade", "等级").to_string()),
            ("deadline", labels.t("deadline", "整改期限").to_string()),
            ("days_overdue", labels.t("days over", "逾期天数").to_string()),
            ("listed", labels.t("listed", "挂牌").to_string()),
        ],
    );
    for h in &a.overdue {
        overdue.row([
            Cell::plain(h.hazard_id.clone()),
            Cell::plain(h.community_id.clone()),
            h.grade.as_deref().map(|g| Cell::code(g, labels.hazard_grade(g))).unwrap_or_else(|| Cell::plain("")),
            Cell::plain(h.deadline.to_string()),
            Cell::num(h.days_overdue),
            Cell::flag(h.listed, labels),
        ]);
    }
    let overdue = overdue.titled(labels.t("overdue (逾期未整改), most days over first", "逾期未整改（逾期天数降序）"));
    let mut listed = Table::new(
        "listed",
        [
            ("hazard_id", labels.t("hazard", "隐患").to_string()),
            ("community_id", labels.t("community", "社区").to_string()),
            ("level", labels.t("level", "督办级别").to_string()),
            ("listed_on", labels.t("listed on", "挂牌时间").to_string()),
            ("deadline", labels.t("deadline", "整改期限").to_string()),
        ],
    );
    for h in &a.listed_open {
        let level =
            serde_json::to_value(h.listing.level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        listed.row([
            Cell::plain(h.hazard_id.clone()),
            Cell::plain(h.community_id.clone()),
            Cell::plain(level),
            Cell::plain(cst_date(h.listing.listed_at).to_string()),
            Cell::plain(h.deadline.map(|d| d.to_string()).unwrap_or_default()),
        ]);
    }
    let listed = listed.titled(labels.t("listed for supervision (挂牌督办), open", "挂牌督办（未销号）"));
    // People see the lists they asked for; CSV can pick any table, JSON holds them all.
    let mut tables = vec![open, rates];
    let (overdue, listed) = (overdue, listed);
    if show_overdue || view.format != Format::Table {
        tables.push(overdue);
    }
    if show_listed || view.format != Format::Table {
        tables.push(listed);
    }
    tables.extend(crate::deadlines::hazard_tables(&a, lists, view.format != Format::Table, labels));
    emit(view, &figures, &tables, &[])
}

// ---- incidents and trails ------------------------------------------------------------------

pub fn incidents(
    source: &Source,
    view: &View,
    labels: &Labels,
    community: Option<String>,
    open_only: bool,
    lists: crate::deadlines::IncidentLists,
) -> Result<()> {
    let (names, figures) = ask(source, view, &[Query::Incidents(IncidentsQuery { community, open_only })])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Incidents(a) => Some(a),
        _ => None,
    })?;
    let mut t = Table::new(
        "incidents",
        [
            ("incident_id", labels.t("incident", "事故").to_string()),
            ("occurred_on", labels.t("date", "日期").to_string()),
            ("community_id", labels.t("community", "社区").to_string()),
            ("category", labels.t("category", "类别").to_string()),
            ("grade", labels.t("grade", "等级").to_string()),
            ("deaths", labels.t("deaths", "死亡").to_string()),
            ("injuries", labels.t("injured", "受伤").to_string()),
            ("four_missing", labels.t("four missing", "四不放过缺项").to_string()),
            ("days_open", labels.t("days open", "已过天数").to_string()),
            ("status", labels.t("status", "状态").to_string()),
        ],
    );
    for l in &a.incidents {
        let status = if l.closed_elsewhere {
            Cell::code("closed_elsewhere", labels.t("closed elsewhere", "外部结案"))
        } else if l.closed {
            Cell::code("closed", labels.t("closed", "已结案"))
        } else if l.investigation_overdue {
            Cell::code("investigation_overdue", labels.t("investigation overdue", "调查超期"))
        } else {
            Cell::code("open", labels.t("open", "未结案"))
        };
        t.row([
            Cell::plain(l.incident_id.clone()),
            Cell::plain(l.occurred_on.to_string()),
            Cell::plain(l.community_id.clone()),
            Cell::code(l.category.clone(), labels.category(&l.category)),
            l.grade.as_deref().map(|g| Cell::code(g, labels.grade(g))).unwrap_or_else(|| Cell::plain("")),
            Cell::num(l.deaths),
            Cell::num(l.injuries),
            Cell::shown(l.four_missing.len().to_string(), l.four_missing.join(" ")),
            Cell::num(l.days_open),
            status,
        ]);
    }
    let title = format!(
        "{} {} {} {}{}",
        a.incidents.len(),
        if open_only { labels.t("open incidents", "起未结案事故") } else { labels.t("incidents", "起事故") },
        labels.t("on", "截至"),
        a.on,
        a.community.as_deref().map(|c| format!(" ({})", community_label(&names, c))).unwrap_or_default()
    );
    let mut tables = vec![t.titled(title)];
    tables.extend(crate::deadlines::incident_tables(&a, lists, view.format != Format::Table, labels));
    emit(view, &figures, &tables, &[])
}

pub fn trail(source: &Source, view: &View, labels: &Labels, incident: &str) -> Result<()> {
    let (_, figures) = ask(source, view, &[Query::Trail(TrailQuery { incident: incident.to_string() })])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Trail(a) => Some(a),
        _ => None,
    })?;
    let status = &a.four;
    let mut t = Table::new(
        "conditions",
        [
            ("condition", labels.t("condition (四不放过)", "四不放过").to_string()),
            ("met", labels.t("met", "落实").to_string()),
            ("evidence_at", labels.t("evidence: when (China time)", "依据时间（北京时间）").to_string()),
            ("by", labels.t("by", "记录人").to_string()),
            ("what", labels.t("what", "内容").to_string()),
        ],
    );
    for c in &status.conditions {
        let label = Cell::code(c.code.clone(), condition_label(&c.code, labels));
        let met = Cell::shown(
            if c.satisfied { labels.t("yes", "是") } else { labels.t("MISSING", "缺") },
            if c.satisfied { "true" } else { "false" },
        );
        if c.evidence.is_empty() {
            t.row([label.clone(), met.clone(), Cell::plain(""), Cell::plain(""), Cell::plain("")]);
        }
        for (i, e) in c.evidence.iter().enumerate() {
            let (label, met) = if i == 0 {
                (label.clone(), met.clone())
            } else {
                (Cell::shown("", label.raw.clone()), Cell::shown("", met.raw.clone()))
            };
            t.row([
                label,
                met,
                Cell::shown(china_time(e.at), e.at.to_rfc3339()),
                Cell::plain(e.actor.clone()),
                Cell::plain(e.summary.clone()),
            ]);
        }
    }
    let state = if status.closed { labels.t("closed", "已结案") } else { labels.t("open", "未结案") };
    let title = format!(
        "{} {}: {}, {} {} {} ({} {})",
        labels.t("incident", "事故"),
        status.incident_id,
        state,
        labels.t("reported", "报告后"),
        status.days_open,
        labels.t("days before", "天，截至"),
        labels.t("on", ""),
        a.on
    );
    let note = if status.missing.is_empty() {
        labels.t("all four conditions are met (四不放过)", "四不放过均已落实").to_string()
    } else {
        let missing: Vec<String> = status.missing.iter().map(|c| condition_label(c, labels)).collect();
        format!("{} {}", labels.t("missing:", "缺项:"), missing.join(", "))
    };
    emit(view, &figures, &[t.titled(title)], &[note])
}

/// An instant in China Standard Time, labelled.
pub fn china_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string()
}

fn condition_label(code: &str, labels: &Labels) -> String {
    let (en, zh) = match code {
        "cause_determined" => ("cause determined", "事故原因查清"),
        "responsible_dealt_with" => ("those responsible dealt with", "责任人员处理"),
        "corrective_measures_implemented" => ("corrective measures implemented", "整改措施落实"),
        "education_conducted" => ("education conducted", "有关人员受到教育"),
        other => (other, other),
    };
    labels.t(en, zh).to_string()
}

// ---- streaks and projects ------------------------------------------------------------------

pub fn streaks(source: &Source, view: &View, labels: &Labels, q: StreaksQuery) -> Result<()> {
    let (names, figures) = ask(source, view, &[Query::Streaks(q)])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Streaks(a) => Some(a),
        _ => None,
    })?;
    let rule = match a.rule {
        query::BreakingRule::Fatal => labels.t("without a fatal accident", "无死亡事故"),
        query::BreakingRule::RelativelySeriousOrAbove => {
            labels.t("without an accident of grade 较大 or above", "无较大及以上事故")
        }
        query::BreakingRule::SeriousOrAbove => {
            labels.t("without an accident of grade 重大 or above", "无重大及以上事故")
        }
    };
    let what = a
        .category
        .as_deref()
        .map(|c| labels.category(c))
        .unwrap_or_else(|| labels.t("all categories", "全部类别").into());
    let mut t = Table::new(
        "streaks",
        [
            ("community_id", labels.t("community", "社区").to_string()),
            ("days", labels.t("days", "天数").to_string()),
            ("whole_years", labels.t("whole years", "整年").to_string()),
            ("since", labels.t("since", "起算日").to_string()),
            ("last_accident", labels.t("last accident", "上次事故").to_string()),
        ],
    );
    for s in &a.communities {
        let id = s.community.clone().unwrap_or_default();
        t.row([
            Cell::code(id.clone(), community_label(&names, &id)),
            Cell::num(s.days),
            Cell::num(s.whole_years),
            Cell::plain(s.since.to_string()),
            Cell::plain(s.last_accident.map(|d| d.to_string()).unwrap_or_default()),
        ]);
    }
    let title = format!("{} {rule} ({what}) {} {}", labels.t("communities", "各社区"), labels.t("up to", "截至"), a.on);
    let mut notes = vec![format!(
        "  {} ≥{} {}: {}/{} ({})",
        labels.t("communities", "社区"),
        a.years,
        labels.t("years", "年"),
        a.share.with_streak,
        a.share.communities,
        crate::out::share(a.share.share_pct)
    )];
    if let Some(d) = &a.district {
        notes.push(format!(
            "  {} {} {} ({} {})",
            labels.t("the whole district:", "全区:"),
            d.days,
            labels.t("days", "天"),
            labels.t("since", "自"),
            d.since
        ));
    }
    if !a.short.is_empty() {
        notes.push(format!("  {} {}", labels.t("short of the years:", "未达年限:"), a.short.join(", ")));
    }
    emit(view, &figures, &[t.titled(title)], &notes)
}

pub fn projects(source: &Source, view: &View, labels: &Labels, community: Option<String>) -> Result<()> {
    let (names, figures) = ask(source, view, &[Query::Projects(ProjectsQuery { community })])?;
    let (figures, a) = one(figures, |r| match r {
        Answer::Projects(a) => Some(a),
        _ => None,
    })?;
    let mut t = Table::new(
        "projects",
        [
            ("project_id", labels.t("project", "项目").to_string()),
            ("community_id", labels.t("community", "社区").to_string()),
            ("name", labels.t("name", "名称").to_string()),
            ("target", labels.t("target", "目标").to_string()),
            ("interventions_planned", labels.t("planned", "计划措施").to_string()),
            ("interventions_implemented", labels.t("implemented", "已实施").to_string()),
            ("people_reached", labels.t("reached", "覆盖人数").to_string()),
            ("category_deaths_before", labels.t("deaths before→after", "死亡 前→后").to_string()),
            ("category_deaths_after", String::new()),
            ("category_injuries_before", labels.t("injuries before→after", "受伤 前→后").to_string()),
            ("category_injuries_after", String::new()),
        ],
    );
    for l in &a.lines {
        let target = l
            .target_category
            .as_deref()
            .map(|c| Cell::code(c, labels.category(c)))
            .or_else(|| l.target_group.clone().map(Cell::plain))
            .or_else(|| l.target_place.clone().map(Cell::plain))
            .unwrap_or_else(|| Cell::plain(""));
        let (db, da, ib, ia) = match &l.category_before_after {
            Some(c) => (c.deaths.previous, c.deaths.current, c.injuries.previous, c.injuries.current),
            None => (0, 0, 0, 0),
        };
        let some = l.category_before_after.is_some();
        let pair = |b: u64, a: u64| {
            if some {
                (Cell::shown(format!("{b}→{a}"), b.to_string()), Cell::shown("", a.to_string()))
            } else {
                (Cell::plain(""), Cell::plain(""))
            }
        };
        let (d1, d2) = pair(db, da);
        let (i1, i2) = pair(ib, ia);
        t.row([
            Cell::plain(l.project_id.clone()),
            Cell::code(l.community_id.clone(), community_label(&names, &l.community_id)),
            Cell::plain(l.name.clone()),
            target,
            Cell::num(l.planned),
            Cell::num(l.implemented),
            Cell::num(l.people_reached),
            d1,
            d2,
            i1,
            i2,
        ]);
    }
    let mut iv = Table::new(
        "interventions",
        [
            ("project_id", labels.t("project", "项目").to_string()),
            ("intervention_id", labels.t("intervention", "措施").to_string()),
            ("what", labels.t("what", "内容").to_string()),
            ("planned_for", labels.t("planned for", "计划日期").to_string()),
            ("implemented_on", labels.t("implemented on", "实施日期").to_string()),
            ("reach", labels.t("reach", "覆盖人数").to_string()),
        ],
    );
    for l in &a.lines {
        for i in &l.interventions {
            iv.row([
                Cell::plain(l.project_id.clone()),
                Cell::plain(i.intervention_id.clone()),
                Cell::plain(i.what.clone()),
                Cell::plain(i.planned_for.to_string()),
                Cell::plain(i.implemented_on.map(|d| d.to_string()).unwrap_or_default()),
                Cell::num(i.reach),
            ]);
        }
    }
    let title = format!(
        "{} {} {} {} ({} {}, {} {}) {} {}",
        a.projects,
        labels.t("promotion projects with", "个安全促进项目，"),
        a.interventions,
        labels.t("interventions", "项干预措施"),
        a.implemented,
        labels.t("implemented", "已实施"),
        a.people_reached,
        labels.t("people reached", "人受益"),
        labels.t("on", "截至"),
        a.on
    );
    let note = labels
        .t(
            "  before→after: the target category's accidents in the project's community, the year before its first intervention against the year after",
            "  前→后：项目所在社区目标类别事故，首项措施实施前一年对比实施后一年",
        )
        .to_string();
    emit(view, &figures, &[t.titled(title), iv.titled(labels.t("interventions (干预措施)", "干预措施"))], &[note])
}

// ---- history ---------------------------------------------------------------------------------

/// "name (id)" when the name is known, else the id.
pub fn community_label(names: &Names, id: &str) -> String {
    names.get(id).map(|n| format!("{n} ({id})")).unwrap_or_else(|| id.to_string())
}

/// "name (id)" from projections.
pub fn community_label_of(all: &AllProjections, id: &str) -> String {
    community_label(&names_of(all), id)
}

pub fn history(source: &Source, view: &View, labels: &Labels, stream: &str) -> Result<()> {
    let shown: Vec<ExportedEvent> = match source {
        Source::Local(store) => {
            let cut = view.as_of.map(Timestamp::from_chrono);
            store
                .read_stream(stream, 0, Direction::Forward, usize::MAX)?
                .iter()
                .filter(|e| cut.is_none_or(|c| e.recorded_at <= c))
                .map(|e| ExportedEvent::of(e, None))
                .collect()
        }
        Source::Remote(remote) => {
            let mut path = format!("/v1/streams/{stream}");
            if let Some(t) = view.as_of {
                path.push_str(&format!("?as_of={}", t.to_rfc3339().replace('+', "%2B").replace(':', "%3A")));
            }
            serde_json::from_value(remote.get(&path)?).context("the stream's events do not parse")?
        }
    };
    anyhow::ensure!(!shown.is_empty(), "stream {stream:?} has no events (by then; see `anquan streams`)");
    if view.format == Format::Json {
        // The store's clock is `stored_at`; the event's own `recorded_at` (the command's time) is
        // inside `event`.
        let lines: Vec<_> = shown
            .iter()
            .map(|e| {
                serde_json::json!({
                    "version": e.version, "position": e.position, "event_type": e.event_type,
                    "actor": e.actor, "stored_at": e.recorded_at.to_chrono(),
                    "hash": e.hash, "event": e.event,
                })
            })
            .collect();
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &lines)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut t = Table::new(
        "events",
        [
            ("version", "#".to_string()),
            ("position", labels.t("position", "位置").to_string()),
            ("event_type", labels.t("event", "事件").to_string()),
            ("actor", labels.t("by", "操作人").to_string()),
            ("stored_at", labels.t("stored (store clock, China time)", "入库时间（北京时间）").to_string()),
            ("event", labels.t("event as recorded (its times in UTC)", "事件内容（其中时间为 UTC）").to_string()),
        ],
    );
    for e in &shown {
        let body = match &e.event {
            Some(d) => serde_json::to_string(d)?,
            None => format!("({} bytes that do not decode as a domain event)", e.payload_hex.len() / 2),
        };
        t.row([
            Cell::num(e.version),
            Cell::num(e.position),
            Cell::plain(e.event_type.clone()),
            Cell::plain(e.actor.clone()),
            e.recorded_at
                .to_chrono()
                .map(|t| Cell::shown(china_time(t), t.to_rfc3339()))
                .unwrap_or_else(|| Cell::plain("")),
            Cell::plain(body),
        ]);
    }
    let title = format!("{stream}: {} {}", shown.len(), labels.t("events", "个事件"));
    let table = t.titled(title);
    let mut out = std::io::stdout().lock();
    match view.format {
        Format::Csv => table.write_csv(&mut out),
        _ => table.write_text(&mut out),
    }
}

/// Opens the store for reading; a missing folder is an error, not a new empty store.
pub fn open_existing(dir: &Path) -> Result<EventStore> {
    EventStore::open_dir(dir, crate::cluster::store_options(false))
        .with_context(|| format!("cannot open the store at {}", dir.display()))
}

/// 整改率 and 按期整改率 of all, major and listed hazards, one row each.
pub fn rates_table(r: &anquan::projections::hazard_ledger::RectificationRates, labels: &Labels) -> Table {
    let mut rates = Table::new(
        "rates",
        [
            ("series", labels.t("series", "类别").to_string()),
            ("found", labels.t("found", "排查").to_string()),
            ("rectified", labels.t("rectified", "已整改").to_string()),
            ("rectification_rate_pct", labels.t("rate", "整改率").to_string()),
            ("due", labels.t("due", "到期").to_string()),
            ("on_time", labels.t("on time", "按期").to_string()),
            ("on_time_rate_pct", labels.t("on-time rate", "按期整改率").to_string()),
        ],
    );
    for (code, en, zh, s) in
        [("all", "all", "全部", &r.all), ("major", "major", "重大", &r.major), ("listed", "listed", "挂牌", &r.listed)]
    {
        rates.row([
            Cell::code(code, labels.t(en, zh)),
            Cell::num(s.found),
            Cell::num(s.rectified),
            Cell::share(s.rectification_rate),
            Cell::num(s.due),
            Cell::num(s.on_time),
            Cell::share(s.on_time_rate),
        ]);
    }
    rates
}
