//! The shape of `src/`, checked: which layer may import which, and no import cycle between files.
//!
//! Every `.rs` file under `src/` except the binary (`src/bin/`, a crate of its own on top of the
//! library) is read as text. What counts as an import of another file:
//! - every leaf of a `use` tree (`use crate::…`, `use super::…`, `use self::…`, and a path that
//!   starts with a child module's or an imported module's name);
//! - every path written in code that starts the same way (`crate::store::layout::SEGMENT_PREFIX`,
//!   `super::same_id(…)`, `$crate::codec::encode` in a macro);
//! - such a path inside a string literal, as serde attributes name functions
//!   (`deserialize_with = "crate::events::wire_time::utc"`).
//!
//! Comments (docs included) are not code and do not count. `#[cfg(test)] mod tests` blocks do
//! count: a unit test that reached up a layer would still tie the layers together.
//!
//! A path is followed to the file that *defines* the item, through re-exports (`pub use` at a
//! folder's top is a door, not the item's home). Re-exports themselves are imports for the
//! layer rule (a lower layer may not re-export a higher one) but, unless the file also uses the
//! name itself, not edges of the cycle check: a folder's `mod.rs` re-exporting its children while
//! the children use items defined in that `mod.rs` is not a cycle of code.
//!
//! It reads text, not the compiler's name resolution: a name it cannot find (say, an item a macro
//! other than the `…_enum!` tables defines) counts as defined in the module the path reaches.
//!
//! The rules:
//! (a) a file of layer `L` imports only files of `L` itself or of the layers `L` may import
//!     ([`LAYERS`], mirrored in `ARCHITECTURE.md`); the crate root `src/lib.rs` declares the
//!     layers and may import any;
//! (b) no cycle between files, except the ones listed in [`KNOWN_CYCLES`] (each with the reason
//!     it is still there); a listed cycle that is gone must leave the list.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

/// The layers of `src/`, bottom to top: a top-level module of the crate, its rank, and the
/// modules it may import. Two modules of one rank never import each other (domain and
/// projections are siblings: both read the event vocabulary, neither knows the other).
/// `ARCHITECTURE.md` ("Layers") shows the same table; a test below keeps them equal.
const LAYERS: &[(&str, u8, &[&str])] = &[
    ("codec", 0, &[]),
    ("storage", 1, &["codec"]),
    ("store", 2, &["storage", "codec"]),
    ("events", 3, &["codec"]),
    ("domain", 4, &["events", "codec"]),
    ("projections", 4, &["events", "store", "storage", "codec"]),
    ("engine", 5, &["domain", "projections", "events", "store", "storage", "codec"]),
    ("interface", 6, &["engine", "domain", "projections", "events", "store", "storage", "codec"]),
];

/// Cycles still in the tree, as the set of files on them, and why: none. A folder's `mod.rs`
/// only declares its files and re-exports; what the files beside it build on lives in files of
/// its own (`store/shared.rs`, `projections/traits.rs` …). Any cycle fails; one that has to stay
/// for a while is listed here with its reason, and a listed one that disappears must be removed.
const KNOWN_CYCLES: &[(&[&str], &str)] = &[];

