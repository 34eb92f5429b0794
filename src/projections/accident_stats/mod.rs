//! Accident statistics (事故统计): counts, casualties and loss by category × community × period
//! and by grade; year-on-year change (同比); rates per 100k population; control-indicator
//! consumption beside the elapsed share of the year (控制指标 vs 时序进度); fatality-free streaks.
//!
//! The state keeps one fact row per incident (its figures as last reported or revised, 补报) and
//! per community its population figures and control indicators; every query aggregates the rows
//! it needs, so a casualty revision moves the figures of the period the accident belongs to.
//!
//! Definitions and invariants:
//! - An incident belongs to the CST calendar date of its `occurred_at`; periods are CST dates.
//! - Deaths are the reported/revised deaths; missing persons (下落不明) are counted apart.
//!   Injuries = serious (incl. acute industrial poisoning) + minor.
//! - Population in force for a period: the community's latest figure whose `as_of` date is on or
//!   before the period's last day (a later `population_revised` with the same date replaces an
//!   earlier one). A rate for several communities uses those with a population in force, and
//!   only their incidents.
//! - Control indicator: the latest one set for the community and year. Consumption = deaths of
//!   the year up to the as-of date ÷ indicator; elapsed share = day of year ÷ days in the year.
//! - Fatality-free streak: days from the CST date of the last matching accident (or, when there
//!   was none, the community's registration date) to the as-of date; whole years by calendar.
//! - State is ordered (`BTreeMap`), so a rebuild is byte-identical to the live state.
//!
//! Running totals (增量汇总): `apply` also keeps, per cell (community or all) × (category or
//! all), the incident figures summed by year, by month and by day (`Buckets`); a revision
//! takes the old casualties out and puts the new ones in. A period is read as its leading days,
//! leading months, whole years, trailing months and trailing days, so `totals`, `by_month`,
//! `year_on_year`, `breakdown`, `rate_per_100k` and `indicator_consumption` read a handful of
//! buckets instead of every incident. Invariant: every bucket equals the sum of the facts it
//! covers (tested against a scan), and a bucket (or cell) that covers no incident is removed,
//! so the live state equals one recomputed from the facts. A bulk fold (a rebuild, see
//! [`Projection::begin_bulk`]) and a snapshot load recompute the cells from the facts once: each
//! incident's figures go into the day figures of its finest cell (community, category), the
//! coarser cells' days are summed from those, and the month and year buckets from the days.
//!
//! Grade cells: the same `Buckets`, per (community or all) × (category or all) × Decree 493
//! grade, over the graded incidents only; `incident.graded` moves an incident from its old
//! grade's cells to the new one's, a casualty revision of a graded incident takes its old
//! figures out of its grade cells and puts the new ones in. Invariant: each grade cell equals
//! the sum of the facts with that grade (tested against a scan with random histories).
//!
//! What reads which index:
//! - `by_grade` and `compare(.., GroupBy::Grade, ..)` sum the grade cells over the period(s);
//! - `compare(.., GroupBy::Month, ..)` walks the cell's month buckets the period covers (whole
//!   months) and the day buckets of a partial first or last month: work is bounded by the months
//!   that hold incidents, so even an unbounded period needs no scan;
//! - `by_day` reads the cell's day buckets of the period;
//! - `streak` finds the last day on or before `as_of` with a death (or, by grade, with an
//!   incident in a grade cell at or above the rule's grade) by walking the cell's buckets
//!   backwards coarse to fine: the days of the as-of month, then months of the as-of year, then
//!   years, descending into the first one that holds a match; `streak_share` does so per
//!   community; `economic_rates` reads the grade cells for work deaths.
//!
//! No query above touches every incident; `incidents()` is the listing iterator.
//! Neither the buckets nor the grade cells are stored in snapshots (which hold the facts and the
//! denominators); both are recomputed from the facts when a snapshot is loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::kpis::{Denominators, EconomicRates, WorkInjuryRates};
use super::{percent, Period, Projection, Staged};
use crate::events::community::CommunityEvent;
use crate::events::incident::{Casualties, IncidentEvent, IncidentGrade};
use crate::events::time::{cst_date, plus_years};
use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// One incident's figures, as last reported or revised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    pub incident_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    #[serde(with = "super::state_codec::utc")]
    pub occurred_at: DateTime<Utc>,
    pub casualties: Casualties,
    /// Decree 493 grade, for graded categories.
    pub grade: Option<IncidentGrade>,
}

/// The grade's code as the JSON schemas spell it.
pub fn grade_code(g: IncidentGrade) -> &'static str {
    match g {
        IncidentGrade::Ordinary => "ordinary",
        IncidentGrade::RelativelySerious => "relatively_serious",
        IncidentGrade::Serious => "serious",
        IncidentGrade::ExtraordinarilySerious => "extraordinarily_serious",
    }
}

impl IncidentFacts {
    /// CST calendar date of the accident.
    pub fn day(&self) -> NaiveDate {
        cst_date(self.occurred_at)
    }
}

/// A dated population figure (常住人口).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationFigure {
    #[serde(with = "super::state_codec::date")]
    pub as_of: NaiveDate,
    pub population: u32,
}

/// A control indicator (控制指标) for one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlIndicator {
    pub total_deaths: u32,
    pub per_category: BTreeMap<String, u32>,
    #[serde(with = "super::state_codec::date")]
    pub set_on: NaiveDate,
    pub set_by: String,
}

/// What the statistics keep about a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityFacts {
    pub community_id: String,
    pub name: String,
    /// CST date the community was registered.
    #[serde(with = "super::state_codec::date")]
    pub registered_on: NaiveDate,
    /// Sorted by `as_of`, one figure per date.
    pub populations: Vec<PopulationFigure>,
    /// By statistics year.
    pub indicators: BTreeMap<i32, ControlIndicator>,
}

impl CommunityFacts {
    /// Population in force on `day`.
    pub fn population_on(&self, day: NaiveDate) -> Option<u32> {
        self.populations.iter().rev().find(|p| p.as_of <= day).map(|p| p.population)
    }

    fn set_population(&mut self, as_of: NaiveDate, population: u32) {
        match self.populations.binary_search_by(|p| p.as_of.cmp(&as_of)) {
            Ok(i) => {
                if let Some(p) = self.populations.get_mut(i) {
                    p.population = population;
                }
            }
            Err(i) => self.populations.insert(i, PopulationFigure { as_of, population }),
        }
    }
}

/// Summed figures (事故起数、死亡、重伤、轻伤、失踪、直接经济损失).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub incidents: u64,
    pub deaths: u64,
    pub serious_injuries: u64,
    pub minor_injuries: u64,
    pub missing: u64,
    pub direct_loss_yuan: u64,
}

impl Totals {
    fn add(&mut self, c: &Casualties) {
        self.incidents += 1;
        self.deaths += u64::from(c.deaths);
        self.serious_injuries += u64::from(c.serious_injuries);
        self.minor_injuries += u64::from(c.minor_injuries);
        self.missing += u64::from(c.missing);
        self.direct_loss_yuan = self.direct_loss_yuan.saturating_add(c.direct_loss_yuan);
    }

    /// Takes one incident's figures out again (a revision replaces them).
    fn sub(&mut self, c: &Casualties) {
        self.incidents = self.incidents.saturating_sub(1);
        self.deaths = self.deaths.saturating_sub(u64::from(c.deaths));
        self.serious_injuries = self.serious_injuries.saturating_sub(u64::from(c.serious_injuries));
        self.minor_injuries = self.minor_injuries.saturating_sub(u64::from(c.minor_injuries));
        self.missing = self.missing.saturating_sub(u64::from(c.missing));
        self.direct_loss_yuan = self.direct_loss_yuan.saturating_sub(c.direct_loss_yuan);
    }

    fn merge(&mut self, o: &Totals) {
        self.incidents += o.incidents;
        self.deaths += o.deaths;
        self.serious_injuries += o.serious_injuries;
        self.minor_injuries += o.minor_injuries;
        self.missing += o.missing;
        self.direct_loss_yuan = self.direct_loss_yuan.saturating_add(o.direct_loss_yuan);
    }

    /// Serious plus minor injuries.
    pub fn injuries(&self) -> u64 {
        self.serious_injuries + self.minor_injuries
    }
}

/// Which incidents a figure covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFilter {
    pub period: Period,
    pub category: Option<String>,
    pub community: Option<String>,
}

impl StatsFilter {
    pub fn new(period: Period) -> Self {
        Self { period, category: None, community: None }
    }

    pub fn category(mut self, category: &str) -> Self {
        self.category = Some(category.to_string());
        self
    }

    pub fn community(mut self, community: &str) -> Self {
        self.community = Some(community.to_string());
        self
    }

