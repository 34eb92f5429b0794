//! The query commands: fold the projections up to the `--as-of` instant, ask one typed query of
//! the library, print it as a table, CSV or JSON. No figure is computed here.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use anquan::events::time::cst_date;
use anquan::projections::accident_stats::{grade_code, Comparison, GroupBy};
use anquan::projections::{AllProjections, Period};
use anquan::store::{Direction, EventStore, Timestamp};

use crate::out::{pct, share, yuan, Format, Labels, Table};

/// How a query is asked and shown.
#[derive(clap::Args)]
pub struct View {
    /// State as recorded up to this instant (RFC 3339, or a date meaning the end of that day in
    /// China Standard Time); default: now, everything recorded.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,
    /// `table` for people; `json` or `csv` for machines.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// `2025-06-30` (end of that CST day) or an RFC 3339 instant.
pub fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is neither a date (2025-06-30) nor an RFC 3339 time (2025-06-30T08:00:00Z)"))?;
    // The last instant of that day, so the day itself is included.
    anquan::events::time::end_of_cst_day(day)
        .and_then(|t| t.checked_sub_signed(chrono::Duration::microseconds(1)))
        .ok_or_else(|| format!("{s:?} is outside the calendar anquan keeps"))
}

impl View {
    pub fn now(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or_else(Utc::now)
    }

    /// CST calendar date of the as-of instant.
    pub fn today(&self) -> NaiveDate {
        cst_date(self.now())
    }
}

/// Every projection, folded from the log up to the --as-of instant.
pub fn projections(store: &EventStore, view: &View) -> Result<AllProjections> {
    let end = match view.as_of {
        Some(t) => store.position_as_of(Timestamp::from_chrono(t))?,
        None => store.head().next_position,
    };
    Ok(fold_to(store, end)?.0)
}

/// Brings the five projections to the head and snapshots them there, so later queries fold
/// only what came after; returns the checkpoint and the position the fold started from.
pub fn snapshot(store: &EventStore) -> Result<(u64, u64)> {
    let end = store.head().next_position;
    let (all, from) = fold_to(store, end)?;
    all.save_snapshots(store, end)?;
    Ok((end, from))
}

/// The five projections as of position `end` (see [`AllProjections::as_of`]: from the snapshots
/// `anquan snapshot` wrote when they lie at or before `end`, else from the start); also returns
/// where the fold began.
fn fold_to(store: &EventStore, end: u64) -> Result<(AllProjections, u64)> {
    let (all, from) = AllProjections::as_of(store, end)?;
    tracing::debug!(from, end, "folded projections");
    Ok((all, from))
}

fn json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_table(t: &Table, format: Format) -> Result<()> {
    t.print(format, &mut std::io::stdout().lock())
}

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
}

/// The periods compared: whole years, or, with `year_to_date`, both years up to the as-of day's
/// month and day (同期).
fn periods(args: &StatsArgs, today: NaiveDate) -> Result<(Period, Period)> {
    let year = args.year.unwrap_or(today.year());
    let baseline_year = args.compare.unwrap_or(year - 1);
    let whole = |y: i32| Period::year(y).with_context(|| format!("{y} is not a year the calendar can hold"));
    let (mut current, mut baseline) = (whole(year)?, whole(baseline_year)?);
    if args.year_to_date {
        let cut = |p: &mut Period| {
            let to = NaiveDate::from_ymd_opt(p.from.year(), today.month(), today.day())
                .or_else(|| NaiveDate::from_ymd_opt(p.from.year(), today.month(), today.day() - 1));
            if let Some(to) = to {
                p.to = to;
            }
        };
        cut(&mut current);
        cut(&mut baseline);
    }
    Ok((current, baseline))
}

