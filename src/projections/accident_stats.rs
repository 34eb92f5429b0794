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

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{percent, Period, Projection};
use crate::domain::community::CommunityEvent;
use crate::domain::incident::{Casualties, IncidentEvent, IncidentGrade};
use crate::domain::time::{cst_date, plus_years};
use crate::domain::DomainEvent;
use crate::store::RecordedEvent;

/// One incident's figures, as last reported or revised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    pub incident_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    pub occurred_at: DateTime<Utc>,
    pub casualties: Casualties,
    /// Decree 493 grade, for graded categories.
    pub grade: Option<IncidentGrade>,
}

impl IncidentFacts {
    fn day(&self) -> NaiveDate {
        cst_date(self.occurred_at)
    }
}

/// A dated population figure (常住人口).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationFigure {
    pub as_of: NaiveDate,
    pub population: u32,
}

/// A control indicator (控制指标) for one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlIndicator {
    pub total_deaths: u32,
    pub per_category: BTreeMap<String, u32>,
    pub set_on: NaiveDate,
    pub set_by: String,
}

/// What the statistics keep about a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityFacts {
    pub community_id: String,
    pub name: String,
    /// CST date the community was registered.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccidentStats {
    incidents: BTreeMap<String, IncidentFacts>,
    communities: BTreeMap<String, CommunityFacts>,
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

    fn matching<'a>(&'a self, filter: &'a StatsFilter) -> impl Iterator<Item = &'a IncidentFacts> + 'a {
        self.incidents.values().filter(move |f| filter.matches(f))
    }

    /// Summed figures of the incidents the filter covers.
    pub fn totals(&self, filter: &StatsFilter) -> Totals {
        let mut t = Totals::default();
        for f in self.matching(filter) {
            t.add(&f.casualties);
        }
        t
    }

    /// Category × community table for a period, ordered by category then community.
    pub fn breakdown(&self, period: Period) -> Vec<BreakdownRow> {
        let filter = StatsFilter::new(period);
        let mut cells: BTreeMap<(String, String), Totals> = BTreeMap::new();
        for f in self.matching(&filter) {
            cells.entry((f.category.clone(), f.community_id.clone())).or_default().add(&f.casualties);
        }
        cells
            .into_iter()
            .map(|((category, community_id), totals)| BreakdownRow { category, community_id, totals })
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

    /// Figures day by day (CST dates) over a period, only the days with an incident.
    pub fn by_day(&self, period: Period, category: Option<&str>, community: Option<&str>) -> Vec<(NaiveDate, Totals)> {
        let mut filter = StatsFilter::new(period);
        filter.category = category.map(str::to_string);
        filter.community = community.map(str::to_string);
        let mut days: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
        for f in self.matching(&filter) {
            days.entry(f.day()).or_default().add(&f.casualties);
        }
        days.into_iter().collect()
    }

    /// Figures by Decree 493 grade (graded categories only), most serious first.
    pub fn by_grade(&self, period: Period) -> Vec<GradeRow> {
        let filter = StatsFilter::new(period);
        let mut rows: BTreeMap<IncidentGrade, Totals> = BTreeMap::new();
        for f in self.matching(&filter) {
            if let Some(g) = f.grade {
                rows.entry(g).or_default().add(&f.casualties);
            }
        }
        rows.into_iter().rev().map(|(grade, totals)| GradeRow { grade, totals }).collect()
    }

    /// 同比: `year` against `year − 1`, per category and in total (optionally for one community).
    pub fn year_on_year(&self, year: i32, community: Option<&str>) -> Option<YearOnYear> {
        let cur = Period::year(year)?;
        let prev = Period::year(year.checked_sub(1)?)?;
        let mut per: BTreeMap<String, (Totals, Totals)> = BTreeMap::new();
        let (mut prev_total, mut cur_total) = (Totals::default(), Totals::default());
        for f in self.incidents.values() {
            if community.is_some_and(|c| c != f.community_id) {
                continue;
            }
            let day = f.day();
            if prev.contains(day) {
                per.entry(f.category.clone()).or_default().0.add(&f.casualties);
                prev_total.add(&f.casualties);
            } else if cur.contains(day) {
                per.entry(f.category.clone()).or_default().1.add(&f.casualties);
                cur_total.add(&f.casualties);
            }
        }
        Some(YearOnYear {
            year,
            community: community.map(str::to_string),
            categories: per.into_iter().map(|(c, (p, n))| YearOnYearLine::new(Some(c), &p, &n)).collect(),
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
        for f in self.incidents.values() {
            let in_scope = period.contains(f.day())
                && counted.contains(&f.community_id.as_str())
                && category.is_none_or(|c| c == f.category);
            if in_scope {
                deaths += u64::from(f.casualties.deaths);
                injuries += u64::from(f.casualties.serious_injuries) + u64::from(f.casualties.minor_injuries);
            }
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
        let so_far =
            StatsFilter { period: Period { from, to: as_of }, category: None, community: Some(community_id.into()) };
        let mut by_cat: BTreeMap<&str, u64> = BTreeMap::new();
        let mut total = 0u64;
        for f in self.matching(&so_far) {
            total += u64::from(f.casualties.deaths);
            *by_cat.entry(f.category.as_str()).or_default() += u64::from(f.casualties.deaths);
        }
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
                .map(|(c, limit)| line(Some(c.clone()), *limit, by_cat.get(c.as_str()).copied().unwrap_or(0)))
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
        let last_accident = self
            .incidents
            .values()
            .filter(|f| community.is_none_or(|c| c == f.community_id))
            .filter(|f| category.is_none_or(|c| c == f.category))
            .filter(|f| f.day() <= as_of && rule.breaks(f))
            .map(IncidentFacts::day)
            .max();
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
    const VERSION: u32 = 1;

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        match event {
            DomainEvent::Incident(e) => self.apply_incident(e),
            DomainEvent::Community(e) => self.apply_community(e),
            _ => {}
        }
    }
}

impl AccidentStats {
    fn apply_incident(&mut self, e: &IncidentEvent) {
        match e {
            IncidentEvent::Reported(r) => {
                self.incidents.entry(r.incident_id.as_str().to_string()).or_insert_with(|| IncidentFacts {
                    incident_id: r.incident_id.as_str().to_string(),
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
                });
            }
            IncidentEvent::CasualtiesRevised(r) => {
                if let Some(f) = self.incidents.get_mut(r.incident_id.as_str()) {
                    f.casualties = Casualties {
                        deaths: r.deaths,
                        serious_injuries: r.serious_injuries,
                        minor_injuries: r.minor_injuries,
                        missing: r.missing,
                        direct_loss_yuan: r.direct_loss_yuan,
                    };
                }
            }
            IncidentEvent::Graded(g) => {
                if let Some(f) = self.incidents.get_mut(g.incident_id.as_str()) {
                    f.grade = Some(g.grade);
                }
            }
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
