//! Text hygiene for responses: Unicode NFC normalisation and refusal of control and bidirectional-override characters.
//!
//! Normalising once, here, means the vault, duplicate detection and the printer all see the same bytes for the same
//! words; refusing bidi overrides stops text that displays differently from what is stored (a "Trojan Source" MRN).

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use super::model::{Finding, Form, ItemType, Severity};

/// Deepest nesting walked; a response from `parse_response` is far shallower, this guards hand-built values.
const WALK_LIMIT: usize = 256;

pub(crate) const MSG_CONTROL: &str = "contains a control character";
pub(crate) const MSG_BIDI: &str = "contains a bidirectional override character";

/// C0 and C1 controls and DEL.
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Bidirectional embedding/override (U+202A–U+202E) and isolate (U+2066–U+2069) characters.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Returns an NFC copy of `response` and a finding for every string holding a forbidden character.
/// Newlines and tabs are allowed only in answers to `text` items (multi-line narrative).
pub(crate) fn normalise(form: &Form, response: &Value) -> (Value, Vec<Finding>) {
    let mut findings = Vec::new();
    let out = walk(form, response, None, false, 0, &mut findings);
    (out, findings)
}

fn walk(
    form: &Form,
    v: &Value,
    link: Option<&str>,
    multiline: bool,
    depth: usize,
    findings: &mut Vec<Finding>,
) -> Value {
    if depth > WALK_LIMIT {
        push(findings, link, "is nested too deeply");
        return Value::Null;
    }
    match v {
        Value::String(s) => Value::String(clean(s, link, multiline, findings)),
        Value::Array(a) => {
            Value::Array(a.iter().map(|x| walk(form, x, link, multiline, depth + 1, findings)).collect())
        }
        Value::Object(m) => {
            // An object with a linkId is a response item: strings below it are reported against that linkId.
            let own = m.get("linkId").and_then(Value::as_str);
            let link = own.or(link);
            let is_text_item = link.and_then(|l| form.item(l)).is_some_and(|i| i.kind == ItemType::Text);
            let mut out = Map::new();
            for (k, x) in m {
                let ml = is_text_item && k == "valueString";
                out.insert(k.clone(), walk(form, x, link, ml, depth + 1, findings));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn clean(s: &str, link: Option<&str>, multiline: bool, findings: &mut Vec<Finding>) -> String {
    if s.chars().any(|c| is_control(c) && !(multiline && (c == '\n' || c == '\t'))) {
        push(findings, link, MSG_CONTROL);
    }
    if s.chars().any(is_bidi_control) {
        push(findings, link, MSG_BIDI);
    }
    s.nfc().collect()
}

fn push(findings: &mut Vec<Finding>, link: Option<&str>, message: &str) {
    let f = Finding { link_id: link.map(str::to_string), severity: Severity::Error, message: message.to_string() };
    if !findings.contains(&f) {
        findings.push(f);
    }
}
