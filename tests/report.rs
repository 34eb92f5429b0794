//! The HTML report on a hand-built history: every figure in the data tables is worked out by
//! hand in the comments beside it; chart geometry is checked against the values it draws; every
//! chart is titled with axis titles and units, marks partial periods, colours indicator bars by
//! time elapsed, keeps its value labels apart and its names whole; the page prints on A4, folds
//! its long tables, is self-contained, escaped and balanced; both languages label it.

mod common;

use anquan::engine::Engine;
use anquan::interface::report::{render_html, write_report, Lang, ReportError, ReportOptions};
use anquan::projections::{rebuild_all, AllProjections};
use common::commands::{close, engine, grade, order, report_hazard, run, t};
use serde_json::json;

const EVIL: &str = "<script>alert(1)</script>东湖";

fn register(e: &Engine, id: &str, name: &str) {
    run(
        e,
        "district",
        "2023-01-02T02:00:00Z",
        json!({"type": "community.register", "community_id": id, "name": name, "kind": "urban_street",
               "district": "区", "population": 100_000, "population_as_of": "2023-01-01"}),
    );
}

fn indicator(e: &Engine, id: &str, total: u32) {
    run(
        e,
        "city-gov",
        "2026-01-05T02:00:00Z",
        json!({"type": "community.set_control_indicator", "community_id": id, "year": 2026, "total_deaths": total,
               "per_category": [], "set_on": "2026-01-05", "set_by": "市安委会"}),
    );
}

/// An incident with one minor injury, reported and issued 30 minutes after it occurred.
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
        chrono::Duration::minutes(30),
    );
}

fn hazard(e: &Engine, id: &str, community: &str, category: &str, found: &str) {
    report_hazard(e, id, community, None, category, found);
}

fn grade_and_order(e: &Engine, id: &str, level: &str, at: &str, deadline: &str) {
    grade(e, id, level, at);
    order(e, id, at, deadline);
}

/// The history every test reads; the as-of instant is 2026-06-30T04:00Z (12:00 CST).
fn history() -> (tempfile::TempDir, AllProjections) {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    register(&e, "jd-01", EVIL);
    register(&e, "jd-02", "西湖街道");
    indicator(&e, "jd-01", 10);
    indicator(&e, "jd-02", 2);
    // 2023: I0 only (falls out of the chart: three latest years are 2024–2026).
    incident(&e, "I0", "jd-01", "production", "2023-06-01T02:00:00Z", 1, 0, 0);
    // 2024: production 2 deaths, 1 serious (+1 minor); fire 1 death (+1 minor).
    incident(&e, "I1", "jd-01", "production", "2024-03-10T02:00:00Z", 2, 1, 50_000);
    incident(&e, "I2", "jd-02", "fire", "2024-05-05T02:00:00Z", 1, 0, 0);
    // 2025: production 1 death, 2 serious (+1 minor); road traffic in August, no death (+1 minor).
    incident(&e, "I3", "jd-01", "production", "2025-02-02T02:00:00Z", 1, 2, 200_000);
    incident(&e, "I4", "jd-02", "road_traffic", "2025-08-01T02:00:00Z", 0, 0, 0);
    // 2026 to date: production 3 deaths (+1 minor); fire 1 death, 1 serious (+1 minor).
    incident(&e, "I5", "jd-01", "production", "2026-03-01T02:00:00Z", 3, 0, 300_000);
    incident(&e, "I6", "jd-02", "fire", "2026-04-10T02:00:00Z", 1, 1, 0);
    // After the as-of date: in the store, in no figure of the report.
    incident(&e, "I7", "jd-01", "production", "2026-07-15T02:00:00Z", 5, 0, 0);
    // I5 has two of the four.
    run(
        &e,
        "inv-team",
        "2026-03-10T02:00:00Z",
        json!({"type": "incident.determine_cause", "incident_id": "I5", "cause": "防护罩缺失", "evidence": ["报告-1"]}),
    );
    run(
        &e,
        "county-gov",
        "2026-03-20T02:00:00Z",
        json!({"type": "incident.deal_with_responsible", "incident_id": "I5", "person": "张某", "role": "主任",
               "action": "撤职", "evidence": ["决定-7"]}),
    );

    // H1 major, found 2025-01-05, deadline 02-01, closed 01-25: on time.
    hazard(&e, "H1", "jd-01", "fire", "2025-01-05T02:00:00Z");
    grade_and_order(&e, "H1", "major", "2025-01-06T02:00:00Z", "2025-02-01");
    close(&e, "H1", "2025-01-25T02:00:00Z");
    // H2 general, found 2025-01-10, deadline 01-20, closed 02-10: late.
    hazard(&e, "H2", "jd-01", "production", "2025-01-10T02:00:00Z");
    grade_and_order(&e, "H2", "general", "2025-01-10T04:00:00Z", "2025-01-20");
    close(&e, "H2", "2025-02-10T02:00:00Z");
    // H3 major, listed, found 2026-02-15, deadline 03-10, open: overdue.
    hazard(&e, "H3", "jd-02", "fire", "2026-02-15T02:00:00Z");
    grade_and_order(&e, "H3", "major", "2026-02-16T02:00:00Z", "2026-03-10");
    run(
        &e,
        "city-gov",
        "2026-02-17T02:00:00Z",
        json!({"type": "hazard.list_for_supervision", "hazard_id": "H3", "level": "city", "listed_by": "市政府"}),
    );
    // H4 found 2026-03-01, not graded, no deadline, open.
    hazard(&e, "H4", "jd-02", "electricity", "2026-03-01T02:00:00Z");
    // H5 general, found 2026-05-20, deadline 06-10, closed 06-05: on time.
    hazard(&e, "H5", "jd-01", "fire", "2026-05-20T02:00:00Z");
    grade_and_order(&e, "H5", "general", "2026-05-20T04:00:00Z", "2026-06-10");
    close(&e, "H5", "2026-06-05T02:00:00Z");
    // H6 general, found 2026-06-01, deadline 06-20, open: overdue.
    hazard(&e, "H6", "jd-01", "fire", "2026-06-01T02:00:00Z");
    grade_and_order(&e, "H6", "general", "2026-06-01T04:00:00Z", "2026-06-20");

    let all = rebuild_all(e.store()).unwrap();
    (dir, all)
}

