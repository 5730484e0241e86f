//! Text hygiene for responses: Unicode NFC normalisation and refusal of control and bidirectional-override characters.
//!
//! Normalising once, here, means the vault, duplicate detection and the printer all see the same bytes for the same
//! words; refusing bidi overrides stops text that displays differently from what is stored (a "Trojan Source" MRN).

use serde_json::Value;
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
    let mut out = response.clone();
    walk(form, &mut out, None, false, 0, &mut findings);
    (out, findings)
}

/// Normalises in place: only a string that is not NFC already is rebuilt, and no object is rebuilt (a copy key by
/// key re-hashed every key of the response, and every save normalised it; issue 19).
fn walk(form: &Form, v: &mut Value, link: Option<&str>, multiline: bool, depth: usize, findings: &mut Vec<Finding>) {
    if depth > WALK_LIMIT {
        push(findings, link, "is nested too deeply");
        *v = Value::Null;
        return;
    }
    match v {
        Value::String(s) => clean(s, link, multiline, findings),
        Value::Array(a) => {
            for x in a {
                walk(form, x, link, multiline, depth + 1, findings);
            }
        }
        Value::Object(m) => {
            // An object with a linkId is a response item: strings below it are reported against that linkId (as it
            // was given, before its own normalisation).
            let own = m.get("linkId").and_then(Value::as_str).map(str::to_string);
            let link = own.as_deref().or(link);
            let is_text_item = link.and_then(|l| form.item(l)).is_some_and(|i| i.kind == ItemType::Text);
            for (k, x) in m.iter_mut() {
                let ml = is_text_item && k == "valueString";
                walk(form, x, link, ml, depth + 1, findings);
            }
        }
        _ => {}
    }
}

fn clean(s: &mut String, link: Option<&str>, multiline: bool, findings: &mut Vec<Finding>) {
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    // ASCII, most of what a nurse types, is NFC and holds no bidirectional control: only its controls are looked for.
    if s.is_ascii() {
        if s.chars().any(|c| is_control(c) && !allowed(c)) {
            push(findings, link, MSG_CONTROL);
        }
        return;
    }
    if s.chars().any(|c| is_control(c) && !allowed(c)) {
        push(findings, link, MSG_CONTROL);
    }
    if s.chars().any(is_bidi_control) {
        push(findings, link, MSG_BIDI);
    }
    if unicode_normalization::is_nfc_quick(s.chars()) != unicode_normalization::IsNormalized::Yes {
        *s = s.nfc().collect();
    }
}

fn push(findings: &mut Vec<Finding>, link: Option<&str>, message: &str) {
    let f = Finding { link_id: link.map(str::to_string), severity: Severity::Error, message: message.to_string() };
    if !findings.contains(&f) {
        findings.push(f);
    }
}
