//! The statistics' state and its fold: [`AccidentStats`] (the facts, the denominators, and the
//! derived cells), what a snapshot stores of it, and `apply` for incident, community and
//! enterprise events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::{CommunityFacts, ControlIndicator, IncidentFacts};
use super::index::{account, account_grade, build_cells, Buckets, GradeKey};
use crate::events::community::CommunityEvent;
use crate::events::enterprise::EnterpriseEvent;
use crate::events::incident::{Casualties, IncidentEvent};
use crate::events::time::cst_date;
use crate::events::DomainEvent;
use crate::projections::kpis::Denominators;
use crate::projections::{Family, Projection, Staged};
use crate::store::RecordedEvent;

/// The accident statistics projection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccidentStats {
    pub(super) incidents: BTreeMap<String, IncidentFacts>,
    pub(super) communities: BTreeMap<String, CommunityFacts>,
    /// Running totals over `incidents`, by (community, category); `None` = all.
    pub(super) cells: BTreeMap<(Option<String>, Option<String>), Buckets>,
    /// Running totals over the graded incidents, by (community, category, grade); `None` = all.
    pub(super) grade_cells: BTreeMap<GradeKey, Buckets>,
    /// GDP, workers, hours worked and work injury cases (the KPIs' denominators).
    pub(super) denominators: Denominators,
    /// In a bulk fold ([`Projection::begin_bulk`]): the incidents, staged (`incidents` is
    /// empty), and `cells` and `grade_cells` are stale until it ends.
    pub(super) staged: Option<Staged<IncidentFacts>>,
}

/// What a snapshot stores, in this field order.
#[derive(Serialize)]
pub(super) struct StatsStateRef<'a> {
    pub(super) incidents: &'a BTreeMap<String, IncidentFacts>,
    pub(super) communities: &'a BTreeMap<String, CommunityFacts>,
    pub(super) denominators: &'a Denominators,
}

/// [`StatsStateRef`], owned, for decoding.
#[derive(Deserialize)]
pub(super) struct StatsState {
    #[serde(deserialize_with = "crate::projections::state_codec::sorted_map")]
    pub(super) incidents: BTreeMap<String, IncidentFacts>,
    #[serde(deserialize_with = "crate::projections::state_codec::sorted_map")]
    pub(super) communities: BTreeMap<String, CommunityFacts>,
    pub(super) denominators: Denominators,
}

impl Serialize for AccidentStats {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StatsStateRef { incidents: &self.incidents, communities: &self.communities, denominators: &self.denominators }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AccidentStats {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StatsState { incidents, communities, denominators } = StatsState::deserialize(deserializer)?;
        let (cells, grade_cells) = build_cells(&incidents);
        Ok(Self { incidents, communities, cells, grade_cells, denominators, staged: None })
    }
}

/// The event types the statistics fold: an incident's figures and grade, a community's
/// registration, population, control indicators and economy, an enterprise's work hours and
/// work-injury cases (the KPI denominators).
const FOLDED: [&str; 9] = {
    let (incident, community, enterprise) =
        (Family::of(IncidentEvent::TYPES), Family::of(CommunityEvent::TYPES), Family::of(EnterpriseEvent::TYPES));
    [
        incident.get("incident.reported"),
        incident.get("incident.casualties_revised"),
        incident.get("incident.graded"),
        community.get("community.registered"),
        community.get("community.population_revised"),
        community.get("community.control_indicator_set"),
        community.get("community.economy_recorded"),
        enterprise.get("enterprise.work_hours_recorded"),
        enterprise.get("enterprise.work_injury_case_recorded"),
    ]
};

impl Projection for AccidentStats {
    const NAME: &'static str = "accident_stats";
    /// 2: the snapshot holds the KPI denominators. 3: instants and dates as integers
    /// (`state_codec`).
    const VERSION: u32 = 3;

    fn wants(event_type: &str) -> bool {
        FOLDED.contains(&event_type)
    }

    fn begin_bulk(&mut self) {
        if self.staged.is_none() {
            self.staged = Some(Staged::take(&mut self.incidents));
        }
    }

