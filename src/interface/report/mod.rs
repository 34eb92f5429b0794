//! The statistics report (统计报告): one self-contained HTML page with hand-drawn SVG charts,
//! in Chinese or English, for `anquan report --out DIR`, made to go into a briefing.
//!
//! Sections, top to bottom: headline figures (this year to the reference date against the same
//! span of last year, 同比); deaths and injuries by category and year; control-indicator
//! consumption against the elapsed share of the year (控制指标消耗 vs 时序进度); hazards found
//! and closed (销号) by month; on-time rectification rate (按期整改率) by quarter; open and
//! overdue hazards with the year's rectification rates (整改率 table); communities without a
//! fatal accident for 1, 2, 3 whole years by category (无死亡事故), the longest streaks and
//! those short of them; promotion projects (安全促进项目) with their interventions and
//! before/after figures; incidents whose four don't-let-go (四不放过) are incomplete.
//!
//! Invariants:
//! - [`render_html`] is pure: it reads the projections through their public queries and the
//!   query layer ([`report_queries`]), and the options; never a clock, a file or the network.
//!   The same input gives the same bytes.
//! - Every chart draws its title, both axis titles (the value axis with its unit) and a
//!   legend. A period that runs only to the reference date (this year, month or quarter) is
//!   marked partial in its chart (faded, outlined bars; a shaded band, hollow points and a
//!   dashed line into it) and in its table, never drawn as if it were whole.
//! - Category, community and project names are wrapped in full beside horizontal bars (the
//!   whole name also in the label's `<title>`), never cut; each bar's value label has the
//!   bar's own row, so no two labels of a chart overlap.
//! - Control-indicator bars are red when the consumption runs ahead of the elapsed share of
//!   the year (超时序进度) and green when it does not.
//! - Every chart's figures are in a data table beneath it, folded (`<details>`) when the table
//!   is long; print styles set A4 pages, keep charts and tables whole on a page, start the
//!   large sections on a new page and leave folded tables out.
//! - The page references nothing outside itself: no scripts, no external fonts, style sheets,
//!   images or links; the style is one inline `<style>` element and the charts are inline SVG.
//!   With a [`Basis`](crate::interface::query::Basis) in the options, the page states its
//!   provenance (log position, head hash, reference date, as-of, version) and embeds the query
//!   answers it shows as a JSON data block (`<script type="application/json"
//!   id="anquan-figures">`, never run) that `anquan check-figures` recomputes.
//! - Every string that comes from data (community names, ids, the title) goes through
//!   `escape`, so markup in a name is shown as text, never interpreted.
//! - Periods are CST calendar dates ending at the reference date. State figures (open hazards,
//!   overdue ones) are those on the reference date; open incidents are those at the earlier of
//!   the reference date's end and the as-of instant.
//! - No NaN or infinity reaches the SVG: undefined rates are drawn as gaps and shown as "—",
//!   an axis with nothing to show still has a positive maximum, and a chart without any data is
//!   replaced by a "no data" note.
//! - Geometry is linear: a bar's length and a point's distance from the axis are the value
//!   times the axis' pixels per unit; bars and points carry their value in `data-value`.
//!
//! Files: `options.rs` what a host passes and gets back; `page.rs` the page, its style and
//! provenance; `figures.rs` the figures of each section; `svg.rs` the charts; `html.rs` tables
//! and notes; `labels.rs` the words in both languages; `format.rs` text and numbers.

mod figures;
mod format;
mod html;
mod labels;
mod options;
mod page;
mod svg;

pub use options::{write_report, Lang, ReportError, ReportOptions, UnknownLang};
pub use page::{render_html, report_queries};
