//! Forms as data: loading FHIR R4 Questionnaires, validating QuestionnaireResponses, clinical rules and extraction.
//!
//! A hospital adds a form by dropping a Questionnaire into the forms folder; everything here is driven by that file.
//! See README.md, "Authoring a downtime form" (the supported subset, for form authors), and docs/forms-engine.md (for engineers).
//! Nothing in this module does I/O except [`load_file`], [`Catalog::load_dir`] and [`check_files`].
//!
//! # Layers
//! Each file uses only files on the lines above its own, through `super::FILE::item`; callers outside use the
//! re-exports below. The test at the end of this file reads the sources and fails if a file uses one on its own
//! line or below, so no import circle can come back.
//!
//! ```text
//! model                         the shared vocabulary: parsed form, findings, limits, predicates several files ask
//! value, definition, problem, fhirpath   value[x] and FHIR formats; extraction targets; load problems and field readers; the FHIRPath subset's parser
//! text, rules, value_set, fhirpath_value   Unicode hygiene; clinical rules; the ValueSets answerValueSet names, expanded; FHIRPath values and operators
//! item_answers, fhirpath_eval   what an item declares about its answers; evaluating FHIRPath
//! item                          reading the item tree of a Questionnaire
//! form_checks, clinical_time, expressions   whole-form checks; where the clinical time comes from; the SDC expressions in scope
//! validate                      validating a response (computing its calculated answers)
//! load, extract                 parsing a Questionnaire; extracting FHIR resources and facts
//! catalog                       form files and folders (the only file I/O)
//! ```

mod catalog;
mod clinical_time;
mod definition;
mod expressions;
mod extract;
mod fhirpath;
mod fhirpath_eval;
mod fhirpath_value;
mod form_checks;
mod item;
mod item_answers;
mod load;
mod model;
mod problem;
mod rules;
mod text;
mod validate;
mod value;
mod value_set;

use std::fmt;
use std::path::{Path, PathBuf};

pub use catalog::{load_file, version_cmp, Catalog};
pub use definition::SUPPORTED_CONTEXTS;
#[doc(hidden)]
pub use expressions::{evaluate_fhirpath, FhirPathInput};
pub use extract::{
    extract, extract_signed, facts, facts_of_checked, ExtractContext, ExtractError, Facts, ID_NAMESPACE,
};
pub use load::{parse_form, parse_form_with};
pub use model::*;
pub use problem::LoadProblem;
pub use rules::unsafe_abbreviations;
pub use text::{is_bidi_control, is_control};
pub use validate::{parse_response, validate_response, Checked, ResponseError};
pub use value::{is_date, is_date_time, is_instant, is_time};
pub use value_set::ValueSets;

/// Environment variable naming the forms folder when `--forms` is not given.
pub const FORMS_ENV: &str = "DTK_FORMS";

/// Which forms folder to use: the `--forms` flag, else the `DTK_FORMS` value, else the bundled `forms/`.
/// The caller reads the environment, so this stays a pure function.
pub fn forms_dir(flag: Option<&Path>, env_value: Option<&std::ffi::OsStr>) -> PathBuf {
    match (flag, env_value) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(v)) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("forms"),
    }
}

/// Result of `dtk forms check FILE...`: the forms that loaded and every problem of the ones that did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// (file, canonical url|version, title) of each form that loaded.
    pub ok: Vec<(String, String, String)>,
    /// Where the clinical time of each form in `ok` comes from, in the same order.
    pub clinical_time: Vec<ClinicalTime>,
    pub problems: Vec<LoadProblem>,
}

impl CheckReport {
    /// True when every file loaded; `dtk forms check` exits 1 otherwise.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (file, canonical, title) in &self.ok {
            writeln!(f, "ok {file}: {canonical} ({title})")?;
        }
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Loads each file and reports every problem; a broken file never stops the others being checked. ValueSet files
/// among them are not forms: they offer their concepts to the forms' `answerValueSet`.
pub fn check_files(paths: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    let read = catalog::read_files(paths);
    report.problems.extend(read.problems);
    for (p, bytes) in &read.forms {
        match parse_form_with(&p.display().to_string(), bytes, &read.value_sets) {
            Ok(form) => {
                report.ok.push((p.display().to_string(), form.canonical(), form.title.clone()));
                report.clinical_time.push(form.clinical_time().clone());
            }
            Err(problems) => report.problems.extend(problems),
        }
    }
    report
}

/// The layering of this module, held by reading its sources: a circle between its files once made every change to
/// one of them a change to all of them.
#[cfg(test)]
mod layering {
    /// Every file of `forms/` but this one, by module name.
    const FILES: &[(&str, &str)] = &[
        ("catalog", include_str!("catalog.rs")),
        ("clinical_time", include_str!("clinical_time.rs")),
        ("definition", include_str!("definition.rs")),
        ("expressions", include_str!("expressions.rs")),
        ("extract", include_str!("extract.rs")),
        ("fhirpath", include_str!("fhirpath.rs")),
        ("fhirpath_eval", include_str!("fhirpath_eval.rs")),
        ("fhirpath_value", include_str!("fhirpath_value.rs")),
        ("form_checks", include_str!("form_checks.rs")),
        ("item", include_str!("item.rs")),
        ("item_answers", include_str!("item_answers.rs")),
        ("load", include_str!("load.rs")),
        ("model", include_str!("model.rs")),
        ("problem", include_str!("problem.rs")),
        ("rules", include_str!("rules.rs")),
        ("text", include_str!("text.rs")),
        ("validate", include_str!("validate.rs")),
        ("value", include_str!("value.rs")),
        ("value_set", include_str!("value_set.rs")),
    ];
    const MOD_RS: &str = include_str!("mod.rs");

