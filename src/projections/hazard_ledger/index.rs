//! The ledger's derived indexes (增量汇总), never stored: [`LedgerIndex`] (open counters per
//! dimension, open hazards by deadline, closed by time, found-day and deadline-day buckets,
//! ordered counts and incomplete 五到位 orders) and [`PenaltyIndex`] (penalties by hazard, the
//! major ones by day), each moved per event and built at once from the entries.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use serde::{Deserialize, Serialize};

use super::entry::{HazardEntry, Penalty, SERIES};
use crate::events::time::cst_date;

/// Counts of open hazards, in total and by each dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenHazards {
    pub total: u64,
    pub major: u64,
    /// By grade code ([`UNGRADED`] before grading).
    pub by_grade: BTreeMap<String, u64>,
    pub by_community: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    /// By enterprise ([`NO_ENTERPRISE`] when none).
    pub by_enterprise: BTreeMap<String, u64>,
}

/// Penalties by hazard, and those for major hazards by day (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PenaltyIndex {
    /// Hazard id → (enterprise, decided on) → penalties naming it.
    pub(super) by_hazard: BTreeMap<String, BTreeMap<(String, NaiveDate), u64>>,
    /// Decided-on day → enterprise → penalties naming a hazard now known as major.
    pub(super) major_by_day: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
}

impl PenaltyIndex {
    /// The index of a ledger's penalties, from scratch.
    pub(super) fn build(penalties: &BTreeMap<String, Vec<Penalty>>, hazards: &BTreeMap<String, HazardEntry>) -> Self {
        let mut index = Self::default();
        for (enterprise_id, list) in penalties {
            for p in list {
                index.add(enterprise_id, p, hazards);
            }
        }
        index
    }

    pub(super) fn add(&mut self, enterprise_id: &str, p: &Penalty, hazards: &BTreeMap<String, HazardEntry>) {
        let Some(hazard_id) = p.hazard_id.as_deref() else { return };
        let key = (enterprise_id.to_string(), p.decided_on);
        *self.by_hazard.entry(hazard_id.to_string()).or_default().entry(key).or_default() += 1;
        if hazards.get(hazard_id).is_some_and(|h| h.major) {
            self.count(enterprise_id, p.decided_on, 1, true);
        }
    }

    /// Adds `n` major penalties of an enterprise on a day, or takes them out.
    pub(super) fn count(&mut self, enterprise_id: &str, day: NaiveDate, n: u64, add: bool) {
        let by_enterprise = self.major_by_day.entry(day).or_default();
        let c = by_enterprise.entry(enterprise_id.to_string()).or_default();
        *c = if add { *c + n } else { c.saturating_sub(n) };
        if *c == 0 {
            by_enterprise.remove(enterprise_id);
        }
        if by_enterprise.is_empty() {
            self.major_by_day.remove(&day);
        }
    }

    /// A hazard became major (`true`) or stopped being major: its penalties follow.
    pub(super) fn hazard_major_changed(&mut self, hazard_id: &str, major: bool) {
        let Some(list) = self.by_hazard.get(hazard_id) else { return };
        for ((enterprise_id, day), n) in list.clone() {
            self.count(&enterprise_id, day, n, major);
        }
    }
}

/// Running totals over the ledger's entries, keyed by the query dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LedgerIndex {
    /// Open-hazard counters, exactly what [`HazardLedger::open_hazards`] returns.
    pub(super) open: OpenHazards,
    /// Open hazards that have a deadline, by (deadline in force, id).
    pub(super) open_by_deadline: BTreeSet<(NaiveDate, String)>,
    /// Closed hazards, by (closed at, id).
    pub(super) closed_by_time: BTreeSet<(DateTime<Utc>, String)>,
    /// Ids of hazards listed for supervision.
    pub(super) listed: BTreeSet<String>,
    /// Ids of hazards with an application to close (SAWS Order 16 art. 18).
    pub(super) applied: BTreeSet<String>,
    /// CST found day → CST closing day (`None`: open) → hazards per series.
    pub(super) found: BTreeMap<NaiveDate, BTreeMap<Option<NaiveDate>, [u64; SERIES]>>,
    /// Deadline day → hazards due per series, then of those closed on time per series.
    pub(super) due: BTreeMap<NaiveDate, [u64; 2 * SERIES]>,
    /// Hazards with a rectification order: all, major.
    pub(super) ordered: [u64; 2],
    /// Ordered hazards whose order lacks one of the five, by id → major.
    pub(super) incomplete: BTreeMap<String, bool>,
}

