//! The regulation deadlines, given/when/then, each at its boundary (the last minute inside, the
//! first minute outside): escalation 2 hours per level (Decree 493 arts. 10–11).

use anquan::domain::incident::*;
use anquan::domain::{rule, CommandEnvelope};
use anquan::events::incident::*;
use anquan::events::DomainEvent;
use anquan::internals::testing::{at, envelope, given, history, id};
use chrono::{DateTime, Duration, Utc};

const I: &str = "INC-7";
/// The accident; reported to the county bureau 30 minutes later.
const T0: &str = "2025-03-03T01:00:00Z";
const REPORTED: &str = "2025-03-03T01:30:00Z";

fn report(deaths: u32) -> CommandEnvelope {
    envelope(
        "ent-officer",
        REPORTED,
        IncidentCommand::Report(ReportIncident {
            incident_id: id(I),
            occurred_at: at(T0),
            reported_at: at(REPORTED),
            place: "三号仓库".into(),
            community_id: id("jd-02"),
            enterprise_id: None,
            category: "production".into(),
            deaths,
            serious_injuries: 0,
            minor_injuries: 0,
            missing: 0,
            direct_loss_yuan: 0,
            summary: "货架倒塌".into(),
        }),
    )
}

fn minutes_after(base: &str, minutes: i64) -> DateTime<Utc> {
    at(base) + Duration::minutes(minutes)
}

fn escalate(level: AuthorityLevel, escalated_at: DateTime<Utc>) -> CommandEnvelope {
    envelope(
        "bureau-1",
        &(escalated_at + Duration::minutes(5)).to_rfc3339(),
        IncidentCommand::Escalate(EscalateIncident { incident_id: id(I), level, escalated_at }),
    )
}

fn escalated(events: &[DomainEvent]) -> IncidentEscalated {
    match events {
        [DomainEvent::Incident(IncidentEvent::Escalated(e))] => e.clone(),
        other => panic!("expected one incident.escalated, got {other:?}"),
    }
}

#[test]
fn an_escalation_to_the_city_is_due_two_hours_after_the_county_bureau_received_the_report() {
    let reported = history([report(1)]);
    // Given an ordinary accident reported to the county bureau,
    // when the city receives it exactly 120 minutes later, it is on time;
    let inside = escalated(
        &given(reported.clone()).when(escalate(AuthorityLevel::City, minutes_after(REPORTED, 120))).accepted(),
    );
    assert_eq!(
        inside,
        IncidentEscalated {
            incident_id: id(I),
            recorded_by: id("bureau-1"),
            recorded_at: minutes_after(REPORTED, 125),
            from_level: AuthorityLevel::County,
            level: AuthorityLevel::City,
            escalated_at: minutes_after(REPORTED, 120),
            limit_minutes: 120,
            deadline: minutes_after(REPORTED, 120),
            late: false,
            required_level: Some(AuthorityLevel::City),
        }
    );
    // one minute later, it is late (accepted and flagged).
    let outside =
        escalated(&given(reported).when(escalate(AuthorityLevel::City, minutes_after(REPORTED, 121))).accepted());
    assert!(outside.late);
    assert_eq!(outside.deadline, minutes_after(REPORTED, 120));
}

#[test]
fn each_level_has_its_own_two_hours_from_the_level_below() {
    // Given a 较大 accident (3 deaths) that reached the city 100 minutes after the report,
    let city = history([report(3), escalate(AuthorityLevel::City, minutes_after(REPORTED, 100))]);
    // the province is due 120 minutes after the city received it, not after the report.
    let inside = escalated(
        &given(city.clone()).when(escalate(AuthorityLevel::Province, minutes_after(REPORTED, 220))).accepted(),
    );
    assert_eq!((inside.from_level, inside.late), (AuthorityLevel::City, false));
    assert_eq!(inside.required_level, Some(AuthorityLevel::Province));
    let outside =
        escalated(&given(city).when(escalate(AuthorityLevel::Province, minutes_after(REPORTED, 221))).accepted());
    assert!(outside.late);
}

#[test]
fn skipping_a_level_allows_two_hours_for_each_level_climbed() {
    // 越级上报: county straight to the province is due 4 hours after the report.
    let reported = history([report(10)]);
    let inside = escalated(
        &given(reported.clone()).when(escalate(AuthorityLevel::Province, minutes_after(REPORTED, 240))).accepted(),
    );
    assert_eq!((inside.deadline, inside.late), (minutes_after(REPORTED, 240), false));
    assert_eq!(inside.required_level, Some(AuthorityLevel::StateCouncil), "重大 goes to the State Council");
    assert!(
        escalated(&given(reported).when(escalate(AuthorityLevel::Province, minutes_after(REPORTED, 241))).accepted())
            .late
    );
}

