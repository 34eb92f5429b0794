//! The statistics' indexes against straightforward scans: over random histories of reports,
//! casualty revisions and (re)gradings, every indexed query answers what its scan answers, and a
//! bulk fold ends equal to one folded event by event.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::facts::*;
use super::index::*;
use super::queries::*;
use super::state::*;
use super::streaks::*;
use crate::events::incident::{IncidentEvent, IncidentGrade};
use crate::projections::{Period, Projection};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The straightforward scans the indexes replace; the proptest below checks that every
/// indexed query answers what its scan answers, over random histories of reports,
/// casualty revisions and (re)gradings.
mod indexed_equals_scan {
    use super::*;
    use crate::events::incident::{CasualtiesRevised, IncidentGraded, IncidentReported};
    use crate::events::EntityId;
    use proptest::prelude::*;

    fn scan_by_grade(s: &AccidentStats, period: Period) -> Vec<GradeRow> {
        let filter = StatsFilter::new(period);
        let mut rows: BTreeMap<IncidentGrade, Totals> = BTreeMap::new();
        for f in s.incidents.values().filter(|f| filter.matches(f)) {
            if let Some(g) = f.grade {
                rows.entry(g).or_default().add(&f.casualties);
            }
        }
        rows.into_iter().rev().map(|(grade, totals)| GradeRow { grade, totals }).collect()
    }

    fn scan_by_day(
        s: &AccidentStats,
        period: Period,
        category: Option<&str>,
        community: Option<&str>,
    ) -> Vec<(NaiveDate, Totals)> {
        let mut filter = StatsFilter::new(period);
        filter.category = category.map(str::to_string);
        filter.community = community.map(str::to_string);
        let mut days: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
        for f in s.incidents.values().filter(|f| filter.matches(f)) {
            days.entry(f.day()).or_default().add(&f.casualties);
        }
        days.into_iter().collect()
    }

    /// Month and grade groups by a scan of every incident (the code the indexes replaced).
    fn scan_compare(
        s: &AccidentStats,
        current: Period,
        baseline: Period,
        by: GroupBy,
        category: Option<&str>,
        community: Option<&str>,
    ) -> Comparison {
        let mut groups: BTreeMap<String, (Totals, Totals)> = BTreeMap::new();
        let (mut all_b, mut all_n) = (Totals::default(), Totals::default());
        for f in s.incidents.values() {
            if category.is_some_and(|c| c != f.category) || community.is_some_and(|c| c != f.community_id) {
                continue;
            }
            let day = f.day();
            let (in_baseline, in_current) = (baseline.contains(day), current.contains(day));
            if in_baseline {
                all_b.add(&f.casualties);
            }
            if in_current {
                all_n.add(&f.casualties);
            }
            let key = match by {
                GroupBy::Month => format!("{:02}", day.month()),
                _ => match f.grade {
                    Some(g) => grade_code(g).to_string(),
                    None => continue,
                },
            };
            if in_baseline || in_current {
                let entry = groups.entry(key).or_default();
                if in_baseline {
                    entry.0.add(&f.casualties);
                }
                if in_current {
                    entry.1.add(&f.casualties);
                }
            }
        }
        let (total_b, total_n) = match by {
            GroupBy::Grade => {
                groups.values().fold((Totals::default(), Totals::default()), |(mut b, mut n), (gb, gn)| {
                    b.merge(gb);
                    n.merge(gn);
                    (b, n)
                })
            }
            _ => (all_b, all_n),
        };
        Comparison {
            current,
            baseline,
            by,
            category: category.map(str::to_string),
            community: community.map(str::to_string),
            lines: groups.into_iter().map(|(k, (b, n))| ComparisonLine::new(Some(k), b, n)).collect(),
            total: ComparisonLine::new(None, total_b, total_n),
        }
    }

