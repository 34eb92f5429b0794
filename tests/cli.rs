//! The `anquan` binary: the README's main job and the inspection commands, including bad input.

use std::process::Command;

fn anquan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anquan")).args(args).env_remove("ANQUAN_STORE").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn demo_then_inspect_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let out = anquan(&["demo", "--store", s, "--hazards", "40"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("hash chain intact"), "{stdout}");
    assert!(stdout.contains("hazard.reported"), "{stdout}");

    let head = anquan(&["head", "--store", s]);
    assert!(head.status.success());
    let head_out = text(&head.stdout);
    let verify = anquan(&["verify", "--store", s]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    // The head hash verify recomputes is the one `head` reports.
    let hash = head_out.lines().find_map(|l| l.strip_prefix("head hash ")).unwrap().trim().to_string();
    assert!(text(&verify.stdout).contains(&hash));

    let streams = anquan(&["streams", "--store", s, "--prefix", "hazard-", "--limit", "5"]);
    let listed = text(&streams.stdout);
    assert_eq!(listed.lines().count(), 5, "{listed}");
    let first = listed.split_whitespace().next().unwrap().to_string();
    let history = anquan(&["history", &first, "--store", s]);
    assert!(history.status.success());
    assert!(text(&history.stdout).contains("\"type\":\"hazard.reported\""), "{}", text(&history.stdout));

    // A second demo run appends to the same store and still verifies.
    assert!(anquan(&["demo", "--store", s, "--hazards", "8"]).status.success());
    assert!(anquan(&["verify", "--store", s]).status.success());
}

