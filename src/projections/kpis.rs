//! Denominators and the KPIs built on them (DESIGN.md §3): deaths per 100 million yuan of GDP
//! and per 100,000 industrial, mining and commercial workers (亿元GDP死亡率, 工矿商贸十万从业人员
//! 死亡率), and the enterprise work-injury rates TRIR, DART, LTIFR and the GB 6441 injury rate
//! per million hours and per thousand workers (千人负伤率).
//!
//! Invariants and definitions:
//! - Denominators are dated events; the latest record for a community-year or an
//!   enterprise-month replaces the earlier one, so a replay reproduces a published figure.
//! - A period's hours are those of the months whose first day lies in the period; its cases are
//!   those whose `occurred_on` lies in it. A rate is `None` when its denominator is 0.
//! - Recordable = every class; DART = days away + restricted or transfer; lost-time (LTI) =
//!   deaths + days away.
//! - State is ordered (`BTreeMap`), so a rebuild is byte-identical to the live state.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Period;
use crate::events::community::CommunityEvent;
use crate::events::enterprise::{EnterpriseEvent, WorkCaseClass};

/// A community's economic figures of one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Economy {
    /// GDP in 10,000 yuan (万元).
    pub gdp_10k_yuan: u64,
    /// Industrial, mining and commercial workers (工矿商贸从业人员).
    pub workers: u32,
    pub source: String,
}

/// One month of an enterprise's hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthHours {
    pub hours_worked: u64,
    pub headcount: u32,
}

/// One case of an enterprise's work injury log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCase {
    #[serde(with = "super::state_codec::date")]
    pub occurred_on: NaiveDate,
    pub class: WorkCaseClass,
    pub days_away: u32,
    pub restricted_days: u32,
}

/// An enterprise's hours by (year, month) and its cases by case id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkLog {
    pub hours: BTreeMap<(i32, u32), MonthHours>,
    pub cases: BTreeMap<String, WorkCase>,
}

/// The recorded denominators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denominators {
    /// By community, then statistics year.
    economies: BTreeMap<String, BTreeMap<i32, Economy>>,
    /// By enterprise.
    enterprises: BTreeMap<String, WorkLog>,
}

/// Work-injury rates of one enterprise (or all, `enterprise = None`) over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkInjuryRates {
    pub enterprise: Option<String>,
    pub period: Period,
    pub hours_worked: u64,
    /// Mean of the months' headcounts.
    pub average_headcount: Option<f64>,
    pub recordable_cases: u64,
    pub deaths: u64,
    pub days_away_cases: u64,
    pub restricted_cases: u64,
    pub lost_workdays: u64,
    /// Recordable × 200,000 ÷ hours.
    pub trir: Option<f64>,
    /// (Days away + restricted or transfer) × 200,000 ÷ hours.
    pub dart: Option<f64>,
    /// Lost-time injuries × `ltifr_base` ÷ hours.
    pub ltifr: Option<f64>,
    pub ltifr_base: u64,
    /// GB 6441: injured persons × 1,000,000 ÷ hours (百万工时伤害率).
    pub injuries_per_million_hours: Option<f64>,
    /// GB 6441: injured persons × 1,000 ÷ average headcount (千人负伤率).
    pub injuries_per_1000_workers: Option<f64>,
}

/// Deaths against the economy of a year (亿元GDP死亡率, 十万从业人员死亡率).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EconomicRates {
    pub year: i32,
    pub community: Option<String>,
    /// Deaths of the year in the communities that have the year's economic figures.
    pub deaths: u64,
    /// Production-safety (industrial, mining, commercial) deaths of those communities.
    pub work_deaths: u64,
    pub gdp_10k_yuan: u64,
    pub workers: u64,
    /// Communities counted (those with figures for the year).
    pub communities: Vec<String>,
    /// Deaths ÷ GDP in 亿元 (100 million yuan).
    pub deaths_per_100m_yuan_gdp: Option<f64>,
    /// Work deaths × 100,000 ÷ workers.
    pub work_deaths_per_100k_workers: Option<f64>,
}

fn rate(n: u64, scale: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| n as f64 * scale / base)
}

impl Denominators {
    pub(super) fn apply_community(&mut self, e: &CommunityEvent) {
        if let CommunityEvent::EconomyRecorded(r) = e {
            self.economies
                .entry(r.community_id.as_str().to_string())
                .or_default()
                .insert(r.year, Economy { gdp_10k_yuan: r.gdp_10k_yuan, workers: r.workers, source: r.source.clone() });
        }
    }

