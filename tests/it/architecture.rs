//! The layering the README's Architecture section promises, checked on the source: the
//! use cases under `src/service/` form a DAG, so each can be read (and tested) knowing
//! only what it calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The services each service module names through `super::`, comments left out.
fn service_imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
    let sources: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .expect("src/service")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs") && !path.ends_with("mod.rs"))
        .map(|path| {
            let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
            let code: String = std::fs::read_to_string(&path)
                .expect("source")
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            (name, code)
        })
        .collect();
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, code)| {
            let mut named = BTreeSet::new();
            for part in code.split("super::").skip(1) {
                // `super::orders::…` names one module; `super::{Context, orders, …}` several.
                let names_here = match part.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or_default(),
                    None => part
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default(),
                };
                for word in names_here.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if names.contains(word) && word != name {
                        named.insert(word.to_owned());
                    }
                }
            }
            (name.clone(), named)
        })
        .collect()
}

#[test]
fn services_form_a_dag() {
    let imports = service_imports();
    assert!(imports.len() > 10, "the services were read: {imports:?}");
    for start in imports.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(module) = stack.pop() {
            for next in &imports[&module] {
                assert_ne!(
                    next, start,
                    "service `{start}` reaches itself through `{module}`: {imports:?}"
                );
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
    }
}

/// The client (the CLI's commands, and the node's own reader of its peers) speaks the
/// protocol through `domain`, `crypto` and `ledger` only: services may use it to read
/// other nodes, so it must not reach back into the node's services, HTTP layer or store.
#[test]
fn the_client_does_not_reach_into_the_node() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/client");
    let mut reaching = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/client").filter_map(Result::ok) {
        let code = std::fs::read_to_string(entry.path()).expect("source");
        for layer in ["crate::service", "crate::http", "crate::store"] {
            if code.contains(layer) {
                reaching.push(format!("{} uses {layer}", entry.path().display()));
            }
        }
    }
    assert!(reaching.is_empty(), "{reaching:#?}");
}

/// Unsafe code is denied crate-wide, with one exception: the SQLite log batches driven
/// through sqlx's locked handle (`store::sqlite::reads`, its safety argued there). A
/// second `allow` would be a decision for the README, not a line slipped in.
#[test]
fn unsafe_code_is_allowed_in_one_place_only() {
    fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 50, "the sources were read: {}", files.len());
    let allowing: Vec<String> = files
        .iter()
        .filter(|path| {
            std::fs::read_to_string(path)
                .expect("source")
                .contains("allow(unsafe_code)")
        })
        .map(|path| path.strip_prefix(root).expect("under the crate").display().to_string())
        .collect();
    assert_eq!(allowing, ["src/store/sqlite/reads.rs"]);
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("unsafe_code = \"deny\""),
        "unsafe code is denied crate-wide"
    );
}
