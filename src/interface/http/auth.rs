//! Who is asking: bearer tokens mapped to actors.
//!
//! A token file (JSON, `tokens.json` beside the store by convention, written 0600) holds, per
//! token, the actor it speaks for, whether it may write, and the BLAKE3 hash of the token — never
//! the token itself, which is shown once when it is made (`anquan token`). A request's actor is
//! its token's: a command whose `actor` names someone else is refused, so a body can never claim
//! another actor. What the actor may do is then the engine's business (roles, scopes,
//! segregation of duties); a read-only token writes nothing whatever its actor's roles.
//!
//! Invariants:
//! - Tokens are 256 random bits; only their hash is stored, compared in constant time.
//! - The file is re-read when it changes (its modification time), so `anquan token` takes
//!   effect on a running service without a restart; a file that does not parse keeps the last
//!   good one and says so in the log.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::events::EntityId;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Read and send commands (as its actor, within the actor's roles).
    Write,
    /// Read only (auditors, dashboards).
    Read,
}

/// One token, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub actor: EntityId,
    pub access: Access,
    /// Hex BLAKE3 of the token.
    pub blake3: String,
    /// When it was made (RFC 3339), for people reading the file.
    pub created_at: String,
    /// What it is for (a device, a system), for people.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// Errors of the token file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("token file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path} is not a token file: {detail}")]
    Malformed { path: String, detail: String },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The caller a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: EntityId,
    pub access: Access,
}

/// The token file of a service, re-read when it changes.
#[derive(Debug)]
pub struct Tokens {
    path: PathBuf,
    state: RwLock<(Option<std::time::SystemTime>, Vec<TokenEntry>)>,
}

fn hash_hex(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn read(path: &Path) -> Result<Vec<TokenEntry>, AuthError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(AuthError::Io { path: path.display().to_string(), source }),
    };
    serde_json::from_str::<TokenFile>(&text)
        .map(|f| f.tokens)
        .map_err(|e| AuthError::Malformed { path: path.display().to_string(), detail: e.to_string() })
}

impl Tokens {
    /// The token file at `path` (missing: no token is valid yet).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        let path = path.into();
        let entries = read(&path)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(Self { path, state: RwLock::new((modified, entries)) })
    }

    /// The conventional token file of a store: `tokens.json` in its folder.
    pub fn beside_store(dir: &Path) -> Result<Self, AuthError> {
        Self::open(dir.join("tokens.json"))
    }

    fn refresh(&self) {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let stale = self.state.read().map(|s| s.0 != modified).unwrap_or(true);
        if !stale {
            return;
        }
        match read(&self.path) {
            Ok(entries) => {
                if let Ok(mut s) = self.state.write() {
                    *s = (modified, entries);
                }
            }
            Err(e) => tracing::warn!("{e}; the tokens read before stay in force"),
        }
    }

    /// The caller a bearer token stands for, if any.
    pub fn caller(&self, token: &str) -> Option<Caller> {
        self.refresh();
        let wanted = hash_hex(token.trim());
        let state = self.state.read().ok()?;
        // Every entry is compared, whatever matches, so the time does not tell which did.
        let mut found = None;
        for e in &state.1 {
            let same = e.blake3.len() == wanted.len()
                && e.blake3.bytes().zip(wanted.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same && found.is_none() {
                found = Some(Caller { actor: e.actor.clone(), access: e.access });
            }
        }
        found
    }
}

/// Makes a new token for `actor`, adds its hash to the token file (created 0600 if missing) and
/// returns the token (shown once; not stored).
pub fn add_token(path: &Path, actor: EntityId, access: Access, note: Option<String>) -> Result<String, AuthError> {
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|e| AuthError::Random(e.to_string()))?;
    let token = format!("aq_{}", secret.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let mut file = TokenFile { tokens: read(path)? };
    file.tokens.push(TokenEntry {
        actor,
        access,
        blake3: hash_hex(&token),
        created_at: chrono::Utc::now().to_rfc3339(),
        note,
    });
    let io = |source| AuthError::Io { path: path.display().to_string(), source };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| AuthError::Malformed { path: path.display().to_string(), detail: e.to_string() })?;
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_maps_to_its_actor_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let tokens = Tokens::open(&path).unwrap();
        assert_eq!(tokens.caller("aq_nothing"), None);
        let t = add_token(&path, EntityId::new("grid-7").unwrap(), Access::Write, None).unwrap();
        let r = add_token(&path, EntityId::new("auditor-1").unwrap(), Access::Read, Some("审计".into())).unwrap();
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(!stored.contains(&t) && !stored.contains(&r), "tokens are never stored");
        // The running service sees the new tokens without a restart.
        assert_eq!(tokens.caller(&t).map(|c| (c.actor.to_string(), c.access)), Some(("grid-7".into(), Access::Write)));
        assert_eq!(tokens.caller(&r).map(|c| c.access), Some(Access::Read));
        assert_eq!(tokens.caller("aq_0000"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
