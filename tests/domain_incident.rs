//! Incident rules, given/when/then: Decree 493 grading at every boundary, late casualty
//! revisions (30 and 7 days), missing persons counted as deaths, reporting timeliness, the
//! investigation clock (authority, one extension ≤ 60 days, appraisal pauses), the four
//! don't-let-go, closing and the post-closure evaluation.

use anquan::domain::incident::*;
use anquan::domain::{rule, Command, CommandEnvelope};
use anquan::events::incident::*;
use anquan::events::DomainEvent;
use anquan::internals::testing::{at, catalog, envelope, given, history, id};
use chrono::Duration;

const I: &str = "INC-1";
const T0: &str = "2025-01-10T02:00:00Z";

fn report_with(category: &str, deaths: u32, serious: u32, missing: u32, loss: u64) -> CommandEnvelope {
    envelope(
        "ent-officer",
        "2025-01-10T02:30:00Z",
        IncidentCommand::Report(ReportIncident {
            incident_id: id(I),
            occurred_at: at(T0),
            reported_at: at("2025-01-10T02:30:00Z"),
            place: "二号车间".into(),
            community_id: id("jd-01"),
            enterprise_id: Some(id("ent-9")),
            category: category.into(),
            deaths,
            serious_injuries: serious,
            minor_injuries: 4,
            missing,
            direct_loss_yuan: loss,
            summary: "冲压机伤人".into(),
        }),
    )
}

fn report() -> CommandEnvelope {
    report_with("production", 1, 2, 0, 300_000)
}

fn graded(events: &[DomainEvent]) -> Option<IncidentGraded> {
    events.iter().find_map(|e| match e {
        DomainEvent::Incident(IncidentEvent::Graded(g)) => Some(g.clone()),
        _ => None,
    })
}

fn grade_of(deaths: u32, serious: u32, loss: u64) -> IncidentGrade {
    let events = given([]).when(report_with("production", deaths, serious, 0, loss)).accepted();
    graded(&events).expect("production accidents are graded").grade
}

use IncidentGrade::{ExtraordinarilySerious as ES, Ordinary as O, RelativelySerious as RS, Serious as S};

#[test]
fn deaths_boundaries_2_3_9_10_29_30() {
    for (deaths, want) in [(0, O), (2, O), (3, RS), (9, RS), (10, S), (29, S), (30, ES), (31, ES)] {
        assert_eq!(grade_of(deaths, 0, 0), want, "{deaths} deaths");
    }
}

#[test]
fn serious_injury_boundaries_9_10_49_50_99_100() {
    for (serious, want) in [(9, O), (10, RS), (49, RS), (50, S), (99, S), (100, ES)] {
        assert_eq!(grade_of(0, serious, 0), want, "{serious} serious injuries");
    }
}

#[test]
fn direct_loss_boundaries_in_yuan() {
    for (loss, want) in
        [(9_999_999, O), (10_000_000, RS), (49_999_999, RS), (50_000_000, S), (99_999_999, S), (100_000_000, ES)]
    {
        assert_eq!(grade_of(0, 0, loss), want, "{loss} yuan");
    }
}

#[test]
fn the_grade_is_the_highest_of_the_three_dimensions() {
    assert_eq!(grade_of(2, 10, 0), RS);
    assert_eq!(grade_of(3, 50, 100_000_000), ES);
    let events = given([]).when(report_with("production", 3, 50, 0, 9_999_999)).accepted();
    assert_eq!(graded(&events).unwrap().decided_by, [GradeDimension::SeriousInjuries]);
}

