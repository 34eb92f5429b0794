//! Importing incident records kept by other systems from CSV, through a TOML column mapping.
//!
//! A mapping names which columns become which incident fields (a column, a constant or a
//! template over columns, with small transforms), how a category is found (keywords in a text
//! column, first rule that matches), which values mean "unknown", which columns identify a
//! duplicate, and optional consistency checks (a weekday column against the date).
//!
//! Every row ends in exactly one of: imported, already imported (a re-run: command ids derive
//! from the source name and the row id, so importing the same file twice writes nothing new),
//! or rejected with a reason. Imported rows may also carry flags (unknown values, a defaulted
//! category, a weekday that disagrees with the date). Rows become `incident.report` commands
//! that go through the same schema and domain checks as any host command, committed in atomic
//! chunks; a row the domain refuses is reported with the field and rule and leaves no trace.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{self, CommandEnvelope};
use crate::engine::{Engine, EngineError};

/// Rows committed per atomic chunk.
const CHUNK: usize = 500;

/// Errors that stop an import (a bad row is a rejection in the report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvImportError {
    #[error("mapping: {0}")]
    Mapping(String),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV has no column {0:?}, which the mapping uses")]
    MissingColumn(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A column mapping, read from TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub source: Source,
    pub fields: IncidentFields,
    pub category: CategoryRules,
    #[serde(default)]
    pub unknown: UnknownValues,
    #[serde(default)]
    pub duplicates: Option<DuplicateKey>,
    #[serde(default)]
    pub checks: Checks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Names the source; part of every derived command id.
    pub name: String,
    /// The column holding the source's own row id.
    pub id_column: String,
    /// Prefix of the incident ids made from it (e.g. `osha-`).
    pub id_prefix: String,
    /// Recorded as the actor of the imported commands.
    pub actor: String,
}

/// Where one field's text comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub column: Option<String>,
    pub constant: Option<String>,
    /// `{column}` placeholders, e.g. `"{city}, {state}"`.
    pub template: Option<String>,
    /// `trim` (always applied), `lower`, `slug` (lower-case, runs of other characters → `-`).
    pub transform: Option<String>,
    /// For dates: a chrono format, e.g. `%Y-%m-%d`.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentFields {
    pub occurred_at: FieldSpec,
    /// Defaults to `occurred_at` when the source does not record when it was reported.
    pub reported_at: Option<FieldSpec>,
    pub place: FieldSpec,
    pub community_id: FieldSpec,
    pub enterprise_id: Option<FieldSpec>,
    pub deaths: FieldSpec,
    pub serious_injuries: FieldSpec,
    pub minor_injuries: FieldSpec,
    pub missing: FieldSpec,
    pub direct_loss_yuan: FieldSpec,
    pub summary: FieldSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRules {
    /// Text column searched for keywords (case-insensitive).
    pub column: String,
    /// Category code when no rule matches.
    pub default: String,
    /// Flag rows that got the default (set false where the default is the expected answer).
    #[serde(default = "yes")]
    pub flag_default: bool,
    #[serde(default)]
    pub rules: Vec<KeywordRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    pub category: String,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownValues {
    /// Values (compared trimmed, case-insensitively) that mean "not known".
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateKey {
    /// Rows whose values in these columns (trimmed, case-insensitive) equal an earlier row's
    /// are duplicates and rejected.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    pub weekday: Option<WeekdayCheck>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekdayCheck {
    pub date_column: String,
    pub date_format: String,
    pub weekday_column: String,
}

impl Mapping {
    pub fn from_toml(text: &str) -> Result<Self, CsvImportError> {
        toml::from_str(text).map_err(|e| CsvImportError::Mapping(e.to_string()))
    }
}

/// One row's problem or remark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowNote {
    /// Line of the CSV file (the header is line 1).
    pub line: u64,
    pub id: String,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CsvImportReport {
    pub rows: u64,
    pub imported: u64,
    pub already_imported: u64,
    pub rejected: Vec<RowNote>,
    pub flagged: Vec<RowNote>,
    /// Rejections and flags counted by kind (the text before the first colon of the reason).
    pub rejected_by_kind: BTreeMap<String, u64>,
    pub flagged_by_kind: BTreeMap<String, u64>,
    /// Deaths of the rows now in the store (imported or imported before), by year of occurrence.
    pub deaths_by_year: BTreeMap<i32, u64>,
}

fn yes() -> bool {
    true
}

fn kind(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).trim().to_string()
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A CSV row with its header, for lookups by column name.
struct Row<'a> {
    header: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.header.get(column).and_then(|i| self.record.get(*i)).map(str::trim).unwrap_or("")
    }

    fn resolve(&self, spec: &FieldSpec) -> String {
        let raw = if let Some(c) = &spec.column {
            self.get(c).to_string()
        } else if let Some(t) = &spec.template {
            let mut out = t.clone();
            for (name, _) in self.header.iter() {
                out = out.replace(&format!("{{{name}}}"), self.get(name));
            }
            out
        } else {
            spec.constant.clone().unwrap_or_default()
        };
        let raw = raw.trim();
        match spec.transform.as_deref() {
            Some("lower") => raw.to_lowercase(),
            Some("slug") => slug(raw),
            _ => raw.to_string(),
        }
    }
}

