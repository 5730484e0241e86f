//! The SDC expressions of a form (`variable`, `enableWhenExpression`, `calculatedExpression`,
//! `initialExpression`): held to the FHIRPath subset at load, and evaluated for a response with their variables
//! in scope; the validator (`validate.rs`) asks here whether an item is enabled and what a calculated item's
//! answer is.
//!
//! Scope, as SDC defines it: the questionnaire's variables are evaluated first, on `%resource`; an item's
//! variables after its ancestors', in order, with the item's response item as `%context`; each is in scope for the
//! later ones, the item's other expressions and its descendants'.
//!
//! The core validates without the patient, the user or a clock, and must compute the same value whenever a response
//! is checked again (at signing, at HIM's import): `calculatedExpression` and `enableWhenExpression` (and the
//! variables they read) may not use `%patient`, `%user`, `today()` or `now()`. `initialExpression` may: the screen
//! evaluates it with `%patient` built from the registration, and the core only parses it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::fhirpath::{parse, Expr, CLOCK_FUNCTIONS};
use super::fhirpath_eval::{evaluate, Env};
use super::fhirpath_value::{decimal_json, from_json, Collection, EvalError, Val};
use super::model::*;
use super::problem::{short, Loader};

/// The environment variables every expression may read besides the form's variables.
pub(crate) const ENVIRONMENT: &[&str] =
    &["resource", "questionnaire", "context", "patient", "user", "ucum", "sct", "loinc"];
/// What the core does not have when it validates (see the module doc).
const SCREEN_ONLY: &[&str] = &["patient", "user"];

/// Holds every expression of `form` to the subset: it parses, names only functions of the subset, and reads only
/// environment variables and variables in scope. Each problem names the linkId, the expression and what is outside.
pub(crate) fn check_expressions(loader: &mut Loader, form: &Form) {
    let root = &form.expressions;
    for (what, e) in [("enableWhenExpression", &root.enable_when), ("calculatedExpression", &root.calculated)] {
        if let Some(e) = e {
            loader.problem(None, format!("{what} '{}' on the questionnaire: it belongs on an item", short(e)));
        }
    }
    let mut scope = Scope::default();
    scope.variables(loader, None, &root.variables);
    if let Some(e) = &root.initial {
        loader.problem(None, format!("initialExpression '{}' on the questionnaire: it belongs on an item", short(e)));
    }
    for item in form.items() {
        check_item(loader, item, &scope, 0);
    }
}

/// The variables in scope while checking: name, and whether its value needs what only the screen has.
#[derive(Clone, Default)]
struct Scope {
    vars: Vec<(String, bool)>,
}

impl Scope {
    /// Checks one expression; `Some(screen_only)` when it is inside the subset.
    fn check(&self, loader: &mut Loader, link: Option<&str>, what: &str, text: &str) -> Option<bool> {
        let shown = short(text);
        let expr = match parse(text) {
            Ok(e) => e,
            Err(e) => {
                loader.problem(link, format!("{what} '{shown}' is outside the FHIRPath subset: {e}"));
                return None;
            }
        };
        let mut screen_only = expr.functions().iter().any(|f| CLOCK_FUNCTIONS.contains(&f.as_str()));
        for name in expr.env_names() {
            if let Some((_, s)) = self.vars.iter().rev().find(|(n, _)| *n == name) {
                screen_only |= s;
            } else if ENVIRONMENT.contains(&name.as_str()) {
                screen_only |= SCREEN_ONLY.contains(&name.as_str());
            } else {
                let name = short(&name);
                loader.problem(
                    link,
                    format!(
                        "{what} '{shown}' reads %{name}, which is neither a variable in scope nor %resource, \
                             %questionnaire, %context, %patient or %user"
                    ),
                );
                return None;
            }
        }
        Some(screen_only)
    }

    fn variables(&mut self, loader: &mut Loader, link: Option<&str>, vars: &[Variable]) {
        for v in vars {
            let screen_only = self.check(loader, link, &format!("variable '{}'", short(&v.name)), &v.expression);
            self.vars.push((v.name.clone(), screen_only.unwrap_or(false)));
        }
    }
}

