//! What the loader reports: one [`LoadProblem`] per reason a form is refused, and the [`Loader`] that every loading
//! step reports through, with the field readers that turn a wrong JSON type into a problem instead of a panic.
//!
//! Problems come out in the order the file is read, so an author sees them top to bottom.

use std::fmt;

use serde_json::{Map, Value};

use super::model::{
    Expressions, Variable, EXT_ANSWER_EXPRESSION, EXT_CALCULATED_EXPRESSION, EXT_ENABLE_WHEN_EXPRESSION,
    EXT_INITIAL_EXPRESSION, EXT_VARIABLE,
};

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

/// The file being loaded and the problems found in it so far.
pub(crate) struct Loader {
    file: String,
    problems: Vec<LoadProblem>,
}

/// Extensions (by the last segment of their url) whose FHIRPath expression would decide what the form shows or
/// records but which the forms engine does not evaluate: a form using one is refused rather than run differently.
const UNEVALUATED: &[&str] = &["sdc-questionnaire-candidateExpression"];

impl Loader {
    /// `file` only names the file in problems.
    pub(crate) fn new(file: &str) -> Loader {
        Loader { file: file.to_string(), problems: Vec::new() }
    }

    pub(crate) fn problem(&mut self, link_id: Option<&str>, reason: impl Into<String>) {
        self.problems.push(LoadProblem {
            file: self.file.clone(),
            link_id: link_id.map(str::to_string),
            reason: reason.into(),
        });
    }

    /// Every problem found, in the order found.
    pub(crate) fn into_problems(self) -> Vec<LoadProblem> {
        self.problems
    }

