//! Hazard rules, given/when/then: five-in-place, segregation of verifier and rectifier,
//! reopen after a failed verification, close only after a passing one, deadline extensions.

use anquan::domain::hazard::*;
use anquan::domain::{rule, Aggregate, CommandEnvelope};
use anquan::events::hazard::*;
use anquan::events::DomainEvent;
use anquan::internals::testing::{at, date, envelope, given, history, id};

const H: &str = "HZ-1";

fn report() -> CommandEnvelope {
    envelope(
        "grid-7",
        "2025-03-02T08:00:00Z",
        HazardCommand::Report(ReportHazard {
            hazard_id: id(H),
            source: HazardSource::GridInspection,
            reporter: "李网格".into(),
            reporter_person_id: None,
            community_id: id("jd-01"),
            grid_id: Some(id("g-3")),
            enterprise_id: Some(id("ent-9")),
            category: "fire".into(),
            location: "3号楼地下室".into(),
            description: "电动车楼道充电".into(),
            found_at: at("2025-03-02T07:30:00Z"),
        }),
    )
}

fn grade(code: &str) -> CommandEnvelope {
    envelope(
        "bureau-1",
        "2025-03-02T09:00:00Z",
        HazardCommand::Grade(GradeHazard {
            hazard_id: id(H),
            grade: code.into(),
            criterion: "MEM-10".into(),
            criterion_version: "2023".into(),
            basis: None,
        }),
    )
}

fn full_order() -> OrderRectification {
    OrderRectification {
        hazard_id: id(H),
        responsible: Some("企业主要负责人 王某".into()),
        responsible_person_id: None,
        measures: Some("拆除违规充电线路，设置集中充电点".into()),
        funds_yuan: Some(50_000),
        deadline: Some(date("2025-04-01")),
        contingency_plan: Some("整改期间封闭地下室，专人值守".into()),
    }
}

fn order(o: OrderRectification) -> CommandEnvelope {
    envelope("bureau-1", "2025-03-03T09:00:00Z", HazardCommand::OrderRectification(o))
}

fn done(actor: &str) -> CommandEnvelope {
    envelope(
        actor,
        "2025-03-20T09:00:00Z",
        HazardCommand::ReportDone(ReportRectificationDone { hazard_id: id(H), summary: "已完成".into() }),
    )
}

fn verify(actor: &str, passed: bool) -> CommandEnvelope {
    envelope(
        actor,
        "2025-03-21T09:00:00Z",
        HazardCommand::Verify(VerifyRectification { hazard_id: id(H), passed, remarks: "现场验收".into() }),
    )
}

fn close(actor: &str) -> CommandEnvelope {
    envelope(actor, "2025-03-22T09:00:00Z", HazardCommand::Close(CloseHazard { hazard_id: id(H), remarks: None }))
}

fn major_ordered() -> Vec<DomainEvent> {
    history([report(), grade("major"), order(full_order())])
}

fn state(events: &[DomainEvent]) -> HazardState {
    events.iter().fold(HazardState::default(), |s, e| match e {
        DomainEvent::Hazard(h) => Hazard::evolve(s, h),
        _ => s,
    })
}

#[test]
fn a_report_is_recorded_with_who_and_when() {
    let expected = HazardEvent::Reported(HazardReported {
        hazard_id: id(H),
        recorded_by: id("grid-7"),
        recorded_at: at("2025-03-02T08:00:00Z"),
        source: HazardSource::GridInspection,
        reporter: "李网格".into(),
        community_id: id("jd-01"),
        grid_id: Some(id("g-3")),
        enterprise_id: Some(id("ent-9")),
        category: "fire".into(),
        location: "3号楼地下室".into(),
        description: "电动车楼道充电".into(),
        found_at: at("2025-03-02T07:30:00Z"),
    });
    given([]).when(report()).then([expected.into()]);
}

#[test]
fn a_second_report_of_the_same_hazard_is_rejected() {
    given(history([report()])).when(report()).then_reject("/command/hazard_id", rule::ALREADY_EXISTS);
}

