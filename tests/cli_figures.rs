//! Figures that can be proven: every JSON answer carries what it was computed from, and
//! `anquan check-figures` recomputes it from the log (which may have grown since), naming each
//! figure that no longer holds.

mod cli_common;

use cli_common::{anquan, text};

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

/// The HTML report embeds its figures with their basis and says where they came from;
/// `check-figures` confirms them from the log and names a figure altered in the page.
#[test]
fn check_figures_confirms_a_report_and_names_a_figure_altered_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let s = store.to_str().unwrap();
    let out = anquan(&["demo", "--store", s, "--scale", "0.02", "--lang", "en"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = dir.path().join("report");
    let out = anquan(&[
        "report",
        "--store",
        s,
        "--out",
        report.to_str().unwrap(),
        "--lang",
        "zh",
        "--on",
        "2026-05-31",
        "--as-of",
        "2026-11-30",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = report.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("统计日期 2026-05-31"), "the provenance names the reference date");
    assert!(html.contains("anquan 0."), "and the version");

    let check = |file: &std::path::Path| anquan(&["check-figures", file.to_str().unwrap(), "--store", s]);
    let ok = check(&page);
    assert!(ok.status.success(), "{}{}", text(&ok.stdout), text(&ok.stderr));
    let said = text(&ok.stdout);
    for kind in ["stats", "kpis", "hazards", "projects", "streaks"] {
        assert!(said.contains(&format!("{kind} (computed from")), "{kind} checked: {said}");
    }
    assert!(!said.contains("NOT"), "{said}");

    // The embedded figures are the ones drawn: the stats answer's deaths this year to date.
    let open = r#"<script type="application/json" id="anquan-figures">"#;
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    let figures: serde_json::Value = serde_json::from_str(&html[start..end].replace("\\u003c", "<")).unwrap();
    assert_eq!(figures[0]["basis"]["on"], "2026-05-31");
    let deaths = figures[0]["result"]["comparison"]["total"]["deaths"]["current"].as_u64().unwrap();
    let headline = format!("<tr><th scope=\"row\">死亡人数</th><td>{deaths}</td>");
    assert!(html.contains(&headline), "the headline shows the embedded figure {deaths}");

    // One figure altered in the page: named, the check fails.
    let mut altered = figures.clone();
    altered[0]["result"]["comparison"]["total"]["deaths"]["current"] = serde_json::json!(deaths + 2);
    let bad_html = format!("{}{}{}", &html[..start], serde_json::to_string(&altered).unwrap(), &html[end..]);
    let bad = dir.path().join("altered.html");
    std::fs::write(&bad, bad_html).unwrap();
    let out = check(&bad);
    assert!(!out.status.success());
    let said = text(&out.stdout);
    assert!(said.contains("/comparison/total/deaths/current"), "{said}");
    assert!(said.contains(&format!("published {}, recomputed {deaths}", deaths + 2)), "{said}");
}
