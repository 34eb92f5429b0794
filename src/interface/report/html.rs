//! The page's HTML building blocks: data tables (every cell escaped), "no data" notes, notes and
//! section headings.

use std::fmt::Write as _;

use super::format::escape;
use super::labels::Labels;

/// A data table: header cells, then rows whose first cell is the row header. Cells are
/// escaped here.
pub(super) fn table(out: &mut String, id: &str, caption: &str, head: &[String], rows: &[Vec<String>]) {
    let _ = write!(out, r#"<table id="{id}"><caption>{}</caption><thead><tr>"#, escape(caption));
    for h in head {
        let _ = write!(out, r#"<th scope="col">{}</th>"#, escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, r#"<th scope="row">{}</th>"#, escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// A data table folded behind a summary line (`<details>`): the figures of a chart, or a long
/// listing, one click away without pushing the next chart off the page.
pub(super) fn folded_table(
    out: &mut String,
    summary: &str,
    id: &str,
    caption: &str,
    head: &[String],
    rows: &[Vec<String>],
) {
    let _ = write!(out, r#"<details class="data"><summary>{}</summary>"#, escape(summary));
    table(out, id, caption, head, rows);
    out.push_str("</details>");
}

pub(super) fn no_data(out: &mut String, l: &Labels) {
    let _ = write!(out, r#"<p class="nodata">{}</p>"#, escape(l.no_data));
}

pub(super) fn note(out: &mut String, text: &str) {
    let _ = write!(out, r#"<p class="note">{}</p>"#, escape(text));
}

pub(super) fn section_open(out: &mut String, id: &str, heading: &str) {
    let _ = write!(out, r#"<section id="{id}"><h2>{}</h2>"#, escape(heading));
}
