//! The ledger's indexes against straightforward scans, over random histories of hazards and
//! penalties.

use chrono::{DateTime, NaiveDate, Utc};

use super::queries::*;
use super::state::*;
use crate::events::enterprise::{EnforcementAction, EnterpriseEvent};
use crate::events::hazard::{HazardEvent, RectificationOrdered};
use crate::events::time::plus_years;
use crate::events::DomainEvent;
use crate::projections::{percent, Projection};
use crate::store::RecordedEvent;

/// Random histories of hazards and penalties: the indexed five-in-place and repeat-penalty
/// answers equal the scans they replaced, and the live indexes equal those a snapshot load
/// derives.
mod indexed_equals_scan {
    use super::*;
    use crate::events::enterprise::EnforcementActionTaken;
    use crate::events::hazard::{HazardClosed, HazardGraded, HazardReported, HazardSource};
    use crate::events::EntityId;
    use crate::store::Timestamp;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn scan_five_in_place(l: &HazardLedger, major_only: bool) -> FiveInPlace {
        let mut ordered = 0u64;
        let mut incomplete = Vec::new();
        for h in l.hazards.values().filter(|h| h.original_deadline.is_some() && (h.major || !major_only)) {
            ordered += 1;
            if !h.five_in_place_missing.is_empty() {
                incomplete.push((h.hazard_id.clone(), h.five_in_place_missing.clone()));
            }
        }
        let complete = ordered - incomplete.len() as u64;
        FiveInPlace { ordered, complete, completeness_pct: percent(complete, ordered), incomplete }
    }

    fn scan_repeat_penalties(l: &HazardLedger, as_of: NaiveDate) -> Vec<RepeatPenalties> {
        let mut out = Vec::new();
        for (enterprise_id, list) in &l.penalties {
            let mut in_180_days = 0u64;
            let mut in_one_year = 0u64;
            for p in list {
                let major = p.hazard_id.as_deref().and_then(|id| l.hazards.get(id)).is_some_and(|h| h.major);
                if !major || p.decided_on > as_of {
                    continue;
                }
                if (as_of - p.decided_on).num_days() < 180 {
                    in_180_days += 1;
                }
                if plus_years(p.decided_on, 1).is_some_and(|end| end > as_of) {
                    in_one_year += 1;
                }
            }
            if in_180_days >= 3 || in_one_year >= 4 {
                out.push(RepeatPenalties { enterprise_id: enterprise_id.clone(), in_180_days, in_one_year });
            }
        }
        out
    }