fn opts(lang: Lang) -> ReportOptions {
    ReportOptions::new(t("2026-06-30T04:00:00Z"), lang)
}

/// The same instant, the figures for an earlier reference date.
fn opts_on(lang: Lang, on: &str) -> ReportOptions {
    ReportOptions { on: Some(on.parse().unwrap()), ..opts(lang) }
}

// ---- small HTML readers -------------------------------------------------------------------

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The text of a cell: what lies between the opening tag's `>` and the closing tag.
fn cells(row: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = row;
    while let Some(start) = rest.find("<t") {
        let after = &rest[start..];
        let open_end = after.find('>').unwrap();
        let close = after.find("</t").unwrap();
        out.push(unescape(&after[open_end + 1..close]));
        rest = &after[close + 4..];
    }
    out
}

/// Body rows of the table with this id, each as its cells' texts.
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!(r#"<table id="{id}">"#)).unwrap_or_else(|| panic!("no table {id}"));
    let t = &html[start..];
    let t = &t[..t.find("</table>").unwrap()];
    let body = &t[t.find("<tbody>").unwrap() + 7..];
    body.split("<tr>").filter(|r| !r.is_empty()).map(cells).collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter().find(|r| r[0] == first).unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The SVG element with this id.
fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"<svg id="{id}""#)).unwrap_or_else(|| panic!("no svg {id}"));
    let s = &html[start..];
    &s[..s.find("</svg>").unwrap()]
}

fn attr(tag: &str, name: &str) -> f64 {
    let key = format!(r#" {name}=""#);
    let at = tag.find(&key).unwrap_or_else(|| panic!("no {name} in {tag}")) + key.len();
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

/// Opening tags of an element kind that carry a class starting with `class`.
fn elements<'a>(svg: &'a str, element: &str, class: &str) -> Vec<&'a str> {
    let open = format!(r#"<{element} class="{class}"#);
    svg.match_indices(&open).map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()]).collect()
}

/// Tags balance: every element opened is closed in order (void `meta`, self-closing `/>`).
fn assert_balanced(html: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unterminated tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("closing {name} with nothing open"));
            assert_eq!(open, name, "closing </{name}> while <{open}> is open");
            continue;
        }
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        assert!(!name.is_empty(), "stray '<' before {tag:?}");
        if tag.ends_with('/') || name == "meta" {
            continue;
        }
        stack.push(name);
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
}

