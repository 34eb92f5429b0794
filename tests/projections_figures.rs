//! Projections on hand-built histories: every expected figure is worked out by hand in the
//! comments beside it (including DESIGN.md §1 statements as concrete cases).

mod common;

use anquan::engine::Engine;
use anquan::events::incident::IncidentGrade;
use anquan::projections::accident_stats::{AccidentStats, StatsFilter, StreakRule};
use anquan::projections::hazard_ledger::HazardLedger;
use anquan::projections::trails::AccountabilityTrails;
use anquan::projections::{rebuild, Period};
use chrono::NaiveDate;
use common::commands::{close, engine, grade, order, report_hazard, run, t};
use serde_json::{json, Value};
use uuid::Uuid;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn round1(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 10.0).round() / 10.0)
}

fn round2(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 100.0).round() / 100.0)
}

// ---- hazard ledger -------------------------------------------------------------------------

fn list(e: &Engine, id: &str, at: &str) {
    run(
        e,
        "city-gov",
        at,
        json!({"type": "hazard.list_for_supervision", "hazard_id": id, "level": "city", "listed_by": "市政府"}),
    );
}

#[test]
fn hazard_ledger_counts_open_overdue_listed_and_rates_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    // H1 jd-01 fire E1, found 01-05, major, deadline 02-01, listed, closed 01-25 (on time).
    report_hazard(&e, "H1", "jd-01", Some("E1"), "fire", "2025-01-05T02:00:00Z");
    grade(&e, "H1", "major", "2025-01-05T03:00:00Z");
    order(&e, "H1", "2025-01-06T02:00:00Z", "2025-02-01");
    list(&e, "H1", "2025-01-07T02:00:00Z");
    close(&e, "H1", "2025-01-25T02:00:00Z");
    // H2 jd-01 production E1, found 01-10, general, deadline 01-20, closed 02-10 (late).
    report_hazard(&e, "H2", "jd-01", Some("E1"), "production", "2025-01-10T02:00:00Z");
    grade(&e, "H2", "general", "2025-01-10T03:00:00Z");
    order(&e, "H2", "2025-01-10T04:00:00Z", "2025-01-20");
    close(&e, "H2", "2025-02-10T02:00:00Z");
    // H3 jd-02 fire, found 02-15, major, listed, deadline 03-10 extended to 04-30, open.
    report_hazard(&e, "H3", "jd-02", None, "fire", "2025-02-15T02:00:00Z");
    grade(&e, "H3", "major", "2025-02-15T03:00:00Z");
    order(&e, "H3", "2025-02-16T02:00:00Z", "2025-03-10");
    list(&e, "H3", "2025-02-17T02:00:00Z");
    run(
        &e,
        "bureau-1",
        "2025-03-05T02:00:00Z",
        json!({"type": "hazard.extend_deadline", "hazard_id": "H3", "new_deadline": "2025-04-30", "reason": "设备到货延迟"}),
    );
    // H4 jd-02 electricity, found 03-01, not graded, open.
    report_hazard(&e, "H4", "jd-02", None, "electricity", "2025-03-01T02:00:00Z");
    // H5 jd-01 fire, found 03-20, general, deadline 03-25, open (overdue from 03-26 CST).
    report_hazard(&e, "H5", "jd-01", None, "fire", "2025-03-20T02:00:00Z");
    grade(&e, "H5", "general", "2025-03-20T03:00:00Z");
    order(&e, "H5", "2025-03-20T04:00:00Z", "2025-03-25");

    let ledger: HazardLedger = rebuild(e.store()).unwrap();

    // Open: H3, H4, H5 → 3; major: H3 → 1; grades: general H5, major H3, ungraded H4.
    let open = ledger.open_hazards();
    assert_eq!(open.total, 3);
    assert_eq!(open.major, 1);
    assert_eq!(open.by_grade.get("general"), Some(&1));
    assert_eq!(open.by_grade.get("major"), Some(&1));
    assert_eq!(open.by_grade.get("ungraded"), Some(&1));
    // jd-01: H5; jd-02: H3, H4. fire: H3, H5; electricity: H4. No enterprise on any open one.
    assert_eq!(open.by_community.get("jd-01"), Some(&1));
    assert_eq!(open.by_community.get("jd-02"), Some(&2));
    assert_eq!(open.by_category.get("fire"), Some(&2));
    assert_eq!(open.by_category.get("electricity"), Some(&1));
    assert_eq!(open.by_enterprise.get("-"), Some(&3));
    assert_eq!(open.by_enterprise.get("E1"), None);

    // Overdue at 2025-02-01T00:00Z: H2 (deadline 01-20 ended 01-20T16:00Z, closed only 02-10):
    // 11 days 8 hours → 11 whole days. H1's deadline day (02-01 CST) has not ended.
    let overdue = ledger.overdue(t("2025-02-01T00:00:00Z"));
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].hazard_id, "H2");
    assert_eq!(overdue[0].days_overdue, 11);
    // At 2025-04-01T00:00Z: only H5 (03-25 ended 03-25T16:00Z → 6 days 8 h → 6); H3 runs to 04-30.
    let overdue = ledger.overdue(t("2025-04-01T00:00:00Z"));
    assert_eq!(overdue.iter().map(|o| o.hazard_id.as_str()).collect::<Vec<_>>(), ["H5"]);
    assert_eq!(overdue[0].days_overdue, 6);
    assert!(!overdue[0].major);

    // Listed: H1 (closed) and H3 (open).
    assert_eq!(ledger.listed_for_supervision(false).len(), 2);
    let open_listed = ledger.listed_for_supervision(true);
    assert_eq!(open_listed.len(), 1);
    assert_eq!(open_listed[0].hazard_id, "H3");
    assert_eq!(open_listed[0].deadline, Some(d("2025-04-30")));

    // Q1 2025, all: found 5, closed by 03-31: H1, H2 → 2/5 = 40%.
    // Due in Q1 (deadline in force): H1 02-01, H2 01-20, H5 03-25 (H3 moved to 04-30) → 3;
    // on time: H1 only (closed 01-25 ≤ 02-01) → 1/3 = 33.33%.
    let q1 = ledger.rates(Period::quarter(2025, 1).unwrap());
    assert_eq!((q1.all.found, q1.all.rectified, q1.all.due, q1.all.on_time), (5, 2, 3, 1));
    assert_eq!(round2(q1.all.rectification_rate), Some(40.0));
    assert_eq!(round2(q1.all.on_time_rate), Some(33.33));
    // Major (H1, H3): found 2, rectified 1 → 50%; due 1 (H1), on time 1 → 100%. Listed: the same two.
    assert_eq!((q1.major.found, q1.major.rectified, q1.major.due, q1.major.on_time), (2, 1, 1, 1));
    assert_eq!(round2(q1.major.rectification_rate), Some(50.0));
    assert_eq!(round2(q1.major.on_time_rate), Some(100.0));
    assert_eq!(q1.listed, q1.major);
    // Q2: nothing found (rate undefined); H3 due 04-30 and still open → 0 of 1 on time.
    let q2 = ledger.rates(Period::quarter(2025, 2).unwrap());
    assert_eq!((q2.all.found, q2.all.due, q2.all.on_time), (0, 1, 0));
    assert_eq!(q2.all.rectification_rate, None);
    assert_eq!(q2.all.on_time_rate, Some(0.0));
}

