//! The hand-drawn SVG charts: axes that fit their values, legends, x labels, bar charts and line
//! charts. Geometry is linear (value × pixels per unit) and no NaN or infinity is drawn.

use std::fmt::Write as _;

use super::format::{escape, pct, px};

/// Chart geometry, in SVG user units (the drawing scales to the page width).
pub(super) const CHART_H: f64 = 320.0;
pub(super) const MIN_CHART_W: f64 = 720.0;
pub(super) const PAD_LEFT: f64 = 64.0;
/// Room left of the plot's frame for the first slanted x label, which reaches past the y axis
/// (the view box starts this far left of 0, so plot coordinates are unchanged).
pub(super) const LABEL_ROOM: f64 = 90.0;
pub(super) const PAD_RIGHT: f64 = 24.0;
/// Room above the plot for the legend.
pub(super) const PAD_TOP: f64 = 40.0;
/// Room below the plot for slanted x labels.
pub(super) const PAD_BOTTOM: f64 = 96.0;
pub(super) const PLOT_H: f64 = CHART_H - PAD_TOP - PAD_BOTTOM;
pub(super) const BASELINE: f64 = PAD_TOP + PLOT_H;

/// What a y axis counts: whole numbers, or percentages (0–100, more when a value exceeds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    Count,
    Percent,
}

/// A linear y axis from 0 to `max` with ticks every `step`.
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

    /// Pixels per unit of value.
    pub(super) fn scale(&self) -> f64 {
        PLOT_H / self.max
    }

    /// The y coordinate of a value (values below 0 sit on the baseline).
    pub(super) fn y(&self, v: f64) -> f64 {
        BASELINE - v.max(0.0) * self.scale()
    }

    pub(super) fn label(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => format!("{v:.0}%"),
        }
    }

    /// Grid lines and tick labels, left of a plot `width` wide.
    pub(super) fn draw(&self, out: &mut String, width: f64) {
        let ticks = (self.max / self.step).round() as u32;
        for i in 0..=ticks {
            let v = f64::from(i) * self.step;
            let y = self.y(v);
            let _ = write!(
                out,
                r#"<line class="grid" data-tick="{}" x1="{}" y1="{}" x2="{}" y2="{}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
                px(v),
                px(PAD_LEFT),
                px(y),
                px(width - PAD_RIGHT),
                px(y),
                px(PAD_LEFT - 6.0),
                px(y + 4.0),
                escape(&self.label(v)),
            );
        }
        let _ = write!(
            out,
            r#"<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/><line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>"#,
            l = px(PAD_LEFT),
            t = px(PAD_TOP),
            b = px(BASELINE),
            r = px(width - PAD_RIGHT),
        );
    }
}

/// One series of a chart: its legend name and one value per x position (`None`: no value).
pub(super) struct Series {
    pub(super) name: String,
    pub(super) values: Vec<Option<f64>>,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Box,
    Line,
    Dashed,
}

pub(super) fn legend(out: &mut String, entries: &[(&str, &str, Swatch)]) {
    let mut x = PAD_LEFT;
    for (name, class, swatch) in entries {
        match swatch {
            Swatch::Box => {
                let _ = write!(out, r#"<rect class="{class}" x="{}" y="12" width="12" height="12"/>"#, px(x));
            }
            Swatch::Line | Swatch::Dashed => {
                let dash = if matches!(swatch, Swatch::Dashed) { " ref" } else { "" };
                let _ = write!(
                    out,
                    r#"<line class="line {class}{dash}" x1="{}" y1="18" x2="{}" y2="18"/>"#,
                    px(x),
                    px(x + 14.0)
                );
            }
        }
        let _ = write!(out, r#"<text class="legend" x="{}" y="22">{}</text>"#, px(x + 18.0), escape(name));
        // Width by characters; CJK glyphs are about twice as wide as Latin ones.
        let w: f64 = name.chars().map(|c| if c.is_ascii() { 6.5 } else { 12.0 }).sum();
        x += 18.0 + w + 18.0;
    }
}

/// Characters of an x label drawn; longer labels are cut with "…" (the tooltips and the data
/// table keep them whole).
pub(super) const MAX_LABEL_CHARS: usize = 18;

pub(super) fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The x labels under the plot, slanted so long names fit.
pub(super) fn x_labels(out: &mut String, labels: &[String], centre: impl Fn(usize) -> f64) {
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = (centre(i), BASELINE + 14.0);
        let _ = write!(
            out,
            r#"<text class="xlabel" x="{x}" y="{y}" text-anchor="end" transform="rotate(-35 {x} {y})">{}</text>"#,
            escape(&short(label)),
            x = px(x),
            y = px(y),
        );
    }
}

pub(super) fn svg_open(out: &mut String, id: &str, title: &str, width: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="{x0} 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
        escape(title),
        x0 = px(-LABEL_ROOM),
        w = px(width + LABEL_ROOM),
        h = px(CHART_H),
    );
}

