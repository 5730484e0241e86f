//! The FHIRPath contract: every case of `tests/contract/fhirpath.json` evaluated with the core's engine
//! (`dtk::forms::evaluate_fhirpath`) must give the expected collection. The UI runs the same file against
//! fhirpath.js (HL7's reference engine, which the form screen uses, with SDC's `answers()` added:
//! ui/src/lib/forms/fhirpath.test.ts, where a case named for a departure must still differ), so the screen and the
//! core compute the same calculated answers and enable the same items.
//!
//! The file is a JSON array of cases, each:
//!
//! ```text
//! { "name": "what the case shows",
//!   "resource": { QuestionnaireResponse: %resource, and the expression's input },
//!   "questionnaire": { optional: %questionnaire, also what ordinal()/weight() read },
//!   "patient": { optional: %patient }, "user": { optional: %user },
//!   "variables": { optional: name → value, each %name; an array is a collection },
//!   "expression": "the FHIRPath expression",
//!   "expected": [ the result collection as JSON ] }
//! ```
//!
//! Each `expected` was produced with fhirpath.js 5.2.2 (`fp.evaluate(resource, expression, {resource,
//! questionnaire, patient, user, ...variables}, r4)`) and checked against the FHIRPath and SDC specifications;
//! where fhirpath.js and the spec disagree the case's name says so (it contains "fhirpath.js") and `expected`
//! follows the spec. Numbers compare by value (fhirpath.js writes 70 for a decimal 70.0). `today()` and `now()`
//! are only asked whether they exist, so the file does not depend on the day.

use serde_json::Value;

const CONTRACT: &str = include_str!("../contract/fhirpath.json");

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn the_core_engine_gives_every_expected_result_of_the_contract() {
    let cases: Vec<Value> = serde_json::from_str(CONTRACT).expect("the contract is a JSON array");
    assert!(cases.len() > 100, "the contract covers the subset and the corpus");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("each case has a name");
        let expression = case["expression"].as_str().expect("each case has an expression");
        let variables = case
            .get("variables")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
            .unwrap_or_default();
        let input = dtk::forms::FhirPathInput {
            resource: case.get("resource"),
            questionnaire: case.get("questionnaire"),
            patient: case.get("patient"),
            user: case.get("user"),
            variables,
            clock: Some(("2026-12-07".into(), "2026-12-07T10:00:00Z".into())),
        };
        match dtk::forms::evaluate_fhirpath(expression, &input) {
            Ok(got) if same(&got, &case["expected"]) => {}
            Ok(got) => failures.push(format!("{name}: {expression} gave {got}, expected {}", case["expected"])),
            Err(e) => failures.push(format!("{name}: {expression} failed: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Every prefix and suffix of every expression of the contract, evaluated on every case's resource, gives a result
/// or an error, never a panic: a form file is outside input.
#[test]
fn broken_expressions_are_refused_never_a_panic() {
    let cases: Vec<Value> = serde_json::from_str(CONTRACT).expect("the contract is a JSON array");
    let resources: Vec<&Value> = cases.iter().map(|c| &c["resource"]).collect();
    for case in &cases {
        let expression = case["expression"].as_str().expect("expression");
        let chars: Vec<char> = expression.chars().collect();
        let input = dtk::forms::FhirPathInput {
            resource: resources.get(chars.len() % resources.len()).copied(),
            questionnaire: case.get("questionnaire"),
            ..Default::default()
        };
        for cut in 0..chars.len() {
            let head: String = chars[..cut].iter().collect();
            let tail: String = chars[cut..].iter().collect();
            let _ = dtk::forms::evaluate_fhirpath(&head, &input);
            let _ = dtk::forms::evaluate_fhirpath(&tail, &input);
        }
    }
}