pub fn stats(store: &EventStore, view: &View, labels: &Labels, args: &StatsArgs) -> Result<()> {
    let all = projections(store, view)?;
    let (current, baseline) = periods(args, view.today())?;
    let group = match args.by {
        By::Category => GroupBy::Category,
        By::Community => GroupBy::Community,
        By::Month => GroupBy::Month,
        By::Grade => GroupBy::Grade,
    };
    let cmp = all.accident_stats.compare(current, baseline, group, args.category.as_deref(), args.community.as_deref());
    let rate = |p: Period| all.accident_stats.rate_per_100k(p, args.community.as_deref(), args.category.as_deref());
    let (rate_now, rate_before) = (rate(current), rate(baseline));
    if view.format == Format::Json {
        return json(&serde_json::json!({
            "comparison": cmp, "rate_per_100k": { "current": rate_now, "baseline": rate_before }
        }));
    }
    let by = match args.by {
        By::Category => labels.t("by category", "按类别"),
        By::Community => labels.t("by community", "按社区"),
        By::Month => labels.t("by month", "按月份"),
        By::Grade => labels.t("by grade", "按等级"),
    };
    let title = format!(
        "{} {} {} {by} ({}, {})",
        period_label(&current),
        labels.t("against", "对比"),
        period_label(&baseline),
        args.community.as_deref().unwrap_or(labels.t("all communities", "全部社区")),
        args.category
            .as_deref()
            .map(|c| labels.category(c))
            .unwrap_or_else(|| labels.t("all categories", "全部类别").into()),
    );
    print_table(&comparison_table(&cmp, labels, view.format, &all).titled(title), view.format)?;
    if view.format == Format::Table {
        if let (Some(now), Some(before)) = (rate_now.deaths_per_100k, rate_before.deaths_per_100k) {
            println!(
                "  {} {:.2} → {:.2}",
                labels.t("deaths per 100,000 population:", "每十万人口死亡率:"),
                before,
                now
            );
        }
    }
    Ok(())
}

fn period_label(p: &Period) -> String {
    if p.from.month() == 1 && p.from.day() == 1 && p.to.month() == 12 && p.to.day() == 31 {
        p.from.year().to_string()
    } else {
        format!("{}…{}", p.from, p.to)
    }
}

/// The comparison as a table: compact `before→now` cells for people, one column per figure
/// for CSV.
pub fn comparison_table(cmp: &Comparison, labels: &Labels, format: Format, all: &AllProjections) -> Table {
    let key_header = match cmp.by {
        GroupBy::Category => labels.t("category", "类别"),
        GroupBy::Community => labels.t("community", "社区"),
        GroupBy::Month => labels.t("month", "月份"),
        GroupBy::Grade => labels.t("grade", "等级"),
    };
    let names = [
        labels.t("incidents", "事故起数"),
        labels.t("deaths", "死亡"),
        labels.t("injuries", "受伤"),
        labels.t("direct loss (yuan)", "直接经济损失(元)"),
    ];
    let key = |k: &Option<String>| match (k, cmp.by) {
        (None, _) => labels.t("TOTAL", "合计").to_string(),
        (Some(k), GroupBy::Category) => labels.category(k),
        (Some(k), GroupBy::Grade) => labels.grade(k),
        (Some(k), GroupBy::Community) => community_label(all, k),
        (Some(k), _) => k.clone(),
    };
    let lines = cmp.lines.iter().chain(std::iter::once(&cmp.total));
    if format == Format::Csv {
        // Machines get the codes, not the labels.
        let key = |k: &Option<String>| k.clone().unwrap_or_else(|| "total".to_string());
        let mut headers = vec![key_header.to_string()];
        for n in names {
            headers.extend([
                format!("{n} {}", period_label(&cmp.baseline)),
                format!("{n} {}", period_label(&cmp.current)),
                format!("{n} %"),
            ]);
        }
        let mut t = Table::new(headers);
        for l in lines {
            let mut row = vec![key(&l.key)];
            for c in [&l.incidents, &l.deaths, &l.injuries, &l.direct_loss_yuan] {
                row.extend([
                    c.previous.to_string(),
                    c.current.to_string(),
                    c.percent.map(|p| format!("{p:.1}")).unwrap_or_default(),
                ]);
            }
            t.row(row);
        }
        return t;
    }
    let mut headers = vec![key_header.to_string()];
    for n in names {
        headers.extend([n.to_string(), "±".to_string()]);
    }
    let mut t = Table::new(headers);
    for l in lines {
        let mut row = vec![key(&l.key)];
        row.extend([format!("{}→{}", l.incidents.previous, l.incidents.current), pct(l.incidents.percent)]);
        row.extend([format!("{}→{}", l.deaths.previous, l.deaths.current), pct(l.deaths.percent)]);
        row.extend([format!("{}→{}", l.injuries.previous, l.injuries.current), pct(l.injuries.percent)]);
        row.extend([
            format!("{}→{}", yuan(l.direct_loss_yuan.previous), yuan(l.direct_loss_yuan.current)),
            pct(l.direct_loss_yuan.percent),
        ]);
        t.row(row);
    }
    t
}

