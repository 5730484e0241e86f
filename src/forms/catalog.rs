//! The forms folder: reading form files from disk (the only file I/O of `forms/` besides `check_files`) into a
//! [`Catalog`] keyed by canonical `url|version`, and comparing versions to find a form's newest.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::load::parse_form;
use super::model::{Form, MAX_BYTES};
use super::problem::LoadProblem;

/// Reads and checks one file, refusing oversized files before reading them whole.
pub fn load_file(path: &Path) -> Result<Form, Vec<LoadProblem>> {
    let label = path.display().to_string();
    let fail = |reason: String| vec![LoadProblem { file: label.clone(), link_id: None, reason }];
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {}", e.kind())))?;
    let mut bytes = Vec::new();
    // Read one byte past the limit so parse_form reports "too big" without us buffering an unbounded file.
    file.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read: {}", e.kind())))?;
    parse_form(&label, &bytes)
}

/// Every form of a folder, keyed by canonical `url|version`.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    forms: BTreeMap<String, Form>,
}

impl Catalog {
    /// Loads every `*.json` in `dir` (sorted by file name). A broken form is reported and skipped; the others load.
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
        let mut origin: HashMap<String, String> = HashMap::new();
        // url → (first file, whether its version was derived): a form with no version of its own must be the only
        // form of its url, or "the newest version" of that url would be a guess between content hashes.
        let mut urls: HashMap<String, (String, bool)> = HashMap::new();
        for path in files {
            match load_file(&path) {
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
