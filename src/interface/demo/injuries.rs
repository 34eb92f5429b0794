//! The injury surveillance story (伤害监测): records of the WHO core minimum data set from the
//! sentinel hospitals, drawn from the scenarios by weight, with a few corrected by the CDC.

use chrono::Duration;

use super::data::SCENARIOS;
use super::{cst, id, Gen};
use crate::domain::injury::{CorrectInjury, InjuryCommand, RecordInjury};
use crate::events::community::CommunityKind;
use crate::events::injury::{InjuryData, Intent, Outcome, Severity, Sex};

impl Gen {
    pub(super) fn injuries(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(300.0 * years).max(5);
        for no in 1..=n {
            let site = self.random_site();
            let (site_id, kind) = match self.sites.get(site) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let d = self.random_day();
            let occurred = cst(d, self.rng.range(6 * 60, 22 * 60));
            let sc = SCENARIOS[self.rng.weighted(&SCENARIOS.map(|s| s.weight))];
            let age = self.rng.range(i64::from(sc.age.0), i64::from(sc.age.1)) as u16;
            let mut groups: Vec<&str> = Vec::new();
            if age >= 65 {
                groups.push("elderly");
            }
            if age < 14 {
                groups.push(if kind == CommunityKind::RuralTown && self.rng.chance(0.4) {
                    "left_behind_child"
                } else {
                    "child"
                });
            }
            if sc.place == "workplace" && self.rng.chance(0.5) {
                groups.push("migrant_worker");
            }
            if self.rng.chance(0.02) {
                groups.push("disabled");
            }
            let r = self.rng.unit();
            let (severity, outcome) = if r < sc.p_death {
                (Severity::Death, Outcome::Died)
            } else if r < sc.p_death + 0.22 {
                (Severity::Serious, if self.rng.chance(0.8) { Outcome::Admitted } else { Outcome::Transferred })
            } else {
                (Severity::Minor, Outcome::TreatedAndReleased)
            };
            let intent = if sc.mechanism == "poisoning" && self.rng.chance(0.3) {
                Intent::SelfHarm
            } else if sc.category == "public_security" {
                Intent::Assault
            } else {
                Intent::Unintentional
            };
            let sex = [Sex::Male, Sex::Male, Sex::Female, Sex::Female, Sex::Male][self.rng.below(5) as usize];
            let nature = self.rng.pick(sc.natures, "other");
            let body = self.rng.pick(sc.body_parts, "unknown");
            let data = InjuryData {
                occurred_at: occurred,
                age: Some(age),
                sex,
                intent,
                mechanism: sc.mechanism.to_string(),
                place: sc.place.to_string(),
                activity: sc.activity.to_string(),
                nature: nature.to_string(),
                body_part: body.to_string(),
                severity,
                outcome,
                category: sc.category.to_string(),
                community_id: site_id,
                vulnerable_groups: groups.into_iter().map(str::to_string).collect(),
                incident_id: None,
                note: None,
                person_id: None,
                name: None,
                id_number: None,
            };
            let Some(injury_id) = id(format!("inj-{no:05}")) else { continue };
            let reporter = ["hospital-01", "hospital-02", "clinic-03"][self.rng.below(3) as usize];
            let recorded = occurred + Duration::minutes(self.rng.range(6 * 60, 5 * 24 * 60));
            if self.rng.chance(0.02) {
                let corrected = InjuryData { age: Some(age.saturating_add(1)), ..data.clone() };
                let t = recorded + Duration::days(self.rng.range(7, 30));
                let record = RecordInjury { injury_id: injury_id.clone(), data };
                self.emit(recorded, reporter, InjuryCommand::Record(record));
                let correction =
                    CorrectInjury {
                        injury_id, data: corrected, reason: "核对身份证件后更正年龄".to_string()
                    };
                self.emit(t, "cdc-district", InjuryCommand::Correct(correction));
            } else {
                self.emit(recorded, reporter, InjuryCommand::Record(RecordInjury { injury_id, data }));
            }
        }
    }
}
