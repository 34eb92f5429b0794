//! The derived index of the statistics (增量汇总): per cell (community or all) × (category or
//! all), and per grade cell, the incident figures summed by year, month and CST day
//! ([`Buckets`]); moved per event by the fold, built from the facts at once after a bulk fold
//! or a snapshot load ([`build_cells`]). Never stored.

use std::collections::BTreeMap;
use std::ops::Bound;

use chrono::{Datelike, NaiveDate};

use super::facts::{IncidentFacts, Totals};
use crate::events::incident::{Casualties, IncidentGrade};
use crate::projections::Period;

/// One cell's figures by year, by month and by CST day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Buckets {
    pub(super) years: BTreeMap<i32, Totals>,
    pub(super) months: BTreeMap<(i32, u32), Totals>,
    pub(super) days: BTreeMap<NaiveDate, Totals>,
}

/// Adds one incident's figures to (or takes them out of) a bucket; a bucket left without an
/// incident is removed.
pub(super) fn put_one<K: Ord + Copy>(map: &mut BTreeMap<K, Totals>, key: K, c: &Casualties, add: bool) {
    let t = map.entry(key).or_default();
    if add {
        t.add(c);
    } else {
        t.sub(c);
    }
    if t.incidents == 0 {
        map.remove(&key);
    }
}

/// The CST days of a calendar month, as range bounds (unbounded past chrono's date range).
pub(super) fn month_days((y, m): (i32, u32)) -> (Bound<NaiveDate>, Bound<NaiveDate>) {
    let (ny, nm) = next_month((y, m));
    let lo = NaiveDate::from_ymd_opt(y, m, 1).map_or(Bound::Unbounded, Bound::Included);
    let hi = NaiveDate::from_ymd_opt(ny, nm, 1).map_or(Bound::Unbounded, Bound::Excluded);
    (lo, hi)
}

impl Buckets {
    pub(super) fn put(&mut self, day: NaiveDate, c: &Casualties, add: bool) {
        put_one(&mut self.years, day.year(), c, add);
        put_one(&mut self.months, (day.year(), day.month()), c, add);
        put_one(&mut self.days, day, c, add);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.years.is_empty()
    }

    /// Sums a period by calendar month of the year (1–12) into `out`: whole months from the
    /// month buckets, a partial first or last month from its day buckets.
    pub(super) fn sum_by_month_of_year(&self, period: Period, out: &mut BTreeMap<u32, Totals>) {
        let (from, to) = (period.from, period.to);
        if from > to {
            return;
        }
        let from_month = (from.year(), from.month());
        let to_month = (to.year(), to.month());
        let from_whole = from.day() == 1;
        let to_whole = to.succ_opt().is_none_or(|d| d.day() == 1);
        for (&ym, t) in self.months.range(from_month..=to_month) {
            let slot = out.entry(ym.1).or_default();
            if (ym != from_month || from_whole) && (ym != to_month || to_whole) {
                slot.merge(t);
                continue;
            }
            let same = |d: &NaiveDate| (d.year(), d.month()) == ym;
            if ym == from_month {
                self.days.range(from..=to).take_while(|(d, _)| same(d)).for_each(|(_, x)| slot.merge(x));
            } else {
                self.days.range(..=to).rev().take_while(|(d, _)| same(d)).for_each(|(_, x)| slot.merge(x));
            }
        }
    }

    /// The last CST day on or before `as_of` whose bucket satisfies `hit`. `hit` must hold for
    /// a sum exactly when it holds for one of its parts (e.g. "has a death", "has an
    /// incident"), so a year or month that fails it is skipped whole.
    pub(super) fn last_day(&self, as_of: NaiveDate, hit: impl Fn(&Totals) -> bool) -> Option<NaiveDate> {
        let in_month = |ym: (i32, u32)| {
            self.days.range(month_days(ym)).rev().find(|(d, t)| **d <= as_of && hit(t)).map(|(d, _)| *d)
        };
        let (y, m) = (as_of.year(), as_of.month());
        if let Some(d) = in_month((y, m)) {
            return Some(d);
        }
        for (&ym, t) in self.months.range((y, 1)..(y, m)).rev() {
            if let Some(d) = Some(t).filter(|t| hit(t)).and_then(|_| in_month(ym)) {
                return Some(d);
            }
        }
        for (&year, t) in self.years.range(..y).rev() {
            if !hit(t) {
                continue;
            }
            for (&ym, t) in self.months.range((year, 1)..=(year, 12)).rev() {
                if let Some(d) = Some(t).filter(|t| hit(t)).and_then(|_| in_month(ym)) {
                    return Some(d);
                }
            }
        }
        None
    }