/// The year's KPIs, each beside its numerator and denominator so a reader can check it.
pub fn kpis(store: &EventStore, view: &View, labels: &Labels, year: Option<i32>, ltifr_base: u64) -> Result<()> {
    anyhow::ensure!(ltifr_base > 0, "--ltifr-base must be positive");
    let all = projections(store, view)?;
    let today = view.today();
    let year = year.unwrap_or(today.year());
    let period = Period::year(year).with_context(|| format!("{year} is not a year the calendar can hold"))?;
    // Up to the as-of day when it falls in the year: a year in progress is counted so far.
    let so_far = if period.contains(today) { Period { to: today, ..period } } else { period };
    let stats = &all.accident_stats;
    let population = stats.rate_per_100k(so_far, None, None);
    let economy = stats.economic_rates(year, None);
    let work = stats.work_injury_rates(None, so_far, ltifr_base);
    let rectification = all.hazard_ledger.rates(so_far);
    let indicators: Vec<_> =
        stats.communities().filter_map(|c| stats.indicator_consumption(&c.community_id, so_far.to)).collect();
    if view.format == Format::Json {
        return json(&serde_json::json!({
            "year": year, "period": so_far, "population": population, "economy": economy,
            "work_injury": work, "rectification": rectification, "indicators": indicators,
        }));
    }
    let f2 = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into());
    let mut t = Table::new([labels.t("indicator", "指标"), labels.t("value", "数值"), labels.t("from", "计算依据")]);
    t.row([
        labels.t("deaths per 100,000 population", "每十万人口死亡率").to_string(),
        f2(population.deaths_per_100k),
        format!("{} / {}", population.deaths, population.population),
    ]);
    t.row([
        labels.t("injuries per 100,000 population", "每十万人口受伤率").to_string(),
        f2(population.injuries_per_100k),
        format!("{} / {}", population.injuries, population.population),
    ]);
    if let Some(e) = economy.as_ref().filter(|e| !e.communities.is_empty()) {
        t.row([
            labels.t("deaths per 100 million yuan GDP", "亿元GDP死亡率").to_string(),
            f2(e.deaths_per_100m_yuan_gdp),
            format!("{} / {:.2} {}", e.deaths, e.gdp_10k_yuan as f64 / 10_000.0, labels.t("100M yuan", "亿元")),
        ]);
        t.row([
            labels.t("work deaths per 100,000 workers", "工矿商贸十万从业人员死亡率").to_string(),
            f2(e.work_deaths_per_100k_workers),
            format!("{} / {}", e.work_deaths, e.workers),
        ]);
    }
    let limit: u64 = indicators.iter().map(|c| u64::from(c.total.limit)).sum();
    let used: u64 = indicators.iter().map(|c| c.total.deaths_so_far).sum();
    if limit > 0 {
        let elapsed = indicators.first().map(|c| c.elapsed_pct);
        t.row([
            labels.t("control indicator consumed (时序进度)", "控制指标消耗（时序进度）").to_string(),
            format!("{} ({})", share(anquan::projections::percent(used, limit)), share(elapsed)),
            format!("{used} / {limit}"),
        ]);
    }
    for (name, r) in [(labels.t("", ""), &rectification.all), (labels.t(" (major)", "（重大）"), &rectification.major)]
    {
        t.row([
            format!("{}{name}", labels.t("rectification rate", "整改率")),
            share(r.rectification_rate),
            format!("{} / {}", r.rectified, r.found),
        ]);
        t.row([
            format!("{}{name}", labels.t("on-time rate", "按期整改率")),
            share(r.on_time_rate),
            format!("{} / {}", r.on_time, r.due),
        ]);
    }
    let hours = work.hours_worked;
    t.row(["TRIR".to_string(), f2(work.trir), format!("{} × 200,000 / {hours} h", work.recordable_cases)]);
    t.row([
        "DART".to_string(),
        f2(work.dart),
        format!("{} × 200,000 / {hours} h", work.days_away_cases + work.restricted_cases),
    ]);
    t.row([
        "LTIFR".to_string(),
        f2(work.ltifr),
        format!("{} × {ltifr_base} / {hours} h", work.deaths + work.days_away_cases),
    ]);
    t.row([
        labels.t("injuries per 1,000 workers (GB 6441)", "千人负伤率 (GB 6441)").to_string(),
        f2(work.injuries_per_1000_workers),
        format!(
            "{} / {}",
            work.recordable_cases,
            work.average_headcount.map(|h| format!("{h:.0}")).unwrap_or_default()
        ),
    ]);
    let title = format!("{} {} … {}", labels.t("key figures", "主要指标"), so_far.from, so_far.to);
    print_table(&t.titled(title), view.format)
}