#[test]
fn an_escalation_goes_up_and_not_before_the_level_below_had_the_report() {
    let city = history([report(3), escalate(AuthorityLevel::City, minutes_after(REPORTED, 60))]);
    given(city.clone())
        .when(escalate(AuthorityLevel::City, minutes_after(REPORTED, 90)))
        .then_reject("/command/level", rule::INVALID_STATE);
    given(history([report(1)]))
        .when(escalate(AuthorityLevel::County, minutes_after(REPORTED, 10)))
        .then_reject("/command/level", rule::INVALID_STATE);
    given(city)
        .when(escalate(AuthorityLevel::Province, minutes_after(REPORTED, 59)))
        .then_reject("/command/escalated_at", rule::TIME_ORDER);
    given(history([report(1)]))
        .when(escalate(AuthorityLevel::City, minutes_after(REPORTED, -1)))
        .then_reject("/command/escalated_at", rule::TIME_ORDER);
    let mut future = escalate(AuthorityLevel::City, minutes_after(REPORTED, 30));
    future.issued_at = minutes_after(REPORTED, 20);
    given(history([report(1)])).when(future).then_reject("/command/escalated_at", rule::IN_FUTURE);
    given([])
        .when(escalate(AuthorityLevel::City, minutes_after(REPORTED, 30)))
        .then_reject("/command/incident_id", rule::NOT_FOUND);
}

// ---- sign-off (批复), art. 32 ----------------------------------------------------------------

const SUBMITTED: &str = "2025-04-20T02:00:00Z";

fn open_investigation(level: AuthorityLevel) -> CommandEnvelope {
    envelope(
        "investigator",
        "2025-03-04T00:00:00Z",
        IncidentCommand::OpenInvestigation(OpenInvestigation {
            incident_id: id(I),
            authority_level: level,
            authority: "事故调查组".into(),
        }),
    )
}

fn submit() -> CommandEnvelope {
    envelope(
        "investigator",
        SUBMITTED,
        IncidentCommand::SubmitInvestigationReport(SubmitInvestigationReport {
            incident_id: id(I),
            submitted_at: at(SUBMITTED),
            summary: "调查报告".into(),
        }),
    )
}

fn extend_sign_off(days: u32) -> CommandEnvelope {
    envelope(
        "investigator",
        "2025-05-01T00:00:00Z",
        IncidentCommand::ExtendSignOff(ExtendSignOff { incident_id: id(I), days, reason: "需补充鉴定".into() }),
    )
}

fn sign_off_due(events: &[DomainEvent]) -> (Option<u32>, Option<DateTime<Utc>>) {
    match events {
        [DomainEvent::Incident(IncidentEvent::InvestigationReportSubmitted(s))] => (s.sign_off_days, s.sign_off_due),
        other => panic!("expected one report submission, got {other:?}"),
    }
}

#[test]
fn the_sign_off_is_due_15_days_after_the_report_and_30_for_an_extraordinarily_serious_accident() {
    let ordinary = history([report(1), open_investigation(AuthorityLevel::County)]);
    let due = sign_off_due(&given(ordinary).when(submit()).accepted());
    assert_eq!(due, (Some(15), Some(at(SUBMITTED) + Duration::days(15))));
    let serious = history([report(10), open_investigation(AuthorityLevel::Province)]);
    assert_eq!(sign_off_due(&given(serious).when(submit()).accepted()).0, Some(15), "重大 is 15 days too");
    let extraordinary = history([report(30), open_investigation(AuthorityLevel::StateCouncil)]);
    let due = sign_off_due(&given(extraordinary).when(submit()).accepted());
    assert_eq!(due, (Some(30), Some(at(SUBMITTED) + Duration::days(30))));
}

