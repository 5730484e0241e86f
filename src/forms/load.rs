//! Loading Questionnaire files: size/depth limits, parsing into [`Form`], and every check of the supported subset.
//!
//! A form is either fully inside the subset or refused with every problem listed (file, linkId, reason), so an
//! author fixes a file in one round trip. The loader never panics: it is fuzzed (`fuzz/fuzz_targets/forms_load.rs`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::json::too_deep;

use super::definition::{element_spec, parse_definition, required_elements, SUPPORTED_CONTEXTS};
use super::model::*;
use super::value::{coding, typed_value};

/// One reason a form file was refused. Names the file, the item and the reason, never an answer's value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadProblem {
    pub file: String,
    pub link_id: Option<String>,
    pub reason: String,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.link_id {
            Some(l) => write!(f, "{}: linkId '{}': {}", self.file, l, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// Parses and checks one Questionnaire. `file_label` is only used to name the file in problems.
pub fn parse_form(file_label: &str, json: &[u8]) -> Result<Form, Vec<LoadProblem>> {
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
    let mut loader = Loader { file: file_label.to_string(), problems: Vec::new() };
    match loader.form(value) {
        Some(form) if loader.problems.is_empty() => Ok(form),
        _ => Err(loader.problems),
    }
}

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
        for path in files {
            match load_file(&path) {
                Ok(form) => {
                    let key = form.canonical();
                    if let Some(first) = origin.get(&key) {
                        problems.push(LoadProblem {
                            file: path.display().to_string(),
                            link_id: None,
                            reason: format!("same url|version '{key}' as {first}; not loaded"),
                        });
                        continue;
                    }
                    origin.insert(key.clone(), path.display().to_string());
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

const ITEM_KEYS: &[&str] = &[
    "id",
    "extension",
    "modifierExtension",
    "linkId",
    "definition",
    "code",
    "prefix",
    "text",
    "type",
    "enableWhen",
    "enableBehavior",
    "required",
    "repeats",
    "readOnly",
    "maxLength",
    "answerValueSet",
    "answerOption",
    "initial",
    "item",
];

/// What an item inherits from the questionnaire and its enclosing groups.
#[derive(Clone, Default)]
struct Inherited {
    observation_extract: bool,
    observation_category: Vec<Coding>,
    context: Option<ContextRef>,
    in_repeating_group: bool,
    /// The nearest enclosing group that may be absent from a valid response (not required, or with enableWhen).
    optional_group: Option<String>,
}

/// (resource type, linkId of the context group, or None for the questionnaire).
type ContextRef = (String, Option<String>);

struct Loader {
    file: String,
    problems: Vec<LoadProblem>,
}

/// Facts gathered in the first pass that need the whole form to check.
#[derive(Default)]
struct Pending {
    /// (item linkId, its extraction context) for items with a definition.
    definitions: Vec<(String, Option<ContextRef>)>,
    clinical_time: Vec<String>,
}

impl Loader {
    fn problem(&mut self, link_id: Option<&str>, reason: impl Into<String>) {
        self.problems.push(LoadProblem {
            file: self.file.clone(),
            link_id: link_id.map(str::to_string),
            reason: reason.into(),
        });
    }

    fn form(&mut self, value: Value) -> Option<Form> {
        let Some(root) = value.as_object() else {
            self.problem(None, "not a FHIR Questionnaire (not a JSON object)");
            return None;
        };
        match root.get("resourceType").and_then(Value::as_str) {
            Some("Questionnaire") => {}
            Some(other) => {
                let other = short(other);
                self.problem(None, format!("not a FHIR Questionnaire (resourceType is '{other}')"));
                return None;
            }
            None => {
                self.problem(None, "not a FHIR Questionnaire (no resourceType)");
                return None;
            }
        }
        for k in root.keys() {
            if !ROOT_KEYS.contains(&k.as_str()) {
                let k = short(k);
                self.problem(None, format!("unknown Questionnaire element '{k}'"));
            }
        }
        if root.contains_key("modifierExtension") {
            self.problem(None, "modifierExtension is not supported");
        }
        let url = self.required_string(root, "url");
        let version = self.required_string(root, "version");
        for (key, v) in [("url", &url), ("version", &version)] {
            if v.as_deref().is_some_and(|s| s.contains('|')) {
                self.problem(None, format!("{key} must not contain '|'"));
            }
        }
        let status = self.required_string(root, "status");
        if let Some(s) = &status {
            if !["draft", "active", "retired", "unknown"].contains(&s.as_str()) {
                let s = short(s);
                self.problem(None, format!("status '{s}' is not a Questionnaire status"));
            }
        }
        let title = self.required_string(root, "title");
        let name = match root.get("name") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(None, "name must be a string");
                None
            }
        };

        let root_ext = self.extensions(root, None);
        let mut inherited = Inherited::default();
        let mut form_context = None;
        self.apply_extraction_extensions(&root_ext, None, &mut inherited, &mut form_context);

        let mut pending = Pending::default();
        let mut seen: HashMap<String, ()> = HashMap::new();
        let items = match root.get("item") {
            Some(Value::Array(a)) if !a.is_empty() => self.items(a, &inherited, &mut pending, &mut seen),
            _ => {
                self.problem(None, "Questionnaire has no items");
                Vec::new()
            }
        };

        let mut index = HashMap::new();
        build_index(&items, &mut Vec::new(), &mut index);
        let form = Form {
            url: url.unwrap_or_default(),
            version: version.unwrap_or_default(),
            name,
            title: title.unwrap_or_default(),
            status: status.unwrap_or_default(),
            extraction_context: form_context,
            items,
            index,
            clinical_time: pending.clinical_time.first().cloned().unwrap_or_default(),
            source: value.clone(),
        };
        self.check_whole(&form, &pending);
        Some(form)
    }

    fn required_string(&mut self, obj: &Map<String, Value>, key: &str) -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::String(_)) | None => {
                self.problem(None, format!("missing {key}"));
                None
            }
            Some(_) => {
                self.problem(None, format!("{key} must be a string"));
                None
            }
        }
    }

    /// The `extension` array as (url, object) pairs; malformed entries are problems.
    fn extensions<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        link: Option<&str>,
    ) -> Vec<(String, &'a Map<String, Value>)> {
        let mut out = Vec::new();
        match obj.get("extension") {
            None => {}
            Some(Value::Array(a)) => {
                for e in a {
                    match e.as_object() {
                        Some(m) => match m.get("url").and_then(Value::as_str) {
                            Some(u) => out.push((u.to_string(), m)),
                            None => self.problem(link, "extension without url"),
                        },
                        None => self.problem(link, "extension must be an object"),
                    }
                }
            }
            Some(_) => self.problem(link, "extension must be an array"),
        }
        out
    }

    fn apply_extraction_extensions(
        &mut self,
        exts: &[(String, &Map<String, Value>)],
        link: Option<&str>,
        inherited: &mut Inherited,
        context_out: &mut Option<String>,
    ) {
        for (url, m) in exts {
            match url.as_str() {
                EXT_OBSERVATION_EXTRACT => match m.get("valueBoolean").and_then(Value::as_bool) {
                    Some(b) => inherited.observation_extract = b,
                    None => self.problem(link, "observationExtract needs valueBoolean"),
                },
                EXT_OBSERVATION_CATEGORY => {
                    let codings = m
                        .get("valueCodeableConcept")
                        .and_then(|c| c.get("coding"))
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(coding).collect::<Vec<_>>())
                        .unwrap_or_default();
                    if codings.is_empty() {
                        self.problem(link, "observation-extract-category needs valueCodeableConcept with a coding");
                    } else {
                        inherited.observation_category = codings;
                    }
                }
                EXT_EXTRACTION_CONTEXT => {
                    let ty = if let Some(c) = m.get("valueCode").and_then(Value::as_str) {
                        Some(c.to_string())
                    } else if let Some(c) = m.get("valueCanonical").and_then(Value::as_str) {
                        c.strip_prefix("http://hl7.org/fhir/StructureDefinition/").map(str::to_string)
                    } else {
                        None
                    };
                    match ty {
                        Some(t) if SUPPORTED_CONTEXTS.contains(&t.as_str()) => {
                            *context_out = Some(t.clone());
                            inherited.context = Some((t, link.map(str::to_string)));
                        }
                        Some(t) => {
                            let t = short(&t);
                            self.problem(link, format!("itemExtractionContext '{t}' is not supported (supported: {})", SUPPORTED_CONTEXTS.join(", ")))
                        }
                        None => self.problem(link, "itemExtractionContext needs valueCode (a resource type); FHIRPath expressions are not supported"),
                    }
                }
                _ => {}
            }
        }
    }

    fn items(
        &mut self,
        arr: &[Value],
        inherited: &Inherited,
        pending: &mut Pending,
        seen: &mut HashMap<String, ()>,
    ) -> Vec<Item> {
        arr.iter().filter_map(|v| self.item(v, inherited, pending, seen)).collect()
    }

    fn item(
        &mut self,
        v: &Value,
        inherited: &Inherited,
        pending: &mut Pending,
        seen: &mut HashMap<String, ()>,
    ) -> Option<Item> {
        let Some(obj) = v.as_object() else {
            self.problem(None, "item must be an object");
            return None;
        };
        let link_id = match obj.get("linkId") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                self.problem(None, "item without linkId");
                return None;
            }
        };
        let link = Some(link_id.as_str());
        if seen.insert(link_id.clone(), ()).is_some() {
            self.problem(link, "duplicate linkId");
        }
        for k in obj.keys() {
            if !ITEM_KEYS.contains(&k.as_str()) {
                let k = short(k);
                self.problem(link, format!("unknown item element '{k}'"));
            }
        }
        if obj.contains_key("modifierExtension") {
            self.problem(link, "modifierExtension is not supported");
        }
        if obj.contains_key("answerValueSet") {
            self.problem(link, "answerValueSet is not supported; list the answers in answerOption");
        }
        let kind = match obj.get("type").and_then(Value::as_str) {
            Some(t) => match ItemType::from_code(t) {
                Some(k) => k,
                None => {
                    let t = short(t);
                    self.problem(link, format!("unsupported item type '{t}'"));
                    return None;
                }
            },
            None => {
                self.problem(link, "missing type");
                return None;
            }
        };
        let text = self.opt_string(obj, "text", link);
        let prefix = self.opt_string(obj, "prefix", link);
        let definition = self.opt_string(obj, "definition", link);
        let required = self.opt_bool(obj, "required", link);
        let repeats = self.opt_bool(obj, "repeats", link);
        let read_only = self.opt_bool(obj, "readOnly", link);
        let max_length = match obj.get("maxLength") {
            None => None,
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0) {
                Some(n) => Some(n),
                None => {
                    self.problem(link, "maxLength must be a positive integer");
                    None
                }
            },
        };
        if max_length.is_some() && !matches!(kind, ItemType::String | ItemType::Text | ItemType::OpenChoice) {
            self.problem(link, "maxLength is only allowed on string, text and open-choice items");
        }
        let code = match obj.get("code") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                let c: Vec<Coding> = a.iter().filter_map(coding).collect();
                if c.len() != a.len() {
                    self.problem(link, "code must be a list of Codings");
                }
                c
            }
            Some(_) => {
                self.problem(link, "code must be a list of Codings");
                Vec::new()
            }
        };

        if kind == ItemType::Display && (required || repeats) {
            self.problem(link, "display items cannot be required or repeat");
        }

        // Extensions: extraction (inherited by children), units, limits, rules, clinical time.
        let exts = self.extensions(obj, link);
        let mut mine = inherited.clone();
        let mut own_context = None;
        self.apply_extraction_extensions(&exts, link, &mut mine, &mut own_context);
        if own_context.is_some() && kind != ItemType::Group {
            self.problem(link, "itemExtractionContext is only supported on groups and the questionnaire");
        }
        let explicit_obs = exts
            .iter()
            .any(|(u, m)| u == EXT_OBSERVATION_EXTRACT && m.get("valueBoolean").and_then(Value::as_bool) == Some(true));
        if explicit_obs && kind.is_question() && code.is_empty() {
            self.problem(link, "observationExtract needs an item code");
        }
        let mut units = Vec::new();
        let mut min = None;
        let mut max = None;
        let mut rules = Vec::new();
        let mut clinical_time = false;
        let mut identifier_system = None;
        for (url, m) in &exts {
            match url.as_str() {
                EXT_UNIT | EXT_UNIT_OPTION => {
                    let allowed = if url == EXT_UNIT {
                        matches!(kind, ItemType::Decimal | ItemType::Integer)
                    } else {
                        kind == ItemType::Quantity
                    };
                    let which = if url == EXT_UNIT { "questionnaire-unit is only allowed on decimal and integer items" } else { "questionnaire-unitOption is only allowed on quantity items" };
                    if !allowed {
                        self.problem(link, which);
                    }
                    match m.get("valueCoding").and_then(coding) {
                        Some(c) if c.code.is_some() => units.push(c),
                        _ => self.problem(link, "unit extension needs valueCoding with a code"),
                    }
                }
                EXT_MIN_VALUE | EXT_MAX_VALUE => {
                    let which = if url == EXT_MIN_VALUE { "minValue" } else { "maxValue" };
                    let n = match typed_value(m, "value") {
                        Ok(AnswerValue::Integer(i)) => Some(i as f64),
                        Ok(AnswerValue::Decimal(d)) => Some(d),
                        _ => None,
                    };
                    if !matches!(kind, ItemType::Integer | ItemType::Decimal | ItemType::Quantity) {
                        self.problem(link, format!("{which} is only supported on integer, decimal and quantity items"));
                    } else if n.is_none() {
                        self.problem(link, format!("{which} needs valueInteger or valueDecimal"));
                    } else if kind == ItemType::Integer && m.contains_key("valueDecimal") {
                        self.problem(link, format!("{which} of an integer item must be valueInteger"));
                    }
                    if url == EXT_MIN_VALUE { min = n } else { max = n }
                }
                EXT_CLINICAL_RULE => match m.get("valueCode").and_then(Value::as_str).and_then(ClinicalRule::from_code) {
                    Some(r) => rules.push(r),
                    None => self.problem(link, "clinical-rule needs valueCode: dose, no-unsafe-abbreviations, verbal-order-readback, prescriber, read-back or medication"),
                },
                EXT_CLINICAL_TIME => match m.get("valueBoolean").and_then(Value::as_bool) {
                    Some(b) => clinical_time = b,
                    None => self.problem(link, "clinical-time needs valueBoolean"),
                },
                EXT_IDENTIFIER_SYSTEM => match m.get("valueUri").and_then(Value::as_str) {
                    Some(s) => identifier_system = Some(s.to_string()),
                    None => self.problem(link, "identifier-system needs valueUri"),
                },
                _ => {}
            }
        }
        if (kind == ItemType::Decimal || kind == ItemType::Integer) && units.len() > 1 {
            {
                self.problem(link, "a decimal or integer item has at most one questionnaire-unit");
            }
        }
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                self.problem(link, "minValue is greater than maxValue");
            }
        }
        self.check_rules(&rules, kind, &units, link);

        // answerOption and initial.
        let answer_options = self.answer_options(obj, kind, link);
        let initial = self.initial(obj, kind, repeats, &answer_options, link);

        let enable_when = self.enable_when(obj, link);
        let enable_behavior = match obj.get("enableBehavior").map(|v| v.as_str()) {
            None => EnableBehavior::All,
            Some(Some("all")) => EnableBehavior::All,
            Some(Some("any")) => EnableBehavior::Any,
            Some(_) => {
                self.problem(link, "enableBehavior must be 'all' or 'any'");
                EnableBehavior::All
            }
        };
        if enable_when.len() > 1 && !obj.contains_key("enableBehavior") {
            self.problem(link, "enableBehavior is required when there is more than one enableWhen");
        }
        // Every valid response must carry the clinical time: it places the entry in time, in duplicate checks and
        // in the export. So the item and every group around it are required and unconditional.
        if clinical_time {
            if kind != ItemType::DateTime {
                self.problem(link, "the clinical-time item must be a dateTime item");
            }
            if repeats || inherited.in_repeating_group {
                self.problem(link, "the clinical-time item must not repeat or sit in a repeating group");
            }
            if !required {
                self.problem(link, "the clinical-time item must be required");
            }
            if !enable_when.is_empty() {
                self.problem(link, "the clinical-time item must not have enableWhen");
            }
            if let Some(group) = &inherited.optional_group {
                self.problem(
                    link,
                    format!(
                        "the clinical-time item sits in group '{}', which a response may leave out: make that \
                         group required, without enableWhen",
                        short(group)
                    ),
                );
            }
            pending.clinical_time.push(link_id.clone());
        }

        if definition.is_some() {
            pending.definitions.push((link_id.clone(), inherited.context.clone()));
        }

        // Children.
        let children = match obj.get("item") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                if kind != ItemType::Group && !a.is_empty() {
                    self.problem(link, "child items are only supported under groups");
                }
                let mut child_inherited = mine.clone();
                child_inherited.in_repeating_group =
                    inherited.in_repeating_group || (kind == ItemType::Group && repeats);
                child_inherited.optional_group = inherited
                    .optional_group
                    .clone()
                    .or_else(|| (!required || !enable_when.is_empty()).then(|| link_id.clone()));
                self.items(a, &child_inherited, pending, seen)
            }
            Some(_) => {
                self.problem(link, "item must be an array");
                Vec::new()
            }
        };
        if kind == ItemType::Group && children.is_empty() && obj.get("item").is_none() {
            self.problem(link, "group has no items");
        }

        Some(Item {
            link_id,
            text,
            prefix,
            kind,
            required,
            repeats,
            read_only,
            max_length,
            enable_when,
            enable_behavior,
            answer_options,
            initial,
            min,
            max,
            units,
            code,
            definition,
            extraction_context: own_context,
            observation_extract: mine.observation_extract && kind.is_question(),
            observation_category: mine.observation_category,
            rules,
            clinical_time,
            identifier_system,
            items: children,
        })
    }

    fn check_rules(&mut self, rules: &[ClinicalRule], kind: ItemType, units: &[Coding], link: Option<&str>) {
        for r in rules {
            match r {
                ClinicalRule::Dose => {
                    if kind != ItemType::Quantity {
                        self.problem(
                            link,
                            "the dose rule needs a quantity item (a number and a unit, never free text)",
                        );
                    } else if units.is_empty() {
                        self.problem(link, "the dose rule needs a unit list (questionnaire-unitOption)");
                    } else if units.iter().any(|u| u.system.as_deref() != Some(UCUM)) {
                        self.problem(link, "dose units must be UCUM codes (system http://unitsofmeasure.org)");
                    }
                }
                ClinicalRule::NoUnsafeAbbreviations => {
                    if !matches!(kind, ItemType::String | ItemType::Text | ItemType::OpenChoice) {
                        self.problem(link, "no-unsafe-abbreviations applies to string, text and open-choice items");
                    }
                }
                ClinicalRule::VerbalOrderReadback => {
                    if kind != ItemType::Choice {
                        self.problem(link, "verbal-order-readback belongs on the order-mode choice item");
                    }
                }
                ClinicalRule::Prescriber => {
                    if !matches!(kind, ItemType::String | ItemType::Choice | ItemType::OpenChoice) {
                        self.problem(link, "the prescriber rule needs a string, choice or open-choice item");
                    }
                }
                ClinicalRule::ReadBack => {
                    if kind != ItemType::Boolean {
                        self.problem(link, "the read-back rule needs a boolean item");
                    }
                }
                ClinicalRule::Medication => {
                    if !matches!(kind, ItemType::String | ItemType::Choice | ItemType::OpenChoice) {
                        self.problem(link, "the medication rule needs a string, choice or open-choice item");
                    }
                }
            }
        }
    }

    fn answer_options(&mut self, obj: &Map<String, Value>, kind: ItemType, link: Option<&str>) -> Vec<AnswerOption> {
        let mut out = Vec::new();
        let arr = match obj.get("answerOption") {
            None => {
                if kind == ItemType::Choice {
                    self.problem(link, "choice item has no answerOption");
                }
                return out;
            }
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.problem(link, "answerOption must be an array");
                return out;
            }
        };
        if !matches!(kind, ItemType::Choice | ItemType::OpenChoice) {
            self.problem(
                link,
                format!("answerOption is not allowed on {} items (only choice and open-choice)", kind.code()),
            );
            return out;
        }
        for o in arr {
            let Some(m) = o.as_object() else {
                self.problem(link, "answerOption must be an object");
                continue;
            };
            match typed_value(m, "value") {
                Ok(v) => {
                    if !matches!(
                        v,
                        AnswerValue::Coding(_)
                            | AnswerValue::String(_)
                            | AnswerValue::Integer(_)
                            | AnswerValue::Date(_)
                            | AnswerValue::Time(_)
                    ) {
                        self.problem(
                            link,
                            format!("answerOption value{} does not match a {} item", v.suffix(), kind.code()),
                        );
                        continue;
                    }
                    let initial_selected = m.get("initialSelected").and_then(Value::as_bool).unwrap_or(false);
                    out.push(AnswerOption { value: v, initial_selected });
                }
                Err(e) => self.problem(link, format!("answerOption {}", e.describe("value"))),
            }
        }
        if let Some(first) = out.first() {
            let s = first.value.suffix();
            if let Some(other) = out.iter().find(|o| o.value.suffix() != s) {
                self.problem(
                    link,
                    format!("answerOption value types are mixed (value{s} and value{})", other.value.suffix()),
                );
            }
        }
        out
    }

    fn initial(
        &mut self,
        obj: &Map<String, Value>,
        kind: ItemType,
        repeats: bool,
        options: &[AnswerOption],
        link: Option<&str>,
    ) -> Vec<AnswerValue> {
        let Some(v) = obj.get("initial") else {
            return Vec::new();
        };
        let Some(arr) = v.as_array() else {
            self.problem(link, "initial must be an array");
            return Vec::new();
        };
        if !kind.is_question() {
            self.problem(link, "initial is not allowed on group and display items");
            return Vec::new();
        }
        if arr.len() > 1 && !repeats {
            self.problem(link, "more than one initial value on an item that does not repeat");
        }
        let mut out = Vec::new();
        for i in arr {
            let Some(m) = i.as_object() else {
                self.problem(link, "initial must be an object");
                continue;
            };
            match typed_value(m, "value") {
                Ok(val) => {
                    if !answer_matches_kind(&val, kind, options) {
                        self.problem(
                            link,
                            format!("initial value{} does not match the item type {}", val.suffix(), kind.code()),
                        );
                    } else if kind == ItemType::Choice && !options.iter().any(|o| option_matches(&o.value, &val)) {
                        self.problem(link, "initial value is not one of the answerOptions");
                    } else {
                        out.push(val);
                    }
                }
                Err(e) => self.problem(link, format!("initial {}", e.describe("value"))),
            }
        }
        out
    }

    fn enable_when(&mut self, obj: &Map<String, Value>, link: Option<&str>) -> Vec<EnableWhen> {
        let Some(v) = obj.get("enableWhen") else {
            return Vec::new();
        };
        let Some(arr) = v.as_array() else {
            self.problem(link, "enableWhen must be an array");
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in arr {
            let Some(m) = e.as_object() else {
                self.problem(link, "enableWhen must be an object");
                continue;
            };
            let question = m.get("question").and_then(Value::as_str);
            let op = m.get("operator").and_then(Value::as_str).and_then(Operator::from_code);
            let answer = typed_value(m, "answer");
            match (question, op, answer) {
                (None, _, _) => self.problem(link, "enableWhen without question"),
                (_, None, _) => self.problem(link, "enableWhen operator must be one of exists, =, !=, >, <, >=, <="),
                (_, _, Err(e)) => self.problem(link, format!("enableWhen {}", e.describe("answer"))),
                (Some(q), Some(op), Ok(answer)) => {
                    if op == Operator::Exists && !matches!(answer, AnswerValue::Boolean(_)) {
                        self.problem(link, "enableWhen with operator 'exists' needs answerBoolean");
                    } else {
                        out.push(EnableWhen { question: q.to_string(), operator: op, answer });
                    }
                }
            }
        }
        out
    }

    fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, link: Option<&str>) -> Option<String> {
        match obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(link, format!("{key} must be a string"));
                None
            }
        }
    }

    fn opt_bool(&mut self, obj: &Map<String, Value>, key: &str, link: Option<&str>) -> bool {
        match obj.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(link, format!("{key} must be true or false"));
                false
            }
        }
    }

    /// Checks that need the whole form: enableWhen targets, clinical time, rule partners, definitions.
    fn check_whole(&mut self, form: &Form, pending: &Pending) {
        match pending.clinical_time.as_slice() {
            [] => self.problem(
                None,
                "no clinical-time item: mark one required dateTime item with the clinical-time extension",
            ),
            [_] => {}
            [first, rest @ ..] => {
                for r in rest {
                    self.problem(Some(r), format!("a second clinical-time item (the first is '{first}')"));
                }
            }
        }
        let all = form.all_items();
        for item in &all {
            let link = Some(item.link_id.as_str());
            for ew in &item.enable_when {
                let q = short(&ew.question);
                if ew.question == item.link_id {
                    self.problem(link, "enableWhen refers to the item itself");
                    continue;
                }
                let Some(target) = form.item(&ew.question) else {
                    self.problem(link, format!("enableWhen refers to unknown linkId '{q}'"));
                    continue;
                };
                if !target.kind.is_question() {
                    self.problem(
                        link,
                        format!("enableWhen refers to '{q}', a {} item that has no answer", target.kind.code()),
                    );
                    continue;
                }
                if ew.operator != Operator::Exists {
                    if !answer_matches_kind(&ew.answer, target.kind, &target.answer_options) {
                        self.problem(
                            link,
                            format!(
                                "enableWhen answer{} does not match '{q}', a {} item",
                                ew.answer.suffix(),
                                target.kind.code()
                            ),
                        );
                        continue;
                    }
                    let option_ordered = target.answer_options.first().is_some_and(|o| {
                        matches!(o.value, AnswerValue::Integer(_) | AnswerValue::Date(_) | AnswerValue::Time(_))
                    });
                    let ordered = option_ordered
                        || matches!(
                            target.kind,
                            ItemType::Integer
                                | ItemType::Decimal
                                | ItemType::Quantity
                                | ItemType::Date
                                | ItemType::DateTime
                                | ItemType::Time
                        );
                    if matches!(ew.operator, Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le) && !ordered {
                        self.problem(
                            link,
                            format!(
                                "enableWhen compares '{q}' with an order, but a {} item has none",
                                target.kind.code()
                            ),
                        );
                    }
                }
            }
        }
        // Verbal-order rule partners.
        let count = |r: ClinicalRule| all.iter().filter(|i| i.has_rule(r)).count();
        for item in all.iter().filter(|i| i.has_rule(ClinicalRule::VerbalOrderReadback)) {
            let link = Some(item.link_id.as_str());
            if count(ClinicalRule::Prescriber) != 1 || count(ClinicalRule::ReadBack) != 1 {
                self.problem(link, "verbal-order-readback needs exactly one prescriber item and one read-back item");
            }
            let has_codes = item.answer_options.iter().any(|o| match &o.value {
                AnswerValue::Coding(c) => is_verbal_or_telephone(c),
                _ => false,
            });
            if !has_codes {
                self.problem(
                    link,
                    format!(
                        "verbal-order-readback needs answer options with codes 'verbal' or 'telephone' from {}",
                        ORDER_MODE_SYSTEM
                    ),
                );
            }
        }
        // Definitions: inside a context of the same type, a supported path, a compatible item type.
        let mut used: HashMap<ContextRef, Vec<(&str, bool)>> = HashMap::new();
        for (link_id, ctx) in &pending.definitions {
            let link = Some(link_id.as_str());
            let Some(item) = form.item(link_id) else {
                continue;
            };
            let Some(def) = &item.definition else {
                continue;
            };
            let Some((ty, ctx_link)) = ctx else {
                self.problem(
                    link,
                    "definition without an itemExtractionContext on the questionnaire or an enclosing group",
                );
                continue;
            };
            let Some((def_ty, path)) = parse_definition(def) else {
                self.problem(
                    link,
                    "definition must look like http://hl7.org/fhir/StructureDefinition/<Type>#<Type>.<element>",
                );
                continue;
            };
            if def_ty != ty {
                let d = short(def_ty);
                self.problem(link, format!("definition is for {d} but the extraction context is {ty}"));
                continue;
            }
            let Some(spec) = element_spec(ty, path) else {
                let p = short(path);
                self.problem(link, format!("definition element {ty}.{p} is not supported"));
                continue;
            };
            if !spec.conv.accepts(item) {
                self.problem(link, format!("a {} item cannot fill {ty}.{path}", item.kind.code()));
                continue;
            }
            if item.repeats && !spec.is_list() {
                self.problem(link, format!("{ty}.{path} takes one value but the item repeats"));
            }
            used.entry((ty.clone(), ctx_link.clone())).or_default().push((spec.path, item.required));
        }
        // Contexts must be able to fill the resource's required elements.
        let mut contexts: Vec<(String, Option<String>)> = Vec::new();
        if let Some(t) = &form.extraction_context {
            contexts.push((t.clone(), None));
        }
        for i in &all {
            if let Some(t) = &i.extraction_context {
                contexts.push((t.clone(), Some(i.link_id.clone())));
            }
        }
        for (ty, ctx_link) in contexts {
            let paths = used.get(&(ty.clone(), ctx_link.clone())).cloned().unwrap_or_default();
            for need in required_elements(&ty, &paths) {
                let ok = paths.iter().any(|(p, req)| *p == need && *req);
                if !ok {
                    self.problem(ctx_link.as_deref(), format!("{ty} extraction needs a required item with definition http://hl7.org/fhir/StructureDefinition/{ty}#{ty}.{need}"));
                }
            }
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

/// Author-controlled strings echoed in problems are cut short so a hostile file cannot flood the report.
fn short(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}