/// Adds or takes one from a named counter; a counter that reaches 0 is removed.
pub(super) fn bump(map: &mut BTreeMap<String, u64>, key: &str, add: bool) {
    if let Some(v) = map.get_mut(key) {
        if add {
            *v += 1;
        } else {
            *v = v.saturating_sub(1);
            if *v == 0 {
                map.remove(key);
            }
        }
    } else if add {
        map.insert(key.to_string(), 1);
    }
}

/// Adds or takes `on` from an array of counters.
pub(super) fn bump_array<const N: usize>(counts: &mut [u64; N], on: &[bool; N], add: bool) {
    for (c, on) in counts.iter_mut().zip(on) {
        if *on {
            *c = if add { *c + 1 } else { c.saturating_sub(1) };
        }
    }
}

/// How many of `rows` have each flag set.
pub(super) fn summed<'a, const N: usize>(rows: impl Iterator<Item = &'a [bool; N]>) -> [u64; N] {
    let mut counts = [0u64; N];
    for on in rows {
        bump_array(&mut counts, on, true);
    }
    counts
}

/// Parts of the running totals an event can move (bit flags for [`LedgerIndex::account`]).
pub(super) mod part {
    /// Open-hazard counters.
    pub const OPEN: u8 = 1;
    /// Open hazards by deadline.
    pub const OPEN_DEADLINE: u8 = 1 << 1;
    /// Closed hazards by closing time.
    pub const CLOSED: u8 = 1 << 2;
    /// The listed set.
    pub const LISTED: u8 = 1 << 3;
    /// Found-day buckets.
    pub const FOUND: u8 = 1 << 4;
    /// Deadline-day buckets.
    pub const DUE: u8 = 1 << 5;
    /// Ordered counts and incomplete orders (五到位).
    pub const ORDER: u8 = 1 << 6;
    /// The set of hazards applied for closure.
    pub const APPLIED: u8 = 1 << 7;
    pub const ALL: u8 = OPEN | OPEN_DEADLINE | CLOSED | LISTED | FOUND | DUE | ORDER | APPLIED;
}

