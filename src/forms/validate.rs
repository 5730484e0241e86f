//! Validating a QuestionnaireResponse against its Form: findings as data, keyed by linkId, for the UI to show
//! next to each field.
//!
//! Order of work: parse with limits ([`parse_response`]), normalise text (NFC, refuse control/bidi characters),
//! check structure and answers against the form, then apply the clinical rules the form declares.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::json::too_deep;

use super::expressions::{allowed_answers, eval_problem, to_answers, Fill, Place, Sdc};
use super::fhirpath_eval::Env;
use super::fhirpath_value::Val;
use super::model::*;
use super::value::{typed_value, TypedError};
use super::{rules, text};

/// The outcome of validation: findings plus the NFC-normalised response that should be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub response: Value,
}

impl Checked {
    /// True when there is no error-severity finding.
    pub fn is_valid(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Why bytes could not be read as a QuestionnaireResponse. Messages never quote the content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Larger than [`MAX_BYTES`].
    #[error("response is larger than the {} MiB limit", MAX_BYTES / (1024 * 1024))]
    TooLarge,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("response JSON is nested deeper than {} levels", MAX_DEPTH)]
    TooDeep,
    /// Not JSON; line and column of the first error.
    #[error("response is not valid JSON (line {line}, column {column})")]
    Json { line: usize, column: usize },
    /// An object of the response gives a key twice (which answer was meant?).
    #[error("response: {0}")]
    RepeatedKey(crate::json::JsonError),
    /// JSON, but not an object with resourceType QuestionnaireResponse.
    #[error("not a FHIR QuestionnaireResponse")]
    NotAResponse,
}

/// Reads bytes into a JSON QuestionnaireResponse, enforcing size and depth limits before parsing.
pub fn parse_response(bytes: &[u8]) -> Result<Value, ResponseError> {
    if bytes.len() > MAX_BYTES {
        return Err(ResponseError::TooLarge);
    }
    if too_deep(bytes, MAX_DEPTH) {
        return Err(ResponseError::TooDeep);
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ResponseError::Json { line: e.line(), column: e.column() })?;
    crate::json::check_unique_keys(bytes).map_err(ResponseError::RepeatedKey)?;
    if v.get("resourceType").and_then(Value::as_str) != Some("QuestionnaireResponse") {
        return Err(ResponseError::NotAResponse);
    }
    Ok(v)
}

pub(crate) const MSG_REQUIRED: &str = "required";
pub(crate) const MSG_DISABLED: &str = "answered, but the question is disabled by its enableWhen";
pub(crate) const MSG_DISABLED_BY_EXPRESSION: &str =
    "answered, but the question is disabled by its enableWhenExpression";
pub(crate) const MSG_UNKNOWN: &str = "unknown linkId: not in this form";
pub(crate) const MSG_NOT_IN_OPTIONS: &str = "not one of the listed answers";
pub(crate) const MSG_NOT_ALLOWED: &str = "not one of the answers its answerExpression allows";
pub(crate) const MSG_ONE_ANSWER: &str = "only one answer allowed: the question does not repeat";

const RESPONSE_STATUSES: &[&str] = &["in-progress", "completed", "amended", "entered-in-error", "stopped"];
const ITEM_KEYS: &[&str] = &["id", "extension", "modifierExtension", "linkId", "definition", "text", "answer", "item"];

/// Validates `response` against `form`. Never panics, whatever the JSON; same input, same findings.
pub fn validate_response(form: &Form, response: &Value) -> Checked {
    let (mut normalised, mut findings) = text::normalise(form, response);
    // Calculated answers the response leaves out are filled in and computed again until they settle, as the screen
    // does: a total may read a subtotal that is itself calculated. Each round fills at least one answer or changes
    // one the core filled, so a form with N calculated items settles within N + 1 rounds.
    let calculated = form.all_items().iter().filter(|i| i.expressions.calculated.is_some()).count();
    let mut ours = HashSet::new();
    for round in 0.. {
        let (mut found, fills) = {
            let mut v = Validator::new(form, &normalised, &ours);
            v.root(&normalised);
            (v.findings, v.fills)
        };
        if fills.is_empty() || round > calculated {
            if !fills.is_empty() {
                found.push(Finding {
                    link_id: None,
                    severity: Severity::Error,
                    message: "the calculated answers do not settle: each computation changes another".into(),
                });
            }
            findings.append(&mut found);
            break;
        }
        for fill in fills {
            ours.insert(fill.link_id.clone());
            fill.apply(&mut normalised);
        }
    }
    rules::check(form, &normalised, &mut findings);
    Checked { findings, response: normalised }
}

