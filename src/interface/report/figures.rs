//! The figures gathered for each section, from the projections' public queries: the headline
//! (this year to date against last year's span, 同比), casualties by category and year, hazards
//! found and closed by month, the on-time rate by quarter, control-indicator consumption, open
//! and overdue hazards with the year's rectification rates, fatality-free streaks by category,
//! promotion projects with their before/after figures, incomplete 四不放过. Each section writes
//! its chart and its data table (folded behind the chart when it is long). A period that runs
//! only to the reference date is marked partial in its chart and its table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::format::*;
use super::html::{folded_table, no_data, note, section_open, table};
use super::labels::*;
use super::svg::*;
use crate::interface::query::{HazardsAnswer, KpisAnswer, ProjectsAnswer, StreaksAnswer};
use crate::projections::accident_stats::{Change, StatsFilter, Totals};
use crate::projections::{AllProjections, Period};

/// This year from 1 January to the as-of date against the same span a year earlier (同比).
pub(super) fn headline(out: &mut String, ctx: &Ctx<'_>) {
    let l = ctx.l;
    section_open(out, "headline", l.headline);
    let periods =
        NaiveDate::from_ymd_opt(ctx.today.year(), 1, 1).zip(a_year_before(ctx.today)).and_then(|(from, to)| {
            let last_from = NaiveDate::from_ymd_opt(to.year(), 1, 1)?;
            Some((Period { from, to: ctx.today }, Period { from: last_from, to }))
        });
    let Some((this, last)) = periods else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    let cur = ctx.stats.totals(&StatsFilter::new(this));
    let prev = ctx.stats.totals(&StatsFilter::new(last));
    if cur.incidents == 0 && prev.incidents == 0 {
        no_data(out, l);
    }
    let figures: [(&str, Change); 4] = [
        (l.incidents, Change::new(prev.incidents, cur.incidents)),
        (l.deaths, Change::new(prev.deaths, cur.deaths)),
        (l.injuries, Change::new(prev.injuries(), cur.injuries())),
        (l.direct_loss, Change::new(prev.direct_loss_yuan, cur.direct_loss_yuan)),
    ];
    let _ = write!(
        out,
        r#"<p class="note">{} {} {} {}{}{} {} {} {}</p><div class="cards">"#,
        escape(l.this_period),
        this.from,
        escape(l.range_to),
        this.to,
        escape(l.list_sep),
        escape(l.last_period),
        last.from,
        escape(l.range_to),
        last.to
    );
    for (name, c) in &figures {
        let _ = write!(
            out,
            r#"<div class="card"><div class="n">{}</div><div class="v">{}</div><div class="d">{} {} · {}</div></div>"#,
            escape(name),
            grouped(c.current),
            escape(l.last_period),
            grouped(c.previous),
            escape(&signed_pct(c.percent)),
        );
    }
    out.push_str("</div>");
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|(name, c)| {
            vec![name.to_string(), grouped(c.current), grouped(c.previous), signed(c.absolute), signed_pct(c.percent)]
        })
        .collect();
    let head = [l.figure, l.this_period, l.last_period, l.change, l.change_pct].map(str::to_string);
    table(out, "headline-table", l.headline, &head, &rows);
    out.push_str("</section>");
}