    fn scan_last_breaking_day(
        s: &AccidentStats,
        community: Option<&str>,
        category: Option<&str>,
        rule: StreakRule,
        as_of: NaiveDate,
    ) -> Option<NaiveDate> {
        s.incidents
            .values()
            .filter(|f| community.is_none_or(|c| c == f.community_id))
            .filter(|f| category.is_none_or(|c| c == f.category))
            .filter(|f| f.day() <= as_of && rule.breaks(f))
            .map(IncidentFacts::day)
            .max()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Report { community: u8, category: u8, hours: u32, deaths: u32, serious: u32, loss: u64 },
        Revise { pick: usize, deaths: u32, serious: u32, loss: u64 },
        Grade { pick: usize, grade: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u8..3, 0u8..3, 0u32..(1300 * 24), 0u32..4, 0u32..3, 0u64..500).prop_map(
                |(community, category, hours, deaths, serious, loss)| Op::Report {
                    community,
                    category,
                    hours,
                    deaths,
                    serious,
                    loss
                }
            ),
            2 => (any::<usize>(), 0u32..4, 0u32..3, 0u64..500)
                .prop_map(|(pick, deaths, serious, loss)| Op::Revise { pick, deaths, serious, loss }),
            3 => (any::<usize>(), 0usize..4).prop_map(|(pick, grade)| Op::Grade { pick, grade }),
        ]
    }

    fn eid(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    /// Folds the operations through `apply_incident`, as the log would.
    fn build(ops: &[Op]) -> AccidentStats {
        build_in(ops, false)
    }

    /// [`build`], as a bulk fold or not.
    fn build_in(ops: &[Op], bulk: bool) -> AccidentStats {
        let base: DateTime<Utc> = "2023-01-01T00:00:00Z".parse().unwrap();
        let mut s = AccidentStats::default();
        if bulk {
            s.begin_bulk();
        }
        let mut n = 0usize;
        for op in ops {
            let e = match *op {
                Op::Report { community, category, hours, deaths, serious, loss } => {
                    n += 1;
                    let at = base + chrono::Duration::hours(i64::from(hours));
                    IncidentEvent::Reported(IncidentReported {
                        incident_id: eid(&format!("i{n}")),
                        recorded_by: eid("t"),
                        recorded_at: at,
                        occurred_at: at,
                        reported_at: at,
                        place: "p".into(),
                        community_id: eid(&format!("c{community}")),
                        enterprise_id: None,
                        category: format!("cat{category}"),
                        deaths,
                        serious_injuries: serious,
                        minor_injuries: 1,
                        missing: deaths % 2,
                        direct_loss_yuan: loss,
                        summary: "s".into(),
                        report_delay_minutes: 0,
                        report_limit_minutes: 60,
                        reported_late: false,
                    })
                }
                _ if n == 0 => continue,
                Op::Revise { pick, deaths, serious, loss } => IncidentEvent::CasualtiesRevised(CasualtiesRevised {
                    incident_id: eid(&format!("i{}", pick % n + 1)),
                    recorded_by: eid("t"),
                    recorded_at: base,
                    deaths,
                    serious_injuries: serious,
                    minor_injuries: 0,
                    missing: 0,
                    direct_loss_yuan: loss,
                    reason: "r".into(),
                    days_after_accident: 1,
                    window_days: 30,
                    late: false,
                }),
                Op::Grade { pick, grade } => IncidentEvent::Graded(IncidentGraded {
                    incident_id: eid(&format!("i{}", pick % n + 1)),
                    recorded_by: eid("t"),
                    recorded_at: base,
                    grade: GRADES[grade],
                    previous_grade: None,
                    deaths_counted: 0,
                    missing_counted_as_dead: false,
                    serious_injuries: 0,
                    direct_loss_yuan: 0,
                    decided_by: Vec::new(),
                }),
            };
            s.apply_incident(&e);
        }
        s.end_bulk();
        s
    }

    fn period((from, len): (u32, u32)) -> Period {
        let base = day(2022, 12, 1);
        let from = base + chrono::Duration::days(i64::from(from));
        Period { from, to: from + chrono::Duration::days(i64::from(len)) - chrono::Duration::days(3) }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn indexed_queries_answer_what_a_scan_answers(
            ops in proptest::collection::vec(op(), 0..160),
            raw_periods in proptest::collection::vec((0u32..1400, 0u32..900), 4),
            as_of in proptest::collection::vec(0u32..1400, 3),
        ) {
            let s = build(&ops);
            // A bulk fold and a snapshot load end with the same cells as a fold event by event.
            prop_assert_eq!(&build_in(&ops, true), &s);
            let loaded: AccidentStats = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
            prop_assert_eq!(&loaded, &s);
            let mut periods: Vec<Period> = raw_periods.into_iter().map(period).collect();
            periods.push(Period { from: NaiveDate::MIN, to: NaiveDate::MAX });
            periods.extend((2023..=2026).filter_map(Period::year));
            periods.push(Period::month(2024, 2).unwrap());
            let communities = [None, Some("c1"), Some("c9")];
            let categories = [None, Some("cat0")];
            for (i, p) in periods.iter().enumerate() {
                prop_assert_eq!(s.by_grade(*p), scan_by_grade(&s, *p));
                let q = periods[(i + 1) % periods.len()];
                for community in communities {
                    for category in categories {
                        prop_assert_eq!(
                            s.by_day(*p, category, community),
                            scan_by_day(&s, *p, category, community)
                        );
                        for by in [GroupBy::Month, GroupBy::Grade] {
                            prop_assert_eq!(
                                s.compare(*p, q, by, category, community),
                                scan_compare(&s, *p, q, by, category, community)
                            );
                        }
                    }
                }
            }
            let mut days: Vec<NaiveDate> =
                as_of.into_iter().map(|d| day(2022, 12, 1) + chrono::Duration::days(i64::from(d))).collect();
            days.extend(s.incidents.values().take(5).map(IncidentFacts::day));
            let rules = [StreakRule::Fatal].into_iter().chain(GRADES.iter().map(|g| StreakRule::GradeAtLeast(*g)));
            for rule in rules {
                for as_of in &days {
                    for community in communities {
                        for category in categories {
                            prop_assert_eq!(
                                s.last_breaking_day(community, category, rule, *as_of),
                                scan_last_breaking_day(&s, community, category, rule, *as_of),
                                "{:?} {:?} {:?} {}", rule, community, category, as_of
                            );
                        }
                    }
                }
            }
            // `economic_rates`' work deaths: graded incidents of a community in a year.
            for c in ["c0", "c1", "c2"] {
                for p in (2022..=2027).filter_map(Period::year) {
                    let indexed: u64 = GRADES.iter().map(|g| s.grade_sum(Some(c), None, *g, p).deaths).sum();
                    let scanned: u64 = s
                        .incidents
                        .values()
                        .filter(|f| f.grade.is_some() && p.contains(f.day()) && f.community_id == c)
                        .map(|f| u64::from(f.casualties.deaths))
                        .sum();
                    prop_assert_eq!(indexed, scanned);
                }
            }
            // The indexes a snapshot load recomputes equal the live ones (emptied buckets
            // and cells were removed as they emptied).
            let bytes = crate::codec::encode(&s).unwrap();
            let loaded: AccidentStats = crate::codec::decode(&bytes).unwrap();
            prop_assert_eq!(&loaded, &s);
        }
    }
}
