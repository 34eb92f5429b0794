//! The regulation deadline lists through the CLI, from commands imported as a user would:
//! `anquan incidents --late-escalations`, `--overdue-sign-offs` and `--outside`, as tables and
//! JSON.

mod cli_common;

use cli_common::{anquan, text};

fn line(n: u32, actor: &str, issued_at: &str, command: serde_json::Value) -> String {
    serde_json::json!({
        "command_id": format!("00000000-0000-4000-8000-{n:012}"),
        "actor": actor,
        "issued_at": issued_at,
        "command": command,
    })
    .to_string()
}

fn import(store: &str, dir: &std::path::Path, name: &str, actor: &str, lines: &[String]) {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = anquan(&["import", file.to_str().unwrap(), "--store", store, "--actor", actor]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// Makes `store` enforce roles, `admin-1` its administrator.
fn initialized(store: &str) {
    let out = anquan(&["init", "--admin", "admin-1", "--store", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A district-wide grant, issued by admin-1.
fn grant(n: u32, actor: &str, role: &str) -> String {
    line(
        n,
        "admin-1",
        "2025-01-01T00:00:00Z",
        serde_json::json!({"type": "access.grant_role", "actor_id": actor, "role": role, "scope": "district", "reason": null}),
    )
}

fn report(n: u32, id: &str, deaths: u32) -> String {
    line(
        n,
        "bureau-1",
        "2025-03-03T02:00:00Z",
        serde_json::json!({
            "type": "incident.report", "incident_id": id, "occurred_at": "2025-03-03T01:00:00Z",
            "reported_at": "2025-03-03T01:30:00Z", "place": "仓库", "community_id": "c1", "enterprise_id": null,
            "category": "production", "deaths": deaths, "serious_injuries": 0, "minor_injuries": 0, "missing": 0,
            "direct_loss_yuan": 0, "summary": "货架倒塌"
        }),
    )
}

#[test]
fn late_escalations_overdue_sign_offs_and_outside_closures_are_listed_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    initialized(s);
    let register = line(
        3,
        "admin-1",
        "2025-01-01T00:00:00Z",
        serde_json::json!({"type": "community.register", "community_id": "c1", "name": "一号街道", "kind": "urban_street",
            "district": "示范区", "population": 20000, "population_as_of": "2024-12-31"}),
    );
    import(
        s,
        dir.path(),
        "setup.jsonl",
        "admin-1",
        &[grant(1, "bureau-1", "bureau_supervisor"), grant(2, "inv-1", "investigator"), register],
    );
    // I1: 较大 (3 deaths), reached the city 121 minutes after the report, never the province;
    // its report was submitted on 1 April and never signed off. I2 was closed in the old system.
    let cmds = [
        report(10, "I1", 3),
        line(
            11,
            "bureau-1",
            "2025-03-03T04:00:00Z",
            serde_json::json!({"type": "incident.escalate", "incident_id": "I1", "level": "city", "escalated_at": "2025-03-03T03:31:00Z"}),
        ),
        line(
            12,
            "bureau-1",
            "2025-03-04T00:00:00Z",
            serde_json::json!({"type": "incident.open_investigation", "incident_id": "I1", "authority_level": "city", "authority": "市事故调查组"}),
        ),
        line(
            13,
            "bureau-1",
            "2025-04-01T02:00:00Z",
            serde_json::json!({"type": "incident.submit_investigation_report", "incident_id": "I1", "submitted_at": "2025-04-01T02:00:00Z", "summary": "调查报告"}),
        ),
        report(14, "I2", 1),
        line(
            15,
            "bureau-1",
            "2025-06-01T00:00:00Z",
            serde_json::json!({"type": "incident.mark_closed_elsewhere", "incident_id": "I2", "closed_on": "2025-05-20", "held_by": "旧系统", "note": null}),
        ),
    ];
    import(s, dir.path(), "incidents.jsonl", "bureau-1", &cmds);

    let out = anquan(&["incidents", "--store", s, "--on", "2025-06-30", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let result = &json["result"];
    let escalations = result["late_escalations"].as_array().unwrap();
    let levels: Vec<(&str, &str, bool)> = escalations
        .iter()
        .map(|e| (e["incident_id"].as_str().unwrap(), e["level"].as_str().unwrap(), e["escalated_at"].is_null()))
        .collect();
    assert_eq!(levels, [("I1", "city", false), ("I1", "province", true)], "{escalations:?}");
    assert_eq!(escalations[0]["minutes_late"], 1);
    let sign_offs = result["overdue_sign_offs"].as_array().unwrap();
    assert_eq!(sign_offs.len(), 1, "{sign_offs:?}");
    assert_eq!(sign_offs[0]["due"], "2025-04-16T02:00:00Z");
    let outside = result["closed_elsewhere"].as_array().unwrap();
    assert_eq!(outside.len(), 1);
    assert_eq!((outside[0]["incident_id"].as_str(), outside[0]["held_by"].as_str()), (Some("I2"), Some("旧系统")));
    // I2 is not open: `--open` leaves it out, and it has no four missing.
    let open = anquan(&["incidents", "--store", s, "--on", "2025-06-30", "--open", "--format", "json"]);
    let open: serde_json::Value = serde_json::from_str(&text(&open.stdout)).unwrap();
    let ids: Vec<&str> =
        open["result"]["incidents"].as_array().unwrap().iter().map(|l| l["incident_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["I1"]);
    // Before the sign-off fell due, nothing is listed for it; the escalation was already late.
    let early = anquan(&["incidents", "--store", s, "--on", "2025-04-10", "--format", "json"]);
    let early: serde_json::Value = serde_json::from_str(&text(&early.stdout)).unwrap();
    assert_eq!(early["result"]["overdue_sign_offs"].as_array().map(Vec::len), Some(0));
    assert_eq!(early["result"]["closed_elsewhere"].as_array().map(Vec::len), Some(0), "closed there on 20 May");

    // The tables a person asks for.
    let out = anquan(&[
        "incidents",
        "--store",
        s,
        "--on",
        "2025-06-30",
        "--late-escalations",
        "--overdue-sign-offs",
        "--outside",
        "--lang",
        "en",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for want in
        ["2 escalations late or missing", "1 sign-offs late or missing", "1 closed elsewhere", "not yet", "旧系统"]
    {
        assert!(t.contains(want), "{want:?} missing from:\n{t}");
    }
    let plain = text(&anquan(&["incidents", "--store", s, "--on", "2025-06-30", "--lang", "en"]).stdout);
    assert!(!plain.contains("escalations late"), "lists only when asked:\n{plain}");
    // CSV picks one list by name.
    let csv =
        anquan(&["incidents", "--store", s, "--on", "2025-06-30", "--format", "csv", "--table", "overdue_sign_offs"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    assert!(text(&csv.stdout).starts_with("incident_id,due,signed_off_at,days_late"), "{}", text(&csv.stdout));
}

#[test]
fn an_on_site_check_not_made_within_ten_days_is_listed_by_hazards_overdue_checks() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    initialized(s);
    import(
        s,
        dir.path(),
        "grants.jsonl",
        "admin-1",
        &[grant(1, "bureau-1", "bureau_supervisor"), grant(2, "cc-1", "community_committee")],
    );
    let bureau = |n: u32, at: &str, c: serde_json::Value| line(n, "bureau-1", at, c);
    import(
        s,
        dir.path(),
        "hazard.jsonl",
        "bureau-1",
        &[
            bureau(
                10,
                "2025-03-01T02:00:00Z",
                serde_json::json!({"type": "hazard.report", "hazard_id": "H1", "source": "grid_inspection",
                "reporter": "网格员", "reporter_person_id": null, "community_id": "c1", "grid_id": null, "enterprise_id": null,
                "category": "production", "location": "车间", "description": "防护缺失", "found_at": "2025-03-01T01:00:00Z"}),
            ),
            bureau(
                11,
                "2025-03-01T03:00:00Z",
                serde_json::json!({"type": "hazard.grade", "hazard_id": "H1", "grade": "major",
                "criterion": "MEM-10", "criterion_version": "2023", "basis": null}),
            ),
            bureau(
                12,
                "2025-03-02T03:00:00Z",
                serde_json::json!({"type": "hazard.order_rectification", "hazard_id": "H1",
                "responsible": "负责人", "responsible_person_id": null, "measures": "加装防护", "funds_yuan": 80000,
                "deadline": "2025-03-20", "contingency_plan": "停用"}),
            ),
            bureau(
                13,
                "2025-03-02T04:00:00Z",
                serde_json::json!({"type": "hazard.list_for_supervision", "hazard_id": "H1",
                "level": "county", "listed_by": "区安委会"}),
            ),
        ],
    );
    import(
        s,
        dir.path(),
        "done.jsonl",
        "cc-1",
        &[line(
            14,
            "cc-1",
            "2025-03-18T02:00:00Z",
            serde_json::json!({"type": "hazard.report_rectification_done", "hazard_id": "H1", "summary": "已完成"}),
        )],
    );
    import(
        s,
        dir.path(),
        "apply.jsonl",
        "bureau-1",
        &[
            bureau(
                15,
                "2025-03-19T02:00:00Z",
                serde_json::json!({"type": "hazard.verify_rectification", "hazard_id": "H1",
                "passed": true, "remarks": "评估合格"}),
            ),
            bureau(
                16,
                "2025-03-25T03:00:00Z",
                serde_json::json!({"type": "hazard.apply_to_close", "hazard_id": "H1",
                "applied_at": "2025-03-25T02:00:00Z", "suspended": false, "summary": "申请销号"}),
            ),
        ],
    );
    let checks = |on: &str| -> serde_json::Value {
        let out = anquan(&["hazards", "--store", s, "--on", on, "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        json["result"]["overdue_checks"].clone()
    };
    // Due by the end of 4 April (China time): nothing on that day, listed from the next.
    assert_eq!(checks("2025-04-04").as_array().map(Vec::len), Some(0));
    let late = checks("2025-04-05");
    assert_eq!(late.as_array().map(Vec::len), Some(1), "{late}");
    assert_eq!((late[0]["hazard_id"].as_str(), late[0]["check_due"].as_str()), (Some("H1"), Some("2025-04-04")));
    assert!(late[0]["checked_at"].is_null());
    let out = anquan(&["hazards", "--store", s, "--on", "2025-04-05", "--overdue-checks", "--lang", "en"]);
    let t = text(&out.stdout);
    assert!(t.contains("1 on-site checks late or missing") && t.contains("H1"), "{t}");
}
