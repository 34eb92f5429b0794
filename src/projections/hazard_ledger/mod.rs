//! The hazard ledger (隐患台账): every hazard with its grade, place, deadline and closure, and the
//! figures a safety bureau reports from it.
//!
//! Queries:
//! - [`HazardLedger::open_hazards`]: open hazards (reported, not closed/销号) by grade, community,
//!   category and enterprise;
//! - [`HazardLedger::overdue`]: hazards overdue (逾期) at an instant;
//! - [`HazardLedger::listed_for_supervision`]: hazards listed for supervision (挂牌督办);
//! - [`HazardLedger::rates`]: rectification rate (整改率 = closed ÷ found) and on-time rate
//!   (按期整改率 = closed within the deadline ÷ those whose deadline has passed) for a period, in
//!   three series: all hazards, major hazards (重大事故隐患) and listed hazards;
//! - [`HazardLedger::five_in_place`]: completeness of the five in place (五到位) of the orders;
//! - [`HazardLedger::repeat_penalties`]: enterprises penalised for a major hazard 3 times within
//!   180 days or 4 times within a year (Work Safety Law 2021 art. 113: to be closed).
//!
//! Invariants and definitions:
//! - All dates are China Standard Time calendar dates of the instants the events carry (the
//!   command's issued time for decisions, `found_at` for discovery): never the reader's clock.
//! - A hazard is *found in* a period when its `found_at` date lies in it; it counts as rectified
//!   for the period when it was closed on or before the period's last day.
//! - The deadline used is the one in force (after approved extensions, 延期): a hazard closed by
//!   its extended deadline is on time. A hazard's deadline has *passed* for a period when it
//!   falls on or before the period's last day; it counts for the period its deadline falls in.
//! - Overdue at `at`: has a deadline, the deadline's CST day has ended by `at`, and it was not
//!   closed by `at` (a hazard closed later was still overdue then).
//! - Five in place: an item is missing when its text is blank or the funds are zero (the rule
//!   the domain applies to major hazards); a general hazard's order may lack items.
//! - A penalty counts for art. 113 when it is an enforcement action naming a hazard that the
//!   ledger knows as major at query time; windows end on the as-of date, inclusive.
//! - State is `BTreeMap`-ordered; nothing depends on the order events of different streams
//!   interleave except through their positions.
//!
//! Running totals (增量汇总): besides the entries, the state keeps a `LedgerIndex` that `apply`
//! maintains: before an event changes a hazard the hazard's contribution is taken out of every
//! total, after it the new contribution is put in. Invariant: the index always equals what a
//! scan of the entries would give (tested against such a scan); a map entry whose count drops
//! to 0 is removed, so an empty bucket never shows in a query. Queries therefore read a handful
//! of map entries: `open_hazards` copies the open counters, `rates` walks the found-day and
//! deadline-day buckets of the period, `overdue(at)` walks open hazards in deadline order up to
//! `at` plus the hazards closed after `at`, `listed_for_supervision` the listed set.
//! `five_in_place` reads the counts of ordered hazards (all, major) and the set of incomplete
//! orders (by id, with the major flag). Invariant: the counts and the set equal a scan of the
//! entries with a rectification order.
//!
//! Penalty index: penalties naming a hazard, by hazard id, and the penalties whose hazard the
//! ledger currently knows as major, counted by decision day and enterprise. A penalty enters
//! the day counts when it arrives naming a major hazard, or when its hazard is graded major
//! later (and leaves when a regrading makes it general), so `repeat_penalties(as_of)` reads
//! only the days of the year before `as_of`. Invariant: the day counts equal a scan of the
//! penalties against the entries' current major flags. Like the totals, both indexes are
//! recomputed when a snapshot loads (tested against the scans with random histories), and at
//! the end of a bulk fold (a rebuild, see [`Projection::begin_bulk`]), which folds the entries
//! only.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{percent, Period, Projection, Staged};
use crate::events::enterprise::{EnforcementAction, EnterpriseEvent};
use crate::events::hazard::{HazardEvent, RectificationOrdered, SupervisionLevel};
use crate::events::time::{cst_date, end_of_cst_day, plus_years};
use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// Grade key for hazards not graded yet.
pub const UNGRADED: &str = "ungraded";
/// Enterprise key for hazards not tied to an enterprise.
pub const NO_ENTERPRISE: &str = "-";

