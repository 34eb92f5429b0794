//! The KPI denominators' story: each community's GDP and workforce per finished year, and each
//! enterprise's monthly work hours with its work injury log, drawn from a generator of their
//! own so the rest of the history is the same with or without them.

use chrono::{Datelike, Duration, NaiveDate};

use super::rng::Rng;
use super::{cst, id, Gen};
use crate::domain::community::{CommunityCommand, RecordEconomy};
use crate::domain::enterprise::{EnterpriseCommand, RecordWorkHours, RecordWorkInjuryCase};
use crate::events::community::CommunityKind;
use crate::events::enterprise::WorkCaseClass;
use crate::events::EntityId;

impl Gen {
    /// GDP and workforce per community for each finished year (published in the spring after),
    /// and every enterprise's monthly hours with its work injury log. Drawn from a generator of
    /// their own, so the rest of the story is the same with or without them.
    pub(super) fn economy_and_work_logs(&mut self, seed: u64) {
        let mut rng = Rng(seed ^ 0x6B70_6973_0000_0001);
        for year in self.start.year()..self.end.year() {
            let published = NaiveDate::from_ymd_opt(year + 1, 3, 20).unwrap_or(self.end);
            for i in 0..self.sites.len() {
                let Some((community_id, kind, population)) =
                    self.sites.get(i).map(|s| (s.id.clone(), s.kind, s.population))
                else {
                    continue;
                };
                // GDP per head (万元) and the share of industrial, mining and commercial workers.
                let (per_head, workers_share) = match kind {
                    CommunityKind::UrbanStreet => (rng.range(11, 16), 0.22),
                    CommunityKind::RuralTown => (rng.range(5, 9), 0.15),
                    CommunityKind::EnterpriseLed => (rng.range(16, 25), 0.45),
                };
                let economy = RecordEconomy {
                    community_id,
                    year,
                    gdp_10k_yuan: u64::from(population) * per_head as u64,
                    workers: (f64::from(population) * workers_share) as u32,
                    source: format!("示范区统计年鉴 {}", year + 1),
                };
                self.emit(cst(published, 9 * 60 + i as i64), "stats-bureau", CommunityCommand::RecordEconomy(economy));
            }
        }
        let mut enterprises: Vec<EntityId> = self.sites.iter().flat_map(|s| s.enterprises.iter().cloned()).collect();
        // A smaller district keeps work logs for fewer enterprises.
        enterprises.truncate(((enterprises.len() as f64) * self.scale.min(1.0)).ceil() as usize);
        let mut case_no = 0u32;
        for (k, enterprise_id) in enterprises.iter().enumerate() {
            let mut headcount = rng.range(60, 900);
            let mut month = NaiveDate::from_ymd_opt(self.start.year(), self.start.month(), 1).unwrap_or(self.start);
            while let Some(next) = month.checked_add_months(chrono::Months::new(1)) {
                // Hours of a month are filed on the 5th of the next; the last month may not be yet.
                let filed = next + Duration::days(4);
                if filed > self.end {
                    break;
                }
                headcount = (headcount + rng.range(-15, 15)).max(20);
                let days = (next - month).num_days();
                let hours = (headcount * days * 8 * 5 / 7 * rng.range(90, 105) / 100) as u64;
                let logged = RecordWorkHours {
                    enterprise_id: enterprise_id.clone(),
                    year: month.year(),
                    month: month.month(),
                    hours_worked: hours,
                    headcount: headcount as u32,
                };
                self.emit(cst(filed, 9 * 60 + k as i64), "safety-officer", EnterpriseCommand::RecordWorkHours(logged));
                // About 2 recordable cases per 200,000 hours.
                let expected = hours as f64 * 2.0 / 200_000.0;
                let cases = (expected + rng.unit()).floor() as i64;
                for _ in 0..cases {
                    case_no += 1;
                    let on = month + Duration::days(rng.range(0, days - 1));
                    let (class, away, restricted) = match rng.below(10) {
                        0..=3 => (WorkCaseClass::DaysAway, rng.range(2, 60), 0),
                        4..=5 => (WorkCaseClass::RestrictedOrTransfer, 0, rng.range(3, 30)),
                        _ => (WorkCaseClass::OtherRecordable, 0, 0),
                    };
                    let what =
                        ["手部割伤", "搬运扭伤腰部", "滑倒摔伤", "机械挤压手指", "高处坠落轻伤"][rng.below(5) as usize];
                    let Some(case_id) = id(format!("w{case_no:05}")) else { continue };
                    let case = RecordWorkInjuryCase {
                        enterprise_id: enterprise_id.clone(),
                        case_id,
                        occurred_on: on,
                        class,
                        days_away: away as u32,
                        restricted_days: restricted as u32,
                        incident_id: None,
                        description: what.to_string(),
                    };
                    let at = cst(filed, 10 * 60 + k as i64);
                    self.emit(at, "safety-officer", EnterpriseCommand::RecordWorkInjuryCase(case));
                }
                month = next;
            }
        }
    }
}
