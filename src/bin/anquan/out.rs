//! How the command line shows results: aligned tables for people, JSON or CSV for machines,
//! labels in Chinese or English.
//!
//! A table is built once and rendered in the chosen format, so the table, CSV and the columns
//! a person reads never disagree. Column widths count East Asian wide characters as two cells,
//! so Chinese labels line up in a terminal.

use std::io::Write;

use anquan::events::catalog::Catalog;
use anyhow::Result;

/// `--format`: how results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The typed result as JSON (every figure, field names stable).
    Json,
    /// Tables as CSV with a header row.
    Csv,
}

/// `--lang`: the language of labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// 中文
    Zh,
    /// English
    En,
}

impl Lang {
    /// From the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`): Chinese when it names `zh`.
    pub fn from_locale() -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The label in this language.
    pub fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Labels of catalog codes (categories) in the chosen language; unknown codes show as given.
pub struct Labels {
    lang: Lang,
    catalog: Option<Catalog>,
}

impl Labels {
    pub fn new(lang: Lang) -> Self {
        Self { lang, catalog: Catalog::builtin().ok() }
    }

    pub fn t<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        self.lang.t(en, zh)
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// A category code's label.
    pub fn category(&self, code: &str) -> String {
        self.catalog
            .as_ref()
            .and_then(|c| c.categories.iter().find(|x| x.code == code))
            .map(|c| match self.lang {
                Lang::Zh => c.zh.clone(),
                Lang::En => c.en.clone(),
            })
            .unwrap_or_else(|| code.to_string())
    }

    /// A Decree 493 grade code's label.
    pub fn grade(&self, code: &str) -> String {
        let (en, zh) = match code {
            "ordinary" => ("ordinary", "一般事故"),
            "relatively_serious" => ("relatively serious", "较大事故"),
            "serious" => ("serious", "重大事故"),
            "extraordinarily_serious" => ("extraordinarily serious", "特别重大事故"),
            other => (other, other),
        };
        self.t(en, zh).to_string()
    }

    /// A hazard grade code's label.
    pub fn hazard_grade(&self, code: &str) -> String {
        self.catalog
            .as_ref()
            .and_then(|c| c.hazard_grades.iter().find(|x| x.code == code))
            .map(|g| match self.lang {
                Lang::Zh => g.zh.clone(),
                Lang::En => g.en.clone(),
            })
            .unwrap_or_else(|| code.to_string())
    }
}

/// A table: a title, headers, rows of cells. Numeric-looking columns align right.
pub struct Table {
    title: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Self { title: None, headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders as aligned text or CSV (JSON output is the typed result, not the table).
    pub fn print(&self, format: Format, w: &mut impl Write) -> Result<()> {
        match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(Vec::new());
                csv.write_record(&self.headers)?;
                for r in &self.rows {
                    csv.write_record(r)?;
                }
                w.write_all(&csv.into_inner().map_err(|e| anyhow::anyhow!("cannot write CSV: {e}"))?)?;
            }
            Format::Table | Format::Json => {
                if let Some(t) = &self.title {
                    writeln!(w, "{t}")?;
                }
                let columns = self.headers.len();
                let mut widths: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
                let mut numeric = vec![true; columns];
                for r in &self.rows {
                    for (i, cell) in r.iter().enumerate().take(columns) {
                        widths[i] = widths[i].max(display_width(cell));
                        numeric[i] &= looks_numeric(cell);
                    }
                }
                let line = |cells: &[String], w: &mut dyn Write| -> Result<()> {
                    let mut out = String::from("  ");
                    for (i, cell) in cells.iter().enumerate().take(columns) {
                        let pad = " ".repeat(widths[i].saturating_sub(display_width(cell)));
                        if i > 0 {
                            out.push_str("  ");
                        }
                        if numeric[i] && i > 0 {
                            out.push_str(&pad);
                            out.push_str(cell);
                        } else {
                            out.push_str(cell);
                            out.push_str(&pad);
                        }
                    }
                    writeln!(w, "{}", out.trim_end())?;
                    Ok(())
                };
                line(&self.headers, w)?;
                for r in &self.rows {
                    line(r, w)?;
                }
            }
        }
        Ok(())
    }
}

/// Cells a terminal uses for `s`: East Asian wide and fullwidth characters take two.
pub fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

fn looks_numeric(cell: &str) -> bool {
    let c = cell.trim();
    c.is_empty()
        || c == "—"
        || c.chars().next().is_some_and(|f| f.is_ascii_digit() || f == '+' || f == '-' || f == '¥')
            && c.chars().all(|ch| ch.is_ascii_digit() || ".,+-%→¥ ()".contains(ch) || ch == '—')
}

/// A percent with sign, or a dash when there is no base.
pub fn pct(p: Option<f64>) -> String {
    p.map(|v| format!("{v:+.1}%")).unwrap_or_else(|| "—".into())
}

/// A share without sign.
pub fn share(p: Option<f64>) -> String {
    p.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

/// Yuan with thousands separators.
pub fn yuan(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_counts_two_cells_and_columns_align() {
        assert_eq!(display_width("道路交通"), 8);
        assert_eq!(display_width("fire"), 4);
        let mut t = Table::new(["类别", "deaths"]);
        t.row(["道路交通", "12"]);
        t.row(["fire", "3"]);
        let mut out = Vec::new();
        t.print(Format::Table, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widths: Vec<usize> = text.lines().map(display_width).collect();
        assert_eq!(widths, vec![widths[0]; 3], "{text}");
        assert!(text.lines().nth(2).unwrap().ends_with(" 3"));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut t = Table::new(["a", "b"]);
        t.row(["x, y", "1"]);
        let mut out = Vec::new();
        t.print(Format::Csv, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\n\"x, y\",1\n");
    }

    #[test]
    fn yuan_groups_thousands() {
        assert_eq!(yuan(0), "0");
        assert_eq!(yuan(1234567), "1,234,567");
        assert_eq!(yuan(100), "100");
    }
}