    /// The scan the running totals replace (kept for the tests that compare them).
    #[cfg(test)]
    fn matches(&self, f: &IncidentFacts) -> bool {
        self.period.contains(f.day())
            && self.category.as_deref().is_none_or(|c| c == f.category)
            && self.community.as_deref().is_none_or(|c| c == f.community_id)
    }
}

/// One cell of the category × community table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub category: String,
    pub community_id: String,
    pub totals: Totals,
}

/// Figures of one grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRow {
    pub grade: IncidentGrade,
    pub totals: Totals,
}

/// Change from the previous to the current figure (同比).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub previous: u64,
    pub current: u64,
    /// `current − previous` (negative: fewer).
    pub absolute: i64,
    /// `absolute ÷ previous × 100`; `None` when the previous figure is 0.
    pub percent: Option<f64>,
}

impl Change {
    pub fn new(previous: u64, current: u64) -> Self {
        let absolute = i64::try_from(current).unwrap_or(i64::MAX) - i64::try_from(previous).unwrap_or(i64::MAX);
        let percent = if previous == 0 { None } else { Some(absolute as f64 * 100.0 / previous as f64) };
        Self { previous, current, absolute, percent }
    }
}

/// Year-on-year change of one category (or of the total, `category = None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearOnYearLine {
    pub category: Option<String>,
    pub incidents: Change,
    pub deaths: Change,
    /// Serious plus minor injuries.
    pub injuries: Change,
    pub direct_loss_yuan: Change,
}

impl YearOnYearLine {
    fn new(category: Option<String>, prev: &Totals, cur: &Totals) -> Self {
        Self {
            category,
            incidents: Change::new(prev.incidents, cur.incidents),
            deaths: Change::new(prev.deaths, cur.deaths),
            injuries: Change::new(prev.injuries(), cur.injuries()),
            direct_loss_yuan: Change::new(prev.direct_loss_yuan, cur.direct_loss_yuan),
        }
    }
}

/// 同比: the year against the previous one, per category and in total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearOnYear {
    pub year: i32,
    pub community: Option<String>,
    /// Every category with an incident in either year, by code.
    pub categories: Vec<YearOnYearLine>,
    pub total: YearOnYearLine,
}

/// How [`AccidentStats::compare`] groups its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Accident category code.
    Category,
    /// Community id.
    Community,
    /// Calendar month (both periods must start in January for months to line up).
    Month,
    /// Decree 493 grade (graded categories only).
    Grade,
}

/// One line of a comparison: a group's figures in the current and the baseline period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonLine {
    /// Category code, community id, month `01`–`12` or grade code; `None` for the total.
    pub key: Option<String>,
    pub current: Totals,
    pub baseline: Totals,
    pub incidents: Change,
    pub deaths: Change,
    /// Serious plus minor injuries.
    pub injuries: Change,
    pub direct_loss_yuan: Change,
}

impl ComparisonLine {
    fn new(key: Option<String>, baseline: Totals, current: Totals) -> Self {
        Self {
            key,
            incidents: Change::new(baseline.incidents, current.incidents),
            deaths: Change::new(baseline.deaths, current.deaths),
            injuries: Change::new(baseline.injuries(), current.injuries()),
            direct_loss_yuan: Change::new(baseline.direct_loss_yuan, current.direct_loss_yuan),
            current,
            baseline,
        }
    }
}

/// Two periods side by side, grouped (对比分析): the general form of 同比 and 环比.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub current: Period,
    pub baseline: Period,
    pub by: GroupBy,
    pub category: Option<String>,
    pub community: Option<String>,
    /// Groups with an incident in either period, ordered by key.
    pub lines: Vec<ComparisonLine>,
    pub total: ComparisonLine,
}

/// Deaths and injuries per 100,000 population (每十万人口).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationRate {
    pub period: Period,
    pub community: Option<String>,
    pub category: Option<String>,
    pub deaths: u64,
    pub injuries: u64,
    /// Population in force at the period's end (sum over the communities that have one).
    pub population: u64,
    pub deaths_per_100k: Option<f64>,
    pub injuries_per_100k: Option<f64>,
}

/// Consumption of one limit of a control indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorLine {
    /// `None` for the total indicator.
    pub category: Option<String>,
    pub limit: u32,
    pub deaths_so_far: u64,
    /// 控制指标消耗 percent; `None` for a zero limit.
    pub consumption_pct: Option<f64>,
    /// Consumption ahead of the elapsed share of the year (超时序进度).
    pub ahead_of_time: bool,
}

/// Control-indicator consumption beside the elapsed share of the year (时序进度).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorConsumption {
    pub community_id: String,
    pub year: i32,
    pub as_of: NaiveDate,
    /// 时序进度, percent of the year's days elapsed (as-of day included).
    pub elapsed_pct: f64,
    pub total: IndicatorLine,
    pub per_category: Vec<IndicatorLine>,
}

/// Which accidents break a streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreakRule {
    /// Any accident with a death (无死亡事故).
    Fatal,
    /// Any accident of this grade or above (e.g. 较大及以上).
    GradeAtLeast(IncidentGrade),
}

impl StreakRule {
    /// The scan the streak index replaces (kept for the tests that compare them).
    #[cfg(test)]
    fn breaks(self, f: &IncidentFacts) -> bool {
        match self {
            StreakRule::Fatal => f.casualties.deaths > 0,
            StreakRule::GradeAtLeast(g) => f.grade.is_some_and(|x| x >= g),
        }
    }
}

/// A streak without a matching accident, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    pub community: Option<String>,
    pub category: Option<String>,
    pub rule: StreakRule,
    pub as_of: NaiveDate,
    /// CST date of the last matching accident on or before `as_of`.
    pub last_accident: Option<NaiveDate>,
    /// Where the streak counts from: the last accident's date, else the registration date.
    pub since: NaiveDate,
    pub days: i64,
    pub whole_years: u32,
}

/// Share of communities with a streak of at least `years` whole years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreakShare {
    pub years: u32,
    pub communities: u64,
    pub with_streak: u64,
    pub share_pct: Option<f64>,
    /// Community ids with the streak, by id.
    pub community_ids: Vec<String>,
}

/// The accident statistics projection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccidentStats {
    incidents: BTreeMap<String, IncidentFacts>,
    communities: BTreeMap<String, CommunityFacts>,
    /// Running totals over `incidents`, by (community, category); `None` = all.
    cells: BTreeMap<(Option<String>, Option<String>), Buckets>,
    /// Running totals over the graded incidents, by (community, category, grade); `None` = all.
    grade_cells: BTreeMap<GradeKey, Buckets>,
    /// GDP, workers, hours worked and work injury cases (the KPIs' denominators).
    denominators: Denominators,
    /// In a bulk fold ([`Projection::begin_bulk`]): the incidents, staged (`incidents` is
    /// empty), and `cells` and `grade_cells` are stale until it ends.
    staged: Option<Staged<IncidentFacts>>,
}

/// What a snapshot stores, in this field order.
#[derive(Serialize)]
struct StatsStateRef<'a> {
    incidents: &'a BTreeMap<String, IncidentFacts>,
    communities: &'a BTreeMap<String, CommunityFacts>,
    denominators: &'a Denominators,
}

/// [`StatsStateRef`], owned, for decoding.
#[derive(Deserialize)]
struct StatsState {
    #[serde(deserialize_with = "super::state_codec::sorted_map")]
    incidents: BTreeMap<String, IncidentFacts>,
    #[serde(deserialize_with = "super::state_codec::sorted_map")]
    communities: BTreeMap<String, CommunityFacts>,
    denominators: Denominators,
}

impl Serialize for AccidentStats {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StatsStateRef { incidents: &self.incidents, communities: &self.communities, denominators: &self.denominators }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AccidentStats {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StatsState { incidents, communities, denominators } = StatsState::deserialize(deserializer)?;
        let (cells, grade_cells) = build_cells(&incidents);
        Ok(Self { incidents, communities, cells, grade_cells, denominators, staged: None })
    }
}

/// One cell's figures by year, by month and by CST day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Buckets {
    years: BTreeMap<i32, Totals>,
    months: BTreeMap<(i32, u32), Totals>,
    days: BTreeMap<NaiveDate, Totals>,
}

/// Adds one incident's figures to (or takes them out of) a bucket; a bucket left without an
/// incident is removed.
fn put_one<K: Ord + Copy>(map: &mut BTreeMap<K, Totals>, key: K, c: &Casualties, add: bool) {
    let t = map.entry(key).or_default();
    if add {
        t.add(c);
    } else {
        t.sub(c);
    }
    if t.incidents == 0 {
        map.remove(&key);
    }
}

/// The CST days of a calendar month, as range bounds (unbounded past chrono's date range).
fn month_days((y, m): (i32, u32)) -> (Bound<NaiveDate>, Bound<NaiveDate>) {
    let (ny, nm) = next_month((y, m));
    let lo = NaiveDate::from_ymd_opt(y, m, 1).map_or(Bound::Unbounded, Bound::Included);
    let hi = NaiveDate::from_ymd_opt(ny, nm, 1).map_or(Bound::Unbounded, Bound::Excluded);
    (lo, hi)
}

