//! The hand-drawn SVG charts: horizontal bar charts (categories, communities and projects as
//! rows, so long names are wrapped in full beside their bars and every value label has a row
//! of its own) and line charts over periods. Every chart draws its title, both axis titles with
//! their unit, and a legend; a period that has not ended (this year, month or quarter to date)
//! is marked as partial, never drawn as if it were whole.
//!
//! Geometry is linear (value × pixels per unit) and no NaN or infinity is drawn. Text widths
//! are estimated (Latin glyphs about 0.62 em, CJK and other glyphs 1 em), which is what keeps
//! labels clear of each other and of the plot.

use std::fmt::Write as _;

use super::format::{escape, pct, px};

/// The drawing's width in SVG user units (it scales to the page width).
pub(super) const CHART_W: f64 = 960.0;
/// Font sizes of the chart's text (the style sheet sets the same).
pub(super) const FONT: f64 = 11.0;
pub(super) const VALUE_FONT: f64 = 10.0;
/// Where the chart's title and legend sit, and where a plot starts below them.
const TITLE_Y: f64 = 22.0;
const LEGEND_Y: f64 = 46.0;
pub(super) const PLOT_TOP: f64 = 66.0;

// Line charts.
pub(super) const PAD_LEFT: f64 = 72.0;
pub(super) const PAD_RIGHT: f64 = 24.0;
pub(super) const PLOT_H: f64 = 200.0;
pub(super) const BASELINE: f64 = PLOT_TOP + PLOT_H;
/// Room below the plot for slanted x labels and the x axis' title.
const LINE_BOTTOM: f64 = 96.0;

// Horizontal bar charts.
/// Widest a row label may run before it wraps onto another line.
pub(super) const ROW_LABEL_W: f64 = 230.0;
const ROW_LINE_H: f64 = 13.0;
/// Room right of the longest bar for its value label.
const BAR_RIGHT: f64 = 96.0;
const GROUP_PAD: f64 = 10.0;

/// Estimated width of a text at a font size.
pub(super) fn text_width(s: &str, font: f64) -> f64 {
    s.chars().map(|c| if c.is_ascii() { 0.62 * font } else { font }).sum()
}

/// Splits a label into lines no wider than `max` (estimated), breaking after a space where
/// one is near, else between characters. The lines joined give the label back unchanged.
pub(super) fn wrap(label: &str, max: f64, font: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in label.chars() {
        let mut probe = line.clone();
        probe.push(c);
        if text_width(probe.trim_end(), font) > max && !line.trim().is_empty() {
            // Break after the line's last space when it leaves the line at least half full.
            let cut = line.rfind(' ').filter(|i| text_width(&line[..*i], font) > max / 2.0);
            match cut {
                Some(i) => {
                    let rest = line.split_off(i + 1);
                    lines.push(std::mem::replace(&mut line, rest));
                }
                None => lines.push(std::mem::take(&mut line)),
            }
        }
        line.push(c);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// What a value axis counts: whole numbers, or percentages (0–100, more when a value exceeds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    Count,
    Percent,
}

/// A linear value axis from 0 to `max` with ticks every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct YAxis {
    pub(super) max: f64,
    pub(super) step: f64,
    pub(super) measure: Measure,
}

/// 1, 2 or 5 times a power of ten, at least `raw` (1 for anything not positive).
pub(super) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let f = raw / power;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * power
}

impl YAxis {
    /// An axis that holds `largest` with about five ticks; never empty.
    pub(super) fn fitting(largest: f64, measure: Measure) -> Self {
        let largest = if largest.is_finite() && largest > 0.0 { largest } else { 0.0 };
        let (max, step) = match measure {
            Measure::Percent if largest <= 100.0 => (100.0, 20.0),
            _ => {
                // Counts tick on whole numbers.
                let step = nice_step(largest / 5.0).max(1.0);
                ((largest / step).ceil().max(1.0) * step, step)
            }
        };
        Self { max, step, measure }
    }

