//! Evaluating a parsed FHIRPath expression of the subset (`fhirpath.rs`) over FHIR JSON: navigation with FHIR's
//! choice types (`value` matches `valueDecimal`, `valueCoding`, …), empty propagation, the singleton rules,
//! three-valued logic, the subset's functions, and the SDC functions `answers()` and `ordinal()`/`weight()`.
//!
//! Pure: the environment (`%resource`, `%questionnaire`, `%context`, `%patient`, `%user`, the form's variables)
//! and the clock come in as an [`Env`]. Bounded: an evaluation that touches more than [`MAX_STEPS`] values stops
//! with an error instead of running long on a hostile form.

use std::cell::Cell;
use std::cmp::Ordering;

use serde_json::Value;

use super::fhirpath::{BinOp, Expr, Literal};
use super::fhirpath_value::{
    arithmetic, compare, equal, equivalent, fail, from_json, number_text, own_score, round, same_coding, whole, Arith,
    Collection, EvalError, Val,
};

/// Most values one evaluation may produce.
pub(crate) const MAX_STEPS: usize = 200_000;

/// What an expression can see besides its input.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env<'a> {
    /// `%name` → its value: `resource`, `questionnaire`, `context`, `patient`, `user` and the form's variables.
    pub(crate) vars: Vec<(String, Collection<'a>)>,
    /// The Questionnaire, for `ordinal()`.
    pub(crate) questionnaire: Option<&'a Value>,
    /// `today()` and `now()` as FHIR date and dateTime strings; `None` where the caller has no clock (the core's
    /// validation, which only evaluates expressions without them, see `fhirpath::CLOCK_FUNCTIONS`).
    pub(crate) clock: Option<(String, String)>,
}

impl<'a> Env<'a> {
    /// Sets `%name` (a later value replaces an earlier one of the same name).
    pub(crate) fn set(&mut self, name: &str, value: Collection<'a>) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value));
    }
}

/// Constants every FHIRPath environment has.
const CONSTANTS: &[(&str, &str)] =
    &[("ucum", "http://unitsofmeasure.org"), ("sct", "http://snomed.info/sct"), ("loinc", "http://loinc.org")];

/// Evaluates `expr` on `input` (also `$this` at the top).
pub(crate) fn evaluate<'a>(expr: &Expr, input: &Collection<'a>, env: &Env<'a>) -> Result<Collection<'a>, EvalError> {
    let ev = Evaluator { env, steps: Cell::new(0) };
    ev.eval(expr, input, &Focus { this: input.clone(), index: None })
}

/// `$this` and `$index` inside `where`, `select`, `exists` and `all`.
struct Focus<'a> {
    this: Collection<'a>,
    index: Option<i64>,
}

struct Evaluator<'e, 'a> {
    env: &'e Env<'a>,
    steps: Cell<usize>,
}

/// A collection's one value, `None` when empty; more than one is an error.
fn single<'c, 'a>(c: &'c Collection<'a>, what: &str) -> Result<Option<&'c Val<'a>>, EvalError> {
    match c.as_slice() {
        [] => Ok(None),
        [v] => Ok(Some(v)),
        _ => fail(format!("{what} needs one value, got {}", c.len())),
    }
}

/// A collection as a boolean: empty is `None`; one Boolean is itself; one other value is true (the spec's
/// singleton evaluation); more is an error.
fn truth(c: &Collection, what: &str) -> Result<Option<bool>, EvalError> {
    Ok(single(c, what)?.map(|v| match v {
        Val::Bool(b) => *b,
        _ => true,
    }))
}

fn boolean<'a>(b: Option<bool>) -> Collection<'a> {
    b.map(Val::Bool).into_iter().collect()
}

fn contains(c: &Collection, v: &Val) -> bool {
    c.iter().any(|x| equal(x, v) == Some(true))
}

