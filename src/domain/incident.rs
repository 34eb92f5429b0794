//! Incidents (事故): report, casualty revisions, grade (Decree 493 art. 3), investigation clock
//! (art. 19, 29), the four don't-let-go (四不放过), closing and post-closure evaluation.
//!
//! Invariants enforced by `decide`:
//! - The grade is the highest of deaths, serious injuries and direct loss, "以上" inclusive
//!   ([`grade_for`]). It applies to categories marked `graded` in the catalog and is recomputed
//!   on every revision (and on `incident.reassess_grade`); an `incident.graded` event is emitted
//!   whenever it changes, recording the figures it was computed from.
//! - Missing persons (下落不明) count as deaths once more than 30 days (7 for road traffic and
//!   fire) have passed since the accident, judged at the command's `issued_at`.
//! - A casualty revision more than 30 (7) days after the accident is accepted but flagged `late`.
//! - Reporting more than 1 hour after the accident is recorded as late (art. 9; measured from
//!   `occurred_at`, since the moment the unit head learned of it is not captured).
//! - The investigation is opened by at least the authority the grade calls for (art. 19; a
//!   higher one may take it over, art. 20); its report is due 60 days after the accident, one
//!   extension of at most 60 days, and time in technical appraisal (技术鉴定) does not count.
//! - Closing (结案, with the sign-off date) is refused while any of the four don't-let-go lacks
//!   its evidenced event, naming each missing one; the evaluation is then due within 1 year.
//! - Amounts are whole yuan (`u64`); people counts `u32`, bounded by [`Settings`].

use chrono::{DateTime, Duration, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::person::{check_opt_personal, check_personal, check_same_person};
use super::settings::Settings;
use super::{people, rule, text, yuan, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::incident::*;
use crate::events::person::{PersonalField, PersonalKind};
use crate::events::time::{cst_date, plus_days, plus_months};
use crate::events::{EntityId, StreamKind};

fn grade_of_deaths(n: u32) -> IncidentGrade {
    match n {
        30.. => IncidentGrade::ExtraordinarilySerious,
        10..=29 => IncidentGrade::Serious,
        3..=9 => IncidentGrade::RelativelySerious,
        _ => IncidentGrade::Ordinary,
    }
}

fn grade_of_serious(n: u32) -> IncidentGrade {
    match n {
        100.. => IncidentGrade::ExtraordinarilySerious,
        50..=99 => IncidentGrade::Serious,
        10..=49 => IncidentGrade::RelativelySerious,
        _ => IncidentGrade::Ordinary,
    }
}

fn grade_of_loss(yuan: u64) -> IncidentGrade {
    match yuan {
        100_000_000.. => IncidentGrade::ExtraordinarilySerious,
        50_000_000..=99_999_999 => IncidentGrade::Serious,
        10_000_000..=49_999_999 => IncidentGrade::RelativelySerious,
        _ => IncidentGrade::Ordinary,
    }
}

/// Decree 493 grade: the highest of the three dimensions, with the dimensions that reach it.
pub fn grade_for(deaths: u32, serious_injuries: u32, direct_loss_yuan: u64) -> (IncidentGrade, Vec<GradeDimension>) {
    let dims = [
        (GradeDimension::Deaths, grade_of_deaths(deaths)),
        (GradeDimension::SeriousInjuries, grade_of_serious(serious_injuries)),
        (GradeDimension::DirectLoss, grade_of_loss(direct_loss_yuan)),
    ];
    let top = dims.iter().map(|(_, g)| *g).max().unwrap_or(IncidentGrade::Ordinary);
    (top, dims.iter().filter(|(_, g)| *g == top).map(|(d, _)| *d).collect())
}

fn check_casualties(c: &Casualties, settings: &Settings) -> Result<(), Rejection> {
    people("deaths", c.deaths, settings)?;
    people("serious_injuries", c.serious_injuries, settings)?;
    people("minor_injuries", c.minor_injuries, settings)?;
    people("missing", c.missing, settings)?;
    yuan("direct_loss_yuan", c.direct_loss_yuan, settings)
}

fn evidence(list: &[String]) -> Result<(), Rejection> {
    if list.is_empty() {
        return Err(Rejection::at(
            "evidence",
            rule::REQUIRED,
            "at least one piece of evidence (document reference) is required",
        ));
    }
    if list.len() > 100 {
        return Err(Rejection::at("evidence", rule::TOO_LONG, "at most 100 evidence references"));
    }
    for (i, e) in list.iter().enumerate() {
        text(&format!("evidence/{i}"), e, MAX_TEXT)?;
    }
    Ok(())
}

// ---- commands ----------------------------------------------------------------------------

/// Report an incident (事故报告, art. 12 contents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIncident {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub occurred_at: DateTime<Utc>,
    /// When the unit reported it to the county-level bureau.
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub reported_at: DateTime<Utc>,
    pub place: String,
    pub community_id: EntityId,
    pub enterprise_id: Option<EntityId>,
    /// Category code from the catalog.
    pub category: String,
    pub deaths: u32,
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    pub missing: u32,
    pub direct_loss_yuan: u64,
    pub summary: String,
}

/// Revise casualty figures (补报, or a late revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseCasualties {
    pub incident_id: EntityId,
    pub deaths: u32,
    pub serious_injuries: u32,
    pub minor_injuries: u32,
    pub missing: u32,
    pub direct_loss_yuan: u64,
    pub reason: String,
}

