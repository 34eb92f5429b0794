//! The statistics report (统计报告): one self-contained HTML page with hand-drawn SVG charts,
//! in Chinese or English, for `anquan report --out DIR`.
//!
//! Sections, top to bottom: headline figures (this year to the as-of date against the same
//! span of last year, 同比); deaths and injuries by category and year; hazards found and closed
//! (销号) by month; on-time rectification rate (按期整改率) by quarter; control-indicator
//! consumption against the elapsed share of the year (控制指标消耗 vs 时序进度); open and overdue
//! hazards; incidents whose four don't-let-go (四不放过) are incomplete. Every chart has a data
//! table beneath it holding exactly the figures drawn, for screen readers and for tests.
//!
//! Invariants:
//! - [`render_html`] is pure: it reads the projections through their public queries and the
//!   options, never a clock, a file or the network. The same input gives the same bytes.
//! - The page references nothing outside itself: no scripts, no external fonts, style sheets,
//!   images or links; the style is one inline `<style>` element and the charts are inline SVG.
//! - Every string that comes from data (community names, ids, the title) goes through
//!   `escape`, so markup in a name is shown as text, never interpreted.
//! - Periods are CST calendar dates, like the projections', and every period-based figure ends
//!   at the as-of date (the current year, month and quarter are "to date"). State figures (open
//!   hazards) are those the projections hold: render projections folded up to the as-of instant
//!   (`projections::as_of_time`) for a report about the past.
//! - No NaN or infinity reaches the SVG: undefined rates are drawn as gaps and shown as "—",
//!   an axis with nothing to show still has a positive maximum, and a chart without any data is
//!   replaced by a "no data" note.
//! - Geometry is linear: a bar's height and a point's distance above the baseline are the value
//!   times the axis' pixels per unit; bars and points carry their value in `data-value`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::events::time::{cst, cst_date};
use crate::events::Catalog;
use crate::projections::accident_stats::{AccidentStats, Change, StatsFilter, Totals};
use crate::projections::{AllProjections, Period};

/// Language of the page's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文
    Zh,
    /// English
    En,
}

/// A language other than `zh` or `en` was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report language {0:?}: use zh or en")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

/// What the report is about and how it is labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// The instant the report speaks for; its CST date ends every period.
    pub as_of: DateTime<Utc>,
    pub lang: Lang,
    /// Page title; the language's default title when `None`.
    pub title: Option<String>,
}

/// Writing the report failed; the error names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("cannot create the report folder {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write the report {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes `html` to `dir/index.html`, creating `dir` (and its parents) when missing; returns
/// the file's path.
pub fn write_report(dir: &Path, html: &str) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir { path: dir.to_path_buf(), source })?;
    let file = dir.join("index.html");
    std::fs::write(&file, html).map_err(|source| ReportError::Write { path: file.clone(), source })?;
    Ok(file)
}

// ---- labels ---------------------------------------------------------------------------------

