//! The 四不放过 queries against straightforward scans, over random incident histories; a bulk
//! fold ends equal to one folded event by event, and a snapshot round trip derives the same
//! indexes.

use chrono::{DateTime, Utc};

use super::queries::*;
use super::state::*;
use super::trail::*;
use crate::events::incident::IncidentEvent;
use crate::events::incident::{
    AppraisalEnded, AppraisalStarted, AuthorityLevel, CasualtiesRevised, CauseDetermined,
    CorrectiveMeasuresImplemented, EducationConducted, IncidentClosed, IncidentReported, InvestigationExtended,
    InvestigationOpened, InvestigationReportSubmitted, PostClosureEvaluated, ResponsibleDealtWith,
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
            let closed = t.signed_off_at.is_some_and(|s| s <= at);
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

/// One step of a random history: which event (0–12, 11 a report), for which incident, at which hour.
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
    (prop_oneof![3 => Just(11u8), 10 => 0u8..13], 0usize..12, 0u32..(3 * 365 * 24))
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
        }
        // The indexes equal those a snapshot load derives from the trails.
        let loaded: AccountabilityTrails = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
        prop_assert_eq!(&loaded, &s);
    }
}
