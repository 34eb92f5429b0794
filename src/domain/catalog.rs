//! Reference data (codes with Chinese and English labels) and regulation settings.
//!
//! Invariants:
//! - Categories, hazard grades, major-hazard criteria, enterprise grades, industries and the
//!   injury-surveillance codes are data, not enums: a new category or a city's four-grade hazard
//!   scale is a catalog change, not a release. The catalog carries its own `catalog_version`.
//! - Codes are unique within each list; a catalog that breaks this is refused at load.
//! - Commands carry codes; `decide` looks them up here and rejects unknown ones naming the field.
//! - [`Settings`] hold the clocks the regulations fix (30/7 days, 1 hour, 60+60 days, 5 years,
//!   1 year) as defaults a deployment may change; events record the values they were decided
//!   under, so a later change of settings never alters history.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{rule, DomainError, Rejection};

/// The catalog shipped with the crate.
pub const BUILTIN_CATALOG_JSON: &str = include_str!("catalog.json");

/// A code with its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Label {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// An incident / injury category (生产安全, 道路交通, 消防 …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Category {
    pub code: String,
    pub zh: String,
    pub en: String,
    /// Decree 493 grading applies (production-safety accidents; a setting per category).
    pub graded: bool,
    /// Road traffic and fire: casualty supplements and missing-as-dead count 7 days, not 30.
    pub short_window: bool,
}

/// A hazard grade (一般 / 重大, or a city's own scale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardGrade {
    pub code: String,
    pub zh: String,
    pub en: String,
    /// Major grades require the five-in-place (五到位) and may be listed for supervision.
    pub major: bool,
}

/// A versioned criterion a hazard is judged under (判定标准).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardCriterion {
    pub code: String,
    pub version: String,
    pub zh: String,
    pub en: String,
}

/// An enterprise supervision grade (分级分类监管).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnterpriseGrade {
    pub code: String,
    pub zh: String,
    pub en: String,
    pub inspections_per_year: u32,
}

/// All reference data, versioned as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub catalog_version: String,
    pub categories: Vec<Category>,
    pub hazard_grades: Vec<HazardGrade>,
    pub hazard_criteria: Vec<HazardCriterion>,
    pub enterprise_grades: Vec<EnterpriseGrade>,
    pub industries: Vec<Label>,
    pub injury_mechanisms: Vec<Label>,
    pub injury_places: Vec<Label>,
    pub injury_activities: Vec<Label>,
    pub injury_natures: Vec<Label>,
    pub body_parts: Vec<Label>,
    /// Vulnerable / high-risk groups (老年人, 儿童, 留守儿童, 外来务工人员, 残疾人).
    pub groups: Vec<Label>,
    /// Places a promotion project may target (学校, 市场, 仓库, 建筑工地, 水域 …).
    pub target_places: Vec<Label>,
}

trait Coded {
    fn code(&self) -> &str;
}
macro_rules! coded {
    ($($t:ty),*) => { $(impl Coded for $t { fn code(&self) -> &str { &self.code } })* };
}
coded!(Label, Category, HazardGrade, EnterpriseGrade);

fn find<'a, T: Coded>(list: &'a [T], field: &str, what: &str, code: &str) -> Result<&'a T, Rejection> {
    list.iter()
        .find(|x| x.code() == code)
        .ok_or_else(|| Rejection::at(field, rule::UNKNOWN_CODE, format!("unknown {what} code {code:?} in the catalog")))
}

fn unique<T: Coded>(list: &[T], what: &str) -> Result<(), DomainError> {
    let mut seen = HashSet::new();
    for x in list {
        if x.code().is_empty() {
            return Err(DomainError::Catalog(format!("empty code in {what}")));
        }
        if !seen.insert(x.code()) {
            return Err(DomainError::Catalog(format!("duplicate code {:?} in {what}", x.code())));
        }
    }
    Ok(())
}

impl Catalog {
    /// The catalog embedded in the crate (`src/domain/catalog.json`).
    pub fn builtin() -> Result<Catalog, DomainError> {
        Catalog::from_json(BUILTIN_CATALOG_JSON)
    }

    /// Parses and checks a catalog (unique, non-empty codes; a version).
    pub fn from_json(json: &str) -> Result<Catalog, DomainError> {
        let c: Catalog = serde_json::from_str(json).map_err(|e| DomainError::Catalog(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), DomainError> {
        if self.catalog_version.trim().is_empty() {
            return Err(DomainError::Catalog("catalog_version is empty".into()));
        }
        unique(&self.categories, "categories")?;
        unique(&self.hazard_grades, "hazard_grades")?;
        unique(&self.enterprise_grades, "enterprise_grades")?;
        for (list, what) in [
            (&self.industries, "industries"),
            (&self.injury_mechanisms, "injury_mechanisms"),
            (&self.injury_places, "injury_places"),
            (&self.injury_activities, "injury_activities"),
            (&self.injury_natures, "injury_natures"),
            (&self.body_parts, "body_parts"),
            (&self.groups, "groups"),
            (&self.target_places, "target_places"),
        ] {
            unique(list, what)?;
        }
        let mut seen = HashSet::new();
        for c in &self.hazard_criteria {
            if !seen.insert((c.code.as_str(), c.version.as_str())) {
                return Err(DomainError::Catalog(format!("duplicate criterion {} {}", c.code, c.version)));
            }
        }
        Ok(())
    }

    pub fn category(&self, field: &str, code: &str) -> Result<&Category, Rejection> {
        find(&self.categories, field, "category", code)
    }

    pub fn hazard_grade(&self, field: &str, code: &str) -> Result<&HazardGrade, Rejection> {
        find(&self.hazard_grades, field, "hazard grade", code)
    }

    /// A criterion by code and version; an unknown version is named as such.
    pub fn hazard_criterion(&self, code: &str, version: &str) -> Result<&HazardCriterion, Rejection> {
        if !self.hazard_criteria.iter().any(|c| c.code == code) {
            return Err(Rejection::at("criterion", rule::UNKNOWN_CODE, format!("unknown hazard criterion {code:?}")));
        }
        self.hazard_criteria.iter().find(|c| c.code == code && c.version == version).ok_or_else(|| {
            Rejection::at(
                "criterion_version",
                rule::UNKNOWN_CODE,
                format!("hazard criterion {code:?} has no version {version:?} in the catalog"),
            )
        })
    }

    pub fn enterprise_grade(&self, field: &str, code: &str) -> Result<&EnterpriseGrade, Rejection> {
        find(&self.enterprise_grades, field, "enterprise grade", code)
    }

    pub fn industry(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.industries, field, "industry", code)
    }

    pub fn injury_mechanism(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_mechanisms, field, "injury mechanism", code)
    }