/// The page's fixed words in one language (the label table).
struct Labels {
    html_lang: &'static str,
    default_title: &'static str,
    as_of: &'static str,
    count: &'static str,
    range_to: &'static str,
    list_sep: &'static str,
    cst: &'static str,
    no_data: &'static str,
    to_date_note: &'static str,
    headline: &'static str,
    this_period: &'static str,
    last_period: &'static str,
    change: &'static str,
    change_pct: &'static str,
    figure: &'static str,
    incidents: &'static str,
    deaths: &'static str,
    injuries: &'static str,
    direct_loss: &'static str,
    chart_casualties: &'static str,
    casualties_note: &'static str,
    category: &'static str,
    chart_flow: &'static str,
    flow_note: &'static str,
    month: &'static str,
    found: &'static str,
    closed: &'static str,
    chart_on_time: &'static str,
    on_time_note: &'static str,
    quarter: &'static str,
    all_hazards: &'static str,
    major_hazards: &'static str,
    due: &'static str,
    on_time: &'static str,
    on_time_rate: &'static str,
    chart_indicator: &'static str,
    indicator_note: &'static str,
    community: &'static str,
    limit: &'static str,
    deaths_so_far: &'static str,
    consumption: &'static str,
    elapsed: &'static str,
    ahead: &'static str,
    yes: &'static str,
    no: &'static str,
    open_title: &'static str,
    open_total: &'static str,
    open_major: &'static str,
    overdue_total: &'static str,
    open: &'static str,
    overdue: &'static str,
    hazard: &'static str,
    grade: &'static str,
    listed: &'static str,
    deadline: &'static str,
    days_overdue: &'static str,
    more_rows: &'static str,
    four_title: &'static str,
    four_note: &'static str,
    incident: &'static str,
    days_open: &'static str,
    missing: &'static str,
    four: [&'static str; 4],
    footer: &'static str,
}

const ZH: Labels = Labels {
    html_lang: "zh-CN",
    default_title: "安全生产与事故隐患统计报告",
    as_of: "数据截至：",
    count: "数量",
    range_to: "至",
    list_sep: "；",
    cst: "北京时间",
    no_data: "暂无数据",
    to_date_note: "当年、当季、当月的数据截至报告日期。",
    headline: "主要指标（本年累计与上年同期）",
    this_period: "本年累计",
    last_period: "上年同期",
    change: "增减",
    change_pct: "增减幅度",
    figure: "指标",
    incidents: "事故起数",
    deaths: "死亡人数",
    injuries: "受伤人数",
    direct_loss: "直接经济损失（元）",
    chart_casualties: "分类别死亡与受伤人数（按年度）",
    casualties_note: "受伤人数 = 重伤（含急性工业中毒）+ 轻伤；最多显示最近三个年度。",
    category: "类别",
    chart_flow: "隐患排查发现与整改销号（按月）",
    flow_note: "发现按发现日期计，销号按销号日期计；最近24个月。",
    month: "月份",
    found: "发现隐患",
    closed: "销号隐患",
    chart_on_time: "按期整改率（按季度）",
    on_time_note: "按期整改率 = 期限内销号数 ÷ 整改期限届满数（按现行期限，含延期）。",
    quarter: "季度",
    all_hazards: "全部隐患",
    major_hazards: "重大事故隐患",
    due: "到期应改",
    on_time: "按期整改",
    on_time_rate: "按期整改率",
    chart_indicator: "控制指标消耗与时序进度",
    indicator_note: "指标消耗 = 本年累计死亡人数 ÷ 年度控制指标；虚线为时序进度。",
    community: "社区",
    limit: "控制指标（死亡人数）",
    deaths_so_far: "累计死亡",
    consumption: "指标消耗",
    elapsed: "时序进度",
    ahead: "超时序进度",
    yes: "是",
    no: "否",
    open_title: "未销号与逾期隐患",
    open_total: "未销号隐患",
    open_major: "其中重大事故隐患",
    overdue_total: "逾期未整改",
    open: "未销号",
    overdue: "逾期",
    hazard: "隐患编号",
    grade: "等级",
    listed: "挂牌督办",
    deadline: "整改期限",
    days_overdue: "逾期天数",
    more_rows: "另有未列出条目：",
    four_title: "“四不放过”未落实的事故",
    four_note: "尚未结案且四项条件未全部落实的事故。",
    incident: "事故编号",
    days_open: "已历天数",
    missing: "未落实事项",
    four: ["事故原因未查清", "责任人员未处理", "整改措施未落实", "有关人员未受到教育"],
    footer: "离线报告：本页不引用任何外部资源，图表为内嵌 SVG。",
};

const EN: Labels = Labels {
    html_lang: "en",
    default_title: "Safety statistics report",
    as_of: "Data as of: ",
    count: "Count",
    range_to: "–",
    list_sep: "; ",
    cst: "China Standard Time",
    no_data: "No data",
    to_date_note: "The current year, quarter and month run to the report date.",
    headline: "Headline figures (this year to date against the same period last year)",
    this_period: "This year to date",
    last_period: "Same period last year",
    change: "Change",
    change_pct: "Change %",
    figure: "Figure",
    incidents: "Incidents",
    deaths: "Deaths",
    injuries: "Injuries",
    direct_loss: "Direct economic loss (yuan)",
    chart_casualties: "Deaths and injuries by category and year",
    casualties_note: "Injuries = serious (incl. acute industrial poisoning) + minor; at most the three latest years.",
    category: "Category",
    chart_flow: "Hazards found and closed by month",
    flow_note: "Found counts by the day found, closed by the day closed; the last 24 months.",
    month: "Month",
    found: "Found",
    closed: "Closed",
    chart_on_time: "On-time rectification rate by quarter",
    on_time_note: "On-time rate = closed by the deadline ÷ deadlines passed (deadline in force, after extensions).",
    quarter: "Quarter",
    all_hazards: "All hazards",
    major_hazards: "Major hazards",
    due: "Due",
    on_time: "On time",
    on_time_rate: "On-time rate",
    chart_indicator: "Control indicator consumption against elapsed share of the year",
    indicator_note: "Consumption = deaths so far this year ÷ the year's control indicator; the dashed line is the elapsed share of the year.",
    community: "Community",
    limit: "Indicator (deaths)",
    deaths_so_far: "Deaths so far",
    consumption: "Consumption",
    elapsed: "Elapsed share of year",
    ahead: "Ahead of time",
    yes: "yes",
    no: "no",
    open_title: "Open and overdue hazards",
    open_total: "Open hazards",
    open_major: "of which major",
    overdue_total: "Overdue",
    open: "Open",
    overdue: "Overdue",
    hazard: "Hazard",
    grade: "Grade",
    listed: "Listed for supervision",
    deadline: "Deadline",
    days_overdue: "Days overdue",
    more_rows: "Rows not shown: ",
    four_title: "Incidents with the four don't-let-go incomplete",
    four_note: "Incidents not closed with at least one of the four conditions missing.",
    incident: "Incident",
    days_open: "Days open",
    missing: "Missing",
    four: ["cause determined", "those responsible dealt with", "corrective measures implemented", "education conducted"],
    footer: "Offline report: this page references nothing outside itself; the charts are inline SVG.",
};

/// Codes of the four don't-let-go, in the order of `Labels::four` (as the trails name them).
const FOUR_CODES: [&str; 4] =
    ["cause_determined", "responsible_dealt_with", "corrective_measures_implemented", "education_conducted"];

/// Overdue hazards listed at most (the count of the rest is stated).
const MAX_OVERDUE_ROWS: usize = 50;
/// Years of the casualty chart.
const MAX_YEARS: usize = 3;
/// Months of the found/closed chart.
const FLOW_MONTHS: u32 = 24;
/// Quarters of the on-time chart.
const ON_TIME_QUARTERS: u32 = 8;

/// Everything a render reads besides the projections: words, catalog labels, dates.
struct Ctx<'a> {
    l: &'static Labels,
    lang: Lang,
    catalog: Option<Catalog>,
    stats: &'a AccidentStats,
    today: NaiveDate,
}