/// Chart 1: deaths and injuries per category, for the (up to) three latest years with an
/// incident; the current year to date.
pub(super) fn casualties_by_category(out: &mut String, ctx: &Ctx<'_>) {
    let l = ctx.l;
    section_open(out, "casualties", l.chart_casualties);
    note(out, l.casualties_note);
    let mut years: Vec<i32> = ctx.stats.incident_years().into_iter().filter(|y| *y <= ctx.today.year()).collect();
    let keep_from = years.len().saturating_sub(MAX_YEARS);
    years.drain(..keep_from);
    // category → per year (deaths, injuries); the breakdown sums over communities.
    let mut by_category: BTreeMap<String, Vec<Totals>> = BTreeMap::new();
    for (i, year) in years.iter().enumerate() {
        let Some(period) = Period::year(*year).and_then(|p| to_date(p, ctx.today)) else { continue };
        for row in ctx.stats.breakdown(period) {
            let cells = by_category.entry(row.category.clone()).or_insert_with(|| vec![Totals::default(); years.len()]);
            if let Some(t) = cells.get_mut(i) {
                *t = Totals {
                    incidents: t.incidents + row.totals.incidents,
                    deaths: t.deaths + row.totals.deaths,
                    serious_injuries: t.serious_injuries + row.totals.serious_injuries,
                    minor_injuries: t.minor_injuries + row.totals.minor_injuries,
                    missing: t.missing + row.totals.missing,
                    direct_loss_yuan: t.direct_loss_yuan.saturating_add(row.totals.direct_loss_yuan),
                };
            }
        }
    }
    if by_category.is_empty() {
        no_data(out, l);
        out.push_str("</section>");
        return;
    }
    let mut categories: Vec<(String, Vec<Totals>)> = by_category.into_iter().collect();
    categories.sort_by(|a, b| ctx.category_rank(&a.0).cmp(&ctx.category_rank(&b.0)).then(a.0.cmp(&b.0)));
    let labels: Vec<String> = categories.iter().map(|(c, _)| ctx.category(c)).collect();
    let year_names: Vec<String> = years
        .iter()
        .map(|y| ctx.year_label(*y, ctx.today, *y == ctx.today.year() && !is_year_end(ctx.today)))
        .collect();
    for (id, title, axis, pick) in [
        ("chart-deaths", l.chart_deaths, l.deaths_axis, (|t: &Totals| t.deaths) as fn(&Totals) -> u64),
        ("chart-injuries", l.chart_injuries, l.injuries_axis, |t: &Totals| t.injuries()),
    ] {
        let series: Vec<Series> = years
            .iter()
            .zip(&year_names)
            .enumerate()
            .map(|(i, (y, name))| {
                let mut s = Series::new(
                    name.clone(),
                    categories.iter().map(|(_, v)| v.get(i).map(|t| pick(t) as f64)).collect(),
                );
                s.partial = *y == ctx.today.year() && !is_year_end(ctx.today);
                s
            })
            .collect();
        let chart = Chart { id, title, value_title: axis, category_title: l.category, measure: Measure::Count };
        hbar_chart(out, &chart, &labels, &series, None, None);
    }
    let mut head = vec![l.category.to_string()];
    for name in &year_names {
        head.push(format!("{name} {}", l.deaths));
        head.push(format!("{name} {}", l.injuries));
    }
    let rows: Vec<Vec<String>> = categories
        .iter()
        .zip(&labels)
        .map(|((_, v), label)| {
            let mut row = vec![label.clone()];
            for t in v {
                row.push(t.deaths.to_string());
                row.push(t.injuries().to_string());
            }
            row
        })
        .collect();
    folded_table(out, &ctx.table_summary(rows.len()), "table-casualties", l.chart_casualties, &head, &rows);
    out.push_str("</section>");
}

/// The last day of its year.
fn is_year_end(d: NaiveDate) -> bool {
    d.month() == 12 && d.day() == 31
}

