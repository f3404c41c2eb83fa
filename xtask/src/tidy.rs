//! The architecture invariants of docs/architecture.md, checked from `cargo metadata` and the
//! source tree. Each invariant is also an ordinary `#[test]`, so `cargo test` enforces them.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package};

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

fn metadata(root: &Path) -> Result<Metadata> {
    Ok(MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
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

/// Every source file opens with a `//!` line saying what it is for; no test is disabled.
pub fn sources_are_documented_and_no_test_is_disabled(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut problems = Vec::new();
    let ignore = ["#[", "ignore]"].concat();
    let should_panic = ["#[", "should_panic"].concat();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        let Ok(text) = std::fs::read_to_string(&f) else {
            problems.push(format!("{rel}: not readable as UTF-8"));
            continue;
        };
        if !text.trim_start().starts_with("//!") {
            problems.push(format!(
                "{rel}: does not open with a //! line saying what it is for"
            ));
        }
        if text.contains(&ignore) || text.contains(&should_panic) {
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