fn order_with(e: &Engine, id: &str, at: &str, measures: Option<&str>, funds: u64) {
    run(
        e,
        "bureau-1",
        at,
        json!({"type": "hazard.order_rectification", "hazard_id": id, "responsible": "负责人",
               "measures": measures, "funds_yuan": funds, "deadline": "2025-12-31", "contingency_plan": "预案"}),
    );
}

fn penalise(e: &Engine, enterprise: &str, hazard: &str, on: &str) {
    run(
        e,
        "bureau-1",
        &format!("{on}T02:00:00Z"),
        json!({"type": "enterprise.take_enforcement_action", "enterprise_id": enterprise, "action": "fine",
               "decided_on": on, "decided_by": "区应急管理局", "decision_no": null, "reason": "重大事故隐患未整改",
               "hazard_id": hazard, "fine_yuan": 50000}),
    );
}

#[test]
fn five_in_place_completeness_and_repeat_penalties_for_major_hazards() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    // M1 major with all five; G1 general without measures and with zero funds; G2 general, all five.
    for (id, g) in [("M1", "major"), ("G1", "general"), ("G2", "general")] {
        report_hazard(&e, id, "jd-01", Some("E9"), "production", "2024-06-01T02:00:00Z");
        grade(&e, id, g, "2024-06-01T03:00:00Z");
    }
    order_with(&e, "M1", "2024-06-02T02:00:00Z", Some("更换设备"), 20_000);
    order_with(&e, "G1", "2024-06-02T02:00:00Z", None, 0);
    order_with(&e, "G2", "2024-06-02T02:00:00Z", Some("清理"), 500);
    for ent in ["E8", "E9"] {
        run(
            &e,
            "district",
            "2024-01-02T02:00:00Z",
            json!({"type": "enterprise.register", "enterprise_id": ent, "name": ent, "community_id": "jd-01",
                   "industry": "manufacturing"}),
        );
    }
    // E9: fines for major M1 on 2025-01-10, 03-01, 06-20; one for general G1 (does not count).
    for on in ["2025-01-10", "2025-03-01", "2025-06-20"] {
        penalise(&e, "E9", "M1", on);
    }
    penalise(&e, "E9", "G1", "2025-05-01");
    // E8: four fines for M1 on 2024-07-01, 2024-10-01, 2025-02-01, 2025-06-25.
    for on in ["2024-07-01", "2024-10-01", "2025-02-01", "2025-06-25"] {
        penalise(&e, "E8", "M1", on);
    }
    let ledger: HazardLedger = rebuild(e.store()).unwrap();

    // 五到位: 3 ordered, 2 complete → 66.67%; G1 lacks measures and funds. Major only: 1 of 1.
    let five = ledger.five_in_place(false);
    assert_eq!((five.ordered, five.complete), (3, 2));
    assert_eq!(round2(five.completeness_pct), Some(66.67));
    assert_eq!(five.incomplete, [("G1".to_string(), vec!["measures".to_string(), "funds_yuan".to_string()])]);
    assert_eq!(ledger.five_in_place(true).completeness_pct, Some(100.0));

    // As of 2025-06-30. E9: 01-10 is 171 days back (< 180), 03-01 and 06-20 too → 3 in 180 days.
    // E8: in 180 days only 02-01 (149 days) and 06-25 → 2; in the year (2024-07-01 + 1 year =
    // 2025-07-01 > 06-30) all four → 4. Both flagged.
    let flagged = ledger.repeat_penalties(d("2025-06-30"));
    let got: Vec<_> = flagged.iter().map(|r| (r.enterprise_id.as_str(), r.in_180_days, r.in_one_year)).collect();
    assert_eq!(got, [("E8", 2, 4), ("E9", 3, 3)]);
    // As of 2025-07-10: E9's 01-10 is 181 days back → 2; E8's 2024-07-01 left the year → 3. None.
    assert!(ledger.repeat_penalties(d("2025-07-10")).is_empty());
}

// ---- accident statistics ------------------------------------------------------------------

