//! Injury records (伤害监测) for safe-community surveillance: the WHO Injury Surveillance
//! Guidelines core minimum data set (age, sex, intent, mechanism, place, activity, nature, body
//! part, severity, outcome) plus community, vulnerable groups and an optional incident link.
//!
//! Invariants enforced by `decide`:
//! - Coded fields (mechanism, place, activity, nature, body part, groups, category) use catalog
//!   codes; intent, sex, severity and outcome are closed WHO / GB 6441 lists, so enums.
//! - A record is written once; `injury.correct` replaces it as a whole with a reason, so the
//!   original stays in the log.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::CodeLookup;
use super::person::{check_opt_personal, check_same_person};
use super::{rule, text, Aggregate, DecisionContext, Rejection, MAX_TEXT};
use crate::events::injury::*;
use crate::events::person::PersonalKind;
use crate::events::{EntityId, StreamKind};

/// Oldest age accepted, in years.
pub const MAX_AGE: u16 = 130;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInjury {
    pub injury_id: EntityId,
    pub data: InjuryData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectInjury {
    pub injury_id: EntityId,
    pub data: InjuryData,
    pub reason: String,
}

command_enum!(
    /// Commands addressed to an injury record stream.
    InjuryCommand, injury_id, StreamKind::Injury, {
    Record(RecordInjury) = "injury.record",
    Correct(CorrectInjury) = "injury.correct",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InjuryState {
    pub id: Option<EntityId>,
    pub data: Option<InjuryData>,
}

/// The injury-record aggregate.
#[derive(Debug)]
pub struct Injury;

fn check(d: &InjuryData, ctx: &DecisionContext<'_>) -> Result<(), Rejection> {
    super::not_future("data/occurred_at", d.occurred_at, ctx)?;
    if let Some(age) = d.age {
        if age > MAX_AGE {
            return Err(Rejection::at("data/age", rule::OUT_OF_RANGE, format!("age {age} exceeds {MAX_AGE}")));
        }
    }
    let c = ctx.catalog;
    c.injury_mechanism("data/mechanism", &d.mechanism)?;
    c.injury_place("data/place", &d.place)?;
    c.injury_activity("data/activity", &d.activity)?;
    c.injury_nature("data/nature", &d.nature)?;
    c.body_part("data/body_part", &d.body_part)?;
    c.category("data/category", &d.category)?;
    for (i, g) in d.vulnerable_groups.iter().enumerate() {
        c.group(&format!("data/vulnerable_groups/{i}"), g)?;
    }
    if d.vulnerable_groups.len() > 16 {
        return Err(Rejection::at("data/vulnerable_groups", rule::TOO_LONG, "at most 16 groups"));
    }
    if (d.severity == Severity::Death) != (d.outcome == Outcome::Died) {
        return Err(Rejection::at("data/outcome", rule::MALFORMED, "severity death and outcome died go together"));
    }
    super::opt_text("data/note", &d.note, MAX_TEXT)?;
    check_opt_personal("data/name", &d.name, PersonalKind::Name)?;
    check_opt_personal("data/id_number", &d.id_number, PersonalKind::IdNumber)?;
    check_same_person("data/name", d.person_id.as_ref(), &[d.name.as_ref(), d.id_number.as_ref()])
}

impl Aggregate for Injury {
    type State = InjuryState;
    type Command = InjuryCommand;
    type Event = InjuryEvent;

    fn decide(s: &InjuryState, cmd: &InjuryCommand, ctx: &DecisionContext<'_>) -> Result<Vec<InjuryEvent>, Rejection> {
        super::same_id("injury_id", &s.id, cmd.target_id())?;
        let (injury_id, recorded_by, recorded_at) = (cmd.target_id().clone(), ctx.actor.clone(), ctx.issued_at);
        Ok(vec![match cmd {
            InjuryCommand::Record(c) => {
                if s.id.is_some() {
                    return Err(Rejection::at(
                        "injury_id",
                        rule::ALREADY_EXISTS,
                        format!("injury record {injury_id} exists"),
                    ));
                }
                check(&c.data, ctx)?;
                InjuryEvent::Recorded(InjuryRecorded { injury_id, recorded_by, recorded_at, data: c.data.clone() })
            }
            InjuryCommand::Correct(c) => {
                if s.id.is_none() {
                    return Err(Rejection::at(
                        "injury_id",
                        rule::NOT_FOUND,
                        format!("injury record {injury_id} does not exist"),
                    ));
                }
                check(&c.data, ctx)?;
                text("reason", &c.reason, MAX_TEXT)?;
                InjuryEvent::Corrected(InjuryCorrected {
                    injury_id,
                    recorded_by,
                    recorded_at,
                    data: c.data.clone(),
                    reason: c.reason.clone(),
                })
            }
        }])
    }

    fn evolve(mut s: InjuryState, e: &InjuryEvent) -> InjuryState {
        match e {
            InjuryEvent::Recorded(e) => {
                s.id = Some(e.injury_id.clone());
                s.data = Some(e.data.clone());
            }
            InjuryEvent::Corrected(e) => s.data = Some(e.data.clone()),
        }
        s
    }
}
