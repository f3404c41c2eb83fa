//! The architecture invariants of docs/architecture.md, checked from `cargo metadata` and the
//! source tree. Each invariant is also an ordinary `#[test]`, so `cargo test` enforces them.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::{CargoOpt, DependencyKind, Metadata, MetadataCommand, Package};

/// The core crate.
const CORE: &str = "casework-core";
/// Crates that are adapters: they implement core's ports.
const ADAPTER_PREFIXES: &[&str] = &["casework-store-", "casework-mail"];
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

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
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

/// All checks, for `cargo xtask tidy`.
pub fn check_all(root: &Path) -> Result<Vec<String>> {
    let meta = metadata(root)?;
    let mut all = core_is_pure(&meta);
    all.extend(adapters_depend_on_core_only(&meta));
    all.extend(only_roots_wire_adapters(&meta));
    all.extend(crates_are_named_and_unpublished(&meta, root));
    all.extend(sources_are_documented_and_no_test_is_disabled(root));
    all.extend(core_names_no_std_io(root));
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