fn distinct<'a>(c: Collection<'a>) -> Collection<'a> {
    let mut out: Collection = Vec::new();
    for v in c {
        if !contains(&out, &v) {
            out.push(v);
        }
    }
    out
}

impl<'a> Evaluator<'_, 'a> {
    fn step(&self, n: usize) -> Result<(), EvalError> {
        let s = self.steps.get() + n;
        self.steps.set(s);
        if s > MAX_STEPS {
            return fail(format!("the expression needs more than {MAX_STEPS} steps"));
        }
        Ok(())
    }

    fn eval(&self, e: &Expr, input: &Collection<'a>, focus: &Focus<'a>) -> Result<Collection<'a>, EvalError> {
        self.step(1)?;
        Ok(match e {
            Expr::Lit(l) => match l {
                Literal::Empty => vec![],
                Literal::Bool(b) => vec![Val::Bool(*b)],
                Literal::Str(s) => vec![Val::Str(s.clone())],
                Literal::Int(i) => vec![Val::Int(*i)],
                Literal::Dec(d) => vec![Val::Dec(*d)],
                Literal::Date(s) => vec![Val::Date(s.clone())],
                Literal::DateTime(s) => vec![Val::DateTime(s.clone())],
                Literal::Time(s) => vec![Val::Time(s.clone())],
            },
            Expr::This => focus.this.clone(),
            Expr::Index => focus.index.map(Val::Int).into_iter().collect(),
            Expr::Total => return fail("$total is outside the subset"),
            Expr::Env(name) => match self.env.vars.iter().find(|(n, _)| n == name) {
                Some((_, v)) => v.clone(),
                None => match CONSTANTS.iter().find(|(n, _)| n == name) {
                    Some((_, s)) => vec![Val::Str(s.to_string())],
                    None => return fail(format!("%{name} is not defined")),
                },
            },
            Expr::Member(target, name) => {
                let base = match target {
                    Some(t) => self.eval(t, input, focus)?,
                    None => {
                        // A path may start with the resource's type: `QuestionnaireResponse.item`.
                        let typed = focus.this.iter().all(|v| match v {
                            Val::Node { json, .. } => json.get("resourceType").and_then(Value::as_str) == Some(name),
                            _ => false,
                        });
                        if typed && !focus.this.is_empty() {
                            return Ok(focus.this.clone());
                        }
                        focus.this.clone()
                    }
                };
                self.member(&base, name)?
            }
            Expr::Call(target, name, args) => {
                let base = match target {
                    Some(t) => self.eval(t, input, focus)?,
                    None => focus.this.clone(),
                };
                self.call(name, base, args, focus)?
            }
            Expr::Indexer(target, index) => {
                let base = self.eval(target, input, focus)?;
                let i = self.eval(index, input, focus)?;
                match single(&i, "an index")? {
                    None => vec![],
                    Some(Val::Int(i)) => {
                        usize::try_from(*i).ok().and_then(|i| base.get(i).cloned()).into_iter().collect()
                    }
                    Some(v) => return fail(format!("an index must be an Integer, not {}", v.type_name())),
                }
            }
            Expr::Neg(inner) => {
                let v = self.eval(inner, input, focus)?;
                match single(&v, "unary minus")? {
                    None => vec![],
                    Some(Val::Int(i)) => i.checked_neg().map(Val::Int).into_iter().collect(),
                    Some(Val::Dec(d)) => vec![Val::Dec(-d)],
                    Some(v) => return fail(format!("cannot negate {}", v.type_name())),
                }
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, input, focus)?,
        })
    }

    /// `.name` on each item: the element, or a choice type's `name[Type]` element; arrays are flattened.
    fn member(&self, base: &Collection<'a>, name: &str) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        for v in base {
            let Val::Node { json: Value::Object(obj), link } = v else { continue };
            let mut push = |key: &str, v: &'a Value| match v {
                Value::Array(a) => out.extend(a.iter().filter_map(|x| from_json(key, x, *link))),
                _ => out.extend(from_json(key, v, *link)),
            };
            match obj.get_key_value(name) {
                Some((k, v)) => push(k, v),
                None => {
                    for (k, v) in obj {
                        let choice = k.strip_prefix(name).is_some_and(|rest| rest.starts_with(char::is_uppercase));
                        if choice {
                            push(k, v);
                        }
                    }
                }
            }
        }
        self.step(out.len())?;
        Ok(out)
    }

    /// Every child element of each item (`children()`).
    fn children(&self, base: &Collection<'a>) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        for v in base {
            let Val::Node { json: Value::Object(obj), link } = v else { continue };
            // `resourceType` is not an element, and `_name` holds a primitive's extensions, not a child.
            for (k, v) in obj.iter().filter(|(k, _)| *k != "resourceType" && !k.starts_with('_')) {
                match v {
                    Value::Array(a) => out.extend(a.iter().filter_map(|x| from_json(k, x, *link))),
                    _ => out.extend(from_json(k, v, *link)),
                }
            }
        }
        self.step(out.len())?;
        Ok(out)
    }

    fn binary(
        &self,
        op: BinOp,
        l: &Expr,
        r: &Expr,
        input: &Collection<'a>,
        focus: &Focus<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let left = self.eval(l, input, focus)?;
        // `and`, `or` and `implies` need the right side only when the left does not decide.
        if matches!(op, BinOp::And | BinOp::Or | BinOp::Implies) {
            match (op, truth(&left, "a logical operator")?) {
                (BinOp::And, Some(false)) => return Ok(vec![Val::Bool(false)]),
                (BinOp::Or, Some(true)) => return Ok(vec![Val::Bool(true)]),
                (BinOp::Implies, Some(false)) => return Ok(vec![Val::Bool(true)]),
                _ => {}
            }
        }
        let right = self.eval(r, input, focus)?;
        let arith = |a: Arith| -> Result<Collection<'a>, EvalError> {
            match (single(&left, "an operator")?, single(&right, "an operator")?) {
                (Some(x), Some(y)) => Ok(arithmetic(a, x, y)?.into_iter().collect()),
                _ => Ok(vec![]),
            }
        };
        Ok(match op {
            BinOp::Add => arith(Arith::Add)?,
            BinOp::Sub => arith(Arith::Sub)?,
            BinOp::Mul => arith(Arith::Mul)?,
            BinOp::Div => arith(Arith::Div)?,
            BinOp::IntDiv => arith(Arith::IntDiv)?,
            BinOp::Mod => arith(Arith::Mod)?,
            BinOp::Concat => {
                let text = |c: &Collection| -> Result<String, EvalError> {
                    match single(c, "&")? {
                        None => Ok(String::new()),
                        Some(Val::Str(s)) => Ok(s.clone()),
                        Some(v) => fail(format!("& needs strings, not {}", v.type_name())),
                    }
                };
                vec![Val::Str(text(&left)? + &text(&right)?)]
            }
            BinOp::Union => distinct(left.into_iter().chain(right).collect()),
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                match (single(&left, "a comparison")?, single(&right, "a comparison")?) {
                    (Some(x), Some(y)) => boolean(compare(x, y)?.map(|o| match op {
                        BinOp::Lt => o == Ordering::Less,
                        BinOp::Gt => o == Ordering::Greater,
                        BinOp::Le => o != Ordering::Greater,
                        _ => o != Ordering::Less,
                    })),
                    _ => vec![],
                }
            }
            BinOp::Eq | BinOp::Ne => {
                if left.is_empty() || right.is_empty() {
                    return Ok(vec![]);
                }
                let same = if left.len() != right.len() {
                    Some(false)
                } else {
                    let mut all = Some(true);
                    for (x, y) in left.iter().zip(&right) {
                        match equal(x, y) {
                            Some(true) => {}
                            Some(false) => {
                                all = Some(false);
                                break;
                            }
                            None => all = None,
                        }
                    }
                    all
                };
                boolean(same.map(|s| if op == BinOp::Eq { s } else { !s }))
            }
            BinOp::Equiv | BinOp::NotEquiv => {
                let same = left.len() == right.len() && left.iter().all(|x| right.iter().any(|y| equivalent(x, y)));
                vec![Val::Bool(if op == BinOp::Equiv { same } else { !same })]
            }
            BinOp::In | BinOp::Contains => {
                let (item, list) = if op == BinOp::In { (&left, &right) } else { (&right, &left) };
                match single(item, "in/contains")? {
                    None => vec![],
                    Some(v) => vec![Val::Bool(contains(list, v))],
                }
            }
            BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Implies => {
                let (a, b) = (truth(&left, "a logical operator")?, truth(&right, "a logical operator")?);
                boolean(match op {
                    BinOp::And => match (a, b) {
                        (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    BinOp::Or => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    BinOp::Xor => a.zip(b).map(|(x, y)| x != y),
                    _ => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(true), Some(false)) => Some(false),
                        _ => None,
                    },
                })
            }
        })
    }

    /// Evaluates `arg` once per item of `base`, with `$this` the item and `$index` its position.
    fn per_item(&self, base: &Collection<'a>, arg: &Expr) -> Result<Vec<Collection<'a>>, EvalError> {
        base.iter()
            .enumerate()
            .map(|(i, v)| {
                let one = vec![v.clone()];
                self.eval(arg, &one, &Focus { this: one.clone(), index: Some(i as i64) })
            })
            .collect()
    }

    fn call(
        &self,
        name: &str,
        base: Collection<'a>,
        args: &[Expr],
        focus: &Focus<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        // Arguments that are not lambdas are evaluated on the caller's `$this`.
        let arg = |i: usize| -> Result<Collection<'a>, EvalError> {
            match args.get(i) {
                Some(a) => self.eval(a, &focus.this, focus),
                None => Ok(vec![]),
            }
        };
        let criteria = |base: &Collection<'a>| -> Result<Vec<Option<bool>>, EvalError> {
            match args.first() {
                Some(a) => self.per_item(base, a)?.iter().map(|c| truth(c, name)).collect(),
                None => Ok(base.iter().map(|_| Some(true)).collect()),
            }
        };
        let number = |what: &str| -> Result<Option<f64>, EvalError> {
            match single(&base, what)? {
                None => Ok(None),
                Some(v) => v.number().map(Some).ok_or_else(|| EvalError(format!("{what}() needs a number"))),
            }
        };
        let string = |what: &str| -> Result<Option<String>, EvalError> {
            match single(&base, what)? {
                None => Ok(None),
                Some(Val::Str(s)) => Ok(Some(s.clone())),
                Some(v) => fail(format!("{what}() needs a String, not {}", v.type_name())),
            }
        };
        let dec =
            |d: Option<f64>| -> Collection<'a> { d.filter(|d| d.is_finite()).map(Val::Dec).into_iter().collect() };
        Ok(match name {
            "where" => {
                let keep = criteria(&base)?;
                base.into_iter().zip(keep).filter(|(_, k)| *k == Some(true)).map(|(v, _)| v).collect()
            }
            "select" => {
                let out: Collection = self.per_item(&base, &args[0])?.into_iter().flatten().collect();
                self.step(out.len())?;
                out
            }
            "repeat" => {
                // As fhirpath.js: for each input item in turn, the projection is applied to what it gave last time
                // until it gives nothing new (by equality), so a cycle ends; results in the order found.
                let mut out: Collection = Vec::new();
                for item in &base {
                    let mut level = vec![item.clone()];
                    while !level.is_empty() {
                        let next: Collection = self.per_item(&level, &args[0])?.into_iter().flatten().collect();
                        self.step(next.len())?;
                        level = Vec::new();
                        for v in next {
                            if !contains(&out, &v) {
                                out.push(v.clone());
                                level.push(v);
                            }
                        }
                    }
                }
                out
            }
            "exists" => vec![Val::Bool(criteria(&base)?.contains(&Some(true)))],
            "all" => vec![Val::Bool(criteria(&base)?.iter().all(|k| *k == Some(true)))],
            "empty" => vec![Val::Bool(base.is_empty())],
            "first" => base.into_iter().take(1).collect(),
            "last" => base.last().cloned().into_iter().collect(),
            "tail" => base.into_iter().skip(1).collect(),
            "count" => vec![Val::Int(base.len() as i64)],
            "sum" => {
                let mut total: Option<Val> = None;
                for v in &base {
                    total = match total {
                        None => Some(v.clone()),
                        Some(t) => arithmetic(Arith::Add, &t, v)?,
                    };
                }
                total.into_iter().collect()
            }
            "iif" => {
                let cond = match args.first() {
                    Some(a) => truth(&self.eval(a, &base, &Focus { this: base.clone(), index: None })?, "iif")?,
                    None => None,
                };
                arg(if cond == Some(true) { 1 } else { 2 })?
            }
            "not" => boolean(truth(&base, "not")?.map(|b| !b)),
            "combine" => base.into_iter().chain(arg(0)?).collect(),
            "union" => distinct(base.into_iter().chain(arg(0)?).collect()),
            "distinct" => distinct(base),
            "children" => self.children(&base)?,
            "descendants" => {
                let mut out = Vec::new();
                let mut level = self.children(&base)?;
                while !level.is_empty() {
                    let next = self.children(&level)?;
                    out.extend(level);
                    level = next;
                }
                out
            }
            "today" | "now" => match &self.env.clock {
                Some((today, now)) if name == "today" => vec![Val::Date(today.clone())],
                Some((_, now)) => vec![Val::DateTime(now.clone())],
                None => return fail(format!("{name}() needs the clock, which the core does not evaluate with")),
            },
            "round" => {
                let places = match single(&arg(0)?, "round")? {
                    None => 0,
                    Some(Val::Int(p)) => *p,
                    Some(v) => return fail(format!("round() needs an Integer precision, not {}", v.type_name())),
                };
                dec(number("round")?.and_then(|d| round(d, places)))
            }
            "power" => {
                let exponent = single(&arg(0)?, "power")?.cloned();
                match (single(&base, "power")?, exponent) {
                    (Some(Val::Int(b)), Some(Val::Int(e))) if e >= 0 => {
                        u32::try_from(e).ok().and_then(|e| b.checked_pow(e)).map(Val::Int).into_iter().collect()
                    }
                    (Some(b), Some(e)) => match (b.number(), e.number()) {
                        (Some(b), Some(e)) => dec(Some(b.powf(e))),
                        _ => return fail("power() needs numbers"),
                    },
                    _ => vec![],
                }
            }
            "sqrt" => dec(number("sqrt")?.filter(|d| *d >= 0.0).map(f64::sqrt)),
            "abs" => match single(&base, "abs")? {
                Some(Val::Int(i)) => i.checked_abs().map(Val::Int).into_iter().collect(),
                _ => dec(number("abs")?.map(f64::abs)),
            },
            "floor" | "ceiling" => {
                let f = if name == "floor" { f64::floor } else { f64::ceil };
                number(name)?.map(f).and_then(whole).map(Val::Int).into_iter().collect()
            }
            "toString" => match single(&base, "toString")? {
                None | Some(Val::Node { .. }) => vec![],
                Some(Val::Bool(b)) => vec![Val::Str(b.to_string())],
                Some(Val::Int(i)) => vec![Val::Str(i.to_string())],
                Some(Val::Dec(d)) => vec![Val::Str(number_text(*d))],
                Some(Val::Str(s) | Val::Date(s) | Val::DateTime(s) | Val::Time(s)) => vec![Val::Str(s.clone())],
            },
            "toInteger" => match single(&base, "toInteger")? {
                Some(Val::Int(i)) => vec![Val::Int(*i)],
                Some(Val::Bool(b)) => vec![Val::Int(i64::from(*b))],
                Some(Val::Str(s)) => s.parse::<i64>().ok().map(Val::Int).into_iter().collect(),
                _ => vec![],
            },
            "toDecimal" => match single(&base, "toDecimal")? {
                Some(Val::Int(i)) => vec![Val::Dec(*i as f64)],
                Some(Val::Dec(d)) => vec![Val::Dec(*d)],
                Some(Val::Bool(b)) => vec![Val::Dec(if *b { 1.0 } else { 0.0 })],
                Some(Val::Str(s)) => dec(decimal_text(s)),
                _ => vec![],
            },
            "length" => string("length")?.map(|s| Val::Int(s.chars().count() as i64)).into_iter().collect(),
            "startsWith" | "endsWith" | "contains" => {
                let needle = match single(&arg(0)?, name)? {
                    None => return Ok(vec![]),
                    Some(Val::Str(s)) => s.clone(),
                    Some(v) => return fail(format!("{name}() needs a String argument, not {}", v.type_name())),
                };
                string(name)?
                    .map(|s| {
                        Val::Bool(match name {
                            "startsWith" => s.starts_with(&needle),
                            "endsWith" => s.ends_with(&needle),
                            _ => s.contains(&needle),
                        })
                    })
                    .into_iter()
                    .collect()
            }
            "hasValue" => {
                vec![Val::Bool(matches!(single(&base, "hasValue")?, Some(v) if !matches!(v, Val::Node { .. })))]
            }
            "answers" => self.answers(&base)?,
            "ordinal" | "weight" => base.iter().filter_map(|v| self.score(v)).map(Val::Dec).collect(),
            other => return fail(format!("the function {other}() is outside the subset")),
        })
    }

    /// SDC `answers()`: every answer of every item below each QuestionnaireResponse or item of `base`, also the
    /// items nested under answers.
    fn answers(&self, base: &Collection<'a>) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        let mut items = self.member(base, "item")?;
        while !items.is_empty() {
            let answers = self.member(&items, "answer")?;
            let mut next = self.member(&items, "item")?;
            next.extend(self.member(&answers, "item")?);
            out.extend(answers);
            items = next;
        }
        Ok(out)
    }

    /// SDC `ordinal()`/`weight()` of one value, as fhirpath.js finds it: the value's own `ordinalValue`/`itemWeight`
    /// extension; else, for an answer of a QuestionnaireResponse (or its Coding), the extension on the
    /// Questionnaire's answerOption of that item with the same coding.
    fn score(&self, v: &Val<'a>) -> Option<f64> {
        let Val::Node { json, link } = v else { return None };
        if let Some(s) = own_score(json) {
            return Some(s);
        }
        // An answer object: its valueCoding.
        let coding = json.get("valueCoding").unwrap_or(json);
        if let Some(s) = own_score(coding) {
            return Some(s);
        }
        let item = find_item(self.env.questionnaire?, (*link)?, 0)?;
        let option = item
            .get("answerOption")?
            .as_array()?
            .iter()
            .find(|o| o.get("valueCoding").is_some_and(|c| same_coding(c, coding)))?;
        own_score(option).or_else(|| option.get("valueCoding").and_then(own_score))
    }
}

/// The Questionnaire item with this linkId, however deep.
fn find_item<'q>(node: &'q Value, link: &str, depth: usize) -> Option<&'q Value> {
    if depth > 64 {
        return None;
    }
    for item in node.get("item")?.as_array()? {
        if item.get("linkId").and_then(Value::as_str) == Some(link) {
            return Some(item);
        }
        if let Some(found) = find_item(item, link, depth + 1) {
            return Some(found);
        }
    }
    None
}

/// A FHIRPath decimal written as text (`toDecimal()`): digits with an optional sign and fraction.
fn decimal_text(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let ok = !body.is_empty()
        && body.split('.').count() <= 2
        && body.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}