    fn eid(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    fn recorded() -> RecordedEvent {
        RecordedEvent {
            position: 0,
            stream: Arc::from("x"),
            version: 0,
            event_type: Arc::from("x"),
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

    /// (kind 0–5, hazard 0–9, enterprise 0–2, day 0–1000, flags)
    type Step = (u8, u8, u8, u32, u8);

    fn event(&(kind, hazard, enterprise, day, flags): &Step) -> DomainEvent {
        let at: DateTime<Utc> =
            "2023-01-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(i64::from(day));
        let h = eid(&format!("h{hazard}"));
        let by = eid("t");
        let text = |bit: u8| (flags & bit != 0).then(|| "x".to_string());
        DomainEvent::Hazard(match kind {
            0 => HazardEvent::Reported(HazardReported {
                hazard_id: h,
                recorded_by: by,
                recorded_at: at,
                source: HazardSource::GridInspection,
                reporter: "r".into(),
                community_id: eid("c1"),
                grid_id: None,
                enterprise_id: Some(eid(&format!("e{enterprise}"))),
                category: "fire".into(),
                location: "l".into(),
                description: "d".into(),
                found_at: at,
            }),
            1 => HazardEvent::Graded(HazardGraded {
                hazard_id: h,
                recorded_by: by,
                recorded_at: at,
                grade: if flags & 1 != 0 { "major".into() } else { "general".into() },
                major: flags & 1 != 0,
                criterion: "c".into(),
                criterion_version: "1".into(),
                catalog_version: "1".into(),
                basis: None,
            }),
            2 => HazardEvent::RectificationOrdered(RectificationOrdered {
                hazard_id: h,
                recorded_by: by,
                recorded_at: at,
                responsible: text(1).map(Into::into),
                measures: text(2),
                funds_yuan: Some(u64::from(flags & 4)),
                deadline: at.date_naive() + chrono::Duration::days(30),
                contingency_plan: text(8),
            }),
            3 => HazardEvent::Closed(HazardClosed { hazard_id: h, recorded_by: by, recorded_at: at, remarks: None }),
            _ => {
                return DomainEvent::Enterprise(EnterpriseEvent::EnforcementActionTaken(EnforcementActionTaken {
                    enterprise_id: eid(&format!("e{enterprise}")),
                    recorded_by: by,
                    recorded_at: at,
                    action: EnforcementAction::Fine,
                    decided_on: at.date_naive(),
                    decided_by: "b".into(),
                    decision_no: None,
                    reason: "r".into(),
                    hazard_id: (flags & 16 == 0).then_some(h),
                    fine_yuan: Some(1),
                }))
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn five_in_place_and_repeat_penalties_answer_what_a_scan_answers(
            steps in proptest::collection::vec((0u8..6, 0u8..10, 0u8..3, 0u32..1000, any::<u8>()), 0..150),
            days in proptest::collection::vec(0u32..1100, 6),
        ) {
            let mut l = HazardLedger::default();
            for step in &steps {
                l.apply(&recorded(), &event(step));
            }
            for major_only in [false, true] {
                prop_assert_eq!(l.five_in_place(major_only), scan_five_in_place(&l, major_only));
            }
            let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
            let mut as_of: Vec<NaiveDate> = days.into_iter().map(|d| base + chrono::Duration::days(i64::from(d))).collect();
            as_of.extend([NaiveDate::MIN, NaiveDate::MAX, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()]);
            for p in l.penalties.values().flatten().take(6) {
                for d in [0i64, 179, 180, 364, 365, 366] {
                    as_of.push(p.decided_on + chrono::Duration::days(d));
                }
            }
            for d in as_of {
                prop_assert_eq!(l.repeat_penalties(d), scan_repeat_penalties(&l, d), "as of {}", d);
            }
            let loaded: HazardLedger = crate::codec::decode(&crate::codec::encode(&l).unwrap()).unwrap();
            prop_assert_eq!(&loaded, &l);
            // A bulk fold ends with the same indexes as one event by event.
            let mut bulk = HazardLedger::default();
            bulk.begin_bulk();
            for step in &steps {
                bulk.apply(&recorded(), &event(step));
            }
            bulk.end_bulk();
            prop_assert_eq!(&bulk, &l);
        }
    }
}

/// The on-site check's boundary in the ledger: due by the end of its CST day.
#[test]
fn an_on_site_check_is_listed_from_the_first_minute_after_its_due_day() {
    use super::entry::{ClosureCheck, HazardEntry};
    use super::queries::overdue_checks_of;
    let t = |s: &str| -> chrono::DateTime<chrono::Utc> { s.parse().unwrap() };
    let due = chrono::NaiveDate::from_ymd_opt(2025, 4, 4).unwrap();
    let mut h = HazardEntry::sample("H1", "2025-03-01T02:00:00Z", None);
    let application = |checked_at: Option<&str>| ClosureCheck {
        applied_at: t("2025-03-25T02:00:00Z"),
        check_due: due,
        checked_at: checked_at.map(t),
        passed: true,
        late: false,
    };
    // Not checked: nothing at 23:59 China time on the due day, listed at 00:00 the next day.
    h.closure_checks = vec![application(None)];
    assert_eq!(overdue_checks_of(&h, t("2025-04-04T15:59:59Z")), Vec::new());
    let late = overdue_checks_of(&h, t("2025-04-04T16:00:00Z"));
    assert_eq!((late.len(), late[0].checked_at, late[0].days_overdue), (1, None, 1));
    // Checked in the last minute: never listed; a minute later: listed once checked.
    h.closure_checks = vec![application(Some("2025-04-04T15:59:00Z"))];
    assert_eq!(overdue_checks_of(&h, t("2026-01-01T00:00:00Z")), Vec::new());
    h.closure_checks = vec![application(Some("2025-04-04T16:00:00Z"))];
    let listed = overdue_checks_of(&h, t("2026-01-01T00:00:00Z"));
    assert_eq!(listed.iter().map(|c| c.checked_at).collect::<Vec<_>>(), [Some(t("2025-04-04T16:00:00Z"))]);
}
