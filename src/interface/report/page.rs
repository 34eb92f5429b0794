//! The page: [`render_html`] puts the head, the style sheet and the sections together, in order.

use std::fmt::Write as _;

use super::figures::{
    casualties_by_category, four_incomplete, hazards_found_closed, headline, indicator, on_time_rate, open_and_overdue,
};
use super::format::escape;
use super::labels::{Ctx, Labels, EN, ZH};
use super::options::{Lang, ReportOptions};
use crate::events::time::{cst, cst_date};
use crate::events::Catalog;
use crate::projections::AllProjections;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.meta,.note,footer{color:#555;font-size:.9em}.nodata{color:#777;font-style:italic}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}thead th{background:#f3f3f3}
.cards{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:10em}
.card .v{font-size:1.6em;font-weight:600}.card .d{font-size:.9em;color:#555}
svg.chart{width:100%;height:auto;max-width:100%;font-size:11px}
.grid{stroke:#e5e5e5}.axis{stroke:#444}.tick,.xlabel,.legend{fill:#333}.value{fill:#333;font-size:10px}
.bar.s0,rect.s0{fill:#c0392b}.bar.s1,rect.s1{fill:#2e86c1}.bar.s2,rect.s2{fill:#7f8c8d}
.bar.s3,rect.s3{fill:#e67e22}.bar.s4,rect.s4{fill:#16a085}.bar.s5,rect.s5{fill:#8e44ad}
.line{fill:none;stroke-width:2}.line.s0{stroke:#c0392b}.line.s1{stroke:#2e86c1}.line.s2{stroke:#7f8c8d}
.dot.s0{fill:#c0392b}.dot.s1{fill:#2e86c1}.dot.s2{fill:#7f8c8d}
.ref,.line.ref{stroke:#333;stroke-dasharray:6 4;stroke-width:1.5}
";

/// Renders the report page. Pure: reads the projections' queries and the options only.
pub fn render_html(all: &AllProjections, opts: &ReportOptions) -> String {
    let l: &'static Labels = match opts.lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let ctx = Ctx {
        l,
        lang: opts.lang,
        catalog: Catalog::builtin().ok(),
        stats: &all.accident_stats,
        today: cst_date(opts.as_of),
    };
    let title = opts.title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(l.default_title);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        l.html_lang,
        escape(title),
    );
    let local = opts.as_of.with_timezone(&cst());
    let _ = write!(
        out,
        r#"<header><h1>{}</h1><p class="meta">{}{} ({})</p></header>"#,
        escape(title),
        escape(l.as_of),
        escape(&local.format("%Y-%m-%d %H:%M").to_string()),
        escape(l.cst),
    );
    headline(&mut out, &ctx);
    casualties_by_category(&mut out, &ctx);
    hazards_found_closed(&mut out, &ctx, all);
    on_time_rate(&mut out, &ctx, all);
    indicator(&mut out, &ctx);
    open_and_overdue(&mut out, &ctx, all, opts.as_of);
    four_incomplete(&mut out, &ctx, all, opts.as_of);
    let _ = writeln!(out, "<footer><p>{} {}</p></footer></body></html>", escape(l.to_date_note), escape(l.footer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_renders_every_section_with_no_data() {
        let opts = ReportOptions { as_of: "2026-06-30T04:00:00Z".parse().unwrap(), lang: Lang::En, title: None };
        let html = render_html(&AllProjections::default(), &opts);
        assert_eq!(html.matches("No data").count(), 7);
        assert!(!html.contains("<svg"));
        assert!(!html.contains("NaN"));
    }
}
