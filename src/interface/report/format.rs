//! Text and numbers as the page shows them: HTML escaping, pixels, percentages, grouped and
//! signed numbers, and the periods the sections step through.

use chrono::{Datelike, NaiveDate};

use crate::projections::Period;

/// Escapes text for HTML element content and quoted attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate or size for SVG: two decimals, and 0 for anything not finite.
pub(super) fn px(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "0".to_string()
    }
}

/// A percentage with one decimal ("38.7%"), "—" when undefined.
pub(super) fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.1}%"),
        _ => "—".to_string(),
    }
}

/// An unsigned count with thousands separators ("1,000,000").
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed change with thousands separators ("+1", "−16" as "-16").
pub(super) fn signed(n: i64) -> String {
    let sign = if n > 0 {
        "+"
    } else if n < 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", grouped(n.unsigned_abs()))
}

/// A percent change with its sign ("-45.7%"), "—" when the previous figure was 0.
pub(super) fn signed_pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{}{x:.1}%", if x > 0.0 { "+" } else { "" }),
        _ => "—".to_string(),
    }
}

// ---- periods --------------------------------------------------------------------------------

/// A period cut to end at `today` at the latest; `None` when it starts after it.
pub(super) fn to_date(p: Period, today: NaiveDate) -> Option<Period> {
    (p.from <= today).then(|| Period { from: p.from, to: p.to.min(today) })
}

/// The same calendar day a year earlier (29 Feb → 28 Feb).
pub(super) fn a_year_before(d: NaiveDate) -> Option<NaiveDate> {
    let y = d.year().checked_sub(1)?;
    d.with_year(y).or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28))
}

/// `(year, month)` `back` months before the given one.
pub(super) fn months_back((y, m): (i32, u32), back: u32) -> (i32, u32) {
    let index = i64::from(y) * 12 + i64::from(m) - 1 - i64::from(back);
    (i32::try_from(index.div_euclid(12)).unwrap_or(y), (index.rem_euclid(12) + 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(escape(r#"<script>a&b"c'</script>"#), "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;");
    }

    #[test]
    fn numbers_format_with_signs_separators_and_dashes() {
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(signed(-1234), "-1,234");
        assert_eq!(signed(0), "0");
        assert_eq!(signed_pct(Some(-45.71)), "-45.7%");
        assert_eq!(signed_pct(Some(50.0)), "+50.0%");
        assert_eq!(signed_pct(None), "—");
        assert_eq!(pct(Some(f64::NAN)), "—");
        assert_eq!(px(f64::INFINITY), "0");
    }

    #[test]
    fn periods_step_back_across_years_and_stop_at_the_as_of_date() {
        assert_eq!(months_back((2025, 3), 0), (2025, 3));
        assert_eq!(months_back((2025, 3), 3), (2024, 12));
        assert_eq!(months_back((2025, 3), 26), (2023, 1));
        let today = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(a_year_before(today), NaiveDate::from_ymd_opt(2023, 2, 28));
        let p = to_date(Period::month(2024, 2).unwrap(), NaiveDate::from_ymd_opt(2024, 2, 10).unwrap()).unwrap();
        assert_eq!(p.to, NaiveDate::from_ymd_opt(2024, 2, 10).unwrap());
        assert!(to_date(Period::month(2024, 3).unwrap(), today).is_none());
    }
}
