//! The page's words: the label table in Chinese and English ([`Labels`], `ZH`, `EN`), the
//! limits of each section, and [`Ctx`], everything a render reads besides the projections
//! (catalog labels, community names, the as-of date).

use chrono::{Datelike, NaiveDate};

use super::options::Lang;
use crate::events::Catalog;
use crate::projections::accident_stats::AccidentStats;

/// The page's fixed words in one language (the label table).
pub(super) struct Labels {
    pub(super) html_lang: &'static str,
    pub(super) default_title: &'static str,
    pub(super) as_of: &'static str,
    pub(super) count: &'static str,
    pub(super) range_to: &'static str,
    pub(super) list_sep: &'static str,
    pub(super) cst: &'static str,
    pub(super) no_data: &'static str,
    pub(super) to_date_note: &'static str,
    pub(super) headline: &'static str,
    pub(super) this_period: &'static str,
    pub(super) last_period: &'static str,
    pub(super) change: &'static str,
    pub(super) change_pct: &'static str,
    pub(super) figure: &'static str,
    pub(super) incidents: &'static str,
    pub(super) deaths: &'static str,
    pub(super) injuries: &'static str,
    pub(super) direct_loss: &'static str,
    pub(super) chart_casualties: &'static str,
    pub(super) casualties_note: &'static str,
    pub(super) category: &'static str,
    pub(super) chart_flow: &'static str,
    pub(super) flow_note: &'static str,
    pub(super) month: &'static str,
    pub(super) found: &'static str,
    pub(super) closed: &'static str,
    pub(super) chart_on_time: &'static str,
    pub(super) on_time_note: &'static str,
    pub(super) quarter: &'static str,
    pub(super) all_hazards: &'static str,
    pub(super) major_hazards: &'static str,
    pub(super) due: &'static str,
    pub(super) on_time: &'static str,
    pub(super) on_time_rate: &'static str,
    pub(super) chart_indicator: &'static str,
    pub(super) indicator_note: &'static str,
    pub(super) community: &'static str,
    pub(super) limit: &'static str,
    pub(super) deaths_so_far: &'static str,
    pub(super) consumption: &'static str,
    pub(super) elapsed: &'static str,
    pub(super) ahead: &'static str,
    pub(super) yes: &'static str,
    pub(super) no: &'static str,
    pub(super) open_title: &'static str,
    pub(super) open_total: &'static str,
    pub(super) open_major: &'static str,
    pub(super) overdue_total: &'static str,
    pub(super) open: &'static str,
    pub(super) overdue: &'static str,
    pub(super) hazard: &'static str,
    pub(super) grade: &'static str,
    pub(super) listed: &'static str,
    pub(super) deadline: &'static str,
    pub(super) days_overdue: &'static str,
    pub(super) more_rows: &'static str,
    pub(super) four_title: &'static str,
    pub(super) four_note: &'static str,
    pub(super) incident: &'static str,
    pub(super) days_open: &'static str,
    pub(super) missing: &'static str,
    pub(super) four: [&'static str; 4],
    pub(super) footer: &'static str,
    pub(super) deaths_axis: &'static str,
    pub(super) injuries_axis: &'static str,
    pub(super) chart_deaths: &'static str,
    pub(super) chart_injuries: &'static str,
    pub(super) hazards_axis: &'static str,
    pub(super) rate_axis: &'static str,
    pub(super) consumption_axis: &'static str,
    pub(super) ahead_legend: &'static str,
    pub(super) behind_legend: &'static str,
    pub(super) district_total: &'static str,
    pub(super) streaks_title: &'static str,
    pub(super) share_axis: &'static str,
    pub(super) all_categories: &'static str,
    pub(super) longest_title: &'static str,
    pub(super) short_title: &'static str,
    pub(super) days: &'static str,
    pub(super) whole_years: &'static str,
    pub(super) since: &'static str,
    pub(super) last_accident: &'static str,
    pub(super) projects_title: &'static str,
    pub(super) project: &'static str,
    pub(super) chart_projects: &'static str,
    pub(super) incidents_axis: &'static str,
    pub(super) year_before: &'static str,
    pub(super) year_after: &'static str,
    pub(super) target: &'static str,
    pub(super) interventions: &'static str,
    pub(super) reach: &'static str,
    pub(super) before_after_incidents: &'static str,
    pub(super) before_after_deaths: &'static str,
    pub(super) before_after_injuries: &'static str,
    pub(super) evaluations: &'static str,
    pub(super) rates_title: &'static str,
    pub(super) hazard_kind: &'static str,
    pub(super) listed_hazards: &'static str,
    pub(super) rectified: &'static str,
    pub(super) rectification_rate: &'static str,
    pub(super) data_table: &'static str,
    pub(super) rows: &'static str,
    pub(super) provenance: &'static str,
    pub(super) basis_events: &'static str,
    pub(super) basis_events_after: &'static str,
    pub(super) head_hash: &'static str,
    pub(super) reference_date: &'static str,
    pub(super) recorded_by: &'static str,
    pub(super) check_hint: &'static str,
    pub(super) partial_mark: &'static str,
    pub(super) projects_count: &'static str,
    pub(super) recorded_all: &'static str,
    pub(super) open_by_community: &'static str,
    pub(super) all_projects: &'static str,
}

pub(super) const ZH: Labels = Labels {
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
    deaths_axis: "死亡人数（人）",
    injuries_axis: "受伤人数（人）",
    chart_deaths: "分类别死亡人数（按年度）",
    chart_injuries: "分类别受伤人数（按年度）",
    hazards_axis: "隐患数（项）",
    rate_axis: "按期整改率（%）",
    consumption_axis: "控制指标消耗（%）",
    ahead_legend: "超时序进度（消耗快于时间）",
    behind_legend: "未超时序进度",
    district_total: "全区合计",
    streaks_title: "无死亡事故社区（分类别）",
    share_axis: "社区占比（%）",
    all_categories: "全部类别",
    longest_title: "连续无死亡事故时间最长的社区（全部类别）",
    short_title: "连续无死亡事故未满年限的社区（全部类别，最近事故在前）",
    days: "天数",
    whole_years: "整年数",
    since: "起算日",
    last_accident: "最近一次死亡事故",
    projects_title: "安全促进项目及前后对比",
    project: "项目",
    chart_projects: "各项目目标类别事故起数：首次干预前一年与后一年",
    incidents_axis: "目标类别事故（起）",
    year_before: "干预前一年",
    year_after: "干预后一年",
    target: "干预对象",
    interventions: "干预措施（已实施/计划）",
    reach: "受益人数",
    before_after_incidents: "事故起数 前→后",
    before_after_deaths: "死亡 前→后",
    before_after_injuries: "受伤 前→后",
    evaluations: "评估指标",
    rates_title: "隐患整改率（本年累计）",
    hazard_kind: "隐患",
    listed_hazards: "挂牌督办隐患",
    rectified: "已整改销号",
    rectification_rate: "整改率",
    data_table: "数据表",
    rows: "行",
    provenance: "数据来源",
    basis_events: "由日志前",
    basis_events_after: "个事件计算",
    head_hash: "链哈希",
    reference_date: "统计日期",
    recorded_by: "记录截至",
    check_hint: "可用 anquan check-figures 对本页嵌入的数据逐项复核。",
    partial_mark: "不完整",
    projects_count: "项目数",
    recorded_all: "报告生成时",
    open_by_community: "分社区未销号与逾期隐患",
    all_projects: "全部项目合计",
};

pub(super) const EN: Labels = Labels {
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
    deaths_axis: "Deaths (persons)",
    injuries_axis: "Injuries (persons)",
    chart_deaths: "Deaths by category and year",
    chart_injuries: "Injuries by category and year",
    hazards_axis: "Hazards (count)",
    rate_axis: "On-time rectification rate (%)",
    consumption_axis: "Control indicator consumed (%)",
    ahead_legend: "Ahead of time elapsed (consumed faster than the year)",
    behind_legend: "Within time elapsed",
    district_total: "District total",
    streaks_title: "Communities without a fatal accident, by category",
    share_axis: "Share of communities (%)",
    all_categories: "All categories",
    longest_title: "Longest fatality-free streaks (all categories)",
    short_title: "Communities short of the streak (all categories, latest death first)",
    days: "Days",
    whole_years: "Whole years",
    since: "Since",
    last_accident: "Last fatal accident",
    projects_title: "Safety promotion projects and their before/after figures",
    project: "Project",
    chart_projects: "Incidents of each project's target category: the year before and after its first intervention",
    incidents_axis: "Incidents of the target category (count)",
    year_before: "Year before",
    year_after: "Year after",
    target: "Target",
    interventions: "Interventions (implemented / planned)",
    reach: "People reached",
    before_after_incidents: "Incidents before → after",
    before_after_deaths: "Deaths before → after",
    before_after_injuries: "Injuries before → after",
    evaluations: "Evaluations",
    rates_title: "Hazard rectification rates (this year to date)",
    hazard_kind: "Hazards",
    listed_hazards: "Listed for supervision",
    rectified: "Rectified",
    rectification_rate: "Rectification rate",
    data_table: "Data table",
    rows: "rows",
    provenance: "Provenance",
    basis_events: "Computed from the log's first",
    basis_events_after: "events",
    head_hash: "head hash",
    reference_date: "reference date",
    recorded_by: "as recorded by",
    check_hint: "anquan check-figures recomputes the figures embedded in this page, one by one.",
    partial_mark: "partial",
    projects_count: "Projects",
    recorded_all: "the time of writing",
    open_by_community: "Open and overdue by community",
    all_projects: "All projects (sum)",
};

/// Codes of the four don't-let-go, in the order of `Labels::four` (as the trails name them).
pub(super) const FOUR_CODES: [&str; 4] =
    ["cause_determined", "responsible_dealt_with", "corrective_measures_implemented", "education_conducted"];

/// Overdue hazards listed at most (the count of the rest is stated).
pub(super) const MAX_OVERDUE_ROWS: usize = 200;
/// Longest streaks listed.
pub(super) const MAX_STREAK_ROWS: usize = 10;
/// Years of the casualty chart.
pub(super) const MAX_YEARS: usize = 3;
/// Months of the found/closed chart.
pub(super) const FLOW_MONTHS: u32 = 24;
/// Quarters of the on-time chart.
pub(super) const ON_TIME_QUARTERS: u32 = 8;

/// Everything a render reads besides the projections: words, catalog labels, dates.
pub(super) struct Ctx<'a> {
    pub(super) l: &'static Labels,
    pub(super) lang: Lang,
    pub(super) catalog: Option<Catalog>,
    pub(super) stats: &'a AccidentStats,
    pub(super) today: NaiveDate,
}

