//! The loader takes valid FHIR that real forms use (issue 18 item 3): each case is a public form of the corpus
//! (`tests/data/forms-public/`) or a minimal form built like one, checked with `dtk forms check` as an author would,
//! then answered and extracted to show it means what its author meant. Where a form uses something the engine cannot
//! honour, the refusal names the feature.

use std::path::PathBuf;

use dtk::forms::{self, ExtractContext, Form};
use serde_json::{json, Value};

use crate::support::*;

fn corpus(source: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/forms-public").join(source).join(file)
}

/// `dtk forms check FILE`: (exit code, stdout and stderr).
fn check(path: &std::path::Path) -> (Option<i32>, String) {
    let out = dtk_cmd().args(["forms", "check"]).arg(path).output().expect("run dtk");
    (out.status.code(), format!("{}{}", stdout(&out), stderr(&out)))
}

fn load(v: &Value) -> Result<Form, Vec<String>> {
    forms::parse_form("t.json", &serde_json::to_vec(v).expect("json"))
        .map_err(|p| p.iter().map(ToString::to_string).collect())
}

fn context() -> ExtractContext<'static> {
    ExtractContext {
        entry_id: "0b6f3c1e-2d4a-4e8b-9c71-5a3d2e1f0a9b",
        subject: json!({"reference": "Patient?identifier=http://hospital.example.org/mrn|DEV0001"}),
        encounter: None,
        author: Some(json!({"display": "Synthetic Nurse, RN"})),
        recorded: "2026-11-21T10:42:05-05:00",
        clinical_time: Some("2026-11-21T10:30:00-05:00"),
    }
}

fn mm_hg(link: &str, value: i64) -> Value {
    json!({"linkId": link, "answer": [{"valueQuantity":
        {"value": value, "unit": "millimeter of mercury", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]})
}

/// LHC-Forms' blood pressure form marks systolic and diastolic `observationExtract` = `component` (SDC 4.0) under a
/// questionnaire coded 8532-0: one blood-pressure Observation with two components, as vital signs are recorded.
#[test]
fn forms_loader_observation_extract_component_gives_one_observation_with_components() {
    let path = corpus("lhc-forms", "blood-pressure-q.json");
    let (code, text) = check(&path);
    assert_eq!(code, Some(0), "{text}");

    let form = forms::load_file(&path).expect("loads");
    let r = form_response(&form, json!([mm_hg("202279616184", 128), mm_hg("334437031553", 84)]));
    let out = forms::extract(&form, &r, &context()).expect("extract");
    assert_eq!(out.len(), 1, "one Observation, not one per answer: {out:#?}");
    let obs = &out[0];
    assert_eq!(obs["resourceType"], "Observation");
    assert_eq!(obs["code"]["coding"][0]["code"], "8532-0");
    assert_eq!(obs["effectiveDateTime"], "2026-11-21T10:30:00-05:00");
    assert!(obs.get("valueQuantity").is_none(), "the panel itself has no value");
    let components = obs["component"].as_array().expect("components");
    let got: Vec<(&str, &Value)> = components
        .iter()
        .map(|c| (c["code"]["coding"][0]["code"].as_str().expect("code"), &c["valueQuantity"]["value"]))
        .collect();
    assert_eq!(got, vec![("8478-0", &json!(128)), ("8462-7", &json!(84))]);
    assert_eq!(components[0]["valueQuantity"]["code"], "mm[Hg]");
    assert_eq!(schema_errors(&out), Vec::<String>::new(), "a valid R4 Observation");
}

/// `member` and `derived` would need references between the extracted resources; the refusal names the code.
#[test]
fn forms_loader_observation_extract_member_is_refused_naming_it() {
    let (code, text) = check(&corpus("lhc-forms", "blood-count-panel-q.json"));
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("observationExtract 'member' is not supported"), "{text}");
    assert!(!text.contains("needs valueBoolean"), "{text}");
}

/// A component needs the code of the Observation it belongs to, on its group (or on the questionnaire).
#[test]
fn forms_loader_component_without_a_coded_parent_is_refused() {
    let form = |group_code: Value| {
        json!({
            "resourceType": "Questionnaire", "status": "active",
            "item": [{"linkId": "bp", "type": "group", "text": "Blood pressure", "code": group_code, "item": [
                {"linkId": "sys", "type": "integer", "text": "Systolic",
                 "code": [{"system": "http://loinc.org", "code": "8480-6"}],
                 "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract",
                                "valueCode": "component"}]}
            ]}]
        })
    };
    let problems = load(&form(json!([]))).expect_err("no code on the group");
    assert!(problems.iter().any(|p| p.contains("linkId 'sys'") && p.contains("needs a code on the enclosing group")));

    let coded = load(&form(json!([{"system": "http://loinc.org", "code": "85354-9"}]))).expect("coded group loads");
    let r = form_response(
        &coded,
        json!([{"linkId": "bp", "item": [{"linkId": "sys", "answer": [{"valueInteger": 131}]}]}]),
    );
    let out = forms::extract(&coded, &r, &context()).expect("extract");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["code"]["coding"][0]["code"], "85354-9");
    assert_eq!(out[0]["code"]["text"], "Blood pressure");
    assert_eq!(out[0]["component"][0]["valueInteger"], 131);
}

/// The SDC initial-value test form names a ValueSet only a terminology server has: the one reason given is that
/// ValueSet, not also "initial value is not one of the answerOptions" for options nobody could read.
#[test]
fn forms_loader_unreadable_value_set_is_the_only_reason_for_its_initial_value() {
    let (code, text) = check(&corpus("sdc", "questionnaire-sdc-test-initial-value.json"));
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("answerValueSet 'http://sqlonfhir-r4.azurewebsites.net/fhir/ValueSet/a015b6a1"), "{text}");
    assert!(text.contains("no terminology server"), "{text}");
    assert!(!text.contains("not one of the answerOptions"), "{text}");
}

/// FHIR JSON carries a primitive's extensions as `_<element>`: HTML, markdown or a translation of the title or of an
/// item's text says the same as the plain text, which the form shows and prints; an extension that would change the
/// text (a `cqf-expression`) is refused naming it.
#[test]
fn forms_loader_presentation_extensions_on_primitives_load_and_others_are_named() {
    let form = |text_extension: Value| {
        json!({
            "resourceType": "Questionnaire", "status": "active", "title": "Falls screen",
            "_title": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/rendering-style", "valueString": "color: green"}]},
            "item": [{"linkId": "fell", "type": "boolean", "text": "Fall in the last 3 months?",
                      "_text": {"extension": [text_extension]}}]
        })
    };
    let xhtml = json!({"url": "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
                       "valueString": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Fall</b> in the last 3 months?</div>"});
    let loaded = load(&form(xhtml)).expect("presentation extensions load");
    assert_eq!(loaded.item("fell").and_then(|i| i.text.as_deref()), Some("Fall in the last 3 months?"));

    let computed = json!({"url": "http://hl7.org/fhir/StructureDefinition/cqf-expression",
                          "valueExpression": {"language": "text/fhirpath", "expression": "'Falls for ' + %patient.name.first().given.first()"}});
    let problems = load(&form(computed)).expect_err("a computed text is refused");
    assert_eq!(
        problems,
        vec!["t.json: linkId 'fell': extension 'cqf-expression' on _text is not supported".to_string()]
    );
}