impl Ctx<'_> {
    /// Category label from the catalog in the page's language, else the code.
    fn category(&self, code: &str) -> String {
        let found = self.catalog.as_ref().and_then(|c| c.categories.iter().find(|x| x.code == code));
        match (found, self.lang) {
            (Some(c), Lang::Zh) => c.zh.clone(),
            (Some(c), Lang::En) => c.en.clone(),
            (None, _) => code.to_string(),
        }
    }

    /// Position of a category in the catalog (unknown codes last), to order rows.
    fn category_rank(&self, code: &str) -> usize {
        self.catalog.as_ref().and_then(|c| c.categories.iter().position(|x| x.code == code)).unwrap_or(usize::MAX)
    }

    fn hazard_grade(&self, code: Option<&str>) -> String {
        let Some(code) = code else { return "—".to_string() };
        let found = self.catalog.as_ref().and_then(|c| c.hazard_grades.iter().find(|x| x.code == code));
        match (found, self.lang) {
            (Some(g), Lang::Zh) => g.zh.clone(),
            (Some(g), Lang::En) => g.en.clone(),
            (None, _) => code.to_string(),
        }
    }

    /// "name (id)" when the statistics know the community's name, else the id.
    fn community(&self, id: &str) -> String {
        match self.stats.community(id) {
            Some(c) if !c.name.is_empty() && c.name != id => format!("{} ({id})", c.name),
            _ => id.to_string(),
        }
    }

    fn quarter_label(&self, year: i32, q: u32) -> String {
        match self.lang {
            Lang::Zh => format!("{year}年第{q}季度"),
            Lang::En => format!("{year} Q{q}"),
        }
    }
}

