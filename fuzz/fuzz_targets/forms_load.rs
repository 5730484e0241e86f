//! Fuzz target: any bytes as a Questionnaire file must load or be refused with problems, never panic.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dtk::forms::parse_form("fuzz.json", data);
});