fn register(e: &Engine, id: &str, population: u32, at: &str) {
    run(
        e,
        "district",
        at,
        json!({"type": "community.register", "community_id": id, "name": id, "kind": "urban_street",
               "district": "区", "population": population, "population_as_of": "2024-01-01"}),
    );
}

/// An incident with one minor injury, reported 30 minutes after the accident, issued 1 hour after.
#[allow(clippy::too_many_arguments)]
fn incident(
    e: &Engine,
    id: &str,
    community: &str,
    category: &str,
    occurred: &str,
    deaths: u32,
    serious: u32,
    loss: u64,
) {
    common::commands::incident(
        e,
        id,
        community,
        category,
        occurred,
        (deaths, serious, loss),
        chrono::Duration::hours(1),
    );
}

#[test]
fn accident_statistics_year_on_year_rates_and_grades_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    register(&e, "qu-a", 200_000, "2024-01-02T02:00:00Z");
    register(&e, "qu-b", 100_000, "2024-01-02T02:00:00Z");
    run(
        &e,
        "district",
        "2025-01-03T02:00:00Z",
        json!({"type": "community.revise_population", "community_id": "qu-a", "population": 250_000, "as_of": "2025-01-01"}),
    );
    // 2024: production I1 qu-a 33 deaths (loss 1,000,000), I2 qu-b 2 deaths; fire I3 qu-a 4 deaths;
    // road traffic I4 qu-b 2 deaths, 3 serious.
    incident(&e, "I1", "qu-a", "production", "2024-03-10T02:00:00Z", 33, 0, 1_000_000);
    incident(&e, "I2", "qu-b", "production", "2024-07-01T02:00:00Z", 2, 0, 0);
    incident(&e, "I3", "qu-a", "fire", "2024-05-05T02:00:00Z", 4, 0, 0);
    incident(&e, "I4", "qu-b", "road_traffic", "2024-08-01T02:00:00Z", 2, 3, 0);
    // 2025: production I5 qu-a 19 deaths (loss 500,000); road traffic I6 qu-b 2 deaths, revised to 3.
    incident(&e, "I5", "qu-a", "production", "2025-02-02T02:00:00Z", 19, 0, 500_000);
    incident(&e, "I6", "qu-b", "road_traffic", "2025-04-04T02:00:00Z", 2, 0, 0);
    let before_revision = e.store().head().next_position;
    run(
        &e,
        "unit-head",
        "2025-04-06T02:00:00Z",
        json!({"type": "incident.revise_casualties", "incident_id": "I6", "deaths": 3, "serious_injuries": 0,
               "minor_injuries": 1, "missing": 0, "direct_loss_yuan": 0, "reason": "一名伤者抢救无效死亡"}),
    );

    let stats: AccidentStats = rebuild(e.store()).unwrap();
    let y2024 = Period::year(2024).unwrap();
    let y2025 = Period::year(2025).unwrap();

    // 2024 totals: 4 incidents, 33+2+4+2 = 41 deaths, 3 serious, 4 minor (1 each), loss 1,000,000.
    let t24 = stats.totals(&StatsFilter::new(y2024));
    assert_eq!((t24.incidents, t24.deaths, t24.serious_injuries, t24.minor_injuries), (4, 41, 3, 4));
    assert_eq!(t24.direct_loss_yuan, 1_000_000);
    // Category × community, 2024 production in qu-a: I1 only.
    let cell = stats.totals(&StatsFilter::new(y2024).category("production").community("qu-a"));
    assert_eq!((cell.incidents, cell.deaths), (1, 33));
    let table = stats.breakdown(y2024);
    assert_eq!(table.len(), 4); // (fire,qu-a) (production,qu-a) (production,qu-b) (road_traffic,qu-b)
    assert_eq!((table[0].category.as_str(), table[0].community_id.as_str()), ("fire", "qu-a"));
    // Month: March 2024 holds I1 only.
    let months = stats.by_month(2024, None, None);
    assert_eq!(months[2], (3, stats.totals(&StatsFilter::new(Period::month(2024, 3).unwrap()))));
    assert_eq!(months[2].1.deaths, 33);
    assert_eq!(months[0].1.incidents, 0);
    // Days of 2024 with a road-traffic incident: 2024-08-01 (CST) only, 2 deaths.
    let days = stats.by_day(y2024, Some("road_traffic"), None);
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].0, days[0].1.deaths), (d("2024-08-01"), 2));

    // Grades (production is graded, fire and road traffic are not): I1 33 deaths → 特别重大,
    // I2 2 deaths → 一般. Most serious first.
    let grades = stats.by_grade(y2024);
    assert_eq!(grades.len(), 2);
    assert_eq!(grades[0].grade, IncidentGrade::ExtraordinarilySerious);
    assert_eq!(grades[0].totals.deaths, 33);
    assert_eq!(grades[1].grade, IncidentGrade::Ordinary);
    assert_eq!(grades[1].totals.deaths, 2);

    // 同比 2025 vs 2024 ("production, traffic and fire deaths fell …%, … fewer deaths in all"):
    // production 35 → 19: −16, −16/35 = −45.7%; fire 4 → 0: −4, −100%;
    // road traffic 2 → 3 (after the revision): +1, +50%; total 41 → 22: −19, −46.3%.
    // Loss 1,000,000 → 500,000: −50%. Incidents 4 → 2: −50%.
    let yoy = stats.year_on_year(2025, None).unwrap();
    let cat = |c: &str| yoy.categories.iter().find(|l| l.category.as_deref() == Some(c)).unwrap();
    assert_eq!(cat("production").deaths.absolute, -16);
    assert_eq!(round1(cat("production").deaths.percent), Some(-45.7));
    assert_eq!(cat("fire").deaths.absolute, -4);
    assert_eq!(round1(cat("fire").deaths.percent), Some(-100.0));
    assert_eq!(cat("road_traffic").deaths.absolute, 1);
    assert_eq!(round1(cat("road_traffic").deaths.percent), Some(50.0));
    assert_eq!(yoy.total.deaths.absolute, -19);
    assert_eq!(round1(yoy.total.deaths.percent), Some(-46.3));
    assert_eq!(round1(yoy.total.direct_loss_yuan.percent), Some(-50.0));
    assert_eq!(round1(yoy.total.incidents.percent), Some(-50.0));
    // Injuries: 2024 3 serious + 4 minor = 7; 2025 2 minor → −5, −71.4%.
    assert_eq!(yoy.total.injuries.absolute, -5);
    assert_eq!(round1(yoy.total.injuries.percent), Some(-71.4));

    // Per 100k with the population in force at the year's end: qu-a 2024 → 200,000 (the
    // 250,000 figure is as of 2025-01-01): (33+4)/200,000 × 10⁵ = 18.5.
    let r = stats.rate_per_100k(y2024, Some("qu-a"), None);
    assert_eq!((r.deaths, r.population), (37, 200_000));
    assert_eq!(round2(r.deaths_per_100k), Some(18.5));
    // qu-a 2025 → 250,000: 19/250,000 × 10⁵ = 7.6. Whole area 2025: 22/350,000 × 10⁵ = 6.29.
    assert_eq!(round2(stats.rate_per_100k(y2025, Some("qu-a"), None).deaths_per_100k), Some(7.6));
    let all = stats.rate_per_100k(y2025, None, None);
    assert_eq!((all.deaths, all.population), (22, 350_000));
    assert_eq!(round2(all.deaths_per_100k), Some(6.29));

    // Time travel by position: before the revision road traffic stayed 2 → 2 (0, 0%).
    let earlier: AccidentStats = anquan::projections::replay_until(e.store(), before_revision).unwrap();
    let yoy = earlier.year_on_year(2025, None).unwrap();
    let road = yoy.categories.iter().find(|l| l.category.as_deref() == Some("road_traffic")).unwrap();
    assert_eq!((road.deaths.absolute, road.deaths.percent), (0, Some(0.0)));
    assert_eq!(yoy.total.deaths.absolute, -20);
}

