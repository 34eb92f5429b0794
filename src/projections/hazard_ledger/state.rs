//! The ledger's state and its fold: [`HazardLedger`] (one entry per hazard, the penalties by
//! enterprise, the derived indexes beside them), what a snapshot stores of it, and `apply` for
//! hazard events and enforcement actions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entry::{ClosureCheck, HazardEntry, Listing, Penalty};
use super::index::{part, LedgerIndex, PenaltyIndex};
use crate::events::enterprise::EnterpriseEvent;
use crate::events::hazard::{HazardEvent, RectificationOrdered};
use crate::events::DomainEvent;
use crate::projections::{Family, Projection, Staged};
use crate::store::RecordedEvent;

/// The hazard ledger projection (隐患台账).
///
/// Serialised as its entries and penalties only (the snapshot layout since version 1); the running
/// totals are recomputed from the entries when a snapshot is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardLedger {
    pub(super) hazards: BTreeMap<String, HazardEntry>,
    /// Enforcement actions by enterprise, in log order.
    pub(super) penalties: BTreeMap<String, Vec<Penalty>>,
    /// Running totals over `hazards`, kept by `apply` (built once at the end of a bulk fold).
    pub(super) index: LedgerIndex,
    /// Penalties by hazard and the major ones by day, kept by `apply` (built once at the end of a bulk fold).
    pub(super) penalty_index: PenaltyIndex,
    /// In a bulk fold ([`Projection::begin_bulk`]): the entries, staged (`hazards` is empty),
    /// and `index` and `penalty_index` are stale until it ends.
    pub(super) staged: Option<Staged<HazardEntry>>,
}

/// What a snapshot stores: the entries and penalties, in this field order.
#[derive(Serialize)]
pub(super) struct LedgerStateRef<'a> {
    hazards: &'a BTreeMap<String, HazardEntry>,
    penalties: &'a BTreeMap<String, Vec<Penalty>>,
}

/// [`LedgerStateRef`], owned, for decoding.
#[derive(Deserialize)]
pub(super) struct LedgerState {
    #[serde(deserialize_with = "crate::projections::state_codec::sorted_map")]
    hazards: BTreeMap<String, HazardEntry>,
    #[serde(deserialize_with = "crate::projections::state_codec::sorted_map")]
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

/// Every hazard event; of the enterprise's, the penalties (they count for art. 113).
const HAZARD: Family = Family::of(HazardEvent::TYPES);
const ENFORCEMENT_ACTION_TAKEN: &str = Family::of(EnterpriseEvent::TYPES).get("enterprise.enforcement_action_taken");

impl Projection for HazardLedger {
    const NAME: &'static str = "hazard_ledger";
    /// The running totals are not stored, so their introduction kept version 1. 2: instants and
    /// dates as integers (`state_codec`). 3: applications to close and on-site checks.
    const VERSION: u32 = 3;

    fn wants(event_type: &str) -> bool {
        HAZARD.contains(event_type) || event_type == ENFORCEMENT_ACTION_TAKEN
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
                closure_checks: Vec::new(),
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
            HazardEvent::ClosureApplied(x) => &x.hazard_id,
            HazardEvent::OnsiteChecked(x) => &x.hazard_id,
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
            HazardEvent::ClosureApplied(_) => part::APPLIED,
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
            HazardEvent::ClosureApplied(a) => h.closure_checks.push(ClosureCheck {
                applied_at: a.applied_at,
                check_due: a.check_due,
                checked_at: None,
                passed: false,
                late: false,
            }),
            HazardEvent::OnsiteChecked(c) => {
                if let Some(last) = h.closure_checks.last_mut().filter(|l| l.checked_at.is_none()) {
                    last.checked_at = Some(c.checked_at);
                    last.passed = c.passed;
                    last.late = c.late;
                }
            }
            _ => {}
        }
        if parts != 0 {
            self.index.account(h, true, parts);
        }
    }
}
