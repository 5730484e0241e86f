//! Integration tests of the forms engine: the shipped forms, a test-only form, rejection tables, independent FHIR R4
//! validation of extracted resources (JSON schema + Medplum), snapshots and properties.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dtk::forms::{self, Catalog, ExtractContext, Form, Severity};
use expect_test::expect_file;

use crate::support::{edit_item, medplum_errors, schema_errors};
use proptest::prelude::*;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn forms_dir() -> PathBuf {
    root().join("forms")
}

fn data(rel: &str) -> PathBuf {
    root().join("tests/data/forms").join(rel)
}

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let (c, problems) = Catalog::load_dir(&forms_dir());
        assert!(problems.is_empty(), "shipped forms have problems: {problems:#?}");
        c
    })
}

fn form(name: &str) -> &'static Form {
    catalog()
        .get(&format!("http://downtimekit.example.org/fhir/Questionnaire/{name}"))
        .unwrap_or_else(|| panic!("form {name} not in forms/"))
}

fn wound_form() -> Form {
    forms::load_file(&data("test-wound-assessment.json")).unwrap_or_else(|p| panic!("test form does not load: {p:#?}"))
}

fn response(name: &str) -> Value {
    let bytes = std::fs::read(data(&format!("responses/{name}.json"))).expect("sample response readable");
    forms::parse_response(&bytes).expect("sample response parses")
}

const ENTRY: &str = "0b6f7c1e-3d2a-4f5b-9c8d-1e2f3a4b5c6d";