#[test]
fn only_an_extraordinarily_serious_sign_off_is_extended_once_by_at_most_30_days() {
    let extraordinary = history([report(30), open_investigation(AuthorityLevel::StateCouncil), submit()]);
    // The longest extension is accepted and moves the due time by exactly that much;
    let events = given(extraordinary.clone()).when(extend_sign_off(30)).accepted();
    let [DomainEvent::Incident(IncidentEvent::SignOffExtended(e))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(e.new_due, at(SUBMITTED) + Duration::days(60));
    // one day more is refused, and so is a second extension.
    given(extraordinary.clone()).when(extend_sign_off(31)).then_reject("/command/days", rule::EXTENSION_TOO_LONG);
    given(extraordinary.clone()).when(extend_sign_off(0)).then_reject("/command/days", rule::EXTENSION_TOO_LONG);
    let mut once = extraordinary;
    once.extend(events);
    given(once).when(extend_sign_off(1)).then_reject("/command/days", rule::EXTENSION_LIMIT);
    // A 重大 accident's sign-off is not extended; nor one whose report is not in.
    let serious = history([report(10), open_investigation(AuthorityLevel::Province), submit()]);
    given(serious).when(extend_sign_off(10)).then_reject("/command/incident_id", rule::INVALID_STATE);
    let no_report = history([report(30), open_investigation(AuthorityLevel::StateCouncil)]);
    given(no_report).when(extend_sign_off(10)).then_reject("/command/incident_id", rule::INVALID_STATE);
}

// ---- imported incidents closed elsewhere (外部结案) ---------------------------------------

fn closed_elsewhere(closed_on: Option<&str>) -> CommandEnvelope {
    envelope(
        "bureau-1",
        "2025-06-01T00:00:00Z",
        IncidentCommand::MarkClosedElsewhere(MarkClosedElsewhere {
            incident_id: id(I),
            closed_on: closed_on.map(anquan::internals::testing::date),
            held_by: "市应急管理局旧系统".into(),
            note: None,
        }),
    )
}

#[test]
fn an_incident_closed_elsewhere_takes_no_further_command() {
    let reported = history([report(1)]);
    let events = given(reported.clone()).when(closed_elsewhere(Some("2025-04-30"))).accepted();
    let [DomainEvent::Incident(IncidentEvent::ClosedElsewhere(c))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        (c.held_by.as_str(), c.closed_on),
        ("市应急管理局旧系统", Some(anquan::internals::testing::date("2025-04-30")))
    );
    let mut closed = reported.clone();
    closed.extend(events);
    given(closed.clone()).when(closed_elsewhere(None)).then_reject("/command/incident_id", rule::CLOSED);
    given(closed)
        .when(escalate(AuthorityLevel::City, minutes_after(REPORTED, 30)))
        .then_reject("/command/incident_id", rule::CLOSED);
    // The day it closed there lies between the accident's day and today.
    given(reported.clone())
        .when(closed_elsewhere(Some("2025-03-02")))
        .then_reject("/command/closed_on", rule::TIME_ORDER);
    given(reported.clone())
        .when(closed_elsewhere(Some("2025-06-02")))
        .then_reject("/command/closed_on", rule::IN_FUTURE);
    given(reported.clone()).when(closed_elsewhere(Some("2025-03-03"))).accepted();
    let mut blank = closed_elsewhere(None);
    if let anquan::domain::Command::Incident(IncidentCommand::MarkClosedElsewhere(c)) = &mut blank.command {
        c.held_by = " ".into();
    }
    given(reported).when(blank).then_reject("/command/held_by", rule::REQUIRED);
}

// ---- the bureau's on-site check of a listed or suspended major hazard (SAWS Order 16 art. 18) --

mod onsite_check {
    use anquan::domain::hazard::*;
    use anquan::domain::{rule, CommandEnvelope};
    use anquan::events::hazard::*;
    use anquan::events::DomainEvent;
    use anquan::internals::testing::{at, date, envelope, given, history, id};

    const H: &str = "HZ-5";
    /// Received 10:00 China time on 25 March: the check is due by the end of 4 April.
    const APPLIED: &str = "2025-03-25T02:00:00Z";

    fn hazard(command: HazardCommand, actor: &str, issued_at: &str) -> CommandEnvelope {
        envelope(actor, issued_at, command)
    }

    /// A major hazard ordered, rectified and verified; listed for supervision when `listed`.
    fn verified(listed: bool) -> Vec<DomainEvent> {
        let mut cmds = vec![
            hazard(
                HazardCommand::Report(ReportHazard {
                    hazard_id: id(H),
                    source: HazardSource::GridInspection,
                    reporter: "李网格".into(),
                    reporter_person_id: None,
                    community_id: id("jd-02"),
                    grid_id: None,
                    enterprise_id: Some(id("ent-3")),
                    category: "production".into(),
                    location: "冲压车间".into(),
                    description: "防护装置缺失".into(),
                    found_at: at("2025-03-01T01:00:00Z"),
                }),
                "grid-7",
                "2025-03-01T02:00:00Z",
            ),
            hazard(
                HazardCommand::Grade(GradeHazard {
                    hazard_id: id(H),
                    grade: "major".into(),
                    criterion: "MEM-10".into(),
                    criterion_version: "2023".into(),
                    basis: None,
                }),
                "bureau-1",
                "2025-03-01T03:00:00Z",
            ),
            hazard(
                HazardCommand::OrderRectification(OrderRectification {
                    hazard_id: id(H),
                    responsible: Some("企业主要负责人".into()),
                    responsible_person_id: None,
                    measures: Some("加装防护".into()),
                    funds_yuan: Some(80_000),
                    deadline: Some(date("2025-03-20")),
                    contingency_plan: Some("停用冲床".into()),
                }),
                "bureau-1",
                "2025-03-02T03:00:00Z",
            ),
        ];
        if listed {
            cmds.push(hazard(
                HazardCommand::ListForSupervision(ListForSupervision {
                    hazard_id: id(H),
                    level: SupervisionLevel::County,
                    listed_by: "区安委会".into(),
                }),
                "bureau-1",
                "2025-03-02T04:00:00Z",
            ));
        }
        cmds.push(hazard(
            HazardCommand::ReportDone(ReportRectificationDone { hazard_id: id(H), summary: "已加装".into() }),
            "ent-officer",
            "2025-03-18T02:00:00Z",
        ));
        cmds.push(hazard(
            HazardCommand::Verify(VerifyRectification {
                hazard_id: id(H), passed: true, remarks: "评估合格".into()
            }),
            "bureau-1",
            "2025-03-19T02:00:00Z",
        ));
        history(cmds)
    }

    fn apply(suspended: bool) -> CommandEnvelope {
        hazard(
            HazardCommand::ApplyToClose(ApplyToClose {
                hazard_id: id(H),
                applied_at: at(APPLIED),
                suspended,
                summary: "申请恢复生产".into(),
            }),
            "ent-officer",
            "2025-03-25T03:00:00Z",
        )
    }

    fn check(checked_at: &str, passed: bool) -> CommandEnvelope {
        hazard(
            HazardCommand::RecordOnsiteCheck(RecordOnsiteCheck {
                hazard_id: id(H),
                checked_at: at(checked_at),
                passed,
                findings: "现场审查".into(),
            }),
            "bureau-2",
            checked_at,
        )
    }

    fn close() -> CommandEnvelope {
        hazard(
            HazardCommand::Close(CloseHazard { hazard_id: id(H), remarks: None }),
            "bureau-1",
            "2025-04-10T00:00:00Z",
        )
    }

    fn applied(listed: bool) -> Vec<DomainEvent> {
        let mut events = verified(listed);
        events.extend(given(events.clone()).when(apply(!listed)).accepted());
        events
    }

    fn checked(events: &[DomainEvent]) -> OnsiteChecked {
        match events.first() {
            Some(DomainEvent::Hazard(HazardEvent::OnsiteChecked(c))) => c.clone(),
            other => panic!("expected hazard.onsite_checked, got {other:?}"),
        }
    }

    #[test]
    fn the_application_sets_the_check_due_ten_days_later() {
        let events = given(verified(true)).when(apply(false)).accepted();
        let [DomainEvent::Hazard(HazardEvent::ClosureApplied(a))] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!((a.check_days, a.check_due), (10, date("2025-04-04")));
        assert_eq!((a.listed, a.suspended), (Some(SupervisionLevel::County), false));
    }

    #[test]
    fn a_check_in_the_last_minute_of_the_due_day_is_on_time_and_one_a_minute_later_is_late() {
        let events = applied(true);
        // 23:59 China time on 4 April, then 00:00 on 5 April.
        let inside = checked(&given(events.clone()).when(check("2025-04-04T15:59:00Z", true)).accepted());
        assert_eq!((inside.check_due, inside.late), (date("2025-04-04"), false));
        assert!(checked(&given(events).when(check("2025-04-04T16:00:00Z", true)).accepted()).late);
    }

    #[test]
    fn closing_waits_for_a_passing_check_and_a_failed_check_sends_it_back_to_rectification() {
        let events = applied(false);
        given(events.clone()).when(close()).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
        let mut passed = events.clone();
        passed.extend(given(events.clone()).when(check("2025-04-01T02:00:00Z", true)).accepted());
        given(passed.clone()).when(close()).accepted();
        given(passed).when(apply(true)).then_reject("/command/hazard_id", rule::DUPLICATE);
        let failed = given(events.clone()).when(check("2025-04-01T02:00:00Z", false)).accepted();
        assert!(matches!(failed.as_slice(), [_, DomainEvent::Hazard(HazardEvent::Reopened(_))]), "{failed:?}");
        given(events.clone()).when(apply(true)).then_reject("/command/hazard_id", rule::DUPLICATE);
        given(events).when(check("2025-03-25T01:59:00Z", true)).then_reject("/command/checked_at", rule::TIME_ORDER);
    }

    #[test]
    fn only_a_listed_or_suspended_major_hazard_verified_is_applied_for() {
        given(verified(false)).when(apply(false)).then_reject("/command/suspended", rule::INVALID_STATE);
        given(verified(false)).when(apply(true)).accepted();
        let unverified: Vec<DomainEvent> = verified(true).into_iter().take(4).collect();
        given(unverified).when(apply(false)).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
        given(verified(true))
            .when(check("2025-04-01T02:00:00Z", true))
            .then_reject("/command/hazard_id", rule::INVALID_STATE);
    }
}
