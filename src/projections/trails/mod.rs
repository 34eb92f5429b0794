//! Accountability trails (四不放过): per incident, the four conditions with the events that
//! evidence them (who, when, which position), what is still missing and for how long; the
//! investigation clock (60 days, one extension, appraisal pauses excluded); post-closure
//! evaluations due (1 year after sign-off); late reports and late casualty revisions.
//!
//! Invariants and definitions:
//! - The four, in canonical order ([`FOUR_NOT_LET_GO`]): cause determined (事故原因未查清不放过),
//!   those responsible dealt with (责任人员未处理不放过), corrective measures implemented
//!   (整改措施未落实不放过), education conducted (有关人员未受到教育不放过).
//! - A condition is satisfied at an instant when an evidencing event was recorded (the command's
//!   issued time) at or before it; so an as-of query shows what was missing then.
//! - "Missing for how long" counts whole days from the incident's report (`reported_at`) to the
//!   as-of instant.
//! - Investigation overdue at `at`: opened, report not submitted nor the case closed by `at`, and `at` is past the
//!   deadline in force, where a technical appraisal (技术鉴定) under way stops the clock.
//! - State is ordered (`BTreeMap`, `Vec` in log order): a rebuild is byte-identical.
//!
//! Indexes (derived, kept by `apply`, not stored in snapshots — a snapshot holds the trails
//! alone and the indexes are recomputed from them when one loads, and at the end of a bulk
//! fold, see [`Projection::begin_bulk`]):
//! - *settling*: every incident with the instant it stops being listed by
//!   [`AccountabilityTrails::missing_conditions`] — the earlier of its sign-off and the moment
//!   the last of the four got its first evidence (`MAX_UTC` while neither happened) — grouped by
//!   the UTC month of `reported_at`. Listed at `at` implies settled after `at` and reported
//!   before `at` + 1 day, so the query reads, in each month up to that of `at` + 1 day, only the
//!   incidents settled after `at`: the open ones for today, the then-open ones for a past `at`.
//! - *investigations*: every incident with an investigation, with the earlier of its sign-off
//!   and its report's submission (`MAX_UTC` while neither), grouped by the UTC month of the
//!   deadline in force. Past its deadline at `at` implies the deadline is before `at` (an
//!   appraisal under way only moves the due time later) and neither happened by `at`.
//! - *awaiting evaluation*: closed incidents with no post-closure evaluation recorded, by id,
//!   with their due date (the query then reads no trail).
//! - *late*: ids of incidents reported late or with a late casualty revision.
//!
//! Cost: for today's `at`, the still-open incidents and pending investigations; for a past
//! `at`, those open then, plus at most the incidents reported (or investigations due) in the
//! month of `at`, which the full check then drops.
//!
//! Each index is a superset filter: the queries still apply their full definition to the
//! candidates it yields, so an answer equals the scan's for any `at`, past or future (tested
//! against the scans with random histories). Invariant: each index equals what
//! `TrailKeys::of` derives from the trails (checked by the same test via a snapshot round
//! trip). No query here touches every incident; `incidents()` is the listing iterator.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Projection, Staged};
use crate::events::incident::{IncidentEvent, FOUR_NOT_LET_GO};
use crate::events::time::end_of_cst_day;
use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// An event that evidences one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub position: u64,
    pub event_type: String,
    /// Who recorded it (the command's actor).
    pub actor: String,
    /// When (the command's issued time).
    #[serde(with = "super::state_codec::utc")]
    pub at: DateTime<Utc>,
    /// What was established or done, in words.
    pub summary: String,
    /// Document references.
    pub documents: Vec<String>,
}

/// The investigation clock as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationTrail {
    #[serde(with = "super::state_codec::utc")]
    pub opened_at: DateTime<Utc>,
    pub authority: String,
    /// Deadline in force, moved by extensions and finished appraisal pauses.
    #[serde(with = "super::state_codec::utc")]
    pub deadline: DateTime<Utc>,
    pub extensions: u32,
    /// Start of a technical appraisal under way.
    #[serde(default, with = "super::state_codec::utc_opt")]
    pub paused_since: Option<DateTime<Utc>>,
    #[serde(default, with = "super::state_codec::utc_opt")]
    pub report_submitted_at: Option<DateTime<Utc>>,
    pub report_overdue: bool,
}