// ---- text helpers ---------------------------------------------------------------------------

/// Escapes text for HTML element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate or size for SVG: two decimals, and 0 for anything not finite.
fn px(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "0".to_string()
    }
}

/// A percentage with one decimal ("38.7%"), "—" when undefined.
fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.1}%"),
        _ => "—".to_string(),
    }
}

/// An unsigned count with thousands separators ("1,000,000").
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed change with thousands separators ("+1", "−16" as "-16").
fn signed(n: i64) -> String {
    let sign = if n > 0 {
        "+"
    } else if n < 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", grouped(n.unsigned_abs()))
}

/// A percent change with its sign ("-45.7%"), "—" when the previous figure was 0.
fn signed_pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{}{x:.1}%", if x > 0.0 { "+" } else { "" }),
        _ => "—".to_string(),
    }
}

// ---- periods --------------------------------------------------------------------------------

/// A period cut to end at `today` at the latest; `None` when it starts after it.
fn to_date(p: Period, today: NaiveDate) -> Option<Period> {
    (p.from <= today).then(|| Period { from: p.from, to: p.to.min(today) })
}

/// The same calendar day a year earlier (29 Feb → 28 Feb).
fn a_year_before(d: NaiveDate) -> Option<NaiveDate> {
    let y = d.year().checked_sub(1)?;
    d.with_year(y).or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28))
}

/// `(year, month)` `back` months before the given one.
fn months_back((y, m): (i32, u32), back: u32) -> (i32, u32) {
    let index = i64::from(y) * 12 + i64::from(m) - 1 - i64::from(back);
    (i32::try_from(index.div_euclid(12)).unwrap_or(y), (index.rem_euclid(12) + 1) as u32)
}

// ---- charts ---------------------------------------------------------------------------------

/// Chart geometry, in SVG user units (the drawing scales to the page width).
const CHART_H: f64 = 320.0;
const MIN_CHART_W: f64 = 720.0;
const PAD_LEFT: f64 = 64.0;
/// Room left of the plot's frame for the first slanted x label, which reaches past the y axis
/// (the view box starts this far left of 0, so plot coordinates are unchanged).
const LABEL_ROOM: f64 = 90.0;
const PAD_RIGHT: f64 = 24.0;
/// Room above the plot for the legend.
const PAD_TOP: f64 = 40.0;
/// Room below the plot for slanted x labels.
const PAD_BOTTOM: f64 = 96.0;
const PLOT_H: f64 = CHART_H - PAD_TOP - PAD_BOTTOM;
const BASELINE: f64 = PAD_TOP + PLOT_H;

/// What a y axis counts: whole numbers, or percentages (0–100, more when a value exceeds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Count,
    Percent,
}

/// A linear y axis from 0 to `max` with ticks every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct YAxis {
    max: f64,
    step: f64,
    measure: Measure,
}

/// 1, 2 or 5 times a power of ten, at least `raw` (1 for anything not positive).
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let f = raw / power;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * power
}

impl YAxis {
    /// An axis that holds `largest` with about five ticks; never empty.
    fn fitting(largest: f64, measure: Measure) -> Self {
        let largest = if largest.is_finite() && largest > 0.0 { largest } else { 0.0 };
        let (max, step) = match measure {
            Measure::Percent if largest <= 100.0 => (100.0, 20.0),
            _ => {
                // Counts tick on whole numbers.
                let step = nice_step(largest / 5.0).max(1.0);
                ((largest / step).ceil().max(1.0) * step, step)
            }
        };
        Self { max, step, measure }
    }

