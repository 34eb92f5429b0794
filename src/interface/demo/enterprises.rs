//! The enterprises' story: registered in every community (more where enterprises lead), graded
//! for supervision (分级分类) and some regraded a year on.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::json;

use super::data::industry_zh;
use super::{cst, date, Cursor, Gen, Kind};

impl Gen {
    pub(super) fn setup_enterprises(&mut self) {
        let setup = self.start + Duration::days(2);
        for i in 0..self.sites.len() {
            let (site_id, kind) = match self.sites.get(i) {
                Some(s) => (s.id.clone(), s.kind),
                None => continue,
            };
            let (n, industries): (i64, &[&str]) = match kind {
                Kind::EnterpriseLed => {
                    (self.rng.range(5, 8), &["hazardous_chemicals", "metallurgy", "manufacturing", "transport"])
                }
                Kind::UrbanStreet => (self.rng.range(1, 3), &["commerce", "construction", "manufacturing", "other"]),
                Kind::RuralTown => (self.rng.range(2, 4), &["agriculture", "mining", "fireworks", "manufacturing"]),
            };
            let mut cur = Cursor(cst(setup, 9 * 60 + i as i64 * 10));
            for k in 0..n {
                let id = format!("e{}{:02}", site_id.trim_start_matches('c'), k + 1);
                let industry = self.rng.pick(industries, "other");
                let t = cur.after(1);
                self.emit(
                    t,
                    "bureau-admin",
                    json!({
                        "type": "enterprise.register", "enterprise_id": id, "community_id": site_id,
                        "name": format!("示范{}有限公司{}", industry_zh(industry), k + 1), "industry": industry,
                    }),
                );
                let grade = ["A", "B", "B", "C", "C", "D"][self.rng.below(6) as usize];
                let t = cur.after(1);
                self.emit(
                    t,
                    "bureau-admin",
                    json!({"type": "enterprise.assign_grade", "enterprise_id": id, "grade": grade, "effective_on": date(setup), "reason": "年度分级分类评定"}),
                );
                if self.rng.chance(0.25) {
                    let on = NaiveDate::from_ymd_opt(self.start.year() + 1, 7, 1).unwrap_or(setup);
                    let regrade = ["B", "C", "D"][self.rng.below(3) as usize];
                    self.emit(
                        cst(on, 10 * 60 + k),
                        "bureau-admin",
                        json!({"type": "enterprise.assign_grade", "enterprise_id": id, "grade": regrade, "effective_on": date(on), "reason": "隐患排查情况调整监管等级"}),
                    );
                }
                if let Some(s) = self.sites.get_mut(i) {
                    s.enterprises.push(id);
                }
            }
        }
    }
}
