//! Fuzz target: any bytes as a QuestionnaireResponse, validated and extracted against every shipped form, never panic.
#![no_main]

use std::sync::OnceLock;

use dtk::forms::{self, ExtractContext, Form};
use libfuzzer_sys::fuzz_target;

fn forms() -> &'static Vec<Form> {
    static FORMS: OnceLock<Vec<Form>> = OnceLock::new();
    FORMS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../forms");
        let (catalog, _) = forms::Catalog::load_dir(&dir);
        let mut all: Vec<Form> = catalog.forms().cloned().collect();
        let test = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/forms/test-wound-assessment.json");
        if let Ok(f) = forms::load_file(&test) {
            all.push(f);
        }
        all
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(response) = forms::parse_response(data) else { return };
    let ctx = ExtractContext {
        entry_id: "0b6f7c1e-3d2a-4f5b-9c8d-1e2f3a4b5c6d",
        subject: serde_json::json!({"reference": "urn:uuid:6d36ab97-6dfa-548b-a698-fca1bc1aba2f"}),
        encounter: None,
        author: None,
        recorded: "2026-11-21T10:42:05Z",
    };
    for form in forms() {
        let a = forms::validate_response(form, &response);
        let b = forms::validate_response(form, &response);
        assert_eq!(a, b, "validation must be deterministic");
        let _ = forms::facts(form, &response);
        let extracted = forms::extract(form, &response, &ctx);
        assert_eq!(extracted.is_ok(), a.is_valid(), "a valid response always extracts");
    }
});