/// Chart 2: hazards found and hazards closed per month, the last 24 months to date.
pub(super) fn hazards_found_closed(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections) {
    let l = ctx.l;
    section_open(out, "hazard-flow", l.chart_flow);
    note(out, l.flow_note);
    let this_month = (ctx.today.year(), ctx.today.month());
    let mut months = Vec::new();
    for back in (0..FLOW_MONTHS).rev() {
        let (y, m) = months_back(this_month, back);
        if let Some(p) = Period::month(y, m).and_then(|p| to_date(p, ctx.today)) {
            months.push((format!("{y}-{m:02}"), all.hazard_ledger.found_and_closed(p)));
        }
    }
    if months.iter().all(|(_, f)| f.found == 0 && f.closed == 0) {
        no_data(out, l);
        out.push_str("</section>");
        return;
    }
    let xs: Vec<String> = months.iter().map(|(m, _)| m.clone()).collect();
    let series = [
        Series::new(l.found, months.iter().map(|(_, f)| Some(f.found as f64)).collect()),
        Series::new(l.closed, months.iter().map(|(_, f)| Some(f.closed as f64)).collect()),
    ];
    // The month of the reference date is partial unless that date is its last day.
    let month_partial = ctx.today.succ_opt().is_some_and(|next| next.month() == ctx.today.month());
    let note_text = ctx.partial_note(ctx.today);
    let partial = month_partial.then(|| (xs.len().saturating_sub(1), note_text.as_str()));
    let chart = Chart {
        id: "chart-hazard-flow",
        title: l.chart_flow,
        value_title: l.hazards_axis,
        category_title: l.month,
        measure: Measure::Count,
    };
    line_chart(out, &chart, &xs, &series, partial);
    let rows: Vec<Vec<String>> = months
        .iter()
        .enumerate()
        .map(|(i, (m, f))| {
            let name = if partial.is_some_and(|p| p.0 == i) { format!("{m} ({})", l.partial_mark) } else { m.clone() };
            vec![name, f.found.to_string(), f.closed.to_string()]
        })
        .collect();
    let head = [l.month, l.found, l.closed].map(str::to_string);
    folded_table(out, &ctx.table_summary(rows.len()), "table-hazard-flow", l.chart_flow, &head, &rows);
    out.push_str("</section>");
}

/// Chart 3: 按期整改率 per quarter, the last eight quarters to date; major hazards as their own
/// series when any fell due.
pub(super) fn on_time_rate(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections) {
    let l = ctx.l;
    section_open(out, "on-time", l.chart_on_time);
    note(out, l.on_time_note);
    let q_now = (ctx.today.month() - 1) / 3 + 1;
    let mut quarters = Vec::new();
    for back in (0..ON_TIME_QUARTERS).rev() {
        // Quarter index counted from year 0, so stepping back crosses years.
        let index = i64::from(ctx.today.year()) * 4 + i64::from(q_now) - 1 - i64::from(back);
        let Ok(year) = i32::try_from(index.div_euclid(4)) else { continue };
        let q = (index.rem_euclid(4) + 1) as u32;
        if let Some(p) = Period::quarter(year, q).and_then(|p| to_date(p, ctx.today)) {
            quarters.push((ctx.quarter_label(year, q), all.hazard_ledger.rates(p)));
        }
    }
    if quarters.iter().all(|(_, r)| r.all.due == 0) {
        no_data(out, l);
        out.push_str("</section>");
        return;
    }
    let with_major = quarters.iter().any(|(_, r)| r.major.due > 0);
    let xs: Vec<String> = quarters.iter().map(|(q, _)| q.clone()).collect();
    let mut series = vec![Series::new(l.all_hazards, quarters.iter().map(|(_, r)| r.all.on_time_rate).collect())];
    if with_major {
        series.push(Series::new(l.major_hazards, quarters.iter().map(|(_, r)| r.major.on_time_rate).collect()));
    }
    // The quarter of the reference date is partial unless that date is its last day.
    let quarter_partial =
        ctx.today.succ_opt().is_some_and(|next| (next.month() - 1) / 3 == (ctx.today.month() - 1) / 3);
    let note_text = ctx.partial_note(ctx.today);
    let partial = quarter_partial.then(|| (xs.len().saturating_sub(1), note_text.as_str()));
    let chart = Chart {
        id: "chart-on-time",
        title: l.chart_on_time,
        value_title: l.rate_axis,
        category_title: l.quarter,
        measure: Measure::Percent,
    };
    line_chart(out, &chart, &xs, &series, partial);
    let mut head = vec![
        l.quarter.to_string(),
        format!("{} {}", l.all_hazards, l.due),
        format!("{} {}", l.all_hazards, l.on_time),
        format!("{} {}", l.all_hazards, l.on_time_rate),
    ];
    if with_major {
        head.push(format!("{} {}", l.major_hazards, l.due));
        head.push(format!("{} {}", l.major_hazards, l.on_time));
        head.push(format!("{} {}", l.major_hazards, l.on_time_rate));
    }
    let last = quarters.len().saturating_sub(1);
    let rows: Vec<Vec<String>> = quarters
        .iter()
        .enumerate()
        .map(|(i, (q, r))| {
            let name = if partial.is_some() && i == last { format!("{q} ({})", l.partial_mark) } else { q.clone() };
            let mut row = vec![name, r.all.due.to_string(), r.all.on_time.to_string(), pct(r.all.on_time_rate)];
            if with_major {
                row.extend([r.major.due.to_string(), r.major.on_time.to_string(), pct(r.major.on_time_rate)]);
            }
            row
        })
        .collect();
    folded_table(out, &ctx.table_summary(rows.len()), "table-on-time", l.chart_on_time, &head, &rows);
    out.push_str("</section>");
}