#[test]
fn control_indicator_consumption_against_elapsed_share_of_the_year() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    register(&e, "shi-01", 1_000_000, "2024-06-01T02:00:00Z");
    run(
        &e,
        "city-gov",
        "2025-01-05T02:00:00Z",
        json!({"type": "community.set_control_indicator", "community_id": "shi-01", "year": 2025, "total_deaths": 93,
               "per_category": [{"category": "production", "deaths": 80}, {"category": "fire", "deaths": 10}],
               "set_on": "2025-01-05", "set_by": "市安委会"}),
    );
    incident(&e, "C1", "shi-01", "production", "2025-03-01T02:00:00Z", 30, 0, 0);
    incident(&e, "C2", "shi-01", "fire", "2025-05-20T02:00:00Z", 6, 0, 0);
    incident(&e, "C3", "shi-01", "production", "2025-06-15T02:00:00Z", 5, 0, 0); // after the as-of date
    let stats: AccidentStats = rebuild(e.store()).unwrap();

    // "36 deaths so far this year, 38.7% of the control indicator": 36/93 = 38.71%.
    // 时序进度 at 2025-05-31: day 151 of 365 = 41.37%; the total is behind time.
    let c = stats.indicator_consumption("shi-01", d("2025-05-31")).unwrap();
    assert_eq!(c.total.deaths_so_far, 36);
    assert_eq!(round1(c.total.consumption_pct), Some(38.7));
    assert_eq!((c.elapsed_pct * 100.0).round() / 100.0, 41.37);
    assert!(!c.total.ahead_of_time);
    // production 30/80 = 37.5% (behind); fire 6/10 = 60% (ahead of 41.37%).
    let fire = c.per_category.iter().find(|l| l.category.as_deref() == Some("fire")).unwrap();
    assert_eq!(round1(fire.consumption_pct), Some(60.0));
    assert!(fire.ahead_of_time);
    let prod = c.per_category.iter().find(|l| l.category.as_deref() == Some("production")).unwrap();
    assert_eq!((prod.deaths_so_far, round1(prod.consumption_pct), prod.ahead_of_time), (30, Some(37.5), false));
    // No indicator for 2024.
    assert!(stats.indicator_consumption("shi-01", d("2024-12-31")).is_none());
}