impl Ctx<'_> {
    /// Category label from the catalog in the page's language, else the code.
    pub(super) fn category(&self, code: &str) -> String {
        let found = self.catalog.as_ref().and_then(|c| c.categories.iter().find(|x| x.code == code));
        match (found, self.lang) {
            (Some(c), Lang::Zh) => c.zh.clone(),
            (Some(c), Lang::En) => c.en.clone(),
            (None, _) => code.to_string(),
        }
    }

    /// Position of a category in the catalog (unknown codes last), to order rows.
    pub(super) fn category_rank(&self, code: &str) -> usize {
        self.catalog.as_ref().and_then(|c| c.categories.iter().position(|x| x.code == code)).unwrap_or(usize::MAX)
    }

    pub(super) fn hazard_grade(&self, code: Option<&str>) -> String {
        let Some(code) = code else { return "—".to_string() };
        let found = self.catalog.as_ref().and_then(|c| c.hazard_grades.iter().find(|x| x.code == code));
        match (found, self.lang) {
            (Some(g), Lang::Zh) => g.zh.clone(),
            (Some(g), Lang::En) => g.en.clone(),
            (None, _) => code.to_string(),
        }
    }

    /// "name (id)" when the statistics know the community's name, else the id.
    pub(super) fn community(&self, id: &str) -> String {
        match self.stats.community(id) {
            Some(c) if !c.name.is_empty() && c.name != id => format!("{} ({id})", c.name),
            _ => id.to_string(),
        }
    }

    /// A year as a series name; one that runs only to the reference date says so.
    pub(super) fn year_label(&self, year: i32, to: NaiveDate, partial: bool) -> String {
        match (self.lang, partial) {
            (Lang::Zh, true) => format!("{year}年（截至{}月{}日，不完整）", to.month(), to.day()),
            (Lang::Zh, false) => format!("{year}年"),
            (Lang::En, true) => format!("{year} (to {}, partial)", to.format("%m-%d")),
            (Lang::En, false) => year.to_string(),
        }
    }

    /// The note on a period that runs only to the reference date.
    pub(super) fn partial_note(&self, to: NaiveDate) -> String {
        match self.lang {
            Lang::Zh => format!("截至{to}（不完整）"),
            Lang::En => format!("partial: to {to}"),
        }
    }

    /// What the streak chart counts.
    pub(super) fn streak_note(&self, years: u32, communities: u64) -> String {
        match self.lang {
            Lang::Zh => format!(
                "截至统计日期，连续1至{years}个整年以上未发生该类别死亡事故的社区占全部{communities}个社区的比例；条形末端为社区数及占比，数据表为连续{years}年以上。"
            ),
            Lang::En => format!(
                "Share of all {communities} communities with no death of the category for at least 1 to {years} whole years up to the reference date; each bar ends with the count and the share; the data table counts {years} years."
            ),
        }
    }

    /// The summary line of a folded data table.
    /// "at least n whole years" as a series name.
    pub(super) fn years_label(&self, n: u32) -> String {
        match (self.lang, n) {
            (Lang::Zh, _) => format!("连续{n}年以上"),
            (Lang::En, 1) => "≥1 whole year".to_string(),
            (Lang::En, _) => format!("≥{n} whole years"),
        }
    }

    pub(super) fn table_summary(&self, rows: usize) -> String {
        match self.lang {
            Lang::Zh => format!("{}（{rows}{}）", self.l.data_table, self.l.rows),
            Lang::En => format!("{} ({rows} {})", self.l.data_table, self.l.rows),
        }
    }

    pub(super) fn quarter_label(&self, year: i32, q: u32) -> String {
        match self.lang {
            Lang::Zh => format!("{year}年第{q}季度"),
            Lang::En => format!("{year} Q{q}"),
        }
    }
}