/// Chart 4: consumption of the year's control indicator (控制指标消耗) per community, largest
/// first, after the district's total; a bar is red when it runs ahead of the elapsed share of
/// the year (超时序进度, the dashed line) and green when it does not.
pub(super) fn indicator(out: &mut String, ctx: &Ctx<'_>, kpis: Option<&KpisAnswer>) {
    let l = ctx.l;
    section_open(out, "indicator", l.chart_indicator);
    note(out, l.indicator_note);
    let Some((k, elapsed)) = kpis.and_then(|k| Some((k, k.indicators.first()?.elapsed_pct))) else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    // (label, limit, deaths, consumption, ahead)
    let mut lines: Vec<(String, u64, u64, Option<f64>, bool)> = k
        .indicators
        .iter()
        .map(|c| {
            let t = &c.total;
            (ctx.community(&c.community_id), u64::from(t.limit), t.deaths_so_far, t.consumption_pct, t.ahead_of_time)
        })
        .collect();
    lines.sort_by(|a, b| b.3.unwrap_or(-1.0).total_cmp(&a.3.unwrap_or(-1.0)).then_with(|| a.0.cmp(&b.0)));
    if let Some(t) = &k.indicator_total {
        lines.insert(0, (l.district_total.to_string(), t.limit, t.deaths_so_far, t.consumption_pct, t.ahead_of_time));
    }
    let labels: Vec<String> = lines.iter().map(|c| c.0.clone()).collect();
    let mut series =
        Series::new(format!("{} {}", ctx.today.year(), l.consumption), lines.iter().map(|c| c.3).collect());
    series.texts = lines.iter().map(|c| Some(format!("{} ({}/{})", pct(c.3), c.2, c.1))).collect();
    series.marks = lines.iter().map(|c| vec![if c.4 { "ahead" } else { "behind" }]).collect();
    let legend = vec![
        (l.ahead_legend.to_string(), "s0 ahead".to_string(), Swatch::Box),
        (l.behind_legend.to_string(), "s0 behind".to_string(), Swatch::Box),
        (format!("{} {}", l.elapsed, pct(Some(elapsed))), "sref".to_string(), Swatch::Dashed),
    ];
    let chart = Chart {
        id: "chart-indicator",
        title: l.chart_indicator,
        value_title: l.consumption_axis,
        category_title: l.community,
        measure: Measure::Percent,
    };
    hbar_chart(out, &chart, &labels, &[series], Some((l.elapsed, elapsed)), Some(legend));
    let head = [l.community, l.limit, l.deaths_so_far, l.consumption, l.elapsed, l.ahead].map(str::to_string);
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|c| {
            vec![
                c.0.clone(),
                c.1.to_string(),
                c.2.to_string(),
                pct(c.3),
                pct(Some(elapsed)),
                if c.4 { l.yes } else { l.no }.to_string(),
            ]
        })
        .collect();
    folded_table(out, &ctx.table_summary(rows.len()), "table-indicator", l.chart_indicator, &head, &rows);
    out.push_str("</section>");
}

