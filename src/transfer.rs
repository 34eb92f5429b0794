//! Moving data in and out as JSON Lines: export of the whole log, restore of an export into an
//! identical store, and import of commands from other systems.
//!
//! Invariants:
//! - An export line carries the full envelope and the payload's exact bytes (hex), plus the
//!   decoded domain event for people. Restoring re-appends every event at its position with its
//!   original recorded-at (through a [`ManualClock`]), so the restored store has the same records
//!   and therefore the same hash chain and head hash.
//! - Restore only into an empty store, and it checks every position as it goes.
//! - Personal fields (PIPL): the decoded `event` shows each sealed value as
//!   `{"personal": "plain", "value": …}` when the vault given to [`export_with_vault`] holds the
//!   person's key, `{"personal": "erased"}` once the person was erased (`"sealed"` without a
//!   vault; see [`crate::privacy::reveal_json`]). `payload_hex` is always the exact stored bytes,
//!   so a restore gives the same hashes whatever the vault says.
//! - Importing commands reports every refused line (line number, field, rule) and writes nothing
//!   for it; with `all_or_nothing`, one refused line means nothing at all is written.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{self, CommandEnvelope, DomainEvent, Rejection};
use crate::engine::{Engine, EngineError};
use crate::privacy::{reveal_json, Vault};
use crate::store::{
    to_hex, Direction, Durability, EventStore, ExpectedVersion, Head, ManualClock, ProposedEvent, RecordedEvent,
    StoreError, StoreOptions, Timestamp, MAX_EVENTS_PER_APPEND,
};

/// Errors of export, restore and import (per-line refusals are in [`ImportReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error("restore needs an empty store; this one holds {0} events")]
    NotEmpty(u64),
    #[error("line {line}: event was exported at position {expected} but lands at {actual}")]
    PositionMismatch { line: usize, expected: u64, actual: u64 },
    #[error("all-or-nothing import of {0} events exceeds the {MAX_EVENTS_PER_APPEND}-event limit of one commit")]
    TooLargeForOneCommit(usize),
}

/// One exported event: the envelope, the payload bytes, and the decoded event for reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub event_id: Uuid,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub actor: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The stored payload, byte for byte (lower-case hex).
    pub payload_hex: String,
    /// The chain link, for checking by eye; restore recomputes it.
    pub hash: String,
    /// The payload decoded as a domain event (absent if it is not one), personal fields opened
    /// or marked erased. Informational: restore reads `payload_hex` only.
    pub event: Option<serde_json::Value>,
}

impl ExportedEvent {
    fn from_recorded(e: &RecordedEvent, vault: Option<&Vault>) -> Self {
        let event = DomainEvent::from_payload(&e.event_type, e.schema_version, &e.payload)
            .ok()
            .and_then(|d| serde_json::to_value(d).ok())
            .map(|mut v| {
                reveal_json(&mut v, vault);
                v
            });
        Self {
            position: e.position,
            stream: e.stream.to_string(),
            version: e.version,
            event_type: e.event_type.to_string(),
            schema_version: e.schema_version,
            event_id: e.event_id,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            actor: e.actor.to_string(),
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            payload_hex: to_hex(&e.payload),
            hash: to_hex(&e.hash),
            event,
        }
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Writes every event as one JSON line; returns how many. `progress` sees the count so far.
/// Personal fields show as `"sealed"`; [`export_with_vault`] opens them.
pub fn export(store: &EventStore, out: &mut impl Write, progress: impl FnMut(u64)) -> Result<u64, TransferError> {
    export_with_vault(store, None, out, progress)
}

/// [`export`], with personal fields opened through `vault` (or marked erased).
pub fn export_with_vault(
    store: &EventStore,
    vault: Option<&Vault>,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, TransferError> {
    let mut from = 0u64;
    let mut n = 0u64;
    loop {
        let page = store.read_all(from, Direction::Forward, 4096)?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            serde_json::to_writer(&mut *out, &ExportedEvent::from_recorded(e, vault)).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        progress(n);
    }
    out.flush()?;
    Ok(n)
}

/// Restores an export into a new (empty) store in `dir`; returns the restored head.
pub fn restore(dir: &Path, input: impl BufRead, mut progress: impl FnMut(u64)) -> Result<Head, TransferError> {
    let clock = ManualClock::new(Timestamp(0));
    let options = StoreOptions {
        clock: Arc::new(clock.clone()),
        // One sync at the end instead of one per event; a failed restore is simply re-run.
        durability: Durability::Deferred { flush_interval: Duration::from_secs(1) },
        ..StoreOptions::default()
    };
    let store = EventStore::open_dir(dir, options)?;
    if store.head().next_position != 0 {
        return Err(TransferError::NotEmpty(store.head().next_position));
    }
    let mut n = 0u64;
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let e: ExportedEvent = serde_json::from_str(&line)
            .map_err(|err| TransferError::BadLine { line: line_no, reason: format!("not an exported event: {err}") })?;
        let payload = from_hex(&e.payload_hex)
            .ok_or_else(|| TransferError::BadLine { line: line_no, reason: "payload_hex is not hex".into() })?;
        clock.set(e.recorded_at);
        let expected = match e.version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v - 1),
        };
        let proposed = ProposedEvent {
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            occurred_at: e.occurred_at,
            actor: e.actor,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            payload,
        };
        let out = store.append(&e.stream, expected, vec![proposed])?;
        let actual = out.positions.first().copied().unwrap_or(u64::MAX);
        if actual != e.position {
            return Err(TransferError::PositionMismatch { line: line_no, expected: e.position, actual });
        }
        n += 1;
        if n % 1024 == 0 {
            progress(n);
        }
    }
    progress(n);
    store.flush()?;
    let head = store.head();
    store.close()?;
    Ok(head)
}

