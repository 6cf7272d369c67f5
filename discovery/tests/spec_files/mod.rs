//! Where the real specifications are and how the test files load them: the copies under
//! `fixtures/specs/` and the shared specs directory next to the workspace.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use apitap_discovery::openapi::{load_spec, Spec};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    workspace().join("fixtures/specs")
}

pub fn shared_specs_dir() -> PathBuf {
    workspace().join("../shared/specs")
}

/// Loads one spec file, panicking with the loader's message.
pub fn load_file(path: &Path) -> Spec {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load_spec(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"))
}

/// A spec under `fixtures/specs/`.
pub fn fixture(relative: &str) -> Spec {
    load_file(&fixtures_dir().join(relative))
}

/// Every `.yaml`, `.yml` and `.json` file under `dir`, sorted.
pub fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