    /// The modules `mod.rs` declares (`mod NAME;` lines).
    fn declared() -> Vec<String> {
        let mut out: Vec<String> = MOD_RS
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';').map(str::to_string))
            .collect();
        out.sort();
        out
    }

    /// The identifier a path starts with (`model` in ` model::{Form, Item}`); empty for `*`, `self` is kept.
    fn first_ident(s: &str) -> String {
        s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
    }

    /// What follows `super::` or `crate::forms::`: one path, or a `{…}` list whose entries each start a path.
    fn heads(rest: &str) -> Vec<String> {
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
        }
        let Some(inner) = rest.strip_prefix('{') else {
            return vec![first_ident(rest)];
        };
        let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.push(first_ident(&inner[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(first_ident(&inner[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
        out
    }

    /// file → the sibling files it uses. A path through `super::` that does not name a sibling file (an item
    /// re-exported by `mod.rs`, or `super::{self}`) is an error: it would hide an edge of the graph.
    fn graph(files: &[(&str, &str)]) -> Result<Vec<(String, Vec<String>)>, String> {
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        let mut out = Vec::new();
        for (name, source) in files {
            let mut uses: Vec<String> = Vec::new();
            for prefix in ["super::", "crate::forms::"] {
                for (at, _) in source.match_indices(prefix) {
                    // `super::super::x` is one path, found once at its first `super::`.
                    if prefix == "super::" && source[..at].ends_with("super::") {
                        continue;
                    }
                    for head in heads(&source[at + prefix.len()..]) {
                        if head.is_empty() || head == *name {
                            continue;
                        }
                        if !names.contains(&head.as_str()) {
                            return Err(format!(
                                "{name}.rs names `{prefix}{head}`: name the file the item lives in \
                                 ({prefix}FILE::item) so the uses between files stay visible"
                            ));
                        }
                        if !uses.contains(&head) {
                            uses.push(head);
                        }
                    }
                }
            }
            uses.sort();
            out.push((name.to_string(), uses));
        }
        Ok(out)
    }

    /// The first circle found, as `a → b → a`.
    fn circle(graph: &[(String, Vec<String>)]) -> Option<String> {
        fn visit(
            node: &str,
            graph: &[(String, Vec<String>)],
            done: &mut Vec<String>,
            path: &mut Vec<String>,
        ) -> Option<String> {
            if let Some(i) = path.iter().position(|p| p == node) {
                let mut c = path[i..].to_vec();
                c.push(node.to_string());
                return Some(c.join(" → "));
            }
            if done.iter().any(|d| d == node) {
                return None;
            }
            path.push(node.to_string());
            let uses = graph.iter().find(|(n, _)| n == node).map(|(_, u)| u.as_slice()).unwrap_or(&[]);
            for next in uses {
                if let Some(c) = visit(next, graph, done, path) {
                    return Some(c);
                }
            }
            path.pop();
            done.push(node.to_string());
            None
        }
        let mut done = Vec::new();
        graph.iter().find_map(|(n, _)| visit(n, graph, &mut done, &mut Vec::new()))
    }

    /// The layer table of the module doc: file → line number (0 is the bottom layer, `model`).
    fn layers() -> Vec<(String, usize)> {
        let doc: Vec<&str> = MOD_RS.lines().filter_map(|l| l.strip_prefix("//!")).map(str::trim).collect();
        let start = doc.iter().position(|l| *l == "```text").map_or(doc.len(), |i| i + 1);
        let mut out = Vec::new();
        for (layer, line) in doc[start..].iter().take_while(|l| **l != "```").enumerate() {
            let files = line.split("  ").next().unwrap_or("");
            out.extend(files.split(',').map(|f| (f.trim().to_string(), layer)));
        }
        out
    }

    #[test]
    fn every_declared_module_is_read_by_this_test() {
        let mut listed: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(listed, declared(), "FILES must list every `mod` of forms/mod.rs");
    }

    #[test]
    fn the_files_of_forms_use_each_other_without_a_circle() {
        let g = graph(FILES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(circle(&g), None, "an import circle between the files of src/forms");
    }

    #[test]
    fn each_file_uses_only_the_layers_below_it_in_the_module_doc() {
        let layers = layers();
        let mut documented: Vec<String> = layers.iter().map(|(f, _)| f.clone()).collect();
        documented.sort();
        assert_eq!(documented, declared(), "the layer table of forms/mod.rs must name every file once");
        let layer = |f: &str| layers.iter().find(|(n, _)| n == f).map(|(_, l)| *l);
        for (file, uses) in graph(FILES).unwrap_or_else(|e| panic!("{e}")) {
            for u in uses {
                assert!(
                    layer(&u) < layer(&file),
                    "{file}.rs uses {u}.rs, which the layer table of forms/mod.rs puts on its line or above"
                );
            }
        }
    }

    #[test]
    fn the_circle_check_finds_a_circle() {
        let files = [
            ("a", "use super::b::X;"),
            ("b", "use super::{c, d::Y};"),
            ("c", ""),
            ("d", "fn f() { crate::forms::a::g() }"),
        ];
        let g = graph(&files).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(circle(&g).as_deref(), Some("a → b → d → a"));
        assert!(graph(&[("a", "use super::Finding;")]).is_err(), "an item reached through mod.rs hides an edge");
        let nested = [("a", "mod tests {\n    use super::super::b::X;\n    use super::*;\n}"), ("b", "")];
        assert_eq!(graph(&nested), Ok(vec![("a".to_string(), vec!["b".to_string()]), ("b".to_string(), vec![])]));
    }
}