fn columns_of(spec: &FieldSpec) -> Vec<String> {
    let mut cols: Vec<String> = spec.column.iter().cloned().collect();
    if let Some(t) = &spec.template {
        let mut rest = t.as_str();
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else { break };
            cols.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    cols
}

fn date_of(spec: &FieldSpec, text: &str) -> Result<NaiveDate, String> {
    let format = spec.format.as_deref().unwrap_or("%Y-%m-%d");
    NaiveDate::parse_from_str(text, format).map_err(|e| format!("bad date: {text:?} does not match {format} ({e})"))
}

fn command_id(source: &str, row_id: &str) -> Uuid {
    let mut h = blake3::Hasher::new();
    h.update(b"anquan.csv-import.v1");
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(row_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A row turned into a command, waiting to be committed.
struct Prepared {
    line: u64,
    id: String,
    year: i32,
    deaths: u64,
    envelope: CommandEnvelope,
}

/// Imports `csv` through `mapping` into the engine's store.
///
/// Each row's command is a pure function of the row: its id derives from the source and the
/// row's id, and its `issued_at` is the row's report date (midnight UTC, as its other times), not
/// the time of the import. So running the same file again finds every row already imported,
/// whenever it runs.
pub fn import_incidents(
    engine: &Engine,
    mapping: &Mapping,
    csv_input: impl Read,
    mut progress: impl FnMut(u64),
) -> Result<CsvImportReport, CsvImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(csv_input);
    let header: HashMap<String, usize> =
        reader.headers()?.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
    let f = &mapping.fields;
    let mut needed: Vec<String> = vec![mapping.source.id_column.clone(), mapping.category.column.clone()];
    for spec in [&f.occurred_at, &f.place, &f.community_id, &f.deaths, &f.serious_injuries, &f.minor_injuries]
        .into_iter()
        .chain([&f.missing, &f.direct_loss_yuan, &f.summary])
        .chain(f.reported_at.iter())
        .chain(f.enterprise_id.iter())
    {
        needed.extend(columns_of(spec));
    }
    if let Some(d) = &mapping.duplicates {
        needed.extend(d.columns.iter().cloned());
    }
    if let Some(w) = &mapping.checks.weekday {
        needed.extend([w.date_column.clone(), w.weekday_column.clone()]);
    }
    if let Some(missing) = needed.iter().find(|c| !header.contains_key(*c)) {
        return Err(CsvImportError::MissingColumn(missing.clone()));
    }
    let unknown: Vec<String> = mapping.unknown.values.iter().map(|v| v.trim().to_lowercase()).collect();
    let is_unknown = |v: &str| unknown.iter().any(|u| *u == v.trim().to_lowercase());
    let mut columns: Vec<(&String, &usize)> = header.iter().collect();
    columns.sort_by_key(|(_, i)| **i);

    let mut report = CsvImportReport::default();
    let mut seen: HashMap<String, (u64, String)> = HashMap::new();
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.rows += 1;
                report.rejected.push(RowNote { line, id: String::new(), reason: format!("malformed CSV: {e}") });
                continue;
            }
        }
        report.rows += 1;
        let row = Row { header: &header, record: &record };
        let raw_id = row.get(&mapping.source.id_column);
        let id = format!("{}{}", mapping.source.id_prefix, slug(raw_id));
        let reject = |reason: String| RowNote { line, id: id.clone(), reason };
        if raw_id.is_empty() || crate::events::EntityId::new(id.clone()).is_err() {
            report.rejected.push(reject(format!("bad id: {raw_id:?} does not make a valid incident id")));
            continue;
        }
        if let Some(d) = &mapping.duplicates {
            let key = d.columns.iter().map(|c| row.get(c).to_lowercase()).collect::<Vec<_>>().join("\u{1f}");
            if let Some((first_line, first_id)) = seen.get(&key) {
                report.rejected.push(reject(format!(
                    "duplicate: same {} as line {first_line} ({first_id})",
                    d.columns.join(", ")
                )));
                continue;
            }
            seen.insert(key, (line, id.clone()));
        }
        // A required field that is unknown rejects the row; other unknown columns only flag it.
        let occurred_text = row.resolve(&f.occurred_at);
        if is_unknown(&occurred_text) || occurred_text.is_empty() {
            report.rejected.push(reject("unknown date: the occurrence date is not known".into()));
            continue;
        }
        let occurred = match date_of(&f.occurred_at, &occurred_text) {
            Ok(d) => d,
            Err(e) => {
                report.rejected.push(reject(e));
                continue;
            }
        };
        let reported = match &f.reported_at {
            Some(spec) => match date_of(spec, &row.resolve(spec)) {
                Ok(d) => d,
                Err(e) => {
                    report.rejected.push(reject(e));
                    continue;
                }
            },
            None => occurred,
        };
        let mut flags: Vec<String> = Vec::new();
        let unknown_cols: Vec<&str> =
            columns.iter().filter(|(_, i)| record.get(**i).is_some_and(is_unknown)).map(|(c, _)| c.as_str()).collect();
        if !unknown_cols.is_empty() {
            flags.push(format!("unknown values: {}", unknown_cols.join(", ")));
        }
        if let Some(w) = &mapping.checks.weekday {
            let said = row.get(&w.weekday_column).to_lowercase();
            if let Ok(d) = NaiveDate::parse_from_str(row.get(&w.date_column), &w.date_format) {
                let actual = d.weekday().to_string().to_lowercase();
                let full = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
                    .into_iter()
                    .find(|n| n.starts_with(&actual))
                    .unwrap_or("");
                if !said.is_empty() && !is_unknown(&said) && said != full {
                    flags.push(format!("weekday mismatch: {said:?} but {} was a {full}", d));
                }
            }
        }
        let haystack = row.get(&mapping.category.column).to_lowercase();
        let category = match mapping
            .category
            .rules
            .iter()
            .find(|r| r.keywords.iter().any(|k| haystack.contains(&k.to_lowercase())))
        {
            Some(r) => r.category.clone(),
            None => {
                if mapping.category.flag_default {
                    flags.push(format!(
                        "category defaulted: no keyword matched, recorded as {}",
                        mapping.category.default
                    ));
                }
                mapping.category.default.clone()
            }
        };
        let number = |name: &str, spec: &FieldSpec| -> Result<u64, String> {
            let v = row.resolve(spec);
            if is_unknown(&v) || v.is_empty() {
                return Ok(0);
            }
            v.parse::<u64>().map_err(|_| format!("bad number: {name} {v:?}"))
        };
        let numbers: Result<Vec<u64>, String> = [
            ("deaths", &f.deaths),
            ("serious_injuries", &f.serious_injuries),
            ("minor_injuries", &f.minor_injuries),
            ("missing", &f.missing),
            ("direct_loss_yuan", &f.direct_loss_yuan),
        ]
        .into_iter()
        .map(|(n, s)| number(n, s))
        .collect();
        let numbers = match numbers {
            Ok(n) => n,
            Err(e) => {
                report.rejected.push(reject(e));
                continue;
            }
        };
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().to_rfc3339());
        let enterprise = f.enterprise_id.as_ref().map(|s| row.resolve(s)).filter(|e| !e.is_empty() && !is_unknown(e));
        let json = serde_json::json!({
            "command_id": command_id(&mapping.source.name, &id).to_string(),
            "actor": mapping.source.actor,
            "issued_at": midnight(reported),
            "command": {
                "type": "incident.report",
                "incident_id": id,
                "occurred_at": midnight(occurred),
                "reported_at": midnight(reported),
                "place": row.resolve(&f.place),
                "community_id": row.resolve(&f.community_id),
                "enterprise_id": enterprise,
                "category": category,
                "deaths": numbers[0],
                "serious_injuries": numbers[1],
                "minor_injuries": numbers[2],
                "missing": numbers[3],
                "direct_loss_yuan": numbers[4],
                "summary": row.resolve(&f.summary),
            }
        });
        match domain::parse_command_value(&json) {
            Ok(envelope) => {
                for flag in flags {
                    report.flagged.push(RowNote { line, id: id.clone(), reason: flag });
                }
                prepared.push(Prepared { line, id, year: occurred.year(), deaths: numbers[0], envelope });
            }
            Err(rejections) => {
                let why = rejections.iter().map(|r| format!("{} ({})", r.field, r.rule)).collect::<Vec<_>>().join(", ");
                report.rejected.push(reject(format!("invalid: {why}")));
            }
        }
    }

    // Commit in atomic chunks; a row the domain refuses is taken out and the chunk retried.
    let mut done = 0u64;
    for chunk in prepared.chunks(CHUNK) {
        let mut rows: Vec<&Prepared> = chunk.iter().collect();
        loop {
            let envelopes: Vec<CommandEnvelope> = rows.iter().map(|p| p.envelope.clone()).collect();
            match engine.execute_all_or_nothing(&envelopes) {
                Ok(out) => {
                    report.imported += (out.commands - out.skipped) as u64;
                    report.already_imported += out.skipped as u64;
                    for p in &rows {
                        *report.deaths_by_year.entry(p.year).or_default() += p.deaths;
                    }
                    break;
                }
                Err(batch) if batch.index < rows.len() => {
                    let p = rows.remove(batch.index);
                    let why = match batch.error {
                        EngineError::Rejected(r) => format!("refused: {} ({}): {}", r.field, r.rule, r.message),
                        EngineError::Denied(r) => format!("not allowed: {} ({}): {}", r.field, r.rule, r.message),
                        other => return Err(other.into()),
                    };
                    report.rejected.push(RowNote { line: p.line, id: p.id.clone(), reason: why });
                    if rows.is_empty() {
                        break;
                    }
                }
                Err(batch) => return Err(batch.error.into()),
            }
        }
        done += chunk.len() as u64;
        progress(done);
    }
    report.rejected.sort_by_key(|n| n.line);
    report.flagged.sort_by_key(|n| n.line);
    for n in &report.rejected {
        *report.rejected_by_kind.entry(kind(&n.reason)).or_default() += 1;
    }
    for n in &report.flagged {
        *report.flagged_by_kind.entry(kind(&n.reason)).or_default() += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_ids() {
        assert_eq!(slug("  New York "), "new-york");
        assert_eq!(slug("St. Louis/Park"), "st-louis-park");
        assert_eq!(slug("--"), "");
    }

    #[test]
    fn template_columns_are_found() {
        let spec = FieldSpec { template: Some("{city}, {state}".into()), ..Default::default() };
        assert_eq!(columns_of(&spec), vec!["city", "state"]);
    }

    #[test]
    fn command_ids_are_stable_per_source_and_row() {
        assert_eq!(command_id("a", "1"), command_id("a", "1"));
        assert_ne!(command_id("a", "1"), command_id("b", "1"));
        assert_ne!(command_id("a", "1"), command_id("a", "2"));
    }
}
