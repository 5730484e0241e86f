//! Reading typed FHIR `value[x]` / `answer[x]` elements and checking FHIR primitive formats (date, dateTime, time).
//!
//! Shared by the loader (answerOption, initial, enableWhen) and the response validator, so a form and its
//! responses are held to exactly the same notion of "a valid dateTime".

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::model::{AnswerValue, Coding, Quantity};

/// Why a `value[x]` could not be read; rendered into load problems and findings (never with the value itself).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TypedError {
    /// No `<prefix>X` element at all.
    Missing,
    /// More than one `<prefix>X` element.
    Several,
    /// A FHIR type outside the subset, e.g. valueReference, valueAttachment.
    Unsupported(String),
    /// The right key with a value of the wrong JSON shape or format.
    Malformed(String),
}

impl TypedError {
    pub(crate) fn describe(&self, prefix: &str) -> String {
        match self {
            TypedError::Missing => format!("has no {prefix}[x]"),
            TypedError::Several => format!("has more than one {prefix}[x]"),
            TypedError::Unsupported(s) => format!("{prefix}{s} is not supported"),
            TypedError::Malformed(s) => format!("{prefix}{s} is not a valid {}", type_name(s)),
        }
    }
}

fn type_name(suffix: &str) -> &'static str {
    match suffix {
        "Boolean" => "boolean",
        "Decimal" => "decimal",
        "Integer" => "integer",
        "Date" => "FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
        "DateTime" => "FHIR dateTime (a date, or YYYY-MM-DDThh:mm:ss with a time zone)",
        "Time" => "FHIR time (hh:mm:ss)",
        "String" => "non-empty string",
        "Coding" => "Coding with a code or display",
        "Quantity" => "Quantity with a numeric value",
        _ => "value",
    }
}

/// Finds the single `<prefix>[x]` member of `obj` and reads it.
pub(crate) fn typed_value(obj: &Map<String, Value>, prefix: &str) -> Result<AnswerValue, TypedError> {
    let mut found: Option<(&str, &Value)> = None;
    for (k, v) in obj {
        if let Some(rest) = k.strip_prefix(prefix) {
            if rest.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                if found.is_some() {
                    return Err(TypedError::Several);
                }
                found = Some((rest, v));
            }
        }
    }
    let (suffix, v) = found.ok_or(TypedError::Missing)?;
    read_typed(suffix, v)
}

/// Reads one value given its `[x]` suffix.
pub(crate) fn read_typed(suffix: &str, v: &Value) -> Result<AnswerValue, TypedError> {
    let bad = || TypedError::Malformed(suffix.to_string());
    Ok(match suffix {
        "Boolean" => AnswerValue::Boolean(v.as_bool().ok_or_else(bad)?),
        "Decimal" => AnswerValue::Decimal(finite(v).ok_or_else(bad)?),
        "Integer" => {
            let i = v.as_i64().ok_or_else(bad)?;
            // FHIR integer is 32-bit signed.
            if i32::try_from(i).is_err() {
                return Err(bad());
            }
            AnswerValue::Integer(i)
        }
        "Date" => AnswerValue::Date(string_if(v, is_date).ok_or_else(bad)?),
        "DateTime" => AnswerValue::DateTime(string_if(v, is_date_time).ok_or_else(bad)?),
        "Time" => AnswerValue::Time(string_if(v, is_time).ok_or_else(bad)?),
        "String" => AnswerValue::String(string_if(v, |s| !s.trim().is_empty()).ok_or_else(bad)?),
        "Coding" => AnswerValue::Coding(coding(v).ok_or_else(bad)?),
        "Quantity" => AnswerValue::Quantity(quantity(v).ok_or_else(bad)?),
        other => return Err(TypedError::Unsupported(other.to_string())),
    })
}

