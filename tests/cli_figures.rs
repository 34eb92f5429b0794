//! Figures that can be proven: every JSON answer carries what it was computed from, and
//! `anquan check-figures` recomputes it from the log (which may have grown since), naming each
//! figure that no longer holds.

use std::process::{Command, Output};

fn anquan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anquan"))
        .args(args)
        .env_remove("ANQUAN_STORE")
        .env_remove("ANQUAN_ACTOR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn check_figures_names_an_altered_figure_and_holds_after_the_log_grows() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let out = anquan(&["demo", "--store", s, "--scale", "0.02", "--lang", "en"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved = dir.path().join("stats.json");
    let out = anquan(&["stats", "--store", s, "--on", "2026-05-31", "--as-of", "2026-11-30", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(&saved, &out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["basis"]["on"], "2026-05-31");
    assert_eq!(v["result"]["current"]["to"], "2026-05-31", "year to date up to the reference date");

    let check = |file: &std::path::Path| anquan(&["check-figures", file.to_str().unwrap(), "--store", s]);
    let ok = check(&saved);
    assert!(ok.status.success(), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).contains("figures hold"), "{}", text(&ok.stdout));

    // The log grows (a grant): the figures were computed from its prefix and still hold.
    let grant = dir.path().join("grant.jsonl");
    std::fs::write(
        &grant,
        r#"{"command_id":"00000000-0000-4000-8000-0000000000b1","actor":"bureau-admin","issued_at":"2026-11-30T00:00:00Z","command":{"type":"access.grant_role","actor_id":"auditor-9","role":"auditor","scope":"district","reason":null}}"#,
    )
    .unwrap();
    let out = anquan(&["import", grant.to_str().unwrap(), "--store", s, "--actor", "bureau-admin"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(check(&saved).status.success());

    // One figure altered: named by its pointer, the check fails.
    let mut altered = v.clone();
    let deaths = altered["result"]["comparison"]["total"]["deaths"]["current"].as_u64().unwrap();
    altered["result"]["comparison"]["total"]["deaths"]["current"] = serde_json::json!(deaths + 3);
    let bad = dir.path().join("altered.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&altered).unwrap()).unwrap();
    let out = check(&bad);
    assert!(!out.status.success());
    let said = text(&out.stdout);
    assert!(said.contains("/comparison/total/deaths/current"), "{said}");
    assert!(said.contains(&format!("published {}, recomputed {deaths}", deaths + 3)), "{said}");

    // Figures of another log: the basis does not match.
    let mut other = v.clone();
    other["basis"]["head_hash"] = serde_json::json!("00".repeat(32));
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    let out = check(&foreign);
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("the log differs"), "{}", text(&out.stdout));
}
