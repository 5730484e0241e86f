//! Issue 18 item 2, the FHIRPath side: forms with SDC expressions (`variable`, `calculatedExpression`,
//! `enableWhenExpression`, `initialExpression`) load, and the core computes what they say: a BMI form charted from
//! the CLI gets its BMI filled in, a wrong BMI is refused naming the item, an item hidden by its
//! enableWhenExpression refuses an answer like enableWhen does, and an expression outside the subset refuses the
//! form at load naming the item, the expression and what is outside.

use std::path::Path;

use dtk::forms;
use serde_json::{json, Value};

use crate::support::*;

const BMI_FORM: &str = "http://example.org/fhir/Questionnaire/bmi|1";
const CALCULATED: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
const ENABLE_WHEN: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression";
const INITIAL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";
const VARIABLE: &str = "http://hl7.org/fhir/StructureDefinition/variable";
const ANSWER: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression";

fn expression(url: &str, name: Option<&str>, text: &str) -> Value {
    let mut e = json!({"language": "text/fhirpath", "expression": text});
    if let Some(n) = name {
        e["name"] = json!(n);
    }
    json!({"url": url, "valueExpression": e})
}

/// The SDC BMI pattern (as Smart Forms' SimpleBMICalculator writes it): the group's variables read the height and
/// weight of its own response item, the read-only BMI is calculated from them.
fn bmi_form() -> Value {
    json!({
        "resourceType": "Questionnaire", "url": "http://example.org/fhir/Questionnaire/bmi", "version": "1",
        "status": "active", "title": "BMI",
        "item": [
            {"linkId": "measured", "type": "dateTime", "required": true, "text": "Measured at"},
            {"linkId": "bmi-calculation", "type": "group", "text": "BMI",
             "extension": [
                 expression(VARIABLE, Some("height"), "item.where(linkId='patient-height').answer.value"),
                 expression(VARIABLE, Some("weight"), "item.where(linkId='patient-weight').answer.value")
             ],
             "item": [
                 {"linkId": "patient-height", "type": "decimal", "text": "Height (cm)"},
                 {"linkId": "patient-weight", "type": "decimal", "text": "Weight (kg)"},
                 {"linkId": "bmi-result", "type": "decimal", "text": "BMI", "readOnly": true,
                  "extension": [expression(CALCULATED, None, "(%weight/((%height/100).power(2))).round(1)")]}
             ]}
        ]
    })
}

fn bmi_response(bmi: Option<f64>) -> Value {
    let mut group = vec![
        json!({"linkId": "patient-height", "answer": [{"valueDecimal": 175}]}),
        json!({"linkId": "patient-weight", "answer": [{"valueDecimal": 70}]}),
    ];
    if let Some(b) = bmi {
        group.push(json!({"linkId": "bmi-result", "answer": [{"valueDecimal": b}]}));
    }
    json!({
        "resourceType": "QuestionnaireResponse", "questionnaire": BMI_FORM, "status": "completed",
        "subject": {"identifier": {"system": "http://hospital.example.org/mrn", "value": "DEV2001"}},
        "item": [
            {"linkId": "measured", "answer": [{"valueDateTime": "2026-11-21T09:40:00-05:00"}]},
            {"linkId": "bmi-calculation", "item": group}
        ]
    })
}

fn load(v: &Value) -> Result<forms::Form, Vec<String>> {
    forms::parse_form("t.json", &serde_json::to_vec(v).expect("json"))
        .map_err(|p| p.iter().map(ToString::to_string).collect())
}

/// A forms folder holding the shipped forms and `extra` as `name`.
fn forms_folder(name: &str, extra: &Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("forms dir");
    copy_folder(&repo_root().join("forms"), dir.path());
    std::fs::write(dir.path().join(name), extra.to_string()).expect("drop the form in");
    dir
}

fn dtk_with(tv: &TestVault, forms: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = dtk_cmd();
    cmd.env("DTK_VAULT", tv.path()).args(["--forms", forms.to_str().expect("path")]).args(args);
    cmd.env("DTK_USER", NURSE.0).env("DTK_PASSWORD", NURSE.1);
    cmd.output().expect("dtk")
}

