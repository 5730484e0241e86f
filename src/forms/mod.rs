//! Forms as data: loading FHIR R4 Questionnaires, validating QuestionnaireResponses, clinical rules and extraction.
//!
//! A hospital adds a form by dropping a Questionnaire into the forms folder; everything here is driven by that file.
//! See README.md, "Authoring a downtime form" (the supported subset, for form authors), and docs/forms-engine.md (for engineers).
//! Nothing in this module does I/O except [`load_file`], [`Catalog::load_dir`] and [`check_files`].

mod definition;
mod extract;
mod load;
mod model;
mod rules;
mod text;
mod validate;
mod value;

use std::fmt;
use std::path::{Path, PathBuf};

pub use definition::SUPPORTED_CONTEXTS;
pub use extract::{extract, facts, ExtractContext, ExtractError, Facts, ID_NAMESPACE};
pub use load::{load_file, parse_form, version_cmp, Catalog, LoadProblem};
pub use model::*;
pub use rules::unsafe_abbreviations;
pub use text::{is_bidi_control, is_control};
pub use validate::{parse_response, validate_response, Checked, ResponseError};
pub use value::{is_date, is_date_time, is_instant, is_time};

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

/// Loads each file and reports every problem; a broken file never stops the others being checked.
pub fn check_files(paths: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    for p in paths {
        match load_file(p) {
            Ok(form) => report.ok.push((p.display().to_string(), form.canonical(), form.title.clone())),
            Err(problems) => report.problems.extend(problems),
        }
    }
    report
}
