//! The facts the statistics keep: one row per incident ([`IncidentFacts`], as last reported or
//! revised), per community ([`CommunityFacts`]: population figures, control indicators), and
//! [`Totals`], the summed figures every query returns.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::events::incident::{Casualties, IncidentGrade};
use crate::events::time::cst_date;

/// One incident's figures, as last reported or revised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    pub incident_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    #[serde(with = "crate::projections::state_codec::utc")]
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
    #[serde(with = "crate::projections::state_codec::date")]
    pub as_of: NaiveDate,
    pub population: u32,
}

/// A control indicator (控制指标) for one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlIndicator {
    pub total_deaths: u32,
    pub per_category: BTreeMap<String, u32>,
    #[serde(with = "crate::projections::state_codec::date")]
    pub set_on: NaiveDate,
    pub set_by: String,
}

/// What the statistics keep about a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityFacts {
    pub community_id: String,
    pub name: String,
    /// CST date the community was registered.
    #[serde(with = "crate::projections::state_codec::date")]
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

    pub(super) fn set_population(&mut self, as_of: NaiveDate, population: u32) {
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
    pub(super) fn add(&mut self, c: &Casualties) {
        self.incidents += 1;
        self.deaths += u64::from(c.deaths);
        self.serious_injuries += u64::from(c.serious_injuries);
        self.minor_injuries += u64::from(c.minor_injuries);
        self.missing += u64::from(c.missing);
        self.direct_loss_yuan = self.direct_loss_yuan.saturating_add(c.direct_loss_yuan);
    }

    /// Takes one incident's figures out again (a revision replaces them).
    pub(super) fn sub(&mut self, c: &Casualties) {
        self.incidents = self.incidents.saturating_sub(1);
        self.deaths = self.deaths.saturating_sub(u64::from(c.deaths));
        self.serious_injuries = self.serious_injuries.saturating_sub(u64::from(c.serious_injuries));
        self.minor_injuries = self.minor_injuries.saturating_sub(u64::from(c.minor_injuries));
        self.missing = self.missing.saturating_sub(u64::from(c.missing));
        self.direct_loss_yuan = self.direct_loss_yuan.saturating_sub(c.direct_loss_yuan);
    }

    pub(super) fn merge(&mut self, o: &Totals) {
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