    pub fn injury_place(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_places, field, "injury place", code)
    }

    pub fn injury_activity(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_activities, field, "injury activity", code)
    }

    pub fn injury_nature(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_natures, field, "injury nature", code)
    }

    pub fn body_part(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.body_parts, field, "body part", code)
    }

    pub fn group(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.groups, field, "group", code)
    }

    pub fn target_place(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.target_places, field, "target place", code)
    }
}

/// Regulation clocks and plausibility bounds. Defaults are the values of DESIGN.md §3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Casualty changes within this many days of the accident are supplements (补报); art. 13.
    pub supplementary_days: u32,
    /// The same for road-traffic and fire accidents (categories with `short_window`).
    pub supplementary_days_short: u32,
    /// Missing persons (下落不明) count as deaths after this many days.
    pub missing_as_dead_days: u32,
    /// The same for road-traffic and fire accidents.
    pub missing_as_dead_days_short: u32,
    /// Unit head → county-level bureau within this many minutes (art. 9: 1 hour).
    pub report_limit_minutes: u32,
    /// Investigation report due this many days after the accident (art. 29).
    pub investigation_days: u32,
    /// Longest single investigation extension (art. 29).
    pub investigation_extension_max_days: u32,
    /// How many extensions an investigation may have (art. 29: once).
    pub investigation_max_extensions: u32,
    /// A national safe community's title is re-assessed after this many years (复评).
    pub reassessment_years: u32,
    /// Post-closure evaluation due this many months after sign-off (Work Safety Law art. 86).
    pub evaluation_months: u32,
    /// Largest count of people accepted in one field.
    pub max_people: u32,
    /// Largest amount of yuan accepted in one field.
    pub max_yuan: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            supplementary_days: 30,
            supplementary_days_short: 7,
            missing_as_dead_days: 30,
            missing_as_dead_days_short: 7,
            report_limit_minutes: 60,
            investigation_days: 60,
            investigation_extension_max_days: 60,
            investigation_max_extensions: 1,
            reassessment_years: 5,
            evaluation_months: 12,
            max_people: 100_000,
            max_yuan: 10_000_000_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_with_a_version() {
        let c = Catalog::builtin().unwrap();
        assert!(!c.catalog_version.is_empty());
        assert!(c.hazard_grades.iter().any(|g| g.major));
        assert!(c.hazard_grades.iter().any(|g| !g.major));
    }

    #[test]
    fn every_injury_category_of_the_design_is_present() {
        let c = Catalog::builtin().unwrap();
        for code in [
            "production",
            "road_traffic",
            "fire",
            "public_security",
            "home",
            "water",
            "electricity",
            "pesticide_poisoning",
            "school_child",
            "elderly_fall",
            "public_place",
            "environment",
            "agricultural_machinery",
            "construction",
            "special_equipment",
            "hazardous_chemicals",
        ] {
            let cat = c.category("category", code).unwrap();
            assert!(!cat.zh.is_empty() && !cat.en.is_empty());
        }
        assert!(c.category("category", "road_traffic").unwrap().short_window);
        assert!(c.category("category", "fire").unwrap().short_window);
        assert!(!c.category("category", "production").unwrap().short_window);
    }

    #[test]
    fn duplicate_codes_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG_JSON).unwrap();
        let first = v["categories"][0].clone();
        v["categories"].as_array_mut().unwrap().push(first);
        assert!(matches!(Catalog::from_json(&v.to_string()), Err(DomainError::Catalog(_))));
    }

    #[test]
    fn unknown_codes_are_rejected_naming_the_field() {
        let c = Catalog::builtin().unwrap();
        let r = c.category("category", "nope").unwrap_err();
        assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/category", rule::UNKNOWN_CODE));
        let r = c.hazard_criterion("MEM-10", "1999").unwrap_err();
        assert_eq!(r.field, "/command/criterion_version");
        let r = c.hazard_criterion("XX", "2023").unwrap_err();
        assert_eq!(r.field, "/command/criterion");
    }

    #[test]
    fn settings_default_to_the_regulation_values() {
        let s = Settings::default();
        assert_eq!((s.supplementary_days, s.supplementary_days_short), (30, 7));
        assert_eq!(
            (s.investigation_days, s.investigation_extension_max_days, s.investigation_max_extensions),
            (60, 60, 1)
        );
        assert_eq!((s.report_limit_minutes, s.reassessment_years, s.evaluation_months), (60, 5, 12));
    }
}
