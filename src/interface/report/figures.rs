//! The figures gathered for each section, from the projections' public queries: the headline
//! (this year to date against last year's span, 同比), casualties by category and year, hazards
//! found and closed by month, the on-time rate by quarter, control-indicator consumption, open
//! and overdue hazards, incomplete 四不放过; each section writes its chart and its data table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::format::*;
use super::html::{no_data, note, section_open, table};
use super::labels::*;
use super::svg::*;
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
    for (id, name, pick) in [
        ("chart-deaths", l.deaths, (|t: &Totals| t.deaths) as fn(&Totals) -> u64),
        ("chart-injuries", l.injuries, |t: &Totals| t.injuries()),
    ] {
        let series: Vec<Series> = years
            .iter()
            .enumerate()
            .map(|(i, y)| Series {
                name: y.to_string(),
                values: categories.iter().map(|(_, v)| v.get(i).map(|t| pick(t) as f64)).collect(),
            })
            .collect();
        bar_chart(out, id, &format!("{} — {name}", l.chart_casualties), &labels, &series, Measure::Count, None);
    }
    let mut head = vec![l.category.to_string()];
    for y in &years {
        head.push(format!("{y} {}", l.deaths));
        head.push(format!("{y} {}", l.injuries));
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
    table(out, "table-casualties", l.chart_casualties, &head, &rows);
    out.push_str("</section>");
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
        Series { name: l.found.to_string(), values: months.iter().map(|(_, f)| Some(f.found as f64)).collect() },
        Series { name: l.closed.to_string(), values: months.iter().map(|(_, f)| Some(f.closed as f64)).collect() },
    ];
    line_chart(out, "chart-hazard-flow", l.chart_flow, &xs, &series, Measure::Count);
    let rows: Vec<Vec<String>> =
        months.iter().map(|(m, f)| vec![m.clone(), f.found.to_string(), f.closed.to_string()]).collect();
    let head = [l.month, l.found, l.closed].map(str::to_string);
    table(out, "table-hazard-flow", l.chart_flow, &head, &rows);
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
    let mut series = vec![Series {
        name: l.all_hazards.to_string(),
        values: quarters.iter().map(|(_, r)| r.all.on_time_rate).collect(),
    }];
    if with_major {
        series.push(Series {
            name: l.major_hazards.to_string(),
            values: quarters.iter().map(|(_, r)| r.major.on_time_rate).collect(),
        });
    }
    line_chart(out, "chart-on-time", l.chart_on_time, &xs, &series, Measure::Percent);
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
    let rows: Vec<Vec<String>> = quarters
        .iter()
        .map(|(q, r)| {
            let mut row = vec![q.clone(), r.all.due.to_string(), r.all.on_time.to_string(), pct(r.all.on_time_rate)];
            if with_major {
                row.extend([r.major.due.to_string(), r.major.on_time.to_string(), pct(r.major.on_time_rate)]);
            }
            row
        })
        .collect();
    table(out, "table-on-time", l.chart_on_time, &head, &rows);
    out.push_str("</section>");
}

/// Chart 4: per community with an indicator for the current year, consumption as a bar and the
/// elapsed share of the year as a dashed line (the same for all).
pub(super) fn indicator(out: &mut String, ctx: &Ctx<'_>) {
    let l = ctx.l;
    section_open(out, "indicator", l.chart_indicator);
    note(out, l.indicator_note);
    let lines: Vec<_> =
        ctx.stats.communities().filter_map(|c| ctx.stats.indicator_consumption(&c.community_id, ctx.today)).collect();
    let Some(first) = lines.first() else {
        no_data(out, l);
        out.push_str("</section>");
        return;
    };
    let elapsed = first.elapsed_pct;
    let labels: Vec<String> = lines.iter().map(|c| ctx.community(&c.community_id)).collect();
    let series = [Series {
        name: format!("{} {}", ctx.today.year(), l.consumption),
        values: lines.iter().map(|c| c.total.consumption_pct).collect(),
    }];
    bar_chart(
        out,
        "chart-indicator",
        l.chart_indicator,
        &labels,
        &series,
        Measure::Percent,
        Some((l.elapsed, elapsed)),
    );
    let head = [l.community, l.limit, l.deaths_so_far, l.consumption, l.elapsed, l.ahead].map(str::to_string);
    let rows: Vec<Vec<String>> = lines
        .iter()
        .zip(&labels)
        .map(|(c, label)| {
            vec![
                label.clone(),
                c.total.limit.to_string(),
                c.total.deaths_so_far.to_string(),
                pct(c.total.consumption_pct),
                pct(Some(c.elapsed_pct)),
                if c.total.ahead_of_time { l.yes } else { l.no }.to_string(),
            ]
        })
        .collect();
    table(out, "table-indicator", l.chart_indicator, &head, &rows);
    out.push_str("</section>");
}

/// Open hazards (as the ledger holds them) by community with those overdue at the as-of
/// instant, then the overdue hazards, longest overdue first.
pub(super) fn open_and_overdue(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections, at: DateTime<Utc>) {
    let l = ctx.l;
    section_open(out, "open-hazards", l.open_title);
    let open = all.hazard_ledger.open_hazards();
    let mut overdue = all.hazard_ledger.overdue(at);
    if open.total == 0 && overdue.is_empty() {
        no_data(out, l);
        out.push_str("</section>");
        return;
    }
    let summary = [
        vec![l.open_total.to_string(), open.total.to_string()],
        vec![l.open_major.to_string(), open.major.to_string()],
        vec![l.overdue_total.to_string(), overdue.len().to_string()],
    ];
    table(out, "table-open-summary", l.open_title, &[l.figure.to_string(), l.count.to_string()], &summary);
    let mut by_community: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (c, n) in &open.by_community {
        by_community.entry(c).or_default().0 = *n;
    }
    for o in &overdue {
        by_community.entry(&o.community_id).or_default().1 += 1;
    }
    let rows: Vec<Vec<String>> = by_community
        .iter()
        .map(|(c, (n_open, n_overdue))| vec![ctx.community(c), n_open.to_string(), n_overdue.to_string()])
        .collect();
    let head = [l.community, l.open, l.overdue].map(str::to_string);
    table(out, "table-open-by-community", l.open_title, &head, &rows);
    if !overdue.is_empty() {
        overdue.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then_with(|| a.hazard_id.cmp(&b.hazard_id)));
        let rows: Vec<Vec<String>> = overdue
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
        table(out, "table-overdue", l.overdue_total, &head, &rows);
        if overdue.len() > MAX_OVERDUE_ROWS {
            note(out, &format!("{}{}", l.more_rows, overdue.len() - MAX_OVERDUE_ROWS));
        }
    }
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
    table(out, "table-four", l.four_title, &head, &rows);
    out.push_str("</section>");
}