impl Buckets {
    fn put(&mut self, day: NaiveDate, c: &Casualties, add: bool) {
        put_one(&mut self.years, day.year(), c, add);
        put_one(&mut self.months, (day.year(), day.month()), c, add);
        put_one(&mut self.days, day, c, add);
    }

    fn is_empty(&self) -> bool {
        self.years.is_empty()
    }

    /// Sums a period by calendar month of the year (1–12) into `out`: whole months from the
    /// month buckets, a partial first or last month from its day buckets.
    fn sum_by_month_of_year(&self, period: Period, out: &mut BTreeMap<u32, Totals>) {
        let (from, to) = (period.from, period.to);
        if from > to {
            return;
        }
        let from_month = (from.year(), from.month());
        let to_month = (to.year(), to.month());
        let from_whole = from.day() == 1;
        let to_whole = to.succ_opt().is_none_or(|d| d.day() == 1);
        for (&ym, t) in self.months.range(from_month..=to_month) {
            let slot = out.entry(ym.1).or_default();
            if (ym != from_month || from_whole) && (ym != to_month || to_whole) {
                slot.merge(t);
                continue;
            }
            let same = |d: &NaiveDate| (d.year(), d.month()) == ym;
            if ym == from_month {
                self.days.range(from..=to).take_while(|(d, _)| same(d)).for_each(|(_, x)| slot.merge(x));
            } else {
                self.days.range(..=to).rev().take_while(|(d, _)| same(d)).for_each(|(_, x)| slot.merge(x));
            }
        }
    }

    /// The last CST day on or before `as_of` whose bucket satisfies `hit`. `hit` must hold for
    /// a sum exactly when it holds for one of its parts (e.g. "has a death", "has an
    /// incident"), so a year or month that fails it is skipped whole.
    fn last_day(&self, as_of: NaiveDate, hit: impl Fn(&Totals) -> bool) -> Option<NaiveDate> {
        let in_month = |ym: (i32, u32)| {
            self.days.range(month_days(ym)).rev().find(|(d, t)| **d <= as_of && hit(t)).map(|(d, _)| *d)
        };
        let (y, m) = (as_of.year(), as_of.month());
        if let Some(d) = in_month((y, m)) {
            return Some(d);
        }
        for (&ym, t) in self.months.range((y, 1)..(y, m)).rev() {
            if let Some(d) = Some(t).filter(|t| hit(t)).and_then(|_| in_month(ym)) {
                return Some(d);
            }
        }
        for (&year, t) in self.years.range(..y).rev() {
            if !hit(t) {
                continue;
            }
            for (&ym, t) in self.months.range((year, 1)..=(year, 12)).rev() {
                if let Some(d) = Some(t).filter(|t| hit(t)).and_then(|_| in_month(ym)) {
                    return Some(d);
                }
            }
        }
        None
    }

    /// Sum over a period: leading days and months, whole years, trailing months and days.
    fn sum(&self, period: Period) -> Totals {
        let mut t = Totals::default();
        let (from, to) = (period.from, period.to);
        if from > to {
            return t;
        }
        let from_month = (from.year(), from.month());
        let to_month = (to.year(), to.month());
        let first_full = if from.day() == 1 { from_month } else { next_month(from_month) };
        let to_is_month_end = to.succ_opt().is_none_or(|d| d.day() == 1);
        let last_full = if to_is_month_end { to_month } else { prev_month(to_month) };
        if first_full > last_full {
            self.days.range(from..=to).for_each(|(_, x)| t.merge(x));
            return t;
        }
        if first_full != from_month {
            let same = |d: &NaiveDate| (d.year(), d.month()) == from_month;
            self.days.range(from..).take_while(|(d, _)| same(d)).for_each(|(_, x)| t.merge(x));
        }
        if last_full != to_month {
            let same = |d: &NaiveDate| (d.year(), d.month()) == to_month;
            self.days.range(..=to).rev().take_while(|(d, _)| same(d)).for_each(|(_, x)| t.merge(x));
        }
        let ((y1, m1), (y2, m2)) = (first_full, last_full);
        if y1 == y2 {
            self.months.range(first_full..=last_full).for_each(|(_, x)| t.merge(x));
            return t;
        }
        if m1 != 1 {
            self.months.range(first_full..=(y1, 12)).for_each(|(_, x)| t.merge(x));
        }
        if m2 != 12 {
            self.months.range((y2, 1)..=last_full).for_each(|(_, x)| t.merge(x));
        }
        let first_year = if m1 == 1 { y1 } else { y1 + 1 };
        let last_year = if m2 == 12 { y2 } else { y2 - 1 };
        if first_year <= last_year {
            self.years.range(first_year..=last_year).for_each(|(_, x)| t.merge(x));
        }
        t
    }
}

fn next_month((y, m): (i32, u32)) -> (i32, u32) {
    if m >= 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

fn prev_month((y, m): (i32, u32)) -> (i32, u32) {
    if m <= 1 {
        (y - 1, 12)
    } else {
        (y, m - 1)
    }
}

/// Key of a grade cell: (community or all, category or all, grade).
type GradeKey = (Option<String>, Option<String>, IncidentGrade);

/// Every grade, least serious first.
const GRADES: [IncidentGrade; 4] = [
    IncidentGrade::Ordinary,
    IncidentGrade::RelativelySerious,
    IncidentGrade::Serious,
    IncidentGrade::ExtraordinarilySerious,
];

/// Puts figures into (or takes them out of) a cell; an emptied cell is removed.
fn put_cell<K: Ord>(cells: &mut BTreeMap<K, Buckets>, key: K, day: NaiveDate, c: &Casualties, add: bool) {
    if let Some(b) = cells.get_mut(&key) {
        b.put(day, c, add);
        if b.is_empty() {
            cells.remove(&key);
        }
    } else {
        let mut b = Buckets::default();
        b.put(day, c, add);
        if !b.is_empty() {
            cells.insert(key, b);
        }
    }
}

/// The four (community or all) × (category or all) keys of an incident.
fn cell_keys(f: &IncidentFacts) -> [(Option<String>, Option<String>); 4] {
    let community = Some(f.community_id.clone());
    let category = Some(f.category.clone());
    [(None, None), (None, category.clone()), (community.clone(), None), (community, category)]
}

/// Puts an incident's figures into (or takes them out of) its four cells.
fn account(cells: &mut BTreeMap<(Option<String>, Option<String>), Buckets>, f: &IncidentFacts, add: bool) {
    let day = f.day();
    for key in cell_keys(f) {
        put_cell(cells, key, day, &f.casualties, add);
    }
}

/// Puts a graded incident's figures into (or takes them out of) its four grade cells; an
/// ungraded incident has none.
fn account_grade(cells: &mut BTreeMap<GradeKey, Buckets>, f: &IncidentFacts, add: bool) {
    let Some(grade) = f.grade else { return };
    let day = f.day();
    for (community, category) in cell_keys(f) {
        put_cell(cells, (community, category, grade), day, &f.casualties, add);
    }
}

/// One cell's figures by grade and CST day while the cells are built from scratch: pairs of
/// [`day_key`] and figures, sorted by key with no key twice.
type CellDays = Vec<(u64, Totals)>;

/// Sort key of a cell's figure: the grade (0 for the plain cells, 1 + its index in [`GRADES`]
/// for a grade cell) above the day, so a cell's figures sort by grade, then date.
fn day_key(grade: u8, day: NaiveDate) -> u64 {
    // Flipping the sign bit keeps days before year 1 (negative numbers) in order.
    (u64::from(grade) << 32) | u64::from((day.num_days_from_ce() as u32) ^ (1 << 31))
}

fn key_grade(key: u64) -> u8 {
    (key >> 32) as u8
}

fn key_day(key: u64) -> NaiveDate {
    let days = ((key as u32) ^ (1 << 31)) as i32;
    // Every key was made from a `NaiveDate`, so the day number is one chrono accepts.
    NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN)
}

/// Sorts figures by key and sums those with equal keys. The input is usually a few sorted runs
/// (the finer cells' figures one after another), which the stable sort merges rather than sorts.
fn sum_by_key(mut figures: CellDays) -> CellDays {
    figures.sort_by_key(|f| f.0);
    figures.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1.merge(&later.1);
        }
        same
    });
    figures
}

/// Day figures as one cell's buckets: the years and months are sums of the days.
fn buckets_of(days: BTreeMap<NaiveDate, Totals>) -> Buckets {
    let mut years: Vec<(i32, Totals)> = Vec::new();
    let mut months: Vec<((i32, u32), Totals)> = Vec::new();
    for (day, t) in &days {
        match years.last_mut() {
            Some((y, sum)) if *y == day.year() => sum.merge(t),
            _ => years.push((day.year(), *t)),
        }
        let month = (day.year(), day.month());
        match months.last_mut() {
            Some((m, sum)) if *m == month => sum.merge(t),
            _ => months.push((month, *t)),
        }
    }
    Buckets { years: years.into_iter().collect(), months: months.into_iter().collect(), days }
}

