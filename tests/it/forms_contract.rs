//! The forms contract, the core's side (issue 18 item 4): every case of `tests/contract/forms.json` (a form, a
//! response, the linkIds with an error) is validated by `forms::validate_response`, which must give exactly those
//! linkIds. The form screen runs the same file (`ui/src/lib/forms/contract.test.ts`) through its own checks, so the
//! screen and the core agree on every finding the screen shows before it asks the core.

use std::collections::BTreeSet;
use std::path::PathBuf;

use dtk::forms::{self, Severity};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_core_gives_each_case_of_the_forms_contract_exactly_its_errors() {
    let text = std::fs::read_to_string(root().join("tests/contract/forms.json")).expect("tests/contract/forms.json");
    let doc: Value = serde_json::from_str(&text).expect("the contract is JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "the contract holds its cases");
    let mut wrong = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let path = root().join(case["form"].as_str().expect("form"));
        let form = forms::load_file(&path).unwrap_or_else(|p| panic!("{name}: the form loads: {p:?}"));
        let checked = forms::validate_response(&form, &case["response"]);
        let got: BTreeSet<String> = checked
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.link_id.clone().unwrap_or_else(|| "(form)".to_string()))
            .collect();
        let want: BTreeSet<String> = case["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e.as_str().expect("linkId").to_string())
            .collect();
        if got != want {
            wrong.push(format!("{name}: the core found {got:?}, the case says {want:?} ({:?})", checked.findings));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