fn check_item(loader: &mut Loader, item: &Item, outer: &Scope, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let link = Some(item.link_id.as_str());
    let e = &item.expressions;
    let mut scope = outer.clone();
    scope.variables(loader, link, &e.variables);
    let checked = [
        ("enableWhenExpression", &e.enable_when),
        ("calculatedExpression", &e.calculated),
        ("answerExpression", &e.answer),
    ];
    for (what, text) in checked {
        let Some(text) = text else { continue };
        if scope.check(loader, link, what, text) == Some(true) {
            loader.problem(
                link,
                format!(
                    "{what} '{}' uses %patient, %user, today() or now(): the core computes it without them, \
                         so only initialExpression may",
                    short(text)
                ),
            );
        }
    }
    if let Some(text) = &e.initial {
        scope.check(loader, link, "initialExpression", text);
    }
    if e.calculated.is_some() && !item.kind.is_question() {
        loader.problem(link, format!("calculatedExpression on a {} item, which has no answer", item.kind.code()));
    }
    let listed = matches!(item.kind, ItemType::Choice | ItemType::OpenChoice) && !item.answer_options.is_empty();
    if e.answer.is_some() && !listed {
        loader.problem(
            link,
            "answerExpression is only evaluated where it filters listed answers: a choice item with answerOption or \
             answerValueSet",
        );
    }
    if e.enable_when.is_some() && !item.enable_when.is_empty() {
        loader.problem(link, "both enableWhen and enableWhenExpression: SDC allows one of the two");
    }
    for child in &item.items {
        check_item(loader, child, &scope, depth + 1);
    }
}

/// Evaluates a form's expressions for one response.
pub(crate) struct Sdc<'a> {
    root: Env<'a>,
}

/// An expression that could not be evaluated for this response (it was inside the subset at load, so this is a
/// value of the wrong type or several values where one was needed).
pub(crate) fn eval_problem(what: &str, e: &EvalError) -> String {
    format!("{what} could not be evaluated: {}", e.0)
}

impl<'a> Sdc<'a> {
    /// The environment of `response` with the questionnaire's variables evaluated; `Err` names the variable that
    /// failed.
    pub(crate) fn new(form: &'a Form, response: &'a Value) -> Result<Sdc<'a>, String> {
        let resource = vec![Val::Node { json: response, link: None }];
        let mut root = Env { questionnaire: Some(&form.source), ..Env::default() };
        root.set("resource", resource.clone());
        root.set("questionnaire", vec![Val::Node { json: &form.source, link: None }]);
        root.set("patient", vec![]);
        root.set("user", vec![]);
        let root = with_variables(root, &form.expressions.variables, &resource)?;
        Ok(Sdc { root })
    }

    /// The environment of the questionnaire level.
    pub(crate) fn root(&self) -> &Env<'a> {
        &self.root
    }

    /// The environment of `item` answered by `context` (its response item, `None` when the response has none):
    /// the outer one with the item's variables added.
    pub(crate) fn item_env<'e>(
        &self,
        outer: &'e Env<'a>,
        item: &Item,
        context: Option<&'a Value>,
    ) -> Result<Cow<'e, Env<'a>>, String> {
        if item.expressions.variables.is_empty() {
            return Ok(Cow::Borrowed(outer));
        }
        with_variables(outer.clone(), &item.expressions.variables, &context_of(context)).map(Cow::Owned)
    }

    /// Evaluates `text` (checked at load) on the item's response item.
    pub(crate) fn evaluate(
        &self,
        env: &Env<'a>,
        text: &str,
        context: Option<&'a Value>,
    ) -> Result<Collection<'a>, EvalError> {
        let expr: Expr = parse(text).map_err(|e| EvalError(e.0))?;
        let input = context_of(context);
        let mut env = env.clone();
        env.set("context", input.clone());
        evaluate(&expr, &input, &env)
    }
}

