//! What a Questionnaire item declares about its answers: the options offered, initial values, enableWhen
//! conditions, and whether its clinical rules fit its type. Each is checked on its own, so these are plain
//! functions over the item's JSON that report through the [`Loader`].

use serde_json::{Map, Value};

use super::model::*;
use super::problem::Loader;
use super::value::typed_value;
use super::value_set::ValueSetSources;

pub(crate) fn check_rules(
    loader: &mut Loader,
    rules: &[ClinicalRule],
    kind: ItemType,
    units: &[Coding],
    link: Option<&str>,
) {
    for r in rules {
        match r {
            ClinicalRule::Dose => {
                if kind != ItemType::Quantity {
                    loader.problem(link, "the dose rule needs a quantity item (a number and a unit, never free text)");
                } else if units.is_empty() {
                    loader.problem(link, "the dose rule needs a unit list (questionnaire-unitOption)");
                } else if units.iter().any(|u| u.system.as_deref() != Some(UCUM)) {
                    loader.problem(link, "dose units must be UCUM codes (system http://unitsofmeasure.org)");
                }
            }
            ClinicalRule::NoUnsafeAbbreviations => {
                if !matches!(kind, ItemType::String | ItemType::Text | ItemType::OpenChoice) {
                    loader.problem(link, "no-unsafe-abbreviations applies to string, text and open-choice items");
                }
            }
            ClinicalRule::VerbalOrderReadback => {
                if kind != ItemType::Choice {
                    loader.problem(link, "verbal-order-readback belongs on the order-mode choice item");
                }
            }
            ClinicalRule::Prescriber => {
                if !matches!(kind, ItemType::String | ItemType::Choice | ItemType::OpenChoice) {
                    loader.problem(link, "the prescriber rule needs a string, choice or open-choice item");
                }
            }
            ClinicalRule::ReadBack => {
                if kind != ItemType::Boolean {
                    loader.problem(link, "the read-back rule needs a boolean item");
                }
            }
            ClinicalRule::Medication => {
                if !matches!(kind, ItemType::String | ItemType::Choice | ItemType::OpenChoice) {
                    loader.problem(link, "the medication rule needs a string, choice or open-choice item");
                }
            }
        }
    }
}

/// The options an item offers: its `answerOption`, or the concepts of its `answerValueSet` (see `value_set.rs`).
/// For a ValueSet, also the options as `answerOption` JSON, which the loader writes into the form's source so the
/// screen renders them exactly like listed options.
pub(crate) fn answer_options(
    loader: &mut Loader,
    obj: &Map<String, Value>,
    kind: ItemType,
    sources: &ValueSetSources<'_>,
    link: Option<&str>,
) -> (Vec<AnswerOption>, Option<Vec<Value>>) {
    if let Some(reference) = obj.get("answerValueSet") {
        return value_set_options(loader, obj, kind, reference, sources, link);
    }
    (listed_options(loader, obj, kind, link), None)
}

/// The score of an option from its `ordinalValue` or `itemWeight` extension (a number), if it has one.
fn weight<'v>(loader: &mut Loader, exts: impl Iterator<Item = &'v Value>, link: Option<&str>) -> Option<f64> {
    let mut out = None;
    for e in exts {
        let url = e.get("url").and_then(Value::as_str).unwrap_or_default();
        if url != EXT_ORDINAL_VALUE && url != EXT_ITEM_WEIGHT {
            continue;
        }
        match e.get("valueDecimal").or_else(|| e.get("valueInteger")).and_then(Value::as_f64) {
            Some(w) if w.is_finite() => out = Some(w),
            _ => loader.problem(link, "an option's ordinalValue or itemWeight needs valueDecimal (a number)"),
        }
    }
    out
}

/// Only choice and open-choice items offer answers to pick from (`element` names what the form used).
fn offers_options(loader: &mut Loader, kind: ItemType, element: &str, link: Option<&str>) -> bool {
    let offers = matches!(kind, ItemType::Choice | ItemType::OpenChoice);
    if !offers {
        loader
            .problem(link, format!("{element} is not allowed on {} items (only choice and open-choice)", kind.code()));
    }
    offers
}

fn value_set_options(
    loader: &mut Loader,
    obj: &Map<String, Value>,
    kind: ItemType,
    reference: &Value,
    sources: &ValueSetSources<'_>,
    link: Option<&str>,
) -> (Vec<AnswerOption>, Option<Vec<Value>>) {
    let none = (Vec::new(), None);
    if obj.contains_key("answerOption") {
        loader.problem(link, "an item cannot have both answerValueSet and answerOption");
        return none;
    }
    if !offers_options(loader, kind, "answerValueSet", link) {
        return none;
    }
    let Some(reference) = reference.as_str() else {
        loader.problem(link, "answerValueSet must be a string (a canonical url or #id)");
        return none;
    };
    match sources.concepts(reference) {
        Ok(concepts) => {
            let json = concepts
                .iter()
                .map(|c| {
                    let mut o = Map::new();
                    o.insert("valueCoding".into(), c.coding.to_json());
                    if !c.extensions.is_empty() {
                        o.insert("extension".into(), Value::Array(c.extensions.clone()));
                    }
                    Value::Object(o)
                })
                .collect();
            let mut options = Vec::new();
            for c in concepts {
                let weight = weight(loader, c.extensions.iter(), link);
                options.push(AnswerOption { value: AnswerValue::Coding(c.coding), initial_selected: false, weight });
            }
            (options, Some(json))
        }
        Err(why) => {
            loader.problem(link, why);
            none
        }
    }
}

