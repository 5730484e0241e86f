//! Fuzz target: any bytes as a QuestionnaireResponse, validated and extracted against every shipped form and the
//! test-only wound form; see `dtk::fuzzing::response_validate` for what must hold.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use std::sync::OnceLock;

use dtk::forms::Form;
use libfuzzer_sys::fuzz_target;

fn forms() -> &'static Vec<Form> {
    static FORMS: OnceLock<Vec<Form>> = OnceLock::new();
    FORMS.get_or_init(|| dtk::fuzzing::fuzzed_forms(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")))
}

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::response_validate(forms(), data);
});
