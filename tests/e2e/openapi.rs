//! The served OpenAPI document works with the tools an embedder reaches for first:
//! openapi-spec-validator accepts it, and openapi-python-client generates a client with a
//! type for every schema, the timeline's and the history's included (both from PyPI, pinned,
//! in `target/test-venv`: `cargo xtask test-env`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use casework_e2e::{Cw, test_python};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_casework-e2e-cli");

/// A tool installed beside the test Python.
fn tool(name: &str) -> std::path::PathBuf {
    let python = test_python();
    python.parent().unwrap_or(Path::new(".")).join(name)
}

/// The class names a generated package's `models/__init__.py` exports.
fn exported(models: &Path) -> BTreeSet<String> {
    let init = std::fs::read_to_string(models.join("__init__.py")).unwrap();
    let all = init.split("__all__").nth(1).unwrap_or_default();
    all.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_served_document_validates_and_generates_a_complete_client() {
    let cw = Cw::new(EXE, "openapi-tools");
    let doc = cw.ok(&["openapi"]);
    let path = cw.dir.join("openapi.json");
    std::fs::write(&path, &doc).unwrap();

    // issue #11: operation ids repeated between /api/v1 and /store/v1
    let out = Command::new(test_python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string()
        + String::from_utf8_lossy(&out.stderr).as_ref();
    assert!(out.status.success(), "openapi-spec-validator: {said}");

    // issue #11: the generator dropped Event, EventItem, TimelineEntry and TimelineItem
    let config = cw.dir.join("client.yaml");
    std::fs::write(&config, "post_hooks: []\n").unwrap();
    let generated = cw.dir.join("client");
    let out = Command::new(tool("openapi-python-client"))
        .args(["generate", "--meta", "none", "--path"])
        .arg(&path)
        .arg("--config")
        .arg(&config)
        .arg("--output-path")
        .arg(&generated)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string()
        + String::from_utf8_lossy(&out.stderr).as_ref();
    assert!(out.status.success(), "openapi-python-client: {said}");
    assert!(
        !said.to_lowercase().contains("warning"),
        "the generator left something out: {said}"
    );

    // a class for every object and enum schema, and for every variant of a tagged union
    let classes = exported(&generated.join("models"));
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut missing = Vec::new();
    for (name, schema) in schemas {
        let expected: Vec<String> = if let Some(items) = schema["oneOf"].as_array() {
            items
                .iter()
                .filter_map(|i| i["title"].as_str().map(str::to_string))
                .collect()
        } else if schema["type"] == "object" || schema["enum"].is_array() {
            vec![name.replace('_', "")]
        } else {
            Vec::new()
        };
        missing.extend(expected.into_iter().filter(|c| !classes.contains(c)));
    }
    assert!(missing.is_empty(), "no generated type for {missing:?}");
    for union in ["Event", "EventItem", "TimelineEntry", "TimelineItem"] {
        let variants = schemas[union]["oneOf"].as_array().unwrap();
        assert!(variants.len() > 10, "{union}");
        assert!(
            classes.contains(&format!("{union}EmailQueued")),
            "{union}: {classes:?}"
        );
    }
}
