//! A downtime MAR page back-entered dose by dose: each initialled dose the analyst reads from the page (medication,
//! dose, route, time, initials) becomes its own medication-administration QuestionnaireResponse for the patient the
//! page's QR code names, which then goes through the same checks and saving as any paper form.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::back_entry::BackEntryError;
use crate::forms::Form;
use crate::paper::Payload;

/// The short name of the form a MAR dose is entered as.
pub const DOSE_FORM: &str = "medication-administration";

/// One initialled dose as read from a MAR page's grid: the row gives the medication, dose and route, the column the
/// hour (the analyst writes the full time with the page's date), the cell the nurse's initials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dose {
    /// The medication as printed or written on the row (matched to the form's list when it is on it).
    pub medication: String,
    /// The dose with its unit, such as "2 mg".
    pub dose: String,
    /// The route as on the row ("Oral", "Subcutaneous", or the form's code).
    pub route: String,
    /// When it was given: RFC 3339 with its offset (the page's date and the hour column).
    pub time: String,
    /// The initials in the cell.
    pub initials: String,
    /// The nurse's printed name from the page's initials legend, when the analyst can read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Dose {
    /// Who the entry names as author: the printed name with the initials, or the initials alone.
    pub fn author(&self) -> String {
        match self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => format!("{name} ({})", self.initials.trim()),
            None => self.initials.trim().to_string(),
        }
    }
}

/// The form item `link_id` of `form`, from its source.
fn item<'a>(form: &'a Form, link_id: &str) -> Option<&'a Value> {
    fn find<'a>(items: &'a Value, link_id: &str) -> Option<&'a Value> {
        items.as_array()?.iter().find_map(|i| {
            if i.get("linkId").and_then(Value::as_str) == Some(link_id) {
                Some(i)
            } else {
                i.get("item").and_then(|sub| find(sub, link_id))
            }
        })
    }
    find(form.source.get("item")?, link_id)
}

/// The coding among `options` whose code or display is `text`, or whose display starts with it ("Oral" for "Oral
/// route"), ignoring case.
fn coding(options: impl Iterator<Item = Value>, text: &str) -> Option<Value> {
    let t = text.trim().to_lowercase();
    let mut codings: Vec<Value> = options.collect();
    let exact = codings.iter().position(|c| {
        let field = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_lowercase);
        field("code").as_deref() == Some(t.as_str()) || field("display").as_deref() == Some(t.as_str())
    });
    let found = exact.or_else(|| {
        codings.iter().position(|c| {
            c.get("display").and_then(Value::as_str).is_some_and(|d| d.to_lowercase().starts_with(&format!("{t} ")))
        })
    })?;
    Some(codings.swap_remove(found))
}

fn answer_options(form: &Form, link_id: &str) -> impl Iterator<Item = Value> {
    let options = item(form, link_id).and_then(|i| i.get("answerOption")).and_then(Value::as_array).cloned();
    options.unwrap_or_default().into_iter().filter_map(|o| o.get("valueCoding").cloned())
}

fn unit_options(form: &Form, link_id: &str) -> impl Iterator<Item = Value> {
    let ext = item(form, link_id).and_then(|i| i.get("extension")).and_then(Value::as_array).cloned();
    ext.unwrap_or_default().into_iter().filter_map(|e| {
        let unit_option = e.get("url").and_then(Value::as_str)
            == Some("http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption");
        if unit_option {
            e.get("valueCoding").cloned()
        } else {
            None
        }
    })
}

/// Builds the medication-administration response for dose `number` (1-based) of a MAR page. The answers are then
/// validated like any typed form; here only what cannot be put into the form at all is refused.
pub fn dose_response(form: &Form, page: &Payload, number: usize, dose: &Dose) -> Result<Value, BackEntryError> {
    let problem = |p: &str| BackEntryError::Dose { number, problem: p.to_string() };
    let (Some(system), Some(mrn)) = (&page.mrn_system, &page.mrn) else {
        return Err(BackEntryError::MarWithoutPatient);
    };
    if dose.initials.trim().is_empty() {
        return Err(problem(
            "the initials in the cell are required (a dose without initials was not charted as given)",
        ));
    }
    let medication = match coding(answer_options(form, "medication"), &dose.medication) {
        Some(c) => json!({ "valueCoding": c }),
        None if dose.medication.trim().is_empty() => return Err(problem("the medication is required")),
        None => json!({ "valueString": dose.medication.trim() }),
    };
    let text = dose.dose.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number_text, unit_text) = text.split_at(split);
    let value: f64 =
        number_text.parse().map_err(|_| problem("the dose needs a number and a unit, such as \"2 mg\""))?;
    let unit_text = unit_text.trim();
    if unit_text.is_empty() {
        return Err(problem("the dose needs a unit, such as \"2 mg\""));
    }
    let quantity = match coding(unit_options(form, "dose"), unit_text) {
        Some(c) => json!({
            "value": value,
            "unit": c.get("display").cloned().unwrap_or(json!(unit_text)),
            "system": c.get("system").cloned().unwrap_or(Value::Null),
            "code": c.get("code").cloned().unwrap_or(Value::Null),
        }),
        None => json!({ "value": value, "unit": unit_text }),
    };
    let route = coding(answer_options(form, "route"), &dose.route)
        .ok_or_else(|| problem("the route is not one of the form's routes (oral, intravenous, subcutaneous…)"))?;
    let outcome = answer_options(form, "outcome")
        .find(|c| c.get("code").and_then(Value::as_str) == Some("completed"))
        .ok_or_else(|| problem("the form has no \"given\" outcome"))?;
    Ok(json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form.canonical(),
        "status": "completed",
        "subject": { "identifier": { "system": system, "value": mrn } },
        "authored": dose.time.trim(),
        "item": [
            { "linkId": "medication", "answer": [medication] },
            { "linkId": "dose", "answer": [{ "valueQuantity": quantity }] },
            { "linkId": "route", "answer": [{ "valueCoding": route }] },
            { "linkId": "time-given", "answer": [{ "valueDateTime": dose.time.trim() }] },
            { "linkId": "outcome", "answer": [{ "valueCoding": outcome }] },
        ]
    }))
}