    /// Pixels per unit of value on a vertical plot.
    pub(super) fn scale(&self) -> f64 {
        PLOT_H / self.max
    }

    /// The y coordinate of a value on a vertical plot (values below 0 sit on the baseline).
    pub(super) fn y(&self, v: f64) -> f64 {
        BASELINE - v.max(0.0) * self.scale()
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let n = (self.max / self.step).round() as u32;
        (0..=n).map(move |i| f64::from(i) * self.step)
    }

    pub(super) fn label(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => format!("{v:.0}%"),
        }
    }

    /// A value as its label and tooltip show it (percent with one decimal).
    pub(super) fn label_exact(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => pct(Some(v)),
        }
    }
}

/// One series of a chart: its legend name and one value per row or x position (`None`: no
/// value). `texts` replaces a value's label where given; `marks` adds classes to a value's
/// bar (`ahead`, `behind`, `partial`); `partial` marks the whole series as a period to date.
pub(super) struct Series {
    pub(super) name: String,
    pub(super) values: Vec<Option<f64>>,
    pub(super) texts: Vec<Option<String>>,
    pub(super) marks: Vec<Vec<&'static str>>,
    pub(super) partial: bool,
}

impl Series {
    pub(super) fn new(name: impl Into<String>, values: Vec<Option<f64>>) -> Self {
        Self { name: name.into(), values, texts: Vec::new(), marks: Vec::new(), partial: false }
    }

    fn classes(&self, i: usize) -> String {
        let mut out = String::new();
        if self.partial {
            out.push_str(" partial");
        }
        for m in self.marks.get(i).into_iter().flatten() {
            if !(self.partial && *m == "partial") {
                out.push(' ');
                out.push_str(m);
            }
        }
        out
    }
}

/// What every chart has: its id, title, and the titles (with units) of its two axes.
pub(super) struct Chart<'a> {
    pub(super) id: &'a str,
    pub(super) title: &'a str,
    /// The value axis' title with its unit ("Deaths (persons)").
    pub(super) value_title: &'a str,
    /// The other axis' title ("Category", "Month").
    pub(super) category_title: &'a str,
    pub(super) measure: Measure,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Box,
    Line,
    Dashed,
}

/// One legend entry: its text, the class of its swatch, the swatch's kind.
pub(super) type Entry = (String, String, Swatch);

fn legend(out: &mut String, x0: f64, entries: &[Entry]) {
    let mut x = x0;
    for (name, class, swatch) in entries {
        match swatch {
            Swatch::Box => {
                let _ = write!(
                    out,
                    r#"<rect class="swatch bar {class}" x="{}" y="{}" width="12" height="12"/>"#,
                    px(x),
                    px(LEGEND_Y - 10.0)
                );
            }
            Swatch::Line | Swatch::Dashed => {
                let dash = if matches!(swatch, Swatch::Dashed) { " ref" } else { "" };
                let _ = write!(
                    out,
                    r#"<line class="line {class}{dash}" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
                    px(x),
                    px(x + 14.0),
                    y = px(LEGEND_Y - 4.0),
                );
            }
        }
        let _ =
            write!(out, r#"<text class="legend" x="{}" y="{}">{}</text>"#, px(x + 18.0), px(LEGEND_Y), escape(name));
        x += 18.0 + text_width(name, FONT) + 20.0;
    }
}

fn svg_open(out: &mut String, chart: &Chart<'_>, height: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{t}</title><text class="chart-title" x="8" y="{ty}">{t}</text>"#,
        id = chart.id,
        t = escape(chart.title),
        w = px(CHART_W),
        h = px(height),
        ty = px(TITLE_Y),
    );
}

/// The plot's left and bottom axis lines.
fn frame(out: &mut String, left: f64, top: f64, right: f64, bottom: f64) {
    let _ = write!(
        out,
        r#"<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/><line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>"#,
        l = px(left),
        t = px(top),
        b = px(bottom),
        r = px(right),
    );
}

