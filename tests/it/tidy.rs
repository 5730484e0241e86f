//! The layout rules ARCHITECTURE.md states as absences, checked over the source files: every file says what it is
//! for, nothing writes a file except through `src/durable.rs`, and `src/main.rs` stays a thin dispatcher.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.rs` files under `dir` (relative to the repository), sorted, with `/` separators.
fn rust_files(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join(dir), &mut paths);
    let mut files: Vec<(String, String)> = paths
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root()).expect("under the root").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_source_file_starts_with_a_doc_line_saying_what_it_is_for() {
    let mut files = rust_files("src");
    files.extend(rust_files("src-tauri/src"));
    assert!(files.len() > 20, "the source files were found");
    let missing: Vec<&str> =
        files.iter().filter(|(_, text)| !text.starts_with("//!")).map(|(name, _)| name.as_str()).collect();
    assert!(missing.is_empty(), "these files do not start with a `//!` line: {missing:?}");
}

/// The one module allowed to create and write files.
const DURABLE: &str = "src/durable.rs";

/// Files that create a file without the durable-write helper, and why that is right for them.
const WRITES_ALLOWED: &[&str] = &[
    // The benchmark resets the kernel's peak-memory counter by writing to /proc/self/clear_refs: a control file of
    // the kernel, not a file the product keeps (it cannot be renamed over, nor synced).
    "src/api/bench.rs",
    // The vault checks that its folder is writable by creating and at once removing a probe file; the vault's own
    // files are SQLite's business (its journal and fsyncs make them durable).
    "src/vault/mod.rs",
];

#[test]
fn nothing_writes_a_file_except_through_the_durable_write_helper() {
    let mut offenders = Vec::new();
    for (name, text) in rust_files("src") {
        if name == DURABLE || WRITES_ALLOWED.contains(&name.as_str()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if ["fs::write", "File::create", "OpenOptions"].iter().any(|w| line.contains(w)) {
                offenders.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "files are written without dtk::durable (temporary file, fsync, rename, fsync of the folder):\n{}",
        offenders.join("\n")
    );
    for allowed in WRITES_ALLOWED {
        assert!(root().join(allowed).is_file(), "{allowed} is allowed to write files but no longer exists");
    }
}

#[test]
fn main_rs_stays_a_thin_dispatcher() {
    let text = std::fs::read_to_string(root().join("src/main.rs")).expect("src/main.rs");
    let lines = text.lines().count();
    assert!(lines < 150, "src/main.rs has {lines} lines; commands belong in src/cli/");
}
