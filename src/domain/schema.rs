//! JSON Schemas of every command and event, generated from the Rust types with `schemars`.
//!
//! Layout of the checked-in `schemas/` folder (all generated, never hand-edited):
//! - `envelope.json` — the whole command envelope (all commands as alternatives);
//! - `commands/<type>.json` — one command body, including its `type` tag;
//! - `events/<type>.v<version>.json` — one event as it appears in JSON, per schema version;
//! - `reference/catalog.json`, `reference/settings.json` — the reference data formats.
//!
//! The test `tests/domain_schemas.rs` fails when a file differs from what the code generates,
//! is missing, or is stale. After changing a command or event type, regenerate with
//!
//! ```text
//! ANQUAN_UPDATE_SCHEMAS=1 cargo test --test domain_schemas
//! ```
//!
//! and review the diff: a changed event schema at an unchanged version means the bincode format
//! changed too — bump the version and add an upcaster instead (see `crate::events`' `event.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use schemars::Schema;
use serde_json::{json, Value};

use super::command::{Command, CommandEnvelope};
use super::settings::Settings;
use super::DomainError;
use crate::events::access::AccessEvent;
use crate::events::community::CommunityEvent;
use crate::events::enterprise::EnterpriseEvent;
use crate::events::hazard::HazardEvent;
use crate::events::incident::IncidentEvent;
use crate::events::injury::InjuryEvent;
use crate::events::json_schema::root_schema;
use crate::events::person::PersonEvent;
use crate::events::promotion::ProjectEvent;
use crate::events::Catalog;

/// Environment variable that makes the schema test rewrite `schemas/`.
pub const UPDATE_ENV: &str = "ANQUAN_UPDATE_SCHEMAS";

/// Adds the `type` tag (a constant) to an object schema as its first required property.
fn with_type_tag(schema: Schema, tag: &str) -> Value {
    let mut v = schema.to_value();
    if let Some(obj) = v.as_object_mut() {
        let props = obj.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("type".into(), json!({ "type": "string", "const": tag }));
        }
        let req = obj.entry("required").or_insert_with(|| json!([]));
        if let Some(r) = req.as_array_mut() {
            r.insert(0, json!("type"));
        }
    }
    v
}

/// Each command type with the schema of its JSON body (`type` included).
pub fn command_schemas() -> Vec<(&'static str, Value)> {
    Command::body_schemas().into_iter().map(|(t, s)| (t, with_type_tag(s, t))).collect()
}

/// Each event type and version with the schema of its JSON form (`type` included).
pub fn event_schemas() -> Vec<(&'static str, u16, Value)> {
    [
        AccessEvent::schemas(),
        CommunityEvent::schemas(),
        EnterpriseEvent::schemas(),
        HazardEvent::schemas(),
        IncidentEvent::schemas(),
        InjuryEvent::schemas(),
        PersonEvent::schemas(),
        ProjectEvent::schemas(),
    ]
    .concat()
    .into_iter()
    .map(|(t, v, s)| (t, v, with_type_tag(s, t)))
    .collect()
}

/// The full envelope schema (for hosts; all commands as alternatives).
pub fn envelope_schema() -> Value {
    root_schema::<CommandEnvelope>().to_value()
}

/// The envelope with `command` reduced to "an object with a known `type`": validated first, so
/// that the body is then checked against its own schema and errors name the body's fields.
pub fn envelope_header_schema() -> Value {
    let mut v = envelope_schema();
    let types = Command::all_types();
    if let Some(p) = v.pointer_mut("/properties/command") {
        *p = json!({
            "type": "object",
            "required": ["type"],
            "properties": { "type": { "type": "string", "enum": types } }
        });
    }
    // Drop definitions only the command bodies used.
    let without_defs = {
        let mut c = v.clone();
        if let Some(o) = c.as_object_mut() {
            o.remove("$defs");
        }
        c.to_string()
    };
    if let Some(defs) = v.get_mut("$defs").and_then(Value::as_object_mut) {
        defs.retain(|k, _| without_defs.contains(&format!("#/$defs/{k}\"")));
    }
    v
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Every schema file, relative path → contents, in a stable order.
pub fn schema_files() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert("envelope.json".to_string(), pretty(&envelope_schema()));
    for (t, s) in command_schemas() {
        files.insert(format!("commands/{t}.json"), pretty(&s));
    }
    for (t, ver, s) in event_schemas() {
        files.insert(format!("events/{t}.v{ver}.json"), pretty(&s));
    }
    files.insert("reference/catalog.json".into(), pretty(&root_schema::<Catalog>().to_value()));
    files.insert("reference/settings.json".into(), pretty(&root_schema::<Settings>().to_value()));
    files
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DomainError + '_ {
    move |source| DomainError::Io { path: path.display().to_string(), source }
}

/// Lists the `.json` files under `dir` (relative paths with `/`), recursively.
fn existing(dir: &Path) -> Result<Vec<String>, DomainError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !d.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let p = entry.map_err(io(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                if let Ok(rel) = p.strip_prefix(dir) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Differences between `dir` and the generated schemas: one line per missing, differing or
/// stale file. Empty means up to date.
pub fn check_schema_files(dir: &Path) -> Result<Vec<String>, DomainError> {
    let files = schema_files();
    let mut problems = Vec::new();
    for (rel, want) in &files {
        let p = dir.join(rel);
        match std::fs::read_to_string(&p) {
            Ok(have) if &have == want => {}
            Ok(_) => problems.push(format!("differs: schemas/{rel}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(format!("missing: schemas/{rel}")),
            Err(e) => return Err(io(&p)(e)),
        }
    }
    for rel in existing(dir)? {
        if !files.contains_key(&rel) {
            problems.push(format!("stale: schemas/{rel}"));
        }
    }
    Ok(problems)
}

/// Rewrites `dir` to hold exactly the generated schemas.
pub fn write_schema_files(dir: &Path) -> Result<(), DomainError> {
    let files = schema_files();
    for rel in existing(dir)? {
        if !files.contains_key(&rel) {
            let p = dir.join(&rel);
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    for (rel, contents) in &files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, contents).map_err(io(&p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_event_has_a_schema_with_its_tag() {
        let cmds = command_schemas();
        assert_eq!(cmds.len(), Command::all_types().len());
        for (t, s) in &cmds {
            assert_eq!(s.pointer("/properties/type/const"), Some(&json!(t)), "{t}");
            assert_eq!(s.pointer("/additionalProperties"), Some(&json!(false)), "{t} accepts unknown fields");
        }
        assert_eq!(event_schemas().len(), crate::events::DomainEvent::all_types().len());
    }

    #[test]
    fn header_schema_keeps_only_needed_definitions() {
        let h = envelope_header_schema();
        let defs = h.get("$defs").and_then(Value::as_object).map(|d| d.len()).unwrap_or(0);
        assert!(defs <= 2, "{defs} definitions kept");
        assert!(h.pointer("/properties/command/properties/type/enum").is_some());
    }
}
