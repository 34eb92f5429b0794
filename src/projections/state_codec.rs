//! How projection state is laid out in a snapshot: instants and dates as integers, maps built
//! at once. JSON (what the CLI prints and a host reads) stays as it was.
//!
//! Why: loading the three large snapshots (hazard ledger, statistics, 四不放过 trails) was as
//! slow as folding the whole log again. In its profile (perf of `cargo bench --bench
//! projections`) chrono's parse of RFC 3339 strings (it writes a `DateTime<Utc>` as one in every
//! format) was about 35% of the time and dates another 6%, and inserting entries one by one
//! into the top-level `BTreeMap`s about 20%.
//!
//! - State fields marked `#[serde(with = "state_codec::utc")]` (`utc_opt`, `date`, `date_opt`)
//!   are written as integers by binary formats (bincode: snapshots) and exactly as chrono writes
//!   them by human-readable ones (JSON).
//! - Maps marked `#[serde(deserialize_with = "state_codec::sorted_map")]` are read into a vector
//!   and built as a tree at once; a snapshot writes them in key order, so the build's sort only
//!   checks that order.
//!
//! Invariants:
//! - Binary: an instant is chrono's own decomposition, (whole seconds since the Unix epoch as
//!   `i64`, nanoseconds as `u32`), which covers chrono's whole range, `MIN_UTC` to `MAX_UTC`,
//!   leap seconds included; a date is its day number counted from 0001-01-01 (day 1) as `i32`.
//!   Decoding integers chrono does not accept as an instant or a date is an error, never a panic.
//! - Human-readable: chrono's serde, unchanged (the same strings, the same errors).
//! - This layout is part of every snapshot that uses it: a change to it bumps those projections'
//!   `VERSION`, so older snapshots are discarded and rebuilt from the log.
//! - `Option` fields also carry `#[serde(default)]`, so a JSON object without the field still
//!   reads as `None`, as with chrono's derive.
//! - A map read by `sorted_map` equals the one serde's own impl builds from the same input, in
//!   any order and with duplicate keys (the last value wins).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn instant_parts(t: &DateTime<Utc>) -> (i64, u32) {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn instant_from<E: serde::de::Error>((secs, nanos): (i64, u32)) -> Result<DateTime<Utc>, E> {
    DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| E::custom(format!("{secs} s and {nanos} ns is not an instant chrono can represent")))
}

fn date_from<E: serde::de::Error>(day: i32) -> Result<NaiveDate, E> {
    NaiveDate::from_num_days_from_ce_opt(day)
        .ok_or_else(|| E::custom(format!("day number {day} is not a date chrono can represent")))
}

/// `DateTime<Utc>`.
pub mod utc {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            t.serialize(s)
        } else {
            instant_parts(t).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if d.is_human_readable() {
            DateTime::deserialize(d)
        } else {
            instant_from(<(i64, u32)>::deserialize(d)?)
        }
    }
}

/// `Option<DateTime<Utc>>` (with `#[serde(default)]`).
pub mod utc_opt {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            t.serialize(s)
        } else {
            t.as_ref().map(instant_parts).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        if d.is_human_readable() {
            Option::deserialize(d)
        } else {
            Option::<(i64, u32)>::deserialize(d)?.map(instant_from).transpose()
        }
    }
}

/// `NaiveDate`.
pub mod date {
    use super::*;

    pub fn serialize<S: Serializer>(day: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            day.serialize(s)
        } else {
            day.num_days_from_ce().serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        if d.is_human_readable() {
            NaiveDate::deserialize(d)
        } else {
            date_from(i32::deserialize(d)?)
        }
    }
}

/// `Option<NaiveDate>` (with `#[serde(default)]`).
pub mod date_opt {
    use super::*;

    pub fn serialize<S: Serializer>(day: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            day.serialize(s)
        } else {
            day.map(|d| d.num_days_from_ce()).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        if d.is_human_readable() {
            Option::deserialize(d)
        } else {
            Option::<i32>::deserialize(d)?.map(date_from).transpose()
        }
    }
}

/// Most bytes a map's length prefix may reserve before its entries are read: the prefix is only
/// a claim until then. The codec's general decode limit, so no length prefix asks for more here
/// than anywhere else (a larger map grows as it is read).
const PREALLOCATION_LIMIT: usize = crate::codec::DECODE_LIMIT;

