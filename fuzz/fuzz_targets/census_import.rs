//! Fuzz target: any bytes as a census bundle must parse or be refused with a clear error, never panic; what parses is
//! scheduled on the MAR over a four-week episode (`dtk::fuzzing::census_import`).
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::census_import(data);
});