#[test]
fn a_report_records_timeliness_and_the_grade() {
    let expected: Vec<DomainEvent> = vec![
        IncidentEvent::Reported(IncidentReported {
            incident_id: id(I),
            recorded_by: id("ent-officer"),
            recorded_at: at("2025-01-10T02:30:00Z"),
            occurred_at: at(T0),
            reported_at: at("2025-01-10T02:30:00Z"),
            place: "二号车间".into(),
            community_id: id("jd-01"),
            enterprise_id: Some(id("ent-9")),
            category: "production".into(),
            deaths: 1,
            serious_injuries: 2,
            minor_injuries: 4,
            missing: 0,
            direct_loss_yuan: 300_000,
            summary: "冲压机伤人".into(),
            report_delay_minutes: 30,
            report_limit_minutes: 60,
            reported_late: false,
        })
        .into(),
        IncidentEvent::Graded(IncidentGraded {
            incident_id: id(I),
            recorded_by: id("ent-officer"),
            recorded_at: at("2025-01-10T02:30:00Z"),
            grade: O,
            previous_grade: None,
            deaths_counted: 1,
            missing_counted_as_dead: false,
            serious_injuries: 2,
            direct_loss_yuan: 300_000,
            decided_by: vec![GradeDimension::Deaths, GradeDimension::SeriousInjuries, GradeDimension::DirectLoss],
        })
        .into(),
    ];
    given([]).when(report()).then(expected);
}