/// Deserializes a `BTreeMap` by collecting its entries and building the tree at once, instead
/// of one insert (a search from the root and shifts inside a node) per entry.
pub fn sorted_map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Entries<K, V>(PhantomData<(K, V)>);

    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let most = PREALLOCATION_LIMIT / std::mem::size_of::<(K, V)>().max(1);
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(most));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            // `FromIterator` sorts stably (one pass over sorted input) and keeps the last of equal
            // keys, as inserting in order would.
            Ok(entries.into_iter().collect())
        }
    }

    d.deserialize_map(Entries(PhantomData))
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::codec;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Stamps {
        #[serde(with = "super::utc")]
        at: DateTime<Utc>,
        #[serde(default, with = "super::utc_opt")]
        closed_at: Option<DateTime<Utc>>,
        #[serde(with = "super::date")]
        day: NaiveDate,
        #[serde(default, with = "super::date_opt")]
        due: Option<NaiveDate>,
    }

    /// The same fields under chrono's own derive: what JSON looked like before.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct ChronoStamps {
        at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
        day: NaiveDate,
        due: Option<NaiveDate>,
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        let (lo, hi) = (DateTime::<Utc>::MIN_UTC.timestamp(), DateTime::<Utc>::MAX_UTC.timestamp());
        // Leap-second nanoseconds (1e9 and up) are chrono's too; it accepts them at a minute's end.
        (lo..=hi, 0u32..2_000_000_000).prop_filter_map("chrono's range", |(s, n)| DateTime::from_timestamp(s, n))
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce())
            .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap())
    }

    fn stamps() -> impl Strategy<Value = Stamps> {
        (any_instant(), proptest::option::of(any_instant()), any_date(), proptest::option::of(any_date()))
            .prop_map(|(at, closed_at, day, due)| Stamps { at, closed_at, day, due })
    }

    proptest! {
        #[test]
        fn binary_round_trips_every_instant_and_date(s in stamps()) {
            let bytes = codec::encode(&s).unwrap();
            prop_assert_eq!(codec::decode::<Stamps>(&bytes).unwrap(), s);
        }

        #[test]
        fn json_is_chronos_own(s in stamps()) {
            let chrono = ChronoStamps { at: s.at, closed_at: s.closed_at, day: s.day, due: s.due };
            let json = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&chrono).unwrap());
            prop_assert_eq!(serde_json::from_str::<Stamps>(&json).unwrap(), s);
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sorted {
        #[serde(deserialize_with = "super::sorted_map")]
        map: BTreeMap<String, u32>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Inserted {
        map: BTreeMap<String, u32>,
    }

    proptest! {
        /// Any order and duplicate keys, in JSON (bincode maps come from a `BTreeMap`, so are
        /// sorted and unique): the same map as serde's own impl.
        #[test]
        fn sorted_map_equals_serdes_map(entries in proptest::collection::vec(("[a-d]{0,2}", any::<u32>()), 0..40)) {
            let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            let json = format!("{{\"map\":{{{}}}}}", body.join(","));
            let sorted: Sorted = serde_json::from_str(&json).unwrap();
            let inserted: Inserted = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(sorted.map, inserted.map);
        }

        #[test]
        fn sorted_map_reads_what_a_btreemap_wrote(map in proptest::collection::btree_map("[a-z]{0,6}", any::<u32>(), 0..200)) {
            #[derive(Serialize)]
            struct Written<'a> { map: &'a BTreeMap<String, u32> }
            let bytes = codec::encode(&Written { map: &map }).unwrap();
            prop_assert_eq!(codec::decode::<Sorted>(&bytes).unwrap().map, map);
        }
    }

    #[test]
    fn a_map_length_past_its_bytes_is_an_error_not_an_allocation() {
        // A length prefix of u64::MAX entries followed by nothing.
        let mut bytes = vec![253u8];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(codec::decode::<Sorted>(&bytes).is_err());
    }

    #[test]
    fn the_ends_of_chronos_range_round_trip() {
        let s = Stamps {
            at: DateTime::<Utc>::MIN_UTC,
            closed_at: Some(DateTime::<Utc>::MAX_UTC),
            day: NaiveDate::MIN,
            due: Some(NaiveDate::MAX),
        };
        assert_eq!(codec::decode::<Stamps>(&codec::encode(&s).unwrap()).unwrap(), s);
    }

    #[test]
    fn a_leap_second_round_trips_in_both_forms() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap()
            .and_utc();
        let s = Stamps { at: leap, closed_at: Some(leap), day: NaiveDate::MIN, due: None };
        assert_eq!(codec::decode::<Stamps>(&codec::encode(&s).unwrap()).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("23:59:60.500"), "{json}");
        assert_eq!(serde_json::from_str::<Stamps>(&json).unwrap(), s);
    }

    #[test]
    fn json_without_the_optional_fields_reads_none() {
        let s: Stamps = serde_json::from_str(r#"{"at":"2025-03-01T08:00:00Z","day":"2025-03-01"}"#).unwrap();
        assert_eq!(s.closed_at, None);
        assert_eq!(s.due, None);
        assert_eq!(s.at, Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap());
    }

    #[test]
    fn integers_outside_chronos_range_are_errors() {
        #[derive(Serialize)]
        struct Raw {
            at: (i64, u32),
            closed_at: Option<(i64, u32)>,
            day: i32,
            due: Option<i32>,
        }
        let good = Raw { at: (0, 0), closed_at: None, day: 1, due: None };
        assert!(codec::decode::<Stamps>(&codec::encode(&good).unwrap()).is_ok());
        for bad in [
            Raw { at: (i64::MAX, 0), ..good },
            Raw { at: (0, 2_000_000_000), ..good },
            Raw { closed_at: Some((i64::MIN, 0)), ..good },
            Raw { day: i32::MAX, ..good },
            Raw { due: Some(i32::MIN), ..good },
        ] {
            let err = codec::decode::<Stamps>(&codec::encode(&bad).unwrap()).unwrap_err();
            assert!(err.to_string().contains("chrono can represent"), "{err}");
        }
    }
}