fn context_of(context: Option<&Value>) -> Collection<'_> {
    context.map(|c| Val::Node { json: c, link: c.get("linkId").and_then(Value::as_str) }).into_iter().collect()
}

fn with_variables<'a>(mut env: Env<'a>, vars: &[Variable], input: &Collection<'a>) -> Result<Env<'a>, String> {
    env.set("context", input.clone());
    for v in vars {
        let expr = parse(&v.expression).map_err(|e| e.0)?;
        let value = evaluate(&expr, input, &env).map_err(|e| eval_problem(&format!("variable '{}'", v.name), &e))?;
        env.set(&v.name, value);
    }
    Ok(env)
}

/// What [`evaluate_fhirpath`] evaluates an expression with.
#[derive(Debug, Clone, Default)]
pub struct FhirPathInput<'a> {
    /// `%resource`, also the expression's input (`%context`, `$this`).
    pub resource: Option<&'a Value>,
    pub questionnaire: Option<&'a Value>,
    pub patient: Option<&'a Value>,
    pub user: Option<&'a Value>,
    /// Further `%name`s, each a JSON value or an array of values.
    pub variables: Vec<(String, &'a Value)>,
    /// `today()` and `now()`: a FHIR date and dateTime.
    pub clock: Option<(String, String)>,
}

/// Evaluates one expression of the FHIRPath subset with the core's engine, the result as a JSON array: for the
/// contract test that holds the engine to fhirpath.js (`tests/contract/fhirpath.json`). Not product API.
#[doc(hidden)]
pub fn evaluate_fhirpath(expression: &str, input: &FhirPathInput) -> Result<Value, String> {
    let expr = parse(expression).map_err(|e| e.0)?;
    fn node(v: Option<&Value>) -> Collection<'_> {
        v.map(|json| Val::Node { json, link: None }).into_iter().collect()
    }
    let resource = node(input.resource);
    let mut env = Env { questionnaire: input.questionnaire, clock: input.clock.clone(), ..Env::default() };
    env.set("resource", resource.clone());
    env.set("context", resource.clone());
    env.set("questionnaire", node(input.questionnaire));
    env.set("patient", node(input.patient));
    env.set("user", node(input.user));
    for (name, v) in &input.variables {
        let values = match v {
            Value::Array(a) => a.iter().filter_map(|x| from_json(name, x, None)).collect(),
            other => from_json(name, other, None).into_iter().collect(),
        };
        env.set(name, values);
    }
    let out = evaluate(&expr, &resource, &env).map_err(|e| e.0)?;
    Ok(Value::Array(out.iter().map(Val::to_json).collect()))
}

/// Where a calculated item's response item is or goes: the item list at `path`, before the first of `later`.
pub(crate) struct Place<'p> {
    pub(crate) path: &'p [usize],
    pub(crate) later: Vec<String>,
}

/// A calculated answer to write into the response: into the response item at `existing` of the item list at
/// `path`, or as a new response item placed before the first of its later siblings (`later`, by linkId).
pub(crate) struct Fill {
    pub(crate) path: Vec<usize>,
    pub(crate) existing: Option<usize>,
    pub(crate) link_id: String,
    pub(crate) later: Vec<String>,
    pub(crate) answers: Vec<Value>,
}

