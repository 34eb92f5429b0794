//! Codes of a command looked up in the [`Catalog`]: an unknown code is a rejection naming the
//! field ([`CodeLookup`]). What the codes are is vocabulary (`crate::events::catalog`).

use super::{rule, Rejection};
use crate::events::catalog::{Category, Coded, EnterpriseGrade, HazardCriterion, HazardGrade, Label};
use crate::events::Catalog;

fn find<'a, T: Coded>(list: &'a [T], field: &str, what: &str, code: &str) -> Result<&'a T, Rejection> {
    list.iter()
        .find(|x| x.code() == code)
        .ok_or_else(|| Rejection::at(field, rule::UNKNOWN_CODE, format!("unknown {what} code {code:?} in the catalog")))
}

/// The catalog's lookups as `decide` uses them: each finds a code in one list of the catalog, or
/// rejects the command at `field` with [`rule::UNKNOWN_CODE`].
pub trait CodeLookup {
    fn category(&self, field: &str, code: &str) -> Result<&Category, Rejection>;
    fn hazard_grade(&self, field: &str, code: &str) -> Result<&HazardGrade, Rejection>;
    /// A criterion by code and version; an unknown version is named as such.
    fn hazard_criterion(&self, code: &str, version: &str) -> Result<&HazardCriterion, Rejection>;
    fn enterprise_grade(&self, field: &str, code: &str) -> Result<&EnterpriseGrade, Rejection>;
    fn industry(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn injury_mechanism(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn injury_place(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn injury_activity(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn injury_nature(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn body_part(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn group(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
    fn target_place(&self, field: &str, code: &str) -> Result<&Label, Rejection>;
}

impl CodeLookup for Catalog {
    fn category(&self, field: &str, code: &str) -> Result<&Category, Rejection> {
        find(&self.categories, field, "category", code)
    }

    fn hazard_grade(&self, field: &str, code: &str) -> Result<&HazardGrade, Rejection> {
        find(&self.hazard_grades, field, "hazard grade", code)
    }

    fn hazard_criterion(&self, code: &str, version: &str) -> Result<&HazardCriterion, Rejection> {
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

    fn enterprise_grade(&self, field: &str, code: &str) -> Result<&EnterpriseGrade, Rejection> {
        find(&self.enterprise_grades, field, "enterprise grade", code)
    }

    fn industry(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.industries, field, "industry", code)
    }

    fn injury_mechanism(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_mechanisms, field, "injury mechanism", code)
    }

    fn injury_place(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_places, field, "injury place", code)
    }

    fn injury_activity(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_activities, field, "injury activity", code)
    }

    fn injury_nature(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.injury_natures, field, "injury nature", code)
    }

    fn body_part(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.body_parts, field, "body part", code)
    }

    fn group(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.groups, field, "group", code)
    }

    fn target_place(&self, field: &str, code: &str) -> Result<&Label, Rejection> {
        find(&self.target_places, field, "target place", code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_codes_are_rejected_naming_the_field() {
        let c = Catalog::builtin().unwrap();
        let r = c.category("category", "nope").unwrap_err();
        assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/category", rule::UNKNOWN_CODE));
        let r = c.hazard_criterion("MEM-10", "1999").unwrap_err();
        assert_eq!(r.field, "/command/criterion_version");
        let r = c.hazard_criterion("XX", "2023").unwrap_err();
        assert_eq!(r.field, "/command/criterion");
    }
}
