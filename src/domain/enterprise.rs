//! Enterprises (企业): registration in a community and industry, supervision grade (分级分类,
//! A/B/C/D from the catalog) and enforcement actions (四个一律: 停产整顿, 关闭取缔, 经济处罚,
//! 追究法律责任).
//!
//! Invariants enforced by `decide`:
//! - Industry and grade codes come from the catalog; the grade event records the catalog version.
//! - A fine (经济处罚) states its amount in whole yuan; other actions carry none.
//! - A closed-and-banned (关闭取缔) enterprise takes no further grade or action.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::{opt_text, rule, text, yuan, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::enterprise::*;
use crate::events::{EntityId, StreamKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEnterprise {
    pub enterprise_id: EntityId,
    pub name: String,
    pub community_id: EntityId,
    /// Industry code from the catalog.
    pub industry: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignSupervisionGrade {
    pub enterprise_id: EntityId,
    /// Enterprise grade code from the catalog (A/B/C/D).
    pub grade: String,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub effective_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeEnforcementAction {
    pub enterprise_id: EntityId,
    pub action: EnforcementAction,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub decided_on: NaiveDate,
    /// The administrative organ that decided (e.g. 区应急管理局; an enforcement decision is an act
    /// of the organ, not of an official): an organisation, not personal data, stored as plain
    /// text. Put no person's name here.
    pub decided_by: String,
    pub decision_no: Option<String>,
    pub reason: String,
    /// The hazard that prompted it, if any.
    pub hazard_id: Option<EntityId>,
    /// Required for a fine, absent otherwise.
    pub fine_yuan: Option<u64>,
}

/// Hours worked and headcount of one month (工时): the denominator of TRIR, DART, LTIFR and
/// the GB 6441 rates. A later record for the same month replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWorkHours {
    pub enterprise_id: EntityId,
    pub year: i32,
    /// 1–12.
    pub month: u32,
    pub hours_worked: u64,
    /// Average headcount of the month (平均职工人数).
    pub headcount: u32,
}

/// A case in the enterprise's work injury log (工伤台账).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWorkInjuryCase {
    pub enterprise_id: EntityId,
    /// Unique within the enterprise.
    pub case_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub occurred_on: NaiveDate,
    pub class: WorkCaseClass,
    /// Required (> 0) for a days-away case, 0 otherwise.
    pub days_away: u32,
    /// Required (> 0) for a restricted-work case; may accompany a days-away case.
    pub restricted_days: u32,
    /// The incident it arose from, if one was reported.
    pub incident_id: Option<EntityId>,
    pub description: String,
}

command_enum!(
    /// Commands addressed to an enterprise stream.
    EnterpriseCommand, enterprise_id, StreamKind::Enterprise, {
    Register(RegisterEnterprise) = "enterprise.register",
    AssignGrade(AssignSupervisionGrade) = "enterprise.assign_grade",
    TakeEnforcementAction(TakeEnforcementAction) = "enterprise.take_enforcement_action",
    RecordWorkHours(RecordWorkHours) = "enterprise.record_work_hours",
    RecordWorkInjuryCase(RecordWorkInjuryCase) = "enterprise.record_work_injury_case",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnterpriseState {
    pub id: Option<EntityId>,
    pub grade: Option<String>,
    pub closed_and_banned: bool,
    /// Dates of fines, for the "penalised 3 times in 180 days" flag (Work Safety Law art. 113).
    pub fines: Vec<NaiveDate>,
    /// Case ids of the work injury log, to refuse a second case under one id.
    pub work_cases: std::collections::BTreeSet<EntityId>,
}

/// Most days one case can count (GB 6441 caps a case's lost workdays at 6,000).
pub const MAX_CASE_DAYS: u32 = 6_000;

/// The enterprise aggregate.
#[derive(Debug)]
pub struct Enterprise;

impl Aggregate for Enterprise {
    type State = EnterpriseState;
    type Command = EnterpriseCommand;
    type Event = EnterpriseEvent;

    fn decide(
        s: &EnterpriseState,
        cmd: &EnterpriseCommand,
        ctx: &DecisionContext<'_>,
    ) -> Result<Vec<EnterpriseEvent>, Rejection> {
        super::same_id("enterprise_id", &s.id, cmd.target_id())?;
        let enterprise_id = cmd.target_id().clone();
        match (s.id.is_some(), cmd) {
            (true, EnterpriseCommand::Register(_)) => {
                return Err(Rejection::at(
                    "enterprise_id",
                    rule::ALREADY_EXISTS,
                    format!("enterprise {enterprise_id} is already registered"),
                ))
            }
            (false, EnterpriseCommand::Register(_)) => {}
            (false, _) => {
                return Err(Rejection::at(
                    "enterprise_id",
                    rule::NOT_FOUND,
                    format!("enterprise {enterprise_id} is not registered"),
                ))
            }
            (true, _) if s.closed_and_banned => {
                return Err(Rejection::at(
                    "enterprise_id",
                    rule::CLOSED,
                    "the enterprise was closed and banned (关闭取缔)",
                ))
            }
            (true, _) => {}
        }
        let (recorded_by, recorded_at) = (ctx.actor.clone(), ctx.issued_at);
        let ev = match cmd {
            EnterpriseCommand::Register(c) => {
                text("name", &c.name, MAX_NAME)?;
                ctx.catalog.industry("industry", &c.industry)?;
                EnterpriseEvent::Registered(EnterpriseRegistered {
                    enterprise_id,
                    recorded_by,
                    recorded_at,
                    name: c.name.clone(),
                    community_id: c.community_id.clone(),
                    industry: c.industry.clone(),
                })
            }
            EnterpriseCommand::AssignGrade(c) => {
                ctx.catalog.enterprise_grade("grade", &c.grade)?;
                text("reason", &c.reason, MAX_TEXT)?;
                EnterpriseEvent::GradeAssigned(SupervisionGradeAssigned {
                    enterprise_id,
                    recorded_by,
                    recorded_at,
                    grade: c.grade.clone(),
                    previous_grade: s.grade.clone(),
                    effective_on: c.effective_on,
                    reason: c.reason.clone(),
                    catalog_version: ctx.catalog.catalog_version.clone(),
                })
            }
            EnterpriseCommand::TakeEnforcementAction(c) => {
                text("decided_by", &c.decided_by, MAX_NAME)?;
                super::not_future_date("decided_on", c.decided_on, ctx)?;
                text("reason", &c.reason, MAX_TEXT)?;
                opt_text("decision_no", &c.decision_no, MAX_NAME)?;
                match (c.action, c.fine_yuan) {
                    (EnforcementAction::Fine, None | Some(0)) => {
                        return Err(Rejection::at(
                            "fine_yuan",
                            rule::REQUIRED,
                            "a fine (经济处罚) states a positive amount",
                        ))
                    }
                    (EnforcementAction::Fine, Some(f)) => yuan("fine_yuan", f, ctx.settings)?,
                    (_, Some(_)) => {
                        return Err(Rejection::at("fine_yuan", rule::MALFORMED, "only a fine carries an amount"))
                    }
                    (_, None) => {}
                }
                EnterpriseEvent::EnforcementActionTaken(EnforcementActionTaken {
                    enterprise_id,
                    recorded_by,
                    recorded_at,
                    action: c.action,
                    decided_on: c.decided_on,
                    decided_by: c.decided_by.clone(),
                    decision_no: c.decision_no.clone(),
                    reason: c.reason.clone(),
                    hazard_id: c.hazard_id.clone(),
                    fine_yuan: c.fine_yuan,
                })
            }
            EnterpriseCommand::RecordWorkHours(c) => {
                if !(2000..=2100).contains(&c.year) {
                    return Err(Rejection::at(
                        "year",
                        rule::OUT_OF_RANGE,
                        format!("year {} outside 2000–2100", c.year),
                    ));
                }
                let Some(first) = NaiveDate::from_ymd_opt(c.year, c.month, 1) else {
                    return Err(Rejection::at("month", rule::OUT_OF_RANGE, format!("month {} outside 1–12", c.month)));
                };
                super::not_future_date("month", first, ctx)?;
                // Nobody works more than every hour of the month.
                let days =
                    crate::events::time::plus_months(first, 1).map_or(31, |next| (next - first).num_days()) as u64;
                if c.hours_worked > u64::from(c.headcount) * days * 24 {
                    return Err(Rejection::at(
                        "hours_worked",
                        rule::OUT_OF_RANGE,
                        format!(
                            "{} hours is more than {} people can work in a month of {days} days",
                            c.hours_worked, c.headcount
                        ),
                    ));
                }
                EnterpriseEvent::WorkHoursRecorded(WorkHoursRecorded {
                    enterprise_id,
                    recorded_by,
                    recorded_at,
                    year: c.year,
                    month: c.month,
                    hours_worked: c.hours_worked,
                    headcount: c.headcount,
                })
            }
            EnterpriseCommand::RecordWorkInjuryCase(c) => {
                if s.work_cases.contains(&c.case_id) {
                    return Err(Rejection::at(
                        "case_id",
                        rule::ALREADY_EXISTS,
                        format!("case {} is already in the work injury log", c.case_id),
                    ));
                }
                super::not_future_date("occurred_on", c.occurred_on, ctx)?;
                text("description", &c.description, MAX_TEXT)?;
                for (name, days) in [("days_away", c.days_away), ("restricted_days", c.restricted_days)] {
                    if days > MAX_CASE_DAYS {
                        return Err(Rejection::at(
                            name,
                            rule::OUT_OF_RANGE,
                            format!("{days} days exceeds {MAX_CASE_DAYS}"),
                        ));
                    }
                }
                let fits = match c.class {
                    WorkCaseClass::Death => c.days_away == 0 && c.restricted_days == 0,
                    WorkCaseClass::DaysAway => c.days_away > 0,
                    WorkCaseClass::RestrictedOrTransfer => c.days_away == 0 && c.restricted_days > 0,
                    WorkCaseClass::OtherRecordable => c.days_away == 0 && c.restricted_days == 0,
                };
                if !fits {
                    return Err(Rejection::at(
                        "class",
                        rule::MALFORMED,
                        format!(
                            "a {:?} case cannot have {} days away and {} restricted days",
                            c.class, c.days_away, c.restricted_days
                        ),
                    ));
                }
                EnterpriseEvent::WorkInjuryCaseRecorded(WorkInjuryCaseRecorded {
                    enterprise_id,
                    recorded_by,
                    recorded_at,
                    case_id: c.case_id.clone(),
                    occurred_on: c.occurred_on,
                    class: c.class,
                    days_away: c.days_away,
                    restricted_days: c.restricted_days,
                    incident_id: c.incident_id.clone(),
                    description: c.description.clone(),
                })
            }
        };
        Ok(vec![ev])
    }

    fn evolve(mut s: EnterpriseState, e: &EnterpriseEvent) -> EnterpriseState {
        match e {
            EnterpriseEvent::Registered(e) => s.id = Some(e.enterprise_id.clone()),
            EnterpriseEvent::GradeAssigned(e) => s.grade = Some(e.grade.clone()),
            EnterpriseEvent::EnforcementActionTaken(e) => match e.action {
                EnforcementAction::CloseAndBan => s.closed_and_banned = true,
                EnforcementAction::Fine => s.fines.push(e.decided_on),
                _ => {}
            },
            EnterpriseEvent::WorkHoursRecorded(_) => {}
            EnterpriseEvent::WorkInjuryCaseRecorded(e) => {
                s.work_cases.insert(e.case_id.clone());
            }
        }
        s
    }
}

impl EnterpriseState {
    /// Fines decided within the 180 days up to and including `on` (art. 113 counts them).
    pub fn fines_within_180_days(&self, on: NaiveDate) -> usize {
        self.fines.iter().filter(|d| **d <= on && (on - **d).num_days() < 180).count()
    }
}