#[test]
fn fatality_free_streaks_and_the_share_of_communities() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    for i in 1..=8 {
        register(&e, &format!("c{i}"), 10_000, "2019-06-01T02:00:00Z");
    }
    // c8: production, 3 deaths on 2023-03-01 (较大). c7: production, no death. c6: fire, 1 death.
    incident(&e, "S8", "c8", "production", "2023-03-01T02:00:00Z", 3, 0, 0);
    incident(&e, "S7", "c7", "production", "2023-05-01T02:00:00Z", 0, 0, 0);
    incident(&e, "S6", "c6", "fire", "2024-01-10T02:00:00Z", 1, 0, 0);
    let stats: AccidentStats = rebuild(e.store()).unwrap();
    let as_of = d("2025-12-31");

    // "87.5% of communities had no production fatality for three consecutive years": c1–c7
    // count from registration 2019-06-01 (6 whole years); c8 from 2023-03-01 (2 whole years).
    // 7 of 8 = 87.5%.
    let share = stats.streak_share(Some("production"), StreakRule::Fatal, 3, as_of);
    assert_eq!((share.communities, share.with_streak), (8, 7));
    assert_eq!(share.share_pct, Some(87.5));
    assert!(!share.community_ids.contains(&"c8".to_string()));
    let c8 = stats.streak(Some("c8"), Some("production"), StreakRule::Fatal, as_of).unwrap();
    assert_eq!((c8.last_accident, c8.whole_years), (Some(d("2023-03-01")), 2));

    // "no accident of grade 较大 or above for N years", whole area: since 2023-03-01;
    // days = 366 (to 2024-03-01, leap year) + 365 (to 2025-03-01) + 305 (to 2025-12-31) = 1036.
    let area = stats.streak(None, None, StreakRule::GradeAtLeast(IncidentGrade::RelativelySerious), as_of).unwrap();
    assert_eq!((area.days, area.whole_years), (1036, 2));
    // "no fatal fire for N years" in c6: since 2024-01-10 → 1 whole year; in c1: 6 years.
    assert_eq!(stats.streak(Some("c6"), Some("fire"), StreakRule::Fatal, as_of).unwrap().whole_years, 1);
    assert_eq!(stats.streak(Some("c1"), Some("fire"), StreakRule::Fatal, as_of).unwrap().whole_years, 6);
    // As of a date before S8, c8 still had its streak (6 whole years would need 2025-06-01).
    let before = stats.streak(Some("c8"), Some("production"), StreakRule::Fatal, d("2023-02-28")).unwrap();
    assert_eq!((before.last_accident, before.whole_years), (None, 3));
}

// ---- accountability trails ----------------------------------------------------------------

#[test]
fn four_not_let_go_trail_missing_conditions_and_investigation_clock() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    // T1: occurred 2025-06-01T01:30Z, reported 02:00Z (30 min, on time), 1 death → 一般, county.
    run(
        &e,
        "unit-head",
        "2025-06-01T02:00:00Z",
        json!({"type": "incident.report", "incident_id": "T1", "occurred_at": "2025-06-01T01:30:00Z",
               "reported_at": "2025-06-01T02:00:00Z", "place": "车间", "community_id": "jd-01", "enterprise_id": "E1",
               "category": "production", "deaths": 1, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
               "direct_loss_yuan": 100000, "summary": "机械伤害"}),
    );
    // T2: occurred 2025-06-05T00:00Z, reported 03:00Z → 3 hours, late (limit 1 hour).
    run(
        &e,
        "unit-head",
        "2025-06-05T03:00:00Z",
        json!({"type": "incident.report", "incident_id": "T2", "occurred_at": "2025-06-05T00:00:00Z",
               "reported_at": "2025-06-05T03:00:00Z", "place": "仓库", "community_id": "jd-01", "enterprise_id": null,
               "category": "production", "deaths": 0, "serious_injuries": 1, "minor_injuries": 0, "missing": 0,
               "direct_loss_yuan": 0, "summary": "坠落"}),
    );
    for id in ["T1", "T2"] {
        run(
            &e,
            "county-gov",
            "2025-06-06T02:00:00Z",
            json!({"type": "incident.open_investigation", "incident_id": id, "authority_level": "county", "authority": "县政府调查组"}),
        );
    }
    run(
        &e,
        "inv-team",
        "2025-06-10T02:00:00Z",
        json!({"type": "incident.determine_cause", "incident_id": "T1", "cause": "防护罩缺失", "evidence": ["调查报告-1"]}),
    );
    run(
        &e,
        "county-gov",
        "2025-06-20T02:00:00Z",
        json!({"type": "incident.deal_with_responsible", "incident_id": "T1", "person": "张某", "role": "车间主任",
               "action": "撤职", "evidence": ["处分决定-7"]}),
    );
    // T1 appraisal 07-01 → 07-11: 10 days added to the deadline 07-31T01:30Z → 08-10T01:30Z.
    run(
        &e,
        "inv-team",
        "2025-07-01T00:00:00Z",
        json!({"type": "incident.start_appraisal", "incident_id": "T1", "started_at": "2025-07-01T00:00:00Z", "reason": "设备鉴定"}),
    );
    run(
        &e,
        "inv-team",
        "2025-07-11T00:00:00Z",
        json!({"type": "incident.end_appraisal", "incident_id": "T1", "ended_at": "2025-07-11T00:00:00Z"}),
    );
    // T2 appraisal from 07-01, still under way: its clock (due 08-04T00:00Z) is stopped.
    run(
        &e,
        "inv-team",
        "2025-07-01T00:00:00Z",
        json!({"type": "incident.start_appraisal", "incident_id": "T2", "started_at": "2025-07-01T00:00:00Z", "reason": "材料鉴定"}),
    );
    let trails: AccountabilityTrails = rebuild(e.store()).unwrap();

    // As of 06-25T00:00Z: cause (06-10, inv-team) and responsible (06-20) evidenced; measures and
    // education missing, for 23 days (06-01T02:00 → 06-25T00:00 = 23 d 22 h).
    let s = trails.four_status("T1", t("2025-06-25T00:00:00Z")).unwrap();
    assert_eq!(s.missing, ["corrective_measures_implemented", "education_conducted"]);
    assert_eq!(s.days_open, 23);
    assert_eq!(s.conditions[0].evidence[0].actor, "inv-team");
    assert_eq!(s.conditions[0].evidence[0].at, t("2025-06-10T02:00:00Z"));
    assert_eq!(s.conditions[0].evidence[0].documents, ["调查报告-1"]);
    assert_eq!(s.conditions[1].evidence[0].actor, "county-gov");
    // As of 06-15: the responsible were not yet dealt with.
    let s = trails.four_status("T1", t("2025-06-15T00:00:00Z")).unwrap();
    assert_eq!(s.missing.len(), 3);
    // Both open incidents miss conditions at 06-25 (T2 all four).
    let missing = trails.missing_conditions(t("2025-06-25T00:00:00Z"));
    assert_eq!(
        missing.iter().map(|m| (m.incident_id.as_str(), m.missing.len())).collect::<Vec<_>>(),
        [("T1", 2), ("T2", 4)]
    );

    // Investigation clock: T1 due 08-10T01:30Z; at 08-09 nothing is past due; at 08-15T01:30Z T1
    // is 5 days past. T2 is paused by its appraisal, so never past due while it runs.
    assert!(trails.past_investigation_deadline(t("2025-08-09T00:00:00Z")).is_empty());
    let past = trails.past_investigation_deadline(t("2025-08-15T01:30:00Z"));
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].incident_id, "T1");
    assert_eq!(past[0].due, t("2025-08-10T01:30:00Z"));
    assert_eq!(past[0].days_past, 5);
    assert!(trails.past_investigation_deadline(t("2025-12-31T00:00:00Z")).iter().all(|p| p.incident_id != "T2"));

    // T1 gets the last two conditions and is closed, signed off 08-20: evaluation due 2026-08-20.
    run(
        &e,
        "county-gov",
        "2025-08-16T02:00:00Z",
        json!({"type": "incident.implement_corrective_measures", "incident_id": "T1", "measures": "加装防护罩",
               "hazard_ids": [], "evidence": ["验收单-3"]}),
    );
    run(
        &e,
        "county-gov",
        "2025-08-17T02:00:00Z",
        json!({"type": "incident.conduct_education", "incident_id": "T1", "audience": "全厂职工", "people_reached": 120,
               "method": "警示教育会", "evidence": ["签到表-9"]}),
    );
    run(
        &e,
        "county-gov",
        "2025-08-20T02:00:00Z",
        json!({"type": "incident.close", "incident_id": "T1", "signed_off_at": "2025-08-20T02:00:00Z", "signed_off_by": "县政府"}),
    );
    let trails: AccountabilityTrails = rebuild(e.store()).unwrap();
    let s = trails.four_status("T1", t("2025-08-21T00:00:00Z")).unwrap();
    assert!(s.missing.is_empty() && s.closed);
    assert_eq!(s.conditions[3].evidence[0].summary, "全厂职工 (120 people, 警示教育会)");
    // Closed: no longer missing anything nor past its investigation deadline; still was on 08-15.
    let at = t("2025-08-21T00:00:00Z");
    assert!(trails.missing_conditions(at).iter().all(|m| m.incident_id != "T1"));
    assert!(trails.past_investigation_deadline(at).iter().all(|p| p.incident_id != "T1"));
    assert_eq!(trails.past_investigation_deadline(t("2025-08-15T01:30:00Z")).len(), 1);
    // Evaluation due 2026-08-20 (CST): not overdue at 2026-08-20T15:00Z, overdue from 16:00Z.
    let due = trails.evaluations_due(t("2026-08-20T15:00:00Z"));
    assert_eq!((due.len(), due[0].due, due[0].overdue), (1, d("2026-08-20"), false));
    assert!(trails.evaluations_due(t("2026-08-20T16:00:00Z"))[0].overdue);

    // Late reports: T2 (180 minutes).
    let late = trails.late_reports();
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].incident_id.as_str(), late[0].report_delay_minutes), ("T2", 180));
}