/// One hazard as the ledger keeps it (台账条目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardEntry {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub category: String,
    #[serde(with = "super::state_codec::utc")]
    pub found_at: DateTime<Utc>,
    /// Grade code, once graded (分级).
    pub grade: Option<String>,
    /// 重大事故隐患
    pub major: bool,
    /// Deadline in force (限期), after extensions.
    #[serde(default, with = "super::state_codec::date_opt")]
    pub deadline: Option<NaiveDate>,
    /// Deadline of the original order.
    #[serde(default, with = "super::state_codec::date_opt")]
    pub original_deadline: Option<NaiveDate>,
    pub extensions: u32,
    /// 挂牌督办: level, by whom, when.
    pub listed: Option<Listing>,
    pub failed_verifications: u32,
    /// Codes of the five (五到位) missing from the rectification order, in canonical order.
    pub five_in_place_missing: Vec<String>,
    /// 销号: when the hazard was closed.
    #[serde(default, with = "super::state_codec::utc_opt")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// A listing for supervision (挂牌督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub level: SupervisionLevel,
    pub listed_by: String,
    #[serde(with = "super::state_codec::utc")]
    pub listed_at: DateTime<Utc>,
}

impl HazardEntry {
    /// Which rectification series the hazard counts in: all, major, listed.
    fn series(&self) -> [bool; SERIES] {
        [true, self.major, self.listed.is_some()]
    }

    /// The names it counts under while open: grade, community, category, enterprise.
    fn open_names(&self) -> [&str; 4] {
        [
            self.grade.as_deref().unwrap_or(UNGRADED),
            &self.community_id,
            &self.category,
            self.enterprise_id.as_deref().unwrap_or(NO_ENTERPRISE),
        ]
    }

    /// Its flags in the bucket of its deadline `d`: due per series, then closed on time per series.
    fn due_flags(&self, d: NaiveDate) -> [bool; 2 * SERIES] {
        let [all, major, listed] = self.series();
        let on_time = self.closed_on_or_before(d);
        [all, major, listed, on_time && all, on_time && major, on_time && listed]
    }

    fn closed_by(&self, at: DateTime<Utc>) -> bool {
        self.closed_at.is_some_and(|c| c <= at)
    }

    fn closed_on_or_before(&self, day: NaiveDate) -> bool {
        self.closed_at.is_some_and(|c| cst_date(c) <= day)
    }

    /// 逾期 at `at`.
    pub fn is_overdue(&self, at: DateTime<Utc>) -> bool {
        match self.deadline.and_then(end_of_cst_day) {
            Some(end) => at >= end && !self.closed_by(at),
            None => false,
        }
    }
}

/// An enforcement action (执法处罚) against an enterprise, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub action: EnforcementAction,
    #[serde(with = "super::state_codec::date")]
    pub decided_on: NaiveDate,
    pub hazard_id: Option<String>,
}

/// The hazard ledger projection (隐患台账).
///
/// Serialised as its entries and penalties only (the snapshot layout since version 1); the running
/// totals are recomputed from the entries when a snapshot is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardLedger {
    hazards: BTreeMap<String, HazardEntry>,
    /// Enforcement actions by enterprise, in log order.
    penalties: BTreeMap<String, Vec<Penalty>>,
    /// Running totals over `hazards`, kept by `apply` (built once at the end of a bulk fold).
    index: LedgerIndex,
    /// Penalties by hazard and the major ones by day, kept by `apply` (built once at the end of a bulk fold).
    penalty_index: PenaltyIndex,
    /// In a bulk fold ([`Projection::begin_bulk`]): the entries, staged (`hazards` is empty),
    /// and `index` and `penalty_index` are stale until it ends.
    staged: Option<Staged<HazardEntry>>,
}

/// Series of the rectification figures: all, major (重大), listed (挂牌督办).
const SERIES: usize = 3;

/// What a snapshot stores: the entries and penalties, in this field order.
#[derive(Serialize)]
struct LedgerStateRef<'a> {
    hazards: &'a BTreeMap<String, HazardEntry>,
    penalties: &'a BTreeMap<String, Vec<Penalty>>,
}

/// [`LedgerStateRef`], owned, for decoding.
#[derive(Deserialize)]
struct LedgerState {
    #[serde(deserialize_with = "super::state_codec::sorted_map")]
    hazards: BTreeMap<String, HazardEntry>,
    #[serde(deserialize_with = "super::state_codec::sorted_map")]
    penalties: BTreeMap<String, Vec<Penalty>>,
}

impl Serialize for HazardLedger {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        LedgerStateRef { hazards: &self.hazards, penalties: &self.penalties }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HazardLedger {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let LedgerState { hazards, penalties } = LedgerState::deserialize(deserializer)?;
        let (index, penalty_index) = (LedgerIndex::build(&hazards), PenaltyIndex::build(&penalties, &hazards));
        Ok(Self { hazards, penalties, index, penalty_index, staged: None })
    }
}

/// Penalties by hazard, and those for major hazards by day (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PenaltyIndex {
    /// Hazard id → (enterprise, decided on) → penalties naming it.
    by_hazard: BTreeMap<String, BTreeMap<(String, NaiveDate), u64>>,
    /// Decided-on day → enterprise → penalties naming a hazard now known as major.
    major_by_day: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
}

