//! Community, enterprise, injury-record and promotion-project rules, given/when/then; and the
//! payload codec over every event type (a full lifecycle of each aggregate, plus proptests).

use std::collections::BTreeSet;

use anquan::domain::community::*;
use anquan::domain::enterprise::*;
use anquan::domain::hazard::*;
use anquan::domain::incident::*;
use anquan::domain::injury::*;
use anquan::domain::promotion::*;
use anquan::domain::{decide_command, rule, CommandEnvelope, Settings};
use anquan::events::community::*;
use anquan::events::enterprise::*;
use anquan::events::hazard::*;
use anquan::events::incident::*;
use anquan::events::injury::*;
use anquan::events::promotion::*;
use anquan::events::{Catalog, DomainEvent};
use anquan::internals::testing::{at, date, envelope, given, history, id};
use proptest::prelude::*;

// ---- community -----------------------------------------------------------------------------

const C: &str = "jd-01";

fn register() -> CommandEnvelope {
    envelope(
        "district-admin",
        "2025-01-02T00:00:00Z",
        CommunityCommand::Register(RegisterCommunity {
            community_id: id(C),
            name: "新华街道".into(),
            kind: CommunityKind::UrbanStreet,
            district: "和平区".into(),
            population: 86_000,
            population_as_of: date("2024-12-31"),
        }),
    )
}

fn community(cmd: CommunityCommand) -> CommandEnvelope {
    envelope("district-admin", "2025-02-01T00:00:00Z", cmd)
}

fn start() -> CommandEnvelope {
    community(CommunityCommand::StartCreation(StartCreation { community_id: id(C), started_on: date("2020-03-01") }))
}

fn assess(passed: bool) -> CommandEnvelope {
    community(CommunityCommand::RecordAssessment(RecordAssessment {
        community_id: id(C),
        assessed_on: date("2021-05-10"),
        assessor: "评定组".into(),
        assessor_person_id: None,
        passed,
    }))
}

fn name() -> CommandEnvelope {
    community(CommunityCommand::Name(NameSafeCommunity {
        community_id: id(C),
        named_on: date("2021-06-30"),
        named_by: "中国职业安全健康协会".into(),
    }))
}

fn reassess(passed: bool) -> CommandEnvelope {
    envelope(
        "district-admin",
        "2026-06-02T00:00:00Z",
        CommunityCommand::RecordReassessment(RecordReassessment {
            community_id: id(C),
            reassessed_on: date("2026-06-01"),
            passed,
        }),
    )
}