impl LedgerIndex {
    /// The running totals of a ledger's entries, from scratch: equal to accounting every entry
    /// with [`part::ALL`], but built from sorted rows instead of entry by entry. Named counters
    /// count in hash maps of borrowed names; day buckets and sets are sorted rows summed in
    /// runs and built as trees at once (a snapshot load and the end of a bulk fold both come
    /// here; accounting entry by entry, tree lookups each time, was about half of the build).
    pub(super) fn build(hazards: &BTreeMap<String, HazardEntry>) -> Self {
        type Counts<'a> = hashbrown::HashMap<&'a str, u64>;
        let named = |counts: Counts<'_>| -> BTreeMap<String, u64> {
            let mut rows: Vec<(&str, u64)> = counts.into_iter().collect();
            rows.sort_unstable();
            rows.into_iter().map(|(name, n)| (name.to_string(), n)).collect()
        };
        let mut index = Self::default();
        let mut names = [Counts::new(), Counts::new(), Counts::new(), Counts::new()];
        let (mut open_by_deadline, mut closed_by_time) = (Vec::new(), Vec::new());
        let mut found: Vec<(NaiveDate, Option<NaiveDate>, [bool; SERIES])> = Vec::with_capacity(hazards.len());
        let mut due: Vec<(NaiveDate, [bool; 2 * SERIES])> = Vec::new();
        for h in hazards.values() {
            match h.closed_at {
                None => {
                    index.open.total += 1;
                    index.open.major += u64::from(h.major);
                    for (counts, name) in names.iter_mut().zip(h.open_names()) {
                        *counts.entry(name).or_default() += 1;
                    }
                    open_by_deadline.extend(h.deadline.map(|d| (d, h.hazard_id.clone())));
                }
                Some(c) => closed_by_time.push((c, h.hazard_id.clone())),
            }
            found.push((cst_date(h.found_at), h.closed_at.map(cst_date), h.series()));
            due.extend(h.deadline.map(|d| (d, h.due_flags(d))));
            if h.original_deadline.is_some() {
                index.ordered[0] += 1;
                index.ordered[1] += u64::from(h.major);
            }
        }
        let [grades, communities, categories, enterprises] = names;
        index.open.by_grade = named(grades);
        index.open.by_community = named(communities);
        index.open.by_category = named(categories);
        index.open.by_enterprise = named(enterprises);
        // Every hazard counts in the first series, so no bucket built here is all zeros.
        found.sort_unstable_by_key(|&(found_day, close_day, _)| (found_day, close_day));
        index.found = found
            .chunk_by(|a, b| a.0 == b.0)
            .map(|day| {
                let by_close = day.chunk_by(|a, b| a.1 == b.1).map(|run| (run[0].1, summed(run.iter().map(|r| &r.2))));
                (day[0].0, by_close.collect())
            })
            .collect();
        due.sort_unstable_by_key(|&(d, _)| d);
        index.due = due.chunk_by(|a, b| a.0 == b.0).map(|run| (run[0].0, summed(run.iter().map(|r| &r.1)))).collect();
        // The ids make every row distinct, so an unstable sort gives the order the sets keep.
        open_by_deadline.sort_unstable();
        closed_by_time.sort_unstable();
        index.open_by_deadline = open_by_deadline.into_iter().collect();
        index.closed_by_time = closed_by_time.into_iter().collect();
        // Entries come in id order: these are built from sorted input.
        index.listed = hazards.values().filter(|h| h.listed.is_some()).map(|h| h.hazard_id.clone()).collect();
        index.applied =
            hazards.values().filter(|h| !h.closure_checks.is_empty()).map(|h| h.hazard_id.clone()).collect();
        index.incomplete = hazards
            .values()
            .filter(|h| h.original_deadline.is_some() && !h.five_in_place_missing.is_empty())
            .map(|h| (h.hazard_id.clone(), h.major))
            .collect();
        index
    }

    /// Puts `h`'s contribution into the totals of `parts` (`add`) or takes it out (`!add`).
    /// Taking out and putting back only the parts an event can move is the same as doing it
    /// for all parts: the others see the same contribution before and after.
    pub(super) fn account(&mut self, h: &HazardEntry, add: bool, parts: u8) {
        let open = h.closed_at.is_none();
        if open && parts & part::OPEN != 0 {
            let o = &mut self.open;
            o.total = if add { o.total + 1 } else { o.total.saturating_sub(1) };
            if h.major {
                o.major = if add { o.major + 1 } else { o.major.saturating_sub(1) };
            }
            let maps = [&mut o.by_grade, &mut o.by_community, &mut o.by_category, &mut o.by_enterprise];
            for (map, name) in maps.into_iter().zip(h.open_names()) {
                bump(map, name, add);
            }
        }
        if open && parts & part::OPEN_DEADLINE != 0 {
            if let Some(d) = h.deadline {
                set_member(&mut self.open_by_deadline, (d, h.hazard_id.clone()), add);
            }
        }
        if parts & part::CLOSED != 0 {
            if let Some(c) = h.closed_at {
                set_member(&mut self.closed_by_time, (c, h.hazard_id.clone()), add);
            }
        }
        if h.listed.is_some() && parts & part::LISTED != 0 {
            set_member(&mut self.listed, h.hazard_id.clone(), add);
        }
        if !h.closure_checks.is_empty() && parts & part::APPLIED != 0 {
            set_member(&mut self.applied, h.hazard_id.clone(), add);
        }
        if parts & part::FOUND != 0 {
            let found_day = cst_date(h.found_at);
            let by_close = self.found.entry(found_day).or_default();
            let close_day = h.closed_at.map(cst_date);
            let counts = by_close.entry(close_day).or_default();
            bump_array(counts, &h.series(), add);
            if counts.iter().all(|c| *c == 0) {
                by_close.remove(&close_day);
            }
            if by_close.is_empty() {
                self.found.remove(&found_day);
            }
        }
        if h.original_deadline.is_some() && parts & part::ORDER != 0 {
            bump_array(&mut self.ordered, &[true, h.major], add);
            if !h.five_in_place_missing.is_empty() {
                if add {
                    self.incomplete.insert(h.hazard_id.clone(), h.major);
                } else {
                    self.incomplete.remove(&h.hazard_id);
                }
            }
        }
        if let Some(d) = h.deadline.filter(|_| parts & part::DUE != 0) {
            let counts = self.due.entry(d).or_default();
            bump_array(counts, &h.due_flags(d), add);
            if counts.iter().all(|c| *c == 0) {
                self.due.remove(&d);
            }
        }
    }
}

