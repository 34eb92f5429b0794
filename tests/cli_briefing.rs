//! A district's annual briefing, answered from imported history with the commands a user types.
//!
//! A small hand-made history (eight communities from 2007, incidents, control indicators, fifteen
//! promotion projects) goes in through `anquan import`, recorded today as any import is; each of
//! the four sentences of a safe-community briefing is then checked against the JSON answer of
//! the command that states it:
//! 1. "87.5% of communities had no work-safety death for three years running" — `streaks`;
//! 2. "no accident of grade 较大 or above for four years in the three pilot communities" — `streaks
//!    --rule relatively-serious-or-above`;
//! 3. "15 promotion projects with 66 interventions" — `projects`;
//! 4. "36 deaths by the end of May, 38.7% of the yearly control indicator, with 41.4% of the year
//!    gone" — `kpis --on 2011-05-31` (the reference date, not `--as-of`: the history was recorded
//!    today).

mod cli_common;

use cli_common::{anquan, text};
use serde_json::{json, Value};
use std::path::Path;

/// One JSON line of commands, all sent by one actor.
struct Lines {
    actor: &'static str,
    next: u64,
    lines: Vec<String>,
}

impl Lines {
    fn new(actor: &'static str, first_id: u64) -> Self {
        Self { actor, next: first_id, lines: Vec::new() }
    }

    fn push(&mut self, issued_at: &str, command: Value) {
        self.next += 1;
        let envelope = json!({
            "command_id": format!("00000000-0000-4000-8000-{:012x}", self.next),
            "actor": self.actor,
            "issued_at": issued_at,
            "command": command,
        });
        self.lines.push(envelope.to_string());
    }

    fn import(&self, dir: &Path, store: &str) {
        let file = dir.join(format!("{}.jsonl", self.actor));
        std::fs::write(&file, self.lines.join("\n")).unwrap();
        let out =
            anquan(&["import", file.to_str().unwrap(), "--store", store, "--actor", self.actor, "--all-or-nothing"]);
        assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    }
}

fn community(n: u32) -> String {
    format!("c{n:02}")
}

fn incident(lines: &mut Lines, id: &str, community: &str, category: &str, day: &str, deaths: u32) {
    let at = format!("{day}T02:00:00Z");
    lines.push(
        &format!("{day}T03:00:00Z"),
        json!({
            "type": "incident.report",
            "incident_id": id,
            "community_id": community,
            "enterprise_id": null,
            "category": category,
            "occurred_at": at,
            "reported_at": format!("{day}T02:30:00Z"),
            "place": "镇区主干道",
            "summary": "事故经过见调查报告",
            "deaths": deaths,
            "missing": 0,
            "serious_injuries": 1,
            "minor_injuries": 2,
            "direct_loss_yuan": 50_000,
        }),
    );
}

