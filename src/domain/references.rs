//! References across streams: the communities and enterprises a command names outside its own
//! stream, and the check that each exists ([`check_references`]).
//!
//! Invariants:
//! - Pure: the domain does not read the store. The caller (the engine) passes `known`, which
//!   answers whether a stream of a kind holds an entity, counting streams created earlier in
//!   the same all-or-nothing batch.
//! - A missing reference is refused with `not_found` at the field's JSON pointer, the first in
//!   the command's field order.
//! - Only the streams a command creates or whose scope it fixes are checked (a hazard, an
//!   incident, an enterprise, an injury record, a project); later commands on those streams
//!   inherit what was checked when they were created.

use super::command::Command;
use super::enterprise::EnterpriseCommand;
use super::hazard::HazardCommand;
use super::incident::IncidentCommand;
use super::injury::InjuryCommand;
use super::promotion::ProjectCommand;
use super::{field, rule, Rejection};
use crate::events::{EntityId, StreamKind};

/// One entity a command names in another stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'c> {
    /// JSON pointer of the field (`/command/community_id`).
    pub field: String,
    pub kind: StreamKind,
    pub id: &'c EntityId,
}

/// The communities and enterprises `command` names, in field order.
pub fn references(command: &Command) -> Vec<Reference<'_>> {
    let community = |id| Reference { field: field("community_id"), kind: StreamKind::Community, id };
    let enterprise = |id| Reference { field: field("enterprise_id"), kind: StreamKind::Enterprise, id };
    let data_community = |id| Reference { field: field("data/community_id"), kind: StreamKind::Community, id };
    match command {
        Command::Hazard(HazardCommand::Report(c)) => {
            [Some(community(&c.community_id)), c.enterprise_id.as_ref().map(enterprise)].into_iter().flatten().collect()
        }
        Command::Incident(IncidentCommand::Report(c)) => {
            [Some(community(&c.community_id)), c.enterprise_id.as_ref().map(enterprise)].into_iter().flatten().collect()
        }
        Command::Enterprise(EnterpriseCommand::Register(c)) => vec![community(&c.community_id)],
        Command::Injury(InjuryCommand::Record(c)) => vec![data_community(&c.data.community_id)],
        Command::Injury(InjuryCommand::Correct(c)) => vec![data_community(&c.data.community_id)],
        Command::Project(ProjectCommand::Plan(c)) => vec![community(&c.community_id)],
        _ => Vec::new(),
    }
}

/// Refuses `command` if it names a community or enterprise `known` does not hold.
pub fn check_references(command: &Command, known: &dyn Fn(StreamKind, &EntityId) -> bool) -> Result<(), Rejection> {
    for r in references(command) {
        if !known(r.kind, r.id) {
            let what = match r.kind {
                StreamKind::Enterprise => "enterprise",
                _ => "community",
            };
            return Err(Rejection::new(
                r.field,
                rule::NOT_FOUND,
                format!(
                    "no {what} {} is registered (register it first, or in the same batch before this command)",
                    r.id
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{at, id};
    use crate::events::hazard::HazardSource;

    fn hazard(enterprise: Option<&str>) -> Command {
        Command::Hazard(HazardCommand::Report(crate::domain::hazard::ReportHazard {
            hazard_id: id("H1"),
            source: HazardSource::GridInspection,
            reporter: "网格员".into(),
            reporter_person_id: None,
            community_id: id("c1"),
            grid_id: None,
            enterprise_id: enterprise.map(id),
            category: "fire".into(),
            location: "l".into(),
            description: "d".into(),
            found_at: at("2025-03-01T00:00:00Z"),
        }))
    }

    #[test]
    fn a_missing_community_or_enterprise_is_named_by_its_field() {
        let only_c1 = |k: StreamKind, i: &EntityId| k == StreamKind::Community && i.as_str() == "c1";
        assert!(check_references(&hazard(None), &only_c1).is_ok());
        let r = check_references(&hazard(Some("e9")), &only_c1).unwrap_err();
        assert_eq!((r.field.as_str(), r.rule.as_str()), ("/command/enterprise_id", rule::NOT_FOUND));
        let r = check_references(&hazard(Some("e9")), &|_, _| false).unwrap_err();
        assert_eq!(r.field, "/command/community_id", "the first missing field in order");
    }
}