    pub(super) fn apply_enterprise(&mut self, e: &EnterpriseEvent) {
        match e {
            EnterpriseEvent::WorkHoursRecorded(r) => {
                self.enterprises
                    .entry(r.enterprise_id.as_str().to_string())
                    .or_default()
                    .hours
                    .insert((r.year, r.month), MonthHours { hours_worked: r.hours_worked, headcount: r.headcount });
            }
            EnterpriseEvent::WorkInjuryCaseRecorded(r) => {
                self.enterprises.entry(r.enterprise_id.as_str().to_string()).or_default().cases.insert(
                    r.case_id.as_str().to_string(),
                    WorkCase {
                        occurred_on: r.occurred_on,
                        class: r.class,
                        days_away: r.days_away,
                        restricted_days: r.restricted_days,
                    },
                );
            }
            _ => {}
        }
    }

    /// A community's figures for a year.
    pub fn economy(&self, community: &str, year: i32) -> Option<&Economy> {
        self.economies.get(community)?.get(&year)
    }

    /// Communities with economic figures for `year`.
    pub fn communities_with_economy(&self, year: i32) -> impl Iterator<Item = (&str, &Economy)> {
        self.economies.iter().filter_map(move |(c, years)| years.get(&year).map(|e| (c.as_str(), e)))
    }

    /// TRIR, DART, LTIFR and the GB 6441 rates of one enterprise or all, over a period.
    pub fn work_injury_rates(&self, enterprise: Option<&str>, period: Period, ltifr_base: u64) -> WorkInjuryRates {
        let mut r = WorkInjuryRates {
            enterprise: enterprise.map(str::to_string),
            period,
            hours_worked: 0,
            average_headcount: None,
            recordable_cases: 0,
            deaths: 0,
            days_away_cases: 0,
            restricted_cases: 0,
            lost_workdays: 0,
            trir: None,
            dart: None,
            ltifr: None,
            ltifr_base,
            injuries_per_million_hours: None,
            injuries_per_1000_workers: None,
        };
        let (mut headcount_sum, mut months) = (0u64, 0u64);
        let logs = self.enterprises.iter().filter(|(id, _)| enterprise.is_none_or(|e| e == id.as_str()));
        for (_, log) in logs {
            for ((y, m), h) in &log.hours {
                if NaiveDate::from_ymd_opt(*y, *m, 1).is_some_and(|d| period.contains(d)) {
                    r.hours_worked = r.hours_worked.saturating_add(h.hours_worked);
                    headcount_sum += u64::from(h.headcount);
                    months += 1;
                }
            }
            for c in log.cases.values().filter(|c| period.contains(c.occurred_on)) {
                r.recordable_cases += 1;
                r.lost_workdays += u64::from(c.days_away);
                match c.class {
                    WorkCaseClass::Death => r.deaths += 1,
                    WorkCaseClass::DaysAway => r.days_away_cases += 1,
                    WorkCaseClass::RestrictedOrTransfer => r.restricted_cases += 1,
                    WorkCaseClass::OtherRecordable => {}
                }
            }
        }
        // Headcounts of one month across enterprises add up; months average: the sum over
        // enterprise-months divided by the number of distinct months covered.
        let distinct_months = if enterprise.is_some() { months } else { distinct_months(self, enterprise, period) };
        r.average_headcount = (distinct_months > 0).then(|| headcount_sum as f64 / distinct_months as f64);
        let hours = r.hours_worked as f64;
        r.trir = rate(r.recordable_cases, 200_000.0, hours);
        r.dart = rate(r.days_away_cases + r.restricted_cases, 200_000.0, hours);
        r.ltifr = rate(r.deaths + r.days_away_cases, ltifr_base as f64, hours);
        r.injuries_per_million_hours = rate(r.recordable_cases, 1_000_000.0, hours);
        r.injuries_per_1000_workers = r.average_headcount.and_then(|h| rate(r.recordable_cases, 1_000.0, h));
        r
    }
}

