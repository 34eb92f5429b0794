//! The hazards' story (隐患): each one reported, graded, ordered rectified (五到位) and, by its
//! fate, done and verified and closed (销号) on time or late, extended, reopened after a failed
//! verification, or left stalled and overdue; major ones listed for supervision (挂牌督办) and
//! their enterprises sanctioned. Six storylines every history carries, whatever its scale.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::data::hazard_text;
use super::{cst, day_of, id, Cursor, Gen};
use crate::domain::enterprise::{EnterpriseCommand, TakeEnforcementAction};
use crate::domain::hazard::{
    CloseHazard, ExtendRectificationDeadline, GradeHazard, HazardCommand, ListForSupervision,
    NoteRectificationProgress, OrderRectification, ReportHazard, ReportRectificationDone, VerifyRectification,
};
use crate::events::community::CommunityKind;
use crate::events::enterprise::EnforcementAction;
use crate::events::hazard::{HazardSource, SupervisionLevel};
use crate::events::EntityId;

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
    enterprise: Option<EntityId>,
    major: bool,
    listed: Option<SupervisionLevel>,
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
            (day(y0, 4, 10), true, Some(SupervisionLevel::City), true, Fate::OnTime),
            (before_end(130), true, Some(SupervisionLevel::Province), false, Fate::Stalled),
            (day(y0 + 1, 3, 5), false, None, false, Fate::Reopened { stays_open: false }),
            (before_end(95), false, None, false, Fate::Stalled),
            (day(y0 + 1, 8, 20), true, Some(SupervisionLevel::County), true, Fate::Reopened { stays_open: true }),
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
        let (kind, enterprises) = self
            .sites
            .get(site)
            .map(|s| (s.kind, s.enterprises.clone()))
            .unwrap_or((CommunityKind::UrbanStreet, Vec::new()));
        let p_enterprise = if kind == CommunityKind::EnterpriseLed { 0.8 } else { 0.35 };
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
            use SupervisionLevel::{City, County, Province};
            Some([City, City, County, Province][self.rng.below(4) as usize])
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

    /// One hazard's life.
    fn hazard(&mut self, spec: HazardSpec) {
        self.hazard_no += 1;
        let Some(hazard_id) = id(format!("hz-{:05}", self.hazard_no)) else { return };
        let Some(site) = self.sites.get(spec.site) else { return };
        let site_id = site.id.clone();
        let grid = site.grids.get(self.rng.below(site.grids.len() as u64) as usize).cloned();
        if let Some(s) = self.sites.get_mut(spec.site) {
            s.hazards.push((spec.found, hazard_id.clone()));
        }
        let (source, reporter_actor) = match (&spec.enterprise, self.rng.below(10)) {
            (Some(e), 0..=4) => (HazardSource::EnterpriseSelfCheck, format!("safety-{e}")),
            (Some(_), _) | (None, 0..=1) => (HazardSource::DepartmentInspection, self.bureau().to_string()),
            (None, 2..=3) => (HazardSource::ResidentReport, "hotline-12345".to_string()),
            (None, _) => (HazardSource::GridInspection, format!("grid-{}", grid.as_ref().unwrap_or(&site_id))),
        };
        let reporter = self.person();
        let (location, description) = hazard_text(spec.category, self.rng.below(3));
        let mut cur = Cursor(spec.found);
        let t = cur.after(self.rng.range(20, 180));
        let report = ReportHazard {
            hazard_id: hazard_id.clone(),
            source,
            reporter: reporter.into(),
            reporter_person_id: None,
            community_id: site_id.clone(),
            grid_id: grid,
            enterprise_id: spec.enterprise.clone(),
            category: spec.category.to_string(),
            location: location.to_string(),
            description: description.to_string(),
            found_at: spec.found,
        };
        self.emit(t, &reporter_actor, HazardCommand::Report(report));
        let grader = self.bureau();
        let t = cur.after(self.rng.range(60, 26 * 60));
        let (grade, criterion, criterion_version, basis) = if spec.major {
            ("major", "MEM-10", "2023", Some("涉及重点监管危险化工工艺未实现自动化控制等情形"))
        } else {
            ("general", "SAWS-16", "2008", None)
        };
        let grade = GradeHazard {
            hazard_id: hazard_id.clone(),
            grade: grade.to_string(),
            criterion: criterion.to_string(),
            criterion_version: criterion_version.to_string(),
            basis: basis.map(str::to_string),
        };
        self.emit(t, grader, HazardCommand::Grade(grade));
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
        let order = |funds_yuan: Option<i64>, plan: Option<&str>| {
            HazardCommand::OrderRectification(OrderRectification {
                hazard_id: hazard_id.clone(),
                responsible: Some(responsible.into()),
                responsible_person_id: None,
                measures: Some("按整改方案限期整改".to_string()),
                funds_yuan: funds_yuan.map(|f| f as u64),
                deadline: Some(deadline),
                contingency_plan: plan.map(str::to_string),
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
            let listed_by = match level {
                SupervisionLevel::Province => "示范省人民政府安全生产委员会",
                SupervisionLevel::City => "示范市人民政府安全生产委员会",
                SupervisionLevel::County => "示范区人民政府安全生产委员会",
            };
            let t = cur.after(self.rng.range(24 * 60, 5 * 24 * 60));
            let listing = ListForSupervision { hazard_id: hazard_id.clone(), level, listed_by: listed_by.to_string() };
            self.emit(t, "city-safety-committee", HazardCommand::ListForSupervision(listing));
        }
        if spec.major {
            if let Some(e) = &spec.enterprise {
                if self.rng.chance(0.4) {
                    let suspend = self.rng.chance(0.5);
                    let at = ordered_at + Duration::hours(3);
                    let (decided_on, no) = (day_of(at), self.hazard_no);
                    let year = decided_on.year();
                    let (action, decision_no, reason, fine_yuan) = if suspend {
                        let no = format!("示应急责改〔{year}〕{no}号");
                        (EnforcementAction::SuspendForRectification, no, "存在重大事故隐患", None)
                    } else {
                        let no = format!("示应急罚〔{year}〕{no}号");
                        let fine = self.rng.range(20_000, 200_000) as u64;
                        (EnforcementAction::Fine, no, "重大事故隐患未及时消除", Some(fine))
                    };
                    let enforcement = TakeEnforcementAction {
                        enterprise_id: e.clone(),
                        action,
                        decided_on,
                        decided_by: "示范区应急管理局".to_string(),
                        decision_no: Some(decision_no),
                        reason: reason.to_string(),
                        hazard_id: Some(hazard_id.clone()),
                        fine_yuan,
                    };
                    self.emit(at, "bureau-admin", EnterpriseCommand::TakeEnforcementAction(enforcement));
                }
            }
            let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
            self.emit(t, &rectifier, note(&hazard_id, "整改方案已报备，资金已落实，正在施工"));
        }
        let deadline_end = cst(deadline, 17 * 60);
        let verifier = self.bureau();
        match spec.fate {
            Fate::Stalled => {
                let t = cur.after(self.rng.range(2 * 24 * 60, 6 * 24 * 60));
                self.emit(t, &rectifier, note(&hazard_id, "整改资金未到位，进度滞后"));
            }
            Fate::OnTime | Fate::Late | Fate::Extended => {
                let mut due = deadline_end;
                if spec.fate == Fate::Extended {
                    let t = cur.at(deadline_end - Duration::days(2));
                    let new_deadline = deadline + Duration::days(self.rng.range(15, 30));
                    let extension = ExtendRectificationDeadline {
                        hazard_id: hazard_id.clone(),
                        new_deadline,
                        reason: "设备采购周期长，申请延期".to_string(),
                    };
                    self.emit(t, grader, HazardCommand::ExtendDeadline(extension));
                    due = cst(new_deadline, 17 * 60);
                }
                let done_at = if spec.fate == Fate::Late {
                    due + Duration::minutes(self.rng.range(2 * 24 * 60, 20 * 24 * 60))
                } else {
                    let window = (due - cur.0).num_minutes() - 3 * 24 * 60;
                    cur.0 + Duration::minutes(self.rng.range(60, window.max(61)))
                };
                let t = cur.at(done_at);
                self.emit(t, &rectifier, done(&hazard_id, "已按要求完成整改"));
                if self.rng.chance(0.005) {
                    // The rectifier tries to sign off their own work: refused (segregation of duties).
                    let t = cur.after(30);
                    self.refuse(t, &rectifier, verify(&hazard_id, true, "自行验收"));
                }
                self.verify_and_close(&mut cur, verifier, &hazard_id, "现场验收合格", "整改到位，予以销号");
            }
            Fate::Reopened { stays_open } => {
                let t = cur.after(self.rng.range(3 * 24 * 60, 10 * 24 * 60));
                self.emit(t, &rectifier, done(&hazard_id, "已完成整改"));
                let t = cur.after(self.rng.range(2 * 60, 36 * 60));
                self.emit(t, verifier, verify(&hazard_id, false, "整改不到位，隐患仍然存在"));
                let t = cur.after(self.rng.range(24 * 60, 3 * 24 * 60));
                self.emit(t, &rectifier, note(&hazard_id, "按验收意见重新整改"));
                if !stays_open {
                    let t = cur.after(self.rng.range(4 * 24 * 60, 15 * 24 * 60));
                    self.emit(t, &rectifier, done(&hazard_id, "已重新整改完毕"));
                    self.verify_and_close(&mut cur, verifier, &hazard_id, "复查合格", "复查合格，予以销号");
                }
            }
        }
    }

    /// A verification that passes, then the closing (销号).
    fn verify_and_close(
        &mut self,
        cur: &mut Cursor,
        verifier: &str,
        hazard_id: &EntityId,
        verified: &str,
        closed: &str,
    ) {
        let t = cur.after(self.rng.range(2 * 60, 36 * 60));
        self.emit(t, verifier, verify(hazard_id, true, verified));
        let t = cur.after(self.rng.range(10, 120));
        let close = CloseHazard { hazard_id: hazard_id.clone(), remarks: Some(closed.to_string()) };
        self.emit(t, verifier, HazardCommand::Close(close));
    }
}

fn note(hazard_id: &EntityId, note: &str) -> HazardCommand {
    HazardCommand::NoteProgress(NoteRectificationProgress { hazard_id: hazard_id.clone(), note: note.to_string() })
}

fn done(hazard_id: &EntityId, summary: &str) -> HazardCommand {
    HazardCommand::ReportDone(ReportRectificationDone { hazard_id: hazard_id.clone(), summary: summary.to_string() })
}

fn verify(hazard_id: &EntityId, passed: bool, remarks: &str) -> HazardCommand {
    HazardCommand::Verify(VerifyRectification { hazard_id: hazard_id.clone(), passed, remarks: remarks.to_string() })
}
