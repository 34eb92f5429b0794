//! Hazards (事故隐患) and their rectification (整改), after SAWS Order 16 and local practice.
//!
//! Life of a hazard: reported → graded (一般 / 重大, under a versioned criterion) → rectification
//! ordered (限期整改) → [deadline extended, listed for supervision (挂牌督办), progress noted] →
//! rectification reported done → verified (验收): pass → closed (销号); fail → reopened.
//!
//! Invariants enforced by `decide`:
//! - A major hazard's order has all five in place (五到位: responsibility, measures, funds, time
//!   limit, contingency plan); the rejection names every missing item. Any order has a deadline.
//! - The verifier is never the actor who reported the rectification done (segregation of duties).
//! - Closing needs a passing verification after the last "done" report; a failed one reopens.
//! - A closed hazard accepts nothing more.
//! - Only a major hazard may be listed for supervision, and once.
//! - Names of natural persons (`reporter`, `responsible`) are [`PersonalField`]s: sealed by the
//!   engine before `decide`, checked here with the same text rules when they arrive plain. A
//!   sealed value counts as present for 五到位. `listed_by` names a government body and stays
//!   plain text.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::person::{check_opt_personal, check_personal, check_same_person};
use super::{opt_text, rule, text, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::hazard::*;
use crate::events::person::{PersonalField, PersonalKind};
use crate::events::time::{cst_date, end_of_cst_day};
use crate::events::{EntityId, StreamKind};

// ---- commands ----------------------------------------------------------------------------

/// Report a hazard (隐患上报).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportHazard {
    pub hazard_id: EntityId,
    pub source: HazardSource,
    /// Name of the person who found it (for 群众举报 a resident). PIPL personal information:
    /// sealed before it is stored.
    pub reporter: PersonalField,
    /// A stable id for the reporter, chosen by the host, so that every mention of one person
    /// shares one key (and one erasure). When absent the mention gets its own id.
    pub reporter_person_id: Option<EntityId>,
    pub community_id: EntityId,
    pub grid_id: Option<EntityId>,
    pub enterprise_id: Option<EntityId>,
    /// Category code from the catalog.
    pub category: String,
    pub location: String,
    pub description: String,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub found_at: DateTime<Utc>,
}

/// Grade a hazard under a criterion and its version (隐患分级).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeHazard {
    pub hazard_id: EntityId,
    /// Hazard grade code from the catalog (`general`, `major`, …).
    pub grade: String,
    pub criterion: String,
    pub criterion_version: String,
    /// Which situation of the criterion applies, in words.
    pub basis: Option<String>,
}

/// Order rectification within a deadline (限期整改). For a major hazard all five are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRectification {
    pub hazard_id: EntityId,
    /// 责任: person or unit responsible. It may name a person, so it is personal information
    /// (PIPL): sealed before it is stored.
    pub responsible: Option<PersonalField>,
    /// A stable id for the responsible person, chosen by the host (see `reporter_person_id` of
    /// [`ReportHazard`]).
    pub responsible_person_id: Option<EntityId>,
    /// 措施: methods and measures.
    pub measures: Option<String>,
    /// 资金: funds allocated, whole yuan.
    pub funds_yuan: Option<u64>,
    /// 时限: deadline (CST calendar date).
    pub deadline: Option<NaiveDate>,
    /// 预案: safety measures and emergency plan during rectification.
    pub contingency_plan: Option<String>,
}

/// Extend the rectification deadline, with a reason (延期).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRectificationDeadline {
    pub hazard_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub new_deadline: NaiveDate,
    pub reason: String,
}

/// 挂牌督办: list a major hazard for supervision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListForSupervision {
    pub hazard_id: EntityId,
    pub level: SupervisionLevel,
    /// The government or department that lists it (挂牌督办 is an act of a government or its
    /// safety committee): an organisation, not personal data, stored as plain text. Put no
    /// person's name here.
    pub listed_by: String,
}

/// Note progress of the rectification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRectificationProgress {
    pub hazard_id: EntityId,
    pub note: String,
}

/// The responsible party reports the rectification done (整改完成).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRectificationDone {
    pub hazard_id: EntityId,
    pub summary: String,
}

/// Verify the rectification (验收); the verifier must not be who reported it done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRectification {
    pub hazard_id: EntityId,
    pub passed: bool,
    pub remarks: String,
}