/// Recompute the grade as of `issued_at` (e.g. once missing persons count as deaths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassessGrade {
    pub incident_id: EntityId,
}

/// The report passed up to a higher level (逐级上报, art. 10–11): the bureau at `level` received it
/// at `escalated_at`. A level may be skipped (越级上报); each level climbed adds its 2 hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateIncident {
    pub incident_id: EntityId,
    pub level: AuthorityLevel,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub escalated_at: DateTime<Utc>,
}

/// Open the investigation (事故调查).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInvestigation {
    pub incident_id: EntityId,
    pub authority_level: AuthorityLevel,
    /// Name of the government or investigation team (事故调查组) leading it: an organisation, not
    /// personal data, stored as plain text. Put no person's name here (not the team leader's).
    pub authority: String,
}

/// Extend the investigation once, by at most 60 days (art. 29).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendInvestigation {
    pub incident_id: EntityId,
    pub days: u32,
    pub reason: String,
}

/// Technical appraisal (技术鉴定) started: the investigation clock stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartAppraisal {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub started_at: DateTime<Utc>,
    pub reason: String,
}

/// Technical appraisal ended: the clock runs again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAppraisal {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub ended_at: DateTime<Utc>,
}

/// The investigation report is submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitInvestigationReport {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub submitted_at: DateTime<Utc>,
    pub summary: String,
}

/// Extend the sign-off (批复) of a 特别重大 accident's investigation report, once, by at most
/// 30 days (art. 32).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendSignOff {
    pub incident_id: EntityId,
    pub days: u32,
    pub reason: String,
}

/// 1. 事故原因未查清不放过: the cause is established.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetermineCause {
    pub incident_id: EntityId,
    pub cause: String,
    pub evidence: Vec<String>,
}

/// 2. 责任人员未处理不放过: one person responsible has been dealt with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealWithResponsible {
    pub incident_id: EntityId,
    /// The person's name (PIPL personal information: sealed before it is stored).
    pub person: PersonalField,
    /// A stable id for the person, chosen by the host (e.g. its own person record id). When
    /// absent, the engine derives one from `id_number`, or gives the mention its own.
    pub person_id: Option<EntityId>,
    /// 身份证号 or another document number (sealed before it is stored).
    pub id_number: Option<PersonalField>,
    /// The person's role or post (e.g. 车间主任): a title, not a name, stored as plain text.
    pub role: String,
    /// What was done (处分, 罚款, 移送司法 …).
    pub action: String,
    pub evidence: Vec<String>,
}

/// 3. 整改措施未落实不放过: corrective measures are in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImplementCorrectiveMeasures {
    pub incident_id: EntityId,
    pub measures: String,
    /// Hazards whose rectification carries the measures.
    pub hazard_ids: Vec<EntityId>,
    pub evidence: Vec<String>,
}

/// 4. 有关人员未受到教育不放过: those responsible and the people around them were educated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConductEducation {
    pub incident_id: EntityId,
    /// Who was educated.
    pub audience: String,
    pub people_reached: u32,
    /// How (meeting, training, warning film …).
    pub method: String,
    pub evidence: Vec<String>,
}

/// Close the case with the sign-off (批复) of the investigation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseIncident {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub signed_off_at: DateTime<Utc>,
    /// Who signed off (批复): the people's government that approves the investigation report
    /// (Decree 493 art. 32), an organisation, not personal data, stored as plain text. Put no
    /// official's name here.
    pub signed_off_by: String,
}

/// An imported incident's outside status: closed in another system, its evidence not held here
/// (外部结案). It then takes no other command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkClosedElsewhere {
    pub incident_id: EntityId,
    /// The CST day it was closed there, when known; unknown means closed as far back as the
    /// report, as far as this store is concerned.
    pub closed_on: Option<NaiveDate>,
    /// The system or organisation holding the case file (an organisation, not a person).
    pub held_by: String,
    pub note: Option<String>,
}

/// Post-closure evaluation of rectification and prevention (Work Safety Law art. 86).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEvaluation {
    pub incident_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub evaluated_at: DateTime<Utc>,
    pub findings: String,
    pub published: bool,
}

