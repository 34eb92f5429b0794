//! The communities' story: registration with grids, the safe-community programme (创建, 评定,
//! 命名, 复评), populations revised every January, yearly control indicators (控制指标) and one
//! grid changing hands.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::json;

use super::data::{ENTERPRISE_NAMES, RURAL_NAMES, URBAN_NAMES};
use super::{cst, date, Cursor, Gen, Kind, Site};

impl Gen {
    pub(super) fn setup_communities(&mut self) {
        let setup = self.start + Duration::days(1);
        let (mut urban, mut rural, mut ent) = (0usize, 0usize, 0usize);
        for i in 0..self.n_sites as usize {
            let kind = match i % 10 {
                2 | 4 | 7 => Kind::RuralTown,
                5 | 9 => Kind::EnterpriseLed,
                _ => Kind::UrbanStreet,
            };
            let name = |list: &[&str], n: usize, suffix: &str| {
                let base = list.get(n % list.len().max(1)).copied().unwrap_or("示范");
                if n < list.len() {
                    format!("{base}{suffix}")
                } else {
                    format!("{base}{}{suffix}", n / list.len().max(1) + 1)
                }
            };
            let (name, population) = match kind {
                Kind::UrbanStreet => {
                    urban += 1;
                    (name(&URBAN_NAMES, urban - 1, "街道"), self.rng.range(40_000, 95_000))
                }
                Kind::RuralTown => {
                    rural += 1;
                    let suffix = if rural % 2 == 0 { "乡" } else { "镇" };
                    (name(&RURAL_NAMES, rural - 1, suffix), self.rng.range(18_000, 45_000))
                }
                Kind::EnterpriseLed => {
                    ent += 1;
                    (name(&ENTERPRISE_NAMES, ent - 1, "社区"), self.rng.range(6_000, 18_000))
                }
            };
            let id = format!("c{:02}", i + 1);
            let population = population as u32;
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 3));
            let t = cur.at(cur.0);
            self.emit(
                t,
                "committee-01",
                json!({
                    "type": "community.register", "community_id": id, "name": name, "kind": kind.code(),
                    "district": "示范区", "population": population,
                    "population_as_of": date(self.start - Duration::days(1)),
                }),
            );
            let mut grids = Vec::new();
            for g in 0..self.rng.range(3, 6) {
                let grid_id = format!("{id}-g{}", g + 1);
                let person = self.person();
                let t = cur.after(1);
                self.emit(
                    t,
                    "committee-01",
                    json!({
                        "type": "community.add_grid", "community_id": id, "grid_id": grid_id,
                        "name": format!("第{}网格", g + 1), "responsible_person": person,
                    }),
                );
                grids.push(grid_id);
            }
            self.sites.push(Site { id, kind, population, grids, enterprises: Vec::new(), hazards: Vec::new() });
            self.milestones(i, &mut cur);
            self.populations_and_indicators(i);
        }
    }

    /// The safe-community programme: some named long ago and re-assessed, some named during the
    /// history, some just started.
    fn milestones(&mut self, i: usize, cur: &mut Cursor) {
        let id = self.sites.get(i).map(|s| s.id.clone()).unwrap_or_default();
        let y0 = self.start.year();
        let d = |y: i32, m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        match i % 4 {
            0 => {
                let started = d(y0 - 6, 3, 1);
                let t = cur.after(1);
                self.emit(
                    t,
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
                let t = cur.after(1);
                self.emit(t, "committee-01", json!({"type": "community.record_assessment", "community_id": id, "assessed_on": date(d(y0 - 5, 6, 1)), "assessor": "省安全社区评定组", "passed": true}));
                let named = d(y0 - 5, 11, 20);
                let t = cur.after(1);
                self.emit(t, "committee-01", json!({"type": "community.name_safe_community", "community_id": id, "named_on": date(named), "named_by": "国务院安委会办公室"}));
                let re = d(y0, 11, 25);
                self.emit(cst(re, 15 * 60), "committee-01", json!({"type": "community.record_reassessment", "community_id": id, "reassessed_on": date(re), "passed": true}));
            }
            1 => {
                let started = d(y0, 3, 15);
                self.emit(
                    cst(started, 10 * 60),
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
                let assessed = d(y0 + 1, 5, 20);
                self.emit(cst(assessed, 16 * 60), "committee-01", json!({"type": "community.record_assessment", "community_id": id, "assessed_on": date(assessed), "assessor": "省安全社区评定组", "passed": true}));
                let named = d(y0 + 1, 9, 10);
                self.emit(cst(named, 10 * 60), "committee-01", json!({"type": "community.name_safe_community", "community_id": id, "named_on": date(named), "named_by": "国务院安委会办公室"}));
            }
            2 => {
                let started = d(y0 + 1, 4, 1);
                self.emit(
                    cst(started, 10 * 60),
                    "committee-01",
                    json!({"type": "community.start_creation", "community_id": id, "started_on": date(started)}),
                );
            }
            _ => {}
        }
    }

    /// Population revised every January; a control indicator set for every year.
    fn populations_and_indicators(&mut self, i: usize) {
        let Some(site) = self.sites.get(i) else { return };
        let (id, kind, mut population) = (site.id.clone(), site.kind, site.population);
        for year in self.start.year()..=self.end.year() {
            let jan = |day: u32| NaiveDate::from_ymd_opt(year, 1, day).unwrap_or_default();
            if year > self.start.year() {
                let change = match kind {
                    Kind::UrbanStreet => self.rng.range(5, 30),
                    Kind::RuralTown => self.rng.range(-20, 3),
                    Kind::EnterpriseLed => self.rng.range(-10, 10),
                };
                population = (i64::from(population) * (1000 + change) / 1000).max(1000) as u32;
                let as_of = jan(1) - Duration::days(1);
                self.emit(
                    cst(jan(8), 10 * 60 + i as i64),
                    "committee-01",
                    json!({"type": "community.revise_population", "community_id": id, "population": population, "as_of": date(as_of)}),
                );
            }
            // About 7.5 deaths per 100k a year at scale 1, tighter in the last year.
            let rate = if year == self.end.year() { 6.5 } else { 7.5 };
            let total = ((f64::from(population) * rate / 100_000.0) * self.scale).round().max(1.0) as u32;
            let share = |p: f64| ((f64::from(total) * p).round() as u32).clamp(1, total);
            let set_on = jan(10);
            self.emit(
                cst(set_on, 14 * 60 + i as i64),
                "bureau-admin",
                json!({
                    "type": "community.set_control_indicator", "community_id": id, "year": year, "total_deaths": total,
                    "per_category": [
                        {"category": "road_traffic", "deaths": share(0.45)},
                        {"category": "production", "deaths": share(0.2)},
                        {"category": "fire", "deaths": share(0.1)},
                    ],
                    "set_on": date(set_on), "set_by": "示范区安全生产委员会",
                }),
            );
        }
        if let Some(s) = self.sites.get_mut(i) {
            s.population = population;
        }
        // One grid changes hands in the middle of the history.
        let grid = self.sites.get(i).and_then(|s| s.grids.first().cloned());
        if let Some(grid_id) = grid {
            let person = self.person();
            let day = NaiveDate::from_ymd_opt(self.start.year() + 1, 6, 1).unwrap_or(self.start);
            self.emit(
                cst(day, 9 * 60 + i as i64),
                "committee-01",
                json!({"type": "community.assign_grid_responsible", "community_id": id, "grid_id": grid_id, "responsible_person": person}),
            );
        }
    }
}