pub fn hazards(store: &EventStore, view: &View, labels: &Labels, overdue: bool, listed: bool) -> Result<()> {
    let all = projections(store, view)?;
    let ledger = &all.hazard_ledger;
    let open = ledger.open_hazards();
    let late = ledger.overdue(view.now());
    let listed_open = ledger.listed_for_supervision(true);
    let year = view.today().year();
    let rates = Period::year(year).map(|p| ledger.rates(p));
    if view.format == Format::Json {
        return json(&serde_json::json!({
            "as_of": view.now(), "open": open, "overdue": if overdue { Some(&late) } else { None },
            "listed": if listed { Some(&listed_open) } else { None }, "rates": rates,
        }));
    }
    let mut t =
        Table::new([labels.t("open hazards by", "未销号隐患"), labels.t("value", "分项"), labels.t("count", "数量")]);
    t.row([labels.t("total", "合计").to_string(), String::new(), open.total.to_string()]);
    t.row([labels.t("major", "重大").to_string(), String::new(), open.major.to_string()]);
    t.row([labels.t("overdue", "逾期").to_string(), view.today().to_string(), late.len().to_string()]);
    t.row([labels.t("listed (挂牌督办)", "挂牌督办").to_string(), String::new(), listed_open.len().to_string()]);
    for (g, n) in &open.by_grade {
        t.row([labels.t("grade", "等级").to_string(), labels.hazard_grade(g), n.to_string()]);
    }
    for (c, n) in &open.by_category {
        t.row([labels.t("category", "类别").to_string(), labels.category(c), n.to_string()]);
    }
    for (c, n) in &open.by_community {
        t.row([labels.t("community", "社区").to_string(), community_label(&all, c), n.to_string()]);
    }
    print_table(
        &t.titled(format!("{} {}", labels.t("hazard ledger (隐患台账) as of", "隐患台账 截至"), view.today())),
        view.format,
    )?;
    if let (Some(r), Format::Table) = (&rates, view.format) {
        let mut t = Table::new([
            labels.t("series", "类别"),
            labels.t("found", "排查"),
            labels.t("rectified", "已整改"),
            labels.t("rate", "整改率"),
            labels.t("due", "到期"),
            labels.t("on time", "按期"),
            labels.t("on-time rate", "按期整改率"),
        ]);
        for (name, s) in [
            (labels.t("all", "全部"), &r.all),
            (labels.t("major", "重大"), &r.major),
            (labels.t("listed", "挂牌"), &r.listed),
        ] {
            t.row([
                name.to_string(),
                s.found.to_string(),
                s.rectified.to_string(),
                share(s.rectification_rate),
                s.due.to_string(),
                s.on_time.to_string(),
                share(s.on_time_rate),
            ]);
        }
        println!();
        t.titled(format!("{} {year}", labels.t("rectification in", "整改情况")))
            .print(Format::Table, &mut std::io::stdout().lock())?;
    }
    if overdue {
        let mut t = Table::new([
            labels.t("hazard", "隐患"),
            labels.t("community", "社区"),
            labels.t("grade", "等级"),
            labels.t("deadline", "整改期限"),
            labels.t("days over", "逾期天数"),
            labels.t("listed", "挂牌"),
        ]);
        for h in &late {
            t.row([
                h.hazard_id.clone(),
                h.community_id.clone(),
                h.grade.as_deref().map(|g| labels.hazard_grade(g)).unwrap_or_default(),
                h.deadline.to_string(),
                h.days_overdue.to_string(),
                if h.listed { labels.t("yes", "是").to_string() } else { String::new() },
            ]);
        }
        if view.format == Format::Table {
            println!();
        }
        print_table(&t.titled(labels.t("overdue (逾期未整改)", "逾期未整改")), view.format)?;
    }
    if listed {
        let mut t = Table::new([
            labels.t("hazard", "隐患"),
            labels.t("community", "社区"),
            labels.t("level", "督办级别"),
            labels.t("listed on", "挂牌时间"),
            labels.t("deadline", "整改期限"),
        ]);
        for h in &listed_open {
            t.row([
                h.hazard_id.clone(),
                h.community_id.clone(),
                format!("{:?}", h.listing.level).to_lowercase(),
                cst_date(h.listing.listed_at).to_string(),
                h.deadline.map(|d| d.to_string()).unwrap_or_default(),
            ]);
        }
        if view.format == Format::Table {
            println!();
        }
        print_table(&t.titled(labels.t("listed for supervision (挂牌督办), open", "挂牌督办（未销号）")), view.format)?;
    }
    Ok(())
}