/// Close the hazard (销号) after a passing verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseHazard {
    pub hazard_id: EntityId,
    pub remarks: Option<String>,
}

/// The unit's written application to close a listed (挂牌督办) or suspended major hazard and
/// resume work, after a passing verification (SAWS Order 16 art. 18).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyToClose {
    pub hazard_id: EntityId,
    /// When the bureau received it.
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub applied_at: DateTime<Utc>,
    /// The unit was suspended for this hazard (停产停业整改); a listed hazard needs no such flag.
    pub suspended: bool,
    /// What the application contains (plan carried out, assessment report …).
    pub summary: String,
}

/// The bureau's on-site check (现场审查) of a closure application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordOnsiteCheck {
    pub hazard_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub checked_at: DateTime<Utc>,
    pub passed: bool,
    pub findings: String,
}

command_enum!(
    /// Commands addressed to a hazard stream.
    HazardCommand, hazard_id, StreamKind::Hazard, {
    Report(ReportHazard) = "hazard.report",
    Grade(GradeHazard) = "hazard.grade",
    OrderRectification(OrderRectification) = "hazard.order_rectification",
    ExtendDeadline(ExtendRectificationDeadline) = "hazard.extend_deadline",
    ListForSupervision(ListForSupervision) = "hazard.list_for_supervision",
    NoteProgress(NoteRectificationProgress) = "hazard.note_progress",
    ReportDone(ReportRectificationDone) = "hazard.report_rectification_done",
    Verify(VerifyRectification) = "hazard.verify_rectification",
    Close(CloseHazard) = "hazard.close",
    ApplyToClose(ApplyToClose) = "hazard.apply_to_close",
    RecordOnsiteCheck(RecordOnsiteCheck) = "hazard.record_onsite_check",
});

// ---- state -------------------------------------------------------------------------------

/// Where a hazard stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HazardPhase {
    #[default]
    NotReported,
    /// Reported (and possibly graded), no order yet.
    Reported,
    /// Ordered and being rectified (also after a failed verification).
    Rectifying,
    /// Reported done, waiting for verification.
    AwaitingVerification,
    /// Verification passed; may be closed.
    Verified,
    Closed,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HazardState {
    pub id: Option<EntityId>,
    pub phase: HazardPhase,
    pub category: String,
    pub found_at: Option<DateTime<Utc>>,
    /// Grade code and whether it is major.
    pub grade: Option<(String, bool)>,
    pub deadline: Option<NaiveDate>,
    pub extensions: u32,
    pub listed: Option<SupervisionLevel>,
    /// Who reported the rectification done last (must not verify it).
    pub done_by: Option<EntityId>,
    pub failed_verifications: u32,
    /// An application to close awaiting the bureau's on-site check: its received time and due
    /// date.
    pub closure_applied: Option<(DateTime<Utc>, NaiveDate)>,
    /// The on-site check passed (closing may follow).
    pub onsite_passed: bool,
}

impl HazardState {
    pub fn is_major(&self) -> bool {
        matches!(self.grade, Some((_, true)))
    }

    /// 逾期: past its deadline (end of the CST day) and not closed, as of `at`.
    pub fn is_overdue(&self, at: DateTime<Utc>) -> bool {
        match (self.phase, self.deadline.and_then(end_of_cst_day)) {
            (HazardPhase::Closed, _) | (_, None) => false,
            (_, Some(end)) => at >= end,
        }
    }
}

/// The hazard aggregate.
#[derive(Debug)]
pub struct Hazard;

fn meta(id: &EntityId, ctx: &DecisionContext<'_>) -> (EntityId, EntityId, DateTime<Utc>) {
    (id.clone(), ctx.actor.clone(), ctx.issued_at)
}

/// The five of 五到位 with their command fields and labels, missing ones listed in order.
fn five_in_place_missing(c: &OrderRectification) -> Vec<(&'static str, &'static str)> {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
    let mut missing = Vec::new();
    if c.responsible.as_ref().is_none_or(PersonalField::is_blank) {
        missing.push(("responsible", "责任 responsibility"));
    }
    if blank(&c.measures) {
        missing.push(("measures", "措施 measures"));
    }
    // Funds "in place" means money allocated: zero is not in place.
    if c.funds_yuan.unwrap_or(0) == 0 {
        missing.push(("funds_yuan", "资金 funds"));
    }
    if c.deadline.is_none() {
        missing.push(("deadline", "时限 time limit"));
    }
    if blank(&c.contingency_plan) {
        missing.push(("contingency_plan", "预案 contingency plan"));
    }
    missing
}

