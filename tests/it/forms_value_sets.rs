//! `answerValueSet` (issue 18 item 2): a choice item whose answers come from a ValueSet contained in the form or
//! shipped as a file in the forms folder behaves exactly like one with `answerOption` codings: the CLI checks it, a
//! listed answer validates and an unlisted one is refused, the paper form prints the answers, extraction records the
//! coding, and the screen gets the answers as `answerOption`. A ValueSet only a terminology server could expand is
//! refused at load naming the linkId and the ValueSet. Options carry their score (`ordinalValue`/`itemWeight`).

use dtk::forms::{self, Catalog, ExtractContext, Form};
use dtk::print::{self, Stamp};
use serde_json::{json, Value};

use crate::support::*;

const EYE_VS: &str = "http://example.org/fhir/ValueSet/gcs-eye";

/// A form with a clinical time and one coded choice item, `eye`, whose answers come from `answer_value_set`.
fn form_json(answer_value_set: &str, contained: Value) -> Value {
    json!({
        "resourceType": "Questionnaire",
        "id": "gcs-eye",
        "status": "active",
        "contained": contained,
        "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract", "valueBoolean": true}],
        "item": [
            {"linkId": "when", "type": "dateTime", "required": true, "text": "Assessed at"},
            {"linkId": "eye", "type": "choice", "required": true, "text": "Eye opening",
             "code": [{"system": "http://loinc.org", "code": "9267-6"}],
             "answerValueSet": answer_value_set}
        ]
    })
}

/// The eye-opening answers as an explicit compose.
fn compose_vs(id: &str) -> Value {
    json!({
        "resourceType": "ValueSet", "id": id, "url": EYE_VS, "status": "active",
        "compose": {"include": [{"system": "http://loinc.org", "concept": [
            {"code": "LA6553-7", "display": "Eyes open spontaneously"},
            {"code": "LA6554-5", "display": "Eyes open to verbal command"},
            {"code": "LA6555-2", "display": "Eyes open with pain"},
            {"code": "LA6556-0", "display": "No eye opening"}
        ]}]}
    })
}

fn load(v: &Value) -> Result<Form, Vec<String>> {
    forms::parse_form("t.json", &serde_json::to_vec(v).expect("json"))
        .map_err(|p| p.iter().map(ToString::to_string).collect())
}

