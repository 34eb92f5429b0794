//! Importing the real OSHA fatality file (14,914 rows, public domain, dirty) through the shipped
//! mapping: rows imported, duplicates rejected with the line they repeat, unknowns flagged,
//! deaths by year, and a re-run that imports nothing twice.

use std::collections::{BTreeMap, HashSet};

use anquan::engine::Engine;
use anquan::interface::csv_import::{import_incidents, Mapping};
use anquan::store::EventStore;

const DATA: &str = "tests/data/osha_fatalities/osha_fatalities_09-22_complete.csv";
const MAPPING: &str = "tests/data/osha_fatalities/mapping.toml";

/// Deaths per year counted straight from the file, keeping the first of rows that repeat
/// (date, city, description) once trimmed and lower-cased: the expectation, computed apart
/// from the importer.
fn expected_from_file() -> (usize, usize, BTreeMap<i32, u64>) {
    let mut reader = csv::Reader::from_path(DATA).unwrap();
    let (mut rows, mut dups) = (0, 0);
    let mut seen = HashSet::new();
    let mut by_year = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        rows += 1;
        let key = (r[1].trim().to_lowercase(), r[3].trim().to_lowercase(), r[5].trim().to_lowercase());
        if !seen.insert(key) {
            dups += 1;
            continue;
        }
        let year: i32 = r[1][..4].parse().unwrap();
        *by_year.entry(year).or_default() += 1;
    }
    (rows, dups, by_year)
}

#[test]
fn the_osha_file_imports_with_duplicates_rejected_and_deaths_by_year() {
    let (rows, dups, by_year) = expected_from_file();
    assert_eq!(rows, 14_914);
    let mapping = Mapping::from_toml(&std::fs::read_to_string(MAPPING).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    let report = import_incidents(&engine, &mapping, std::fs::File::open(DATA).unwrap(), |_| {}).unwrap();

    assert_eq!(report.rows, rows as u64);
    assert_eq!(report.imported, (rows - dups) as u64);
    assert_eq!(report.rejected.len(), dups);
    assert_eq!(report.rejected_by_kind.get("duplicate"), Some(&(dups as u64)));
    let first = &report.rejected[0];
    assert!(first.reason.contains("same incident_date, city, description as line"), "{first:?}");
    assert_eq!(report.deaths_by_year, by_year);
    assert_eq!(report.deaths_by_year.values().sum::<u64>(), report.imported);
    // plan and citation are `unknown` in 8,886 rows: imported, and flagged.
    assert_eq!(report.flagged_by_kind.get("unknown values"), Some(&8_886));
    assert_eq!(engine.store().list_streams("incident-osha-", None, usize::MAX).unwrap().len() as u64, report.imported);
    assert!(engine.store().verify().unwrap().is_ok());

    // A re-run imports nothing twice, later and from another engine (another clock reading).
    let head = engine.store().head();
    let engine = Engine::new(engine.into_store()).unwrap();
    let again = import_incidents(&engine, &mapping, std::fs::File::open(DATA).unwrap(), |_| {}).unwrap();
    assert_eq!((again.imported, again.already_imported), (0, report.imported));
    assert_eq!(engine.store().head(), head);
}

#[test]
fn bad_rows_and_bad_mappings_are_reported_precisely() {
    let mapping = Mapping::from_toml(&std::fs::read_to_string(MAPPING).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(EventStore::open(dir.path()).unwrap()).unwrap();
    let csv = "id,incident_date,day_of_week,city,state,description,plan,citation\n\
               1,2015-03-02,monday,tampa,florida,Worker fell from a ladder.,federal,yes\n\
               2,2015-13-40,monday,tampa,florida,Bad date.,federal,yes\n\
               3,unknown,monday,tampa,florida,Unknown date.,federal,yes\n\
               4,2015-03-02,friday,tampa,florida,Weekday typo.,federal,yes\n\
               5,2099-01-01,thursday,tampa,florida,From the future.,federal,yes\n\
               6,2015-03-02,monday,tampa,florida\n";
    let report = import_incidents(&engine, &mapping, csv.as_bytes(), |_| {}).unwrap();
    let reasons: Vec<(u64, &str)> = report.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(report.imported, 2, "{reasons:?}");
    assert!(reasons.iter().any(|(l, r)| *l == 3 && r.starts_with("bad date")), "{reasons:?}");
    assert!(reasons.iter().any(|(l, r)| *l == 4 && r.starts_with("unknown date")), "{reasons:?}");
    assert!(reasons.iter().any(|(l, r)| *l == 6 && r.contains("in_future")), "{reasons:?}");
    assert!(reasons.iter().any(|(l, r)| *l == 7 && r.starts_with("malformed CSV")), "{reasons:?}");
    assert!(
        report.flagged.iter().any(|f| f.line == 5 && f.reason.starts_with("weekday mismatch")),
        "{:?}",
        report.flagged
    );
    // The ladder fall is construction by keyword; the weekday typo row has no keyword: production.
    let bad_column = mapping.clone();
    let mut broken = bad_column;
    broken.source.id_column = "no_such_column".into();
    assert!(import_incidents(&engine, &broken, csv.as_bytes(), |_| {}).is_err());
    assert!(Mapping::from_toml("[source]\nname = 1").is_err());
}