impl Aggregate for Hazard {
    type State = HazardState;
    type Command = HazardCommand;
    type Event = HazardEvent;

    fn decide(s: &HazardState, cmd: &HazardCommand, ctx: &DecisionContext<'_>) -> Result<Vec<HazardEvent>, Rejection> {
        super::same_id("hazard_id", &s.id, cmd.target_id())?;
        let id = cmd.target_id();
        match (s.phase, cmd) {
            (HazardPhase::NotReported, HazardCommand::Report(_)) => {}
            (HazardPhase::NotReported, _) => {
                return Err(Rejection::at("hazard_id", rule::NOT_FOUND, format!("hazard {id} has not been reported")))
            }
            (_, HazardCommand::Report(_)) => {
                return Err(Rejection::at(
                    "hazard_id",
                    rule::ALREADY_EXISTS,
                    format!("hazard {id} was already reported"),
                ))
            }
            (HazardPhase::Closed, _) => {
                return Err(Rejection::at("hazard_id", rule::CLOSED, format!("hazard {id} is closed (已销号)")))
            }
            _ => {}
        }
        let (hazard_id, recorded_by, recorded_at) = meta(id, ctx);
        let ev = match cmd {
            HazardCommand::Report(c) => {
                check_personal("reporter", &c.reporter, PersonalKind::Name)?;
                check_same_person("reporter", c.reporter_person_id.as_ref(), &[Some(&c.reporter)])?;
                ctx.catalog.category("category", &c.category)?;
                text("location", &c.location, MAX_TEXT)?;
                text("description", &c.description, MAX_TEXT)?;
                super::not_future("found_at", c.found_at, ctx)?;
                HazardEvent::Reported(HazardReported {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    source: c.source,
                    reporter: c.reporter.clone(),
                    community_id: c.community_id.clone(),
                    grid_id: c.grid_id.clone(),
                    enterprise_id: c.enterprise_id.clone(),
                    category: c.category.clone(),
                    location: c.location.clone(),
                    description: c.description.clone(),
                    found_at: c.found_at,
                })
            }
            HazardCommand::Grade(c) => {
                if s.phase != HazardPhase::Reported {
                    return Err(Rejection::at(
                        "grade",
                        rule::INVALID_STATE,
                        "a hazard can be (re)graded only before rectification is ordered",
                    ));
                }
                let grade = ctx.catalog.hazard_grade("grade", &c.grade)?;
                ctx.catalog.hazard_criterion(&c.criterion, &c.criterion_version)?;
                opt_text("basis", &c.basis, MAX_TEXT)?;
                HazardEvent::Graded(HazardGraded {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    grade: grade.code.clone(),
                    major: grade.major,
                    criterion: c.criterion.clone(),
                    criterion_version: c.criterion_version.clone(),
                    catalog_version: ctx.catalog.catalog_version.clone(),
                    basis: c.basis.clone(),
                })
            }
            HazardCommand::OrderRectification(c) => {
                if s.grade.is_none() {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::NOT_GRADED,
                        "grade the hazard before ordering rectification",
                    ));
                }
                if s.phase != HazardPhase::Reported {
                    return Err(Rejection::at("hazard_id", rule::INVALID_STATE, "rectification was already ordered"));
                }
                if s.is_major() {
                    let missing = five_in_place_missing(c);
                    if let Some((first, _)) = missing.first() {
                        let labels: Vec<&str> = missing.iter().map(|(_, l)| *l).collect();
                        return Err(Rejection::at(
                            first,
                            rule::FIVE_IN_PLACE_MISSING,
                            format!("major hazard order lacks 五到位 item(s): {}", labels.join(", ")),
                        )
                        .with_items(missing.iter().map(|(f, _)| f.to_string()).collect()));
                    }
                }
                let Some(deadline) = c.deadline else {
                    return Err(Rejection::at(
                        "deadline",
                        rule::REQUIRED,
                        "a rectification order needs a deadline (限期)",
                    ));
                };
                check_opt_personal("responsible", &c.responsible, PersonalKind::Name)?;
                check_same_person("responsible", c.responsible_person_id.as_ref(), &[c.responsible.as_ref()])?;
                opt_text("measures", &c.measures, MAX_TEXT)?;
                opt_text("contingency_plan", &c.contingency_plan, MAX_TEXT)?;
                if let Some(f) = c.funds_yuan {
                    super::yuan("funds_yuan", f, ctx.settings)?;
                }
                let earliest = s.found_at.map(cst_date).unwrap_or(deadline).max(cst_date(ctx.issued_at));
                if deadline < earliest {
                    return Err(Rejection::at(
                        "deadline",
                        rule::TIME_ORDER,
                        format!("deadline {deadline} is before the hazard was found or the order issued ({earliest})"),
                    ));
                }
                HazardEvent::RectificationOrdered(RectificationOrdered {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    responsible: c.responsible.clone(),
                    measures: c.measures.clone(),
                    funds_yuan: c.funds_yuan,
                    deadline,
                    contingency_plan: c.contingency_plan.clone(),
                })
            }
            HazardCommand::ExtendDeadline(c) => {
                let Some(previous) = s.deadline else {
                    return Err(Rejection::at("hazard_id", rule::INVALID_STATE, "no rectification deadline to extend"));
                };
                text("reason", &c.reason, MAX_TEXT)?;
                if c.new_deadline <= previous {
                    return Err(Rejection::at(
                        "new_deadline",
                        rule::DEADLINE_NOT_LATER,
                        format!("new deadline {} is not after the current one {previous}", c.new_deadline),
                    ));
                }
                HazardEvent::DeadlineExtended(RectificationDeadlineExtended {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    previous_deadline: previous,
                    new_deadline: c.new_deadline,
                    reason: c.reason.clone(),
                })
            }
            HazardCommand::ListForSupervision(c) => {
                if !s.is_major() {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::NOT_MAJOR,
                        "only a major hazard (重大事故隐患) can be listed for supervision",
                    ));
                }
                if s.listed.is_some() {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::DUPLICATE,
                        "the hazard is already listed for supervision",
                    ));
                }
                text("listed_by", &c.listed_by, MAX_NAME)?;
                HazardEvent::ListedForSupervision(HazardListedForSupervision {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    level: c.level,
                    listed_by: c.listed_by.clone(),
                })
            }
            HazardCommand::NoteProgress(c) => {
                if s.phase != HazardPhase::Rectifying {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::INVALID_STATE,
                        "progress can be noted only while rectifying",
                    ));
                }
                text("note", &c.note, MAX_TEXT)?;
                HazardEvent::ProgressNoted(RectificationProgressNoted {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    note: c.note.clone(),
                })
            }
            HazardCommand::ReportDone(c) => {
                if s.phase != HazardPhase::Rectifying {
                    return Err(Rejection::at("hazard_id", rule::INVALID_STATE, "rectification is not under way"));
                }
                text("summary", &c.summary, MAX_TEXT)?;
                HazardEvent::RectificationReportedDone(RectificationReportedDone {
                    hazard_id,
                    recorded_by,
                    recorded_at,
                    summary: c.summary.clone(),
                })
            }
            HazardCommand::Verify(c) => {
                if s.phase != HazardPhase::AwaitingVerification {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::INVALID_STATE,
                        "no rectification reported done awaits verification",
                    ));
                }
                if s.done_by.as_ref() == Some(ctx.actor) {
                    return Err(Rejection::new(
                        "/actor",
                        rule::VERIFIER_IS_RECTIFIER,
                        format!("{} reported the rectification done and cannot also verify it (验收)", ctx.actor),
                    ));
                }
                text("remarks", &c.remarks, MAX_TEXT)?;
                let verified = HazardEvent::RectificationVerified(RectificationVerified {
                    hazard_id: hazard_id.clone(),
                    recorded_by,
                    recorded_at,
                    passed: c.passed,
                    remarks: c.remarks.clone(),
                });
                return Ok(reopen_unless(
                    c.passed,
                    verified,
                    hazard_id,
                    format!("verification failed: {}", c.remarks),
                    ctx,
                ));
            }
            HazardCommand::Close(c) => {
                if s.phase != HazardPhase::Verified {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::NOT_VERIFIED,
                        "a hazard is closed (销号) only after a passing verification (验收)",
                    ));
                }
                if s.closure_applied.is_some() {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::NOT_VERIFIED,
                        "the application to close awaits the bureau's on-site check (现场审查)",
                    ));
                }
                opt_text("remarks", &c.remarks, MAX_TEXT)?;
                HazardEvent::Closed(HazardClosed { hazard_id, recorded_by, recorded_at, remarks: c.remarks.clone() })
            }
            HazardCommand::ApplyToClose(c) => apply_to_close(s, c, ctx)?,
            HazardCommand::RecordOnsiteCheck(c) => {
                let Some((applied_at, check_due)) = s.closure_applied else {
                    return Err(Rejection::at(
                        "hazard_id",
                        rule::INVALID_STATE,
                        "no application to close awaits an on-site check",
                    ));
                };
                if c.checked_at < applied_at {
                    return Err(Rejection::at(
                        "checked_at",
                        rule::TIME_ORDER,
                        format!("checked_at {} is before the application {applied_at}", c.checked_at),
                    ));
                }
                super::not_future("checked_at", c.checked_at, ctx)?;
                text("findings", &c.findings, MAX_TEXT)?;
                let checked = HazardEvent::OnsiteChecked(OnsiteChecked {
                    hazard_id: hazard_id.clone(),
                    recorded_by,
                    recorded_at,
                    checked_at: c.checked_at,
                    passed: c.passed,
                    findings: c.findings.clone(),
                    check_due,
                    late: cst_date(c.checked_at) > check_due,
                });
                // 审查不合格: ordered to correct, back to rectification.
                return Ok(reopen_unless(
                    c.passed,
                    checked,
                    hazard_id,
                    format!("on-site check failed: {}", c.findings),
                    ctx,
                ));
            }
        };
        Ok(vec![ev])
    }

    fn evolve(mut s: HazardState, e: &HazardEvent) -> HazardState {
        match e {
            HazardEvent::Reported(e) => {
                s.id = Some(e.hazard_id.clone());
                s.phase = HazardPhase::Reported;
                s.category = e.category.clone();
                s.found_at = Some(e.found_at);
            }
            HazardEvent::Graded(e) => s.grade = Some((e.grade.clone(), e.major)),
            HazardEvent::RectificationOrdered(e) => {
                s.phase = HazardPhase::Rectifying;
                s.deadline = Some(e.deadline);
            }
            HazardEvent::DeadlineExtended(e) => {
                s.deadline = Some(e.new_deadline);
                s.extensions += 1;
            }
            HazardEvent::ListedForSupervision(e) => s.listed = Some(e.level),
            HazardEvent::ProgressNoted(_) => {}
            HazardEvent::RectificationReportedDone(e) => {
                s.phase = HazardPhase::AwaitingVerification;
                s.done_by = Some(e.recorded_by.clone());
            }
            HazardEvent::RectificationVerified(e) => {
                if e.passed {
                    s.phase = HazardPhase::Verified;
                } else {
                    s.failed_verifications += 1;
                }
            }
            HazardEvent::Reopened(_) => {
                s.phase = HazardPhase::Rectifying;
                s.done_by = None;
                s.closure_applied = None;
            }
            HazardEvent::ClosureApplied(e) => s.closure_applied = Some((e.applied_at, e.check_due)),
            HazardEvent::OnsiteChecked(e) => {
                s.closure_applied = None;
                s.onsite_passed = e.passed;
            }
            HazardEvent::Closed(_) => s.phase = HazardPhase::Closed,
        }
        s
    }
}