#[test]
fn bad_input_is_one_clear_sentence_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = anquan(&["verify", "--store", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("holds no anquan store"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "no backtrace: {err}");
    assert!(!missing.exists(), "inspecting must not create a store");

    let store = dir.path().join("s");
    assert!(anquan(&["demo", "--store", store.to_str().unwrap(), "--hazards", "4"]).status.success());
    let out = anquan(&["history", "hazard-does-not-exist", "--store", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("has no events"));
    let out = anquan(&["history", "../etc/passwd", "--store", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stream id"), "{}", text(&out.stderr));
}

#[test]
fn export_then_import_restores_an_identical_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let file = dir.path().join("events.jsonl");
    let (a, b, f) = (a.to_str().unwrap(), b.to_str().unwrap(), file.to_str().unwrap());
    assert!(anquan(&["demo", "--store", a, "--hazards", "30"]).status.success());
    let out = anquan(&["export", "--store", a, "--out", f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&file).unwrap();
    assert!(lines.lines().next().unwrap().contains("\"payload_hex\""));
    let out = anquan(&["import", f, "--store", b]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head_a = text(&anquan(&["head", "--store", a]).stdout);
    let head_b = text(&anquan(&["head", "--store", b]).stdout);
    assert_eq!(head_a, head_b, "same events, same head hash");
    assert!(anquan(&["verify", "--store", b]).status.success());
    // Exporting the restored store gives the same file.
    let again = dir.path().join("again.jsonl");
    assert!(anquan(&["export", "--store", b, "--out", again.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read_to_string(&again).unwrap(), lines);
    // Restoring into a store that is not empty is refused.
    let out = anquan(&["import", f, "--store", b]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("empty store"), "{}", text(&out.stderr));
}

#[test]
fn importing_commands_reports_each_refused_line_and_all_or_nothing_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let report = |id: &str, cmd: &str| {
        format!(
            r#"{{"command_id":"{cmd}","actor":"grid-7","issued_at":"2025-03-02T08:00:00Z","command":{{"type":"hazard.report","hazard_id":"{id}","source":"grid_inspection","reporter":"r","community_id":"c1","grid_id":null,"enterprise_id":null,"category":"fire","location":"l","description":"d","found_at":"2025-03-02T07:30:00Z"}}}}"#
        )
    };
    let good1 = report("H1", "00000000-0000-4000-8000-000000000001");
    let good2 = report("H2", "00000000-0000-4000-8000-000000000002");
    let bad_schema =
        report("H3", "00000000-0000-4000-8000-000000000003").replace("\"category\":\"fire\"", "\"category\":7");
    let bad_rule = report("H1", "00000000-0000-4000-8000-000000000004"); // H1 reported twice
    let file = dir.path().join("cmds.jsonl");
    std::fs::write(
        &file,
        [good1.as_str(), bad_schema.as_str(), "", "{oops", good2.as_str(), bad_rule.as_str()].join("\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    let out = anquan(&["import", f, "--store", s, "--all-or-nothing"]);
    assert!(!out.status.success());
    let o = text(&out.stdout);
    assert!(o.contains("nothing written"), "{o}");
    assert!(o.contains("line      2") && o.contains("/command/category"), "{o}");
    assert!(o.contains("line      4"), "{o}");
    assert!(
        !std::path::Path::new(s).join("db").exists()
            || text(&anquan(&["head", "--store", s]).stdout).contains("events 0")
    );

    let out = anquan(&["import", f, "--store", s, "--json"]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["lines"], 5);
    assert_eq!(v["accepted"], 2);
    let refused_lines: Vec<u64> =
        v["refused"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert!(
        refused_lines.contains(&2) && refused_lines.contains(&4) && refused_lines.contains(&6),
        "{refused_lines:?}"
    );
    assert!(v["refused"].as_array().unwrap().iter().any(|r| r["line"] == 6 && r["rule"] == "already_exists"), "{v}");
    // A clean file goes in whole, in one commit.
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(
        &clean,
        [report("H7", "00000000-0000-4000-8000-000000000007"), report("H8", "00000000-0000-4000-8000-000000000008")]
            .join("\n"),
    )
    .unwrap();
    let out = anquan(&["import", clean.to_str().unwrap(), "--store", s, "--all-or-nothing", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!((v["accepted"].as_u64(), v["rolled_back"].as_bool()), (Some(2), Some(false)), "{v}");
    // Re-running the file changes nothing: accepted commands are found already done.
    let out = anquan(&["import", f, "--store", s, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!((v["accepted"].as_u64(), v["already_done"].as_u64()), (Some(0), Some(2)), "{v}");
}

#[test]
fn keygen_sign_and_check_a_signed_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let (s, key, signed) = (store.to_str().unwrap(), dir.path().join("k"), dir.path().join("head.json"));
    assert!(anquan(&["demo", "--store", s, "--hazards", "6"]).status.success());
    let out = anquan(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = text(&out.stdout).trim().strip_prefix("public key ").unwrap().to_string();
    let out = anquan(&["sign", "--store", s, "--key", key.to_str().unwrap(), "--out", signed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check =
        |public: &str| anquan(&["check-signature", signed.to_str().unwrap(), "--store", s, "--public-key", public]);
    assert!(check(&public).status.success());
    // The log grows: the signed prefix still checks.
    assert!(anquan(&["demo", "--store", s, "--hazards", "2"]).status.success());
    assert!(check(&public).status.success());
    // Another key does not.
    let other = dir.path().join("k2");
    let out = anquan(&["keygen", "--out", other.to_str().unwrap()]);
    let other_public = text(&out.stdout).trim().strip_prefix("public key ").unwrap().to_string();
    let out = check(&other_public);
    assert!(!out.status.success());
    assert!(text(&out.stderr).starts_with("error: "), "{}", text(&out.stderr));
    // keygen never overwrites a key.
    assert!(!anquan(&["keygen", "--out", key.to_str().unwrap()]).status.success());
}

#[test]
fn stats_hazards_and_trail_answer_from_the_projections() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(
        &csv,
        "id,incident_date,day_of_week,city,state,description,plan,citation\n\
         1,2014-03-03,monday,tampa,florida,Worker fell from a ladder.,federal,yes\n\
         2,2015-03-02,monday,tampa,florida,Worker fell from a roof.,federal,yes\n\
         3,2015-05-05,tuesday,miami,florida,Worker was electrocuted by a power line.,state,no\n",
    )
    .unwrap();
    let mapping = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/osha_fatalities/mapping.toml");
    assert!(anquan(&["import-csv", csv.to_str().unwrap(), "--mapping", mapping, "--store", s]).status.success());

    let out = anquan(&["stats", "--year", "2015", "--store", s, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    // 2014: one death; 2015: two (+100%).
    assert_eq!(v["total"]["deaths"]["previous"], 1);
    assert_eq!(v["total"]["deaths"]["current"], 2);
    assert_eq!(v["total"]["deaths"]["percent"], 100.0);
    let table = text(&anquan(&["stats", "--year", "2015", "--store", s]).stdout);
    assert!(table.contains("TOTAL") && table.contains("1→2 +100.0%"), "{table}");
    // As of a time before anything was recorded there is nothing to compare.
    let out = anquan(&["stats", "--year", "2015", "--store", s, "--as-of", "2000-01-01T00:00:00Z", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap_or_default();
    assert!(!out.status.success() || v["total"]["deaths"]["current"] == 0, "{}", text(&out.stdout));

    let out = anquan(&["trail", "osha-3", "--store", s, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["missing"].as_array().unwrap().len(), 4, "{v}");
    assert!(!anquan(&["trail", "nope", "--store", s]).status.success());

    let out = anquan(&["hazards", "--store", s, "--format", "json"]);
    assert!(out.status.success());
    assert!(!anquan(&["hazards", "--store", s, "--format", "xml"]).status.success());
}