fn distinct_months(d: &Denominators, enterprise: Option<&str>, period: Period) -> u64 {
    let mut seen = std::collections::BTreeSet::new();
    for (id, log) in &d.enterprises {
        if enterprise.is_some_and(|e| e != id) {
            continue;
        }
        for (y, m) in log.hours.keys() {
            if NaiveDate::from_ymd_opt(*y, *m, 1).is_some_and(|day| period.contains(day)) {
                seen.insert((*y, *m));
            }
        }
    }
    seen.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::enterprise::{WorkHoursRecorded, WorkInjuryCaseRecorded};
    use crate::events::EntityId;

    fn id(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    fn hours(e: &str, year: i32, month: u32, hours_worked: u64, headcount: u32) -> EnterpriseEvent {
        EnterpriseEvent::WorkHoursRecorded(WorkHoursRecorded {
            enterprise_id: id(e),
            recorded_by: id("officer"),
            recorded_at: "2025-12-31T00:00:00Z".parse().unwrap(),
            year,
            month,
            hours_worked,
            headcount,
        })
    }

    fn case(
        e: &str,
        case_id: &str,
        on: &str,
        class: WorkCaseClass,
        days_away: u32,
        restricted: u32,
    ) -> EnterpriseEvent {
        EnterpriseEvent::WorkInjuryCaseRecorded(WorkInjuryCaseRecorded {
            enterprise_id: id(e),
            recorded_by: id("officer"),
            recorded_at: "2025-12-31T00:00:00Z".parse().unwrap(),
            case_id: id(case_id),
            occurred_on: on.parse().unwrap(),
            class,
            days_away,
            restricted_days: restricted,
            incident_id: None,
            description: "x".into(),
        })
    }

    /// Worked by hand: 2025, enterprise A 12 months × 50,000 hours (600,000 h), 300 people;
    /// cases: one death, two days-away (10 + 30 days), one restricted, one other recordable;
    /// one more case in 2024 that does not count.
    /// TRIR = 5 × 200,000 ÷ 600,000 = 1.6667; DART = 3 × 200,000 ÷ 600,000 = 1.0;
    /// LTIFR (base 1,000,000) = 3 × 1,000,000 ÷ 600,000 = 5.0; per million hours = 8.3333;
    /// per 1,000 workers = 5 × 1,000 ÷ 300 = 16.667.
    #[test]
    fn work_injury_rates_worked_by_hand() {
        let mut d = Denominators::default();
        for m in 1..=12 {
            d.apply_enterprise(&hours("ent-a", 2025, m, 40_000, 300));
            // A revision of the month replaces the first figure.
            d.apply_enterprise(&hours("ent-a", 2025, m, 50_000, 300));
        }
        d.apply_enterprise(&hours("ent-a", 2024, 12, 50_000, 280));
        for (cid, on, class, away, restricted) in [
            ("c1", "2025-02-01", WorkCaseClass::Death, 0, 0),
            ("c2", "2025-03-01", WorkCaseClass::DaysAway, 10, 0),
            ("c3", "2025-04-01", WorkCaseClass::DaysAway, 30, 5),
            ("c4", "2025-05-01", WorkCaseClass::RestrictedOrTransfer, 0, 7),
            ("c5", "2025-06-01", WorkCaseClass::OtherRecordable, 0, 0),
            ("c0", "2024-12-15", WorkCaseClass::DaysAway, 3, 0),
        ] {
            d.apply_enterprise(&case("ent-a", cid, on, class, away, restricted));
        }
        let r = d.work_injury_rates(Some("ent-a"), Period::year(2025).unwrap(), 1_000_000);
        assert_eq!(
            (r.hours_worked, r.recordable_cases, r.deaths, r.days_away_cases, r.restricted_cases),
            (600_000, 5, 1, 2, 1)
        );
        assert_eq!(r.lost_workdays, 40);
        let close = |a: Option<f64>, b: f64| assert!((a.unwrap() - b).abs() < 1e-3, "{a:?} vs {b}");
        close(r.trir, 1.6667);
        close(r.dart, 1.0);
        close(r.ltifr, 5.0);
        close(r.injuries_per_million_hours, 8.3333);
        close(r.injuries_per_1000_workers, 16.667);
        close(r.average_headcount, 300.0);

        // District-wide with a second enterprise of 100 people in the same months: headcounts
        // add up per month (400), hours add up.
        for m in 1..=12 {
            d.apply_enterprise(&hours("ent-b", 2025, m, 10_000, 100));
        }
        let all = d.work_injury_rates(None, Period::year(2025).unwrap(), 1_000_000);
        assert_eq!(all.hours_worked, 720_000);
        close(all.average_headcount, 400.0);
        close(all.trir, 5.0 * 200_000.0 / 720_000.0);

        // No hours recorded: no rate, not a division by zero.
        let none = d.work_injury_rates(Some("ent-a"), Period::year(2023).unwrap(), 1_000_000);
        assert_eq!((none.trir, none.injuries_per_1000_workers), (None, None));
    }
}
