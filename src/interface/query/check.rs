//! Checking published figures against the log, years later: `anquan check-figures FILE`.
//!
//! A JSON output or an HTML report carries [`StoredFigures`]: the question, the answer and its
//! [`Basis`] (log position, chain hash there, reference date). Checking proves the log still
//! holds exactly the events the figures were computed from (the chain hash at that position;
//! the log may have grown since) and recomputes every answer there, naming each figure that no
//! longer holds by its JSON pointer. A report signed with the notary key carries an Ed25519
//! signature over its figures, checked with the public key.
//!
//! Invariants:
//! - Recomputation folds to the recorded position exactly and uses the recorded reference date,
//!   so a figure that still holds is equal, not close (the same code computes it).
//! - The signed message is `"anquan.figures.v1\0" ‖ BLAKE3(figures JSON bytes as embedded)`.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ask::{answer, hash_at};
use super::error::QueryError;
use super::types::{Basis, Figures, StoredFigures};
use crate::projections::AllProjections;
use crate::store::{to_hex, EventStore};

const SIGNED_FORMAT: &str = "anquan.figures.v1";

/// A figure that no longer holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// JSON pointer into the answer (`/comparison/total/deaths/current`).
    pub pointer: String,
    pub recorded: Value,
    pub recomputed: Value,
}

/// What checking one set of figures found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureCheck {
    /// The query's kind (`stats`, `kpis`, …).
    pub kind: String,
    pub basis: Basis,
    /// `None`: the log's first `position` events are the ones the figures came from.
    pub log_differs: Option<String>,
    /// Figures compared (leaves of the answer).
    pub compared: usize,
    pub differences: Vec<Difference>,
}

impl FigureCheck {
    pub fn holds(&self) -> bool {
        self.log_differs.is_none() && self.differences.is_empty()
    }
}

/// The signature of a report's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiguresSignature {
    pub format: String,
    pub public_key: String,
    /// Hex BLAKE3 of the figures JSON as embedded.
    pub figures_blake3: String,
    pub signature: String,
}

fn message(figures_json: &[u8]) -> Vec<u8> {
    let mut m = SIGNED_FORMAT.as_bytes().to_vec();
    m.push(0);
    m.extend_from_slice(blake3::hash(figures_json).as_bytes());
    m
}

/// Signs the figures JSON bytes with a notary key.
pub fn sign_figures(key: &SigningKey, figures_json: &[u8]) -> FiguresSignature {
    FiguresSignature {
        format: SIGNED_FORMAT.into(),
        public_key: to_hex(key.verifying_key().as_bytes()),
        figures_blake3: blake3::hash(figures_json).to_hex().to_string(),
        signature: to_hex(&key.sign(&message(figures_json)).to_bytes()),
    }
}

/// Checks a signature over the figures JSON bytes with the expected public key.
pub fn verify_figures(sig: &FiguresSignature, key: &VerifyingKey, figures_json: &[u8]) -> Result<(), String> {
    if sig.format != SIGNED_FORMAT {
        return Err(format!("unknown signature format {:?}", sig.format));
    }
    if !sig.public_key.eq_ignore_ascii_case(&to_hex(key.as_bytes())) {
        return Err(format!("signed by {}, not by the given key", sig.public_key));
    }
    let bytes: Vec<u8> = (0..sig.signature.len())
        .step_by(2)
        .map(|i| sig.signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()
        .ok_or("the signature is not hex")?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| "the signature is not 64 bytes")?;
    key.verify(&message(figures_json), &Signature::from_bytes(&bytes))
        .map_err(|_| "the signature does not verify: the figures were changed after signing".to_string())
}