/// A check's event, followed by `hazard.reopened` (back to rectification) when it failed.
fn reopen_unless(
    passed: bool,
    check: HazardEvent,
    hazard_id: EntityId,
    reason: String,
    ctx: &DecisionContext<'_>,
) -> Vec<HazardEvent> {
    if passed {
        return vec![check];
    }
    let reopened = HazardEvent::Reopened(HazardReopened {
        hazard_id,
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        reason,
    });
    vec![check, reopened]
}

/// 书面申请 (SAWS Order 16 art. 18): only for a listed or suspended major hazard, after a passing
/// verification, one application awaiting its check at a time.
fn apply_to_close(s: &HazardState, c: &ApplyToClose, ctx: &DecisionContext<'_>) -> Result<HazardEvent, Rejection> {
    if !s.is_major() {
        return Err(Rejection::at("hazard_id", rule::NOT_MAJOR, "only a major hazard (重大事故隐患) is applied for"));
    }
    if s.listed.is_none() && !c.suspended {
        return Err(Rejection::at(
            "suspended",
            rule::INVALID_STATE,
            "an application to close is for a hazard listed for supervision or a suspended unit",
        ));
    }
    if s.phase != HazardPhase::Verified {
        return Err(Rejection::at(
            "hazard_id",
            rule::NOT_VERIFIED,
            "the application follows a passing verification (验收) of the rectification",
        ));
    }
    if s.closure_applied.is_some() {
        return Err(Rejection::at("hazard_id", rule::DUPLICATE, "an application already awaits its on-site check"));
    }
    if s.onsite_passed {
        return Err(Rejection::at("hazard_id", rule::DUPLICATE, "the on-site check already passed; close the hazard"));
    }
    if let Some(found) = s.found_at {
        if c.applied_at < found {
            return Err(Rejection::at("applied_at", rule::TIME_ORDER, "applied_at is before the hazard was found"));
        }
    }
    super::not_future("applied_at", c.applied_at, ctx)?;
    text("summary", &c.summary, MAX_TEXT)?;
    let days = ctx.settings.onsite_check_days;
    let check_due = cst_date(c.applied_at)
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .ok_or_else(|| Rejection::at("applied_at", rule::OUT_OF_RANGE, "check date out of range"))?;
    Ok(HazardEvent::ClosureApplied(ClosureApplied {
        hazard_id: c.hazard_id.clone(),
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        applied_at: c.applied_at,
        listed: s.listed,
        suspended: c.suspended,
        summary: c.summary.clone(),
        check_days: days,
        check_due,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderRectification {
        OrderRectification {
            hazard_id: EntityId::new("h1").unwrap(),
            responsible: Some("厂长 Wang".into()),
            responsible_person_id: None,
            measures: Some("replace guard".into()),
            funds_yuan: Some(5000),
            deadline: NaiveDate::from_ymd_opt(2025, 6, 1),
            contingency_plan: Some("stop line 2".into()),
        }
    }

    #[test]
    fn complete_order_has_nothing_missing() {
        assert!(five_in_place_missing(&order()).is_empty());
    }

    #[test]
    fn blank_text_and_zero_funds_count_as_missing() {
        let mut o = order();
        o.measures = Some("  ".into());
        o.funds_yuan = Some(0);
        let names: Vec<_> = five_in_place_missing(&o).into_iter().map(|(f, _)| f).collect();
        assert_eq!(names, ["measures", "funds_yuan"]);
        o.responsible = Some(" ".into());
        let names: Vec<_> = five_in_place_missing(&o).into_iter().map(|(f, _)| f).collect();
        assert_eq!(names, ["responsible", "measures", "funds_yuan"]);
    }

    #[test]
    fn a_sealed_responsible_counts_as_in_place() {
        let mut o = order();
        o.responsible = Some(PersonalField::Sealed(Box::new(crate::events::person::SealedValue {
            person_id: EntityId::new("p-1").unwrap(),
            kind: PersonalKind::Name,
            nonce: vec![0; crate::events::person::NONCE_LEN],
            ciphertext: vec![0; 20],
        })));
        assert!(five_in_place_missing(&o).is_empty());
        o.responsible = None;
        assert_eq!(five_in_place_missing(&o).first().map(|(f, _)| *f), Some("responsible"));
    }

    #[test]
    fn overdue_only_after_the_cst_day_ends_and_never_when_closed() {
        let mut s = HazardState {
            phase: HazardPhase::Rectifying,
            deadline: NaiveDate::from_ymd_opt(2025, 6, 1),
            ..Default::default()
        };
        assert!(!s.is_overdue("2025-06-01T15:59:59Z".parse().unwrap()));
        assert!(s.is_overdue("2025-06-01T16:00:00Z".parse().unwrap()));
        s.phase = HazardPhase::Closed;
        assert!(!s.is_overdue("2026-01-01T00:00:00Z".parse().unwrap()));
    }
}