/// Do two answers (JSON) give the same value: numbers by value, Codings as the same concept.
fn same_answer(a: &Value, b: &Value) -> bool {
    let typed = |v: &Value| v.as_object().and_then(|m| typed_value(m, "value").ok());
    match (typed(a), typed(b)) {
        (Some(x), Some(y)) => equal(&x, &y),
        _ => false,
    }
}

struct Validator<'a> {
    form: &'a Form,
    findings: Vec<Finding>,
    /// The form's expressions for this response; `None` when the form has none.
    sdc: Option<Sdc<'a>>,
    /// Calculated items whose answer the core filled in an earlier round (computed again, not compared).
    ours: &'a HashSet<String>,
    fills: Vec<Fill>,
}

impl<'a> Validator<'a> {
    fn new(form: &'a Form, response: &'a Value, ours: &'a HashSet<String>) -> Validator<'a> {
        let mut v = Validator { form, findings: Vec::new(), sdc: None, ours, fills: Vec::new() };
        let uses = !form.expressions.is_empty() || form.all_items().iter().any(|i| !i.expressions.is_empty());
        if uses {
            match Sdc::new(form, response) {
                Ok(sdc) => v.sdc = Some(sdc),
                Err(e) => v.error(None, e),
            }
        }
        v
    }

    fn error(&mut self, link: Option<&str>, message: impl Into<String>) {
        let f = Finding { link_id: link.map(str::to_string), severity: Severity::Error, message: message.into() };
        if !self.findings.contains(&f) {
            self.findings.push(f);
        }
    }

    fn root(&mut self, r: &'a Value) {
        let Some(obj) = r.as_object() else {
            self.error(None, "not a FHIR QuestionnaireResponse (not a JSON object)");
            return;
        };
        if obj.get("resourceType").and_then(Value::as_str) != Some("QuestionnaireResponse") {
            self.error(None, "not a FHIR QuestionnaireResponse");
            return;
        }
        let canonical = self.form.canonical();
        match obj.get("questionnaire").and_then(Value::as_str) {
            Some(q) if q == canonical => {}
            Some(_) => self.error(None, format!("response is not for this form: questionnaire must be '{canonical}'")),
            None => self.error(None, format!("missing questionnaire: must be '{canonical}'")),
        }
        match obj.get("status").and_then(Value::as_str) {
            Some(s) if RESPONSE_STATUSES.contains(&s) => {}
            _ => self.error(None, "status must be one of in-progress, completed, amended, entered-in-error, stopped"),
        }
        static EMPTY: Vec<Value> = Vec::new();
        let items = match obj.get("item") {
            None => &EMPTY,
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.error(None, "item must be an array");
                return;
            }
        };
        let mut scopes = vec![items];
        let env = self.sdc.as_ref().map(|s| s.root().clone()).unwrap_or_default();
        self.level(self.form.items(), items, true, &mut scopes, &env, &[]);
    }