#[test]
fn a_named_safe_community_is_due_for_reassessment_five_years_later() {
    let events = given(history([register(), start(), assess(true)])).when(name()).accepted();
    let [DomainEvent::Community(CommunityEvent::Named(n))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(n.reassessment_due, date("2026-06-30"));
    let short = Settings { reassessment_years: 3, ..Settings::default() };
    let events = given(history([register(), start(), assess(true)])).with_settings(short).when(name()).accepted();
    let [DomainEvent::Community(CommunityEvent::Named(n))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(n.reassessment_due, date("2024-06-30"), "the period is a setting");
}

#[test]
fn milestones_run_in_order() {
    given(history([register()])).when(assess(true)).then_reject("/command/assessed_on", rule::INVALID_STATE);
    given(history([register(), start(), assess(false)]))
        .when(name())
        .then_reject("/command/named_on", rule::INVALID_STATE);
    given(history([register(), start()]))
        .when(reassess(true))
        .then_reject("/command/reassessed_on", rule::INVALID_STATE);
    given(history([register(), start()])).when(start()).then_reject("/command/started_on", rule::INVALID_STATE);
}

#[test]
fn a_passed_reassessment_sets_the_next_due_date_and_a_failed_one_lapses_the_title() {
    let named = history([register(), start(), assess(true), name()]);
    let events = given(named.clone()).when(reassess(true)).accepted();
    let [DomainEvent::Community(CommunityEvent::Reassessed(r))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.next_due, Some(date("2031-06-01")));
    let mut lapsed = named.clone();
    lapsed.extend(given(named).when(reassess(false)).accepted());
    given(lapsed.clone()).when(reassess(true)).then_reject("/command/reassessed_on", rule::INVALID_STATE);
    given(lapsed).when(start()).accepted();
}

#[test]
fn grids_are_unique_and_responsible_persons_go_to_existing_grids() {
    let add = community(CommunityCommand::AddGrid(AddGrid {
        community_id: id(C),
        grid_id: id("g-1"),
        name: "一网格".into(),
        responsible_person: "王".into(),
        responsible_person_id: None,
    }));
    let assign = |g: &str| {
        community(CommunityCommand::AssignGridResponsible(AssignGridResponsible {
            community_id: id(C),
            grid_id: id(g),
            responsible_person: "赵".into(),
            responsible_person_id: None,
        }))
    };
    given(history([register()])).when(assign("g-1")).then_reject("/command/grid_id", rule::NOT_FOUND);
    let with_grid = history([register(), add.clone()]);
    given(with_grid.clone()).when(add).then_reject("/command/grid_id", rule::DUPLICATE);
    given(with_grid).when(assign("g-1")).accepted();
}

#[test]
fn population_is_dated_and_bounded() {
    let revise = |n: u32| {
        community(CommunityCommand::RevisePopulation(RevisePopulation {
            community_id: id(C),
            population: n,
            as_of: date("2025-06-30"),
        }))
    };
    let events = given(history([register()])).when(revise(87_500)).accepted();
    let [DomainEvent::Community(CommunityEvent::PopulationRevised(p))] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((p.population, p.as_of), (87_500, date("2025-06-30")));
    given(history([register()]))
        .when(revise(MAX_POPULATION + 1))
        .then_reject("/command/population", rule::OUT_OF_RANGE);
    given([]).when(revise(1)).then_reject("/command/community_id", rule::NOT_FOUND);
}

fn indicator(per: Vec<(&str, u32)>) -> CommandEnvelope {
    community(CommunityCommand::SetControlIndicator(SetControlIndicator {
        community_id: id(C),
        year: 2025,
        total_deaths: 93,
        per_category: per.into_iter().map(|(c, d)| CategoryLimit { category: c.into(), deaths: d }).collect(),
        set_on: date("2025-01-15"),
        set_by: "市安委会".into(),
    }))
}

#[test]
fn control_indicators_use_catalog_categories_once_each_within_the_total() {
    given(history([register()]))
        .when(indicator(vec![("production", 20), ("road_traffic", 60), ("fire", 5)]))
        .accepted();
    given(history([register()]))
        .when(indicator(vec![("production", 20), ("volcano", 1)]))
        .then_reject("/command/per_category/1/category", rule::UNKNOWN_CODE);
    given(history([register()]))
        .when(indicator(vec![("fire", 2), ("fire", 3)]))
        .then_reject("/command/per_category/1/category", rule::DUPLICATE);
    given(history([register()]))
        .when(indicator(vec![("fire", 94)]))
        .then_reject("/command/per_category/0/deaths", rule::OUT_OF_RANGE);
}

// ---- enterprise ----------------------------------------------------------------------------

const E: &str = "ent-9";

fn register_enterprise() -> CommandEnvelope {
    envelope(
        "bureau-1",
        "2025-01-02T00:00:00Z",
        EnterpriseCommand::Register(RegisterEnterprise {
            enterprise_id: id(E),
            name: "华安冲压件厂".into(),
            community_id: id(C),
            industry: "manufacturing".into(),
        }),
    )
}

fn grade_enterprise(code: &str) -> CommandEnvelope {
    envelope(
        "bureau-1",
        "2025-01-03T00:00:00Z",
        EnterpriseCommand::AssignGrade(AssignSupervisionGrade {
            enterprise_id: id(E),
            grade: code.into(),
            effective_on: date("2025-01-03"),
            reason: "年度评定".into(),
        }),
    )
}

fn action(a: EnforcementAction, fine: Option<u64>) -> CommandEnvelope {
    envelope(
        "bureau-1",
        "2025-02-03T00:00:00Z",
        EnterpriseCommand::TakeEnforcementAction(TakeEnforcementAction {
            enterprise_id: id(E),
            action: a,
            decided_on: date("2025-02-03"),
            decided_by: "区应急管理局".into(),
            decision_no: Some("和应急罚〔2025〕3号".into()),
            reason: "重大事故隐患未按期整改".into(),
            hazard_id: Some(id("HZ-1")),
            fine_yuan: fine,
        }),
    )
}

fn work_hours(year: i32, month: u32, hours_worked: u64, headcount: u32) -> CommandEnvelope {
    envelope(
        "officer-1",
        "2025-02-03T00:00:00Z",
        EnterpriseCommand::RecordWorkHours(RecordWorkHours {
            enterprise_id: id(E),
            year,
            month,
            hours_worked,
            headcount,
        }),
    )
}

fn work_case(case: &str, class: WorkCaseClass, days_away: u32, restricted_days: u32) -> CommandEnvelope {
    envelope(
        "officer-1",
        "2025-02-03T00:00:00Z",
        EnterpriseCommand::RecordWorkInjuryCase(RecordWorkInjuryCase {
            enterprise_id: id(E),
            case_id: id(case),
            occurred_on: date("2025-01-20"),
            class,
            days_away,
            restricted_days,
            incident_id: None,
            description: "手部挤伤".into(),
        }),
    )
}

/// Hours are bounded by what the headcount can work in the month; months are 1–12 and not in
/// the future; a case's days fit its class; a case id is used once.
#[test]
fn work_hours_and_injury_cases_are_plausible_and_unique() {
    // January: 31 days × 24 h × 10 people = 7,440 hours at most.
    given(history([register_enterprise()])).when(work_hours(2025, 1, 7_440, 10)).accepted();
    given(history([register_enterprise()]))
        .when(work_hours(2025, 1, 7_441, 10))
        .then_reject("/command/hours_worked", rule::OUT_OF_RANGE);
    given(history([register_enterprise()]))
        .when(work_hours(2025, 13, 1, 10))
        .then_reject("/command/month", rule::OUT_OF_RANGE);
    given(history([register_enterprise()]))
        .when(work_hours(2025, 3, 1, 10))
        .then_reject("/command/month", rule::IN_FUTURE);
    given(history([register_enterprise()]))
        .when(work_case("W1", WorkCaseClass::DaysAway, 0, 0))
        .then_reject("/command/class", rule::MALFORMED);
    given(history([register_enterprise()]))
        .when(work_case("W1", WorkCaseClass::Death, 2, 0))
        .then_reject("/command/class", rule::MALFORMED);
    given(history([register_enterprise()]))
        .when(work_case("W1", WorkCaseClass::RestrictedOrTransfer, 0, 6_001))
        .then_reject("/command/restricted_days", rule::OUT_OF_RANGE);
    given(history([register_enterprise(), work_case("W1", WorkCaseClass::OtherRecordable, 0, 0)]))
        .when(work_case("W1", WorkCaseClass::OtherRecordable, 0, 0))
        .then_reject("/command/case_id", rule::ALREADY_EXISTS);
}

#[test]
fn supervision_grades_come_from_the_catalog_and_record_the_previous_one() {
    given(history([register_enterprise()]))
        .when(grade_enterprise("E"))
        .then_reject("/command/grade", rule::UNKNOWN_CODE);
    let events = given(history([register_enterprise(), grade_enterprise("B")])).when(grade_enterprise("D")).accepted();
    let [DomainEvent::Enterprise(EnterpriseEvent::GradeAssigned(g))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((g.grade.as_str(), g.previous_grade.as_deref()), ("D", Some("B")));
}

#[test]
fn an_unknown_industry_is_rejected() {
    let mut env = register_enterprise();
    if let anquan::domain::Command::Enterprise(EnterpriseCommand::Register(r)) = &mut env.command {
        r.industry = "alchemy".into();
    }
    given([]).when(env).then_reject("/command/industry", rule::UNKNOWN_CODE);
}

#[test]
fn a_fine_states_its_amount_and_only_a_fine_does() {
    let base = history([register_enterprise()]);
    given(base.clone()).when(action(EnforcementAction::Fine, None)).then_reject("/command/fine_yuan", rule::REQUIRED);
    given(base.clone())
        .when(action(EnforcementAction::SuspendForRectification, Some(10)))
        .then_reject("/command/fine_yuan", rule::MALFORMED);
    given(base.clone()).when(action(EnforcementAction::Fine, Some(200_000))).accepted();
    given(base).when(action(EnforcementAction::LegalLiability, None)).accepted();
}

#[test]
fn a_closed_and_banned_enterprise_takes_nothing_more() {
    let closed = history([register_enterprise(), action(EnforcementAction::CloseAndBan, None)]);
    given(closed).when(grade_enterprise("A")).then_reject("/command/enterprise_id", rule::CLOSED);
}

// ---- injury records ------------------------------------------------------------------------

fn injury_data() -> InjuryData {
    InjuryData {
        occurred_at: at("2025-04-01T10:00:00Z"),
        age: Some(78),
        sex: Sex::Female,
        intent: Intent::Unintentional,
        mechanism: "fall".into(),
        place: "home".into(),
        activity: "vital".into(),
        nature: "fracture".into(),
        body_part: "lower_limb".into(),
        severity: Severity::Serious,
        outcome: Outcome::Admitted,
        category: "elderly_fall".into(),
        community_id: id(C),
        vulnerable_groups: vec!["elderly".into()],
        incident_id: None,
        note: None,
        person_id: None,
        name: None,
        id_number: None,
    }
}

fn record(d: InjuryData) -> CommandEnvelope {
    envelope(
        "hospital-3",
        "2025-04-02T00:00:00Z",
        InjuryCommand::Record(RecordInjury { injury_id: id("INJ-1"), data: d }),
    )
}

#[test]
fn an_injury_record_holds_the_who_core_data_set() {
    let events = given([]).when(record(injury_data())).accepted();
    let [DomainEvent::Injury(InjuryEvent::Recorded(r))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(r.data, injury_data());
    given(events).when(record(injury_data())).then_reject("/command/injury_id", rule::ALREADY_EXISTS);
}

#[test]
fn injury_codes_and_bounds_are_checked_naming_the_field() {
    given([])
        .when(record(InjuryData { mechanism: "meteor".into(), ..injury_data() }))
        .then_reject("/command/data/mechanism", rule::UNKNOWN_CODE);
    given([])
        .when(record(InjuryData { vulnerable_groups: vec!["elderly".into(), "aliens".into()], ..injury_data() }))
        .then_reject("/command/data/vulnerable_groups/1", rule::UNKNOWN_CODE);
    given([])
        .when(record(InjuryData { age: Some(131), ..injury_data() }))
        .then_reject("/command/data/age", rule::OUT_OF_RANGE);
    given([])
        .when(record(InjuryData { severity: Severity::Death, ..injury_data() }))
        .then_reject("/command/data/outcome", rule::MALFORMED);
}

// ---- promotion projects --------------------------------------------------------------------

fn plan() -> CommandEnvelope {
    envelope(
        "committee",
        "2025-01-05T00:00:00Z",
        ProjectCommand::Plan(PlanProject {
            project_id: id("P-1"),
            community_id: id(C),
            name: "老年人防跌倒".into(),
            target_category: Some("elderly_fall".into()),
            target_group: Some("elderly".into()),
            target_place: Some("home".into()),
            objective: "跌倒就诊人次下降20%".into(),
            baseline_from: date("2024-01-01"),
            baseline_to: date("2024-12-31"),
        }),
    )
}

fn plan_iv(iv: &str) -> CommandEnvelope {
    envelope(
        "committee",
        "2025-01-06T00:00:00Z",
        ProjectCommand::PlanIntervention(PlanIntervention {
            project_id: id("P-1"),
            intervention_id: id(iv),
            what: "居家适老化改造".into(),
            planned_for: date("2025-03-01"),
        }),
    )
}

fn implement(iv: &str) -> CommandEnvelope {
    envelope(
        "committee",
        "2025-03-06T00:00:00Z",
        ProjectCommand::ImplementIntervention(ImplementIntervention {
            project_id: id("P-1"),
            intervention_id: id(iv),
            implemented_on: date("2025-03-05"),
            reach: 320,
        }),
    )
}

fn evaluate() -> CommandEnvelope {
    envelope(
        "committee",
        "2026-01-10T00:00:00Z",
        ProjectCommand::Evaluate(EvaluateProject {
            project_id: id("P-1"),
            indicator: "跌倒就诊人次".into(),
            before: 145,
            after: 109,
            evaluated_on: date("2026-01-10"),
            conclusion: "目标达成".into(),
        }),
    )
}

#[test]
fn a_project_needs_a_target_and_an_ordered_baseline() {
    let mut env = plan();
    if let anquan::domain::Command::Project(ProjectCommand::Plan(p)) = &mut env.command {
        p.target_category = None;
        p.target_group = None;
        p.target_place = None;
    }
    given([]).when(env).then_reject("/command/target_category", rule::REQUIRED);
    let mut env = plan();
    if let anquan::domain::Command::Project(ProjectCommand::Plan(p)) = &mut env.command {
        p.baseline_to = date("2023-12-31");
    }
    given([]).when(env).then_reject("/command/baseline_to", rule::TIME_ORDER);
}

#[test]
fn interventions_are_planned_then_implemented_once_and_evaluation_follows() {
    given(history([plan()])).when(implement("iv-1")).then_reject("/command/intervention_id", rule::NOT_FOUND);
    given(history([plan(), plan_iv("iv-1")])).when(evaluate()).then_reject("/command/project_id", rule::INVALID_STATE);
    given(history([plan(), plan_iv("iv-1")]))
        .when(plan_iv("iv-1"))
        .then_reject("/command/intervention_id", rule::DUPLICATE);
    given(history([plan(), plan_iv("iv-1"), implement("iv-1")]))
        .when(implement("iv-1"))
        .then_reject("/command/intervention_id", rule::DUPLICATE);
    let events = given(history([plan(), plan_iv("iv-1"), implement("iv-1")])).when(evaluate()).accepted();
    let [DomainEvent::Project(ProjectEvent::Evaluated(e))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((e.before, e.after), (145, 109));
}

// ---- codec over every event type -----------------------------------------------------------

fn every_lifecycle() -> Vec<CommandEnvelope> {
    let h = |actor: &str, when: &str, c: HazardCommand| envelope(actor, when, c);
    let hid = || id("HZ-9");
    let i = |when: &str, c: IncidentCommand| envelope("city-gov", when, c);
    let iid = || id("INC-9");
    vec![
        register(),
        community(CommunityCommand::RevisePopulation(RevisePopulation {
            community_id: id(C),
            population: 1,
            as_of: date("2025-01-01"),
        })),
        community(CommunityCommand::AddGrid(AddGrid {
            community_id: id(C),
            grid_id: id("g"),
            name: "n".into(),
            responsible_person: "p".into(),
            responsible_person_id: None,
        })),
        community(CommunityCommand::AssignGridResponsible(AssignGridResponsible {
            community_id: id(C),
            grid_id: id("g"),
            responsible_person: "q".into(),
            responsible_person_id: None,
        })),
        start(),
        assess(true),
        name(),
        reassess(true),
        indicator(vec![("fire", 1)]),
        community(CommunityCommand::RecordEconomy(RecordEconomy {
            community_id: id(C),
            year: 2024,
            gdp_10k_yuan: 1_000_000,
            workers: 20_000,
            source: "区统计年鉴".into(),
        })),
        register_enterprise(),
        grade_enterprise("A"),
        action(EnforcementAction::Fine, Some(1)),
        work_hours(2025, 1, 1_000, 10),
        work_case("W1", WorkCaseClass::DaysAway, 3, 0),
        record(injury_data()),
        envelope(
            "hospital-3",
            "2025-04-03T00:00:00Z",
            InjuryCommand::Correct(CorrectInjury {
                injury_id: id("INJ-1"),
                data: injury_data(),
                reason: "年龄更正".into(),
            }),
        ),
        plan(),
        plan_iv("iv-1"),
        implement("iv-1"),
        evaluate(),
        h(
            "g1",
            "2025-03-02T08:00:00Z",
            HazardCommand::Report(ReportHazard {
                hazard_id: hid(),
                source: HazardSource::ResidentReport,
                reporter: "r".into(),
                reporter_person_id: None,
                community_id: id(C),
                grid_id: None,
                enterprise_id: None,
                category: "home".into(),
                location: "l".into(),
                description: "d".into(),
                found_at: at("2025-03-01T00:00:00Z"),
            }),
        ),
        h(
            "b1",
            "2025-03-02T09:00:00Z",
            HazardCommand::Grade(GradeHazard {
                hazard_id: hid(),
                grade: "major".into(),
                criterion: "SAWS-16".into(),
                criterion_version: "2008".into(),
                basis: Some("b".into()),
            }),
        ),
        h(
            "b1",
            "2025-03-02T10:00:00Z",
            HazardCommand::OrderRectification(OrderRectification {
                hazard_id: hid(),
                responsible: Some("r".into()),
                responsible_person_id: None,
                measures: Some("m".into()),
                funds_yuan: Some(1),
                deadline: Some(date("2025-04-01")),
                contingency_plan: Some("c".into()),
            }),
        ),
        h(
            "b1",
            "2025-03-03T00:00:00Z",
            HazardCommand::ExtendDeadline(ExtendRectificationDeadline {
                hazard_id: hid(),
                new_deadline: date("2025-05-01"),
                reason: "x".into(),
            }),
        ),
        h(
            "c1",
            "2025-03-03T00:00:00Z",
            HazardCommand::ListForSupervision(ListForSupervision {
                hazard_id: hid(),
                level: SupervisionLevel::Province,
                listed_by: "省".into(),
            }),
        ),
        h(
            "e1",
            "2025-03-04T00:00:00Z",
            HazardCommand::NoteProgress(NoteRectificationProgress { hazard_id: hid(), note: "n".into() }),
        ),
        h(
            "e1",
            "2025-03-05T00:00:00Z",
            HazardCommand::ReportDone(ReportRectificationDone { hazard_id: hid(), summary: "s".into() }),
        ),
        h(
            "b2",
            "2025-03-06T00:00:00Z",
            HazardCommand::Verify(VerifyRectification { hazard_id: hid(), passed: false, remarks: "no".into() }),
        ),
        h(
            "e1",
            "2025-03-07T00:00:00Z",
            HazardCommand::ReportDone(ReportRectificationDone { hazard_id: hid(), summary: "s".into() }),
        ),
        h(
            "b2",
            "2025-03-08T00:00:00Z",
            HazardCommand::Verify(VerifyRectification { hazard_id: hid(), passed: true, remarks: "ok".into() }),
        ),
        h(
            "e1",
            "2025-03-08T06:00:00Z",
            HazardCommand::ApplyToClose(ApplyToClose {
                hazard_id: hid(),
                applied_at: at("2025-03-08T05:00:00Z"),
                suspended: false,
                summary: "申请销号".into(),
            }),
        ),
        h(
            "b2",
            "2025-03-08T12:00:00Z",
            HazardCommand::RecordOnsiteCheck(RecordOnsiteCheck {
                hazard_id: hid(),
                checked_at: at("2025-03-08T12:00:00Z"),
                passed: true,
                findings: "合格".into(),
            }),
        ),
        h(
            "b2",
            "2025-03-09T00:00:00Z",
            HazardCommand::Close(CloseHazard { hazard_id: hid(), remarks: Some("销号".into()) }),
        ),
        i(
            "2025-01-10T02:30:00Z",
            IncidentCommand::Report(ReportIncident {
                incident_id: iid(),
                occurred_at: at("2025-01-10T02:00:00Z"),
                reported_at: at("2025-01-10T02:10:00Z"),
                place: "p".into(),
                community_id: id(C),
                enterprise_id: None,
                category: "production".into(),
                deaths: 0,
                serious_injuries: 1,
                minor_injuries: 0,
                missing: 1,
                direct_loss_yuan: 5,
                summary: "s".into(),
            }),
        ),
        i(
            "2025-01-11T00:00:00Z",
            IncidentCommand::ReviseCasualties(ReviseCasualties {
                incident_id: iid(),
                deaths: 3,
                serious_injuries: 1,
                minor_injuries: 0,
                missing: 0,
                direct_loss_yuan: 5,
                reason: "r".into(),
            }),
        ),
        i("2025-01-12T00:00:00Z", IncidentCommand::ReassessGrade(ReassessGrade { incident_id: iid() })),
        i(
            "2025-01-12T00:00:00Z",
            IncidentCommand::OpenInvestigation(OpenInvestigation {
                incident_id: iid(),
                authority_level: AuthorityLevel::City,
                authority: "a".into(),
            }),
        ),
        i(
            "2025-01-13T00:00:00Z",
            IncidentCommand::ExtendInvestigation(ExtendInvestigation {
                incident_id: iid(),
                days: 10,
                reason: "r".into(),
            }),
        ),
        i(
            "2025-01-14T00:00:00Z",
            IncidentCommand::StartAppraisal(StartAppraisal {
                incident_id: iid(),
                started_at: at("2025-01-14T00:00:00Z"),
                reason: "r".into(),
            }),
        ),
        i(
            "2025-01-15T00:00:00Z",
            IncidentCommand::EndAppraisal(EndAppraisal { incident_id: iid(), ended_at: at("2025-01-15T00:00:00Z") }),
        ),
        i(
            "2025-01-16T00:00:00Z",
            IncidentCommand::SubmitInvestigationReport(SubmitInvestigationReport {
                incident_id: iid(),
                submitted_at: at("2025-01-16T00:00:00Z"),
                summary: "s".into(),
            }),
        ),
        i(
            "2025-01-17T00:00:00Z",
            IncidentCommand::DetermineCause(DetermineCause {
                incident_id: iid(),
                cause: "c".into(),
                evidence: vec!["e".into()],
            }),
        ),
        i(
            "2025-01-17T00:00:00Z",
            IncidentCommand::DealWithResponsible(DealWithResponsible {
                incident_id: iid(),
                person: "p".into(),
                person_id: None,
                id_number: None,
                role: "r".into(),
                action: "a".into(),
                evidence: vec!["e".into()],
            }),
        ),
        i(
            "2025-01-17T00:00:00Z",
            IncidentCommand::ImplementCorrectiveMeasures(ImplementCorrectiveMeasures {
                incident_id: iid(),
                measures: "m".into(),
                hazard_ids: vec![hid()],
                evidence: vec!["e".into()],
            }),
        ),
        i(
            "2025-01-17T00:00:00Z",
            IncidentCommand::ConductEducation(ConductEducation {
                incident_id: iid(),
                audience: "a".into(),
                people_reached: 1,
                method: "m".into(),
                evidence: vec!["e".into()],
            }),
        ),
        i(
            "2025-01-18T00:00:00Z",
            IncidentCommand::Close(CloseIncident {
                incident_id: iid(),
                signed_off_at: at("2025-01-18T00:00:00Z"),
                signed_off_by: "s".into(),
            }),
        ),
        i(
            "2025-06-18T00:00:00Z",
            IncidentCommand::RecordEvaluation(RecordEvaluation {
                incident_id: iid(),
                evaluated_at: at("2025-06-18T00:00:00Z"),
                findings: "f".into(),
                published: false,
            }),
        ),
        // A second incident, 特别重大 (30 deaths): escalated, its sign-off extended; a third
        // closed in another system.
        i("2025-02-01T03:00:00Z", extraordinary("INC-10")),
        i(
            "2025-02-01T03:00:00Z",
            IncidentCommand::Escalate(EscalateIncident {
                incident_id: id("INC-10"),
                level: AuthorityLevel::City,
                escalated_at: at("2025-02-01T02:50:00Z"),
            }),
        ),
        i(
            "2025-02-02T00:00:00Z",
            IncidentCommand::OpenInvestigation(OpenInvestigation {
                incident_id: id("INC-10"),
                authority_level: AuthorityLevel::StateCouncil,
                authority: "a".into(),
            }),
        ),
        i(
            "2025-03-01T00:00:00Z",
            IncidentCommand::SubmitInvestigationReport(SubmitInvestigationReport {
                incident_id: id("INC-10"),
                submitted_at: at("2025-03-01T00:00:00Z"),
                summary: "s".into(),
            }),
        ),
        i(
            "2025-03-02T00:00:00Z",
            IncidentCommand::ExtendSignOff(ExtendSignOff { incident_id: id("INC-10"), days: 20, reason: "r".into() }),
        ),
        i("2025-02-01T03:00:00Z", extraordinary("INC-11")),
        i(
            "2025-03-02T00:00:00Z",
            IncidentCommand::MarkClosedElsewhere(MarkClosedElsewhere {
                incident_id: id("INC-11"),
                closed_on: None,
                held_by: "旧系统".into(),
                note: Some("n".into()),
            }),
        ),
        envelope(
            "admin-1",
            "2025-01-01T00:00:00Z",
            anquan::domain::access::AccessCommand::Grant(anquan::domain::access::GrantRole {
                actor_id: id("grid-7"),
                role: anquan::events::access::Role::GridInspector,
                scope: anquan::events::access::Scope::Community(id("jd-01")),
                reason: None,
            }),
        ),
        envelope(
            "admin-1",
            "2025-02-01T00:00:00Z",
            anquan::domain::access::AccessCommand::Revoke(anquan::domain::access::RevokeRole {
                actor_id: id("grid-7"),
                role: anquan::events::access::Role::GridInspector,
                scope: anquan::events::access::Scope::Community(id("jd-01")),
                reason: Some("transferred".into()),
            }),
        ),
        envelope(
            "admin-1",
            "2025-01-01T00:00:00Z",
            anquan::domain::access::AccessCommand::EnforceRoles(anquan::domain::access::EnforceRoles {
                actor_id: id("admin-1"),
                reason: Some("启用权限".into()),
            }),
        ),
        envelope(
            "admin-1",
            "2025-03-01T00:00:00Z",
            anquan::domain::access::AccessCommand::RecordPersonalExport(anquan::domain::access::RecordPersonalExport {
                actor_id: id("admin-1"),
                reason: "审计".into(),
                events: 42,
                head_hash: "ab".repeat(32),
            }),
        ),
        envelope(
            "admin-1",
            "2025-07-01T00:00:00Z",
            anquan::domain::person::PersonCommand::Erase(anquan::domain::person::ErasePerson {
                person_id: id("p-1"),
                reason: "本人申请".into(),
            }),
        ),
    ]
}

/// A 特别重大 accident (30 deaths) reported at once.
fn extraordinary(incident: &str) -> IncidentCommand {
    IncidentCommand::Report(ReportIncident {
        incident_id: id(incident),
        occurred_at: at("2025-02-01T02:00:00Z"),
        reported_at: at("2025-02-01T02:10:00Z"),
        place: "p".into(),
        community_id: id(C),
        enterprise_id: None,
        category: "production".into(),
        deaths: 30,
        serious_injuries: 0,
        minor_injuries: 0,
        missing: 0,
        direct_loss_yuan: 0,
        summary: "s".into(),
    })
}

#[test]
fn every_event_type_round_trips_through_its_payload() {
    let events = history(every_lifecycle());
    let mut seen = BTreeSet::new();
    for e in &events {
        let (t, v, bytes) = e.to_payload().unwrap();
        assert_eq!(DomainEvent::from_payload(t, v, &bytes).unwrap(), *e, "{t}");
        seen.insert((t, v));
    }
    let all: BTreeSet<_> = DomainEvent::all_types().into_iter().collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "event types not exercised: {missing:?}");
}

#[test]
fn decisions_against_decoded_events_equal_decisions_against_the_originals() {
    // The engine decides against events read back from bytes; that must change nothing.
    let events = history(every_lifecycle());
    let decoded: Vec<DomainEvent> = events
        .iter()
        .map(|e| {
            let (t, v, b) = e.to_payload().unwrap();
            DomainEvent::from_payload(t, v, &b).unwrap()
        })
        .collect();
    let (cat, set) = (Catalog::builtin().unwrap(), Settings::default());
    let follow_ups =
        [reassess(true), reassess(false), implement("iv-1"), evaluate(), grade_enterprise("C"), record(injury_data())];
    for env in follow_ups {
        let pick = |evs: &[DomainEvent]| {
            evs.iter().filter(|e| e.stream_id() == env.target_stream()).cloned().collect::<Vec<_>>()
        };
        assert_eq!(
            decide_command(&pick(&events), &env, &cat, &set),
            decide_command(&pick(&decoded), &env, &cat, &set),
            "{}",
            env.command.command_type()
        );
    }
}

#[test]
fn milestone_dates_may_not_lie_after_the_command() {
    let mut env = start();
    if let anquan::domain::Command::Community(CommunityCommand::StartCreation(c)) = &mut env.command {
        c.started_on = date("2025-02-02");
    }
    given(history([register()])).when(env).then_reject("/command/started_on", rule::IN_FUTURE);
}

#[test]
fn a_command_decided_against_another_instance_stream_is_refused() {
    // An engine bug (wrong stream read) must not silently mix two communities.
    let events = history([register()]);
    let mut env = start();
    if let anquan::domain::Command::Community(CommunityCommand::StartCreation(c)) = &mut env.command {
        c.community_id = id("jd-02");
    }
    let r = decide_command(&events, &env, &Catalog::builtin().unwrap(), &Settings::default()).unwrap_err();
    assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/community_id", rule::WRONG_STREAM));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incident_reports_round_trip_for_any_figures_and_text(
        deaths in 0u32..=100_000, serious in 0u32..=100_000, minor in 0u32..=100_000, missing in 0u32..=100_000,
        loss in 0u64..=10_000_000_000_000, place in "\\PC{1,60}", summary in "[a-z安全事故 ]{0,20}x",
        delay in 0i64..100_000,
    ) {
        let occurred = at("2025-01-10T02:00:00Z");
        let env = envelope("ent-officer", "2026-01-01T00:00:00Z", IncidentCommand::Report(ReportIncident {
            incident_id: id("P"), occurred_at: occurred, reported_at: occurred + chrono::Duration::minutes(delay), place,
            community_id: id(C), enterprise_id: None, category: "production".into(), deaths, serious_injuries: serious,
            minor_injuries: minor, missing, direct_loss_yuan: loss, summary,
        }));
        let (cat, set) = (Catalog::builtin().unwrap(), Settings::default());
        match decide_command(&[], &env, &cat, &set) {
            Ok(events) => for e in events {
                let (t, v, bytes) = e.to_payload().unwrap();
                prop_assert_eq!(DomainEvent::from_payload(t, v, &bytes).unwrap(), e);
            },
            // Only text rules may refuse these figures (e.g. a place made of whitespace).
            Err(r) => prop_assert!(r.field == "/command/place" || r.field == "/command/summary", "{r}"),
        }
    }

    #[test]
    fn arbitrary_payload_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), pick in 0usize..64) {
        let types = DomainEvent::all_types();
        let (t, v) = types[pick % types.len()];
        let _ = DomainEvent::from_payload(t, v, &bytes);
        let _ = DomainEvent::from_payload("incident.reported", 1, &bytes);
    }
}
