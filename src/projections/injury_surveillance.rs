//! Injury surveillance breakdowns (伤害监测): injury records counted by mechanism, age group,
//! sex, vulnerable group, place, intent and severity, for a period, community and category.
//!
//! Invariants and definitions:
//! - One row per injury record, holding its data as last recorded or corrected (`injury.correct`
//!   replaces the whole record), so a correction moves the figures, never duplicates them.
//! - A record belongs to the CST calendar date of its `occurred_at`.
//! - Age groups: `0-4`, `5-14`, `15-24`, `25-44`, `45-64`, `65+`, `unknown` (ages in whole years).
//! - A record with several vulnerable groups counts once in each; one with none counts under
//!   `none`.
//! - State is ordered (`BTreeMap`), so a rebuild is byte-identical.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Family, Period, Projection};
use crate::events::injury::{InjuryData, InjuryEvent, Intent, Severity, Sex};
use crate::events::time::cst_date;
use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// Which injury records a breakdown covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjuryFilter {
    pub period: Period,
    pub community: Option<String>,
    pub category: Option<String>,
}

/// Counts of injury records by each surveillance dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjuryBreakdown {
    pub records: u64,
    /// 伤害机制
    pub by_mechanism: BTreeMap<String, u64>,
    /// 年龄组
    pub by_age_group: BTreeMap<String, u64>,
    /// 性别
    pub by_sex: BTreeMap<String, u64>,
    /// 重点人群
    pub by_vulnerable_group: BTreeMap<String, u64>,
    /// 发生地点
    pub by_place: BTreeMap<String, u64>,
    /// 意图
    pub by_intent: BTreeMap<String, u64>,
    /// 严重程度
    pub by_severity: BTreeMap<String, u64>,
}

/// The age group of an age in whole years.
pub fn age_group(age: Option<u16>) -> &'static str {
    match age {
        None => "unknown",
        Some(0..=4) => "0-4",
        Some(5..=14) => "5-14",
        Some(15..=24) => "15-24",
        Some(25..=44) => "25-44",
        Some(45..=64) => "45-64",
        Some(_) => "65+",
    }
}

fn sex(s: Sex) -> &'static str {
    match s {
        Sex::Male => "male",
        Sex::Female => "female",
        Sex::Unknown => "unknown",
    }
}

fn intent(i: Intent) -> &'static str {
    match i {
        Intent::Unintentional => "unintentional",
        Intent::SelfHarm => "self_harm",
        Intent::Assault => "assault",
        Intent::Undetermined => "undetermined",
        Intent::Other => "other",
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Minor => "minor",
        Severity::Serious => "serious",
        Severity::Death => "death",
    }
}

/// The injury surveillance projection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjurySurveillance {
    records: BTreeMap<String, InjuryData>,
}

impl InjurySurveillance {
    /// One record's current data.
    pub fn record(&self, injury_id: &str) -> Option<&InjuryData> {
        self.records.get(injury_id)
    }

    /// Counts by every dimension of the records the filter covers.
    pub fn breakdown(&self, filter: &InjuryFilter) -> InjuryBreakdown {
        let mut b = InjuryBreakdown::default();
        let covered = self.records.values().filter(|d| {
            filter.period.contains(cst_date(d.occurred_at))
                && filter.community.as_deref().is_none_or(|c| c == d.community_id.as_str())
                && filter.category.as_deref().is_none_or(|c| c == d.category)
        });
        for d in covered {
            b.records += 1;
            *b.by_mechanism.entry(d.mechanism.clone()).or_default() += 1;
            *b.by_age_group.entry(age_group(d.age).to_string()).or_default() += 1;
            *b.by_sex.entry(sex(d.sex).to_string()).or_default() += 1;
            *b.by_place.entry(d.place.clone()).or_default() += 1;
            *b.by_intent.entry(intent(d.intent).to_string()).or_default() += 1;
            *b.by_severity.entry(severity(d.severity).to_string()).or_default() += 1;
            if d.vulnerable_groups.is_empty() {
                *b.by_vulnerable_group.entry("none".to_string()).or_default() += 1;
            }
            for g in &d.vulnerable_groups {
                *b.by_vulnerable_group.entry(g.clone()).or_default() += 1;
            }
        }
        b
    }
}

/// Every event of the family this read model folds.
const INJURY: Family = Family::of(InjuryEvent::TYPES);

impl Projection for InjurySurveillance {
    const NAME: &'static str = "injury_surveillance";
    const VERSION: u32 = 1;

    fn wants(event_type: &str) -> bool {
        INJURY.contains(event_type)
    }

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        match event {
            DomainEvent::Injury(InjuryEvent::Recorded(r)) => {
                self.records.entry(r.injury_id.as_str().to_string()).or_insert_with(|| r.data.clone());
            }
            DomainEvent::Injury(InjuryEvent::Corrected(c)) => {
                if let Some(d) = self.records.get_mut(c.injury_id.as_str()) {
                    *d = c.data.clone();
                }
            }
            _ => {}
        }
    }
}