/// Hazards open on the reference date by community, with those overdue that day, then the
/// overdue hazards, longest overdue first; then the year's rectification rates to date.
pub(super) fn open_and_overdue(out: &mut String, ctx: &Ctx<'_>, h: Option<&HazardsAnswer>) {
    let l = ctx.l;
    section_open(out, "open-hazards", l.open_title);
    let Some(h) = h.filter(|h| h.open.total > 0 || !h.overdue.is_empty() || h.rates.all.found > 0) else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    let summary = [
        vec![l.open_total.to_string(), h.open.total.to_string()],
        vec![l.open_major.to_string(), h.open.major.to_string()],
        vec![l.overdue_total.to_string(), h.overdue.len().to_string()],
    ];
    table(out, "table-open-summary", l.open_title, &[l.figure.to_string(), l.count.to_string()], &summary);
    let r = &h.rates;
    let rate_rows: Vec<Vec<String>> =
        [(l.all_hazards, &r.all), (l.major_hazards, &r.major), (l.listed_hazards, &r.listed)]
            .iter()
            .map(|(name, x)| {
                vec![
                    name.to_string(),
                    x.found.to_string(),
                    x.rectified.to_string(),
                    pct(x.rectification_rate),
                    x.due.to_string(),
                    x.on_time.to_string(),
                    pct(x.on_time_rate),
                ]
            })
            .collect();
    let head = [l.hazard_kind, l.found, l.rectified, l.rectification_rate, l.due, l.on_time, l.on_time_rate]
        .map(str::to_string);
    let caption = format!("{} {} {} {}", l.rates_title, r.period.from, l.range_to, r.period.to);
    table(out, "table-rates", &caption, &head, &rate_rows);
    let mut by_community: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (c, n) in &h.open.by_community {
        by_community.entry(c).or_default().0 = *n;
    }
    for o in &h.overdue {
        by_community.entry(&o.community_id).or_default().1 += 1;
    }
    let rows: Vec<Vec<String>> = by_community
        .iter()
        .map(|(c, (n_open, n_overdue))| vec![ctx.community(c), n_open.to_string(), n_overdue.to_string()])
        .collect();
    let head = [l.community, l.open, l.overdue].map(str::to_string);
    let summary = format!("{} — {}", l.open_by_community, ctx.table_summary(rows.len()));
    folded_table(out, &summary, "table-open-by-community", l.open_by_community, &head, &rows);
    if !h.overdue.is_empty() {
        let rows: Vec<Vec<String>> = h
            .overdue
            .iter()
            .take(MAX_OVERDUE_ROWS)
            .map(|o| {
                vec![
                    o.hazard_id.clone(),
                    ctx.community(&o.community_id),
                    ctx.hazard_grade(o.grade.as_deref()),
                    if o.listed { l.yes } else { l.no }.to_string(),
                    o.deadline.to_string(),
                    o.days_overdue.to_string(),
                ]
            })
            .collect();
        let head = [l.hazard, l.community, l.grade, l.listed, l.deadline, l.days_overdue].map(str::to_string);
        let summary = format!("{} — {}", l.overdue_total, ctx.table_summary(rows.len()));
        folded_table(out, &summary, "table-overdue", l.overdue_total, &head, &rows);
        if h.overdue.len() > MAX_OVERDUE_ROWS {
            note(out, &format!("{}{}", l.more_rows, h.overdue.len() - MAX_OVERDUE_ROWS));
        }
    }
    out.push_str("</section>");
}

