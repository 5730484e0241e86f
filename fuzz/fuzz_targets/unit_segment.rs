//! Fuzz target: any bytes as a unit share segment (issue 20) opened by an enrolled peer, or any records sealed into
//! one and read back, must be read or refused naming the file, never panic.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::unit_segment(data);
});
