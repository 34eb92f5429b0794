//! The trails' state and its fold: [`AccountabilityTrails`] (one trail per incident, the derived
//! index beside them), what a snapshot stores, and `apply` for incident events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::index::{TrailKeys, TrailsIndex};
use super::trail::{EscalationStep, Evidence, IncidentTrail, InvestigationTrail, OutsideClosure};
use crate::events::incident::IncidentEvent;
use crate::events::time::end_of_cst_day;
use crate::events::DomainEvent;
use crate::projections::{Family, Projection, Staged};
use crate::store::RecordedEvent;

/// The accountability trail projection (四不放过).
///
/// Serialised as its trails only (the snapshot layout since version 1); the indexes are
/// recomputed when a snapshot is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountabilityTrails {
    /// Boxed: a trail is about 400 bytes, and a snapshot load or the end of a bulk fold moves
    /// every entry two or three times (decoded into a vector, built into the tree, sorted out of
    /// the staging); boxed, each move is a pointer.
    pub(super) incidents: BTreeMap<String, Box<IncidentTrail>>,
    pub(super) index: TrailsIndex,
    /// In a bulk fold ([`Projection::begin_bulk`]): the trails, staged (`incidents` is empty),
    /// and `index` is stale until it ends.
    pub(super) staged: Option<Staged<Box<IncidentTrail>>>,
}

/// What a snapshot stores, in this field order.
#[derive(Serialize)]
struct TrailsStateRef<'a> {
    incidents: &'a BTreeMap<String, Box<IncidentTrail>>,
}

/// [`TrailsStateRef`], owned, for decoding.
#[derive(Deserialize)]
struct TrailsState {
    #[serde(deserialize_with = "crate::projections::state_codec::sorted_map")]
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

/// Every event of the family this read model folds.
const INCIDENT: Family = Family::of(IncidentEvent::TYPES);

impl Projection for AccountabilityTrails {
    const NAME: &'static str = "accountability_trails";
    /// 2: instants and dates as integers (`state_codec`); 3: escalations, sign-off due, outside
    /// closures.
    const VERSION: u32 = 3;

    fn wants(event_type: &str) -> bool {
        INCIDENT.contains(event_type)
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
                escalation_required: None,
                escalations: Vec::new(),
                signed_off_at: None,
                evaluation_due: None,
                evaluated_at: None,
                closed_elsewhere: None,
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
            IncidentEvent::Escalated(x) => &x.incident_id,
            IncidentEvent::SignOffExtended(x) => &x.incident_id,
            IncidentEvent::ClosedElsewhere(x) => &x.incident_id,
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
            IncidentEvent::Graded(g) => t.escalation_required = Some(g.grade.escalation_level()),
            IncidentEvent::Escalated(x) => t.escalations.push(EscalationStep {
                level: x.level,
                escalated_at: x.escalated_at,
                deadline: x.deadline,
                late: x.late,
            }),
            IncidentEvent::InvestigationOpened(o) => {
                t.investigation = Some(InvestigationTrail {
                    opened_at: o.recorded_at,
                    authority: o.authority.clone(),
                    deadline: o.deadline,
                    extensions: 0,
                    paused_since: None,
                    report_submitted_at: None,
                    report_overdue: false,
                    sign_off_due: None,
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
                    inv.sign_off_due = x.sign_off_due;
                }
            }
            IncidentEvent::SignOffExtended(x) => {
                if let Some(inv) = &mut t.investigation {
                    inv.sign_off_due = Some(x.new_due);
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
            IncidentEvent::ClosedElsewhere(c) => {
                let day_start = c.closed_on.and_then(end_of_cst_day).map(|end| end - chrono::Duration::days(1));
                t.closed_elsewhere = Some(OutsideClosure {
                    closed_from: day_start.unwrap_or(t.reported_at),
                    closed_on: c.closed_on,
                    held_by: c.held_by.clone(),
                });
            }
            _ => {}
        }
        if let (Some(index), Some(before)) = (index, before) {
            index.update(&t.incident_id, &before, &TrailKeys::of(t));
        }
    }
}