fn finite(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

fn string_if(v: &Value, ok: impl Fn(&str) -> bool) -> Option<String> {
    v.as_str().filter(|s| ok(s)).map(str::to_string)
}

fn opt_str(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ()> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// A Coding must have a code or a display; every present member must be a non-empty string.
pub(crate) fn coding(v: &Value) -> Option<Coding> {
    let m = v.as_object()?;
    let c = Coding {
        system: opt_str(m, "system").ok()?,
        code: opt_str(m, "code").ok()?,
        display: opt_str(m, "display").ok()?,
    };
    (c.code.is_some() || c.display.is_some()).then_some(c)
}

fn quantity(v: &Value) -> Option<Quantity> {
    let m = v.as_object()?;
    Some(Quantity {
        value: finite(m.get("value")?)?,
        unit: opt_str(m, "unit").ok()?,
        system: opt_str(m, "system").ok()?,
        code: opt_str(m, "code").ok()?,
    })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn num(s: &str) -> Option<u32> {
    if digits(s) {
        s.parse().ok()
    } else {
        None
    }
}

/// FHIR `date`: YYYY, YYYY-MM or YYYY-MM-DD, and a real calendar day.
pub fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.is_empty() || parts.len() > 3 || parts[0].len() != 4 || num(parts[0]).is_none() {
        return false;
    }
    let year = num(parts[0]).unwrap_or(0);
    if year == 0 {
        return false;
    }
    let Some(month_s) = parts.get(1) else {
        return true;
    };
    if month_s.len() != 2 {
        return false;
    }
    let Some(month) = num(month_s).and_then(|m| time::Month::try_from(m as u8).ok()) else {
        return false;
    };
    let Some(day_s) = parts.get(2) else {
        return true;
    };
    if day_s.len() != 2 {
        return false;
    }
    match num(day_s) {
        Some(d) => time::Date::from_calendar_date(year as i32, month, d as u8).is_ok(),
        None => false,
    }
}

/// FHIR `time`: hh:mm:ss with optional fraction.
pub fn is_time(s: &str) -> bool {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    if frac.is_some_and(|f| !digits(f)) {
        return false;
    }
    let p: Vec<&str> = main.split(':').collect();
    p.len() == 3
        && p.iter().all(|x| x.len() == 2)
        && num(p[0]).is_some_and(|h| h < 24)
        && num(p[1]).is_some_and(|m| m < 60)
        && num(p[2]).is_some_and(|sec| sec < 60)
}

fn is_zone(z: &str) -> bool {
    if z == "Z" {
        return true;
    }
    let Some(rest) = z.strip_prefix('+').or_else(|| z.strip_prefix('-')) else {
        return false;
    };
    let p: Vec<&str> = rest.split(':').collect();
    p.len() == 2
        && p.iter().all(|x| x.len() == 2)
        && num(p[0]).is_some_and(|h| h <= 14)
        && num(p[1]).is_some_and(|m| m < 60)
}

/// FHIR `dateTime`: a partial date, or a full date with a time to the second and a time zone.
pub fn is_date_time(s: &str) -> bool {
    match s.split_once('T') {
        None => is_date(s),
        Some((d, t)) => {
            if d.len() != 10 || !is_date(d) {
                return false;
            }
            let zone_at = t.find(['Z', '+', '-']);
            match zone_at {
                Some(i) => is_time(&t[..i]) && is_zone(&t[i..]),
                None => false,
            }
        }
    }
}

/// FHIR `instant`: a dateTime to the second with a time zone.
pub fn is_instant(s: &str) -> bool {
    s.contains('T') && is_date_time(s)
}

/// linkId → decodable answers, anywhere in the response (answers that failed type checks are already findings).
pub(crate) fn collect_answers(response: &Value) -> HashMap<String, Vec<AnswerValue>> {
    let mut out: HashMap<String, Vec<AnswerValue>> = HashMap::new();
    fn walk(items: &Value, out: &mut HashMap<String, Vec<AnswerValue>>, depth: usize) {
        let Some(arr) = items.as_array() else { return };
        if depth > 128 {
            return;
        }
        for it in arr {
            let Some(link) = it.get("linkId").and_then(Value::as_str) else {
                continue;
            };
            if let Some(answers) = it.get("answer").and_then(Value::as_array) {
                for a in answers {
                    if let Some(Ok(v)) = a.as_object().map(|m| typed_value(m, "value")) {
                        out.entry(link.to_string()).or_default().push(v);
                    }
                }
            }
            if let Some(children) = it.get("item") {
                walk(children, out, depth + 1);
            }
        }
    }
    if let Some(items) = response.get("item") {
        walk(items, &mut out, 0);
    }
    out
}
