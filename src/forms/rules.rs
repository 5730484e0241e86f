//! Clinical rules that any form can declare on its items (clinical-rule extension): dose, do-not-use
//! abbreviations, and verbal/telephone order read-back.
//!
//! Rules are keyed on the extension, never on a form's url or linkIds, so a hospital's own medication form gets the
//! same protection as the bundled one by declaring the same codes.

use serde_json::Value;

use super::model::{is_verbal_or_telephone, AnswerValue, ClinicalRule, Finding, Form, Severity};
use super::value::collect_answers;

pub(crate) const MSG_NEEDS_PRESCRIBER: &str = "a verbal or telephone order needs the prescriber's name";
pub(crate) const MSG_NEEDS_READBACK: &str =
    "a verbal or telephone order needs read-back confirmation (read back and confirmed: yes)";
pub(crate) const MSG_DOSE_POSITIVE: &str = "dose must be greater than zero";

/// Joint Commission "do not use" list: (abbreviation as matched, lower case without dots; message).
const DO_NOT_USE: &[(&str, &str)] = &[
    ("u", "'U' is on the do-not-use list: write 'units'"),
    ("iu", "'IU' is on the do-not-use list: write 'international units'"),
    ("qd", "'QD' is on the do-not-use list: write 'daily'"),
    ("qod", "'QOD' is on the do-not-use list: write 'every other day'"),
    ("ms", "'MS' is on the do-not-use list: write 'morphine sulfate' or 'magnesium sulfate'"),
    ("mso4", "'MSO4' is on the do-not-use list: write 'morphine sulfate'"),
    ("mgso4", "'MgSO4' is on the do-not-use list: write 'magnesium sulfate'"),
];
pub(crate) const MSG_TRAILING_ZERO: &str = "a trailing zero is on the do-not-use list: write '5 mg', never '5.0 mg'";
pub(crate) const MSG_NAKED_DECIMAL: &str =
    "a decimal point without a leading zero is on the do-not-use list: write '0.5 mg', never '.5 mg'";

/// Messages for every do-not-use abbreviation in `text`, in order of first appearance, each once.
///
/// Matching is per token (a run of letters, digits and dots), case-insensitive, with dots ignored ("q.d." is QD) and
/// a leading number split off ("10U" is 10 + U), so "units", "mg" or "QID" never match.
pub fn unsafe_abbreviations(text: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut add = |m: &'static str| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    for token in text.split(|c: char| !(c.is_alphanumeric() || c == '.')) {
        if token.is_empty() {
            continue;
        }
        let chars: Vec<char> = token.chars().collect();
        // Numbers inside the token: naked decimals and trailing zeros.
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '.'
                && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                && (i == 0 || !chars[i - 1].is_ascii_digit())
            {
                add(MSG_NAKED_DECIMAL);
            }
            if chars[i].is_ascii_digit() {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                    let frac_start = i;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    if chars[frac_start..i].last() == Some(&'0') {
                        add(MSG_TRAILING_ZERO);
                    }
                }
                let _ = start;
                continue;
            }
            i += 1;
        }
        // The word after any leading number, dots removed.
        let word: String = token
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
            .chars()
            .filter(|c| *c != '.')
            .flat_map(char::to_lowercase)
            .collect();
        if let Some((_, m)) = DO_NOT_USE.iter().find(|(a, _)| *a == word) {
            add(m);
        }
    }
    out
}

/// Applies every declared rule to a structurally checked, normalised response.
/// A rule finding is not added where the item already has an error (one clear message per field).
pub(crate) fn check(form: &Form, response: &Value, findings: &mut Vec<Finding>) {
    let answers = collect_answers(response);
    let get = |link: &str| answers.get(link).map(Vec::as_slice).unwrap_or(&[]);
    let mut new = Vec::new();
    let mut add = |link: &str, message: &str| {
        new.push(Finding { link_id: Some(link.to_string()), severity: Severity::Error, message: message.to_string() })
    };
    let all = form.all_items();
    for item in &all {
        let link = item.link_id.as_str();
        for rule in &item.rules {
            match rule {
                ClinicalRule::Dose => {
                    for a in get(link) {
                        if let AnswerValue::Quantity(q) = a {
                            if q.value <= 0.0 {
                                add(link, MSG_DOSE_POSITIVE);
                            }
                            for m in unsafe_abbreviations(q.unit.as_deref().unwrap_or("")) {
                                add(link, m);
                            }
                        }
                    }
                }
                ClinicalRule::NoUnsafeAbbreviations => {
                    for a in get(link) {
                        let text = match a {
                            AnswerValue::String(s) => s.as_str(),
                            AnswerValue::Coding(c) => c.display.as_deref().unwrap_or(""),
                            _ => "",
                        };
                        for m in unsafe_abbreviations(text) {
                            add(link, m);
                        }
                    }
                }
                ClinicalRule::VerbalOrderReadback => {
                    let verbal = get(link).iter().any(|a| match a {
                        AnswerValue::Coding(c) => is_verbal_or_telephone(c),
                        _ => false,
                    });
                    if !verbal {
                        continue;
                    }
                    for p in all.iter().filter(|i| i.has_rule(ClinicalRule::Prescriber)) {
                        let named = get(&p.link_id).iter().any(|a| !a.as_text().trim().is_empty());
                        if !named {
                            add(&p.link_id, MSG_NEEDS_PRESCRIBER);
                        }
                    }
                    for r in all.iter().filter(|i| i.has_rule(ClinicalRule::ReadBack)) {
                        let confirmed = get(&r.link_id).contains(&AnswerValue::Boolean(true));
                        if !confirmed {
                            add(&r.link_id, MSG_NEEDS_READBACK);
                        }
                    }
                }
                ClinicalRule::Prescriber | ClinicalRule::ReadBack | ClinicalRule::Medication => {}
            }
        }
    }
    for f in new {
        let already = findings.iter().any(|x| x.link_id == f.link_id && x.severity == Severity::Error);
        if !already && !findings.contains(&f) {
            findings.push(f);
        }
    }
}