    /// Pixels per unit of value.
    fn scale(&self) -> f64 {
        PLOT_H / self.max
    }

    /// The y coordinate of a value (values below 0 sit on the baseline).
    fn y(&self, v: f64) -> f64 {
        BASELINE - v.max(0.0) * self.scale()
    }

    fn label(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => format!("{v:.0}%"),
        }
    }

    /// Grid lines and tick labels, left of a plot `width` wide.
    fn draw(&self, out: &mut String, width: f64) {
        let ticks = (self.max / self.step).round() as u32;
        for i in 0..=ticks {
            let v = f64::from(i) * self.step;
            let y = self.y(v);
            let _ = write!(
                out,
                r#"<line class="grid" data-tick="{}" x1="{}" y1="{}" x2="{}" y2="{}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
                px(v),
                px(PAD_LEFT),
                px(y),
                px(width - PAD_RIGHT),
                px(y),
                px(PAD_LEFT - 6.0),
                px(y + 4.0),
                escape(&self.label(v)),
            );
        }
        let _ = write!(
            out,
            r#"<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/><line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>"#,
            l = px(PAD_LEFT),
            t = px(PAD_TOP),
            b = px(BASELINE),
            r = px(width - PAD_RIGHT),
        );
    }
}

/// One series of a chart: its legend name and one value per x position (`None`: no value).
struct Series {
    name: String,
    values: Vec<Option<f64>>,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    Box,
    Line,
    Dashed,
}

fn legend(out: &mut String, entries: &[(&str, &str, Swatch)]) {
    let mut x = PAD_LEFT;
    for (name, class, swatch) in entries {
        match swatch {
            Swatch::Box => {
                let _ = write!(out, r#"<rect class="{class}" x="{}" y="12" width="12" height="12"/>"#, px(x));
            }
            Swatch::Line | Swatch::Dashed => {
                let dash = if matches!(swatch, Swatch::Dashed) { " ref" } else { "" };
                let _ = write!(
                    out,
                    r#"<line class="line {class}{dash}" x1="{}" y1="18" x2="{}" y2="18"/>"#,
                    px(x),
                    px(x + 14.0)
                );
            }
        }
        let _ = write!(out, r#"<text class="legend" x="{}" y="22">{}</text>"#, px(x + 18.0), escape(name));
        // Width by characters; CJK glyphs are about twice as wide as Latin ones.
        let w: f64 = name.chars().map(|c| if c.is_ascii() { 6.5 } else { 12.0 }).sum();
        x += 18.0 + w + 18.0;
    }
}

/// Characters of an x label drawn; longer labels are cut with "…" (the tooltips and the data
/// table keep them whole).
const MAX_LABEL_CHARS: usize = 18;

fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The x labels under the plot, slanted so long names fit.
fn x_labels(out: &mut String, labels: &[String], centre: impl Fn(usize) -> f64) {
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = (centre(i), BASELINE + 14.0);
        let _ = write!(
            out,
            r#"<text class="xlabel" x="{x}" y="{y}" text-anchor="end" transform="rotate(-35 {x} {y})">{}</text>"#,
            escape(&short(label)),
            x = px(x),
            y = px(y),
        );
    }
}

fn svg_open(out: &mut String, id: &str, title: &str, width: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="{x0} 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        escape(title),
        x0 = px(-LABEL_ROOM),
        w = px(width + LABEL_ROOM),
        h = px(CHART_H),
    );
}

