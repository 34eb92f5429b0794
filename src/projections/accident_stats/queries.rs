//! The statistics' queries: totals for a filter, breakdowns by category × community, by month,
//! day and grade, comparisons of two periods (同比, 环比), rates per 100k population, control-
//! indicator consumption and the KPIs on the denominators; each reads a handful of buckets.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::facts::{grade_code, CommunityFacts, IncidentFacts, Totals};
use super::index::{Buckets, GRADES};
use super::state::AccidentStats;
use crate::events::incident::IncidentGrade;
use crate::projections::kpis::{Denominators, EconomicRates, WorkInjuryRates};
use crate::projections::{percent, Period};

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
    pub(super) fn matches(&self, f: &IncidentFacts) -> bool {
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
    pub(super) fn new(category: Option<String>, prev: &Totals, cur: &Totals) -> Self {
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
    pub(super) fn new(key: Option<String>, baseline: Totals, current: Totals) -> Self {
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
    pub(super) fn cell(&self, community: Option<&str>, category: Option<&str>) -> Option<&Buckets> {
        self.cells.get(&(community.map(str::to_string), category.map(str::to_string)))
    }

    /// The buckets of one grade cell (`None` for a cell without incidents of that grade).
    pub(super) fn grade_cell(
        &self,
        community: Option<&str>,
        category: Option<&str>,
        grade: IncidentGrade,
    ) -> Option<&Buckets> {
        self.grade_cells.get(&(community.map(str::to_string), category.map(str::to_string), grade))
    }

    /// Figures of one cell over a period (0 for a cell without incidents).
    pub(super) fn cell_sum(&self, community: Option<&str>, category: Option<&str>, period: Period) -> Totals {
        self.cell(community, category).map(|b| b.sum(period)).unwrap_or_default()
    }

    /// Figures of one grade cell over a period.
    pub(super) fn grade_sum(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::incident::Casualties;
    use crate::projections::accident_stats::index::{account, account_grade};

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
}