impl Fill {
    pub(crate) fn apply(self, response: &mut Value) {
        let mut list = response.get_mut("item");
        for i in &self.path {
            list = list.and_then(|l| l.get_mut(*i)).and_then(|it| it.get_mut("item"));
        }
        if list.is_none() && self.path.is_empty() {
            if let Some(root) = response.as_object_mut() {
                root.insert("item".into(), Value::Array(Vec::new()));
            }
            list = response.get_mut("item");
        }
        let Some(Value::Array(list)) = list else { return };
        let target = match self.existing.and_then(|i| list.get_mut(i)).and_then(Value::as_object_mut) {
            Some(existing) => existing,
            None => {
                let at = list
                    .iter()
                    .position(|r| {
                        r.get("linkId").and_then(Value::as_str).is_some_and(|l| self.later.iter().any(|x| x == l))
                    })
                    .unwrap_or(list.len());
                let mut m = Map::new();
                m.insert("linkId".into(), Value::String(self.link_id.clone()));
                list.insert(at, Value::Object(m));
                match list.get_mut(at).and_then(Value::as_object_mut) {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        if self.answers.is_empty() {
            target.remove("answer");
        } else {
            target.insert("answer".into(), Value::Array(self.answers));
        }
    }
}

/// The answers an `answerExpression`'s values allow, as answer JSON (values that fit no answer of the item are left
/// out, so they allow nothing).
pub(crate) fn allowed_answers(item: &Item, values: &Collection) -> Vec<Value> {
    values
        .iter()
        .filter_map(|v| answer_value(item, v))
        .map(|(key, value)| {
            let mut m = Map::new();
            m.insert(key.to_string(), value);
            Value::Object(m)
        })
        .collect()
}

/// A computed value as the `answer` list of `item`, or why it cannot be one (a value of another type, several
/// values for a question that does not repeat).
pub(crate) fn to_answers(item: &Item, values: &Collection) -> Result<Vec<Value>, String> {
    if values.len() > 1 && !item.repeats {
        return Err(format!(
            "the calculatedExpression gives {} values for a question that does not repeat",
            values.len()
        ));
    }
    values
        .iter()
        .map(|v| {
            let (key, value) = answer_value(item, v).ok_or_else(|| {
                format!(
                    "the calculatedExpression gives a {}, not a value of this {} item",
                    v.type_name(),
                    item.kind.code()
                )
            })?;
            let mut m = Map::new();
            m.insert(key.to_string(), value);
            Ok(Value::Object(m))
        })
        .collect()
}

fn answer_value(item: &Item, v: &Val) -> Option<(&'static str, Value)> {
    Some(match (item.kind, v) {
        (ItemType::Boolean, Val::Bool(b)) => ("valueBoolean", Value::Bool(*b)),
        (ItemType::Decimal, Val::Int(_) | Val::Dec(_)) => ("valueDecimal", decimal_json(v.number()?)),
        (ItemType::Integer, Val::Int(i)) => ("valueInteger", Value::from(*i)),
        (ItemType::Date, Val::Date(s)) => ("valueDate", Value::String(s.clone())),
        (ItemType::DateTime, Val::DateTime(s)) => ("valueDateTime", Value::String(s.clone())),
        (ItemType::Time, Val::Time(s)) => ("valueTime", Value::String(s.clone())),
        (ItemType::String | ItemType::Text | ItemType::OpenChoice, Val::Str(s)) => {
            ("valueString", Value::String(s.clone()))
        }
        (ItemType::Choice | ItemType::OpenChoice, Val::Node { json, .. }) if json.get("code").is_some() => {
            let mut c = Map::new();
            for k in ["system", "code", "display"] {
                if let Some(x) = json.get(k) {
                    c.insert(k.to_string(), x.clone());
                }
            }
            ("valueCoding", Value::Object(c))
        }
        (ItemType::Quantity, Val::Node { json, .. }) if json.get("value").is_some_and(Value::is_number) => {
            ("valueQuantity", (*json).clone())
        }
        (ItemType::Quantity, Val::Int(_) | Val::Dec(_)) => {
            let mut q = Map::new();
            q.insert("value".into(), decimal_json(v.number()?));
            // A bare number is the quantity in the item's unit, when it names exactly one.
            if let [unit] = item.units.as_slice() {
                if let Some(d) = &unit.display {
                    q.insert("unit".into(), Value::String(d.clone()));
                }
                if let Some(s) = &unit.system {
                    q.insert("system".into(), Value::String(s.clone()));
                }
                if let Some(c) = &unit.code {
                    q.insert("code".into(), Value::String(c.clone()));
                }
            }
            ("valueQuantity", Value::Object(q))
        }
        _ => return None,
    })
}