fn response(form: &Form, code: &str) -> Value {
    form_response(
        form,
        json!([
            {"linkId": "when", "answer": [{"valueDateTime": "2026-11-21T10:40:00-05:00"}]},
            {"linkId": "eye", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": code}}]}
        ]),
    )
}

fn errors(form: &Form, r: &Value) -> Vec<(Option<String>, String)> {
    forms::validate_response(form, r).findings.into_iter().map(|f| (f.link_id, f.message)).collect()
}

/// The printed blank form's text.
fn printed(form: &Form) -> String {
    let stamp = Stamp {
        unit: "5 East".into(),
        printed_by: "Test Charge (kcharge)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: None,
        drill: false,
        workstation: None,
        record: String::new(),
    };
    let pdf = print::blank_forms(form, &[], &stamp, &mut |_| {}).expect("print");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("blank.pdf");
    std::fs::write(&file, &pdf.bytes).expect("write");
    pages_text(&file).join(" ")
}

/// Checks the four things a user notices of a loaded form whose `eye` answers come from a ValueSet.
fn behaves_like_answer_options(form: &Form) {
    let eye = form.item("eye").expect("eye item");
    assert_eq!(eye.answer_options.len(), 4, "the ValueSet's four concepts are the item's answers");
    assert_eq!(errors(form, &response(form, "LA6555-2")), vec![], "a listed answer validates");
    assert_eq!(
        errors(form, &response(form, "LA9999-9")),
        vec![(Some("eye".to_string()), "not one of the listed answers".to_string())],
        "an answer outside the ValueSet is refused like one outside answerOption"
    );
    let text = printed(form);
    for label in ["Eyes open spontaneously", "No eye opening"] {
        assert!(text.contains(label), "the paper form lists '{label}': {text}");
    }
    let ctx = ExtractContext {
        entry_id: "5d0c3b9e-7a41-4f1e-9b2d-6c8e0f1a2b3c",
        subject: json!({"reference": "Patient?identifier=http://hospital.example.org/mrn|DEV0001"}),
        encounter: None,
        author: Some(json!({"display": "Test Nurse"})),
        recorded: "2026-11-21T10:42:05-05:00",
        clinical_time: None,
    };
    let resources = forms::extract(form, &response(form, "LA6555-2"), &ctx).expect("extracts");
    let obs = resources.iter().find(|r| r["resourceType"] == "Observation").expect("an Observation");
    assert_eq!(obs["valueCodeableConcept"]["coding"][0]["code"], "LA6555-2");
    // The screen renders the source: it gets the answers as answerOption, in the ValueSet's order.
    let source = &form.source["item"][1];
    assert_eq!(source.get("answerValueSet"), None);
    assert_eq!(source["answerOption"][3]["valueCoding"]["display"], "No eye opening");
}

#[test]
fn a_contained_value_set_gives_the_answers_of_a_choice_item() {
    let form = load(&form_json("#eye", json!([compose_vs("eye")]))).unwrap_or_else(|p| panic!("refused: {p:#?}"));
    behaves_like_answer_options(&form);
    // Named by its url instead of #id, a contained ValueSet is found too.
    load(&form_json(EYE_VS, json!([compose_vs("eye")]))).unwrap_or_else(|p| panic!("refused: {p:#?}"));
}

#[test]
fn a_value_set_file_in_the_forms_folder_gives_the_answers_by_url_with_its_expansion() {
    let dir = tempfile::tempdir().expect("tmp");
    // An expansion is used as it is (nested entries included, abstract ones are headings).
    let expanded = json!({
        "resourceType": "ValueSet", "url": EYE_VS, "status": "active",
        "expansion": {"timestamp": "2026-01-01T00:00:00Z", "contains": [
            {"abstract": true, "display": "Opens", "contains": [
                {"system": "http://loinc.org", "code": "LA6553-7", "display": "Eyes open spontaneously"},
                {"system": "http://loinc.org", "code": "LA6554-5", "display": "Eyes open to verbal command"},
                {"system": "http://loinc.org", "code": "LA6555-2", "display": "Eyes open with pain"}
            ]},
            {"system": "http://loinc.org", "code": "LA6556-0", "display": "No eye opening"}
        ]}
    });
    std::fs::write(dir.path().join("gcs-eye-answers.json"), expanded.to_string()).expect("write");
    let form_file = dir.path().join("gcs-eye.json");
    std::fs::write(&form_file, form_json(EYE_VS, json!([])).to_string()).expect("write");

    let (catalog, problems) = Catalog::load_dir(dir.path());
    assert_eq!(problems, vec![], "the ValueSet file is not a broken form");
    assert_eq!(catalog.len(), 1);
    behaves_like_answer_options(catalog.forms().next().expect("the form"));

    // `dtk forms check` finds the ValueSet among the files it is given; alone, the form names what it misses.
    let out = dtk_cmd()
        .args(["forms", "check"])
        .arg(&form_file)
        .arg(dir.path().join("gcs-eye-answers.json"))
        .output()
        .expect("dtk");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("OK   ") && stdout(&out).contains("gcs-eye.json"), "{}", stdout(&out));
    let out = dtk_cmd().args(["forms", "check"]).arg(&form_file).output().expect("dtk");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "linkId 'eye': answerValueSet '{EYE_VS}' is neither a contained ValueSet nor a ValueSet file in the forms \
             folder (there is no terminology server)"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_value_set_that_needs_a_terminology_server_is_refused_naming_the_item_and_the_value_set() {
    let refused = |vs: Value| load(&form_json("#eye", json!([vs]))).expect_err("refused");
    let mut filter = compose_vs("eye");
    filter["compose"]["include"][0] =
        json!({"system": "http://loinc.org", "filter": [{"property": "parent", "op": "=", "value": "LL2315-9"}]});
    assert_eq!(
        refused(filter),
        vec![
            "t.json: linkId 'eye': answerValueSet '#eye': compose.include uses a filter or another ValueSet, which \
              needs a terminology server; list the concepts"
        ]
    );
    let mut whole = compose_vs("eye");
    whole["compose"]["include"][0] = json!({"system": "http://loinc.org"});
    assert_eq!(
        refused(whole),
        vec![
            "t.json: linkId 'eye': answerValueSet '#eye': compose.include names the whole code system \
              'http://loinc.org', which needs a terminology server; list the concepts"
        ]
    );
    let mut bare = compose_vs("eye");
    bare.as_object_mut().expect("object").remove("compose");
    assert_eq!(
        refused(bare),
        vec!["t.json: linkId 'eye': answerValueSet '#eye': the ValueSet has neither an expansion nor a compose"]
    );
    // An explicit exclude is applied; the answers left are the item's.
    let mut excluded = compose_vs("eye");
    excluded["compose"]["exclude"] = json!([{"system": "http://loinc.org", "concept": [{"code": "LA6556-0"}]}]);
    let form = load(&form_json("#eye", json!([excluded]))).unwrap_or_else(|p| panic!("refused: {p:#?}"));
    assert_eq!(form.item("eye").expect("eye").answer_options.len(), 3);
    // FHIR allows one of answerValueSet and answerOption.
    let mut both = form_json("#eye", json!([compose_vs("eye")]));
    both["item"][1]["answerOption"] = json!([{"valueCoding": {"code": "x"}}]);
    assert_eq!(
        load(&both).expect_err("refused"),
        vec!["t.json: linkId 'eye': an item cannot have both answerValueSet and answerOption"]
    );
}

/// A score needs each option's `ordinalValue` (or `itemWeight`): on a ValueSet concept, an answerOption or its
/// valueCoding. GAD-7 of the public corpus carries them on its contained ValueSet.
#[test]
fn option_scores_are_read_from_ordinal_value_and_item_weight() {
    let gad7 = forms::load_file(&repo_root().join("tests/data/forms-public/researchkit-on-fhir/GAD-7.json"))
        .unwrap_or_else(|p| panic!("GAD-7 refused: {p:#?}"));
    let scored: Vec<_> = gad7.all_items().into_iter().filter(|i| !i.answer_options.is_empty()).collect();
    assert_eq!(scored.len(), 7);
    for item in scored {
        let weights: Vec<_> = item.answer_options.iter().map(|o| o.weight).collect();
        assert_eq!(weights, vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0)], "linkId {}", item.link_id);
    }
    let ordinal = |url: &str, v: Value| json!({"url": format!("http://hl7.org/fhir/StructureDefinition/{url}"), "valueDecimal": v});
    let mut v = form_json("#eye", json!([]));
    v["item"][1].as_object_mut().expect("item").remove("answerValueSet");
    v["item"][1]["answerOption"] = json!([
        {"valueCoding": {"code": "a"}, "extension": [ordinal("ordinalValue", json!(4))]},
        {"valueCoding": {"code": "b", "extension": [ordinal("itemWeight", json!(1.5))]}},
        {"valueCoding": {"code": "c"}}
    ]);
    let form = load(&v).unwrap_or_else(|p| panic!("refused: {p:#?}"));
    let weights: Vec<_> = form.item("eye").expect("eye").answer_options.iter().map(|o| o.weight).collect();
    assert_eq!(weights, vec![Some(4.0), Some(1.5), None]);
    v["item"][1]["answerOption"][0]["extension"][0] = ordinal("ordinalValue", json!("4"));
    assert_eq!(
        load(&v).expect_err("refused"),
        vec!["t.json: linkId 'eye': an option's ordinalValue or itemWeight needs valueDecimal (a number)"]
    );
}
