//! Loading a Questionnaire from bytes: size/depth limits, the questionnaire's own elements, then the item tree
//! (`item.rs`), where the clinical time comes from (`clinical_time.rs`) and the checks that need the whole form
//! (`form_checks.rs`), giving a [`Form`] or every problem.
//!
//! A form is either fully inside the subset or refused with every problem listed (file, linkId, reason), so an
//! author fixes a file in one round trip. The loader never panics: it is fuzzed (`fuzz/fuzz_targets/forms_load.rs`).

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json::too_deep;

use super::clinical_time;
use super::expressions::check_expressions;
use super::form_checks::check_whole;
use super::item::{read_items, Inherited, Pending};
use super::model::*;
use super::problem::{short, LoadProblem, Loader};
use super::value_set::{ValueSetSources, ValueSets};

const ROOT_KEYS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "url",
    "identifier",
    "version",
    "name",
    "title",
    "derivedFrom",
    "status",
    "experimental",
    "subjectType",
    "date",
    "publisher",
    "contact",
    "description",
    "useContext",
    "jurisdiction",
    "purpose",
    "copyright",
    "approvalDate",
    "lastReviewDate",
    "effectivePeriod",
    "code",
    "item",
];

/// Parses and checks one Questionnaire. `file_label` is only used to name the file in problems.
pub fn parse_form(file_label: &str, json: &[u8]) -> Result<Form, Vec<LoadProblem>> {
    parse_form_with(file_label, json, &ValueSets::default())
}

/// [`parse_form`] for a form of a folder: its `answerValueSet`s may also name the folder's ValueSet files.
pub fn parse_form_with(file_label: &str, json: &[u8], folder: &ValueSets) -> Result<Form, Vec<LoadProblem>> {
    let fail = |reason: String| vec![LoadProblem { file: file_label.to_string(), link_id: None, reason }];
    if json.len() > MAX_BYTES {
        return Err(fail(format!("file is larger than the {} MiB limit", MAX_BYTES / (1024 * 1024))));
    }
    if too_deep(json, MAX_DEPTH) {
        return Err(fail(format!("JSON is nested deeper than {MAX_DEPTH} levels")));
    }
    if let Err(e) = crate::json::check_unique_keys(json) {
        return Err(fail(e.to_string()));
    }
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => return Err(fail(format!("not valid JSON (line {}, column {})", e.line(), e.column()))),
    };
    let mut loader = Loader::new(file_label);
    let content = crate::crypto::hex(&Sha256::digest(json)[..6]);
    match form(&mut loader, value, &content, folder) {
        Some(form) if loader.is_clean() => Ok(form),
        _ => Err(loader.into_problems()),
    }
}

/// The questionnaire's own elements.
struct Header {
    url: Option<String>,
    version: Option<String>,
    name: Option<String>,
    title: Option<String>,
    status: Option<String>,
}

fn form(loader: &mut Loader, mut value: Value, content: &str, folder: &ValueSets) -> Option<Form> {
    let root = questionnaire(loader, &value)?;
    let header = header(loader, root, content);

    let root_ext = loader.extensions(root, None);
    let expressions = loader.expressions(&root_ext, None);
    let mut inherited = Inherited::default();
    let form_context = inherited.apply_extraction_extensions(loader, &root_ext, None);
    let form_mark = clinical_time::questionnaire_mark(loader, &root_ext);

    let contained = root.get("contained").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let sources = ValueSetSources { contained, folder };
    let (items, pending) = match root.get("item") {
        Some(Value::Array(a)) if !a.is_empty() => read_items(loader, a, &inherited, &sources),
        _ => {
            loader.problem(None, "Questionnaire has no items");
            (Vec::new(), Pending::default())
        }
    };

    let clinical_time = clinical_time::resolve(loader, &pending, form_mark);
    let mut index = HashMap::new();
    build_index(&items, &mut Vec::new(), &mut index);
    let form = Form {
        url: header.url.unwrap_or_default(),
        version: header.version.unwrap_or_default(),
        name: header.name,
        title: header.title.unwrap_or_default(),
        status: header.status.unwrap_or_default(),
        extraction_context: form_context,
        items,
        index,
        clinical_time,
        version_derived: root.get("version").is_none(),
        expressions,
        source: Value::Null,
    };
    // The form the screen renders says the same url, version and title as the catalog (the UI builds the response's
    // `questionnaire` from them), whether the file gave them or they were derived.
    if let Some(root) = value.as_object_mut() {
        for (key, v) in [("url", &form.url), ("version", &form.version), ("title", &form.title)] {
            root.entry(key).or_insert_with(|| Value::String(v.clone()));
        }
        // The options of an answerValueSet, as the answerOption the screen renders (FHIR allows one of the two).
        let mut expanded: HashMap<String, Vec<Value>> = pending.expanded.iter().cloned().collect();
        if let Some(Value::Array(items)) = root.get_mut("item") {
            write_expanded(items, &mut expanded);
        }
    }
    let form = Form { source: value, ..form };
    check_whole(loader, &form, &pending);
    check_expressions(loader, &form);
    Some(form)
}

