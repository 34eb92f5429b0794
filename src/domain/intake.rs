//! JSON intake of commands: the envelope, then the command's body, then serde.
//!
//! A host sends one JSON object:
//! `{"command_id": "<uuid>", "actor": "<id>", "issued_at": "<RFC 3339 UTC>",
//!   "correlation_id": "<uuid>"?, "causation_id": "<uuid>"?,
//!   "command": {"type": "hazard.report", ...fields}}`.
//!
//! [`parse_command_json`] checks it in three steps, each naming the field (a JSON pointer into
//! the envelope) and the rule broken:
//! 1. the envelope against `schemas/envelope.json`'s header part (the `command` member only
//!    needs a known `type`);
//! 2. the command body against that command's own schema (`schemas/commands/<type>.json`), so
//!    errors point at the field rather than at a `oneOf` of forty alternatives;
//! 3. serde decoding into the typed [`CommandEnvelope`] (ids are validated here too).
//!
//! The domain rules come after, in `decide`. Schemas are compiled once per process, offline
//! (jsonschema without its HTTP/file resolvers: every `$ref` is local to the document).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::command::CommandEnvelope;
use super::{rule, schema, Rejection};

struct Validators {
    header: jsonschema::Validator,
    bodies: HashMap<&'static str, jsonschema::Validator>,
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options().should_validate_formats(true).build(schema).map_err(|e| e.to_string())
}

fn validators() -> Result<&'static Validators, Rejection> {
    static CELL: OnceLock<Result<Validators, String>> = OnceLock::new();
    let built = CELL.get_or_init(|| {
        let header = compile(&schema::envelope_header_schema())?;
        let mut bodies = HashMap::new();
        for (t, s) in schema::command_schemas() {
            bodies.insert(t, compile(&s)?);
        }
        Ok(Validators { header, bodies })
    });
    built
        .as_ref()
        .map_err(|e| Rejection::new("", rule::SCHEMA, format!("internal: command schemas do not compile: {e}")))
}

fn schema_errors(v: &jsonschema::Validator, instance: &Value, prefix: &str) -> Vec<Rejection> {
    v.iter_errors(instance)
        .map(|e| {
            let mut path = format!("{prefix}{}", e.instance_path.as_str());
            match &e.kind {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    path.push('/');
                    path.push_str(property.as_str().unwrap_or_default());
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    if let Some(first) = unexpected.first() {
                        path.push('/');
                        path.push_str(first);
                    }
                }
                _ => {}
            }
            let keyword = e.schema_path.as_str().rsplit('/').next().unwrap_or("schema").to_string();
            Rejection::new(path, &format!("schema_{keyword}"), e.to_string())
        })
        .collect()
}

/// Parses and validates a command envelope from JSON; every error names its field and rule.
pub fn parse_command_json(json: &str) -> Result<CommandEnvelope, Vec<Rejection>> {
    // serde_json keeps the last of repeated members, so `{"actor":"bad","actor":"ok"}` would
    // hide the first value from every check: refuse repeats, naming where.
    no_duplicate_members(json)?;
    let value: Value =
        serde_json::from_str(json).map_err(|e| vec![Rejection::new("", rule::MALFORMED, format!("not JSON: {e}"))])?;
    parse_command_value(&value)
}

/// Walks the JSON once and fails on the first object that repeats a member name.
fn no_duplicate_members(json: &str) -> Result<(), Vec<Rejection>> {
    use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

    struct Walk(String);

    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = format!("{}/{}", self.0, key.replace('~', "~0").replace('/', "~1"));
                if !seen.insert(key) {
                    return Err(A::Error::custom(format!("{DUPLICATE_MARK}{path}")));
                }
                map.next_value_seed(Walk(path))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            while seq.next_element_seed(Walk(format!("{}/{i}", self.0)))?.is_some() {
                i += 1;
            }
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }

    const DUPLICATE_MARK: &str = "duplicate member at ";
    let mut de = serde_json::Deserializer::from_str(json);
    match Walk(String::new()).deserialize(&mut de) {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            match msg.strip_prefix(DUPLICATE_MARK) {
                Some(rest) => {
                    let path = rest.split(" at line").next().unwrap_or(rest).to_string();
                    Err(vec![Rejection::new(
                        path.clone(),
                        rule::DUPLICATE,
                        format!("member {path} appears more than once"),
                    )])
                }
                // Not JSON at all: the parse below reports it.
                None => Ok(()),
            }
        }
    }
}

/// As [`parse_command_json`], from an already parsed JSON value.
pub fn parse_command_value(value: &Value) -> Result<CommandEnvelope, Vec<Rejection>> {
    let v = validators().map_err(|r| vec![r])?;
    let errors = schema_errors(&v.header, value, "");
    if !errors.is_empty() {
        return Err(errors);
    }
    let body = value.get("command").unwrap_or(&Value::Null);
    let ty = body.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some(body_validator) = v.bodies.get(ty) else {
        return Err(vec![Rejection::new(
            "/command/type",
            rule::UNKNOWN_COMMAND,
            format!("unknown command type {ty:?}"),
        )]);
    };
    let errors = schema_errors(body_validator, body, "/command");
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value::<CommandEnvelope>(value.clone())
        .map_err(|e| vec![Rejection::new("", rule::MALFORMED, format!("command does not decode: {e}"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_json_is_malformed() {
        let e = parse_command_json("{").unwrap_err();
        assert_eq!(e[0].rule, rule::MALFORMED);
    }
}