impl InvestigationTrail {
    /// Deadline as of `at`, an appraisal still under way counted as paused time.
    pub fn due_as_of(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.paused_since {
            Some(p) if at > p => self.deadline.checked_add_signed(at - p).unwrap_or(self.deadline),
            _ => self.deadline,
        }
    }
}

/// One incident's trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTrail {
    pub incident_id: String,
    pub community_id: String,
    pub category: String,
    #[serde(with = "super::state_codec::utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(with = "super::state_codec::utc")]
    pub reported_at: DateTime<Utc>,
    /// Reported more than the limit (1 hour) after the accident.
    pub reported_late: bool,
    pub report_delay_minutes: i64,
    /// Casualty revisions after the supplementary window (迟报/补报逾期).
    pub late_revisions: u32,
    /// Evidence per condition, in [`FOUR_NOT_LET_GO`] order, each list in log order.
    pub four: [Vec<Evidence>; 4],
    pub investigation: Option<InvestigationTrail>,
    /// Sign-off (结案批复) time.
    #[serde(default, with = "super::state_codec::utc_opt")]
    pub signed_off_at: Option<DateTime<Utc>>,
    /// Post-closure evaluation due date (CST).
    #[serde(default, with = "super::state_codec::date_opt")]
    pub evaluation_due: Option<NaiveDate>,
    #[serde(default, with = "super::state_codec::utc_opt")]
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// One of the four, as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionStatus {
    pub code: String,
    pub label: String,
    pub satisfied: bool,
    /// Evidence recorded by then, in log order.
    pub evidence: Vec<Evidence>,
}

/// The four of one incident as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FourStatus {
    pub incident_id: String,
    pub as_of: DateTime<Utc>,
    pub conditions: Vec<ConditionStatus>,
    /// Codes of the conditions not yet satisfied.
    pub missing: Vec<String>,
    /// Whole days since the incident was reported.
    pub days_open: i64,
    pub closed: bool,
}

/// An investigation past its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueInvestigation {
    pub incident_id: String,
    pub due: DateTime<Utc>,
    pub days_past: i64,
}

/// A post-closure evaluation not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationDue {
    pub incident_id: String,
    pub due: NaiveDate,
    pub overdue: bool,
}

/// The accountability trail projection (四不放过).
///
/// Serialised as its trails only (the snapshot layout since version 1); the indexes are
/// recomputed when a snapshot is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountabilityTrails {
    /// Boxed: a trail is about 400 bytes, and a snapshot load or the end of a bulk fold moves
    /// every entry two or three times (decoded into a vector, built into the tree, sorted out of
    /// the staging); boxed, each move is a pointer.
    incidents: BTreeMap<String, Box<IncidentTrail>>,
    index: TrailsIndex,
    /// In a bulk fold ([`Projection::begin_bulk`]): the trails, staged (`incidents` is empty),
    /// and `index` is stale until it ends.
    staged: Option<Staged<Box<IncidentTrail>>>,
}

/// What a snapshot stores, in this field order.
#[derive(Serialize)]
struct TrailsStateRef<'a> {
    incidents: &'a BTreeMap<String, Box<IncidentTrail>>,
}

/// [`TrailsStateRef`], owned, for decoding.
#[derive(Deserialize)]
struct TrailsState {
    #[serde(deserialize_with = "super::state_codec::sorted_map")]
    incidents: BTreeMap<String, Box<IncidentTrail>>,
}

impl Serialize for AccountabilityTrails {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TrailsStateRef { incidents: &self.incidents }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AccountabilityTrails {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let TrailsState { incidents } = TrailsState::deserialize(deserializer)?;
        let index = TrailsIndex::build(&incidents);
        Ok(Self { incidents, index, staged: None })
    }
}

