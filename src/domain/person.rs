//! Personal information (个人信息, PIPL) as the domain sees it, and the person stream that records
//! an erasure.
//!
//! Every command field that names a natural person (自然人) is a [`PersonalField`]. A host sends
//! them as plain strings; the engine's privacy layer (`crate::engine::privacy`, which does the I/O and
//! holds the keys) replaces each with a [`SealedValue`](crate::events::person::SealedValue) — person id, nonce, ciphertext — before
//! the domain decides, so the events it appends hold only sealed values. The domain never opens a
//! sealed value: it checks its shape and passes it through.
//!
//! The personal fields (a field that may hold a person's or an organisation's name counts as
//! personal):
//! - `hazard.report` `reporter` (群众举报: often a resident) and `hazard.order_rectification`
//!   `responsible` (责任: a person or a unit);
//! - `community.add_grid` / `community.assign_grid_responsible` `responsible_person` (网格员) and
//!   `community.record_assessment` `assessor` (an assessment group or a single assessor);
//! - `incident.deal_with_responsible` `person` and `id_number` (身份证号);
//! - `injury.record` / `injury.correct` `data/name` and `data/id_number`.
//!
//! Each may come with an optional host-chosen person id (`person_id`, `data/person_id`,
//! `reporter_person_id`, `responsible_person_id`, `assessor_person_id`) so that mentions of one
//! person share one key and one erasure. Fields that by the regulations name an organ or
//! organisation stay plain text: `hazard.list_for_supervision` `listed_by` (挂牌督办 is done by a
//! government or its safety committee), `community.name_safe_community` `named_by`,
//! `community.set_control_indicator` `set_by`, `enterprise.take_enforcement_action` `decided_by`
//! (an administrative organ decides), `incident.open_investigation` `authority` (the government or
//! its investigation team) and `incident.close` `signed_off_by` (批复 by the people's government,
//! Decree 493 art. 32). Free text (descriptions, summaries, remarks, evidence references) cannot
//! be sealed and may still mention people.
//!
//! Invariants:
//! - Pure: no keys, no I/O, no RNG here. Plain values are validated with the same rules the privacy
//!   layer applies before sealing ([`check_personal`]), so a domain test sending plain names sees
//!   the same rejections a host does.
//! - `PersonalField` and its bincode and JSON forms are vocabulary (`crate::events::person`), so
//!   projections can read events without the domain.
//! - Plain values reach the log only from events written before sealing covered their field
//!   (upcast from the older schema version as `Plain`) or from code that bypasses the engine; the
//!   engine refuses to store plain personal fields.
//! - `person.erased` (stream `person-{id}`) is the audit record of an erasure: who, when, why.
//!   The erasure itself (destroying the key) modifies no event.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{rule, text, Aggregate, DecisionContext, Rejection, MAX_NAME, MAX_TEXT};
use crate::events::person::{PersonErased, PersonEvent, PersonalField, PersonalKind, NONCE_LEN, TAG_LEN};
use crate::events::{EntityId, StreamKind};

/// Longest ID number accepted (characters).
pub const MAX_ID_NUMBER: usize = 32;
/// Longest ciphertext a sealed value may carry: a name of [`MAX_NAME`] characters of up to 4
/// bytes each, plus the tag.
pub const MAX_CIPHERTEXT: usize = MAX_NAME * 4 + TAG_LEN;

/// Checks a plain ID number: 1–32 characters of `[0-9A-Za-z-]`; an 18-character 居民身份证号
/// (17 digits and a digit or X) must carry a valid GB 11643 check character.
pub fn check_id_number(name: &str, value: &str) -> Result<(), Rejection> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Rejection::at(name, rule::REQUIRED, format!("{name} must not be empty")));
    }
    let n = v.chars().count();
    if n > MAX_ID_NUMBER {
        return Err(Rejection::at(name, rule::TOO_LONG, format!("{name} has {n} characters, at most {MAX_ID_NUMBER}")));
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Rejection::at(name, rule::MALFORMED, format!("{name} may hold only 0-9, A-Z and -")));
    }
    let b = v.as_bytes();
    if b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
        let expected = CHECK[(sum % 11) as usize];
        if b[17].to_ascii_uppercase() != expected {
            return Err(Rejection::at(
                name,
                rule::MALFORMED,
                format!("{name} is not a valid resident ID number: its check character should be {}", expected as char),
            ));
        }
    }
    Ok(())
}