#[test]
fn an_unknown_category_is_rejected_naming_the_field() {
    let mut env = report();
    if let anquan::domain::Command::Hazard(HazardCommand::Report(r)) = &mut env.command {
        r.category = "ufo".into();
    }
    given([]).when(env).then_reject("/command/category", rule::UNKNOWN_CODE);
}

#[test]
fn a_hazard_found_after_the_command_was_issued_is_rejected() {
    let mut env = report();
    if let anquan::domain::Command::Hazard(HazardCommand::Report(r)) = &mut env.command {
        r.found_at = at("2025-03-02T08:00:01Z");
    }
    given([]).when(env).then_reject("/command/found_at", rule::IN_FUTURE);
}

#[test]
fn commands_to_an_unreported_hazard_are_rejected() {
    given([]).when(grade("major")).then_reject("/command/hazard_id", rule::NOT_FOUND);
}

#[test]
fn grading_records_the_criterion_its_version_and_the_catalog_version() {
    let events = given(history([report()])).when(grade("major")).accepted();
    let [DomainEvent::Hazard(HazardEvent::Graded(g))] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        (g.grade.as_str(), g.major, g.criterion.as_str(), g.criterion_version.as_str()),
        ("major", true, "MEM-10", "2023")
    );
    assert_eq!(g.catalog_version, anquan::internals::testing::catalog().catalog_version);
}

#[test]
fn an_unknown_criterion_version_is_rejected_naming_the_field() {
    let mut env = grade("major");
    if let anquan::domain::Command::Hazard(HazardCommand::Grade(g)) = &mut env.command {
        g.criterion_version = "2019".into();
    }
    given(history([report()])).when(env).then_reject("/command/criterion_version", rule::UNKNOWN_CODE);
}

#[test]
fn an_unknown_grade_is_rejected() {
    given(history([report()])).when(grade("catastrophic")).then_reject("/command/grade", rule::UNKNOWN_CODE);
}

#[test]
fn rectification_cannot_be_ordered_before_grading() {
    given(history([report()])).when(order(full_order())).then_reject("/command/hazard_id", rule::NOT_GRADED);
}

#[test]
fn a_complete_major_order_is_recorded() {
    let o = full_order();
    let expected = HazardEvent::RectificationOrdered(RectificationOrdered {
        hazard_id: id(H),
        recorded_by: id("bureau-1"),
        recorded_at: at("2025-03-03T09:00:00Z"),
        responsible: o.responsible.clone(),
        measures: o.measures.clone(),
        funds_yuan: o.funds_yuan,
        deadline: date("2025-04-01"),
        contingency_plan: o.contingency_plan.clone(),
    });
    given(history([report(), grade("major")])).when(order(o)).then([expected.into()]);
}

/// One test per item of 五到位: the order lacking exactly that item is rejected, naming it.
macro_rules! five_in_place {
    ($name:ident, $field:literal, |$o:ident| $blank:expr) => {
        #[test]
        fn $name() {
            let mut $o = full_order();
            $blank;
            let r = given(history([report(), grade("major")]))
                .when(order($o))
                .then_reject(concat!("/command/", $field), rule::FIVE_IN_PLACE_MISSING);
            assert_eq!(r.items, [$field]);
        }
    };
}
five_in_place!(a_major_order_without_responsibility_is_rejected, "responsible", |o| o.responsible = None);
five_in_place!(a_major_order_with_blank_measures_is_rejected, "measures", |o| o.measures = Some("   ".into()));
five_in_place!(a_major_order_without_funds_is_rejected, "funds_yuan", |o| { o.funds_yuan = None });
five_in_place!(a_major_order_with_zero_funds_is_rejected, "funds_yuan", |o| o.funds_yuan = Some(0));
five_in_place!(a_major_order_without_a_time_limit_is_rejected, "deadline", |o| o.deadline = None);
five_in_place!(a_major_order_without_a_contingency_plan_is_rejected, "contingency_plan", |o| o.contingency_plan = None);