#[test]
fn every_import_respects_the_layers_and_no_file_cycle_is_new() {
    let files = read_tree(Path::new(env!("CARGO_MANIFEST_DIR")));
    let graph = Graph::build(&files);
    let mut problems = graph.layer_problems();
    problems.extend(graph.cycle_problems(KNOWN_CYCLES));
    assert!(problems.is_empty(), "{} problem(s) with the shape of src/:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_layer_table_is_consistent_with_itself_and_the_tree() {
    let mut problems = Vec::new();
    for (name, rank, may) in LAYERS {
        for m in *may {
            match LAYERS.iter().find(|(n, _, _)| n == m) {
                None => problems.push(format!("{name} may import {m}, which is not in the table")),
                Some((_, r, _)) if r >= rank => {
                    problems.push(format!("{name} (rank {rank}) may import {m} (rank {r}): only lower ranks"))
                }
                _ => {}
            }
        }
    }
    let files = read_tree(Path::new(env!("CARGO_MANIFEST_DIR")));
    let tops: BTreeSet<&str> = files.iter().filter_map(|(p, _)| top_module(p)).collect();
    for top in &tops {
        if !LAYERS.iter().any(|(n, _, _)| n == top) {
            problems.push(format!("src/{top} is in no layer: add it to LAYERS (and ARCHITECTURE.md)"));
        }
    }
    for (name, _, _) in LAYERS {
        if !tops.contains(name) {
            problems.push(format!("layer {name} has no files under src/"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `ARCHITECTURE.md` carries the table as `| rank | module | may import |` rows.
#[test]
fn architecture_md_shows_the_layer_table() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<String> = table_rows().into_iter().filter(|row| !doc.lines().any(|l| l.trim() == row)).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md lacks these rows of the layer table:\n{}", missing.join("\n"));
}

/// The rows `architecture_md_shows_the_layer_table` looks for.
fn table_rows() -> Vec<String> {
    LAYERS
        .iter()
        .map(|(name, rank, may)| {
            let may = if may.is_empty() {
                "nothing of the crate".to_string()
            } else {
                may.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            };
            format!("| {rank} | `src/{name}/` | {may} |")
        })
        .collect()
}

/// The checker fails on what it is meant to catch (so a green run means something).
#[test]
fn the_checker_catches_an_upward_import_a_sibling_import_and_a_cycle() {
    let tree = |replace: &[(&str, &str)]| {
        let mut files: BTreeMap<&str, &str> = BTreeMap::from([
            ("src/lib.rs", "pub mod codec; pub mod events; pub mod domain; pub mod projections;"),
            ("src/codec/mod.rs", "pub fn encode() {}"),
            ("src/events/mod.rs", "pub mod hazard; pub use hazard::HazardReported;"),
            ("src/events/hazard.rs", "pub struct HazardReported; fn f() { crate::codec::encode() }"),
            ("src/domain/mod.rs", "pub mod a; pub mod b; pub struct Rejection;"),
            ("src/domain/a.rs", "use super::Rejection; use crate::events::HazardReported;"),
            ("src/projections/mod.rs", "use crate::events::hazard::HazardReported;"),
        ]);
        files.extend(replace.iter().copied());
        files.into_iter().map(|(p, s)| (p.to_string(), s.to_string())).collect::<Vec<_>>()
    };
    // The tree as written is clean.
    let clean = Graph::build(&tree(&[("src/domain/b.rs", "use super::a;")]));
    assert_eq!(clean.layer_problems(), Vec::<String>::new());
    assert_eq!(clean.cycle_problems(&[]), Vec::<String>::new());
    // events reaching up into domain (through a string, as a serde attribute would).
    let up = Graph::build(&tree(&[
        ("src/domain/b.rs", "pub struct B;"),
        ("src/events/mod.rs", "pub mod hazard; #[serde(with = \"crate::domain::b\")] struct X;"),
    ]));
    let p = up.layer_problems();
    assert!(p.len() == 1 && p[0].contains("src/events/mod.rs:1") && p[0].contains("higher layer"), "{p:?}");
    // domain and projections are siblings.
    let side = Graph::build(&tree(&[("src/domain/b.rs", "use crate::projections;")]));
    let p = side.layer_problems();
    assert!(p.len() == 1 && p[0].contains("same rank"), "{p:?}");
    // a → b → a inside domain, b reaching a through the folder's door.
    let cycle = Graph::build(&tree(&[
        ("src/domain/mod.rs", "pub mod a; pub mod b; pub struct Rejection; pub use b::B;"),
        ("src/domain/a.rs", "use super::Rejection; use super::B;"),
        ("src/domain/b.rs", "pub struct B;\nfn f() { super::a::g() }"),
    ]));
    let p = cycle.cycle_problems(&[]);
    assert!(p.len() == 1 && p[0].contains("src/domain/a.rs:1") && p[0].contains("src/domain/b.rs:2"), "{p:?}");
    // A known cycle passes, and a known one that is gone is reported.
    let known: &[(&[&str], &str)] = &[(&["src/domain/a.rs", "src/domain/b.rs"], "test")];
    assert_eq!(cycle.cycle_problems(known), Vec::<String>::new());
    assert_eq!(clean.cycle_problems(known).len(), 1);
}

// ---- reading the tree ----------------------------------------------------------------------

/// `(path relative to the crate, e.g. "src/store/mod.rs", contents)` of every scanned file.
fn read_tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                if rel != "src/bin" {
                    stack.push(path);
                }
            } else if rel.ends_with(".rs") {
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file: `src/lib.rs` → [], `src/a/mod.rs` → [a], `src/a/b.rs` → [a, b].
fn module_of(path: &str) -> Vec<String> {
    let rel = path.strip_prefix("src/").unwrap_or(path).trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The top-level module (layer) a file belongs to; `None` for the crate root.
fn top_module(path: &str) -> Option<&str> {
    let rel = path.strip_prefix("src/")?;
    if rel == "lib.rs" {
        return None;
    }
    Some(rel.split('/').next()?.trim_end_matches(".rs"))
}

// ---- lexing: comments out, literals set aside ------------------------------------------------

/// Marks where a string literal stood in the lexed code.
const STRING_MARK: char = '\u{1}';

/// The source with comments and literal contents blanked (newlines kept, so lines stay put),
/// each string literal replaced by [`STRING_MARK`] and its contents kept in order.
fn lex(src: &str) -> (Vec<char>, Vec<String>) {
    let s: Vec<char> = src.chars().collect();
    let mut code = s.clone();
    let mut strings = Vec::new();
    let blank = |code: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut code[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        let after_ident = i > 0 && ident_char(s[i - 1]);
        if c == '/' && next == Some('/') {
            let end = s[i..].iter().position(|&c| c == '\n').map_or(s.len(), |p| i + p);
            blank(&mut code, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (0, i);
            while j < s.len() {
                if s[j] == '/' && s.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if s[j] == '*' && s.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut code, i, j);
            i = j;
        } else if let Some((open, hashes)) = string_start(&s, i).filter(|_| !after_ident || c == '"') {
            // `open` is the index of the opening quote; raw strings end at `"` + `hashes` `#`s.
            let raw = hashes.is_some();
            let mut j = open + 1;
            let mut text = String::new();
            while j < s.len() {
                if !raw && s[j] == '\\' {
                    text.push(s[j]);
                    text.extend(s.get(j + 1));
                    j += 2;
                    continue;
                }
                if s[j] == '"' && (0..hashes.unwrap_or(0)).all(|k| s.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes.unwrap_or(0);
                    break;
                }
                text.push(s[j]);
                j += 1;
            }
            blank(&mut code, i, j);
            code[i] = STRING_MARK;
            strings.push(text);
            i = j;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}', '\'') or a lifetime ('a, 'static).
            if next == Some('\\') {
                let mut j = i + 3;
                while j < s.len() && s[j] != '\'' {
                    j += 1;
                }
                blank(&mut code, i, j + 1);
                i = j + 1;
            } else if s.get(i + 2) == Some(&'\'') {
                blank(&mut code, i, i + 3);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    (code, strings)
}

/// If a string literal starts at `i` (`"`, `b"`, `r"`, `r#"`, `br#"` …): the index of its
/// opening quote and, for a raw string, its number of `#`s.
fn string_start(s: &[char], i: usize) -> Option<(usize, Option<usize>)> {
    match s[i] {
        '"' => Some((i, None)),
        'b' | 'c' if s.get(i + 1) == Some(&'"') => Some((i + 1, None)),
        'b' | 'c' if s.get(i + 1) == Some(&'r') => raw_start(s, i + 1),
        'r' => raw_start(s, i),
        _ => None,
    }
}

fn raw_start(s: &[char], r: usize) -> Option<(usize, Option<usize>)> {
    let hashes = s[r + 1..].iter().take_while(|&&c| c == '#').count();
    (s.get(r + 1 + hashes) == Some(&'"')).then_some((r + 1 + hashes, Some(hashes)))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Str(usize),
    Punct(char),
}

/// Tokens with their line numbers (1-based).
fn tokens(code: &[char]) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let (mut i, mut line, mut strings) = (0, 1, 0);
    while i < code.len() {
        let c = code[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == STRING_MARK {
            out.push((Tok::Str(strings), line));
            strings += 1;
            i += 1;
        } else if c.is_alphabetic() || c == '_' || (c == '$' && code.get(i + 1) == Some(&'c')) {
            let start = if c == '$' { i + 1 } else { i };
            let mut j = start;
            while j < code.len() && (code[j].is_alphanumeric() || code[j] == '_') {
                j += 1;
            }
            out.push((Tok::Ident(code[start..j].iter().collect()), line));
            i = j;
        } else if c.is_ascii_digit() {
            while i < code.len() && (code[i].is_alphanumeric() || code[i] == '_') {
                i += 1;
            }
        } else if c == ':' && code.get(i + 1) == Some(&':') {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

// ---- what each file declares, imports and names ------------------------------------------

/// What one module (a file, or an inline `mod x { … }`) holds.
#[derive(Debug)]
struct Module {
    /// The file it is written in (`usize::MAX`: declared, but no file seen).
    file: usize,
    /// Items defined here (struct, enum, fn, const, static, type, trait, and the enums of
    /// `…_enum!` tables).
    defs: HashSet<String>,
    /// `use` leaves: local name → path (written in this module).
    imports: HashMap<String, Vec<String>>,
    /// `use …::*` paths.
    globs: Vec<Vec<String>>,
}

impl Default for Module {
    fn default() -> Self {
        Module { file: usize::MAX, defs: HashSet::new(), imports: HashMap::new(), globs: Vec::new() }
    }
}

/// A path that may name another file of the crate.
#[derive(Debug)]
struct Ref {
    file: usize,
    line: usize,
    /// The module the path is written in.
    module: Vec<String>,
    segments: Vec<String>,
    /// A re-export (`pub use`, `pub(crate) use`): for the cycle check only an import when the
    /// file uses the name itself.
    door: bool,
    /// The name a `use` leaf brings in.
    name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Module(Vec<String>),
    Item(Vec<String>),
}

struct Graph {
    paths: Vec<String>,
    /// Per file, the identifiers its code uses outside `use` declarations.
    used: Vec<HashSet<String>>,
    modules: BTreeMap<Vec<String>, Module>,
    refs: Vec<Ref>,
}

const ITEM_KEYWORDS: &[&str] = &["struct", "enum", "fn", "const", "static", "type", "trait", "union"];

impl Graph {
    fn build(files: &[(String, String)]) -> Graph {
        let mut g = Graph { paths: Vec::new(), used: Vec::new(), modules: BTreeMap::new(), refs: Vec::new() };
        for (index, (path, _)) in files.iter().enumerate() {
            g.paths.push(path.clone());
            g.used.push(HashSet::new());
            g.modules.entry(module_of(path)).or_default().file = index;
        }
        for (index, (path, source)) in files.iter().enumerate() {
            g.scan(index, &module_of(path), source);
        }
        g
    }

    fn scan(&mut self, file: usize, file_module: &[String], source: &str) {
        let (code, strings) = lex(source);
        let toks = tokens(&code);
        let ident = |k: usize| match toks.get(k) {
            Some((Tok::Ident(s), _)) => Some(s.as_str()),
            _ => None,
        };
        let punct = |k: usize, p: char| matches!(toks.get(k), Some((Tok::Punct(c), _)) if *c == p);
        // One entry per open brace: the inline module it opened, if any; whether it holds an
        // enum's variants, and the depth of `(`/`[` it opened at.
        struct Brace {
            module: Option<Vec<String>>,
            enum_body: bool,
            parens: usize,
        }
        let mut braces: Vec<Brace> = Vec::new();
        let (mut parens, mut enum_pending) = (0usize, false);
        let mut k = 0;
        while k < toks.len() {
            let module: Vec<String> =
                braces.iter().rev().find_map(|b| b.module.clone()).unwrap_or_else(|| file_module.to_vec());
            let at_module_level = braces.last().is_none_or(|b| b.module.is_some());
            let line = toks[k].1;
            match &toks[k].0 {
                Tok::Punct('{') => {
                    braces.push(Brace { module: None, enum_body: enum_pending, parens });
                    enum_pending = false;
                    k += 1;
                }
                Tok::Punct('}') => {
                    braces.pop();
                    k += 1;
                }
                Tok::Punct('(' | '[') => {
                    parens += 1;
                    k += 1;
                }
                Tok::Punct(')' | ']') => {
                    parens = parens.saturating_sub(1);
                    k += 1;
                }
                Tok::Punct(';') => {
                    enum_pending = false;
                    k += 1;
                }
                Tok::Str(n) => {
                    let text = &strings[*n];
                    let segments: Vec<String> = text.split("::").map(str::to_string).collect();
                    let is_path = segments.len() > 1
                        && ["crate", "super", "self"].contains(&segments[0].as_str())
                        && segments.iter().all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
                    if is_path {
                        self.refs.push(Ref { file, line, module: module.clone(), segments, door: false, name: None });
                    }
                    k += 1;
                }
                Tok::Ident(word) if word == "mod" && ident(k + 1).is_some() => {
                    let name = ident(k + 1).unwrap_or_default().to_string();
                    let mut child = module.clone();
                    child.push(name);
                    if punct(k + 2, '{') {
                        braces.push(Brace { module: Some(child.clone()), enum_body: false, parens });
                        self.modules.entry(child).or_default().file = file;
                        k += 3;
                    } else {
                        self.modules.entry(child).or_default();
                        k += 2;
                    }
                }
                Tok::Ident(word) if word == "use" => {
                    let door = matches!(k.checked_sub(1).and_then(|p| toks.get(p)), Some((Tok::Ident(w), _)) if w == "pub")
                        || (k >= 2
                            && punct(k - 1, ')')
                            && (1..=5).any(|b| k > b && ident(k - b - 1) == Some("pub") && punct(k - b, '(')));
                    let mut leaves = Vec::new();
                    let mut pos = k + 1;
                    parse_use_tree(&toks, &mut pos, Vec::new(), &mut leaves);
                    for (segments, name, leaf_line) in leaves {
                        if segments.is_empty() {
                            continue;
                        }
                        if at_module_level {
                            let m = self.modules.entry(module.clone()).or_default();
                            match &name {
                                Some(n) if n == "*" => m.globs.push(segments.clone()),
                                Some(n) if n != "_" => {
                                    m.imports.insert(n.clone(), segments.clone());
                                }
                                _ => {}
                            }
                        }
                        self.refs.push(Ref { file, line: leaf_line, module: module.clone(), segments, door, name });
                    }
                    k = pos;
                }
                Tok::Ident(word) if at_module_level && ITEM_KEYWORDS.contains(&word.as_str()) => {
                    enum_pending = word == "enum";
                    if let Some(name) = ident(k + 1) {
                        self.modules.entry(module.clone()).or_default().defs.insert(name.to_string());
                    }
                    k += 1;
                }
                // `command_enum!(…)` / `event_enum!(…)` define the enum named first in them.
                Tok::Ident(word) if at_module_level && word.ends_with("_enum") && punct(k + 1, '!') => {
                    let name =
                        (k + 2..toks.len()).filter_map(&ident).find(|w| w.starts_with(|c: char| c.is_uppercase()));
                    if let Some(name) = name {
                        self.modules.entry(module.clone()).or_default().defs.insert(name.to_string());
                    }
                    k += 2;
                }
                Tok::Ident(first) => {
                    // An enum's variant is named, not used (`Anchor { detail }` in an error enum
                    // is not the `Anchor` re-exported beside it).
                    let variant = braces.last().is_some_and(|b| b.enum_body && b.parens == parens)
                        && k > 0
                        && (punct(k - 1, '{') || punct(k - 1, ',') || punct(k - 1, ']'));
                    // Nor is a name being defined (`type Command;` in a trait).
                    let defined = k > 0 && ident(k - 1).is_some_and(|w| ITEM_KEYWORDS.contains(&w));
                    if !variant && !defined {
                        self.used[file].insert(first.clone());
                    }
                    // A path in code: `a::b::c`, not preceded by `::`.
                    let continues = matches!(k.checked_sub(1).and_then(|p| toks.get(p)), Some((Tok::Sep, _)));
                    let mut segments = vec![first.clone()];
                    let mut j = k + 1;
                    while matches!(toks.get(j), Some((Tok::Sep, _))) {
                        match ident(j + 1) {
                            Some(s) => segments.push(s.to_string()),
                            None => break,
                        }
                        j += 2;
                    }
                    if !continues && segments.len() > 1 {
                        self.refs.push(Ref { file, line, module: module.clone(), segments, door: false, name: None });
                    }
                    k = j.max(k + 1);
                }
                _ => k += 1,
            }
        }
    }

    /// The module a path starts in, and the segments after that start.
    fn lookup(&self, module: &[String], name: &str, depth: usize) -> Option<Target> {
        if depth > 16 {
            return None;
        }
        let mut child = module.to_vec();
        child.push(name.to_string());
        if self.modules.contains_key(&child) {
            return Some(Target::Module(child));
        }
        let m = self.modules.get(module)?;
        if m.defs.contains(name) {
            return Some(Target::Item(module.to_vec()));
        }
        if let Some(path) = m.imports.get(name) {
            return self.resolve(module, path, depth + 1);
        }
        for glob in &m.globs {
            if let Some(Target::Module(g)) = self.resolve(module, glob, depth + 1) {
                if g != module {
                    if let Some(t) = self.lookup(&g, name, depth + 1) {
                        return Some(t);
                    }
                }
            }
        }
        None
    }

    /// Follows a path written in `module` to the module or item it names (`None`: not the crate's).
    fn resolve(&self, module: &[String], segments: &[String], depth: usize) -> Option<Target> {
        let (mut at, rest) = match segments.first()?.as_str() {
            "crate" => (Vec::new(), &segments[1..]),
            "self" => (module.to_vec(), &segments[1..]),
            "super" => {
                let mut at = module.to_vec();
                let supers = segments.iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    at.pop()?;
                }
                (at, &segments[supers..])
            }
            first => match self.lookup(module, first, depth)? {
                Target::Module(m) => (m, &segments[1..]),
                item => return Some(item),
            },
        };
        for segment in rest {
            match self.lookup(&at, segment, depth) {
                Some(Target::Module(m)) => at = m,
                Some(item) => return Some(item),
                // Not found (e.g. made by a macro this scan does not expand): it lives in `at`.
                None => return Some(Target::Item(at)),
            }
        }
        Some(Target::Module(at))
    }

    fn file_of(&self, target: &Target) -> Option<usize> {
        let (Target::Module(m) | Target::Item(m)) = target;
        // An inline module lives in its parent's file.
        let mut m = m.clone();
        loop {
            if let Some(module) = self.modules.get(&m) {
                if module.file != usize::MAX {
                    return Some(module.file);
                }
            }
            m.pop()?;
        }
    }

    /// Every import of another file: (from, to, line, path, door).
    fn edges(&self) -> Vec<(usize, usize, usize, String, bool)> {
        let mut out = Vec::new();
        for r in &self.refs {
            let Some(target) = self.resolve(&r.module, &r.segments, 0) else { continue };
            let Some(to) = self.file_of(&target) else { continue };
            // A re-export the file also uses itself is an import of its own.
            let door = r.door && !r.name.as_ref().is_some_and(|n| self.used[r.file].contains(n));
            if to != r.file {
                out.push((r.file, to, r.line, r.segments.join("::"), door));
            }
        }
        out
    }

    fn layer_problems(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        // One problem per pair of files, at the first line that imports.
        let mut first: BTreeMap<(usize, usize), (usize, String)> = BTreeMap::new();
        for (from, to, line, path, _) in self.edges() {
            let e = first.entry((from, to)).or_insert((line, path.clone()));
            if line < e.0 {
                *e = (line, path);
            }
        }
        for ((from, to), (line, path)) in first {
            let Some(from_top) = top_module(&self.paths[from]) else { continue };
            let to_top = top_module(&self.paths[to]);
            if Some(from_top) == to_top {
                continue;
            }
            let layer = |name: Option<&str>| LAYERS.iter().find(|(n, _, _)| Some(*n) == name);
            let Some((_, from_rank, may)) = layer(Some(from_top)) else {
                out.insert(format!("{}:{line}: `{path}`: src/{from_top} is in no layer", self.paths[from]));
                continue;
            };
            let Some(to_top) = to_top else {
                out.insert(format!("{}:{line}: `{path}`: imports the crate root", self.paths[from]));
                continue;
            };
            if may.contains(&to_top) {
                continue;
            }
            let rule = match layer(Some(to_top)) {
                None => format!("src/{to_top} is in no layer"),
                Some((_, rank, _)) if rank > from_rank => {
                    format!("{from_top} (rank {from_rank}) imports a higher layer, {to_top} (rank {rank})")
                }
                Some((_, rank, _)) if rank == from_rank => {
                    format!("{from_top} imports {to_top}, a sibling of the same rank ({rank})")
                }
                Some(_) => format!("{from_top} may import only {may:?}, not {to_top}"),
            };
            out.insert(format!("{}:{line}: `{path}` → {}: {rule}", self.paths[from], self.paths[to]));
        }
        out.into_iter().collect()
    }

    fn cycle_problems(&self, known: &[(&[&str], &str)]) -> Vec<String> {
        let n = self.paths.len();
        let mut adjacent: Vec<BTreeMap<usize, (usize, String)>> = vec![BTreeMap::new(); n];
        for (from, to, line, path, door) in self.edges() {
            if !door {
                adjacent[from].entry(to).or_insert((line, path));
            }
        }
        let mut out = Vec::new();
        let mut seen_known = HashSet::new();
        for component in strongly_connected(&adjacent) {
            let files: BTreeSet<&str> = component.iter().map(|&f| self.paths[f].as_str()).collect();
            if let Some(i) = known.iter().position(|(k, _)| k.iter().copied().collect::<BTreeSet<_>>() == files) {
                seen_known.insert(i);
                continue;
            }
            // One cycle through the component's first file, by breadth-first search back to it.
            let inside: HashSet<usize> = component.iter().copied().collect();
            let start = component[0];
            let mut came_from: HashMap<usize, usize> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            'search: while let Some(f) = queue.pop_front() {
                for &to in adjacent[f].keys() {
                    if !inside.contains(&to) || came_from.contains_key(&to) {
                        continue;
                    }
                    came_from.insert(to, f);
                    if to == start {
                        break 'search;
                    }
                    queue.push_back(to);
                }
            }
            let mut cycle = vec![start];
            let mut at = came_from[&start];
            while at != start {
                cycle.push(at);
                at = came_from[&at];
            }
            cycle.push(start);
            cycle.reverse();
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let (line, path) = &adjacent[w[0]][&w[1]];
                    format!("{}:{line} (`{path}`)", self.paths[w[0]])
                })
                .collect();
            out.push(format!(
                "import cycle between {} files {files:?}, e.g. {} → {}",
                component.len(),
                steps.join(" → "),
                self.paths[start]
            ));
        }
        for (i, (files, why)) in known.iter().enumerate() {
            if !seen_known.contains(&i) {
                out.push(format!("the known cycle {files:?} ({why}) is gone or changed: update KNOWN_CYCLES"));
            }
        }
        out
    }
}

/// Parses one `use` tree from `toks[*pos]` up to and including its `;` (or the `,`/`}` that ends
/// a nested tree), pushing (path, local name or "*", line) per leaf.
fn parse_use_tree(
    toks: &[(Tok, usize)],
    pos: &mut usize,
    prefix: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>, usize)>,
) {
    let mut segments = prefix;
    let line = toks.get(*pos).map_or(0, |t| t.1);
    loop {
        match toks.get(*pos).map(|t| &t.0) {
            Some(Tok::Sep) => *pos += 1,
            Some(Tok::Ident(s)) if s != "as" => {
                segments.push(s.clone());
                *pos += 1;
            }
            Some(Tok::Punct('*')) => {
                *pos += 1;
                leaves.push((segments, Some("*".into()), line));
                break;
            }
            Some(Tok::Punct('{')) => {
                *pos += 1;
                loop {
                    match toks.get(*pos).map(|t| &t.0) {
                        Some(Tok::Punct('}')) => {
                            *pos += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => *pos += 1,
                        None => return,
                        _ => parse_use_tree(toks, pos, segments.clone(), leaves),
                    }
                }
                break;
            }
            _ => {
                let alias = match toks.get(*pos).map(|t| &t.0) {
                    Some(Tok::Ident(s)) if s == "as" => {
                        *pos += 2;
                        match toks.get(*pos - 1).map(|t| &t.0) {
                            Some(Tok::Ident(a)) => Some(a.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if segments.last().is_some_and(|s| s == "self") {
                    segments.pop();
                }
                let name = alias.or_else(|| segments.last().cloned());
                leaves.push((segments, name, line));
                break;
            }
        }
    }
    if matches!(toks.get(*pos).map(|t| &t.0), Some(Tok::Punct(';'))) {
        *pos += 1;
    }
}

/// Tarjan's strongly connected components with more than one file.
fn strongly_connected(adjacent: &[BTreeMap<usize, (usize, String)>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        adjacent: &'a [BTreeMap<usize, (usize, String)>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.adjacent[v].keys() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort_unstable();
                s.out.push(component);
            }
        }
    }
    let n = adjacent.len();
    let mut s = State {
        adjacent,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}