fn reported_after(minutes: i64) -> bool {
    let mut env = report();
    if let Command::Incident(IncidentCommand::Report(r)) = &mut env.command {
        r.reported_at = at(T0) + Duration::minutes(minutes);
    }
    env.issued_at = at(T0) + Duration::days(1);
    match given([]).when(env).accepted().first() {
        Some(DomainEvent::Incident(IncidentEvent::Reported(r))) => r.reported_late,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reporting_later_than_one_hour_is_recorded_as_late() {
    assert!(!reported_after(60));
    assert!(reported_after(61));
}

#[test]
fn a_report_before_the_accident_is_rejected() {
    let mut env = report();
    if let Command::Incident(IncidentCommand::Report(r)) = &mut env.command {
        r.reported_at = at(T0) - Duration::minutes(1);
    }
    given([]).when(env).then_reject("/command/reported_at", rule::TIME_ORDER);
}

#[test]
fn absurd_figures_are_rejected_naming_the_field() {
    given([]).when(report_with("production", 100_001, 0, 0, 0)).then_reject("/command/deaths", rule::OUT_OF_RANGE);
    given([]).when(report_with("production", 0, 0, 100_001, 0)).then_reject("/command/missing", rule::OUT_OF_RANGE);
    given([])
        .when(report_with("production", 0, 0, 0, 10_000_000_000_001))
        .then_reject("/command/direct_loss_yuan", rule::OUT_OF_RANGE);
    given([]).when(report_with("production", 100_000, 0, 0, 10_000_000_000_000)).accepted();
}

#[test]
fn an_unknown_category_is_rejected() {
    given([]).when(report_with("meteor", 0, 0, 0, 0)).then_reject("/command/category", rule::UNKNOWN_CODE);
}

#[test]
fn ungraded_categories_are_recorded_without_a_grade() {
    let events = given([]).when(report_with("home", 5, 0, 0, 0)).accepted();
    assert_eq!(events.len(), 1);
    assert!(graded(&events).is_none());
}

fn revise_at(issued_at: &str, deaths: u32, serious: u32, missing: u32) -> CommandEnvelope {
    envelope(
        "bureau-1",
        issued_at,
        IncidentCommand::ReviseCasualties(ReviseCasualties {
            incident_id: id(I),
            deaths,
            serious_injuries: serious,
            minor_injuries: 4,
            missing,
            direct_loss_yuan: 300_000,
            reason: "医院通报".into(),
        }),
    )
}

fn revised(events: &[DomainEvent]) -> CasualtiesRevised {
    match events.first() {
        Some(DomainEvent::Incident(IncidentEvent::CasualtiesRevised(r))) => r.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_revision_regrades_when_the_grade_changes() {
    let events = given(history([report()])).when(revise_at("2025-01-12T00:00:00Z", 3, 2, 0)).accepted();
    let g = graded(&events).expect("3 deaths is 较大");
    assert_eq!((g.grade, g.previous_grade), (RS, Some(O)));
    // A revision that leaves the grade alone emits no grade event.
    let events = given(history([report()])).when(revise_at("2025-01-12T00:00:00Z", 2, 2, 0)).accepted();
    assert_eq!(events.len(), 1);
    assert!(!revised(&events).late);
}

#[test]
fn production_revisions_after_30_days_are_flagged_late() {
    let day30 = (at(T0) + Duration::days(30)).to_rfc3339();
    let day30_plus = (at(T0) + Duration::days(30) + Duration::seconds(1)).to_rfc3339();
    let r = revised(&given(history([report()])).when(revise_at(&day30, 1, 2, 0)).accepted());
    assert_eq!((r.late, r.window_days, r.days_after_accident), (false, 30, 30));
    let r = revised(&given(history([report()])).when(revise_at(&day30_plus, 1, 2, 0)).accepted());
    assert!(r.late);
}

#[test]
fn road_traffic_and_fire_revisions_after_7_days_are_flagged_late() {
    for category in ["road_traffic", "fire"] {
        let base = history([report_with(category, 1, 0, 0, 0)]);
        let day7 = (at(T0) + Duration::days(7)).to_rfc3339();
        let day7_plus = (at(T0) + Duration::days(7) + Duration::seconds(1)).to_rfc3339();
        let r = revised(&given(base.clone()).when(revise_at(&day7, 2, 0, 0)).accepted());
        assert_eq!((r.late, r.window_days), (false, 7), "{category}");
        let r = revised(&given(base).when(revise_at(&day7_plus, 2, 0, 0)).accepted());
        assert!(r.late, "{category}");
    }
    // The same 8-day revision is timely for a production accident.
    let r = revised(&given(history([report()])).when(revise_at("2025-01-18T03:00:00Z", 1, 2, 0)).accepted());
    assert!(!r.late);
}

fn reassess(issued_at: &str) -> CommandEnvelope {
    envelope("bureau-1", issued_at, IncidentCommand::ReassessGrade(ReassessGrade { incident_id: id(I) }))
}

#[test]
fn missing_persons_count_as_deaths_after_30_days() {
    let base = history([report_with("production", 1, 0, 2, 0)]);
    let day30 = (at(T0) + Duration::days(30)).to_rfc3339();
    given(base.clone()).when(reassess(&day30)).then([]);
    let day31 = (at(T0) + Duration::days(31)).to_rfc3339();
    let g = graded(&given(base).when(reassess(&day31)).accepted()).expect("1 + 2 missing = 3 deaths");
    assert_eq!((g.grade, g.deaths_counted, g.missing_counted_as_dead, g.previous_grade), (RS, 3, true, Some(O)));
}

#[test]
fn missing_persons_count_as_deaths_after_7_days_in_short_window_categories() {
    // Grading road-traffic accidents is a catalog setting; turn it on to see the 7-day rule.
    let mut cat = catalog();
    for c in cat.categories.iter_mut().filter(|c| c.code == "road_traffic") {
        c.graded = true;
    }
    let report = report_with("road_traffic", 1, 0, 2, 0);
    let reported = given([]).with_catalog(cat.clone()).when(report).accepted();
    assert_eq!(graded(&reported).unwrap().grade, O);
    let day8 = (at(T0) + Duration::days(8)).to_rfc3339();
    let g = graded(&given(reported.clone()).with_catalog(cat.clone()).when(reassess(&day8)).accepted()).unwrap();
    assert_eq!((g.grade, g.deaths_counted), (RS, 3));
    // A revision at that time regrades with the missing counted too.
    let events = given(reported).with_catalog(cat).when(revise_at(&day8, 1, 0, 2)).accepted();
    assert!(revised(&events).late);
    assert_eq!(graded(&events).unwrap().deaths_counted, 3);
}

fn open(level: AuthorityLevel) -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-01-11T00:00:00Z",
        IncidentCommand::OpenInvestigation(OpenInvestigation {
            incident_id: id(I),
            authority_level: level,
            authority: "调查组".into(),
        }),
    )
}

#[test]
fn the_investigation_is_opened_by_the_authority_the_grade_calls_for() {
    let rs = history([report_with("production", 3, 0, 0, 0)]);
    given(rs.clone())
        .when(open(AuthorityLevel::County))
        .then_reject("/command/authority_level", rule::AUTHORITY_TOO_LOW);
    let events = given(rs.clone()).when(open(AuthorityLevel::City)).accepted();
    let [DomainEvent::Incident(IncidentEvent::InvestigationOpened(o))] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(o.required_level, Some(AuthorityLevel::City));
    assert_eq!(o.deadline, at(T0) + Duration::days(60), "60 days from the accident, art. 29");
    given(rs).when(open(AuthorityLevel::Province)).accepted();
    let es = history([report_with("production", 30, 0, 0, 0)]);
    given(es).when(open(AuthorityLevel::Province)).then_reject("/command/authority_level", rule::AUTHORITY_TOO_LOW);
}

#[test]
fn an_investigation_is_opened_once() {
    let events = history([report(), open(AuthorityLevel::County)]);
    given(events).when(open(AuthorityLevel::County)).then_reject("/command/incident_id", rule::DUPLICATE);
}

fn extend(days: u32) -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-02-20T00:00:00Z",
        IncidentCommand::ExtendInvestigation(ExtendInvestigation {
            incident_id: id(I),
            days,
            reason: "涉及多家单位".into(),
        }),
    )
}