impl PenaltyIndex {
    /// The index of a ledger's penalties, from scratch.
    fn build(penalties: &BTreeMap<String, Vec<Penalty>>, hazards: &BTreeMap<String, HazardEntry>) -> Self {
        let mut index = Self::default();
        for (enterprise_id, list) in penalties {
            for p in list {
                index.add(enterprise_id, p, hazards);
            }
        }
        index
    }

    fn add(&mut self, enterprise_id: &str, p: &Penalty, hazards: &BTreeMap<String, HazardEntry>) {
        let Some(hazard_id) = p.hazard_id.as_deref() else { return };
        let key = (enterprise_id.to_string(), p.decided_on);
        *self.by_hazard.entry(hazard_id.to_string()).or_default().entry(key).or_default() += 1;
        if hazards.get(hazard_id).is_some_and(|h| h.major) {
            self.count(enterprise_id, p.decided_on, 1, true);
        }
    }

    /// Adds `n` major penalties of an enterprise on a day, or takes them out.
    fn count(&mut self, enterprise_id: &str, day: NaiveDate, n: u64, add: bool) {
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
    fn hazard_major_changed(&mut self, hazard_id: &str, major: bool) {
        let Some(list) = self.by_hazard.get(hazard_id) else { return };
        for ((enterprise_id, day), n) in list.clone() {
            self.count(&enterprise_id, day, n, major);
        }
    }
}

/// Running totals over the ledger's entries, keyed by the query dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LedgerIndex {
    /// Open-hazard counters, exactly what [`HazardLedger::open_hazards`] returns.
    open: OpenHazards,
    /// Open hazards that have a deadline, by (deadline in force, id).
    open_by_deadline: BTreeSet<(NaiveDate, String)>,
    /// Closed hazards, by (closed at, id).
    closed_by_time: BTreeSet<(DateTime<Utc>, String)>,
    /// Ids of hazards listed for supervision.
    listed: BTreeSet<String>,
    /// CST found day → CST closing day (`None`: open) → hazards per series.
    found: BTreeMap<NaiveDate, BTreeMap<Option<NaiveDate>, [u64; SERIES]>>,
    /// Deadline day → hazards due per series, then of those closed on time per series.
    due: BTreeMap<NaiveDate, [u64; 2 * SERIES]>,
    /// Hazards with a rectification order: all, major.
    ordered: [u64; 2],
    /// Ordered hazards whose order lacks one of the five, by id → major.
    incomplete: BTreeMap<String, bool>,
}

/// Adds or takes one from a named counter; a counter that reaches 0 is removed.
fn bump(map: &mut BTreeMap<String, u64>, key: &str, add: bool) {
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
fn bump_array<const N: usize>(counts: &mut [u64; N], on: &[bool; N], add: bool) {
    for (c, on) in counts.iter_mut().zip(on) {
        if *on {
            *c = if add { *c + 1 } else { c.saturating_sub(1) };
        }
    }
}

/// How many of `rows` have each flag set.
fn summed<'a, const N: usize>(rows: impl Iterator<Item = &'a [bool; N]>) -> [u64; N] {
    let mut counts = [0u64; N];
    for on in rows {
        bump_array(&mut counts, on, true);
    }
    counts
}

/// Parts of the running totals an event can move (bit flags for [`LedgerIndex::account`]).
mod part {
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
    pub const ALL: u8 = OPEN | OPEN_DEADLINE | CLOSED | LISTED | FOUND | DUE | ORDER;
}

