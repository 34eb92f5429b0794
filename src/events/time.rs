//! Time arithmetic for regulation clocks. Nothing here reads a clock.
//!
//! Invariants:
//! - Regulation clocks (1 hour, 7/30 days, 60 days) count from UTC timestamps: a day is 24 hours.
//! - Calendar facts (a rectification deadline, a naming date, a statistics year) are dates in
//!   China Standard Time (UTC+8, no daylight saving); [`cst_date`] / [`cst_year`] convert.
//! - Arithmetic is checked: an overflow yields `None`, never a panic.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveTime, Offset, TimeZone, Utc};

/// Seconds east of UTC of China Standard Time.
pub const CST_OFFSET_SECS: i32 = 8 * 3600;

/// China Standard Time as a fixed offset.
/// The earliest date any time field may carry: 1949-10-01 (China time). Earlier is a typo (a
/// two-digit year, a missing digit) or an attack on the statistics, never a record.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1949, 10, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The first instant of [`EARLIEST_DATE`] in China time (1949-09-30T16:00:00Z).
pub fn earliest_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(-639_129_600, 0).unwrap_or_default()
}

pub fn cst() -> FixedOffset {
    // 8 hours is always a valid offset; fall back to UTC rather than panic.
    FixedOffset::east_opt(CST_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// The calendar date in China of an instant.
pub fn cst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&cst()).date_naive()
}

/// The statistics year (China Standard Time) of an instant.
pub fn cst_year(at: DateTime<Utc>) -> i32 {
    cst_date(at).year()
}

/// The first instant after a CST calendar date has ended (a deadline "by date D" is met by any
/// instant before this one).
pub fn end_of_cst_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    let next = date.succ_opt()?;
    let local = next.and_time(NaiveTime::MIN);
    cst().from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
}

/// `at` plus whole days (24-hour days), checked.
pub fn plus_days(at: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    at.checked_add_signed(Duration::days(i64::from(days)))
}

/// `date` plus calendar months (Feb 29 + 12 months → Feb 28), checked.
pub fn plus_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// `date` plus calendar years, checked.
pub fn plus_years(date: NaiveDate, years: u32) -> Option<NaiveDate> {
    plus_months(date, years.checked_mul(12)?)
}

/// Whole days elapsed from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cst_date_crosses_midnight_eight_hours_early() {
        assert_eq!(cst_date(t("2024-12-31T15:59:59Z")), NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
        assert_eq!(cst_date(t("2024-12-31T16:00:00Z")), NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(cst_year(t("2024-12-31T16:00:00Z")), 2025);
    }

    #[test]
    fn end_of_cst_day_is_utc_16h() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(end_of_cst_day(d), Some(t("2025-03-01T16:00:00Z")));
    }

    #[test]
    fn month_and_year_arithmetic_clamps_and_never_panics() {
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(plus_years(leap, 1), NaiveDate::from_ymd_opt(2025, 2, 28));
        assert_eq!(plus_years(NaiveDate::MAX, 5), None);
        assert_eq!(plus_days(DateTime::<Utc>::MAX_UTC, 1), None);
        assert_eq!(days_between(t("2025-01-01T00:00:00Z"), t("2025-01-31T00:00:00Z")), 30);
    }
}
