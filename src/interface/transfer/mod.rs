//! Moving data in and out as JSON Lines: export of the whole log, restore of an export into an
//! identical store, and import of commands from other systems.
//!
//! Invariants:
//! - An export line carries the full envelope and the payload's exact bytes (hex), plus the
//!   decoded domain event for people; the last line is a trailer with the event count and head
//!   hash (Ed25519-signed when a notary key is given), so a cut file is caught. The export
//!   recomputes the chain as it writes and stops at the first event that does not link.
//! - Restoring ([`restore::restore_export`]) checks every hash, position and the trailer, and
//!   builds the store aside, so a refused or killed restore leaves no store (see its docs).
//! - Personal fields (PIPL): the decoded `event` shows each sealed value as
//!   `{"personal": "sealed", "person_id", "kind"}` unless the export is asked to open them with a
//!   vault ([`ExportOptions::reveal`]; the CLI records who asked, as an event). `payload_hex` is
//!   always the exact stored bytes (sealed), so a restore gives the same hashes either way.
//! - Importing commands reads the input line by line ([`lines`]: bounded, each problem named
//!   with its line), reports every refused line (line number, field, rule) and writes nothing for
//!   it; with `all_or_nothing`, one refused line means nothing at all is written. A store error
//!   mid-import stops it and says how many lines were committed before.

pub mod lines;
pub mod restore;

use std::io::{BufRead, Write};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{self, CommandEnvelope, Rejection};
use crate::engine::notary::{self, SignedHead};
use crate::engine::privacy::{reveal_json, Vault};
use crate::engine::{Engine, EngineError};
use crate::events::access::{Role, Scope};
use crate::events::{DomainEvent, EntityId};
use crate::store::layout::{chain_hash, encode_record, RecordRef};
use crate::store::{
    to_hex, Direction, EventStore, Hash, RecordedEvent, StoreError, Timestamp, GENESIS_HASH, MAX_EVENTS_PER_APPEND,
};

pub use restore::{restore_export, Anchor, RestoreOptions, RestoreReport};

/// The format tag of an export's trailer.
pub const EXPORT_FORMAT: &str = "anquan.export.v1";

/// Longest line an export may hold: an event's payload (at most 64 KiB) as hex, plus its
/// envelope and decoded form.
pub const MAX_EXPORT_LINE: usize = 1024 * 1024;

/// Longest line of a command file: the engine's command size limit, plus the line's ending.
pub const MAX_COMMAND_LINE: usize = crate::engine::MAX_COMMAND_JSON_BYTES;

/// Errors of export, restore and import (per-line refusals are in [`ImportReport`] instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error("line {line}: event was exported at position {expected} but lands at {actual}")]
    PositionMismatch { line: usize, expected: u64, actual: u64 },
    #[error("line {line}: the event at position {position} does not hash to its exported hash {exported} (recomputed {computed}): the file was altered")]
    HashMismatch { line: usize, position: u64, exported: String, computed: String },
    #[error("the export is not whole: {detail}")]
    Truncated { detail: String },
    #[error("the export does not match what it was checked against: {detail}")]
    Anchor { detail: String },
    #[error("cannot restore here: {detail}")]
    Target { detail: String },
    #[error("the log does not link at position {position}: {detail}; run `anquan verify`")]
    BrokenChain { position: u64, detail: String },
    #[error("all-or-nothing import of {0} events exceeds the {MAX_EVENTS_PER_APPEND}-event limit of one commit")]
    TooLargeForOneCommit(usize),
    #[error("stopped at line {line}: {error}; the {committed} lines before it that were accepted are committed, and running the import again skips them")]
    Interrupted { line: usize, committed: usize, error: Box<EngineError> },
    #[error(transparent)]
    Notary(#[from] notary::NotaryError),
}

/// One exported event: the envelope, the payload bytes, and the decoded event for reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The chain link: BLAKE3 of the previous hash and this event's record. Restore recomputes
    /// it and refuses the file if they differ.
    pub hash: String,
    /// The payload decoded as a domain event (absent if it is not one), personal fields sealed,
    /// opened or marked erased. Informational: restore reads `payload_hex` only.
    pub event: Option<serde_json::Value>,
}

/// The last line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// Events in the file.
    pub events: u64,
    /// Hex chain hash of the last event (all zeros for none).
    pub head_hash: String,
    /// The same head, signed with a notary key, when the export was asked to sign.
    pub signed_head: Option<SignedHead>,
}