    pub(crate) fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The file named in problems.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// A questionnaire-level string that may be absent (`Some(None)`) but, when given, is a string that is not blank;
    /// `None` when it is neither (a problem is recorded).
    pub(crate) fn optional_string(&mut self, obj: &Map<String, Value>, key: &str) -> Option<Option<String>> {
        match obj.get(key) {
            None => Some(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Some(Some(s.clone())),
            Some(Value::String(_)) => {
                self.problem(None, format!("{key} is blank"));
                None
            }
            Some(_) => {
                self.problem(None, format!("{key} must be a string"));
                None
            }
        }
    }

    /// Reads the SDC expressions (`variable`, `enableWhenExpression`, `calculatedExpression`, `initialExpression`)
    /// as written; `expressions.rs` holds them to the FHIRPath subset once the whole form is read. Refuses the
    /// extensions whose expression the engine does not evaluate (an ignored `candidateExpression` would offer
    /// answers the form does not), a language other than FHIRPath, and an expression given twice, naming the extension and
    /// its expression.
    pub(crate) fn expressions(&mut self, exts: &[(String, &Map<String, Value>)], link: Option<&str>) -> Expressions {
        let mut out = Expressions::default();
        for (url, m) in exts {
            let name = url.rsplit('/').next().unwrap_or(url);
            let value = m.get("valueExpression");
            let expression = value.and_then(|e| e.get("expression")).and_then(Value::as_str);
            let shown = short(expression.unwrap_or(""));
            if UNEVALUATED.contains(&name) {
                self.problem(link, format!("{name} is not supported (expression '{shown}')"));
                continue;
            }
            let url = url.as_str();
            let evaluated = [
                EXT_VARIABLE,
                EXT_ENABLE_WHEN_EXPRESSION,
                EXT_CALCULATED_EXPRESSION,
                EXT_INITIAL_EXPRESSION,
                EXT_ANSWER_EXPRESSION,
            ];
            if !evaluated.contains(&url) {
                continue;
            }
            let language = value.and_then(|e| e.get("language")).and_then(Value::as_str);
            let Some(expression) = expression.filter(|e| !e.trim().is_empty()) else {
                self.problem(link, format!("{name} has no valueExpression.expression"));
                continue;
            };
            if language.is_some_and(|l| l != "text/fhirpath") {
                let l = short(language.unwrap_or(""));
                self.problem(link, format!("{name} '{shown}' is in {l}: only text/fhirpath is evaluated"));
                continue;
            }
            let expression = expression.to_string();
            let slot = match url {
                EXT_VARIABLE => {
                    match value.and_then(|e| e.get("name")).and_then(Value::as_str).filter(|n| !n.is_empty()) {
                        Some(n) if out.variables.iter().any(|v| v.name == n) => {
                            self.problem(link, format!("variable '{}' is defined twice", short(n)));
                        }
                        Some(n) => out.variables.push(Variable { name: n.to_string(), expression }),
                        None => self.problem(link, format!("variable '{shown}' has no name")),
                    }
                    continue;
                }
                EXT_ENABLE_WHEN_EXPRESSION => &mut out.enable_when,
                EXT_CALCULATED_EXPRESSION => &mut out.calculated,
                EXT_ANSWER_EXPRESSION => &mut out.answer,
                _ => &mut out.initial,
            };
            if slot.is_some() {
                self.problem(link, format!("{name} is given twice"));
            }
            *slot = Some(expression);
        }
        out
    }

    /// A questionnaire-level string that must be present and not blank.
    pub(crate) fn required_string(&mut self, obj: &Map<String, Value>, key: &str) -> Option<String> {
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

    pub(crate) fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, link: Option<&str>) -> Option<String> {
        match obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(link, format!("{key} must be a string"));
                None
            }
        }
    }

    pub(crate) fn opt_bool(&mut self, obj: &Map<String, Value>, key: &str, link: Option<&str>) -> bool {
        match obj.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(link, format!("{key} must be true or false"));
                false
            }
        }
    }

    /// The `extension` array as (url, object) pairs; malformed entries are problems.
    pub(crate) fn extensions<'a>(
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

    /// Refuses the keys of `obj` outside `known`, except `_<element>` of a known element (FHIR JSON's place for a
    /// primitive's extensions) whose extensions only change how the element's text looks: the plain value beside
    /// them says the same, so they are left in the source for the screen. Any other such extension (a
    /// `cqf-expression` that computes the text, say) is refused naming it. `what` names the object in problems.
    pub(crate) fn unknown_elements(
        &mut self,
        obj: &Map<String, Value>,
        known: &[&str],
        what: &str,
        link: Option<&str>,
    ) {
        for (key, value) in obj {
            if known.contains(&key.as_str()) {
                continue;
            }
            let k = short(key);
            if !key.strip_prefix('_').is_some_and(|base| known.contains(&base)) {
                self.problem(link, format!("unknown {what} element '{k}'"));
                continue;
            }
            // `_element` is an object, or for a repeating element an array of objects and nulls.
            let parts: Vec<&Value> = match value {
                Value::Array(a) => a.iter().filter(|v| !v.is_null()).collect(),
                other => vec![other],
            };
            for part in parts {
                let Some(exts) = part.as_object().map(|m| m.get("extension").and_then(Value::as_array)) else {
                    self.problem(link, format!("{k} must be an object"));
                    continue;
                };
                for e in exts.into_iter().flatten() {
                    let url = e.get("url").and_then(Value::as_str).unwrap_or_default();
                    let name = url.rsplit('/').next().unwrap_or(url);
                    if !PRESENTATION_EXTENSIONS.contains(&name) {
                        let name = short(name);
                        self.problem(link, format!("extension '{name}' on {k} is not supported"));
                    }
                }
            }
        }
    }
}

/// Extensions on a primitive element (`_text`, `_title`, …) that only change how its text is shown: HTML or markdown
/// of the same text, a style, a translation. The engine shows, prints and records the plain value.
const PRESENTATION_EXTENSIONS: &[&str] = &["rendering-xhtml", "rendering-markdown", "rendering-style", "translation"];

/// Author-controlled strings echoed in problems are cut short so a hostile file cannot flood the report.
pub(crate) fn short(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}