/// A line an import refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedLine {
    pub line: usize,
    pub field: String,
    pub rule: String,
    pub message: String,
}

/// What an import of commands did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub lines: usize,
    pub accepted: usize,
    /// Commands found already carried out (a re-run of the same file).
    pub already_done: usize,
    pub events_written: usize,
    pub refused: Vec<RefusedLine>,
    /// With all-or-nothing: true when nothing was written because of a refused line.
    pub rolled_back: bool,
}

fn refusals(line: usize, rejections: Vec<Rejection>) -> Vec<RefusedLine> {
    rejections.into_iter().map(|r| RefusedLine { line, field: r.field, rule: r.rule, message: r.message }).collect()
}

/// Imports JSON Lines commands through the engine. Each line is validated against the command
/// schemas and the domain rules; a refused line is reported and writes nothing. With
/// `all_or_nothing`, every line is decided first and the whole file is committed at once, or
/// nothing if any line is refused.
pub fn import_commands(
    engine: &Engine,
    input: impl BufRead,
    all_or_nothing: bool,
    mut progress: impl FnMut(usize),
) -> Result<ImportReport, TransferError> {
    let mut report = ImportReport::default();
    let mut parsed: Vec<(usize, CommandEnvelope)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        report.lines += 1;
        match domain::parse_command_json(&line) {
            Ok(env) => parsed.push((line_no, env)),
            Err(rejections) => report.refused.extend(refusals(line_no, rejections)),
        }
    }
    if all_or_nothing {
        if !report.refused.is_empty() {
            report.rolled_back = true;
            return Ok(report);
        }
        let envelopes: Vec<CommandEnvelope> = parsed.iter().map(|(_, e)| e.clone()).collect();
        match engine.execute_all_or_nothing(&envelopes) {
            Ok(out) => {
                report.accepted = out.commands - out.skipped;
                report.already_done = out.skipped;
                report.events_written = out.positions.len();
            }
            Err(batch) => {
                let line = parsed.get(batch.index).map(|(l, _)| *l).unwrap_or(0);
                match batch.error {
                    EngineError::Rejected(r) | EngineError::Denied(r) => report.refused.extend(refusals(line, vec![r])),
                    EngineError::Invalid(rs) => report.refused.extend(refusals(line, rs)),
                    EngineError::Store(StoreError::TooManyEvents { count, .. }) => {
                        return Err(TransferError::TooLargeForOneCommit(count))
                    }
                    other => return Err(other.into()),
                }
                report.rolled_back = true;
            }
        }
        progress(report.lines);
        return Ok(report);
    }
    for (done, (line_no, env)) in parsed.iter().enumerate() {
        match engine.execute(env) {
            Ok(out) if out.already_committed => report.already_done += 1,
            Ok(out) => {
                report.accepted += 1;
                report.events_written += out.positions.len();
            }
            Err(EngineError::Rejected(r) | EngineError::Denied(r)) => {
                report.refused.extend(refusals(*line_no, vec![r]))
            }
            Err(EngineError::Invalid(rs)) => report.refused.extend(refusals(*line_no, rs)),
            Err(other) => return Err(other.into()),
        }
        if done % 256 == 0 {
            progress(done);
        }
    }
    progress(report.lines);
    Ok(report)
}