fn assert_self_contained(html: &str) {
    // The one script element allowed is the embedded figures: data, never run.
    let html = &html.replace(r#"<script type="application/json" id="anquan-figures">"#, "<data-block>");
    for bad in ["http://", "https://", "src=", "<script", "<link", "url(", "@import", "NaN", "inf\""] {
        assert!(!html.contains(bad), "page contains {bad:?}");
    }
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(html.matches("<style>").count(), 1);
}

// ---- tests --------------------------------------------------------------------------------

#[test]
fn tables_show_the_projection_figures_worked_out_by_hand() {
    let (_dir, all) = history();
    let html = render_html(&all, &opts(Lang::En));

    // Headline: 2026-01-01..06-30 holds I5, I6: 2 incidents, 3+1 = 4 deaths, (0+1)+(1+1) = 3
    // injuries, 300,000 yuan. 2025-01-01..06-30 holds I3 only (I4 is in August): 1, 1, 2+1 = 3,
    // 200,000. Changes: +1 (+100%), +3 (+300%), 0 (0%), +100,000 (+50%).
    let h = table(&html, "headline-table");
    assert_eq!(strs(row(&h, "Incidents")), ["Incidents", "2", "1", "+1", "+100.0%"]);
    assert_eq!(strs(row(&h, "Deaths")), ["Deaths", "4", "1", "+3", "+300.0%"]);
    assert_eq!(strs(row(&h, "Injuries")), ["Injuries", "3", "3", "0", "0.0%"]);
    assert_eq!(
        strs(row(&h, "Direct economic loss (yuan)")),
        ["Direct economic loss (yuan)", "300,000", "200,000", "+100,000", "+50.0%"]
    );

    // Chart 1: years 2024, 2025, 2026 (2023 is the fourth latest), categories in catalog order;
    // cells are deaths, injuries per year. I7 (July 2026) is after the as-of date.
    let c = table(&html, "table-casualties");
    assert_eq!(c.len(), 3);
    assert_eq!(strs(&c[0]), ["production / work safety", "2", "2", "1", "3", "3", "1"]);
    assert_eq!(strs(&c[1]), ["road traffic", "0", "0", "0", "1", "0", "0"]);
    assert_eq!(strs(&c[2]), ["fire", "1", "1", "0", "0", "1", "2"]);
    assert!(html.contains(">2024 Deaths<") && !html.contains(">2023 Deaths<"));
    assert!(html.contains(">2026 (to 06-30, partial) Deaths<"));

    // Rectification rates, 2026-01-01..06-30: found H3, H4, H5, H6 → 4, closed by 06-30: H5 →
    // 25.0%; due H3 (03-10), H5 (06-10), H6 (06-20), on time H5 → 1/3 = 33.3%. Major: H3
    // found and due, open → 0.0%, 0.0%. Listed: H3, the same.
    let r = table(&html, "table-rates");
    assert_eq!(strs(row(&r, "All hazards")), ["All hazards", "4", "1", "25.0%", "3", "1", "33.3%"]);
    assert_eq!(strs(row(&r, "Major hazards")), ["Major hazards", "1", "0", "0.0%", "1", "0", "0.0%"]);
    assert_eq!(strs(row(&r, "Listed for supervision")), ["Listed for supervision", "1", "0", "0.0%", "1", "0", "0.0%"]);

    // Chart 2: 24 months 2024-07..2026-06. 2025-01: found H1, H2, closed H1; 2025-02: closed
    // H2; 2026-02 found H3; 03 H4; 05 H5; 06 found H6, closed H5; all else 0.
    let f = table(&html, "table-hazard-flow");
    assert_eq!(f.len(), 24);
    assert_eq!(f[0][0], "2024-07");
    assert_eq!(f[23][0], "2026-06");
    let flow = |m: &str| strs(&row(&f, m)[1..]).join("/");
    assert_eq!(flow("2025-01"), "2/1");
    assert_eq!(flow("2025-02"), "0/1");
    assert_eq!(flow("2026-02"), "1/0");
    assert_eq!(flow("2026-03"), "1/0");
    assert_eq!(flow("2026-05"), "1/0");
    assert_eq!(flow("2026-06"), "1/1");
    let total_found: u32 = f.iter().map(|r| r[1].parse::<u32>().unwrap()).sum();
    assert_eq!(total_found, 6);

    // Chart 3: 2024 Q3..2026 Q2. 2025 Q1: due H1 (02-01), H2 (01-20), on time H1 → 50%; major
    // H1 → 1/1 = 100%. 2026 Q1: H3 due 03-10, open → 0%, major too. 2026 Q2 to 06-30: H5 (on
    // time), H6 (open) → 50%; no major due → "—". Quarters with nothing due → "—".
    let q = table(&html, "table-on-time");
    assert_eq!(q.len(), 8);
    assert_eq!(q[0][0], "2024 Q3");
    assert_eq!(strs(row(&q, "2025 Q1")), ["2025 Q1", "2", "1", "50.0%", "1", "1", "100.0%"]);
    assert_eq!(strs(row(&q, "2026 Q1")), ["2026 Q1", "1", "0", "0.0%", "1", "0", "0.0%"]);
    assert_eq!(strs(row(&q, "2026 Q2")), ["2026 Q2", "2", "1", "50.0%", "0", "0", "—"]);
    assert_eq!(strs(row(&q, "2025 Q3")), ["2025 Q3", "0", "0", "—", "0", "0", "—"]);

    // Chart 4: 2026-06-30 is day 181 of 365 → 49.6%. The district first: 4 deaths of 12 →
    // 33.3%, behind; then the largest consumption first: jd-02: I6 1 death of 2 → 50.0%, ahead
    // of time; jd-01: I5 3 deaths of 10 → 30.0%, behind.
    let i = table(&html, "table-indicator");
    assert_eq!(strs(&i[0]), ["District total", "12", "4", "33.3%", "49.6%", "no"]);
    assert_eq!(strs(&i[1]), ["西湖街道 (jd-02)", "2", "1", "50.0%", "49.6%", "yes"]);
    assert_eq!(strs(&i[2]), [&format!("{EVIL} (jd-01)") as &str, "10", "3", "30.0%", "49.6%", "no"]);

    // Open: H3, H4, H6 → 3, major H3 → 1; overdue at the as-of instant: H3 (deadline 03-10 ended
    // 03-10T16:00Z → 111 d 12 h → 111) and H6 (06-20T16:00Z → 9 d 12 h → 9).
    let s = table(&html, "table-open-summary");
    assert_eq!(strs(&s.iter().map(|r| r[1].clone()).collect::<Vec<_>>()), ["3", "1", "2"]);
    let by = table(&html, "table-open-by-community");
    assert_eq!(strs(&by[0][1..]), ["1", "1"]); // jd-01: H6
    assert_eq!(strs(&by[1]), ["西湖街道 (jd-02)", "2", "1"]); // H3, H4; H3 overdue
    let o = table(&html, "table-overdue");
    assert_eq!(strs(&o[0]), ["H3", "西湖街道 (jd-02)", "major hazard", "yes", "2026-03-10", "111"]);
    assert_eq!(strs(&o[1]), ["H6", &format!("{EVIL} (jd-01)") as &str, "general hazard", "no", "2026-06-20", "9"]);

    // Four don't-let-go: every incident reported by the as-of instant is open; I5 has the cause
    // and the responsible dealt with. I5 reported 2026-03-01T02:30Z → 121 d 1.5 h → 121 days.
    // Longest open first: I0 first, I6 last; I7 was not yet reported.
    let four = table(&html, "table-four");
    assert_eq!(four.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["I0", "I1", "I2", "I3", "I4", "I5", "I6"]);
    assert_eq!(
        strs(row(&four, "I5")),
        [
            "I5",
            &format!("{EVIL} (jd-01)") as &str,
            "production / work safety",
            "121",
            "corrective measures implemented; education conducted"
        ]
    );
    assert_eq!(row(&four, "I6")[4].matches("; ").count(), 3);
}

#[test]
fn bars_and_points_sit_where_their_values_put_them() {
    let (_dir, all) = history();
    let html = render_html(&all, &opts(Lang::Zh));

    // Deaths by category: every bar starts on the one axis and is value × the same scale long.
    let deaths = svg(&html, "chart-deaths");
    let bars = elements(deaths, "rect", "bar");
    assert_eq!(bars.len(), 9); // 3 categories × 3 years
    let axis_x = attr(bars[0], "x");
    let longest = bars.iter().copied().max_by(|a, b| attr(a, "data-value").total_cmp(&attr(b, "data-value"))).unwrap();
    let per_unit = attr(longest, "width") / attr(longest, "data-value");
    assert_eq!(attr(longest, "data-value"), 3.0); // production 2026
    for b in &bars {
        assert!((attr(b, "x") - axis_x).abs() < 0.02, "{b}");
        assert!((attr(b, "width") - attr(b, "data-value") * per_unit).abs() < 0.02, "{b}");
    }
    // The axis tick for 3 sits at the end of the longest bar.
    let tick3 = elements(deaths, "line", "grid").into_iter().find(|l| attr(l, "data-tick") == 3.0).unwrap();
    assert!((attr(tick3, "x1") - (axis_x + attr(longest, "width"))).abs() < 0.02);

    // Control indicator: the district 33.3%, jd-02 50%, jd-01 30%: 50% is 5/3 the length of
    // 30%; the time-progress line at 49.59%.
    let ind = svg(&html, "chart-indicator");
    let bars = elements(ind, "rect", "bar");
    assert_eq!(bars.iter().map(|b| attr(b, "data-value")).collect::<Vec<_>>(), [33.33, 50.0, 30.0]);
    let (w50, w30) = (attr(bars[1], "width"), attr(bars[2], "width"));
    assert!((w50 / w30 - 5.0 / 3.0).abs() < 1e-3);
    let grid = elements(ind, "line", "grid");
    let x_of = |tick: f64| attr(grid.iter().find(|l| attr(l, "data-tick") == tick).unwrap(), "x1");
    let (x0, x100) = (x_of(0.0), x_of(100.0));
    assert!((w50 - (x100 - x0) / 2.0).abs() < 0.02);
    let reference = elements(ind, "line", "line ref")[0];
    let elapsed = 181.0 / 365.0;
    assert!((attr(reference, "x1") - (x0 + (x100 - x0) * elapsed)).abs() < 0.02);

    // On-time rate: points at 50%, 0%, 50% for all hazards; 50% halfway up the 0–100 axis.
    let rate = svg(&html, "chart-on-time");
    let dots = elements(rate, "circle", "dot s0");
    assert_eq!(dots.iter().map(|d| attr(d, "data-value")).collect::<Vec<_>>(), [50.0, 0.0, 50.0]);
    let grid = elements(rate, "line", "grid");
    let y_of = |tick: f64| attr(grid.iter().find(|l| attr(l, "data-tick") == tick).unwrap(), "y1");
    assert!((attr(dots[0], "cy") - (y_of(0.0) + y_of(100.0)) / 2.0).abs() < 0.02);
    assert!((attr(dots[1], "cy") - y_of(0.0)).abs() < 0.02);
    // Undefined quarters are gaps that break the line: 2025 Q1 stands alone (a dot, no line);
    // 2026 Q1–Q2 make the one polyline.
    assert_eq!(elements(rate, "polyline", "line s0").len(), 1);
    // Major hazards: 2025 Q1 100%, 2026 Q1 0%.
    let major = elements(rate, "circle", "dot s1");
    assert_eq!(major.iter().map(|d| attr(d, "data-value")).collect::<Vec<_>>(), [100.0, 0.0]);
    assert!((attr(major[0], "cy") - y_of(100.0)).abs() < 0.02);

    // Found/closed: the count axis puts found = 2 (2025-01) twice as high as 1 above the baseline.
    let flow = svg(&html, "chart-hazard-flow");
    let found = elements(flow, "circle", "dot s0");
    assert_eq!(found.len(), 24);
    let base = attr(found[0], "cy"); // 2024-07: 0
    let two = found.iter().find(|d| attr(d, "data-value") == 2.0).unwrap();
    let one = found.iter().find(|d| attr(d, "data-value") == 1.0).unwrap();
    assert!(((base - attr(two, "cy")) - 2.0 * (base - attr(one, "cy"))).abs() < 0.02);
}

#[test]
fn both_languages_label_the_page() {
    let (_dir, all) = history();
    let zh = render_html(&all, &opts(Lang::Zh));
    let en = render_html(&all, &opts(Lang::En));
    assert!(zh.contains(r#"<html lang="zh-CN">"#));
    for label in
        ["分类别死亡与受伤人数（按年度）", "按期整改率", "时序进度", "生产安全（工作场所）", "重大事故隐患", "四不放过"]
    {
        assert!(zh.contains(label), "zh lacks {label}");
    }
    assert!(zh.contains("2025年第1季度"));
    assert!(en.contains(r#"<html lang="en">"#));
    for label in [
        "Deaths and injuries by category and year",
        "Hazards found and closed by month",
        "On-time rectification rate by quarter",
        "Elapsed share of year",
        "production / work safety",
        "four don&#39;t-let-go",
    ] {
        assert!(en.contains(label), "en lacks {label}");
    }
    assert!(!en.contains("时序进度"));
    // The zh headline table carries the same figures.
    assert_eq!(strs(row(&table(&zh, "headline-table"), "死亡人数")), ["死亡人数", "4", "1", "+3", "+300.0%"]);
}

#[test]
fn data_strings_are_escaped_and_the_page_is_self_contained_and_balanced() {
    let (_dir, all) = history();
    for lang in [Lang::Zh, Lang::En] {
        let mut o = opts(lang);
        o.title = Some("Report <b>\"x\" & 'y'</b>".to_string());
        let html = render_html(&all, &o);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;东湖"));
        assert!(html.contains("<title>Report &lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</title>"));
        assert!(!html.contains("<b>"));
        assert_self_contained(&html);
        assert_balanced(&html);
        // deaths, injuries, indicator, flow, on-time, streaks (no project: no project chart)
        assert_eq!(html.matches("<svg").count(), 6);
        assert!(html.starts_with("<!DOCTYPE html>"));
    }
}

#[test]
fn an_empty_store_renders_a_valid_page_with_no_data_notes() {
    let all = AllProjections::default();
    let html = render_html(&all, &opts(Lang::Zh));
    assert_self_contained(&html);
    assert_balanced(&html);
    // Headline, four charts, open hazards, streaks, projects, four don't-let-go.
    assert_eq!(html.matches("暂无数据").count(), 9);
    assert!(!html.contains("<svg"));
    assert_eq!(strs(row(&table(&html, "headline-table"), "事故起数")), ["事故起数", "0", "0", "0", "—"]);
}

#[test]
fn write_report_creates_the_folder_and_index_html() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports").join("2026-06");
    let html = render_html(&AllProjections::default(), &opts(Lang::En));
    let file = write_report(&out, &html).unwrap();
    assert_eq!(file, out.join("index.html"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), html);
    // Writing again replaces the page.
    write_report(&out, "<!DOCTYPE html>").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "<!DOCTYPE html>");
}

#[test]
fn an_unwritable_folder_gives_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a folder should be: creating a folder beneath it fails, also for root.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("report");
    let err = write_report(&out, "x").unwrap_err();
    assert!(matches!(&err, ReportError::CreateDir { path, .. } if path == &out), "{err:?}");
    assert!(err.to_string().contains(&out.display().to_string()), "{err}");
    // A folder where index.html should be: the write fails, naming the file.
    let taken = dir.path().join("taken");
    std::fs::create_dir_all(taken.join("index.html")).unwrap();
    let err = write_report(&taken, "x").unwrap_err();
    assert!(matches!(&err, ReportError::Write { path, .. } if path == &taken.join("index.html")), "{err:?}");
    assert!(err.to_string().contains("index.html"));
}

// ---- a briefing's reading: titles, units, partial periods, colours, labels, print ---------

/// The texts of the elements of a class (their content up to the next tag).
fn texts<'a>(svg: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!(r#"class="{class}""#);
    svg.match_indices(&open)
        .map(|(i, _)| {
            let rest = &svg[i..];
            let start = rest.find('>').unwrap() + 1;
            &rest[start..start + rest[start..].find('<').unwrap()]
        })
        .collect()
}

fn chart_ids(html: &str) -> Vec<&str> {
    html.match_indices(r#"<svg id=""#)
        .map(|(i, _)| {
            let rest = &html[i + 9..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn every_chart_has_a_visible_title_and_axis_titles_with_units() {
    let (_dir, all) = history();
    for (lang, units) in [
        (Lang::En, ["(persons)", "(count)", "(%)"].as_slice()),
        (Lang::Zh, ["（人）", "（项）", "（%）", "（起）"].as_slice()),
    ] {
        let html = render_html(&all, &opts(lang));
        let ids = chart_ids(&html);
        assert_eq!(ids.len(), 6, "{ids:?}");
        for id in ids {
            let chart = svg(&html, id);
            let title = texts(chart, "chart-title");
            assert_eq!(title.len(), 1, "{id}: one visible title");
            assert!(!title[0].trim().is_empty(), "{id}");
            assert!(chart.contains(&format!(r#"<title id="{id}-title">{}</title>"#, title[0])), "{id}");
            let x = texts(chart, "axis-title x");
            let y = texts(chart, "axis-title y");
            assert_eq!((x.len(), y.len()), (1, 1), "{id}: both axes titled");
            assert!(!x[0].is_empty() && !y[0].is_empty(), "{id}");
            assert!(
                [x[0], y[0]].iter().any(|t| units.iter().any(|u| t.ends_with(u))),
                "{id}: no unit in the axis titles {x:?} {y:?}"
            );
        }
    }
}

#[test]
fn partial_periods_are_marked_never_drawn_as_whole() {
    let (_dir, all) = history();
    // 2026-06-30 ends a month and a quarter, not the year: the year alone is partial.
    let html = render_html(&all, &opts(Lang::En));
    let deaths = svg(&html, "chart-deaths");
    let bars = elements(deaths, "rect", "bar");
    let partial: Vec<&&str> = bars.iter().filter(|b| b.contains(" partial")).collect();
    assert_eq!(partial.len(), 3, "the three 2026 bars"); // production, road traffic, fire
    assert!(partial.iter().all(|b| b.contains("bar s2")));
    assert!(texts(deaths, "legend").contains(&"2026 (to 06-30, partial)"));
    assert!(!svg(&html, "chart-hazard-flow").contains("partial-band"));
    assert!(!svg(&html, "chart-on-time").contains("partial-band"));

    // On 2026-06-20 the month and the quarter are partial too: shaded, hollow, dashed, said.
    let html = render_html(&all, &opts_on(Lang::En, "2026-06-20"));
    let flow = svg(&html, "chart-hazard-flow");
    let band = elements(flow, "rect", "partial-band");
    assert_eq!(band.len(), 1);
    assert!(band[0].contains(r#"data-partial="2026-06""#));
    let dots = elements(flow, "circle", "dot s0");
    let last = dots.last().unwrap();
    assert!(last.contains("partial"), "{last}");
    assert!(dots[..dots.len() - 1].iter().all(|d| !d.contains("partial")));
    let (left, right) = (attr(band[0], "x"), attr(band[0], "x") + attr(band[0], "width"));
    assert!(left < attr(last, "cx") && attr(last, "cx") < right);
    assert_eq!(texts(flow, "partial-note"), ["partial: to 2026-06-20"]);
    assert_eq!(elements(flow, "polyline", "line s0 partial").len(), 1);
    assert_eq!(table(&html, "table-hazard-flow").last().unwrap()[0], "2026-06 (partial)");
    assert!(svg(&html, "chart-on-time").contains(r#"data-partial="2026 Q2""#));
    assert_eq!(table(&html, "table-on-time").last().unwrap()[0], "2026 Q2 (partial)");
    let zh = render_html(&all, &opts_on(Lang::Zh, "2026-06-20"));
    assert_eq!(texts(svg(&zh, "chart-hazard-flow"), "partial-note"), ["截至2026-06-20（不完整）"]);
}

#[test]
fn indicator_bars_are_red_ahead_of_time_elapsed_and_green_behind_it() {
    let (_dir, all) = history();
    // On 06-30 (49.6% elapsed) jd-02 (50%) is ahead, jd-01 (30%) and the district (33.3%) not;
    // on 03-05 (17.5% elapsed) jd-01 has used 30% (I5, 03-01) and is ahead, jd-02 0% is not.
    for (o, ahead) in
        [(opts(Lang::En), vec![false, true, false]), (opts_on(Lang::En, "2026-03-05"), vec![true, true, false])]
    {
        let html = render_html(&all, &o);
        let ind = svg(&html, "chart-indicator");
        let elapsed = attr(elements(ind, "line", "line ref")[0], "data-value");
        let bars = elements(ind, "rect", "bar");
        assert_eq!(bars.len(), 3);
        let seen: Vec<bool> = bars.iter().map(|b| b.contains(" ahead")).collect();
        assert_eq!(seen, ahead, "{bars:?}");
        for b in &bars {
            let is_ahead = attr(b, "data-value") > elapsed;
            assert_eq!(b.contains(" ahead"), is_ahead, "{b}");
            assert_eq!(b.contains(" behind"), !is_ahead, "{b}");
        }
    }
    let html = render_html(&all, &opts(Lang::En));
    assert!(html.contains(".bar.ahead{fill:#c0392b}") && html.contains(".bar.behind{fill:#27ae60}"));
}

/// Estimated box of a value label (start-anchored, 10 px font): Latin glyphs 0.62 em wide,
/// others 1 em, as the page's fonts draw digits and signs no wider.
fn label_box(tag_and_text: (&str, &str)) -> (f64, f64, f64, f64) {
    let (tag, text) = tag_and_text;
    let (x, y) = (attr(tag, "x"), attr(tag, "y"));
    let w: f64 = text.chars().map(|c| if c.is_ascii() { 6.2 } else { 10.0 }).sum();
    (x, y - 8.0, x + w, y + 2.0)
}

/// No two value labels of any chart overlap, computed from their SVG coordinates.
fn assert_value_labels_apart(html: &str) {
    for id in chart_ids(html) {
        let chart = svg(html, id);
        let boxes: Vec<(f64, f64, f64, f64)> =
            elements(chart, "text", "value").into_iter().zip(texts(chart, "value")).map(label_box).collect();
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
                assert!(!overlap, "{id}: value labels overlap: {a:?} {b:?}");
            }
        }
    }
}

#[test]
fn value_labels_never_overlap() {
    let (_dir, all) = history();
    for lang in [Lang::Zh, Lang::En] {
        let html = render_html(&all, &opts(lang));
        // Every bar has its label.
        assert_eq!(elements(svg(&html, "chart-deaths"), "text", "value").len(), 9);
        assert_value_labels_apart(&html);
    }
}

#[test]
fn long_names_are_wrapped_in_full_never_cut() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let long = "Yangtze River Port Authority Residents' Community of the East Quay and Warehouses";
    register(&e, "jd-09", long);
    register(&e, "jd-10", "长江港务集团东码头及仓储区居民社区委员会第一网格");
    indicator(&e, "jd-09", 4);
    indicator(&e, "jd-10", 4);
    let all = rebuild_all(e.store()).unwrap();
    for lang in [Lang::En, Lang::Zh] {
        let html = render_html(&all, &opts(lang));
        let ind = svg(&html, "chart-indicator");
        assert!(!ind.contains('…'), "nothing is cut");
        for name in [format!("{long} (jd-09)"), "长江港务集团东码头及仓储区居民社区委员会第一网格 (jd-10)".into()]
        {
            let escaped = name.replace('\'', "&#39;");
            let at = ind.find(&format!("<title>{escaped}</title>")).unwrap_or_else(|| panic!("{name} titled in full"));
            let label = &ind[at..at + ind[at..].find("</text>").unwrap()];
            let lines: Vec<String> = label
                .match_indices("<tspan")
                .map(|(i, _)| {
                    let rest = &label[i..];
                    let start = rest.find('>').unwrap() + 1;
                    unescape(&rest[start..start + rest[start..].find('<').unwrap()])
                })
                .collect();
            assert!(lines.len() > 1, "{name} wraps: {lines:?}");
            assert_eq!(lines.concat(), name, "the lines give the whole name");
            // Every line ends left of the plot, where the bars begin.
            let plot_left = attr(elements(ind, "rect", "bar")[0], "x");
            let right = attr(&label[label.find("<tspan").unwrap()..], "x");
            assert!(right < plot_left, "labels end before the bars");
        }
    }
}

#[test]
fn the_page_prints_on_a4_with_page_breaks_and_folds_long_tables_behind_their_charts() {
    let (_dir, all) = history();
    let html = render_html(&all, &opts(Lang::En));
    for rule in
        ["@page{size:A4", "@media print{", "break-inside:avoid-page", "break-before:page", "break-after:avoid-page"]
    {
        assert!(html.contains(rule), "no {rule}");
    }
    // The figures behind each chart and the long listings are folded; the short summaries not.
    let folded = |id: &str| {
        let at = html.find(&format!(r#"<table id="{id}">"#)).unwrap_or_else(|| panic!("no table {id}"));
        let before = &html[..at];
        before.rfind("<details").is_some_and(|d| before.rfind("</details>").is_none_or(|c| c < d))
    };
    for id in [
        "table-casualties",
        "table-indicator",
        "table-hazard-flow",
        "table-on-time",
        "table-open-by-community",
        "table-overdue",
        "table-streaks",
        "table-four",
    ] {
        assert!(folded(id), "{id} is not folded");
    }
    for id in ["headline-table", "table-open-summary", "table-rates"] {
        assert!(!folded(id), "{id} is folded");
    }
    // Each fold says what it holds: the deaths chart's table has 3 rows.
    assert!(html.contains("<summary>Data table (3 rows)</summary><table id=\"table-casualties\">"));
}

#[test]
fn streaks_by_category_and_the_communities_short_of_them_are_shown() {
    let (_dir, all) = history();
    let html = render_html(&all, &opts(Lang::En));
    // Both communities registered 2023-01-02. All categories on 2026-06-30: jd-01's last death
    // 2026-03-01 (I5), jd-02's 2026-04-10 (I6): neither has a whole year → 0/2 for ≥1, ≥2, ≥3.
    // Fire: jd-01 never had a fire death (since 2023-01-02: 3 whole years); jd-02's last fire
    // death 2026-04-10 → fire 1/2 for each length. Road traffic: no death ever → 2/2.
    let rows = table(&html, "table-streaks");
    assert_eq!(strs(row(&rows, "All categories")), ["All categories", "0/2", "0.0%"]);
    assert_eq!(strs(row(&rows, "fire")), ["fire", "1/2", "50.0%"]);
    assert_eq!(strs(row(&rows, "road traffic")), ["road traffic", "2/2", "100.0%"]);
    let chart = svg(&html, "chart-streaks");
    assert_eq!(texts(chart, "legend"), ["≥1 whole year", "≥2 whole years", "≥3 whole years"]);
    // The short ones, latest death first: jd-02 (04-10), then jd-01 (03-01).
    let short = table(&html, "table-short-streaks");
    assert_eq!(short.iter().map(|r| r[4].as_str()).collect::<Vec<_>>(), ["2026-04-10", "2026-03-01"]);
}

/// The demo district's report, as `anquan report` writes it, in both languages: many
/// categories, twenty communities, thirty projects; labels apart, nothing cut, nothing external.
#[test]
fn the_demo_districts_report_keeps_its_labels_apart_and_its_names_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_anquan"))
            .args(args)
            .env_remove("ANQUAN_STORE")
            .env_remove("ANQUAN_ACTOR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let s = store.to_str().unwrap();
    run(&["demo", "--store", s, "--scale", "0.05", "--lang", "en"]);
    for lang in ["en", "zh"] {
        let out = dir.path().join(lang);
        run(&["report", "--store", s, "--out", out.to_str().unwrap(), "--lang", lang, "--on", "2026-11-20"]);
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert_self_contained(&html);
        assert_balanced(&html);
        assert!(!html.contains('…'), "{lang}: a label is cut");
        let ids = chart_ids(&html);
        assert!(ids.len() >= 7, "{lang}: {ids:?}");
        assert_value_labels_apart(&html);
        // November is partial on the 20th; every chart has its axes titled.
        assert!(svg(&html, "chart-hazard-flow").contains(r#"data-partial="2026-11""#));
        for id in ids {
            assert_eq!(texts(svg(&html, id), "axis-title x").len(), 1, "{lang} {id}");
        }
    }
}
