//! Reference data: codes with Chinese and English labels, versioned as a whole.
//!
//! Invariants:
//! - Categories, hazard grades, major-hazard criteria, enterprise grades, industries and the
//!   injury-surveillance codes are data, not enums: a new category or a city's four-grade hazard
//!   scale is a catalog change, not a release. The catalog carries its own `catalog_version`.
//! - Codes are unique within each list; a catalog that breaks this is refused at load.
//! - Commands carry codes; `decide` looks them up (`crate::domain::catalog`) and rejects unknown
//!   ones naming the field. Read models and reports use the labels.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::EventError;

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

pub(crate) trait Coded {
    fn code(&self) -> &str;
}
macro_rules! coded {
    ($($t:ty),*) => { $(impl Coded for $t { fn code(&self) -> &str { &self.code } })* };
}
coded!(Label, Category, HazardGrade, EnterpriseGrade);

fn unique<T: Coded>(list: &[T], what: &str) -> Result<(), EventError> {
    let mut seen = HashSet::new();
    for x in list {
        if x.code().is_empty() {
            return Err(EventError::Catalog(format!("empty code in {what}")));
        }
        if !seen.insert(x.code()) {
            return Err(EventError::Catalog(format!("duplicate code {:?} in {what}", x.code())));
        }
    }
    Ok(())
}

impl Catalog {
    /// The catalog embedded in the crate (`src/events/catalog.json`).
    pub fn builtin() -> Result<Catalog, EventError> {
        Catalog::from_json(BUILTIN_CATALOG_JSON)
    }

    /// Parses and checks a catalog (unique, non-empty codes; a version).
    pub fn from_json(json: &str) -> Result<Catalog, EventError> {
        let c: Catalog = serde_json::from_str(json).map_err(|e| EventError::Catalog(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), EventError> {
        if self.catalog_version.trim().is_empty() {
            return Err(EventError::Catalog("catalog_version is empty".into()));
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
                return Err(EventError::Catalog(format!("duplicate criterion {} {}", c.code, c.version)));
            }
        }
        Ok(())
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
    fn duplicate_codes_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN_CATALOG_JSON).unwrap();
        let first = v["categories"][0].clone();
        v["categories"].as_array_mut().unwrap().push(first);
        assert!(matches!(Catalog::from_json(&v.to_string()), Err(EventError::Catalog(_))));
    }
}