/// An axis title: horizontal under a plot, or upright beside it: Latin text turned a quarter
/// left, CJK text set vertically with its characters upright (as Chinese is written).
fn axis_title(out: &mut String, which: &str, text: &str, x: f64, y: f64, vertical: bool) {
    let turn = match (vertical, text.is_ascii()) {
        (false, _) => String::new(),
        (true, true) => format!(r#" transform="rotate(-90 {} {})""#, px(x), px(y)),
        (true, false) => r#" writing-mode="vertical-rl" style="text-orientation:upright""#.to_string(),
    };
    let _ = write!(
        out,
        r#"<text class="axis-title {which}" x="{}" y="{}" text-anchor="middle"{turn}>{}</text>"#,
        px(x),
        px(y),
        escape(text)
    );
}

/// Horizontal grouped bars: one row group per label (wrapped, never cut), one bar per series,
/// the value at the bar's end; an optional dashed reference line (name, value) across the
/// plot; a legend of the series unless `legend_entries` replaces it.
pub(super) fn hbar_chart(
    out: &mut String,
    chart: &Chart<'_>,
    groups: &[String],
    series: &[Series],
    reference: Option<(&str, f64)>,
    legend_entries: Option<Vec<Entry>>,
) {
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .chain(reference.map(|r| r.1))
        .fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, chart.measure);
    let n = series.len().max(1) as f64;
    let thick = if series.len() > 1 { 11.0 } else { 14.0 };
    let wrapped: Vec<Vec<String>> = groups.iter().map(|g| wrap(g, ROW_LABEL_W, FONT)).collect();
    let label_w = wrapped.iter().flatten().map(|l| text_width(l.trim_end(), FONT)).fold(0.0f64, f64::max);
    let plot_left = 30.0 + label_w + 10.0;
    let plot_right = CHART_W - BAR_RIGHT;
    let per_unit = (plot_right - plot_left) / axis.max;
    let x_of = |v: f64| plot_left + v.max(0.0) * per_unit;
    let heights: Vec<f64> = wrapped
        .iter()
        .map(|lines| (n * (thick + 2.0) - 2.0).max(lines.len() as f64 * ROW_LINE_H) + GROUP_PAD)
        .collect();
    let plot_bottom = PLOT_TOP + heights.iter().sum::<f64>();
    svg_open(out, chart, plot_bottom + 50.0);

    // Value grid and ticks under the plot.
    for v in axis.ticks() {
        let x = x_of(v);
        let _ = write!(
            out,
            r#"<line class="grid" data-tick="{}" x1="{x}" y1="{}" x2="{x}" y2="{}"/><text class="tick" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            px(v),
            px(PLOT_TOP),
            px(plot_bottom),
            px(plot_bottom + 16.0),
            escape(&axis.label(v)),
            x = px(x),
        );
    }
    frame(out, plot_left, PLOT_TOP, plot_right, plot_bottom);
    axis_title(out, "x", chart.value_title, (plot_left + plot_right) / 2.0, plot_bottom + 38.0, false);
    axis_title(out, "y", chart.category_title, 14.0, (PLOT_TOP + plot_bottom) / 2.0, true);

    let mut top = PLOT_TOP;
    for (g, (group, lines)) in groups.iter().zip(&wrapped).enumerate() {
        let h = heights[g];
        let bars_h = n * (thick + 2.0) - 2.0;
        let bars_top = top + (h - bars_h) / 2.0;
        // The row's label, wrapped, centred on its bars; the whole name in its title.
        let first_y = top + h / 2.0 - (lines.len() as f64 - 1.0) * ROW_LINE_H / 2.0 + FONT * 0.35;
        let _ = write!(
            out,
            r#"<text class="ylabel" x="{x}" y="{}" text-anchor="end"><title>{}</title>"#,
            px(first_y),
            escape(group),
            x = px(plot_left - 8.0),
        );
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                out,
                r#"<tspan x="{}" y="{}">{}</tspan>"#,
                px(plot_left - 8.0),
                px(first_y + i as f64 * ROW_LINE_H),
                escape(line)
            );
        }
        out.push_str("</text>");
        for (k, s) in series.iter().enumerate() {
            let Some(v) = s.values.get(g).copied().flatten().filter(|v| v.is_finite()) else { continue };
            let y = bars_top + k as f64 * (thick + 2.0);
            let end = x_of(v);
            let text = s.texts.get(g).cloned().flatten().unwrap_or_else(|| axis.label_exact(v));
            let _ = write!(
                out,
                r#"<rect class="bar s{k}{}" data-value="{}" x="{}" y="{}" width="{}" height="{}"><title>{} · {}: {}</title></rect>"#,
                s.classes(g),
                px(v),
                px(plot_left),
                px(y),
                px(end - plot_left),
                px(thick),
                escape(group),
                escape(&s.name),
                escape(&text),
            );
            let _ = write!(
                out,
                r#"<text class="value" x="{}" y="{}">{}</text>"#,
                px(end + 4.0),
                px(y + thick / 2.0 + VALUE_FONT * 0.35),
                escape(&text),
            );
        }
        top += h;
    }
    if let Some((name, v)) = reference.filter(|r| r.1.is_finite()) {
        let x = x_of(v);
        let _ = write!(
            out,
            r#"<line class="line ref" data-value="{}" x1="{x}" y1="{}" x2="{x}" y2="{}"><title>{}: {}</title></line>"#,
            px(v),
            px(PLOT_TOP - 4.0),
            px(plot_bottom),
            escape(name),
            escape(&axis.label_exact(v)),
            x = px(x),
        );
    }
    let entries = legend_entries.unwrap_or_else(|| {
        let mut e: Vec<Entry> = series
            .iter()
            .enumerate()
            .map(|(k, s)| (s.name.clone(), format!("s{k}{}", s.classes(usize::MAX)), Swatch::Box))
            .collect();
        if let Some((name, v)) = reference {
            e.push((format!("{name} {}", axis.label_exact(v)), "sref".into(), Swatch::Dashed));
        }
        e
    });
    legend(out, plot_left, &entries);
    out.push_str("</svg>");
}