/// Communities without a fatal accident (无死亡事故) for the streak's years: the share for all
/// categories and for each category, then the longest streaks and the communities short of
/// the years (all categories).
pub(super) fn streaks(out: &mut String, ctx: &Ctx<'_>, answers: &[StreaksAnswer]) {
    let l = ctx.l;
    section_open(out, "streaks", l.streaks_title);
    let Some(all) = answers.iter().find(|a| a.category.is_none()).filter(|a| a.share.communities > 0) else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    note(out, &ctx.streak_note(all.years, all.share.communities));
    let labels: Vec<String> = answers
        .iter()
        .map(|a| a.category.as_deref().map_or_else(|| l.all_categories.to_string(), |c| ctx.category(c)))
        .collect();
    // One series per length up to the answer's years: the share with at least n whole years,
    // counted from the same answer's streaks (the query's own years is its `share`).
    let series: Vec<Series> = (1..=all.years)
        .map(|n| {
            let counts: Vec<(u64, u64)> = answers
                .iter()
                .map(|a| {
                    let with = if n == a.years {
                        a.share.with_streak
                    } else {
                        a.communities.iter().filter(|s| s.whole_years >= n).count() as u64
                    };
                    (with, a.share.communities)
                })
                .collect();
            let mut s = Series::new(
                ctx.years_label(n),
                counts.iter().map(|(w, c)| crate::projections::percent(*w, *c)).collect(),
            );
            s.texts = counts
                .iter()
                .map(|(w, c)| Some(format!("{w}/{c} · {}", pct(crate::projections::percent(*w, *c)))))
                .collect();
            s
        })
        .collect();
    let chart = Chart {
        id: "chart-streaks",
        title: l.streaks_title,
        value_title: l.share_axis,
        category_title: l.category,
        measure: Measure::Percent,
    };
    hbar_chart(out, &chart, &labels, &series, None, None);
    let head = [l.category, l.count, l.share_axis].map(str::to_string);
    let rows: Vec<Vec<String>> = answers
        .iter()
        .zip(&labels)
        .map(|(a, name)| {
            vec![name.clone(), format!("{}/{}", a.share.with_streak, a.share.communities), pct(a.share.share_pct)]
        })
        .collect();
    folded_table(out, &ctx.table_summary(rows.len()), "table-streaks", l.streaks_title, &head, &rows);
    let streak_row = |s: &crate::projections::accident_stats::Streak| {
        vec![
            ctx.community(s.community.as_deref().unwrap_or("")),
            s.days.to_string(),
            s.whole_years.to_string(),
            s.since.to_string(),
            s.last_accident.map_or_else(|| "—".to_string(), |d| d.to_string()),
        ]
    };
    let head = [l.community, l.days, l.whole_years, l.since, l.last_accident].map(str::to_string);
    let longest: Vec<Vec<String>> = all.communities.iter().take(MAX_STREAK_ROWS).map(streak_row).collect();
    table(out, "table-longest-streaks", l.longest_title, &head, &longest);
    let mut short: Vec<_> = all.communities.iter().filter(|s| s.whole_years < all.years).collect();
    short.sort_by(|a, b| b.last_accident.cmp(&a.last_accident).then_with(|| a.community.cmp(&b.community)));
    if !short.is_empty() {
        let rows: Vec<Vec<String>> = short.into_iter().map(streak_row).collect();
        let summary = format!("{} ({}) — {}", l.short_title, ctx.years_label(all.years), ctx.table_summary(rows.len()));
        folded_table(out, &summary, "table-short-streaks", l.short_title, &head, &rows);
    }
    out.push_str("</section>");
}

