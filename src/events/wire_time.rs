//! Decoding of the timestamps stored in events and commands, without chrono's general parser.
//!
//! Why: a `DateTime<Utc>` field is written by chrono's `Serialize` as an RFC 3339 string, and
//! chrono's `Deserialize` reads it back with its general format parser. In a rebuild of the
//! projections that parse was about 45% of the time spent decoding domain events (perf of
//! `cargo bench --bench projections`). Fields marked `#[serde(deserialize_with =
//! "wire_time::utc")]` read the one shape chrono writes directly:
//! `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1–9 digits, then `Z` or `±HH:MM`; fields
//! marked `wire_time::date` read a `NaiveDate`'s `YYYY-MM-DD`.
//!
//! Invariants:
//! - The stored format does not change: serialization is still chrono's.
//! - Anything outside that shape (lower-case `t`/`z`, a space separator, a leap second, more
//!   than 9 fraction digits, a 5-digit year…) goes to chrono's own parser, so what is accepted
//!   and every error message are exactly chrono's. The fast path only ever accepts strings
//!   chrono accepts, with the same value (a property test checks it).
//! - `Option<…>` and `Vec<…>` fields keep chrono's derive: with `deserialize_with`, serde would
//!   no longer treat a missing JSON field as `None`.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::de::{self, Deserializer, Visitor};

/// Deserializes a `DateTime<Utc>` written as an RFC 3339 string (see the module docs).
pub fn utc<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(UtcVisitor)
}

/// Deserializes a `NaiveDate` written as `YYYY-MM-DD` (chrono's form); anything else goes to
/// chrono's parser.
pub fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    deserializer.deserialize_str(DateVisitor)
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // chrono's wording.
        f.write_str("a formatted date string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<NaiveDate, E> {
        match parse_canonical_date(value.as_bytes()) {
            Some(d) => Ok(d),
            None => value.parse::<NaiveDate>().map_err(E::custom),
        }
    }
}

struct UtcVisitor;

impl Visitor<'_> for UtcVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // chrono's wording, so a mistyped field reads the same as before.
        f.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<DateTime<Utc>, E> {
        match parse_canonical(value) {
            Some(t) => Ok(t),
            None => value.parse::<DateTime<FixedOffset>>().map(|t| t.with_timezone(&Utc)).map_err(E::custom),
        }
    }
}

/// The `n` ASCII digits of `b` from `from` as a number, or `None`.
fn digits(b: &[u8], from: usize, n: usize) -> Option<u32> {
    b.get(from..from + n)?.iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// `YYYY-MM-DD` exactly, or `None`.
fn parse_canonical_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(b, 0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(b, 5, 2)?, digits(b, 8, 2)?)
}

