//! The year's key figures up to the reference date (DOMAIN.md, "Statistics and KPIs"), each
//! with its numerator and denominator: deaths and injuries per 100,000 population, per 100
//! million yuan of GDP and per 100,000 workers, control-indicator consumption against 时序进度,
//! rectification and on-time rates, and the enterprises' TRIR, DART, LTIFR and GB 6441 rates.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::common::known_community;
use super::error::QueryError;
use crate::projections::accident_stats::{IndicatorConsumption, PopulationRate};
use crate::projections::hazard_ledger::RectificationRates;
use crate::projections::kpis::{EconomicRates, WorkInjuryRates};
use crate::projections::{percent, AllProjections, Period};

/// `anquan kpis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpisQuery {
    /// The statistics year; default: the reference date's year.
    pub year: Option<i32>,
    pub community: Option<String>,
    /// Hours base of LTIFR (1,000,000 as in GB 6441; 200,000 as in OSHA).
    pub ltifr_base: u64,
}

impl Default for KpisQuery {
    fn default() -> Self {
        Self { year: None, community: None, ltifr_base: 1_000_000 }
    }
}

/// The control indicators of the communities in scope, summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorTotal {
    pub deaths_so_far: u64,
    pub limit: u64,
    pub consumption_pct: Option<f64>,
    /// 时序进度: share of the year's days elapsed by the reference date.
    pub elapsed_pct: Option<f64>,
    pub ahead_of_time: bool,
}

/// The answer to a [`KpisQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpisAnswer {
    pub year: i32,
    /// 1 January to the reference date, or the whole year once it is over.
    pub period: Period,
    /// The year is not finished on the reference date.
    pub partial: bool,
    pub community: Option<String>,
    pub population: PopulationRate,
    pub economy: Option<EconomicRates>,
    /// Enterprises of the whole district (work injury records are kept per enterprise).
    pub work_injury: WorkInjuryRates,
    /// The whole district's hazards (see `anquan hazards --community` for one community's).
    pub rectification: RectificationRates,
    pub indicators: Vec<IndicatorConsumption>,
    pub indicator_total: Option<IndicatorTotal>,
}

pub(super) fn answer(all: &AllProjections, q: &KpisQuery, on: NaiveDate) -> Result<KpisAnswer, QueryError> {
    if q.ltifr_base == 0 {
        return Err(QueryError::Invalid("the LTIFR base must be positive".into()));
    }
    known_community(all, q.community.as_deref())?;
    let year = q.year.unwrap_or(on.year());
    let whole =
        Period::year(year).ok_or_else(|| QueryError::Invalid(format!("{year} is not a year the calendar holds")))?;
    let partial = whole.contains(on) && on < whole.to;
    let period = if whole.contains(on) { Period { to: on, ..whole } } else { whole };
    let community = q.community.as_deref();
    let stats = &all.accident_stats;
    let indicators: Vec<IndicatorConsumption> = stats
        .communities()
        .filter(|c| community.is_none_or(|x| x == c.community_id))
        .filter_map(|c| stats.indicator_consumption(&c.community_id, period.to))
        .collect();
    let indicator_total = (!indicators.is_empty()).then(|| {
        let limit: u64 = indicators.iter().map(|c| u64::from(c.total.limit)).sum();
        let deaths_so_far: u64 = indicators.iter().map(|c| c.total.deaths_so_far).sum();
        let elapsed_pct = indicators.first().map(|c| c.elapsed_pct);
        let consumption_pct = percent(deaths_so_far, limit);
        IndicatorTotal {
            deaths_so_far,
            limit,
            consumption_pct,
            elapsed_pct,
            ahead_of_time: matches!((consumption_pct, elapsed_pct), (Some(c), Some(e)) if c > e),
        }
    });
    Ok(KpisAnswer {
        year,
        period,
        partial,
        community: q.community.clone(),
        population: stats.rate_per_100k(period, community, None),
        economy: stats.economic_rates(year, community),
        work_injury: stats.work_injury_rates(None, period, q.ltifr_base),
        rectification: all.hazard_ledger.rates(period),
        indicators,
        indicator_total,
    })
}