#[test]
fn a_major_order_missing_everything_names_all_five_in_order() {
    let empty = OrderRectification {
        hazard_id: id(H),
        responsible: None,
        responsible_person_id: None,
        measures: None,
        funds_yuan: None,
        deadline: None,
        contingency_plan: None,
    };
    let r = given(history([report(), grade("major")]))
        .when(order(empty))
        .then_reject("/command/responsible", rule::FIVE_IN_PLACE_MISSING);
    assert_eq!(r.items, ["responsible", "measures", "funds_yuan", "deadline", "contingency_plan"]);
    assert!(r.message.contains("预案"), "{}", r.message);
}

#[test]
fn a_general_order_needs_only_a_deadline() {
    let o = OrderRectification {
        hazard_id: id(H),
        responsible: None,
        responsible_person_id: None,
        measures: None,
        funds_yuan: None,
        deadline: Some(date("2025-03-10")),
        contingency_plan: None,
    };
    given(history([report(), grade("general")])).when(order(o.clone())).accepted();
    let no_deadline = OrderRectification { deadline: None, ..o };
    given(history([report(), grade("general")]))
        .when(order(no_deadline))
        .then_reject("/command/deadline", rule::REQUIRED);
}

#[test]
fn a_deadline_before_the_hazard_was_found_is_rejected() {
    let o = OrderRectification { deadline: Some(date("2025-03-01")), ..full_order() };
    given(history([report(), grade("major")])).when(order(o)).then_reject("/command/deadline", rule::TIME_ORDER);
}

#[test]
fn rectification_is_ordered_once() {
    given(major_ordered()).when(order(full_order())).then_reject("/command/hazard_id", rule::INVALID_STATE);
}

#[test]
fn a_deadline_is_extended_with_a_reason() {
    let env = envelope(
        "bureau-1",
        "2025-03-25T09:00:00Z",
        HazardCommand::ExtendDeadline(ExtendRectificationDeadline {
            hazard_id: id(H),
            new_deadline: date("2025-05-01"),
            reason: "设备到货延迟".into(),
        }),
    );
    let expected = HazardEvent::DeadlineExtended(RectificationDeadlineExtended {
        hazard_id: id(H),
        recorded_by: id("bureau-1"),
        recorded_at: at("2025-03-25T09:00:00Z"),
        previous_deadline: date("2025-04-01"),
        new_deadline: date("2025-05-01"),
        reason: "设备到货延迟".into(),
    });
    let mut events = major_ordered();
    events.extend(given(events.clone()).when(env).then([expected.into()]));
    let s = state(&events);
    assert_eq!((s.deadline, s.extensions), (Some(date("2025-05-01")), 1));
}

#[test]
fn an_extension_must_move_the_deadline_later_and_give_a_reason() {
    let ext = |d: &str, reason: &str| {
        envelope(
            "bureau-1",
            "2025-03-25T09:00:00Z",
            HazardCommand::ExtendDeadline(ExtendRectificationDeadline {
                hazard_id: id(H),
                new_deadline: date(d),
                reason: reason.into(),
            }),
        )
    };
    given(major_ordered())
        .when(ext("2025-04-01", "同日"))
        .then_reject("/command/new_deadline", rule::DEADLINE_NOT_LATER);
    given(major_ordered())
        .when(ext("2025-03-30", "提前"))
        .then_reject("/command/new_deadline", rule::DEADLINE_NOT_LATER);
    given(major_ordered()).when(ext("2025-05-01", " ")).then_reject("/command/reason", rule::REQUIRED);
}

#[test]
fn a_hazard_past_its_deadline_is_overdue_until_extended() {
    let events = major_ordered();
    assert!(state(&events).is_overdue(at("2025-04-01T16:00:00Z")));
    assert!(!state(&events).is_overdue(at("2025-04-01T15:59:59Z")));
}

fn listing() -> CommandEnvelope {
    envelope(
        "city-gov",
        "2025-03-04T09:00:00Z",
        HazardCommand::ListForSupervision(ListForSupervision {
            hazard_id: id(H),
            level: SupervisionLevel::City,
            listed_by: "市安委办".into(),
        }),
    )
}

#[test]
fn only_a_major_hazard_is_listed_for_supervision_and_once() {
    let general = history([report(), grade("general")]);
    given(general).when(listing()).then_reject("/command/hazard_id", rule::NOT_MAJOR);
    let mut events = major_ordered();
    events.extend(given(events.clone()).when(listing()).accepted());
    assert_eq!(state(&events).listed, Some(SupervisionLevel::City));
    given(events).when(listing()).then_reject("/command/hazard_id", rule::DUPLICATE);
}

