//! The safety-promotion projects' story (安全促进项目): planned against a target of the
//! community's kind, interventions planned and implemented, and the project evaluated with
//! before/after figures.

use chrono::{Datelike, Duration, NaiveDate};

use super::data::{Target, ENTERPRISE_TARGETS, RURAL_TARGETS, URBAN_TARGETS};
use super::{cst, id, Cursor, Gen};
use crate::domain::promotion::{EvaluateProject, ImplementIntervention, PlanIntervention, PlanProject, ProjectCommand};
use crate::events::community::CommunityKind;

impl Gen {
    pub(super) fn projects(&mut self) {
        let n = self.scaled(1.5 * f64::from(self.n_sites)).max(2);
        for no in 1..=n {
            let site = (no - 1) % self.sites.len().max(1);
            let (site_id, kind) = match self.sites.get(site) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let options: &[Target] = match kind {
                CommunityKind::UrbanStreet => &URBAN_TARGETS,
                CommunityKind::RuralTown => &RURAL_TARGETS,
                CommunityKind::EnterpriseLed => &ENTERPRISE_TARGETS,
            };
            let Some(target) = options.get(no / self.sites.len().max(1) % options.len().max(1)).copied() else {
                continue;
            };
            let Some(project_id) = id(format!("prj-{no:03}")) else { continue };
            // Planned in the first two years, baseline the year before.
            let plan_year = self.start.year() + (self.rng.below(2) as i32);
            let plan_day =
                NaiveDate::from_ymd_opt(plan_year, 1 + self.rng.below(6) as u32, 1 + self.rng.below(28) as u32)
                    .unwrap_or(self.start);
            let baseline_from = NaiveDate::from_ymd_opt(plan_year - 1, 1, 1).unwrap_or(self.start);
            let baseline_to = NaiveDate::from_ymd_opt(plan_year - 1, 12, 31).unwrap_or(self.start);
            let mut cur = Cursor(cst(plan_day, 9 * 60));
            let t = cur.after(30);
            let plan = PlanProject {
                project_id: project_id.clone(),
                community_id: site_id,
                name: target.name.to_string(),
                target_category: target.category.map(str::to_string),
                target_group: target.group.map(str::to_string),
                target_place: target.place.map(str::to_string),
                objective: target.objective.to_string(),
                baseline_from,
                baseline_to,
            };
            self.emit(t, "committee-01", ProjectCommand::Plan(plan));
            let k = self.rng.range(3, 6) as usize;
            let mut planned = Vec::new();
            for j in 0..k {
                let Some(iv) = id(format!("iv-{}", j + 1)) else { continue };
                let what = target.measures.get(j % target.measures.len().max(1)).copied().unwrap_or("宣传教育");
                let planned_for = plan_day + Duration::days(30 + self.rng.range(0, 300));
                let t = cur.after(5);
                let intervention = PlanIntervention {
                    project_id: project_id.clone(),
                    intervention_id: iv.clone(),
                    what: what.to_string(),
                    planned_for,
                };
                self.emit(t, "committee-01", ProjectCommand::PlanIntervention(intervention));
                planned.push((iv, planned_for));
            }
            planned.sort_by_key(|p| p.1);
            let mut last_done = None;
            for (iv, planned_for) in planned {
                if self.rng.chance(0.1) {
                    continue;
                }
                let on = planned_for + Duration::days(self.rng.range(0, 20));
                let reach = self.rng.range(50, 3000);
                let t = cur.at(cst(on, 18 * 60));
                let implemented = ImplementIntervention {
                    project_id: project_id.clone(),
                    intervention_id: iv,
                    implemented_on: on,
                    reach: reach as u32,
                };
                self.emit(t, "committee-01", ProjectCommand::ImplementIntervention(implemented));
                last_done = Some(on);
            }
            if let Some(last) = last_done {
                let on = last + Duration::days(self.rng.range(120, 360));
                let before = self.rng.range(20, 120);
                let after = before * self.rng.range(55, 92) / 100;
                let t = cur.at(cst(on, 15 * 60));
                let evaluation = EvaluateProject {
                    project_id,
                    indicator: target.indicator.to_string(),
                    before: before as u64,
                    after: after as u64,
                    evaluated_on: on,
                    conclusion: "干预措施有效，目标人群伤害发生明显下降".to_string(),
                };
                self.emit(t, "committee-01", ProjectCommand::Evaluate(evaluation));
            }
        }
    }
}
