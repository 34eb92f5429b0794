//! The statistics report (统计报告): one self-contained HTML page with hand-drawn SVG charts,
//! in Chinese or English, for `anquan report --out DIR`.
//!
//! Sections, top to bottom: headline figures (this year to the as-of date against the same
//! span of last year, 同比); deaths and injuries by category and year; hazards found and closed
//! (销号) by month; on-time rectification rate (按期整改率) by quarter; control-indicator
//! consumption against the elapsed share of the year (控制指标消耗 vs 时序进度); open and overdue
//! hazards; incidents whose four don't-let-go (四不放过) are incomplete. Every chart has a data
//! table beneath it holding exactly the figures drawn, for screen readers and for tests.
//!
//! Invariants:
//! - [`render_html`] is pure: it reads the projections through their public queries and the
//!   options, never a clock, a file or the network. The same input gives the same bytes.
//! - The page references nothing outside itself: no scripts, no external fonts, style sheets,
//!   images or links; the style is one inline `<style>` element and the charts are inline SVG.
//! - Every string that comes from data (community names, ids, the title) goes through
//!   `escape`, so markup in a name is shown as text, never interpreted.
//! - Periods are CST calendar dates, like the projections', and every period-based figure ends
//!   at the as-of date (the current year, month and quarter are "to date"). State figures (open
//!   hazards) are those the projections hold: render projections folded up to the as-of instant
//!   (`projections::as_of_time`) for a report about the past.
//! - No NaN or infinity reaches the SVG: undefined rates are drawn as gaps and shown as "—",
//!   an axis with nothing to show still has a positive maximum, and a chart without any data is
//!   replaced by a "no data" note.
//! - Geometry is linear: a bar's height and a point's distance above the baseline are the value
//!   times the axis' pixels per unit; bars and points carry their value in `data-value`.
//!
//! Files: `options.rs` what a host passes and gets back; `page.rs` the page; `figures.rs` the
//! figures of each section; `svg.rs` the charts; `html.rs` tables and notes; `labels.rs` the
//! words in both languages; `format.rs` text and numbers.

mod figures;
mod format;
mod html;
mod labels;
mod options;
mod page;
mod svg;

pub use options::{write_report, Lang, ReportError, ReportOptions, UnknownLang};
pub use page::render_html;