#[test]
fn the_investigation_is_extended_once_by_at_most_60_days() {
    let base = history([report(), open(AuthorityLevel::County)]);
    given(base.clone()).when(extend(61)).then_reject("/command/days", rule::EXTENSION_TOO_LONG);
    given(base.clone()).when(extend(0)).then_reject("/command/days", rule::EXTENSION_TOO_LONG);
    let events = given(base.clone()).when(extend(60)).accepted();
    let [DomainEvent::Incident(IncidentEvent::InvestigationExtended(x))] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(x.new_deadline, at(T0) + Duration::days(120));
    let mut after = base;
    after.extend(events);
    given(after).when(extend(1)).then_reject("/command/days", rule::EXTENSION_LIMIT);
}

#[test]
fn extending_needs_an_open_investigation() {
    given(history([report()])).when(extend(10)).then_reject("/command/incident_id", rule::INVALID_STATE);
}

fn start_appraisal(started: &str) -> CommandEnvelope {
    envelope(
        "city-gov",
        started,
        IncidentCommand::StartAppraisal(StartAppraisal {
            incident_id: id(I),
            started_at: at(started),
            reason: "设备失效技术鉴定".into(),
        }),
    )
}

fn end_appraisal(ended: &str) -> CommandEnvelope {
    envelope("city-gov", ended, IncidentCommand::EndAppraisal(EndAppraisal { incident_id: id(I), ended_at: at(ended) }))
}

fn submit(submitted: &str) -> CommandEnvelope {
    envelope(
        "city-gov",
        submitted,
        IncidentCommand::SubmitInvestigationReport(SubmitInvestigationReport {
            incident_id: id(I),
            submitted_at: at(submitted),
            summary: "调查报告".into(),
        }),
    )
}