/// Safety promotion projects (安全促进项目): how many, their interventions and reach; for each
/// project aimed at an injury category, that category's incidents in the year before its
/// first intervention against the year after (to date when that year is not over).
pub(super) fn projects(out: &mut String, ctx: &Ctx<'_>, p: Option<&ProjectsAnswer>) {
    let l = ctx.l;
    section_open(out, "projects", l.projects_title);
    let Some(p) = p.filter(|p| p.projects > 0) else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    let summary = [
        vec![l.projects_count.to_string(), grouped(p.projects)],
        vec![l.interventions.to_string(), format!("{}/{}", grouped(p.implemented), grouped(p.interventions))],
        vec![l.reach.to_string(), grouped(p.people_reached)],
    ];
    table(out, "table-projects-summary", l.projects_title, &[l.figure.to_string(), l.count.to_string()], &summary);
    let name =
        |line: &crate::interface::query::ProjectLine| format!("{} · {}", line.name, ctx.community(&line.community_id));
    let compared: Vec<_> =
        p.lines.iter().filter_map(|line| Some((line, line.category_before_after.as_ref()?))).collect();
    if !compared.is_empty() {
        // The sum over the projects first, then each project.
        let sum = |pick: fn(&Change) -> u64| compared.iter().map(|(_, c)| pick(&c.incidents)).sum::<u64>() as f64;
        let any_partial = compared.iter().any(|(_, c)| c.after_partial);
        let mut groups = vec![l.all_projects.to_string()];
        groups.extend(compared.iter().map(|(line, _)| name(line)));
        let mut before = Series::new(l.year_before, vec![Some(sum(|c| c.previous))]);
        before.values.extend(compared.iter().map(|(_, c)| Some(c.incidents.previous as f64)));
        let mut after = Series::new(l.year_after, vec![Some(sum(|c| c.current))]);
        after.values.extend(compared.iter().map(|(_, c)| Some(c.incidents.current as f64)));
        after.marks = std::iter::once(any_partial)
            .chain(compared.iter().map(|(_, c)| c.after_partial))
            .map(|p| if p { vec!["partial"] } else { Vec::new() })
            .collect();
        let chart = Chart {
            id: "chart-projects",
            title: l.chart_projects,
            value_title: l.incidents_axis,
            category_title: l.project,
            measure: Measure::Count,
        };
        hbar_chart(out, &chart, &groups, &[before, after], None, None);
    }
    let arrow = |c: &Change, partial: bool| {
        let mark = if partial { format!(" ({})", l.partial_mark) } else { String::new() };
        format!("{} → {}{mark} ({})", c.previous, c.current, signed_pct(c.percent))
    };
    let rows: Vec<Vec<String>> = p
        .lines
        .iter()
        .map(|line| {
            let target = [
                line.target_category.as_deref().map(|c| ctx.category(c)),
                line.target_group.clone(),
                line.target_place.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(l.list_sep);
            let ba = line.category_before_after.as_ref();
            let cell = |pick: fn(&crate::interface::query::CategoryBeforeAfter) -> &Change| {
                ba.map_or_else(|| "—".to_string(), |c| arrow(pick(c), c.after_partial))
            };
            let evaluations = line
                .evaluations
                .iter()
                .map(|e| format!("{}: {} → {}", e.indicator, e.change.previous, e.change.current))
                .collect::<Vec<_>>()
                .join(l.list_sep);
            vec![
                name(line),
                target,
                format!("{}/{}", line.implemented, line.planned),
                grouped(line.people_reached),
                cell(|c| &c.incidents),
                cell(|c| &c.deaths),
                cell(|c| &c.injuries),
                if evaluations.is_empty() { "—".to_string() } else { evaluations },
            ]
        })
        .collect();
    let head = [
        l.project,
        l.target,
        l.interventions,
        l.reach,
        l.before_after_incidents,
        l.before_after_deaths,
        l.before_after_injuries,
        l.evaluations,
    ]
    .map(str::to_string);
    folded_table(out, &ctx.table_summary(rows.len()), "table-projects", l.projects_title, &head, &rows);
    out.push_str("</section>");
}

/// Incidents not closed at the as-of instant with a condition of the four missing, longest
/// open first.
pub(super) fn four_incomplete(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections, at: DateTime<Utc>) {
    let l = ctx.l;
    section_open(out, "four-incomplete", l.four_title);
    note(out, l.four_note);
    let mut list = all.trails.missing_conditions(at);
    if list.is_empty() {
        no_data(out, l);
        out.push_str("</section>");
        return;
    }
    list.sort_by(|a, b| b.days_open.cmp(&a.days_open).then_with(|| a.incident_id.cmp(&b.incident_id)));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let trail = all.trails.trail(&s.incident_id);
            let missing: Vec<&str> = s
                .missing
                .iter()
                .map(|code| FOUR_CODES.iter().position(|c| c == code).map_or(code.as_str(), |i| l.four[i]))
                .collect();
            vec![
                s.incident_id.clone(),
                trail.map(|t| ctx.community(&t.community_id)).unwrap_or_default(),
                trail.map(|t| ctx.category(&t.category)).unwrap_or_default(),
                s.days_open.to_string(),
                missing.join(l.list_sep),
            ]
        })
        .collect();
    let head = [l.incident, l.community, l.category, l.days_open, l.missing].map(str::to_string);
    folded_table(out, &ctx.table_summary(rows.len()), "table-four", l.four_title, &head, &rows);
    out.push_str("</section>");
}