/// The cells and grade cells of `incidents`, from scratch: equal to accounting every incident
/// with [`account`] and [`account_grade`]. Only the finest cells, (community, category) with
/// and without grade, are built from the incidents (one map lookup per incident); the coarser
/// ones are summed from those by day, and each cell's month and year figures from its days.
/// Sorting flat figures replaces the four to eight map lookups per incident that made the
/// statistics the slowest of the five snapshots to load.
#[allow(clippy::type_complexity)]
fn build_cells(
    incidents: &BTreeMap<String, IncidentFacts>,
) -> (BTreeMap<(Option<String>, Option<String>), Buckets>, BTreeMap<GradeKey, Buckets>) {
    let mut rows: hashbrown::HashMap<(&str, &str), Vec<(u64, &Casualties)>> = hashbrown::HashMap::new();
    for f in incidents.values() {
        let day = f.day();
        let cell = rows.entry((f.community_id.as_str(), f.category.as_str())).or_default();
        cell.push((day_key(0, day), &f.casualties));
        if let Some(grade) = f.grade {
            let grade = GRADES.iter().position(|g| *g == grade).unwrap_or(0) as u8 + 1;
            cell.push((day_key(grade, day), &f.casualties));
        }
    }
    let fine: Vec<((&str, &str), CellDays)> = rows
        .into_iter()
        .map(|(cell, mut rows)| {
            rows.sort_unstable_by_key(|r| r.0);
            let mut days: CellDays = Vec::new();
            for (key, casualties) in rows {
                match days.last_mut() {
                    Some((k, t)) if *k == key => t.add(casualties),
                    _ => {
                        let mut t = Totals::default();
                        t.add(casualties);
                        days.push((key, t));
                    }
                }
            }
            (cell, days)
        })
        .collect();
    let mut by_community: hashbrown::HashMap<&str, CellDays> = hashbrown::HashMap::new();
    let mut by_category: hashbrown::HashMap<&str, CellDays> = hashbrown::HashMap::new();
    for ((community, category), days) in &fine {
        by_community.entry(community).or_default().extend_from_slice(days);
        by_category.entry(category).or_default().extend_from_slice(days);
    }
    let by_community: Vec<(&str, CellDays)> = by_community.into_iter().map(|(c, d)| (c, sum_by_key(d))).collect();
    let everywhere = sum_by_key(by_community.iter().flat_map(|(_, days)| days.iter().copied()).collect());

    let mut all: Vec<((Option<&str>, Option<&str>), CellDays)> = Vec::new();
    all.extend(fine.into_iter().map(|((c, cat), d)| ((Some(c), Some(cat)), d)));
    all.extend(by_community.into_iter().map(|(c, d)| ((Some(c), None), d)));
    all.extend(by_category.into_iter().map(|(cat, d)| ((None, Some(cat)), sum_by_key(d))));
    all.push(((None, None), everywhere));
    let (mut cells, mut grade_cells) = (BTreeMap::new(), BTreeMap::new());
    let owned = |s: Option<&str>| s.map(str::to_string);
    for ((community, category), days) in all {
        for grade in days.chunk_by(|a, b| key_grade(a.0) == key_grade(b.0)) {
            let by_day: BTreeMap<NaiveDate, Totals> = grade.iter().map(|(k, t)| (key_day(*k), *t)).collect();
            let key = (owned(community), owned(category));
            match key_grade(grade[0].0) {
                0 => cells.insert(key, buckets_of(by_day)),
                g => grade_cells.insert((key.0, key.1, GRADES[usize::from(g - 1)]), buckets_of(by_day)),
            };
        }
    }
    (cells, grade_cells)
}

fn whole_years(since: NaiveDate, as_of: NaiveDate) -> u32 {
    let mut n = 0u32;
    while plus_years(since, n + 1).is_some_and(|d| d <= as_of) {
        n += 1;
    }
    n
}

impl AccidentStats {
    pub fn incident(&self, id: &str) -> Option<&IncidentFacts> {
        self.incidents.get(id)
    }

    pub fn community(&self, id: &str) -> Option<&CommunityFacts> {
        self.communities.get(id)
    }

    /// Statistics years (CST) with at least one incident, ascending (reads the all-area
    /// year buckets; a year whose only incident was revised away still has its incident).
    pub fn incident_years(&self) -> Vec<i32> {
        self.cells
            .get(&(None, None))
            .map(|b| b.years.iter().filter(|(_, t)| t.incidents > 0).map(|(y, _)| *y).collect())
            .unwrap_or_default()
    }

    /// The buckets of one cell (`None` for a cell without incidents).
    fn cell(&self, community: Option<&str>, category: Option<&str>) -> Option<&Buckets> {
        self.cells.get(&(community.map(str::to_string), category.map(str::to_string)))
    }

    /// The buckets of one grade cell (`None` for a cell without incidents of that grade).
    fn grade_cell(&self, community: Option<&str>, category: Option<&str>, grade: IncidentGrade) -> Option<&Buckets> {
        self.grade_cells.get(&(community.map(str::to_string), category.map(str::to_string), grade))
    }

    /// Figures of one cell over a period (0 for a cell without incidents).
    fn cell_sum(&self, community: Option<&str>, category: Option<&str>, period: Period) -> Totals {
        self.cell(community, category).map(|b| b.sum(period)).unwrap_or_default()
    }

    /// Figures of one grade cell over a period.
    fn grade_sum(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        grade: IncidentGrade,
        period: Period,
    ) -> Totals {
        self.grade_cell(community, category, grade).map(|b| b.sum(period)).unwrap_or_default()
    }

    /// Summed figures of the incidents the filter covers.
    pub fn totals(&self, filter: &StatsFilter) -> Totals {
        self.cell_sum(filter.community.as_deref(), filter.category.as_deref(), filter.period)
    }

    /// Category × community table for a period, ordered by category then community.
    pub fn breakdown(&self, period: Period) -> Vec<BreakdownRow> {
        let mut cells: BTreeMap<(&str, &str), Totals> = BTreeMap::new();
        for ((community, category), b) in &self.cells {
            if let (Some(community), Some(category)) = (community, category) {
                let t = b.sum(period);
                if t.incidents > 0 {
                    cells.insert((category, community), t);
                }
            }
        }
        cells
            .into_iter()
            .map(|((category, community_id), totals)| BreakdownRow {
                category: category.to_string(),
                community_id: community_id.to_string(),
                totals,
            })
            .collect()
    }

    /// Figures month by month (1–12) of a year, within the filter's category and community.
    pub fn by_month(&self, year: i32, category: Option<&str>, community: Option<&str>) -> Vec<(u32, Totals)> {
        (1..=12)
            .filter_map(|m| {
                let mut filter = StatsFilter::new(Period::month(year, m)?);
                filter.category = category.map(str::to_string);
                filter.community = community.map(str::to_string);
                Some((m, self.totals(&filter)))
            })
            .collect()
    }