impl LedgerIndex {
    /// The running totals of a ledger's entries, from scratch: equal to accounting every entry
    /// with [`part::ALL`], but built from sorted rows instead of entry by entry. Named counters
    /// count in hash maps of borrowed names; day buckets and sets are sorted rows summed in
    /// runs and built as trees at once (a snapshot load and the end of a bulk fold both come
    /// here; accounting entry by entry, tree lookups each time, was about half of the build).
    fn build(hazards: &BTreeMap<String, HazardEntry>) -> Self {
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
    fn account(&mut self, h: &HazardEntry, add: bool, parts: u8) {
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

fn set_member<T: Ord>(set: &mut BTreeSet<T>, item: T, add: bool) {
    if add {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

fn overdue_line(h: &HazardEntry, at: DateTime<Utc>) -> Option<OverdueHazard> {
    if !h.is_overdue(at) {
        return None;
    }
    let deadline = h.deadline?;
    let end = end_of_cst_day(deadline)?;
    Some(OverdueHazard {
        hazard_id: h.hazard_id.clone(),
        community_id: h.community_id.clone(),
        enterprise_id: h.enterprise_id.clone(),
        grade: h.grade.clone(),
        major: h.major,
        listed: h.listed.is_some(),
        deadline,
        days_overdue: (at - end).num_days(),
    })
}

/// Completeness of 五到位 over rectification orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiveInPlace {
    /// Hazards with a rectification order.
    pub ordered: u64,
    /// Of those, orders with all five in place.
    pub complete: u64,
    pub completeness_pct: Option<f64>,
    /// Incomplete orders: hazard id and the missing items.
    pub incomplete: Vec<(String, Vec<String>)>,
}

/// An enterprise penalised repeatedly for major hazards (art. 113).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatPenalties {
    pub enterprise_id: String,
    /// Penalties for major hazards in the 180 days ending on the as-of date.
    pub in_180_days: u64,
    /// Penalties for major hazards in the year ending on the as-of date.
    pub in_one_year: u64,
}

/// The five of 五到位 missing from an order: blank text or zero funds.
fn five_missing(o: &RectificationOrdered) -> Vec<String> {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
    let mut missing = Vec::new();
    // A sealed name is never blank: it was checked before it was sealed.
    if o.responsible.as_ref().is_none_or(crate::events::person::PersonalField::is_blank) {
        missing.push("responsible".to_string());
    }
    if blank(&o.measures) {
        missing.push("measures".to_string());
    }
    if o.funds_yuan.unwrap_or(0) == 0 {
        missing.push("funds_yuan".to_string());
    }
    // The deadline is required by every order.
    if blank(&o.contingency_plan) {
        missing.push("contingency_plan".to_string());
    }
    missing
}

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

/// An overdue hazard (逾期未整改).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueHazard {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub grade: Option<String>,
    pub major: bool,
    pub listed: bool,
    pub deadline: NaiveDate,
    /// Whole days since the deadline's day ended.
    pub days_overdue: i64,
}

/// A hazard listed for supervision, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedHazard {
    pub hazard_id: String,
    pub community_id: String,
    pub enterprise_id: Option<String>,
    pub listing: Listing,
    pub deadline: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Rectification figures of one series for one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RectificationRate {
    /// Hazards found in the period (排查发现).
    pub found: u64,
    /// Of those, closed by the period's end (已整改销号).
    pub rectified: u64,
    /// 整改率, percent; `None` when nothing was found.
    pub rectification_rate: Option<f64>,
    /// Hazards whose deadline in force fell in the period (到期应改).
    pub due: u64,
    /// Of those, closed on or before their deadline (按期整改).
    pub on_time: u64,
    /// 按期整改率, percent; `None` when nothing fell due.
    pub on_time_rate: Option<f64>,
}

impl RectificationRate {
    fn finish(mut self) -> Self {
        self.rectification_rate = percent(self.rectified, self.found);
        self.on_time_rate = percent(self.on_time, self.due);
        self
    }
}

/// The three series of rectification figures for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RectificationRates {
    pub period: Period,
    pub all: RectificationRate,
    /// 重大事故隐患
    pub major: RectificationRate,
    /// 挂牌督办 hazards.
    pub listed: RectificationRate,
}

/// Hazards found and hazards closed (销号) in one period: the flow through the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardFlow {
    /// Hazards whose CST found day lies in the period (排查发现).
    pub found: u64,
    /// Hazards whose CST closing day lies in the period, whenever they were found (销号).
    pub closed: u64,
}

impl HazardLedger {
    /// One hazard's ledger entry.
    pub fn hazard(&self, hazard_id: &str) -> Option<&HazardEntry> {
        self.hazards.get(hazard_id)
    }

    /// Every hazard, by id.
    pub fn hazards(&self) -> impl Iterator<Item = &HazardEntry> {
        self.hazards.values()
    }

    /// Open hazards (not closed/销号) by grade, community, category and enterprise (a copy of
    /// the running counters).
    pub fn open_hazards(&self) -> OpenHazards {
        self.index.open.clone()
    }

    /// Hazards overdue (逾期) at `at`, by hazard id. Touches the open hazards whose deadline
    /// ended by `at` and the hazards closed after `at` (those may have been overdue then).
    pub fn overdue(&self, at: DateTime<Utc>) -> Vec<OverdueHazard> {
        let mut out = Vec::new();
        for (deadline, id) in &self.index.open_by_deadline {
            if end_of_cst_day(*deadline).is_none_or(|end| end > at) {
                break;
            }
            out.extend(self.hazards.get(id).and_then(|h| overdue_line(h, at)));
        }
        for (_, id) in self.index.closed_by_time.range((at, String::new())..).filter(|(c, _)| *c > at) {
            out.extend(self.hazards.get(id).and_then(|h| overdue_line(h, at)));
        }
        out.sort_by(|a, b| a.hazard_id.cmp(&b.hazard_id));
        out
    }

    /// Hazards listed for supervision (挂牌督办); `open_only` leaves out closed ones.
    pub fn listed_for_supervision(&self, open_only: bool) -> Vec<ListedHazard> {
        self.index
            .listed
            .iter()
            .filter_map(|id| self.hazards.get(id))
            .filter(|h| !(open_only && h.closed_at.is_some()))
            .filter_map(|h| {
                Some(ListedHazard {
                    hazard_id: h.hazard_id.clone(),
                    community_id: h.community_id.clone(),
                    enterprise_id: h.enterprise_id.clone(),
                    listing: h.listed.clone()?,
                    deadline: h.deadline,
                    closed_at: h.closed_at,
                })
            })
            .collect()
    }

