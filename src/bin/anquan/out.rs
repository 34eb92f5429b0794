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

/// A column: its stable code (the CSV header, the same in every language) and its label.
#[derive(Debug, Clone)]
pub struct Column {
    pub code: &'static str,
    pub label: String,
}

/// One cell: the text people read, and the value machines read (codes, plain numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub raw: String,
}

impl Cell {
    /// A cell whose text is its value (ids, dates).
    pub fn plain(s: impl Into<String>) -> Self {
        let s = s.into();
        Self { raw: s.clone(), text: s }
    }

    /// A count or amount.
    pub fn num(n: impl std::fmt::Display) -> Self {
        Self::plain(n.to_string())
    }

    /// Yuan: grouped thousands for people, digits for machines.
    pub fn yuan(n: u64) -> Self {
        Self { text: yuan(n), raw: n.to_string() }
    }

    /// A share in percent (`89.6%`; `89.6` for machines, empty when there is no base).
    pub fn share(p: Option<f64>) -> Self {
        Self { text: share(p), raw: p.map(|v| format!("{v:.4}")).unwrap_or_default() }
    }

    /// A change in percent, signed.
    pub fn change(p: Option<f64>) -> Self {
        Self { text: pct(p), raw: p.map(|v| format!("{v:.4}")).unwrap_or_default() }
    }

    /// A rate with two decimals.
    pub fn rate(x: Option<f64>) -> Self {
        Self {
            text: x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into()),
            raw: x.map(|v| format!("{v:.4}")).unwrap_or_default(),
        }
    }

    /// A code shown by its label.
    pub fn code(code: impl Into<String>, label: impl Into<String>) -> Self {
        Self { raw: code.into(), text: label.into() }
    }

    /// A yes/no flag.
    pub fn flag(yes: bool, labels: &Labels) -> Self {
        Self {
            text: if yes { labels.t("yes", "是").to_string() } else { String::new() },
            raw: if yes { "true".into() } else { "false".into() },
        }
    }

    /// Text for people, another value for machines.
    pub fn shown(text: impl Into<String>, raw: impl Into<String>) -> Self {
        Self { text: text.into(), raw: raw.into() }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::plain(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::plain(s)
    }
}

/// A table: a name (how `--table` picks it for CSV), a title, columns, rows of cells. Numeric-
/// looking columns align right.
pub struct Table {
    name: &'static str,
    title: Option<String>,
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table of (code, label) columns.
    pub fn new(name: &'static str, columns: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        Self {
            name,
            title: None,
            columns: columns.into_iter().map(|(code, label)| Column { code, label }).collect(),
            rows: Vec::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        self.rows.push(cells.into_iter().collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// CSV: the codes as headers, the machine values as cells.
    pub fn write_csv(&self, w: &mut impl Write) -> Result<()> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(self.columns.iter().map(|c| c.code))?;
        for r in &self.rows {
            csv.write_record(r.iter().map(|c| c.raw.as_str()))?;
        }
        w.write_all(&csv.into_inner().map_err(|e| anyhow::anyhow!("cannot write CSV: {e}"))?)?;
        Ok(())
    }

    /// Aligned text for people. A column with no label and no text in any row (a machine-only
    /// column, such as the second number of a `before→now` cell) is left out.
    pub fn write_text(&self, w: &mut impl Write) -> Result<()> {
        if let Some(t) = &self.title {
            writeln!(w, "{t}")?;
        }
        let shown: Vec<usize> = (0..self.columns.len())
            .filter(|&i| {
                !self.columns[i].label.is_empty()
                    || self.rows.iter().any(|r| r.get(i).is_some_and(|c| !c.text.is_empty()))
            })
            .collect();
        let headers: Vec<String> = shown.iter().map(|&i| self.columns[i].label.clone()).collect();
        let rows: Vec<Vec<&Cell>> =
            self.rows.iter().map(|r| shown.iter().filter_map(|&i| r.get(i)).collect()).collect();
        let columns = headers.len();
        let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
        let mut numeric = vec![true; columns];
        for r in &rows {
            for (i, cell) in r.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(display_width(&cell.text));
                numeric[i] &= looks_numeric(&cell.text);
            }
        }
        let line = |cells: &[&str], w: &mut dyn Write| -> Result<()> {
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
        line(&headers.iter().map(String::as_str).collect::<Vec<_>>(), w)?;
        for r in &rows {
            line(&r.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), w)?;
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
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
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
        let mut t = Table::new("t", [("category", "类别".to_string()), ("deaths", "deaths".to_string())]);
        t.row([Cell::code("road_traffic", "道路交通"), Cell::num(12)]);
        t.row([Cell::code("fire", "fire"), Cell::num(3)]);
        let mut out = Vec::new();
        t.write_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widths: Vec<usize> = text.lines().map(display_width).collect();
        assert_eq!(widths, vec![widths[0]; 3], "{text}");
        assert!(text.lines().nth(2).unwrap().ends_with(" 3"));
    }

    #[test]
    fn csv_has_codes_for_headers_and_numbers_as_numbers() {
        let mut t =
            Table::new("t", [("a", "甲".to_string()), ("rate", "比率".to_string()), ("loss", "损失".to_string())]);
        t.row([Cell::plain("x, y"), Cell::share(Some(89.6)), Cell::yuan(1234567)]);
        let mut out = Vec::new();
        t.write_csv(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,rate,loss\n\"x, y\",89.6000,1234567\n");
    }

    #[test]
    fn yuan_groups_thousands() {
        assert_eq!(yuan(0), "0");
        assert_eq!(yuan(1234567), "1,234,567");
        assert_eq!(yuan(100), "100");
    }
}