    /// Figures day by day (CST dates) over a period, only the days with an incident (the
    /// cell's day buckets).
    pub fn by_day(&self, period: Period, category: Option<&str>, community: Option<&str>) -> Vec<(NaiveDate, Totals)> {
        match self.cell(community, category) {
            Some(b) if period.from <= period.to => {
                b.days.range(period.from..=period.to).map(|(d, t)| (*d, *t)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Figures by Decree 493 grade (graded categories only), most serious first (the
    /// all-area grade cells).
    pub fn by_grade(&self, period: Period) -> Vec<GradeRow> {
        GRADES
            .iter()
            .rev()
            .map(|&grade| GradeRow { grade, totals: self.grade_sum(None, None, grade, period) })
            .filter(|r| r.totals.incidents > 0)
            .collect()
    }

    /// Figures of `current` against `baseline`, grouped by category, community, month or grade,
    /// within an optional category and community. Category and community groups read the
    /// running totals, month groups the cell's month (and edge day) buckets, grade groups the
    /// grade cells. The total covers every matching incident, except by grade, where it covers
    /// the graded ones.
    pub fn compare(
        &self,
        current: Period,
        baseline: Period,
        by: GroupBy,
        category: Option<&str>,
        community: Option<&str>,
    ) -> Comparison {
        let mut groups: BTreeMap<String, (Totals, Totals)> = BTreeMap::new();
        match by {
            GroupBy::Category | GroupBy::Community => {
                for (c, cat) in self.cells.keys() {
                    let key = match by {
                        GroupBy::Category
                            if c.as_deref() == community && category.is_none_or(|x| Some(x) == cat.as_deref()) =>
                        {
                            cat
                        }
                        GroupBy::Community
                            if c.is_some()
                                && cat.as_deref() == category
                                && community.is_none_or(|x| Some(x) == c.as_deref()) =>
                        {
                            c
                        }
                        _ => continue,
                    };
                    let Some(key) = key else { continue };
                    let (community, category) = (c.as_deref(), cat.as_deref());
                    let b = self.cell_sum(community, category, baseline);
                    let n = self.cell_sum(community, category, current);
                    if b.incidents > 0 || n.incidents > 0 {
                        groups.insert(key.clone(), (b, n));
                    }
                }
            }
            GroupBy::Month => {
                if let Some(cell) = self.cell(community, category) {
                    let (mut b, mut n) = (BTreeMap::new(), BTreeMap::new());
                    cell.sum_by_month_of_year(baseline, &mut b);
                    cell.sum_by_month_of_year(current, &mut n);
                    for m in b.keys().chain(n.keys()).copied().collect::<BTreeSet<u32>>() {
                        let (b, n) = (b.get(&m).copied().unwrap_or_default(), n.get(&m).copied().unwrap_or_default());
                        if b.incidents > 0 || n.incidents > 0 {
                            groups.insert(format!("{m:02}"), (b, n));
                        }
                    }
                }
            }
            GroupBy::Grade => {
                for grade in GRADES {
                    let b = self.grade_sum(community, category, grade, baseline);
                    let n = self.grade_sum(community, category, grade, current);
                    if b.incidents > 0 || n.incidents > 0 {
                        groups.insert(grade_code(grade).to_string(), (b, n));
                    }
                }
            }
        }
        let (total_b, total_n) = match by {
            // Only graded categories have a grade: the total is theirs, not every incident's.
            GroupBy::Grade => {
                groups.values().fold((Totals::default(), Totals::default()), |(mut b, mut n), (gb, gn)| {
                    b.merge(gb);
                    n.merge(gn);
                    (b, n)
                })
            }
            _ => (self.cell_sum(community, category, baseline), self.cell_sum(community, category, current)),
        };
        Comparison {
            current,
            baseline,
            by,
            category: category.map(str::to_string),
            community: community.map(str::to_string),
            lines: groups.into_iter().map(|(k, (b, n))| ComparisonLine::new(Some(k), b, n)).collect(),
            total: ComparisonLine::new(None, total_b, total_n),
        }
    }

    /// The recorded denominators (GDP, workers, hours worked, work injury cases).
    pub fn denominators(&self) -> &Denominators {
        &self.denominators
    }

    /// TRIR, DART, LTIFR (per `ltifr_base` hours, e.g. 1,000,000) and the GB 6441 rates of one
    /// enterprise, or of all (`None`), over a period.
    pub fn work_injury_rates(&self, enterprise: Option<&str>, period: Period, ltifr_base: u64) -> WorkInjuryRates {
        self.denominators.work_injury_rates(enterprise, period, ltifr_base)
    }

    /// Deaths per 100 million yuan of GDP and work deaths per 100,000 industrial, mining and
    /// commercial workers for a year, over the communities (or the one community) that have the
    /// year's economic figures. Work deaths are those of incidents with a Decree 493 grade,
    /// i.e. of the production-safety categories.
    pub fn economic_rates(&self, year: i32, community: Option<&str>) -> Option<EconomicRates> {
        let period = Period::year(year)?;
        let (mut gdp, mut workers, mut deaths, mut work_deaths) = (0u64, 0u64, 0u64, 0u64);
        let mut communities = Vec::new();
        for (c, e) in self.denominators.communities_with_economy(year) {
            if community.is_some_and(|x| x != c) {
                continue;
            }
            gdp = gdp.saturating_add(e.gdp_10k_yuan);
            workers += u64::from(e.workers);
            deaths += self.cell_sum(Some(c), None, period).deaths;
            // Graded incidents are those of the production-safety categories.
            work_deaths += GRADES.iter().map(|g| self.grade_sum(Some(c), None, *g, period).deaths).sum::<u64>();
            communities.push(c.to_string());
        }
        // 1 亿元 = 10,000 万元.
        let gdp_100m = gdp as f64 / 10_000.0;
        Some(EconomicRates {
            year,
            community: community.map(str::to_string),
            deaths,
            work_deaths,
            gdp_10k_yuan: gdp,
            workers,
            communities,
            deaths_per_100m_yuan_gdp: (gdp > 0).then(|| deaths as f64 / gdp_100m),
            work_deaths_per_100k_workers: (workers > 0).then(|| work_deaths as f64 * 100_000.0 / workers as f64),
        })
    }

    /// Every incident's figures, by incident id.
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentFacts> {
        self.incidents.values()
    }

    /// Every registered community's facts, by community id.
    pub fn communities(&self) -> impl Iterator<Item = &CommunityFacts> {
        self.communities.values()
    }

    /// 同比: `year` against `year − 1`, per category and in total (optionally for one community).
    pub fn year_on_year(&self, year: i32, community: Option<&str>) -> Option<YearOnYear> {
        let prev_year = year.checked_sub(1)?;
        Period::year(year)?;
        Period::year(prev_year)?;
        let community_key = community.map(str::to_string);
        let mut categories = Vec::new();
        let (mut prev_total, mut cur_total) = (Totals::default(), Totals::default());
        let start = (community_key.clone(), None);
        for ((c, category), b) in self.cells.range(start..).take_while(|((c, _), _)| *c == community_key) {
            debug_assert!(*c == community_key);
            let p = b.years.get(&prev_year).copied().unwrap_or_default();
            let n = b.years.get(&year).copied().unwrap_or_default();
            match category {
                None => (prev_total, cur_total) = (p, n),
                Some(cat) if p.incidents > 0 || n.incidents > 0 => {
                    categories.push(YearOnYearLine::new(Some(cat.clone()), &p, &n));
                }
                Some(_) => {}
            }
        }
        Some(YearOnYear {
            year,
            community: community.map(str::to_string),
            categories,
            total: YearOnYearLine::new(None, &prev_total, &cur_total),
        })
    }

    /// Deaths and injuries per 100k population in force at the period's end.
    pub fn rate_per_100k(&self, period: Period, community: Option<&str>, category: Option<&str>) -> PopulationRate {
        let mut population = 0u64;
        let mut counted: BTreeSet<&str> = BTreeSet::new();
        for c in self.communities.values() {
            if community.is_some_and(|x| x != c.community_id) {
                continue;
            }
            if let Some(p) = c.population_on(period.to) {
                population += u64::from(p);
                counted.insert(&c.community_id);
            }
        }
        let (mut deaths, mut injuries) = (0u64, 0u64);
        for c in counted {
            let t = self.cell_sum(Some(c), category, period);
            deaths += t.deaths;
            injuries += t.injuries();
        }
        let per_100k = |n: u64| (population > 0).then(|| n as f64 * 100_000.0 / population as f64);
        PopulationRate {
            period,
            community: community.map(str::to_string),
            category: category.map(str::to_string),
            deaths,
            injuries,
            population,
            deaths_per_100k: per_100k(deaths),
            injuries_per_100k: per_100k(injuries),
        }
    }

    /// 控制指标消耗 vs 时序进度 for a community's year, as of a date in that year.
    pub fn indicator_consumption(&self, community_id: &str, as_of: NaiveDate) -> Option<IndicatorConsumption> {
        let year = as_of.year();
        let indicator = self.communities.get(community_id)?.indicators.get(&year)?;
        let days_in_year = NaiveDate::from_ymd_opt(year, 12, 31)?.ordinal();
        let elapsed_pct = f64::from(as_of.ordinal()) * 100.0 / f64::from(days_in_year);
        let from = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let so_far = Period { from, to: as_of };
        let total = self.cell_sum(Some(community_id), None, so_far).deaths;
        let line = |category: Option<String>, limit: u32, deaths: u64| {
            let consumption_pct = percent(deaths, u64::from(limit));
            IndicatorLine {
                category,
                limit,
                deaths_so_far: deaths,
                consumption_pct,
                ahead_of_time: consumption_pct.map_or(deaths > 0, |c| c > elapsed_pct),
            }
        };
        Some(IndicatorConsumption {
            community_id: community_id.to_string(),
            year,
            as_of,
            elapsed_pct,
            total: line(None, indicator.total_deaths, total),
            per_category: indicator
                .per_category
                .iter()
                .map(|(c, limit)| {
                    line(Some(c.clone()), *limit, self.cell_sum(Some(community_id), Some(c), so_far).deaths)
                })
                .collect(),
        })
    }

    /// The streak without a matching accident for a community (or the whole area, `None`) and
    /// category (or all), as of a date. `None` when there is nothing to count from.
    pub fn streak(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        rule: StreakRule,
        as_of: NaiveDate,
    ) -> Option<Streak> {
        let last_accident = self.last_breaking_day(community, category, rule, as_of);
        let registered = self
            .communities
            .values()
            .filter(|c| community.is_none_or(|x| x == c.community_id))
            .map(|c| c.registered_on)
            .min();
        let since = last_accident.or(registered.filter(|d| *d <= as_of))?;
        Some(Streak {
            community: community.map(str::to_string),
            category: category.map(str::to_string),
            rule,
            as_of,
            last_accident,
            since,
            days: (as_of - since).num_days(),
            whole_years: whole_years(since, as_of),
        })
    }

    /// CST day of the last accident on or before `as_of` that breaks a streak under `rule`:
    /// the cell's day buckets with a death, or the grade cells at or above the rule's grade
    /// with an incident, walked backwards coarse to fine ([`Buckets::last_day`]).
    fn last_breaking_day(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        rule: StreakRule,
        as_of: NaiveDate,
    ) -> Option<NaiveDate> {
        match rule {
            StreakRule::Fatal => self.cell(community, category)?.last_day(as_of, |t| t.deaths > 0),
            StreakRule::GradeAtLeast(min) => GRADES
                .iter()
                .filter(|g| **g >= min)
                .filter_map(|g| self.grade_cell(community, category, *g)?.last_day(as_of, |t| t.incidents > 0))
                .max(),
        }
    }

    /// Share of registered communities with a streak of at least `years` whole years
    /// (e.g. "87.5% of communities had no production fatality for three consecutive years").
    pub fn streak_share(&self, category: Option<&str>, rule: StreakRule, years: u32, as_of: NaiveDate) -> StreakShare {
        let mut communities = 0u64;
        let mut community_ids = Vec::new();
        for id in self.communities.keys() {
            communities += 1;
            if self.streak(Some(id), category, rule, as_of).is_some_and(|s| s.whole_years >= years) {
                community_ids.push(id.clone());
            }
        }
        let with_streak = community_ids.len() as u64;
        StreakShare { years, communities, with_streak, share_pct: percent(with_streak, communities), community_ids }
    }
}

impl Projection for AccidentStats {
    const NAME: &'static str = "accident_stats";
    /// 2: the snapshot holds the KPI denominators. 3: instants and dates as integers
    /// (`state_codec`).
    const VERSION: u32 = 3;

    fn wants(event_type: &str) -> bool {
        matches!(
            event_type,
            "incident.reported"
                | "incident.casualties_revised"
                | "incident.graded"
                | "community.registered"
                | "community.population_revised"
                | "community.control_indicator_set"
                | "community.economy_recorded"
                | "enterprise.work_hours_recorded"
                | "enterprise.work_injury_case_recorded"
        )
    }

    fn begin_bulk(&mut self) {
        if self.staged.is_none() {
            self.staged = Some(Staged::take(&mut self.incidents));
        }
    }

    fn end_bulk(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.incidents = staged.into_map();
            (self.cells, self.grade_cells) = build_cells(&self.incidents);
        }
    }

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        match event {
            DomainEvent::Incident(e) => self.apply_incident(e),
            DomainEvent::Community(e) => {
                self.denominators.apply_community(e);
                self.apply_community(e);
            }
            DomainEvent::Enterprise(e) => self.denominators.apply_enterprise(e),
            _ => {}
        }
    }
}

impl AccidentStats {
    fn apply_incident(&mut self, e: &IncidentEvent) {
        if let IncidentEvent::Reported(r) = e {
            let facts = |incident_id| IncidentFacts {
                incident_id,
                community_id: r.community_id.as_str().to_string(),
                enterprise_id: r.enterprise_id.as_ref().map(|x| x.as_str().to_string()),
                category: r.category.clone(),
                occurred_at: r.occurred_at,
                casualties: Casualties {
                    deaths: r.deaths,
                    serious_injuries: r.serious_injuries,
                    minor_injuries: r.minor_injuries,
                    missing: r.missing,
                    direct_loss_yuan: r.direct_loss_yuan,
                },
                grade: None,
            };
            if let Some(staged) = &mut self.staged {
                staged.insert_new(r.incident_id.as_str(), facts);
            } else if let std::collections::btree_map::Entry::Vacant(slot) =
                self.incidents.entry(r.incident_id.as_str().to_string())
            {
                let f = slot.insert(facts(r.incident_id.as_str().to_string()));
                account(&mut self.cells, f, true);
                account_grade(&mut self.grade_cells, f, true);
            }
            return;
        }
        let id = match e {
            IncidentEvent::CasualtiesRevised(r) => &r.incident_id,
            IncidentEvent::Graded(g) => &g.incident_id,
            _ => return,
        };
        // In a bulk fold the cells are built at its end: only the facts move.
        let (f, cells) = match &mut self.staged {
            Some(staged) => (staged.get_mut(id.as_str()), None),
            None => (self.incidents.get_mut(id.as_str()), Some((&mut self.cells, &mut self.grade_cells))),
        };
        let Some(f) = f else { return };
        match e {
            IncidentEvent::CasualtiesRevised(r) => {
                let casualties = Casualties {
                    deaths: r.deaths,
                    serious_injuries: r.serious_injuries,
                    minor_injuries: r.minor_injuries,
                    missing: r.missing,
                    direct_loss_yuan: r.direct_loss_yuan,
                };
                match cells {
                    Some((cells, grade_cells)) => {
                        account(cells, f, false);
                        account_grade(grade_cells, f, false);
                        f.casualties = casualties;
                        account(cells, f, true);
                        account_grade(grade_cells, f, true);
                    }
                    None => f.casualties = casualties,
                }
            }
            IncidentEvent::Graded(g) => match cells {
                Some((_, grade_cells)) => {
                    account_grade(grade_cells, f, false);
                    f.grade = Some(g.grade);
                    account_grade(grade_cells, f, true);
                }
                None => f.grade = Some(g.grade),
            },
            _ => {}
        }
    }

    fn apply_community(&mut self, e: &CommunityEvent) {
        match e {
            CommunityEvent::Registered(r) => {
                let mut facts = CommunityFacts {
                    community_id: r.community_id.as_str().to_string(),
                    name: r.name.clone(),
                    registered_on: cst_date(r.recorded_at),
                    populations: Vec::new(),
                    indicators: BTreeMap::new(),
                };
                facts.set_population(r.population_as_of, r.population);
                self.communities.entry(facts.community_id.clone()).or_insert(facts);
            }
            CommunityEvent::PopulationRevised(p) => {
                if let Some(c) = self.communities.get_mut(p.community_id.as_str()) {
                    c.set_population(p.as_of, p.population);
                }
            }
            CommunityEvent::ControlIndicatorSet(i) => {
                if let Some(c) = self.communities.get_mut(i.community_id.as_str()) {
                    c.indicators.insert(
                        i.year,
                        ControlIndicator {
                            total_deaths: i.total_deaths,
                            per_category: i.per_category.iter().map(|l| (l.category.clone(), l.deaths)).collect(),
                            set_on: i.set_on,
                            set_by: i.set_by.clone(),
                        },
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_keys_keep_grade_and_date_and_sort_by_grade_then_date() {
        let days = [NaiveDate::MIN, day(-1, 12, 31), day(1, 1, 1), day(2024, 2, 29), day(2024, 3, 1), NaiveDate::MAX];
        let mut keys = Vec::new();
        for grade in [0u8, 1, 4] {
            for d in days {
                let key = day_key(grade, d);
                assert_eq!((key_grade(key), key_day(key)), (grade, d));
                keys.push(((grade, d), key));
            }
        }
        let mut by_parts = keys.clone();
        by_parts.sort_by_key(|(parts, _)| *parts);
        keys.sort_by_key(|(_, key)| *key);
        assert_eq!(keys, by_parts);
    }

    /// Hand-built: two categories in two communities over 2024 and 2025; the figures of each
    /// grouping are worked out below from the five incidents.
    #[test]
    fn compare_groups_two_periods_by_category_community_month_and_grade() {
        let mut s = AccidentStats::default();
        let mut put =
            |id: &str, community: &str, category: &str, at: &str, deaths: u32, grade: Option<IncidentGrade>| {
                let f = IncidentFacts {
                    incident_id: id.into(),
                    community_id: community.into(),
                    enterprise_id: None,
                    category: category.into(),
                    occurred_at: at.parse().unwrap(),
                    casualties: Casualties {
                        deaths,
                        serious_injuries: 1,
                        minor_injuries: 0,
                        missing: 0,
                        direct_loss_yuan: 100,
                    },
                    grade,
                };
                account(&mut s.cells, &f, true);
                account_grade(&mut s.grade_cells, &f, true);
                s.incidents.insert(id.into(), f);
            };
        put("a", "c1", "fire", "2024-03-10T02:00:00Z", 1, Some(IncidentGrade::Ordinary));
        put("b", "c2", "fire", "2024-07-01T02:00:00Z", 3, Some(IncidentGrade::RelativelySerious));
        put("c", "c1", "road_traffic", "2025-03-05T02:00:00Z", 2, None);
        put("d", "c1", "fire", "2025-03-20T02:00:00Z", 0, Some(IncidentGrade::Ordinary));
        // 2025-12-31T20:00Z is 2026-01-01 in CST: outside both years.
        put("e", "c2", "fire", "2025-12-31T20:00:00Z", 9, None);
        let (y24, y25) = (Period::year(2024).unwrap(), Period::year(2025).unwrap());

        let by_cat = s.compare(y25, y24, GroupBy::Category, None, None);
        let fire = &by_cat.lines[0];
        assert_eq!((fire.key.as_deref(), fire.baseline.deaths, fire.current.deaths), (Some("fire"), 4, 0));
        assert_eq!((fire.deaths.absolute, fire.deaths.percent), (-4, Some(-100.0)));
        let road = &by_cat.lines[1];
        assert_eq!(
            (road.key.as_deref(), road.baseline.incidents, road.current.incidents),
            (Some("road_traffic"), 0, 1)
        );
        assert_eq!(road.deaths.percent, None);
        assert_eq!((by_cat.total.baseline.incidents, by_cat.total.current.incidents), (2, 2));
        assert_eq!((by_cat.total.baseline.deaths, by_cat.total.current.deaths), (4, 2));

        let by_comm = s.compare(y25, y24, GroupBy::Community, Some("fire"), None);
        let keys: Vec<_> =
            by_comm.lines.iter().map(|l| (l.key.clone().unwrap(), l.baseline.deaths, l.current.incidents)).collect();
        assert_eq!(keys, vec![("c1".to_string(), 1, 1), ("c2".to_string(), 3, 0)]);
        assert_eq!(by_comm.total.baseline.deaths, 4);

        let by_month = s.compare(y25, y24, GroupBy::Month, None, Some("c1"));
        let months: Vec<_> = by_month
            .lines
            .iter()
            .map(|l| (l.key.clone().unwrap(), l.baseline.incidents, l.current.incidents))
            .collect();
        assert_eq!(months, vec![("03".to_string(), 1, 2)]);

        let by_grade = s.compare(y25, y24, GroupBy::Grade, None, None);
        let grades: Vec<_> = by_grade
            .lines
            .iter()
            .map(|l| (l.key.clone().unwrap(), l.baseline.incidents, l.current.incidents))
            .collect();
        assert_eq!(grades, vec![("ordinary".to_string(), 1, 1), ("relatively_serious".to_string(), 1, 0)]);
        // Incident c is not graded: the grade total leaves it out.
        assert_eq!((by_grade.total.baseline.incidents, by_grade.total.current.incidents), (2, 1));
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn facts(id: &str, community: &str, category: &str, at: &str, deaths: u32) -> IncidentFacts {
        IncidentFacts {
            incident_id: id.to_string(),
            community_id: community.to_string(),
            enterprise_id: None,
            category: category.to_string(),
            occurred_at: at.parse().unwrap(),
            casualties: Casualties { deaths, serious_injuries: 0, minor_injuries: 1, missing: 0, direct_loss_yuan: 0 },
            grade: None,
        }
    }

    /// The years listed are the CST years holding an incident, ascending; communities by id.
    #[test]
    fn incident_years_and_communities_list_what_the_state_holds() {
        let mut s = AccidentStats::default();
        assert!(s.incident_years().is_empty());
        // 2023-12-31T17:00Z is 2024-01-01 01:00 CST: it belongs to 2024.
        for f in [
            facts("a", "c2", "fire", "2023-12-31T17:00:00Z", 1),
            facts("b", "c1", "production", "2021-05-01T02:00:00Z", 0),
            facts("c", "c1", "fire", "2024-03-01T02:00:00Z", 2),
        ] {
            account(&mut s.cells, &f, true);
            s.incidents.insert(f.incident_id.clone(), f);
        }
        assert_eq!(s.incident_years(), [2021, 2024]);
        for id in ["c2", "c1"] {
            s.communities.insert(
                id.to_string(),
                CommunityFacts {
                    community_id: id.to_string(),
                    name: format!("name {id}"),
                    registered_on: day(2020, 1, 1),
                    populations: Vec::new(),
                    indicators: BTreeMap::new(),
                },
            );
        }
        assert_eq!(s.communities().map(|c| c.community_id.as_str()).collect::<Vec<_>>(), ["c1", "c2"]);
    }

    /// Summing a period from year, month and day buckets gives what a scan of the days gives,
    /// for periods that start and end inside months, on month and year edges, and span years.
    #[test]
    fn bucket_sums_equal_a_scan_of_the_days() {
        let mut b = Buckets::default();
        let mut facts: Vec<(NaiveDate, Casualties)> = Vec::new();
        // Irregular days over 2022–2026, one to three incidents each.
        let mut d = day(2022, 1, 1);
        let mut n = 0u32;
        while d <= day(2026, 12, 31) {
            for k in 0..(n % 3 + 1) {
                let c = Casualties {
                    deaths: (n + k) % 4,
                    serious_injuries: n % 2,
                    minor_injuries: k,
                    missing: u32::from(n % 11 == 0),
                    direct_loss_yuan: u64::from(n) * 10,
                };
                b.put(d, &c, true);
                facts.push((d, c));
            }
            n += 1;
            d += chrono::Duration::days(i64::from(n % 9 + 1));
        }
        // A revision: take one out and put it back changed.
        let (rd, old) = facts[7];
        let new = Casualties { deaths: old.deaths + 5, ..old };
        b.put(rd, &old, false);
        b.put(rd, &new, true);
        facts[7].1 = new;
        let periods = [
            Period { from: NaiveDate::MIN, to: NaiveDate::MAX },
            Period::year(2024).unwrap(),
            Period::quarter(2023, 4).unwrap(),
            Period::month(2025, 2).unwrap(),
            Period { from: day(2022, 3, 15), to: day(2025, 7, 3) },
            Period { from: day(2023, 1, 1), to: day(2024, 12, 30) },
            Period { from: day(2023, 1, 2), to: day(2024, 12, 31) },
            Period { from: day(2023, 2, 1), to: day(2023, 11, 30) },
            Period { from: day(2023, 2, 10), to: day(2023, 2, 20) },
            Period { from: day(2023, 5, 31), to: day(2023, 6, 1) },
            Period { from: day(2024, 12, 31), to: day(2025, 1, 1) },
            Period { from: day(2021, 1, 1), to: day(2022, 1, 31) },
            Period { from: day(2024, 3, 1), to: day(2024, 2, 1) },
        ];
        for p in periods {
            let mut want = Totals::default();
            for (d, c) in &facts {
                if p.contains(*d) {
                    want.add(c);
                }
            }
            assert_eq!(b.sum(p), want, "period {p:?}");
        }
        assert_eq!(b.sum(periods[0]).deaths, facts.iter().map(|(_, c)| u64::from(c.deaths)).sum::<u64>());
    }

    /// The straightforward scans the indexes replace; the proptest below checks that every
    /// indexed query answers what its scan answers, over random histories of reports,
    /// casualty revisions and (re)gradings.
    mod indexed_equals_scan {
        use super::*;
        use crate::events::incident::{CasualtiesRevised, IncidentGraded, IncidentReported};
        use crate::events::EntityId;
        use proptest::prelude::*;

        fn scan_by_grade(s: &AccidentStats, period: Period) -> Vec<GradeRow> {
            let filter = StatsFilter::new(period);
            let mut rows: BTreeMap<IncidentGrade, Totals> = BTreeMap::new();
            for f in s.incidents.values().filter(|f| filter.matches(f)) {
                if let Some(g) = f.grade {
                    rows.entry(g).or_default().add(&f.casualties);
                }
            }
            rows.into_iter().rev().map(|(grade, totals)| GradeRow { grade, totals }).collect()
        }

        fn scan_by_day(
            s: &AccidentStats,
            period: Period,
            category: Option<&str>,
            community: Option<&str>,
        ) -> Vec<(NaiveDate, Totals)> {
            let mut filter = StatsFilter::new(period);
            filter.category = category.map(str::to_string);
            filter.community = community.map(str::to_string);
            let mut days: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
            for f in s.incidents.values().filter(|f| filter.matches(f)) {
                days.entry(f.day()).or_default().add(&f.casualties);
            }
            days.into_iter().collect()
        }

        /// Month and grade groups by a scan of every incident (the code the indexes replaced).
        fn scan_compare(
            s: &AccidentStats,
            current: Period,
            baseline: Period,
            by: GroupBy,
            category: Option<&str>,
            community: Option<&str>,
        ) -> Comparison {
            let mut groups: BTreeMap<String, (Totals, Totals)> = BTreeMap::new();
            let (mut all_b, mut all_n) = (Totals::default(), Totals::default());
            for f in s.incidents.values() {
                if category.is_some_and(|c| c != f.category) || community.is_some_and(|c| c != f.community_id) {
                    continue;
                }
                let day = f.day();
                let (in_baseline, in_current) = (baseline.contains(day), current.contains(day));
                if in_baseline {
                    all_b.add(&f.casualties);
                }
                if in_current {
                    all_n.add(&f.casualties);
                }
                let key = match by {
                    GroupBy::Month => format!("{:02}", day.month()),
                    _ => match f.grade {
                        Some(g) => grade_code(g).to_string(),
                        None => continue,
                    },
                };
                if in_baseline || in_current {
                    let entry = groups.entry(key).or_default();
                    if in_baseline {
                        entry.0.add(&f.casualties);
                    }
                    if in_current {
                        entry.1.add(&f.casualties);
                    }
                }
            }
            let (total_b, total_n) = match by {
                GroupBy::Grade => {
                    groups.values().fold((Totals::default(), Totals::default()), |(mut b, mut n), (gb, gn)| {
                        b.merge(gb);
                        n.merge(gn);
                        (b, n)
                    })
                }
                _ => (all_b, all_n),
            };
            Comparison {
                current,
                baseline,
                by,
                category: category.map(str::to_string),
                community: community.map(str::to_string),
                lines: groups.into_iter().map(|(k, (b, n))| ComparisonLine::new(Some(k), b, n)).collect(),
                total: ComparisonLine::new(None, total_b, total_n),
            }
        }

        fn scan_last_breaking_day(
            s: &AccidentStats,
            community: Option<&str>,
            category: Option<&str>,
            rule: StreakRule,
            as_of: NaiveDate,
        ) -> Option<NaiveDate> {
            s.incidents
                .values()
                .filter(|f| community.is_none_or(|c| c == f.community_id))
                .filter(|f| category.is_none_or(|c| c == f.category))
                .filter(|f| f.day() <= as_of && rule.breaks(f))
                .map(IncidentFacts::day)
                .max()
        }

        #[derive(Debug, Clone)]
        enum Op {
            Report { community: u8, category: u8, hours: u32, deaths: u32, serious: u32, loss: u64 },
            Revise { pick: usize, deaths: u32, serious: u32, loss: u64 },
            Grade { pick: usize, grade: usize },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                5 => (0u8..3, 0u8..3, 0u32..(1300 * 24), 0u32..4, 0u32..3, 0u64..500).prop_map(
                    |(community, category, hours, deaths, serious, loss)| Op::Report {
                        community,
                        category,
                        hours,
                        deaths,
                        serious,
                        loss
                    }
                ),
                2 => (any::<usize>(), 0u32..4, 0u32..3, 0u64..500)
                    .prop_map(|(pick, deaths, serious, loss)| Op::Revise { pick, deaths, serious, loss }),
                3 => (any::<usize>(), 0usize..4).prop_map(|(pick, grade)| Op::Grade { pick, grade }),
            ]
        }

        fn eid(s: &str) -> EntityId {
            EntityId::new(s).unwrap()
        }

        /// Folds the operations through `apply_incident`, as the log would.
        fn build(ops: &[Op]) -> AccidentStats {
            build_in(ops, false)
        }

        /// [`build`], as a bulk fold or not.
        fn build_in(ops: &[Op], bulk: bool) -> AccidentStats {
            let base: DateTime<Utc> = "2023-01-01T00:00:00Z".parse().unwrap();
            let mut s = AccidentStats::default();
            if bulk {
                s.begin_bulk();
            }
            let mut n = 0usize;
            for op in ops {
                let e = match *op {
                    Op::Report { community, category, hours, deaths, serious, loss } => {
                        n += 1;
                        let at = base + chrono::Duration::hours(i64::from(hours));
                        IncidentEvent::Reported(IncidentReported {
                            incident_id: eid(&format!("i{n}")),
                            recorded_by: eid("t"),
                            recorded_at: at,
                            occurred_at: at,
                            reported_at: at,
                            place: "p".into(),
                            community_id: eid(&format!("c{community}")),
                            enterprise_id: None,
                            category: format!("cat{category}"),
                            deaths,
                            serious_injuries: serious,
                            minor_injuries: 1,
                            missing: deaths % 2,
                            direct_loss_yuan: loss,
                            summary: "s".into(),
                            report_delay_minutes: 0,
                            report_limit_minutes: 60,
                            reported_late: false,
                        })
                    }
                    _ if n == 0 => continue,
                    Op::Revise { pick, deaths, serious, loss } => IncidentEvent::CasualtiesRevised(CasualtiesRevised {
                        incident_id: eid(&format!("i{}", pick % n + 1)),
                        recorded_by: eid("t"),
                        recorded_at: base,
                        deaths,
                        serious_injuries: serious,
                        minor_injuries: 0,
                        missing: 0,
                        direct_loss_yuan: loss,
                        reason: "r".into(),
                        days_after_accident: 1,
                        window_days: 30,
                        late: false,
                    }),
                    Op::Grade { pick, grade } => IncidentEvent::Graded(IncidentGraded {
                        incident_id: eid(&format!("i{}", pick % n + 1)),
                        recorded_by: eid("t"),
                        recorded_at: base,
                        grade: GRADES[grade],
                        previous_grade: None,
                        deaths_counted: 0,
                        missing_counted_as_dead: false,
                        serious_injuries: 0,
                        direct_loss_yuan: 0,
                        decided_by: Vec::new(),
                    }),
                };
                s.apply_incident(&e);
            }
            s.end_bulk();
            s
        }

        fn period((from, len): (u32, u32)) -> Period {
            let base = day(2022, 12, 1);
            let from = base + chrono::Duration::days(i64::from(from));
            Period { from, to: from + chrono::Duration::days(i64::from(len)) - chrono::Duration::days(3) }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            #[test]
            fn indexed_queries_answer_what_a_scan_answers(
                ops in proptest::collection::vec(op(), 0..160),
                raw_periods in proptest::collection::vec((0u32..1400, 0u32..900), 4),
                as_of in proptest::collection::vec(0u32..1400, 3),
            ) {
                let s = build(&ops);
                // A bulk fold and a snapshot load end with the same cells as a fold event by event.
                prop_assert_eq!(&build_in(&ops, true), &s);
                let loaded: AccidentStats = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
                prop_assert_eq!(&loaded, &s);
                let mut periods: Vec<Period> = raw_periods.into_iter().map(period).collect();
                periods.push(Period { from: NaiveDate::MIN, to: NaiveDate::MAX });
                periods.extend((2023..=2026).filter_map(Period::year));
                periods.push(Period::month(2024, 2).unwrap());
                let communities = [None, Some("c1"), Some("c9")];
                let categories = [None, Some("cat0")];
                for (i, p) in periods.iter().enumerate() {
                    prop_assert_eq!(s.by_grade(*p), scan_by_grade(&s, *p));
                    let q = periods[(i + 1) % periods.len()];
                    for community in communities {
                        for category in categories {
                            prop_assert_eq!(
                                s.by_day(*p, category, community),
                                scan_by_day(&s, *p, category, community)
                            );
                            for by in [GroupBy::Month, GroupBy::Grade] {
                                prop_assert_eq!(
                                    s.compare(*p, q, by, category, community),
                                    scan_compare(&s, *p, q, by, category, community)
                                );
                            }
                        }
                    }
                }
                let mut days: Vec<NaiveDate> =
                    as_of.into_iter().map(|d| day(2022, 12, 1) + chrono::Duration::days(i64::from(d))).collect();
                days.extend(s.incidents.values().take(5).map(IncidentFacts::day));
                let rules = [StreakRule::Fatal].into_iter().chain(GRADES.iter().map(|g| StreakRule::GradeAtLeast(*g)));
                for rule in rules {
                    for as_of in &days {
                        for community in communities {
                            for category in categories {
                                prop_assert_eq!(
                                    s.last_breaking_day(community, category, rule, *as_of),
                                    scan_last_breaking_day(&s, community, category, rule, *as_of),
                                    "{:?} {:?} {:?} {}", rule, community, category, as_of
                                );
                            }
                        }
                    }
                }
                // `economic_rates`' work deaths: graded incidents of a community in a year.
                for c in ["c0", "c1", "c2"] {
                    for p in (2022..=2027).filter_map(Period::year) {
                        let indexed: u64 = GRADES.iter().map(|g| s.grade_sum(Some(c), None, *g, p).deaths).sum();
                        let scanned: u64 = s
                            .incidents
                            .values()
                            .filter(|f| f.grade.is_some() && p.contains(f.day()) && f.community_id == c)
                            .map(|f| u64::from(f.casualties.deaths))
                            .sum();
                        prop_assert_eq!(indexed, scanned);
                    }
                }
                // The indexes a snapshot load recomputes equal the live ones (emptied buckets
                // and cells were removed as they emptied).
                let bytes = crate::codec::encode(&s).unwrap();
                let loaded: AccidentStats = crate::codec::decode(&bytes).unwrap();
                prop_assert_eq!(&loaded, &s);
            }
        }
    }
}