fn submitted_overdue(events: &[DomainEvent]) -> (bool, chrono::DateTime<chrono::Utc>) {
    match events {
        [DomainEvent::Incident(IncidentEvent::InvestigationReportSubmitted(s))] => (s.overdue, s.deadline),
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_in_technical_appraisal_does_not_count() {
    let day = |n: i64| (at(T0) + Duration::days(n)).to_rfc3339();
    // Without a pause, a report on day 70 is late.
    let plain = history([report(), open(AuthorityLevel::County)]);
    assert!(submitted_overdue(&given(plain).when(submit(&day(70))).accepted()).0);
    // With 15 days of appraisal (days 10–25) the deadline moves to day 75.
    let paused = history([report(), open(AuthorityLevel::County), start_appraisal(&day(10)), end_appraisal(&day(25))]);
    let (overdue, deadline) = submitted_overdue(&given(paused.clone()).when(submit(&day(70))).accepted());
    assert_eq!((overdue, deadline), (false, at(T0) + Duration::days(75)));
    assert!(submitted_overdue(&given(paused).when(submit(&day(76))).accepted()).0);
}

#[test]
fn appraisal_pauses_pair_up_and_the_report_waits_for_the_end() {
    let day = |n: i64| (at(T0) + Duration::days(n)).to_rfc3339();
    let base = history([report(), open(AuthorityLevel::County)]);
    given(base.clone()).when(end_appraisal(&day(5))).then_reject("/command/incident_id", rule::NOT_PAUSED);
    let paused = history([report(), open(AuthorityLevel::County), start_appraisal(&day(10))]);
    given(paused.clone()).when(start_appraisal(&day(11))).then_reject("/command/incident_id", rule::ALREADY_PAUSED);
    given(paused.clone()).when(submit(&day(20))).then_reject("/command/incident_id", rule::INVALID_STATE);
    let mut early_end = end_appraisal(&day(12));
    if let Command::Incident(IncidentCommand::EndAppraisal(e)) = &mut early_end.command {
        e.ended_at = at(&day(9));
    }
    given(paused).when(early_end).then_reject("/command/ended_at", rule::TIME_ORDER);
}

#[test]
fn pauses_and_an_extension_add_up() {
    let day = |n: i64| (at(T0) + Duration::days(n)).to_rfc3339();
    let events = history([
        report(),
        open(AuthorityLevel::County),
        start_appraisal(&day(5)),
        end_appraisal(&day(8)),
        extend(30),
        start_appraisal(&day(50)),
        end_appraisal(&day(52)),
    ]);
    let (overdue, deadline) = submitted_overdue(&given(events).when(submit(&day(95))).accepted());
    assert_eq!((overdue, deadline), (false, at(T0) + Duration::days(60 + 3 + 30 + 2)));
}

fn cause() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-02-01T00:00:00Z",
        IncidentCommand::DetermineCause(DetermineCause {
            incident_id: id(I),
            cause: "安全防护装置被拆除".into(),
            evidence: vec!["调查报告 §3".into()],
        }),
    )
}

fn responsible() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-02-02T00:00:00Z",
        IncidentCommand::DealWithResponsible(DealWithResponsible {
            incident_id: id(I),
            person: "车间主任 张某".into(),
            person_id: None,
            id_number: None,
            role: "直接管理责任".into(),
            action: "撤职、罚款".into(),
            evidence: vec!["处分决定书 2025-7".into()],
        }),
    )
}

fn measures() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-02-03T00:00:00Z",
        IncidentCommand::ImplementCorrectiveMeasures(ImplementCorrectiveMeasures {
            incident_id: id(I),
            measures: "全部冲压机加装光电保护".into(),
            hazard_ids: vec![id("HZ-1"), id("HZ-2")],
            evidence: vec!["验收记录".into()],
        }),
    )
}

fn education() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-02-04T00:00:00Z",
        IncidentCommand::ConductEducation(ConductEducation {
            incident_id: id(I),
            audience: "全体职工及周边企业负责人".into(),
            people_reached: 180,
            method: "警示教育大会".into(),
            evidence: vec!["签到表".into()],
        }),
    )
}

fn close() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-03-01T00:00:00Z",
        IncidentCommand::Close(CloseIncident {
            incident_id: id(I),
            signed_off_at: at("2025-02-28T02:00:00Z"),
            signed_off_by: "区人民政府".into(),
        }),
    )
}

fn all_four() -> Vec<CommandEnvelope> {
    vec![cause(), responsible(), measures(), education()]
}

#[test]
fn closing_with_none_of_the_four_names_all_four() {
    let r = given(history([report()])).when(close()).then_reject("/command", rule::FOUR_NOT_LET_GO_MISSING);
    assert_eq!(
        r.items,
        ["cause_determined", "responsible_dealt_with", "corrective_measures_implemented", "education_conducted"]
    );
}