// ---- injury surveillance and promotion projects --------------------------------------------

#[allow(clippy::too_many_arguments)]
fn injury_body(
    id: &str,
    occurred: &str,
    age: Option<u16>,
    sex: &str,
    mechanism: &str,
    place: &str,
    groups: &[&str],
    severity: &str,
    category: &str,
    community: &str,
) -> Value {
    json!({"injury_id": id, "data": {"occurred_at": occurred, "age": age, "sex": sex, "intent": "unintentional",
        "mechanism": mechanism, "place": place, "activity": "leisure", "nature": "fracture", "body_part": "lower_limb",
        "severity": severity, "outcome": if severity == "death" { "died" } else { "admitted" }, "category": category, "community_id": community,
        "vulnerable_groups": groups, "incident_id": null, "note": null}})
}

fn record_injury(e: &Engine, body: Value, issued: &str) {
    let mut b = body;
    b["type"] = json!("injury.record");
    run(e, "hospital-1", issued, b);
}

#[test]
fn injury_surveillance_breakdowns_follow_corrections() {
    use anquan::projections::injury_surveillance::{InjuryFilter, InjurySurveillance};
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let r1 = injury_body(
        "R1",
        "2025-03-01T02:00:00Z",
        Some(70),
        "female",
        "fall",
        "home",
        &["elderly"],
        "serious",
        "elderly_fall",
        "jd-01",
    );
    record_injury(&e, r1, "2025-03-01T05:00:00Z");
    let r2 = injury_body(
        "R2",
        "2025-04-01T02:00:00Z",
        Some(8),
        "male",
        "fall",
        "school",
        &["child", "left_behind_child"],
        "minor",
        "school_child",
        "jd-01",
    );
    record_injury(&e, r2, "2025-04-01T05:00:00Z");
    let r3 = injury_body(
        "R3",
        "2025-05-01T02:00:00Z",
        Some(30),
        "male",
        "traffic",
        "road",
        &["migrant_worker"],
        "death",
        "road_traffic",
        "jd-02",
    );
    record_injury(&e, r3, "2025-05-01T05:00:00Z");
    let r4 =
        injury_body("R4", "2024-07-01T02:00:00Z", None, "female", "drowning", "water", &[], "death", "water", "jd-02");
    record_injury(&e, r4, "2024-07-01T05:00:00Z");
    // R3 corrected: age 35, severity serious (not death).
    let mut c = injury_body(
        "R3",
        "2025-05-01T02:00:00Z",
        Some(35),
        "male",
        "traffic",
        "road",
        &["migrant_worker"],
        "serious",
        "road_traffic",
        "jd-02",
    );
    c["type"] = json!("injury.correct");
    c["reason"] = json!("核实后更正");
    run(&e, "hospital-1", "2025-05-03T05:00:00Z", c);
    let s: InjurySurveillance = rebuild(e.store()).unwrap();

    // 2025: R1, R2, R3 → 3 records. fall 2 (R1, R2), traffic 1. Ages 70 → 65+, 8 → 5-14, 35 → 25-44.
    // Male 2 (R2, R3), female 1. Groups: R2 counts in child and left_behind_child.
    // Severity after the correction: serious 2 (R1, R3), minor 1, no death.
    let b = s.breakdown(&InjuryFilter { period: Period::year(2025).unwrap(), community: None, category: None });
    assert_eq!(b.records, 3);
    assert_eq!((b.by_mechanism["fall"], b.by_mechanism["traffic"]), (2, 1));
    assert_eq!((b.by_age_group["65+"], b.by_age_group["5-14"], b.by_age_group["25-44"]), (1, 1, 1));
    assert_eq!((b.by_sex["male"], b.by_sex["female"]), (2, 1));
    assert_eq!(b.by_vulnerable_group.values().sum::<u64>(), 4);
    assert_eq!(b.by_vulnerable_group["left_behind_child"], 1);
    assert_eq!((b.by_severity["serious"], b.by_severity["minor"]), (2, 1));
    assert_eq!(b.by_severity.get("death"), None);
    assert_eq!((b.by_place["home"], b.by_place["school"], b.by_place["road"]), (1, 1, 1));
    assert_eq!(b.by_intent["unintentional"], 3);
    // 2024, jd-02: R4 only, age unknown, no group.
    let b = s.breakdown(&InjuryFilter {
        period: Period::year(2024).unwrap(),
        community: Some("jd-02".into()),
        category: None,
    });
    assert_eq!((b.records, b.by_age_group["unknown"], b.by_vulnerable_group["none"]), (1, 1, 1));
}

