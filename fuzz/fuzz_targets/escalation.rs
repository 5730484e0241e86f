//! Fuzz target: any bytes as a site's escalation file must load or be refused with problems, never panic; a file
//! that loads must give a ladder state at any moment.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::escalation(data);
});