#[test]
fn closing_with_each_one_of_the_four_missing_names_it() {
    let names =
        ["cause_determined", "responsible_dealt_with", "corrective_measures_implemented", "education_conducted"];
    for (skip, name) in names.iter().enumerate() {
        let mut cmds = vec![report()];
        cmds.extend(all_four().into_iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| c));
        let r = given(history(cmds)).when(close()).then_reject("/command", rule::FOUR_NOT_LET_GO_MISSING);
        assert_eq!(r.items, [*name], "skipping {name}");
    }
}

#[test]
fn closing_with_all_four_sets_the_evaluation_due_one_year_after_sign_off() {
    let mut cmds = vec![report()];
    cmds.extend(all_four());
    let expected = IncidentEvent::Closed(IncidentClosed {
        incident_id: id(I),
        recorded_by: id("city-gov"),
        recorded_at: at("2025-03-01T00:00:00Z"),
        signed_off_at: at("2025-02-28T02:00:00Z"),
        signed_off_by: "区人民政府".into(),
        evaluation_due: anquan::internals::testing::date("2026-02-28"),
    });
    given(history(cmds)).when(close()).then([expected.into()]);
}

fn evaluate(at_: &str) -> CommandEnvelope {
    envelope(
        "city-gov",
        at_,
        IncidentCommand::RecordEvaluation(RecordEvaluation {
            incident_id: id(I),
            evaluated_at: at(at_),
            findings: "整改措施均已落实".into(),
            published: true,
        }),
    )
}

#[test]
fn the_post_closure_evaluation_is_flagged_when_late_and_recorded_once() {
    let mut cmds = vec![report()];
    cmds.extend(all_four());
    cmds.push(close());
    let closed = history(cmds);
    let overdue = |events: Vec<DomainEvent>| match events.as_slice() {
        [DomainEvent::Incident(IncidentEvent::Evaluated(e))] => e.overdue,
        other => panic!("{other:?}"),
    };
    assert!(!overdue(given(closed.clone()).when(evaluate("2026-02-28T15:00:00Z")).accepted()));
    assert!(overdue(given(closed.clone()).when(evaluate("2026-02-28T16:00:00Z")).accepted()));
    let mut done = closed.clone();
    done.extend(given(closed).when(evaluate("2026-01-01T00:00:00Z")).accepted());
    given(done).when(evaluate("2026-01-02T00:00:00Z")).then_reject("/command/incident_id", rule::DUPLICATE);
}

#[test]
fn evaluation_comes_after_closing_and_a_closed_incident_takes_no_other_command() {
    given(history([report()]))
        .when(evaluate("2025-06-01T00:00:00Z"))
        .then_reject("/command/incident_id", rule::INVALID_STATE);
    let mut cmds = vec![report()];
    cmds.extend(all_four());
    cmds.push(close());
    given(history(cmds))
        .when(revise_at("2025-03-02T00:00:00Z", 2, 2, 0))
        .then_reject("/command/incident_id", rule::CLOSED);
}

#[test]
fn each_of_the_four_needs_evidence() {
    let mut env = cause();
    if let Command::Incident(IncidentCommand::DetermineCause(c)) = &mut env.command {
        c.evidence.clear();
    }
    given(history([report()])).when(env).then_reject("/command/evidence", rule::REQUIRED);
    let mut env = education();
    if let Command::Incident(IncidentCommand::ConductEducation(c)) = &mut env.command {
        c.people_reached = 0;
    }
    given(history([report()])).when(env).then_reject("/command/people_reached", rule::OUT_OF_RANGE);
}

#[test]
fn corrective_measures_name_the_hazards_that_carry_them() {
    let events = given(history([report()])).when(measures()).accepted();
    let [DomainEvent::Incident(IncidentEvent::CorrectiveMeasuresImplemented(m))] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.hazard_ids, [id("HZ-1"), id("HZ-2")]);
}

#[test]
fn commands_to_an_unreported_incident_are_rejected() {
    given([]).when(cause()).then_reject("/command/incident_id", rule::NOT_FOUND);
    given(history([report()])).when(report()).then_reject("/command/incident_id", rule::ALREADY_EXISTS);
}
