//! The hazards' story (隐患): each one reported, graded, ordered rectified (五到位) and, by its
//! fate, done and verified and closed (销号) on time or late, extended, reopened after a failed
//! verification, or left stalled and overdue; major ones listed for supervision (挂牌督办) and
//! their enterprises sanctioned. Six storylines every history carries, whatever its scale.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::json;

use super::data::hazard_text;
use super::{cst, date, day_of, ts, Cursor, Gen, Kind};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Done, verified and closed within the deadline.
    OnTime,
    /// Done after the deadline, then closed.
    Late,
    /// Deadline extended with a reason, then closed.
    Extended,
    /// Verification failed (reopened); closed after a second round unless `stays_open`.
    Reopened { stays_open: bool },
    /// Never reported done: overdue once its deadline passes.
    Stalled,
}

struct HazardSpec {
    site: usize,
    found: DateTime<Utc>,
    category: &'static str,
    enterprise: Option<String>,
    major: bool,
    listed: Option<&'static str>,
    refused_order: bool,
    fate: Fate,
}

impl Gen {
    pub(super) fn hazards(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(1000.0 * years);
        // Storylines every history carries, whatever the scale.
        let y0 = self.start.year();
        let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let before_end = |days: i64| self.end - Duration::days(days);
        let forced = [
            (day(y0, 4, 10), true, Some("city"), true, Fate::OnTime),
            (before_end(130), true, Some("province"), false, Fate::Stalled),
            (day(y0 + 1, 3, 5), false, None, false, Fate::Reopened { stays_open: false }),
            (before_end(95), false, None, false, Fate::Stalled),
            (day(y0 + 1, 8, 20), true, Some("county"), true, Fate::Reopened { stays_open: true }),
            (day(y0 + 1, 5, 12), false, None, false, Fate::Extended),
        ];
        for (i, (found_day, major, listed, refused, fate)) in forced.into_iter().enumerate() {
            let site = i % self.sites.len().max(1);
            let enterprise = self.sites.get(site).and_then(|s| s.enterprises.first().cloned());
            let category = if major { "hazardous_chemicals" } else { "fire" };
            let found = cst(found_day, 10 * 60);
            let spec = HazardSpec { site, found, category, enterprise, major, listed, refused_order: refused, fate };
            self.hazard(spec);
        }
        for _ in forced.len()..n.max(forced.len()) {
            let spec = self.random_hazard();
            self.hazard(spec);
        }
    }

    fn random_hazard(&mut self) -> HazardSpec {
        let site = self.random_site();
        let d = self.random_day();
        let found = cst(d, self.rng.range(8 * 60, 17 * 60));
        let (kind, enterprises) =
            self.sites.get(site).map(|s| (s.kind, s.enterprises.clone())).unwrap_or((Kind::UrbanStreet, Vec::new()));
        let p_enterprise = if kind == Kind::EnterpriseLed { 0.8 } else { 0.35 };
        let enterprise = if !enterprises.is_empty() && self.rng.chance(p_enterprise) {
            enterprises.get(self.rng.below(enterprises.len() as u64) as usize).cloned()
        } else {
            None
        };
        let category = if enterprise.is_some() {
            let c = ["production", "hazardous_chemicals", "fire", "electricity", "special_equipment", "construction"];
            c[self.rng.weighted(&[35, 15, 20, 15, 10, 5])]
        } else {
            let c = ["fire", "electricity", "road_traffic", "construction", "public_place", "water", "home"];
            c[self.rng.weighted(&[35, 20, 15, 10, 8, 6, 6])]
        };
        let major = self.rng.chance(0.05);
        let listed = if major && self.rng.chance(0.45) {
            Some(["city", "city", "county", "province"][self.rng.below(4) as usize])
        } else {
            None
        };
        let refused_order = major && self.rng.chance(0.3);
        let r = self.rng.unit();
        let fate = if r < 0.80 {
            Fate::OnTime
        } else if r < 0.88 {
            Fate::Late
        } else if r < 0.93 {
            Fate::Extended
        } else if r < 0.97 {
            Fate::Reopened { stays_open: self.rng.chance(0.1) }
        } else {
            Fate::Stalled
        };
        HazardSpec { site, found, category, enterprise, major, listed, refused_order, fate }
    }

