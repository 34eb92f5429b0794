//! The commands that write: `init`, `import` (commands, or the restore of an export),
//! `import-csv`, `erase-person`, `export` (which writes a file, and with `--reveal-personal` a
//! disclosure event), and `verify` (log and vault).
//!
//! Every writing command on a store runs as a named actor (`--actor` / `ANQUAN_ACTOR`) and needs
//! a store that enforces roles (`anquan init --admin NAME`): the command line has no way to tell
//! who is typing, so it is authorised exactly as a host authorises its users.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use anquan::engine::Engine;
use anquan::events::access::{Role, Scope};
use anquan::events::EntityId;
use anquan::interface::transfer::{Anchor, ImportOptions, RestoreOptions};
use anquan::store::EventStore;

use crate::{end_progress, open_existing, open_input, open_vault, progress_of};

fn actor_id(actor: Option<&str>, what: &str) -> Result<EntityId> {
    let actor = actor.with_context(|| {
        format!(
            "{what} needs the actor it runs as: --actor NAME (or ANQUAN_ACTOR); the store authorises it by its roles"
        )
    })?;
    EntityId::new(actor).map_err(|e| anyhow::anyhow!("--actor: {e}"))
}

/// Whether a folder already holds an anquan store (its journal, or sled's log).
pub fn is_store(dir: &Path) -> bool {
    dir.join("anquan.journal").exists() || dir.join("db").exists()
}

