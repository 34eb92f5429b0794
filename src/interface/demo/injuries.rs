//! The injury surveillance story (伤害监测): records of the WHO core minimum data set from the
//! sentinel hospitals, drawn from the scenarios by weight, with a few corrected by the CDC.

use chrono::Duration;
use serde_json::json;

use super::data::SCENARIOS;
use super::{cst, ts, Gen, Kind};

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
                groups.push(if kind == Kind::RuralTown && self.rng.chance(0.4) {
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
                ("death", "died")
            } else if r < sc.p_death + 0.22 {
                ("serious", if self.rng.chance(0.8) { "admitted" } else { "transferred" })
            } else {
                ("minor", "treated_and_released")
            };
            let intent = if sc.mechanism == "poisoning" && self.rng.chance(0.3) {
                "self_harm"
            } else if sc.category == "public_security" {
                "assault"
            } else {
                "unintentional"
            };
            let sex = ["male", "male", "female", "female", "male"][self.rng.below(5) as usize];
            let nature = self.rng.pick(sc.natures, "other");
            let body = self.rng.pick(sc.body_parts, "unknown");
            let data = json!({
                "occurred_at": ts(occurred), "age": age, "sex": sex, "intent": intent, "mechanism": sc.mechanism,
                "place": sc.place, "activity": sc.activity, "nature": nature, "body_part": body,
                "severity": severity, "outcome": outcome, "category": sc.category, "community_id": site_id,
                "vulnerable_groups": groups, "incident_id": null, "note": null,
            });
            let id = format!("inj-{no:05}");
            let reporter = ["hospital-01", "hospital-02", "clinic-03"][self.rng.below(3) as usize];
            let recorded = occurred + Duration::minutes(self.rng.range(6 * 60, 5 * 24 * 60));
            if self.rng.chance(0.02) {
                let mut corrected = data.clone();
                corrected["age"] = json!(age.saturating_add(1));
                let t = recorded + Duration::days(self.rng.range(7, 30));
                self.emit(recorded, reporter, json!({"type": "injury.record", "injury_id": id, "data": data}));
                self.emit(t, "cdc-district", json!({"type": "injury.correct", "injury_id": id, "data": corrected, "reason": "核对身份证件后更正年龄"}));
            } else {
                self.emit(recorded, reporter, json!({"type": "injury.record", "injury_id": id, "data": data}));
            }
        }
    }
}
