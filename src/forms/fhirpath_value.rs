//! The values the FHIRPath subset computes with: a FHIR JSON element (borrowed from the resource) or a typed
//! primitive, and the operators on them (equality, equivalence, ordering, arithmetic) with FHIRPath's rules:
//! an empty operand gives an empty result, operands of the wrong type are an error.
//!
//! FHIR JSON does not say which primitive type a string or number is; without the FHIR model (the reason the
//! Rust crates are heavy) the element's name decides, as FHIR's naming does: `…Date`, `…DateTime`, `…Time`,
//! `…Instant`, `authored` and `issued` strings are dates and times, `…Decimal` numbers are decimals, other
//! whole numbers are integers (docs/forms-engine.md "FHIRPath").

use std::cmp::Ordering;

use serde_json::Value;

/// One item of a collection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    /// A JSON object of a resource; `link` is the linkId of the nearest item (of a Questionnaire or its response)
    /// that holds it, which `ordinal()` needs to find the option an answer chose.
    Node {
        json: &'a Value,
        link: Option<&'a str>,
    },
    Bool(bool),
    Int(i64),
    Dec(f64),
    Str(String),
    Date(String),
    DateTime(String),
    Time(String),
}

/// Why an evaluation failed (a type error, a collection where one value was needed, a limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EvalError(pub(crate) String);

pub(crate) type Collection<'a> = Vec<Val<'a>>;

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

/// The typed value of a JSON element named `key` (the element's name decides the primitive type, see the module
/// doc). Objects stay nodes; `null` is nothing.
pub(crate) fn from_json<'a>(key: &str, v: &'a Value, link: Option<&'a str>) -> Option<Val<'a>> {
    Some(match v {
        Value::Null | Value::Array(_) => return None,
        Value::Object(o) => {
            let link = o.get("linkId").and_then(Value::as_str).or(link);
            Val::Node { json: v, link }
        }
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !key.ends_with("Decimal") && !n.is_f64() => Val::Int(i),
            _ => Val::Dec(n.as_f64()?),
        },
        Value::String(s) => {
            let s = s.clone();
            if key.ends_with("DateTime") || key.ends_with("Instant") || key == "authored" || key == "issued" {
                Val::DateTime(s)
            } else if key.ends_with("Date") {
                if s.contains('T') {
                    Val::DateTime(s)
                } else {
                    Val::Date(s)
                }
            } else if key.ends_with("Time") {
                Val::Time(s)
            } else {
                Val::Str(s)
            }
        }
    })
}

impl Val<'_> {
    /// The type's name, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Node { .. } => "element",
            Val::Bool(_) => "Boolean",
            Val::Int(_) => "Integer",
            Val::Dec(_) => "Decimal",
            Val::Str(_) => "String",
            Val::Date(_) => "Date",
            Val::DateTime(_) => "DateTime",
            Val::Time(_) => "Time",
        }
    }

    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Dec(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as the JSON of a result (the contract's `expected`, an answer's `value[x]`).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Val::Node { json, .. } => (*json).clone(),
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Dec(d) => decimal_json(*d),
            Val::Str(s) | Val::Date(s) | Val::DateTime(s) | Val::Time(s) => Value::String(s.clone()),
        }
    }
}

/// A decimal as JSON: whole values without a fraction (`70`, as FHIR JSON and fhirpath.js write them).
pub(crate) fn decimal_json(d: f64) -> Value {
    if d.fract() == 0.0 && d.abs() < 9e15 {
        Value::from(d as i64)
    } else {
        serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
    }
}

/// A number as text, as fhirpath.js's `toString()` writes it (no trailing `.0`).
pub(crate) fn number_text(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 9e15 {
        format!("{}", d as i64)
    } else {
        format!("{d}")
    }
}

/// `=`: `None` when the answer is empty (different date precisions), otherwise whether the values are equal.
pub(crate) fn equal(a: &Val, b: &Val) -> Option<bool> {
    match (a, b) {
        (Val::Node { json: x, .. }, Val::Node { json: y, .. }) => Some(x == y),
        (Val::Date(x), Val::Date(y)) | (Val::DateTime(x), Val::DateTime(y)) | (Val::Time(x), Val::Time(y)) => {
            (precision(x) == precision(y)).then(|| x == y)
        }
        (Val::Date(x), Val::DateTime(y)) | (Val::DateTime(x), Val::Date(y)) => {
            (precision(x) == precision(y)).then_some(false)
        }
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => Some(x == y),
            _ => Some(match (a, b) {
                (Val::Str(x), Val::Str(y)) => x == y,
                (Val::Bool(x), Val::Bool(y)) => x == y,
                _ => false,
            }),
        },
    }
}

/// `~`: strings ignore case and runs of white space; otherwise as `=`, with different precisions unequal.
pub(crate) fn equivalent(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => normalise(x) == normalise(y),
        _ => equal(a, b).unwrap_or(false),
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The precision of a date or time string: how many of its digits it gives (`2020-01` gives fewer than
/// `2020-01-02`), with the time zone left out.
fn precision(s: &str) -> usize {
    let body = match s.find('T') {
        Some(t) => {
            let (date, time) = s.split_at(t);
            let time_end = time[1..].find(['+', '-', 'Z']).map_or(time.len(), |i| i + 1);
            format!("{date}{}", &time[..time_end])
        }
        None => s.to_string(),
    };
    body.chars().filter(char::is_ascii_digit).count()
}

/// `< > <= >=`: numbers, strings, and dates or times of the same precision; `Ok(None)` (empty) for dates of
/// different precision; other pairs are a type error.
pub(crate) fn compare(a: &Val, b: &Val) -> Result<Option<Ordering>, EvalError> {
    if let (Some(x), Some(y)) = (a.number(), b.number()) {
        return Ok(x.partial_cmp(&y));
    }
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(Some(x.cmp(y))),
        (Val::Date(x) | Val::DateTime(x), Val::Date(y) | Val::DateTime(y)) | (Val::Time(x), Val::Time(y)) => {
            Ok((precision(x) == precision(y)).then(|| x.cmp(y)))
        }
        _ => fail(format!("cannot compare {} with {}", a.type_name(), b.type_name())),
    }
}

/// What an arithmetic operator computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
}