/// Refuses a folder that holds files but no store: a store is never created among someone
/// else's files.
pub fn refuse_foreign_folder(dir: &Path, what: &str) -> Result<()> {
    if !is_store(dir) {
        if let Ok(mut entries) = std::fs::read_dir(dir) {
            anyhow::ensure!(
                entries.next().is_none(),
                "{} holds other files and no anquan store; {what} needs a new or empty folder (--store DIR)",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Opens the store in `dir`, creating it only in a new or empty folder.
pub fn open_or_create(dir: &Path) -> Result<EventStore> {
    refuse_foreign_folder(dir, "a new store")?;
    EventStore::open_dir(dir, crate::cluster::store_options(true))
        .with_context(|| format!("cannot open or create the store at {}", dir.display()))
}

/// An engine over an existing store that enforces roles, with its vault.
fn writing_engine(dir: &Path) -> Result<Engine> {
    let store = EventStore::open_dir(dir, crate::cluster::store_options(false))
        .with_context(|| format!("cannot open the store at {}, so nothing was written", dir.display()))?;
    let engine = Engine::new(store)?.with_vault(open_vault(dir)?);
    anyhow::ensure!(
        engine.enforces_roles()?,
        "the store at {} does not enforce roles, so the command line cannot tell who may write; run `anquan init --admin NAME --store {}` first",
        dir.display(),
        dir.display()
    );
    Ok(engine)
}

fn is_district_admin(engine: &Engine, actor: &EntityId) -> Result<bool> {
    Ok(engine.grants_of(actor)?.iter().any(|g| g.role == Role::Administrator && g.scope == Scope::District))
}

/// A command sent from the command line: a fresh id, now.
fn envelope(actor: &EntityId, command: anquan::domain::Command) -> anquan::domain::CommandEnvelope {
    anquan::domain::CommandEnvelope {
        command_id: uuid::Uuid::now_v7(),
        actor: actor.clone(),
        issued_at: chrono::Utc::now(),
        correlation_id: None,
        causation_id: None,
        command,
    }
}

pub fn init(dir: &Path, admin: &str, reason: Option<String>) -> Result<()> {
    let admin = EntityId::new(admin).map_err(|e| anyhow::anyhow!("--admin: {e}"))?;
    let store = open_or_create(dir)?;
    let engine = Engine::new(store)?.with_vault(open_vault(dir)?);
    let command = anquan::domain::Command::Access(anquan::domain::access::AccessCommand::EnforceRoles(
        anquan::domain::access::EnforceRoles { actor_id: admin.clone(), reason },
    ));
    let out = engine.execute(&envelope(&admin, command))?;
    engine.into_store().close()?;
    println!(
        "{} enforces roles from position {}; {admin} is its administrator. Grant roles with access.grant_role commands (anquan import --actor {admin}).",
        dir.display(),
        out.positions.first().copied().unwrap_or_default()
    );
    Ok(())
}

/// Lines in a file (not standard input), for a progress bar's total: counted in blocks, so a
/// huge line costs no memory.
fn count_lines(file: &str) -> Option<u64> {
    use std::io::Read;
    if file == "-" {
        return None;
    }
    let mut f = std::fs::File::open(file).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(n),
            Ok(k) => n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64,
            Err(_) => return None,
        }
    }
}

/// How a restore is anchored outside the file.
pub struct RestoreArgs {
    pub expect_head: Option<String>,
    pub signature: Option<PathBuf>,
    pub public_key: Option<String>,
}

/// Whether the input is an export: its first non-blank line (read within the line limit)
/// carries `payload_hex`. Returns the lines read so far, to be read again.
fn peek_export(input: &mut dyn std::io::BufRead) -> Result<(bool, Vec<u8>)> {
    let mut seen = Vec::new();
    let mut lines =
        anquan::interface::transfer::lines::Lines::new(&mut *input, anquan::interface::transfer::MAX_EXPORT_LINE);
    while let Some((_, text)) = lines.next_line()? {
        match text {
            Ok(t) if t.trim().is_empty() => seen.extend_from_slice(b"\n"),
            Ok(t) => {
                let is_export = serde_json::from_str::<serde_json::Value>(&t)
                    .ok()
                    .is_some_and(|v| v.get("payload_hex").is_some() || v.get("trailer").is_some());
                seen.extend_from_slice(t.as_bytes());
                seen.push(b'\n');
                return Ok((is_export, seen));
            }
            // Not readable: let the command import name the line.
            Err(_) => return Ok((false, Vec::new())),
        }
    }
    Ok((false, seen))
}

pub fn import(
    dir: &Path,
    actor: Option<&str>,
    file: &str,
    all_or_nothing: bool,
    check: bool,
    json: bool,
    restore: RestoreArgs,
) -> Result<()> {
    use std::io::Read;
    let mut input = open_input(file)?;
    let (is_export, seen) = peek_export(&mut *input)?;
    let whole = std::io::BufReader::new(std::io::Cursor::new(seen).chain(input));
    if is_export {
        anyhow::ensure!(!all_or_nothing, "--all-or-nothing applies to commands; a restore is all or nothing by nature");
        return restore_export(dir, file, whole, check, json, restore);
    }
    anyhow::ensure!(
        restore.expect_head.is_none() && restore.signature.is_none() && restore.public_key.is_none(),
        "--expect-head, --signature and --public-key check the restore of an export; {file} holds commands"
    );
    let run_as = actor_id(actor, "importing commands")?;
    let engine = writing_engine(dir)?;
    let mut tick = progress_of("commands", count_lines(file));
    let options = ImportOptions { all_or_nothing, check_only: check, run_as: Some(run_as) };
    let report = anquan::interface::transfer::import_commands(&engine, whole, &options, |n| tick(n as u64));
    end_progress();
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if check { "would be accepted" } else { "accepted" };
        println!(
            "{} lines: {} commands {verb} ({} events), {} already done, {} refusals{}",
            report.lines,
            report.accepted,
            report.events_written,
            report.already_done,
            report.refused.len(),
            if check {
                "; checked only, nothing written"
            } else if report.rolled_back {
                "; nothing written (all-or-nothing)"
            } else {
                ""
            }
        );
        for r in &report.refused {
            println!("  line {:>6}  {:<32} {:<28} {}", r.line, r.field, r.rule, r.message);
        }
    }
    if report.refused.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} lines refused",
            report.refused.iter().map(|r| r.line).collect::<std::collections::BTreeSet<_>>().len(),
            report.lines
        )
    }
}

