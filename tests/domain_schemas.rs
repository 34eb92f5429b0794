//! `schemas/` matches the code, and JSON commands are validated field by field.
//!
//! Regenerate the schemas with `ANQUAN_UPDATE_SCHEMAS=1 cargo test --test domain_schemas`.

use std::path::PathBuf;

use anquan::domain::schema::{check_schema_files, write_schema_files, UPDATE_ENV};
use anquan::domain::{parse_command_json, rule, Command};
use serde_json::{json, Value};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

#[test]
fn checked_in_schemas_match_the_code() {
    let dir = schemas_dir();
    if std::env::var_os(UPDATE_ENV).is_some() {
        write_schema_files(&dir).unwrap();
    }
    let problems = check_schema_files(&dir).unwrap();
    assert!(
        problems.is_empty(),
        "schemas/ is out of date ({UPDATE_ENV}=1 cargo test --test domain_schemas regenerates it):\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_schema_check_notices_edits_missing_and_stale_files() {
    let tmp = tempfile::tempdir().unwrap();
    write_schema_files(tmp.path()).unwrap();
    assert!(check_schema_files(tmp.path()).unwrap().is_empty());
    std::fs::write(tmp.path().join("commands/hazard.report.json"), "{}\n").unwrap();
    std::fs::remove_file(tmp.path().join("events/hazard.closed.v1.json")).unwrap();
    std::fs::write(tmp.path().join("events/hazard.gone.v1.json"), "{}\n").unwrap();
    let mut p = check_schema_files(tmp.path()).unwrap();
    p.sort();
    assert_eq!(
        p,
        [
            "differs: schemas/commands/hazard.report.json",
            "missing: schemas/events/hazard.closed.v1.json",
            "stale: schemas/events/hazard.gone.v1.json"
        ]
    );
}

fn report_hazard() -> Value {
    json!({
        "command_id": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        "actor": "grid-officer-7",
        "issued_at": "2025-03-02T08:00:00Z",
        "command": {
            "type": "hazard.report",
            "hazard_id": "HZ-2025-001",
            "source": "grid_inspection",
            "reporter": "李网格",
            "community_id": "jd-01",
            "grid_id": "g-3",
            "enterprise_id": null,
            "category": "fire",
            "location": "3号楼地下室",
            "description": "电动车楼道充电",
            "found_at": "2025-03-02T07:30:00Z"
        }
    })
}

fn errors_for(v: &Value) -> Vec<(String, String)> {
    parse_command_json(&v.to_string()).unwrap_err().into_iter().map(|r| (r.field, r.rule)).collect()
}

#[test]
fn a_valid_command_parses_into_its_type_and_stream() {
    let env = parse_command_json(&report_hazard().to_string()).unwrap();
    assert_eq!(env.command.command_type(), "hazard.report");
    assert_eq!(env.target_stream(), "hazard-HZ-2025-001");
    assert!(matches!(env.command, Command::Hazard(_)));
}

#[test]
fn optional_members_may_be_left_out() {
    let mut v = report_hazard();
    let body = v["command"].as_object_mut().unwrap();
    body.remove("grid_id");
    body.remove("enterprise_id");
    assert!(parse_command_json(&v.to_string()).is_ok());
}

#[test]
fn a_missing_field_is_named() {
    let mut v = report_hazard();
    v["command"].as_object_mut().unwrap().remove("found_at");
    assert_eq!(errors_for(&v), [("/command/found_at".to_string(), "schema_required".to_string())]);
}

#[test]
fn an_unknown_field_is_named() {
    let mut v = report_hazard();
    v["command"]["colour"] = json!("red");
    assert_eq!(errors_for(&v), [("/command/colour".to_string(), "schema_additionalProperties".to_string())]);
}

#[test]
fn a_wrong_type_bad_enum_and_bad_id_are_each_named() {
    let mut v = report_hazard();
    v["command"]["source"] = json!("rumour");
    v["command"]["hazard_id"] = json!("../../etc/passwd");
    v["command"]["found_at"] = json!("yesterday");
    let mut got = errors_for(&v);
    got.sort();
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["/command/found_at", "/command/hazard_id", "/command/source"]);
    assert!(got.iter().any(|(f, r)| f == "/command/hazard_id" && r == "schema_pattern"), "{got:?}");
    assert!(got.iter().any(|(f, r)| f == "/command/found_at" && r == "schema_format"), "{got:?}");
}

#[test]
fn envelope_errors_are_named() {
    let mut v = report_hazard();
    v["command_id"] = json!("not-a-uuid");
    v.as_object_mut().unwrap().remove("actor");
    let mut got = errors_for(&v);
    got.sort();
    assert_eq!(
        got,
        [
            ("/actor".to_string(), "schema_required".to_string()),
            ("/command_id".to_string(), "schema_format".to_string())
        ]
    );
}

#[test]
fn an_unknown_command_type_is_named() {
    let mut v = report_hazard();
    v["command"]["type"] = json!("hazard.teleport");
    let got = errors_for(&v);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "/command/type");
}

#[test]
fn negative_counts_are_refused_by_the_schema() {
    let v = json!({
        "command_id": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        "actor": "bureau-1",
        "issued_at": "2025-03-02T08:00:00Z",
        "command": {
            "type": "incident.revise_casualties", "incident_id": "I1", "deaths": -1,
            "serious_injuries": 0, "minor_injuries": 0, "missing": 0, "direct_loss_yuan": 0, "reason": "x"
        }
    });
    let got = errors_for(&v);
    assert_eq!(got[0].0, "/command/deaths");
}

#[test]
fn a_count_beyond_u32_is_named_by_the_schema_not_lost_in_decoding() {
    let v = json!({
        "command_id": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        "actor": "bureau-1",
        "issued_at": "2025-03-02T08:00:00Z",
        "command": {
            "type": "incident.revise_casualties", "incident_id": "I1", "deaths": 0,
            "serious_injuries": 4_294_967_296u64, "minor_injuries": 0, "missing": 0, "direct_loss_yuan": 0, "reason": "x"
        }
    });
    assert_eq!(errors_for(&v), [("/command/serious_injuries".to_string(), "schema_maximum".to_string())]);
}

#[test]
fn not_json_is_malformed() {
    let e = parse_command_json("{\"command\":").unwrap_err();
    assert_eq!(e[0].rule, rule::MALFORMED);
}

#[test]
fn a_schema_valid_command_then_meets_the_domain_rules() {
    use anquan::internals::testing::{given, history};
    // Funds are optional in the schema (a general hazard's order may omit them) but one of the
    // five in place for a major hazard: the schema passes it, `decide` names it.
    let report = parse_command_json(&report_hazard().to_string()).unwrap();
    let mut grade = report_hazard();
    grade["command"] = json!({
        "type": "hazard.grade", "hazard_id": "HZ-2025-001", "grade": "major",
        "criterion": "MEM-10", "criterion_version": "2023"
    });
    let mut order = report_hazard();
    order["command"] = json!({
        "type": "hazard.order_rectification", "hazard_id": "HZ-2025-001",
        "responsible": "王某", "measures": "集中充电", "deadline": "2025-04-01", "contingency_plan": "封闭"
    });
    let grade = parse_command_json(&grade.to_string()).unwrap();
    let order = parse_command_json(&order.to_string()).unwrap();
    let r = given(history([report, grade])).when(order).then_reject("/command/funds_yuan", rule::FIVE_IN_PLACE_MISSING);
    assert_eq!(r.items, ["funds_yuan"]);
}
