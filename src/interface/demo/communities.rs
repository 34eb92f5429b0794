//! The communities' story: registration with grids, the safe-community programme (创建, 评定,
//! 命名, 复评), populations revised every January, yearly control indicators (控制指标) and one
//! grid changing hands.

use chrono::{Datelike, Duration, NaiveDate};

use super::data::{ENTERPRISE_NAMES, RURAL_NAMES, URBAN_NAMES};
use super::{cst, id, Cursor, Gen, Site};
use crate::domain::community::{
    AddGrid, AssignGridResponsible, CommunityCommand, NameSafeCommunity, RecordAssessment, RecordReassessment,
    RegisterCommunity, RevisePopulation, SetControlIndicator, StartCreation,
};
use crate::events::community::{CategoryLimit, CommunityKind};

impl Gen {
    pub(super) fn setup_communities(&mut self) {
        let setup = self.start + Duration::days(1);
        let (mut urban, mut rural, mut ent) = (0usize, 0usize, 0usize);
        for i in 0..self.n_sites as usize {
            let kind = match i % 10 {
                2 | 4 | 7 => CommunityKind::RuralTown,
                5 | 9 => CommunityKind::EnterpriseLed,
                _ => CommunityKind::UrbanStreet,
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
                CommunityKind::UrbanStreet => {
                    urban += 1;
                    (name(&URBAN_NAMES, urban - 1, "街道"), self.rng.range(40_000, 95_000))
                }
                CommunityKind::RuralTown => {
                    rural += 1;
                    let suffix = if rural % 2 == 0 { "乡" } else { "镇" };
                    (name(&RURAL_NAMES, rural - 1, suffix), self.rng.range(18_000, 45_000))
                }
                CommunityKind::EnterpriseLed => {
                    ent += 1;
                    (name(&ENTERPRISE_NAMES, ent - 1, "社区"), self.rng.range(6_000, 18_000))
                }
            };
            let Some(community_id) = id(format!("c{:02}", i + 1)) else { continue };
            let population = population as u32;
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 3));
            let t = cur.at(cur.0);
            let register = RegisterCommunity {
                community_id: community_id.clone(),
                name,
                kind,
                district: "示范区".to_string(),
                population,
                population_as_of: self.start - Duration::days(1),
            };
            self.emit(t, "committee-01", CommunityCommand::Register(register));
            let mut grids = Vec::new();
            for g in 0..self.rng.range(3, 6) {
                let Some(grid_id) = id(format!("{community_id}-g{}", g + 1)) else { continue };
                let person = self.person();
                let t = cur.after(1);
                let grid = AddGrid {
                    community_id: community_id.clone(),
                    grid_id: grid_id.clone(),
                    name: format!("第{}网格", g + 1),
                    responsible_person: person.into(),
                    responsible_person_id: None,
                };
                self.emit(t, "committee-01", CommunityCommand::AddGrid(grid));
                grids.push(grid_id);
            }
            let site = Site { id: community_id, kind, population, grids, enterprises: Vec::new(), hazards: Vec::new() };
            self.sites.push(site);
            self.milestones(i, &mut cur);
            self.populations_and_indicators(i);
        }
    }

    /// The safe-community programme: some named long ago and re-assessed, some named during the
    /// history, some just started.
    fn milestones(&mut self, i: usize, cur: &mut Cursor) {
        let Some(community_id) = self.sites.get(i).map(|s| s.id.clone()) else { return };
        let y0 = self.start.year();
        let d = |y: i32, m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        let start = |started_on| {
            CommunityCommand::StartCreation(StartCreation { community_id: community_id.clone(), started_on })
        };
        let assessment = |assessed_on| {
            CommunityCommand::RecordAssessment(RecordAssessment {
                community_id: community_id.clone(),
                assessed_on,
                assessor: "省安全社区评定组".into(),
                assessor_person_id: None,
                passed: true,
            })
        };
        let naming = |named_on| {
            CommunityCommand::Name(NameSafeCommunity {
                community_id: community_id.clone(),
                named_on,
                named_by: "国务院安委会办公室".to_string(),
            })
        };
        match i % 4 {
            0 => {
                let t = cur.after(1);
                self.emit(t, "committee-01", start(d(y0 - 6, 3, 1)));
                let t = cur.after(1);
                self.emit(t, "committee-01", assessment(d(y0 - 5, 6, 1)));
                let t = cur.after(1);
                self.emit(t, "committee-01", naming(d(y0 - 5, 11, 20)));
                let re = d(y0, 11, 25);
                let reassessment =
                    RecordReassessment { community_id: community_id.clone(), reassessed_on: re, passed: true };
                self.emit(cst(re, 15 * 60), "committee-01", CommunityCommand::RecordReassessment(reassessment));
            }
            1 => {
                let started = d(y0, 3, 15);
                self.emit(cst(started, 10 * 60), "committee-01", start(started));
                let assessed = d(y0 + 1, 5, 20);
                self.emit(cst(assessed, 16 * 60), "committee-01", assessment(assessed));
                let named = d(y0 + 1, 9, 10);
                self.emit(cst(named, 10 * 60), "committee-01", naming(named));
            }
            2 => {
                let started = d(y0 + 1, 4, 1);
                self.emit(cst(started, 10 * 60), "committee-01", start(started));
            }
            _ => {}
        }
    }

    /// Population revised every January; a control indicator set for every year.
    fn populations_and_indicators(&mut self, i: usize) {
        let Some(site) = self.sites.get(i) else { return };
        let (community_id, kind, mut population) = (site.id.clone(), site.kind, site.population);
        for year in self.start.year()..=self.end.year() {
            let jan = |day: u32| NaiveDate::from_ymd_opt(year, 1, day).unwrap_or_default();
            if year > self.start.year() {
                let change = match kind {
                    CommunityKind::UrbanStreet => self.rng.range(5, 30),
                    CommunityKind::RuralTown => self.rng.range(-20, 3),
                    CommunityKind::EnterpriseLed => self.rng.range(-10, 10),
                };
                population = (i64::from(population) * (1000 + change) / 1000).max(1000) as u32;
                let revision = RevisePopulation {
                    community_id: community_id.clone(),
                    population,
                    as_of: jan(1) - Duration::days(1),
                };
                self.emit(
                    cst(jan(8), 10 * 60 + i as i64),
                    "committee-01",
                    CommunityCommand::RevisePopulation(revision),
                );
            }
            // About 7.5 deaths per 100k a year at scale 1, tighter in the last year.
            let rate = if year == self.end.year() { 6.5 } else { 7.5 };
            let total = ((f64::from(population) * rate / 100_000.0) * self.scale).round().max(1.0) as u32;
            let share = |category: &str, p: f64| CategoryLimit {
                category: category.to_string(),
                deaths: ((f64::from(total) * p).round() as u32).clamp(1, total),
            };
            let set_on = jan(10);
            let indicator = SetControlIndicator {
                community_id: community_id.clone(),
                year,
                total_deaths: total,
                per_category: vec![share("road_traffic", 0.45), share("production", 0.2), share("fire", 0.1)],
                set_on,
                set_by: "示范区安全生产委员会".to_string(),
            };
            self.emit(
                cst(set_on, 14 * 60 + i as i64),
                "bureau-admin",
                CommunityCommand::SetControlIndicator(indicator),
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
            let handover = AssignGridResponsible {
                community_id,
                grid_id,
                responsible_person: person.into(),
                responsible_person_id: None,
            };
            self.emit(cst(day, 9 * 60 + i as i64), "committee-01", CommunityCommand::AssignGridResponsible(handover));
        }
    }
}