command_enum!(
    /// Commands addressed to an incident stream.
    IncidentCommand, incident_id, StreamKind::Incident, {
    Report(ReportIncident) = "incident.report",
    ReviseCasualties(ReviseCasualties) = "incident.revise_casualties",
    ReassessGrade(ReassessGrade) = "incident.reassess_grade",
    Escalate(EscalateIncident) = "incident.escalate",
    OpenInvestigation(OpenInvestigation) = "incident.open_investigation",
    ExtendInvestigation(ExtendInvestigation) = "incident.extend_investigation",
    StartAppraisal(StartAppraisal) = "incident.start_appraisal",
    EndAppraisal(EndAppraisal) = "incident.end_appraisal",
    SubmitInvestigationReport(SubmitInvestigationReport) = "incident.submit_investigation_report",
    ExtendSignOff(ExtendSignOff) = "incident.extend_sign_off",
    DetermineCause(DetermineCause) = "incident.determine_cause",
    DealWithResponsible(DealWithResponsible) = "incident.deal_with_responsible",
    ImplementCorrectiveMeasures(ImplementCorrectiveMeasures) = "incident.implement_corrective_measures",
    ConductEducation(ConductEducation) = "incident.conduct_education",
    Close(CloseIncident) = "incident.close",
    RecordEvaluation(RecordEvaluation) = "incident.record_evaluation",
    MarkClosedElsewhere(MarkClosedElsewhere) = "incident.mark_closed_elsewhere",
});

// ---- state -------------------------------------------------------------------------------

/// The running investigation clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvestigationClock {
    /// Current due instant, already moved by extensions and finished appraisal pauses.
    pub deadline: DateTime<Utc>,
    pub extensions: u32,
    /// Start of an appraisal under way.
    pub paused_since: Option<DateTime<Utc>>,
    pub report_submitted: bool,
    /// Sign-off (批复) due, once the report is in (none for reports recorded before the rule).
    pub sign_off_due: Option<DateTime<Utc>>,
    pub sign_off_extended: bool,
}

