//! The periods figures are asked for ([`Period`]: a year, a quarter, a month or any run of CST
//! days) and [`percent`], the one way the read models turn counts into a rate.

use serde::{Deserialize, Serialize};

/// A period of CST calendar dates, both ends included: `from..=to` (统计期).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: chrono::NaiveDate,
    /// Last day included.
    pub to: chrono::NaiveDate,
}

impl Period {
    /// A calendar year (统计年度).
    pub fn year(year: i32) -> Option<Self> {
        Some(Self {
            from: chrono::NaiveDate::from_ymd_opt(year, 1, 1)?,
            to: chrono::NaiveDate::from_ymd_opt(year, 12, 31)?,
        })
    }

    /// A quarter, 1–4 (季度).
    pub fn quarter(year: i32, quarter: u32) -> Option<Self> {
        if !(1..=4).contains(&quarter) {
            return None;
        }
        let from = chrono::NaiveDate::from_ymd_opt(year, (quarter - 1) * 3 + 1, 1)?;
        let to = crate::events::time::plus_months(from, 3)?.pred_opt()?;
        Some(Self { from, to })
    }

    /// A month, 1–12.
    pub fn month(year: i32, month: u32) -> Option<Self> {
        let from = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
        let to = crate::events::time::plus_months(from, 1)?.pred_opt()?;
        Some(Self { from, to })
    }

    pub fn contains(&self, d: chrono::NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// `part ÷ whole × 100`, or `None` when the whole is 0.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    if whole == 0 {
        None
    } else {
        Some(part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn periods_cover_their_days() {
        let q = Period::quarter(2024, 1).unwrap();
        assert_eq!(q.to, NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        assert_eq!(Period::month(2024, 2).unwrap().to, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert!(Period::quarter(2024, 5).is_none());
        assert_eq!(percent(1, 0), None);
        assert_eq!(percent(1, 4), Some(25.0));
    }
}