/// `+ - * / div mod` on two values; `Ok(None)` (empty) for a division by zero or an integer overflow.
pub(crate) fn arithmetic<'a>(op: Arith, a: &Val<'a>, b: &Val<'a>) -> Result<Option<Val<'a>>, EvalError> {
    if let (Val::Str(x), Val::Str(y), Arith::Add) = (a, b, op) {
        return Ok(Some(Val::Str(format!("{x}{y}"))));
    }
    let (Some(x), Some(y)) = (a.number(), b.number()) else {
        let sym = ["+", "-", "*", "/", "div", "mod"][op as usize];
        return fail(format!("cannot compute {} {sym} {}", a.type_name(), b.type_name()));
    };
    if let (Val::Int(i), Val::Int(j)) = (a, b) {
        return Ok(match op {
            Arith::Add => i.checked_add(*j).map(Val::Int),
            Arith::Sub => i.checked_sub(*j).map(Val::Int),
            Arith::Mul => i.checked_mul(*j).map(Val::Int),
            Arith::Div => (*j != 0).then(|| Val::Dec(x / y)),
            Arith::IntDiv => i.checked_div(*j).map(Val::Int),
            Arith::Mod => i.checked_rem(*j).map(Val::Int),
        });
    }
    let r = match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div if y == 0.0 => return Ok(None),
        Arith::Div => x / y,
        Arith::IntDiv if y == 0.0 => return Ok(None),
        Arith::IntDiv => return Ok(whole(x / y).map(Val::Int)),
        Arith::Mod if y == 0.0 => return Ok(None),
        Arith::Mod => x % y,
    };
    Ok(r.is_finite().then_some(Val::Dec(r)))
}

/// The integer part of a finite number within the range of an Integer.
pub(crate) fn whole(d: f64) -> Option<i64> {
    let t = d.trunc();
    (t.is_finite() && t.abs() < 9.2e18).then_some(t as i64)
}

/// `round(precision)`: half up (0.5 goes to 1, -2.5 to -2), as fhirpath.js rounds; the spec says only "a
/// traditional round (0.5 or higher will round to 1)".
pub(crate) fn round(d: f64, places: i64) -> Option<f64> {
    if !(0..=15).contains(&places) {
        return None;
    }
    let scale = 10f64.powi(places as i32);
    let r = (d * scale + 0.5).floor() / scale;
    r.is_finite().then_some(r)
}

/// The score of a Coding, an answer or an answer option from its own `ordinalValue`/`itemWeight` extension.
pub(crate) fn own_score(v: &Value) -> Option<f64> {
    const URLS: &[&str] =
        &["http://hl7.org/fhir/StructureDefinition/ordinalValue", "http://hl7.org/fhir/StructureDefinition/itemWeight"];
    v.get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str).is_some_and(|u| URLS.contains(&u)))?
        .get("valueDecimal")
        .or_else(|| v.get("valueInteger"))?
        .as_f64()
}

/// Do two Codings (JSON) name the same concept: same code, and same system where both give one.
pub(crate) fn same_coding(a: &Value, b: &Value) -> bool {
    let code = |v: &Value| v.get("code").and_then(Value::as_str).map(str::to_string);
    let system = |v: &Value| v.get("system").and_then(Value::as_str).map(str::to_string);
    code(a).is_some()
        && code(a) == code(b)
        && match (system(a), system(b)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_names_give_the_primitive_type() {
        let v = serde_json::json!(70);
        assert_eq!(from_json("valueDecimal", &v, None), Some(Val::Dec(70.0)));
        assert_eq!(from_json("valueInteger", &v, None), Some(Val::Int(70)));
        let d = serde_json::json!("1990-02-03");
        assert_eq!(from_json("birthDate", &d, None), Some(Val::Date("1990-02-03".into())));
        assert_eq!(from_json("valueString", &d, None), Some(Val::Str("1990-02-03".into())));
    }

    #[test]
    fn dates_of_different_precision_are_not_equal_or_unequal() {
        let (a, b) = (Val::Date("2020".into()), Val::Date("2020-01".into()));
        assert_eq!(equal(&a, &b), None);
        assert_eq!(compare(&a, &b), Ok(None));
        let t = Val::DateTime("2020-01-02T10:00:00+01:00".into());
        assert_eq!(equal(&t, &t), Some(true));
    }

    #[test]
    fn arithmetic_follows_the_types() {
        assert_eq!(arithmetic(Arith::Div, &Val::Int(1), &Val::Int(2)), Ok(Some(Val::Dec(0.5))));
        assert_eq!(arithmetic(Arith::IntDiv, &Val::Int(-7), &Val::Int(2)), Ok(Some(Val::Int(-3))));
        assert_eq!(arithmetic(Arith::Div, &Val::Int(1), &Val::Int(0)), Ok(None));
        assert_eq!(arithmetic(Arith::Add, &Val::Int(i64::MAX), &Val::Int(1)), Ok(None));
        assert!(arithmetic(Arith::Add, &Val::Int(1), &Val::Str("a".into())).is_err());
        assert_eq!(round(-2.5, 0), Some(-2.0));
        assert_eq!(round(22.857, 1), Some(22.9));
    }
}