fn restore_export(
    dir: &Path,
    file: &str,
    input: impl std::io::BufRead,
    check: bool,
    json: bool,
    args: RestoreArgs,
) -> Result<()> {
    let key = args
        .public_key
        .as_deref()
        .map(|k| anquan::engine::notary::verifying_key_from_hex(k.trim()))
        .transpose()
        .context("--public-key")?;
    let signed_head = match (&args.signature, &key) {
        (Some(path), Some(key)) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let signed: anquan::engine::notary::SignedHead =
                serde_json::from_str(&text).with_context(|| format!("{} is not a signed head", path.display()))?;
            Some((signed, *key))
        }
        (Some(_), None) => anyhow::bail!("--signature needs the notary's --public-key to check it with"),
        _ => None,
    };
    let expect_head = match &args.expect_head {
        Some(h) => {
            let bytes = anquan::interface::transfer::from_hex_hash(h.trim())
                .with_context(|| format!("--expect-head {h:?} is not a 64-digit hex hash"))?;
            Some(bytes)
        }
        None => None,
    };
    let options = RestoreOptions {
        check_only: check,
        expect_head,
        // The trailer's signature is checked with the key when no separate signed head is given.
        trailer_key: if signed_head.is_none() { key } else { None },
        signed_head,
    };
    let report = anquan::interface::transfer::restore_export(
        dir,
        input,
        &options,
        progress_of("events checked", count_lines(file)),
    );
    end_progress();
    let report = report.with_context(|| {
        if check {
            format!("{file} does not check out; nothing was written")
        } else {
            format!("{file} was not restored; nothing was written to {}", dir.display())
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let what = if check { "checked" } else { "restored" };
    println!(
        "{what} {} events{}; every hash, position and the trailer agree; head hash {}",
        report.events,
        if check { String::new() } else { format!(" into {}", dir.display()) },
        report.head_hash
    );
    for anchor in &report.anchors {
        match anchor {
            Anchor::None => println!(
                "not checked against anything outside the file: compare the head hash with a record kept elsewhere, or give --expect-head HASH or --signature FILE --public-key KEY"
            ),
            Anchor::ExpectedHead => println!("the head hash is the expected one"),
            Anchor::SignedHead { events, public_key } => {
                println!("the first {events} events match a head signed by {public_key}")
            }
        }
    }
    if !check {
        println!("personal fields stay sealed: copy the vault folder (vault/) from the original store to open them");
    }
    Ok(())
}

pub fn import_csv(dir: &Path, actor: Option<&str>, file: &Path, mapping: &Path, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(mapping).with_context(|| format!("cannot read {}", mapping.display()))?;
    let mapping = anquan::interface::csv_import::Mapping::from_toml(&text)
        .with_context(|| format!("in {}", mapping.display()))?;
    let actor = actor_id(actor, "import-csv")?;
    let engine = writing_engine(dir)?;
    let source =
        EntityId::new(mapping.source.actor.clone()).map_err(|e| anyhow::anyhow!("the mapping's actor: {e}"))?;
    anyhow::ensure!(
        actor == source || is_district_admin(&engine, &actor)?,
        "the mapping's commands are sent by {source}; run as {source}, or as a district administrator importing on its behalf (not {actor})"
    );
    let input = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = count_lines(&file.to_string_lossy()).map(|n| n.saturating_sub(1));
    let report = anquan::interface::csv_import::import_incidents(&engine, &mapping, input, progress_of("rows", rows));
    end_progress();
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} rows: {} imported, {} already imported, {} rejected, {} flags",
        report.rows,
        report.imported,
        report.already_imported,
        report.rejected.len(),
        report.flagged.len()
    );
    for (k, n) in &report.rejected_by_kind {
        println!("  rejected  {n:>6}  {k}");
    }
    for (k, n) in &report.flagged_by_kind {
        println!("  flagged   {n:>6}  {k}");
    }
    for r in report.rejected.iter().take(5) {
        println!("  e.g. line {:>6} {:<14} {}", r.line, r.id, r.reason);
    }
    println!("deaths by year:");
    for (y, n) in &report.deaths_by_year {
        println!("  {y}  {n:>6}");
    }
    Ok(())
}

pub fn erase_person(dir: &Path, actor: Option<&str>, person: &str, reason: String) -> Result<()> {
    let actor = actor_id(actor, "erase-person")?;
    let engine = writing_engine(dir)?;
    let person = EntityId::new(person).map_err(|e| anyhow::anyhow!("person: {e}"))?;
    let vault = engine.vault().context("the engine has no vault")?;
    // Asked before the key goes: afterwards the name cannot be known.
    let mentions = anquan::engine::privacy::free_text_mentions(engine.store(), vault, &person)?;
    let request = anquan::engine::EraseRequest {
        person_id: person.clone(),
        actor,
        reason,
        issued_at: chrono::Utc::now(),
        command_id: uuid::Uuid::now_v7(),
    };
    let out = engine.erase_person(&request)?;
    println!(
        "erased {person}: key destroyed; audit event at position {}{}; head hash {}",
        out.positions.first().map(u64::to_string).unwrap_or_else(|| "?".into()),
        if out.already_committed { " (recorded earlier)" } else { "" },
        engine.store().head().hash_hex()
    );
    if mentions.fields > 0 {
        println!(
            "{} free-text fields still mention the person's name or ID number (events at positions {}): free text is not sealed; review them",
            mentions.fields,
            mentions.positions.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        );
    } else {
        println!("no free-text field mentions the person's name or ID number");
    }
    Ok(())
}