/// Grouped bars: one group per label, one bar per series; optional dashed reference line
/// (name, value) across the plot.
pub(super) fn bar_chart(
    out: &mut String,
    id: &str,
    title: &str,
    groups: &[String],
    series: &[Series],
    measure: Measure,
    reference: Option<(&str, f64)>,
) {
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .chain(reference.map(|r| r.1))
        .fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, measure);
    let n_series = series.len().max(1) as f64;
    let width = MIN_CHART_W.max(PAD_LEFT + PAD_RIGHT + groups.len() as f64 * (n_series * 14.0 + 16.0));
    let plot_w = width - PAD_LEFT - PAD_RIGHT;
    let group_w = plot_w / groups.len().max(1) as f64;
    let bar_w = (group_w * 0.8 / n_series).min(22.0);
    let centre = |g: usize| PAD_LEFT + group_w * (g as f64 + 0.5);
    svg_open(out, id, title, width);
    axis.draw(out, width);
    for (g, group) in groups.iter().enumerate() {
        let left = centre(g) - bar_w * n_series / 2.0;
        for (k, s) in series.iter().enumerate() {
            let Some(v) = s.values.get(g).copied().flatten().filter(|v| v.is_finite()) else { continue };
            let y = axis.y(v);
            let _ = write!(
                out,
                r#"<rect class="bar s{k}" data-value="{}" x="{}" y="{}" width="{}" height="{}"><title>{} · {}: {}</title></rect>"#,
                px(v),
                px(left + bar_w * k as f64),
                px(y),
                px(bar_w),
                px(BASELINE - y),
                escape(group),
                escape(&s.name),
                escape(&axis.label_exact(v)),
            );
            // The figure above its bar, where there is room for it.
            if bar_w >= 10.0 {
                let _ = write!(
                    out,
                    r#"<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                    px(left + bar_w * (k as f64 + 0.5)),
                    px(y - 3.0),
                    escape(&axis.label_exact(v)),
                );
            }
        }
    }
    if let Some((name, v)) = reference.filter(|r| r.1.is_finite()) {
        let y = axis.y(v);
        let _ = write!(
            out,
            r#"<line class="line ref" data-value="{}" x1="{}" y1="{y}" x2="{}" y2="{y}"><title>{}: {}</title></line>"#,
            px(v),
            px(PAD_LEFT),
            px(width - PAD_RIGHT),
            escape(name),
            escape(&axis.label_exact(v)),
            y = px(y),
        );
    }
    let mut entries: Vec<(String, String, Swatch)> =
        series.iter().enumerate().map(|(k, s)| (s.name.clone(), format!("s{k}"), Swatch::Box)).collect();
    if let Some((name, v)) = reference {
        // The reference's value goes in the legend, where no bar label can cover it.
        entries.push((format!("{name} {}", axis.label_exact(v)), "sref".to_string(), Swatch::Dashed));
    }
    legend(out, &entries.iter().map(|(n, c, s)| (n.as_str(), c.as_str(), *s)).collect::<Vec<_>>());
    x_labels(out, groups, centre);
    out.push_str("</svg>");
}

/// Lines over x positions, one per series; a `None` value breaks the line (a gap).
pub(super) fn line_chart(out: &mut String, id: &str, title: &str, xs: &[String], series: &[Series], measure: Measure) {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0f64, f64::max);
    let axis = YAxis::fitting(largest, measure);
    let width = MIN_CHART_W.max(PAD_LEFT + PAD_RIGHT + xs.len() as f64 * 28.0);
    let step = (width - PAD_LEFT - PAD_RIGHT) / xs.len().max(1) as f64;
    let x_at = |i: usize| PAD_LEFT + step * (i as f64 + 0.5);
    svg_open(out, id, title, width);
    axis.draw(out, width);
    for (k, s) in series.iter().enumerate() {
        // One polyline per run of defined values.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if run.len() > 1 {
                let _ = write!(out, r#"<polyline class="line s{k}" points="{}"/>"#, run.join(" "));
            }
            run.clear();
        };
        for (i, v) in s.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => run.push(format!("{},{}", px(x_at(i)), px(axis.y(v)))),
                None => flush(&mut run, out),
            }
        }
        flush(&mut run, out);
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite()) else { continue };
            let _ = write!(
                out,
                r#"<circle class="dot s{k}" data-value="{}" cx="{}" cy="{}" r="3"><title>{} · {}: {}</title></circle>"#,
                px(v),
                px(x_at(i)),
                px(axis.y(v)),
                escape(xs.get(i).map(String::as_str).unwrap_or("")),
                escape(&s.name),
                escape(&axis.label_exact(v)),
            );
        }
    }
    let classes: Vec<String> = (0..series.len()).map(|k| format!("s{k}")).collect();
    let entries: Vec<(&str, &str, Swatch)> =
        series.iter().zip(&classes).map(|(s, c)| (s.name.as_str(), c.as_str(), Swatch::Line)).collect();
    legend(out, &entries);
    x_labels(out, xs, x_at);
    out.push_str("</svg>");
}

impl YAxis {
    /// A value as a tooltip shows it (percent with one decimal).
    pub(super) fn label_exact(&self, v: f64) -> String {
        match self.measure {
            Measure::Count => format!("{v:.0}"),
            Measure::Percent => pct(Some(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_cut_by_characters() {
        assert_eq!(short("fire"), "fire");
        assert_eq!(short("生产安全（工作场所）"), "生产安全（工作场所）");
        assert_eq!(short("production / work safety"), "production / work…");
        assert_eq!(short("production / work safety").chars().count(), MAX_LABEL_CHARS);
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
        assert_eq!(a.y(a.max), PAD_TOP);
    }
}