fn ctx() -> ExtractContext<'static> {
    ExtractContext {
        entry_id: ENTRY,
        subject: json!({"reference": "Patient?identifier=http://hospital.example.org/mrn|DEV2001"}),
        encounter: Some(json!({"reference": "urn:uuid:4f1c2b3a-9d8e-4c7b-a6f5-0e1d2c3b4a59"})),
        author: Some(
            json!({"reference": "urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "display": "Synthetic Nurse, RN"}),
        ),
        recorded: "2026-11-21T10:42:05-05:00",
        clinical_time: None,
    }
}

const SHIPPED: &[&str] =
    &["medication-administration", "medication-order", "nursing-note", "vital-signs", "downtime-registration"];

/// (linkId, message) of a finding, the part a user sees.
type Found = (Option<String>, String);

fn findings(form: &Form, r: &Value) -> Vec<Found> {
    forms::validate_response(form, r).findings.into_iter().map(|f| (f.link_id, f.message)).collect()
}

fn f(link: &str, msg: &str) -> Found {
    (Some(link.to_string()), msg.to_string())
}

fn remove_item(r: &mut Value, link: &str) {
    fn rm(items: &mut Value, link: &str) {
        if let Some(a) = items.as_array_mut() {
            a.retain(|it| it["linkId"] != link);
            for it in a.iter_mut() {
                if let Some(c) = it.get_mut("item") {
                    rm(c, link);
                }
            }
        }
    }
    rm(&mut r["item"], link);
}

fn set_answer(r: &mut Value, link: &str, answer: Value) {
    edit_item(r, link, |it| it["answer"] = json!([answer]));
}

// ---------------------------------------------------------------------------------------------------------------
// The shipped forms

#[test]
fn every_shipped_form_loads_with_no_problems_and_has_a_clinical_time() {
    let names: Vec<String> = std::fs::read_dir(forms_dir())
        .expect("forms/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(names.len(), SHIPPED.len(), "every shipped form is tested: {names:?}");
    for name in SHIPPED {
        let form = form(name);
        assert_eq!(form.canonical(), format!("http://downtimekit.example.org/fhir/Questionnaire/{name}|1.0.0"));
        assert_eq!(form.status, "active");
        let ct = form.clinical_time_item().and_then(|l| form.item(l)).expect("clinical-time item exists");
        assert!(matches!(form.clinical_time(), forms::ClinicalTime::Item { found_by: forms::FoundBy::Extension, .. }));
        assert_eq!(ct.kind, forms::ItemType::DateTime);
        assert!(ct.required);
    }
}

#[test]
fn sample_responses_validate_clean() {
    for name in SHIPPED.iter().chain(["test-wound-assessment"].iter()) {
        let form = if *name == "test-wound-assessment" { wound_form() } else { form(name).clone() };
        let checked = forms::validate_response(&form, &response(name));
        assert_eq!(checked.findings, vec![], "{name} sample should be clean");
        assert!(checked.is_valid());
    }
}

fn extracted(name: &str) -> Vec<Value> {
    let form = if name == "test-wound-assessment" { wound_form() } else { form(name).clone() };
    forms::extract(&form, &response(name), &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pretty(v: &[Value]) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s
}

#[test]
fn extraction_snapshot_medication_administration() {
    expect_file!["../data/forms/extracted/medication-administration.json"]
        .assert_eq(&pretty(&extracted("medication-administration")));
}

#[test]
fn extraction_snapshot_medication_order() {
    expect_file!["../data/forms/extracted/medication-order.json"].assert_eq(&pretty(&extracted("medication-order")));
}

#[test]
fn extraction_snapshot_nursing_note() {
    expect_file!["../data/forms/extracted/nursing-note.json"].assert_eq(&pretty(&extracted("nursing-note")));
}

#[test]
fn extraction_snapshot_vital_signs() {
    expect_file!["../data/forms/extracted/vital-signs.json"].assert_eq(&pretty(&extracted("vital-signs")));
}

#[test]
fn extraction_snapshot_downtime_registration() {
    expect_file!["../data/forms/extracted/downtime-registration.json"]
        .assert_eq(&pretty(&extracted("downtime-registration")));
}

#[test]
fn extraction_snapshot_test_only_wound_form() {
    expect_file!["../data/forms/extracted/test-wound-assessment.json"]
        .assert_eq(&pretty(&extracted("test-wound-assessment")));
}

#[test]
fn extraction_gives_the_resource_types_a_clinician_expects() {
    let types = |name: &str| {
        extracted(name).iter().map(|r| r["resourceType"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    assert_eq!(types("medication-administration"), ["MedicationAdministration"]);
    assert_eq!(types("medication-order"), ["MedicationRequest"]);
    assert_eq!(types("nursing-note"), ["DocumentReference"]);
    assert_eq!(types("vital-signs"), vec!["Observation"; 7]);
    assert_eq!(types("downtime-registration"), ["Patient", "Encounter"]);
    // Effective time is the clinical time, not the recorded time.
    for o in extracted("vital-signs") {
        assert_eq!(o["effectiveDateTime"], "2026-11-21T08:00:00-05:00");
        assert_eq!(o["issued"], "2026-11-21T10:42:05-05:00");
    }
    let ma = &extracted("medication-administration")[0];
    assert_eq!(ma["effectiveDateTime"], "2026-11-21T10:15:00-05:00");
    assert_eq!(
        ma["dosage"]["dose"],
        json!({"value": 2, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"})
    );
}

#[test]
fn extraction_is_deterministic_and_identifiers_depend_on_the_entry() {
    let a = extracted("vital-signs");
    let b = extracted("vital-signs");
    assert_eq!(a, b);
    let ids: Vec<&Value> = a.iter().map(|r| &r["identifier"][0]["value"]).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "one identifier per resource");
    let mut other = ctx();
    other.entry_id = "11111111-2222-4333-8444-555555555555";
    let c = forms::extract(form("vital-signs"), &response("vital-signs"), &other).expect("extracts");
    assert_ne!(a[0]["identifier"], c[0]["identifier"]);
    assert!(a.iter().all(|r| r.get("id").is_none()), "no ids: the exporter assigns fullUrls");
}

#[test]
fn extraction_refuses_an_invalid_response_and_a_bad_context() {
    let mut r = response("vital-signs");
    set_answer(&mut r, "heart-rate", json!({"valueInteger": 999}));
    assert_eq!(forms::extract(form("vital-signs"), &r, &ctx()), Err(forms::ExtractError::Invalid { errors: 1 }));
    let mut c = ctx();
    c.recorded = "2026-11-21";
    assert!(matches!(
        forms::extract(form("vital-signs"), &response("vital-signs"), &c),
        Err(forms::ExtractError::BadContext(_))
    ));
}

// ---------------------------------------------------------------------------------------------------------------
// Independent FHIR R4 validation of every extracted resource

fn all_extracted() -> Vec<Value> {
    SHIPPED.iter().chain(["test-wound-assessment"].iter()).flat_map(|n| extracted(n)).collect()
}

#[test]
fn extracted_resources_pass_the_official_r4_json_schema() {
    let resources = all_extracted();
    assert!(resources.len() >= 12);
    assert_eq!(schema_errors(&resources), Vec::<String>::new());
}

#[test]
fn the_json_schema_check_can_fail() {
    let bad = vec![
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "ten"}, "extra": 1}),
    ];
    assert!(!schema_errors(&bad).is_empty());
}

#[test]
fn extracted_resources_pass_medplum_validate_resource() {
    let (ok, text) = medplum_errors(&all_extracted());
    assert!(ok, "Medplum found errors:\n{text}");
}

#[test]
fn the_medplum_check_can_fail() {
    let bad = vec![
        json!({"resourceType": "MedicationAdministration", "status": "completed", "subject": {"reference": "Patient/x"}}),
    ];
    let (ok, text) = medplum_errors(&bad);
    assert!(!ok);
    assert!(text.contains("medication[x]"), "{text}");
}

// ---------------------------------------------------------------------------------------------------------------
// The test-only form: the engine is general

#[test]
fn test_only_form_enable_when_scopes_to_its_own_repetition() {
    let form = wound_form();
    // wound[0] has stage 3 so "escalate" is required there; wound[1] (stage 1, no drainage) must not inherit it.
    let mut r = response("test-wound-assessment");
    remove_item(&mut r, "escalate");
    assert_eq!(findings(&form, &r), vec![f("escalate", "required")]);
    // Answering escalate in wound[1], where it is disabled, is refused.
    let mut r = response("test-wound-assessment");
    let wound1 = &mut r["item"][3]["item"];
    wound1.as_array_mut().expect("items").push(json!({"linkId": "escalate", "answer": [{"valueBoolean": false}]}));
    assert_eq!(findings(&form, &r), vec![f("escalate", "answered, but the question is disabled by its enableWhen")]);
}

#[test]
fn test_only_form_enable_behavior_any_and_all() {
    let form = wound_form();
    let mut r = response("test-wound-assessment");
    // Purulent drainage (any: stage>=3 OR purulent) enables escalate in wound[1]; all: drainage exists AND != none
    // enables the amount, which is then required.
    let w1 = &mut r["item"][3]["item"];
    for it in w1.as_array_mut().expect("items") {
        if it["linkId"] == "drainage" {
            it["answer"] = json!([{"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/test-drainage", "code": "purulent"}}]);
        }
    }
    assert_eq!(findings(&form, &r), vec![f("drainage-amount", "required"), f("escalate", "required")]);
}

#[test]
fn test_only_form_disabled_groups_need_no_answers() {
    let form = wound_form();
    let mut r = response("test-wound-assessment");
    set_answer(&mut r, "has-wound", json!({"valueBoolean": false}));
    r["item"].as_array_mut().expect("items").retain(|i| i["linkId"] != "wound");
    assert_eq!(findings(&form, &r), vec![]);
    let extracted = forms::extract(&form, &r, &ctx()).expect("extracts");
    assert_eq!(extracted.len(), 1, "only the pain score observation remains");
}

#[test]
fn test_only_form_extracts_observations_per_repetition() {
    let obs = extracted("test-wound-assessment");
    let codes: Vec<&str> = obs.iter().map(|o| o["code"]["coding"][0]["code"].as_str().unwrap_or("")).collect();
    assert_eq!(codes, ["39126-8", "39125-0", "39126-8", "72514-3"]);
    assert_eq!(
        obs[0]["valueQuantity"],
        json!({"value": 3.5, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"})
    );
    assert_eq!(obs[3]["valueInteger"], 4);
}

// ---------------------------------------------------------------------------------------------------------------
// Rejection table: broken forms

fn base_form() -> Value {
    json!({
        "resourceType": "Questionnaire",
        "url": "http://example.org/Questionnaire/t",
        "version": "1",
        "status": "active",
        "title": "T",
        "item": [
            {"linkId": "when", "type": "dateTime", "required": true,
             "extension": [{"url": "http://downtimekit.example.org/fhir/StructureDefinition/clinical-time", "valueBoolean": true}]},
            {"linkId": "q", "type": "integer"},
            {"linkId": "flag", "type": "boolean"}
        ]
    })
}

fn problems_of(v: &Value) -> Vec<String> {
    match forms::parse_form("t.json", &serde_json::to_vec(v).expect("json")) {
        Ok(_) => vec![],
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn the_base_form_of_the_rejection_table_loads() {
    assert_eq!(problems_of(&base_form()), Vec::<String>::new());
}

#[test]
fn broken_forms_are_rejected_with_file_link_id_and_reason() {
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("attachment type", |v| v["item"][1]["type"] = json!("attachment"), "t.json: linkId 'q': unsupported item type 'attachment'"),
        ("reference type", |v| v["item"][1]["type"] = json!("reference"), "t.json: linkId 'q': unsupported item type 'reference'"),
        ("duplicate linkId", |v| v["item"].as_array_mut().expect("array").push(json!({"linkId": "q", "type": "string"})), "t.json: linkId 'q': duplicate linkId"),
        ("enableWhen to unknown", |v| v["item"][1]["enableWhen"] = json!([{"question": "nope", "operator": "exists", "answerBoolean": true}]), "t.json: linkId 'q': enableWhen refers to unknown linkId 'nope'"),
        ("enableWhen type mismatch", |v| v["item"][1]["enableWhen"] = json!([{"question": "flag", "operator": "=", "answerString": "yes"}]), "t.json: linkId 'q': enableWhen answerString does not match 'flag', a boolean item"),
        ("enableWhen order on boolean", |v| v["item"][1]["enableWhen"] = json!([{"question": "flag", "operator": ">", "answerBoolean": true}]), "t.json: linkId 'q': enableWhen compares 'flag' with an order, but a boolean item has none"),
        ("two enableWhen, no behavior", |v| v["item"][1]["enableWhen"] = json!([{"question": "flag", "operator": "exists", "answerBoolean": true}, {"question": "when", "operator": "exists", "answerBoolean": true}]), "t.json: linkId 'q': enableBehavior is required when there is more than one enableWhen"),
        ("answerOption on integer", |v| v["item"][1]["answerOption"] = json!([{"valueInteger": 1}]), "t.json: linkId 'q': answerOption is not allowed on integer items (only choice and open-choice)"),
        ("answerOption mixed types", |v| v["item"][1] = json!({"linkId": "q", "type": "choice", "answerOption": [{"valueCoding": {"code": "a"}}, {"valueString": "b"}]}), "t.json: linkId 'q': answerOption value types are mixed (valueCoding and valueString)"),
        ("answerOption quantity", |v| v["item"][1] = json!({"linkId": "q", "type": "choice", "answerOption": [{"valueQuantity": {"value": 1}}]}), "t.json: linkId 'q': answerOption valueQuantity does not match a choice item"),
        ("choice without options", |v| v["item"][1] = json!({"linkId": "q", "type": "choice"}), "t.json: linkId 'q': choice item has no answerOption or answerValueSet"),
        ("initial of wrong type", |v| v["item"][1]["initial"] = json!([{"valueString": "3"}]), "t.json: linkId 'q': initial valueString does not match the item type integer"),
        ("blank url", |v| v["url"] = json!(" "), "t.json: url is blank"),
        ("calculatedExpression", |v| v["item"][1]["extension"] = json!([{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression", "valueExpression": {"language": "text/fhirpath", "expression": "%a + %b"}}]), "t.json: linkId 'q': calculatedExpression '%a + %b' reads %a, which is neither a variable in scope nor %resource, %questionnaire, %context, %patient or %user"),
        ("variable in another language", |v| v["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression": {"name": "a", "language": "application/x-fhir-query", "expression": "Patient?_id=1"}}]), "t.json: variable 'Patient?_id=1' is in application/x-fhir-query: only text/fhirpath is evaluated"),
        ("candidateExpression", |v| v["item"][1]["extension"] = json!([{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-candidateExpression", "valueExpression": {"language": "text/fhirpath", "expression": "%a"}}]), "t.json: linkId 'q': sdc-questionnaire-candidateExpression is not supported (expression '%a')"),
        ("answerExpression without listed answers", |v| v["item"][1]["extension"] = json!([{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression", "valueExpression": {"language": "text/fhirpath", "expression": "%questionnaire.item.answerOption.value"}}]), "t.json: linkId 'q': answerExpression is only evaluated where it filters listed answers: a choice item with answerOption or answerValueSet"),
        ("version a number", |v| v["version"] = json!(2), "t.json: version must be a string"),
        ("missing status", |v| { v.as_object_mut().expect("object").remove("status"); }, "t.json: missing status"),
        ("bad status", |v| v["status"] = json!("final"), "t.json: status 'final' is not a Questionnaire status"),
        ("not a Questionnaire", |v| v["resourceType"] = json!("Patient"), "t.json: not a FHIR Questionnaire (resourceType is 'Patient')"),
        ("clinical time in an optional group", |v| { let when = v["item"][0].take(); v["item"][0] = json!({"linkId": "g", "type": "group", "item": [when]}); }, "t.json: linkId 'when': the clinical-time item sits in group 'g', which a response may leave out: make that group required, without enableWhen"),
        ("clinical time in a conditional group", |v| { let when = v["item"][0].take(); v["item"][0] = json!({"linkId": "g", "type": "group", "required": true, "enableWhen": [{"question": "flag", "operator": "exists", "answerBoolean": true}], "item": [when]}); }, "t.json: linkId 'when': the clinical-time item sits in group 'g', which a response may leave out: make that group required, without enableWhen"),
        ("conditional clinical time", |v| v["item"][0]["enableWhen"] = json!([{"question": "flag", "operator": "exists", "answerBoolean": true}]), "t.json: linkId 'when': the clinical-time item must not have enableWhen"),
        ("min above max", |v| v["item"][1]["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 10}, {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 1}]), "t.json: linkId 'q': minValue is greater than maxValue"),
        ("maxLength on integer", |v| v["item"][1]["maxLength"] = json!(5), "t.json: linkId 'q': maxLength is only allowed on string, text and open-choice items"),
        ("dose as free text", |v| v["item"][1] = json!({"linkId": "q", "type": "string", "extension": [{"url": "http://downtimekit.example.org/fhir/StructureDefinition/clinical-rule", "valueCode": "dose"}]}), "t.json: linkId 'q': the dose rule needs a quantity item (a number and a unit, never free text)"),
        ("dose without units", |v| v["item"][1] = json!({"linkId": "q", "type": "quantity", "extension": [{"url": "http://downtimekit.example.org/fhir/StructureDefinition/clinical-rule", "valueCode": "dose"}]}), "t.json: linkId 'q': the dose rule needs a unit list (questionnaire-unitOption)"),
        ("definition without context", |v| v["item"][1]["definition"] = json!("http://hl7.org/fhir/StructureDefinition/Patient#Patient.birthDate"), "t.json: linkId 'q': definition without an itemExtractionContext on the questionnaire or an enclosing group"),
        ("answerValueSet nowhere to be found", |v| v["item"][1] = json!({"linkId": "q", "type": "choice", "answerValueSet": "http://example.org/vs"}), "t.json: linkId 'q': answerValueSet 'http://example.org/vs' is neither a contained ValueSet nor a ValueSet file in the forms folder (there is no terminology server)"),
        ("answerValueSet on integer", |v| v["item"][1]["answerValueSet"] = json!("#vs"), "t.json: linkId 'q': answerValueSet is not allowed on integer items (only choice and open-choice)"),
        ("typo in an element", |v| v["item"][1]["requried"] = json!(true), "t.json: linkId 'q': unknown item element 'requried'"),
    ];
    for (name, edit, expected) in cases {
        let mut v = base_form();
        edit(&mut v);
        assert_eq!(problems_of(&v), vec![expected.to_string()], "case: {name}");
    }
}

#[test]
fn unsupported_definition_paths_and_contexts_are_named() {
    let mut v = base_form();
    v["extension"] = json!([{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemExtractionContext", "valueCode": "Patient"}]);
    v["item"][1] = json!({"linkId": "q", "type": "string", "definition": "http://hl7.org/fhir/StructureDefinition/Patient#Patient.photo"});
    assert_eq!(problems_of(&v), vec!["t.json: linkId 'q': definition element Patient.photo is not supported"]);
    v["extension"][0]["valueCode"] = json!("Claim");
    assert_eq!(problems_of(&v)[0], "t.json: itemExtractionContext 'Claim' is not supported (supported: MedicationAdministration, MedicationRequest, DocumentReference, Patient, Encounter)");
}

#[test]
fn unreadable_form_files_are_rejected_before_parsing() {
    let p = |bytes: &[u8]| {
        forms::parse_form("t.json", bytes).err().map(|p| p.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(p(b"{not json"), Some(vec!["t.json: not valid JSON (line 1, column 2)".to_string()]));
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert_eq!(p(deep.as_bytes()), Some(vec!["t.json: JSON is nested deeper than 64 levels".to_string()]));
    let big = vec![b' '; forms::MAX_BYTES + 1];
    assert_eq!(p(&big), Some(vec!["t.json: file is larger than the 2 MiB limit".to_string()]));
    // A stack-busting depth is refused, not crashed on.
    let very_deep = "[".repeat(1_000_000);
    assert!(p(very_deep.as_bytes()).is_some());
}

#[test]
fn a_broken_form_never_prevents_the_others_loading() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["vital-signs", "nursing-note"] {
        std::fs::copy(forms_dir().join(format!("{name}.json")), dir.path().join(format!("{name}.json"))).expect("copy");
    }
    let mut broken = base_form();
    broken["item"][1]["type"] = json!("attachment");
    std::fs::write(dir.path().join("broken.json"), serde_json::to_vec(&broken).expect("json")).expect("write");
    let mut v2 = serde_json::from_slice::<Value>(&std::fs::read(forms_dir().join("vital-signs.json")).expect("read"))
        .expect("json");
    v2["version"] = json!("1.10.0");
    std::fs::write(dir.path().join("vital-signs-1.10.json"), serde_json::to_vec(&v2).expect("json")).expect("write");
    let (c, problems) = Catalog::load_dir(dir.path());
    assert_eq!(c.len(), 3);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].to_string().ends_with("broken.json: linkId 'q': unsupported item type 'attachment'"),
        "{}",
        problems[0]
    );
    let latest = c.get("http://downtimekit.example.org/fhir/Questionnaire/vital-signs").expect("bare url");
    assert_eq!(latest.version, "1.10.0", "bare url means the highest version");
    assert!(c.get("http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0").is_some());

    let report = forms::check_files(&[dir.path().join("broken.json"), dir.path().join("nursing-note.json")]);
    assert!(!report.is_ok());
    assert_eq!(report.ok.len(), 1);
    assert_eq!(report.problems.len(), 1);
}

#[test]
fn a_form_written_elsewhere_without_url_version_or_title_loads_under_a_derived_identity() {
    let mut bare = base_form();
    let root = bare.as_object_mut().expect("object");
    for key in ["url", "version", "title"] {
        root.remove(key);
    }
    root.insert("id".into(), json!("phq-9 (2)"));
    let bytes = serde_json::to_vec(&bare).expect("json");
    let form = forms::parse_form("t.json", &bytes).expect("loads with no url, version or title");
    assert_eq!(form.url, "urn:dtk:form:phq-9--2-", "the id, made a plain URN");
    assert!(form.version.starts_with("sha256-") && form.version.len() == "sha256-".len() + 12, "{}", form.version);
    assert!(form.version_is_derived());
    assert_eq!(form.title, "phq-9 (2)");
    // The screen renders the source and names the form from it: it says the same url, version and title.
    assert_eq!(form.source["url"], json!(form.url));
    assert_eq!(form.source["version"], json!(form.version));
    assert_eq!(form.source["title"], json!("phq-9 (2)"));

    // A changed file is a new version, so an entry keeps naming the exact form it was charted on.
    bare["item"][1]["text"] = json!("Pain score");
    let changed = forms::parse_form("t.json", &serde_json::to_vec(&bare).expect("json")).expect("loads");
    assert_eq!(changed.url, form.url);
    assert_ne!(changed.version, form.version);

    // With no id or name, the file's name; a version given by the file is kept as it is.
    let mut named = base_form();
    named.as_object_mut().expect("object").remove("url");
    let form =
        forms::parse_form("/site/forms/pain score.json", &serde_json::to_vec(&named).expect("json")).expect("loads");
    assert_eq!(form.url, "urn:dtk:form:pain-score");
    assert!(!form.version_is_derived());

    // Two files of one url where one gives no version: "the newest" would be a guess, so the second is refused.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.json"), &bytes).expect("write");
    std::fs::write(dir.path().join("b.json"), serde_json::to_vec(&bare).expect("json")).expect("write");
    let (c, problems) = Catalog::load_dir(dir.path());
    assert_eq!(c.len(), 1);
    let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("b.json: same url 'urn:dtk:form:phq-9--2-' as ")
            && problems[0].ends_with("a.json and one of them gives no version; give each a version; not loaded"),
        "{}",
        problems[0]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Rejection table: broken responses

#[test]
fn broken_responses_give_the_exact_finding() {
    let wound = wound_form();
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, Edit, Vec<Found>)> = vec![
        ("unknown linkId", |r| r["item"].as_array_mut().expect("array").push(json!({"linkId": "bogus", "answer": [{"valueString": "x"}]})), vec![f("bogus", "unknown linkId: not in this form")]),
        ("answer of the wrong type", |r| set_answer(r, "pain-score", json!({"valueString": "4"})), vec![f("pain-score", "answer must be valueInteger for this integer item, not valueString")]),
        ("malformed dateTime", |r| set_answer(r, "assessed-at", json!({"valueDateTime": "2026-11-21T12:30"})), vec![f("assessed-at", "answer valueDateTime is not a valid FHIR dateTime (a date, or YYYY-MM-DDThh:mm:ss with a time zone)")]),
        ("required missing when enabled", |r| remove_item(r, "wound-site"), vec![f("wound-site", "required")]),
        ("removing an answer disables its dependants", |r| remove_item(r, "drainage"), vec![f("drainage", "required"), f("drainage-amount", "answered, but the question is disabled by its enableWhen")]),
        ("answer to a disabled item", |r| set_answer(r, "has-wound", json!({"valueBoolean": false})), vec![f("wound", "answered, but the question is disabled by its enableWhen")]),
        ("two answers, not repeating", |r| edit_item(r, "pain-score", |it| it["answer"] = json!([{"valueInteger": 1}, {"valueInteger": 2}])), vec![f("pain-score", "only one answer allowed: the question does not repeat")]),
        ("question item twice", |r| r["item"].as_array_mut().expect("array").push(json!({"linkId": "pain-score", "answer": [{"valueInteger": 1}]})), vec![f("pain-score", "appears more than once: only repeating groups repeat; put several answers in one item")]),
        ("maxLength", |r| set_answer(r, "wound-site", json!({"valueString": "x".repeat(41)})), vec![f("wound-site", "longer than the maximum of 40 characters")]),
        ("below min", |r| set_answer(r, "pain-score", json!({"valueInteger": -1})), vec![f("pain-score", "below the minimum of 0")]),
        ("above max", |r| set_answer(r, "pain-score", json!({"valueInteger": 11})), vec![f("pain-score", "above the maximum of 10")]),
        ("decimal below min", |r| set_answer(r, "length", json!({"valueDecimal": 0.05})), vec![f("length", "below the minimum of 0.1")]),
        ("not in answerOption", |r| set_answer(r, "stage", json!({"valueInteger": 5})), vec![f("stage", "not one of the listed answers")]),
        ("bidi override", |r| set_answer(r, "wound-site", json!({"valueString": "Sacrum\u{202e}tfel"})), vec![f("wound-site", "contains a bidirectional override character")]),
        ("bidi isolate", |r| set_answer(r, "wound-site", json!({"valueString": "\u{2066}Sacrum"})), vec![f("wound-site", "contains a bidirectional override character")]),
        ("control char", |r| set_answer(r, "wound-site", json!({"valueString": "Sa\u{7}crum"})), vec![f("wound-site", "contains a control character")]),
        ("newline in a string item", |r| set_answer(r, "wound-site", json!({"valueString": "Sacrum\nleft"})), vec![f("wound-site", "contains a control character")]),
        ("C1 control char", |r| set_answer(r, "wound-site", json!({"valueString": "Sacrum\u{85}"})), vec![f("wound-site", "contains a control character")]),
        ("wrong questionnaire", |r| r["questionnaire"] = json!("http://downtimekit.example.org/fhir/Questionnaire/test-wound-assessment|0.9"), vec![(None, "response is not for this form: questionnaire must be 'http://downtimekit.example.org/fhir/Questionnaire/test-wound-assessment|1.0.0'".to_string())]),
        ("bad status", |r| r["status"] = json!("done"), vec![(None, "status must be one of in-progress, completed, amended, entered-in-error, stopped".to_string())]),
        ("answer on a group", |r| edit_item(r, "size", |it| it["answer"] = json!([{"valueString": "x"}])), vec![f("size", "a group item has no answers")]),
    ];
    for (name, edit, expected) in cases {
        let mut r = response("test-wound-assessment");
        edit(&mut r);
        assert_eq!(findings(&wound, &r), expected, "case: {name}");
    }
}

#[test]
fn quantity_units_must_come_from_the_form_list() {
    let mut r = response("medication-administration");
    set_answer(
        &mut r,
        "dose",
        json!({"valueQuantity": {"value": 2, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
    );
    assert_eq!(
        findings(form("medication-administration"), &r),
        vec![f("dose", "unit must be one of: mg, g, ug, mL, U, [iU], mmol, meq, {tbl}")]
    );
    set_answer(&mut r, "dose", json!({"valueString": "2 mg"}));
    assert_eq!(
        findings(form("medication-administration"), &r),
        vec![f("dose", "answer must be valueQuantity for this quantity item, not valueString")]
    );
    set_answer(
        &mut r,
        "dose",
        json!({"valueQuantity": {"value": 0, "system": "http://unitsofmeasure.org", "code": "mg"}}),
    );
    assert_eq!(findings(form("medication-administration"), &r), vec![f("dose", "dose must be greater than zero")]);
}

#[test]
fn held_dose_needs_a_reason_and_no_prn_answers() {
    let mut r = response("medication-administration");
    set_answer(
        &mut r,
        "outcome",
        json!({"valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/medication-admin-status", "code": "not-done"}}),
    );
    assert_eq!(
        findings(form("medication-administration"), &r),
        vec![
            f("not-given-reason", "required"),
            f("prn", "answered, but the question is disabled by its enableWhen"),
            f("prn-reason", "answered, but the question is disabled by its enableWhen"),
            f("prn-effect", "answered, but the question is disabled by its enableWhen")
        ]
    );
}

#[test]
fn do_not_use_abbreviations_are_refused_in_free_text_of_declared_fields() {
    let cases: &[(&str, &str)] = &[
        ("give 10 U now", "'U' is on the do-not-use list: write 'units'"),
        ("10U", "'U' is on the do-not-use list: write 'units'"),
        ("1000 IU", "'IU' is on the do-not-use list: write 'international units'"),
        ("QD", "'QD' is on the do-not-use list: write 'daily'"),
        ("q.d.", "'QD' is on the do-not-use list: write 'daily'"),
        ("qod", "'QOD' is on the do-not-use list: write 'every other day'"),
        ("MS 2 mg", "'MS' is on the do-not-use list: write 'morphine sulfate' or 'magnesium sulfate'"),
        ("MSO4", "'MSO4' is on the do-not-use list: write 'morphine sulfate'"),
        ("MgSO4 2 g", "'MgSO4' is on the do-not-use list: write 'magnesium sulfate'"),
        ("5.0 mg", "a trailing zero is on the do-not-use list: write '5 mg', never '5.0 mg'"),
        (
            "take .5 mg",
            "a decimal point without a leading zero is on the do-not-use list: write '0.5 mg', never '.5 mg'",
        ),
    ];
    for (text, message) in cases {
        let mut r = response("medication-order");
        set_answer(&mut r, "frequency", json!({"valueString": text}));
        assert_eq!(findings(form("medication-order"), &r), vec![f("frequency", message)], "text: {text}");
    }
    for fine in
        ["10 units daily", "0.5 mg every other day", "four times daily", "Give with food; use 2 units", "1.5 mg"]
    {
        let mut r = response("medication-order");
        r["item"]
            .as_array_mut()
            .expect("items")
            .push(json!({"linkId": "instructions", "answer": [{"valueString": fine}]}));
        assert_eq!(findings(form("medication-order"), &r), vec![], "text: {fine}");
    }
    // Same rule on a field of another form: the MAR's PRN reason.
    let mut r = response("medication-administration");
    set_answer(&mut r, "prn-reason", json!({"valueString": "pain, gave MSO4"}));
    assert_eq!(
        findings(form("medication-administration"), &r),
        vec![f("prn-reason", "'MSO4' is on the do-not-use list: write 'morphine sulfate'")]
    );
}

#[test]
fn verbal_and_telephone_orders_need_read_back_and_prescriber() {
    let order = form("medication-order");
    let mut r = response("medication-order");
    remove_item(&mut r, "read-back");
    assert_eq!(
        findings(order, &r),
        vec![f("read-back", "a verbal or telephone order needs read-back confirmation (read back and confirmed: yes)")]
    );
    set_answer(
        &mut r,
        "order-mode",
        json!({"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "verbal"}}),
    );
    r["item"].as_array_mut().expect("items").push(json!({"linkId": "read-back", "answer": [{"valueBoolean": false}]}));
    assert_eq!(
        findings(order, &r),
        vec![f("read-back", "a verbal or telephone order needs read-back confirmation (read back and confirmed: yes)")]
    );
    // A written order needs no read-back (and may not carry one).
    let mut r = response("medication-order");
    set_answer(
        &mut r,
        "order-mode",
        json!({"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "written"}}),
    );
    remove_item(&mut r, "read-back");
    assert_eq!(findings(order, &r), vec![]);
    // The prescriber is required on every order of this form.
    let mut r = response("medication-order");
    remove_item(&mut r, "prescriber");
    assert_eq!(findings(order, &r), vec![f("prescriber", "required")]);
}

#[test]
fn the_verbal_order_rule_applies_to_any_form_that_declares_it() {
    let rule = |code: &str| json!([{"url": "http://downtimekit.example.org/fhir/StructureDefinition/clinical-rule", "valueCode": code}]);
    let mut v = base_form();
    let items = v["item"].as_array_mut().expect("items");
    items.push(json!({"linkId": "mode", "type": "choice", "extension": rule("verbal-order-readback"), "answerOption": [{"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "telephone"}}, {"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "written"}}]}));
    items.push(json!({"linkId": "who", "type": "string", "extension": rule("prescriber")}));
    items.push(json!({"linkId": "rb", "type": "boolean", "extension": rule("read-back")}));
    let form = forms::parse_form("t.json", &serde_json::to_vec(&v).expect("json")).expect("loads");
    let r = json!({"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/Questionnaire/t|1", "status": "completed", "item": [
        {"linkId": "when", "answer": [{"valueDateTime": "2026-11-21T10:00:00Z"}]},
        {"linkId": "mode", "answer": [{"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "telephone"}}]}
    ]});
    assert_eq!(
        findings(&form, &r),
        vec![
            f("who", "a verbal or telephone order needs the prescriber's name"),
            f("rb", "a verbal or telephone order needs read-back confirmation (read back and confirmed: yes)")
        ]
    );
    // The partners are checked at load.
    let mut v = base_form();
    v["item"].as_array_mut().expect("items").push(json!({"linkId": "mode", "type": "choice", "extension": rule("verbal-order-readback"), "answerOption": [{"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/order-mode", "code": "verbal"}}]}));
    assert_eq!(
        problems_of(&v),
        vec!["t.json: linkId 'mode': verbal-order-readback needs exactly one prescriber item and one read-back item"]
    );
}

#[test]
fn responses_are_normalised_to_nfc() {
    let mut r = response("nursing-note");
    // "Müller" with a combining diaeresis (NFD) is stored as the precomposed form (NFC).
    set_answer(&mut r, "narrative", json!({"valueString": "Mu\u{308}ller family updated.\n\tAll questions answered."}));
    let checked = forms::validate_response(form("nursing-note"), &r);
    assert_eq!(checked.findings, vec![]);
    let stored = checked.response["item"][2]["answer"][0]["valueString"].as_str().expect("string");
    assert_eq!(stored, "M\u{fc}ller family updated.\n\tAll questions answered.");
}

#[test]
fn findings_serialise_for_the_ui_with_camel_case_link_id() {
    let mut r = response("vital-signs");
    set_answer(&mut r, "spo2", json!({"valueInteger": 101}));
    let checked = forms::validate_response(form("vital-signs"), &r);
    assert_eq!(
        serde_json::to_value(&checked.findings).expect("json"),
        json!([{"linkId": "spo2", "severity": "error", "message": "above the maximum of 100"}])
    );
    assert_eq!(checked.findings[0].severity, Severity::Error);
}

#[test]
fn findings_never_quote_what_was_typed() {
    let secret = "Zebulon-Quartz-MRN-99812";
    let mut r = response("test-wound-assessment");
    set_answer(&mut r, "wound-site", json!({"valueString": format!("{secret}\u{202e}{}", "x".repeat(50))}));
    set_answer(&mut r, "pain-score", json!({"valueString": secret}));
    r["item"].as_array_mut().expect("items").push(json!({"linkId": "bogus", "answer": [{"valueString": secret}]}));
    let checked = forms::validate_response(&wound_form(), &r);
    assert!(checked.findings.len() >= 4);
    for f in &checked.findings {
        assert!(!f.message.contains(secret), "{f:?}");
    }
    let e = forms::parse_response(format!("{{\"resourceType\": \"{secret}\"").as_bytes()).expect_err("refused");
    assert!(!e.to_string().contains(secret));
}

#[test]
fn parse_response_enforces_limits_and_shape() {
    use forms::ResponseError;
    assert_eq!(forms::parse_response(&vec![b' '; forms::MAX_BYTES + 1]), Err(ResponseError::TooLarge));
    assert_eq!(forms::parse_response("[".repeat(100_000).as_bytes()), Err(ResponseError::TooDeep));
    assert_eq!(forms::parse_response(b"{\"a\":"), Err(ResponseError::Json { line: 1, column: 5 }));
    assert_eq!(forms::parse_response(b"{\"resourceType\":\"Patient\"}"), Err(ResponseError::NotAResponse));
    // Brackets inside strings do not count towards depth.
    let s = format!("{{\"resourceType\":\"QuestionnaireResponse\",\"x\":\"{}\"}}", "[".repeat(100));
    assert!(forms::parse_response(s.as_bytes()).is_ok());
}

#[test]
fn facts_give_clinical_time_mrn_and_medication() {
    let facts = forms::facts(form("medication-administration"), &response("medication-administration"));
    assert_eq!(facts.clinical_time.as_deref(), Some("2026-11-21T10:15:00-05:00"));
    assert_eq!(facts.subject_mrn, Some(("http://hospital.example.org/mrn".to_string(), "DEV2001".to_string())));
    assert_eq!(facts.medication.as_deref(), Some("morphine"));
    assert!(facts.codes.contains(&"http://www.nlm.nih.gov/research/umls/rxnorm|7052".to_string()));
    let mut r = response("medication-order");
    set_answer(&mut r, "medication", json!({"valueString": "  Heparin   Sodium "}));
    assert_eq!(forms::facts(form("medication-order"), &r).medication.as_deref(), Some("heparin sodium"));
    let vitals = forms::facts(form("vital-signs"), &response("vital-signs"));
    assert!(vitals.codes.contains(&"http://loinc.org|8867-4".to_string()));
    assert_eq!(vitals.medication, None);
}

#[test]
fn forms_dir_prefers_flag_then_env_then_bundled() {
    use std::ffi::OsStr;
    assert_eq!(forms::forms_dir(Some(Path::new("/x")), Some(OsStr::new("/y"))), PathBuf::from("/x"));
    assert_eq!(forms::forms_dir(None, Some(OsStr::new("/y"))), PathBuf::from("/y"));
    assert_eq!(forms::forms_dir(None, None), PathBuf::from("forms"));
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        prop_oneof![
            "[a-z]{0,6}".prop_map(Value::from),
            Just(Value::from("2026-11-21T10:00:00Z")),
            Just(Value::from("\u{202e}\u{7}x")),
            prop::sample::select(vec![
                "linkId",
                "answer",
                "item",
                "valueString",
                "valueInteger",
                "q",
                "when",
                "dose",
                "group",
                "choice",
                "exists"
            ])
            .prop_map(Value::from),
        ],
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "resourceType",
                        "item",
                        "linkId",
                        "type",
                        "answer",
                        "valueString",
                        "valueInteger",
                        "valueCoding",
                        "valueQuantity",
                        "enableWhen",
                        "question",
                        "operator",
                        "answerBoolean",
                        "url",
                        "version",
                        "status",
                        "title",
                        "extension",
                        "valueBoolean",
                        "x"
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_form_never_panics(v in arb_json(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = forms::parse_form("p.json", &serde_json::to_vec(&v).unwrap_or_default());
        let _ = forms::parse_form("p.json", &bytes);
        let mut q = base_form();
        q["item"].as_array_mut().expect("items").push(v);
        let _ = forms::parse_form("p.json", &serde_json::to_vec(&q).unwrap_or_default());
    }

    #[test]
    fn validation_never_panics_and_is_deterministic(v in arb_json(), at in 0usize..8) {
        let wound = wound_form();
        let a = forms::validate_response(&wound, &v);
        let b = forms::validate_response(&wound, &v);
        prop_assert_eq!(&a, &b);
        // Also graft the arbitrary value into a valid response.
        let mut r = response("test-wound-assessment");
        let items = r["item"].as_array_mut().expect("items");
        let at = at.min(items.len());
        items.insert(at, v.clone());
        let a = forms::validate_response(&wound, &r);
        let b = forms::validate_response(&wound, &r);
        prop_assert_eq!(&a, &b);
        prop_assert!(!a.is_valid() || forms::extract(&wound, &r, &ctx()).is_ok());
        let _ = forms::facts(&wound, &v);
        let _ = forms::parse_response(&serde_json::to_vec(&v).unwrap_or_default());
    }
}
