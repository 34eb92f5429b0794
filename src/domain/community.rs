//! Communities (社区): registration, dated population, grids (网格) and their responsible
//! persons, the safe-community milestones (启动创建 → 现场评定 → 命名 → 复评 every 5 years) and the
//! yearly control indicator (控制指标) for deaths.
//!
//! Invariants enforced by `decide`:
//! - Population and indicators are dated events, so statistics replay to the published figure.
//! - Milestones run in order: assessment after the creation started, naming after a passing
//!   assessment, re-assessment only of a named community; the re-assessment due date is the
//!   naming (or last passed re-assessment) date plus `Settings::reassessment_years`.
//! - Grid ids are unique in a community; a responsible person is assigned to an existing grid.
//! - An indicator's per-category figures use catalog codes, once each, none above the total.
//! - A grid's responsible person (网格员) and the on-site assessor are [`PersonalField`]s, sealed
//!   by the engine before `decide` and checked here with the same text rules when plain. The
//!   naming body (`named_by`) and the body that sets an indicator (`set_by`) are organisations
//!   and stay plain text.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::person::{check_personal, check_same_person};
use super::{rule, text, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::community::*;
use crate::events::person::{PersonalField, PersonalKind};
use crate::events::time::plus_years;
use crate::events::{EntityId, StreamKind};

/// Largest population accepted for one community.
pub const MAX_POPULATION: u32 = 50_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCommunity {
    pub community_id: EntityId,
    pub name: String,
    pub kind: CommunityKind,
    pub district: String,
    pub population: u32,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub population_as_of: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevisePopulation {
    pub community_id: EntityId,
    pub population: u32,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGrid {
    pub community_id: EntityId,
    pub grid_id: EntityId,
    pub name: String,
    /// Name of the grid's responsible person (网格员 / 网格长). PIPL personal information: sealed
    /// before it is stored.
    pub responsible_person: PersonalField,
    /// A stable id for that person, chosen by the host, so that one person responsible for
    /// several grids (or reassigned) has one key and one erasure. When absent the mention gets
    /// its own id.
    pub responsible_person_id: Option<EntityId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignGridResponsible {
    pub community_id: EntityId,
    pub grid_id: EntityId,
    /// Name of the new responsible person (sealed before it is stored, as in [`AddGrid`]).
    pub responsible_person: PersonalField,
    /// A stable id for that person, chosen by the host (see [`AddGrid`]).
    pub responsible_person_id: Option<EntityId>,
}

/// 启动创建
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCreation {
    pub community_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub started_on: NaiveDate,
}

/// 现场评定
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordAssessment {
    pub community_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub assessed_on: NaiveDate,
    /// Who assessed: an assessment group (评定组) or a single assessor. It may name a person, so
    /// it is personal information (PIPL): sealed before it is stored.
    pub assessor: PersonalField,
    /// A stable id for the assessor, chosen by the host. When absent the mention gets its own id.
    pub assessor_person_id: Option<EntityId>,
    pub passed: bool,
}

/// 命名为全国安全社区
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameSafeCommunity {
    pub community_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub named_on: NaiveDate,
    /// The body that names the community (e.g. 国务院安委会办公室): an organisation, not personal
    /// data, stored as plain text. Put no person's name here.
    pub named_by: String,
}

/// 复评
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordReassessment {
    pub community_id: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub reassessed_on: NaiveDate,
    pub passed: bool,
}

/// 控制指标: yearly death indicator, total and per category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetControlIndicator {
    pub community_id: EntityId,
    /// Statistics year (China Standard Time).
    pub year: i32,
    pub total_deaths: u32,
    pub per_category: Vec<CategoryLimit>,
    #[serde(deserialize_with = "crate::events::wire_time::date")]
    pub set_on: NaiveDate,
    /// The body that set the indicator (e.g. 区安全生产委员会): an organisation, not personal
    /// data, stored as plain text. Put no person's name here.
    pub set_by: String,
}

/// Economic denominators of a statistics year (统计年鉴): GDP and the industrial, mining and
/// commercial workforce (工矿商贸从业人员), for deaths per 100 million yuan of GDP and per 100k
/// workers. A later record for the same year replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEconomy {
    pub community_id: EntityId,
    /// Statistics year (China Standard Time).
    pub year: i32,
    /// GDP in units of 10,000 yuan (万元), as statistical yearbooks publish it.
    pub gdp_10k_yuan: u64,
    /// Industrial, mining and commercial workers (工矿商贸从业人员).
    pub workers: u32,
    /// Where the figures come from (e.g. 区统计年鉴 2025).
    pub source: String,
}

command_enum!(
    /// Commands addressed to a community stream.
    CommunityCommand, community_id, StreamKind::Community, {
    Register(RegisterCommunity) = "community.register",
    RevisePopulation(RevisePopulation) = "community.revise_population",
    AddGrid(AddGrid) = "community.add_grid",
    AssignGridResponsible(AssignGridResponsible) = "community.assign_grid_responsible",
    StartCreation(StartCreation) = "community.start_creation",
    RecordAssessment(RecordAssessment) = "community.record_assessment",
    Name(NameSafeCommunity) = "community.name_safe_community",
    RecordReassessment(RecordReassessment) = "community.record_reassessment",
    SetControlIndicator(SetControlIndicator) = "community.set_control_indicator",
    RecordEconomy(RecordEconomy) = "community.record_economy",
});

/// Safe-community programme stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Programme {
    #[default]
    NotStarted,
    Creating,
    AssessedPassed,
    Named,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommunityState {
    pub id: Option<EntityId>,
    pub population: u32,
    pub grids: Vec<EntityId>,
    pub programme: Programme,
    pub reassessment_due: Option<NaiveDate>,
}

/// The community aggregate.
#[derive(Debug)]
pub struct Community;

fn population(name: &str, n: u32) -> Result<(), Rejection> {
    if n > MAX_POPULATION {
        return Err(Rejection::at(name, rule::OUT_OF_RANGE, format!("{name} = {n} exceeds {MAX_POPULATION}")));
    }
    Ok(())
}

/// A grid's responsible person: a valid name (plain) or a well-formed sealed value of the person
/// the command names, if it names one.
fn responsible_person(value: &PersonalField, person_id: Option<&EntityId>) -> Result<(), Rejection> {
    check_personal("responsible_person", value, PersonalKind::Name)?;
    check_same_person("responsible_person", person_id, &[Some(value)])
}

fn stage(ok: bool, name: &str, msg: &str) -> Result<(), Rejection> {
    if ok {
        Ok(())
    } else {
        Err(Rejection::at(name, rule::INVALID_STATE, msg))
    }
}

impl Aggregate for Community {
    type State = CommunityState;
    type Command = CommunityCommand;
    type Event = CommunityEvent;

    fn decide(
        s: &CommunityState,
        cmd: &CommunityCommand,
        ctx: &DecisionContext<'_>,
    ) -> Result<Vec<CommunityEvent>, Rejection> {
        super::same_id("community_id", &s.id, cmd.target_id())?;
        let community_id = cmd.target_id().clone();
        match (s.id.is_some(), cmd) {
            (true, CommunityCommand::Register(_)) => {
                return Err(Rejection::at(
                    "community_id",
                    rule::ALREADY_EXISTS,
                    format!("community {community_id} is already registered"),
                ))
            }
            (false, CommunityCommand::Register(_)) | (true, _) => {}
            (false, _) => {
                return Err(Rejection::at(
                    "community_id",
                    rule::NOT_FOUND,
                    format!("community {community_id} is not registered"),
                ))
            }
        }
        let (recorded_by, recorded_at) = (ctx.actor.clone(), ctx.issued_at);
        let ev = match cmd {
            CommunityCommand::Register(c) => {
                text("name", &c.name, MAX_NAME)?;
                text("district", &c.district, MAX_NAME)?;
                population("population", c.population)?;
                CommunityEvent::Registered(CommunityRegistered {
                    community_id,
                    recorded_by,
                    recorded_at,
                    name: c.name.clone(),
                    kind: c.kind,
                    district: c.district.clone(),
                    population: c.population,
                    population_as_of: c.population_as_of,
                })
            }
            CommunityCommand::RevisePopulation(c) => {
                population("population", c.population)?;
                CommunityEvent::PopulationRevised(PopulationRevised {
                    community_id,
                    recorded_by,
                    recorded_at,
                    population: c.population,
                    as_of: c.as_of,
                })
            }
            CommunityCommand::AddGrid(c) => {
                if s.grids.contains(&c.grid_id) {
                    return Err(Rejection::at(
                        "grid_id",
                        rule::DUPLICATE,
                        format!("grid {} already exists", c.grid_id),
                    ));
                }
                text("name", &c.name, MAX_NAME)?;
                responsible_person(&c.responsible_person, c.responsible_person_id.as_ref())?;
                CommunityEvent::GridAdded(GridAdded {
                    community_id,
                    recorded_by,
                    recorded_at,
                    grid_id: c.grid_id.clone(),
                    name: c.name.clone(),
                    responsible_person: c.responsible_person.clone(),
                })
            }
            CommunityCommand::AssignGridResponsible(c) => {
                if !s.grids.contains(&c.grid_id) {
                    return Err(Rejection::at(
                        "grid_id",
                        rule::NOT_FOUND,
                        format!("grid {} does not exist", c.grid_id),
                    ));
                }
                responsible_person(&c.responsible_person, c.responsible_person_id.as_ref())?;
                CommunityEvent::GridResponsibleAssigned(GridResponsibleAssigned {
                    community_id,
                    recorded_by,
                    recorded_at,
                    grid_id: c.grid_id.clone(),
                    responsible_person: c.responsible_person.clone(),
                })
            }
            CommunityCommand::StartCreation(c) => {
                stage(
                    s.programme == Programme::NotStarted,
                    "started_on",
                    "the creation programme is already under way or done",
                )?;
                super::not_future_date("started_on", c.started_on, ctx)?;
                CommunityEvent::CreationStarted(CreationStarted {
                    community_id,
                    recorded_by,
                    recorded_at,
                    started_on: c.started_on,
                })
            }
            CommunityCommand::RecordAssessment(c) => {
                stage(s.programme == Programme::Creating, "assessed_on", "assessment follows the start of creation")?;
                check_personal("assessor", &c.assessor, PersonalKind::Name)?;
                check_same_person("assessor", c.assessor_person_id.as_ref(), &[Some(&c.assessor)])?;
                super::not_future_date("assessed_on", c.assessed_on, ctx)?;
                CommunityEvent::Assessed(CommunityAssessed {
                    community_id,
                    recorded_by,
                    recorded_at,
                    assessed_on: c.assessed_on,
                    assessor: c.assessor.clone(),
                    passed: c.passed,
                })
            }
            CommunityCommand::Name(c) => {
                stage(
                    s.programme == Programme::AssessedPassed,
                    "named_on",
                    "naming follows a passing on-site assessment",
                )?;
                text("named_by", &c.named_by, MAX_NAME)?;
                super::not_future_date("named_on", c.named_on, ctx)?;
                let due = plus_years(c.named_on, ctx.settings.reassessment_years)
                    .ok_or_else(|| Rejection::at("named_on", rule::OUT_OF_RANGE, "date out of range"))?;
                CommunityEvent::Named(SafeCommunityNamed {
                    community_id,
                    recorded_by,
                    recorded_at,
                    named_on: c.named_on,
                    named_by: c.named_by.clone(),
                    reassessment_due: due,
                })
            }
            CommunityCommand::RecordReassessment(c) => {
                stage(s.programme == Programme::Named, "reassessed_on", "only a named safe community is re-assessed")?;
                super::not_future_date("reassessed_on", c.reassessed_on, ctx)?;
                let next_due = if c.passed {
                    Some(
                        plus_years(c.reassessed_on, ctx.settings.reassessment_years)
                            .ok_or_else(|| Rejection::at("reassessed_on", rule::OUT_OF_RANGE, "date out of range"))?,
                    )
                } else {
                    None
                };
                CommunityEvent::Reassessed(CommunityReassessed {
                    community_id,
                    recorded_by,
                    recorded_at,
                    reassessed_on: c.reassessed_on,
                    passed: c.passed,
                    next_due,
                })
            }
            CommunityCommand::SetControlIndicator(c) => {
                if !(2000..=2100).contains(&c.year) {
                    return Err(Rejection::at(
                        "year",
                        rule::OUT_OF_RANGE,
                        format!("year {} outside 2000–2100", c.year),
                    ));
                }
                super::people("total_deaths", c.total_deaths, ctx.settings)?;
                text("set_by", &c.set_by, MAX_NAME)?;
                let mut seen = Vec::new();
                for (i, l) in c.per_category.iter().enumerate() {
                    let f = format!("per_category/{i}/category");
                    ctx.catalog.category(&f, &l.category)?;
                    if seen.contains(&&l.category) {
                        return Err(Rejection::at(&f, rule::DUPLICATE, format!("category {} given twice", l.category)));
                    }
                    seen.push(&l.category);
                    if l.deaths > c.total_deaths {
                        return Err(Rejection::at(
                            &format!("per_category/{i}/deaths"),
                            rule::OUT_OF_RANGE,
                            "a category's indicator exceeds the total",
                        ));
                    }
                }
                CommunityEvent::ControlIndicatorSet(ControlIndicatorSet {
                    community_id,
                    recorded_by,
                    recorded_at,
                    year: c.year,
                    total_deaths: c.total_deaths,
                    per_category: c.per_category.clone(),
                    set_on: c.set_on,
                    set_by: c.set_by.clone(),
                })
            }
            CommunityCommand::RecordEconomy(c) => {
                if !(2000..=2100).contains(&c.year) {
                    return Err(Rejection::at(
                        "year",
                        rule::OUT_OF_RANGE,
                        format!("year {} outside 2000–2100", c.year),
                    ));
                }
                // A district's GDP is far below 10^12 万元 (10^16 yuan); anything above is a unit slip.
                if c.gdp_10k_yuan == 0 || c.gdp_10k_yuan > 1_000_000_000_000 {
                    return Err(Rejection::at(
                        "gdp_10k_yuan",
                        rule::OUT_OF_RANGE,
                        format!("GDP {} (万元) must be positive and below 10^12", c.gdp_10k_yuan),
                    ));
                }
                population("workers", c.workers)?;
                text("source", &c.source, MAX_TEXT)?;
                CommunityEvent::EconomyRecorded(EconomyRecorded {
                    community_id,
                    recorded_by,
                    recorded_at,
                    year: c.year,
                    gdp_10k_yuan: c.gdp_10k_yuan,
                    workers: c.workers,
                    source: c.source.clone(),
                })
            }
        };
        Ok(vec![ev])
    }

    fn evolve(mut s: CommunityState, e: &CommunityEvent) -> CommunityState {
        match e {
            CommunityEvent::Registered(e) => {
                s.id = Some(e.community_id.clone());
                s.population = e.population;
            }
            CommunityEvent::PopulationRevised(e) => s.population = e.population,
            CommunityEvent::GridAdded(e) => s.grids.push(e.grid_id.clone()),
            CommunityEvent::GridResponsibleAssigned(_)
            | CommunityEvent::ControlIndicatorSet(_)
            | CommunityEvent::EconomyRecorded(_) => {}
            CommunityEvent::CreationStarted(_) => s.programme = Programme::Creating,
            CommunityEvent::Assessed(e) => {
                if e.passed {
                    s.programme = Programme::AssessedPassed;
                }
            }
            CommunityEvent::Named(e) => {
                s.programme = Programme::Named;
                s.reassessment_due = Some(e.reassessment_due);
            }
            CommunityEvent::Reassessed(e) => {
                s.reassessment_due = e.next_due;
                if !e.passed {
                    s.programme = Programme::NotStarted;
                }
            }
        }
        s
    }
}
