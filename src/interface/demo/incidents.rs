//! The incidents' story (事故): reported with casualties, revised, investigated at the level the
//! grade calls for (with appraisals and extensions), the four don't-let-go (四不放过) carried out
//! or some left missing, closed with a sign-off and evaluated a year on. Two 较大 accidents every
//! history carries; the current year is visibly safer.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::data::{incident_cause, incident_place, incident_summary};
use super::{cst, id, Cursor, Gen};
use crate::domain::incident::{
    CloseIncident, ConductEducation, DealWithResponsible, DetermineCause, EndAppraisal, ExtendInvestigation,
    ImplementCorrectiveMeasures, IncidentCommand, OpenInvestigation, RecordEvaluation, ReportIncident,
    ReviseCasualties, StartAppraisal, SubmitInvestigationReport,
};
use crate::events::incident::AuthorityLevel;
use crate::events::EntityId;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Story {
    Complete,
    MissingConditions,
}

#[derive(Clone, Copy)]
struct Casualties {
    deaths: u32,
    serious: u32,
    minor: u32,
    missing: u32,
    loss: u64,
}

impl Gen {
    pub(super) fn incidents(&mut self) {
        let years = self.span_days() as f64 / 365.0;
        let n = self.scaled(150.0 * years).max(3);
        let y0 = self.start.year();
        let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        // 较大 accidents: one in each of the first two years, none in the current one.
        let larger = [
            (day(y0, 6, 18), "production", 3u32, 4u32, 2u32, 0u32, 3_800_000u64),
            (day(y0 + 1, 9, 3), "construction", 4, 2, 5, 0, 6_200_000),
        ];
        let mut no = 0usize;
        for (d, category, deaths, serious, minor, missing, loss) in larger {
            no += 1;
            let site = self.random_site();
            let occurred = cst(d, 10 * 60 + 25);
            let c = Casualties { deaths, serious, minor, missing, loss };
            self.incident(no, site, occurred, category, c, Story::Complete);
        }
        for _ in larger.len()..n {
            no += 1;
            let site = self.random_site();
            let d = self.random_day();
            let occurred = cst(d, self.rng.range(0, 24 * 60 - 1));
            let cats = [
                "road_traffic",
                "production",
                "fire",
                "construction",
                "water",
                "home",
                "elderly_fall",
                "public_security",
                "electricity",
                "special_equipment",
                "hazardous_chemicals",
                "pesticide_poisoning",
                "agricultural_machinery",
                "school_child",
                "public_place",
            ];
            let category = cats[self.rng.weighted(&[34, 12, 11, 6, 6, 5, 6, 5, 3, 2, 2, 2, 2, 2, 2])];
            let current = d.year() == self.end.year();
            let c = self.casualties(category, current);
            let r = self.rng.unit();
            let story = if r < 0.12 { Story::MissingConditions } else { Story::Complete };
            self.incident(no, site, occurred, category, c, story);
        }
    }

    fn casualties(&mut self, category: &str, current_year: bool) -> Casualties {
        // (p one death, p two deaths, serious max, minor max, loss range)
        let (p1, p2, smax, mmax, lo, hi) = match category {
            "road_traffic" => (0.25, 0.03, 2, 4, 5_000, 200_000),
            "production" | "construction" | "special_equipment" | "hazardous_chemicals" => {
                (0.35, 0.04, 2, 3, 50_000, 2_000_000)
            }
            "fire" => (0.10, 0.02, 1, 3, 20_000, 3_000_000),
            "water" => (0.70, 0.03, 0, 1, 0, 0),
            _ => (0.15, 0.0, 1, 2, 0, 50_000),
        };
        // The current year is visibly safer: with the year not yet over, deaths come out some
        // 20–40% below the previous year's.
        let f = if current_year { 0.8 } else { 1.0 };
        let r = self.rng.unit();
        let deaths = if r < p2 * f {
            2
        } else if r < (p1 + p2) * f {
            1
        } else {
            0
        };
        let serious = self.rng.range(0, smax) as u32;
        let mut minor = self.rng.range(0, mmax) as u32;
        if deaths == 0 && serious == 0 && minor == 0 {
            minor = 1;
        }
        Casualties { deaths, serious, minor, missing: 0, loss: self.rng.range(lo, hi) as u64 }
    }