/// Checks a personal field: a plain value against the text rules of its kind, a sealed one for
/// its shape (kind, nonce length, ciphertext bounds). `name` is the field's path under `/command`.
pub fn check_personal(name: &str, value: &PersonalField, kind: PersonalKind) -> Result<(), Rejection> {
    match value {
        PersonalField::Plain(s) => match kind {
            PersonalKind::Name => text(name, s, MAX_NAME),
            PersonalKind::IdNumber => check_id_number(name, s),
        },
        PersonalField::Sealed(s) => {
            if s.kind != kind {
                return Err(Rejection::at(
                    name,
                    rule::MALFORMED,
                    format!("{name} holds a sealed {} where a {} belongs", s.kind.as_str(), kind.as_str()),
                ));
            }
            if s.nonce.len() != NONCE_LEN || s.ciphertext.len() < TAG_LEN || s.ciphertext.len() > MAX_CIPHERTEXT {
                return Err(Rejection::at(name, rule::MALFORMED, format!("{name} is not a well-formed sealed value")));
            }
            Ok(())
        }
    }
}

/// Optional personal field.
pub fn check_opt_personal(name: &str, value: &Option<PersonalField>, kind: PersonalKind) -> Result<(), Rejection> {
    value.as_ref().map_or(Ok(()), |v| check_personal(name, v, kind))
}

/// Sealed values of one record must all belong to the person the record names (if it names one).
pub fn check_same_person(
    name: &str,
    person_id: Option<&EntityId>,
    fields: &[Option<&PersonalField>],
) -> Result<(), Rejection> {
    let mut seen = person_id;
    for f in fields.iter().flatten() {
        if let Some(p) = f.person_id() {
            match seen {
                Some(q) if q != p => {
                    return Err(Rejection::at(
                        name,
                        rule::MALFORMED,
                        format!("personal fields of one record belong to different persons ({q}, {p})"),
                    ))
                }
                _ => seen = Some(p),
            }
        }
    }
    Ok(())
}

// ---- the person stream: erasure audit ------------------------------------------------------

/// Erases a person's personal information (crypto-shredding: their key is destroyed, so every
/// sealed value of theirs in the log can no longer be opened). Sent by `privacy::erase_person`,
/// which checks the vault first and destroys the key once this is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasePerson {
    pub person_id: EntityId,
    /// Why (the data subject's request under PIPL art. 47, retention period over, …).
    pub reason: String,
}

command_enum!(
    /// Commands addressed to a person stream.
    PersonCommand, person_id, StreamKind::Person, {
    Erase(ErasePerson) = "person.erase",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonState {
    pub erased: Option<PersonErased>,
}

/// The person aggregate: at most one erasure.
#[derive(Debug)]
pub struct Person;

impl Aggregate for Person {
    type State = PersonState;
    type Command = PersonCommand;
    type Event = PersonEvent;

    fn decide(s: &PersonState, cmd: &PersonCommand, ctx: &DecisionContext<'_>) -> Result<Vec<PersonEvent>, Rejection> {
        match cmd {
            PersonCommand::Erase(c) => {
                if let Some(e) = &s.erased {
                    return Err(Rejection::at(
                        "person_id",
                        rule::ALREADY_EXISTS,
                        format!("person {} was already erased at {}", c.person_id, e.erased_at),
                    ));
                }
                text("reason", &c.reason, MAX_TEXT)?;
                Ok(vec![PersonEvent::Erased(PersonErased {
                    person_id: c.person_id.clone(),
                    erased_by: ctx.actor.clone(),
                    erased_at: ctx.issued_at,
                    reason: c.reason.clone(),
                })])
            }
        }
    }

    fn evolve(mut s: PersonState, e: &PersonEvent) -> PersonState {
        match e {
            PersonEvent::Erased(e) => s.erased = Some(e.clone()),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::person::tests::sealed;

    #[test]
    fn resident_id_check_character_is_verified() {
        assert!(check_id_number("id_number", "11010519491231002X").is_ok());
        assert!(check_id_number("id_number", "11010519491231002x").is_ok());
        let e = check_id_number("data/id_number", "110105194912310021").unwrap_err();
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("/command/data/id_number", rule::MALFORMED));
        assert!(check_id_number("id_number", "E12345678").is_ok(), "passport numbers pass");
        assert_eq!(check_id_number("id_number", "12 34").unwrap_err().rule, rule::MALFORMED);
    }

    #[test]
    fn sealed_values_are_checked_for_shape_and_kind() {
        assert!(check_personal("person", &sealed(), PersonalKind::Name).is_ok());
        assert_eq!(check_personal("person", &sealed(), PersonalKind::IdNumber).unwrap_err().rule, rule::MALFORMED);
        let PersonalField::Sealed(mut s) = sealed() else { unreachable!() };
        s.nonce.pop();
        assert!(check_personal("person", &PersonalField::Sealed(s), PersonalKind::Name).is_err());
    }
}