#[test]
fn a_bmi_form_charted_from_the_cli_gets_its_bmi_filled_in_and_a_wrong_bmi_is_refused() {
    let tv = TestVault::charting();
    let folder = forms_folder("bmi.json", &bmi_form());
    let files = tempfile::tempdir().expect("dir");
    let without = files.path().join("without.json");
    std::fs::write(&without, bmi_response(None).to_string()).expect("write");
    let out = dtk_with(&tv, folder.path(), &["entry", "add", "--response", without.to_str().expect("path"), "--sign"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let out = dtk_with(&tv, folder.path(), &["entry", "show", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let detail: Value = serde_json::from_str(&stdout(&out)).expect("entry show prints JSON");
    let group = &detail["versions"][0]["response"]["item"][1];
    assert_eq!(group["linkId"], "bmi-calculation");
    assert_eq!(
        group["item"][2],
        json!({"linkId": "bmi-result", "answer": [{"valueDecimal": 22.9}]}),
        "the core computed the BMI and stored it: {group}"
    );

    // The same BMI given by the screen is taken; a different one is refused, naming the item and both values.
    let right = files.path().join("right.json");
    std::fs::write(&right, bmi_response(Some(22.9)).to_string()).expect("write");
    let out = dtk_with(&tv, folder.path(), &["entry", "add", "--response", right.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let wrong = files.path().join("wrong.json");
    std::fs::write(&wrong, bmi_response(Some(25.0)).to_string()).expect("write");
    let out = dtk_with(&tv, folder.path(), &["entry", "add", "--response", wrong.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("PROBLEM bmi-result: calculated answer differs: the form computes 22.9, the response gives 25"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_item_hidden_by_its_enable_when_expression_refuses_an_answer_like_enable_when() {
    let form = load(&json!({
        "resourceType": "Questionnaire", "url": "http://example.org/q", "version": "1", "status": "active",
        "extension": [expression(VARIABLE, Some("n1"), "%resource.item.where(linkId='n1').answer.value")],
        "item": [
            {"linkId": "n1", "type": "integer"},
            {"linkId": "why", "type": "string", "required": true,
             "extension": [expression(ENABLE_WHEN, None, "%n1 > 5")]}
        ]
    }))
    .expect("loads");
    let response = |n1: i64, why: bool| {
        let mut items = vec![json!({"linkId": "n1", "answer": [{"valueInteger": n1}]})];
        if why {
            items.push(json!({"linkId": "why", "answer": [{"valueString": "because"}]}));
        }
        json!({"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/q|1",
               "status": "completed", "item": items})
    };
    let findings = |r: &Value| -> Vec<(Option<String>, String)> {
        forms::validate_response(&form, r).findings.into_iter().map(|f| (f.link_id, f.message)).collect()
    };
    let disabled = "answered, but the question is disabled by its enableWhenExpression".to_string();
    assert_eq!(findings(&response(2, true)), vec![(Some("why".into()), disabled)]);
    assert_eq!(findings(&response(2, false)), vec![], "hidden, so not required");
    assert_eq!(findings(&response(6, false)), vec![(Some("why".into()), "required".into())], "shown and required");
    assert_eq!(findings(&response(6, true)), vec![]);
}

#[test]
fn an_expression_outside_the_subset_refuses_the_form_at_load_naming_the_item_the_expression_and_what() {
    let form = |ext: Value| {
        json!({
            "resourceType": "Questionnaire", "url": "http://example.org/q", "version": "1", "status": "active",
            "item": [{"linkId": "total", "type": "decimal", "extension": [ext]}]
        })
    };
    let cases = [
        (
            expression(CALCULATED, None, "%resource.item.answer.value.aggregate($this + $total, 0)"),
            "t.json: linkId 'total': calculatedExpression '%resource.item.answer.value.aggregate($this + $total, 0)' \
             is outside the FHIRPath subset: the function aggregate() is outside the subset",
        ),
        (
            expression(CALCULATED, None, "%score + 1"),
            "t.json: linkId 'total': calculatedExpression '%score + 1' reads %score, which is neither a variable in \
             scope nor %resource, %questionnaire, %context, %patient or %user",
        ),
        (
            expression(CALCULATED, None, "%patient.birthDate.toString().length()"),
            "t.json: linkId 'total': calculatedExpression '%patient.birthDate.toString().length()' uses %patient, \
             %user, today() or now(): the core computes it without them, so only initialExpression may",
        ),
    ];
    for (ext, expected) in cases {
        assert_eq!(load(&form(ext)), Err(vec![expected.to_string()]));
    }
    // initialExpression may read %patient: the screen evaluates it with the registration.
    assert!(load(&form(expression(INITIAL, None, "%patient.birthDate"))).is_ok());

    // The same refusal from `dtk forms check`.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("resolve.json");
    let bad = form(expression(CALCULATED, None, "%resource.item.answer.value.resolve().count()"));
    std::fs::write(&file, bad.to_string()).expect("write");
    let out = dtk_cmd().args(["forms", "check", file.to_str().expect("path")]).output().expect("dtk");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("linkId 'total': calculatedExpression '%resource.item.answer.value.resolve().count()' is outside the FHIRPath subset: the function resolve() is outside the subset"),
        "{text}"
    );
}

#[test]
fn an_answer_expression_that_filters_the_listed_options_refuses_an_option_it_leaves_out() {
    let route = |code: &str| json!({"valueCoding": {"system": "http://example.org/route", "code": code}});
    let form = load(&json!({
        "resourceType": "Questionnaire", "url": "http://example.org/q", "version": "1", "status": "active",
        "item": [
            {"linkId": "has-line", "type": "boolean"},
            {"linkId": "route", "type": "choice", "answerOption": [route("po"), route("iv")],
             "extension": [expression(ANSWER, None, "%questionnaire.item.where(linkId='route').answerOption.value\
                 .where(code != 'iv' or %resource.item.where(linkId='has-line').answer.value = true)")]}
        ]
    }))
    .expect("loads");
    let response = |line: bool, code: &str| {
        json!({"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/q|1", "status": "completed",
               "item": [{"linkId": "has-line", "answer": [{"valueBoolean": line}]},
                        {"linkId": "route", "answer": [route(code)]}]})
    };
    let findings = |r: &Value| -> Vec<(Option<String>, String)> {
        forms::validate_response(&form, r).findings.into_iter().map(|f| (f.link_id, f.message)).collect()
    };
    let refused = "not one of the answers its answerExpression allows".to_string();
    assert_eq!(findings(&response(false, "iv")), vec![(Some("route".into()), refused)], "no line, no IV");
    assert_eq!(findings(&response(false, "po")), vec![]);
    assert_eq!(findings(&response(true, "iv")), vec![]);
}