fn json_answer(args: &[&str]) -> Value {
    let out = anquan(args);
    assert!(out.status.success(), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.get("result").cloned().unwrap_or(v)
}

#[test]
fn the_four_sentences_of_a_briefing_come_from_imported_history() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("district");
    let store = store_path.to_str().unwrap();
    let out = anquan(&["init", "--admin", "admin-1", "--store", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut admin = Lines::new("admin-1", 0);
    for (actor, role) in
        [("committee-1", "community_committee"), ("bureau-1", "bureau_supervisor"), ("police-1", "partner_department")]
    {
        admin.push(
            "2007-01-01T00:00:00Z",
            json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": "district", "reason": null}),
        );
    }
    admin.import(dir.path(), store);

    // Eight communities, registered on 2007-01-02 (the history's first day).
    let mut committee = Lines::new("committee-1", 1_000);
    for n in 1..=8 {
        committee.push(
            "2007-01-02T01:00:00Z",
            json!({
                "type": "community.register",
                "community_id": community(n),
                "name": format!("第{n}社区"),
                "district": "示范区",
                "kind": "urban_street",
                "population": 40_000 + n * 1_000,
                "population_as_of": "2006-12-31",
            }),
        );
    }
    // Fifteen promotion projects, 66 interventions: 4 each for twelve, 6 each for three.
    for p in 1..=15u32 {
        let project = format!("p{p:02}");
        committee.push(
            "2009-03-01T01:00:00Z",
            json!({
                "type": "project.plan",
                "project_id": project,
                "community_id": community(1 + p % 8),
                "name": format!("安全促进项目{p}"),
                "objective": "减少道路交通伤害",
                "target_category": "road_traffic",
                "target_group": null,
                "target_place": null,
                "baseline_from": "2008-01-01",
                "baseline_to": "2008-12-31",
            }),
        );
        for i in 1..=(if p <= 12 { 4 } else { 6 }) {
            let intervention = format!("{project}-i{i}");
            committee.push(
                "2009-03-02T01:00:00Z",
                json!({"type": "project.plan_intervention", "project_id": project, "intervention_id": intervention,
                       "what": "入户安全宣传", "planned_for": "2009-06-01"}),
            );
            committee.push(
                "2009-06-01T01:00:00Z",
                json!({"type": "project.implement_intervention", "project_id": project, "intervention_id": intervention,
                       "implemented_on": "2009-06-01", "reach": 120}),
            );
        }
    }
    committee.import(dir.path(), store);

    // 2011 control indicators: 93 deaths for the district.
    let mut bureau = Lines::new("bureau-1", 5_000);
    for n in 1..=8u32 {
        bureau.push(
            "2011-01-05T01:00:00Z",
            json!({"type": "community.set_control_indicator", "community_id": community(n), "year": 2011,
                   "total_deaths": if n == 8 { 9 } else { 12 }, "per_category": [], "set_by": "区安委会",
                   "set_on": "2011-01-05"}),
        );
    }
    // Work-safety deaths: only c08, in 2010 — so on 2011-12-31 seven of eight communities have
    // three death-free years. A 较大 accident (three deaths, construction) in c04 in 2009; the
    // pilots c01–c03 have none.
    incident(&mut bureau, "w-1", "c08", "production", "2010-03-10", 1);
    incident(&mut bureau, "w-2", "c04", "construction", "2009-08-20", 3);
    incident(&mut bureau, "w-3", "c02", "production", "2008-05-12", 0);
    bureau.import(dir.path(), store);

    // Road traffic: 36 deaths from 1 January to 31 May 2011 (eighteen accidents of two), and
    // five more in June, after the reference date.
    let mut police = Lines::new("police-1", 8_000);
    for k in 0..18u32 {
        let day = format!("2011-{:02}-{:02}", 1 + k / 4, 3 + (k % 4) * 6);
        incident(&mut police, &format!("r-{k}"), &community(4 + k % 5), "road_traffic", &day, 2);
    }
    incident(&mut police, "r-june", "c05", "road_traffic", "2011-06-10", 5);
    police.import(dir.path(), store);

    // 1. The share of communities with three years free of work-safety deaths.
    let streaks = json_answer(&[
        "streaks",
        "--store",
        store,
        "--category",
        "production",
        "--years",
        "3",
        "--on",
        "2011-12-31",
        "--format",
        "json",
    ]);
    assert_eq!(streaks["share"]["communities"], 8, "{streaks:#}");
    assert_eq!(streaks["share"]["with_streak"], 7, "{streaks:#}");
    assert!((streaks["share"]["share_pct"].as_f64().unwrap() - 87.5).abs() < 1e-9, "{streaks:#}");
    assert_eq!(streaks["short"], json!(["c08"]), "{streaks:#}");

    // 2. No accident of 较大 or above for four years in the pilots (c04's 2009 one breaks its own).
    let graded = json_answer(&[
        "streaks",
        "--store",
        store,
        "--rule",
        "relatively-serious-or-above",
        "--years",
        "4",
        "--on",
        "2011-12-31",
        "--format",
        "json",
    ]);
    let years_of = |id: &str| {
        graded["communities"].as_array().unwrap().iter().find(|s| s["community"] == id).unwrap()["whole_years"]
            .as_u64()
            .unwrap()
    };
    for pilot in ["c01", "c02", "c03"] {
        assert!(years_of(pilot) >= 4, "{pilot}: {graded:#}");
    }
    assert_eq!(years_of("c04"), 2, "broken on 2009-08-20: {graded:#}");

    // 3. Projects and interventions.
    let projects = json_answer(&["projects", "--store", store, "--on", "2011-12-31", "--format", "json"]);
    assert_eq!(projects["projects"], 15, "{projects:#}");
    assert_eq!(projects["interventions"], 66, "{projects:#}");
    assert_eq!(projects["implemented"], 66, "{projects:#}");

    // 4. Deaths to the end of May against the year's control indicator and the time elapsed.
    let kpis = json_answer(&["kpis", "--store", store, "--on", "2011-05-31", "--format", "json"]);
    let total = &kpis["indicator_total"];
    assert_eq!(total["deaths_so_far"], 36, "{kpis:#}");
    assert_eq!(total["limit"], 93, "{kpis:#}");
    assert_eq!(format!("{:.1}", total["consumption_pct"].as_f64().unwrap()), "38.7", "{kpis:#}");
    assert_eq!(format!("{:.1}", total["elapsed_pct"].as_f64().unwrap()), "41.4", "{kpis:#}");
    assert_eq!(kpis["partial"], true, "2011 is not over on 31 May: {kpis:#}");

    // `--as-of` is the other axis: on 2011-06-05 the log (recorded today) held nothing yet.
    let known_then =
        json_answer(&["kpis", "--store", store, "--on", "2011-05-31", "--as-of", "2011-06-05", "--format", "json"]);
    assert!(
        known_then["indicator_total"].is_null() || known_then["indicator_total"]["deaths_so_far"] == 0,
        "{known_then:#}"
    );
}