/// An item's end instant and id.
type Span = (DateTime<Utc>, String);

/// Items with a start and an end instant (exclusive; `MAX_UTC` while open), grouped by the UTC
/// month of their start: "started by `t`, not ended by `at`" reads, per month up to `t`'s, only
/// the items ending after `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SpanIndex {
    by_month: BTreeMap<(i32, u32), BTreeSet<Span>>,
}

fn utc_month(t: DateTime<Utc>) -> (i32, u32) {
    (t.year(), t.month())
}

impl SpanIndex {
    fn put(&mut self, (start, end): (DateTime<Utc>, DateTime<Utc>), id: &str, add: bool) {
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
    fn candidates(&self, started_by: DateTime<Utc>, at: DateTime<Utc>) -> Vec<&str> {
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
struct TrailKeys {
    /// (reported at, settled at or `MAX_UTC`).
    settling: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// (deadline in force, sign-off or report submission, the earlier, or `MAX_UTC`).
    investigation: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The evaluation due date, while the evaluation is not recorded.
    awaiting_evaluation: Option<NaiveDate>,
    /// Reported late or revised late.
    late: bool,
}

impl TrailKeys {
    fn of(t: &IncidentTrail) -> Self {
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
struct TrailsIndex {
    settling: SpanIndex,
    investigations: SpanIndex,
    /// Id → evaluation due date.
    awaiting_evaluation: BTreeMap<String, NaiveDate>,
    /// Ids of the incidents reported or revised late.
    late: BTreeSet<String>,
}

impl TrailsIndex {
    /// The indexes of `incidents`, from scratch: equal to updating from no contribution to each
    /// trail's, but every set is sorted and built at once instead of item by item.
    fn build(incidents: &BTreeMap<String, Box<IncidentTrail>>) -> Self {
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
    fn update(&mut self, id: &str, old: &TrailKeys, new: &TrailKeys) {
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

impl AccountabilityTrails {
    /// Every incident's trail, by incident id.
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentTrail> {
        self.incidents.values().map(|t| &**t)
    }

    pub fn trail(&self, incident_id: &str) -> Option<&IncidentTrail> {
        self.incidents.get(incident_id).map(|t| &**t)
    }

    /// The four of one incident as of `at`.
    pub fn four_status(&self, incident_id: &str, at: DateTime<Utc>) -> Option<FourStatus> {
        let t = self.incidents.get(incident_id)?;
        let mut conditions = Vec::with_capacity(4);
        let mut missing = Vec::new();
        for ((code, label), list) in FOUR_NOT_LET_GO.iter().zip(&t.four) {
            let evidence: Vec<Evidence> = list.iter().filter(|e| e.at <= at).cloned().collect();
            let satisfied = !evidence.is_empty();
            if !satisfied {
                missing.push(code.to_string());
            }
            conditions.push(ConditionStatus { code: code.to_string(), label: label.to_string(), satisfied, evidence });
        }
        Some(FourStatus {
            incident_id: t.incident_id.clone(),
            as_of: at,
            conditions,
            missing,
            days_open: (at - t.reported_at).num_days(),
            closed: t.signed_off_at.is_some_and(|s| s <= at),
        })
    }

    /// Incidents reported by `at`, not closed by then, with a condition missing; by id.
    /// Reads the incidents the settling index has unsettled at `at` (see the module docs).
    pub fn missing_conditions(&self, at: DateTime<Utc>) -> Vec<FourStatus> {
        // `days_open >= 0` holds for reports up to a day after `at` (whole days truncate).
        let reported_by = at.checked_add_signed(chrono::Duration::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.index
            .settling
            .candidates(reported_by, at)
            .into_iter()
            .filter_map(|id| self.four_status(id, at))
            .filter(|s| !s.closed && !s.missing.is_empty() && s.days_open >= 0)
            .collect()
    }

    /// Investigations past their deadline at `at` (appraisal pauses excluded); by id. Reads
    /// the investigations whose deadline month has begun and that were pending after `at`.
    pub fn past_investigation_deadline(&self, at: DateTime<Utc>) -> Vec<OverdueInvestigation> {
        self.index
            .investigations
            .candidates(at, at)
            .into_iter()
            .filter_map(|id| self.incidents.get(id))
            .filter_map(|t| {
                let inv = t.investigation.as_ref()?;
                let closed = t.signed_off_at.is_some_and(|s| s <= at);
                if closed || inv.report_submitted_at.is_some_and(|s| s <= at) {
                    return None;
                }
                let due = inv.due_as_of(at);
                (at > due).then(|| OverdueInvestigation {
                    incident_id: t.incident_id.clone(),
                    due,
                    days_past: (at - due).num_days(),
                })
            })
            .collect()
    }

    /// Closed incidents whose post-closure evaluation is not recorded; by id (reads the
    /// awaiting-evaluation set; `at` only decides `overdue`).
    pub fn evaluations_due(&self, at: DateTime<Utc>) -> Vec<EvaluationDue> {
        self.index
            .awaiting_evaluation
            .iter()
            .map(|(id, due)| EvaluationDue {
                incident_id: id.clone(),
                due: *due,
                overdue: end_of_cst_day(*due).is_some_and(|end| at >= end),
            })
            .collect()
    }

    /// Incidents reported late, or with a late casualty revision; by id.
    pub fn late_reports(&self) -> Vec<&IncidentTrail> {
        self.index.late.iter().filter_map(|id| self.trail(id)).collect()
    }
}

fn evidence(
    recorded: &RecordedEvent,
    actor: &str,
    at: DateTime<Utc>,
    summary: String,
    documents: &[String],
) -> Evidence {
    Evidence {
        position: recorded.position,
        event_type: recorded.event_type.to_string(),
        actor: actor.to_string(),
        at,
        summary,
        documents: documents.to_vec(),
    }
}

impl Projection for AccountabilityTrails {
    const NAME: &'static str = "accountability_trails";
    /// 2: instants and dates as integers (`state_codec`).
    const VERSION: u32 = 2;

    fn wants(event_type: &str) -> bool {
        event_type.starts_with("incident.")
    }

    fn begin_bulk(&mut self) {
        if self.staged.is_none() {
            self.staged = Some(Staged::take(&mut self.incidents));
        }
    }

    fn end_bulk(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.incidents = staged.into_map();
            self.index = TrailsIndex::build(&self.incidents);
        }
    }

    fn apply(&mut self, recorded: &RecordedEvent, event: &DomainEvent) {
        let DomainEvent::Incident(e) = event else {
            return;
        };
        if let IncidentEvent::Reported(r) = e {
            let trail = |incident_id| IncidentTrail {
                incident_id,
                community_id: r.community_id.as_str().to_string(),
                category: r.category.clone(),
                occurred_at: r.occurred_at,
                reported_at: r.reported_at,
                reported_late: r.reported_late,
                report_delay_minutes: r.report_delay_minutes,
                late_revisions: 0,
                four: Default::default(),
                investigation: None,
                signed_off_at: None,
                evaluation_due: None,
                evaluated_at: None,
            };
            if let Some(staged) = &mut self.staged {
                staged.insert_new(r.incident_id.as_str(), |id| Box::new(trail(id)));
            } else if let std::collections::btree_map::Entry::Vacant(slot) =
                self.incidents.entry(r.incident_id.as_str().to_string())
            {
                let t = slot.insert(Box::new(trail(r.incident_id.as_str().to_string())));
                self.index.update(&t.incident_id, &TrailKeys::default(), &TrailKeys::of(t));
            }
            return;
        }
        let id = match e {
            IncidentEvent::Reported(x) => &x.incident_id,
            IncidentEvent::CasualtiesRevised(x) => &x.incident_id,
            IncidentEvent::Graded(x) => &x.incident_id,
            IncidentEvent::InvestigationOpened(x) => &x.incident_id,
            IncidentEvent::InvestigationExtended(x) => &x.incident_id,
            IncidentEvent::AppraisalStarted(x) => &x.incident_id,
            IncidentEvent::AppraisalEnded(x) => &x.incident_id,
            IncidentEvent::InvestigationReportSubmitted(x) => &x.incident_id,
            IncidentEvent::CauseDetermined(x) => &x.incident_id,
            IncidentEvent::ResponsibleDealtWith(x) => &x.incident_id,
            IncidentEvent::CorrectiveMeasuresImplemented(x) => &x.incident_id,
            IncidentEvent::EducationConducted(x) => &x.incident_id,
            IncidentEvent::Closed(x) => &x.incident_id,
            IncidentEvent::Evaluated(x) => &x.incident_id,
        };
        // In a bulk fold the index is built at its end: only the trail moves.
        let (t, index) = match &mut self.staged {
            Some(staged) => (staged.get_mut(id.as_str()), None),
            None => (self.incidents.get_mut(id.as_str()), Some(&mut self.index)),
        };
        let Some(t) = t else {
            return;
        };
        let before = index.is_some().then(|| TrailKeys::of(t));
        match e {
            IncidentEvent::CasualtiesRevised(r) if r.late => t.late_revisions += 1,
            IncidentEvent::InvestigationOpened(o) => {
                t.investigation = Some(InvestigationTrail {
                    opened_at: o.recorded_at,
                    authority: o.authority.clone(),
                    deadline: o.deadline,
                    extensions: 0,
                    paused_since: None,
                    report_submitted_at: None,
                    report_overdue: false,
                });
            }
            IncidentEvent::InvestigationExtended(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.deadline = x.new_deadline;
                    inv.extensions += 1;
                }
            }
            IncidentEvent::AppraisalStarted(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.paused_since = Some(x.started_at);
                }
            }
            IncidentEvent::AppraisalEnded(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.paused_since = None;
                    inv.deadline = x.new_deadline;
                }
            }
            IncidentEvent::InvestigationReportSubmitted(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.report_submitted_at = Some(x.submitted_at);
                    inv.report_overdue = x.overdue;
                }
            }
            IncidentEvent::CauseDetermined(x) => {
                t.four[0].push(evidence(recorded, x.recorded_by.as_str(), x.recorded_at, x.cause.clone(), &x.evidence))
            }
            IncidentEvent::ResponsibleDealtWith(x) => t.four[1].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                format!("{} ({}): {}", x.person, x.role, x.action),
                &x.evidence,
            )),
            IncidentEvent::CorrectiveMeasuresImplemented(x) => t.four[2].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                x.measures.clone(),
                &x.evidence,
            )),
            IncidentEvent::EducationConducted(x) => t.four[3].push(evidence(
                recorded,
                x.recorded_by.as_str(),
                x.recorded_at,
                format!("{} ({} people, {})", x.audience, x.people_reached, x.method),
                &x.evidence,
            )),
            IncidentEvent::Closed(c) => {
                t.signed_off_at = Some(c.signed_off_at);
                t.evaluation_due = Some(c.evaluation_due);
            }
            IncidentEvent::Evaluated(v) => t.evaluated_at = Some(v.evaluated_at),
            _ => {}
        }
        if let (Some(index), Some(before)) = (index, before) {
            index.update(&t.incident_id, &before, &TrailKeys::of(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::incident::{
        AppraisalEnded, AppraisalStarted, AuthorityLevel, CasualtiesRevised, CauseDetermined,
        CorrectiveMeasuresImplemented, EducationConducted, IncidentClosed, IncidentReported, InvestigationExtended,
        InvestigationOpened, InvestigationReportSubmitted, PostClosureEvaluated, ResponsibleDealtWith,
    };
    use crate::events::EntityId;
    use crate::store::Timestamp;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// The scans the indexes replace (the code before them).
    fn scan_missing_conditions(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<FourStatus> {
        s.incidents
            .keys()
            .filter_map(|id| s.four_status(id, at))
            .filter(|s| !s.closed && !s.missing.is_empty() && s.days_open >= 0)
            .collect()
    }

    fn scan_past_investigation_deadline(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<OverdueInvestigation> {
        s.incidents
            .values()
            .filter_map(|t| {
                let inv = t.investigation.as_ref()?;
                let closed = t.signed_off_at.is_some_and(|s| s <= at);
                if closed || inv.report_submitted_at.is_some_and(|s| s <= at) {
                    return None;
                }
                let due = inv.due_as_of(at);
                (at > due).then(|| OverdueInvestigation {
                    incident_id: t.incident_id.clone(),
                    due,
                    days_past: (at - due).num_days(),
                })
            })
            .collect()
    }

    fn scan_evaluations_due(s: &AccountabilityTrails, at: DateTime<Utc>) -> Vec<EvaluationDue> {
        s.incidents
            .values()
            .filter(|t| t.evaluated_at.is_none())
            .filter_map(|t| {
                let due = t.evaluation_due?;
                Some(EvaluationDue {
                    incident_id: t.incident_id.clone(),
                    due,
                    overdue: end_of_cst_day(due).is_some_and(|end| at >= end),
                })
            })
            .collect()
    }

    fn eid(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    fn recorded(position: u64, event_type: &str) -> RecordedEvent {
        RecordedEvent {
            position,
            stream: Arc::from("incident-x"),
            version: 0,
            event_type: Arc::from(event_type),
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

    /// One step of a random history: which event (0–12, 11 a report), for which incident, at which hour.
    type Step = (u8, usize, u32);

    /// Events in random order and at random times (the projection does not rely on the domain's
    /// ordering rules, so neither does the index).
    fn event(kind: u8, id: EntityId, at: DateTime<Utc>, h: i64) -> IncidentEvent {
        let by = eid("t");
        let later = at + chrono::Duration::hours(h);
        let ev = |n: &str| vec![n.to_string()];
        match kind {
            0 => IncidentEvent::InvestigationOpened(InvestigationOpened {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                authority_level: AuthorityLevel::County,
                authority: "a".into(),
                required_level: None,
                deadline: later,
            }),
            1 => IncidentEvent::InvestigationExtended(InvestigationExtended {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                days: 60,
                reason: "r".into(),
                new_deadline: later,
            }),
            2 => IncidentEvent::AppraisalStarted(AppraisalStarted {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                started_at: at,
                reason: "r".into(),
            }),
            3 => IncidentEvent::AppraisalEnded(AppraisalEnded {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                started_at: at,
                ended_at: at,
                paused_seconds: 0,
                new_deadline: later,
            }),
            4 => IncidentEvent::InvestigationReportSubmitted(InvestigationReportSubmitted {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                submitted_at: at,
                summary: "s".into(),
                deadline: at,
                overdue: false,
            }),
            5 => IncidentEvent::CauseDetermined(CauseDetermined {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                cause: "c".into(),
                evidence: ev("d"),
            }),
            6 => IncidentEvent::ResponsibleDealtWith(ResponsibleDealtWith {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                person: "p".into(),
                id_number: None,
                role: "r".into(),
                action: "a".into(),
                evidence: ev("d"),
            }),
            7 => IncidentEvent::CorrectiveMeasuresImplemented(CorrectiveMeasuresImplemented {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                measures: "m".into(),
                hazard_ids: Vec::new(),
                evidence: ev("d"),
            }),
            8 => IncidentEvent::EducationConducted(EducationConducted {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                audience: "a".into(),
                people_reached: 3,
                method: "m".into(),
                evidence: ev("d"),
            }),
            9 => IncidentEvent::Closed(IncidentClosed {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                signed_off_at: at,
                signed_off_by: "s".into(),
                evaluation_due: (at + chrono::Duration::days(365)).date_naive(),
            }),
            10 => IncidentEvent::Evaluated(PostClosureEvaluated {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                evaluated_at: at,
                findings: "f".into(),
                published: true,
                overdue: false,
            }),
            12 => IncidentEvent::CasualtiesRevised(CasualtiesRevised {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                deaths: 1,
                serious_injuries: 0,
                minor_injuries: 0,
                missing: 0,
                direct_loss_yuan: 0,
                reason: "r".into(),
                days_after_accident: h,
                window_days: 30,
                late: h % 2 == 0,
            }),
            _ => IncidentEvent::Reported(IncidentReported {
                incident_id: id,
                recorded_by: by,
                recorded_at: at,
                occurred_at: at - chrono::Duration::hours(h % 5),
                reported_at: at,
                place: "p".into(),
                community_id: eid("c1"),
                enterprise_id: None,
                category: "fire".into(),
                deaths: 0,
                serious_injuries: 0,
                minor_injuries: 1,
                missing: 0,
                direct_loss_yuan: 0,
                summary: "s".into(),
                report_delay_minutes: 0,
                report_limit_minutes: 60,
                reported_late: h % 3 == 0,
            }),
        }
    }

    fn build(steps: &[Step]) -> AccountabilityTrails {
        build_in(steps, false)
    }

    /// [`build`], as a bulk fold or not.
    fn build_in(steps: &[Step], bulk: bool) -> AccountabilityTrails {
        let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut s = AccountabilityTrails::default();
        if bulk {
            s.begin_bulk();
        }
        for (position, (kind, who, hour)) in steps.iter().enumerate() {
            let id = eid(&format!("i{}", who % 12));
            let at = base + chrono::Duration::hours(i64::from(*hour));
            let e = event(*kind, id, at, i64::from(*hour % 2000));
            s.apply(&recorded(position as u64, "incident.x"), &DomainEvent::Incident(e));
        }
        s.end_bulk();
        s
    }

    fn step() -> impl Strategy<Value = Step> {
        // Reports are frequent, so most later events find their incident.
        (prop_oneof![3 => Just(11u8), 10 => 0u8..13], 0usize..12, 0u32..(3 * 365 * 24))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn indexed_queries_answer_what_a_scan_answers(
            steps in proptest::collection::vec(step(), 0..120),
            hours in proptest::collection::vec(0u32..(3 * 365 * 24 + 3000), 6),
        ) {
            let s = build(&steps);
            // A bulk fold and a snapshot load end with the same indexes as a fold event by event.
            prop_assert_eq!(&build_in(&steps, true), &s);
            let loaded: AccountabilityTrails = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
            prop_assert_eq!(&loaded, &s);
            let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
            let mut ats: Vec<DateTime<Utc>> =
                hours.into_iter().map(|h| base + chrono::Duration::hours(i64::from(h))).collect();
            ats.extend([DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC]);
            // Instants on and next to the recorded ones: edges of "by `at`" and of whole days.
            for t in s.incidents.values().take(4) {
                for d in [-86_400i64, -86_399, -1, 0, 1] {
                    ats.push(t.reported_at + chrono::Duration::seconds(d));
                }
                ats.extend(t.signed_off_at);
                ats.extend(t.investigation.as_ref().map(|i| i.deadline));
            }
            for at in ats {
                prop_assert_eq!(s.missing_conditions(at), scan_missing_conditions(&s, at), "at {}", at);
                prop_assert_eq!(
                    s.past_investigation_deadline(at),
                    scan_past_investigation_deadline(&s, at),
                    "at {}", at
                );
                prop_assert_eq!(s.evaluations_due(at), scan_evaluations_due(&s, at));
                let scan_late: Vec<&IncidentTrail> =
                    s.incidents().filter(|t| t.reported_late || t.late_revisions > 0).collect();
                prop_assert_eq!(s.late_reports(), scan_late);
            }
            // The indexes equal those a snapshot load derives from the trails.
            let loaded: AccountabilityTrails = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
            prop_assert_eq!(&loaded, &s);
        }
    }
}