/// Lines over x positions, one per series; a `None` value breaks the line (a gap). `partial`
/// names the x position of a period to date and the note that says so: the period is shaded,
/// its points hollow and the line into it dashed.
pub(super) fn line_chart(
    out: &mut String,
    chart: &Chart<'_>,
    xs: &[String],
    series: &[Series],
    partial: Option<(usize, &str)>,
) {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, chart.measure);
    let width = CHART_W;
    let step = (width - PAD_LEFT - PAD_RIGHT) / xs.len().max(1) as f64;
    let x_at = |i: usize| PAD_LEFT + step * (i as f64 + 0.5);
    let height = BASELINE + LINE_BOTTOM;
    svg_open(out, chart, height);
    if let Some((i, note)) = partial.filter(|p| p.0 < xs.len()) {
        let _ = write!(
            out,
            r#"<rect class="partial-band" data-partial="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect><text class="partial-note" x="{}" y="{}" text-anchor="end">{}</text>"#,
            escape(&xs[i]),
            px(x_at(i) - step / 2.0),
            px(PLOT_TOP),
            px(step),
            px(PLOT_H),
            escape(note),
            px(x_at(i) + step / 2.0),
            px(PLOT_TOP - 4.0),
            escape(note),
        );
    }
    for v in axis.ticks() {
        let y = axis.y(v);
        let _ = write!(
            out,
            r#"<line class="grid" data-tick="{}" x1="{}" y1="{y}" x2="{}" y2="{y}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            px(v),
            px(PAD_LEFT),
            px(width - PAD_RIGHT),
            px(PAD_LEFT - 6.0),
            px(y + 4.0),
            escape(&axis.label(v)),
            y = px(y),
        );
    }
    frame(out, PAD_LEFT, PLOT_TOP, width - PAD_RIGHT, BASELINE);
    axis_title(out, "y", chart.value_title, 16.0, PLOT_TOP + PLOT_H / 2.0, true);
    axis_title(out, "x", chart.category_title, (PAD_LEFT + width - PAD_RIGHT) / 2.0, height - 8.0, false);
    let partial_at = partial.map(|p| p.0);
    for (k, s) in series.iter().enumerate() {
        // One polyline per run of defined values; the segment into a partial period dashed.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if run.len() > 1 {
                let _ = write!(out, r#"<polyline class="line s{k}" points="{}"/>"#, run.join(" "));
            }
            run.clear();
        };
        let point = |i: usize| {
            s.values
                .get(i)
                .copied()
                .flatten()
                .filter(|v| v.is_finite())
                .map(|v| format!("{},{}", px(x_at(i)), px(axis.y(v))))
        };
        for i in 0..s.values.len() {
            match point(i).filter(|_| Some(i) != partial_at) {
                Some(p) => run.push(p),
                None => flush(&mut run, out),
            }
        }
        if let Some(i) = partial_at.filter(|i| *i > 0) {
            if let (Some(prev), Some(p)) = (point(i - 1), point(i)) {
                let _ = write!(out, r#"<polyline class="line s{k} partial" points="{prev} {p}"/>"#);
            }
        }
        flush(&mut run, out);
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite()) else { continue };
            let hollow = if Some(i) == partial_at { " partial" } else { "" };
            let _ = write!(
                out,
                r#"<circle class="dot s{k}{hollow}" data-value="{}" cx="{}" cy="{}" r="3"><title>{} · {}: {}</title></circle>"#,
                px(v),
                px(x_at(i)),
                px(axis.y(v)),
                escape(xs.get(i).map(String::as_str).unwrap_or("")),
                escape(&s.name),
                escape(&axis.label_exact(v)),
            );
        }
    }
    let entries: Vec<Entry> =
        series.iter().enumerate().map(|(k, s)| (s.name.clone(), format!("s{k}"), Swatch::Line)).collect();
    legend(out, PAD_LEFT, &entries);
    for (i, label) in xs.iter().enumerate() {
        let (x, y) = (x_at(i), BASELINE + 14.0);
        let _ = write!(
            out,
            r#"<text class="xlabel" x="{x}" y="{y}" text-anchor="end" transform="rotate(-35 {x} {y})">{}</text>"#,
            escape(label),
            x = px(x),
            y = px(y),
        );
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_wrap_in_full_and_within_their_width() {
        assert_eq!(wrap("fire", 100.0, FONT), ["fire"]);
        let long = "Community of the Yangtze river port group, east quay";
        let lines = wrap(long, 120.0, FONT);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), long);
        assert!(lines.iter().all(|l| text_width(l.trim_end(), FONT) <= 120.0), "{lines:?}");
        let zh = "长江港务集团东码头社区居民委员会";
        let lines = wrap(zh, 60.0, FONT);
        assert_eq!(lines.concat(), zh);
        assert!(lines.iter().all(|l| text_width(l, FONT) <= 60.0), "{lines:?}");
    }

    /// Axes are never empty, hold their largest value, and tick counts on whole numbers.
    #[test]
    fn axes_fit_their_values() {
        let a = YAxis::fitting(0.0, Measure::Count);
        assert!(a.max > 0.0 && a.scale().is_finite());
        let a = YAxis::fitting(37.0, Measure::Count);
        assert_eq!((a.max, a.step), (40.0, 10.0));
        let a = YAxis::fitting(3.0, Measure::Count);
        assert_eq!((a.max, a.step), (3.0, 1.0));
        assert_eq!(YAxis::fitting(f64::NAN, Measure::Percent).max, 100.0);
        let a = YAxis::fitting(130.0, Measure::Percent);
        assert!(a.max >= 130.0);
        assert_eq!(a.y(0.0), BASELINE);
        assert_eq!(a.y(a.max), PLOT_TOP);
    }
}
