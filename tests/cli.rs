//! The `anquan` binary: the README's main job and the inspection commands, including bad input.

mod cli_common;

use cli_common::{anquan, text};

/// A small demo district: quick, yet with every kind of record the full one has.
const SMALL: [&str; 2] = ["--scale", "0.05"];

fn demo(store: &str) -> String {
    let mut args = vec!["demo", "--store", store, "--lang", "en"];
    args.extend(SMALL);
    let out = anquan(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn demo_prints_the_bureau_heads_screen_then_inspect_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let stdout = demo(s);
    for section in [
        "1. 2026 against 2025",
        "2. ",
        "3. communities without a fatal accident",
        "4. open hazards",
        "5. incidents with the four conditions",
        "7. verify:",
        // The streaks by category, the broken ones, the rates table, the projects' before/after.
        "no death of the category for",
        "broken most recently:",
        "on-time rate",
        "target-category incidents, year before → year after:",
        "hash chain intact",
    ] {
        assert!(stdout.contains(section), "missing {section:?} in\n{stdout}");
    }
    assert!(stdout.contains("TOTAL"), "{stdout}");

    let head = anquan(&["head", "--store", s]);
    assert!(head.status.success());
    let head_out = text(&head.stdout);
    let verify = anquan(&["verify", "--store", s]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    // The head hash verify recomputes is the one `head` reports, and the one the demo printed.
    let hash = head_out.lines().find_map(|l| l.strip_prefix("head hash ")).unwrap().trim().to_string();
    assert!(text(&verify.stdout).contains(&hash));
    assert!(stdout.contains(&hash));

    let streams = anquan(&["streams", "--store", s, "--prefix", "hazard-", "--limit", "5"]);
    let listed = text(&streams.stdout);
    assert_eq!(listed.lines().count(), 6, "{listed}");
    assert!(listed.lines().last().unwrap().contains("the first 5 are shown"), "a cut listing says so: {listed}");
    let first = listed.split_whitespace().next().unwrap().to_string();
    let history = anquan(&["history", &first, "--store", s]);
    assert!(history.status.success());
    assert!(text(&history.stdout).contains("\"type\":\"hazard.reported\""), "{}", text(&history.stdout));

    // Running the demo again into its own store writes nothing new: same head.
    let again = demo(s);
    assert!(again.contains("→ 0 events"), "{again}");
    assert!(again.contains(&hash), "{again}");
    // Into someone else's store it refuses and writes nothing.
    let other = dir.path().join("other");
    let csv = tiny_csv(dir.path());
    ready_for_csv(other.to_str().unwrap());
    assert!(import_csv(&csv, other.to_str().unwrap()).status.success());
    let before = text(&anquan(&["head", "--store", other.to_str().unwrap()]).stdout);
    let out = anquan(&["demo", "--store", other.to_str().unwrap(), "--scale", "0.05"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("needs an empty folder"), "{}", text(&out.stderr));
    assert_eq!(text(&anquan(&["head", "--store", other.to_str().unwrap()]).stdout), before);
}

/// Same seed, same history: the same events and figures. (Not the same bytes: the names of
/// responsible persons are sealed under keys drawn fresh in each store's vault.)
#[test]
fn the_demo_is_reproducible_and_its_seed_matters() {
    let dir = tempfile::tempdir().unwrap();
    let figures = |name: &str, seed: &str| {
        let s = dir.path().join(name);
        let s = s.to_str().unwrap();
        let out = anquan(&["demo", "--store", s, "--scale", "0.02", "--seed", seed]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let events = text(&anquan(&["head", "--store", s]).stdout).lines().next().unwrap().to_string();
        // The results, not the basis: the head hash differs (names are sealed under fresh keys).
        let result = |args: &[&str]| json_of(args)["result"].clone();
        let stats = result(&["stats", "--store", s, "--as-of", "2026-11-30", "--format", "json"]);
        let hazards = result(&["hazards", "--store", s, "--as-of", "2026-11-30", "--overdue", "--format", "json"]);
        (events, stats, hazards)
    };
    let (a, b, c) = (figures("a", "7"), figures("b", "7"), figures("c", "8"));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

const MAPPING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/osha_fatalities/mapping.toml");

/// Makes `store` a store that enforces roles, with `admin-1` its administrator, and grants each
/// (actor, role, scope) through `anquan import` as admin-1.
fn initialized(store: &str, grants: &[(&str, &str, serde_json::Value)]) {
    let out = anquan(&["init", "--admin", "admin-1", "--store", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    if grants.is_empty() {
        return;
    }
    let lines: Vec<String> = grants
        .iter()
        .map(|(actor, role, scope)| {
            serde_json::json!({
                "command_id": uuid::Uuid::new_v4().to_string(), "actor": "admin-1", "issued_at": "2025-01-01T00:00:00Z",
                "command": {"type": "access.grant_role", "actor_id": actor, "role": role, "scope": scope, "reason": null}
            })
            .to_string()
        })
        .collect();
    let file = format!("{store}.grants.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = anquan(&["import", &file, "--store", store, "--actor", "admin-1"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// A store ready for the OSHA mapping's imports (its actor `import-osha` may report incidents).
fn ready_for_csv(store: &str) {
    initialized(store, &[("import-osha", "partner_department", serde_json::json!("district"))]);
}

fn import_csv(csv: &std::path::Path, store: &str) -> std::process::Output {
    anquan(&["import-csv", csv.to_str().unwrap(), "--mapping", MAPPING, "--store", store, "--actor", "import-osha"])
}

/// Three fatality rows in the OSHA file's shape: 2014 one death, 2015 two.
fn tiny_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let csv = dir.join("rows.csv");
    std::fs::write(
        &csv,
        "id,incident_date,day_of_week,city,state,description,plan,citation\n\
         1,2014-03-03,monday,tampa,florida,Worker fell from a ladder.,federal,yes\n\
         2,2015-03-02,monday,tampa,florida,Worker fell from a roof.,federal,yes\n\
         3,2015-05-05,tuesday,miami,florida,Worker was electrocuted by a power line.,state,no\n",
    )
    .unwrap();
    csv
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
    demo(store.to_str().unwrap());
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
    demo(a);
    let out = anquan(&["export", "--store", a, "--out", f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&file).unwrap();
    assert!(lines.lines().next().unwrap().contains("\"payload_hex\""));
    assert!(lines.lines().last().unwrap().starts_with("{\"trailer\":"), "the export ends with its trailer");
    let out = anquan(&["import", f, "--store", b]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head_a = text(&anquan(&["head", "--store", a]).stdout);
    let head_b = text(&anquan(&["head", "--store", b]).stdout);
    assert_eq!(head_a, head_b, "same events, same head hash");
    assert!(anquan(&["verify", "--store", b]).status.success());
    // Exporting the restored store gives the same events, byte for byte. (The decoded view of
    // a personal field differs: the copy has no key vault, so it shows the field sealed.)
    let again = dir.path().join("again.jsonl");
    assert!(anquan(&["export", "--store", b, "--out", again.to_str().unwrap()]).status.success());
    let envelopes = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .filter(|l| !l.starts_with("{\"trailer\":"))
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("event");
                v
            })
            .collect()
    };
    assert_eq!(envelopes(&std::fs::read_to_string(&again).unwrap()), envelopes(&lines));
    // Restoring into a folder that is not empty is refused.
    let out = anquan(&["import", f, "--store", b]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is not empty"), "{}", text(&out.stderr));
}

#[test]
fn importing_commands_reports_each_refused_line_and_all_or_nothing_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    initialized(s, &[("grid-7", "grid_inspector", serde_json::json!({"community": "c1"}))]);
    let head = || text(&anquan(&["head", "--store", s]).stdout);
    let empty = head();
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

    let out = anquan(&["import", f, "--store", s, "--all-or-nothing", "--actor", "grid-7"]);
    assert!(!out.status.success());
    let o = text(&out.stdout);
    assert!(o.contains("nothing written"), "{o}");
    assert!(o.contains("line      2") && o.contains("/command/category"), "{o}");
    assert!(o.contains("line      4"), "{o}");
    assert!(o.contains("line      6"), "every refusal is listed, not only the first: {o}");
    assert_eq!(head(), empty);

    let out = anquan(&["import", f, "--store", s, "--json", "--actor", "grid-7"]);
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
    let out =
        anquan(&["import", clean.to_str().unwrap(), "--store", s, "--all-or-nothing", "--json", "--actor", "grid-7"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!((v["accepted"].as_u64(), v["rolled_back"].as_bool()), (Some(2), Some(false)), "{v}");
    // Re-running the file changes nothing: accepted commands are found already done.
    let out = anquan(&["import", f, "--store", s, "--json", "--actor", "grid-7"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!((v["accepted"].as_u64(), v["already_done"].as_u64()), (Some(0), Some(2)), "{v}");
}

#[test]
fn keygen_sign_and_check_a_signed_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let (s, key, signed) = (store.to_str().unwrap(), dir.path().join("k"), dir.path().join("head.json"));
    demo(s);
    let out = anquan(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = text(&out.stdout).trim().strip_prefix("public key ").unwrap().to_string();
    let out = anquan(&["sign", "--store", s, "--key", key.to_str().unwrap(), "--out", signed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check =
        |public: &str| anquan(&["check-signature", signed.to_str().unwrap(), "--store", s, "--public-key", public]);
    assert!(check(&public).status.success());
    // The log grows: the signed prefix still checks.
    let grant = dir.path().join("grant.jsonl");
    std::fs::write(
        &grant,
        r#"{"command_id":"00000000-0000-4000-8000-0000000000a1","actor":"bureau-admin","issued_at":"2026-11-30T00:00:00Z","command":{"type":"access.grant_role","actor_id":"auditor-1","role":"auditor","scope":"district","reason":null}}"#,
    )
    .unwrap();
    let out = anquan(&["import", grant.to_str().unwrap(), "--store", s, "--actor", "bureau-admin"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(check(&public).status.success());
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
    let csv = tiny_csv(dir.path());
    ready_for_csv(s);
    assert!(import_csv(&csv, s).status.success());

    let out = anquan(&["stats", "--year", "2015", "--store", s, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    // 2014: one death; 2015: two (+100%).
    let total = &v["result"]["comparison"]["total"];
    assert_eq!(total["deaths"]["previous"], 1);
    assert_eq!(total["deaths"]["current"], 2);
    assert_eq!(total["deaths"]["percent"], 100.0);
    let table = text(&anquan(&["stats", "--year", "2015", "--store", s]).stdout);
    assert!(table.contains("TOTAL") && table.contains("1→2") && table.contains("+100.0%"), "{table}");
    // As of a time before anything was recorded there is nothing to compare.
    let out = anquan(&["stats", "--year", "2015", "--store", s, "--as-of", "2000-01-01T00:00:00Z", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap_or_default();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["result"]["comparison"]["total"]["deaths"]["current"], 0, "{}", text(&out.stdout));

    let out = anquan(&["trail", "osha-3", "--store", s, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["result"]["four"]["missing"].as_array().unwrap().len(), 4, "{v}");
    assert!(!anquan(&["trail", "nope", "--store", s]).status.success());

    let out = anquan(&["hazards", "--store", s, "--format", "json"]);
    assert!(out.status.success());
    assert!(!anquan(&["hazards", "--store", s, "--format", "xml"]).status.success());
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = anquan(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_str(&text(&out.stdout)).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)))
}

/// Every query command on the demo store answers what the library's projections answer,
/// in each format and language, and `--as-of` shows the district as it was.
#[test]
fn query_commands_agree_with_the_projections_in_every_format() {
    use anquan::projections::accident_stats::GroupBy;
    use anquan::projections::Period;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    demo(s);
    let as_of = "2026-11-30";
    let at: chrono::DateTime<chrono::Utc> = "2026-11-30T15:59:59.999999Z".parse().unwrap();

    let stats = json_of(&[
        "stats",
        "--store",
        s,
        "--as-of",
        as_of,
        "--by",
        "community",
        "--category",
        "road_traffic",
        "--format",
        "json",
    ]);
    let hazards = json_of(&["hazards", "--store", s, "--as-of", as_of, "--overdue", "--listed", "--format", "json"]);
    let incidents = json_of(&["incidents", "--store", s, "--as-of", as_of, "--open", "--format", "json"]);
    let all = {
        let store = anquan::store::EventStore::open(&store).unwrap();
        anquan::projections::rebuild_all(&store).unwrap()
    };
    // 2026 is not over on 2026-11-30: both years are compared up to 30 November (同期).
    let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let (y26, y25) =
        (Period { from: d(2026, 1, 1), to: d(2026, 11, 30) }, Period { from: d(2025, 1, 1), to: d(2025, 11, 30) });
    let expected = all.accident_stats.compare(y26, y25, GroupBy::Community, Some("road_traffic"), None);
    assert_eq!(stats["result"]["comparison"], serde_json::to_value(&expected).unwrap());
    assert_eq!(
        (stats["result"]["partial"].as_bool(), stats["result"]["year_to_date"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(!expected.lines.is_empty());
    let h = &hazards["result"];
    assert_eq!(h["overdue"].as_array().unwrap().len(), all.hazard_ledger.overdue(at).len());
    assert!(!h["overdue"].as_array().unwrap().is_empty(), "the demo has overdue hazards");
    assert_eq!(h["listed_open"].as_array().unwrap().len(), all.hazard_ledger.listed_for_supervision(true).len());
    assert_eq!(h["open"]["total"], all.hazard_ledger.open_hazards().total);
    let days: Vec<i64> = h["overdue"].as_array().unwrap().iter().map(|o| o["days_overdue"].as_i64().unwrap()).collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "most days overdue first: {days:?}");
    let open: Vec<_> =
        all.trails.incidents().filter(|t| !all.trails.four_status(&t.incident_id, at).unwrap().closed).collect();
    let listed = incidents["result"]["incidents"].as_array().unwrap();
    assert_eq!(listed.len(), open.len());
    assert!(listed.iter().all(|i| i["closed"] == false));
    // The figures say what they were computed from.
    assert_eq!(stats["basis"]["on"], "2026-11-30");
    assert_eq!(stats["query"]["kind"], "stats");

    // CSV: code headers whatever the language, one row per line plus the total, numbers as numbers.
    for lang in ["en", "zh"] {
        let out = anquan(&["stats", "--store", s, "--as-of", as_of, "--format", "csv", "--lang", lang]);
        let csv = text(&out.stdout);
        let rows: Vec<&str> = csv.lines().collect();
        let by_category = all.accident_stats.compare(y26, y25, GroupBy::Category, None, None);
        assert_eq!(rows.len(), 1 + by_category.lines.len() + 1, "{csv}");
        assert!(rows[0].starts_with("category,incidents_baseline,incidents_current,incidents_change_pct"), "{csv}");
        let total: Vec<&str> = rows.last().unwrap().split(',').collect();
        assert_eq!(total[0], "total");
        assert_eq!(total[2], by_category.total.current.incidents.to_string());
    }
    let kpi_csv = text(&anquan(&["kpis", "--store", s, "--as-of", as_of, "--format", "csv"]).stdout);
    assert!(kpi_csv.lines().any(|l| l.starts_with("rectification_rate,") && !l.contains('%')), "{kpi_csv}");
    let rates_csv =
        text(&anquan(&["hazards", "--store", s, "--as-of", as_of, "--format", "csv", "--table", "rates"]).stdout);
    assert!(rates_csv.starts_with("series,found,rectified,rectification_rate_pct"), "{rates_csv}");

    // Chinese labels.
    let zh = text(&anquan(&["stats", "--store", s, "--as-of", as_of, "--lang", "zh"]).stdout);
    assert!(zh.contains("合计") && zh.contains("道路交通") && zh.contains("死亡"), "{zh}");
    let zh = text(&anquan(&["incidents", "--store", s, "--lang", "zh"]).stdout);
    assert!(zh.contains("起事故"), "{zh}");

    // Time travel: a year earlier the ledger and the incident list were different, and a
    // stream's history shows only what was recorded by then.
    let earlier = json_of(&["incidents", "--store", s, "--as-of", "2025-11-30", "--format", "json"]);
    let now = json_of(&["incidents", "--store", s, "--as-of", as_of, "--format", "json"]);
    let (earlier, now) = (&earlier["result"]["incidents"], &now["result"]["incidents"]);
    assert!(earlier.as_array().unwrap().len() < now.as_array().unwrap().len());
    let inc = &earlier[0]["incident_id"];
    let stream = format!("incident-{}", inc.as_str().unwrap());
    let full = json_of(&["history", &stream, "--store", s, "--format", "json"]);
    let first_at = full[0]["stored_at"].as_str().unwrap().to_string();
    let cut = json_of(&["history", &stream, "--store", s, "--format", "json", "--as-of", &first_at]);
    assert!(!cut.as_array().unwrap().is_empty() && cut.as_array().unwrap().len() <= full.as_array().unwrap().len());
    assert!(cut.as_array().unwrap().iter().all(|e| e["stored_at"].as_str().unwrap() <= first_at.as_str()));

    // KPIs: each figure is the projection's.
    let kpis = json_of(&["kpis", "--store", s, "--as-of", as_of, "--year", "2025", "--format", "json"]);
    let whole_2025 = Period::year(2025).unwrap();
    let rate = all.accident_stats.rate_per_100k(whole_2025, None, None);
    assert_eq!(kpis["result"]["population"], serde_json::to_value(&rate).unwrap());
    assert_eq!(kpis["result"]["rectification"], serde_json::to_value(all.hazard_ledger.rates(whole_2025)).unwrap());

    // The report: one self-contained page with the demo's charts.
    let report_dir = dir.path().join("report");
    let out =
        anquan(&["report", "--store", s, "--out", report_dir.to_str().unwrap(), "--as-of", as_of, "--lang", "zh"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(report_dir.join("index.html")).unwrap();
    assert!(html.matches("<svg").count() >= 4, "four charts");
    assert!(html.contains("道路交通") && !html.contains("https://"));
    // The one script element is the embedded figures: data for check-figures, never run.
    let data_block = r#"<script type="application/json" id="anquan-figures">"#;
    assert_eq!((html.matches("<script").count(), html.matches(data_block).count()), (1, 1));

    // A trail of a demo incident names its four conditions.
    let trail = json_of(&["trail", inc.as_str().unwrap(), "--store", s, "--format", "json"]);
    assert_eq!(trail["result"]["four"]["conditions"].as_array().unwrap().len(), 4);

    // Bad input: an unknown --by, a malformed --as-of, an unknown incident, category or community.
    for bad in [
        vec!["stats", "--store", s, "--by", "weather"],
        vec!["stats", "--store", s, "--as-of", "yesterday"],
        vec!["trail", "no-such-incident", "--store", s],
        vec!["stats", "--store", s, "--category", "Fire"],
        vec!["hazards", "--store", s, "--community", "C999"],
    ] {
        let out = anquan(&bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(text(&out.stderr).contains("error"), "{bad:?}: {}", text(&out.stderr));
    }
}

/// Every command's help carries an example.
#[test]
fn every_command_has_help_with_an_example() {
    let out = anquan(&["--help"]);
    let help = text(&out.stdout);
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 15, "{help}");
    for c in commands {
        let out = anquan(&[&c, "--help"]);
        assert!(out.status.success(), "{c}");
        assert!(text(&out.stdout).contains("Example: anquan "), "{c} --help has no example:\n{}", text(&out.stdout));
    }
}

/// PIPL erasure from the command line: the person's key is destroyed, exports show the record
/// erased, the chain still verifies and the statistics do not move.
#[test]
fn erase_person_destroys_the_key_and_changes_no_figure() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    demo(s);
    let export = |name: &str| {
        let f = dir.path().join(name);
        let out = anquan(&[
            "export",
            "--store",
            s,
            "--out",
            f.to_str().unwrap(),
            "--reveal-personal",
            "--reason",
            "审计抽查",
            "--actor",
            "bureau-admin",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::read_to_string(f).unwrap()
    };
    let before = export("before.jsonl");
    let person_line = before
        .lines()
        .find(|l| l.contains("\"personal\":\"plain\"") && l.contains("responsible_dealt_with"))
        .expect("the demo names responsible persons");
    let v: serde_json::Value = serde_json::from_str(person_line).unwrap();
    let person = v["event"]["person"]["person_id"].as_str().unwrap().to_string();
    let name = v["event"]["person"]["value"].as_str().unwrap().to_string();
    assert!(!v["payload_hex"].as_str().unwrap().contains(&hex_of(&name)), "the name is not in the payload bytes");
    let stats_before = text(&anquan(&["stats", "--store", s, "--as-of", "2026-11-30", "--format", "json"]).stdout);

    let out = anquan(&["erase-person", &person, "--store", s, "--reason", "本人申请删除", "--actor", "bureau-admin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(anquan(&["verify", "--store", s]).status.success());
    let after = export("after.jsonl");
    let line = after.lines().find(|l| l.contains(&person) && l.contains("responsible_dealt_with")).unwrap();
    assert!(line.contains("\"personal\":\"erased\"") && !line.contains(&name), "{line}");
    assert!(after.contains("\"person.erased\""));
    // Every event before the erasure is byte-identical.
    let envelopes: Vec<&str> = before
        .lines()
        .filter(|l| !l.starts_with("{\"trailer\""))
        .map(|l| l.split(",\"event\":").next().unwrap())
        .collect();
    let kept: Vec<&str> = after.lines().take(envelopes.len()).map(|l| l.split(",\"event\":").next().unwrap()).collect();
    assert_eq!(kept, envelopes);
    let stats_after = text(&anquan(&["stats", "--store", s, "--as-of", "2026-11-30", "--format", "json"]).stdout);
    assert_eq!(stats_after, stats_before);
    // An unknown person: a clear error, nothing written.
    let head = text(&anquan(&["head", "--store", s]).stdout);
    let out = anquan(&["erase-person", "p-nobody", "--store", s, "--reason", "x", "--actor", "bureau-admin"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).starts_with("error: "), "{}", text(&out.stderr));
    assert_eq!(text(&anquan(&["head", "--store", s]).stdout), head);
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `anquan snapshot` writes the five projections at the head; queries then fold only what came
/// after it and answer exactly as before, and a query as of an earlier day still folds from 0.
#[test]
fn queries_answer_the_same_from_snapshots_and_snapshot_folds_from_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    demo(s);
    let queries: [&[&str]; 4] = [
        &["stats", "--store", s, "--by", "community", "--format", "json"],
        &["stats", "--store", s, "--as-of", "2025-06-30", "--format", "json"],
        &["hazards", "--store", s, "--overdue", "--as-of", "2026-11-30", "--format", "json"],
        &["incidents", "--store", s, "--open", "--as-of", "2026-11-30", "--format", "json"],
    ];
    let before: Vec<serde_json::Value> = queries.iter().map(|q| json_of(q)).collect();
    let head = anquan::store::EventStore::open(&store).unwrap().head().next_position;

    let first = anquan(&["snapshot", "--store", s, "--lang", "en"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let said = text(&first.stdout);
    assert!(said.contains(&format!("position {head} (folded from position 0")), "{said}");

    let after: Vec<serde_json::Value> = queries.iter().map(|q| json_of(q)).collect();
    assert_eq!(before, after, "answers changed once snapshots existed");

    // A second snapshot starts from the first: the CLI's fold really loads them.
    let second = anquan(&["snapshot", "--store", s, "--lang", "en"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let said = text(&second.stdout);
    assert!(said.contains(&format!("position {head} (folded from position {head}")), "{said}");
}