impl InvestigationClock {
    /// Due instant as of `at`, counting an appraisal still under way as paused time.
    pub fn due_as_of(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.paused_since {
            Some(p) if at > p => self.deadline.checked_add_signed(at - p).unwrap_or(self.deadline),
            _ => self.deadline,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentState {
    pub id: Option<EntityId>,
    pub category: String,
    pub occurred_at: Option<DateTime<Utc>>,
    /// The highest level the report has reached and when (the county bureau at `reported_at`
    /// first).
    pub escalated_to: Option<(AuthorityLevel, DateTime<Utc>)>,
    pub casualties: Casualties,
    pub grade: Option<IncidentGrade>,
    pub investigation: Option<InvestigationClock>,
    /// Flags of the four don't-let-go, in [`FOUR_NOT_LET_GO`] order.
    pub four: [bool; 4],
    pub closed: Option<NaiveDate>,
    pub evaluated: bool,
    /// Closed in another system (`incident.closed_elsewhere`).
    pub closed_elsewhere: bool,
}

impl IncidentState {
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Codes of the four don't-let-go still missing.
    pub fn missing_four(&self) -> Vec<&'static str> {
        FOUR_NOT_LET_GO.iter().zip(self.four).filter(|(_, done)| !done).map(|((code, _), _)| *code).collect()
    }
}

/// The incident aggregate.
#[derive(Debug)]
pub struct Incident;

struct Windows {
    supplementary: u32,
    missing_as_dead: u32,
}

fn windows(ctx: &DecisionContext<'_>, category: &str) -> Windows {
    let short = ctx.catalog.categories.iter().any(|c| c.code == category && c.short_window);
    let s = ctx.settings;
    if short {
        Windows { supplementary: s.supplementary_days_short, missing_as_dead: s.missing_as_dead_days_short }
    } else {
        Windows { supplementary: s.supplementary_days, missing_as_dead: s.missing_as_dead_days }
    }
}

/// True when `at` lies strictly more than `days` days after `from` ("30日后").
fn beyond(from: DateTime<Utc>, days: u32, at: DateTime<Utc>) -> bool {
    match plus_days(from, days) {
        Some(end) => at > end,
        None => false,
    }
}

/// The grade event if the grade (as of `ctx.issued_at`) differs from the state's.
fn regrade(
    s: &IncidentState,
    category: &str,
    occurred_at: DateTime<Utc>,
    c: &Casualties,
    ctx: &DecisionContext<'_>,
) -> Option<IncidentEvent> {
    let graded = ctx.catalog.categories.iter().any(|x| x.code == category && x.graded);
    if !graded {
        return None;
    }
    let counted = beyond(occurred_at, windows(ctx, category).missing_as_dead, ctx.issued_at) && c.missing > 0;
    let deaths = if counted { c.deaths.saturating_add(c.missing) } else { c.deaths };
    let (grade, decided_by) = grade_for(deaths, c.serious_injuries, c.direct_loss_yuan);
    if s.grade == Some(grade) {
        return None;
    }
    Some(IncidentEvent::Graded(IncidentGraded {
        incident_id: s.id.clone()?,
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        grade,
        previous_grade: s.grade,
        deaths_counted: deaths,
        missing_counted_as_dead: counted,
        serious_injuries: c.serious_injuries,
        direct_loss_yuan: c.direct_loss_yuan,
        decided_by,
    }))
}

fn not_before(name: &str, at: DateTime<Utc>, floor: DateTime<Utc>, what: &str) -> Result<(), Rejection> {
    if at < floor {
        return Err(Rejection::at(name, rule::TIME_ORDER, format!("{name} {at} is before {what} {floor}")));
    }
    Ok(())
}

impl Aggregate for Incident {
    type State = IncidentState;
    type Command = IncidentCommand;
    type Event = IncidentEvent;

    fn decide(
        s: &IncidentState,
        cmd: &IncidentCommand,
        ctx: &DecisionContext<'_>,
    ) -> Result<Vec<IncidentEvent>, Rejection> {
        super::same_id("incident_id", &s.id, cmd.target_id())?;
        let id = cmd.target_id().clone();
        if let IncidentCommand::Report(c) = cmd {
            if s.exists() {
                return Err(Rejection::at(
                    "incident_id",
                    rule::ALREADY_EXISTS,
                    format!("incident {id} was already reported"),
                ));
            }
            return report(c, ctx);
        }
        let Some(occurred_at) = s.occurred_at else {
            return Err(Rejection::at("incident_id", rule::NOT_FOUND, format!("incident {id} has not been reported")));
        };
        if s.closed.is_some() && !matches!(cmd, IncidentCommand::RecordEvaluation(_)) {
            return Err(Rejection::at("incident_id", rule::CLOSED, format!("incident {id} is closed (已结案)")));
        }
        if s.closed_elsewhere {
            return Err(Rejection::at(
                "incident_id",
                rule::CLOSED,
                format!("incident {id} was closed in another system (外部结案); its case file is not held here"),
            ));
        }
        let (recorded_by, recorded_at) = (ctx.actor.clone(), ctx.issued_at);
        let incident_id = id;
        let ev = match cmd {
            IncidentCommand::Report(_) => return Ok(Vec::new()), // handled above
            IncidentCommand::ReviseCasualties(c) => {
                let figures = Casualties {
                    deaths: c.deaths,
                    serious_injuries: c.serious_injuries,
                    minor_injuries: c.minor_injuries,
                    missing: c.missing,
                    direct_loss_yuan: c.direct_loss_yuan,
                };
                check_casualties(&figures, ctx.settings)?;
                text("reason", &c.reason, MAX_TEXT)?;
                let window = windows(ctx, &s.category).supplementary;
                let mut out = vec![IncidentEvent::CasualtiesRevised(CasualtiesRevised {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    deaths: c.deaths,
                    serious_injuries: c.serious_injuries,
                    minor_injuries: c.minor_injuries,
                    missing: c.missing,
                    direct_loss_yuan: c.direct_loss_yuan,
                    reason: c.reason.clone(),
                    days_after_accident: crate::events::time::days_between(occurred_at, ctx.issued_at),
                    window_days: window,
                    late: beyond(occurred_at, window, ctx.issued_at),
                })];
                out.extend(regrade(s, &s.category, occurred_at, &figures, ctx));
                return Ok(out);
            }
            IncidentCommand::ReassessGrade(_) => {
                return Ok(regrade(s, &s.category, occurred_at, &s.casualties, ctx).into_iter().collect());
            }
            IncidentCommand::Escalate(c) => escalate(s, c, ctx)?,
            IncidentCommand::OpenInvestigation(c) => {
                if s.investigation.is_some() {
                    return Err(Rejection::at("incident_id", rule::DUPLICATE, "an investigation is already open"));
                }
                text("authority", &c.authority, MAX_NAME)?;
                let required = s.grade.map(IncidentGrade::investigating_authority);
                if let Some(req) = required {
                    if c.authority_level < req {
                        return Err(Rejection::at(
                            "authority_level",
                            rule::AUTHORITY_TOO_LOW,
                            format!(
                                "a {} is investigated by at least {req:?} level (art. 19), not {:?}",
                                s.grade.map_or("", |g| g.zh()),
                                c.authority_level
                            ),
                        ));
                    }
                }
                let deadline = plus_days(occurred_at, ctx.settings.investigation_days)
                    .ok_or_else(|| Rejection::at("incident_id", rule::OUT_OF_RANGE, "deadline out of range"))?;
                IncidentEvent::InvestigationOpened(InvestigationOpened {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    authority_level: c.authority_level,
                    authority: c.authority.clone(),
                    required_level: required,
                    deadline,
                })
            }
            IncidentCommand::ExtendInvestigation(c) => {
                let inv = open_investigation(s)?;
                if inv.extensions >= ctx.settings.investigation_max_extensions {
                    return Err(Rejection::at(
                        "days",
                        rule::EXTENSION_LIMIT,
                        format!(
                            "the investigation may be extended at most {} time(s) (art. 29)",
                            ctx.settings.investigation_max_extensions
                        ),
                    ));
                }
                if c.days == 0 || c.days > ctx.settings.investigation_extension_max_days {
                    return Err(Rejection::at(
                        "days",
                        rule::EXTENSION_TOO_LONG,
                        format!(
                            "an extension is 1–{} days (art. 29), got {}",
                            ctx.settings.investigation_extension_max_days, c.days
                        ),
                    ));
                }
                text("reason", &c.reason, MAX_TEXT)?;
                let new_deadline = plus_days(inv.deadline, c.days)
                    .ok_or_else(|| Rejection::at("days", rule::OUT_OF_RANGE, "deadline out of range"))?;
                IncidentEvent::InvestigationExtended(InvestigationExtended {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    days: c.days,
                    reason: c.reason.clone(),
                    new_deadline,
                })
            }
            IncidentCommand::StartAppraisal(c) => {
                let inv = open_investigation(s)?;
                if inv.paused_since.is_some() {
                    return Err(Rejection::at(
                        "incident_id",
                        rule::ALREADY_PAUSED,
                        "a technical appraisal is already under way",
                    ));
                }
                not_before("started_at", c.started_at, occurred_at, "the accident")?;
                super::not_future("started_at", c.started_at, ctx)?;
                text("reason", &c.reason, MAX_TEXT)?;
                IncidentEvent::AppraisalStarted(AppraisalStarted {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    started_at: c.started_at,
                    reason: c.reason.clone(),
                })
            }
            IncidentCommand::EndAppraisal(c) => {
                let inv = open_investigation(s)?;
                let Some(started_at) = inv.paused_since else {
                    return Err(Rejection::at("incident_id", rule::NOT_PAUSED, "no technical appraisal is under way"));
                };
                not_before("ended_at", c.ended_at, started_at, "the appraisal's start")?;
                super::not_future("ended_at", c.ended_at, ctx)?;
                let paused: Duration = c.ended_at - started_at;
                let new_deadline = inv
                    .deadline
                    .checked_add_signed(paused)
                    .ok_or_else(|| Rejection::at("ended_at", rule::OUT_OF_RANGE, "deadline out of range"))?;
                IncidentEvent::AppraisalEnded(AppraisalEnded {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    started_at,
                    ended_at: c.ended_at,
                    paused_seconds: paused.num_seconds(),
                    new_deadline,
                })
            }
            IncidentCommand::SubmitInvestigationReport(c) => {
                let inv = open_investigation(s)?;
                if inv.paused_since.is_some() {
                    return Err(Rejection::at(
                        "incident_id",
                        rule::INVALID_STATE,
                        "end the technical appraisal before submitting the report",
                    ));
                }
                if inv.report_submitted {
                    return Err(Rejection::at(
                        "incident_id",
                        rule::DUPLICATE,
                        "the investigation report was already submitted",
                    ));
                }
                not_before("submitted_at", c.submitted_at, occurred_at, "the accident")?;
                super::not_future("submitted_at", c.submitted_at, ctx)?;
                text("summary", &c.summary, MAX_TEXT)?;
                let days = if s.grade == Some(IncidentGrade::ExtraordinarilySerious) {
                    ctx.settings.sign_off_days_extraordinary
                } else {
                    ctx.settings.sign_off_days
                };
                let sign_off_due = plus_days(c.submitted_at, days)
                    .ok_or_else(|| Rejection::at("submitted_at", rule::OUT_OF_RANGE, "sign-off date out of range"))?;
                IncidentEvent::InvestigationReportSubmitted(InvestigationReportSubmitted {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    submitted_at: c.submitted_at,
                    summary: c.summary.clone(),
                    deadline: inv.deadline,
                    overdue: c.submitted_at > inv.deadline,
                    sign_off_days: Some(days),
                    sign_off_due: Some(sign_off_due),
                })
            }
            IncidentCommand::ExtendSignOff(c) => extend_sign_off(s, c, ctx)?,
            IncidentCommand::MarkClosedElsewhere(c) => {
                if let Some(day) = c.closed_on {
                    super::not_future_date("closed_on", day, ctx)?;
                    if day < cst_date(occurred_at) {
                        return Err(Rejection::at(
                            "closed_on",
                            rule::TIME_ORDER,
                            format!("closed_on {day} is before the accident's day {}", cst_date(occurred_at)),
                        ));
                    }
                }
                text("held_by", &c.held_by, MAX_NAME)?;
                super::opt_text("note", &c.note, MAX_TEXT)?;
                IncidentEvent::ClosedElsewhere(ClosedElsewhere {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    closed_on: c.closed_on,
                    held_by: c.held_by.clone(),
                    note: c.note.clone(),
                })
            }
            IncidentCommand::DetermineCause(c) => {
                text("cause", &c.cause, MAX_TEXT)?;
                evidence(&c.evidence)?;
                IncidentEvent::CauseDetermined(CauseDetermined {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    cause: c.cause.clone(),
                    evidence: c.evidence.clone(),
                })
            }
            IncidentCommand::DealWithResponsible(c) => {
                check_personal("person", &c.person, PersonalKind::Name)?;
                check_opt_personal("id_number", &c.id_number, PersonalKind::IdNumber)?;
                check_same_person("person", c.person_id.as_ref(), &[Some(&c.person), c.id_number.as_ref()])?;
                text("role", &c.role, MAX_NAME)?;
                text("action", &c.action, MAX_TEXT)?;
                evidence(&c.evidence)?;
                IncidentEvent::ResponsibleDealtWith(ResponsibleDealtWith {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    person: c.person.clone(),
                    id_number: c.id_number.clone(),
                    role: c.role.clone(),
                    action: c.action.clone(),
                    evidence: c.evidence.clone(),
                })
            }
            IncidentCommand::ImplementCorrectiveMeasures(c) => {
                text("measures", &c.measures, MAX_TEXT)?;
                if c.hazard_ids.len() > 1000 {
                    return Err(Rejection::at("hazard_ids", rule::TOO_LONG, "at most 1000 linked hazards"));
                }
                evidence(&c.evidence)?;
                IncidentEvent::CorrectiveMeasuresImplemented(CorrectiveMeasuresImplemented {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    measures: c.measures.clone(),
                    hazard_ids: c.hazard_ids.clone(),
                    evidence: c.evidence.clone(),
                })
            }
            IncidentCommand::ConductEducation(c) => {
                text("audience", &c.audience, MAX_TEXT)?;
                people("people_reached", c.people_reached, ctx.settings)?;
                if c.people_reached == 0 {
                    return Err(Rejection::at(
                        "people_reached",
                        rule::OUT_OF_RANGE,
                        "education must reach at least one person",
                    ));
                }
                text("method", &c.method, MAX_TEXT)?;
                evidence(&c.evidence)?;
                IncidentEvent::EducationConducted(EducationConducted {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    audience: c.audience.clone(),
                    people_reached: c.people_reached,
                    method: c.method.clone(),
                    evidence: c.evidence.clone(),
                })
            }
            IncidentCommand::Close(c) => {
                let missing = s.missing_four();
                if !missing.is_empty() {
                    let labels: Vec<&str> = FOUR_NOT_LET_GO
                        .iter()
                        .filter(|(code, _)| missing.contains(code))
                        .map(|(_, label)| *label)
                        .collect();
                    return Err(Rejection::at(
                        "",
                        rule::FOUR_NOT_LET_GO_MISSING,
                        format!("cannot close: 四不放过 not satisfied: {}", labels.join("; ")),
                    )
                    .with_items(missing.iter().map(|m| m.to_string()).collect()));
                }
                not_before("signed_off_at", c.signed_off_at, occurred_at, "the accident")?;
                super::not_future("signed_off_at", c.signed_off_at, ctx)?;
                text("signed_off_by", &c.signed_off_by, MAX_NAME)?;
                let evaluation_due = plus_months(cst_date(c.signed_off_at), ctx.settings.evaluation_months)
                    .ok_or_else(|| {
                        Rejection::at("signed_off_at", rule::OUT_OF_RANGE, "evaluation date out of range")
                    })?;
                IncidentEvent::Closed(IncidentClosed {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    signed_off_at: c.signed_off_at,
                    signed_off_by: c.signed_off_by.clone(),
                    evaluation_due,
                })
            }
            IncidentCommand::RecordEvaluation(c) => {
                let Some(due) = s.closed else {
                    return Err(Rejection::at("incident_id", rule::INVALID_STATE, "evaluation follows closing (结案)"));
                };
                if s.evaluated {
                    return Err(Rejection::at("incident_id", rule::DUPLICATE, "the evaluation was already recorded"));
                }
                super::not_future("evaluated_at", c.evaluated_at, ctx)?;
                text("findings", &c.findings, MAX_TEXT)?;
                IncidentEvent::Evaluated(PostClosureEvaluated {
                    incident_id,
                    recorded_by,
                    recorded_at,
                    evaluated_at: c.evaluated_at,
                    findings: c.findings.clone(),
                    published: c.published,
                    overdue: cst_date(c.evaluated_at) > due,
                })
            }
        };
        Ok(vec![ev])
    }

    fn evolve(mut s: IncidentState, e: &IncidentEvent) -> IncidentState {
        match e {
            IncidentEvent::Reported(e) => {
                s.id = Some(e.incident_id.clone());
                s.category = e.category.clone();
                s.occurred_at = Some(e.occurred_at);
                s.escalated_to = Some((AuthorityLevel::County, e.reported_at));
                s.casualties = Casualties {
                    deaths: e.deaths,
                    serious_injuries: e.serious_injuries,
                    minor_injuries: e.minor_injuries,
                    missing: e.missing,
                    direct_loss_yuan: e.direct_loss_yuan,
                };
            }
            IncidentEvent::CasualtiesRevised(e) => {
                s.casualties = Casualties {
                    deaths: e.deaths,
                    serious_injuries: e.serious_injuries,
                    minor_injuries: e.minor_injuries,
                    missing: e.missing,
                    direct_loss_yuan: e.direct_loss_yuan,
                };
            }
            IncidentEvent::Graded(e) => s.grade = Some(e.grade),
            IncidentEvent::InvestigationOpened(e) => {
                s.investigation = Some(InvestigationClock {
                    deadline: e.deadline,
                    extensions: 0,
                    paused_since: None,
                    report_submitted: false,
                    sign_off_due: None,
                    sign_off_extended: false,
                });
            }
            IncidentEvent::InvestigationExtended(e) => {
                if let Some(inv) = s.investigation.as_mut() {
                    inv.deadline = e.new_deadline;
                    inv.extensions += 1;
                }
            }
            IncidentEvent::AppraisalStarted(e) => {
                if let Some(inv) = s.investigation.as_mut() {
                    inv.paused_since = Some(e.started_at);
                }
            }
            IncidentEvent::AppraisalEnded(e) => {
                if let Some(inv) = s.investigation.as_mut() {
                    inv.paused_since = None;
                    inv.deadline = e.new_deadline;
                }
            }
            IncidentEvent::InvestigationReportSubmitted(e) => {
                if let Some(inv) = s.investigation.as_mut() {
                    inv.report_submitted = true;
                    inv.sign_off_due = e.sign_off_due;
                }
            }
            IncidentEvent::SignOffExtended(e) => {
                if let Some(inv) = s.investigation.as_mut() {
                    inv.sign_off_due = Some(e.new_due);
                    inv.sign_off_extended = true;
                }
            }
            IncidentEvent::CauseDetermined(_) => s.four[0] = true,
            IncidentEvent::ResponsibleDealtWith(_) => s.four[1] = true,
            IncidentEvent::CorrectiveMeasuresImplemented(_) => s.four[2] = true,
            IncidentEvent::EducationConducted(_) => s.four[3] = true,
            IncidentEvent::Closed(e) => s.closed = Some(e.evaluation_due),
            IncidentEvent::Evaluated(_) => s.evaluated = true,
            IncidentEvent::Escalated(e) => s.escalated_to = Some((e.level, e.escalated_at)),
            IncidentEvent::ClosedElsewhere(_) => s.closed_elsewhere = true,
        }
        s
    }
}

/// 逐级上报: the report climbs above the level that holds it, each level within the limit.
fn escalate(s: &IncidentState, c: &EscalateIncident, ctx: &DecisionContext<'_>) -> Result<IncidentEvent, Rejection> {
    let Some((from_level, since)) = s.escalated_to else {
        return Err(Rejection::at("incident_id", rule::NOT_FOUND, "the incident has not been reported"));
    };
    if c.level <= from_level {
        return Err(Rejection::at(
            "level",
            rule::INVALID_STATE,
            format!("the report already reached {from_level:?} level; an escalation goes higher"),
        ));
    }
    not_before("escalated_at", c.escalated_at, since, "the previous level's receipt")?;
    super::not_future("escalated_at", c.escalated_at, ctx)?;
    let limit = ctx.settings.escalation_limit_minutes;
    let minutes = i64::from(limit) * i64::from(c.level.rank() - from_level.rank());
    let deadline = since
        .checked_add_signed(Duration::minutes(minutes))
        .ok_or_else(|| Rejection::at("escalated_at", rule::OUT_OF_RANGE, "deadline out of range"))?;
    Ok(IncidentEvent::Escalated(IncidentEscalated {
        incident_id: c.incident_id.clone(),
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        from_level,
        level: c.level,
        escalated_at: c.escalated_at,
        limit_minutes: limit,
        deadline,
        late: c.escalated_at > deadline,
        required_level: s.grade.map(IncidentGrade::escalation_level),
    }))
}

/// 批复 extended (art. 32): only a 特别重大 accident's, once, by 1 to the setting's days.
fn extend_sign_off(
    s: &IncidentState,
    c: &ExtendSignOff,
    ctx: &DecisionContext<'_>,
) -> Result<IncidentEvent, Rejection> {
    let inv = open_investigation(s)?;
    let Some(due) = inv.sign_off_due else {
        return Err(Rejection::at(
            "incident_id",
            rule::INVALID_STATE,
            "the sign-off clock starts with the investigation report, which is not recorded",
        ));
    };
    if s.grade != Some(IncidentGrade::ExtraordinarilySerious) {
        return Err(Rejection::at(
            "incident_id",
            rule::INVALID_STATE,
            "only a 特别重大 accident's sign-off may be extended (art. 32)",
        ));
    }
    if inv.sign_off_extended {
        return Err(Rejection::at("days", rule::EXTENSION_LIMIT, "the sign-off may be extended once (art. 32)"));
    }
    let max = ctx.settings.sign_off_extension_max_days;
    if c.days == 0 || c.days > max {
        return Err(Rejection::at(
            "days",
            rule::EXTENSION_TOO_LONG,
            format!("a sign-off extension is 1–{max} days (art. 32), got {}", c.days),
        ));
    }
    text("reason", &c.reason, MAX_TEXT)?;
    let new_due =
        plus_days(due, c.days).ok_or_else(|| Rejection::at("days", rule::OUT_OF_RANGE, "deadline out of range"))?;
    Ok(IncidentEvent::SignOffExtended(SignOffExtended {
        incident_id: c.incident_id.clone(),
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        days: c.days,
        reason: c.reason.clone(),
        new_due,
    }))
}

fn open_investigation(s: &IncidentState) -> Result<&InvestigationClock, Rejection> {
    s.investigation
        .as_ref()
        .ok_or_else(|| Rejection::at("incident_id", rule::INVALID_STATE, "no investigation has been opened"))
}

fn report(c: &ReportIncident, ctx: &DecisionContext<'_>) -> Result<Vec<IncidentEvent>, Rejection> {
    ctx.catalog.category("category", &c.category)?;
    text("place", &c.place, MAX_TEXT)?;
    text("summary", &c.summary, MAX_TEXT)?;
    let figures = Casualties {
        deaths: c.deaths,
        serious_injuries: c.serious_injuries,
        minor_injuries: c.minor_injuries,
        missing: c.missing,
        direct_loss_yuan: c.direct_loss_yuan,
    };
    check_casualties(&figures, ctx.settings)?;
    super::not_future("occurred_at", c.occurred_at, ctx)?;
    not_before("reported_at", c.reported_at, c.occurred_at, "occurred_at")?;
    super::not_future("reported_at", c.reported_at, ctx)?;
    let delay = (c.reported_at - c.occurred_at).num_minutes();
    let limit = ctx.settings.report_limit_minutes;
    let reported = IncidentEvent::Reported(IncidentReported {
        incident_id: c.incident_id.clone(),
        recorded_by: ctx.actor.clone(),
        recorded_at: ctx.issued_at,
        occurred_at: c.occurred_at,
        reported_at: c.reported_at,
        place: c.place.clone(),
        community_id: c.community_id.clone(),
        enterprise_id: c.enterprise_id.clone(),
        category: c.category.clone(),
        deaths: c.deaths,
        serious_injuries: c.serious_injuries,
        minor_injuries: c.minor_injuries,
        missing: c.missing,
        direct_loss_yuan: c.direct_loss_yuan,
        summary: c.summary.clone(),
        report_delay_minutes: delay,
        report_limit_minutes: limit,
        reported_late: c.reported_at - c.occurred_at > Duration::minutes(i64::from(limit)),
    });
    let state = Incident::evolve(IncidentState::default(), &reported);
    let mut out = vec![reported];
    out.extend(regrade(&state, &c.category, c.occurred_at, &figures, ctx));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grade_is_the_highest_dimension() {
        assert_eq!(
            grade_for(0, 0, 0),
            (
                IncidentGrade::Ordinary,
                vec![GradeDimension::Deaths, GradeDimension::SeriousInjuries, GradeDimension::DirectLoss]
            )
        );
        assert_eq!(grade_for(2, 50, 0), (IncidentGrade::Serious, vec![GradeDimension::SeriousInjuries]));
        assert_eq!(
            grade_for(30, 0, 100_000_000),
            (IncidentGrade::ExtraordinarilySerious, vec![GradeDimension::Deaths, GradeDimension::DirectLoss])
        );
    }

    #[test]
    fn authority_follows_grade() {
        assert_eq!(IncidentGrade::Ordinary.investigating_authority(), AuthorityLevel::County);
        assert_eq!(IncidentGrade::ExtraordinarilySerious.investigating_authority(), AuthorityLevel::StateCouncil);
        assert!(AuthorityLevel::Province > AuthorityLevel::City);
    }

    #[test]
    fn paused_clock_moves_the_due_instant_while_paused() {
        let d: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().unwrap();
        let p: DateTime<Utc> = "2025-02-01T00:00:00Z".parse().unwrap();
        let clock = InvestigationClock {
            deadline: d,
            extensions: 0,
            paused_since: Some(p),
            report_submitted: false,
            sign_off_due: None,
            sign_off_extended: false,
        };
        assert_eq!(clock.due_as_of(p + Duration::days(3)), d + Duration::days(3));
        assert_eq!(clock.due_as_of(p - Duration::days(3)), d);
    }
}