    /// Checks one level: the response items `resp` against the form items `form_items` of the same parent.
    /// `env` is the parent's FHIRPath environment, `path` the response item indices down to `resp`.
    fn level(
        &mut self,
        form_items: &'a [Item],
        resp: &'a [Value],
        parent_enabled: bool,
        scopes: &mut Vec<&'a Vec<Value>>,
        env: &Env<'a>,
        path: &[usize],
    ) {
        // Response items that do not belong here.
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in resp {
            let Some(obj) = r.as_object() else {
                self.error(None, "item must be an object");
                continue;
            };
            let Some(link) = obj.get("linkId").and_then(Value::as_str) else {
                self.error(None, "item without linkId");
                continue;
            };
            if !form_items.iter().any(|i| i.link_id == link) {
                if self.form.item(link).is_some() {
                    self.error(Some(link), "answered in the wrong place: not a child of this group");
                } else {
                    self.error(Some(link), MSG_UNKNOWN);
                }
                continue;
            }
            match counts.iter_mut().find(|(l, _)| *l == link) {
                Some((_, n)) => *n += 1,
                None => counts.push((link, 1)),
            }
        }
        for (at, item) in form_items.iter().enumerate() {
            let link = Some(item.link_id.as_str());
            let present: Vec<(usize, &'a Map<String, Value>)> = resp
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_object().map(|o| (i, o)))
                .filter(|(_, o)| o.get("linkId").and_then(Value::as_str) == Some(item.link_id.as_str()))
                .collect();
            let context = present.first().map(|(i, _)| &resp[*i]);
            let item_env = match self.sdc.as_ref().map(|s| s.item_env(env, item, context)) {
                Some(Ok(e)) => e,
                Some(Err(e)) => {
                    self.error(link, e);
                    std::borrow::Cow::Borrowed(env)
                }
                None => std::borrow::Cow::Borrowed(env),
            };
            let by_enable_when = parent_enabled && self.is_enabled(item, scopes);
            let enabled = by_enable_when && self.expression_enabled(item, &item_env, context);
            let has_content = present.iter().any(|(_, o)| content(o));
            if present.len() > 1 && !(item.kind == ItemType::Group && item.repeats) {
                self.error(
                    link,
                    "appears more than once: only repeating groups repeat; put several answers in one item",
                );
            }
            if !enabled {
                if has_content {
                    self.error(link, if by_enable_when { MSG_DISABLED_BY_EXPRESSION } else { MSG_DISABLED });
                }
                continue;
            }
            if item.required && !has_content {
                self.error(link, MSG_REQUIRED);
            }
            let later = form_items[at + 1..].iter().map(|i| i.link_id.clone()).collect();
            self.calculated(item, &item_env, context, &present, Place { path, later });
            self.allowed(item, &item_env, context, &present);
            for (i, o) in present {
                let mut inner = path.to_vec();
                inner.push(i);
                self.item(item, o, &resp[i], scopes, env, &inner);
            }
        }
    }

    /// Whether an item's `enableWhenExpression` (if any) is true for this response. An expression that cannot be
    /// evaluated is an error and leaves the item enabled, so its answers are still checked.
    fn expression_enabled(&mut self, item: &Item, env: &Env<'a>, context: Option<&'a Value>) -> bool {
        let (Some(sdc), Some(text)) = (&self.sdc, &item.expressions.enable_when) else { return true };
        match sdc.evaluate(env, text, context) {
            Ok(v) => v.as_slice() == [Val::Bool(true)],
            Err(e) => {
                self.error(Some(&item.link_id), eval_problem("enableWhenExpression", &e));
                true
            }
        }
    }