    fn end_bulk(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.incidents = staged.into_map();
            (self.cells, self.grade_cells) = build_cells(&self.incidents);
        }
    }

    fn apply(&mut self, _recorded: &RecordedEvent, event: &DomainEvent) {
        match event {
            DomainEvent::Incident(e) => self.apply_incident(e),
            DomainEvent::Community(e) => {
                self.denominators.apply_community(e);
                self.apply_community(e);
            }
            DomainEvent::Enterprise(e) => self.denominators.apply_enterprise(e),
            _ => {}
        }
    }
}

impl AccidentStats {
    pub(super) fn apply_incident(&mut self, e: &IncidentEvent) {
        if let IncidentEvent::Reported(r) = e {
            let facts = |incident_id| IncidentFacts {
                incident_id,
                community_id: r.community_id.as_str().to_string(),
                enterprise_id: r.enterprise_id.as_ref().map(|x| x.as_str().to_string()),
                category: r.category.clone(),
                occurred_at: r.occurred_at,
                casualties: Casualties {
                    deaths: r.deaths,
                    serious_injuries: r.serious_injuries,
                    minor_injuries: r.minor_injuries,
                    missing: r.missing,
                    direct_loss_yuan: r.direct_loss_yuan,
                },
                grade: None,
            };
            if let Some(staged) = &mut self.staged {
                staged.insert_new(r.incident_id.as_str(), facts);
            } else if let std::collections::btree_map::Entry::Vacant(slot) =
                self.incidents.entry(r.incident_id.as_str().to_string())
            {
                let f = slot.insert(facts(r.incident_id.as_str().to_string()));
                account(&mut self.cells, f, true);
                account_grade(&mut self.grade_cells, f, true);
            }
            return;
        }
        let id = match e {
            IncidentEvent::CasualtiesRevised(r) => &r.incident_id,
            IncidentEvent::Graded(g) => &g.incident_id,
            _ => return,
        };
        // In a bulk fold the cells are built at its end: only the facts move.
        let (f, cells) = match &mut self.staged {
            Some(staged) => (staged.get_mut(id.as_str()), None),
            None => (self.incidents.get_mut(id.as_str()), Some((&mut self.cells, &mut self.grade_cells))),
        };
        let Some(f) = f else { return };
        match e {
            IncidentEvent::CasualtiesRevised(r) => {
                let casualties = Casualties {
                    deaths: r.deaths,
                    serious_injuries: r.serious_injuries,
                    minor_injuries: r.minor_injuries,
                    missing: r.missing,
                    direct_loss_yuan: r.direct_loss_yuan,
                };
                match cells {
                    Some((cells, grade_cells)) => {
                        account(cells, f, false);
                        account_grade(grade_cells, f, false);
                        f.casualties = casualties;
                        account(cells, f, true);
                        account_grade(grade_cells, f, true);
                    }
                    None => f.casualties = casualties,
                }
            }
            IncidentEvent::Graded(g) => match cells {
                Some((_, grade_cells)) => {
                    account_grade(grade_cells, f, false);
                    f.grade = Some(g.grade);
                    account_grade(grade_cells, f, true);
                }
                None => f.grade = Some(g.grade),
            },
            _ => {}
        }
    }

    pub(super) fn apply_community(&mut self, e: &CommunityEvent) {
        match e {
            CommunityEvent::Registered(r) => {
                let mut facts = CommunityFacts {
                    community_id: r.community_id.as_str().to_string(),
                    name: r.name.clone(),
                    registered_on: cst_date(r.recorded_at),
                    populations: Vec::new(),
                    indicators: BTreeMap::new(),
                };
                facts.set_population(r.population_as_of, r.population);
                self.communities.entry(facts.community_id.clone()).or_insert(facts);
            }
            CommunityEvent::PopulationRevised(p) => {
                if let Some(c) = self.communities.get_mut(p.community_id.as_str()) {
                    c.set_population(p.as_of, p.population);
                }
            }
            CommunityEvent::ControlIndicatorSet(i) => {
                if let Some(c) = self.communities.get_mut(i.community_id.as_str()) {
                    c.indicators.insert(
                        i.year,
                        ControlIndicator {
                            total_deaths: i.total_deaths,
                            per_category: i.per_category.iter().map(|l| (l.category.clone(), l.deaths)).collect(),
                            set_on: i.set_on,
                            set_by: i.set_by.clone(),
                        },
                    );
                }
            }
            _ => {}
        }
    }
}