    /// One hazard's life; returns its id.
    fn hazard(&mut self, spec: HazardSpec) -> String {
        self.hazard_no += 1;
        let id = format!("hz-{:05}", self.hazard_no);
        let Some(site) = self.sites.get(spec.site) else { return id };
        let site_id = site.id.clone();
        let grid = site.grids.get(self.rng.below(site.grids.len() as u64) as usize).cloned();
        if let Some(s) = self.sites.get_mut(spec.site) {
            s.hazards.push((spec.found, id.clone()));
        }
        let (source, reporter_actor) = match (&spec.enterprise, self.rng.below(10)) {
            (Some(e), 0..=4) => ("enterprise_self_check", format!("safety-{e}")),
            (Some(_), _) | (None, 0..=1) => ("department_inspection", self.bureau().to_string()),
            (None, 2..=3) => ("resident_report", "hotline-12345".to_string()),
            (None, _) => ("grid_inspection", format!("grid-{}", grid.as_deref().unwrap_or(&site_id))),
        };
        let reporter = self.person();
        let (location, description) = hazard_text(spec.category, self.rng.below(3));
        let mut cur = Cursor(spec.found);
        let t = cur.after(self.rng.range(20, 180));
        self.emit(
            t,
            &reporter_actor,
            json!({
                "type": "hazard.report", "hazard_id": id, "source": source, "reporter": reporter,
                "community_id": site_id, "grid_id": grid, "enterprise_id": spec.enterprise,
                "category": spec.category, "location": location, "description": description, "found_at": ts(spec.found),
            }),
        );
        let grader = self.bureau();
        let t = cur.after(self.rng.range(60, 26 * 60));
        let grade = if spec.major {
            json!({"type": "hazard.grade", "hazard_id": id, "grade": "major", "criterion": "MEM-10", "criterion_version": "2023", "basis": "涉及重点监管危险化工工艺未实现自动化控制等情形"})
        } else {
            json!({"type": "hazard.grade", "hazard_id": id, "grade": "general", "criterion": "SAWS-16", "criterion_version": "2008", "basis": null})
        };
        self.emit(t, grader, grade);
        let responsible = match &spec.enterprise {
            Some(_) => "企业主要负责人",
            None => "社区安全员",
        };
        let rectifier = match &spec.enterprise {
            Some(e) => format!("officer-{e}"),
            None => format!("rect-{site_id}"),
        };
        let funds = if spec.major { self.rng.range(50_000, 2_000_000) } else { self.rng.range(500, 30_000) };
        let t = cur.after(self.rng.range(60, 30 * 60));
        let order_day = day_of(t);
        let deadline =
            order_day + Duration::days(if spec.major { self.rng.range(30, 90) } else { self.rng.range(7, 30) });
        let order = |funds: Option<i64>, plan: Option<&str>| {
            json!({
                "type": "hazard.order_rectification", "hazard_id": id, "responsible": responsible,
                "measures": "按整改方案限期整改", "funds_yuan": funds, "deadline": date(deadline), "contingency_plan": plan,
            })
        };
        if spec.refused_order {
            // The first order lacks funds (and sometimes the plan): refused, naming what is missing.
            let plan = if self.rng.chance(0.5) { Some("整改期间停用相关设施并专人值守") } else { None };
            self.refuse(t, grader, order(None, plan));
            let t = cur.after(self.rng.range(6 * 60, 26 * 60));
            self.emit(t, grader, order(Some(funds), Some("整改期间停用相关设施并专人值守")));
        } else {
            let plan = if spec.major || self.rng.chance(0.6) {
                Some("整改期间设置警示标志并专人看护")
            } else {
                None
            };
            self.emit(t, grader, order(Some(funds), plan));
        }
        let ordered_at = cur.0;
        if let Some(level) = spec.listed {
            let by = match level {
                "province" => "示范省人民政府安全生产委员会",
                "city" => "示范市人民政府安全生产委员会",
                _ => "示范区人民政府安全生产委员会",
            };
            let t = cur.after(self.rng.range(24 * 60, 5 * 24 * 60));
            self.emit(
                t,
                "city-safety-committee",
                json!({"type": "hazard.list_for_supervision", "hazard_id": id, "level": level, "listed_by": by}),
            );
        }
        if spec.major {
            if let Some(e) = &spec.enterprise {
                if self.rng.chance(0.4) {
                    let suspend = self.rng.chance(0.5);
                    let at = ordered_at + Duration::hours(3);
                    let body = if suspend {
                        json!({"type": "enterprise.take_enforcement_action", "enterprise_id": e, "action": "suspend_for_rectification",
                               "decided_on": date(day_of(at)), "decided_by": "示范区应急管理局", "decision_no": format!("示应急责改〔{}〕{}号", day_of(at).year(), self.hazard_no),
                               "reason": "存在重大事故隐患", "hazard_id": id, "fine_yuan": null})
                    } else {
                        json!({"type": "enterprise.take_enforcement_action", "enterprise_id": e, "action": "fine",
                               "decided_on": date(day_of(at)), "decided_by": "示范区应急管理局", "decision_no": format!("示应急罚〔{}〕{}号", day_of(at).year(), self.hazard_no),
                               "reason": "重大事故隐患未及时消除", "hazard_id": id, "fine_yuan": self.rng.range(20_000, 200_000)})
                    };
                    self.emit(at, "bureau-admin", body);
                }
            }
            let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
            self.emit(t, &rectifier, json!({"type": "hazard.note_progress", "hazard_id": id, "note": "整改方案已报备，资金已落实，正在施工"}));
        }
        let deadline_end = cst(deadline, 17 * 60);
        let verifier = self.bureau();
        match spec.fate {
            Fate::Stalled => {
                let t = cur.after(self.rng.range(2 * 24 * 60, 6 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.note_progress", "hazard_id": id, "note": "整改资金未到位，进度滞后"}),
                );
            }
            Fate::OnTime | Fate::Late | Fate::Extended => {
                let mut due = deadline_end;
                if spec.fate == Fate::Extended {
                    let t = cur.at(deadline_end - Duration::days(2));
                    let new_deadline = deadline + Duration::days(self.rng.range(15, 30));
                    self.emit(t, grader, json!({"type": "hazard.extend_deadline", "hazard_id": id, "new_deadline": date(new_deadline), "reason": "设备采购周期长，申请延期"}));
                    due = cst(new_deadline, 17 * 60);
                }
                let done = if spec.fate == Fate::Late {
                    due + Duration::minutes(self.rng.range(2 * 24 * 60, 20 * 24 * 60))
                } else {
                    let window = (due - cur.0).num_minutes() - 3 * 24 * 60;
                    cur.0 + Duration::minutes(self.rng.range(60, window.max(61)))
                };
                let t = cur.at(done);
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已按要求完成整改"}),
                );
                if self.rng.chance(0.005) {
                    // The rectifier tries to sign off their own work: refused (segregation of duties).
                    let t = cur.after(30);
                    self.refuse(t, &rectifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "自行验收"}));
                }
                let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "现场验收合格"}));
                let t = cur.after(self.rng.range(10, 120));
                self.emit(
                    t,
                    verifier,
                    json!({"type": "hazard.close", "hazard_id": id, "remarks": "整改到位，予以销号"}),
                );
            }
            Fate::Reopened { stays_open } => {
                let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已完成整改"}),
                );
                let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": false, "remarks": "整改不到位，隐患仍然存在"}));
                let t = cur.after(self.rng.range(24 * 60, 3 * 24 * 60));
                self.emit(
                    t,
                    &rectifier,
                    json!({"type": "hazard.note_progress", "hazard_id": id, "note": "按验收意见重新整改"}),
                );
                if !stays_open {
                    let t = cur.after(self.rng.range(4 * 24 * 60, 15 * 24 * 60));
                    self.emit(t, &rectifier, json!({"type": "hazard.report_rectification_done", "hazard_id": id, "summary": "已重新整改完毕"}));
                    let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                    self.emit(t, verifier, json!({"type": "hazard.verify_rectification", "hazard_id": id, "passed": true, "remarks": "复查合格"}));
                    let t = cur.after(self.rng.range(10, 120));
                    self.emit(
                        t,
                        verifier,
                        json!({"type": "hazard.close", "hazard_id": id, "remarks": "复查合格，予以销号"}),
                    );
                }
            }
        }
        id
    }
}
