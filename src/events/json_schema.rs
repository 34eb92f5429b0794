//! JSON Schema of one type ([`root_schema`]), as the event and command tables generate them
//! (`event_enum!`, and `command_enum!` in the domain); `crate::domain::schema` assembles the
//! checked-in `schemas/` folder from them.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Value};

/// A root schema (JSON Schema 2020-12) for one type, with its own `$defs`; fixed-width
/// integers get their bounds (schemars only names them as a `format`, which validators ignore).
pub(crate) fn root_schema<T: JsonSchema>() -> Schema {
    let schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>();
    let mut v = schema.clone().to_value();
    bound_integers(&mut v);
    Schema::try_from(v).unwrap_or(schema)
}

/// Adds `minimum`/`maximum` to integer schemas whose `format` names a Rust integer type.
fn bound_integers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let bounds: Option<(Value, Value)> = match map.get("format").and_then(Value::as_str) {
                Some("uint16") => Some((json!(0), json!(u16::MAX))),
                Some("uint32") => Some((json!(0), json!(u32::MAX))),
                Some("uint64") => Some((json!(0), json!(u64::MAX))),
                Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                Some("int64") => Some((json!(i64::MIN), json!(i64::MAX))),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                map.entry("minimum").or_insert(min);
                map.entry("maximum").or_insert(max);
            }
            map.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}
