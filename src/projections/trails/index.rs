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
    /// (reported at, settled at or `MAX_UTC`). "Closed" here and below is signed off or closed
    /// elsewhere ([`IncidentTrail::closed_at`]).
    pub(super) settling: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// (deadline in force, sign-off or report submission, the earlier, or `MAX_UTC`).
    pub(super) investigation: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The evaluation due date, while the evaluation is not recorded.
    pub(super) awaiting_evaluation: Option<NaiveDate>,
    /// Reported late or revised late.
    pub(super) late: bool,
    /// (reported at, the earlier of sign-off and the moment the level the grade calls for was
    /// reached, or `MAX_UTC`), for an incident whose grade calls for escalation.
    pub(super) escalating: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// An escalation was recorded late.
    pub(super) late_escalation: bool,
    /// (sign-off due, closed or `MAX_UTC`), once the report is in.
    pub(super) sign_off: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Signed off after its due time.
    pub(super) signed_off_late: bool,
    /// Closed in another system.
    pub(super) outside: bool,
}

impl TrailKeys {
    pub(super) fn of(t: &IncidentTrail) -> Self {
        let never = DateTime::<Utc>::MAX_UTC;
        // The four are all evidenced from the latest of their first evidence times.
        let mut all_four = Some(DateTime::<Utc>::MIN_UTC);
        for list in &t.four {
            all_four = all_four.zip(list.iter().map(|e| e.at).min()).map(|(a, b)| a.max(b));
        }
        let closed = t.closed_at();
        let settled = [closed, all_four].into_iter().flatten().min().unwrap_or(never);
        let investigation = t.investigation.as_ref().map(|inv| {
            let end = [closed, inv.report_submitted_at].into_iter().flatten().min().unwrap_or(never);
            (inv.deadline, end)
        });
        let escalating = t.escalation_required.map(|required| {
            let reached = t.escalations.iter().filter(|s| s.level >= required).map(|s| s.escalated_at).min();
            (t.reported_at, [closed, reached].into_iter().flatten().min().unwrap_or(never))
        });
        let sign_off_due = t.investigation.as_ref().and_then(|inv| inv.sign_off_due);
        Self {
            sign_off: sign_off_due.map(|due| (due, closed.unwrap_or(never))),
            signed_off_late: sign_off_due.zip(t.signed_off_at).is_some_and(|(due, s)| s > due),
            outside: t.closed_elsewhere.is_some(),
            escalating,
            late_escalation: t.escalations.iter().any(|s| s.late),
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
    pub(super) escalating: SpanIndex,
    /// Ids of the incidents with an escalation recorded late.
    pub(super) late_escalations: BTreeSet<String>,
    /// Sign-offs by the UTC month of their due time, ending at the sign-off.
    pub(super) sign_offs: SpanIndex,
    /// Ids of the incidents signed off after their due time.
    pub(super) signed_off_late: BTreeSet<String>,
    /// Ids of the incidents closed in another system.
    pub(super) outside: BTreeSet<String>,
}

impl TrailsIndex {
    /// The indexes of `incidents`, from scratch: equal to updating from no contribution to each
    /// trail's, but every set is sorted and built at once instead of item by item.
    pub(super) fn build(incidents: &BTreeMap<String, Box<IncidentTrail>>) -> Self {
        let mut settling: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let mut investigations: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let mut escalating: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let mut sign_offs: BTreeMap<(i32, u32), Vec<Span>> = BTreeMap::new();
        let (mut signed_off_late, mut outside) = (Vec::new(), Vec::new());
        let (mut awaiting_evaluation, mut late, mut late_escalations) = (Vec::new(), Vec::new(), Vec::new());
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
            if let Some((start, end)) = keys.escalating {
                escalating.entry(utc_month(start)).or_default().push((end, id.clone()));
            }
            if keys.late_escalation {
                late_escalations.push(id.clone());
            }
            if let Some((start, end)) = keys.sign_off {
                sign_offs.entry(utc_month(start)).or_default().push((end, id.clone()));
            }
            if keys.signed_off_late {
                signed_off_late.push(id.clone());
            }
            if keys.outside {
                outside.push(id.clone());
            }
        }
        let spans = |by_month: BTreeMap<(i32, u32), Vec<Span>>| SpanIndex {
            by_month: by_month.into_iter().map(|(m, items)| (m, items.into_iter().collect())).collect(),
        };
        // Trails come in id order: the sets are built from sorted input.
        Self {
            settling: spans(settling),
            investigations: spans(investigations),
            awaiting_evaluation: awaiting_evaluation.into_iter().collect(),
            late: late.into_iter().collect(),
            escalating: spans(escalating),
            late_escalations: late_escalations.into_iter().collect(),
            sign_offs: spans(sign_offs),
            signed_off_late: signed_off_late.into_iter().collect(),
            outside: outside.into_iter().collect(),
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
        if old.escalating != new.escalating {
            old.escalating.into_iter().for_each(|k| self.escalating.put(k, id, false));
            new.escalating.into_iter().for_each(|k| self.escalating.put(k, id, true));
        }
        if old.late_escalation != new.late_escalation {
            flip(&mut self.late_escalations, id, new.late_escalation);
        }
        if old.sign_off != new.sign_off {
            old.sign_off.into_iter().for_each(|k| self.sign_offs.put(k, id, false));
            new.sign_off.into_iter().for_each(|k| self.sign_offs.put(k, id, true));
        }
        if old.signed_off_late != new.signed_off_late {
            flip(&mut self.signed_off_late, id, new.signed_off_late);
        }
        if old.outside != new.outside {
            flip(&mut self.outside, id, new.outside);
        }
    }
}

/// Puts `id` into `set` or takes it out.
fn flip(set: &mut BTreeSet<String>, id: &str, member: bool) {
    if member {
        set.insert(id.to_string());
    } else {
        set.remove(id);
    }
}
