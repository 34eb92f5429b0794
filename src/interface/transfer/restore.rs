//! Restoring an export: proving the file is a whole, unaltered log before a store is made of it.
//!
//! Invariants:
//! - Every exported event's `hash` must equal the chain recomputed from its own fields (the
//!   record bytes the store hashes) and the hash before it; positions must run 0, 1, 2, … without
//!   a gap; the file must end with its trailer, whose event count and head hash match. So an
//!   altered field, a forged or removed event, a reordered or cut file is refused.
//! - A consistent chain proves only that the file was not changed *after* someone computed it:
//!   BLAKE3 is unkeyed, so a forger can recompute every hash. A restore is anchored only by a head
//!   from outside the file: a signed head checked with its public key (`anquan sign`, or the
//!   export's signed trailer) or a head hash the operator names. [`RestoreReport::anchors`] says
//!   which, and [`Anchor::None`] says nothing outside the file was checked.
//! - All or nothing: the store is built in a staging folder beside the target and renamed into
//!   place only after every check passed and it is durable. A refusal removes the staging folder;
//!   a kill leaves at most the staging folder (removed by the next restore), never a partial
//!   store at the target.
//! - `check_only` runs every check and writes nothing at all.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::lines::Lines;
use super::{from_hex, recompute, ExportedEvent, Trailer, TransferError, MAX_EXPORT_LINE};
use crate::engine::notary::{self, SignedHead};
use crate::store::{
    to_hex, Durability, EventStore, ExpectedVersion, Hash, ManualClock, ProposedEvent, RecordedEvent, StoreOptions,
    Timestamp, GENESIS_HASH,
};

/// What a restore must check the file against, beyond its own chain.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Run every check, write nothing.
    pub check_only: bool,
    /// The head hash the operator expects the whole file to end with.
    pub expect_head: Option<Hash>,
    /// A signed head (from `anquan sign`) and the key to check it with: the file's first
    /// `next_position` events must hash to it.
    pub signed_head: Option<(SignedHead, VerifyingKey)>,
    /// The key to check the export's own signed trailer with, if it carries one.
    pub trailer_key: Option<VerifyingKey>,
}

/// What the restored head was checked against, outside the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Anchor {
    /// Nothing outside the file: the chain is consistent, which a forger can also achieve.
    None,
    /// The head hash the operator named.
    ExpectedHead,
    /// A signed head covering the first `events` events, signed by `public_key`.
    SignedHead { events: u64, public_key: String },
}

/// What a restore (or its check) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub events: u64,
    pub head_hash: String,
    pub anchors: Vec<Anchor>,
    /// False for a check: nothing was written.
    pub written: bool,
}

impl RestoreReport {
    /// Whether anything outside the file vouched for it.
    pub fn anchored(&self) -> bool {
        self.anchors.iter().any(|a| *a != Anchor::None)
    }
}

fn bad(line: usize, reason: impl Into<String>) -> TransferError {
    TransferError::BadLine { line, reason: reason.into() }
}

/// One line of an export file.
#[derive(Deserialize)]
#[serde(untagged)]
enum ExportLine {
    Trailer { trailer: Trailer },
    Event(Box<ExportedEvent>),
}

/// An event line that passed its checks, ready to append.
struct Checked {
    line: usize,
    position: u64,
    expected: ExpectedVersion,
    stream: String,
    proposed: ProposedEvent,
    recorded_at: Timestamp,
}

/// The chain walk over an export's lines, shared by the check and the restore.
struct Walk {
    next: u64,
    prev: Hash,
    versions: HashMap<String, u64>,
    /// The hash after `signed.next_position` events, once reached.
    at_signed: Option<Hash>,
    signed_position: Option<u64>,
    trailer: Option<(usize, Trailer)>,
}

impl Walk {
    fn new(signed_position: Option<u64>) -> Self {
        Self {
            next: 0,
            prev: GENESIS_HASH,
            versions: HashMap::new(),
            at_signed: (signed_position == Some(0)).then_some(GENESIS_HASH),
            signed_position,
            trailer: None,
        }
    }

