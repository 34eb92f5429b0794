//! The page: [`render_html`] puts the head, the style sheet and the sections together, in order.

use std::fmt::Write as _;

use super::figures::{
    casualties_by_category, four_incomplete, hazards_found_closed, headline, indicator, on_time_rate, open_and_overdue,
    projects, streaks,
};
use super::format::{escape, grouped};
use super::labels::{Ctx, Labels, EN, ZH};
use super::options::{Lang, ReportOptions};
use crate::events::time::{cst, cst_date, end_of_cst_day};
use crate::events::Catalog;
use crate::interface::query::{
    answer, Answer, Figures, HazardsQuery, KpisQuery, ProjectsQuery, Query, StatsQuery, StreaksAnswer, StreaksQuery,
};
use crate::projections::AllProjections;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.meta,.note,footer{color:#555;font-size:.9em}.nodata{color:#777;font-style:italic}.provenance{word-break:break-all}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0;white-space:nowrap}
th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}thead th{background:#f3f3f3}
details.data{margin:.4em 0 1em}details.data summary{cursor:pointer;color:#2e5f8a;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:10em}
.card .v{font-size:1.6em;font-weight:600}.card .d{font-size:.9em;color:#555}
svg.chart{display:block;width:100%;height:auto;max-width:100%;font-size:11px;margin:.6em 0}
.chart-title{font-size:14px;font-weight:600;fill:#222}.axis-title{font-weight:600;fill:#444}
.grid{stroke:#e5e5e5}.axis{stroke:#444}.tick,.xlabel,.ylabel,.legend{fill:#333}.value{fill:#222;font-size:10px}
.bar.s0{fill:#2e86c1}.bar.s1{fill:#e67e22}.bar.s2{fill:#7f8c8d}.bar.s3{fill:#16a085}.bar.s4{fill:#8e44ad}
.bar.ahead{fill:#c0392b}.bar.behind{fill:#27ae60}
.bar.partial{fill-opacity:.45;stroke:#333;stroke-width:1;stroke-dasharray:3 2}
.line{fill:none;stroke-width:2}.line.s0{stroke:#c0392b}.line.s1{stroke:#2e86c1}.line.s2{stroke:#7f8c8d}
.dot.s0{fill:#c0392b;stroke:#c0392b}.dot.s1{fill:#2e86c1;stroke:#2e86c1}.dot.s2{fill:#7f8c8d;stroke:#7f8c8d}
.line.partial{stroke-dasharray:4 3}.dot.partial{fill:#fff;stroke-width:2}
.partial-band{fill:#efefef}.partial-note{fill:#555;font-size:10px;font-style:italic}
.ref,.line.ref{stroke:#333;stroke-dasharray:6 4;stroke-width:1.5}
@page{size:A4;margin:14mm 12mm}
@media print{
body{margin:0;max-width:none;padding:0;font-size:10pt;color:#000;-webkit-print-color-adjust:exact;print-color-adjust:exact}
h1{font-size:16pt}h2{font-size:12pt;margin-top:1.2em;break-after:avoid-page}
svg.chart,table,.cards,.note{break-inside:avoid-page}section{break-before:auto}
#casualties,#indicator,#streaks,#projects{break-before:page}
details.data:not([open]){display:none}details.data summary{display:none}
}
";

/// The questions the page answers through the query layer, in the order they are embedded:
/// statistics, key figures, the hazard ledger, projects, then fatality-free streaks for all
/// categories and for each category of the catalog.
pub fn report_queries() -> Vec<Query> {
    let mut queries = vec![
        Query::Stats(StatsQuery::default()),
        Query::Kpis(KpisQuery::default()),
        Query::Hazards(HazardsQuery::default()),
        Query::Projects(ProjectsQuery::default()),
        Query::Streaks(StreaksQuery::default()),
    ];
    if let Ok(catalog) = Catalog::builtin() {
        queries.extend(
            catalog
                .categories
                .iter()
                .map(|c| Query::Streaks(StreaksQuery { category: Some(c.code.clone()), ..StreaksQuery::default() })),
        );
    }
    queries
}

/// Renders the report page. Pure: reads the projections (through their queries and the query
/// layer) and the options only.
pub fn render_html(all: &AllProjections, opts: &ReportOptions) -> String {
    let l: &'static Labels = match opts.lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let on = opts.basis.as_ref().map(|b| b.on).or(opts.on).unwrap_or_else(|| cst_date(opts.as_of));
    let ctx = Ctx { l, lang: opts.lang, catalog: Catalog::builtin().ok(), stats: &all.accident_stats, today: on };
    // State figures are read at the end of the reference date, or at the as-of instant when
    // that comes first (nothing later was recorded).
    let at = end_of_cst_day(on).map_or(opts.as_of, |end| end.min(opts.as_of));
    let answered: Vec<(Query, Answer)> =
        report_queries().into_iter().filter_map(|q| answer(all, &q, on).ok().map(|a| (q, a))).collect();
    let kpis = answered.iter().find_map(|(_, a)| if let Answer::Kpis(k) = a { Some(k) } else { None });
    let hazards = answered.iter().find_map(|(_, a)| if let Answer::Hazards(h) = a { Some(h) } else { None });
    let projects_answer = answered.iter().find_map(|(_, a)| if let Answer::Projects(p) = a { Some(p) } else { None });
    let streak_answers: Vec<StreaksAnswer> =
        answered.iter().filter_map(|(_, a)| if let Answer::Streaks(s) = a { Some(s.clone()) } else { None }).collect();

    let title = opts.title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(l.default_title);
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        l.html_lang,
        escape(title),
    );
    let local = opts.as_of.with_timezone(&cst());
    let _ = write!(
        out,
        r#"<header><h1>{}</h1><p class="meta">{}: {on} · {}{} ({})</p></header>"#,
        escape(title),
        escape(l.reference_date),
        escape(l.as_of),
        escape(&local.format("%Y-%m-%d %H:%M").to_string()),
        escape(l.cst),
    );
    headline(&mut out, &ctx);
    casualties_by_category(&mut out, &ctx);
    indicator(&mut out, &ctx, kpis);
    hazards_found_closed(&mut out, &ctx, all);
    on_time_rate(&mut out, &ctx, all);
    open_and_overdue(&mut out, &ctx, hazards);
    streaks(&mut out, &ctx, &streak_answers);
    projects(&mut out, &ctx, projects_answer);
    four_incomplete(&mut out, &ctx, all, at);
    let _ = write!(out, "<footer><p>{} {}</p>", escape(l.to_date_note), escape(l.footer));
    if let Some(basis) = &opts.basis {
        let _ = write!(
            out,
            r#"<p class="provenance">{}: {} {} {} · {} {} · {} {} · {} {} · anquan {} · {}</p>"#,
            escape(l.provenance),
            escape(l.basis_events),
            grouped(basis.position),
            escape(l.basis_events_after),
            escape(l.head_hash),
            escape(&basis.head_hash),
            escape(l.reference_date),
            basis.on,
            escape(l.recorded_by),
            basis.as_of.map_or_else(
                || l.recorded_all.to_string(),
                |t| t.with_timezone(&cst()).format("%Y-%m-%d %H:%M").to_string()
            ),
            escape(&basis.anquan),
            escape(l.check_hint),
        );
        let figures: Vec<Figures> =
            answered.into_iter().map(|(query, result)| Figures { basis: basis.clone(), query, result }).collect();
        // Data for `check-figures`, not a script: "<" is escaped so no markup can end the block.
        if let Ok(json) = serde_json::to_string(&figures) {
            let _ = write!(
                out,
                r#"<script type="application/json" id="anquan-figures">{}</script>"#,
                json.replace('<', "\\u003c")
            );
        }
    }
    out.push_str("</footer></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_renders_every_section_with_no_data() {
        let opts = ReportOptions::new("2026-06-30T04:00:00Z".parse().unwrap(), Lang::En);
        let html = render_html(&AllProjections::default(), &opts);
        assert_eq!(html.matches("No data").count(), 9);
        assert!(!html.contains("<svg"));
        assert!(!html.contains("NaN"));
    }
}