    /// Hazards found and hazards closed in a period (CST days). Unlike [`Self::rates`], a
    /// closure counts in the period it happened in, not in the period of its discovery.
    /// Reads the found-day buckets and the closed-by-time set of the period.
    pub fn found_and_closed(&self, period: Period) -> HazardFlow {
        let mut flow = HazardFlow::default();
        if period.from > period.to {
            return flow;
        }
        for by_close in self.index.found.range(period.from..=period.to).map(|(_, m)| m) {
            flow.found += by_close.values().map(|counts| counts[0]).sum::<u64>();
        }
        // The period's instants: from the end of the day before `from` to the end of `to`.
        let start = period.from.pred_opt().and_then(end_of_cst_day).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let end = end_of_cst_day(period.to).unwrap_or(DateTime::<Utc>::MAX_UTC);
        flow.closed =
            self.index.closed_by_time.range((start, String::new())..).take_while(|(c, _)| *c < end).count() as u64;
        flow
    }

    /// 整改率 and 按期整改率 for a period, for all, major and listed hazards (reads the period's
    /// found-day and deadline-day buckets).
    pub fn rates(&self, period: Period) -> RectificationRates {
        let mut s: [RectificationRate; SERIES] = Default::default();
        if period.from <= period.to {
            for by_close in self.index.found.range(period.from..=period.to).map(|(_, m)| m) {
                for (close, counts) in by_close {
                    let rectified = close.is_some_and(|d| d <= period.to);
                    for (r, n) in s.iter_mut().zip(counts) {
                        r.found += n;
                        if rectified {
                            r.rectified += n;
                        }
                    }
                }
            }
            for counts in self.index.due.range(period.from..=period.to).map(|(_, c)| c) {
                for (i, r) in s.iter_mut().enumerate() {
                    r.due += counts.get(i).copied().unwrap_or(0);
                    r.on_time += counts.get(SERIES + i).copied().unwrap_or(0);
                }
            }
        }
        let [all, major, listed] = s;
        RectificationRates { period, all: all.finish(), major: major.finish(), listed: listed.finish() }
    }
}

impl HazardLedger {
    /// 五到位 completeness over hazards with a rectification order (major ones only if asked).
    /// Reads the ordered counts and the incomplete orders.
    pub fn five_in_place(&self, major_only: bool) -> FiveInPlace {
        let ordered = self.index.ordered[usize::from(major_only)];
        let incomplete: Vec<(String, Vec<String>)> = self
            .index
            .incomplete
            .iter()
            .filter(|(_, major)| **major || !major_only)
            .filter_map(|(id, _)| self.hazards.get(id).map(|h| (id.clone(), h.five_in_place_missing.clone())))
            .collect();
        let complete = ordered.saturating_sub(incomplete.len() as u64);
        FiveInPlace { ordered, complete, completeness_pct: percent(complete, ordered), incomplete }
    }

    /// Enterprises with 3 penalties for major hazards within 180 days or 4 within a year,
    /// windows ending on `as_of` (inclusive); by enterprise id. Reads the major penalties of
    /// the days in the year before `as_of`.
    pub fn repeat_penalties(&self, as_of: NaiveDate) -> Vec<RepeatPenalties> {
        // A year ending on `as_of` starts after `as_of` − 367 days, whatever the leap days.
        let from = as_of.checked_sub_days(chrono::Days::new(367)).unwrap_or(NaiveDate::MIN);
        let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (day, by_enterprise) in self.penalty_index.major_by_day.range(from..=as_of) {
            let in_180 = (as_of - *day).num_days() < 180;
            let in_year = plus_years(*day, 1).is_some_and(|end| end > as_of);
            for (enterprise_id, n) in by_enterprise {
                let c = counts.entry(enterprise_id).or_default();
                c.0 += if in_180 { *n } else { 0 };
                c.1 += if in_year { *n } else { 0 };
            }
        }
        counts
            .into_iter()
            .filter(|(_, (in_180_days, in_one_year))| *in_180_days >= 3 || *in_one_year >= 4)
            .map(|(enterprise_id, (in_180_days, in_one_year))| RepeatPenalties {
                enterprise_id: enterprise_id.to_string(),
                in_180_days,
                in_one_year,
            })
            .collect()
    }
}

impl Projection for HazardLedger {
    const NAME: &'static str = "hazard_ledger";
    /// The running totals are not stored, so their introduction kept version 1. 2: instants and
    /// dates as integers (`state_codec`).
    const VERSION: u32 = 2;

    fn wants(event_type: &str) -> bool {
        event_type.starts_with("hazard.") || event_type == "enterprise.enforcement_action_taken"
    }