pub(super) fn set_member<T: Ord>(set: &mut BTreeSet<T>, item: T, add: bool) {
    if add {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::hazard::SupervisionLevel;
    use crate::projections::hazard_ledger::Listing;

    /// The index built at once from sorted rows equals the one accounted entry by entry, with
    /// hazards of one found day whose closing days and deadlines alternate in id order (so the
    /// rows of a bucket are not next to each other until sorted), and counters by every name.
    #[test]
    fn an_index_built_at_once_equals_one_accounted_entry_by_entry() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
        let mut hazards = BTreeMap::new();
        for (i, closed) in
            [None, Some("2025-03-20T02:00:00Z"), None, Some("2025-03-09T02:00:00Z"), None, Some("2025-03-20T02:00:00Z")]
                .into_iter()
                .enumerate()
        {
            let mut h = HazardEntry::sample(&format!("H{i}"), "2025-03-01T02:00:00Z", closed);
            h.major = i % 3 == 0;
            h.listed = (i % 2 == 1).then(|| Listing {
                level: SupervisionLevel::County,
                listed_by: "district safety bureau".to_string(),
                listed_at: "2025-03-02T02:00:00Z".parse().unwrap(),
            });
            h.grade = (i % 2 == 0).then(|| "major".to_string());
            h.community_id = format!("c{}", i % 2);
            h.category = ["fire", "traffic", "gas"][i % 3].to_string();
            h.enterprise_id = (i % 4 != 0).then(|| format!("e{}", i % 2));
            h.deadline = Some(day([10, 15][i % 2]));
            h.original_deadline = (i != 2).then(|| day(10));
            if i == 4 {
                h.five_in_place_missing = vec!["funds".to_string()];
            }
            if i % 3 == 1 {
                h.closure_checks.push(super::super::entry::ClosureCheck {
                    applied_at: "2025-03-05T02:00:00Z".parse().unwrap(),
                    check_due: day(15),
                    checked_at: None,
                    passed: false,
                    late: false,
                });
            }
            hazards.insert(h.hazard_id.clone(), h);
        }
        let mut accounted = LedgerIndex::default();
        for h in hazards.values() {
            accounted.account(h, true, part::ALL);
        }
        let built = LedgerIndex::build(&hazards);
        assert_eq!(built, accounted);
        assert_eq!(built.applied.iter().map(String::as_str).collect::<Vec<_>>(), ["H1", "H4"]);
        // The found day has one bucket per closing day (open, 03-09, 03-20), summed across ids.
        assert_eq!(built.found[&day(1)].len(), 3);
        assert_eq!(built.found[&day(1)][&Some(day(20))][0], 2);
        assert_eq!(built.due[&day(10)][0], 3);
    }
}
