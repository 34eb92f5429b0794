//! Identifiers: [`EntityId`], the host-chosen id of a community, hazard, incident, person …,
//! and [`StreamKind`], which names the stream an aggregate's events live in (`hazard-{id}` …).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A host-chosen identifier: 1–64 characters of `[A-Za-z0-9_.:-]`, so it can never carry a path
/// separator, whitespace or control character into a stream id or a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityId(String);

impl EntityId {
    pub const MAX_LEN: usize = 64;
    pub const PATTERN: &'static str = "^[A-Za-z0-9_.:-]{1,64}$";

    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(format!("id must be 1–{} characters, got {}", Self::MAX_LEN, s.chars().count()));
        }
        if let Some(bad) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))) {
            return Err(format!("id may hold only A-Z a-z 0-9 _ . : -, found {bad:?}"));
        }
        Ok(EntityId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EntityId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        EntityId::new(s)
    }
}

impl From<EntityId> for String {
    fn from(id: EntityId) -> String {
        id.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for EntityId {
    fn schema_name() -> Cow<'static, str> {
        "EntityId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": EntityId::MAX_LEN,
            "pattern": EntityId::PATTERN,
        })
    }
}

/// Stream kinds and their id prefixes (`hazard-{id}` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Access,
    Community,
    Enterprise,
    Hazard,
    Incident,
    Injury,
    Person,
    Project,
}

impl StreamKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            StreamKind::Access => "access",
            StreamKind::Community => "community",
            StreamKind::Enterprise => "enterprise",
            StreamKind::Hazard => "hazard",
            StreamKind::Incident => "incident",
            StreamKind::Injury => "injury",
            StreamKind::Person => "person",
            StreamKind::Project => "project",
        }
    }

    pub fn stream_id(self, id: &EntityId) -> String {
        format!("{}-{}", self.prefix(), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_id_accepts_the_allowed_alphabet() {
        assert!(EntityId::new("HZ-2025:001_a.b").is_ok());
        assert!(EntityId::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn entity_id_rejects_separators_controls_and_length() {
        for bad in ["", "a/b", "a\\b", "a b", "a\nb", "社区", "..\u{0}", &"x".repeat(65)] {
            assert!(EntityId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn entity_id_is_validated_when_deserialized() {
        assert!(serde_json::from_str::<EntityId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<EntityId>("\"../etc\"").is_err());
    }
}