    /// Checks one event line; returns what to append: the stream's expected version, the
    /// stream, the event, and its recorded-at.
    fn event(&mut self, line: usize, e: ExportedEvent) -> Result<Checked, TransferError> {
        if let Some((at, _)) = self.trailer {
            return Err(bad(line, format!("an event after the trailer on line {at}")));
        }
        if e.position != self.next {
            return Err(TransferError::PositionMismatch { line, expected: self.next, actual: e.position });
        }
        let payload = from_hex(&e.payload_hex).ok_or_else(|| bad(line, "payload_hex is not hex"))?;
        let event = RecordedEvent {
            position: e.position,
            stream: e.stream.as_str().into(),
            version: e.version,
            event_type: e.event_type.as_str().into(),
            schema_version: e.schema_version,
            event_id: e.event_id,
            occurred_at: e.occurred_at,
            recorded_at: e.recorded_at,
            actor: e.actor.as_str().into(),
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            payload,
            prev_hash: self.prev,
            hash: self.prev,
        };
        let hash = recompute(&self.prev, &event).map_err(|err| bad(line, err.to_string()))?;
        if to_hex(&hash) != e.hash.to_ascii_lowercase() {
            return Err(TransferError::HashMismatch {
                line,
                position: e.position,
                exported: e.hash,
                computed: to_hex(&hash),
            });
        }
        let expected_version = self.versions.get(e.stream.as_str()).map_or(0, |v| v + 1);
        if e.version != expected_version {
            return Err(bad(
                line,
                format!("stream {} is at version {expected_version} here, the event says {}", e.stream, e.version),
            ));
        }
        self.versions.insert(e.stream.clone(), e.version);
        self.prev = hash;
        self.next += 1;
        if self.signed_position == Some(self.next) {
            self.at_signed = Some(hash);
        }
        let expected = match e.version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v - 1),
        };
        let proposed = ProposedEvent {
            event_id: event.event_id,
            event_type: e.event_type,
            schema_version: event.schema_version,
            occurred_at: event.occurred_at,
            actor: e.actor,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            payload: event.payload,
        };
        Ok(Checked { line, position: e.position, expected, stream: e.stream, proposed, recorded_at: e.recorded_at })
    }

    fn trailer(&mut self, line: usize, t: Trailer) -> Result<(), TransferError> {
        if let Some((at, _)) = self.trailer {
            return Err(bad(line, format!("a second trailer (the first is on line {at})")));
        }
        if t.format != super::EXPORT_FORMAT {
            return Err(bad(
                line,
                format!("unknown export format {:?} (expected {:?})", t.format, super::EXPORT_FORMAT),
            ));
        }
        if t.events != self.next {
            return Err(TransferError::Truncated {
                detail: format!("the trailer counts {} events, the file holds {}", t.events, self.next),
            });
        }
        if t.head_hash.to_ascii_lowercase() != to_hex(&self.prev) {
            return Err(TransferError::Truncated {
                detail: format!("the trailer's head hash {} is not the chain's {}", t.head_hash, to_hex(&self.prev)),
            });
        }
        self.trailer = Some((line, t));
        Ok(())
    }

    /// The checks that need the whole file.
    fn finish(&self, options: &RestoreOptions) -> Result<Vec<Anchor>, TransferError> {
        let Some((_, trailer)) = &self.trailer else {
            return Err(TransferError::Truncated {
                detail: format!(
                    "the file ends after {} events without its trailer: it was cut short or is not a whole export",
                    self.next
                ),
            });
        };
        let head = to_hex(&self.prev);
        let mut anchors = Vec::new();
        if let Some(expected) = &options.expect_head {
            if *expected != self.prev {
                return Err(TransferError::Anchor {
                    detail: format!("the file's head hash is {head}, not the expected {}", to_hex(expected)),
                });
            }
            anchors.push(Anchor::ExpectedHead);
        }
        if let Some((signed, key)) = &options.signed_head {
            let n = signed.next_position;
            let Some(at) = self.at_signed else {
                return Err(TransferError::Anchor {
                    detail: format!("the signed head covers {n} events but the file holds only {}", self.next),
                });
            };
            check_signed(signed, key, &at)?;
            anchors.push(Anchor::SignedHead { events: n, public_key: signed.public_key.clone() });
        }
        if let (Some(key), Some(signed)) = (&options.trailer_key, &trailer.signed_head) {
            if signed.next_position != self.next {
                return Err(TransferError::Anchor {
                    detail: format!(
                        "the trailer's signature covers {} events, the file holds {}",
                        signed.next_position, self.next
                    ),
                });
            }
            check_signed(signed, key, &self.prev)?;
            anchors.push(Anchor::SignedHead { events: self.next, public_key: signed.public_key.clone() });
        } else if options.trailer_key.is_some() {
            return Err(TransferError::Anchor {
                detail: "a public key was given for the trailer's signature, but the export is not signed".into(),
            });
        }
        if anchors.is_empty() {
            anchors.push(Anchor::None);
        }
        Ok(anchors)
    }
}

fn check_signed(signed: &SignedHead, key: &VerifyingKey, actual: &Hash) -> Result<(), TransferError> {
    let hash = notary::verify_signature(signed, key).map_err(|e| TransferError::Anchor { detail: e.to_string() })?;
    if hash != *actual {
        return Err(TransferError::Anchor {
            detail: format!(
                "after {} events the file hashes to {}, the signed head says {}",
                signed.next_position,
                to_hex(actual),
                to_hex(&hash)
            ),
        });
    }
    Ok(())
}

/// The staging folder of a restore into `target`: a hidden sibling, so the final rename stays
/// on one file system.
fn staging_dir(target: &Path) -> Result<PathBuf, TransferError> {
    let name = target
        .file_name()
        .ok_or_else(|| TransferError::Target { detail: format!("{} names no folder", target.display()) })?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(parent.join(format!(".{}.restoring", name.to_string_lossy())))
}