fn listed_options(
    loader: &mut Loader,
    obj: &Map<String, Value>,
    kind: ItemType,
    link: Option<&str>,
) -> Vec<AnswerOption> {
    let mut out = Vec::new();
    let arr = match obj.get("answerOption") {
        None => {
            if kind == ItemType::Choice {
                loader.problem(link, "choice item has no answerOption or answerValueSet");
            }
            return out;
        }
        Some(Value::Array(a)) => a,
        Some(_) => {
            loader.problem(link, "answerOption must be an array");
            return out;
        }
    };
    if !offers_options(loader, kind, "answerOption", link) {
        return out;
    }
    for o in arr {
        let Some(m) = o.as_object() else {
            loader.problem(link, "answerOption must be an object");
            continue;
        };
        match typed_value(m, "value") {
            Ok(v) => {
                if !matches!(
                    v,
                    AnswerValue::Coding(_)
                        | AnswerValue::String(_)
                        | AnswerValue::Integer(_)
                        | AnswerValue::Date(_)
                        | AnswerValue::Time(_)
                ) {
                    loader.problem(
                        link,
                        format!("answerOption value{} does not match a {} item", v.suffix(), kind.code()),
                    );
                    continue;
                }
                let initial_selected = m.get("initialSelected").and_then(Value::as_bool).unwrap_or(false);
                let own = m.get("extension").and_then(Value::as_array).into_iter().flatten();
                let on_coding = m.get("valueCoding").and_then(|c| c.get("extension")).and_then(Value::as_array);
                let weight = weight(loader, own.chain(on_coding.into_iter().flatten()), link);
                out.push(AnswerOption { value: v, initial_selected, weight });
            }
            Err(e) => loader.problem(link, format!("answerOption {}", e.describe("value"))),
        }
    }
    if let Some(first) = out.first() {
        let s = first.value.suffix();
        if let Some(other) = out.iter().find(|o| o.value.suffix() != s) {
            loader.problem(
                link,
                format!("answerOption value types are mixed (value{s} and value{})", other.value.suffix()),
            );
        }
    }
    out
}

pub(crate) fn initial(
    loader: &mut Loader,
    obj: &Map<String, Value>,
    kind: ItemType,
    repeats: bool,
    options: &[AnswerOption],
    link: Option<&str>,
) -> Vec<AnswerValue> {
    let Some(v) = obj.get("initial") else {
        return Vec::new();
    };
    let Some(arr) = v.as_array() else {
        loader.problem(link, "initial must be an array");
        return Vec::new();
    };
    if !kind.is_question() {
        loader.problem(link, "initial is not allowed on group and display items");
        return Vec::new();
    }
    if arr.len() > 1 && !repeats {
        loader.problem(link, "more than one initial value on an item that does not repeat");
    }
    // An answerValueSet that could not be read has already been reported naming the ValueSet; its initial values
    // cannot be checked against options nobody has, and "not one of the answerOptions" would blame the form twice.
    let unresolved = options.is_empty() && obj.contains_key("answerValueSet");
    let mut out = Vec::new();
    for i in arr {
        let Some(m) = i.as_object() else {
            loader.problem(link, "initial must be an object");
            continue;
        };
        match typed_value(m, "value") {
            Ok(val) => {
                if !answer_matches_kind(&val, kind, options) {
                    loader.problem(
                        link,
                        format!("initial value{} does not match the item type {}", val.suffix(), kind.code()),
                    );
                } else if kind == ItemType::Choice
                    && !unresolved
                    && !options.iter().any(|o| option_matches(&o.value, &val))
                {
                    loader.problem(link, "initial value is not one of the answerOptions");
                } else {
                    out.push(val);
                }
            }
            Err(e) => loader.problem(link, format!("initial {}", e.describe("value"))),
        }
    }
    out
}

pub(crate) fn enable_when(loader: &mut Loader, obj: &Map<String, Value>, link: Option<&str>) -> Vec<EnableWhen> {
    let Some(v) = obj.get("enableWhen") else {
        return Vec::new();
    };
    let Some(arr) = v.as_array() else {
        loader.problem(link, "enableWhen must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in arr {
        let Some(m) = e.as_object() else {
            loader.problem(link, "enableWhen must be an object");
            continue;
        };
        let question = m.get("question").and_then(Value::as_str);
        let op = m.get("operator").and_then(Value::as_str).and_then(Operator::from_code);
        let answer = typed_value(m, "answer");
        match (question, op, answer) {
            (None, _, _) => loader.problem(link, "enableWhen without question"),
            (_, None, _) => loader.problem(link, "enableWhen operator must be one of exists, =, !=, >, <, >=, <="),
            (_, _, Err(e)) => loader.problem(link, format!("enableWhen {}", e.describe("answer"))),
            (Some(q), Some(op), Ok(answer)) => {
                if op == Operator::Exists && !matches!(answer, AnswerValue::Boolean(_)) {
                    loader.problem(link, "enableWhen with operator 'exists' needs answerBoolean");
                } else {
                    out.push(EnableWhen { question: q.to_string(), operator: op, answer });
                }
            }
        }
    }
    out
}