/// One line of `anquan incidents`.
#[derive(serde::Serialize)]
struct IncidentLine<'a> {
    incident_id: &'a str,
    occurred_on: NaiveDate,
    community_id: &'a str,
    category: &'a str,
    grade: Option<&'static str>,
    deaths: u32,
    injuries: u32,
    missing: u32,
    direct_loss_yuan: u64,
    /// Codes of the four conditions (四不放过) not met by the as-of instant.
    four_missing: Vec<String>,
    investigation_overdue: bool,
    closed: bool,
}

pub fn incidents(store: &EventStore, view: &View, labels: &Labels, open_only: bool) -> Result<()> {
    let all = projections(store, view)?;
    let at = view.now();
    let overdue: std::collections::BTreeSet<String> =
        all.trails.past_investigation_deadline(at).into_iter().map(|o| o.incident_id).collect();
    let mut lines = Vec::new();
    for f in all.accident_stats.incidents() {
        let Some(status) = all.trails.four_status(&f.incident_id, at) else { continue };
        if open_only && status.closed {
            continue;
        }
        let c = &f.casualties;
        lines.push(IncidentLine {
            incident_id: &f.incident_id,
            occurred_on: f.day(),
            community_id: &f.community_id,
            category: &f.category,
            grade: f.grade.map(grade_code),
            deaths: c.deaths,
            injuries: c.serious_injuries + c.minor_injuries,
            missing: c.missing,
            direct_loss_yuan: c.direct_loss_yuan,
            four_missing: status.missing,
            investigation_overdue: overdue.contains(&f.incident_id),
            closed: status.closed,
        });
    }
    lines.sort_by(|a, b| b.occurred_on.cmp(&a.occurred_on).then(a.incident_id.cmp(b.incident_id)));
    if view.format == Format::Json {
        return json(&lines);
    }
    let mut t = Table::new([
        labels.t("incident", "事故"),
        labels.t("date", "日期"),
        labels.t("community", "社区"),
        labels.t("category", "类别"),
        labels.t("grade", "等级"),
        labels.t("deaths", "死亡"),
        labels.t("injured", "受伤"),
        labels.t("four missing", "四不放过缺项"),
        labels.t("status", "状态"),
    ]);
    for l in &lines {
        let status = if l.closed {
            labels.t("closed", "已结案")
        } else if l.investigation_overdue {
            labels.t("investigation overdue", "调查超期")
        } else {
            labels.t("open", "未结案")
        };
        t.row([
            l.incident_id.to_string(),
            l.occurred_on.to_string(),
            community_label(&all, l.community_id),
            labels.category(l.category),
            l.grade.map(|g| labels.grade(g)).unwrap_or_default(),
            l.deaths.to_string(),
            l.injuries.to_string(),
            l.four_missing.len().to_string(),
            status.to_string(),
        ]);
    }
    let title = format!(
        "{} {} {}{}",
        lines.len(),
        if open_only { labels.t("open incidents", "起未结案事故") } else { labels.t("incidents", "起事故") },
        labels.t("as of", "截至"),
        format_args!(" {}", view.today())
    );
    print_table(&t.titled(title), view.format)
}