/// The target must not exist, or be an empty folder.
fn check_target(target: &Path) -> Result<(), TransferError> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(TransferError::Target {
                detail: format!(
                    "{} is not empty; a restore builds a new store and needs a new or empty folder",
                    target.display()
                ),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(TransferError::Target { detail: format!("{} is a file, not a folder", target.display()) })
        }
        Err(e) => Err(e.into()),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Reads every line, checking it on `walk`, and hands each event that passed to `append`; then
/// the checks that need the whole file. Returns the anchors.
fn walk_lines(
    lines: &mut Lines<impl BufRead>,
    walk: &mut Walk,
    options: &RestoreOptions,
    progress: &mut impl FnMut(u64),
    mut append: impl FnMut(Checked) -> Result<(), TransferError>,
) -> Result<Vec<Anchor>, TransferError> {
    while let Some((line, text)) = lines.next_line()? {
        let text = text.map_err(|p| bad(line, p.to_string()))?;
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(line, &text)? {
            ExportLine::Trailer { trailer } => walk.trailer(line, trailer)?,
            ExportLine::Event(e) => {
                append(walk.event(line, *e)?)?;
                if walk.next.is_multiple_of(4096) {
                    progress(walk.next);
                }
            }
        }
    }
    progress(walk.next);
    walk.finish(options)
}

/// Checks an export and, unless `check_only`, restores it as a new store in `target` (a folder
/// that does not exist or is empty). `progress` sees the events checked so far.
pub fn restore_export(
    target: &Path,
    input: impl BufRead,
    options: &RestoreOptions,
    mut progress: impl FnMut(u64),
) -> Result<RestoreReport, TransferError> {
    let mut lines = Lines::new(input, MAX_EXPORT_LINE);
    let mut walk = Walk::new(options.signed_head.as_ref().map(|(s, _)| s.next_position));
    if options.check_only {
        let anchors = walk_lines(&mut lines, &mut walk, options, &mut progress, |_| Ok(()))?;
        return Ok(RestoreReport { events: walk.next, head_hash: to_hex(&walk.prev), anchors, written: false });
    }

    check_target(target)?;
    let staging = staging_dir(target)?;
    if staging.exists() {
        // Left by a restore that was killed: never a store anyone was told about.
        std::fs::remove_dir_all(&staging)?;
    }
    let built = build(&staging, &mut lines, &mut walk, options, &mut progress);
    let anchors = match built {
        Ok(anchors) => anchors,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Re-check at the last moment: nobody may have put anything at the target meanwhile.
    if let Err(e) = check_target(target) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    // rename(2) replaces an empty folder atomically; a missing one is simply created.
    std::fs::rename(&staging, target)?;
    if let Some(parent) = staging.parent() {
        sync_dir(parent)?;
    }
    Ok(RestoreReport { events: walk.next, head_hash: to_hex(&walk.prev), anchors, written: true })
}

fn parse_line(line: usize, text: &str) -> Result<ExportLine, TransferError> {
    serde_json::from_str(text).map_err(|err| bad(line, format!("not an exported event or trailer: {err}")))
}

/// Builds the store in `staging`: every line checked, then appended at its position with its
/// recorded-at; then every outside anchor checked, the store made durable and closed.
fn build(
    staging: &Path,
    lines: &mut Lines<impl BufRead>,
    walk: &mut Walk,
    options: &RestoreOptions,
    progress: &mut impl FnMut(u64),
) -> Result<Vec<Anchor>, TransferError> {
    let clock = ManualClock::new(Timestamp(0));
    let store = EventStore::open_dir(
        staging,
        StoreOptions {
            clock: Arc::new(clock.clone()),
            // One sync at the end: until the rename, nobody relies on the staging folder.
            durability: Durability::Deferred { flush_interval: Duration::from_secs(3600) },
            ..StoreOptions::default()
        },
    )?;
    let result = (|| {
        let anchors = walk_lines(lines, walk, options, progress, |c| {
            clock.set(c.recorded_at);
            let out = store.append(&c.stream, c.expected, vec![c.proposed])?;
            match out.positions.first() {
                Some(p) if *p == c.position => Ok(()),
                other => Err(TransferError::PositionMismatch {
                    line: c.line,
                    expected: c.position,
                    actual: other.copied().unwrap_or(u64::MAX),
                }),
            }
        })?;
        store.flush()?;
        // The store computed its own chain; it must end where the file's did.
        if store.head().hash != walk.prev || store.head().next_position != walk.next {
            return Err(TransferError::Truncated {
                detail: format!(
                    "the restored store ends at {} events with head {}, the file at {} with {}",
                    store.head().next_position,
                    store.head().hash_hex(),
                    walk.next,
                    to_hex(&walk.prev)
                ),
            });
        }
        Ok(anchors)
    })();
    let closed = store.close();
    let anchors = result?;
    closed?;
    sync_dir(staging)?;
    Ok(anchors)
}