#[test]
fn promotion_projects_and_interventions_per_community_and_category() {
    use anquan::projections::promotion::PromotionProjects;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let at = "2025-06-30T02:00:00Z";
    let plan = |id: &str, community: &str, category: Option<&str>, group: Option<&str>| {
        run(
            &e,
            "committee",
            at,
            json!({"type": "project.plan", "project_id": id, "community_id": community, "name": id,
                   "objective": "降低伤害", "baseline_from": "2024-01-01", "baseline_to": "2024-12-31",
                   "target_category": category, "target_group": group, "target_place": null}),
        );
    };
    let intervention = |p: &str, i: &str, reach: Option<u32>| {
        run(
            &e,
            "committee",
            at,
            json!({"type": "project.plan_intervention", "project_id": p, "intervention_id": i, "what": "入户改造",
                   "planned_for": "2025-03-01"}),
        );
        if let Some(reach) = reach {
            run(
                &e,
                "committee",
                at,
                json!({"type": "project.implement_intervention", "project_id": p, "intervention_id": i,
                       "implemented_on": "2025-04-01", "reach": reach}),
            );
        }
    };
    plan("P1", "jd-01", Some("elderly_fall"), None);
    intervention("P1", "a", Some(100));
    intervention("P1", "b", Some(50));
    intervention("P1", "c", None);
    plan("P2", "jd-01", Some("elderly_fall"), None);
    intervention("P2", "a", Some(30));
    intervention("P2", "b", None);
    plan("P3", "jd-01", Some("road_traffic"), None);
    intervention("P3", "a", None);
    plan("P4", "jd-02", None, Some("child"));
    run(
        &e,
        "committee",
        at,
        json!({"type": "project.evaluate", "project_id": "P1", "indicator": "老年人跌倒（每千人）", "before": 40,
               "after": 26, "evaluated_on": "2025-06-30", "conclusion": "有效"}),
    );
    let p: PromotionProjects = rebuild(e.store()).unwrap();

    // "N promotion projects with M intervention measures": 4 projects, 3+2+1+0 = 6 interventions.
    let lines = p.summary(None);
    assert_eq!(lines.iter().map(|l| l.projects).sum::<u64>(), 4);
    assert_eq!(lines.iter().map(|l| l.interventions_planned).sum::<u64>(), 6);
    // (jd-01, elderly_fall): P1 + P2 → 2 projects, 5 planned, 3 implemented, reach 100+50+30 = 180.
    let got: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.community_id.as_str(),
                l.category.as_str(),
                l.projects,
                l.interventions_planned,
                l.interventions_implemented,
                l.people_reached,
            )
        })
        .collect();
    assert_eq!(
        got,
        [("jd-01", "elderly_fall", 2, 5, 3, 180), ("jd-01", "road_traffic", 1, 1, 0, 0), ("jd-02", "none", 1, 0, 0, 0)]
    );
    assert_eq!(p.summary(Some("jd-02")).len(), 1);
    // P1 before/after: 40 → 26, −14, −35%.
    let ba = p.before_after("P1");
    assert_eq!((ba[0].change.absolute, ba[0].change.percent), (-14, Some(-35.0)));
}

// ---- KPIs with recorded denominators (DESIGN.md §3) -----------------------------------------