pub fn trail(store: &EventStore, view: &View, labels: &Labels, incident: &str) -> Result<()> {
    let all = projections(store, view)?;
    let Some(status) = all.trails.four_status(incident, view.now()) else {
        anyhow::bail!("no incident {incident:?} in this store (see `anquan incidents`)")
    };
    if view.format == Format::Json {
        return json(&serde_json::json!({ "four": status, "trail": all.trails.trail(incident) }));
    }
    let mut t = Table::new([
        labels.t("condition (四不放过)", "四不放过"),
        labels.t("met", "落实"),
        labels.t("evidence: when", "依据时间"),
        labels.t("by", "记录人"),
        labels.t("what", "内容"),
    ]);
    for c in &status.conditions {
        let label = condition_label(&c.code, labels);
        let met = if c.satisfied { labels.t("yes", "是") } else { labels.t("MISSING", "缺") };
        if c.evidence.is_empty() {
            t.row([label.clone(), met.to_string(), String::new(), String::new(), String::new()]);
        }
        for (i, e) in c.evidence.iter().enumerate() {
            let (label, met) = if i == 0 { (label.clone(), met.to_string()) } else { (String::new(), String::new()) };
            t.row([label, met, e.at.format("%Y-%m-%d %H:%M").to_string(), e.actor.clone(), e.summary.clone()]);
        }
    }
    let state = if status.closed { labels.t("closed", "已结案") } else { labels.t("open", "未结案") };
    let title = format!(
        "{} {}: {}, {} {} {}",
        labels.t("incident", "事故"),
        status.incident_id,
        state,
        labels.t("reported", "报告后"),
        status.days_open,
        labels.t("days ago", "天")
    );
    print_table(&t.titled(title), view.format)?;
    if view.format == Format::Table {
        if status.missing.is_empty() {
            println!("{}", labels.t("all four conditions are met (四不放过)", "四不放过均已落实"));
        } else {
            let missing: Vec<String> = status.missing.iter().map(|c| condition_label(c, labels)).collect();
            println!("{} {}", labels.t("missing:", "缺项:"), missing.join(", "));
        }
    }
    Ok(())
}

/// "name (id)" when the statistics know the community, else the id.
pub fn community_label(all: &AllProjections, id: &str) -> String {
    all.accident_stats.community(id).map(|c| format!("{} ({id})", c.name)).unwrap_or_else(|| id.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

pub fn history(store: &EventStore, view: &View, labels: &Labels, stream: &str) -> Result<()> {
    let events = store.read_stream(stream, 0, Direction::Forward, usize::MAX)?;
    anyhow::ensure!(!events.is_empty(), "stream {stream:?} has no events (see `anquan streams`)");
    let cut = view.as_of.map(Timestamp::from_chrono);
    let shown: Vec<_> = events.iter().filter(|e| cut.is_none_or(|c| e.recorded_at <= c)).collect();
    let decoded = |e: &anquan::store::RecordedEvent| {
        anquan::events::DomainEvent::from_payload(&e.event_type, e.schema_version, &e.payload)
            .map_err(|err| format!("{} bytes that do not decode as a domain event: {err}", e.payload.len()))
    };
    match view.format {
        Format::Json => {
            let lines: Vec<_> = shown
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "version": e.version, "position": e.position, "event_type": &*e.event_type,
                        "actor": &*e.actor, "recorded_at": e.recorded_at.to_chrono(),
                        "hash": hex(&e.hash), "event": decoded(e).ok(),
                    })
                })
                .collect();
            json(&lines)
        }
        Format::Csv | Format::Table => {
            let mut t = Table::new([
                labels.t("#", "#"),
                labels.t("position", "位置"),
                labels.t("event", "事件"),
                labels.t("by", "操作人"),
                labels.t("recorded at", "记录时间"),
                labels.t("payload", "内容"),
            ]);
            for e in &shown {
                let body = match decoded(e) {
                    Ok(d) => serde_json::to_string(&d)?,
                    Err(msg) => format!("({msg})"),
                };
                let at = e.recorded_at.to_chrono().map(|t| t.to_rfc3339()).unwrap_or_default();
                t.row([
                    e.version.to_string(),
                    e.position.to_string(),
                    e.event_type.to_string(),
                    e.actor.to_string(),
                    at,
                    body,
                ]);
            }
            let hidden = events.len() - shown.len();
            let mut title = format!("{stream}: {} {}", shown.len(), labels.t("events", "个事件"));
            if hidden > 0 {
                title.push_str(&format!(
                    " ({hidden} {})",
                    labels.t("recorded after --as-of not shown", "条在 --as-of 之后，未显示")
                ));
            }
            print_table(&t.titled(title), view.format)
        }
    }
}

/// Opens the store for reading; a missing folder is an error, not a new empty store.
pub fn open_existing(dir: &Path) -> Result<EventStore> {
    EventStore::open_dir(
        dir,
        anquan::store::StoreOptions { create_if_missing: false, ..anquan::store::StoreOptions::default() },
    )
    .with_context(|| format!("cannot open the store at {}", dir.display()))
}