    /// One incident: report, revisions, investigation, the four don't-let-go, closing,
    /// evaluation.
    fn incident(
        &mut self,
        no: usize,
        site: usize,
        occurred: DateTime<Utc>,
        category: &'static str,
        c: Casualties,
        story: Story,
    ) {
        let Some(incident_id) = id(format!("inc-{no:04}")) else { return };
        let Some(s) = self.sites.get(site) else { return };
        let site_id = s.id.clone();
        let graded_category =
            matches!(category, "production" | "construction" | "special_equipment" | "hazardous_chemicals");
        let enterprise = if graded_category && !s.enterprises.is_empty() {
            s.enterprises.get(self.rng.below(s.enterprises.len() as u64) as usize).cloned()
        } else {
            None
        };
        let larger = c.deaths >= 3 || c.serious >= 10 || c.loss >= 10_000_000;
        let late_report = self.rng.chance(0.05);
        let delay = if late_report { self.rng.range(70, 240) } else { self.rng.range(12, 55) };
        let reported_at = occurred + Duration::minutes(delay);
        let reporter = match category {
            "road_traffic" => "police-traffic".to_string(),
            "fire" => "fire-rescue".to_string(),
            _ => format!("duty-{site_id}"),
        };
        let mut cur = Cursor(reported_at);
        let t = cur.after(self.rng.range(1, 20));
        let report = ReportIncident {
            incident_id: incident_id.clone(),
            occurred_at: occurred,
            reported_at,
            place: incident_place(category).to_string(),
            community_id: site_id,
            enterprise_id: enterprise,
            category: category.to_string(),
            deaths: c.deaths,
            serious_injuries: c.serious,
            minor_injuries: c.minor,
            missing: c.missing,
            direct_loss_yuan: c.loss,
            summary: incident_summary(category).to_string(),
        };
        self.emit(t, &reporter, IncidentCommand::Report(report));
        // Casualty revisions: a supplementary report within the window, or a late one. They are
        // issued at their own time (the sort puts them in place); the case closes after them.
        let short = matches!(category, "road_traffic" | "fire");
        let mut figures = c;
        let mut last_revision = cur.0;
        let r = self.rng.unit();
        if r < 0.04 {
            let t = occurred + Duration::days(self.rng.range(2, if short { 6 } else { 20 }));
            figures.minor += self.rng.range(1, 3) as u32;
            self.revise(&incident_id, t, &figures, "补报：新增就医伤员");
            last_revision = t;
        } else if r < 0.055 && figures.deaths < 2 && figures.serious > 0 {
            let t = occurred + Duration::days(self.rng.range(35, 60));
            figures.deaths += 1;
            figures.serious -= 1;
            self.revise(&incident_id, t, &figures, "伤员经抢救无效死亡，迟报更正");
            last_revision = t;
        }
        let investigated = graded_category || figures.deaths > 0;
        let mut finished = cur.0 + Duration::days(self.rng.range(3, 12));
        let mut stuck = false;
        if investigated {
            let (authority_level, authority) = if larger {
                (AuthorityLevel::City, "示范市人民政府事故调查组")
            } else {
                (AuthorityLevel::County, "示范区人民政府事故调查组")
            };
            let t = cur.after(self.rng.range(12 * 60, 3 * 24 * 60));
            let open = OpenInvestigation {
                incident_id: incident_id.clone(),
                authority_level,
                authority: authority.to_string(),
            };
            self.emit(t, "investigation-office", IncidentCommand::OpenInvestigation(open));
            let mut due = occurred + Duration::days(60);
            if self.rng.chance(0.1) {
                let started = cur.0 + Duration::days(self.rng.range(3, 10));
                let t = cur.at(started + Duration::minutes(30));
                let start = StartAppraisal {
                    incident_id: incident_id.clone(),
                    started_at: started,
                    reason: "委托技术鉴定".to_string(),
                };
                self.emit(t, "investigation-office", IncidentCommand::StartAppraisal(start));
                let ended = started + Duration::days(self.rng.range(10, 25));
                let t = cur.at(ended + Duration::minutes(30));
                let end = EndAppraisal { incident_id: incident_id.clone(), ended_at: ended };
                self.emit(t, "investigation-office", IncidentCommand::EndAppraisal(end));
                due += ended - started;
            }
            if larger || self.rng.chance(0.06) {
                let t = cur.at(due - Duration::days(5));
                let extension = ExtendInvestigation {
                    incident_id: incident_id.clone(),
                    days: 30,
                    reason: "案情复杂，需延长调查期限".to_string(),
                };
                self.emit(t, "investigation-office", IncidentCommand::ExtendInvestigation(extension));
                due += Duration::days(30);
            }
            let r = self.rng.unit();
            if r < 0.05 {
                // Investigation stalls: no report, past its deadline once the deadline passes.
                stuck = true;
            } else {
                let submitted = if r < 0.11 {
                    due + Duration::days(self.rng.range(3, 20))
                } else {
                    cur.0 + Duration::minutes(self.rng.range(60, ((due - cur.0).num_minutes() - 60).max(61)))
                };
                let t = cur.at(submitted + Duration::minutes(20));
                let report = SubmitInvestigationReport {
                    incident_id: incident_id.clone(),
                    submitted_at: submitted,
                    summary: "查明事故经过、原因和责任，提出处理建议和防范措施".to_string(),
                };
                self.emit(t, "investigation-office", IncidentCommand::SubmitInvestigationReport(report));
                finished = cur.0;
            }
        }
        if stuck {
            return;
        }
        // The four don't-let-go, each with evidence; some left missing.
        let mut done = [true; 4];
        if story == Story::MissingConditions {
            let k = self.rng.below(4) as usize;
            done[k] = false;
            if self.rng.chance(0.3) {
                done[(k + 1 + self.rng.below(3) as usize) % 4] = false;
            }
        }
        cur.at(finished);
        let evidence = |what: &str| vec![format!("{incident_id}/{what}")];
        if done[0] {
            let t = cur.after(self.rng.range(60, 2 * 24 * 60));
            let cause = DetermineCause {
                incident_id: incident_id.clone(),
                cause: incident_cause(category).to_string(),
                evidence: evidence("调查报告"),
            };
            self.emit(t, "investigation-office", IncidentCommand::DetermineCause(cause));
        }
        if done[1] {
            let person = self.person();
            let t = cur.after(self.rng.range(60, 4 * 24 * 60));
            let dealt = DealWithResponsible {
                incident_id: incident_id.clone(),
                person: person.into(),
                person_id: None,
                id_number: None,
                role: "现场负责人".to_string(),
                action: "给予行政处分并处罚款".to_string(),
                evidence: evidence("处理决定书"),
            };
            self.emit(t, "investigation-office", IncidentCommand::DealWithResponsible(dealt));
        }
        if done[2] {
            let hazard_ids: Vec<EntityId> = self
                .sites
                .get(site)
                .map(|s| {
                    s.hazards.iter().rev().filter(|(f, _)| *f <= occurred).take(1).map(|(_, h)| h.clone()).collect()
                })
                .unwrap_or_default();
            let t = cur.after(self.rng.range(60, 5 * 24 * 60));
            let measures = ImplementCorrectiveMeasures {
                incident_id: incident_id.clone(),
                measures: "落实整改措施，开展同类隐患专项排查".to_string(),
                hazard_ids,
                evidence: evidence("整改验收记录"),
            };
            self.emit(t, "bureau-admin", IncidentCommand::ImplementCorrectiveMeasures(measures));
        }
        if done[3] {
            let reached = self.rng.range(20, 600);
            let t = cur.after(self.rng.range(60, 5 * 24 * 60));
            let education = ConductEducation {
                incident_id: incident_id.clone(),
                audience: "责任人员及周边群众".to_string(),
                people_reached: reached as u32,
                method: "警示教育大会".to_string(),
                evidence: evidence("培训签到表"),
            };
            self.emit(t, "committee-01", IncidentCommand::ConductEducation(education));
        }
        let signed = cur.0.max(last_revision) + Duration::minutes(self.rng.range(60, 10 * 24 * 60));
        let close = IncidentCommand::Close(CloseIncident {
            incident_id: incident_id.clone(),
            signed_off_at: signed,
            signed_off_by: "示范区人民政府".to_string(),
        });
        if done.iter().all(|d| *d) {
            let t = cur.at(signed + Duration::minutes(30));
            self.emit(t, "investigation-office", close);
            let evaluated = signed + Duration::days(self.rng.range(300, 380));
            if self.rng.chance(0.8) {
                let t = cur.at(evaluated);
                let evaluation = RecordEvaluation {
                    incident_id,
                    evaluated_at: evaluated,
                    findings: "整改和防范措施已落实".to_string(),
                    published: true,
                };
                self.emit(t, "bureau-admin", IncidentCommand::RecordEvaluation(evaluation));
            }
        } else if self.rng.chance(0.3) {
            // Someone tries to close the case anyway: refused, naming what is missing.
            let t = cur.at(signed + Duration::minutes(30));
            self.refuse(t, "investigation-office", close);
        }
    }

    fn revise(&mut self, incident_id: &EntityId, t: DateTime<Utc>, c: &Casualties, reason: &str) {
        let revision = ReviseCasualties {
            incident_id: incident_id.clone(),
            deaths: c.deaths,
            serious_injuries: c.serious,
            minor_injuries: c.minor,
            missing: c.missing,
            direct_loss_yuan: c.loss,
            reason: reason.to_string(),
        };
        self.emit(t, "investigation-office", IncidentCommand::ReviseCasualties(revision));
    }
}
