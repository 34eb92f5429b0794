//! The trails' derived index, never stored: open reports, investigations and evaluations by
//! the UTC month of their start ([`SpanIndex`]), so the 四不放过 queries read only the candidates
//! still open at an instant; moved per event ([`TrailKeys`]) and built at once from the trails.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::trail::IncidentTrail;

/// An item's end instant and id.
pub(super) type Span = (DateTime<Utc>, String);

/// Items with a start and an end instant (exclusive; `MAX_UTC` while open), grouped by the UTC
/// month of their start: "started by `t`, not ended by `at`" reads, per month up to `t`'s, only
/// the items ending after `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SpanIndex {
    pub(super) by_month: BTreeMap<(i32, u32), BTreeSet<Span>>,
}

pub(super) fn utc_month(t: DateTime<Utc>) -> (i32, u32) {
    (t.year(), t.month())
}

impl SpanIndex {
    pub(super) fn put(&mut self, (start, end): (DateTime<Utc>, DateTime<Utc>), id: &str, add: bool) {
        let month = utc_month(start);
        if add {
            self.by_month.entry(month).or_default().insert((end, id.to_string()));
        } else if let Some(set) = self.by_month.get_mut(&month) {
            set.remove(&(end, id.to_string()));
            if set.is_empty() {
                self.by_month.remove(&month);
            }
        }
    }

    /// Ids of the items that started in a month up to `started_by`'s and end after `at` (or
    /// never), by id.
    pub(super) fn candidates(&self, started_by: DateTime<Utc>, at: DateTime<Utc>) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for set in self.by_month.range(..=utc_month(started_by)).map(|(_, s)| s) {
            // `MAX_UTC` stands for "not ended" and stays a candidate even at `MAX_UTC` (the
            // caller's check decides).
            let after =
                set.range((at, String::new())..).skip_while(|(end, _)| *end <= at && *end < DateTime::<Utc>::MAX_UTC);
            out.extend(after.map(|(_, id)| id.as_str()));
        }
        out.sort_unstable();
        out
    }
}

/// What one trail contributes to the indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TrailKeys {
    /// (reported at, settled at or `MAX_UTC`).
    pub(super) settling: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// (deadline in force, sign-off or report submission, the earlier, or `MAX_UTC`).
    pub(super) investigation: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The evaluation due date, while the evaluation is not recorded.
    pub(super) awaiting_evaluation: Option<NaiveDate>,
    /// Reported late or revised late.
    pub(super) late: bool,
}

impl TrailKeys {
    pub(super) fn of(t: &IncidentTrail) -> Self {
        let never = DateTime::<Utc>::MAX_UTC;
        // The four are all evidenced from the latest of their first evidence times.
        let mut all_four = Some(DateTime::<Utc>::MIN_UTC);
        for list in &t.four {
            all_four = all_four.zip(list.iter().map(|e| e.at).min()).map(|(a, b)| a.max(b));
        }
        let settled = [t.signed_off_at, all_four].into_iter().flatten().min().unwrap_or(never);
        let investigation = t.investigation.as_ref().map(|inv| {
            let end = [t.signed_off_at, inv.report_submitted_at].into_iter().flatten().min().unwrap_or(never);
            (inv.deadline, end)
        });
        Self {
            settling: Some((t.reported_at, settled)),
            investigation,
            awaiting_evaluation: t.evaluation_due.filter(|_| t.evaluated_at.is_none()),
            late: t.reported_late || t.late_revisions > 0,
        }
    }
}

/// The derived indexes (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TrailsIndex {
    pub(super) settling: SpanIndex,
    pub(super) investigations: SpanIndex,
    /// Id → evaluation due date.
    pub(super) awaiting_evaluation: BTreeMap<String, NaiveDate>,
    /// Ids of the incidents reported or revised late.
    pub(super) late: BTreeSet<String>,
}

impl TrailsIndex {
    /// The indexes of `incidents`, from scratch: equal to updating from no contribution to each
    /// trail's, but every set is sorted and built at once instead of item by item.
    pub(super) fn build(incidents: &BTreeMap<String, Box<IncidentTrail>>) -> Self {
        let mut settling: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let mut investigations: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let (mut awaiting_evaluation, mut late) = (Vec::new(), Vec::new());
        for t in incidents.values() {
            let keys = TrailKeys::of(t);
            let id = &t.incident_id;
            if let Some((start, end)) = keys.settling {
                settling.entry(utc_month(start)).or_default().push((end, id.clone()));
            }
            if let Some((start, end)) = keys.investigation {
                investigations.entry(utc_month(start)).or_default().push((end, id.clone()));
            }
            if let Some(due) = keys.awaiting_evaluation {
                awaiting_evaluation.push((id.clone(), due));
            }
            if keys.late {
                late.push(id.clone());
            }
        }
        let spans = |by_month: BTreeMap<(i32, u32), Vec<Span>>| SpanIndex {
            by_month: by_month.into_iter().map(|(m, items)| (m, items.into_iter().collect())).collect(),
        };
        // Trails come in id order: the last two are built from sorted input.
        Self {
            settling: spans(settling),
            investigations: spans(investigations),
            awaiting_evaluation: awaiting_evaluation.into_iter().collect(),
            late: late.into_iter().collect(),
        }
    }

    /// Replaces a trail's contribution `old` by `new`.
    pub(super) fn update(&mut self, id: &str, old: &TrailKeys, new: &TrailKeys) {
        if old.settling != new.settling {
            old.settling.into_iter().for_each(|k| self.settling.put(k, id, false));
            new.settling.into_iter().for_each(|k| self.settling.put(k, id, true));
        }
        if old.investigation != new.investigation {
            old.investigation.into_iter().for_each(|k| self.investigations.put(k, id, false));
            new.investigation.into_iter().for_each(|k| self.investigations.put(k, id, true));
        }
        if old.awaiting_evaluation != new.awaiting_evaluation {
            match new.awaiting_evaluation {
                Some(due) => self.awaiting_evaluation.insert(id.to_string(), due),
                None => self.awaiting_evaluation.remove(id),
            };
        }
        if old.late != new.late {
            if new.late {
                self.late.insert(id.to_string());
            } else {
                self.late.remove(id);
            }
        }
    }
}