/// The canonical shape, or `None` for anything else (including values out of range).
fn parse_canonical(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |from: usize, n: usize| digits(b, from, n);
    let date = parse_canonical_date(&b[..10])?;
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if second > 59 {
        return None; // a leap second: chrono's parser decides
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if b[at] == b'.' {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let n = at - start;
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = digits(start, n)? * 10u32.pow(9 - n as u32);
    }
    let offset_secs = match &b[at..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i32::try_from(h * 3600 + m * 60).ok()?;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let local = date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
    if offset_secs == 0 {
        // What chrono writes (`Z`): no offset to apply, so no checked shift.
        return Some(local.and_utc());
    }
    let offset = FixedOffset::east_opt(offset_secs)?;
    let at = offset.from_local_datetime(&local).single()?;
    Some(at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono(s: &str) -> Option<DateTime<Utc>> {
        s.parse::<DateTime<FixedOffset>>().ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn reads_what_chrono_writes() {
        for s in [
            "2024-03-05T08:00:00Z",
            "2024-03-05T08:00:00.5Z",
            "2024-03-05T08:00:00.123Z",
            "2024-03-05T08:00:00.123456Z",
            "2024-03-05T08:00:00.123456789Z",
            "2024-02-29T23:59:59+08:00",
            "0001-01-01T00:00:00-05:30",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_canonical(s), chrono(s), "{s}");
            assert!(parse_canonical(s).is_some(), "{s} takes the fast path");
        }
    }

    #[test]
    fn other_shapes_go_to_chrono() {
        for s in [
            "2024-03-05t08:00:00z",
            "2024-03-05 08:00:00Z",
            "2024-03-05T08:00:60Z",
            "2024-03-05T08:00:00.1234567891Z",
            "2024-02-30T08:00:00Z",
            "2024-03-05T08:00:00+24:00",
            "2024-03-05T08:00:00",
            "2024-03-05T08:00:00.Z",
            "+12024-03-05T08:00:00Z",
            "2024-03-05T08:00:00Z ",
            "２０２4-03-05T08:00:00Z",
        ] {
            assert_eq!(parse_canonical(s), None, "{s}");
        }
    }

    #[test]
    fn dates_read_as_chrono_reads_them() {
        for s in ["2024-02-29", "0000-01-01", "9999-12-31"] {
            assert_eq!(parse_canonical_date(s.as_bytes()), s.parse().ok(), "{s}");
            assert!(parse_canonical_date(s.as_bytes()).is_some(), "{s}");
        }
        for s in ["2023-02-29", "2024-2-29", "+2024-02-29", "2024-02-29 ", "2024/02/29"] {
            assert_eq!(parse_canonical_date(s.as_bytes()), None, "{s}");
        }
        let fast: Result<NaiveDate, serde_json::Error> =
            date(&mut serde_json::Deserializer::from_str("\"2023-02-29\""));
        let slow: Result<NaiveDate, serde_json::Error> = serde_json::from_str("\"2023-02-29\"");
        assert_eq!(fast.unwrap_err().to_string(), slow.unwrap_err().to_string());
    }

    #[test]
    fn errors_are_chronos() {
        let fast: Result<DateTime<Utc>, serde_json::Error> =
            utc(&mut serde_json::Deserializer::from_str("\"2024-13-01T00:00:00Z\""));
        let slow: Result<DateTime<Utc>, serde_json::Error> = serde_json::from_str("\"2024-13-01T00:00:00Z\"");
        assert_eq!(fast.unwrap_err().to_string(), slow.unwrap_err().to_string());
        let fast: Result<DateTime<Utc>, serde_json::Error> = utc(&mut serde_json::Deserializer::from_str("17"));
        let slow: Result<DateTime<Utc>, serde_json::Error> = serde_json::from_str("17");
        assert_eq!(fast.unwrap_err().to_string(), slow.unwrap_err().to_string());
    }

    proptest! {
        /// Every instant chrono writes, at any offset, reads back to the same instant.
        #[test]
        fn round_trips_chronos_output(secs in -62_000_000_000i64..253_000_000_000i64, nanos in 0u32..1_000_000_000, offset_min in -1439i32..=1439) {
            let at = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let written = serde_json::to_string(&at).unwrap();
            let read: DateTime<Utc> = utc(&mut serde_json::Deserializer::from_str(&written)).unwrap();
            prop_assert_eq!(read, at);
            let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
            let local = at.with_timezone(&offset).to_rfc3339();
            prop_assert_eq!(parse_canonical(&local).or_else(|| chrono(&local)), Some(at));
        }

        /// Every date chrono writes reads back; the fast path agrees with chrono on any digits.
        #[test]
        fn dates_agree_with_chrono(days in -700_000i64..3_000_000, s in "[0-9]{4}-[0-9]{2}-[0-9]{2}") {
            if let Some(d) = NaiveDate::from_num_days_from_ce_opt(days as i32) {
                let written = serde_json::to_string(&d).unwrap();
                let read: NaiveDate = date(&mut serde_json::Deserializer::from_str(&written)).unwrap();
                prop_assert_eq!(read, d);
            }
            if let Some(fast) = parse_canonical_date(s.as_bytes()) {
                prop_assert_eq!(Some(fast), s.parse::<NaiveDate>().ok());
            }
        }

        /// The fast path never accepts what chrono refuses, nor reads another value.
        #[test]
        fn fast_path_agrees_with_chrono(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?(Z|z|[+-][0-9]{2}:[0-9]{2})?") {
            if let Some(fast) = parse_canonical(&s) {
                prop_assert_eq!(Some(fast), chrono(&s));
            }
        }
    }
}
