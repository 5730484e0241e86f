//! Forms from anywhere (issue 18 item 1) through the shell: a form with no item for the clinical time is listed as
//! asking for it, is refused without the time the form screen asks for ("When did this happen?"), and is charted
//! with it; the entry carries the time and gives it back for an amendment.
use dtk::auth::Role;
use dtk_app::commands::{nurse, Shell};
use dtk_app::dto::{EntryRequest, ErrorCode};
use serde_json::Value;

mod support;

const PAIN_FORM: &str = "http://example.org/fhir/Questionnaire/pain-score|2.1";
const SCORED_AT: &str = "2026-11-21T09:40:00-05:00";

fn request(response: &Value, clinical_time: Option<&str>) -> EntryRequest {
    EntryRequest {
        response: response.clone(),
        sign: true,
        allergy_override: None,
        confirm_not_duplicate: false,
        reason: None,
        clinical_time: clinical_time.map(str::to_string),
    }
}

#[test]
fn a_form_that_asks_for_the_clinical_time_is_charted_with_the_time_the_screen_sends() {
    let census = std::fs::read(support::repo("tests/data/census-5-east.json")).expect("census");
    let vault = support::vault("5 East", &[("dnurse", Role::Nurse), ("kcharge", Role::Charge)], &census);
    let forms = tempfile::tempdir().expect("forms");
    for f in std::fs::read_dir(support::repo("forms")).expect("forms") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, forms.path().join(f.file_name().expect("name"))).expect("copy");
    }
    std::fs::copy(support::repo("tests/data/forms/standard/pain-score.json"), forms.path().join("pain-score.json"))
        .expect("drop the form in");
    let site = serde_json::json!({ "forms_dir": forms.path() });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse signs in");
    support::declare_episode(&shell, "EHR down");
    support::sign_in(&shell, "dnurse").expect("nurse signs in");

    let listed = nurse::forms(&shell).expect("forms");
    let asks = |canonical: &str| listed.iter().find(|f| f.canonical == canonical).map(|f| f.asks_clinical_time);
    assert_eq!(asks(PAIN_FORM), Some(true));
    assert_eq!(asks("http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0"), Some(false));

    let response: Value =
        serde_json::from_slice(&std::fs::read(support::repo("tests/data/forms/responses/pain-score.json")).expect("r"))
            .expect("json");
    let refused = nurse::save_entry(&shell, request(&response, None)).expect_err("no time");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(refused.message.contains("When did this happen? is required"), "{}", refused.message);
    let checked = nurse::check_entry(&shell, request(&response, None), None).expect("checked");
    assert_eq!(checked.findings.len(), 1, "{:?}", checked.findings);
    assert_eq!(checked.findings[0].link_id, None, "shown above the form, where the question is");

    let saved = nurse::save_entry(&shell, request(&response, Some(SCORED_AT))).expect("charted with the time");
    let detail = nurse::entry(&shell, saved.id).expect("entry");
    assert_eq!(detail.summary.clinical_time.as_deref(), Some(SCORED_AT));
    assert_eq!(detail.versions[0].clinical_time.as_deref(), Some(SCORED_AT), "the amend screen starts from it");
}