    /// An enabled item's `calculatedExpression`: the answer is filled in when the response gives none (or one the
    /// core filled in an earlier round), and is an error when it differs from the one given.
    fn calculated(
        &mut self,
        item: &Item,
        env: &Env<'a>,
        context: Option<&'a Value>,
        present: &[(usize, &'a Map<String, Value>)],
        place: Place,
    ) {
        let (Some(sdc), Some(text)) = (&self.sdc, &item.expressions.calculated) else { return };
        let link = Some(item.link_id.as_str());
        let computed = match sdc.evaluate(env, text, context) {
            Ok(v) => to_answers(item, &v),
            Err(e) => Err(eval_problem("calculatedExpression", &e)),
        };
        let answers = match computed {
            Ok(a) => a,
            Err(e) => return self.error(link, e),
        };
        let given: Vec<&Value> = present.iter().filter_map(|(_, o)| o.get("answer")?.as_array()).flatten().collect();
        let same = given.len() == answers.len() && given.iter().zip(&answers).all(|(g, a)| same_answer(g, a));
        if same {
            return;
        }
        if given.is_empty() || self.ours.contains(&item.link_id) {
            self.fills.push(Fill {
                path: place.path.to_vec(),
                existing: present.first().map(|(i, _)| *i),
                link_id: item.link_id.clone(),
                later: place.later,
                answers,
            });
            return;
        }
        let text = |a: &[&Value]| -> String {
            let shown: Vec<String> = a
                .iter()
                .map(|v| v.as_object().and_then(|m| typed_value(m, "value").ok()).map_or("?".into(), |v| v.as_text()))
                .collect();
            if shown.is_empty() {
                "no answer".into()
            } else {
                shown.join(", ")
            }
        };
        let computed: Vec<&Value> = answers.iter().collect();
        self.error(
            link,
            format!(
                "calculated answer differs: the form computes {}, the response gives {}",
                text(&computed),
                text(&given)
            ),
        );
    }

    /// An enabled item's `answerExpression` (on a choice item with listed options): each answer must be one it gives.
    fn allowed(
        &mut self,
        item: &Item,
        env: &Env<'a>,
        context: Option<&'a Value>,
        present: &[(usize, &'a Map<String, Value>)],
    ) {
        let (Some(sdc), Some(text)) = (&self.sdc, &item.expressions.answer) else { return };
        let allowed = match sdc.evaluate(env, text, context) {
            Ok(v) => allowed_answers(item, &v),
            Err(e) => return self.error(Some(&item.link_id), eval_problem("answerExpression", &e)),
        };
        // Free text of an open-choice item is not one of the listed answers, so the expression does not filter it.
        let refused = present
            .iter()
            .filter_map(|(_, o)| o.get("answer")?.as_array())
            .flatten()
            .filter(|g| item.kind == ItemType::Choice || g.get("valueString").is_none())
            .any(|g| !allowed.iter().any(|a| same_answer(a, g)));
        if refused {
            self.error(Some(&item.link_id), MSG_NOT_ALLOWED);
        }
    }

    fn item(
        &mut self,
        item: &'a Item,
        obj: &'a Map<String, Value>,
        instance: &'a Value,
        scopes: &mut Vec<&'a Vec<Value>>,
        env: &Env<'a>,
        path: &[usize],
    ) {
        let link = Some(item.link_id.as_str());
        for k in obj.keys() {
            if !ITEM_KEYS.contains(&k.as_str()) {
                self.error(link, "unknown element in a response item");
                break;
            }
        }
        match item.kind {
            ItemType::Group | ItemType::Display => {
                if obj.contains_key("answer") {
                    self.error(link, format!("a {} item has no answers", item.kind.code()));
                }
                if item.kind == ItemType::Group {
                    match obj.get("item") {
                        None => {}
                        Some(Value::Array(children)) => {
                            // This instance of the group is the `%context` of its variables.
                            let inner = match self.sdc.as_ref().map(|s| s.item_env(env, item, Some(instance))) {
                                Some(Ok(e)) => e,
                                Some(Err(e)) => {
                                    self.error(link, e);
                                    std::borrow::Cow::Borrowed(env)
                                }
                                None => std::borrow::Cow::Borrowed(env),
                            };
                            scopes.push(children);
                            self.level(&item.items, children, true, scopes, &inner, path);
                            scopes.pop();
                        }
                        Some(_) => self.error(link, "item must be an array"),
                    }
                }
            }
            _ => {
                if obj.contains_key("item") {
                    self.error(link, "nested items under a question are not supported");
                }
                let answers = match obj.get("answer") {
                    None => return,
                    Some(Value::Array(a)) => a,
                    Some(_) => {
                        self.error(link, "answer must be an array");
                        return;
                    }
                };
                if answers.is_empty() {
                    self.error(link, "answer list is empty");
                }
                if answers.len() > 1 && !item.repeats {
                    self.error(link, MSG_ONE_ANSWER);
                }
                for a in answers {
                    self.answer(item, a);
                }
            }
        }
    }

    fn answer(&mut self, item: &Item, a: &Value) {
        let link = Some(item.link_id.as_str());
        let Some(m) = a.as_object() else {
            self.error(link, "answer must be an object");
            return;
        };
        if m.contains_key("item") {
            self.error(link, "nested items under an answer are not supported");
        }
        let expected = expected_suffix(item);
        let value = match typed_value(m, "value") {
            Ok(v) => v,
            Err(TypedError::Malformed(s)) if expected.contains(&s.as_str()) => {
                self.error(link, format!("answer {}", TypedError::Malformed(s).describe("value")));
                return;
            }
            Err(TypedError::Missing) => {
                self.error(link, "answer has no value");
                return;
            }
            Err(_) => {
                self.error(
                    link,
                    format!("answer must be value{} for this {} item", expected.join(" or value"), item.kind.code()),
                );
                return;
            }
        };
        if !answer_matches_kind(&value, item.kind, &item.answer_options) || !expected.contains(&value.suffix()) {
            self.error(
                link,
                format!(
                    "answer must be value{} for this {} item, not value{}",
                    expected.join(" or value"),
                    item.kind.code(),
                    value.suffix()
                ),
            );
            return;
        }
        match &value {
            AnswerValue::String(s) => {
                if let Some(max) = item.max_length {
                    if s.chars().count() > max as usize {
                        self.error(link, format!("longer than the maximum of {max} characters"));
                    }
                }
            }
            AnswerValue::Integer(i) => self.range(item, *i as f64),
            AnswerValue::Decimal(d) => self.range(item, *d),
            AnswerValue::Quantity(q) => {
                self.range(item, q.value);
                if !item.units.is_empty() {
                    let ok = item.units.iter().any(|u| {
                        u.code.is_some()
                            && u.code == q.code
                            && (q.system.is_none() || u.system.is_none() || u.system == q.system)
                    });
                    if !ok {
                        let list: Vec<&str> = item.units.iter().map(|u| u.code.as_deref().unwrap_or("")).collect();
                        self.error(link, format!("unit must be one of: {}", list.join(", ")));
                    }
                }
            }
            _ => {}
        }
        let listed = matches!(item.kind, ItemType::Choice)
            || (item.kind == ItemType::OpenChoice && !matches!(value, AnswerValue::String(_)));
        if listed && !item.answer_options.iter().any(|o| option_matches(&o.value, &value)) {
            self.error(link, MSG_NOT_IN_OPTIONS);
        }
    }

    fn range(&mut self, item: &Item, n: f64) {
        let link = Some(item.link_id.as_str());
        if let Some(min) = item.min {
            if n < min {
                self.error(link, format!("below the minimum of {}", format_number(min)));
            }
        }
        if let Some(max) = item.max {
            if n > max {
                self.error(link, format!("above the maximum of {}", format_number(max)));
            }
        }
    }

    fn is_enabled(&self, item: &Item, scopes: &[&Vec<Value>]) -> bool {
        self.enabled_at(item, scopes, 0)
    }

    /// An answer to a question that is itself disabled does not count (FHIR treats it as absent), so enablement
    /// chains are followed; the depth cap also ends enableWhen cycles, which then count as disabled.
    fn enabled_at(&self, item: &Item, scopes: &[&Vec<Value>], depth: usize) -> bool {
        if item.enable_when.is_empty() {
            return true;
        }
        if depth > 32 {
            return false;
        }
        let mut results = item.enable_when.iter().map(|ew| {
            let target_enabled = self.form.item(&ew.question).is_some_and(|t| self.enabled_at(t, scopes, depth + 1));
            let answers = if target_enabled { answers_in_scope(&ew.question, scopes) } else { Vec::new() };
            condition(ew, &answers)
        });
        match item.enable_behavior {
            EnableBehavior::All => results.all(|b| b),
            EnableBehavior::Any => results.any(|b| b),
        }
    }
}

/// The `value[x]` suffixes an answer to this item may use.
fn expected_suffix(item: &Item) -> Vec<&'static str> {
    let option = item.answer_options.first().map(|o| o.value.suffix()).unwrap_or("Coding");
    match item.kind {
        ItemType::Group | ItemType::Display => vec![],
        ItemType::Boolean => vec!["Boolean"],
        ItemType::Decimal => vec!["Decimal"],
        ItemType::Integer => vec!["Integer"],
        ItemType::Date => vec!["Date"],
        ItemType::DateTime => vec!["DateTime"],
        ItemType::Time => vec!["Time"],
        ItemType::String | ItemType::Text => vec!["String"],
        ItemType::Quantity => vec!["Quantity"],
        ItemType::Choice => vec![option],
        ItemType::OpenChoice if option == "String" => vec!["String"],
        ItemType::OpenChoice => vec![option, "String"],
    }
}

/// Does this response item carry anything: an answer, or (for groups) an answer somewhere below?
fn content(obj: &Map<String, Value>) -> bool {
    fn deep(obj: &Map<String, Value>, depth: usize) -> bool {
        if depth > 128 {
            return false;
        }
        if obj.get("answer").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            return true;
        }
        obj.get("item")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().filter_map(Value::as_object).any(|o| deep(o, depth + 1)))
    }
    deep(obj, 0)
}

/// Answers to `question`, taken from the innermost enclosing group instance that has the question, else further out.
/// This is how a condition inside one repetition of a repeating group looks at its own sibling, not another's.
fn answers_in_scope(question: &str, scopes: &[&Vec<Value>]) -> Vec<AnswerValue> {
    for scope in scopes.iter().rev() {
        let mut found = false;
        let mut out = Vec::new();
        find(question, scope, &mut found, &mut out, 0);
        if found {
            return out;
        }
    }
    Vec::new()
}

fn find(question: &str, items: &[Value], found: &mut bool, out: &mut Vec<AnswerValue>, depth: usize) {
    if depth > 128 {
        return;
    }
    for it in items.iter().filter_map(Value::as_object) {
        if it.get("linkId").and_then(Value::as_str) == Some(question) {
            *found = true;
            for a in it.get("answer").and_then(Value::as_array).into_iter().flatten() {
                if let Some(Ok(v)) = a.as_object().map(|m| typed_value(m, "value")) {
                    out.push(v);
                }
            }
        }
        if let Some(children) = it.get("item").and_then(Value::as_array) {
            find(question, children, found, out, depth + 1);
        }
    }
}

/// Evaluates one enableWhen against the answers found. `!=` is true when no answer equals (also when unanswered).
fn condition(ew: &EnableWhen, answers: &[AnswerValue]) -> bool {
    match ew.operator {
        Operator::Exists => {
            matches!(ew.answer, AnswerValue::Boolean(b) if b != answers.is_empty())
        }
        Operator::Eq => answers.iter().any(|a| equal(a, &ew.answer)),
        Operator::Ne => !answers.iter().any(|a| equal(a, &ew.answer)),
        op => answers.iter().any(|a| match compare(a, &ew.answer) {
            Some(o) => match op {
                Operator::Gt => o == Ordering::Greater,
                Operator::Lt => o == Ordering::Less,
                Operator::Ge => o != Ordering::Less,
                Operator::Le => o != Ordering::Greater,
                _ => false,
            },
            None => false,
        }),
    }
}

fn equal(a: &AnswerValue, b: &AnswerValue) -> bool {
    match (a, b) {
        (AnswerValue::Coding(x), AnswerValue::Coding(y)) => x.same_concept(y),
        _ => compare(a, b) == Some(Ordering::Equal) || a == b,
    }
}

fn compare(a: &AnswerValue, b: &AnswerValue) -> Option<Ordering> {
    use AnswerValue as A;
    match (a, b) {
        (A::Integer(x), A::Integer(y)) => Some(x.cmp(y)),
        (A::Integer(x), A::Decimal(y)) => (*x as f64).partial_cmp(y),
        (A::Decimal(x), A::Integer(y)) => x.partial_cmp(&(*y as f64)),
        (A::Decimal(x), A::Decimal(y)) => x.partial_cmp(y),
        (A::Quantity(x), A::Quantity(y)) if x.code == y.code => x.value.partial_cmp(&y.value),
        // Same-precision FHIR dates and times order lexically; different precisions are not comparable.
        (A::Date(x), A::Date(y)) | (A::DateTime(x), A::DateTime(y)) | (A::Time(x), A::Time(y))
            if x.len() == y.len() =>
        {
            Some(x.cmp(y))
        }
        (A::String(x), A::String(y)) if x == y => Some(Ordering::Equal),
        (A::Boolean(x), A::Boolean(y)) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}
