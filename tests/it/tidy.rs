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

/// The paths one source text names through `crate::`, `super::` and `self::`, as segment lists relative to the crate
/// root, each with the line it is on; also the paths through the file's own child modules (`stream::Writer` where
/// the file says `mod stream;`). `module` is the file's own module path. Comment lines are skipped (a doc link is no
/// dependency), so are re-exports, and so is everything from the first `#[cfg(test)]` on: a test module may reach
/// anywhere.
fn named_paths(text: &str, module: &[String]) -> Vec<(Vec<String>, usize)> {
    /// The identifier `s` starts with.
    fn ident(s: &str) -> &str {
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        &s[..end]
    }
    /// Every path that `s` (just after a `…::`) continues with: one segment list, or one per entry of a `{…}` group.
    fn tails(s: &str) -> Vec<Vec<String>> {
        if let Some(inner) = s.strip_prefix('{') {
            let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.extend(tails(inner[start..i].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(tails(inner[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return out;
        }
        let head = ident(s);
        if head.is_empty() || head == "self" {
            return vec![Vec::new()];
        }
        let rest = &s[head.len()..];
        match rest.strip_prefix("::") {
            Some(more) => tails(more).into_iter().map(|t| [vec![head.to_string()], t].concat()).collect(),
            None => vec![vec![head.to_string()]],
        }
    }
    let body = text.split("#[cfg(test)]").next().unwrap_or(text);
    // The file's own child modules (`mod stream;`), which its code may name without a prefix (`stream::Writer`).
    let children: Vec<&str> = body
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("pub ").or_else(|| l.strip_prefix("pub(crate) ")).unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';')
        })
        .collect();
    let mut out = Vec::new();
    for (n, line) in body.lines().enumerate() {
        let code = line.trim_start();
        // A re-export (`pub use import::{import, ImportReport};`) is the folder's public face, not a use by this
        // file's code: a child that uses its parent's types is no circle because the parent re-exports the child.
        if code.starts_with("//") || code.starts_with("pub use ") || code.starts_with("pub(crate) use ") {
            continue;
        }
        let mut at = 0;
        while let Some(found) = line[at..].find(|c: char| c.is_alphabetic()) {
            let start = at + found;
            let word = ident(&line[start..]);
            let preceded = line[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':' || c == '.');
            let after = &line[start + word.len()..];
            let base: Option<Vec<String>> = match word {
                _ if preceded => None,
                "crate" => Some(Vec::new()),
                "self" => Some(module.to_vec()),
                "super" => {
                    let mut base = module.to_vec();
                    let mut rest = after;
                    base.pop();
                    while let Some(r) = rest.strip_prefix("::super") {
                        base.pop();
                        rest = r;
                    }
                    Some(base)
                }
                child if children.contains(&child) && after.starts_with("::") => Some(module.to_vec()),
                _ => None,
            };
            let more = if base.is_some() && !["crate", "self", "super"].contains(&word) && after.starts_with("::") {
                // A child module: the path starts with its name.
                Some(&line[start..])
            } else {
                after.trim_start_matches("::super").strip_prefix("::")
            };
            if let (Some(base), Some(more)) = (base, more) {
                for tail in tails(more) {
                    out.push(([base.clone(), tail].concat(), n + 1));
                }
            }
            at = start + word.len().max(1);
        }
    }
    out
}

/// The file that defines the deepest module of `path` under `src_dir` (`forms::load::Loader` → `forms/load.rs`).
fn file_of(src_dir: &Path, root_file: &str, path: &[String]) -> String {
    let (mut dir, mut file) = (PathBuf::new(), root_file.to_string());
    for seg in path {
        let flat = dir.join(format!("{seg}.rs"));
        let folder = dir.join(seg).join("mod.rs");
        if src_dir.join(&flat).is_file() {
            file = flat.to_string_lossy().replace('\\', "/");
        } else if src_dir.join(&folder).is_file() {
            file = folder.to_string_lossy().replace('\\', "/");
        } else {
            break;
        }
        dir = dir.join(seg);
    }
    file
}

/// The module path of a file relative to `src/` (`forms/load.rs` → `[forms, load]`, `forms/mod.rs` → `[forms]`).
fn module_of(rel: &str) -> Vec<String> {
    let stem = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// Circles among the files of the library in `src/`: each strongly connected group of two or more files, with the
/// lines that make its edges.
fn import_circles() -> Vec<String> {
    let src_dir = root().join("src");
    let files: Vec<(String, String)> = rust_files("src")
        .into_iter()
        .map(|(name, text)| (name.trim_start_matches("src/").to_string(), text))
        .filter(|(name, _)| name != "main.rs" && !name.starts_with("cli/"))
        .collect();
    let index = |name: &str| files.iter().position(|(n, _)| n == name);
    // edges[i] = (j, "file:line") for every file j that file i names.
    let mut edges: Vec<Vec<(usize, String)>> = vec![Vec::new(); files.len()];
    for (i, (name, text)) in files.iter().enumerate() {
        for (path, line) in named_paths(text, &module_of(name)) {
            let target = file_of(&src_dir, "lib.rs", &path);
            if let Some(j) = index(&target) {
                if j != i && target != "lib.rs" && !edges[i].iter().any(|(k, _)| *k == j) {
                    edges[i].push((j, format!("src/{name}:{line}")));
                }
            }
        }
    }
    // Tarjan's strongly connected components, iterative enough for a few hundred files.
    struct Scc<'a> {
        edges: &'a [Vec<(usize, String)>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        groups: Vec<Vec<usize>>,
    }
    fn visit(s: &mut Scc<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for (w, _) in &s.edges[v] {
            match s.index[*w] {
                None => {
                    visit(s, *w);
                    s.low[v] = s.low[v].min(s.low[*w]);
                }
                Some(iw) if s.on[*w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                group.push(w);
                if w == v {
                    break;
                }
            }
            s.groups.push(group);
        }
    }
    let n = files.len();
    let mut s = Scc {
        edges: &edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: vec![],
        next: 0,
        groups: vec![],
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    let mut out = Vec::new();
    for group in s.groups.into_iter().filter(|g| g.len() > 1) {
        let mut lines = Vec::new();
        for &v in &group {
            for (w, at) in &edges[v] {
                if group.contains(w) {
                    lines.push(format!("  src/{} -> src/{} ({at})", files[v].0, files[*w].0));
                }
            }
        }
        lines.sort();
        out.push(lines.join("\n"));
    }
    out
}

#[test]
fn no_import_circle_between_files_of_the_library() {
    let circles = import_circles();
    assert!(circles.is_empty(), "files of src/ import each other in a circle:\n{}", circles.join("\n\n"));
}

#[test]
fn the_import_reader_sees_the_paths_rust_resolves() {
    let module = vec!["forms".to_string(), "load".to_string()];
    let text = "use super::{model::{Form, Item}, text};\nuse crate::vault::Tx;\n// crate::audit is a comment\n\
                fn f() { super::super::json::parse(); self::inner::g(); }\nmod inner;\npub use inner::Face;\n\
                fn g(x: inner::Deep) { x.inner::<u8>(); }\n#[cfg(test)]\nmod t { use crate::api; }\n";
    let got: Vec<(Vec<String>, usize)> = named_paths(text, &module);
    let show: Vec<String> = got.iter().map(|(p, l)| format!("{}@{l}", p.join("::"))).collect();
    assert_eq!(
        show,
        [
            "forms::model::Form@1",
            "forms::model::Item@1",
            "forms::text@1",
            "vault::Tx@2",
            "json::parse@4",
            "forms::load::inner::g@4",
            "forms::load::inner::Deep@7"
        ]
    );
    let src = root().join("src");
    assert_eq!(file_of(&src, "lib.rs", &["forms".into(), "load".into(), "Loader".into()]), "forms/load.rs");
    assert_eq!(file_of(&src, "lib.rs", &["vault".into(), "Tx".into()]), "vault/mod.rs");
    assert_eq!(file_of(&src, "lib.rs", &["Nothing".into()]), "lib.rs");
}

/// The files that hold SQL: the vault's own files (`src/vault/`), the storage of each domain, and the benchmark's
/// bare-SQLite baseline. The façade (`src/api/`), the command line, printing and the forms engine hold none: they ask
/// a domain module, so each table has one place that reads and writes it.
const SQL_ALLOWED: &[&str] = &[
    "src/audit.rs",
    "src/auth.rs",
    "src/keyring.rs",
    "src/drafts.rs",
    "src/entries/mod.rs",
    "src/entries/unsigned.rs",
    "src/episodes.rs",
    "src/handoff/import.rs",
    "src/handoff/mod.rs",
    "src/handoff/write.rs",
    "src/patients.rs",
    "src/reconcile/decide.rs",
    "src/reconcile/mod.rs",
    "src/reconcile/refusal.rs",
    "src/reconcile/report.rs",
    "src/reconcile/worklist.rs",
    "src/roster/store.rs",
    "src/fhir/batch.rs",
    "src/fhir/freeze.rs",
    "src/unit/store.rs",
    // The SMART Backend Services key sealed in `meta`, as the handoff keys are.
    "src/fhir/smart.rs",
    // `dtk bench` compares the durable save with a bare SQLite insert of the same bytes in a scratch database: the
    // baseline has to be plain SQL, outside the vault.
    "src/api/bench.rs",
];

/// Whether a line holds an SQL statement in a string: a quote followed by one of the statement openings.
fn sql_statement(line: &str) -> bool {
    const OPENINGS: &[&str] = &[
        "SELECT ",
        "INSERT ",
        "UPDATE ",
        "DELETE FROM",
        "CREATE TABLE",
        "CREATE INDEX",
        "DROP ",
        "ALTER TABLE",
        "PRAGMA ",
    ];
    line.split('"').skip(1).step_by(2).any(|inside| OPENINGS.iter().any(|o| inside.trim_start().starts_with(o)))
}

#[test]
fn no_sql_outside_the_vault_and_the_domain_storage_files() {
    let mut offenders = Vec::new();
    for (name, text) in rust_files("src") {
        if name.starts_with("src/vault/") || SQL_ALLOWED.contains(&name.as_str()) {
            continue;
        }
        let body = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (n, line) in body.lines().enumerate() {
            if sql_statement(line) {
                offenders.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL outside the storage files (ask the domain module instead):\n{}",
        offenders.join("\n")
    );
    for allowed in SQL_ALLOWED {
        let text = std::fs::read_to_string(root().join(allowed)).unwrap_or_else(|e| panic!("{allowed}: {e}"));
        assert!(text.lines().any(sql_statement), "{allowed} is allowed SQL but holds none: take it off the list");
    }
    assert!(sql_statement(r#"    conn.execute("DELETE FROM drafts WHERE id = ?1", [id])"#));
    assert!(!sql_statement(r#"    println!("select the entries to export");"#));
}

/// The most lines a file of `src/` may have: past it a file holds more than one job (issue 22 measured the files
/// that had grown to 1,100–1,300 lines; each became a folder of one file per job).
const MAX_FILE_LINES: usize = 700;

#[test]
fn no_file_of_the_core_holds_more_than_one_job_by_size() {
    let long: Vec<String> = rust_files("src")
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_FILE_LINES)
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "files of src/ over {MAX_FILE_LINES} lines (split them by job):\n{}", long.join("\n"));
}

#[test]
fn the_core_never_depends_on_tauri() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let mut section = "";
    let mut in_dependencies = Vec::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            section = line;
        } else if section.contains("dependencies") && line.contains("tauri") {
            in_dependencies.push(format!("{section} {line}"));
        }
    }
    assert!(in_dependencies.is_empty(), "the core depends on tauri (the shell is src-tauri/): {in_dependencies:?}");
    assert!(manifest.contains("[dependencies]"), "the core's dependencies were read");
    let named: Vec<String> = rust_files("src")
        .into_iter()
        .filter(|(_, text)| text.lines().any(|l| !l.trim_start().starts_with("//") && l.contains("tauri::")))
        .map(|(name, _)| name)
        .collect();
    assert!(named.is_empty(), "files of src/ use tauri: {named:?}");
}

#[test]
fn no_placeholder_and_no_skipped_test_anywhere() {
    // Spelled in pieces so that this file does not find itself.
    let banned = [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("#[", "ignore")];
    let mut found = Vec::new();
    for dir in ["src", "src-tauri/src", "tests", "src-tauri/tests", "fuzz/fuzz_targets"] {
        for (name, text) in rust_files(dir) {
            for (n, line) in text.lines().enumerate() {
                if banned.iter().any(|b| line.contains(b)) {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "placeholders or skipped tests:\n{}", found.join("\n"));
}
