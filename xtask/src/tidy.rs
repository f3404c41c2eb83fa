//! The architecture invariants of docs/architecture.md, checked from `cargo metadata` and the
//! source tree. Each invariant is also an ordinary `#[test]`, so `cargo test` enforces them.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::{CargoOpt, DependencyKind, Metadata, MetadataCommand, Package};

/// The core crate.
const CORE: &str = "casework-core";
/// Crates that are adapters: they implement core's ports.
const ADAPTER_PREFIXES: &[&str] = &["casework-store-", "casework-mail", "casework-webhook"];
/// Adapter-like crates that are libraries for tests, not adapters.
const NOT_ADAPTERS: &[&str] = &["casework-store-conformance"];
/// The only crates that may choose and wire adapters (plus the test and automation crates).
const COMPOSITION_ROOTS: &[&str] = &[
    "casework-cli",
    "casework-http",
    "casework-e2e",
    "casework-bench",
    "xtask",
];
/// Libraries core must never reach, directly or through another crate: I/O and front-ends.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "reqwest",
    "hyper",
    "axum",
    "tower",
    "clap",
    "lettre",
    "tokio",
    "mio",
    "async-std",
];

/// The workspace root (the parent of this crate's folder): where `cargo run` or `cargo test`
/// says this crate is now, else where it was built. The first matters when checkouts share
/// one target directory: cargo does not rebuild xtask for the same source in another
/// checkout, so the folder baked in at build time may be that other checkout's.
pub fn workspace_root() -> PathBuf {
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// The workspace's metadata with every feature of every member on, as CI builds it
/// (`--all-features`): a dependency behind a feature is still a dependency.
fn metadata(root: &Path) -> Result<Metadata> {
    Ok(MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .features(CargoOpt::AllFeatures)
        .exec()?)
}

fn members(meta: &Metadata) -> Vec<&Package> {
    meta.packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
        .collect()
}

fn is_adapter(name: &str) -> bool {
    ADAPTER_PREFIXES.iter().any(|p| name.starts_with(p)) && !NOT_ADAPTERS.contains(&name)
}

/// Workspace crates a package depends on for building its library or binary (not tests).
fn workspace_deps<'a>(meta: &'a Metadata, pkg: &'a Package) -> Vec<&'a str> {
    let names: BTreeSet<&str> = members(meta).iter().map(|p| p.name.as_str()).collect();
    pkg.dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Normal && names.contains(d.name.as_str()))
        .map(|d| d.name.as_str())
        .collect()
}

/// Every package core reaches through normal dependencies, transitively.
fn core_closure(meta: &Metadata) -> Vec<String> {
    let Some(resolve) = &meta.resolve else {
        return Vec::new();
    };
    let Some(core) = meta.packages.iter().find(|p| p.name.as_str() == CORE) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([core.id.clone()]);
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(node) = resolve.nodes.iter().find(|n| n.id == id) {
            for dep in &node.deps {
                if dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal)
                {
                    queue.push_back(dep.pkg.clone());
                }
            }
        }
    }
    seen.iter()
        .filter_map(|id| meta.packages.iter().find(|p| &p.id == id))
        .map(|p| p.name.to_string())
        .collect()
}

/// Core depends on no other workspace crate and reaches no I/O or front-end library.
pub fn core_is_pure(meta: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(core) = members(meta).into_iter().find(|p| p.name.as_str() == CORE) {
        for d in workspace_deps(meta, core) {
            problems.push(format!("{CORE} depends on workspace crate {d}"));
        }
    } else {
        problems.push(format!("no {CORE} crate in the workspace"));
    }
    for name in core_closure(meta) {
        if FORBIDDEN_IN_CORE.contains(&name.as_str()) {
            problems.push(format!(
                "{CORE} reaches {name}, an I/O or front-end library"
            ));
        }
    }
    problems
}

