//! Fuzz target: any bytes as a drill scenario file must parse or be refused naming the place, never panic; a
//! scenario that parses must score at any moment.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::scenario(data);
});
