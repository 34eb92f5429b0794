//! The 四不放过 queries against straightforward scans, over random incident histories; a bulk
//! fold ends equal to one folded event by event, and a snapshot round trip derives the same
//! indexes.

use chrono::{DateTime, Utc};

use super::queries::*;
use super::state::*;
use super::trail::*;
use crate::events::incident::IncidentEvent;
use crate::events::incident::{
    AppraisalEnded, AppraisalStarted, AuthorityLevel, CasualtiesRevised, CauseDetermined, ClosedElsewhere,
    CorrectiveMeasuresImplemented, EducationConducted, IncidentClosed, IncidentEscalated, IncidentGrade,
    IncidentGraded, IncidentReported, InvestigationExtended, InvestigationOpened, InvestigationReportSubmitted,
    PostClosureEvaluated, ResponsibleDealtWith, SignOffExtended,
};
use crate::events::time::end_of_cst_day;
use crate::events::DomainEvent;
use crate::events::EntityId;
use crate::projections::Projection;
use crate::store::RecordedEvent;
use crate::store::Timestamp;
use proptest::prelude::*;
use std::sync::Arc;

/// The scans the indexes replace (the code before them).
fn scan_missing_conditions(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<FourStatus> {
    s.incidents
        .keys()
        .filter_map(|id| s.four_status(id, at))
        .filter(|s| !s.closed && !s.missing.is_empty() && s.days_open >= 0)
        .collect()
}

fn scan_past_investigation_deadline(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<OverdueInvestigation> {
    s.incidents
        .values()
        .filter_map(|t| {
            let inv = t.investigation.as_ref()?;
            let closed = t.closed_at().is_some_and(|s| s <= at);
            if closed || inv.report_submitted_at.is_some_and(|s| s <= at) {
                return None;
            }
            let due = inv.due_as_of(at);
            (at > due).then(|| OverdueInvestigation {
                incident_id: t.incident_id.clone(),
                due,
                days_past: (at - due).num_days(),
            })
        })
        .collect()
}

fn scan_evaluations_due(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<EvaluationDue> {
    s.incidents
        .values()
        .filter(|t| t.evaluated_at.is_none())
        .filter_map(|t| {
            let due = t.evaluation_due?;
            Some(EvaluationDue {
                incident_id: t.incident_id.clone(),
                due,
                overdue: end_of_cst_day(due).is_some_and(|end| at >= end),
            })
        })
        .collect()
}

fn eid(s: &str) -> EntityId {
    EntityId::new(s).unwrap()
}

fn recorded(position: u64, event_type: &str) -> RecordedEvent {
    RecordedEvent {
        position,
        stream: Arc::from("incident-x"),
        version: 0,
        event_type: Arc::from(event_type),
        schema_version: 1,
        event_id: uuid::Uuid::nil(),
        occurred_at: Timestamp(0),
        recorded_at: Timestamp(0),
        actor: Arc::from("t"),
        correlation_id: None,
        causation_id: None,
        payload: Vec::new(),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// One step of a random history: which event (0–16, 11 a report), for which incident, at which hour.
type Step = (u8, usize, u32);

/// Events in random order and at random times (the projection does not rely on the domain's
/// ordering rules, so neither does the index).
fn event(kind: u8, id: EntityId, at: DateTime<Utc>, h: i64) -> IncidentEvent {
    let by = eid("t");
    let later = at + chrono::Duration::hours(h);
    let ev = |n: &str| vec![n.to_string()];
    match kind {
        0 => IncidentEvent::InvestigationOpened(InvestigationOpened {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            authority_level: AuthorityLevel::County,
            authority: "a".into(),
            required_level: None,
            deadline: later,
        }),
        1 => IncidentEvent::InvestigationExtended(InvestigationExtended {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            days: 60,
            reason: "r".into(),
            new_deadline: later,
        }),
        2 => IncidentEvent::AppraisalStarted(AppraisalStarted {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            started_at: at,
            reason: "r".into(),
        }),
        3 => IncidentEvent::AppraisalEnded(AppraisalEnded {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            started_at: at,
            ended_at: at,
            paused_seconds: 0,
            new_deadline: later,
        }),
        4 => IncidentEvent::InvestigationReportSubmitted(InvestigationReportSubmitted {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            submitted_at: at,
            summary: "s".into(),
            deadline: at,
            overdue: false,
            sign_off_days: (h % 5 != 0).then_some(15),
            sign_off_due: (h % 5 != 0).then(|| at + chrono::Duration::hours(h % 48)),
        }),
        5 => IncidentEvent::CauseDetermined(CauseDetermined {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            cause: "c".into(),
            evidence: ev("d"),
        }),
        6 => IncidentEvent::ResponsibleDealtWith(ResponsibleDealtWith {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            person: "p".into(),
            id_number: None,
            role: "r".into(),
            action: "a".into(),
            evidence: ev("d"),
        }),
        7 => IncidentEvent::CorrectiveMeasuresImplemented(CorrectiveMeasuresImplemented {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            measures: "m".into(),
            hazard_ids: Vec::new(),
            evidence: ev("d"),
        }),
        8 => IncidentEvent::EducationConducted(EducationConducted {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            audience: "a".into(),
            people_reached: 3,
            method: "m".into(),
            evidence: ev("d"),
        }),
        9 => IncidentEvent::Closed(IncidentClosed {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            signed_off_at: at,
            signed_off_by: "s".into(),
            evaluation_due: (at + chrono::Duration::days(365)).date_naive(),
        }),
        10 => IncidentEvent::Evaluated(PostClosureEvaluated {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            evaluated_at: at,
            findings: "f".into(),
            published: true,
            overdue: false,
        }),
        12 => IncidentEvent::CasualtiesRevised(CasualtiesRevised {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            deaths: 1,
            serious_injuries: 0,
            minor_injuries: 0,
            missing: 0,
            direct_loss_yuan: 0,
            reason: "r".into(),
            days_after_accident: h,
            window_days: 30,
            late: h % 2 == 0,
        }),
        13 => IncidentEvent::Escalated(IncidentEscalated {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            from_level: AuthorityLevel::County,
            level: [AuthorityLevel::City, AuthorityLevel::Province, AuthorityLevel::StateCouncil][(h % 3) as usize],
            escalated_at: at,
            limit_minutes: 120,
            deadline: at - chrono::Duration::hours(h % 4 - 1),
            late: h % 4 == 0,
            required_level: None,
        }),
        16 => IncidentEvent::ClosedElsewhere(ClosedElsewhere {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            closed_on: (h % 2 == 0).then(|| later.date_naive()),
            held_by: "旧系统".into(),
            note: None,
        }),
        15 => IncidentEvent::SignOffExtended(SignOffExtended {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            days: 30,
            reason: "r".into(),
            new_due: later,
        }),
        14 => IncidentEvent::Graded(IncidentGraded {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            grade: [IncidentGrade::Ordinary, IncidentGrade::RelativelySerious, IncidentGrade::Serious]
                [(h % 3) as usize],
            previous_grade: None,
            deaths_counted: 0,
            missing_counted_as_dead: false,
            serious_injuries: 0,
            direct_loss_yuan: 0,
            decided_by: Vec::new(),
        }),
        _ => IncidentEvent::Reported(IncidentReported {
            incident_id: id,
            recorded_by: by,
            recorded_at: at,
            occurred_at: at - chrono::Duration::hours(h % 5),
            reported_at: at,
            place: "p".into(),
            community_id: eid("c1"),
            enterprise_id: None,
            category: "fire".into(),
            deaths: 0,
            serious_injuries: 0,
            minor_injuries: 1,
            missing: 0,
            direct_loss_yuan: 0,
            summary: "s".into(),
            report_delay_minutes: 0,
            report_limit_minutes: 60,
            reported_late: h % 3 == 0,
        }),
    }
}

fn build(steps: &[Step]) -> AccountabilityTrails {
    build_in(steps, false)
}

/// [`build`], as a bulk fold or not.
fn build_in(steps: &[Step], bulk: bool) -> AccountabilityTrails {
    let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut s = AccountabilityTrails::default();
    if bulk {
        s.begin_bulk();
    }
    for (position, (kind, who, hour)) in steps.iter().enumerate() {
        let id = eid(&format!("i{}", who % 12));
        let at = base + chrono::Duration::hours(i64::from(*hour));
        let e = event(*kind, id, at, i64::from(*hour % 2000));
        s.apply(&recorded(position as u64, "incident.x"), &DomainEvent::Incident(e));
    }
    s.end_bulk();
    s
}

fn step() -> impl Strategy<Value = Step> {
    // Reports are frequent, so most later events find their incident.
    (prop_oneof![3 => Just(11u8), 12 => 0u8..17], 0usize..12, 0u32..(3 * 365 * 24))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn indexed_queries_answer_what_a_scan_answers(
        steps in proptest::collection::vec(step(), 0..120),
        hours in proptest::collection::vec(0u32..(3 * 365 * 24 + 3000), 6),
    ) {
        let s = build(&steps);
        // A bulk fold and a snapshot load end with the same indexes as a fold event by event.
        prop_assert_eq!(&build_in(&steps, true), &s);
        let loaded: AccountabilityTrails = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
        prop_assert_eq!(&loaded, &s);
        let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut ats: Vec<DateTime<Utc>> =
            hours.into_iter().map(|h| base + chrono::Duration::hours(i64::from(h))).collect();
        ats.extend([DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC]);
        // Instants on and next to the recorded ones: edges of "by `at`" and of whole days.
        for t in s.incidents.values().take(4) {
            for d in [-86_400i64, -86_399, -1, 0, 1] {
                ats.push(t.reported_at + chrono::Duration::seconds(d));
            }
            ats.extend(t.signed_off_at);
            ats.extend(t.investigation.as_ref().map(|i| i.deadline));
            ats.extend(t.investigation.as_ref().and_then(|i| i.sign_off_due));
            for d in [119i64, 120, 121] {
                ats.push(t.reported_at + chrono::Duration::minutes(d));
            }
        }
        for at in ats {
            prop_assert_eq!(s.missing_conditions(at), scan_missing_conditions(&s, at), "at {}", at);
            prop_assert_eq!(
                s.past_investigation_deadline(at),
                scan_past_investigation_deadline(&s, at),
                "at {}", at
            );
            prop_assert_eq!(s.evaluations_due(at), scan_evaluations_due(&s, at));
            let scan_late: Vec<&IncidentTrail> =
                s.incidents().filter(|t| t.reported_late || t.late_revisions > 0).collect();
            prop_assert_eq!(s.late_reports(), scan_late);
            let limit = chrono::Duration::minutes(120);
            let scan_escalations: Vec<LateEscalation> =
                s.incidents().flat_map(|t| late_escalations_of(t, at, limit)).collect();
            prop_assert_eq!(s.late_escalations(at, limit), scan_escalations, "at {}", at);
            let scan_sign_offs: Vec<OverdueSignOff> = s.incidents().filter_map(|t| overdue_sign_off_of(t, at)).collect();
            prop_assert_eq!(s.overdue_sign_offs(at), scan_sign_offs, "at {}", at);
            let scan_outside: Vec<&IncidentTrail> = s
                .incidents()
                .filter(|t| t.closed_elsewhere.as_ref().is_some_and(|c| c.closed_from <= at))
                .collect();
            prop_assert_eq!(s.closed_elsewhere(at), scan_outside);
        }
        // The indexes equal those a snapshot load derives from the trails.
        let loaded: AccountabilityTrails = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
        prop_assert_eq!(&loaded, &s);
    }
}

fn trail_of(events: Vec<IncidentEvent>) -> AccountabilityTrails {
    let mut s = AccountabilityTrails::default();
    for (position, e) in events.into_iter().enumerate() {
        s.apply(&recorded(position as u64, "incident.x"), &DomainEvent::Incident(e));
    }
    s
}

#[test]
fn a_missing_escalation_is_listed_from_the_first_minute_past_two_hours() {
    // Given a 较大 accident reported at 10:00 and passed to the city at 11:00,
    let base: DateTime<Utc> = "2025-05-01T02:00:00Z".parse().unwrap();
    let report = match event(11, eid("i1"), base, 0) {
        IncidentEvent::Reported(r) => IncidentEvent::Reported(IncidentReported { reported_late: false, ..r }),
        other => other,
    };
    let graded = match event(14, eid("i1"), base, 1) {
        IncidentEvent::Graded(g) => {
            IncidentEvent::Graded(IncidentGraded { grade: IncidentGrade::RelativelySerious, ..g })
        }
        other => other,
    };
    let city = base + chrono::Duration::hours(1);
    let escalated = IncidentEvent::Escalated(IncidentEscalated {
        incident_id: eid("i1"),
        recorded_by: eid("t"),
        recorded_at: city,
        from_level: AuthorityLevel::County,
        level: AuthorityLevel::City,
        escalated_at: city,
        limit_minutes: 120,
        deadline: base + chrono::Duration::hours(2),
        late: false,
        required_level: Some(AuthorityLevel::Province),
    });
    let s = trail_of(vec![report, graded, escalated]);
    let limit = chrono::Duration::minutes(120);
    // the province is due at 13:00: nothing is listed at 13:00, the missing step at 13:01.
    assert_eq!(s.late_escalations(city + limit, limit), Vec::new());
    let late = s.late_escalations(city + limit + chrono::Duration::minutes(1), limit);
    assert_eq!(
        late,
        vec![LateEscalation {
            incident_id: "i1".into(),
            level: AuthorityLevel::Province,
            due: city + limit,
            escalated_at: None,
            minutes_late: 1,
        }]
    );
    // Before the city had it, the city step was what was due.
    assert_eq!(s.late_escalations(base + limit, limit), Vec::new());
}

#[test]
fn a_sign_off_is_late_from_the_first_minute_past_its_due_time() {
    // Given a report submitted with its sign-off due 15 days later,
    let base: DateTime<Utc> = "2025-05-01T02:00:00Z".parse().unwrap();
    let due = base + chrono::Duration::days(15);
    let minute = chrono::Duration::minutes(1);
    let history = |signed_off: Option<DateTime<Utc>>| {
        let mut events = vec![event(11, eid("i1"), base - chrono::Duration::days(40), 0), event(0, eid("i1"), base, 1)];
        events.push(IncidentEvent::InvestigationReportSubmitted(InvestigationReportSubmitted {
            incident_id: eid("i1"),
            recorded_by: eid("t"),
            recorded_at: base,
            submitted_at: base,
            summary: "s".into(),
            deadline: base,
            overdue: false,
            sign_off_days: Some(15),
            sign_off_due: Some(due),
        }));
        // Kind 9 closes with the sign-off at the given instant.
        events.extend(signed_off.map(|at| event(9, eid("i1"), at, 0)));
        trail_of(events)
    };
    // not signed off: nothing listed at the due time, listed a minute later;
    let open = history(None);
    assert_eq!(open.overdue_sign_offs(due), Vec::new());
    let late = open.overdue_sign_offs(due + minute);
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].due, late[0].signed_off_at, late[0].days_late), (due, None, 0));
    // signed off in the last minute: never listed; a minute after: listed for good.
    assert_eq!(history(Some(due)).overdue_sign_offs(due + chrono::Duration::days(400)), Vec::new());
    let signed_late = history(Some(due + minute));
    assert_eq!(signed_late.overdue_sign_offs(due), Vec::new(), "not yet late at the due time");
    let listed = signed_late.overdue_sign_offs(due + chrono::Duration::days(400));
    assert_eq!(listed.iter().map(|l| l.signed_off_at).collect::<Vec<_>>(), vec![Some(due + minute)]);
}