impl ExportedEvent {
    /// The exported form of a stored event; personal fields opened with `vault`, else sealed.
    pub fn of(e: &RecordedEvent, vault: Option<&Vault>) -> Self {
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

pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A 32-byte hash from 64 hex digits (either case).
pub fn from_hex_hash(s: &str) -> Option<Hash> {
    from_hex(&s.to_ascii_lowercase())?.try_into().ok()
}

/// The chain hash of an event, recomputed from its fields and the hash before it.
pub(crate) fn recompute(prev: &Hash, e: &RecordedEvent) -> Result<Hash, TransferError> {
    let record = encode_record(&RecordRef {
        position: e.position,
        stream: &e.stream,
        version: e.version,
        event_type: &e.event_type,
        schema_version: e.schema_version,
        event_id: *e.event_id.as_bytes(),
        occurred_at: e.occurred_at.0,
        recorded_at: e.recorded_at.0,
        actor: &e.actor,
        correlation_id: e.correlation_id.map(|u| *u.as_bytes()),
        causation_id: e.causation_id.map(|u| *u.as_bytes()),
        payload: &e.payload,
    })
    .map_err(|err| TransferError::BrokenChain { position: e.position, detail: err.to_string() })?;
    Ok(chain_hash(prev, &record))
}

/// How to export.
#[derive(Debug, Default)]
pub struct ExportOptions<'a> {
    /// Open personal fields with this vault (PIPL: a disclosure; the caller records it). Without
    /// it they stay sealed.
    pub reveal: Option<&'a Vault>,
    /// Sign the trailer's head with this notary key, at this time.
    pub sign: Option<(&'a SigningKey, Timestamp)>,
}

/// Writes every event as one JSON line, then the trailer; returns how many events. Personal
/// fields stay sealed. `progress` sees the count so far.
pub fn export(store: &EventStore, out: &mut impl Write, progress: impl FnMut(u64)) -> Result<u64, TransferError> {
    export_with(store, &ExportOptions::default(), out, progress)
}

/// [`export`], with personal fields opened through `vault` (or marked erased).
pub fn export_with_vault(
    store: &EventStore,
    vault: Option<&Vault>,
    out: &mut impl Write,
    progress: impl FnMut(u64),
) -> Result<u64, TransferError> {
    export_with(store, &ExportOptions { reveal: vault, sign: None }, out, progress)
}

/// Writes the log up to the head seen when it starts, checking the chain as it goes, then the
/// trailer (signed if asked).
pub fn export_with(
    store: &EventStore,
    options: &ExportOptions<'_>,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, TransferError> {
    let end = store.head().next_position;
    let mut from = 0u64;
    let mut prev: Hash = GENESIS_HASH;
    while from < end {
        let page = store.read_all(from, Direction::Forward, 4096)?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in page.iter().filter(|e| e.position < end) {
            let hash = recompute(&prev, e)?;
            if hash != e.hash || e.prev_hash != prev {
                return Err(TransferError::BrokenChain {
                    position: e.position,
                    detail: "the stored hash is not the chain's".into(),
                });
            }
            prev = hash;
            serde_json::to_writer(&mut *out, &ExportedEvent::of(e, options.reveal)).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
        progress(from.min(end));
    }
    let signed_head = options.sign.map(|(key, at)| notary::sign_position(key, end, &prev, at));
    let trailer = Trailer { format: EXPORT_FORMAT.into(), events: end, head_hash: to_hex(&prev), signed_head };
    serde_json::to_writer(&mut *out, &serde_json::json!({ "trailer": trailer })).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(end)
}

/// A line an import refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedLine {
    pub line: usize,
    pub field: String,
    pub rule: String,
    pub message: String,
}

/// What an import of commands did (or, checked, would do).
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
    /// A check: every line decided, nothing written (`events_written` counts what would be).
    pub checked_only: bool,
}

/// Rule codes of lines refused before any command is decided.
pub mod line_rule {
    /// The line is not readable text (too long, not UTF-8, a byte order mark inside the file).
    pub const UNREADABLE: &str = "unreadable_line";
    /// The command's actor is not the one the import runs as.
    pub const ACTOR_MISMATCH: &str = "actor_mismatch";
}

/// How an import of commands runs.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Write nothing unless every line is accepted (one atomic commit).
    pub all_or_nothing: bool,
    /// Decide every line and report, writing nothing.
    pub check_only: bool,
    /// Who runs the import. Each command must name this actor, unless it is a district
    /// administrator, who may import on others' behalf (each command is still authorised as its
    /// own actor). `None`: no such check (a host that authenticated every line itself).
    pub run_as: Option<EntityId>,
}

fn refusals(line: usize, rejections: Vec<Rejection>) -> Vec<RefusedLine> {
    rejections.into_iter().map(|r| RefusedLine { line, field: r.field, rule: r.rule, message: r.message }).collect()
}

/// The refusal of a line an engine would not carry out, or `None` for an error that is not the
/// line's fault (storage: the import must stop).
fn refusal_of(line: usize, error: EngineError) -> Result<Vec<RefusedLine>, EngineError> {
    match error {
        EngineError::Rejected(r) | EngineError::Denied(r) => Ok(refusals(line, vec![r])),
        EngineError::Invalid(rs) => Ok(refusals(line, rs)),
        other => Err(other),
    }
}

/// Reads every line into a command, or the reasons it is none.
struct Parsed {
    line: usize,
    command: Result<CommandEnvelope, Vec<RefusedLine>>,
}

struct CommandLines<R> {
    lines: lines::Lines<R>,
    run_as: Option<EntityId>,
    /// Whether `run_as` may import on others' behalf.
    on_behalf: bool,
}