/// Grouped bars: one group per label, one bar per series; optional dashed reference line
/// (name, value) across the plot.
fn bar_chart(
    out: &mut String,
    id: &str,
    title: &str,
    groups: &[String],
    series: &[Series],
    measure: Measure,
    reference: Option<(&str, f64)>,
) {
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .chain(reference.map(|r| r.1))
        .fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, measure);
    let n_series = series.len().max(1) as f64;
    let width = MIN_CHART_W.max(PAD_LEFT + PAD_RIGHT + groups.len() as f64 * (n_series * 14.0 + 16.0));
    let plot_w = width - PAD_LEFT - PAD_RIGHT;
    let group_w = plot_w / groups.len().max(1) as f64;
    let bar_w = (group_w * 0.8 / n_series).min(22.0);
    let centre = |g: usize| PAD_LEFT + group_w * (g as f64 + 0.5);
    svg_open(out, id, title, width);
    axis.draw(out, width);
    for (g, group) in groups.iter().enumerate() {
        let left = centre(g) - bar_w * n_series / 2.0;
        for (k, s) in series.iter().enumerate() {
            let Some(v) = s.values.get(g).copied().flatten().filter(|v| v.is_finite()) else { continue };
            let y = axis.y(v);
            let _ = write!(
                out,
                r#"<rect class="bar s{k}" data-value="{}" x="{}" y="{}" width="{}" height="{}"><title>{} · {}: {}</title></rect>"#,
                px(v),
                px(left + bar_w * k as f64),
                px(y),
                px(bar_w),
                px(BASELINE - y),
                escape(group),
                escape(&s.name),
                escape(&axis.label_exact(v)),
            );
            // The figure above its bar, where there is room for it.
            if bar_w >= 10.0 {
                let _ = write!(
                    out,
                    r#"<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                    px(left + bar_w * (k as f64 + 0.5)),
                    px(y - 3.0),
                    escape(&axis.label_exact(v)),
                );
            }
        }
    }
    if let Some((name, v)) = reference.filter(|r| r.1.is_finite()) {
        let y = axis.y(v);
        let _ = write!(
            out,
            r#"<line class="line ref" data-value="{}" x1="{}" y1="{y}" x2="{}" y2="{y}"><title>{}: {}</title></line>"#,
            px(v),
            px(PAD_LEFT),
            px(width - PAD_RIGHT),
            escape(name),
            escape(&axis.label_exact(v)),
            y = px(y),
        );
    }
    let mut entries: Vec<(String, String, Swatch)> =
        series.iter().enumerate().map(|(k, s)| (s.name.clone(), format!("s{k}"), Swatch::Box)).collect();
    if let Some((name, v)) = reference {
        // The reference's value goes in the legend, where no bar label can cover it.
        entries.push((format!("{name} {}", axis.label_exact(v)), "sref".to_string(), Swatch::Dashed));
    }
    legend(out, &entries.iter().map(|(n, c, s)| (n.as_str(), c.as_str(), *s)).collect::<Vec<_>>());
    x_labels(out, groups, centre);
    out.push_str("</svg>");
}

/// Lines over x positions, one per series; a `None` value breaks the line (a gap).
fn line_chart(out: &mut String, id: &str, title: &str, xs: &[String], series: &[Series], measure: Measure) {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, measure);
    let width = MIN_CHART_W.max(PAD_LEFT + PAD_RIGHT + xs.len() as f64 * 28.0);
    let step = (width - PAD_LEFT - PAD_RIGHT) / xs.len().max(1) as f64;
    let x_at = |i: usize| PAD_LEFT + step * (i as f64 + 0.5);
    svg_open(out, id, title, width);
    axis.draw(out, width);
    for (k, s) in series.iter().enumerate() {
        // One polyline per run of defined values.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if run.len() > 1 {
                let _ = write!(out, r#"<polyline class="line s{k}" points="{}"/>"#, run.join(" "));
            }
            run.clear();
        };
        for (i, v) in s.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => run.push(format!("{},{}", px(x_at(i)), px(axis.y(v)))),
                None => flush(&mut run, out),
            }
        }
        flush(&mut run, out);
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite()) else { continue };
            let _ = write!(
                out,
                r#"<circle class="dot s{k}" data-value="{}" cx="{}" cy="{}" r="3"><title>{} · {}: {}</title></circle>"#,
                px(v),
                px(x_at(i)),
                px(axis.y(v)),
                escape(xs.get(i).map(String::as_str).unwrap_or("")),
                escape(&s.name),
                escape(&axis.label_exact(v)),
            );
        }
    }
    let classes: Vec<String> = (0..series.len()).map(|k| format!("s{k}")).collect();
    let entries: Vec<(&str, &str, Swatch)> =
        series.iter().zip(&classes).map(|(s, c)| (s.name.as_str(), c.as_str(), Swatch::Line)).collect();
    legend(out, &entries);
    x_labels(out, xs, x_at);
    out.push_str("</svg>");
}

