//! `anquan codes` (the codes queries take) and `anquan check-figures` (published figures
//! recomputed from the log).

use std::path::Path;

use anyhow::{Context, Result};

use anquan::interface::query::check::{self, FiguresSignature};
use anquan::interface::query::StoredFigures;
use anquan::store::EventStore;

use crate::out::Labels;
use crate::views::open_existing;

pub fn list(store: &EventStore, labels: &Labels) -> Result<()> {
    let catalog = anquan::events::Catalog::builtin()?;
    println!("{}", labels.t("accident categories (--category):", "事故类别 (--category):"));
    for c in &catalog.categories {
        println!(
            "  {:<24} {:<12} {}{}",
            c.code,
            c.zh,
            c.en,
            if c.graded { labels.t("  [graded: Decree 493]", "  [按493号令分级]") } else { "" }
        );
    }
    println!("{}", labels.t("hazard grades:", "隐患等级:"));
    for g in &catalog.hazard_grades {
        println!("  {:<24} {:<12} {}", g.code, g.zh, g.en);
    }
    let (all, _) = anquan::projections::AllProjections::as_of(store, store.head().next_position)?;
    println!("{}", labels.t("communities of this store (--community):", "本库社区 (--community):"));
    for c in all.accident_stats.communities() {
        println!("  {:<24} {}", c.community_id, c.name);
    }
    Ok(())
}

/// The figures in a file: one JSON answer, an array of them, or an HTML report's embedded block
/// (with its signature, if signed). Returns the figures, the exact embedded bytes and the
/// signature.
fn read_figures(file: &Path) -> Result<(Vec<StoredFigures>, String, Option<FiguresSignature>)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
        let figures: Vec<StoredFigures> = match value {
            serde_json::Value::Array(items) => items.into_iter().map(serde_json::from_value).collect::<Result<_, _>>(),
            one => serde_json::from_value(one).map(|f| vec![f]),
        }
        .with_context(|| format!("{} holds no figures of anquan (basis, query, result)", file.display()))?;
        return Ok((figures, String::new(), None));
    }
    let block = |id: &str| -> Option<String> {
        let open = format!("<script type=\"application/json\" id=\"{id}\">");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find("</script>")? + start;
        Some(text[start..end].to_string())
    };
    let figures_json = block("anquan-figures")
        .with_context(|| format!("{} is neither JSON figures nor an anquan report", file.display()))?;
    let figures: Vec<StoredFigures> = serde_json::from_str(&unescape(&figures_json))
        .with_context(|| format!("the figures embedded in {} do not parse", file.display()))?;
    let signature = block("anquan-signature")
        .map(|s| serde_json::from_str(&unescape(&s)))
        .transpose()
        .with_context(|| format!("the signature embedded in {} does not parse", file.display()))?;
    Ok((figures, unescape(&figures_json), signature))
}

/// JSON embedded in a `<script>` element escapes `<` as `\u003c`; the parser reads it either
/// way, and the signature covers the JSON as written before embedding.
fn unescape(s: &str) -> String {
    s.replace("\\u003c", "<")
}

pub fn check_figures(dir: &Path, file: &Path, public_key: Option<&str>) -> Result<()> {
    let (figures, figures_json, signature) = read_figures(file)?;
    let mut ok = true;
    match (&signature, public_key) {
        (Some(sig), Some(key)) => {
            let key = anquan::engine::notary::verifying_key_from_hex(key.trim())?;
            match check::verify_figures(sig, &key, figures_json.as_bytes()) {
                Ok(()) => println!("signature: good (signed by {})", sig.public_key),
                Err(why) => {
                    ok = false;
                    println!("signature: BAD — {why}");
                }
            }
        }
        (Some(sig), None) => println!("signature: present (by {}), not checked: give --public-key", sig.public_key),
        (None, Some(_)) => {
            ok = false;
            println!("signature: none, but --public-key was given");
        }
        (None, None) => {}
    }
    let store = open_existing(dir)?;
    for c in check::check(&store, &figures)? {
        let head = format!("{} (computed from {} events, for {})", c.kind, c.basis.position, c.basis.on);
        if let Some(why) = &c.log_differs {
            ok = false;
            println!("{head}: the log differs — {why}");
            continue;
        }
        if c.differences.is_empty() {
            println!("{head}: all {} figures hold", c.compared);
        } else {
            ok = false;
            println!("{head}: {} of {} figures do NOT hold", c.differences.len(), c.compared);
            for d in &c.differences {
                println!("  {}: published {}, recomputed {}", d.pointer, d.recorded, d.recomputed);
            }
        }
    }
    anyhow::ensure!(ok, "some figures in {} do not hold", file.display());
    Ok(())
}