impl<R: BufRead> CommandLines<R> {
    fn next(&mut self, report: &mut ImportReport) -> Result<Option<Parsed>, TransferError> {
        loop {
            let Some((line, text)) = self.lines.next_line()? else { return Ok(None) };
            let text = match text {
                Ok(t) if t.trim().is_empty() => continue,
                Ok(t) => t,
                Err(problem) => {
                    report.lines += 1;
                    let refused = RefusedLine {
                        line,
                        field: String::new(),
                        rule: line_rule::UNREADABLE.into(),
                        message: problem.to_string(),
                    };
                    return Ok(Some(Parsed { line, command: Err(vec![refused]) }));
                }
            };
            report.lines += 1;
            let command = match domain::parse_command_json(&text) {
                Err(rejections) => Err(refusals(line, rejections)),
                Ok(env) => match &self.run_as {
                    Some(me) if env.actor != *me && !self.on_behalf => Err(vec![RefusedLine {
                        line,
                        field: "/actor".into(),
                        rule: line_rule::ACTOR_MISMATCH.into(),
                        message: format!(
                            "this import runs as {me}, the command names {}; only a district administrator imports on others' behalf",
                            env.actor
                        ),
                    }]),
                    _ => Ok(env),
                },
            };
            return Ok(Some(Parsed { line, command }));
        }
    }
}

/// Imports JSON Lines commands through the engine. Each line is validated against the command
/// schemas and the domain rules; a refused line is reported (with its number) and writes
/// nothing. With `all_or_nothing`, every line is decided first and the whole file is committed
/// at once, or nothing if any line is refused. With `check_only`, nothing is written.
pub fn import_commands(
    engine: &Engine,
    input: impl BufRead,
    options: &ImportOptions,
    mut progress: impl FnMut(usize),
) -> Result<ImportReport, TransferError> {
    let on_behalf = match &options.run_as {
        Some(me) => engine.grants_of(me)?.iter().any(|g| g.role == Role::Administrator && g.scope == Scope::District),
        None => false,
    };
    let mut lines =
        CommandLines { lines: lines::Lines::new(input, MAX_COMMAND_LINE), run_as: options.run_as.clone(), on_behalf };
    let mut report = ImportReport { checked_only: options.check_only, ..ImportReport::default() };
    if !options.all_or_nothing && !options.check_only {
        // Line by line: each accepted line is committed before the next is read.
        let mut committed = 0usize;
        while let Some(p) = lines.next(&mut report)? {
            match p.command {
                Err(refused) => report.refused.extend(refused),
                Ok(env) => match engine.execute(&env) {
                    Ok(out) if out.already_committed => {
                        report.already_done += 1;
                        committed += 1;
                    }
                    Ok(out) => {
                        report.accepted += 1;
                        report.events_written += out.positions.len();
                        committed += 1;
                    }
                    Err(e) => match refusal_of(p.line, e) {
                        Ok(refused) => report.refused.extend(refused),
                        Err(e) => {
                            return Err(TransferError::Interrupted { line: p.line, committed, error: Box::new(e) })
                        }
                    },
                },
            }
            if report.lines.is_multiple_of(256) {
                progress(report.lines);
            }
        }
        progress(report.lines);
        return Ok(report);
    }
    let mut parsed: Vec<(usize, CommandEnvelope)> = Vec::new();
    while let Some(p) = lines.next(&mut report)? {
        match p.command {
            Ok(env) => parsed.push((p.line, env)),
            Err(refused) => report.refused.extend(refused),
        }
    }
    let envelopes: Vec<CommandEnvelope> = parsed.iter().map(|(_, e)| e.clone()).collect();
    // Every line is decided first, so every refusal is listed (all-or-nothing too).
    for ((line, _), result) in parsed.iter().zip(engine.check_commands(&envelopes)?) {
        match result {
            Ok(c) if c.already_committed => report.already_done += 1,
            Ok(c) => {
                report.accepted += 1;
                report.events_written += c.events;
            }
            Err(e) => report.refused.extend(refusal_of(*line, e)?),
        }
    }
    report.refused.sort_by_key(|r| r.line);
    if options.check_only {
        report.rolled_back = options.all_or_nothing && !report.refused.is_empty();
        progress(report.lines);
        return Ok(report);
    }
    if !report.refused.is_empty() {
        report.rolled_back = true;
        report.accepted = 0;
        report.already_done = 0;
        report.events_written = 0;
        return Ok(report);
    }
    match engine.execute_all_or_nothing(&envelopes) {
        Ok(out) => {
            report.accepted = out.commands - out.skipped;
            report.already_done = out.skipped;
            report.events_written = out.positions.len();
        }
        Err(batch) => {
            let line = parsed.get(batch.index).map(|(l, _)| *l).unwrap_or(0);
            match batch.error {
                EngineError::Store(StoreError::TooManyEvents { count, .. }) => {
                    return Err(TransferError::TooLargeForOneCommit(count))
                }
                error => report.refused.extend(refusal_of(line, error)?),
            }
            report.rolled_back = true;
            report.accepted = 0;
            report.already_done = 0;
            report.events_written = 0;
        }
    }
    progress(report.lines);
    Ok(report)
}