impl YAxis {
    /// A value as a tooltip shows it (percent with one decimal).
    fn label_exact(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => pct(Some(v)),
        }
    }
}

// ---- tables ---------------------------------------------------------------------------------

/// A data table: header cells, then rows whose first cell is the row header. Cells are
/// escaped here.
fn table(out: &mut String, id: &str, caption: &str, head: &[String], rows: &[Vec<String>]) {
    let _ = write!(out, r#"<table id="{id}"><caption>{}</caption><thead><tr>"#, escape(caption));
    for h in head {
        let _ = write!(out, r#"<th scope="col">{}</th>"#, escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, r#"<th scope="row">{}</th>"#, escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn no_data(out: &mut String, l: &Labels) {
    let _ = write!(out, r#"<p class="nodata">{}</p>"#, escape(l.no_data));
}

fn note(out: &mut String, text: &str) {
    let _ = write!(out, r#"<p class="note">{}</p>"#, escape(text));
}

fn section_open(out: &mut String, id: &str, heading: &str) {
    let _ = write!(out, r#"<section id="{id}"><h2>{}</h2>"#, escape(heading));
}

// ---- the page -------------------------------------------------------------------------------

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.meta,.note,footer{color:#555;font-size:.9em}.nodata{color:#777;font-style:italic}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}thead th{background:#f3f3f3}
.cards{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:10em}
.card .v{font-size:1.6em;font-weight:600}.card .d{font-size:.9em;color:#555}
svg.chart{width:100%;height:auto;max-width:100%;font-size:11px}
.grid{stroke:#e5e5e5}.axis{stroke:#444}.tick,.xlabel,.legend{fill:#333}.value{fill:#333;font-size:10px}
.bar.s0,rect.s0{fill:#c0392b}.bar.s1,rect.s1{fill:#2e86c1}.bar.s2,rect.s2{fill:#7f8c8d}
.bar.s3,rect.s3{fill:#e67e22}.bar.s4,rect.s4{fill:#16a085}.bar.s5,rect.s5{fill:#8e44ad}
.line{fill:none;stroke-width:2}.line.s0{stroke:#c0392b}.line.s1{stroke:#2e86c1}.line.s2{stroke:#7f8c8d}
.dot.s0{fill:#c0392b}.dot.s1{fill:#2e86c1}.dot.s2{fill:#7f8c8d}
.ref,.line.ref{stroke:#333;stroke-dasharray:6 4;stroke-width:1.5}
";

/// Renders the report page. Pure: reads the projections' queries and the options only.
pub fn render_html(all: &AllProjections, opts: &ReportOptions) -> String {
    let l: &'static Labels = match opts.lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let ctx = Ctx {
        l,
        lang: opts.lang,
        catalog: Catalog::builtin().ok(),
        stats: &all.accident_stats,
        today: cst_date(opts.as_of),
    };
    let title = opts.title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(l.default_title);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        l.html_lang,
        escape(title),
    );
    let local = opts.as_of.with_timezone(&cst());
    let _ = write!(
        out,
        r#"<header><h1>{}</h1><p class="meta">{}{} ({})</p></header>"#,
        escape(title),
        escape(l.as_of),
        escape(&local.format("%Y-%m-%d %H:%M").to_string()),
        escape(l.cst),
    );
    headline(&mut out, &ctx);
    casualties_by_category(&mut out, &ctx);
    hazards_found_closed(&mut out, &ctx, all);
    on_time_rate(&mut out, &ctx, all);
    indicator(&mut out, &ctx);
    open_and_overdue(&mut out, &ctx, all, opts.as_of);
    four_incomplete(&mut out, &ctx, all, opts.as_of);
    let _ = writeln!(out, "<footer><p>{} {}</p></footer></body></html>", escape(l.to_date_note), escape(l.footer));
    out
}

/// This year from 1 January to the as-of date against the same span a year earlier (同比).
fn headline(out: &mut String, ctx: &Ctx<'_>) {
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
fn casualties_by_category(out: &mut String, ctx: &Ctx<'_>) {
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
fn hazards_found_closed(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections) {
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
fn on_time_rate(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections) {
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
fn indicator(out: &mut String, ctx: &Ctx<'_>) {
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
fn open_and_overdue(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections, at: DateTime<Utc>) {
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
fn four_incomplete(out: &mut String, ctx: &Ctx<'_>, all: &AllProjections, at: DateTime<Utc>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_others_are_named() {
        assert_eq!("zh".parse::<Lang>(), Ok(Lang::Zh));
        assert_eq!(" EN ".parse::<Lang>(), Ok(Lang::En));
        let err = "fr".parse::<Lang>().unwrap_err();
        assert!(err.to_string().contains("\"fr\""));
    }

    #[test]
    fn long_labels_are_cut_by_characters() {
        assert_eq!(short("fire"), "fire");
        assert_eq!(short("生产安全（工作场所）"), "生产安全（工作场所）");
        assert_eq!(short("production / work safety"), "production / work…");
        assert_eq!(short("production / work safety").chars().count(), MAX_LABEL_CHARS);
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(escape(r#"<script>a&b"c'</script>"#), "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;");
    }

    #[test]
    fn numbers_format_with_signs_separators_and_dashes() {
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(signed(-1234), "-1,234");
        assert_eq!(signed(0), "0");
        assert_eq!(signed_pct(Some(-45.71)), "-45.7%");
        assert_eq!(signed_pct(Some(50.0)), "+50.0%");
        assert_eq!(signed_pct(None), "—");
        assert_eq!(pct(Some(f64::NAN)), "—");
        assert_eq!(px(f64::INFINITY), "0");
    }

    /// Axes are never empty, hold their largest value, and tick counts on whole numbers.
    #[test]
    fn axes_fit_their_values() {
        let a = YAxis::fitting(0.0, Measure::Count);
        assert!(a.max > 0.0 && a.scale().is_finite());
        let a = YAxis::fitting(37.0, Measure::Count);
        assert_eq!((a.max, a.step), (40.0, 10.0));
        let a = YAxis::fitting(3.0, Measure::Count);
        assert_eq!((a.max, a.step), (3.0, 1.0));
        assert_eq!(YAxis::fitting(f64::NAN, Measure::Percent).max, 100.0);
        let a = YAxis::fitting(130.0, Measure::Percent);
        assert!(a.max >= 130.0);
        assert_eq!(a.y(0.0), BASELINE);
        assert_eq!(a.y(a.max), PAD_TOP);
    }

    #[test]
    fn periods_step_back_across_years_and_stop_at_the_as_of_date() {
        assert_eq!(months_back((2025, 3), 0), (2025, 3));
        assert_eq!(months_back((2025, 3), 3), (2024, 12));
        assert_eq!(months_back((2025, 3), 26), (2023, 1));
        let today = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(a_year_before(today), NaiveDate::from_ymd_opt(2023, 2, 28));
        let p = to_date(Period::month(2024, 2).unwrap(), NaiveDate::from_ymd_opt(2024, 2, 10).unwrap()).unwrap();
        assert_eq!(p.to, NaiveDate::from_ymd_opt(2024, 2, 10).unwrap());
        assert!(to_date(Period::month(2024, 3).unwrap(), today).is_none());
    }

    #[test]
    fn an_empty_store_renders_every_section_with_no_data() {
        let opts = ReportOptions { as_of: "2026-06-30T04:00:00Z".parse().unwrap(), lang: Lang::En, title: None };
        let html = render_html(&AllProjections::default(), &opts);
        assert_eq!(html.matches("No data").count(), 7);
        assert!(!html.contains("<svg"));
        assert!(!html.contains("NaN"));
    }
}