/// The figures as JSON values, for storing beside an answer.
pub fn to_stored(figures: &Figures) -> Result<StoredFigures, QueryError> {
    let value = serde_json::to_value(figures).map_err(|e| QueryError::Invalid(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| QueryError::Invalid(e.to_string()))
}

/// Checks each set of figures against the store (one fold per distinct position).
pub fn check(store: &EventStore, figures: &[StoredFigures]) -> Result<Vec<FigureCheck>, QueryError> {
    let mut folded: Option<(u64, AllProjections)> = None;
    let mut out = Vec::with_capacity(figures.len());
    let mut order: Vec<usize> = (0..figures.len()).collect();
    order.sort_by_key(|i| figures[*i].basis.position);
    let mut results: Vec<Option<FigureCheck>> = vec![None; figures.len()];
    for i in order {
        let f = &figures[i];
        let kind = serde_json::to_value(&f.query)
            .ok()
            .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let position = f.basis.position;
        let head = store.head().next_position;
        let log_differs = if position > head {
            Some(format!("the figures were computed from {position} events; this log holds {head}"))
        } else {
            let hash = hash_at(store, position)?;
            (hash != f.basis.head_hash.to_ascii_lowercase()).then(|| {
                format!(
                    "the log's first {position} events hash to {hash}, the figures were computed from {}",
                    f.basis.head_hash
                )
            })
        };
        let mut check = FigureCheck { kind, basis: f.basis.clone(), log_differs, compared: 0, differences: Vec::new() };
        if check.log_differs.is_none() {
            if folded.as_ref().is_none_or(|(p, _)| *p != position) {
                folded = Some((position, AllProjections::as_of(store, position)?.0));
            }
            if let Some((_, all)) = &folded {
                let recomputed = serde_json::to_value(answer(all, &f.query, f.basis.on)?)
                    .map_err(|e| QueryError::Invalid(e.to_string()))?;
                diff(&f.result, &recomputed, String::new(), &mut check);
            }
        }
        results[i] = Some(check);
    }
    out.extend(results.into_iter().flatten());
    Ok(out)
}

/// Every leaf where `recorded` and `recomputed` differ, by JSON pointer.
fn diff(recorded: &Value, recomputed: &Value, pointer: String, check: &mut FigureCheck) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (recorded, recomputed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{pointer}/{}", escape(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, p, check),
                    (x, y) => {
                        check.compared += 1;
                        check.differences.push(Difference {
                            pointer: p,
                            recorded: x.cloned().unwrap_or(Value::Null),
                            recomputed: y.cloned().unwrap_or(Value::Null),
                        });
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, format!("{pointer}/{i}"), check);
            }
        }
        (x, y) => {
            check.compared += 1;
            if x != y {
                check.differences.push(Difference { pointer, recorded: x.clone(), recomputed: y.clone() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check of some stats figures before anything was compared.
    fn unchecked() -> FigureCheck {
        FigureCheck {
            kind: "stats".into(),
            basis: Basis {
                anquan: "0".into(),
                position: 0,
                head_hash: String::new(),
                as_of: None,
                on: chrono::NaiveDate::MIN,
            },
            log_differs: None,
            compared: 0,
            differences: Vec::new(),
        }
    }

    #[test]
    fn published_figures_read_back_from_their_file_compare_equal() {
        // Percentages from a demo store that the default float parser read back one unit in the
        // last place away, so `check-figures` called them altered.
        let figures = serde_json::json!([-50.275983456333556, 63.634465833758284, 10.385155614696533, 0.1 + 0.2]);
        let published: Value = serde_json::from_slice(&serde_json::to_vec_pretty(&figures).unwrap()).unwrap();
        let mut check = unchecked();
        diff(&published, &figures, String::new(), &mut check);
        assert_eq!(check.compared, 4);
        assert!(check.differences.is_empty(), "{:?}", check.differences);
    }

    #[test]
    fn differences_are_named_by_json_pointer() {
        let a = serde_json::json!({"total": {"deaths": 36, "x/y": [1, 2]}, "gone": 1});
        let b = serde_json::json!({"total": {"deaths": 35, "x/y": [1, 3]}, "new": 2});
        let mut check = unchecked();
        diff(&a, &b, String::new(), &mut check);
        let pointers: Vec<&str> = check.differences.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(pointers, ["/gone", "/new", "/total/deaths", "/total/x~1y/1"]);
        assert_eq!(check.compared, 5);
    }

    #[test]
    fn a_signature_covers_the_exact_bytes() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let sig = sign_figures(&key, b"[1,2]");
        assert!(verify_figures(&sig, &key.verifying_key(), b"[1,2]").is_ok());
        assert!(verify_figures(&sig, &key.verifying_key(), b"[1,3]").is_err());
        let other = SigningKey::from_bytes(&[4u8; 32]);
        assert!(verify_figures(&sig, &other.verifying_key(), b"[1,2]").is_err());
    }
}