#[test]
fn gdp_worker_and_work_hour_rates_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    register(&e, "qu-a", 200_000, "2025-01-02T02:00:00Z");
    register(&e, "qu-b", 100_000, "2025-01-02T02:00:00Z");
    // qu-a: GDP 5,000,000 万元 = 500 亿元, 80,000 workers. qu-b records nothing.
    run(
        &e,
        "stats-bureau",
        "2025-03-01T02:00:00Z",
        json!({"type": "community.record_economy", "community_id": "qu-a", "year": 2025,
               "gdp_10k_yuan": 4_000_000u64, "workers": 70_000, "source": "初步核算"}),
    );
    // A later record for the year replaces the first.
    run(
        &e,
        "stats-bureau",
        "2025-04-01T02:00:00Z",
        json!({"type": "community.record_economy", "community_id": "qu-a", "year": 2025,
               "gdp_10k_yuan": 5_000_000u64, "workers": 80_000, "source": "区统计年鉴"}),
    );
    incident(&e, "K1", "qu-a", "production", "2025-05-01T02:00:00Z", 2, 0, 1_000);
    incident(&e, "K2", "qu-a", "road_traffic", "2025-05-02T02:00:00Z", 1, 0, 1_000);
    incident(&e, "K3", "qu-b", "production", "2025-05-03T02:00:00Z", 3, 0, 1_000);
    let stats: AccidentStats = rebuild(e.store()).unwrap();
    // Only qu-a has figures: deaths 2 + 1 = 3; 3 ÷ 500 亿元 = 0.006 per 亿元.
    // Work (graded, production-safety) deaths: K1's 2; 2 × 100,000 ÷ 80,000 = 2.5.
    let r = stats.economic_rates(2025, None).unwrap();
    assert_eq!((r.deaths, r.work_deaths, r.gdp_10k_yuan, r.workers), (3, 2, 5_000_000, 80_000));
    assert_eq!(r.communities, vec!["qu-a".to_string()]);
    assert_eq!(r.deaths_per_100m_yuan_gdp.map(|x| (x * 1e6).round() / 1e6), Some(0.006));
    assert_eq!(round2(r.work_deaths_per_100k_workers), Some(2.5));
    assert_eq!(stats.economic_rates(2025, Some("qu-b")).unwrap().deaths_per_100m_yuan_gdp, None);

    // Enterprise E1: 2025-01..03 at 100,000 hours a month, 600 people; three cases.
    run(
        &e,
        "bureau",
        "2025-01-03T02:00:00Z",
        json!({"type": "enterprise.register", "enterprise_id": "E1", "name": "机械厂", "community_id": "qu-a",
               "industry": "manufacturing"}),
    );
    for m in 1..=3 {
        run(
            &e,
            "officer",
            "2025-04-02T02:00:00Z",
            json!({"type": "enterprise.record_work_hours", "enterprise_id": "E1", "year": 2025, "month": m,
                   "hours_worked": 100_000, "headcount": 600}),
        );
    }
    for (case, class, away, restricted) in
        [("W1", "days_away", 12, 0), ("W2", "restricted_or_transfer", 0, 5), ("W3", "other_recordable", 0, 0)]
    {
        run(
            &e,
            "officer",
            "2025-04-02T02:00:00Z",
            json!({"type": "enterprise.record_work_injury_case", "enterprise_id": "E1", "case_id": case,
                   "occurred_on": "2025-02-10", "class": class, "days_away": away, "restricted_days": restricted,
                   "incident_id": null, "description": "工伤"}),
        );
    }
    let head = e.store().head().next_position;
    // Refused, writing nothing: more hours than 600 people can work in February (600 × 28 × 24
    // = 403,200), a case id used twice, a days-away case without days away.
    for (body, field) in [
        (
            json!({"type": "enterprise.record_work_hours", "enterprise_id": "E1", "year": 2025, "month": 2,
                "hours_worked": 403_201, "headcount": 600}),
            "/command/hours_worked",
        ),
        (
            json!({"type": "enterprise.record_work_injury_case", "enterprise_id": "E1", "case_id": "W1",
                "occurred_on": "2025-02-11", "class": "other_recordable", "days_away": 0, "restricted_days": 0,
                "incident_id": null, "description": "重复"}),
            "/command/case_id",
        ),
        (
            json!({"type": "enterprise.record_work_injury_case", "enterprise_id": "E1", "case_id": "W9",
                "occurred_on": "2025-02-11", "class": "days_away", "days_away": 0, "restricted_days": 0,
                "incident_id": null, "description": "x"}),
            "/command/class",
        ),
    ] {
        let cmd = json!({ "command_id": Uuid::new_v4().to_string(), "actor": "officer",
                          "issued_at": "2025-04-03T02:00:00Z", "command": body });
        match e.execute_json(&cmd.to_string()) {
            Err(anquan::engine::EngineError::Rejected(r)) => assert_eq!(r.field, field, "{r}"),
            other => panic!("expected a rejection at {field}, got {other:?}"),
        }
    }
    assert_eq!(e.store().head().next_position, head);
    // 300,000 hours; 3 recordable → TRIR = 3 × 200,000 ÷ 300,000 = 2.0; DART = 2 × 200,000 ÷
    // 300,000 = 1.333; LTIFR (per million hours) = 1 × 1,000,000 ÷ 300,000 = 3.333;
    // 千人负伤率 = 3 × 1,000 ÷ 600 = 5.0.
    let stats: AccidentStats = rebuild(e.store()).unwrap();
    let w = stats.work_injury_rates(Some("E1"), Period::year(2025).unwrap(), 1_000_000);
    assert_eq!((w.hours_worked, w.recordable_cases, w.lost_workdays), (300_000, 3, 12));
    assert_eq!(round2(w.trir), Some(2.0));
    assert_eq!(round2(w.dart), Some(1.33));
    assert_eq!(round2(w.ltifr), Some(3.33));
    assert_eq!(round2(w.injuries_per_1000_workers), Some(5.0));
}