/// The root object, if it is a Questionnaire; elements outside the subset are problems.
fn questionnaire<'v>(loader: &mut Loader, value: &'v Value) -> Option<&'v Map<String, Value>> {
    let Some(root) = value.as_object() else {
        loader.problem(None, "not a FHIR Questionnaire (not a JSON object)");
        return None;
    };
    match root.get("resourceType").and_then(Value::as_str) {
        Some("Questionnaire") => {}
        Some(other) => {
            let other = short(other);
            loader.problem(None, format!("not a FHIR Questionnaire (resourceType is '{other}')"));
            return None;
        }
        None => {
            loader.problem(None, "not a FHIR Questionnaire (no resourceType)");
            return None;
        }
    }
    loader.unknown_elements(root, ROOT_KEYS, "Questionnaire", None);
    if root.contains_key("modifierExtension") {
        loader.problem(None, "modifierExtension is not supported");
    }
    Some(root)
}

fn header(loader: &mut Loader, root: &Map<String, Value>, content: &str) -> Header {
    // url, version and title are optional in FHIR, and forms written elsewhere often leave them out (37 of the 42
    // public forms of tests/data/forms-public that parse have no version): derive them rather than refuse the form.
    let fallback = root
        .get("id")
        .or_else(|| root.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let file = std::path::Path::new(loader.file());
            file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
    let url = loader
        .optional_string(root, "url")
        .map(|u| u.unwrap_or_else(|| format!("{DERIVED_URL_PREFIX}{}", url_safe(&fallback))));
    let version = loader
        .optional_string(root, "version")
        .map(|v| v.unwrap_or_else(|| format!("{DERIVED_VERSION_PREFIX}{content}")));
    for (key, v) in [("url", &url), ("version", &version)] {
        if v.as_deref().is_some_and(|s| s.contains('|')) {
            loader.problem(None, format!("{key} must not contain '|'"));
        }
    }
    let status = loader.required_string(root, "status");
    if let Some(s) = &status {
        if !["draft", "active", "retired", "unknown"].contains(&s.as_str()) {
            let s = short(s);
            loader.problem(None, format!("status '{s}' is not a Questionnaire status"));
        }
    }
    let name = match root.get("name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            loader.problem(None, "name must be a string");
            None
        }
    };
    let title = loader.optional_string(root, "title").map(|t| t.unwrap_or_else(|| fallback.clone()));
    Header { url, version, name, title, status }
}

/// Letters, digits, '.' and '-' kept; anything else becomes '-', so a derived url is a plain URN.
fn url_safe(s: &str) -> String {
    let out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    if out.is_empty() {
        "form".to_string()
    } else {
        out
    }
}

/// Replaces `answerValueSet` by its options as `answerOption` on the items named in `expanded` (each linkId once).
fn write_expanded(items: &mut [Value], expanded: &mut HashMap<String, Vec<Value>>) {
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        let link = item.get("linkId").and_then(Value::as_str).unwrap_or_default();
        if let Some(options) = expanded.remove(link) {
            item.remove("answerValueSet");
            item.insert("answerOption".into(), Value::Array(options));
        }
        if let Some(Value::Array(children)) = item.get_mut("item") {
            write_expanded(children, expanded);
        }
    }
}

fn build_index(items: &[Item], path: &mut Vec<usize>, index: &mut HashMap<String, Vec<usize>>) {
    for (i, item) in items.iter().enumerate() {
        path.push(i);
        index.entry(item.link_id.clone()).or_insert_with(|| path.clone());
        build_index(&item.items, path, index);
        path.pop();
    }
}