    /// Sum over a period: leading days and months, whole years, trailing months and days.
    pub(super) fn sum(&self, period: Period) -> Totals {
        let mut t = Totals::default();
        let (from, to) = (period.from, period.to);
        if from > to {
            return t;
        }
        let from_month = (from.year(), from.month());
        let to_month = (to.year(), to.month());
        let first_full = if from.day() == 1 { from_month } else { next_month(from_month) };
        let to_is_month_end = to.succ_opt().is_none_or(|d| d.day() == 1);
        let last_full = if to_is_month_end { to_month } else { prev_month(to_month) };
        if first_full > last_full {
            self.days.range(from..=to).for_each(|(_, x)| t.merge(x));
            return t;
        }
        if first_full != from_month {
            let same = |d: &NaiveDate| (d.year(), d.month()) == from_month;
            self.days.range(from..).take_while(|(d, _)| same(d)).for_each(|(_, x)| t.merge(x));
        }
        if last_full != to_month {
            let same = |d: &NaiveDate| (d.year(), d.month()) == to_month;
            self.days.range(..=to).rev().take_while(|(d, _)| same(d)).for_each(|(_, x)| t.merge(x));
        }
        let ((y1, m1), (y2, m2)) = (first_full, last_full);
        if y1 == y2 {
            self.months.range(first_full..=last_full).for_each(|(_, x)| t.merge(x));
            return t;
        }
        if m1 != 1 {
            self.months.range(first_full..=(y1, 12)).for_each(|(_, x)| t.merge(x));
        }
        if m2 != 12 {
            self.months.range((y2, 1)..=last_full).for_each(|(_, x)| t.merge(x));
        }
        let first_year = if m1 == 1 { y1 } else { y1 + 1 };
        let last_year = if m2 == 12 { y2 } else { y2 - 1 };
        if first_year <= last_year {
            self.years.range(first_year..=last_year).for_each(|(_, x)| t.merge(x));
        }
        t
    }
}

pub(super) fn next_month((y, m): (i32, u32)) -> (i32, u32) {
    if m >= 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

pub(super) fn prev_month((y, m): (i32, u32)) -> (i32, u32) {
    if m <= 1 {
        (y - 1, 12)
    } else {
        (y, m - 1)
    }
}

/// Key of a grade cell: (community or all, category or all, grade).
pub(super) type GradeKey = (Option<String>, Option<String>, IncidentGrade);

/// Every grade, least serious first.
pub(super) const GRADES: [IncidentGrade; 4] = [
    IncidentGrade::Ordinary,
    IncidentGrade::RelativelySerious,
    IncidentGrade::Serious,
    IncidentGrade::ExtraordinarilySerious,
];

/// Puts figures into (or takes them out of) a cell; an emptied cell is removed.
pub(super) fn put_cell<K: Ord>(cells: &mut BTreeMap<K, Buckets>, key: K, day: NaiveDate, c: &Casualties, add: bool) {
    if let Some(b) = cells.get_mut(&key) {
        b.put(day, c, add);
        if b.is_empty() {
            cells.remove(&key);
        }
    } else {
        let mut b = Buckets::default();
        b.put(day, c, add);
        if !b.is_empty() {
            cells.insert(key, b);
        }
    }
}

/// The four (community or all) × (category or all) keys of an incident.
pub(super) fn cell_keys(f: &IncidentFacts) -> [(Option<String>, Option<String>); 4] {
    let community = Some(f.community_id.clone());
    let category = Some(f.category.clone());
    [(None, None), (None, category.clone()), (community.clone(), None), (community, category)]
}

/// Puts an incident's figures into (or takes them out of) its four cells.
pub(super) fn account(cells: &mut BTreeMap<(Option<String>, Option<String>), Buckets>, f: &IncidentFacts, add: bool) {
    let day = f.day();
    for key in cell_keys(f) {
        put_cell(cells, key, day, &f.casualties, add);
    }
}

/// Puts a graded incident's figures into (or takes them out of) its four grade cells; an
/// ungraded incident has none.
pub(super) fn account_grade(cells: &mut BTreeMap<GradeKey, Buckets>, f: &IncidentFacts, add: bool) {
    let Some(grade) = f.grade else { return };
    let day = f.day();
    for (community, category) in cell_keys(f) {
        put_cell(cells, (community, category, grade), day, &f.casualties, add);
    }
}

/// One cell's figures by grade and CST day while the cells are built from scratch: pairs of
/// [`day_key`] and figures, sorted by key with no key twice.
pub(super) type CellDays = Vec<(u64, Totals)>;

/// Sort key of a cell's figure: the grade (0 for the plain cells, 1 + its index in [`GRADES`]
/// for a grade cell) above the day, so a cell's figures sort by grade, then date.
pub(super) fn day_key(grade: u8, day: NaiveDate) -> u64 {
    // Flipping the sign bit keeps days before year 1 (negative numbers) in order.
    (u64::from(grade) << 32) | u64::from((day.num_days_from_ce() as u32) ^ (1 << 31))
}

pub(super) fn key_grade(key: u64) -> u8 {
    (key >> 32) as u8
}

pub(super) fn key_day(key: u64) -> NaiveDate {
    let days = ((key as u32) ^ (1 << 31)) as i32;
    // Every key was made from a `NaiveDate`, so the day number is one chrono accepts.
    NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN)
}