pub fn export(
    dir: &Path,
    actor: Option<&str>,
    out: Option<PathBuf>,
    reveal_personal: bool,
    reason: Option<String>,
    sign_key: Option<PathBuf>,
) -> Result<()> {
    let sign = match &sign_key {
        Some(path) => {
            let hex = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(anquan::engine::notary::signing_key_from_hex(hex.trim())?)
        }
        None => None,
    };
    let now = anquan::store::Timestamp::from_chrono(chrono::Utc::now());
    let (store, vault): (EventStore, Option<Arc<anquan::engine::privacy::Vault>>) = if reveal_personal {
        let actor = actor_id(actor, "export --reveal-personal")?;
        let reason = reason.context("export --reveal-personal needs --reason: the disclosure is recorded with it")?;
        let engine = writing_engine(dir)?;
        let head = engine.store().head();
        let command = anquan::domain::Command::Access(anquan::domain::access::AccessCommand::RecordPersonalExport(
            anquan::domain::access::RecordPersonalExport {
                actor_id: actor.clone(),
                reason,
                events: head.next_position,
                head_hash: head.hash_hex(),
            },
        ));
        engine.execute(&envelope(&actor, command)).context("the disclosure was not allowed; nothing was exported")?;
        let vault = engine.vault().map(|_| open_vault(dir)).transpose()?;
        (engine.into_store(), vault)
    } else {
        anyhow::ensure!(reason.is_none(), "--reason goes with --reveal-personal");
        (open_existing(dir)?, None)
    };
    let options =
        anquan::interface::transfer::ExportOptions { reveal: vault.as_deref(), sign: sign.as_ref().map(|k| (k, now)) };
    let n = match &out {
        Some(path) => {
            let f = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            let n = anquan::interface::transfer::export_with(
                &store,
                &options,
                &mut std::io::BufWriter::new(f),
                progress_of("exported", Some(store.head().next_position)),
            );
            end_progress();
            n?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            anquan::interface::transfer::export_with(&store, &options, &mut w, |_| {})?
        }
    };
    eprintln!(
        "exported {n} events; head hash {}{}{}",
        store.head().hash_hex(),
        if sign.is_some() { "; trailer signed" } else { "" },
        if reveal_personal { "; personal fields opened (recorded in the log)" } else { "; personal fields sealed" }
    );
    Ok(())
}

pub fn verify(dir: &Path) -> Result<()> {
    let store = open_existing(dir)?;
    let report = store.verify()?;
    if let Some(p) = &report.problem {
        anyhow::bail!("integrity check failed at position {}: {}", p.position, p.detail);
    }
    println!(
        "verified {} events in {} streams ({} segments); head hash {}",
        report.events, report.streams, report.segments, report.computed_head_hash
    );
    // In cluster mode the folder is this node's copy of the tenant's vault: opening it brings in
    // the keys and erasures the cluster holds before the copy is checked.
    let _copy = if crate::cluster::clustered() { Some(open_vault(dir)?) } else { None };
    let vault = anquan::engine::privacy::verify_vault(&store, &dir.join("vault"))?;
    if let Some(first) = vault.problems.first() {
        for p in &vault.problems {
            eprintln!(
                "vault: {}{}",
                p.detail,
                p.position.map(|at| format!(" (log position {at})")).unwrap_or_default()
            );
        }
        anyhow::bail!(
            "the key vault does not match the log: {} problems, the first: {}",
            vault.problems.len(),
            first.detail
        );
    }
    if vault.no_vault {
        println!(
            "vault: none at {}; the sealed values of {} persons cannot be opened here (copy the vault folder from the original store)",
            dir.join("vault").display(),
            vault.persons
        );
    } else {
        println!(
            "vault: {} persons with sealed values, {} keys open them, {} erased",
            vault.persons, vault.keys_good, vault.erased
        );
    }
    Ok(())
}

/// Writes a secret (a key) readable by its owner only (0600), never replacing a file.
pub fn write_secret_file(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}