#[test]
fn the_rectifier_cannot_verify_their_own_work() {
    let events = history([report(), grade("major"), order(full_order()), done("ent-officer")]);
    let r = given(events).when(verify("ent-officer", true)).then_reject("/actor", rule::VERIFIER_IS_RECTIFIER);
    assert!(r.message.contains("ent-officer"));
}

#[test]
fn someone_else_verifies_and_then_the_hazard_is_closed() {
    let events =
        history([report(), grade("major"), order(full_order()), done("ent-officer"), verify("bureau-2", true)]);
    let expected = HazardEvent::Closed(HazardClosed {
        hazard_id: id(H),
        recorded_by: id("bureau-1"),
        recorded_at: at("2025-03-22T09:00:00Z"),
        remarks: None,
    });
    given(events).when(close("bureau-1")).then([expected.into()]);
}

#[test]
fn a_failed_verification_reopens_the_hazard() {
    let events = history([report(), grade("major"), order(full_order()), done("ent-officer")]);
    let expected: Vec<DomainEvent> = vec![
        HazardEvent::RectificationVerified(RectificationVerified {
            hazard_id: id(H),
            recorded_by: id("bureau-2"),
            recorded_at: at("2025-03-21T09:00:00Z"),
            passed: false,
            remarks: "现场验收".into(),
        })
        .into(),
        HazardEvent::Reopened(HazardReopened {
            hazard_id: id(H),
            recorded_by: id("bureau-2"),
            recorded_at: at("2025-03-21T09:00:00Z"),
            reason: "verification failed: 现场验收".into(),
        })
        .into(),
    ];
    let mut all = events.clone();
    all.extend(given(events).when(verify("bureau-2", false)).then(expected));
    let s = state(&all);
    assert_eq!((s.phase, s.failed_verifications, s.done_by.clone()), (HazardPhase::Rectifying, 1, None));
    // Reopened: it cannot be closed, but rectification can be reported done again and re-verified.
    given(all.clone()).when(close("bureau-1")).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
    all.extend(given(all.clone()).when(done("ent-officer")).accepted());
    all.extend(given(all.clone()).when(verify("bureau-2", true)).accepted());
    given(all).when(close("bureau-1")).accepted();
}

#[test]
fn closing_needs_a_passing_verification() {
    given(major_ordered()).when(close("bureau-1")).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
    let awaiting = history([report(), grade("major"), order(full_order()), done("ent-officer")]);
    given(awaiting).when(close("bureau-1")).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
    given(history([report()])).when(close("bureau-1")).then_reject("/command/hazard_id", rule::NOT_VERIFIED);
}

#[test]
fn verification_needs_a_rectification_reported_done() {
    given(major_ordered()).when(verify("bureau-2", true)).then_reject("/command/hazard_id", rule::INVALID_STATE);
}

#[test]
fn a_closed_hazard_accepts_nothing_more() {
    let events = history([
        report(),
        grade("major"),
        order(full_order()),
        done("ent-officer"),
        verify("bureau-2", true),
        close("bureau-1"),
    ]);
    assert_eq!(state(&events).phase, HazardPhase::Closed);
    assert!(!state(&events).is_overdue(at("2030-01-01T00:00:00Z")));
    given(events.clone()).when(done("ent-officer")).then_reject("/command/hazard_id", rule::CLOSED);
    given(events).when(close("bureau-1")).then_reject("/command/hazard_id", rule::CLOSED);
}

#[test]
fn a_command_for_another_hazard_is_not_decided_against_this_stream() {
    // The harness picks the target stream's events only, so HZ-2 starts empty.
    let mut env = grade("major");
    if let anquan::domain::Command::Hazard(HazardCommand::Grade(g)) = &mut env.command {
        g.hazard_id = id("HZ-2");
    }
    assert_eq!(env.target_stream(), "hazard-HZ-2");
    given(history([report()])).when(env).then_reject("/command/hazard_id", rule::NOT_FOUND);
}
