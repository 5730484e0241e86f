//! Fuzz target: any bytes as a census bundle must parse or be refused with a clear error, never panic.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dtk::census::parse(data, Some("http://hospital.example.org/mrn"));
});
