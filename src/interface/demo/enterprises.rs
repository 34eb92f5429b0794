//! The enterprises' story: registered in every community (more where enterprises lead), graded
//! for supervision (分级分类) and some regraded a year on.

use chrono::{Datelike, Duration, NaiveDate};

use super::data::industry_zh;
use super::{cst, id, Cursor, Gen};
use crate::domain::enterprise::{AssignSupervisionGrade, EnterpriseCommand, RegisterEnterprise};
use crate::events::community::CommunityKind;
use crate::events::EntityId;

impl Gen {
    pub(super) fn setup_enterprises(&mut self) {
        let setup = self.start + Duration::days(2);
        for i in 0..self.sites.len() {
            let (site_id, kind) = match self.sites.get(i) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let (n, industries): (i64, &[&str]) = match kind {
                CommunityKind::EnterpriseLed => {
                    (self.rng.range(5, 8), &["hazardous_chemicals", "metallurgy", "manufacturing", "transport"])
                }
                CommunityKind::UrbanStreet => {
                    (self.rng.range(1, 3), &["commerce", "construction", "manufacturing", "other"])
                }
                CommunityKind::RuralTown => {
                    (self.rng.range(2, 4), &["agriculture", "mining", "fireworks", "manufacturing"])
                }
            };
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 10));
            for k in 0..n {
                let Some(enterprise_id) = id(format!("e{}{:02}", site_id.as_str().trim_start_matches('c'), k + 1))
                else {
                    continue;
                };
                let industry = self.rng.pick(industries, "other");
                let t = cur.after(1);
                let register = RegisterEnterprise {
                    enterprise_id: enterprise_id.clone(),
                    name: format!("示范{}有限公司{}", industry_zh(industry), k + 1),
                    community_id: site_id.clone(),
                    industry: industry.to_string(),
                };
                self.emit(t, "bureau-admin", EnterpriseCommand::Register(register));
                let grade = ["A", "B", "B", "C", "C", "D"][self.rng.below(6) as usize];
                let t = cur.after(1);
                self.emit(t, "bureau-admin", assign_grade(&enterprise_id, grade, setup, "年度分级分类评定"));
                if self.rng.chance(0.25) {
                    let on = NaiveDate::from_ymd_opt(self.start.year() + 1, 7, 1).unwrap_or(setup);
                    let regrade = ["B", "C", "D"][self.rng.below(3) as usize];
                    let command = assign_grade(&enterprise_id, regrade, on, "隐患排查情况调整监管等级");
                    self.emit(cst(on, 10 * 60 + k), "bureau-admin", command);
                }
                if let Some(s) = self.sites.get_mut(i) {
                    s.enterprises.push(enterprise_id);
                }
            }
        }
    }
}

fn assign_grade(enterprise_id: &EntityId, grade: &str, effective_on: NaiveDate, reason: &str) -> EnterpriseCommand {
    EnterpriseCommand::AssignGrade(AssignSupervisionGrade {
        enterprise_id: enterprise_id.clone(),
        grade: grade.to_string(),
        effective_on,
        reason: reason.to_string(),
    })
}
