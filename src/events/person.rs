//! Personal fields as the log stores them (PIPL): a name or ID number is a [`PersonalField`],
//! plain as a host sends it or a [`SealedValue`] (person id, nonce, ciphertext) as the engine's
//! privacy layer stores it; and the `person-{id}` stream's [`PersonErased`], the audit record of
//! an erasure. Which command fields are personal, and the checks on plain values, are the
//! domain's (`crate::domain::person`).
//!
//! Invariants:
//! - `PersonalField` is bincode-encoded as a two-variant enum (`Plain` = 0, `Sealed` = 1): never
//!   reorder them. Its JSON form is a string (plain) or an object with `"sealed"` (sealed), so
//!   command JSON written before sealing existed (a plain `"person": "张某"`) stays valid.
//! - Nothing here opens a sealed value: no keys, no I/O.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::id::{EntityId, StreamKind};

/// The AEAD's name in the JSON form of a sealed value.
pub const SEALED_ALGORITHM: &str = "xchacha20poly1305";
/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length.
pub const TAG_LEN: usize = 16;

/// What a personal field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonalKind {
    /// 姓名
    Name,
    /// 身份证号 or another identity document number
    IdNumber,
}

impl PersonalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonalKind::Name => "name",
            PersonalKind::IdNumber => "id_number",
        }
    }
}

/// A personal field encrypted under its person's key (kept in the vault, not in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedValue {
    pub person_id: EntityId,
    pub kind: PersonalKind,
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// A name or ID number: plain as a host sends it, sealed as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonalField {
    Plain(String),
    /// Boxed: keeps commands and events that carry personal fields small.
    Sealed(Box<SealedValue>),
}

impl PersonalField {
    pub fn sealed(&self) -> Option<&SealedValue> {
        match self {
            PersonalField::Sealed(s) => Some(s),
            PersonalField::Plain(_) => None,
        }
    }

    /// The person a sealed value belongs to.
    pub fn person_id(&self) -> Option<&EntityId> {
        self.sealed().map(|s| &s.person_id)
    }

    /// A plain value that is empty or only whitespace. A sealed value is never blank: its
    /// plaintext was checked (non-empty) before it was sealed. Rules that count a blank field as
    /// missing (五到位) use this, so they judge sealed and plain values alike.
    pub fn is_blank(&self) -> bool {
        match self {
            PersonalField::Plain(s) => s.trim().is_empty(),
            PersonalField::Sealed(_) => false,
        }
    }
}

impl From<&str> for PersonalField {
    fn from(s: &str) -> Self {
        PersonalField::Plain(s.to_string())
    }
}

impl From<String> for PersonalField {
    fn from(s: String) -> Self {
        PersonalField::Plain(s)
    }
}

/// Shows a plain value as is and a sealed one by its person id only (never the ciphertext), so
/// read models built from events carry no personal data.
impl fmt::Display for PersonalField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersonalField::Plain(s) => f.write_str(s),
            PersonalField::Sealed(s) => write!(f, "[person {}]", s.person_id),
        }
    }
}

// bincode form: a plain derived enum. JSON form: a string or a marked object.
#[derive(Serialize, Deserialize)]
#[serde(rename = "PersonalField")]
enum BinaryForm {
    Plain(String),
    Sealed(SealedValue),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedJson {
    sealed: String,
    person_id: EntityId,
    kind: PersonalKind,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonForm {
    Plain(String),
    Sealed(SealedJson),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

impl Serialize for PersonalField {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            match self {
                PersonalField::Plain(s) => JsonForm::Plain(s.clone()),
                PersonalField::Sealed(s) => JsonForm::Sealed(SealedJson {
                    sealed: SEALED_ALGORITHM.to_string(),
                    person_id: s.person_id.clone(),
                    kind: s.kind,
                    nonce: hex(&s.nonce),
                    ciphertext: hex(&s.ciphertext),
                }),
            }
            .serialize(serializer)
        } else {
            match self {
                PersonalField::Plain(s) => BinaryForm::Plain(s.clone()),
                PersonalField::Sealed(s) => BinaryForm::Sealed(SealedValue::clone(s)),
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for PersonalField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            match JsonForm::deserialize(deserializer)? {
                JsonForm::Plain(s) => Ok(PersonalField::Plain(s)),
                JsonForm::Sealed(j) => {
                    if j.sealed != SEALED_ALGORITHM {
                        return Err(serde::de::Error::custom(format!("unknown sealing algorithm {:?}", j.sealed)));
                    }
                    let nonce = unhex(&j.nonce).ok_or_else(|| serde::de::Error::custom("nonce is not hex"))?;
                    let ciphertext =
                        unhex(&j.ciphertext).ok_or_else(|| serde::de::Error::custom("ciphertext is not hex"))?;
                    Ok(PersonalField::Sealed(Box::new(SealedValue {
                        person_id: j.person_id,
                        kind: j.kind,
                        nonce,
                        ciphertext,
                    })))
                }
            }
        } else {
            Ok(match BinaryForm::deserialize(deserializer)? {
                BinaryForm::Plain(s) => PersonalField::Plain(s),
                BinaryForm::Sealed(s) => PersonalField::Sealed(Box::new(s)),
            })
        }
    }
}

impl JsonSchema for PersonalField {
    fn schema_name() -> Cow<'static, str> {
        "PersonalField".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A name or ID number (PIPL personal information). Hosts send a plain string; the engine seals it, and events hold the sealed object.",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "sealed": { "const": SEALED_ALGORITHM },
                        "person_id": { "type": "string", "minLength": 1, "maxLength": EntityId::MAX_LEN, "pattern": EntityId::PATTERN },
                        "kind": { "enum": ["name", "id_number"] },
                        "nonce": { "type": "string", "pattern": "^[0-9a-f]*$" },
                        "ciphertext": { "type": "string", "pattern": "^[0-9a-f]*$" }
                    },
                    "required": ["sealed", "person_id", "kind", "nonce", "ciphertext"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// The audit record of an erasure: who, when, why. The erasure modified no event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonErased {
    pub person_id: EntityId,
    pub erased_by: EntityId,
    #[serde(deserialize_with = "crate::events::wire_time::utc")]
    pub erased_at: DateTime<Utc>,
    pub reason: String,
}

event_enum!(
    /// Events of a person stream (`person-{id}`).
    PersonEvent, person_id, StreamKind::Person, {
    Erased(PersonErased) = "person.erased" v 1,
});

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A well-formed sealed name (the domain's tests check shapes with it too).
    pub(crate) fn sealed() -> PersonalField {
        PersonalField::Sealed(Box::new(SealedValue {
            person_id: EntityId::new("p-1").unwrap(),
            kind: PersonalKind::Name,
            nonce: vec![7; NONCE_LEN],
            ciphertext: vec![9; 20],
        }))
    }

    #[test]
    fn plain_json_is_a_string_and_sealed_json_is_marked() {
        assert_eq!(serde_json::to_string(&PersonalField::from("张某")).unwrap(), "\"张某\"");
        let j = serde_json::to_value(sealed()).unwrap();
        assert_eq!(j["sealed"], SEALED_ALGORITHM);
        assert_eq!(serde_json::from_value::<PersonalField>(j).unwrap(), sealed());
        assert_eq!(serde_json::from_str::<PersonalField>("\"x\"").unwrap(), PersonalField::from("x"));
    }

    #[test]
    fn bincode_round_trips_both_variants() {
        for v in [PersonalField::from("李四"), sealed()] {
            let bytes = crate::codec::encode(&v).unwrap();
            assert_eq!(crate::codec::decode::<PersonalField>(&bytes).unwrap(), v);
        }
    }
}