/// An adapter depends on core only, among workspace crates; no adapter depends on another.
pub fn adapters_depend_on_core_only(meta: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    for p in members(meta) {
        let name = p.name.as_str();
        if is_adapter(name) || NOT_ADAPTERS.contains(&name) {
            for d in workspace_deps(meta, p) {
                if d != CORE {
                    problems.push(format!(
                        "{name} depends on {d}; an adapter may depend on {CORE} only"
                    ));
                }
            }
        }
    }
    problems
}

/// Only the composition roots (CLI, HTTP) choose and wire adapters.
pub fn only_roots_wire_adapters(meta: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    for p in members(meta) {
        let name = p.name.as_str();
        if COMPOSITION_ROOTS.contains(&name) {
            continue;
        }
        for d in workspace_deps(meta, p) {
            if is_adapter(d) {
                problems.push(format!(
                    "{name} depends on adapter {d}; only {COMPOSITION_ROOTS:?} may wire adapters"
                ));
            }
        }
    }
    problems
}

/// Folders carry the crate's full name; nothing is published.
pub fn crates_are_named_and_unpublished(meta: &Metadata, root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for p in members(meta) {
        let name = p.name.as_str();
        let dir = p
            .manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf());
        if let Some(dir) = dir
            && dir.starts_with(root.join("crates"))
            && dir.file_name().and_then(|f| f.to_str()) != Some(name)
        {
            problems.push(format!(
                "crate {name} lives in {}, not crates/{name}",
                dir.display()
            ));
        }
        if p.publish
            .as_ref()
            .is_none_or(|registries| !registries.is_empty())
        {
            problems.push(format!("crate {name} is publishable; set publish = false"));
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if path.is_dir() {
            if name != "target" && name != "snapshots" && !name.to_string_lossy().starts_with('.') {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The paths of the attributes a source text applies, looking inside `cfg_attr`: an
/// attribute `cfg_attr(not(ci), ignore)` applies `ignore`, as `ignore = "slow"` does.
fn attribute_paths(text: &str) -> Vec<String> {
    /// The path an attribute body starts with (`tokio::test` of `tokio::test(flavor…)`) and,
    /// for `cfg_attr(predicate, a, b)`, the paths of `a` and `b`.
    fn paths_of(body: &str, out: &mut Vec<String>) {
        let body = body.trim();
        let path: String = body
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if path != "cfg_attr" {
            out.push(path);
            return;
        }
        let Some(args) = body[path.len()..]
            .trim_start()
            .strip_prefix('(')
            .and_then(|a| a.strip_suffix(')'))
        else {
            return;
        };
        // split at the commas outside parentheses and strings; the first part is the predicate
        let (mut depth, mut quoted, mut start, mut parts) = (0i32, false, 0, Vec::new());
        for (i, c) in args.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '(' | '[' if !quoted => depth += 1,
                ')' | ']' if !quoted => depth -= 1,
                ',' if !quoted && depth == 0 => {
                    parts.push(&args[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&args[start..]);
        for part in parts.into_iter().skip(1).filter(|p| !p.trim().is_empty()) {
            paths_of(part, out);
        }
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('#') {
        rest = &rest[at + 1..];
        let after = rest.strip_prefix('!').unwrap_or(rest).trim_start();
        let Some(inner) = after.strip_prefix('[') else {
            continue;
        };
        // the attribute's body: up to the matching `]`
        let mut depth = 1;
        let mut end = None;
        let mut quoted = false;
        for (i, c) in inner.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '[' if !quoted => depth += 1,
                ']' if !quoted => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            paths_of(&inner[..end], &mut out);
        }
    }
    out
}

/// Whether a source text disables or inverts a test, in any attribute form: `ignore` (bare,
/// with a reason, or under `cfg_attr`) or `should_panic`.
fn disables_a_test(text: &str) -> bool {
    attribute_paths(text)
        .iter()
        .any(|p| p == "ignore" || p == "should_panic")
}

/// Modules of `std` that do I/O, which core must not name.
const IO_MODULES_OF_STD: &[&str] = &["fs", "net", "process"];

/// The I/O modules of `std` a source text names: `std::fs::read`, `use std::{net, …}`.
fn std_io_in(text: &str) -> Vec<&'static str> {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = Vec::new();
    for module in IO_MODULES_OF_STD {
        let direct = format!("std::{module}");
        let named_directly = squeezed.match_indices(&direct).any(|(i, _)| {
            !squeezed[i + direct.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        });
        // `use std::{fs, io::Read}` and the like
        let in_a_group = squeezed.match_indices("std::{").any(|(i, _)| {
            let group = &squeezed[i + 6..];
            let group = &group[..group.find('}').unwrap_or(group.len())];
            group
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == *module)
        });
        if named_directly || in_a_group {
            found.push(*module);
        }
    }
    found
}

/// Core does no I/O through `std` either: no `std::fs`, `std::net` or `std::process` in its
/// source (its dependency closure is checked by [`core_is_pure`]).
pub fn core_names_no_std_io(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (rel, text) in sources(root, &[root.join("crates").join(CORE)], &mut problems) {
        for module in std_io_in(&text) {
            problems.push(format!("{rel}: names std::{module}; core does no I/O"));
        }
    }
    problems
}

/// The Rust sources under `dirs`, as (path relative to `root`, text); a file that does not
/// read as UTF-8 is a problem.
fn sources(root: &Path, dirs: &[PathBuf], problems: &mut Vec<String>) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(dir, &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        match std::fs::read_to_string(&f) {
            Ok(text) => out.push((rel, text)),
            Err(_) => problems.push(format!("{rel}: not readable as UTF-8")),
        }
    }
    out
}

/// Every source file opens with a `//!` line saying what it is for; no test is disabled.
pub fn sources_are_documented_and_no_test_is_disabled(root: &Path) -> Vec<String> {
    let dirs: Vec<PathBuf> = ["crates", "xtask", "tests"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let mut problems = Vec::new();
    for (rel, text) in sources(root, &dirs, &mut problems) {
        if !text.trim_start().starts_with("//!") {
            problems.push(format!(
                "{rel}: does not open with a //! line saying what it is for"
            ));
        }
        if disables_a_test(&text) {
            problems.push(format!(
                "{rel}: disables or inverts a test (ignore / should_panic)"
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// the one door: front-ends reach the store only through the service

/// Crate folders that are not front-ends: core, its adapters, the conformance suite, and
/// the test and benchmark crates. Every other `crates/casework-*` folder is a front-end
/// (`casework-http`, `casework-cli`, `casework-web`, and whatever is added later).
const NOT_FRONT_ENDS: &[&str] = &["casework-core", "casework-bench"];

/// The files of a front-end that wire the store to the service: the composition root.
const COMPOSITION_ROOT_FILES: &[&str] = &["crates/casework-cli/src/app.rs"];

/// Whether the crate in folder `name` is a front-end.
fn is_front_end(name: &str) -> bool {
    name.starts_with("casework-")
        && !NOT_FRONT_ENDS.contains(&name)
        && !is_adapter(name)
        && !NOT_ADAPTERS.contains(&name)
        && !name.starts_with("casework-test-")
}

/// A source text with its comments, string literals and char literals blanked out (kept
/// as spaces, so positions and lines stay), for rules about code alone.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&b, i) {
            // a raw string: r"…", r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let rest: String = b[j + 1..].iter().collect();
            let end = rest
                .find(&close)
                .map_or(b.len(), |k| j + 1 + rest[..k].chars().count() + close.len());
            for &x in &b[i..end.min(b.len())] {
                out.push(blank(x));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&b, i) {
            let mut j = i + 1;
            if b.get(j) == Some(&'\\') {
                j += 1;
            }
            while j < b.len() && b[j] != '\'' {
                j += 1;
            }
            for _ in i..=j.min(b.len() - 1) {
                out.push(' ');
            }
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// Whether the `'` at `i` opens a char literal (`'a'`, `'\n'`, `'\u{1F600}'`), not a lifetime.
fn is_char_literal(b: &[char], i: usize) -> bool {
    matches!(
        (b.get(i + 1), b.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// A source text without its test module: what follows a `#[cfg(test)]` that opens an
/// inline `mod … {` (by convention the last item of a file).
fn without_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let at = from + at;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") && after.split('\n').next().is_some_and(|l| l.contains('{')) {
            return &text[..at];
        }
        from = at + 1;
    }
    text
}

/// Whether a path is test code: a `tests` folder or a `tests.rs` file.
fn is_test_path(rel: &str) -> bool {
    rel.split('/')
        .any(|part| part == "tests" || part == "tests.rs")
}

/// The names a front-end may not use outside its composition root: the whole store
/// (`CaseStore`) and every capability it is made of, read from core's `ports/mod.rs`
/// (`pub trait CaseStore: CaseLog + CaseQueries + …`), and every larger store declared in
/// `ports/` with the capabilities it adds (`pub trait TransferStore: CaseStore +
/// StoreTransfer`), so a capability added there is covered without touching this rule.
fn store_names(root: &Path) -> Vec<String> {
    let ports = root.join("crates").join(CORE).join("src/ports");
    let text = std::fs::read_to_string(ports.join("mod.rs")).unwrap_or_default();
    let mut names = vec!["CaseStore".to_string()];
    names.extend(trait_bounds(&code_only(&text), "CaseStore").unwrap_or_default());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&ports)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        let code = code_only(&std::fs::read_to_string(&file).unwrap_or_default());
        let mut rest = code.as_str();
        while let Some(at) = rest.find("pub trait ") {
            rest = &rest[at + "pub trait ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let Some(bounds) = trait_bounds(rest, &name) else {
                continue;
            };
            if name != "CaseStore" && bounds.iter().any(|b| b == "CaseStore") {
                names.push(name);
                names.extend(bounds.into_iter().filter(|b| b != "CaseStore"));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The bounds of `pub trait NAME: A + B {` in `code` (`code` may start at `NAME`).
fn trait_bounds(code: &str, name: &str) -> Option<Vec<String>> {
    let head = format!("{name}:");
    let at = code.find(&head)?;
    let bounds = &code[at + head.len()..];
    let bounds = &bounds[..bounds.find('{').unwrap_or(bounds.len())];
    Some(
        bounds
            .split('+')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty() && !b.starts_with('?'))
            .collect(),
    )
}

/// Whether `code` names `word` as a whole identifier.
fn names_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// Front-ends reach the store only through the service: outside the composition root and
/// tests, a front-end's code names neither the store's capability traits (which any call of
/// a store method needs in scope, or a `dyn CaseStore` to call through) nor a store adapter.
pub fn front_ends_use_the_service_only(root: &Path) -> Vec<String> {
    let names = store_names(root);
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("crates")) else {
        return problems;
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_front_end)
        })
        .collect();
    dirs.sort();
    for (rel, text) in sources(root, &dirs, &mut problems) {
        if is_test_path(&rel) || COMPOSITION_ROOT_FILES.contains(&rel.as_str()) {
            continue;
        }
        let code = code_only(without_tests(&text));
        for name in &names {
            if names_word(&code, name) {
                problems.push(format!(
                    "{rel}: names the store's {name}; a front-end goes through CaseService (only {COMPOSITION_ROOT_FILES:?} wire the store)"
                ));
            }
        }
        if code.contains("casework_store_") {
            problems.push(format!(
                "{rel}: names a store adapter; only {COMPOSITION_ROOT_FILES:?} choose the store"
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// limits: one home

/// The limits core once held as bare numbers, which now live in `casework_core::limits`.
const LIMIT_VALUES: &[u64] = &[64, 255, 1000, 2048, 100_000];

/// Crates whose code must take these limits from core's `limits` module by name.
const LIMITED_CRATES: &[&str] = &["casework-core", "casework-http", "casework-cli"];

/// Integer literals in `code` equal to one of `values`.
fn limit_literals(code: &str, values: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let after_dot = i > 0 && chars[i - 1] == '.';
        let starts = chars[i].is_ascii_digit() && !prev_is_ident(&chars, i) && !after_dot;
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '_') {
            j += 1;
        }
        // a float (`1000.0`) or a field access (`x.0`) is not a bare limit
        let float =
            chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit);
        let digits: String = chars[i..j].iter().filter(|c| **c != '_').collect();
        if !float
            && let Ok(n) = digits.parse::<u64>()
            && values.contains(&n)
        {
            out.push(n);
        }
        i = j;
    }
    out
}

/// Limits have one home: outside `casework-core/src/limits.rs` and tests, the code of core,
/// the HTTP API and the CLI holds no bare 64, 255, 1000, 2048 or 100000 (comments and
/// strings do not count).
pub fn limits_live_in_core(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let dirs: Vec<PathBuf> = LIMITED_CRATES
        .iter()
        .map(|c| root.join("crates").join(c))
        .collect();
    for (rel, text) in sources(root, &dirs, &mut problems) {
        if is_test_path(&rel) || rel.ends_with("casework-core/src/limits.rs") {
            continue;
        }
        for n in limit_literals(&code_only(without_tests(&text)), LIMIT_VALUES) {
            problems.push(format!(
                "{rel}: the bare number {n}; name the limit in casework_core::limits"
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// rust-version: the oldest toolchain the evidence allows

/// A language feature the workspace's code may use, the first Rust that has it, and how to
/// see it in a source text (comments and strings blanked).
struct Feature {
    name: &'static str,
    since: (u64, u64),
    used: fn(&str) -> bool,
}

/// `if let … && …` or `while let … && …`: let-chains (Rust 1.88).
fn uses_let_chains(code: &str) -> bool {
    ["if let ", "while let "].iter().any(|head| {
        code.match_indices(head).any(|(i, _)| {
            // the condition runs to the `{` that opens the block, outside parentheses
            let mut depth = 0i32;
            let rest = &code[i + head.len()..];
            for (k, c) in rest.char_indices() {
                match c {
                    '(' | '[' => depth += 1,
                    ')' | ']' => depth -= 1,
                    '&' if depth == 0 && rest[k..].starts_with("&&") => return true,
                    '{' if depth == 0 => return false,
                    _ => {}
                }
            }
            false
        })
    })
}

/// The language features the workspace is checked for.
const FEATURES: &[Feature] = &[
    Feature {
        name: "let-chains",
        since: (1, 88),
        used: uses_let_chains,
    },
    Feature {
        name: "async closures",
        since: (1, 85),
        used: |code| code.contains("async |") || code.contains("async move |"),
    },
    Feature {
        name: "#[expect] lint levels",
        since: (1, 81),
        used: |code| code.contains("#[expect("),
    },
];

/// The `rust-version` the evidence asks for, with its reasons, highest first: every package
/// the workspace builds with every feature on (its declared `rust-version`), the members'
/// edition, and the language features their code uses.
fn rust_version_evidence(
    meta: &Metadata,
    root: &Path,
) -> Vec<(cargo_metadata::semver::Version, String)> {
    use cargo_metadata::semver::Version;
    let mut out = Vec::new();
    let resolved: BTreeSet<_> = meta
        .resolve
        .as_ref()
        .map(|r| r.nodes.iter().map(|n| n.id.clone()).collect())
        .unwrap_or_default();
    for p in &meta.packages {
        if let Some(v) = &p.rust_version
            && resolved.contains(&p.id)
        {
            out.push((
                v.clone(),
                format!("{} {} declares rust-version {v}", p.name, p.version),
            ));
        }
    }
    for p in members(meta) {
        if p.edition == cargo_metadata::Edition::E2024 {
            out.push((
                Version::new(1, 85, 0),
                format!("{} is edition 2024", p.name),
            ));
        }
    }
    let dirs: Vec<PathBuf> = ["crates", "xtask", "tests"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let mut problems = Vec::new();
    let sources = sources(root, &dirs, &mut problems);
    for f in FEATURES {
        if let Some((rel, _)) = sources.iter().find(|(_, text)| (f.used)(&code_only(text))) {
            let (major, minor) = f.since;
            out.push((
                Version::new(major, minor, 0),
                format!("{rel} uses {}", f.name),
            ));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
}

/// The workspace's `rust-version` is no older than the evidence says it must be.
pub fn rust_version_is_honest(meta: &Metadata, root: &Path) -> Vec<String> {
    let evidence = rust_version_evidence(meta, root);
    let Some((needed, why)) = evidence.first() else {
        return vec!["no evidence of a rust-version at all".into()];
    };
    let mut problems = Vec::new();
    for p in members(meta) {
        match &p.rust_version {
            None => problems.push(format!("{} declares no rust-version", p.name)),
            Some(v) if v < needed => problems.push(format!(
                "{} declares rust-version {v}, but {why}: the workspace needs {needed}",
                p.name
            )),
            Some(_) => {}
        }
    }
    problems
}

/// All checks, for `cargo xtask tidy`.
pub fn check_all(root: &Path) -> Result<Vec<String>> {
    let meta = metadata(root)?;
    let mut all = core_is_pure(&meta);
    all.extend(adapters_depend_on_core_only(&meta));
    all.extend(only_roots_wire_adapters(&meta));
    all.extend(crates_are_named_and_unpublished(&meta, root));
    all.extend(sources_are_documented_and_no_test_is_disabled(root));
    all.extend(core_names_no_std_io(root));
    all.extend(front_ends_use_the_service_only(root));
    all.extend(limits_live_in_core(root));
    all.extend(rust_version_is_honest(&meta, root));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        metadata(&workspace_root()).unwrap()
    }

    #[test]
    fn core_depends_on_no_workspace_crate_and_no_io_library() {
        let m = meta();
        assert_eq!(core_is_pure(&m), Vec::<String>::new());
        // the check itself must see core's real dependencies
        let closure = core_closure(&m);
        assert!(closure.iter().any(|n| n == "minijinja"), "{closure:?}");
    }

    #[test]
    fn adapters_depend_on_core_and_nothing_else() {
        assert_eq!(adapters_depend_on_core_only(&meta()), Vec::<String>::new());
    }

    #[test]
    fn only_the_composition_roots_wire_adapters() {
        assert_eq!(only_roots_wire_adapters(&meta()), Vec::<String>::new());
    }

    #[test]
    fn crate_folders_carry_their_names_and_nothing_is_published() {
        assert_eq!(
            crates_are_named_and_unpublished(&meta(), &workspace_root()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_source_file_says_what_it_is_for() {
        assert_eq!(
            sources_are_documented_and_no_test_is_disabled(&workspace_root()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn core_names_no_io_module_of_std() {
        assert_eq!(
            core_names_no_std_io(&workspace_root()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn dependencies_are_resolved_with_every_feature_on() {
        // mockall reaches core only through its `mocks` feature: seen, so a forbidden
        // library behind a feature would be seen too
        let closure = core_closure(&meta());
        assert!(closure.iter().any(|n| n == "mockall"), "{closure:?}");
        assert!(closure.iter().any(|n| n == "utoipa"), "{closure:?}");
    }

    #[test]
    fn front_ends_reach_the_store_only_through_the_service() {
        assert_eq!(
            front_ends_use_the_service_only(&workspace_root()),
            Vec::<String>::new()
        );
        // the rule reads the capabilities from core, so it sees them all
        let names = store_names(&workspace_root());
        for n in [
            "CaseStore",
            "CaseLog",
            "CaseQueries",
            "Directory",
            "OutboxQueue",
            "TransferStore",
            "StoreTransfer",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
    }

    #[test]
    fn a_front_end_calling_a_store_is_caught() {
        assert!(is_front_end("casework-http") && is_front_end("casework-cli"));
        assert!(is_front_end("casework-web") && is_front_end("casework-anything-new"));
        assert!(!is_front_end("casework-core") && !is_front_end("casework-store-sqlite"));
        assert!(
            !is_front_end("casework-store-conformance") && !is_front_end("casework-test-postgres")
        );
        let dir = std::env::temp_dir().join(format!("casework-tidy-door-{}", std::process::id()));
        let ports = dir.join("crates").join(CORE).join("src/ports");
        let web = dir.join("crates/casework-web/src");
        let cli = dir.join("crates/casework-cli/src");
        for d in [&ports, &web, &cli, &web.join("tests")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            ports.join("mod.rs"),
            "//! x\npub trait CaseStore: CaseLog + OutboxQueue {}\n",
        )
        .unwrap();
        std::fs::write(
            ports.join("transfer.rs"),
            "//! x\npub trait StoreTransfer: Send {}\npub trait TransferStore: CaseStore + StoreTransfer {}\n",
        )
        .unwrap();
        // a front-end copying stores itself, around the service
        std::fs::write(
            cli.join("copy.rs"),
            "//! copy\nasync fn f(a: &dyn casework_core::ports::TransferStore) { a.list_articles(None, 1).await; }\n",
        )
        .unwrap();
        // a new front-end calling the case log itself
        std::fs::write(
            web.join("lib.rs"),
            "//! pages\nuse casework_core::ports::CaseLog;\nasync fn f(s: &dyn CaseLog) { s.load_case(n).await; }\n",
        )
        .unwrap();
        // one that reaches the store through `dyn CaseStore`, and one that names an adapter
        std::fs::write(
            web.join("desk.rs"),
            "//! desk\nfn f(s: std::sync::Arc<dyn casework_core::ports::CaseStore>) {}\nfn g() { casework_store_memory::MemoryStore::new(); }\n",
        )
        .unwrap();
        // what is allowed: prose, strings, tests, and the composition root
        std::fs::write(
            web.join("fine.rs"),
            "//! the CaseLog and the CaseStore, in a comment\nconst S: &str = \"CaseStore\";\nfn f(_: CaseLogger) {}\n#[cfg(test)]\nmod tests {\n    use casework_core::ports::CaseStore;\n}\n",
        )
        .unwrap();
        std::fs::write(
            web.join("tests/matrix.rs"),
            "//! t\nuse casework_core::ports::OutboxQueue;\n",
        )
        .unwrap();
        std::fs::write(cli.join("app.rs"), "//! root\nuse casework_core::ports::CaseStore;\nuse casework_store_sqlite::SqliteStore;\n").unwrap();
        let problems = front_ends_use_the_service_only(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let mut found: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "crates/casework-cli/src/copy.rs",
                "crates/casework-web/src/desk.rs",
                "crates/casework-web/src/desk.rs",
                "crates/casework-web/src/lib.rs"
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn code_only_blanks_comments_strings_and_chars() {
        let text = "let a = \"CaseStore\"; // CaseStore\nlet b = r#\"x \"64\" y\"#; /* 255 */ let c = '\\''; let d: &'static str = x;\nlet e = 1000;";
        let code = code_only(text);
        assert!(
            !code.contains("CaseStore") && !code.contains("255") && !code.contains("64"),
            "{code}"
        );
        assert!(code.contains("'static") && code.contains("1000"), "{code}");
        assert_eq!(code.lines().count(), text.lines().count());
    }

    #[test]
    fn limits_have_one_home() {
        assert_eq!(limits_live_in_core(&workspace_root()), Vec::<String>::new());
        assert_eq!(
            limit_literals(
                "let a = 255; let b = 100_000; let c = u64; let d = 1000.0; x.64",
                LIMIT_VALUES
            ),
            [255, 100_000]
        );
        assert_eq!(limit_literals("let t = 2048u64;", LIMIT_VALUES), [2048]);
        assert!(limit_literals("i64::MAX; 640; 2550", LIMIT_VALUES).is_empty());
    }

    #[test]
    fn the_rust_version_is_no_older_than_the_evidence() {
        let m = meta();
        assert_eq!(
            rust_version_is_honest(&m, &workspace_root()),
            Vec::<String>::new()
        );
        let evidence = rust_version_evidence(&m, &workspace_root());
        // the evidence sees what it must: the dependencies' declarations and the edition
        assert!(
            evidence.iter().any(|(_, why)| why.contains("edition 2024")),
            "{evidence:?}"
        );
        assert!(
            evidence
                .iter()
                .any(|(_, why)| why.contains("uses let-chains")),
            "{evidence:?}"
        );
        assert!(
            evidence
                .iter()
                .any(|(_, why)| why.starts_with("cargo-platform")),
            "{evidence:?}"
        );
    }

    #[test]
    fn let_chains_are_seen_and_plain_ifs_are_not() {
        for chained in [
            "if let Some(x) = y && x > 1 { }",
            "if let Some(x) = y\n    && let Ok(z) = x.parse() {\n}",
            "while let Some(x) = it.next() && x.ok() { }",
        ] {
            assert!(uses_let_chains(chained), "{chained}");
        }
        for plain in [
            "if let Some(x) = y { a && b }",
            "if let Some(x) = f(a && b) { }",
            "if a && b { }",
        ] {
            assert!(!uses_let_chains(plain), "{plain}");
        }
    }

    #[test]
    fn a_test_is_disabled_in_any_attribute_form() {
        // spelled in pieces so this file does not trip the check it tests
        let attr = |body: &str| ["#", "[", body, "]\nfn t() {}\n"].concat();
        for disabled in [
            "ignore",
            "ignore = \"slow\"",
            "ignore ",
            "cfg_attr(not(feature = \"slow\"), ignore)",
            "cfg_attr(ci, ignore = \"flaky, see #3\")",
            "cfg_attr(all(unix, test), allow(dead_code), ignore)",
            "cfg_attr(a, cfg_attr(b, ignore))",
            "should_panic",
            "should_panic(expected = \"boom\")",
            "cfg_attr(test, should_panic)",
        ] {
            assert!(disables_a_test(&attr(disabled)), "{disabled}");
        }
        let inner = ["#", "![", "cfg_attr(ci, ignore)", "]"].concat();
        assert!(disables_a_test(&inner));
        for fine in [
            "test",
            "tokio::test(flavor = \"multi_thread\")",
            "cfg_attr(feature = \"openapi\", schema(value_type = String))",
            "allow(clippy::ignored_unit_patterns)",
            "doc = \"an ignore ] in a string\"",
            "cfg_attr(x, derive(Debug))",
        ] {
            assert!(!disables_a_test(&attr(fine)), "{fine}");
        }
    }

    #[test]
    fn core_naming_std_io_is_caught_in_any_form() {
        for bad in [
            "fn f() { let _ = std::fs::read(\"x\"); }",
            "use std::net::TcpStream;",
            "use std :: process;",
            "use std::{collections::BTreeMap, fs};",
            "use std::{\n    io::Read,\n    process::Command,\n};",
            "fn f() { ::std::net::TcpListener::bind(\"x\"); }",
        ] {
            assert!(!std_io_in(bad).is_empty(), "{bad}");
        }
        for fine in [
            "use std::sync::Arc;",
            "use std::{collections::BTreeMap, fmt};",
            "fn f() { std::fmt::Write::write_str; }",
            "use std::fsomething;",
        ] {
            assert!(std_io_in(fine).is_empty(), "{fine}");
        }
        // and on a tree: a core crate that reads a file
        let dir = std::env::temp_dir().join(format!("casework-tidy-io-{}", std::process::id()));
        let src = dir.join("crates").join(CORE).join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("lib.rs"),
            "//! x\nfn f() { let _ = std::fs::read(\"x\"); }\n",
        )
        .unwrap();
        let problems = core_names_no_std_io(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn the_checks_catch_violations() {
        assert!(is_adapter("casework-store-sqlite"));
        assert!(is_adapter("casework-mail"));
        assert!(!is_adapter("casework-store-conformance"));
        assert!(!is_adapter("casework-core"));
        let dir = std::env::temp_dir().join(format!("casework-tidy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("crates/x/src")).unwrap();
        std::fs::write(dir.join("crates/x/src/lib.rs"), "fn main() {}\n").unwrap();
        let marker = ["#[", "ignore]"].concat();
        std::fs::write(
            dir.join("crates/x/src/t.rs"),
            format!("//! t\n{marker}\nfn t() {{}}\n"),
        )
        .unwrap();
        let problems = sources_are_documented_and_no_test_is_disabled(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
