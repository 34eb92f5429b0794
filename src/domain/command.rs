//! Commands from outside: the command union ([`Command`], one variant per aggregate) and the
//! envelope that says who sent it and when ([`CommandEnvelope`]). Reading them from JSON is
//! `intake.rs`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::AccessCommand;
use super::community::CommunityCommand;
use super::enterprise::EnterpriseCommand;
use super::hazard::HazardCommand;
use super::incident::IncidentCommand;
use super::injury::InjuryCommand;
use super::person::PersonCommand;
use super::promotion::ProjectCommand;
use crate::events::EntityId;

/// Every command, grouped by aggregate. JSON form: the inner command with its `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    Access(AccessCommand),
    Community(CommunityCommand),
    Enterprise(EnterpriseCommand),
    Hazard(HazardCommand),
    Incident(IncidentCommand),
    Injury(InjuryCommand),
    Person(PersonCommand),
    Project(ProjectCommand),
}

impl Command {
    pub fn command_type(&self) -> &'static str {
        match self {
            Command::Access(c) => c.command_type(),
            Command::Community(c) => c.command_type(),
            Command::Enterprise(c) => c.command_type(),
            Command::Hazard(c) => c.command_type(),
            Command::Incident(c) => c.command_type(),
            Command::Injury(c) => c.command_type(),
            Command::Person(c) => c.command_type(),
            Command::Project(c) => c.command_type(),
        }
    }

    /// The stream the command is decided against and appended to, e.g. `hazard-H1`.
    pub fn target_stream(&self) -> String {
        match self {
            Command::Access(c) => c.target_stream(),
            Command::Community(c) => c.target_stream(),
            Command::Enterprise(c) => c.target_stream(),
            Command::Hazard(c) => c.target_stream(),
            Command::Incident(c) => c.target_stream(),
            Command::Injury(c) => c.target_stream(),
            Command::Person(c) => c.target_stream(),
            Command::Project(c) => c.target_stream(),
        }
    }

    /// Every command type name.
    pub fn all_types() -> Vec<&'static str> {
        [
            AccessCommand::TYPES,
            CommunityCommand::TYPES,
            EnterpriseCommand::TYPES,
            HazardCommand::TYPES,
            IncidentCommand::TYPES,
            InjuryCommand::TYPES,
            PersonCommand::TYPES,
            ProjectCommand::TYPES,
        ]
        .concat()
    }

    /// Body schemas of every command, without the `type` tag.
    pub(crate) fn body_schemas() -> Vec<(&'static str, schemars::Schema)> {
        [
            AccessCommand::body_schemas(),
            CommunityCommand::body_schemas(),
            EnterpriseCommand::body_schemas(),
            HazardCommand::body_schemas(),
            IncidentCommand::body_schemas(),
            InjuryCommand::body_schemas(),
            PersonCommand::body_schemas(),
            ProjectCommand::body_schemas(),
        ]
        .concat()
    }
}

macro_rules! impl_from {
    ($($v:ident($t:ty)),*) => { $(impl From<$t> for Command { fn from(c: $t) -> Self { Command::$v(c) } })* };
}
impl_from!(
    Access(AccessCommand),
    Community(CommunityCommand),
    Enterprise(EnterpriseCommand),
    Hazard(HazardCommand),
    Incident(IncidentCommand),
    Injury(InjuryCommand),
    Person(PersonCommand),
    Project(ProjectCommand)
);

fn uuid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "format": "uuid" })
}

fn opt_uuid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "null"], "format": "uuid" })
}

/// A command with who sent it and when. Not persisted (the store keeps its own metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandEnvelope {
    /// Unique per command; the engine uses it for idempotent retries.
    #[schemars(schema_with = "uuid_schema")]
    pub command_id: Uuid,
    pub actor: EntityId,
    /// When the command was issued (UTC); the domain's only notion of "now".
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub issued_at: DateTime<Utc>,
    #[schemars(schema_with = "opt_uuid_schema")]
    #[serde(default)]
    pub correlation_id: Option<Uuid>,
    #[schemars(schema_with = "opt_uuid_schema")]
    #[serde(default)]
    pub causation_id: Option<Uuid>,
    pub command: Command,
}

impl CommandEnvelope {
    pub fn target_stream(&self) -> String {
        self.command.target_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_types_are_unique() {
        let mut all = Command::all_types();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
