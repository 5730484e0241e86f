//! The forms folder: reading form files from disk (the only file I/O of `forms/` besides `check_files`) into a
//! [`Catalog`] keyed by canonical `url|version`, and comparing versions to find a form's newest.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::json::too_deep;

use super::load::{parse_form, parse_form_with};
use super::model::{Form, MAX_BYTES, MAX_DEPTH};
use super::problem::LoadProblem;
use super::value_set::ValueSets;

/// Reads and checks one file, refusing oversized files before reading them whole. Its `answerValueSet`s may name
/// its contained ValueSets only; [`Catalog::load_dir`] and `forms::check_files` also offer the folder's files.
pub fn load_file(path: &Path) -> Result<Form, Vec<LoadProblem>> {
    let bytes = read_limited(path).map_err(|p| vec![p])?;
    parse_form(&path.display().to_string(), &bytes)
}

/// A file's bytes, at most one past [`MAX_BYTES`] (so the parser reports "too big" without us buffering an
/// unbounded file).
fn read_limited(path: &Path) -> Result<Vec<u8>, LoadProblem> {
    let fail = |reason: String| LoadProblem { file: path.display().to_string(), link_id: None, reason };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {}", e.kind())))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read: {}", e.kind())))?;
    Ok(bytes)
}

/// Files read for loading: the ValueSet files gathered (by url) for the forms' `answerValueSet`, and every other
/// file with its bytes, to be parsed as a form with those ValueSets.
pub(crate) struct FormFiles {
    pub(crate) value_sets: ValueSets,
    pub(crate) forms: Vec<(PathBuf, Vec<u8>)>,
    pub(crate) problems: Vec<LoadProblem>,
}

/// Reads `paths`, setting ValueSet files (`"resourceType": "ValueSet"`) aside; a ValueSet that cannot be used is a
/// problem of its file.
pub(crate) fn read_files(paths: &[PathBuf]) -> FormFiles {
    let mut out = FormFiles { value_sets: ValueSets::default(), forms: Vec::new(), problems: Vec::new() };
    for path in paths {
        let bytes = match read_limited(path) {
            Ok(b) => b,
            Err(p) => {
                out.problems.push(p);
                continue;
            }
        };
        let value_set = (bytes.len() <= MAX_BYTES && !too_deep(&bytes, MAX_DEPTH))
            .then(|| serde_json::from_slice::<Value>(&bytes).ok())
            .flatten()
            .filter(|v| v.get("resourceType").and_then(Value::as_str) == Some("ValueSet"));
        match value_set {
            Some(vs) => {
                if let Err(reason) = out.value_sets.insert(vs) {
                    out.problems.push(LoadProblem { file: path.display().to_string(), link_id: None, reason });
                }
            }
            None => out.forms.push((path.clone(), bytes)),
        }
    }
    out
}

/// Every form of a folder, keyed by canonical `url|version`.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    forms: BTreeMap<String, Form>,
}

impl Catalog {
    /// Loads every `*.json` in `dir` (sorted by file name). A broken form is reported and skipped; the others load.
    /// ValueSet files are not forms: they offer their concepts to the forms' `answerValueSet`.
    pub fn load_dir(dir: &Path) -> (Catalog, Vec<LoadProblem>) {
        let mut problems = Vec::new();
        let mut catalog = Catalog::default();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect(),
            Err(e) => {
                problems.push(LoadProblem {
                    file: dir.display().to_string(),
                    link_id: None,
                    reason: format!("cannot read the forms folder: {}", e.kind()),
                });
                return (catalog, problems);
            }
        };
        files.sort();
        let read = read_files(&files);
        problems.extend(read.problems);
        let mut origin: HashMap<String, String> = HashMap::new();
        // url → (first file, whether its version was derived): a form with no version of its own must be the only
        // form of its url, or "the newest version" of that url would be a guess between content hashes.
        let mut urls: HashMap<String, (String, bool)> = HashMap::new();
        for (path, bytes) in read.forms {
            match parse_form_with(&path.display().to_string(), &bytes, &read.value_sets) {
                Ok(form) => {
                    let key = form.canonical();
                    let file = path.display().to_string();
                    let refused = match (origin.get(&key), urls.get(&form.url)) {
                        (Some(first), _) => Some(format!("same url|version '{key}' as {first}; not loaded")),
                        (None, Some((first, derived))) if *derived || form.version_is_derived() => Some(format!(
                            "same url '{}' as {first} and one of them gives no version; give each a version; \
                             not loaded",
                            form.url
                        )),
                        _ => None,
                    };
                    if let Some(reason) = refused {
                        problems.push(LoadProblem { file, link_id: None, reason });
                        continue;
                    }
                    urls.entry(form.url.clone()).or_insert_with(|| (file.clone(), form.version_is_derived()));
                    origin.insert(key.clone(), file);
                    catalog.forms.insert(key, form);
                }
                Err(p) => problems.extend(p),
            }
        }
        (catalog, problems)
    }

    /// Builds a catalog from forms already loaded (e.g. sent over IPC); later duplicates are dropped.
    pub fn from_forms(forms: impl IntoIterator<Item = Form>) -> Catalog {
        let mut c = Catalog::default();
        for f in forms {
            c.forms.entry(f.canonical()).or_insert(f);
        }
        c
    }

    /// `url|version` exactly, or a bare url meaning its highest version.
    pub fn get(&self, canonical: &str) -> Option<&Form> {
        if canonical.contains('|') {
            return self.forms.get(canonical);
        }
        self.forms.values().filter(|f| f.url == canonical).max_by(|a, b| version_cmp(&a.version, &b.version))
    }

    /// Forms in canonical order.
    pub fn forms(&self) -> impl Iterator<Item = &Form> {
        self.forms.values()
    }

    pub fn len(&self) -> usize {
        self.forms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }
}

/// Compares dotted versions part by part, numerically where both parts are numbers ("1.10.0" > "1.9.2").
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let mut pa = a.split('.');
    let mut pb = b.split('.');
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    _ => x.cmp(y),
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
        }
    }
}