    fn begin_bulk(&mut self) {
        if self.staged.is_none() {
            self.staged = Some(Staged::take(&mut self.hazards));
        }
    }

    fn end_bulk(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.hazards = staged.into_map();
            self.index = LedgerIndex::build(&self.hazards);
            self.penalty_index = PenaltyIndex::build(&self.penalties, &self.hazards);
        }
    }

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        let e = match event {
            DomainEvent::Hazard(e) => e,
            DomainEvent::Enterprise(EnterpriseEvent::EnforcementActionTaken(a)) => {
                let p = Penalty {
                    action: a.action,
                    decided_on: a.decided_on,
                    hazard_id: a.hazard_id.as_ref().map(|h| h.as_str().to_string()),
                };
                if self.staged.is_none() {
                    self.penalty_index.add(a.enterprise_id.as_str(), &p, &self.hazards);
                }
                self.penalties.entry(a.enterprise_id.as_str().to_string()).or_default().push(p);
                return;
            }
            _ => return,
        };
        if let HazardEvent::Reported(r) = e {
            let entry = |hazard_id| HazardEntry {
                hazard_id,
                community_id: r.community_id.as_str().to_string(),
                enterprise_id: r.enterprise_id.as_ref().map(|e| e.as_str().to_string()),
                category: r.category.clone(),
                found_at: r.found_at,
                grade: None,
                major: false,
                deadline: None,
                original_deadline: None,
                extensions: 0,
                listed: None,
                failed_verifications: 0,
                five_in_place_missing: Vec::new(),
                closed_at: None,
            };
            if let Some(staged) = &mut self.staged {
                staged.insert_new(r.hazard_id.as_str(), entry);
            } else if let std::collections::btree_map::Entry::Vacant(slot) =
                self.hazards.entry(r.hazard_id.as_str().to_string())
            {
                let h = slot.insert(entry(r.hazard_id.as_str().to_string()));
                self.index.account(h, true, part::ALL);
            }
            return;
        }
        let id = match e {
            HazardEvent::Reported(x) => &x.hazard_id,
            HazardEvent::Graded(x) => &x.hazard_id,
            HazardEvent::RectificationOrdered(x) => &x.hazard_id,
            HazardEvent::DeadlineExtended(x) => &x.hazard_id,
            HazardEvent::ListedForSupervision(x) => &x.hazard_id,
            HazardEvent::ProgressNoted(x) => &x.hazard_id,
            HazardEvent::RectificationReportedDone(x) => &x.hazard_id,
            HazardEvent::RectificationVerified(x) => &x.hazard_id,
            HazardEvent::Reopened(x) => &x.hazard_id,
            HazardEvent::Closed(x) => &x.hazard_id,
        };
        // Events of a hazard never reported cannot be decided by the domain; ignore them.
        let bulk = self.staged.is_some();
        let found = match &mut self.staged {
            Some(staged) => staged.get_mut(id.as_str()),
            None => self.hazards.get_mut(id.as_str()),
        };
        let Some(h) = found else {
            return;
        };
        // The parts of the running totals each event can move (grade and major; deadline;
        // listing; closure).
        let parts = match e {
            _ if bulk => 0,
            HazardEvent::Graded(_) => part::OPEN | part::FOUND | part::DUE | part::ORDER,
            HazardEvent::RectificationOrdered(_) => part::OPEN_DEADLINE | part::DUE | part::ORDER,
            HazardEvent::DeadlineExtended(_) => part::OPEN_DEADLINE | part::DUE,
            HazardEvent::ListedForSupervision(_) => part::LISTED | part::FOUND | part::DUE,
            HazardEvent::Closed(_) => part::ALL,
            _ => 0,
        };
        if parts != 0 {
            self.index.account(h, false, parts);
        }
        match e {
            HazardEvent::Graded(g) => {
                h.grade = Some(g.grade.clone());
                if h.major != g.major && !bulk {
                    self.penalty_index.hazard_major_changed(&h.hazard_id, g.major);
                }
                h.major = g.major;
            }
            HazardEvent::RectificationOrdered(o) => {
                h.deadline = Some(o.deadline);
                h.original_deadline = Some(o.deadline);
                h.five_in_place_missing = five_missing(o);
            }
            HazardEvent::DeadlineExtended(x) => {
                h.deadline = Some(x.new_deadline);
                h.extensions += 1;
            }
            HazardEvent::ListedForSupervision(l) => {
                h.listed = Some(Listing { level: l.level, listed_by: l.listed_by.clone(), listed_at: l.recorded_at });
            }
            HazardEvent::RectificationVerified(v) if !v.passed => h.failed_verifications += 1,
            HazardEvent::Closed(c) => h.closed_at = Some(c.recorded_at),
            _ => {}
        }
        if parts != 0 {
            self.index.account(h, true, parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, found: &str, closed: Option<&str>) -> HazardEntry {
        HazardEntry {
            hazard_id: id.to_string(),
            community_id: "c1".to_string(),
            enterprise_id: None,
            category: "fire".to_string(),
            found_at: found.parse().unwrap(),
            grade: None,
            major: false,
            deadline: None,
            original_deadline: None,
            extensions: 0,
            listed: None,
            failed_verifications: 0,
            five_in_place_missing: Vec::new(),
            closed_at: closed.map(|c| c.parse().unwrap()),
        }
    }

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
            let mut h = entry(&format!("H{i}"), "2025-03-01T02:00:00Z", closed);
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
            hazards.insert(h.hazard_id.clone(), h);
        }
        let mut accounted = LedgerIndex::default();
        for h in hazards.values() {
            accounted.account(h, true, part::ALL);
        }
        let built = LedgerIndex::build(&hazards);
        assert_eq!(built, accounted);
        // The found day has one bucket per closing day (open, 03-09, 03-20), summed across ids.
        assert_eq!(built.found[&day(1)].len(), 3);
        assert_eq!(built.found[&day(1)][&Some(day(20))][0], 2);
        assert_eq!(built.due[&day(10)][0], 3);
    }

    /// Found and closed count by their own CST days: a hazard found in January and closed in
    /// February is found in January and closed in February; CST day edges decide the month.
    #[test]
    fn found_and_closed_count_each_by_its_own_cst_day() {
        let mut ledger = HazardLedger::default();
        for h in [
            entry("A", "2025-01-10T02:00:00Z", Some("2025-02-03T02:00:00Z")),
            // 2025-01-31T16:30Z is 02-01 00:30 CST: found in February.
            entry("B", "2025-01-31T16:30:00Z", None),
            // Closed 2025-02-28T15:59Z = 23:59 CST, still February; C found in December.
            entry("C", "2024-12-20T02:00:00Z", Some("2025-02-28T15:59:00Z")),
            // Closed 2025-02-28T16:00Z = 03-01 00:00 CST: March.
            entry("D", "2025-02-10T02:00:00Z", Some("2025-02-28T16:00:00Z")),
        ] {
            ledger.index.account(&h, true, part::ALL);
            ledger.hazards.insert(h.hazard_id.clone(), h);
        }
        let month = |m| ledger.found_and_closed(Period::month(2025, m).unwrap());
        assert_eq!(month(1), HazardFlow { found: 1, closed: 0 });
        assert_eq!(month(2), HazardFlow { found: 2, closed: 2 });
        assert_eq!(month(3), HazardFlow { found: 0, closed: 1 });
        assert_eq!(ledger.found_and_closed(Period::year(2024).unwrap()), HazardFlow { found: 1, closed: 0 });
        let empty = Period {
            from: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
        };
        assert_eq!(ledger.found_and_closed(empty), HazardFlow::default());
    }

    /// Random histories of hazards and penalties: the indexed five-in-place and repeat-penalty
    /// answers equal the scans they replaced, and the live indexes equal those a snapshot load
    /// derives.
    mod indexed_equals_scan {
        use super::*;
        use crate::events::enterprise::EnforcementActionTaken;
        use crate::events::hazard::{HazardClosed, HazardGraded, HazardReported, HazardSource};
        use crate::events::EntityId;
        use crate::store::Timestamp;
        use proptest::prelude::*;
        use std::sync::Arc;

        fn scan_five_in_place(l: &HazardLedger, major_only: bool) -> FiveInPlace {
            let mut ordered = 0u64;
            let mut incomplete = Vec::new();
            for h in l.hazards.values().filter(|h| h.original_deadline.is_some() && (h.major || !major_only)) {
                ordered += 1;
                if !h.five_in_place_missing.is_empty() {
                    incomplete.push((h.hazard_id.clone(), h.five_in_place_missing.clone()));
                }
            }
            let complete = ordered - incomplete.len() as u64;
            FiveInPlace { ordered, complete, completeness_pct: percent(complete, ordered), incomplete }
        }

        fn scan_repeat_penalties(l: &HazardLedger, as_of: NaiveDate) -> Vec<RepeatPenalties> {
            let mut out = Vec::new();
            for (enterprise_id, list) in &l.penalties {
                let mut in_180_days = 0u64;
                let mut in_one_year = 0u64;
                for p in list {
                    let major = p.hazard_id.as_deref().and_then(|id| l.hazards.get(id)).is_some_and(|h| h.major);
                    if !major || p.decided_on > as_of {
                        continue;
                    }
                    if (as_of - p.decided_on).num_days() < 180 {
                        in_180_days += 1;
                    }
                    if plus_years(p.decided_on, 1).is_some_and(|end| end > as_of) {
                        in_one_year += 1;
                    }
                }
                if in_180_days >= 3 || in_one_year >= 4 {
                    out.push(RepeatPenalties { enterprise_id: enterprise_id.clone(), in_180_days, in_one_year });
                }
            }
            out
        }

        fn eid(s: &str) -> EntityId {
            EntityId::new(s).unwrap()
        }

        fn recorded() -> RecordedEvent {
            RecordedEvent {
                position: 0,
                stream: Arc::from("x"),
                version: 0,
                event_type: Arc::from("x"),
                schema_version: 1,
                event_id: uuid::Uuid::nil(),
                occurred_at: Timestamp(0),
                recorded_at: Timestamp(0),
                actor: Arc::from("t"),
                correlation_id: None,
                causation_id: None,
                payload: Vec::new(),
                prev_hash: [0; 32],
                hash: [0; 32],
            }
        }

        /// (kind 0–5, hazard 0–9, enterprise 0–2, day 0–1000, flags)
        type Step = (u8, u8, u8, u32, u8);

        fn event(&(kind, hazard, enterprise, day, flags): &Step) -> DomainEvent {
            let at: DateTime<Utc> =
                "2023-01-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(i64::from(day));
            let h = eid(&format!("h{hazard}"));
            let by = eid("t");
            let text = |bit: u8| (flags & bit != 0).then(|| "x".to_string());
            DomainEvent::Hazard(match kind {
                0 => HazardEvent::Reported(HazardReported {
                    hazard_id: h,
                    recorded_by: by,
                    recorded_at: at,
                    source: HazardSource::GridInspection,
                    reporter: "r".into(),
                    community_id: eid("c1"),
                    grid_id: None,
                    enterprise_id: Some(eid(&format!("e{enterprise}"))),
                    category: "fire".into(),
                    location: "l".into(),
                    description: "d".into(),
                    found_at: at,
                }),
                1 => HazardEvent::Graded(HazardGraded {
                    hazard_id: h,
                    recorded_by: by,
                    recorded_at: at,
                    grade: if flags & 1 != 0 { "major".into() } else { "general".into() },
                    major: flags & 1 != 0,
                    criterion: "c".into(),
                    criterion_version: "1".into(),
                    catalog_version: "1".into(),
                    basis: None,
                }),
                2 => HazardEvent::RectificationOrdered(RectificationOrdered {
                    hazard_id: h,
                    recorded_by: by,
                    recorded_at: at,
                    responsible: text(1).map(Into::into),
                    measures: text(2),
                    funds_yuan: Some(u64::from(flags & 4)),
                    deadline: at.date_naive() + chrono::Duration::days(30),
                    contingency_plan: text(8),
                }),
                3 => {
                    HazardEvent::Closed(HazardClosed { hazard_id: h, recorded_by: by, recorded_at: at, remarks: None })
                }
                _ => {
                    return DomainEvent::Enterprise(EnterpriseEvent::EnforcementActionTaken(EnforcementActionTaken {
                        enterprise_id: eid(&format!("e{enterprise}")),
                        recorded_by: by,
                        recorded_at: at,
                        action: EnforcementAction::Fine,
                        decided_on: at.date_naive(),
                        decided_by: "b".into(),
                        decision_no: None,
                        reason: "r".into(),
                        hazard_id: (flags & 16 == 0).then_some(h),
                        fine_yuan: Some(1),
                    }))
                }
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

            #[test]
            fn five_in_place_and_repeat_penalties_answer_what_a_scan_answers(
                steps in proptest::collection::vec((0u8..6, 0u8..10, 0u8..3, 0u32..1000, any::<u8>()), 0..150),
                days in proptest::collection::vec(0u32..1100, 6),
            ) {
                let mut l = HazardLedger::default();
                for step in &steps {
                    l.apply(&recorded(), &event(step));
                }
                for major_only in [false, true] {
                    prop_assert_eq!(l.five_in_place(major_only), scan_five_in_place(&l, major_only));
                }
                let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
                let mut as_of: Vec<NaiveDate> = days.into_iter().map(|d| base + chrono::Duration::days(i64::from(d))).collect();
                as_of.extend([NaiveDate::MIN, NaiveDate::MAX, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()]);
                for p in l.penalties.values().flatten().take(6) {
                    for d in [0i64, 179, 180, 364, 365, 366] {
                        as_of.push(p.decided_on + chrono::Duration::days(d));
                    }
                }
                for d in as_of {
                    prop_assert_eq!(l.repeat_penalties(d), scan_repeat_penalties(&l, d), "as of {}", d);
                }
                let loaded: HazardLedger = crate::codec::decode(&crate::codec::encode(&l).unwrap()).unwrap();
                prop_assert_eq!(&loaded, &l);
                // A bulk fold ends with the same indexes as one event by event.
                let mut bulk = HazardLedger::default();
                bulk.begin_bulk();
                for step in &steps {
                    bulk.apply(&recorded(), &event(step));
                }
                bulk.end_bulk();
                prop_assert_eq!(&bulk, &l);
            }
        }
    }
}