/// Sorts figures by key and sums those with equal keys. The input is usually a few sorted runs
/// (the finer cells' figures one after another), which the stable sort merges rather than sorts.
pub(super) fn sum_by_key(mut figures: CellDays) -> CellDays {
    figures.sort_by_key(|f| f.0);
    figures.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1.merge(&later.1);
        }
        same
    });
    figures
}

/// Day figures as one cell's buckets: the years and months are sums of the days.
pub(super) fn buckets_of(days: BTreeMap<NaiveDate, Totals>) -> Buckets {
    let mut years: Vec<(i32, Totals)> = Vec::new();
    let mut months: Vec<((i32, u32), Totals)> = Vec::new();
    for (day, t) in &days {
        match years.last_mut() {
            Some((y, sum)) if *y == day.year() => sum.merge(t),
            _ => years.push((day.year(), *t)),
        }
        let month = (day.year(), day.month());
        match months.last_mut() {
            Some((m, sum)) if *m == month => sum.merge(t),
            _ => months.push((month, *t)),
        }
    }
    Buckets { years: years.into_iter().collect(), months: months.into_iter().collect(), days }
}

/// The cells and grade cells of `incidents`, from scratch: equal to accounting every incident
/// with [`account`] and [`account_grade`]. Only the finest cells, (community, category) with
/// and without grade, are built from the incidents (one map lookup per incident); the coarser
/// ones are summed from those by day, and each cell's month and year figures from its days.
/// Sorting flat figures replaces the four to eight map lookups per incident that made the
/// statistics the slowest of the five snapshots to load.
#[allow(clippy::type_complexity)]
pub(super) fn build_cells(
    incidents: &BTreeMap<String, IncidentFacts>,
) -> (BTreeMap<(Option<String>, Option<String>), Buckets>, BTreeMap<GradeKey, Buckets>) {
    let mut rows: hashbrown::HashMap<(&str, &str), Vec<(u64, &Casualties)>> = hashbrown::HashMap::new();
    for f in incidents.values() {
        let day = f.day();
        let cell = rows.entry((f.community_id.as_str(), f.category.as_str())).or_default();
        cell.push((day_key(0, day), &f.casualties));
        if let Some(grade) = f.grade {
            let grade = GRADES.iter().position(|g| *g == grade).unwrap_or(0) as u8 + 1;
            cell.push((day_key(grade, day), &f.casualties));
        }
    }
    let fine: Vec<((&str, &str), CellDays)> = rows
        .into_iter()
        .map(|(cell, mut rows)| {
            rows.sort_unstable_by_key(|r| r.0);
            let mut days: CellDays = Vec::new();
            for (key, casualties) in rows {
                match days.last_mut() {
                    Some((k, t)) if *k == key => t.add(casualties),
                    _ => {
                        let mut t = Totals::default();
                        t.add(casualties);
                        days.push((key, t));
                    }
                }
            }
            (cell, days)
        })
        .collect();
    let mut by_community: hashbrown::HashMap<&str, CellDays> = hashbrown::HashMap::new();
    let mut by_category: hashbrown::HashMap<&str, CellDays> = hashbrown::HashMap::new();
    for ((community, category), days) in &fine {
        by_community.entry(community).or_default().extend_from_slice(days);
        by_category.entry(category).or_default().extend_from_slice(days);
    }
    let by_community: Vec<(&str, CellDays)> = by_community.into_iter().map(|(c, d)| (c, sum_by_key(d))).collect();
    let everywhere = sum_by_key(by_community.iter().flat_map(|(_, days)| days.iter().copied()).collect());

    let mut all: Vec<((Option<&str>, Option<&str>), CellDays)> = Vec::new();
    all.extend(fine.into_iter().map(|((c, cat), d)| ((Some(c), Some(cat)), d)));
    all.extend(by_community.into_iter().map(|(c, d)| ((Some(c), None), d)));
    all.extend(by_category.into_iter().map(|(cat, d)| ((None, Some(cat)), sum_by_key(d))));
    all.push(((None, None), everywhere));
    let (mut cells, mut grade_cells) = (BTreeMap::new(), BTreeMap::new());
    let owned = |s: Option<&str>| s.map(str::to_string);
    for ((community, category), days) in all {
        for grade in days.chunk_by(|a, b| key_grade(a.0) == key_grade(b.0)) {
            let by_day: BTreeMap<NaiveDate, Totals> = grade.iter().map(|(k, t)| (key_day(*k), *t)).collect();
            let key = (owned(community), owned(category));
            match key_grade(grade[0].0) {
                0 => cells.insert(key, buckets_of(by_day)),
                g => grade_cells.insert((key.0, key.1, GRADES[usize::from(g - 1)]), buckets_of(by_day)),
            };
        }
    }
    (cells, grade_cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_keys_keep_grade_and_date_and_sort_by_grade_then_date() {
        let days = [NaiveDate::MIN, day(-1, 12, 31), day(1, 1, 1), day(2024, 2, 29), day(2024, 3, 1), NaiveDate::MAX];
        let mut keys = Vec::new();
        for grade in [0u8, 1, 4] {
            for d in days {
                let key = day_key(grade, d);
                assert_eq!((key_grade(key), key_day(key)), (grade, d));
                keys.push(((grade, d), key));
            }
        }
        let mut by_parts = keys.clone();
        by_parts.sort_by_key(|(parts, _)| *parts);
        keys.sort_by_key(|(_, key)| *key);
        assert_eq!(keys, by_parts);
    }

    /// Summing a period from year, month and day buckets gives what a scan of the days gives,
    /// for periods that start and end inside months, on month and year edges, and span years.
    #[test]
    fn bucket_sums_equal_a_scan_of_the_days() {
        let mut b = Buckets::default();
        let mut facts: Vec<(NaiveDate, Casualties)> = Vec::new();
        // Irregular days over 2022–2026, one to three incidents each.
        let mut d = day(2022, 1, 1);
        let mut n = 0u32;
        while d <= day(2026, 12, 31) {
            for k in 0..(n % 3 + 1) {
                let c = Casualties {
                    deaths: (n + k) % 4,
                    serious_injuries: n % 2,
                    minor_injuries: k,
                    missing: u32::from(n.is_multiple_of(11)),
                    direct_loss_yuan: u64::from(n) * 10,
                };
                b.put(d, &c, true);
                facts.push((d, c));
            }
            n += 1;
            d += chrono::Duration::days(i64::from(n % 9 + 1));
        }
        // A revision: take one out and put it back changed.
        let (rd, old) = facts[7];
        let new = Casualties { deaths: old.deaths + 5, ..old };
        b.put(rd, &old, false);
        b.put(rd, &new, true);
        facts[7].1 = new;
        let periods = [
            Period { from: NaiveDate::MIN, to: NaiveDate::MAX },
            Period::year(2024).unwrap(),
            Period::quarter(2023, 4).unwrap(),
            Period::month(2025, 2).unwrap(),
            Period { from: day(2022, 3, 15), to: day(2025, 7, 3) },
            Period { from: day(2023, 1, 1), to: day(2024, 12, 30) },
            Period { from: day(2023, 1, 2), to: day(2024, 12, 31) },
            Period { from: day(2023, 2, 1), to: day(2023, 11, 30) },
            Period { from: day(2023, 2, 10), to: day(2023, 2, 20) },
            Period { from: day(2023, 5, 31), to: day(2023, 6, 1) },
            Period { from: day(2024, 12, 31), to: day(2025, 1, 1) },
            Period { from: day(2021, 1, 1), to: day(2022, 1, 31) },
            Period { from: day(2024, 3, 1), to: day(2024, 2, 1) },
        ];
        for p in periods {
            let mut want = Totals::default();
            for (d, c) in &facts {
                if p.contains(*d) {
                    want.add(c);
                }
            }
            assert_eq!(b.sum(p), want, "period {p:?}");
        }
        assert_eq!(b.sum(periods[0]).deaths, facts.iter().map(|(_, c)| u64::from(c.deaths)).sum::<u64>());
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }
}
